//! mpmc and broadcast rings with a payload type given at run time (`mpmc::DynSender`,
//! `broadcast::DynReceiver`, …: what the C and Python bindings use). They share a ring with
//! the typed handles of the same layout byte for byte, under load from several threads;
//! another layout is refused naming both; blocking, timed, disconnected and (broadcast) lagged
//! behave as the typed handles'.

use shmring_test_support as common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{Tick, Unlink, tick, unique_name};
use shmring::{OpenError, RecvTimeoutError, ShmType, broadcast, mpmc};

/// Every blocking call of these tests gives up after this long (a bug fails, never hangs).
const PATIENCE: Duration = Duration::from_secs(30);

fn deadline() -> Instant {
    Instant::now() + PATIENCE
}

fn as_tick(bytes: &[u8]) -> Tick {
    bytemuck::pod_read_unaligned(bytes)
}

/// Producer `p`'s message `i`: a tick whose `side` names the producer.
fn numbered(p: u32, i: u64) -> Tick {
    Tick { side: p, ..tick(i) }
}

fn refused_naming_both(err: OpenError) {
    let text = err.to_string();
    assert!(
        matches!(err, OpenError::IncompatibleLayout { .. }),
        "{err:?}"
    );
    let swapped = common::swapped_tick_layout().to_string();
    assert!(
        text.contains(&Tick::layout().to_string()) && text.contains(&swapped),
        "{text}"
    );
}

#[test]
fn mpmc_typed_and_dynamic_producers_and_consumers_share_a_ring() {
    const PER: u64 = 20_000;
    let name = unique_name("dyn-mpmc");
    let _u = Unlink(name.clone());
    let typed_tx = mpmc::Sender::<Tick>::create(name.as_str(), 64).unwrap();
    let dyn_tx = mpmc::DynSender::open(name.as_str(), Tick::layout()).unwrap();
    let typed_rx = mpmc::Receiver::<Tick>::open(name.as_str()).unwrap();
    let dyn_rx = mpmc::DynReceiver::open(name.as_str(), Tick::layout()).unwrap();
    assert_eq!(dyn_rx.payload_size(), 24);
    let received = std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..PER {
                typed_tx.send_deadline(numbered(0, i), deadline()).unwrap();
            }
        });
        s.spawn(|| {
            for i in 0..PER {
                let msg = numbered(1, i);
                dyn_tx
                    .send_deadline(bytemuck::bytes_of(&msg), deadline())
                    .unwrap();
            }
        });
        let typed = s.spawn(|| {
            let mut got = Vec::new();
            while let Ok(t) = typed_rx.recv_timeout(Duration::from_millis(500)) {
                got.push(t);
            }
            got
        });
        let dynamic = s.spawn(|| {
            let (mut got, mut buf) = (Vec::new(), [0u8; 24]);
            while dyn_rx
                .recv_into_deadline(&mut buf, Instant::now() + Duration::from_millis(500))
                .is_ok()
            {
                got.push(as_tick(&buf));
            }
            got
        });
        let mut all = typed.join().unwrap();
        all.extend(dynamic.join().unwrap());
        all
    });
    // Every message of both producers exactly once, whole.
    let mut seen: HashMap<(u32, u64), u32> = HashMap::new();
    for t in &received {
        assert_eq!(*t, numbered(t.side, t.ts_ns), "torn or foreign message");
        *seen.entry((t.side, t.ts_ns)).or_default() += 1;
    }
    assert_eq!(received.len() as u64, 2 * PER);
    assert_eq!(seen.len() as u64, 2 * PER, "a message was received twice");
}

#[test]
fn mpmc_another_layout_is_refused_naming_both() {
    let name = unique_name("dyn-mpmc-refuse");
    let _u = Unlink(name.clone());
    let _tx = mpmc::Sender::<Tick>::create(name.as_str(), 8).unwrap();
    refused_naming_both(
        mpmc::DynReceiver::open(name.as_str(), common::swapped_tick_layout()).unwrap_err(),
    );
    refused_naming_both(
        mpmc::DynSender::open(name.as_str(), common::swapped_tick_layout()).unwrap_err(),
    );
}

#[test]
fn mpmc_full_empty_timed_and_disconnected() {
    let name = unique_name("dyn-mpmc-wait");
    let _u = Unlink(name.clone());
    let tx = mpmc::DynSender::create(name.as_str(), 2, u64::layout()).unwrap();
    let rx = mpmc::DynReceiver::open(name.as_str(), u64::layout()).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(
        rx.try_recv_into(&mut buf),
        Err(shmring::TryRecvError::Empty)
    );
    let soon = Instant::now() + Duration::from_millis(20);
    assert_eq!(
        rx.recv_into_deadline(&mut buf, soon),
        Err(RecvTimeoutError::Timeout)
    );
    tx.try_send(&1u64.to_ne_bytes()).unwrap();
    tx.try_send(&2u64.to_ne_bytes()).unwrap();
    assert!(tx.try_send(&3u64.to_ne_bytes()).unwrap_err().is_full());
    let soon = Instant::now() + Duration::from_millis(20);
    assert!(
        tx.send_deadline(&3u64.to_ne_bytes(), soon)
            .unwrap_err()
            .is_timeout()
    );
    drop(tx);
    for want in [1u64, 2] {
        rx.recv_into(&mut buf).unwrap();
        assert_eq!(u64::from_ne_bytes(buf), want);
    }
    assert_eq!(
        rx.recv_into(&mut buf),
        Err(shmring::RecvError::Disconnected)
    );
}

#[test]
#[should_panic(expected = "one payload of 8 bytes, not 4")]
fn mpmc_a_message_of_another_length_is_a_caller_error() {
    let name = unique_name("dyn-mpmc-len");
    let _u = Unlink(name.clone());
    let tx = mpmc::DynSender::create(name.as_str(), 2, u64::layout()).unwrap();
    let _ = tx.try_send(&[0u8; 4]);
}

#[test]
fn broadcast_every_receiver_typed_or_not_sees_every_message_in_order() {
    const N: u64 = 20_000;
    let name = unique_name("dyn-bc");
    let _u = Unlink(name.clone());
    let mut tx = broadcast::DynSender::create(
        name.as_str(),
        16,
        Tick::layout(),
        broadcast::Policy::Lossless,
    )
    .unwrap();
    let mut typed = broadcast::Receiver::<Tick>::open(name.as_str()).unwrap();
    let a = broadcast::DynReceiver::open(name.as_str(), Tick::layout()).unwrap();
    let b = tx.subscribe().unwrap();
    assert_eq!(tx.receiver_count(), 3);
    std::thread::scope(|s| {
        s.spawn(move || {
            for i in 0..N {
                tx.send_deadline(bytemuck::bytes_of(&tick(i)), deadline())
                    .unwrap();
            }
        });
        s.spawn(move || {
            for i in 0..N {
                assert_eq!(typed.recv_deadline(deadline()), Ok(tick(i)));
            }
            assert_eq!(
                typed.recv_timeout(PATIENCE),
                Err(broadcast::RecvTimeoutError::Disconnected)
            );
        });
        for mut rx in [a, b] {
            s.spawn(move || {
                let mut buf = [0u8; 24];
                for i in 0..N {
                    rx.recv_into_deadline(&mut buf, deadline()).unwrap();
                    assert_eq!(as_tick(&buf), tick(i));
                }
                assert_eq!(
                    rx.recv_into_deadline(&mut buf, deadline()),
                    Err(broadcast::RecvTimeoutError::Disconnected)
                );
            });
        }
    });
}

#[test]
fn broadcast_overwrite_reports_lag_and_goes_on_from_the_oldest() {
    let name = unique_name("dyn-bc-lag");
    let _u = Unlink(name.clone());
    let mut tx = shmring::broadcast::Sender::<u64>::options()
        .policy(broadcast::Policy::Overwrite)
        .create(name.as_str(), 8)
        .unwrap();
    let mut rx = broadcast::DynReceiver::open(name.as_str(), u64::layout()).unwrap();
    assert_eq!(rx.policy(), broadcast::Policy::Overwrite);
    for i in 0..20u64 {
        tx.try_send(i).unwrap(); // never waits
    }
    let mut buf = [0u8; 8];
    let missed = match rx.try_recv_into(&mut buf) {
        Err(broadcast::TryRecvError::Lagged(n)) => n,
        other => panic!("expected Lagged, got {other:?}"),
    };
    // The ring holds the last 7 (capacity − 1) whole; every message is either missed or read.
    let mut read = Vec::new();
    while rx.try_recv_into(&mut buf).is_ok() {
        read.push(u64::from_ne_bytes(buf));
    }
    assert_eq!(
        missed + read.len() as u64,
        20,
        "missed {missed}, read {read:?}"
    );
    assert_eq!(read, (missed..20).collect::<Vec<_>>());
}

#[test]
fn broadcast_another_layout_is_refused_and_late_joiners_see_history() {
    let name = unique_name("dyn-bc-refuse");
    let _u = Unlink(name.clone());
    let mut tx = broadcast::Sender::<Tick>::create(name.as_str(), 8).unwrap();
    refused_naming_both(
        broadcast::DynReceiver::open(name.as_str(), common::swapped_tick_layout()).unwrap_err(),
    );
    for i in 0..3 {
        tx.send(tick(i)).unwrap();
    }
    let mut late = broadcast::DynReceiver::open_from_oldest(name.as_str(), Tick::layout()).unwrap();
    let mut buf = [0u8; 24];
    for i in 0..3 {
        late.try_recv_into(&mut buf).unwrap();
        assert_eq!(as_tick(&buf), tick(i));
    }
    // The writer's role is taken while the typed writer lives.
    let err = broadcast::DynSender::open(name.as_str(), Tick::layout()).unwrap_err();
    assert!(matches!(err, OpenError::RoleTaken { .. }), "{err:?}");
}
