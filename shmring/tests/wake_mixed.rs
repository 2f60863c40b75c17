//! Every pair of wait strategies on the one-sender-one-receiver rings (spsc and framed): a
//! side that sleeps is woken by its peer's futex wake, whatever strategy the peer uses — a
//! busy-polling sender wakes a sleeping receiver, a busy-polling receiver a sleeping sender.
//! Checked without timing: the sleeper's waiting flag is seen set before the peer acts, and
//! the eventcount it sleeps on moves when the peer notifies (a peer that did not notify would
//! leave it, and the sleeper would wait out its liveness slice).

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

#[test]
fn spsc_every_pair_of_strategies_wakes_a_sleeper() {
    for tx_strategy in STRATEGIES {
        for rx_strategy in STRATEGIES {
            let name = unique_name("wake-mixed-spsc");
            let _u = Unlink(name.clone());
            let mut tx = shmring::spsc::Sender::<u64>::create(name.as_str(), 2)
                .unwrap()
                .with_wait_strategy(tx_strategy);
            let mut rx = shmring::spsc::Receiver::<u64>::open(name.as_str())
                .unwrap()
                .with_wait_strategy(rx_strategy);
            let file = File::open(shm_path(&name)).unwrap();
            let pair = format!("spsc sender {tx_strategy:?}, receiver {rx_strategy:?}");
            if matches!(rx_strategy, WaitStrategy::Blocking { .. }) {
                let case = Case {
                    what: format!("{pair}: data"),
                    waiting: DATA_WAITING_OFFSET,
                    seq: DATA_SEQ_OFFSET,
                };
                check(
                    &file,
                    &case,
                    || assert_eq!(rx.recv(), Ok(7)),
                    || tx.send(7).unwrap(),
                );
            }
            if matches!(tx_strategy, WaitStrategy::Blocking { .. }) {
                tx.send(1).unwrap();
                tx.send(2).unwrap();
                let case = Case {
                    what: format!("{pair}: space"),
                    waiting: SPACE_WAITING_OFFSET,
                    seq: SPACE_SEQ_OFFSET,
                };
                check(
                    &file,
                    &case,
                    || tx.send(3).unwrap(),
                    || assert_eq!(rx.recv(), Ok(1)),
                );
            }
        }
    }
}

#[test]
fn framed_every_pair_of_strategies_wakes_a_sleeper() {
    for tx_strategy in STRATEGIES {
        for rx_strategy in STRATEGIES {
            let name = unique_name("wake-mixed-framed");
            let _u = Unlink(name.clone());
            let mut tx = shmring::framed::Sender::create(name.as_str(), 64)
                .unwrap()
                .with_wait_strategy(tx_strategy);
            let mut rx = shmring::framed::Receiver::open(name.as_str())
                .unwrap()
                .with_wait_strategy(rx_strategy);
            let file = File::open(shm_path(&name)).unwrap();
            let pair = format!("framed sender {tx_strategy:?}, receiver {rx_strategy:?}");
            if matches!(rx_strategy, WaitStrategy::Blocking { .. }) {
                let case = Case {
                    what: format!("{pair}: data"),
                    waiting: DATA_WAITING_OFFSET,
                    seq: DATA_SEQ_OFFSET,
                };
                check(
                    &file,
                    &case,
                    || assert_eq!(rx.recv().unwrap(), b"ping"),
                    || tx.send(b"ping").unwrap(),
                );
            }
            if matches!(tx_strategy, WaitStrategy::Blocking { .. }) {
                // Fill the ring: the next send waits for the receiver.
                while tx.try_send(&[1; 8]).is_ok() {}
                let case = Case {
                    what: format!("{pair}: space"),
                    waiting: SPACE_WAITING_OFFSET,
                    seq: SPACE_SEQ_OFFSET,
                };
                check(
                    &file,
                    &case,
                    || tx.send(&[2; 8]).unwrap(),
                    || {
                        while rx.try_recv().is_ok() {}
                    },
                );
            }
        }
    }
}
