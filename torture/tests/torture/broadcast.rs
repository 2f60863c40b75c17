//! The broadcast ring under kills: a lossless writer and two receiver processes SIGKILLed at
//! random instants and replaced, beside one steady receiver that is never killed. The steady
//! receiver must get every committed message of every writer exactly once and in order; every
//! receiver sees whole messages, each writer's in sequence and never `Lagged`; nobody hangs.

#[allow(unused_imports)]
use super::*;

/// Ledger word: receivers attached so far.
pub(super) const ATTACHED: usize = 9;
/// Set in the environment of the steady receiver (the one that records what it gets).
const STEADY_VAR: &str = "SHMRING_TORTURE_STEADY";

#[derive(Debug, Default)]
struct Figures {
    kills: u64,
    writer_kills: u64,
    receiver_kills: u64,
    writers: u64,
    committed: u64,
    steady_received: u64,
    /// Committed messages the steady receiver never got.
    missing: u64,
    /// Sent, but the writer was killed before recording it (at most one per writer kill).
    unrecorded: u64,
    phantom: u64,
    duplicated: u64,
    torn: u64,
    out_of_order: u64,
    hangs: u64,
}

/// Writer incarnation `p`: sends (p, 0..) until told to stop, recording each committed one.
pub(super) fn broadcast_writer(kind: Kind, name: &str) {
    let ledger = Ledger::from_env();
    let p: u64 = std::env::var(INCARNATION_VAR).unwrap().parse().unwrap();
    let stop = || ledger.get(STOP_PRODUCERS) != 0;
    // The killed predecessor's role is free once its process is gone (proven dead at once).
    let Ok(mut tx) = Tx::open(kind, name, false, stop) else {
        return; // told to stop before it got the role
    };
    let mut buf = Vec::new();
    for s in 0..PER_INCARNATION {
        loop {
            if stop() {
                return;
            }
            match tx.send(p, s, &mut buf) {
                Outcome::Done(_) => break,
                Outcome::Again => {}
                _ => panic!("writer {p}: the send failed"),
            }
        }
        ledger.commit(p, s + 1);
    }
    while !stop() {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A receiver: checks every message (whole, each writer's in sequence, no `Lagged` in a
/// lossless ring); the steady one records each in the ledger. Leaves when told to stop and
/// the writer is gone.
pub(super) fn broadcast_receiver(kind: Kind, name: &str) {
    let ledger = Ledger::from_env();
    let steady = std::env::var(STEADY_VAR).is_ok();
    let mut rx = Rx::open(kind, name, false, || false).unwrap_or_else(|_| panic!("open"));
    ledger.bump(ATTACHED);
    let mut last: Option<(u64, u64)> = None;
    let mut buf = Vec::new();
    loop {
        match rx.recv(&mut buf) {
            Outcome::Done(Some((p, s))) => {
                let in_order = match last {
                    None => true,
                    Some((lp, ls)) => (p == lp && s == ls + 1) || (p > lp && s == 0),
                };
                if !in_order {
                    eprintln!("broadcast receiver: ({p}, {s}) after {last:?}");
                    ledger.bump(OUT_OF_ORDER);
                }
                last = Some((p, s));
                if steady {
                    ledger.received(p, s);
                }
            }
            Outcome::Done(None) => ledger.bump(TORN),
            Outcome::Again => {}
            Outcome::Lagged(n) => {
                eprintln!("a lossless receiver missed {n} messages");
                ledger.bump(OUT_OF_ORDER);
            }
            Outcome::Gone => {
                if ledger.get(STOP_CONSUMERS) != 0 {
                    return;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Outcome::Corrupted => {
                ledger.bump(CORRUPTED);
                panic!("an honest broadcast ring reported corruption");
            }
        }
    }
}

#[test]
fn kill_torture_broadcast() {
    kill_torture(Kind::Broadcast);
}

#[test]
fn kill_torture_framed_broadcast() {
    kill_torture(Kind::FramedBroadcast);
}

/// One kind's kill torture (`kind`: a broadcast ring).
fn kill_torture(kind: Kind) {
    let duration = phase(8, 120);
    let name = unique_name(&format!("torture-kill-{}", kind.tag()));
    let _u = Unlink(name.clone());
    kind.create(&name);
    let ledger = Ledger::create();
    let mut fig = Figures::default();
    let receiver = |steady: bool| {
        let extra = if steady {
            vec![(STEADY_VAR, "1".to_string())]
        } else {
            Vec::new()
        };
        spawn("broadcast-receiver", kind, &name, &ledger, &extra)
    };
    let writer = |p: u64| {
        spawn(
            "broadcast-writer",
            kind,
            &name,
            &ledger,
            &[(INCARNATION_VAR, p.to_string())],
        )
    };
    // The steady receiver is attached before the first message.
    let mut steady = receiver(true);
    let deadline = Instant::now() + common::WATCHDOG;
    while ledger.get(ATTACHED) == 0 {
        assert!(
            Instant::now() < deadline,
            "the steady receiver never attached"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    // Slot 0 is the writer, slots 1 and 2 the victim receivers.
    let mut procs = [writer(0), receiver(false), receiver(false)];
    let mut rng = Rng::new();
    let mut next_p = 1u64;
    let start = Instant::now();
    while start.elapsed() < duration && (next_p as usize) < INCARNATIONS {
        std::thread::sleep(Duration::from_micros(rng.below(20_000)));
        let v = rng.below(procs.len() as u64) as usize;
        let status = kill(&mut procs[v]);
        if status.signal() != Some(libc::SIGKILL) {
            assert_clean(status, "a broadcast process");
        }
        fig.kills += 1;
        procs[v] = if v == 0 {
            fig.writer_kills += 1;
            next_p += 1;
            writer(next_p - 1)
        } else {
            fig.receiver_kills += 1;
            receiver(false)
        };
    }
    ledger.set(STOP_PRODUCERS, 1);
    let deadline = Instant::now() + STOP_WATCHDOG;
    if wait_until(&mut procs[0], deadline).is_none_or(|s| !s.success()) {
        fig.hangs += 1;
    }
    ledger.set(STOP_CONSUMERS, 1);
    let deadline = Instant::now() + STOP_WATCHDOG;
    for p in procs.iter_mut().skip(1).chain(std::iter::once(&mut steady)) {
        match wait_until(p, deadline) {
            Some(status) => assert_clean(status, "a broadcast receiver"),
            None => fig.hangs += 1,
        }
    }
    fig.writers = next_p;
    for p in 0..next_p {
        let (missing, at, beyond) = ledger.tally(p);
        fig.committed += ledger.get(COMMITTED + p as usize);
        fig.missing += missing;
        fig.unrecorded += at;
        fig.phantom += beyond;
    }
    fig.steady_received = ledger.get(RECEIVED);
    fig.duplicated = ledger.get(DUPLICATED);
    fig.torn = ledger.get(TORN);
    fig.out_of_order = ledger.get(OUT_OF_ORDER);
    println!(
        "TORTURE kill {} secs={:.1} {fig:?}",
        kind.tag(),
        start.elapsed().as_secs_f64()
    );
    assert_eq!(fig.hangs, 0, "{fig:?}");
    assert_eq!(ledger.get(CORRUPTED), 0, "{fig:?}");
    assert_eq!(
        (
            fig.missing,
            fig.duplicated,
            fig.torn,
            fig.out_of_order,
            fig.phantom
        ),
        (0, 0, 0, 0, 0),
        "{fig:?}"
    );
    assert!(fig.unrecorded <= fig.writer_kills, "{fig:?}");
    assert!(fig.kills > 0 && fig.steady_received > 0, "{fig:?}");
}
