//! Hostile peers (part 2 of the suite): random writes over the live shared memory while correct
//! processes run.

#[allow(unused_imports)]
use super::*;

// ------------------------------------------------------------------------------ 2. hostile

/// Overwrites random words of the ring's file — header, control block, indices, stamps,
/// records — until told to stop, counting its writes.
pub(super) fn scribbler(name: &str) {
    let ledger = Ledger::from_env();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(common::shm_path(name))
        .unwrap();
    let map = memmap2::MmapOptions::new().map_raw(&file).unwrap();
    let len = map.len();
    let mut rng = Rng::new();
    while ledger.get(STOP_PRODUCERS) == 0 {
        // Where: the header page, the control block after it, or anywhere.
        let region = match rng.below(10) {
            0..=2 => 0..4096.min(len),
            3..=6 => 4096.min(len)..(4096 + 1024).min(len),
            _ => 0..len,
        };
        if region.is_empty() {
            continue;
        }
        let width = [1usize, 4, 8][rng.below(3) as usize];
        let off =
            (region.start + rng.below((region.end - region.start) as u64) as usize) & !(width - 1);
        if off + width > len {
            continue;
        }
        // What: random bits, an extreme, or the current value nudged (plausible lies).
        // SAFETY: `off + width <= len`, aligned to `width`; the mapping lives until the end
        // of this function; a volatile access to shared memory others change is the point.
        unsafe {
            let at = map.as_mut_ptr().add(off);
            let current = match width {
                1 => u64::from(at.read_volatile()),
                4 => u64::from(at.cast::<u32>().read_volatile()),
                _ => at.cast::<u64>().read_volatile(),
            };
            let value = match rng.below(4) {
                0 => rng.below(u64::MAX),
                1 => [0, u64::MAX, 1 << 63, u64::from(u32::MAX)][rng.below(4) as usize],
                _ => current.wrapping_add(rng.below(64)).wrapping_sub(32),
            };
            match width {
                1 => at.write_volatile(value as u8),
                4 => at.cast::<u32>().write_volatile(value as u32),
                _ => at.cast::<u64>().write_volatile(value),
            }
        }
        ledger.bump(HOSTILE_WRITES);
        if rng.below(4) == 0 {
            std::thread::sleep(Duration::from_micros(rng.below(300)));
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct HostileFigures {
    pub(super) rounds: u64,
    pub(super) hostile_writes: u64,
    pub(super) messages: u64,
    pub(super) garbage: u64,
    pub(super) corrupted_reports: u64,
    pub(super) crashes: u64,
    pub(super) hangs: u64,
}

pub(super) fn hostile_torture(kind: Kind) {
    let duration = phase(6, 60);
    let ledger = Ledger::create();
    let mut rng = Rng::new();
    let mut fig = HostileFigures::default();
    let start = Instant::now();
    let mut p = 0u64;
    while start.elapsed() < duration && (p as usize) < INCARNATIONS {
        let name = unique_name(&format!("torture-hostile-{}", kind.tag()));
        let _u = Unlink(name.clone());
        kind.create(&name);
        ledger.set(STOP_PRODUCERS, 0);
        ledger.set(STOP_CONSUMERS, 0);
        let honest = [(HOSTILE_VAR, "1".to_owned())];
        let mut consumer = spawn("consumer", kind, &name, &ledger, &honest);
        let mut producer = spawn(
            "producer",
            kind,
            &name,
            &ledger,
            &[
                (HOSTILE_VAR, "1".to_owned()),
                (INCARNATION_VAR, p.to_string()),
            ],
        );
        p += 1;
        // Let the honest pair get going, then scribble for a while.
        std::thread::sleep(Duration::from_millis(5 + rng.below(20)));
        let mut scribbler = spawn("hostile", kind, &name, &ledger, &[]);
        std::thread::sleep(Duration::from_millis(50 + rng.below(250)));
        ledger.set(STOP_PRODUCERS, 1);
        ledger.set(STOP_CONSUMERS, 1);
        let deadline = Instant::now() + STOP_WATCHDOG;
        for (what, child) in [("producer", &mut producer), ("consumer", &mut consumer)] {
            match wait_until(child, deadline) {
                Some(status) if status.success() => {}
                Some(status) => {
                    fig.crashes += 1;
                    eprintln!(
                        "honest {what} on a scribbled {} ring: {status:?}",
                        kind.tag()
                    );
                }
                None => {
                    fig.hangs += 1;
                    eprintln!("honest {what} on a scribbled {} ring hung", kind.tag());
                }
            }
        }
        assert_clean(
            wait_until(&mut scribbler, deadline).expect("scribbler hung"),
            "the scribbler",
        );
        fig.rounds += 1;
    }
    fig.hostile_writes = ledger.get(HOSTILE_WRITES);
    fig.messages = ledger.get(RECEIVED);
    fig.garbage = ledger.get(GARBAGE);
    fig.corrupted_reports = ledger.get(CORRUPTED);
    println!(
        "TORTURE hostile {} secs={:.1} {fig:?}",
        kind.tag(),
        start.elapsed().as_secs_f64()
    );
    assert_eq!((fig.crashes, fig.hangs), (0, 0), "{fig:?}");
    assert!(fig.hostile_writes > 0 && fig.rounds > 0, "{fig:?}");
}

#[test]
pub(super) fn hostile_peer_spsc() {
    hostile_torture(Kind::Spsc);
}

#[test]
pub(super) fn hostile_peer_mpmc() {
    hostile_torture(Kind::Mpmc);
}

#[test]
pub(super) fn hostile_peer_framed() {
    hostile_torture(Kind::Framed);
}

#[test]
pub(super) fn hostile_peer_broadcast() {
    hostile_torture(Kind::Broadcast);
}

#[test]
pub(super) fn hostile_peer_framed_broadcast() {
    hostile_torture(Kind::FramedBroadcast);
}

#[test]
pub(super) fn hostile_peer_shm_transport() {
    hostile_torture(Kind::Shm);
}
