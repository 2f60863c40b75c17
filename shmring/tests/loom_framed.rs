//! loom models of the framed ring: a 64-byte data area, small enough that the padding record
//! appears, with a blocking sender and receiver. Run with
//! `RUSTFLAGS="--cfg shmring_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release -p shmring --test loom_framed`
//! (`ci/loom.sh`). Without the cfg this file is empty. (One producer: the many-producer form
//! is not implemented yet.)
#![cfg(shmring_loom)]

use loom::thread;
use shmring::{RecvError, framed};

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
            r.set_type(5);
            r.commit();
        });
        let mut buf = Vec::new();
        assert_eq!(rx.recv_into(&mut buf), Ok(5));
        assert_eq!(buf, [1, 1, 1, 1, 2, 2, 2, 2]);
        assert_eq!(rx.recv_into(&mut buf), Err(RecvError::Disconnected));
        p.join().unwrap();
    });
}
