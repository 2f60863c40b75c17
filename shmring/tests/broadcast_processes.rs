//! The broadcast ring between real processes: one writer and four receiver processes
//! (lossless: every receiver sees every message once and in order; overwrite: each sees an
//! increasing run whose `Lagged` counts add up exactly to what it missed), receivers killed
//! with SIGKILL mid-stream never stopping a lossless writer for good, and a late joiner
//! process that gets exactly the retained history, then live messages.

use shmring_test_support as common;

use std::io::Write;
use std::process::Child;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{Rng, Unlink, child, unique_name, wait_for_line};
use shmring::broadcast::{Policy, Receiver, RecvTimeoutError, Sender};

/// The tests spin several processes; on a 2-core machine they run one at a time.
static HEAVY: Mutex<()> = Mutex::new(());

const OLDEST_VAR: &str = "SHMRING_TEST_FROM_OLDEST";

/// Child dispatcher: a receiver that checks what it gets and reports `RESULT got missed
/// first` on stderr once the writer is gone.
#[test]
fn child_entry() {
    common::run_child(|role, name| {
        assert_eq!(role, "receiver");
        let mut options = Receiver::<u64>::options();
        if std::env::var(OLDEST_VAR).is_ok() {
            options = options.from_oldest();
        }
        let mut rx = options.open(name.as_str()).unwrap();
        let mut next = rx.position();
        let first = next;
        println!("READY");
        std::io::stdout().flush().unwrap();
        let (mut got, mut missed) = (0u64, 0u64);
        loop {
            match rx.recv_timeout(common::WATCHDOG) {
                Ok(v) => {
                    assert_eq!(v, next, "after {got} received and {missed} missed");
                    next += 1;
                    got += 1;
                }
                Err(RecvTimeoutError::Lagged(n)) => {
                    missed += n;
                    next += n;
                }
                Err(RecvTimeoutError::Disconnected) => break,
                Err(e) => panic!("receive: {e}"),
            }
        }
        eprintln!("RESULT {got} {missed} {first}");
    });
}

fn spawn_receiver(name: &str, from_oldest: bool) -> Child {
    let mut cmd = child("child_entry", "receiver", name);
    if from_oldest {
        cmd.env(OLDEST_VAR, "1");
    }
    let mut c = cmd.spawn().unwrap();
    wait_for_line(&mut c, "READY");
    c
}

/// `(got, missed, first position)` a receiver child reported.
fn report(c: Child) -> (u64, u64, u64) {
    let n = common::stderr_result_numbers(c);
    (n[0], n[1], n[2])
}

fn fan_out(policy: Policy, n: u64) -> Vec<(u64, u64, u64)> {
    let name = unique_name("broadcast-fanout");
    let _u = Unlink(name.clone());
    let mut tx = Sender::<u64>::options()
        .policy(policy)
        .create(name.as_str(), 256)
        .unwrap();
    let receivers: Vec<_> = (0..4).map(|_| spawn_receiver(&name, false)).collect();
    let start = Instant::now();
    for i in 0..n {
        tx.send(i).unwrap();
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
fn lossless_every_receiver_process_gets_every_message() {
    let _g = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    const N: u64 = 1_000_000;
    for (got, missed, first) in fan_out(Policy::Lossless, N) {
        assert_eq!((got, missed, first), (N, 0, 0));
    }
}

#[test]
fn overwrite_lagged_counts_add_up_in_every_receiver_process() {
    let _g = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    const N: u64 = 1_000_000;
    for (got, missed, first) in fan_out(Policy::Overwrite, N) {
        assert_eq!(first, 0);
        assert_eq!(got + missed, N, "received {got} + missed {missed}");
    }
}

/// Four receiver processes, two SIGKILLed at random points: the lossless writer finishes
/// (each stall ends once the dead receiver is found, within a liveness period), and the
/// survivors get everything.
#[test]
fn killed_receivers_never_stop_a_lossless_writer() {
    let _g = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    const N: u64 = 200_000;
    let name = unique_name("broadcast-kill");
    let _u = Unlink(name.clone());
    let mut tx = Sender::<u64>::create(name.as_str(), 64).unwrap();
    let mut receivers: Vec<_> = (0..4).map(|_| spawn_receiver(&name, false)).collect();
    let mut rng = Rng::new();
    let kill_at = [rng.below(N / 2), N / 2 + rng.below(N / 2)];
    let (mut longest, start) = (Duration::ZERO, Instant::now());
    let mut victims = receivers.drain(..2).collect::<Vec<_>>();
    for i in 0..N {
        if let Some(k) = kill_at.iter().position(|&at| at == i) {
            victims[k].kill().unwrap();
            victims[k].wait().unwrap();
        }
        let t = Instant::now();
        tx.send(i).unwrap();
        longest = longest.max(t.elapsed());
        assert!(
            start.elapsed() < common::WATCHDOG,
            "the writer is stuck at {i}"
        );
    }
    drop(tx);
    for r in receivers {
        assert_eq!(report(r), (N, 0, 0));
    }
    eprintln!(
        "{N} sent past 2 receivers killed at {kill_at:?}; longest single send {longest:?} (liveness period {:?})",
        shmring::wait::LIVENESS_PERIOD
    );
}

/// A receiver process joining late with `from_oldest` gets exactly the messages the ring
/// retained (capacity − 1 of them), then the live ones.
#[test]
fn a_late_joiner_process_gets_the_retained_history() {
    let _g = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let name = unique_name("broadcast-late");
    let _u = Unlink(name.clone());
    let mut tx = Sender::<u64>::create(name.as_str(), 16).unwrap();
    for i in 0..100 {
        tx.send(i).unwrap(); // no receiver: kept, oldest overwritten
    }
    let late = spawn_receiver(&name, true);
    for i in 100..200 {
        tx.send(i).unwrap();
    }
    drop(tx);
    // 100 sent into 16 slots: 85..100 retained, then 100..200 live.
    assert_eq!(report(late), (115, 0, 85));
}
