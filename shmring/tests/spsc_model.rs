//! The SPSC ring against a `VecDeque` model over random operation sequences, chunks included.

use std::collections::VecDeque;

use proptest::prelude::*;
use shmring::{ChunkError, TryRecvError, TrySendError, spsc};

#[derive(Clone, Debug)]
enum Op {
    Send(u32),
    Recv,
    /// Reserve `n` slots, write `write` of them, then commit (or drop if `!commit`).
    WriteChunk {
        n: usize,
        write: usize,
        commit: bool,
    },
    /// Take `n` messages, read `read` of them, then commit (or drop if `!commit`).
    ReadChunk {
        n: usize,
        read: usize,
        commit: bool,
    },
    /// Take `n` messages and iterate over `read` of them: dropping the iterator releases
    /// exactly those.
    ReadIter {
        n: usize,
        read: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => any::<u32>().prop_map(Op::Send),
        4 => Just(Op::Recv),
        1 => (0..10usize, 0..10usize, any::<bool>()).prop_map(|(n, write, commit)| Op::WriteChunk { n, write, commit }),
        1 => (0..10usize, 0..10usize, any::<bool>()).prop_map(|(n, read, commit)| Op::ReadChunk { n, read, commit }),
        1 => (0..10usize, 0..10usize).prop_map(|(n, read)| Op::ReadIter { n, read }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn ring_matches_a_deque(cap_log in 0u32..4, ops in proptest::collection::vec(op(), 1..200)) {
        let capacity = 1usize << cap_log;
        let (mut tx, mut rx) = spsc::channel::<u32>(capacity as u64).unwrap();
        let mut model = VecDeque::new();
        let mut next = 0u32;
        for op in ops {
            match op {
                Op::Send(v) => match tx.try_send(v) {
                    Ok(()) => { prop_assert!(model.len() < capacity); model.push_back(v); }
                    Err(TrySendError::Full(back)) => { prop_assert_eq!(model.len(), capacity); prop_assert_eq!(back, v); }
                    Err(e) => prop_assert!(false, "unexpected {:?}", e),
                },
                Op::Recv => match rx.try_recv() {
                    Ok(v) => prop_assert_eq!(Some(v), model.pop_front()),
                    Err(TryRecvError::Empty) => prop_assert!(model.is_empty()),
                    Err(e) => prop_assert!(false, "unexpected {:?}", e),
                },
                Op::WriteChunk { n, write, commit } => match tx.write_chunk(n) {
                    Ok(mut chunk) => {
                        prop_assert!(model.len() + n <= capacity);
                        let mut staged = Vec::new();
                        for _ in 0..write {
                            next += 1;
                            if chunk.push(next).is_ok() { staged.push(next); }
                        }
                        prop_assert_eq!(staged.len(), write.min(n));
                        if commit {
                            prop_assert_eq!(chunk.commit(), staged.len());
                            model.extend(staged);
                        }
                    }
                    Err(ChunkError::TooFewSlots(free)) => {
                        prop_assert_eq!(free, capacity - model.len());
                        prop_assert!(free < n);
                    }
                    Err(e) => prop_assert!(false, "unexpected {:?}", e),
                },
                Op::ReadChunk { n, read, commit } => match rx.read_chunk(n) {
                    Ok(mut chunk) => {
                        prop_assert!(n <= model.len());
                        let got: Vec<u32> = (0..read).map_while(|_| chunk.pop()).collect();
                        let expected: Vec<u32> = model.iter().take(read.min(n)).copied().collect();
                        prop_assert_eq!(&got, &expected);
                        if commit {
                            prop_assert_eq!(chunk.commit(), got.len());
                            model.drain(..got.len());
                        }
                    }
                    Err(ChunkError::TooFewSlots(available)) => {
                        prop_assert_eq!(available, model.len());
                        prop_assert!(available < n);
                    }
                    Err(e) => prop_assert!(false, "unexpected {:?}", e),
                },
                Op::ReadIter { n, read } => match rx.read_chunk(n) {
                    Ok(chunk) => {
                        prop_assert!(n <= model.len());
                        let got: Vec<u32> = chunk.into_iter().take(read).collect();
                        let expected: Vec<u32> = model.drain(..read.min(n)).collect();
                        prop_assert_eq!(got, expected);
                    }
                    Err(ChunkError::TooFewSlots(available)) => {
                        prop_assert_eq!(available, model.len());
                        prop_assert!(available < n);
                    }
                    Err(e) => prop_assert!(false, "unexpected {:?}", e),
                },
            }
            prop_assert_eq!(tx.len(), model.len());
            prop_assert_eq!(rx.len(), model.len());
            prop_assert_eq!(rx.is_empty(), model.is_empty());
            prop_assert_eq!(tx.is_full(), model.len() == capacity);
        }
        // Whatever is left drains in order, then the closed sender shows.
        drop(tx);
        let rest: Vec<u32> = rx.iter().collect();
        prop_assert_eq!(rest, model.into_iter().collect::<Vec<_>>());
        prop_assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    }
}

#[test]
fn chunk_larger_than_capacity_never_fits() {
    let (mut tx, mut rx) = spsc::channel::<u8>(4).unwrap();
    assert_eq!(tx.write_chunk(5).unwrap_err(), ChunkError::TooFewSlots(4));
    assert_eq!(rx.read_chunk(1).unwrap_err(), ChunkError::TooFewSlots(0));
}

#[test]
fn sender_sees_a_closed_receiver() {
    let (mut tx, rx) = spsc::channel::<u8>(4).unwrap();
    drop(rx);
    assert!(tx.try_send(1).unwrap_err().is_disconnected());
    assert_eq!(tx.send(2).unwrap_err().into_inner(), 2);
    assert_eq!(tx.write_chunk(1).unwrap_err(), ChunkError::Disconnected);
}

#[test]
fn a_second_sender_in_the_same_process_is_refused() {
    let name = format!("shmring-test-spsc-role-{}", std::process::id());
    let _tx = spsc::Sender::<u8>::create(name.as_str(), 4).unwrap();
    let err = spsc::Sender::<u8>::open(name.as_str()).unwrap_err();
    assert!(
        matches!(err, shmring::OpenError::RoleTaken { role: "sender", .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("already has a live sender"),
        "{err}"
    );
    let _rx = spsc::Receiver::<u8>::open(name.as_str()).unwrap();
    let err = spsc::Receiver::<u8>::open(name.as_str()).unwrap_err();
    assert!(
        matches!(
            err,
            shmring::OpenError::RoleTaken {
                role: "receiver",
                ..
            }
        ),
        "{err:?}"
    );
    shmring::Segment::unlink_name(&name).unwrap();
}

#[test]
fn reopening_after_a_clean_close_keeps_the_data() {
    let name = format!("shmring-test-spsc-reopen-{}", std::process::id());
    let mut tx = spsc::Sender::<u64>::create(name.as_str(), 8).unwrap();
    for i in 0..5 {
        tx.send(i).unwrap();
    }
    drop(tx);
    let mut rx = spsc::Receiver::<u64>::open(name.as_str()).unwrap();
    assert_eq!(rx.recv(), Ok(0));
    drop(rx);
    // The receiver is closed: a sender that opens now is told so.
    let mut tx = spsc::Sender::<u64>::open(name.as_str()).unwrap();
    assert!(tx.try_send(5).unwrap_err().is_disconnected());
    let mut rx = spsc::Receiver::<u64>::open(name.as_str()).unwrap();
    tx.send(5).unwrap();
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
    shmring::Segment::unlink_name(&name).unwrap();
}
