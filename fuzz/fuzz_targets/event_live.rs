//! A live event segment (a notifier and two listeners on a sealed memfd; `max_ids` from the
//! first input byte) whose shared state — the live mask, the listener records (owners, futex
//! words, waiting flags, signal numbers) and the bitmaps — is overwritten with fuzzer bytes
//! between operations. The handles must only ever return ids below `max_ids`, ascending and
//! once each, or clean errors: no panic, no out-of-bounds access, no hang. A scribbled signal
//! number can make the notifier queue a realtime signal to this process (whose listeners'
//! records hold its pid): they are ignored here, as a hostile peer of the same user could
//! send them itself.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use shmring::Location;
use shmring::event::{Listener, Notifier, NotifyError, TryWaitError, WaitError};
use shmring_fuzz::{memfd_descriptors, scribble};

fn ignore_realtime_signals() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for sig in shmring::event::realtime_signals() {
            // SAFETY: SIG_IGN for a realtime signal; no handler code runs.
            unsafe { libc::signal(sig, libc::SIG_IGN) };
        }
    });
}

fn check(ids: &[u32], max_ids: u32) {
    assert!(ids.iter().all(|&id| id < max_ids), "{ids:?} of {max_ids}");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}

fuzz_target!(|data: &[u8]| {
    ignore_realtime_signals();
    let Some((&first, data)) = data.split_first() else {
        return;
    };
    let max_ids = u32::from(first) + 1;
    let notifier = Notifier::create(Location::memfd("fuzz-event"), u64::from(max_ids))
        .expect("create memfd event segment");
    let (fd, file) = memfd_descriptors(notifier.segment());
    let mut listeners = [
        Listener::open(Location::Fd(fd.try_clone().expect("dup"))).ok(),
        Listener::open(Location::Fd(fd)).ok(),
    ];
    let area_len = notifier.segment().info().area_size as usize;
    let mut bytes = data.iter().copied();
    while let Some(op) = bytes.next() {
        let arg = bytes.next().unwrap_or(0);
        let which = usize::from(op >> 7);
        match op % 5 {
            0 => match notifier.notify(u32::from(arg)) {
                Ok(()) => assert!(u32::from(arg) < max_ids),
                Err(NotifyError::OutOfRange { id, .. }) => assert!(id >= max_ids),
                Err(_) => {}
            },
            1 => {
                if let Some(l) = &mut listeners[which] {
                    let r = if arg & 1 == 0 {
                        l.try_wait().map_err(|e| e == TryWaitError::Corrupted)
                    } else {
                        l.wait_timeout(Duration::ZERO)
                            .map_err(|e| e == WaitError::Corrupted)
                    };
                    if let Ok(set) = r {
                        assert!(!set.is_empty());
                        check(set.as_slice(), max_ids);
                    }
                }
            }
            // Scribble 8 fuzzer bytes at an 8-aligned offset of the area.
            2 => scribble(&file, &mut bytes, arg, area_len),
            3 => {
                // A listener leaves, or joins again.
                listeners[which] = match listeners[which].take() {
                    Some(_) => None,
                    None => notifier.subscribe().ok(),
                };
            }
            _ => {
                let _ = notifier.listeners();
                if let Some(l) = &mut listeners[which] {
                    let _ = l.register_readiness();
                    l.cancel_readiness();
                }
            }
        }
    }
});
