//! loom model of the event protocol (`shmring/src/event/board.rs`, the same code as on a
//! mapped segment): two notifiers and one listener that sleeps — no notification is lost and
//! no wake-up is missed (a lost wake-up is a deadlock loom reports); ids notified twice before
//! a wait are seen once. Run with `RUSTFLAGS="--cfg shmring_loom" LOOM_MAX_PREEMPTIONS=2
//! cargo test --release -p shmring --test loom_event` (`ci/loom.sh`). Without the cfg this
//! file is empty.
#![cfg(shmring_loom)]

use loom::thread;
use shmring::event;

fn check(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.max_branches = 20_000;
    builder.check(f);
}

/// Two notifiers (ids 1 and 2) and a blocking listener: it sees both, however the steps
/// interleave, and only ids that were notified.
#[test]
fn two_notifiers_one_sleeping_listener_no_lost_wake_up() {
    check(|| {
        let (a, mut listener) = event::channel(128).unwrap();
        let b = a.clone();
        let ta = thread::spawn(move || a.notify(1).unwrap());
        let tb = thread::spawn(move || b.notify(2).unwrap());
        let mut seen = Vec::new();
        while seen.len() < 2 {
            for id in listener.wait().unwrap() {
                assert!(id == 1 || id == 2, "never notified: {id}");
                assert!(!seen.contains(&id), "{id} seen twice");
                seen.push(id);
            }
        }
        ta.join().unwrap();
        tb.join().unwrap();
    });
}

/// Two notifiers of the same id in different bitmap words' summary: the listener waits until
/// it has seen the id, and sees it once or twice (once per wait at most), never lost.
#[test]
fn the_same_id_from_two_notifiers_is_seen() {
    check(|| {
        let (a, mut listener) = event::channel(128).unwrap();
        let b = a.clone();
        let ta = thread::spawn(move || a.notify(100).unwrap());
        let tb = thread::spawn(move || b.notify(100).unwrap());
        ta.join().unwrap();
        tb.join().unwrap();
        assert_eq!(listener.wait().unwrap().as_slice(), [100]);
        assert!(listener.try_wait().is_err(), "coalesced: seen once");
    });
}

/// A notifier racing the listener's take: an id notified while the listener takes is
/// either in this wait's set or the next — the listener waits for it and finds it.
#[test]
fn an_id_notified_during_a_take_is_not_lost() {
    check(|| {
        let (a, mut listener) = event::channel(128).unwrap();
        a.notify(3).unwrap();
        let b = a.clone();
        let t = thread::spawn(move || b.notify(70).unwrap());
        let mut seen = Vec::new();
        while !seen.contains(&70) {
            seen.extend(listener.wait().unwrap());
        }
        assert!(seen.contains(&3));
        t.join().unwrap();
    });
}
