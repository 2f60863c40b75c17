//! The broadcast ring against a model over random operation sequences in one thread: a
//! writer, receivers joining (at the next message or the oldest held) and leaving, under both
//! policies. The model keeps the writer's position and every receiver's cursor and announced
//! cursor (announced once a quarter ring was read, when the ring is found empty, and after a
//! `Lagged`); the ring must agree on every send (`Full` exactly when a lossless ring's slowest
//! receiver, by what it announced, is a ring behind), every receive (the message at the cursor, `Empty`, or `Lagged(n)` with the exact
//! `n`), every backlog (`len`) and the history a late joiner gets.

use shmring_test_support as common;

use proptest::prelude::*;
use shmring::TrySendError;
use shmring::broadcast::{self, Policy, Receiver, TryRecvError};

#[derive(Clone, Debug)]
enum Op {
    /// `try_send` of the next message.
    Send,
    /// `try_recv` by receiver slot `i` (if attached).
    Recv(usize),
    /// Receiver slot `i` joins (if free), at the oldest message held or the next one.
    Join(usize, bool),
    /// Receiver slot `i` leaves (if attached).
    Leave(usize),
}

const SLOTS: usize = 4;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::Send),
        6 => (0..SLOTS).prop_map(Op::Recv),
        1 => (0..SLOTS, any::<bool>()).prop_map(|(i, o)| Op::Join(i, o)),
        1 => (0..SLOTS).prop_map(Op::Leave),
    ]
}

/// Where a receiver joining now starts: the next message, or the oldest the ring holds
/// (the slot of `tail − capacity` may be being overwritten).
fn start(tail: u64, capacity: u64, from_oldest: bool) -> u64 {
    if from_oldest {
        tail.saturating_sub(capacity - 1)
    } else {
        tail
    }
}

fn join(tx: &broadcast::Sender<u64>, from_oldest: bool) -> Receiver<u64> {
    let opts = Receiver::<u64>::options();
    let opts = if from_oldest {
        opts.from_oldest()
    } else {
        opts
    };
    opts.open(tx.segment().name()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn ring_matches_the_model(
        cap_log in 1u32..4,
        overwrite in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..300),
    ) {
        let capacity = 1u64 << cap_log;
        let policy = if overwrite { Policy::Overwrite } else { Policy::Lossless };
        let name = common::unique_name("broadcast-model");
        let mut tx = broadcast::Sender::<u64>::options()
            .policy(policy)
            .create(name.as_str(), capacity)
            .unwrap();
        let _unlink = common::Unlink(name.clone());
        // (receiver, cursor, announced cursor)
        let mut receivers: Vec<Option<(Receiver<u64>, u64, u64)>> =
            (0..SLOTS).map(|_| None).collect();
        let quarter = (capacity / 4).max(1);
        let mut tail = 0u64;
        for op in ops {
            match op {
                Op::Send => {
                    let slowest = receivers.iter().flatten().map(|(_, _, a)| *a).min();
                    let full = !overwrite && slowest.is_some_and(|c| tail - c >= capacity);
                    match tx.try_send(tail) {
                        Ok(()) => { prop_assert!(!full, "sent into a full lossless ring"); tail += 1; }
                        Err(TrySendError::Full(_)) => prop_assert!(full, "Full with room at {tail}"),
                        Err(e) => prop_assert!(false, "send: {e}"),
                    }
                }
                Op::Recv(i) => {
                    let Some((rx, cursor, announced)) = &mut receivers[i] else { continue };
                    prop_assert_eq!(rx.len() as u64, (tail - *cursor).min(capacity));
                    let got = rx.try_recv();
                    if *cursor == tail {
                        prop_assert_eq!(got, Err(TryRecvError::Empty));
                        *announced = *cursor;
                    } else if tail - *cursor > capacity {
                        prop_assert!(overwrite, "a lossless receiver was overtaken");
                        let resume = tail - capacity + 1;
                        prop_assert_eq!(got, Err(TryRecvError::Lagged(resume - *cursor)));
                        *cursor = resume;
                        *announced = resume;
                    } else {
                        prop_assert_eq!(got, Ok(*cursor));
                        *cursor += 1;
                        if *cursor - *announced >= quarter {
                            *announced = *cursor;
                        }
                    }
                    prop_assert_eq!(rx.position(), *cursor);
                }
                Op::Join(i, from_oldest) => {
                    if receivers[i].is_none() {
                        let rx = join(&tx, from_oldest);
                        let cursor = start(tail, capacity, from_oldest);
                        prop_assert_eq!(rx.position(), cursor);
                        receivers[i] = Some((rx, cursor, cursor));
                    }
                }
                Op::Leave(i) => receivers[i] = None,
            }
        }
        // The end: every receiver drains exactly what the model says, then `Disconnected`.
        drop(tx);
        for (mut rx, mut cursor, _) in receivers.into_iter().flatten() {
            loop {
                match rx.try_recv() {
                    Ok(v) => { prop_assert_eq!(v, cursor); cursor += 1; }
                    Err(TryRecvError::Lagged(n)) => cursor += n,
                    Err(TryRecvError::Disconnected) => break,
                    Err(e) => prop_assert!(false, "drain: {e}"),
                }
            }
            prop_assert_eq!(cursor, tail);
        }
    }
}
