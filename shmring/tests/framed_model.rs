//! The framed ring against a model over random operation sequences: random message lengths
//! (0 to the maximum), types, reservations committed, partly written or abandoned, and
//! receives; the model replays the ring's space accounting (records, alignment, padding at
//! the wrap) so it predicts `Full` exactly.

use std::collections::VecDeque;

use proptest::prelude::*;
use shmring::framed::{self, TrySendError, record};
use shmring::{RecvError, TryRecvError};

#[derive(Clone, Debug)]
enum Op {
    /// `try_send_tagged` of a message of `len` (scaled to the maximum) bytes.
    Send {
        len: usize,
        kind: u32,
        fill: u8,
    },
    /// `try_reserve`, write `written` bytes, then commit or drop.
    Reserve {
        len: usize,
        written: usize,
        commit: bool,
        fill: u8,
    },
    Recv,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..1000usize, 0..5u32, any::<u8>()).prop_map(|(len, kind, fill)| Op::Send { len, kind, fill }),
        2 => (0..1000usize, 0..1000usize, any::<bool>(), any::<u8>())
            .prop_map(|(len, written, commit, fill)| Op::Reserve { len, written, commit, fill }),
        4 => Just(Op::Recv),
    ]
}

enum Entry {
    Padding(u64),
    /// `bytes`: the first bytes of a message of `len` (the rest was never written).
    Message {
        span: u64,
        kind: u32,
        len: usize,
        bytes: Vec<u8>,
    },
}

struct Model {
    capacity: u64,
    head: u64,
    /// The head as handed back to the sender (every quarter ring, or when found empty).
    published: u64,
    tail: u64,
    queue: VecDeque<Entry>,
}

impl Model {
    /// Claims room like the ring: `Some` if it fits (pushing the padding entry if it wraps).
    fn claim(&mut self, len: usize) -> bool {
        let span = record::span(len) as u64;
        let to_end = self.capacity - self.tail % self.capacity;
        let needed = if span > to_end { to_end + span } else { span };
        if self.capacity - (self.tail - self.published) < needed {
            return false;
        }
        if span > to_end {
            self.queue.push_back(Entry::Padding(to_end));
            self.tail += to_end;
        }
        true
    }

    fn commit(&mut self, kind: u32, len: usize, bytes: Vec<u8>) {
        let span = record::span(len) as u64;
        self.tail += span;
        self.queue.push_back(Entry::Message {
            span,
            kind,
            len,
            bytes,
        });
    }

    fn recv(&mut self) -> Option<(u32, usize, Vec<u8>)> {
        while let Some(entry) = self.queue.pop_front() {
            match entry {
                // Padding is skipped; the batch is checked after the message behind it.
                Entry::Padding(span) => self.head += span,
                Entry::Message {
                    span,
                    kind,
                    len,
                    bytes,
                } => {
                    self.release(span);
                    return Some((kind, len, bytes));
                }
            }
        }
        self.published = self.head; // found empty: everything is handed back
        None
    }

    /// Moves past a consumed record; hands space back every quarter ring, like the receiver.
    fn release(&mut self, span: u64) {
        self.head += span;
        if self.head - self.published >= self.capacity / 4 {
            self.published = self.head;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn ring_matches_the_model(cap_log in 6u32..10, ops in proptest::collection::vec(op(), 1..300)) {
        let (mut tx, mut rx) = framed::channel(1 << cap_log).unwrap();
        let max = tx.max_message();
        let mut model = Model { capacity: 1 << cap_log, head: 0, published: 0, tail: 0, queue: VecDeque::new() };
        let mut buf = Vec::new();
        for op in ops {
            match op {
                Op::Send { len, kind, fill } => {
                    let len = len % (max + 2); // now and then one byte too many
                    let msg: Vec<u8> = (0..len).map(|i| fill.wrapping_add(i as u8)).collect();
                    let got = tx.try_send_tagged(kind, &msg);
                    if len > max {
                        prop_assert_eq!(got, Err(TrySendError::TooLarge { len, max }));
                    } else if model.claim(len) {
                        prop_assert_eq!(got, Ok(()));
                        model.commit(kind, len, msg);
                    } else {
                        prop_assert_eq!(got, Err(TrySendError::Full));
                    }
                }
                Op::Reserve { len, written, commit, fill } => {
                    let len = len % (max + 1);
                    let written = written % (len + 1);
                    match tx.try_reserve(len) {
                        Ok(mut r) => {
                            prop_assert!(model.claim(len));
                            let bytes = vec![fill; written];
                            r.write_at(0, &bytes);
                            if commit {
                                r.set_tag(9);
                                r.commit();
                                model.commit(9, len, bytes);
                            }
                        }
                        Err(e) => {
                            prop_assert_eq!(e, TrySendError::Full);
                            prop_assert!(!model.claim(len));
                        }
                    }
                }
                Op::Recv => match rx.try_recv_into(&mut buf) {
                    Ok(kind) => {
                        let (want_kind, len, want) = model.recv().expect("the model has a message");
                        prop_assert_eq!(kind, want_kind);
                        prop_assert_eq!(buf.len(), len);
                        // Bytes of a reservation that were never written are unspecified.
                        prop_assert_eq!(&buf[..want.len()], &want[..]);
                    }
                    Err(TryRecvError::Empty) => prop_assert!(model.recv().is_none()),
                    Err(e) => prop_assert!(false, "unexpected {:?}", e),
                },
            }
        }
        drop(tx);
        while let Some((kind, len, want)) = model.recv() {
            prop_assert_eq!(rx.recv_into(&mut buf), Ok(kind));
            prop_assert_eq!(buf.len(), len);
            prop_assert_eq!(&buf[..want.len()], &want[..]);
        }
        prop_assert_eq!(rx.recv_into(&mut buf), Err(RecvError::Disconnected));
    }
}

/// `recv_into` reuses the caller's buffer: no allocation once it is large enough.
#[test]
fn recv_into_reuses_the_buffer() {
    let (mut tx, mut rx) = framed::channel(4096).unwrap();
    let mut buf = Vec::with_capacity(2048);
    let ptr = buf.as_ptr();
    for len in [0, 1, 100, 2000, 7] {
        tx.send(&vec![len as u8; len]).unwrap();
        rx.recv_into(&mut buf).unwrap();
        assert_eq!(buf, vec![len as u8; len]);
        assert_eq!(buf.as_ptr(), ptr, "reallocated for a {len}-byte message");
    }
}
