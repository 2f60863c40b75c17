//! loom models of the SPSC ring and its wake-up protocol. Run with
//! `RUSTFLAGS="--cfg shmring_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release -p shmring --test loom_spsc`
//! (`ci/loom.sh`). Without the cfg this file is empty.
#![cfg(shmring_loom)]

use loom::thread;
use shmring::{RecvError, TryRecvError, TrySendError, spsc};

/// Push and pop across the wrap: capacity 2, 3 messages, non-blocking on both sides. Every
/// message arrives once, in order; loom checks the slot accesses for races.
#[test]
fn push_pop_across_the_wrap() {
    loom::model(|| {
        let (mut tx, mut rx) = spsc::channel::<u32>(2).unwrap();
        let producer = thread::spawn(move || {
            let mut next = 0;
            while next < 3 {
                match tx.try_send(next) {
                    Ok(()) => next += 1,
                    Err(TrySendError::Full(_)) => thread::yield_now(),
                    Err(e) => panic!("{e:?}"),
                }
            }
        });
        let mut got = Vec::new();
        while got.len() < 3 {
            match rx.try_recv() {
                Ok(v) => got.push(v),
                Err(TryRecvError::Empty) => thread::yield_now(),
                Err(e) => panic!("{e:?}"),
            }
        }
        producer.join().unwrap();
        assert_eq!(got, vec![0, 1, 2]);
    });
}

/// Full → wait → wake: the sender blocks on a full ring (capacity 1) until the receiver takes
/// a message. A lost wake-up would leave the sender asleep forever, which loom reports as a
/// deadlock.
#[test]
fn full_then_wait_then_wake() {
    loom::model(|| {
        let (mut tx, mut rx) = spsc::channel::<u32>(1).unwrap();
        let producer = thread::spawn(move || {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
        });
        let first = rx_recv_spin(&mut rx);
        let second = rx_recv_spin(&mut rx);
        producer.join().unwrap();
        assert_eq!((first, second), (1, 2));
    });
}

/// Empty → wait → wake: the receiver blocks on an empty ring until the sender publishes.
#[test]
fn empty_then_wait_then_wake() {
    loom::model(|| {
        let (mut tx, mut rx) = spsc::channel::<u32>(2).unwrap();
        let consumer = thread::spawn(move || (rx.recv(), rx.recv()));
        tx.send(7).unwrap();
        tx.send(8).unwrap();
        assert_eq!(consumer.join().unwrap(), (Ok(7), Ok(8)));
    });
}

/// The lost-wake-up attempt: both sides block (capacity 1, two messages each way through the
/// full and empty states), so every interleaving of "register as waiting" with "publish then
/// check for waiters" is explored. Any lost wake-up is a loom deadlock.
#[test]
fn no_lost_wake_up_with_both_sides_blocking() {
    loom::model(|| {
        let (mut tx, mut rx) = spsc::channel::<u32>(1).unwrap();
        let producer = thread::spawn(move || {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
        });
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.recv(), Ok(2));
        producer.join().unwrap();
    });
}

/// Disconnection wakes a sleeping receiver, which first drains what was committed.
#[test]
fn drop_wakes_the_receiver_after_draining() {
    loom::model(|| {
        let (mut tx, mut rx) = spsc::channel::<u32>(2).unwrap();
        let consumer = thread::spawn(move || {
            let first = rx.recv();
            let second = rx.recv();
            (first, second)
        });
        tx.send(5).unwrap();
        drop(tx);
        assert_eq!(
            consumer.join().unwrap(),
            (Ok(5), Err(RecvError::Disconnected))
        );
    });
}

/// Chunks: a two-slot chunk published with one store, read as one chunk.
#[test]
fn chunks_publish_together() {
    loom::model(|| {
        let (mut tx, mut rx) = spsc::channel::<u32>(2).unwrap();
        let producer = thread::spawn(move || {
            let mut chunk = tx.write_chunk(2).unwrap();
            chunk.extend_from_slice(&[3, 4]);
            chunk.commit();
        });
        loop {
            match rx.read_chunk(2) {
                Ok(mut chunk) => {
                    assert_eq!((chunk.pop(), chunk.pop()), (Some(3), Some(4)));
                    chunk.commit();
                    break;
                }
                Err(shmring::ChunkError::TooFewSlots(n)) => {
                    assert!(n == 0, "a chunk is published whole, saw {n} of 2");
                    thread::yield_now();
                }
                Err(e) => panic!("{e:?}"),
            }
        }
        producer.join().unwrap();
    });
}

fn rx_recv_spin(rx: &mut spsc::Receiver<u32>) -> u32 {
    loop {
        match rx.try_recv() {
            Ok(v) => return v,
            Err(TryRecvError::Empty) => thread::yield_now(),
            Err(e) => panic!("{e:?}"),
        }
    }
}
