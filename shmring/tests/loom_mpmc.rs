//! loom models of the MPMC ring, its wake-ups and its crash recovery. Run with
//! `RUSTFLAGS="--cfg shmring_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release -p shmring --test loom_mpmc`
//! (`ci/loom.sh`). Without the cfg this file is empty.
#![cfg(shmring_loom)]

use loom::thread;
use shmring::{RecvError, mpmc};

/// Runs a model of two threads with the preemption bound from the environment
/// (`LOOM_MAX_PREEMPTIONS=2` in CI).
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.max_branches = 20_000;
    builder.check(f);
}

/// Runs a model of three threads with a preemption bound of 1: at 2, each of these models
/// runs for more than the whole CI budget (measured: over 400 s each), while every two-thread
/// scenario below also runs at 2.
fn model3(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.max_branches = 20_000;
    builder.preemption_bound = Some(1);
    builder.check(f);
}

/// Sends `values`, blocking while full (under loom a blocked sender parks on the model
/// futex at once: no spin loops for loom to unroll).
fn send_all(tx: &mpmc::Sender<u32>, values: &[u32]) {
    for &v in values {
        tx.send(v).unwrap();
    }
}

/// Two producers (separate participants) and one consumer, capacity 2, all blocking: every
/// message arrives exactly once and each producer's messages in order; loom checks the slot
/// accesses and that no wake-up is lost.
#[test]
fn two_producers_one_consumer() {
    model3(|| {
        let (tx, rx) = mpmc::channel::<u32>(2).unwrap();
        let tx2 = tx.attach_sender().unwrap();
        let a = thread::spawn(move || send_all(&tx, &[10, 11]));
        let b = thread::spawn(move || send_all(&tx2, &[20]));
        let mut got: Vec<u32> = (0..3).map(|_| rx.recv().unwrap()).collect();
        a.join().unwrap();
        b.join().unwrap();
        let from_a: Vec<_> = got.iter().copied().filter(|v| *v < 20).collect();
        assert_eq!(from_a, [10, 11], "per-producer order");
        assert!(rx.try_recv().is_err());
        got.sort();
        assert_eq!(got, [10, 11, 20]);
    });
}

/// One producer and two consumers, capacity 2, the consumers blocking: each message is taken
/// by exactly one of them; when the producer leaves, both end with `Disconnected` (a lost
/// wake-up would leave one asleep, which loom reports as a deadlock).
#[test]
fn one_producer_two_consumers_blocking() {
    model3(|| {
        let (tx, rx) = mpmc::channel::<u32>(2).unwrap();
        let rx2 = rx.attach_receiver().unwrap();
        let c = thread::spawn(move || rx2.iter().collect::<Vec<_>>());
        let p = thread::spawn(move || {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
        });
        let mut got: Vec<u32> = rx.iter().collect();
        assert_eq!(rx.recv(), Err(RecvError::Disconnected));
        p.join().unwrap();
        got.extend(c.join().unwrap());
        got.sort();
        assert_eq!(got, [1, 2]);
    });
}

/// Full → wait → wake with a blocking sender and a blocking receiver (capacity 2).
#[test]
fn full_then_wait_then_wake() {
    model(|| {
        let (tx, rx) = mpmc::channel::<u32>(2).unwrap();
        let p = thread::spawn(move || {
            for i in 1..=3 {
                tx.send(i).unwrap();
            }
        });
        assert_eq!((rx.recv(), rx.recv(), rx.recv()), (Ok(1), Ok(2), Ok(3)));
        p.join().unwrap();
    });
}

/// A producer dies after claiming a position and before publishing it, while another
/// producer sends: the consumer (blocking) still receives the live producer's messages —
/// the recovery tombstones the dead claim — and then `Disconnected`.
#[test]
fn producer_dies_after_claiming() {
    model3(|| {
        let (tx, rx) = mpmc::channel::<u32>(2).unwrap();
        let doomed = tx.attach_sender().unwrap();
        let d = thread::spawn(move || doomed.die_after_claim());
        let p = thread::spawn(move || {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
        });
        let got: Vec<u32> = rx.iter().collect();
        assert_eq!(rx.recv(), Err(RecvError::Disconnected));
        p.join().unwrap();
        d.join().unwrap();
        assert_eq!(got, [1, 2]);
    });
}

/// A consumer dies holding a claimed slot of a full ring (capacity 2): the recovery releases
/// the slot, so the blocked producer continues and the surviving consumer gets its messages.
#[test]
fn consumer_dies_while_consuming() {
    model3(|| {
        let (tx, rx) = mpmc::channel::<u32>(2).unwrap();
        tx.send(0).unwrap();
        tx.send(1).unwrap();
        let doomed = rx.attach_receiver().unwrap();
        let d = thread::spawn(move || doomed.die_after_claim());
        let p = thread::spawn(move || tx.send(2).unwrap());
        let mut got = Vec::new();
        loop {
            match rx.recv() {
                Ok(v) => got.push(v),
                Err(RecvError::Disconnected) => break,
                Err(e) => panic!("{e:?} after {got:?}"),
            }
        }
        p.join().unwrap();
        let claimed = d.join().unwrap();
        // The message the dead consumer claimed (if any) went with it; nothing else is lost,
        // duplicated or reordered.
        assert!(got.is_sorted() && got.iter().all(|v| *v <= 2), "{got:?}");
        assert_eq!(got.len(), if claimed { 2 } else { 3 }, "{got:?}");
    });
}

/// Two threads, full preemption bound: a producer sends one message, then dies after
/// claiming the next position; the blocked consumer gets the message, then (after the
/// recovery tombstones the dead claim) `Disconnected`.
#[test]
fn lone_producer_dies_after_claiming() {
    model(|| {
        let (tx, rx) = mpmc::channel::<u32>(2).unwrap();
        let p = thread::spawn(move || {
            tx.send(7).unwrap();
            tx.die_after_claim()
        });
        assert_eq!(rx.recv(), Ok(7));
        assert_eq!(rx.recv(), Err(RecvError::Disconnected));
        assert!(
            p.join().unwrap(),
            "the ring had room, so the claim succeeded"
        );
    });
}

/// Two threads, full preemption bound: a consumer dies holding a slot of a full ring; the
/// producer blocked on it continues once the recovery releases the slot.
#[test]
fn consumer_dies_holding_a_full_ring() {
    model(|| {
        let (tx, rx) = mpmc::channel::<u32>(2).unwrap();
        tx.send(0).unwrap();
        tx.send(1).unwrap();
        let doomed = rx.attach_receiver().unwrap();
        let d = thread::spawn(move || doomed.die_after_claim());
        tx.send(2).unwrap();
        assert!(d.join().unwrap());
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
    });
}

/// crossbeam's `linearizable` with a second producer mid-claim (two threads, full preemption
/// bound, so the other producer can be stopped between its claim and its publication): another participant sends
/// while this thread sends and then calls `try_recv`. Its own send has returned, so
/// `try_recv` must find a message even when the other producer has claimed the slot at
/// `head` and not yet published it (it waits for it rather than report `Empty`).
#[test]
fn send_then_try_recv_with_a_producer_mid_claim() {
    model(|| {
        let (tx, rx) = mpmc::channel::<u32>(2).unwrap();
        let tx2 = tx.attach_sender().unwrap();
        let p = thread::spawn(move || tx2.send(2).unwrap());
        tx.send(1).unwrap();
        let first = rx.try_recv();
        assert!(matches!(first, Ok(1 | 2)), "{first:?}");
        p.join().unwrap();
        let second = rx.try_recv();
        assert!(matches!(second, Ok(1 | 2)) && second != first, "{second:?}");
    });
}

/// As above, with the other producer dying after its claim: `try_recv` settles the dead
/// claim (the crash protocol tombstones it) and returns this thread's message.
#[test]
fn send_then_try_recv_with_a_producer_dead_mid_claim() {
    model(|| {
        let (tx, rx) = mpmc::channel::<u32>(2).unwrap();
        let doomed = tx.attach_sender().unwrap();
        let d = thread::spawn(move || doomed.die_after_claim());
        tx.send(1).unwrap();
        assert_eq!(rx.try_recv(), Ok(1));
        d.join().unwrap();
    });
}

/// The mirror: on a full ring another consumer receives while this thread receives and then
/// calls `try_send`. Its own receive has returned, so `try_send` must find room even when the
/// other consumer is still copying out of the slot at `tail`.
#[test]
fn recv_then_try_send_with_a_consumer_mid_claim() {
    model(|| {
        let (tx, rx) = mpmc::channel::<u32>(2).unwrap();
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        let rx2 = rx.attach_receiver().unwrap();
        let c = thread::spawn(move || rx2.recv().unwrap());
        let mine = rx.recv().unwrap();
        assert_eq!(tx.try_send(3), Ok(()));
        let theirs = c.join().unwrap();
        let mut got = [mine, theirs];
        got.sort();
        assert_eq!(got, [1, 2]);
    });
}
