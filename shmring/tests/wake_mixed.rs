//! Every pair of wait strategies on the one-sender-one-receiver rings (spsc and framed): a
//! side that sleeps is woken by its peer's futex wake, whatever strategy the peer uses — a
//! busy-polling sender wakes a sleeping receiver, a busy-polling receiver a sleeping sender.
//! Checked without timing: the sleeper's waiting flag is seen set before the peer acts, and
//! the eventcount it sleeps on moves when the peer notifies (a peer that did not notify would
//! leave it, and the sleeper would wait out its liveness slice). Each pair runs on a ring
//! made with the default wake-up protocol and on one made with `fence_every_send` (notifiers
//! fence, sleepers skip the membarrier).

use shmring_test_support as common;

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use common::{Unlink, shm_path, unique_name};
use shmring::WaitStrategy;
use shmring::header::HEADER_SIZE;
use shmring::spsc::layout::{
    DATA_SEQ_OFFSET, DATA_WAITING_OFFSET, SPACE_SEQ_OFFSET, SPACE_WAITING_OFFSET,
};

const STRATEGIES: [WaitStrategy; 2] = [
    WaitStrategy::BusyPoll,
    WaitStrategy::Blocking {
        spin: 64,
        yields: 1,
    },
];

/// A `u32` of the area of the segment file.
fn word(file: &File, offset: usize) -> u32 {
    let mut bytes = [0u8; 4];
    file.read_exact_at(&mut bytes, (HEADER_SIZE + offset) as u64)
        .unwrap();
    u32::from_ne_bytes(bytes)
}

/// Waits (watchdog: 10 s) until the flag at `offset` says a side sleeps.
fn until_asleep(file: &File, offset: usize, what: &str) {
    let give_up = Instant::now() + Duration::from_secs(10);
    while word(file, offset) == 0 {
        assert!(Instant::now() < give_up, "{what}: never went to sleep");
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// One direction of one ring: which side sleeps, where its waiting flag and its eventcount
/// are.
struct Case {
    what: String,
    waiting: usize,
    seq: usize,
}

/// Runs `sleeper` on a thread; once it sleeps (flag at `case.waiting`), runs `peer`; the
/// sleeper must return and the eventcount at `case.seq` must have moved.
fn check(file: &File, case: &Case, sleeper: impl FnOnce() + Send, peer: impl FnOnce()) {
    let before = std::thread::scope(|s| {
        let t = s.spawn(sleeper);
        until_asleep(file, case.waiting, &case.what);
        let before = word(file, case.seq);
        peer();
        t.join().unwrap();
        before
    });
    assert_ne!(
        word(file, case.seq),
        before,
        "{}: the peer did not wake the sleeper",
        case.what
    );
}

/// `options`, with `fence_every_send` when `fenced`.
fn fence_if<H>(options: shmring::RingOptions<H>, fenced: bool) -> shmring::RingOptions<H> {
    if fenced {
        options.fence_every_send()
    } else {
        options
    }
}

/// What the check does with one ring kind: make a sender and a receiver with the given
/// strategies, send one message (blocking), receive one (blocking), fill the ring without
/// waiting, drain it without waiting.
struct Ring<Tx, Rx> {
    kind: &'static str,
    make: fn(&str, WaitStrategy, WaitStrategy, bool) -> (Tx, Rx),
    send: fn(&mut Tx),
    recv: fn(&mut Rx),
    fill: fn(&mut Tx),
    drain: fn(&mut Rx),
}

/// Every pair of strategies on `ring`: a blocking receiver asleep on an empty ring is woken
/// by the send; a blocking sender asleep on a full ring by the receiver draining it.
fn every_pair<Tx: Send, Rx: Send>(ring: Ring<Tx, Rx>) {
    for (tx_strategy, rx_strategy, fenced) in STRATEGIES.into_iter().flat_map(|t| {
        STRATEGIES
            .into_iter()
            .flat_map(move |r| [(t, r, false), (t, r, true)])
    }) {
        let name = unique_name(&format!("wake-mixed-{}", ring.kind));
        let _u = Unlink(name.clone());
        let (mut tx, mut rx) = (ring.make)(&name, tx_strategy, rx_strategy, fenced);
        let file = File::open(shm_path(&name)).unwrap();
        let pair = format!(
            "{} sender {tx_strategy:?}, receiver {rx_strategy:?}, fence every send {fenced}",
            ring.kind
        );
        if matches!(rx_strategy, WaitStrategy::Blocking { .. }) {
            let case = Case {
                what: format!("{pair}: data"),
                waiting: DATA_WAITING_OFFSET,
                seq: DATA_SEQ_OFFSET,
            };
            check(
                &file,
                &case,
                || (ring.recv)(&mut rx),
                || (ring.send)(&mut tx),
            );
        }
        if matches!(tx_strategy, WaitStrategy::Blocking { .. }) {
            (ring.fill)(&mut tx);
            let case = Case {
                what: format!("{pair}: space"),
                waiting: SPACE_WAITING_OFFSET,
                seq: SPACE_SEQ_OFFSET,
            };
            check(
                &file,
                &case,
                || (ring.send)(&mut tx),
                || (ring.drain)(&mut rx),
            );
        }
    }
}

#[test]
fn spsc_every_pair_of_strategies_wakes_a_sleeper() {
    use shmring::spsc::{Receiver, Sender};
    every_pair(Ring {
        kind: "spsc",
        make: |name, t, r, fenced| {
            let tx = fence_if(Sender::<u64>::options(), fenced)
                .create(name, 2)
                .unwrap();
            let rx = Receiver::<u64>::open(name).unwrap();
            (tx.with_wait_strategy(t), rx.with_wait_strategy(r))
        },
        send: |tx| tx.send(7).unwrap(),
        recv: |rx| assert_eq!(rx.recv(), Ok(7)),
        fill: |tx| while tx.try_send(1).is_ok() {},
        drain: |rx| while rx.try_recv().is_ok() {},
    });
}

#[test]
fn framed_every_pair_of_strategies_wakes_a_sleeper() {
    use shmring::framed::{Receiver, Sender};
    every_pair(Ring {
        kind: "framed",
        make: |name, t, r, fenced| {
            let tx = fence_if(Sender::options(), fenced)
                .create(name, 64)
                .unwrap();
            let rx = Receiver::open(name).unwrap();
            (tx.with_wait_strategy(t), rx.with_wait_strategy(r))
        },
        send: |tx| tx.send(b"ping").unwrap(),
        recv: |rx| assert_eq!(rx.recv().unwrap(), b"ping"),
        fill: |tx| while tx.try_send(&[1; 8]).is_ok() {},
        drain: |rx| while rx.try_recv().is_ok() {},
    });
}
