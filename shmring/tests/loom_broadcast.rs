//! loom models of the broadcast ring: a lossless writer waiting on two receivers and woken
//! by each, a receiver joining a lossless ring while the writer fills it, an overwrite writer lapping a receiver in the middle of its copy (a torn copy is
//! never returned), and a receiver dying while the writer waits on it. Run with
//! `RUSTFLAGS="--cfg shmring_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release -p shmring --test loom_broadcast`
//! (`ci/loom.sh`). Without the cfg this file is empty.
#![cfg(shmring_loom)]

use loom::thread;
use shmring::broadcast::{self, Policy, RecvError, TryRecvError};

/// Runs a model: three threads at a preemption bound of 1 (`bound`, as the mpmc models of
/// three threads), two at the bound from the environment (`None`: `LOOM_MAX_PREEMPTIONS=2`
/// in CI).
fn check(bound: Option<usize>, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.max_branches = 20_000;
    if bound.is_some() {
        builder.preemption_bound = bound;
    }
    builder.check(f);
}

/// A lossless writer and two blocking receivers over two slots: the writer must wait for
/// both to read before its third message; each receiver gets 1, 2, 3 in order, then
/// `Disconnected` (a lost wake-up on either side is a deadlock loom reports).
#[test]
fn lossless_writer_and_two_receivers() {
    check(Some(1), || {
        let (mut tx, mut a) = broadcast::channel::<u32>(2).unwrap();
        let mut b = tx.subscribe().unwrap();
        let rb = thread::spawn(move || b.iter().collect::<Vec<_>>());
        let w = thread::spawn(move || {
            for v in 1..=3 {
                tx.send(v).unwrap();
            }
        });
        let got_a: Vec<u32> = a.iter().collect();
        assert_eq!(a.recv(), Err(RecvError::Disconnected));
        w.join().unwrap();
        assert_eq!(got_a, [1, 2, 3]);
        assert_eq!(rb.join().unwrap(), [1, 2, 3]);
    });
}

/// A receiver joins a lossless ring at the oldest message held while the writer fills it
/// (two threads: the writer, with a receiver it drains itself, and the joiner): the slots
/// have no stamps (they are loom cells here), so a joiner copying a slot the writer could be
/// rewriting fails the model as a data race. What the joiner gets is in order and without
/// gaps.
#[test]
fn a_receiver_joins_a_lossless_ring_at_the_oldest_while_the_writer_fills_it() {
    check(None, || {
        let (mut tx, mut a) = broadcast::channel::<u32>(2).unwrap();
        let join = tx.joiner();
        let joiner = thread::spawn(move || {
            let mut late = join.join(true).unwrap();
            let mut got = Vec::new();
            for _ in 0..2 {
                match late.try_recv() {
                    Ok(v) => got.push(v),
                    Err(TryRecvError::Empty) => {}
                    Err(TryRecvError::Disconnected) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            got
        });
        for v in 1..=3 {
            tx.send(v).unwrap();
            assert_eq!(a.try_recv(), Ok(v));
        }
        drop(tx);
        let late = joiner.join().unwrap();
        assert!(
            late.windows(2).all(|w| w[1] == w[0] + 1) && late.iter().all(|v| (1..=3).contains(v)),
            "the joiner got {late:?}"
        );
    });
}

/// An overwrite writer laps a receiver over two slots while it copies: every message the
/// receiver returns is whole (both words equal) and in order, and what it received plus
/// what `Lagged` said it missed never exceeds what was sent — exactly what was sent once it
/// drains.
#[test]
fn overwrite_lapping_a_receiver_mid_copy() {
    check(None, || {
        let (mut tx, mut rx) = broadcast::channel_with::<[u64; 2]>(2, Policy::Overwrite).unwrap();
        let w = thread::spawn(move || {
            for v in 1..=3u64 {
                tx.try_send([v, v]).unwrap();
            }
        });
        let (mut next, mut seen) = (1u64, 0u64);
        loop {
            match rx.try_recv() {
                Ok(m) => {
                    assert_eq!(m[0], m[1], "a torn message");
                    assert_eq!(m[0], next);
                    next += 1;
                    seen += 1;
                }
                Err(TryRecvError::Lagged(n)) => {
                    next += n;
                    seen += n;
                }
                Err(TryRecvError::Empty) => loom::thread::yield_now(),
                Err(TryRecvError::Disconnected) => break,
                Err(e) => panic!("{e}"),
            }
        }
        w.join().unwrap();
        assert_eq!(seen, 3, "received + missed = sent");
    });
}

/// A lossless writer waits on a receiver that dies without reading (as a killed process):
/// the writer's scan finds it dead, frees its record and goes on; the live receiver gets
/// everything.
#[test]
fn a_receiver_dies_while_the_writer_waits_on_it() {
    check(Some(1), || {
        let (mut tx, mut a) = broadcast::channel::<u32>(2).unwrap();
        let b = tx.subscribe().unwrap();
        let dying = thread::spawn(move || b.die());
        let w = thread::spawn(move || {
            for v in 1..=3 {
                tx.send(v).unwrap();
            }
        });
        let got: Vec<u32> = a.iter().collect();
        w.join().unwrap();
        dying.join().unwrap();
        assert_eq!(got, [1, 2, 3]);
    });
}
