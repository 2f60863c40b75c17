//! The framed ring between real processes: random message lengths with every byte checked,
//! and producers SIGKILLed mid-reservation and mid-copy — the consumer never sees a torn
//! message, is never blocked for good, and a successor producer continues the stream.

use shmring_test_support as common;

use std::io::Write;
use std::process::Child;
use std::sync::Mutex;
use std::time::Duration;

use common::{Rng, Unlink, child, shm_path, unique_name, wait_for_line, wait_with_watchdog};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use shmring::RecvTimeoutError;
use shmring::framed::{Receiver, Sender};

static HEAVY: Mutex<()> = Mutex::new(());

const COUNT_VAR: &str = "SHMRING_TEST_COUNT";
const FIRST_VAR: &str = "SHMRING_TEST_FIRST";
const SLOW_VAR: &str = "SHMRING_TEST_SLOW";

/// The length of message `seq` for a ring whose maximum is `max`: varied, 8 to `max`.
fn length(seq: u64, max: usize) -> usize {
    let x = seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
    8 + (x as usize) % (max - 7)
}

/// Byte `i` of message `seq` (after its 8-byte sequence number).
fn byte(seq: u64, i: usize) -> u8 {
    (seq as u8)
        .wrapping_mul(31)
        .wrapping_add(i as u8)
        .wrapping_add((i >> 8) as u8)
}

/// Checks a received message completely; returns its sequence number.
fn check(msg: &[u8], max: usize) -> u64 {
    assert!(msg.len() >= 8, "message of {} bytes", msg.len());
    let seq = u64::from_le_bytes(msg[..8].try_into().unwrap());
    assert_eq!(msg.len(), length(seq, max), "message {seq}: wrong length");
    for (i, b) in msg[8..].iter().enumerate() {
        assert_eq!(
            *b,
            byte(seq, i),
            "message {seq}: torn or corrupt at byte {}",
            i + 8
        );
    }
    seq
}

#[test]
fn child_entry() {
    let Some((role, name)) = common::child_role() else {
        return;
    };
    let count: u64 = std::env::var(COUNT_VAR).map_or(u64::MAX, |c| c.parse().unwrap());
    let first: u64 = std::env::var(FIRST_VAR).map_or(0, |c| c.parse().unwrap());
    let slow = std::env::var(SLOW_VAR).is_ok();
    match role.as_str() {
        // Sends messages first.. with reserve → write in pieces → commit. `slow` writes
        // byte by byte, so a kill lands mid-copy most of the time.
        "producer" => {
            let mut tx = Sender::open(name.as_str()).unwrap();
            let max = tx.max_message();
            println!("READY");
            std::io::stdout().flush().unwrap();
            for seq in first..first.saturating_add(count) {
                let len = length(seq, max);
                let mut r = match tx.reserve(len) {
                    Ok(r) => r,
                    Err(_) => return,
                };
                r.write_at(0, &seq.to_le_bytes());
                let body: Vec<u8> = (0..len - 8).map(|i| byte(seq, i)).collect();
                if slow {
                    for (i, b) in body.iter().enumerate() {
                        r.write_at(8 + i, &[*b]);
                    }
                } else {
                    r.write_at(8, &body);
                }
                r.commit();
            }
            println!("RESULT sent {count}");
        }
        other => panic!("unknown role {other}"),
    }
}

fn spawn(name: &str, first: u64, count: Option<u64>, slow: bool) -> Child {
    let mut cmd = child("child_entry", "producer", name);
    cmd.env(FIRST_VAR, first.to_string());
    if let Some(count) = count {
        cmd.env(COUNT_VAR, count.to_string());
    }
    if slow {
        cmd.env(SLOW_VAR, "1");
    }
    cmd.spawn().expect("spawn child")
}

/// 200 000 messages (50 000 in debug builds) of random lengths across processes, every byte
/// checked, in order.
#[test]
fn random_lengths_every_byte_checked() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let name = unique_name("framed-random");
    let _g = Unlink(name.clone());
    let mut rx = Receiver::create(name.as_str(), 1 << 14).unwrap();
    let max = rx.max_message();
    const N: u64 = if cfg!(debug_assertions) {
        50_000
    } else {
        200_000
    };
    let mut producer = spawn(&name, 0, Some(N), false);
    wait_for_line(&mut producer, "READY");
    let mut buf = Vec::new();
    let mut bytes = 0usize;
    for expected in 0..N {
        rx.recv_into_deadline(&mut buf, std::time::Instant::now() + common::WATCHDOG)
            .unwrap();
        assert_eq!(check(&buf, max), expected);
        bytes += buf.len();
    }
    assert!(wait_with_watchdog(producer).status.success());
    assert_eq!(
        rx.recv_timeout(common::WATCHDOG),
        Err(RecvTimeoutError::Disconnected)
    );
    eprintln!("{N} messages, {bytes} bytes, all checked");
}

/// Producers SIGKILLed at random moments, most of them mid-copy (byte-by-byte writes into a
/// reservation): the consumer gets an unbroken, untorn prefix, then `Disconnected` — never a
/// hang; a successor producer then takes over and its messages arrive intact.
#[test]
fn producer_killed_mid_copy_never_tears_or_blocks() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let mut rng = Rng::new();
    for round in 0..12 {
        let name = unique_name("framed-kill");
        let _g = Unlink(name.clone());
        let mut rx = Receiver::create(name.as_str(), 1 << (8 + rng.below(6))).unwrap();
        let max = rx.max_message();
        let mut producer = spawn(&name, 0, None, true);
        wait_for_line(&mut producer, "READY");
        let mut buf = Vec::new();
        let before = rng.below(2_000);
        for expected in 0..before {
            rx.recv_into_deadline(&mut buf, std::time::Instant::now() + common::WATCHDOG)
                .unwrap();
            assert_eq!(check(&buf, max), expected);
        }
        std::thread::sleep(Duration::from_micros(rng.below(3_000)));
        kill(Pid::from_raw(producer.id() as i32), Signal::SIGKILL).unwrap();
        wait_with_watchdog(producer);
        let mut next = before;
        loop {
            match rx.recv_timeout(common::WATCHDOG) {
                Ok(msg) => {
                    assert_eq!(check(&msg, max), next, "round {round}");
                    next += 1;
                }
                Err(RecvTimeoutError::Disconnected) => break,
                Err(e) => panic!("round {round}: {e:?}"),
            }
        }
        // A successor takes over the role; whatever the dead one left half-written is
        // cleared, and the stream goes on intact.
        let mut successor = spawn(&name, 1_000_000, Some(500), false);
        wait_for_line(&mut successor, "READY");
        for expected in 1_000_000..1_000_500 {
            let msg = rx.recv_timeout(common::WATCHDOG).unwrap();
            assert_eq!(check(&msg, max), expected, "round {round}: successor");
        }
        assert!(wait_with_watchdog(successor).status.success());
        eprintln!("round {round}: {next} messages before the kill, successor's 500 intact");
    }
}

/// A sender killed between committing a record and storing its tail leaves the stored tail
/// behind a head the receiver moved past that record: a new receiver must still open the ring
/// (and a new sender continue it).
#[test]
fn head_past_the_stored_tail_is_not_corruption() {
    use std::os::unix::fs::FileExt;
    let name = unique_name("framed-head-past-tail");
    let _g = Unlink(name.clone());
    let mut tx = Sender::create(name.as_str(), 256).unwrap();
    let mut rx = Receiver::open(name.as_str()).unwrap();
    tx.send(b"committed").unwrap();
    drop(tx);
    // Rewind the stored tail as if the sender had died before storing it.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(shm_path(&name))
        .unwrap();
    let tail_at = (shmring::header::HEADER_SIZE + shmring::spsc::layout::TAIL_OFFSET) as u64;
    file.write_all_at(&0u64.to_le_bytes(), tail_at).unwrap();
    assert_eq!(rx.recv().unwrap(), b"committed");
    assert!(rx.recv().is_err()); // drained; hands the space back (head 24, tail 0)
    drop(rx);
    let mut rx = Receiver::open(name.as_str()).expect("head past the stored tail");
    let mut tx = Sender::open(name.as_str()).unwrap();
    tx.send(b"next").unwrap();
    assert_eq!(rx.recv().unwrap(), b"next");
}

/// A hostile chain of padding records that would carry the receiver more than a ring's worth
/// past what it handed back (found by the `framed_mpsc_live` fuzz target: it used to reach an
/// assertion while clearing the consumed bytes) is `Corrupted`, not a panic.
#[test]
fn padding_chain_past_a_ring_is_corruption() {
    use std::os::unix::fs::FileExt;
    let name = unique_name("framed-padding-chain");
    let _g = Unlink(name.clone());
    let mut tx = Sender::create(name.as_str(), 256).unwrap();
    let mut rx = Receiver::open(name.as_str()).unwrap();
    tx.send(&[1; 8]).unwrap();
    tx.send(&[2; 8]).unwrap();
    assert_eq!(rx.recv().unwrap(), [1; 8]);
    assert_eq!(rx.recv().unwrap(), [2; 8]); // head 32, nothing handed back yet
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(shm_path(&name))
        .unwrap();
    let data = (shmring::header::HEADER_SIZE + shmring::spsc::layout::CONTROL_SIZE) as u64;
    let padding = |span: u64| ((u64::from(u32::MAX) << 32) | span).to_ne_bytes();
    file.write_all_at(&padding(224), data + 32).unwrap(); // 32 → the end
    file.write_all_at(&padding(256), data).unwrap(); // then a whole lap
    assert_eq!(rx.try_recv(), Err(shmring::TryRecvError::Corrupted));
}

/// A sender taking over a ring whose stored `head` a hostile peer made unaligned and past the
/// tail: `Corrupted`, not a panic (it used to read a header at that position: a debug
/// assertion, an unaligned atomic in release; found by the hostile torture).
#[test]
fn unaligned_head_at_takeover_is_corruption() {
    use std::os::unix::fs::FileExt;
    let name = unique_name("framed-unaligned-head");
    let _g = Unlink(name.clone());
    let tx = Sender::create(name.as_str(), 256).unwrap();
    let _rx = Receiver::open(name.as_str()).unwrap();
    drop(tx);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(shm_path(&name))
        .unwrap();
    let head_at = (shmring::header::HEADER_SIZE + shmring::spsc::layout::HEAD_OFFSET) as u64;
    file.write_all_at(&12u64.to_ne_bytes(), head_at).unwrap();
    assert!(matches!(
        Sender::open(name.as_str()),
        Err(shmring::OpenError::Corrupted { .. })
    ));
}
