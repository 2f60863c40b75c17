//! The broadcast ring within one process: every receiver sees every message (lossless),
//! `Lagged` counts that add up exactly (overwrite), no torn message ever returned, history
//! for late joiners, a lossless writer freed by a receiver leaving, one writer at a time,
//! the policy in the header, and hostile positions and stamps reported as `Corrupted`.

use shmring_test_support as common;

use std::os::unix::fs::FileExt;
use std::time::Duration;

use common::{Unlink, shm_path, unique_name};
use shmring::broadcast::{
    self, Policy, Receiver, RecvError, RecvTimeoutError, Sender, TryRecvError,
};
use shmring::header::HEADER_SIZE;
use shmring::{OpenError, TrySendError};

/// Receives everything a receiver gets until the writer is gone: `(values, missed)`, where
/// `missed` adds up the `Lagged` counts.
fn drain<T: shmring::ShmType>(rx: &mut Receiver<T>) -> (Vec<T>, u64) {
    let (mut got, mut missed) = (Vec::new(), 0);
    loop {
        match rx.recv_timeout(common::WATCHDOG) {
            Ok(v) => got.push(v),
            Err(RecvTimeoutError::Lagged(n)) => missed += n,
            Err(RecvTimeoutError::Disconnected) => return (got, missed),
            Err(e) => panic!("receive: {e}"),
        }
    }
}

#[test]
fn every_receiver_sees_every_message_in_order() {
    const N: u64 = 50_000;
    let (mut tx, rx) = broadcast::channel::<u64>(16).unwrap();
    let mut receivers = vec![rx];
    for _ in 0..3 {
        receivers.push(tx.subscribe().unwrap());
    }
    let threads: Vec<_> = receivers
        .into_iter()
        .map(|mut rx| std::thread::spawn(move || drain(&mut rx)))
        .collect();
    for i in 0..N {
        tx.send(i).unwrap();
    }
    drop(tx);
    for t in threads {
        let (got, missed) = t.join().unwrap();
        assert_eq!(missed, 0, "a lossless receiver lagged");
        assert!(got.iter().copied().eq(0..N), "lost, repeated or reordered");
    }
}

#[test]
fn lagged_counts_add_up_exactly() {
    let name = unique_name("broadcast-lag");
    let _u = Unlink(name.clone());
    let mut tx = Sender::<u64>::options()
        .policy(Policy::Overwrite)
        .create(name.as_str(), 8)
        .unwrap();
    let mut rx = Receiver::<u64>::open(name.as_str()).unwrap();
    assert_eq!(rx.policy(), Policy::Overwrite);
    for i in 0..20 {
        tx.try_send(i).unwrap(); // never full: the writer does not wait
    }
    // 20 sent into 8 slots: the 13 oldest are gone (the slot of 20 − 8 may be being
    // overwritten, so the receiver resumes one later).
    assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(13)));
    assert_eq!(
        rx.try_iter().collect::<Vec<_>>(),
        (13..20).collect::<Vec<_>>()
    );
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    drop(tx);
    assert_eq!(rx.recv(), Err(RecvError::Disconnected));
}

/// A writer spinning as fast as it can over a small ring, a receiver pausing now and then:
/// every message returned is whole (all 16 words equal), positions only increase, and what
/// it received plus what it was told it missed is exactly what was sent.
#[test]
fn overwrite_never_returns_a_torn_message() {
    const N: u64 = 200_000;
    let name = unique_name("broadcast-torn");
    let _u = Unlink(name.clone());
    let mut tx = Sender::<[u64; 16]>::options()
        .policy(Policy::Overwrite)
        .create(name.as_str(), 4)
        .unwrap();
    let mut rx = Receiver::<[u64; 16]>::options()
        .wait_strategy(shmring::WaitStrategy::BusyPoll)
        .open(name.as_str())
        .unwrap();
    let reader = std::thread::spawn(move || {
        let (mut next, mut missed, mut got) = (0u64, 0u64, 0u64);
        loop {
            match rx.recv_timeout(common::WATCHDOG) {
                Ok(m) => {
                    assert!(m.iter().all(|&w| w == m[0]), "a torn message: {m:?}");
                    assert_eq!(m[0], next, "not the next message after the gap");
                    next += 1;
                    got += 1;
                    if got % 1000 == 0 {
                        std::thread::sleep(Duration::from_micros(50));
                    }
                }
                Err(RecvTimeoutError::Lagged(n)) => {
                    missed += n;
                    next += n;
                }
                Err(RecvTimeoutError::Disconnected) => return (got, missed),
                Err(e) => panic!("{e}"),
            }
        }
    });
    for i in 0..N {
        tx.send([i; 16]).unwrap();
        if i % 8 == 0 {
            // Room for the reader to catch up now and then: copies that overlap a write.
            for _ in 0..200 {
                std::hint::spin_loop();
            }
        }
    }
    drop(tx);
    let (got, missed) = reader.join().unwrap();
    assert!(
        got > 0 && missed > 0,
        "no overlap exercised: {got} got, {missed} missed"
    );
    assert_eq!(got + missed, N, "received + missed must be everything sent");
    eprintln!("{got} received whole, {missed} missed (reported)");
}

#[test]
fn a_late_joiner_gets_the_history_then_live_messages() {
    let name = unique_name("broadcast-history");
    let _u = Unlink(name.clone());
    let mut tx = Sender::<u64>::create(name.as_str(), 8).unwrap();
    for i in 0..5 {
        tx.send(i).unwrap(); // no receiver yet: kept for late joiners
    }
    let mut late = Receiver::<u64>::options()
        .from_oldest()
        .open(name.as_str())
        .unwrap();
    let mut next = Receiver::<u64>::open(name.as_str()).unwrap();
    tx.send(5).unwrap();
    assert_eq!(late.try_iter().collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5]);
    assert_eq!(next.try_iter().collect::<Vec<_>>(), [5]);

    // Lapped history: the ring keeps capacity − 1 messages.
    drop((late, next));
    for i in 6..30 {
        tx.send(i).unwrap();
    }
    let mut late = Receiver::<u64>::options()
        .from_oldest()
        .open(name.as_str())
        .unwrap();
    assert_eq!(
        late.try_iter().collect::<Vec<_>>(),
        (23..30).collect::<Vec<_>>()
    );
}

#[test]
fn a_lossless_writer_waits_for_the_slowest_and_goes_on_when_it_leaves() {
    let (mut tx, mut fast) = broadcast::channel::<u64>(4).unwrap();
    let slow = tx.subscribe().unwrap();
    for i in 0..4 {
        tx.send(i).unwrap();
        assert_eq!(fast.recv(), Ok(i));
    }
    assert_eq!(
        tx.try_send(4),
        Err(TrySendError::Full(4)),
        "the slow one read nothing"
    );
    assert!(
        tx.send_timeout(4, Duration::from_millis(20))
            .unwrap_err()
            .is_timeout()
    );
    let writer = std::thread::spawn(move || {
        tx.send(4).unwrap(); // blocks until the slow receiver leaves
        tx
    });
    std::thread::sleep(Duration::from_millis(20));
    drop(slow);
    let _tx = writer.join().unwrap();
    assert_eq!(fast.recv(), Ok(4));
}

#[test]
fn one_writer_at_a_time() {
    let name = unique_name("broadcast-writer");
    let _u = Unlink(name.clone());
    let tx = Sender::<u64>::create(name.as_str(), 8).unwrap();
    match Sender::<u64>::open(name.as_str()) {
        Err(OpenError::RoleTaken { pid, .. }) => assert_eq!(pid, std::process::id()),
        other => panic!("a second writer: {other:?}"),
    }
    drop(tx);
    let mut tx = Sender::<u64>::open(name.as_str()).expect("the role is free again");
    let mut rx = Receiver::<u64>::open(name.as_str()).unwrap();
    tx.send(1).unwrap();
    assert_eq!(rx.recv(), Ok(1));
    assert_eq!(tx.receiver_count(), 1);
}

#[test]
fn the_policy_and_kind_are_in_the_header() {
    let name = unique_name("broadcast-header");
    let _u = Unlink(name.clone());
    let rx = Receiver::<u32>::options()
        .policy(Policy::Overwrite)
        .create(name.as_str(), 16)
        .unwrap();
    let info = rx.segment().info();
    assert_eq!(info.kind, shmring::RingKind::Broadcast);
    assert!(info.overwrite);
    let tx = Sender::<u32>::open(name.as_str()).unwrap();
    assert_eq!(tx.policy(), Policy::Overwrite);
    let seen = shmring::inspect::inspect(&name).unwrap();
    assert!(seen.problems.is_empty(), "{:?}", seen.problems);
    let receivers: Vec<_> = seen
        .participants
        .iter()
        .filter(|p| p.role == "receiver")
        .collect();
    assert_eq!(receivers.len(), 1);
    assert_eq!(receivers[0].position, Some(0));
    // Another payload is refused, naming both.
    match Receiver::<u8>::open(name.as_str()) {
        Err(OpenError::IncompatibleLayout { .. }) => {}
        other => panic!("a u8 receiver of a u32 ring: {other:?}"),
    }
}

/// A ring of 8 `u64` with `policy`, a receiver, the segment file opened for scribbling, and
/// messages 1 and 2 sent.
fn sent_two(policy: Policy) -> (String, Unlink, std::fs::File, Sender<u64>, Receiver<u64>) {
    let name = unique_name("broadcast-hostile");
    let unlink = Unlink(name.clone());
    let mut tx = Sender::<u64>::options()
        .policy(policy)
        .create(name.as_str(), 8)
        .unwrap();
    let rx = Receiver::<u64>::open(name.as_str()).unwrap();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(shm_path(&name))
        .unwrap();
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    (name, unlink, file, tx, rx)
}

/// Hostile writes to the shared state: a tail that went backwards, and a published slot with
/// an older stamp (an overwrite ring's), are `Corrupted` — never a panic, a hang or a torn
/// value.
#[test]
fn hostile_positions_and_stamps_are_corrupted() {
    use shmring::mpmc::layout::{CONTROL_SIZE, TAIL_OFFSET};
    let (name, _u, file, _tx, mut rx) = sent_two(Policy::Overwrite);
    assert_eq!(rx.recv(), Ok(1));
    // The stamp of position 1 (slot 1: stamp word then payload, 16 bytes a slot) rolled back.
    let slot1 = HEADER_SIZE + CONTROL_SIZE + 16;
    file.write_all_at(&0u64.to_ne_bytes(), slot1 as u64)
        .unwrap();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Corrupted));
    assert_eq!(rx.recv(), Err(RecvError::Corrupted), "stays corrupted");

    let mut rx = Receiver::<u64>::open(name.as_str()).unwrap();
    // The tail moved back behind this receiver.
    file.write_all_at(&0u64.to_ne_bytes(), (HEADER_SIZE + TAIL_OFFSET) as u64)
        .unwrap();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Corrupted));
    // A tail beyond any real position.
    let mut rx = Receiver::<u64>::open(name.as_str());
    assert!(matches!(rx, Ok(_) | Err(OpenError::Corrupted { .. })));
    file.write_all_at(&u64::MAX.to_ne_bytes(), (HEADER_SIZE + TAIL_OFFSET) as u64)
        .unwrap();
    if let Ok(rx) = &mut rx {
        assert_eq!(rx.try_recv(), Err(TryRecvError::Corrupted));
    }
    match Receiver::<u64>::open(name.as_str()) {
        Err(OpenError::Corrupted { .. }) => {}
        other => panic!("a tail of u64::MAX: {other:?}"),
    }
}

/// A lossless ring's slots are bare payloads (no stamps, docs/layout.md): a hostile write to
/// a published slot only changes what is received, and the ring goes on.
#[test]
fn a_lossless_slot_written_by_a_peer_is_only_garbage() {
    use shmring::mpmc::layout::CONTROL_SIZE;
    let (_name, _u, file, mut tx, mut rx) = sent_two(Policy::Lossless);
    // Slot 1 (8 bytes a slot, right after the control block) overwritten.
    let slot1 = HEADER_SIZE + CONTROL_SIZE + 8;
    file.write_all_at(&0xdead_u64.to_ne_bytes(), slot1 as u64)
        .unwrap();
    assert_eq!(rx.recv(), Ok(1));
    assert_eq!(rx.recv(), Ok(0xdead));
    tx.send(3).unwrap();
    assert_eq!(rx.recv(), Ok(3));
}
