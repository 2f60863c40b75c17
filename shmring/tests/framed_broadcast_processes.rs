//! The byte-message broadcast ring between real processes: one writer and four receiver
//! processes over messages of random lengths (lossless: every receiver gets every message
//! whole, once and in order; overwrite: each gets an increasing run of whole messages whose
//! `Lagged` counts match every gap exactly); a writer process SIGKILLed mid-message and a new
//! writer taking over, the receivers seeing only whole messages and no gap.

use shmring_test_support as common;

use std::io::Write;
use std::process::Child;
use std::sync::Mutex;
use std::time::Instant;

use common::{Rng, Unlink, child, unique_name, wait_for_line};
use shmring::broadcast::Policy;
use shmring::framed::broadcast::{Receiver, RecvTimeoutError, Sender};

/// The tests spin several processes; on a 2-core machine they run one at a time.
static HEAVY: Mutex<()> = Mutex::new(());

/// Longest test message: short enough for a million messages to four receivers to take
/// seconds, long enough to span up to seven cells.
const LONGEST: u64 = 360;

/// Message `i` of writer `w`: `w`, `i`, then a length and pattern that follow from them.
fn message(w: u8, i: u64) -> Vec<u8> {
    let len = (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) % (LONGEST + 1);
    let mut m = vec![w];
    m.extend_from_slice(&i.to_le_bytes());
    m.extend((0..len).map(|k| (i as u8) ^ (k as u8) ^ w));
    m
}

/// Which writer sent `m` and its number, after checking every byte of it.
fn check(m: &[u8]) -> (u8, u64) {
    assert!(m.len() >= 9, "a message of {} bytes", m.len());
    let (w, i) = (m[0], u64::from_le_bytes(m[1..9].try_into().unwrap()));
    assert_eq!(m, message(w, i), "a torn or foreign message");
    (w, i)
}

/// Child dispatcher. `receiver`: checks every message (whole, and — within one writer —
/// numbered one after the other, or after a `Lagged` gap of exactly the messages missed),
/// and reports `RESULT got missed writers` on stderr once the writer is gone. `writer`:
/// sends forever (until killed) as writer 1, counting on from 0.
#[test]
fn child_entry() {
    common::run_child(|role, name| match role {
        "receiver" => {
            let mut rx = Receiver::open(name.as_str()).unwrap();
            println!("READY");
            std::io::stdout().flush().unwrap();
            let (mut got, mut missed, mut pending) = (0u64, 0u64, 0u64);
            let mut last: Option<(u8, u64)> = None;
            let mut writers = 0;
            loop {
                match rx.recv_timeout(common::WATCHDOG) {
                    Ok(m) => {
                        let (w, i) = check(&m);
                        match last {
                            Some((lw, li)) if lw == w => {
                                assert_eq!(i, li + 1 + pending, "writer {w}: {i} after {li}")
                            }
                            // A new writer: it numbers its own messages from 0.
                            _ => {
                                writers += 1;
                                assert_eq!(i, pending, "writer {w} starts at {i}");
                            }
                        }
                        last = Some((w, i));
                        pending = 0;
                        got += 1;
                    }
                    Err(RecvTimeoutError::Lagged(n)) => {
                        missed += n;
                        pending += n;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                    Err(e) => panic!("receive: {e}"),
                }
            }
            eprintln!("RESULT {got} {missed} {writers}");
        }
        "writer" => {
            let mut tx = Sender::open(name.as_str()).unwrap();
            println!("READY");
            std::io::stdout().flush().unwrap();
            for i in 0.. {
                tx.send(&message(1, i)).unwrap();
            }
        }
        other => panic!("unknown role {other}"),
    });
}

fn spawn(role: &str, name: &str) -> Child {
    let mut c = child("child_entry", role, name).spawn().unwrap();
    wait_for_line(&mut c, "READY");
    c
}

/// `(got, missed, writers seen)` a receiver child reported.
fn report(c: Child) -> (u64, u64, u64) {
    let n = common::stderr_result_numbers(c);
    (n[0], n[1], n[2])
}

fn fan_out(policy: Policy, n: u64) -> Vec<(u64, u64, u64)> {
    let name = unique_name("fbroadcast-fanout");
    let _u = Unlink(name.clone());
    let mut tx = Sender::options()
        .policy(policy)
        .create(name.as_str(), 512)
        .unwrap();
    let receivers: Vec<_> = (0..4).map(|_| spawn("receiver", &name)).collect();
    let start = Instant::now();
    for i in 0..n {
        tx.send(&message(0, i)).unwrap();
    }
    drop(tx);
    let reports: Vec<_> = receivers.into_iter().map(report).collect();
    eprintln!(
        "{policy:?}: {n} messages to 4 receiver processes in {:?}: {reports:?}",
        start.elapsed()
    );
    reports
}

#[test]
fn lossless_every_receiver_process_gets_every_message_whole() {
    let _g = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    const N: u64 = 300_000;
    for report in fan_out(Policy::Lossless, N) {
        assert_eq!(report, (N, 0, 1));
    }
}

#[test]
fn overwrite_lagged_counts_match_every_gap_in_every_receiver_process() {
    let _g = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    const N: u64 = 300_000;
    for (got, missed, _) in fan_out(Policy::Overwrite, N) {
        assert_eq!(got + missed, N, "received {got} + missed {missed}");
    }
}

/// Writer processes SIGKILLed at random points (mid-message, often), a new writer taking
/// over each time: the receiver sees only whole messages, each writer's in order from its
/// first, and (lossless) nothing missed. The receiver is a thread here: between two writers
/// it is `Disconnected`, and it goes on until the test says the last writer left.
#[test]
fn a_writer_killed_mid_message_is_taken_over_without_a_torn_message() {
    let _g = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let name = unique_name("fbroadcast-writer-kill");
    let _u = Unlink(name.clone());
    // The creator writes nothing and leaves; the killed writers hold the role in turn.
    drop(Sender::create(name.as_str(), 64).unwrap());
    let mut rx = Receiver::open(name.as_str()).unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    let (got, writers) = std::thread::scope(|s| {
        let receiver = s.spawn(|| {
            let (mut got, mut writers, mut last) = (0u64, 0u64, None::<(u8, u64)>);
            let start = Instant::now();
            loop {
                assert!(start.elapsed() < common::WATCHDOG, "the receiver is stuck");
                match rx.recv_timeout(std::time::Duration::from_millis(1)) {
                    Ok(m) => {
                        let (w, i) = check(&m);
                        match last {
                            Some((lw, li)) if lw == w && i > 0 => {
                                assert_eq!(i, li + 1, "writer {w}: {i} after {li}")
                            }
                            _ => {
                                writers += 1;
                                assert_eq!(i, 0, "writer {w} starts at {i}");
                            }
                        }
                        last = Some((w, i));
                        got += 1;
                    }
                    Err(RecvTimeoutError::Disconnected | RecvTimeoutError::Timeout) => {
                        if done.load(std::sync::atomic::Ordering::Acquire) && rx.is_empty() {
                            return (got, writers);
                        }
                    }
                    Err(e) => panic!("receive: {e}"),
                }
            }
        });
        let mut rng = Rng::new();
        for _ in 0..KILLS {
            let mut w = spawn("writer", &name);
            std::thread::sleep(std::time::Duration::from_micros(200 + rng.below(5_000)));
            w.kill().unwrap();
            w.wait().unwrap();
        }
        // The last writer: a clean one.
        let mut tx = Sender::open(name.as_str()).unwrap();
        for i in 0..100 {
            tx.send(&message(2, i)).unwrap();
        }
        drop(tx);
        done.store(true, std::sync::atomic::Ordering::Release);
        receiver.join().unwrap()
    });
    assert!(
        got >= 100 && writers > KILLS / 2,
        "got {got} from {writers} writers"
    );
    eprintln!("{KILLS} writers killed mid-stream: {got} whole messages from {writers} writers");
}

const KILLS: u64 = 8;
