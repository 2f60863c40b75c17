//! Events in one process: coalescing, several listeners each seeing every id, the listener
//! table's limit and the reaping of dead listeners, construction errors, bounded waits,
//! readiness and `wait_async`, and a hostile peer's garbage bits reported as `Corrupted`.

use shmring_test_support as common;

use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use common::{Unlink, shm_path, unique_name};
use shmring::event::{self, Listener, Notifier, NotifyError, TryWaitError, WaitError, layout};
use shmring::header::HEADER_SIZE;
use shmring::{OpenError, RingKind};

/// Writes `value` at `offset` of the area of segment `name`.
fn poke(name: &str, offset: usize, value: &[u8]) {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(shm_path(name))
        .unwrap();
    file.write_all_at(value, (HEADER_SIZE + offset) as u64)
        .unwrap();
}

#[test]
fn ids_are_coalesced_and_sorted() {
    let (notifier, mut listener) = event::channel(4096).unwrap();
    for id in [4095, 7, 64, 7, 0, 4095, 63] {
        notifier.notify(id).unwrap();
    }
    assert_eq!(listener.wait().unwrap().as_slice(), [0, 7, 63, 64, 4095]);
    assert_eq!(listener.try_wait(), Err(TryWaitError::Empty));
    notifier.notify(7).unwrap();
    assert_eq!(listener.try_wait().unwrap().as_slice(), [7]);
}

#[test]
fn every_listener_sees_every_id() {
    let name = unique_name("event-fanout");
    let _u = Unlink(name.clone());
    let notifier = Notifier::create(name.as_str(), 1000).unwrap();
    let mut listeners: Vec<Listener> = (0..3)
        .map(|_| Listener::open(name.as_str()).unwrap())
        .collect();
    assert_eq!(notifier.listeners(), 3);
    let other = Notifier::open(name.as_str()).unwrap();
    for id in 0..1000 {
        if id % 2 == 0 {
            notifier.notify(id).unwrap();
        } else {
            other.notify(id).unwrap();
        }
    }
    for l in &mut listeners {
        let got: Vec<u32> = l.wait().unwrap().into_iter().collect();
        assert_eq!(got, (0..1000).collect::<Vec<_>>());
    }
    // A listener joining later sees only what comes after it.
    let mut late = notifier.subscribe().unwrap();
    assert_eq!(late.try_wait(), Err(TryWaitError::Empty));
}

#[test]
fn threads_notify_while_a_listener_sleeps_and_nothing_is_lost() {
    const ROUNDS: u32 = 2_000;
    let (notifier, mut listener) = event::channel(64).unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    // Two notifiers hammer ids 0..32; one more notifies id 40 and waits for the listener to
    // have taken it, ROUNDS times: a lost notification or wake-up times out.
    let hammers: Vec<_> = (0..2)
        .map(|k| {
            let n = notifier.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                let mut i = k;
                while done.load(std::sync::atomic::Ordering::Relaxed) < ROUNDS {
                    n.notify(i % 32).unwrap();
                    i += 1;
                    if i % 64 == 0 {
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    let pinger = {
        let n = notifier.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            for round in 0..ROUNDS {
                n.notify(40).unwrap();
                let until = Instant::now() + common::WATCHDOG;
                while done.load(std::sync::atomic::Ordering::Acquire) <= round {
                    assert!(Instant::now() < until, "round {round}: id 40 never taken");
                    std::thread::yield_now();
                }
            }
        })
    };
    while done.load(std::sync::atomic::Ordering::Relaxed) < ROUNDS {
        let set = listener
            .wait_timeout(common::WATCHDOG)
            .expect("a lost wake-up");
        assert!(set.iter().all(|id| id < 32 || id == 40), "{set:?}");
        if set.contains(40) {
            done.fetch_add(1, std::sync::atomic::Ordering::Release);
        }
    }
    pinger.join().unwrap();
    for h in hammers {
        h.join().unwrap();
    }
}

#[test]
fn construction_errors_are_specific() {
    for bad in [0, u64::from(event::MAX_IDS) + 1, u64::MAX] {
        let err = event::Notifier::create(unique_name("event-bad").as_str(), bad).unwrap_err();
        assert!(
            matches!(&err, OpenError::InvalidConfig { reason, .. } if reason.contains("max_ids")),
            "{err}"
        );
    }
    assert!(matches!(
        event::channel(0),
        Err(OpenError::InvalidConfig { .. })
    ));
    // Another kind of ring under the name.
    let name = unique_name("event-kind");
    let _u = Unlink(name.clone());
    let _ring = shmring::spsc::Sender::<u64>::create(name.as_str(), 8).unwrap();
    let err = Listener::open(name.as_str()).unwrap_err();
    assert!(matches!(err, OpenError::KindMismatch { .. }), "{err}");
    assert!(err.to_string().contains("event"), "{err}");
    // An event segment is an event segment: the ring handles refuse it.
    let ev = unique_name("event-as-ring");
    let _v = Unlink(ev.clone());
    let n = Notifier::create(ev.as_str(), 8).unwrap();
    assert_eq!(n.segment().info().kind, RingKind::Event);
    assert!(matches!(
        shmring::spsc::Receiver::<u64>::open(ev.as_str()),
        Err(OpenError::KindMismatch { .. })
    ));
    // A listener asking for a signal that is not a realtime one.
    let err = Listener::options()
        .signal(libc::SIGTERM)
        .open(ev.as_str())
        .unwrap_err();
    assert!(err.to_string().contains("not a realtime signal"), "{err}");
}

#[test]
fn out_of_range_ids_are_refused_and_record_nothing() {
    let (notifier, mut listener) = event::channel(100).unwrap();
    let err = notifier.notify(100).unwrap_err();
    assert!(matches!(
        err,
        NotifyError::OutOfRange {
            id: 100,
            max_ids: 100
        }
    ));
    assert_eq!(
        err.to_string(),
        "event id 100 is out of range: this event segment has ids 0..100"
    );
    assert_eq!(listener.try_wait(), Err(TryWaitError::Empty));
}

#[test]
fn bounded_waits_time_out_and_deadlines_hold() {
    let (notifier, mut listener) = event::channel(8).unwrap();
    let start = Instant::now();
    assert_eq!(
        listener.wait_timeout(Duration::from_millis(30)),
        Err(WaitError::Timeout)
    );
    assert!(start.elapsed() >= Duration::from_millis(30));
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        notifier.notify(5).unwrap();
        notifier
    });
    let set = listener
        .wait_deadline(Instant::now() + common::WATCHDOG)
        .unwrap();
    assert_eq!(set.as_slice(), [5]);
    drop(t.join().unwrap());
}

#[test]
fn the_table_holds_64_listeners_and_frees_dead_ones() {
    let name = unique_name("event-table");
    let _u = Unlink(name.clone());
    let notifier = Notifier::create(name.as_str(), 8).unwrap();
    let mut listeners: Vec<Listener> = (0..layout::LISTENERS)
        .map(|_| Listener::open(name.as_str()).unwrap())
        .collect();
    let err = Listener::open(name.as_str()).unwrap_err();
    assert!(
        matches!(err, OpenError::ParticipantsFull { max: 64, .. }),
        "{err}"
    );
    // Record 0 now belongs to a process that has exited: the next listener takes it over.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    let record = layout::TABLE_OFFSET;
    drop(listeners.remove(0));
    let _keep = Listener::open(name.as_str()).unwrap(); // takes record 0 again
    let dead_owner = (u64::from(dead_pid) << 32) | 12345;
    // Overwrite the owner of the record just taken with the dead process.
    poke(
        &name,
        record + layout::RECORD_OWNER,
        &dead_owner.to_ne_bytes(),
    );
    std::mem::forget(_keep); // its record is the dead process's now
    let mut replacement = Listener::open(name.as_str()).expect("a dead listener's record is freed");
    notifier.notify(3).unwrap();
    assert_eq!(replacement.wait().unwrap().as_slice(), [3]);
    assert_eq!(notifier.listeners(), 64);
}

#[test]
fn garbage_bits_are_corrupted_never_ids_out_of_range() {
    let name = unique_name("event-hostile");
    let _u = Unlink(name.clone());
    let notifier = Notifier::create(name.as_str(), 70).unwrap();
    let mut listener = Listener::open(name.as_str()).unwrap();
    let stride = layout::bitmap_stride(70).unwrap();
    let bitmap = layout::BITMAPS_OFFSET; // listener record 0's
    // 70 ids: two bitmap words, one summary word. Word 1 holds ids 64..128: bit 10 is id 74.
    poke(&name, bitmap + 16, &(1u64 << 10).to_ne_bytes());
    poke(&name, bitmap, &2u64.to_ne_bytes());
    assert_eq!(listener.try_wait(), Err(TryWaitError::Corrupted));
    notifier.notify(1).unwrap();
    assert_eq!(
        listener.try_wait(),
        Err(TryWaitError::Corrupted),
        "from then on"
    );
    assert_eq!(listener.wait(), Err(WaitError::Corrupted));
    // A summary bit past the last word, for a fresh listener (record 1).
    let mut second = Listener::open(name.as_str()).unwrap();
    poke(&name, bitmap + stride, &(1u64 << 40).to_ne_bytes());
    assert_eq!(second.try_wait(), Err(TryWaitError::Corrupted));
    // A signal field that is not a signal: the notifier reports it, and still records the id
    // for every other listener.
    let mut third = Listener::open(name.as_str()).unwrap();
    poke(
        &name,
        layout::TABLE_OFFSET + 2 * layout::RECORD_SIZE + layout::RECORD_SIGNAL,
        &9u32.to_ne_bytes(),
    );
    let mut fourth = Listener::open(name.as_str()).unwrap();
    let err = notifier.notify(2).unwrap_err();
    assert!(matches!(err, NotifyError::Corrupted { .. }), "{err}");
    assert_eq!(third.try_wait().unwrap().as_slice(), [2]);
    assert_eq!(fourth.try_wait().unwrap().as_slice(), [2]);
    // A live mask naming every record: notifiers only set bits in free records' bitmaps.
    poke(&name, layout::LIVE_OFFSET, &u64::MAX.to_ne_bytes());
    assert!(
        notifier.notify(3).is_err(),
        "record 2 still asks for signal 9"
    );
    assert_eq!(fourth.try_wait().unwrap().as_slice(), [3]);
}

#[test]
fn readiness_descriptor_becomes_readable_on_notify() {
    use std::os::fd::AsRawFd;
    let (notifier, mut listener) = event::channel(16).unwrap();
    assert!(listener.register_readiness().unwrap());
    let fd = listener.readiness_fd().unwrap().as_raw_fd();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        notifier.notify(9).unwrap();
        notifier
    });
    // The descriptor is also signalled at the end of each of the helper's liveness slices:
    // poll, clear, try, and register again until the id is there.
    let got = loop {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the call's duration.
        let n = unsafe { libc::poll(&mut pfd, 1, common::WATCHDOG.as_millis() as i32) };
        assert_eq!(n, 1, "readable within the watchdog");
        listener.clear_readiness();
        match listener.try_wait() {
            Ok(set) => break set,
            Err(TryWaitError::Empty) => assert!(listener.register_readiness().unwrap()),
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(got.as_slice(), [9]);
    // Pending already: no registration needed.
    let notifier = t.join().unwrap();
    notifier.notify(1).unwrap();
    assert!(!listener.register_readiness().unwrap());
    listener.cancel_readiness();
}

#[cfg(feature = "tokio")]
#[test]
fn wait_async_is_woken_by_a_notifier_thread() {
    let (notifier, mut listener) = event::channel(16).unwrap();
    let rt = common::current_thread();
    let t = std::thread::spawn(move || {
        for id in [1, 2, 3] {
            std::thread::sleep(Duration::from_millis(5));
            notifier.notify(id).unwrap();
        }
    });
    let mut seen = Vec::new();
    rt.block_on(async {
        while seen.len() < 3 {
            let set = tokio::time::timeout(common::WATCHDOG, listener.wait_async())
                .await
                .expect("woken")
                .unwrap();
            seen.extend(set);
        }
    });
    assert_eq!(seen, [1, 2, 3]);
    t.join().unwrap();
}
