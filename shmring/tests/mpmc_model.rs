//! The MPMC ring against a model over random operation sequences: several producers and
//! consumers (separate participants and clones) interleaved in one thread, where the ring
//! must behave exactly as a FIFO queue of its capacity; then disconnection.

use std::collections::VecDeque;

use proptest::prelude::*;
use shmring::{RecvError, TryRecvError, TrySendError, mpmc};

#[derive(Clone, Debug)]
enum Op {
    /// `try_send` from producer handle `p`.
    Send(usize),
    /// `try_recv` from consumer handle `c`.
    Recv(usize),
    /// `len` seen from producer `p`.
    Len(usize),
}

const PRODUCERS: usize = 3;
const CONSUMERS: usize = 3;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..PRODUCERS).prop_map(Op::Send),
        4 => (0..CONSUMERS).prop_map(Op::Recv),
        1 => (0..PRODUCERS).prop_map(Op::Len),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn ring_matches_a_fifo(cap_log in 1u32..5, ops in proptest::collection::vec(op(), 1..300)) {
        let capacity = 1usize << cap_log;
        let (tx, rx) = mpmc::channel::<u64>(capacity as u64).unwrap();
        // Producer 1 is a clone (same participant), producer 2 a separate participant; the
        // same for consumers.
        let producers = [tx.clone(), tx.clone(), tx.attach_sender().unwrap()];
        let consumers = [rx.clone(), rx.attach_receiver().unwrap(), rx.attach_receiver().unwrap()];
        drop((tx, rx));
        let mut model = VecDeque::new();
        let mut seq = [0u64; PRODUCERS];
        for op in ops {
            match op {
                Op::Send(p) => {
                    let v = (p as u64) << 32 | seq[p];
                    match producers[p].try_send(v) {
                        Ok(()) => {
                            prop_assert!(model.len() < capacity);
                            model.push_back(v);
                            seq[p] += 1;
                        }
                        Err(TrySendError::Full(back)) => {
                            prop_assert_eq!(model.len(), capacity);
                            prop_assert_eq!(back, v);
                        }
                        Err(e) => prop_assert!(false, "unexpected {:?}", e),
                    }
                }
                Op::Recv(c) => match consumers[c].try_recv() {
                    Ok(v) => prop_assert_eq!(Some(v), model.pop_front()),
                    Err(TryRecvError::Empty) => prop_assert!(model.is_empty()),
                    Err(e) => prop_assert!(false, "unexpected {:?}", e),
                },
                Op::Len(p) => {
                    prop_assert_eq!(producers[p].len(), model.len());
                    prop_assert_eq!(producers[p].is_full(), model.len() == capacity);
                }
            }
        }
        // All producers leave: the consumers drain what is left, in order, then see
        // Disconnected; a sender of a ring whose receivers are gone sees Disconnected too.
        drop(producers);
        for (i, v) in model.iter().enumerate() {
            prop_assert_eq!(consumers[i % CONSUMERS].recv(), Ok(*v));
        }
        for c in &consumers {
            prop_assert_eq!(c.recv(), Err(RecvError::Disconnected));
        }
        let late = consumers[0].attach_sender().unwrap();
        prop_assert!(!late.is_disconnected());
        drop(consumers);
        prop_assert!(late.is_disconnected());
        prop_assert!(matches!(late.try_send(1), Err(TrySendError::Disconnected(1))));
    }
}

/// Every record taken by a live participant: the next attach is refused with a clear error,
/// and a freed record can be taken again.
#[test]
fn a_full_participant_table_is_a_clear_error() {
    let (tx, rx) = mpmc::channel::<u8>(2).unwrap();
    let mut held = vec![];
    loop {
        match tx.attach_sender() {
            Ok(s) => held.push(s),
            Err(e) => {
                assert!(
                    matches!(e, shmring::OpenError::ParticipantsFull { max: 64, .. }),
                    "{e:?}"
                );
                assert!(
                    e.to_string().contains("at most 64 attached processes"),
                    "{e}"
                );
                break;
            }
        }
    }
    assert_eq!(held.len(), 62, "two records are tx and rx");
    held.pop();
    let again = rx.attach_receiver().unwrap();
    again.attach_sender().unwrap_err();
    tx.send(5).unwrap();
    assert_eq!(again.recv(), Ok(5));
}

/// Handles are Sync: many threads send through one shared `&Sender` and receive through one
/// shared `&Receiver` (more threads than lanes), and every message arrives exactly once.
#[test]
fn threads_share_one_handle() {
    let (tx, rx) = mpmc::channel::<u64>(64).unwrap();
    const THREADS: u64 = 12;
    const EACH: u64 = 20_000;
    let mut got = std::thread::scope(|s| {
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let rx = &rx;
                s.spawn(move || {
                    let mut mine = Vec::new();
                    while mine.len() < (THREADS * EACH / 2) as usize {
                        mine.push(rx.recv_timeout(std::time::Duration::from_secs(60)).unwrap());
                    }
                    mine
                })
            })
            .collect();
        for t in 0..THREADS {
            let tx = &tx;
            s.spawn(move || {
                for i in 0..EACH {
                    tx.send(t << 32 | i).unwrap();
                }
            });
        }
        consumers
            .into_iter()
            .flat_map(|c| {
                let mine = c.join().unwrap();
                // Per producer, each consumer sees increasing sequence numbers.
                for t in 0..THREADS {
                    let seqs: Vec<_> = mine.iter().filter(|v| *v >> 32 == t).collect();
                    assert!(seqs.is_sorted(), "producer {t} reordered");
                }
                mine
            })
            .collect::<Vec<_>>()
    });
    got.sort_unstable();
    let want: Vec<u64> = (0..THREADS)
        .flat_map(|t| (0..EACH).map(move |i| t << 32 | i))
        .collect();
    assert_eq!(got, want);
}
