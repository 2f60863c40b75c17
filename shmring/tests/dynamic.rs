//! spsc rings with a payload type given at run time (`DynSender`/`DynReceiver`, what the
//! language bindings use): they share a ring with the typed handles of the same layout, byte
//! for byte; another layout is refused naming both; a payload no slot can have is refused;
//! blocking, timed and disconnected behave as the typed handles'.

use shmring_test_support as common;

use std::time::{Duration, Instant};

use common::{Tick, Unlink, tick, unique_name};
use shmring::spsc::{DynReceiver, DynSender, Receiver, Sender};
use shmring::{FieldLayout, OpenError, RecvTimeoutError, ShmType, TypeLayout};

#[test]
fn typed_and_dynamic_handles_share_a_ring() {
    let name = unique_name("dyn-share");
    let _u = Unlink(name.clone());
    let mut tx = Sender::<Tick>::create(name.as_str(), 8).unwrap();
    let mut rx = DynReceiver::open(name.as_str(), Tick::layout()).unwrap();
    assert_eq!(rx.payload_size(), 24);
    let mut buf = [0u8; 24];
    for i in 0..100 {
        tx.send(tick(i)).unwrap();
        rx.recv_into(&mut buf).unwrap();
        assert_eq!(bytemuck::pod_read_unaligned::<Tick>(&buf), tick(i));
    }
    drop((tx, rx));
    // The other way round, on the same ring (roles taken over).
    let mut tx = DynSender::open(name.as_str(), Tick::layout()).unwrap();
    let mut rx = Receiver::<Tick>::open(name.as_str()).unwrap();
    for i in 0..100 {
        tx.send(bytemuck::bytes_of(&tick(i))).unwrap();
        assert_eq!(rx.recv().unwrap(), tick(i));
    }
}

#[test]
fn another_layout_is_refused_naming_both() {
    let name = unique_name("dyn-refuse");
    let _u = Unlink(name.clone());
    let _tx = Sender::<Tick>::create(name.as_str(), 8).unwrap();
    let swapped = common::swapped_tick_layout();
    let err = DynReceiver::open(name.as_str(), swapped.clone()).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, OpenError::IncompatibleLayout { .. }),
        "{err:?}"
    );
    assert!(
        text.contains(&Tick::layout().to_string()) && text.contains(&swapped.to_string()),
        "{text}"
    );
}

#[test]
fn a_payload_no_slot_can_have_is_refused() {
    let bad = TypeLayout::structure("Odd", 3, 2, vec![FieldLayout::new("a", 0, u16::layout())]);
    let err = DynSender::create(unique_name("dyn-bad").as_str(), 8, bad).unwrap_err();
    assert!(matches!(err, OpenError::InvalidConfig { .. }), "{err:?}");
}

#[test]
fn blocking_timed_and_disconnected() {
    let name = unique_name("dyn-wait");
    let _u = Unlink(name.clone());
    let mut tx = DynSender::create(name.as_str(), 2, u64::layout()).unwrap();
    let mut rx = DynReceiver::open(name.as_str(), u64::layout()).unwrap();
    let mut buf = [0u8; 8];
    // Timed out on an empty ring.
    let deadline = Instant::now() + Duration::from_millis(20);
    assert_eq!(
        rx.recv_into_deadline(&mut buf, deadline),
        Err(RecvTimeoutError::Timeout)
    );
    // Full: try refuses, timed send times out.
    tx.try_send(&1u64.to_ne_bytes()).unwrap();
    tx.try_send(&2u64.to_ne_bytes()).unwrap();
    assert!(tx.try_send(&3u64.to_ne_bytes()).unwrap_err().is_full());
    assert!(
        tx.send_timeout(&3u64.to_ne_bytes(), Duration::from_millis(20))
            .unwrap_err()
            .is_timeout()
    );
    // A blocked sender is woken by the receiver, a blocked receiver by the sender.
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 3..1000u64 {
                tx.send(&i.to_ne_bytes()).unwrap();
            }
        });
        for i in 1..1000u64 {
            rx.recv_into(&mut buf).unwrap();
            assert_eq!(u64::from_ne_bytes(buf), i);
        }
    });
    drop(tx);
    assert_eq!(
        rx.recv_into(&mut buf),
        Err(shmring::RecvError::Disconnected)
    );
}

#[test]
#[should_panic(expected = "one payload of 8 bytes, not 4")]
fn a_message_of_another_length_is_a_caller_error() {
    let name = unique_name("dyn-len");
    let _u = Unlink(name.clone());
    let mut tx = DynSender::create(name.as_str(), 2, u64::layout()).unwrap();
    let _ = tx.try_send(&[0u8; 4]);
}

/// Batches: a sender of whole arrays and a receiver of whole arrays across the wrap, every value
/// in order, against a ring of seven-ish slots (capacity 8) so batches split at the end.
#[test]
fn batches_go_across_the_wrap_in_order() {
    let name = unique_name("dyn-many");
    let _u = Unlink(name.clone());
    let mut tx = DynSender::create(name.as_str(), 8, u64::layout()).unwrap();
    let mut rx = DynReceiver::open(name.as_str(), u64::layout()).unwrap();
    let n = 100_000u64;
    std::thread::scope(|s| {
        s.spawn(|| {
            let all: Vec<u8> = (0..n).flat_map(|v| v.to_ne_bytes()).collect();
            for batch in all.chunks(8 * 13) {
                let far = Instant::now() + Duration::from_secs(30);
                assert_eq!(tx.send_many_deadline(batch, far), Ok(batch.len() / 8));
            }
        });
        let mut next = 0u64;
        let mut buf = [0u8; 8 * 5];
        let give_up = Instant::now() + Duration::from_secs(30);
        while next < n {
            assert!(Instant::now() < give_up, "stuck at {next}");
            match rx.try_recv_many(&mut buf) {
                Ok(k) => {
                    for v in buf[..k * 8].chunks_exact(8) {
                        assert_eq!(u64::from_ne_bytes(v.try_into().unwrap()), next);
                        next += 1;
                    }
                }
                Err(shmring::TryRecvError::Empty) => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        }
    });
    // A deadline with no room: what fits is sent, the count says so.
    let soon = Instant::now() + Duration::from_millis(5);
    assert_eq!(tx.send_many_deadline(&[0u8; 8 * 10], soon), Ok(8));
}
