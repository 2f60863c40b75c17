//! Kills (part 1 of the suite): producers and consumers SIGKILLed at random instants, replaced, and
//! the ledger checked.

#[allow(unused_imports)]
use super::*;

// ------------------------------------------------------------------------------ 1. kills

/// What a kill-torture run counted.
#[derive(Debug, Default)]
pub(super) struct KillFigures {
    pub(super) kills: u64,
    pub(super) producer_kills: u64,
    pub(super) consumer_kills: u64,
    pub(super) incarnations: u64,
    pub(super) committed: u64,
    pub(super) received: u64,
    /// Committed messages never received; at most one per killed consumer (the message it
    /// had taken when it died, before recording it).
    pub(super) lost_with_killed_consumers: u64,
    /// Sent, but the producer was killed before recording it.
    pub(super) unrecorded: u64,
    pub(super) phantom: u64,
    pub(super) duplicated: u64,
    pub(super) torn: u64,
    pub(super) hangs: u64,
}

pub(super) fn kill_torture(kind: Kind) {
    let duration = phase(8, 120);
    let name = unique_name(&format!("torture-kill-{}", kind.tag()));
    let _u = Unlink(name.clone());
    kind.create(&name);
    let ledger = Ledger::create();
    let (np, nc) = kind.shape();
    let mut rng = Rng::new();
    let mut next_p = 0u64;
    let mut fig = KillFigures::default();
    let start_producer = |next_p: &mut u64| {
        let p = *next_p;
        *next_p += 1;
        let child = spawn(
            "producer",
            kind,
            &name,
            &ledger,
            &[(INCARNATION_VAR, p.to_string())],
        );
        Proc {
            child,
            producer: true,
        }
    };
    let start_consumer = || Proc {
        child: spawn("consumer", kind, &name, &ledger, &[]),
        producer: false,
    };
    let mut procs: Vec<Proc> = (0..np).map(|_| start_producer(&mut next_p)).collect();
    procs.extend((0..nc).map(|_| start_consumer()));
    let start = Instant::now();
    while start.elapsed() < duration && (next_p as usize) < INCARNATIONS - np {
        std::thread::sleep(Duration::from_micros(rng.below(20_000)));
        for p in &mut procs {
            if let Some(status) = p.child.try_wait().unwrap() {
                assert_clean(status, "a process");
                panic!("a process left before it was told to: {status:?}");
            }
        }
        // One victim, or now and then every process at once.
        let victims: Vec<usize> = if rng.below(10) == 0 {
            (0..procs.len()).collect()
        } else {
            vec![rng.below(procs.len() as u64) as usize]
        };
        for &v in &victims {
            let status = kill(&mut procs[v].child);
            if status.signal() != Some(libc::SIGKILL) {
                assert_clean(status, "a process");
            }
            fig.kills += 1;
            if procs[v].producer {
                fig.producer_kills += 1;
            } else {
                fig.consumer_kills += 1;
            }
        }
        for &v in &victims {
            procs[v] = if procs[v].producer {
                start_producer(&mut next_p)
            } else {
                start_consumer()
            };
        }
    }
    // Producers finish; consumers drain what is left and see every sender gone.
    ledger.set(STOP_PRODUCERS, 1);
    let deadline = Instant::now() + STOP_WATCHDOG;
    for p in procs.iter_mut().filter(|p| p.producer) {
        match wait_until(&mut p.child, deadline) {
            Some(status) => assert_clean(status, "a producer"),
            None => fig.hangs += 1,
        }
    }
    ledger.set(STOP_CONSUMERS, 1);
    let deadline = Instant::now() + STOP_WATCHDOG;
    for p in procs.iter_mut().filter(|p| !p.producer) {
        match wait_until(&mut p.child, deadline) {
            Some(status) => assert_clean(status, "a consumer"),
            None => fig.hangs += 1,
        }
    }
    fig.incarnations = next_p;
    for p in 0..next_p {
        let (missing, at, beyond) = ledger.tally(p);
        fig.committed += ledger.get(COMMITTED + p as usize);
        fig.lost_with_killed_consumers += missing;
        fig.unrecorded += at;
        fig.phantom += beyond;
    }
    fig.received = ledger.get(RECEIVED);
    fig.duplicated = ledger.get(DUPLICATED);
    fig.torn = ledger.get(TORN);
    let garbage = ledger.get(GARBAGE);
    println!(
        "TORTURE kill {} secs={:.1} {fig:?} garbage={garbage}",
        kind.tag(),
        start.elapsed().as_secs_f64()
    );
    assert_eq!(fig.hangs, 0, "{fig:?}");
    // An honest ring reported corruption (the process that saw it panicked, but may have
    // been killed by the next round before its exit status could tell).
    assert_eq!(
        ledger.get(CORRUPTED),
        0,
        "an honest ring reported corruption: {fig:?}"
    );
    assert_eq!(fig.duplicated, 0, "{fig:?}");
    assert_eq!(fig.torn + garbage, 0, "{fig:?}");
    assert_eq!(fig.phantom, 0, "{fig:?}");
    assert!(
        fig.lost_with_killed_consumers <= fig.consumer_kills,
        "committed messages lost beyond one per killed consumer: {fig:?}"
    );
    assert!(fig.kills > 0 && fig.received > 0, "{fig:?}");
    // The ring is reusable: a fresh producer and consumer pass messages through it.
    reuse_check(kind, &name, &ledger, next_p);
}

/// After the torture: a new producer and consumer, both fresh processes, exchange 1 000
/// messages through the same ring.
pub(super) fn reuse_check(kind: Kind, name: &str, ledger: &Ledger, p: u64) {
    ledger.set(STOP_PRODUCERS, 0);
    ledger.set(STOP_CONSUMERS, 0);
    let before = ledger.get(RECEIVED);
    let mut consumer = spawn("consumer", kind, name, ledger, &[]);
    let mut producer = spawn(
        "producer",
        kind,
        name,
        ledger,
        &[(INCARNATION_VAR, p.to_string())],
    );
    let deadline = Instant::now() + common::WATCHDOG;
    while ledger.get(RECEIVED) - before < 1_000 {
        assert!(Instant::now() < deadline, "the ring was not reusable");
        std::thread::sleep(Duration::from_millis(2));
    }
    ledger.set(STOP_PRODUCERS, 1);
    assert_clean(
        wait_until(&mut producer, Instant::now() + STOP_WATCHDOG).expect("hang"),
        "producer",
    );
    ledger.set(STOP_CONSUMERS, 1);
    assert_clean(
        wait_until(&mut consumer, Instant::now() + STOP_WATCHDOG).expect("hang"),
        "consumer",
    );
    assert_eq!(ledger.get(DUPLICATED), 0);
    assert_eq!(ledger.get(CORRUPTED), 0);
}

#[test]
pub(super) fn kill_torture_spsc() {
    kill_torture(Kind::Spsc);
}

#[test]
pub(super) fn kill_torture_mpmc() {
    kill_torture(Kind::Mpmc);
}

#[test]
pub(super) fn kill_torture_framed() {
    kill_torture(Kind::Framed);
}

#[test]
pub(super) fn kill_torture_shm_transport() {
    kill_torture(Kind::Shm);
}
