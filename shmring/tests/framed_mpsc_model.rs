//! The many-producer framed ring against a model: several producers (clones sharing a
//! participant record and separate participants), each with reservations held open across
//! other producers' sends, committed or dropped, random lengths (0 to the maximum) and
//! receives. The model replays the claim order and the space accounting (padding at the
//! wrap, hand-back in batches), so it predicts `Full` and `Empty` exactly: a reservation held
//! open holds back everything claimed after it; a dropped one vanishes.

use std::collections::VecDeque;

use proptest::prelude::*;
use shmring::framed::{TrySendError, mpsc, record};
use shmring::{RecvError, TryRecvError};

const PRODUCERS: usize = 4;

#[derive(Clone, Debug)]
enum Op {
    /// `try_send_tagged` by producer `p`.
    Send {
        p: usize,
        len: usize,
        kind: u32,
        fill: u8,
    },
    /// `try_reserve` by producer `p`, writing `fill` over it; kept open (one per producer).
    Reserve {
        p: usize,
        len: usize,
        fill: u8,
    },
    /// Commit (or drop) producer `p`'s open reservation.
    Finish {
        p: usize,
        commit: bool,
    },
    Recv,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..PRODUCERS, 0..1000usize, 0..5u32, any::<u8>())
            .prop_map(|(p, len, kind, fill)| Op::Send { p, len, kind, fill }),
        2 => (0..PRODUCERS, 0..1000usize, any::<u8>()).prop_map(|(p, len, fill)| Op::Reserve { p, len, fill }),
        2 => (0..PRODUCERS, any::<bool>()).prop_map(|(p, commit)| Op::Finish { p, commit }),
        4 => Just(Op::Recv),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    Committed,
    Dropped,
}

struct Entry {
    /// Padding before the record (the claim wrapped).
    pad: u64,
    span: u64,
    kind: u32,
    bytes: Vec<u8>,
    state: State,
}

struct Model {
    capacity: u64,
    head: u64,
    published: u64,
    tail: u64,
    queue: VecDeque<Entry>,
}

impl Model {
    /// Claims like the ring; the index of the new entry if it fits.
    fn claim(&mut self, len: usize, kind: u32, bytes: Vec<u8>, state: State) -> Option<u64> {
        let span = record::span(len) as u64;
        let to_end = self.capacity - self.tail % self.capacity;
        let pad = if span > to_end { to_end } else { 0 };
        if self.tail - self.published + pad + span > self.capacity {
            return None;
        }
        let id = self.tail;
        self.tail += pad + span;
        self.queue.push_back(Entry {
            pad,
            span,
            kind,
            bytes,
            state,
        });
        Some(id)
    }

    /// The entry claimed at `id` (still queued).
    fn entry(&mut self, id: u64) -> &mut Entry {
        let mut at = self.head;
        for e in self.queue.iter_mut() {
            if at == id {
                return e;
            }
            at += e.pad + e.span;
        }
        panic!("no entry at {id}");
    }

    fn recv(&mut self) -> Option<(u32, Vec<u8>)> {
        while let Some(e) = self.queue.front() {
            match e.state {
                State::Open => break,
                State::Dropped => {
                    self.head += e.pad + e.span;
                    self.queue.pop_front();
                }
                State::Committed => {
                    let e = self.queue.pop_front().unwrap();
                    self.head += e.pad + e.span;
                    if self.head - self.published >= self.capacity / 4 {
                        self.published = self.head;
                    }
                    return Some((e.kind, e.bytes));
                }
            }
        }
        self.published = self.head; // found nothing readable: everything is handed back
        None
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn ring_matches_the_model(cap_log in 6u32..10, ops in proptest::collection::vec(op(), 1..300)) {
        let (tx, mut rx) = mpsc::channel(1 << cap_log).unwrap();
        // Producers 0 and 1 share a participant record (clones), 2 and 3 have their own.
        let senders = [tx.clone(), tx.clone(), tx.attach_sender().unwrap(), tx.attach_sender().unwrap()];
        drop(tx);
        let max = senders[0].max_message();
        let mut model = Model { capacity: 1 << cap_log, head: 0, published: 0, tail: 0, queue: VecDeque::new() };
        let mut open: Vec<Option<(mpsc::Reservation<'_>, u64)>> = (0..PRODUCERS).map(|_| None).collect();
        let mut buf = Vec::new();
        for op in ops {
            match op {
                Op::Send { p, len, kind, fill } => {
                    let len = len % (max + 2);
                    let msg: Vec<u8> = (0..len).map(|i| fill.wrapping_add(i as u8)).collect();
                    let got = senders[p].try_send_tagged(kind, &msg);
                    if len > max {
                        prop_assert_eq!(got, Err(TrySendError::TooLarge { len, max }));
                    } else if model.claim(len, kind, msg, State::Committed).is_some() {
                        prop_assert_eq!(got, Ok(()));
                    } else {
                        prop_assert_eq!(got, Err(TrySendError::Full));
                    }
                }
                Op::Reserve { p, len, fill } => {
                    if open[p].is_some() {
                        continue;
                    }
                    let len = len % (max + 1);
                    match senders[p].try_reserve(len) {
                        Ok(mut r) => {
                            let bytes = vec![fill; len];
                            r.write_at(0, &bytes);
                            r.set_tag(7);
                            let id = model.claim(len, 7, bytes, State::Open);
                            prop_assert!(id.is_some(), "the ring had room the model did not");
                            open[p] = Some((r, id.unwrap()));
                        }
                        Err(e) => {
                            prop_assert_eq!(e, TrySendError::Full);
                            prop_assert!(model.claim(len, 7, Vec::new(), State::Dropped).is_none());
                        }
                    }
                }
                Op::Finish { p, commit } => {
                    if let Some((r, id)) = open[p].take() {
                        if commit {
                            r.commit();
                            model.entry(id).state = State::Committed;
                        } else {
                            drop(r);
                            model.entry(id).state = State::Dropped;
                        }
                    }
                }
                Op::Recv => match rx.try_recv_into(&mut buf) {
                    Ok(kind) => {
                        let (want_kind, want) = model.recv().expect("the model has a message");
                        prop_assert_eq!(kind, want_kind);
                        prop_assert_eq!(&buf, &want);
                    }
                    Err(TryRecvError::Empty) => prop_assert!(model.recv().is_none()),
                    Err(e) => prop_assert!(false, "unexpected {:?}", e),
                },
            }
        }
        // Close: open reservations commit, every producer goes, the receiver drains.
        for (p, slot) in open.iter_mut().enumerate() {
            if let Some((r, id)) = slot.take() {
                if p % 2 == 0 {
                    r.commit();
                    model.entry(id).state = State::Committed;
                } else {
                    drop(r);
                    model.entry(id).state = State::Dropped;
                }
            }
        }
        drop(open);
        drop(senders);
        while let Some((kind, want)) = model.recv() {
            prop_assert_eq!(rx.recv_into(&mut buf), Ok(kind));
            prop_assert_eq!(&buf, &want);
        }
        prop_assert_eq!(rx.recv_into(&mut buf), Err(RecvError::Disconnected));
    }
}

/// Eight threads of one process (more than its record's lanes) and two separate participants
/// send concurrently; every message arrives exactly once, in order per producer.
#[test]
fn threads_and_participants_exactly_once() {
    const PER: u32 = 20_000;
    let (tx, mut rx) = mpsc::channel(1 << 12).unwrap();
    let mut handles = Vec::new();
    for t in 0..10u32 {
        let tx = if t < 8 {
            tx.clone()
        } else {
            tx.attach_sender().unwrap()
        };
        handles.push(std::thread::spawn(move || {
            for i in 0..PER {
                let len = (i as usize * 7 + t as usize) % 100;
                let mut msg = vec![t as u8; len.max(8)];
                msg[..4].copy_from_slice(&t.to_le_bytes());
                msg[4..8].copy_from_slice(&i.to_le_bytes());
                tx.send(&msg).unwrap();
            }
        }));
    }
    drop(tx);
    let mut next = [0u32; 10];
    let mut buf = Vec::new();
    loop {
        match rx.recv_into(&mut buf) {
            Ok(_) => {
                let t = u32::from_le_bytes(buf[..4].try_into().unwrap()) as usize;
                let i = u32::from_le_bytes(buf[4..8].try_into().unwrap());
                assert_eq!(i, next[t], "producer {t} out of order");
                assert_eq!(buf.len(), ((i as usize * 7 + t) % 100).max(8));
                assert!(buf[8..].iter().all(|b| *b == t as u8), "torn message");
                next[t] += 1;
            }
            Err(RecvError::Disconnected) => break,
            Err(e) => panic!("{e:?}"),
        }
    }
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(next, [PER; 10]);
}

/// A process holds at most `LANES_PER_PROCESS` reservations open: `try_reserve` beyond that
/// reports `Full` instead of waiting.
#[test]
fn open_reservations_are_bounded_per_process() {
    let (tx, _rx) = mpsc::channel(4096).unwrap();
    let open: Vec<_> = (0..mpsc::LANES_PER_PROCESS)
        .map(|_| tx.try_reserve(8).unwrap())
        .collect();
    assert_eq!(tx.try_reserve(8).unwrap_err(), TrySendError::Full);
    let other = tx.attach_sender().unwrap();
    other
        .try_send(b"another participant has its own lanes")
        .unwrap();
    drop(open);
    tx.try_reserve(8).unwrap().commit();
}

/// Opening a single-producer framed ring as a many-producer one (and back) is a kind
/// mismatch, not garbage.
#[test]
fn kinds_do_not_mix() {
    let name = format!("shmring-test-mpsc-kinds-{}", std::process::id());
    let _rx = shmring::framed::Receiver::create(name.as_str(), 1024).unwrap();
    let err = mpsc::Sender::open(name.as_str()).unwrap_err();
    assert!(
        matches!(err, shmring::OpenError::KindMismatch { .. }),
        "{err}"
    );
    shmring::Segment::unlink_name(&name).unwrap();
    let _rx = mpsc::Receiver::create(name.as_str(), 1024).unwrap();
    let err = shmring::framed::Sender::open(name.as_str()).unwrap_err();
    assert!(
        matches!(err, shmring::OpenError::KindMismatch { .. }),
        "{err}"
    );
    shmring::Segment::unlink_name(&name).unwrap();
}
