//! The roles a child process plays (this binary re-executed with an argument).

#[allow(unused_imports)]
use super::*;

// ------------------------------------------------------------------------------ child roles

/// The entry of every child process (see `child_entry` in main.rs).
pub(super) fn child_entry() {
    let Some((role, name)) = common::child_role() else {
        return;
    };
    let kind = std::env::var(KIND_VAR).map(|k| Kind::parse(&k));
    let hostile = std::env::var(HOSTILE_VAR).is_ok();
    match role.as_str() {
        "producer" => producer(kind.unwrap(), &name, hostile),
        "consumer" => consumer(kind.unwrap(), &name, hostile),
        "soak-producer" => soak_producer(kind.unwrap(), &name),
        "soak-consumer" => soak_consumer(kind.unwrap(), &name),
        "hostile" => scribbler(&name),
        "event-notifier" => event_notifier(&name, hostile),
        "event-listener" => event_listener(&name, hostile, false),
        "event-witness" => event_listener(&name, false, true),
        "broadcast-writer" => broadcast_writer(kind.unwrap(), &name),
        "broadcast-receiver" => broadcast_receiver(kind.unwrap(), &name),
        "tiny-shm" => tiny_shm(&name),
        "few-fds" => few_fds(&name),
        "no-queues" => no_queues(&name),
        "other-user" => other_user(kind.unwrap(), &name),
        "auto-peer" => match shmring_ipc::Sender::connect(&format!("auto:{name}")) {
            Ok(_) => println!("RESULT connected"),
            Err(e) => println!("RESULT refused {e}"),
        },
        other => panic!("unknown role {other}"),
    }
}

/// Sends (incarnation, 0..) until told to stop, recording each committed message. On a
/// corrupted ring (hostile mode only) it waits for the stop and leaves.
pub(super) fn producer(kind: Kind, name: &str, hostile: bool) {
    let ledger = Ledger::from_env();
    let p: u64 = std::env::var(INCARNATION_VAR).unwrap().parse().unwrap();
    let stop = || ledger.get(STOP_PRODUCERS) != 0;
    let mut tx = match Tx::open(kind, name, hostile, stop) {
        Ok(tx) => tx,
        Err(o) => return leave(&ledger, o, hostile, STOP_PRODUCERS, name),
    };
    let mut buf = Vec::new();
    for s in 0..PER_INCARNATION {
        loop {
            if stop() {
                return;
            }
            match tx.send(p, s, &mut buf) {
                Outcome::Done(_) => break,
                Outcome::Again | Outcome::Lagged(_) => {}
                Outcome::Gone => std::thread::sleep(Duration::from_millis(1)),
                Outcome::Corrupted => {
                    return leave(&ledger, Outcome::Corrupted, hostile, STOP_PRODUCERS, name);
                }
            }
        }
        ledger.commit(p, s + 1);
    }
    while !stop() {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Receives and accounts every message until told to stop and the producers are gone (or,
/// in hostile mode, at once when told).
pub(super) fn consumer(kind: Kind, name: &str, hostile: bool) {
    let ledger = Ledger::from_env();
    let stop = || ledger.get(STOP_CONSUMERS) != 0;
    let mut rx = match Rx::open(kind, name, hostile, stop) {
        Ok(rx) => rx,
        Err(o) => return leave(&ledger, o, hostile, STOP_CONSUMERS, name),
    };
    let mut buf = Vec::new();
    loop {
        if hostile && stop() {
            return;
        }
        match rx.recv(&mut buf) {
            Outcome::Done(Some((p, s))) => ledger.received(p, s),
            Outcome::Done(None) => ledger.bump(if hostile { GARBAGE } else { TORN }),
            // A scribbled tail can make a broadcast receiver skip: it goes on.
            Outcome::Again | Outcome::Lagged(_) => {}
            Outcome::Gone => {
                if stop() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Outcome::Corrupted => {
                return leave(&ledger, Outcome::Corrupted, hostile, STOP_CONSUMERS, name);
            }
        }
    }
}

/// A process that met a corrupted ring: counts it; in hostile mode waits for the stop (the
/// ring is unusable, which is the expected outcome), otherwise fails.
pub(super) fn leave(ledger: &Ledger, o: Outcome, hostile: bool, stop: usize, name: &str) {
    if let Outcome::Corrupted = o {
        ledger.bump(CORRUPTED);
        if !hostile {
            let report = shmring::inspect::inspect(name);
            eprintln!("{}", dump_mpsc(name));
            panic!("an honest ring reported corruption: {report:#?}");
        }
    }
    while ledger.get(stop) == 0 {
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The raw state of a many-producer framed ring (for a failure report): positions, the
/// participant table's owners, roles and lanes, and the record headers from the head.
pub(super) fn dump_mpsc(name: &str) -> String {
    use shmring::mpmc::layout::{
        CONTROL_SIZE, HEAD_OFFSET, LANES, PARTICIPANTS, RECORD_LANES, RECORD_OWNER, RECORD_ROLE,
        RECORD_SIZE, TABLE_OFFSET, TAIL_OFFSET,
    };
    use std::fmt::Write;
    let Ok(bytes) = std::fs::read(common::shm_path(name)) else {
        return String::new();
    };
    let Ok(info) = shmring::header::decode(&bytes) else {
        return String::new();
    };
    if info.kind != shmring::RingKind::FramedMpsc || bytes.len() < info.total_size as usize {
        return String::new();
    }
    let word = |off: usize| u64::from_le_bytes(bytes[off..off + 8].try_into().unwrap());
    let area = info.area_offset as usize;
    let data = area + CONTROL_SIZE;
    let capacity = info.capacity;
    let (tail, head) = (word(area + TAIL_OFFSET), word(area + HEAD_OFFSET));
    let consumed = word(area + shmring::framed::mpsc::CONSUMED_OFFSET);
    let mut out = format!("tail {tail} head {head} consumed {consumed} capacity {capacity}\n");
    for r in 0..PARTICIPANTS {
        let rec = area + TABLE_OFFSET + r * RECORD_SIZE;
        let (owner, role) = (
            word(rec + RECORD_OWNER),
            word(rec + RECORD_ROLE) & 0xffff_ffff,
        );
        let lanes: Vec<u64> = (0..LANES)
            .map(|l| word(rec + RECORD_LANES + l * 8))
            .collect();
        if owner != 0 {
            let _ = writeln!(
                out,
                "record {r}: owner {owner:#x} role {role} lanes {lanes:?}"
            );
        }
    }
    let mut pos = head;
    for _ in 0..12 {
        if pos >= tail {
            break;
        }
        let h = word(data + (pos % capacity) as usize);
        let (len, kind) = (h & 0xffff_ffff, h >> 32);
        let _ = writeln!(
            out,
            "at {pos} (offset {}): header {h:#x} len {len} kind {kind:#x}",
            pos % capacity
        );
        if len == 0 || len % 8 != 0 {
            break;
        }
        pos += len;
    }
    out
}
