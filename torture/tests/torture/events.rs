//! Event segments (`shmring::event`) under kills and scribbles: notifier and listener
//! processes SIGKILLed at random while a witness notification crosses from this process to a
//! steady listener process each round (a lost notification or wake-up is a hang); afterwards
//! the table still seats 64 listeners (dead records are freed). And a scribbler overwriting
//! the live segment while honest notifier and listener processes run: they may see garbage
//! ids (below `max_ids`) or `Corrupted`, never crash or hang.

#[allow(unused_imports)]
use super::*;

use shmring::event::{Listener, Notifier, TryWaitError, WaitError};

/// Ids of the segment; the hammering notifiers use `0..32`, the witness `WITNESS`.
const IDS: u64 = 64;
const WITNESS: u32 = 63;

/// A child in an event role, with the ledger.
fn spawn_event(role: &str, name: &str, ledger: &Ledger, hostile: bool) -> Guard {
    let mut cmd = common::child("child_entry", role, name);
    cmd.env(LEDGER_VAR, &ledger.path)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if hostile {
        cmd.env(HOSTILE_VAR, "1");
    }
    Guard(cmd.spawn().unwrap())
}

/// A scribbled signal number can make a notifier signal an honest process: they ignore
/// realtime signals (a hostile peer of the same user could send them itself).
fn ignore_realtime_signals() {
    for sig in shmring::event::realtime_signals() {
        // SAFETY: SIG_IGN for a realtime signal; no handler code runs.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
}

/// Notifies ids `0..32` until told to stop (or killed).
pub(super) fn event_notifier(name: &str, hostile: bool) {
    let ledger = Ledger::from_env();
    if hostile {
        ignore_realtime_signals();
    }
    let n = match Notifier::open(name) {
        Ok(n) => n,
        Err(e) if hostile => return eprintln!("hostile event notifier: open: {e}"),
        Err(e) => panic!("open: {e}"),
    };
    let mut i = 0u32;
    while ledger.get(STOP_PRODUCERS) == 0 {
        match n.notify(i % 32) {
            Ok(()) => {}
            Err(_) if hostile => ledger.bump(CORRUPTED),
            Err(e) => panic!("an honest event segment: {e}"),
        }
        i = i.wrapping_add(1);
        if i % 256 == 0 {
            std::thread::yield_now();
        }
    }
}

/// Waits for ids until told to stop; the steady one (`witness`) counts the rounds in which
/// the witness id came.
pub(super) fn event_listener(name: &str, hostile: bool, witness: bool) {
    let ledger = Ledger::from_env();
    if hostile {
        ignore_realtime_signals();
    }
    let mut l = match Listener::open(name) {
        Ok(l) => l,
        Err(e) if hostile => return eprintln!("hostile event listener: open: {e}"),
        Err(e) => panic!("open: {e}"),
    };
    if witness {
        ledger.bump(ATTACHED);
    }
    while ledger.get(STOP_CONSUMERS) == 0 {
        match l.wait_timeout(Duration::from_millis(20)) {
            Ok(set) => {
                if set.iter().any(|id| u64::from(id) >= IDS) {
                    panic!("an id out of range: {set:?}");
                }
                if !hostile && set.iter().any(|id| id >= 32 && id != WITNESS) {
                    panic!("never notified: {set:?}");
                }
                if hostile {
                    ledger.bump(GARBAGE);
                }
                if witness && set.contains(WITNESS) {
                    ledger.bump(RECEIVED);
                }
            }
            Err(WaitError::Timeout) => {}
            Err(WaitError::Corrupted) if hostile => {
                ledger.bump(CORRUPTED);
                assert_eq!(l.try_wait(), Err(TryWaitError::Corrupted));
                while ledger.get(STOP_CONSUMERS) == 0 {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            Err(e) => panic!("an honest event segment: {e}"),
        }
    }
}

#[derive(Debug, Default)]
struct EventFigures {
    rounds: u64,
    kills: u64,
    notifier_kills: u64,
    listener_kills: u64,
    hangs: u64,
}

#[test]
fn kill_torture_events() {
    let duration = phase(6, 120);
    let name = unique_name("torture-kill-event");
    let _u = Unlink(name.clone());
    let witness = Notifier::create(name.as_str(), IDS).unwrap();
    let ledger = Ledger::create();
    let mut fig = EventFigures::default();
    let mut steady = spawn_event("event-witness", &name, &ledger, false);
    let deadline = Instant::now() + common::WATCHDOG;
    while ledger.get(ATTACHED) == 0 {
        assert!(Instant::now() < deadline, "the witness never attached");
        std::thread::sleep(Duration::from_millis(1));
    }
    // Slots 0 and 1 hammer ids, slots 2 and 3 listen: all are killed at random.
    let role = |v: usize| {
        if v < 2 {
            "event-notifier"
        } else {
            "event-listener"
        }
    };
    let mut procs: Vec<Guard> = (0..4)
        .map(|v| spawn_event(role(v), &name, &ledger, false))
        .collect();
    let mut rng = Rng::new();
    let start = Instant::now();
    while start.elapsed() < duration {
        // A witness round: notify, and wait for the steady listener to have taken it.
        let before = ledger.get(RECEIVED);
        witness.notify(WITNESS).unwrap();
        let until = Instant::now() + common::WATCHDOG;
        while ledger.get(RECEIVED) == before {
            if Instant::now() > until {
                fig.hangs += 1;
                break;
            }
            std::thread::yield_now();
        }
        assert_eq!(fig.hangs, 0, "witness round {} lost: {fig:?}", fig.rounds);
        fig.rounds += 1;
        if rng.below(8) == 0 {
            let v = rng.below(procs.len() as u64) as usize;
            let status = kill(&mut procs[v]);
            if status.signal() != Some(libc::SIGKILL) {
                assert_clean(status, "an event process");
            }
            fig.kills += 1;
            if v < 2 {
                fig.notifier_kills += 1;
            } else {
                fig.listener_kills += 1;
            }
            procs[v] = spawn_event(role(v), &name, &ledger, false);
        }
    }
    ledger.set(STOP_PRODUCERS, 1);
    ledger.set(STOP_CONSUMERS, 1);
    let deadline = Instant::now() + STOP_WATCHDOG;
    for p in procs.iter_mut().chain(std::iter::once(&mut steady)) {
        match wait_until(p, deadline) {
            Some(status) => assert_clean(status, "an event process"),
            None => fig.hangs += 1,
        }
    }
    // Every killed listener's record is freed when the table is needed.
    let seats: Vec<Listener> = (0..shmring::event::layout::LISTENERS)
        .map(|i| Listener::open(name.as_str()).unwrap_or_else(|e| panic!("seat {i}: {e}")))
        .collect();
    println!(
        "TORTURE kill event secs={:.1} {fig:?}",
        start.elapsed().as_secs_f64()
    );
    assert_eq!(fig.hangs, 0, "{fig:?}");
    assert!(fig.kills > 0 && fig.rounds > 0, "{fig:?}");
    assert_eq!(seats.len(), 64);
}

#[test]
fn hostile_peer_events() {
    let duration = phase(6, 60);
    let ledger = Ledger::create();
    let mut rng = Rng::new();
    let mut fig = HostileFigures::default();
    let start = Instant::now();
    while start.elapsed() < duration {
        let name = unique_name("torture-hostile-event");
        let _u = Unlink(name.clone());
        drop(Notifier::create(name.as_str(), IDS).unwrap());
        ledger.set(STOP_PRODUCERS, 0);
        ledger.set(STOP_CONSUMERS, 0);
        let mut honest = [
            spawn_event("event-listener", &name, &ledger, true),
            spawn_event("event-notifier", &name, &ledger, true),
        ];
        std::thread::sleep(Duration::from_millis(5 + rng.below(20)));
        let mut scribbler = spawn_event("hostile", &name, &ledger, false);
        std::thread::sleep(Duration::from_millis(50 + rng.below(250)));
        ledger.set(STOP_PRODUCERS, 1);
        ledger.set(STOP_CONSUMERS, 1);
        let deadline = Instant::now() + STOP_WATCHDOG;
        for child in &mut honest {
            match wait_until(child, deadline) {
                Some(status) if status.success() => {}
                Some(status) => {
                    fig.crashes += 1;
                    eprintln!("an honest event process on a scribbled segment: {status:?}");
                }
                None => fig.hangs += 1,
            }
        }
        assert_clean(
            wait_until(&mut scribbler, deadline).expect("scribbler hung"),
            "the scribbler",
        );
        fig.rounds += 1;
    }
    fig.hostile_writes = ledger.get(HOSTILE_WRITES);
    fig.messages = ledger.get(GARBAGE);
    fig.corrupted_reports = ledger.get(CORRUPTED);
    println!(
        "TORTURE hostile event secs={:.1} {fig:?}",
        start.elapsed().as_secs_f64()
    );
    assert_eq!((fig.crashes, fig.hangs), (0, 0), "{fig:?}");
    assert!(fig.hostile_writes > 0 && fig.rounds > 0, "{fig:?}");
}
