//! The event benchmark (docs/benchmarks.md, "Events"):
//!
//! * **notify with nobody waiting**: ns per `Notifier::notify` with no listener, with one
//!   listener attached (not waiting) and the id already pending, and with a new id each time
//!   (the listener takes the ids between timed batches), against a bare `fetch_or` on a
//!   shared word;
//! * **round trip with a sleeping listener**: two processes on two cores, each a listener
//!   that always sleeps (no spinning) on its own event segment and the other's notifier —
//!   against a raw futex ping-pong of the same two processes (each side increments a shared
//!   word, `FUTEX_WAKE`s it and `FUTEX_WAIT`s on the other's), alternating in short slices
//!   (event, raw, raw, event, …) and reporting the median per-pair ratio with its spread.
//!
//! `cargo run --release -p shmring --example event_bench -- [PAIRS] [ROUND_TRIPS_PER_SLICE]`

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use shmring::event::{Listener, Notifier};
use shmring::{RingKind, Segment, SegmentOptions, WaitStrategy};

/// A listener that never spins: every wait that finds nothing sleeps on the futex.
const ASLEEP: WaitStrategy = WaitStrategy::Blocking { spin: 0, yields: 0 };
const WATCHDOG: Duration = Duration::from_secs(60);

fn pin(core: usize) {
    // SAFETY: a zeroed cpu_set_t with one bit set, valid for the call.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: `word` is a live aligned u32 in a shared mapping; FUTEX_WAIT reads it only.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

fn futex_wake(word: &AtomicU32) {
    // SAFETY: as above; FUTEX_WAKE uses the address only.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, 1);
    }
}

/// The two words of the raw ping-pong, in a raw segment both processes map.
fn words(seg: &Segment) -> (&AtomicU32, &AtomicU32) {
    let base = seg.area_ptr().as_ptr();
    // SAFETY: the raw segment's area holds at least 128 bytes, page-aligned; the words are
    // 64 bytes apart and only accessed atomically; the segment outlives the borrow.
    unsafe {
        (
            &*base.cast::<AtomicU32>(),
            &*base.add(64).cast::<AtomicU32>(),
        )
    }
}

/// One side's raw ping-pong: `n` round trips (the pinger sends first).
fn raw(mine: &AtomicU32, theirs: &AtomicU32, n: u64, pinger: bool) {
    let mut seen = theirs.load(Ordering::Acquire);
    for _ in 0..n {
        if pinger {
            mine.fetch_add(1, Ordering::Release);
            futex_wake(mine);
        }
        let until = Instant::now() + WATCHDOG;
        while theirs.load(Ordering::Acquire) == seen {
            futex_wait(theirs, seen);
            assert!(Instant::now() < until, "raw ping-pong hung");
        }
        seen = theirs.load(Ordering::Acquire);
        if !pinger {
            mine.fetch_add(1, Ordering::Release);
            futex_wake(mine);
        }
    }
}

/// One side's event ping-pong: `n` round trips.
fn events(mine: &Notifier, theirs: &mut Listener, n: u64, pinger: bool) {
    for _ in 0..n {
        if pinger {
            mine.notify(1).unwrap();
        }
        theirs.wait_timeout(WATCHDOG).expect("event ping-pong hung");
        if !pinger {
            mine.notify(1).unwrap();
        }
    }
}

/// Whether slice `i` of pair `p` is the event one (pairs alternate which goes first).
fn event_first(p: usize) -> bool {
    p % 2 == 0
}

fn names(tag: &str) -> [String; 3] {
    ["ab", "ba", "raw"].map(|s| format!("shmring-event-bench-{tag}-{s}"))
}

fn peer(tag: &str, pairs: usize, n: u64) {
    pin(1);
    let [ab, ba, raw_name] = names(tag);
    let mut listen = Listener::open(ab.as_str())
        .unwrap()
        .with_wait_strategy(ASLEEP);
    let notify = Notifier::open(ba.as_str()).unwrap();
    let seg = SegmentOptions::new(RingKind::Raw)
        .payload::<u64>()
        .open(raw_name.as_str())
        .unwrap();
    let (ping, pong) = words(&seg);
    println!("READY");
    for p in 0..pairs {
        for event in [event_first(p), !event_first(p)] {
            if event {
                events(&notify, &mut listen, n + 100, false);
            } else {
                raw(pong, ping, n + 100, false);
            }
        }
    }
}

/// ns per call of `f` over `iters` calls.
fn per_call(iters: u64, mut f: impl FnMut(u64)) -> f64 {
    let start = Instant::now();
    for i in 0..iters {
        f(i);
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

fn notify_costs() {
    const ITERS: u64 = 20_000_000;
    let (notifier, listener) = shmring::event::channel(4096).unwrap();
    let word = AtomicU64::new(0);
    let bare = per_call(ITERS, |i| {
        word.fetch_or(1 << (i % 64), Ordering::SeqCst);
    });
    let pending = {
        notifier.notify(7).unwrap();
        per_call(ITERS, |_| notifier.notify(7).unwrap())
    };
    // New ids each time: 64 notifies per timed batch, the listener taking them between.
    let mut listener = listener;
    let mut fresh_ns = 0.0;
    let batches = ITERS / 64;
    for b in 0..batches {
        let base = (b % 64) as u32 * 64;
        let start = Instant::now();
        for id in base..base + 64 {
            notifier.notify(id).unwrap();
        }
        fresh_ns += start.elapsed().as_nanos() as f64;
        let _ = listener.try_wait();
    }
    let fresh = fresh_ns / (batches * 64) as f64;
    drop(listener);
    let nobody = per_call(ITERS, |i| notifier.notify((i % 4096) as u32).unwrap());
    println!("notify, nobody waiting (ns per call, {ITERS} calls each):");
    println!("  bare fetch_or on a shared word       {bare:6.2}");
    println!("  no listener attached                 {nobody:6.2}");
    println!("  one listener, the id already pending {pending:6.2}");
    println!("  one listener, a new id each time     {fresh:6.2}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("peer") {
        let n = |i: usize| args[i].parse::<u64>().unwrap();
        return peer(&args[2], n(3) as usize, n(4));
    }
    let pairs: usize = args.get(1).map_or(9, |a| a.parse().unwrap());
    let n: u64 = args.get(2).map_or(20_000, |a| a.parse().unwrap());
    pin(0);
    notify_costs();

    let tag = std::process::id().to_string();
    let [ab, ba, raw_name] = names(&tag);
    let notify = Notifier::create(ab.as_str(), 64).unwrap();
    let mut listen = Listener::create(ba.as_str(), 64)
        .unwrap()
        .with_wait_strategy(ASLEEP);
    let seg = SegmentOptions::new(RingKind::Raw)
        .payload::<u64>()
        .capacity(32)
        .create(raw_name.as_str())
        .unwrap();
    let (ping, pong) = words(&seg);
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["peer", &tag, &pairs.to_string(), &n.to_string()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "READY");
    }
    let mut ratios = Vec::new();
    let (mut ev_all, mut raw_all) = (Vec::new(), Vec::new());
    for p in 0..pairs {
        let mut us = [0.0f64; 2]; // [event, raw]
        for event in [event_first(p), !event_first(p)] {
            // 100 warm-up round trips, then n timed.
            let time = |f: &mut dyn FnMut(u64)| {
                f(100);
                let start = Instant::now();
                f(n);
                start.elapsed().as_nanos() as f64 / n as f64 / 1000.0
            };
            if event {
                us[0] = time(&mut |k| events(&notify, &mut listen, k, true));
            } else {
                us[1] = time(&mut |k| raw(ping, pong, k, true));
            }
        }
        println!(
            "pair {p}: event {:.2} µs, raw futex {:.2} µs, ratio {:.3}",
            us[0],
            us[1],
            us[0] / us[1]
        );
        ratios.push(us[0] / us[1]);
        ev_all.push(us[0]);
        raw_all.push(us[1]);
    }
    assert!(child.wait().unwrap().success());
    for name in [ab, ba, raw_name] {
        let _ = Segment::unlink_name(&name);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (lo, hi) = (
        ratios.iter().copied().fold(f64::MAX, f64::min),
        ratios.iter().copied().fold(0.0, f64::max),
    );
    println!(
        "round trip with a sleeping listener, mean per round trip over {n} per slice, {pairs} pairs:"
    );
    println!(
        "  event {:.2} µs, raw futex ping-pong {:.2} µs (medians); event ÷ raw: median {:.3}, \
         spread {lo:.3}–{hi:.3}",
        median(&mut ev_all),
        median(&mut raw_all),
        median(&mut ratios)
    );
}
