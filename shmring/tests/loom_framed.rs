//! loom models of the framed ring: a 64-byte data area, small enough that the padding record
//! appears, with a blocking sender and receiver. Run with
//! `RUSTFLAGS="--cfg shmring_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release -p shmring --test loom_framed`
//! (`ci/loom.sh`). Without the cfg this file is empty. The many-producer ring is modelled
//! with two producers, live and dying.
#![cfg(shmring_loom)]

use loom::thread;
use shmring::framed::mpsc;
use shmring::{RecvError, framed};

/// Runs a model of three threads with a preemption bound of 1 (as the mpmc models: at 2 the
/// three-thread models do not finish within the CI budget).
fn model3(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.max_branches = 20_000;
    builder.preemption_bound = Some(1);
    builder.check(f);
}

/// Three 16-byte messages through a 64-byte area (records of 24 bytes): the third does not fit
/// before the end, so a 16-byte padding record precedes it at offset 0, and the sender waits
/// for room. Every message arrives whole and in order, then `Disconnected`; loom checks the
/// payload accesses against the header commits and that no wake-up is lost.
#[test]
fn padding_at_the_wrap_with_waiting() {
    loom::model(|| {
        let (mut tx, mut rx) = framed::channel(64).unwrap();
        let p = thread::spawn(move || {
            for i in 0..3u8 {
                tx.send(&[i; 16]).unwrap();
            }
        });
        let mut buf = Vec::new();
        for i in 0..3u8 {
            assert_eq!(rx.recv_into(&mut buf), Ok(0));
            assert_eq!(buf, [i; 16]);
        }
        assert_eq!(rx.recv_into(&mut buf), Err(RecvError::Disconnected));
        p.join().unwrap();
    });
}

/// A reservation written in two pieces and committed, next to one dropped without commit:
/// the receiver sees exactly the committed message, with its type.
#[test]
fn reservations_commit_or_vanish() {
    loom::model(|| {
        let (mut tx, mut rx) = framed::channel(64).unwrap();
        let p = thread::spawn(move || {
            let mut dropped = tx.reserve(8).unwrap();
            dropped.write_at(0, &[9; 8]);
            drop(dropped);
            let mut r = tx.reserve(8).unwrap();
            r.write_at(0, &[1; 4]);
            r.write_at(4, &[2; 4]);
            r.set_tag(5);
            r.commit();
        });
        let mut buf = Vec::new();
        assert_eq!(rx.recv_into(&mut buf), Ok(5));
        assert_eq!(buf, [1, 1, 1, 1, 2, 2, 2, 2]);
        assert_eq!(rx.recv_into(&mut buf), Err(RecvError::Disconnected));
        p.join().unwrap();
    });
}

/// Two producers (separate participants) into a 64-byte area, all blocking: 16-byte messages
/// (24-byte records), so claims wrap with padding and producers wait for room. Every message
/// arrives once, whole, in order per producer; then `Disconnected`.
#[test]
fn two_producers_with_padding() {
    model3(|| {
        let (tx, mut rx) = mpsc::channel(64).unwrap();
        let tx2 = tx.attach_sender().unwrap();
        let a = thread::spawn(move || {
            for i in 0..2u8 {
                tx.send(&[i; 16]).unwrap();
            }
        });
        let b = thread::spawn(move || tx2.send(&[9; 16]).unwrap());
        let mut buf = Vec::new();
        let mut from_a = Vec::new();
        for _ in 0..3 {
            assert_eq!(rx.recv_into(&mut buf), Ok(0));
            assert_eq!(buf.len(), 16);
            assert!(buf.iter().all(|b| *b == buf[0]), "torn message");
            if buf[0] != 9 {
                from_a.push(buf[0]);
            }
        }
        assert_eq!(from_a, [0, 1], "per-producer order");
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(rx.recv_into(&mut buf), Err(RecvError::Disconnected));
    });
}

/// A producer dies holding a claim (marked in progress, or killed between its CAS and the
/// mark) while another producer sends: the receiver gets the live producer's message, turns
/// the dead claim into padding and ends with `Disconnected` — never stuck behind the claim.
#[test]
fn producer_dies_holding_a_claim() {
    for marked in [true, false] {
        eprintln!("marked: {marked}");
        model3(move || {
            let (tx, mut rx) = mpsc::channel(64).unwrap();
            let tx2 = tx.attach_sender().unwrap();
            let dying = thread::spawn(move || {
                tx.die_after_claim(16, marked);
            });
            let live = thread::spawn(move || tx2.send(&[7; 8]).unwrap());
            let mut buf = Vec::new();
            assert_eq!(rx.recv_into(&mut buf), Ok(0));
            assert_eq!(buf, [7; 8]);
            assert_eq!(rx.recv_into(&mut buf), Err(RecvError::Disconnected));
            dying.join().unwrap();
            live.join().unwrap();
        });
    }
}
