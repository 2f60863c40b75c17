//! The SPSC ring between real processes: ordered delivery of millions of messages in spin and
//! blocking modes, producers and consumers killed with SIGKILL at random points, role
//! takeover, and a peer that scribbles on the shared indices.

use shmring_test_support as common;

use std::os::unix::fs::FileExt;
use std::process::Child;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{Rng, Unlink, child, shm_path, unique_name, wait_for_line, wait_with_watchdog};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use shmring::header::HEADER_SIZE;
use shmring::spsc::layout::{HEAD_OFFSET, TAIL_OFFSET};
use shmring::spsc::{Receiver, Sender};
use shmring::{RecvError, RecvTimeoutError, SendTimeoutError, TryRecvError, WaitStrategy};

/// The heavy tests spin two processes; on a 2-core machine they run one at a time.
static HEAVY: Mutex<()> = Mutex::new(());

const COUNT_VAR: &str = "SHMRING_TEST_COUNT";
const MODE_VAR: &str = "SHMRING_TEST_MODE";

fn strategy(mode: &str) -> WaitStrategy {
    match mode {
        "spin" => WaitStrategy::BusyPoll,
        _ => WaitStrategy::default(),
    }
}

/// Child dispatcher: does nothing unless this binary was re-executed in a role.
#[test]
fn child_entry() {
    let Some((role, name)) = common::child_role() else {
        return;
    };
    let count: u64 = std::env::var(COUNT_VAR).map_or(u64::MAX, |c| c.parse().unwrap());
    let mode = std::env::var(MODE_VAR).unwrap_or_default();
    match role.as_str() {
        // Sends 0..count (forever if no count), then exits (dropping the sender).
        "producer" => {
            let mut tx = Sender::<u64>::open(name.as_str())
                .unwrap()
                .with_wait_strategy(strategy(&mode));
            println!("READY");
            for i in 0..count {
                if tx.send(i).is_err() {
                    println!("RESULT disconnected at {i}");
                    return;
                }
            }
            println!("RESULT sent {count}");
        }
        // Sends `count` values starting at 1_000_000_000 (a taking-over producer).
        "successor" => {
            let mut tx = Sender::<u64>::open(name.as_str()).unwrap();
            println!("READY");
            for i in 0..count {
                tx.send(1_000_000_000 + i).unwrap();
            }
            println!("RESULT sent {count}");
        }
        // Receives `count` values, checks them contiguous, reports the last, then keeps
        // receiving slowly until killed.
        "consumer" => {
            let mut rx = Receiver::<u64>::open(name.as_str()).unwrap();
            let first = rx.recv().unwrap();
            let mut last = first;
            for _ in 1..count {
                let v = rx.recv().unwrap();
                assert_eq!(v, last + 1, "consumer saw a gap");
                last = v;
            }
            println!("RESULT first {first} last {last}");
            use std::io::Write;
            std::io::stdout().flush().unwrap();
            loop {
                if rx.recv().is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        other => panic!("unknown role {other}"),
    }
}

fn spawn(role: &str, name: &str, count: Option<u64>, mode: &str) -> Child {
    let mut cmd = child("child_entry", role, name);
    if let Some(count) = count {
        cmd.env(COUNT_VAR, count.to_string());
    }
    cmd.env(MODE_VAR, mode).spawn().expect("spawn child")
}

/// Receives until disconnected, asserting every value is the next one; returns the count.
fn drain_in_order(rx: &mut Receiver<u64>, mut expected: u64) -> u64 {
    let start = expected;
    let watchdog = Instant::now() + common::WATCHDOG;
    loop {
        match rx.recv_deadline(watchdog) {
            Ok(v) => {
                assert_eq!(v, expected, "message lost, duplicated or reordered");
                expected += 1;
            }
            Err(RecvTimeoutError::Disconnected) => return expected - start,
            Err(e) => panic!("receiver failed after {} messages: {e:?}", expected - start),
        }
    }
}

fn ten_million(mode: &str) {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    const N: u64 = 10_000_000;
    let name = unique_name(&format!("ten-million-{mode}"));
    let _g = Unlink(name.clone());
    let mut rx = Receiver::<u64>::create(name.as_str(), 4096)
        .unwrap()
        .with_wait_strategy(strategy(mode));
    let producer = spawn("producer", &name, Some(N), mode);
    assert_eq!(drain_in_order(&mut rx, 0), N);
    let out = wait_with_watchdog(producer);
    assert_eq!(common::result_line(&out), format!("sent {N}"));
}

#[test]
fn ten_million_in_order_busy_poll() {
    ten_million("spin");
}

#[test]
fn ten_million_in_order_blocking() {
    ten_million("blocking");
}

/// SIGKILL the producer at random points: the consumer gets an unbroken prefix of the
/// sequence, then Disconnected — never a gap, a duplicate, or a hang.
#[test]
fn producer_killed_at_random_points() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let mut rng = Rng::new();
    for round in 0..25 {
        let name = unique_name("kill-producer");
        let _g = Unlink(name.clone());
        let mode = if round % 2 == 0 { "blocking" } else { "spin" };
        let mut rx = Receiver::<u64>::create(name.as_str(), 1 << rng.below(12))
            .unwrap()
            .with_wait_strategy(strategy(mode));
        let mut producer = spawn("producer", &name, None, mode);
        wait_for_line(&mut producer, "READY");
        // Read a random number of messages, then kill the producer mid-stream.
        let before = rng.below(200_000);
        for expected in 0..before {
            assert_eq!(
                rx.recv_timeout(common::WATCHDOG),
                Ok(expected),
                "round {round}"
            );
        }
        std::thread::sleep(Duration::from_micros(rng.below(2_000)));
        kill(Pid::from_raw(producer.id() as i32), Signal::SIGKILL).unwrap();
        let after = drain_in_order(&mut rx, before);
        wait_with_watchdog(producer);
        eprintln!("round {round} ({mode}): {before} before the kill, {after} drained after");
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    }
}

/// After a producer dies, a new process takes over the sender role and the consumer goes on
/// receiving from it; nothing the dead producer committed is lost.
#[test]
fn a_new_producer_takes_over_a_dead_ones_role() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let name = unique_name("takeover");
    let _g = Unlink(name.clone());
    let mut rx = Receiver::<u64>::create(name.as_str(), 64).unwrap();
    let mut producer = spawn("producer", &name, None, "blocking");
    wait_for_line(&mut producer, "READY");
    // Let it fill the ring, then kill it while it is blocked on a full ring.
    while !rx.is_full() {
        std::thread::sleep(Duration::from_millis(1));
    }
    kill(Pid::from_raw(producer.id() as i32), Signal::SIGKILL).unwrap();
    wait_with_watchdog(producer);
    assert!(rx.is_disconnected());
    let mut successor = spawn("successor", &name, Some(100), "blocking");
    wait_for_line(&mut successor, "READY");
    // The ring kept the dead producer's 64 messages; the successor's follow.
    let mut got = Vec::new();
    while got.len() < 164 {
        got.push(rx.recv_timeout(common::WATCHDOG).expect("message"));
    }
    assert_eq!(got[..64], (0..64).collect::<Vec<u64>>()[..]);
    assert_eq!(
        got[64..],
        (1_000_000_000..1_000_000_100).collect::<Vec<u64>>()[..]
    );
    assert!(wait_with_watchdog(successor).status.success());
    assert_eq!(
        rx.recv_timeout(common::WATCHDOG),
        Err(RecvTimeoutError::Disconnected)
    );
}

/// A consumer killed mid-stream: the sender blocked on the full ring gets Disconnected with
/// its value back instead of blocking forever; a new consumer then continues the sequence
/// from the last message its predecessor released.
#[test]
fn consumer_killed_unblocks_the_sender_and_can_be_replaced() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let name = unique_name("kill-consumer");
    let _g = Unlink(name.clone());
    let mut tx = Sender::<u64>::create(name.as_str(), 16).unwrap();
    let mut consumer = spawn("consumer", &name, Some(1000), "blocking");
    let mut next = 0;
    let deadline = Instant::now() + common::WATCHDOG;
    // Feed it until it has reported, then keep the ring full.
    let report = std::thread::scope(|s| {
        let stdout = consumer.stdout.take().unwrap();
        let reader = s.spawn(move || {
            use std::io::BufRead;
            std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .find(|l| l.starts_with("RESULT"))
        });
        while !reader.is_finished() {
            if tx.send_deadline(next, deadline).is_ok() {
                next += 1;
            }
        }
        reader.join().unwrap().expect("consumer report")
    });
    assert!(report.starts_with("RESULT first 0 last 999"), "{report}");
    kill(Pid::from_raw(consumer.id() as i32), Signal::SIGKILL).unwrap();
    wait_with_watchdog(consumer);
    let err = loop {
        match tx.send_deadline(next, deadline) {
            Ok(()) => next += 1,
            Err(e) => break e,
        }
    };
    match err {
        SendTimeoutError::Disconnected(v) => assert_eq!(v, next),
        other => panic!("expected Disconnected, got {other:?}"),
    }

    // A replacement consumer picks up where the dead one released.
    let mut rx = Receiver::<u64>::open(name.as_str()).unwrap();
    let first = rx.try_recv().expect("the ring kept the unread messages");
    assert!(first >= 1000 && first < next, "first {first}, sent {next}");
    let mut expected = first + 1;
    drop(tx);
    loop {
        match rx.recv_timeout(common::WATCHDOG) {
            Ok(v) => {
                assert_eq!(v, expected);
                expected += 1;
            }
            Err(RecvTimeoutError::Disconnected) => break,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(
        expected, next,
        "everything sent before the sender closed was received"
    );
}

/// A peer that writes impossible indices: each handle reports Corrupted (and keeps doing so)
/// instead of reading out of bounds, panicking or hanging.
#[test]
fn scribbled_indices_are_corruption() {
    let name = unique_name("scribble");
    let _g = Unlink(name.clone());
    let mut tx = Sender::<u64>::create(name.as_str(), 8).unwrap();
    let mut rx = Receiver::<u64>::open(name.as_str()).unwrap();
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    assert_eq!(rx.try_recv(), Ok(1));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(shm_path(&name))
        .unwrap();
    let area = HEADER_SIZE as u64;

    // The tail jumps more than a capacity ahead of the head.
    file.write_all_at(&1_000u64.to_ne_bytes(), area + TAIL_OFFSET as u64)
        .unwrap();
    assert_eq!(
        rx.try_recv(),
        Ok(2),
        "the cached tail still covers the second message"
    );
    assert_eq!(rx.try_recv(), Err(TryRecvError::Corrupted));
    assert_eq!(rx.recv(), Err(RecvError::Corrupted));
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(1)),
        Err(RecvTimeoutError::Corrupted)
    );

    // The head moves backwards under the sender.
    for i in 0..7 {
        tx.send(i).unwrap();
    }
    file.write_all_at(&0u64.to_ne_bytes(), area + HEAD_OFFSET as u64)
        .unwrap();
    let err = loop {
        match tx.try_send(9) {
            Ok(()) => continue,
            Err(e) => break e,
        }
    };
    assert!(
        matches!(err, shmring::TrySendError::Corrupted(9)),
        "{err:?}"
    );
    assert!(matches!(
        tx.send(10),
        Err(shmring::SendError::Corrupted(10))
    ));

    // A reopen validates the indices too.
    drop((tx, rx));
    file.write_all_at(&u64::MAX.to_ne_bytes(), area + TAIL_OFFSET as u64)
        .unwrap();
    let err = Receiver::<u64>::open(name.as_str()).unwrap_err();
    assert!(
        matches!(err, shmring::OpenError::Corrupted { .. }),
        "{err:?}"
    );
}
