//! Events between real processes: notifier processes and listener processes each seeing
//! every id; a listener killed with SIGKILL (asleep) never blocking a notifier, its record
//! freed; notifier processes SIGKILLed at random points mid-notify never losing another
//! notifier's notification; a signal-driven listener process woken by realtime signals whose
//! value is the id, and a full signal queue reported to the notifier while the id is kept.

use shmring_test_support as common;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Rng, Unlink, child, unique_name, wait_for_line};
use shmring::event::{Listener, Notifier, NotifyError, TryWaitError};

/// The tests spin several processes; on a 2-core machine they run one at a time.
static HEAVY: Mutex<()> = Mutex::new(());

const IDS: u32 = 2048;
const SIGNAL_OFFSET: i32 = 3;

/// Bit `id` set by the signal handler of a signal-driven child (ids below 64).
static SIGNALLED: AtomicU64 = AtomicU64::new(0);
/// Signals the handler ran for.
static SIGNALS: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_signal(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler; only atomics are
    // touched here (async-signal-safe).
    let id = unsafe { (*info).si_value().sival_ptr } as usize as u64;
    SIGNALLED.fetch_or(1 << (id % 64), Ordering::SeqCst);
    SIGNALS.fetch_add(1, Ordering::SeqCst);
}

fn signal() -> i32 {
    libc::SIGRTMIN() + SIGNAL_OFFSET
}

#[test]
fn child_entry() {
    common::run_child(|role, name| match role {
        // Notifies every id in [from, to) `rounds` times, then exits.
        "notifier" => {
            let range: Vec<u32> = std::env::var("EVENT_RANGE")
                .unwrap()
                .split(',')
                .map(|s| s.parse().unwrap())
                .collect();
            let n = Notifier::open(name.as_str()).unwrap();
            for _ in 0..range[2] {
                for id in range[0]..range[1] {
                    n.notify(id).unwrap();
                }
            }
        }
        // Notifies ids 0..32 until killed.
        "hammer" => {
            let n = Notifier::open(name.as_str()).unwrap();
            println!("READY");
            let mut i = 0u32;
            loop {
                n.notify(i % 32).unwrap();
                i = i.wrapping_add(1);
            }
        }
        // Waits until it has every id, then reports how many waits that took.
        "listener" => {
            let mut l = Listener::open(name.as_str()).unwrap();
            println!("READY");
            let mut seen = vec![false; IDS as usize];
            let mut left = IDS;
            let mut waits = 0;
            while left > 0 {
                for id in l.wait_timeout(common::WATCHDOG).expect("every id comes") {
                    assert!(!seen[id as usize] || id < IDS, "{id}");
                    if !seen[id as usize] {
                        seen[id as usize] = true;
                        left -= 1;
                    }
                }
                waits += 1;
            }
            println!("RESULT {waits}");
        }
        // Sleeps in a wait until killed.
        "sleeper" => {
            let mut l = Listener::open(name.as_str()).unwrap();
            println!("READY");
            let _ = l.wait_timeout(common::WATCHDOG);
        }
        // A signal-driven loop: the handler collects the ids signalled (0..64); once it has
        // `EVENT_EXPECT` of them — or, with `EVENT_SIGPENDING` (a queue limit of 2 more
        // signals), once the parent says GO — takes the ids with try_wait and reports both.
        "signalled" => {
            let want: u32 = std::env::var("EVENT_EXPECT").unwrap().parse().unwrap();
            // SAFETY: installs a handler that only touches atomics; the sigaction struct is
            // fully initialised (zeroed, then the fields set).
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
                assert_eq!(libc::sigaction(signal(), &action, std::ptr::null_mut()), 0);
            }
            let limited = std::env::var("EVENT_SIGPENDING").is_ok();
            let isolated = limited && limit_pending_signals(2);
            let mut l = Listener::options()
                .signal(signal())
                .open(name.as_str())
                .unwrap();
            assert_eq!(l.signal(), Some(signal()));
            println!("READY");
            if limited {
                // The parent stops this process, notifies, continues it, then says GO: the
                // signals queued meanwhile are handled before this thread runs again.
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).unwrap();
                assert_eq!(line.trim(), "GO");
            } else {
                let until = Instant::now() + common::WATCHDOG / 2;
                while SIGNALLED.load(Ordering::SeqCst).count_ones() < want {
                    assert!(Instant::now() < until, "signals never came");
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            let taken: Vec<u32> = l.try_wait().unwrap().into_iter().collect();
            let signalled = SIGNALLED.load(Ordering::SeqCst);
            eprintln!(
                "RESULT {signalled} {} {} {}",
                SIGNALS.load(Ordering::SeqCst),
                taken.iter().fold(0u64, |m, id| m | 1 << id),
                u64::from(isolated)
            );
        }
        other => panic!("unknown role {other}"),
    });
}

/// Lets at most `extra` more realtime signals be queued to this process.
///
/// `RLIMIT_SIGPENDING` counts the signals pending for every process of the same real user, so
/// a machine where other processes of that user hold queued signals (a CI runner's) would
/// refuse all of them. As root, the process takes a real uid of its own first (the effective
/// uid stays 0), so only its own signals count: returns `true`. Otherwise the limit is set to
/// the user's current count (`SigQ` in /proc/self/status) plus `extra`: returns `false`.
fn limit_pending_signals(extra: u64) -> bool {
    // SAFETY: getpid/geteuid/setresuid have no memory arguments; glibc applies setresuid to
    // every thread of the process.
    let isolated = unsafe {
        let uid = 3_000_000 + libc::getpid() as libc::uid_t % 1_000_000;
        libc::geteuid() == 0 && libc::setresuid(uid, 0, 0) == 0
    };
    let queued = if isolated {
        0
    } else {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("SigQ:")).unwrap();
        let count = line["SigQ:".len()..].trim().split('/').next().unwrap();
        count.parse::<u64>().unwrap()
    };
    let r = libc::rlimit {
        rlim_cur: queued + extra,
        rlim_max: queued + extra,
    };
    // SAFETY: a valid rlimit for the call's duration.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_SIGPENDING, &r) }, 0);
    isolated
}

fn kill(child: &mut std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn notifier_processes_reach_every_listener_process() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let name = unique_name("event-procs");
    let _u = Unlink(name.clone());
    let _keep = Notifier::create(name.as_str(), u64::from(IDS)).unwrap();
    let mut listeners: Vec<_> = (0..2)
        .map(|_| {
            let mut c = child("child_entry", "listener", &name).spawn().unwrap();
            wait_for_line(&mut c, "READY");
            c
        })
        .collect();
    let half = IDS / 2;
    let notifiers: Vec<_> = [(0, half), (half, IDS)]
        .into_iter()
        .map(|(from, to)| {
            child("child_entry", "notifier", &name)
                .env("EVENT_RANGE", format!("{from},{to},3"))
                .spawn()
                .unwrap()
        })
        .collect();
    for n in notifiers {
        common::expect_success(n);
    }
    for l in listeners.drain(..) {
        let out = common::expect_success(l);
        assert!(String::from_utf8_lossy(&out.stderr).is_empty() || out.status.success());
    }
}

#[test]
fn a_listener_killed_asleep_never_blocks_a_notifier_and_its_record_is_freed() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let name = unique_name("event-killed-listener");
    let _u = Unlink(name.clone());
    let notifier = Notifier::create(name.as_str(), 64).unwrap();
    let mut sleepers: Vec<_> = (0..3)
        .map(|_| {
            let mut c = child("child_entry", "sleeper", &name).spawn().unwrap();
            wait_for_line(&mut c, "READY");
            c
        })
        .collect();
    let mut mine = Listener::open(name.as_str()).unwrap();
    assert_eq!(notifier.listeners(), 4);
    // Kill them in their sleep (the segment's table says when all three sleep).
    let until = Instant::now() + common::WATCHDOG;
    loop {
        let r = shmring::inspect::inspect(&name).unwrap();
        let asleep = r
            .participants
            .iter()
            .filter(|p| p.state == Some("sleeping"))
            .count();
        if asleep == 3 {
            break;
        }
        assert!(Instant::now() < until, "the listeners never fell asleep");
        std::thread::sleep(Duration::from_millis(5));
    }
    for c in &mut sleepers {
        kill(c);
    }
    // Notifying never waits; the dead listeners' records are freed within a few liveness
    // periods of wake-ups.
    let until = Instant::now() + common::WATCHDOG;
    let mut rounds = 0u64;
    while notifier.listeners() > 1 {
        assert!(Instant::now() < until, "dead listeners never freed");
        notifier.notify((rounds % 64) as u32).unwrap();
        rounds += 1;
        if rounds % 1000 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    assert_eq!(mine.wait().unwrap().len(), rounds.min(64) as usize);
}

#[test]
fn notifiers_killed_mid_notify_never_lose_another_notifiers_notification() {
    const ROUNDS: u64 = 3_000;
    const ID: u32 = 40;
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let name = unique_name("event-killed-notifier");
    let _u = Unlink(name.clone());
    let notifier = Notifier::create(name.as_str(), 64).unwrap();
    let mut listener = Listener::open(name.as_str()).unwrap();
    let taken = std::sync::Arc::new(AtomicU64::new(0));
    // The listener thread counts the rounds in which id 40 arrived.
    let counter = {
        let taken = taken.clone();
        std::thread::spawn(move || {
            while taken.load(Ordering::Relaxed) < ROUNDS {
                let set = listener
                    .wait_timeout(common::WATCHDOG)
                    .expect("a notification of id 40 was lost");
                assert!(set.iter().all(|id| id < 32 || id == ID), "{set:?}");
                if set.contains(ID) {
                    taken.fetch_add(1, Ordering::Release);
                }
            }
        })
    };
    // A hammering notifier process, killed at random moments and started again.
    let mut rng = Rng::new();
    let mut hammer = child("child_entry", "hammer", &name).spawn().unwrap();
    wait_for_line(&mut hammer, "READY");
    let mut kills = 0;
    for round in 0..ROUNDS {
        notifier.notify(ID).unwrap();
        let until = Instant::now() + common::WATCHDOG;
        while taken.load(Ordering::Acquire) <= round {
            assert!(Instant::now() < until, "round {round}: id {ID} never taken");
            std::thread::yield_now();
        }
        if rng.below(100) == 0 {
            std::thread::sleep(Duration::from_micros(rng.below(2000)));
            kill(&mut hammer);
            kills += 1;
            hammer = child("child_entry", "hammer", &name).spawn().unwrap();
            wait_for_line(&mut hammer, "READY");
        }
    }
    kill(&mut hammer);
    counter.join().unwrap();
    assert!(kills > 0);
}

/// The numbers of a signal-driven child's RESULT line: ids signalled (bitmask), signals
/// handled, ids taken (bitmask), whether its signal queue was its own (1) or its user's (0).
fn signalled_result(child: std::process::Child) -> [u64; 4] {
    let n = common::stderr_result_numbers(child);
    [n[0], n[1], n[2], n[3]]
}

#[test]
fn a_signal_driven_listener_is_woken_with_the_id_as_the_signal_value() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let name = unique_name("event-signal");
    let _u = Unlink(name.clone());
    let notifier = Notifier::create(name.as_str(), 64).unwrap();
    let mut c = child("child_entry", "signalled", &name)
        .env("EVENT_EXPECT", "3")
        .spawn()
        .unwrap();
    wait_for_line(&mut c, "READY");
    for id in [5, 17, 5, 63] {
        notifier.notify(id).unwrap();
    }
    let [signalled, signals, taken, _] = signalled_result(c);
    let want = 1 << 5 | 1 << 17 | 1 << 63;
    assert_eq!(signalled, want, "the signal values are the ids");
    assert_eq!(signals, 3, "id 5 notified twice while pending: one signal");
    assert_eq!(taken, want);
}

#[test]
fn a_full_signal_queue_is_reported_and_the_ids_are_kept() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let name = unique_name("event-signal-full");
    let _u = Unlink(name.clone());
    let notifier = Notifier::create(name.as_str(), 64).unwrap();
    let mut c = child("child_entry", "signalled", &name)
        .env("EVENT_EXPECT", "0")
        .env("EVENT_SIGPENDING", "2")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_line(&mut c, "READY");
    let pid = nix::unistd::Pid::from_raw(c.id() as i32);
    // Stopped, the child cannot take its signals: they stay queued until the limit.
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let mut sent = 0u64;
    for id in 0..20 {
        match notifier.notify(id) {
            Ok(()) => sent |= 1 << id,
            Err(NotifyError::SignalQueueFull { pid: p, signal: s }) => {
                assert_eq!((p, s), (c.id(), signal()));
            }
            Err(e) => panic!("{e}"),
        }
    }
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    {
        use std::io::Write;
        let mut stdin = c.stdin.take().unwrap();
        stdin.write_all(b"GO\n").unwrap();
    }
    let [signalled, signals, taken, isolated] = signalled_result(c);
    let full = 20 - sent.count_ones();
    if isolated == 1 {
        assert_eq!(
            full,
            18,
            "a limit of 2 queued signals let {} through",
            20 - full
        );
    } else {
        // The queue limit counts the user's other pending signals too: some refused is all
        // that can be said.
        assert!(
            full >= 1,
            "none of 20 refused with a limit of 2 more queued"
        );
    }
    assert_eq!(
        signalled, sent,
        "a signal for each notify that was not refused"
    );
    assert_eq!(signals, u64::from(sent.count_ones()));
    assert_eq!(taken, (1 << 20) - 1, "every id kept for try_wait");
    let err = NotifyError::SignalQueueFull { pid: 1, signal: 40 };
    assert!(err.to_string().contains("RLIMIT_SIGPENDING"), "{err}");
}

#[test]
fn try_wait_on_an_empty_segment_is_empty() {
    let (_n, mut l) = shmring::event::channel(8).unwrap();
    assert_eq!(l.try_wait(), Err(TryWaitError::Empty));
}
