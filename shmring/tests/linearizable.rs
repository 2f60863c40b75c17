//! What the non-blocking calls of the many-participant rings promise: `try_recv` reports
//! `Empty` only when the positions say the ring is empty, and `try_send` reports `Full` only
//! when they say it is full — a participant in the middle of an operation (a producer that
//! claimed the slot at `head` and has not published it, a consumer still copying out of the
//! slot at `tail`) is waited for, not mistaken for an empty or full ring.
//!
//! crossbeam-channel's `linearizable` test (`crossbeam-channel/tests/array.rs`) and its mirror
//! for `try_send`, across threads and across processes, for `mpmc`; the same promise for the
//! many-producer framed ring, with a producer holding a claim open, and killed holding it.

use shmring_test_support as common;

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Unlink, child, unique_name, wait_for_line, wait_with_watchdog};
use shmring::{TryRecvError, framed, mpmc};

/// Threads (or processes) running each loop at once: more than the machine's two cores, so
/// that participants are preempted in the middle of their operations.
const THREADS: usize = 4;
/// Iterations of each loop per thread (crossbeam runs 25 000).
const COUNT: usize = 25_000;
/// Iterations per process (each process also pays its start-up).
const PROCESS_COUNT: usize = 20_000;

const ID_VAR: &str = "SHMRING_TEST_ID";
const START_VAR: &str = "SHMRING_TEST_START_MS";

/// Sets a stop flag when dropped — also when the test thread panics, so that helper threads
/// looping until it is set end and the scope does not hang.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs `body(thread index)` on [`THREADS`] threads at once and waits for them all.
fn on_threads(body: impl Fn(usize) + Sync) {
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let body = &body;
            s.spawn(move || body(t));
        }
    });
}

/// crossbeam's `linearizable`: each thread sends, then `try_recv` must find a message — its
/// own send has returned, so the ring cannot be empty.
#[test]
fn mpmc_send_then_try_recv() {
    let (tx, rx) = mpmc::channel::<u64>(THREADS as u64).unwrap();
    on_threads(|t| {
        for i in 0..COUNT {
            tx.send(t as u64).unwrap();
            if let Err(e) = rx.try_recv() {
                panic!(
                    "thread {t}, iteration {i}: try_recv after a completed send gave {e:?} \
                     (len {})",
                    rx.len()
                );
            }
        }
    });
    assert!(rx.is_empty());
}

/// The mirror: on a full ring each thread receives, then `try_send` must find room — its own
/// receive has returned, so the ring cannot be full.
#[test]
fn mpmc_recv_then_try_send() {
    let (tx, rx) = mpmc::channel::<u64>(THREADS as u64).unwrap();
    while tx.try_send(0).is_ok() {}
    assert!(tx.is_full());
    on_threads(|t| {
        for i in 0..COUNT {
            rx.recv().unwrap();
            if let Err(e) = tx.try_send(t as u64) {
                panic!(
                    "thread {t}, iteration {i}: try_send after a completed receive gave {e:?} \
                     (len {} of {})",
                    tx.len(),
                    tx.capacity()
                );
            }
        }
    });
    assert!(tx.is_full());
}

/// `try_iter` takes every message of a thread's own completed sends: each thread sends two,
/// then takes two with `try_iter`. No thread takes more than it sent, so after a thread's
/// sends the ring holds at least as many messages as that thread has still to take.
#[test]
fn mpmc_try_iter_after_own_sends() {
    let (tx, rx) = mpmc::channel::<u64>(2 * THREADS as u64).unwrap();
    on_threads(|t| {
        for i in 0..COUNT / 2 {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
            let got = rx.try_iter().take(2).count();
            assert_eq!(got, 2, "thread {t}, iteration {i}");
        }
    });
    assert!(rx.is_empty());
}

/// Runs `helper` over and over on `THREADS - 1` threads while `main` runs on this one; they
/// stop when `main` returns or panics.
fn with_helpers(helper: impl Fn() + Sync, main: impl FnOnce()) {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 1..THREADS {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    helper();
                }
            });
        }
        let _stop = StopOnDrop(&stop);
        main();
    });
}

/// `is_empty` and `try_recv` agree: with one consumer (only it moves `head`), a ring that is
/// not empty by `is_empty` has a message for `try_recv`, however many producers are in the
/// middle of sending.
#[test]
fn mpmc_is_empty_agrees_with_try_recv() {
    let (tx, rx) = mpmc::channel::<u64>(8).unwrap();
    let send = || {
        let _ = tx.send_timeout(1, Duration::from_millis(1));
    };
    with_helpers(send, || {
        let mut taken = 0;
        while taken < COUNT {
            if !rx.is_empty() {
                assert!(rx.try_recv().is_ok(), "is_empty false, try_recv failed");
                taken += 1;
            }
        }
    });
}

/// The mirror: with one producer (only it moves `tail`), a ring that is not full by
/// `is_full` has room for `try_send`, however many consumers are in the middle of receiving.
#[test]
fn mpmc_is_full_agrees_with_try_send() {
    let (tx, rx) = mpmc::channel::<u64>(8).unwrap();
    let recv = || {
        let _ = rx.recv_timeout(Duration::from_millis(1));
    };
    with_helpers(recv, || {
        let mut sent = 0;
        while sent < COUNT {
            if !tx.is_full() {
                assert!(tx.try_send(1).is_ok(), "is_full false, try_send failed");
                sent += 1;
            }
        }
    });
}

/// Child dispatcher: does nothing unless this binary was re-executed in a role.
#[test]
fn child_entry() {
    let Some((role, name)) = common::child_role() else {
        return;
    };
    let id: u64 = std::env::var(ID_VAR).map_or(0, |v| v.parse().unwrap());
    match role.as_str() {
        // crossbeam's `linearizable` as one of several processes.
        "send-try-recv" => {
            let tx = mpmc::Sender::<u64>::open(name.as_str()).unwrap();
            let rx = mpmc::Receiver::<u64>::open(name.as_str()).unwrap();
            wait_for_start();
            let mut failures = 0;
            for _ in 0..PROCESS_COUNT {
                tx.send(id).unwrap();
                if rx.try_recv().is_err() {
                    failures += 1;
                }
            }
            println!("RESULT failures {failures}");
        }
        // The mirror.
        "recv-try-send" => {
            let tx = mpmc::Sender::<u64>::open(name.as_str()).unwrap();
            let rx = mpmc::Receiver::<u64>::open(name.as_str()).unwrap();
            wait_for_start();
            let mut failures = 0;
            for _ in 0..PROCESS_COUNT {
                rx.recv().unwrap();
                if tx.try_send(id).is_err() {
                    failures += 1;
                }
            }
            println!("RESULT failures {failures}");
        }
        // Claims a record of the many-producer framed ring as a send does and stops in the
        // middle of its copy until killed (or, with an id, commits after that many ms).
        "hold-claim" => {
            let tx = framed::mpsc::Sender::open(name.as_str()).unwrap();
            let mut r = tx.reserve_as_send(5).unwrap();
            r.write_at(0, b"first");
            ready();
            if id == 0 {
                std::thread::sleep(common::WATCHDOG);
            } else {
                std::thread::sleep(Duration::from_millis(id));
                r.commit();
            }
            println!("RESULT held");
        }
        other => panic!("unknown role {other}"),
    }
}

fn ready() {
    println!("READY");
    std::io::stdout().flush().unwrap();
}

/// Runs [`THREADS`] child processes in `role` on the mpmc ring `name` at once and checks that
/// none saw a try call fail.
fn processes(role: &str, name: &str) {
    // They start their loops together, at a wall-clock instant after all have started.
    let start = std::time::SystemTime::now() + Duration::from_millis(500);
    let start_ms = start
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let children: Vec<_> = (0..THREADS)
        .map(|id| {
            let mut cmd = child("child_entry", role, name);
            cmd.env(ID_VAR, id.to_string())
                .env(START_VAR, start_ms.to_string());
            cmd.spawn().unwrap()
        })
        .collect();
    for c in children {
        let out = wait_with_watchdog(c);
        assert!(
            out.status.success(),
            "{role} child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(common::result_line(&out), "failures 0", "{role}");
    }
}

/// In a child: sleeps until the start instant the parent gave (see [`processes`]).
fn wait_for_start() {
    let Ok(at) = std::env::var(START_VAR) else {
        return;
    };
    let at = std::time::UNIX_EPOCH + Duration::from_millis(at.parse().unwrap());
    if let Ok(left) = at.duration_since(std::time::SystemTime::now()) {
        std::thread::sleep(left);
    }
}

/// crossbeam's `linearizable` across processes.
#[test]
fn mpmc_send_then_try_recv_processes() {
    let name = unique_name("lin-recv");
    let _unlink = Unlink(name.clone());
    // The parent holds both sides, so neither is ever disconnected.
    let _tx = mpmc::Sender::<u64>::create(name.as_str(), THREADS as u64).unwrap();
    let rx = mpmc::Receiver::<u64>::open(name.as_str()).unwrap();
    processes("send-try-recv", &name);
    assert!(rx.is_empty());
}

/// The mirror across processes: the ring starts full.
#[test]
fn mpmc_recv_then_try_send_processes() {
    let name = unique_name("lin-send");
    let _unlink = Unlink(name.clone());
    let tx = mpmc::Sender::<u64>::create(name.as_str(), THREADS as u64).unwrap();
    let _rx = mpmc::Receiver::<u64>::open(name.as_str()).unwrap();
    while tx.try_send(0).is_ok() {}
    processes("recv-try-send", &name);
    assert!(tx.is_full());
}

/// The many-producer framed ring: a producer that claimed the record at the head and commits
/// it a little later holds the messages behind it; `try_recv` waits for it instead of
/// reporting `Empty` while a completed send sits behind it — and delivers in claim order.
#[test]
fn framed_mpsc_try_recv_waits_for_a_claim_in_flight() {
    let (tx, mut rx) = framed::mpsc::channel(4096).unwrap();
    let tx2 = tx.clone();
    let mut r = tx.reserve_as_send(5).unwrap();
    r.write_at(0, b"first");
    tx2.send(b"second").unwrap();
    std::thread::scope(|s| {
        s.spawn(move || {
            std::thread::sleep(Duration::from_millis(2));
            r.commit();
        });
        assert_eq!(rx.try_recv().unwrap(), b"first");
    });
    assert_eq!(rx.try_recv().unwrap(), b"second");
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

/// A reservation its user holds open is not a send in progress: `try_recv` does not wait for
/// the user (the messages claimed after it wait behind it, in claim order).
#[test]
fn framed_mpsc_try_recv_does_not_wait_for_an_open_reservation() {
    let (tx, mut rx) = framed::mpsc::channel(4096).unwrap();
    let mut r = tx.reserve(5).unwrap();
    r.write_at(0, b"first");
    tx.send(b"second").unwrap();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(rx.try_iter().count(), 0);
    r.commit();
    assert_eq!(
        rx.try_iter().collect::<Vec<_>>(),
        [b"first".to_vec(), b"second".to_vec()]
    );
}

/// Threads of the many-producer framed ring: producers count their sends as they return;
/// the receiver, seeing `n` completed, takes with `try_recv` until it has `n` — never `Empty`
/// before that, however many producers are in the middle of a send.
#[test]
fn framed_mpsc_completed_sends_are_seen() {
    let (tx, mut rx) = framed::mpsc::channel(1 << 12).unwrap();
    let completed = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let per_thread = COUNT / 2;
    std::thread::scope(|s| {
        for t in 1..THREADS {
            let (tx, completed, stop) = (tx.clone(), &completed, &stop);
            s.spawn(move || {
                for k in 0..per_thread {
                    let msg = &[t as u8; 24][..8 + k % 16];
                    while let Err(e) = tx.send_timeout(msg, Duration::from_millis(10)) {
                        assert!(matches!(e, framed::SendTimeoutError::Timeout), "{e:?}");
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                    }
                    completed.fetch_add(1, Ordering::Release);
                }
            });
        }
        drop(tx);
        let _stop = StopOnDrop(&stop);
        let total = per_thread * (THREADS - 1);
        let mut taken = 0;
        while taken < total {
            let done = completed.load(Ordering::Acquire);
            while taken < done {
                if let Err(e) = rx.try_recv() {
                    panic!("{done} sends completed, {taken} taken, then try_recv gave {e:?}");
                }
                taken += 1;
            }
        }
    });
}

/// A producer process holds a claim at the head and is killed: `try_recv` settles the dead
/// claim (the crash protocol turns it into padding) and returns the message behind it within
/// its patience, rather than `Empty`.
#[test]
fn framed_mpsc_try_recv_settles_a_dead_claimer() {
    let name = unique_name("lin-dead");
    let _unlink = Unlink(name.clone());
    let mut rx = framed::mpsc::Receiver::create(name.as_str(), 4096).unwrap();
    let mut holder = child("child_entry", "hold-claim", &name).spawn().unwrap();
    wait_for_line(&mut holder, "READY");
    let tx = framed::mpsc::Sender::open(name.as_str()).unwrap();
    tx.send(b"second").unwrap();
    // Alive, the holder keeps "second" back (and this look takes in the new membership).
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    holder.kill().unwrap();
    let _ = wait_with_watchdog(holder);
    assert_eq!(rx.try_recv().unwrap(), b"second");
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

/// A live producer process holds a claim open: `try_recv` gives up after its bounded
/// patience (never hangs) and reports `Empty`; the messages come once the claim is committed.
#[test]
fn framed_mpsc_try_recv_is_bounded_by_a_stalled_claimer() {
    let name = unique_name("lin-stall");
    let _unlink = Unlink(name.clone());
    let mut rx = framed::mpsc::Receiver::create(name.as_str(), 4096).unwrap();
    let mut cmd = child("child_entry", "hold-claim", &name);
    // Commits after a second: longer than the patience, shorter than the watchdog.
    cmd.env(ID_VAR, "1000");
    let mut holder = cmd.spawn().unwrap();
    wait_for_line(&mut holder, "READY");
    let tx = framed::mpsc::Sender::open(name.as_str()).unwrap();
    tx.send(b"second").unwrap();
    let started = Instant::now();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    // It waited (at least the patience) before giving up; no upper bound is asserted.
    assert!(started.elapsed() >= shmring::wait::CLAIM_PATIENCE);
    let deadline = Instant::now() + common::WATCHDOG;
    assert_eq!(rx.recv_deadline(deadline).unwrap(), b"first");
    assert_eq!(rx.try_recv().unwrap(), b"second");
    let _ = wait_with_watchdog(holder);
}
