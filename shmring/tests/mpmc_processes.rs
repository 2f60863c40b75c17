//! The MPMC ring between real processes: exactly-once delivery with several producer and
//! consumer processes, producers and consumers killed with SIGKILL mid-stream, and a peer that
//! scribbles on the shared state.

use shmring_test_support as common;

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::process::Child;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{Rng, Unlink, child, shm_path, unique_name, wait_for_line, wait_with_watchdog};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use shmring::header::HEADER_SIZE;
use shmring::mpmc::{Receiver, Sender};
use shmring::{RecvTimeoutError, TryRecvError};

/// The tests spin several processes; on a 2-core machine they run one at a time.
static HEAVY: Mutex<()> = Mutex::new(());

const COUNT_VAR: &str = "SHMRING_TEST_COUNT";
const ID_VAR: &str = "SHMRING_TEST_ID";
const OUT_VAR: &str = "SHMRING_TEST_OUT";

/// Child dispatcher: does nothing unless this binary was re-executed in a role.
#[test]
fn child_entry() {
    let Some((role, name)) = common::child_role() else {
        return;
    };
    let count: u64 = std::env::var(COUNT_VAR).map_or(u64::MAX, |c| c.parse().unwrap());
    let id: u64 = std::env::var(ID_VAR).map_or(0, |c| c.parse().unwrap());
    match role.as_str() {
        // Sends (id << 32 | seq) for seq in 0..count (forever without a count), then exits.
        "producer" => {
            let tx = Sender::<u64>::open(name.as_str()).unwrap();
            println!("READY");
            std::io::stdout().flush().unwrap();
            for seq in 0..count {
                if let Err(e) = tx.send(id << 32 | seq) {
                    eprintln!("RESULT {e:?} at {seq}");
                    return;
                }
            }
            eprintln!("RESULT sent {count}");
        }
        // Receives until disconnected, appending every value to the output file as it
        // arrives (unbuffered, so a killed consumer leaves what it had received).
        "consumer" => {
            let rx = Receiver::<u64>::open(name.as_str()).unwrap();
            let out = std::env::var(OUT_VAR).unwrap();
            let file = std::fs::File::create(&out).unwrap();
            println!("READY");
            std::io::stdout().flush().unwrap();
            let mut n = 0u64;
            loop {
                match rx.recv_timeout(common::WATCHDOG) {
                    Ok(v) => {
                        file.write_all_at(&v.to_le_bytes(), n * 8).unwrap();
                        n += 1;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                    Err(e) => panic!("consumer: {e:?} after {n}"),
                }
            }
            eprintln!("RESULT received {n}");
        }
        other => panic!("unknown role {other}"),
    }
}

fn spawn(role: &str, name: &str, id: u64, count: Option<u64>, out: Option<&str>) -> Child {
    let mut cmd = child("child_entry", role, name);
    cmd.env(ID_VAR, id.to_string());
    if let Some(count) = count {
        cmd.env(COUNT_VAR, count.to_string());
    }
    if let Some(out) = out {
        cmd.env(OUT_VAR, out);
    }
    cmd.spawn().expect("spawn child")
}

fn read_values(path: &str) -> Vec<u64> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// Checks one consumer's values: per producer strictly increasing (FIFO per producer, no
/// duplicate within the consumer).
fn check_per_producer_order(values: &[u64], who: &str) {
    let mut last: std::collections::HashMap<u64, u64> = Default::default();
    for v in values {
        let (p, seq) = (v >> 32, v & 0xffff_ffff);
        if let Some(prev) = last.insert(p, seq) {
            assert!(seq > prev, "{who}: producer {p} seq {seq} after {prev}");
        }
    }
}

fn out_path(name: &str, i: usize) -> String {
    std::env::temp_dir()
        .join(format!("{name}-consumer-{i}.bin"))
        .display()
        .to_string()
}

/// P producer processes × C consumer processes, blocking mode: every message is received
/// exactly once, and each consumer sees each producer's messages in order.
fn exactly_once(producers: u64, consumers: usize, each: u64) {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let name = unique_name(&format!("mpmc-{producers}x{consumers}"));
    let _g = Unlink(name.clone());
    // The parent attaches as a sender until every child is up, so the consumers never see
    // "no sender" before the producers come.
    let parent = Sender::<u64>::create(name.as_str(), 256).unwrap();
    let outs: Vec<String> = (0..consumers).map(|i| out_path(&name, i)).collect();
    let mut children: Vec<Child> = outs
        .iter()
        .map(|o| spawn("consumer", &name, 0, None, Some(o)))
        .collect();
    children.extend((0..producers).map(|id| spawn("producer", &name, id, Some(each), None)));
    for c in &mut children {
        wait_for_line(c, "READY");
    }
    drop(parent);
    let started = Instant::now();
    for c in children {
        let out = wait_with_watchdog(c);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        // (stdout went to the READY reader; children report on stderr.)
        assert!(
            stderr.contains("RESULT sent") || stderr.contains("RESULT received"),
            "a child stopped early: {stderr}"
        );
    }
    let took = started.elapsed();
    let mut all = Vec::new();
    for (i, o) in outs.iter().enumerate() {
        let values = read_values(o);
        std::fs::remove_file(o).unwrap();
        check_per_producer_order(&values, &format!("consumer {i}"));
        eprintln!("consumer {i}: {} messages", values.len());
        all.extend(values);
    }
    all.sort_unstable();
    let want: Vec<u64> = (0..producers)
        .flat_map(|p| (0..each).map(move |s| p << 32 | s))
        .collect();
    assert!(
        all == want,
        "lost or duplicated messages ({} of {})",
        all.len(),
        want.len()
    );
    eprintln!(
        "{producers}x{consumers}: {} messages exactly once in {took:?}",
        want.len()
    );
}

#[test]
fn two_producers_two_consumers_exactly_once() {
    exactly_once(2, 2, 200_000);
}

#[test]
fn four_producers_one_consumer_exactly_once() {
    exactly_once(4, 1, 100_000);
}

#[test]
fn one_producer_three_consumers_exactly_once() {
    exactly_once(1, 3, 300_000);
}

/// A producer SIGKILLed mid-stream (possibly between claiming a slot and publishing it) next
/// to a live one: the consumer gets all of the live producer's messages and an unbroken prefix
/// of the dead one's, then `Disconnected` — never a hang.
#[test]
fn producer_killed_mid_stream_never_wedges_the_ring() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let mut rng = Rng::new();
    for round in 0..10 {
        let name = unique_name("mpmc-kill-producer");
        let _g = Unlink(name.clone());
        let rx = Receiver::<u64>::create(name.as_str(), 2 << rng.below(8)).unwrap();
        let mut doomed = spawn("producer", &name, 0, None, None);
        let mut live = spawn("producer", &name, 1, Some(100_000), None);
        wait_for_line(&mut doomed, "READY");
        wait_for_line(&mut live, "READY");
        let before = rng.below(50_000);
        let mut next = [0u64; 2];
        let take = |v: u64, next: &mut [u64; 2]| {
            let (p, seq) = ((v >> 32) as usize, v & 0xffff_ffff);
            assert_eq!(seq, next[p], "round {round}: producer {p} gap or duplicate");
            next[p] += 1;
        };
        for _ in 0..before {
            take(rx.recv_timeout(common::WATCHDOG).unwrap(), &mut next);
        }
        kill(Pid::from_raw(doomed.id() as i32), Signal::SIGKILL).unwrap();
        let killed = Instant::now();
        loop {
            match rx.recv_timeout(common::WATCHDOG) {
                Ok(v) => take(v, &mut next),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(e) => panic!("round {round}: {e:?}"),
            }
        }
        wait_with_watchdog(doomed);
        assert!(wait_with_watchdog(live).status.success());
        assert_eq!(
            next[1], 100_000,
            "round {round}: the live producer's messages"
        );
        eprintln!(
            "round {round}: dead producer's prefix {}, drained {:?} after the kill",
            next[0],
            killed.elapsed()
        );
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    }
}

/// A consumer SIGKILLed mid-stream next to a live one: the producer never blocks forever
/// (the dead consumer's claimed slot is released), nothing is duplicated, and at most the
/// messages the dead consumer held (claimed, or received but not yet recorded) are missing.
#[test]
fn consumer_killed_mid_stream_never_wedges_the_ring() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let mut rng = Rng::new();
    for round in 0..6 {
        let name = unique_name("mpmc-kill-consumer");
        let _g = Unlink(name.clone());
        let tx = Sender::<u64>::create(name.as_str(), 4).unwrap();
        let (out_doomed, out_live) = (out_path(&name, 0), out_path(&name, 1));
        let mut doomed = spawn("consumer", &name, 0, None, Some(&out_doomed));
        let mut live = spawn("consumer", &name, 0, None, Some(&out_live));
        wait_for_line(&mut doomed, "READY");
        wait_for_line(&mut live, "READY");
        const N: u64 = 200_000;
        let kill_at = rng.below(N / 2);
        let deadline = Instant::now() + common::WATCHDOG;
        for seq in 0..N {
            if seq == kill_at {
                kill(Pid::from_raw(doomed.id() as i32), Signal::SIGKILL).unwrap();
            }
            tx.send_deadline(seq, deadline)
                .unwrap_or_else(|e| panic!("round {round}: send {seq}: {e:?}"));
        }
        drop(tx);
        wait_with_watchdog(doomed);
        assert!(wait_with_watchdog(live).status.success());
        let (a, b) = (read_values(&out_doomed), read_values(&out_live));
        std::fs::remove_file(&out_doomed).unwrap();
        std::fs::remove_file(&out_live).unwrap();
        check_per_producer_order(&a, "dead consumer");
        check_per_producer_order(&b, "live consumer");
        let mut all: Vec<u64> = a.iter().chain(&b).copied().collect();
        all.sort_unstable();
        let before = all.len();
        all.dedup();
        assert_eq!(
            all.len(),
            before,
            "round {round}: a message delivered twice"
        );
        let missing = N - all.len() as u64;
        assert!(missing <= 2, "round {round}: {missing} messages missing");
        eprintln!(
            "round {round}: killed at {kill_at}; dead consumer got {}, live {}, missing {missing}",
            a.len(),
            b.len()
        );
    }
}

/// A hostile peer overwrites the positions and stamps: the honest side gets `Corrupted` (or
/// messages), never a panic, a hang or an out-of-bounds access.
#[test]
fn scribbled_state_is_reported_not_followed() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let area = HEADER_SIZE as u64;
    let slots = area + shmring::mpmc::layout::CONTROL_SIZE as u64;
    for (what, offset, value) in [
        ("tail ahead by more than the capacity", area, 1_000u64),
        ("tail with the tombstone bit", area, 1 << 63),
        ("a stamp from a lap far ahead", slots, 1_000_000),
        ("a stamp from a lap far behind", slots + 16, u64::MAX - 100),
    ] {
        let name = unique_name("mpmc-scribble");
        let _g = Unlink(name.clone());
        let tx = Sender::<u64>::create(name.as_str(), 8).unwrap();
        let rx = Receiver::<u64>::open(name.as_str()).unwrap();
        tx.send(1).unwrap();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(shm_path(&name))
            .unwrap();
        file.write_all_at(&value.to_le_bytes(), offset).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut outcomes = Vec::new();
        for i in 0..20 {
            outcomes.push(format!("{:?}", tx.send_deadline(i, deadline).err()));
            outcomes.push(format!("{:?}", rx.recv_timeout(Duration::from_millis(20))));
        }
        assert!(
            outcomes.iter().any(|o| o.contains("Corrupted")),
            "{what}: {outcomes:?}"
        );
        eprintln!("{what}: {}", outcomes.last().unwrap());
    }
}
