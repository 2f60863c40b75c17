//! The many-producer framed ring between real processes: several producer processes with
//! random message lengths, every byte checked and each producer's order kept; one producer
//! SIGKILLed mid-copy among live ones (the receiver never sees a torn message and is never
//! stuck behind the dead producer's claim); and receivers of both framed rings SIGKILLed and
//! replaced (the successor resumes where the dead one stopped: at most the one message it was
//! handed as it died is missing from what it reported, none is delivered twice).

use shmring_test_support as common;

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{Rng, Unlink, child, unique_name, wait_for_line, wait_with_watchdog};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use shmring::RecvTimeoutError;
use shmring::framed::{self, mpsc};

static HEAVY: Mutex<()> = Mutex::new(());

const PRODUCER_VAR: &str = "SHMRING_TEST_PRODUCER";
const COUNT_VAR: &str = "SHMRING_TEST_COUNT";
const SLOW_VAR: &str = "SHMRING_TEST_SLOW";
const KIND_VAR: &str = "SHMRING_TEST_KIND";

/// The length of message `seq` of producer `p` for a ring whose maximum is `max`: 8 to `max`.
fn length(p: u32, seq: u32, max: usize) -> usize {
    let x = (u64::from(seq) << 8 | u64::from(p)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
    8 + (x as usize) % (max - 7)
}

/// Byte `i` of the body of message `seq` of producer `p`.
fn byte(p: u32, seq: u32, i: usize) -> u8 {
    (seq as u8)
        .wrapping_mul(31)
        .wrapping_add(i as u8)
        .wrapping_add((i >> 8) as u8)
        .wrapping_add(p as u8 * 17)
}

fn message(p: u32, seq: u32, max: usize) -> Vec<u8> {
    let len = length(p, seq, max);
    let mut msg = Vec::with_capacity(len);
    msg.extend_from_slice(&p.to_le_bytes());
    msg.extend_from_slice(&seq.to_le_bytes());
    msg.extend((0..len - 8).map(|i| byte(p, seq, i)));
    msg
}

/// Checks a received message completely; returns (producer, sequence number).
fn check(msg: &[u8], max: usize) -> (u32, u32) {
    assert!(msg.len() >= 8, "message of {} bytes", msg.len());
    let p = u32::from_le_bytes(msg[..4].try_into().unwrap());
    let seq = u32::from_le_bytes(msg[4..8].try_into().unwrap());
    assert!(p < 16, "bad producer id {p}");
    assert_eq!(msg.len(), length(p, seq, max), "{p}/{seq}: wrong length");
    for (i, b) in msg[8..].iter().enumerate() {
        assert_eq!(*b, byte(p, seq, i), "{p}/{seq}: torn at byte {}", i + 8);
    }
    (p, seq)
}

#[test]
fn child_entry() {
    let Some((role, name)) = common::child_role() else {
        return;
    };
    let env = |var: &str| std::env::var(var).ok();
    match role.as_str() {
        // Producer `p`: `count` messages (forever without a count) through reservations; slow
        // mode writes byte by byte so a kill lands mid-copy.
        "producer" => {
            let p: u32 = env(PRODUCER_VAR).unwrap().parse().unwrap();
            let count: u32 = env(COUNT_VAR).map_or(u32::MAX, |c| c.parse().unwrap());
            let slow = env(SLOW_VAR).is_some();
            let tx = mpsc::Sender::open(name.as_str()).unwrap();
            let max = tx.max_message();
            println!("READY");
            std::io::stdout().flush().unwrap();
            for seq in 0..count {
                let msg = message(p, seq, max);
                let mut r = match tx.reserve(msg.len()) {
                    Ok(r) => r,
                    Err(e) => panic!("producer {p}: {e}"),
                };
                if slow {
                    for (i, b) in msg.iter().enumerate() {
                        r.write_at(i, &[*b]);
                    }
                } else {
                    r.write_at(0, &msg);
                }
                r.commit();
            }
            println!("RESULT sent {count}");
        }
        // A receiver of either framed ring that prints every sequence number it gets.
        "receiver" => {
            let mpsc_ring = env(KIND_VAR).as_deref() == Some("mpsc");
            let mut buf = Vec::new();
            let mut out = std::io::stdout().lock();
            if mpsc_ring {
                let mut rx = mpsc::Receiver::open(name.as_str()).unwrap();
                let max = rx.max_message();
                while rx.recv_into(&mut buf).is_ok() {
                    writeln!(out, "SEQ {}", check(&buf, max).1).unwrap();
                }
            } else {
                let mut rx = framed::Receiver::open(name.as_str()).unwrap();
                let max = rx.max_message();
                while rx.recv_into(&mut buf).is_ok() {
                    writeln!(out, "SEQ {}", check(&buf, max).1).unwrap();
                }
            }
        }
        other => panic!("unknown role {other}"),
    }
}

fn spawn_producer(name: &str, p: u32, count: Option<u32>, slow: bool) -> std::process::Child {
    let mut cmd = child("child_entry", "producer", name);
    cmd.env(PRODUCER_VAR, p.to_string());
    if let Some(count) = count {
        cmd.env(COUNT_VAR, count.to_string());
    }
    if slow {
        cmd.env(SLOW_VAR, "1");
    }
    cmd.spawn().expect("spawn producer")
}

/// Three producer processes, 60 000 messages each (15 000 in debug builds), random lengths:
/// every byte checked, each producer's messages in order, none missing, then `Disconnected`.
#[test]
fn three_producers_every_byte_checked() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    const N: u32 = if cfg!(debug_assertions) {
        15_000
    } else {
        60_000
    };
    let name = unique_name("mpsc-three");
    let _g = Unlink(name.clone());
    let mut rx = mpsc::Receiver::create(name.as_str(), 1 << 14).unwrap();
    let max = rx.max_message();
    let mut producers: Vec<_> = (0..3)
        .map(|p| spawn_producer(&name, p, Some(N), false))
        .collect();
    for producer in &mut producers {
        wait_for_line(producer, "READY");
    }
    let mut next = [0u32; 3];
    let mut buf = Vec::new();
    let mut bytes = 0usize;
    for _ in 0..3 * N {
        rx.recv_into_deadline(&mut buf, Instant::now() + common::WATCHDOG)
            .unwrap();
        let (p, seq) = check(&buf, max);
        assert_eq!(seq, next[p as usize], "producer {p} out of order");
        next[p as usize] += 1;
        bytes += buf.len();
    }
    for producer in producers {
        assert!(wait_with_watchdog(producer).status.success());
    }
    assert_eq!(
        rx.recv_timeout(common::WATCHDOG),
        Err(RecvTimeoutError::Disconnected)
    );
    eprintln!("{} messages, {bytes} bytes, all checked", 3 * N);
}

/// One producer SIGKILLed at a random moment (most often mid-copy: it writes byte by byte)
/// while two others send: the live producers' messages all arrive, whole and in order; the
/// dead one's arrive as an unbroken prefix; its last claim is skipped, and the receiver ends
/// with `Disconnected` once the live ones are done — never stuck behind the dead claim.
#[test]
fn producer_killed_among_live_ones() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    const LIVE: u32 = 5_000;
    let mut rng = Rng::new();
    for round in 0..8 {
        let name = unique_name("mpsc-kill");
        let _g = Unlink(name.clone());
        let mut rx = mpsc::Receiver::create(name.as_str(), 1 << (9 + rng.below(5))).unwrap();
        let max = rx.max_message();
        let mut victim = spawn_producer(&name, 0, None, true);
        wait_for_line(&mut victim, "READY");
        let mut live: Vec<_> = (1..3)
            .map(|p| spawn_producer(&name, p, Some(LIVE), true))
            .collect();
        for producer in &mut live {
            wait_for_line(producer, "READY");
        }
        let kill_after = Duration::from_micros(rng.below(20_000));
        let start = Instant::now();
        let mut killed = false;
        let mut next = [0u32; 3];
        let mut buf = Vec::new();
        loop {
            if !killed && start.elapsed() >= kill_after {
                kill(Pid::from_raw(victim.id() as i32), Signal::SIGKILL).unwrap();
                killed = true;
            }
            match rx.recv_into_deadline(&mut buf, Instant::now() + common::WATCHDOG) {
                Ok(_) => {
                    let (p, seq) = check(&buf, max);
                    assert_eq!(seq, next[p as usize], "round {round}: producer {p} order");
                    next[p as usize] += 1;
                }
                Err(RecvTimeoutError::Disconnected) => break,
                Err(e) => panic!("round {round}: {e:?} after {next:?}"),
            }
        }
        assert!(killed, "round {round}: everything ended before the kill");
        wait_with_watchdog(victim);
        for producer in live {
            assert!(wait_with_watchdog(producer).status.success());
        }
        assert_eq!(&next[1..], &[LIVE, LIVE], "round {round}: live producers");
        eprintln!(
            "round {round}: capacity {}, victim killed after {} messages",
            rx.capacity(),
            next[0]
        );
    }
}

/// Receivers of both framed rings SIGKILLed at random moments while a producer streams; a
/// successor opens the ring (taking over the dead receiver's role) and resumes exactly where
/// the dead one stopped: the first message it gets follows the last one the dead receiver
/// reported (or the one after, handed to it as it died), with no message redelivered.
#[test]
fn receiver_killed_successor_resumes() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    const N: u32 = if cfg!(debug_assertions) {
        20_000
    } else {
        200_000
    };
    let mut rng = Rng::new();
    for round in 0..8 {
        let mpsc_ring = round % 2 == 0;
        let name = unique_name("framed-rx-kill");
        let _g = Unlink(name.clone());
        let capacity = 1 << (10 + rng.below(6));
        // The producer runs in this process; its ring handle stays open throughout.
        enum Tx {
            One(framed::Sender),
            Many(mpsc::Sender),
        }
        let mut tx = if mpsc_ring {
            Tx::Many(mpsc::Sender::create(name.as_str(), capacity).unwrap())
        } else {
            Tx::One(framed::Sender::create(name.as_str(), capacity).unwrap())
        };
        let max = match &tx {
            Tx::One(t) => t.max_message(),
            Tx::Many(t) => t.max_message(),
        };
        let mut receiver = child("child_entry", "receiver", &name);
        receiver.env(KIND_VAR, if mpsc_ring { "mpsc" } else { "one" });
        let receiver = receiver.spawn().unwrap();
        let producer = std::thread::spawn(move || {
            let deadline = Instant::now() + common::WATCHDOG;
            for seq in 0..N {
                let msg = message(1, seq, max);
                // While no receiver is attached (killed, successor not yet there), sends say
                // `Disconnected`: keep trying until the successor arrives.
                loop {
                    let sent = match &mut tx {
                        Tx::One(t) => t.send_deadline(&msg, deadline),
                        Tx::Many(t) => t.send_deadline(&msg, deadline),
                    };
                    match sent {
                        Ok(()) => break,
                        Err(framed::SendTimeoutError::Disconnected)
                            if Instant::now() < deadline =>
                        {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        Err(e) => panic!("producer: {e}"),
                    }
                }
            }
            tx
        });
        std::thread::sleep(Duration::from_micros(2_000 + rng.below(30_000)));
        kill(Pid::from_raw(receiver.id() as i32), Signal::SIGKILL).unwrap();
        let out = wait_with_watchdog(receiver);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let reported: Vec<u32> = stdout
            .lines()
            .filter_map(|l| l.strip_prefix("SEQ ").and_then(|s| s.parse().ok()))
            .collect();
        assert!(
            reported.iter().enumerate().all(|(i, s)| *s == i as u32),
            "round {round}: the dead receiver got messages out of order"
        );
        let last = reported.len() as u32; // the next message it had not reported
        let mut buf = Vec::new();
        let mut take = |rx_recv: &mut dyn FnMut(&mut Vec<u8>) -> Result<u32, RecvTimeoutError>| {
            let mut got = Vec::new();
            loop {
                match rx_recv(&mut buf) {
                    Ok(_) => got.push(check(&buf, max).1),
                    Err(RecvTimeoutError::Disconnected) => break,
                    Err(e) => panic!("round {round}: {e:?}"),
                }
            }
            got
        };
        // The successor receives until the producer (joined and dropped on another thread,
        // so the stream ends) is gone.
        let finish = std::thread::spawn(move || drop(producer.join().unwrap()));
        let got = if mpsc_ring {
            let mut rx = mpsc::Receiver::open(name.as_str()).expect("take over the receiver");
            take(&mut |b| rx.recv_into_deadline(b, Instant::now() + common::WATCHDOG))
        } else {
            let mut rx = framed::Receiver::open(name.as_str()).expect("take over the receiver");
            take(&mut |b| rx.recv_into_deadline(b, Instant::now() + common::WATCHDOG))
        };
        finish.join().unwrap();
        let first = *got.first().expect("the successor got messages");
        assert!(
            first == last || first == last + 1,
            "round {round}: dead receiver reported {last} messages, successor starts at {first}"
        );
        assert!(
            got.iter().enumerate().all(|(i, s)| *s == first + i as u32),
            "round {round}: successor out of order"
        );
        assert_eq!(
            *got.last().unwrap(),
            N - 1,
            "round {round}: the stream's end"
        );
        eprintln!(
            "round {round} ({}): receiver killed after reporting {last}; successor from {first}",
            if mpsc_ring { "mpsc" } else { "spsc" }
        );
    }
}
