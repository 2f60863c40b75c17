//! Soak (part 5 of the suite): many processes for a long time; memory, descriptors and segments
//! must not grow.

#[allow(unused_imports)]
use super::*;

// ------------------------------------------------------------------------------ 5. soak

pub(super) fn soak_producer(kind: Kind, name: &str) {
    let ledger = Ledger::from_env();
    let p: u64 = std::env::var(INCARNATION_VAR).unwrap().parse().unwrap();
    let stop = || ledger.get(STOP_PRODUCERS) != 0;
    let mut tx = Tx::open(kind, name, false, stop).unwrap_or_else(|_| panic!("open"));
    // A broadcast writer keeps what it sends before a receiver attaches only as history: its
    // consumer, started at the same moment, must be there first to see every number.
    while tx.receivers() == Some(0) && !stop() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut buf = Vec::new();
    let mut s = 0u64;
    while !stop() {
        match tx.send(p, s, &mut buf) {
            Outcome::Done(_) => {
                s += 1;
                if s % 256 == 0 {
                    ledger.commit(p, s);
                }
            }
            Outcome::Again | Outcome::Lagged(_) => {}
            // Not attached yet (the soak starts every process at once).
            Outcome::Gone => std::thread::sleep(Duration::from_millis(1)),
            Outcome::Corrupted => panic!("an honest ring reported corruption"),
        }
    }
    ledger.commit(p, s);
}

/// Checks every message in order per producer (one consumer per ring in the soak, so
/// exactly-once is "each producer's numbers without a gap or a repeat").
pub(super) fn soak_consumer(kind: Kind, name: &str) {
    let ledger = Ledger::from_env();
    let stop = || ledger.get(STOP_CONSUMERS) != 0;
    let mut rx = Rx::open(kind, name, false, stop).unwrap_or_else(|_| panic!("open"));
    let mut next = std::collections::HashMap::<u64, u64>::new();
    let mut buf = Vec::new();
    let mut local = 0u64;
    loop {
        match rx.recv(&mut buf) {
            Outcome::Done(Some((p, s))) => {
                let n = next.entry(p).or_insert(0);
                if s != *n {
                    ledger.bump(OUT_OF_ORDER);
                }
                *n = s + 1;
                local += 1;
                if local % 4096 == 0 {
                    ledger.word(RECEIVED).fetch_add(4096, Ordering::AcqRel);
                }
            }
            Outcome::Done(None) => ledger.bump(TORN),
            // One lossless writer: a receiver is never overtaken.
            Outcome::Lagged(_) => ledger.bump(OUT_OF_ORDER),
            Outcome::Again => {}
            Outcome::Gone if stop() => break,
            Outcome::Gone => std::thread::sleep(Duration::from_millis(1)),
            Outcome::Corrupted => panic!("an honest ring reported corruption"),
        }
    }
    ledger
        .word(RECEIVED)
        .fetch_add(local % 4096, Ordering::AcqRel);
    // Every producer's last number was received.
    for (p, n) in next {
        if ledger.get(COMMITTED + p as usize) != n {
            ledger.bump(DUPLICATED); // a count mismatch: lost or repeated at the end
        }
    }
}

/// (resident set in KiB, open descriptors) of a process. Descriptors: the fewest of five
/// looks a millisecond apart — a process opens some for a moment (its liveness checks read
/// a peer's `/proc/PID/stat`), and one caught open in a single look is not a leak (before:
/// the soak failed once with a count of -1, the warm-up look having caught one); a leaked
/// descriptor is there in every look.
pub(super) fn footprint(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let fds = (0..5)
        .map(|i| {
            if i > 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
            std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
        })
        .min()
        .unwrap_or(0);
    (rss, fds)
}

pub(super) fn our_segments(prefix: &str) -> usize {
    std::fs::read_dir("/dev/shm")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .count()
}

#[test]
pub(super) fn soak() {
    let duration = phase(45, 600);
    let prefix = format!("shmring-test-torture-soak-{}-", std::process::id());
    assert_eq!(our_segments(&prefix), 0);
    let ledger = Ledger::create();
    let mut procs = Vec::new();
    let mut guards = Vec::new();
    let mut p = 0u64;
    for kind in Kind::ALL {
        let name = unique_name("torture-soak");
        assert!(name.starts_with(&prefix));
        kind.create(&name);
        guards.push(Unlink(name.clone()));
        let producers = kind.shape().0;
        procs.push((true, spawn("soak-consumer", kind, &name, &ledger, &[])));
        for _ in 0..producers {
            procs.push((
                false,
                spawn(
                    "soak-producer",
                    kind,
                    &name,
                    &ledger,
                    &[(INCARNATION_VAR, p.to_string())],
                ),
            ));
            p += 1;
        }
    }
    let start = Instant::now();
    let warm = Duration::from_secs(5).min(duration / 4);
    std::thread::sleep(warm);
    let first: Vec<_> = procs.iter().map(|(_, c)| footprint(c.id())).collect();
    while start.elapsed() < duration {
        std::thread::sleep(Duration::from_millis(200));
        for (_, c) in &mut procs {
            if let Some(status) = c.try_wait().unwrap() {
                panic!("a soak process ended early: {status:?}");
            }
        }
    }
    let last: Vec<_> = procs.iter().map(|(_, c)| footprint(c.id())).collect();
    ledger.set(STOP_PRODUCERS, 1);
    let deadline = Instant::now() + STOP_WATCHDOG;
    for (consumer, c) in &mut procs {
        if !*consumer {
            assert_clean(
                wait_until(c, deadline).expect("a producer hung"),
                "soak producer",
            );
        }
    }
    ledger.set(STOP_CONSUMERS, 1);
    for (consumer, c) in &mut procs {
        if *consumer {
            assert_clean(
                wait_until(c, deadline).expect("a consumer hung"),
                "soak consumer",
            );
        }
    }
    let sent: u64 = (0..p).map(|i| ledger.get(COMMITTED + i as usize)).sum();
    let received = ledger.get(RECEIVED);
    let growth: Vec<i64> = first
        .iter()
        .zip(&last)
        .map(|(a, b)| b.0 as i64 - a.0 as i64)
        .collect();
    let fd_growth: Vec<i64> = first
        .iter()
        .zip(&last)
        .map(|(a, b)| b.1 as i64 - a.1 as i64)
        .collect();
    drop(guards);
    let left = our_segments(&prefix);
    println!(
        "TORTURE soak secs={:.1} processes={} sent={sent} received={received} out_of_order={} torn={} mismatched_ends={} rss_growth_kib={growth:?} fd_growth={fd_growth:?} segments_left={left}",
        start.elapsed().as_secs_f64(),
        procs.len(),
        ledger.get(OUT_OF_ORDER),
        ledger.get(TORN),
        ledger.get(DUPLICATED),
    );
    assert_eq!(sent, received);
    assert_eq!(
        (
            ledger.get(OUT_OF_ORDER),
            ledger.get(TORN),
            ledger.get(DUPLICATED)
        ),
        (0, 0, 0)
    );
    assert!(growth.iter().all(|&g| g < 1024), "RSS grew: {growth:?} KiB");
    assert!(
        fd_growth.iter().all(|&g| g == 0),
        "descriptors grew: {fd_growth:?}"
    );
    assert_eq!(left, 0, "segments left after cleanup");
}
