//! The byte-message broadcast ring (`framed::broadcast`) within one process: messages of
//! every length cut into cells and gathered back whole, every receiver seeing every message
//! (lossless), `Lagged` counts that add up exactly by sequence numbers (overwrite), never a
//! torn message, history for late joiners that starts at a whole message, a writer taking
//! over and going on with the sequence, the kind in the header, and hostile cells reported
//! as `Corrupted`.

use shmring_test_support as common;

use std::os::unix::fs::FileExt;
use std::time::Duration;

use common::{Unlink, shm_path, unique_name};
use shmring::broadcast::Policy;
use shmring::framed::TrySendError;
use shmring::framed::broadcast::{
    self, CELL, Receiver, RecvError, RecvTimeoutError, Sender, TryRecvError, cells_for, max_message,
};
use shmring::header::HEADER_SIZE;
use shmring::mpmc::layout::CONTROL_SIZE;
use shmring::{OpenError, RingKind};

/// The message number `i` of a test stream: its length varies over 0..=max and every byte
/// says which message it belongs to.
fn message(i: u64, max: usize) -> Vec<u8> {
    let len = (i.wrapping_mul(2_654_435_761) % (max as u64 + 1)) as usize;
    (0..len).map(|k| (i as u8).wrapping_add(k as u8)).collect()
}

/// Receives until the writer is gone: `(messages, missed)`, `missed` adding up `Lagged`.
fn drain(rx: &mut Receiver) -> (Vec<Vec<u8>>, u64) {
    let (mut got, mut missed) = (Vec::new(), 0);
    loop {
        match rx.recv_timeout(common::WATCHDOG) {
            Ok(m) => got.push(m),
            Err(RecvTimeoutError::Lagged(n)) => missed += n,
            Err(RecvTimeoutError::Disconnected) => return (got, missed),
            Err(e) => panic!("receive: {e}"),
        }
    }
}

#[test]
fn every_length_arrives_whole_with_its_tag() {
    let (mut tx, mut rx) = broadcast::channel(64).unwrap();
    let max = tx.max_message();
    assert_eq!(max, max_message(64));
    let mut buf = Vec::new();
    for len in [0, 1, 39, 40, 41, 95, 96, 97, 500, max - 1, max] {
        let msg: Vec<u8> = (0..len).map(|k| k as u8 ^ 0x5a).collect();
        tx.send_tagged(len as u32, &msg).unwrap();
        assert_eq!(rx.try_recv_into(&mut buf), Ok(len as u32), "length {len}");
        assert_eq!(buf, msg, "length {len}");
        assert_eq!(rx.position(), tx_position(&rx));
    }
    let err = tx.try_send(&vec![0; max + 1]).unwrap_err();
    assert_eq!(err, TrySendError::TooLarge { len: max + 1, max });
}

/// The position a receiver that read everything is at (the ring's cell count).
fn tx_position(rx: &Receiver) -> u64 {
    rx.position() + rx.backlog_cells() as u64
}

#[test]
fn every_receiver_sees_every_message_in_order() {
    const N: u64 = 20_000;
    let (mut tx, rx) = broadcast::channel(32).unwrap();
    let max = tx.max_message();
    let mut receivers = vec![rx];
    for _ in 0..2 {
        receivers.push(tx.subscribe().unwrap());
    }
    let threads: Vec<_> = receivers
        .into_iter()
        .map(|mut rx| std::thread::spawn(move || drain(&mut rx)))
        .collect();
    for i in 0..N {
        tx.send(&message(i, max)).unwrap();
    }
    drop(tx);
    for t in threads {
        let (got, missed) = t.join().unwrap();
        assert_eq!(missed, 0, "a lossless receiver lagged");
        assert_eq!(got.len() as u64, N);
        for (i, m) in got.iter().enumerate() {
            assert_eq!(*m, message(i as u64, max), "message {i}");
        }
    }
}

#[test]
fn a_lossless_writer_waits_for_the_slowest_receiver() {
    let (mut tx, mut rx) = broadcast::channel(4).unwrap();
    tx.try_send(&[1; 41]).unwrap(); // two cells
    tx.try_send(&[2; 41]).unwrap(); // two more: the ring is full
    assert_eq!(tx.try_send(b""), Err(TrySendError::Full));
    assert!(
        tx.send_timeout(b"", Duration::from_millis(5))
            .unwrap_err()
            .is_timeout()
    );
    assert_eq!(rx.recv().unwrap(), [1; 41]);
    tx.send(&[3; 41]).unwrap();
    assert_eq!(rx.recv().unwrap(), [2; 41]);
    assert_eq!(rx.recv().unwrap(), [3; 41]);
}

#[test]
fn lagged_counts_messages_exactly() {
    let name = unique_name("fbroadcast-lag");
    let _u = Unlink(name.clone());
    let mut tx = Sender::options()
        .policy(Policy::Overwrite)
        .create(name.as_str(), 16)
        .unwrap();
    let mut rx = Receiver::open(name.as_str()).unwrap();
    assert_eq!(rx.policy(), Policy::Overwrite);
    let max = tx.max_message();
    const N: u64 = 200;
    for i in 0..N {
        tx.try_send(&message(i, max)).unwrap(); // never full
    }
    drop(tx);
    let (got, missed) = drain(&mut rx);
    assert!(!got.is_empty());
    assert_eq!(got.len() as u64 + missed, N, "lagged counts do not add up");
    // What was received is the newest messages, whole and in order.
    let first = N - got.len() as u64;
    for (k, m) in got.iter().enumerate() {
        assert_eq!(*m, message(first + k as u64, max));
    }
}

/// A writer spinning over a small overwrite ring while a receiver pauses: whatever the
/// receiver returns is a whole message of the stream, in increasing order, and the `Lagged`
/// counts add up to exactly what it did not receive.
#[test]
fn an_overwritten_receiver_never_returns_a_torn_message() {
    const N: u64 = 100_000;
    let name = unique_name("fbroadcast-torn");
    let _u = Unlink(name.clone());
    let mut tx = Sender::options()
        .policy(Policy::Overwrite)
        .create(name.as_str(), 16)
        .unwrap();
    let mut rx = Receiver::open(name.as_str()).unwrap();
    let max = tx.max_message();
    let writer = std::thread::spawn(move || {
        for i in 0..N {
            // The sequence number in the first 8 bytes, the rest a pattern of it.
            let mut m = message(i, max - 8);
            m.splice(0..0, i.to_le_bytes());
            tx.send(&m).unwrap();
        }
    });
    // `pending`: the `Lagged` counts since the last message, which must be its gap exactly.
    let (mut received, mut missed, mut pending, mut last) = (0u64, 0u64, 0u64, None::<u64>);
    loop {
        match rx.recv_timeout(common::WATCHDOG) {
            Ok(m) => {
                let i = u64::from_le_bytes(m[..8].try_into().unwrap());
                let mut want = message(i, max - 8);
                want.splice(0..0, i.to_le_bytes());
                assert_eq!(m, want, "a torn message {i}");
                let gap = last.map_or(i, |l| {
                    assert!(i > l, "out of order: {i} after {l}");
                    i - l - 1
                });
                if last.is_some() {
                    assert_eq!(pending, gap, "Lagged counts before message {i}");
                }
                pending = 0;
                last = Some(i);
                received += 1;
                if received % 64 == 0 {
                    std::thread::sleep(Duration::from_micros(50));
                }
            }
            Err(RecvTimeoutError::Lagged(n)) => {
                missed += n;
                pending += n;
            }
            Err(RecvTimeoutError::Disconnected) => break,
            Err(e) => panic!("receive: {e}"),
        }
    }
    writer.join().unwrap();
    // The receiver joined before the first message: all of it is received or counted.
    assert_eq!(received + missed, N, "lagged counts do not add up");
}

#[test]
fn a_late_joiner_gets_whole_messages_of_history_then_live_ones() {
    let name = unique_name("fbroadcast-oldest");
    let _u = Unlink(name.clone());
    let mut tx = Sender::create(name.as_str(), 16).unwrap();
    let mut first = Receiver::open(name.as_str()).unwrap();
    // 5 messages of 3 cells: 15 cells, so the oldest ones are partly behind the history
    // window (15 cells held at most).
    for i in 0..5u8 {
        tx.send(&[i; 100]).unwrap();
        assert_eq!(cells_for(100), 3);
    }
    for i in 0..5u8 {
        assert_eq!(first.recv().unwrap(), [i; 100]);
    }
    let mut late = Receiver::options()
        .from_oldest()
        .open(name.as_str())
        .unwrap();
    let history: Vec<_> = late.try_iter().collect();
    assert_eq!(history, (0..5u8).map(|i| vec![i; 100]).collect::<Vec<_>>());
    tx.send(b"live").unwrap();
    assert_eq!(late.recv().unwrap(), b"live");
    assert_eq!(first.recv().unwrap(), b"live");
    // After the ring wrapped, a joiner starts at the first whole message held: the tail is
    // at 46 cells, the oldest cell held 31, where message 5 of these ten starts.
    drop(late);
    for i in 0..10u8 {
        tx.send(&[i; 100]).unwrap();
        assert_eq!(first.recv().unwrap(), [i; 100]);
    }
    let mut later = Receiver::options()
        .from_oldest()
        .open(name.as_str())
        .unwrap();
    let history: Vec<_> = later.try_iter().collect();
    assert_eq!(history, (5..10u8).map(|i| vec![i; 100]).collect::<Vec<_>>());
    // One cell further on, the oldest cell held is inside message 5: it starts at message 6.
    tx.send(b"").unwrap();
    first.recv().unwrap();
    later.recv().unwrap();
    let mut latest = Receiver::options()
        .from_oldest()
        .open(name.as_str())
        .unwrap();
    assert_eq!(latest.try_recv().unwrap(), [6; 100]);
}

#[test]
fn a_new_writer_goes_on_with_the_sequence() {
    let name = unique_name("fbroadcast-takeover");
    let _u = Unlink(name.clone());
    let mut tx = Sender::options()
        .policy(Policy::Overwrite)
        .create(name.as_str(), 16)
        .unwrap();
    let mut rx = Receiver::open(name.as_str()).unwrap();
    tx.send(&[1; 70]).unwrap();
    drop(tx);
    let mut tx = Sender::open(name.as_str()).unwrap();
    tx.send(b"after").unwrap();
    // No gap: the second writer numbered its message after the first's.
    assert_eq!(rx.try_recv().unwrap(), [1; 70]);
    assert_eq!(rx.try_recv().unwrap(), b"after");
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn one_writer_at_a_time_and_the_kind_is_checked() {
    let name = unique_name("fbroadcast-kind");
    let _u = Unlink(name.clone());
    let tx = Sender::create(name.as_str(), 8).unwrap();
    assert!(matches!(
        Sender::open(name.as_str()),
        Err(OpenError::RoleTaken { .. })
    ));
    let info = tx.segment().info();
    assert_eq!(info.kind, RingKind::FramedBroadcast);
    assert_eq!(info.kind.to_string(), "framed-broadcast");
    assert!(matches!(
        shmring::broadcast::Receiver::<[u8; CELL]>::open(name.as_str()),
        Err(OpenError::KindMismatch { .. })
    ));
    assert!(matches!(
        shmring::framed::Receiver::open(name.as_str()),
        Err(OpenError::KindMismatch { .. })
    ));
}

#[test]
fn the_writer_gone_ends_receivers_after_the_last_message() {
    let (mut tx, mut rx) = broadcast::channel(8).unwrap();
    tx.send(b"last").unwrap();
    drop(tx);
    assert_eq!(rx.recv().unwrap(), b"last");
    assert_eq!(rx.recv(), Err(RecvError::Disconnected));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

/// Bytes written at an offset of the first cell.
type Write<'a> = (usize, &'a [u8]);

/// A hostile peer rewrites a cell's header or a message's sequence number: the receiver
/// reports `Corrupted` (never a panic, a hang or bytes beyond the message).
#[test]
fn hostile_cells_are_corrupted() {
    let max = u64::MAX.to_ne_bytes();
    let cases: [(&str, &[Write]); 6] = [
        ("count 0", &[(4, &0u32.to_ne_bytes())]),
        ("count beyond the tail", &[(4, &9u32.to_ne_bytes())]),
        ("index past count", &[(0, &5u32.to_ne_bytes())]),
        (
            "a message starting before position 0",
            &[(0, &3u32.to_ne_bytes()), (4, &4u32.to_ne_bytes())],
        ),
        (
            "length of another cell count",
            &[(8, &500u32.to_ne_bytes())],
        ),
        ("the last sequence number", &[(16, &max)]),
    ];
    // Slot 0 follows the control block; an overwrite ring's cells start with an 8-byte
    // stamp, a lossless ring's are bare.
    for (policy, stamp) in [(Policy::Lossless, 0), (Policy::Overwrite, 8)] {
        for (what, writes) in cases {
            let name = unique_name("fbroadcast-hostile");
            let _u = Unlink(name.clone());
            let mut tx = Sender::options()
                .policy(policy)
                .create(name.as_str(), 8)
                .unwrap();
            let mut rx = Receiver::open(name.as_str()).unwrap();
            tx.send(&[7; 60]).unwrap(); // cells 0 and 1
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(shm_path(&name))
                .unwrap();
            for (at, bytes) in writes {
                let offset = (HEADER_SIZE + CONTROL_SIZE + stamp + at) as u64;
                file.write_all_at(bytes, offset).unwrap();
            }
            assert_eq!(
                rx.try_recv(),
                Err(TryRecvError::Corrupted),
                "{policy:?} {what}"
            );
            assert_eq!(
                rx.try_recv(),
                Err(TryRecvError::Corrupted),
                "{policy:?} {what}: stays"
            );
        }
    }
}

/// A tail no writer can have (a peer's scribble) when a writer or receiver attaches:
/// `OpenError::Corrupted`, never an overflow in the stamp arithmetic (found by the torture
/// suite's hostile peer: a new writer's read-back of the last message's sequence number).
#[test]
fn a_hostile_tail_is_corruption_at_attach() {
    use shmring::mpmc::layout::TAIL_OFFSET;
    for tail in [u64::MAX, 1 << 62, (1 << 62) + 1] {
        let name = unique_name("fbroadcast-hostile-tail");
        let _u = Unlink(name.clone());
        drop(Sender::create(name.as_str(), 8).unwrap());
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(shm_path(&name))
            .unwrap();
        file.write_all_at(&tail.to_ne_bytes(), (HEADER_SIZE + TAIL_OFFSET) as u64)
            .unwrap();
        assert!(
            matches!(
                Sender::open(name.as_str()),
                Err(OpenError::Corrupted { .. })
            ),
            "writer, tail {tail:#x}"
        );
        assert!(
            matches!(
                Receiver::open(name.as_str()),
                Err(OpenError::Corrupted { .. })
            ),
            "receiver, tail {tail:#x}"
        );
    }
}
