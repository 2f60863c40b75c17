//! Events against a model over random operation sequences in one thread: notifiers notify,
//! listeners join, leave and take; the model keeps each listener's set of pending ids (what
//! was notified since it joined or last took), and every `try_wait` must return exactly that
//! set, ascending.

use std::collections::BTreeSet;

use proptest::prelude::*;
use shmring::event::{self, Listener, TryWaitError};

#[derive(Clone, Debug)]
enum Op {
    /// Notifier `n % 2` notifies `id`.
    Notify(usize, u32),
    /// Listener slot `i` takes its ids (if attached).
    Take(usize),
    /// Listener slot `i` joins (if free).
    Join(usize),
    /// Listener slot `i` leaves (if attached).
    Leave(usize),
}

const SLOTS: usize = 4;

fn op(max_ids: u32) -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..2usize, 0..max_ids + 2).prop_map(|(n, id)| Op::Notify(n, id)),
        4 => (0..SLOTS).prop_map(Op::Take),
        1 => (0..SLOTS).prop_map(Op::Join),
        1 => (0..SLOTS).prop_map(Op::Leave),
    ]
}

fn case() -> impl Strategy<Value = (u32, Vec<Op>)> {
    prop_oneof![
        Just(1u32),
        Just(63),
        Just(64),
        Just(65),
        Just(200),
        Just(4097)
    ]
    .prop_flat_map(|max| (Just(max), proptest::collection::vec(op(max), 1..200)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn listeners_take_exactly_what_was_notified_since((max_ids, ops) in case()) {
        let (first, l0) = event::channel(max_ids).unwrap();
        let notifiers = [first.clone(), first];
        let mut listeners: Vec<Option<Listener>> = (0..SLOTS).map(|_| None).collect();
        let mut model: Vec<Option<BTreeSet<u32>>> = vec![None; SLOTS];
        listeners[0] = Some(l0);
        model[0] = Some(BTreeSet::new());
        for op in ops {
            match op {
                Op::Notify(n, id) => {
                    let r = notifiers[n].notify(id);
                    if id < max_ids {
                        prop_assert!(r.is_ok(), "{r:?}");
                        for set in model.iter_mut().flatten() {
                            set.insert(id);
                        }
                    } else {
                        let out_of_range = matches!(r, Err(event::NotifyError::OutOfRange { .. }));
                        prop_assert!(out_of_range, "{r:?}");
                    }
                }
                Op::Take(i) => {
                    if let (Some(l), Some(set)) = (&mut listeners[i], &mut model[i]) {
                        let want: Vec<u32> = std::mem::take(set).into_iter().collect();
                        match l.try_wait() {
                            Ok(got) => prop_assert_eq!(got.as_slice(), &want[..]),
                            Err(TryWaitError::Empty) => prop_assert!(want.is_empty()),
                            Err(e) => prop_assert!(false, "{e}"),
                        }
                    }
                }
                Op::Join(i) => {
                    if listeners[i].is_none() {
                        listeners[i] = Some(notifiers[0].subscribe().unwrap());
                        model[i] = Some(BTreeSet::new());
                    }
                }
                Op::Leave(i) => {
                    listeners[i] = None;
                    model[i] = None;
                }
            }
            let attached = listeners.iter().flatten().count();
            prop_assert_eq!(notifiers[1].listeners(), attached);
        }
    }
}
