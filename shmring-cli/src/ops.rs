//! `ls`, `inspect`, `rm` and `gc`: built on [`shmring::inspect`], which reads a copy of a
//! segment's first bytes and never attaches.

use serde_json::{Value, json};
use shmring::header::HeaderError;
use shmring::inspect::{self, Health, InspectError, Inspection, Participant};
use shmring::process::Liveness;

use crate::Failure;

/// `2026-12-05 14:30:12.123 UTC` for nanoseconds since the Unix epoch (the civil calendar
/// from a day count, after Howard Hinnant's `civil_from_days`).
fn utc(unix_ns: u64) -> String {
    let secs = unix_ns / 1_000_000_000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:03} UTC",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        unix_ns % 1_000_000_000 / 1_000_000
    )
}

/// A name as a table cell: control characters (a newline would break the table) escaped.
pub(crate) fn cell(name: &str) -> String {
    if name.chars().any(char::is_control) {
        name.escape_default().to_string()
    } else {
        name.to_owned()
    }
}

pub(crate) fn liveness(l: Liveness) -> &'static str {
    match l {
        Liveness::Alive => "alive",
        Liveness::Dead => "dead",
        Liveness::Unknown => "unknown",
    }
}

fn participant_json(p: &Participant, tail: Option<u64>) -> Value {
    json!({
        "role": p.role,
        "pid": p.pid,
        "start_ticks_low": p.start_ticks_low,
        "liveness": liveness(p.liveness),
        "state": p.state,
        "in_flight": p.in_flight,
        "position": p.position,
        "lag": lag(p, tail),
    })
}

/// A broadcast receiver's lag: messages sent that it has not read yet.
pub(crate) fn lag(p: &Participant, tail: Option<u64>) -> Option<u64> {
    Some(tail?.saturating_sub(p.position?))
}

/// What a ring's positions count: bytes (the framed rings), cells (framed-broadcast) or
/// messages.
pub(crate) fn unit(kind: shmring::RingKind) -> &'static str {
    if kind.is_byte_ring() {
        "bytes"
    } else if kind == shmring::RingKind::FramedBroadcast {
        "cells"
    } else {
        "messages"
    }
}

/// The largest message of a ring of byte messages (`None` for typed rings).
fn max_message(i: &shmring::header::HeaderInfo) -> Option<usize> {
    if i.kind.is_byte_ring() {
        Some(shmring::framed::max_message(i.capacity))
    } else if i.kind == shmring::RingKind::FramedBroadcast {
        Some(shmring::framed::broadcast::max_message(i.capacity))
    } else {
        None
    }
}

/// A broadcast ring's policy, as `inspect` and `ls` name it (`None` for other kinds).
pub(crate) fn policy(i: &shmring::header::HeaderInfo) -> Option<&'static str> {
    i.kind
        .is_broadcast()
        .then_some(if i.overwrite { "overwrite" } else { "lossless" })
}

pub(crate) fn report_json(r: &Inspection) -> Value {
    let info = &r.info;
    json!({
        "name": r.name,
        "format_version": info.version,
        "state": match info.state { 0 => "initialising", 1 => "ready", 2 => "closed", _ => "invalid" },
        "kind": info.kind.to_string(),
        "policy": policy(info),
        "fence_every_send": info.fence_every_send,
        "total_size": info.total_size,
        "file_size": r.file_len,
        "area_offset": info.area_offset,
        "area_size": info.area_size,
        "capacity": info.capacity,
        "max_message": max_message(info),
        "slot_size": info.slot_size,
        "slot_align": info.slot_align,
        "fingerprint": format!("{:#018x}", info.fingerprint),
        "description": info.description,
        "description_truncated": info.description_truncated,
        "creator": {
            "pid": info.owner.pid,
            "start_ticks": info.owner.start_ticks,
            "pid_ns": info.owner.pid_ns,
            "liveness": liveness(r.creator),
        },
        "created_unix_ns": info.created_unix_ns,
        "control": r.control.as_ref().map(|c| json!({
            "tail": c.tail,
            "head": c.head,
            "fill": c.fill,
            "receiver_waiting": c.receiver_waiting,
            "sender_waiting": c.sender_waiting,
            "epoch": c.epoch,
            "consumed": c.consumed,
            "dead_senders": c.dead_senders,
            "dead_receivers": c.dead_receivers,
        })),
        "participants": r.participants.iter()
            .map(|p| participant_json(p, r.control.as_ref().map(|c| c.tail)))
            .collect::<Vec<_>>(),
        "in_use": r.in_use(),
        "health": if r.health == Health::Ok { "ok" } else { "corrupt" },
        "problems": r.problems,
    })
}

/// What a ring holds waiting (`None` for raw and event segments, which hold no messages).
pub(crate) fn fill(r: &Inspection) -> Option<u64> {
    if r.info.kind == shmring::RingKind::Event {
        return None;
    }
    r.control.as_ref().map(|c| c.fill)
}

/// `ok` or `CORRUPT`.
pub(crate) fn health(r: &Inspection) -> &'static str {
    if r.health == Health::Ok {
        "ok"
    } else {
        "CORRUPT"
    }
}

/// `12345 sender alive` for each participant, comma-separated; `-` for none.
pub(crate) fn processes(r: &Inspection) -> String {
    if r.participants.is_empty() {
        return "-".into();
    }
    r.participants
        .iter()
        .map(|p| format!("{} {} {}", p.pid, p.role, liveness(p.liveness)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The payload as `ls` shows it: the type's description, or bytes for framed rings.
pub(crate) fn payload(r: &Inspection) -> String {
    if r.info.kind == shmring::RingKind::Event {
        "events (ids, no data)".into()
    } else if r.info.kind.is_byte_ring() {
        "bytes".into()
    } else if r.info.kind == shmring::RingKind::FramedBroadcast {
        "bytes (64-byte cells)".into()
    } else {
        let d = r.info.description.as_str();
        let short: String = d.chars().take(40).collect();
        if short.len() < d.len() {
            format!("{short}…")
        } else {
            short
        }
    }
}

/// Regular files in /dev/shm this user may not read (another user's rings are `0600`): `ls`
/// lists them too, with their owner, rather than saying there are no rings.
fn unreadable_entries() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(inspect::SHM_DIR)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| {
            matches!(
                inspect::inspect(n),
                Err(InspectError::PermissionDenied { .. })
            )
        })
        .collect();
    names.sort();
    names
}

/// `owned by uid N (mode 600); this user may not read it` for an entry `ls` cannot read.
fn no_access(name: &str) -> String {
    use std::os::unix::fs::MetadataExt;
    match std::fs::symlink_metadata(inspect::path_of(name)) {
        Ok(m) => format!(
            "owned by uid {} (mode {:o}); this user may not read it",
            m.uid(),
            m.mode() & 0o7777
        ),
        Err(e) => e.to_string(),
    }
}

/// Every ring in /dev/shm, inspected (read, never attached), with the entries this user may
/// not read: what `ls` and `top` show.
pub(crate) fn survey() -> Vec<(String, Result<Inspection, InspectError>)> {
    let mut names = inspect::list();
    names.extend(unreadable_entries());
    names
        .into_iter()
        .map(|n| {
            let r = inspect::inspect(&n);
            (n, r)
        })
        .collect()
}

/// The JSON of an entry `inspect` could not read (`ls --json`, `top --once --json`).
pub(crate) fn unreadable_json(name: &str, e: &InspectError) -> Value {
    match e {
        InspectError::PermissionDenied { .. } => {
            json!({ "name": name, "error": e.to_string(), "access": no_access(name) })
        }
        _ => json!({ "name": name, "error": e.to_string() }),
    }
}

/// The cells of an entry `inspect` could not read: health and why, after `blank` `?` cells.
pub(crate) fn unreadable_cells(name: &str, e: &InspectError, blank: usize) -> Vec<String> {
    let denied = matches!(e, InspectError::PermissionDenied { .. });
    let mut cells = vec![cell(name)];
    cells.extend(std::iter::repeat_n("?".to_string(), blank));
    cells.push(if denied { "NO ACCESS" } else { "UNREADABLE" }.into());
    cells.push(if denied {
        no_access(name)
    } else {
        cell(&e.to_string())
    });
    cells
}

/// Table rows as lines, each column as wide as its widest cell.
pub(crate) fn aligned(rows: &[Vec<String>]) -> Vec<String> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|row| {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            line.join("  ").trim_end().to_owned()
        })
        .collect()
}

pub fn ls(json: bool) -> Result<(), Failure> {
    let reports = survey();
    if json {
        let rows: Vec<Value> = reports
            .iter()
            .map(|(name, r)| match r {
                Ok(r) => report_json(r),
                Err(e) => unreadable_json(name, e),
            })
            .collect();
        outln!("{}", Value::Array(rows))?;
        return Ok(());
    }
    if reports.is_empty() {
        outln!("no shmring rings in {}", inspect::SHM_DIR)?;
        return Ok(());
    }
    let mut rows: Vec<Vec<String>> = vec![
        [
            "NAME",
            "KIND",
            "PAYLOAD",
            "CAPACITY",
            "FILL",
            "HEALTH",
            "PROCESSES",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for (name, r) in &reports {
        rows.push(match r {
            Ok(r) => vec![
                cell(name),
                r.info.kind.to_string(),
                payload(r),
                r.info.capacity.to_string(),
                fill(r).map_or("-".into(), |f| f.to_string()),
                health(r).into(),
                processes(r),
            ],
            Err(e) => unreadable_cells(name, e, 4),
        });
    }
    for line in aligned(&rows) {
        outln!("{line}")?;
    }
    Ok(())
}

pub fn inspect(name: &str, json: bool) -> Result<(), Failure> {
    let r = inspect::inspect(name).map_err(|e| Failure::inspect(&e))?;
    if json {
        outln!("{}", report_json(&r))?;
    } else {
        print_report(&r)?;
    }
    if r.health == Health::Corrupt {
        return Err(Failure::new(
            5,
            format!(
                "{name} is corrupt: {}",
                r.problems.first().map_or("", String::as_str)
            ),
        ));
    }
    Ok(())
}

fn print_report(r: &Inspection) -> Result<(), Failure> {
    let i = &r.info;
    let state = match i.state {
        0 => "initialising",
        1 => "ready",
        2 => "closed",
        _ => "invalid",
    };
    outln!("ring            {}", r.name)?;
    outln!("path            {}", inspect::path_of(&r.name).display())?;
    outln!("format version  {}", i.version)?;
    outln!("state           {state}")?;
    outln!("kind            {}", i.kind)?;
    if let Some(policy) = policy(i) {
        outln!(
            "policy          {policy} (slow receivers are {})",
            if i.overwrite {
                "overtaken"
            } else {
                "waited for"
            }
        )?;
    }
    if i.fence_every_send {
        outln!("wake-ups        a fence on every send, no membarrier before a sleep")?;
    }
    if i.kind == shmring::RingKind::Event {
        outln!("event ids       0..{}", i.capacity)?;
    } else {
        outln!("capacity        {}", i.capacity)?;
    }
    if let Some(max) = max_message(i) {
        outln!("largest message {max} bytes")?;
    }
    outln!(
        "slot            {} bytes, aligned to {}",
        i.slot_size,
        i.slot_align
    )?;
    if i.kind == shmring::RingKind::Event {
        outln!("payload         none: an event carries only its id")?;
    } else {
        outln!(
            "payload         {}{}",
            i.description,
            if i.description_truncated {
                " (cut)"
            } else {
                ""
            }
        )?;
    }
    outln!("fingerprint     {:#018x}", i.fingerprint)?;
    outln!(
        "size            {} bytes (area {} at offset {}; file {})",
        i.total_size,
        i.area_size,
        i.area_offset,
        r.file_len
    )?;
    outln!(
        "creator         pid {} (start ticks {}, pid ns {}) {}",
        i.owner.pid,
        i.owner.start_ticks,
        i.owner.pid_ns,
        liveness(r.creator)
    )?;
    outln!("created         {}", utc(i.created_unix_ns))?;
    if i.kind == shmring::RingKind::Event {
        let asleep = r
            .participants
            .iter()
            .filter(|p| p.state == Some("sleeping"))
            .count();
        outln!(
            "listeners       {} attached, {asleep} asleep",
            r.participants.len()
        )?;
    } else if let Some(c) = &r.control {
        outln!("tail            {}", c.tail)?;
        outln!("head            {}", c.head)?;
        outln!("fill            {} {}", c.fill, unit(i.kind))?;
        if let Some(consumed) = c.consumed {
            outln!("consumed        {consumed}")?;
        }
        if let Some(epoch) = c.epoch {
            outln!("epoch           {epoch}")?;
        }
        if let (Some(s), Some(r)) = (c.dead_senders, c.dead_receivers) {
            outln!("found dead      {s} senders, {r} receivers (killed or crashed, cleaned up)")?;
        }
        outln!(
            "waiters         receiver {}, sender {}",
            if c.receiver_waiting { "asleep" } else { "none" },
            if c.sender_waiting { "asleep" } else { "none" }
        )?;
    }
    if r.participants.is_empty() {
        outln!("participants    none")?;
    }
    for p in &r.participants {
        let mut line = format!(
            "participant     {} pid {} (start ticks low {:#010x}) {}",
            p.role,
            p.pid,
            p.start_ticks_low,
            liveness(p.liveness)
        );
        match p.state {
            Some(s) if i.kind == shmring::RingKind::Event => line.push_str(&format!(", {s}")),
            Some(s) => line.push_str(&format!(", slot {s}")),
            None => {}
        }
        if !p.in_flight.is_empty() {
            line.push_str(&format!(", in flight at {:?}", p.in_flight));
        }
        if let (Some(at), Some(lag)) = (p.position, lag(p, r.control.as_ref().map(|c| c.tail))) {
            line.push_str(&format!(", at {at}, lag {lag}"));
        }
        outln!("{line}")?;
    }
    if r.problems.is_empty() {
        outln!("consistency     ok")?;
    }
    for p in &r.problems {
        outln!("PROBLEM         {p}")?;
    }
    Ok(())
}

/// What `rm` did with one name.
enum Removal {
    Removed { note: Option<String> },
    Refused(Failure),
}

/// Removes one ring's name (see [`rm`]).
fn rm_one(name: &str, force: bool) -> Removal {
    let mut note = None;
    match inspect::inspect(name) {
        Ok(r) if r.in_use() => {
            let mut pids: Vec<u32> = std::iter::once(r.info.owner.pid)
                .filter(|_| r.creator != Liveness::Dead)
                .chain(
                    r.participants
                        .iter()
                        .filter(|p| p.liveness != Liveness::Dead)
                        .map(|p| p.pid),
                )
                .collect();
            pids.sort_unstable();
            pids.dedup();
            let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
            note = Some(format!(
                "{name} was in use by pid {}: they keep working, new processes cannot open it",
                pids.join(", ")
            ));
        }
        Ok(_) => {}
        Err(
            e @ (InspectError::NotAFile { .. }
            | InspectError::Header {
                source: HeaderError::BadMagic | HeaderError::Short { .. },
                ..
            }),
        ) if !force => {
            return Removal::Refused(Failure::new(
                5,
                format!(
                    "{name} is not a shmring ring ({e}); not removed (`shmring rm --force {name}` removes it anyway)"
                ),
            ));
        }
        // A damaged header is still ours (removing it is the cure); --force removes anything.
        Err(InspectError::Header { .. } | InspectError::NotAFile { .. }) => {}
        Err(e) => return Removal::Refused(Failure::inspect(&e)),
    }
    match shmring::Segment::unlink_name(name) {
        Ok(()) => Removal::Removed { note },
        Err(e) => Removal::Refused(Failure::open(&e)),
    }
}

/// `rm NAME...`: every name is handled and reported; the exit code is the worst of them.
pub fn rm(names: &[String], force: bool, json: bool) -> Result<(), Failure> {
    let mut removed = Vec::new();
    let mut notes = Vec::new();
    let mut refused = Vec::new();
    for name in names {
        match rm_one(name, force) {
            Removal::Removed { note } => {
                removed.push(name.clone());
                notes.extend(note);
            }
            Removal::Refused(f) => refused.push((name.clone(), f)),
        }
    }
    if json {
        let failed: Vec<Value> = refused
            .iter()
            .map(|(n, f)| json!({ "name": n, "error": f.message, "exit_code": f.code }))
            .collect();
        outln!(
            "{}",
            json!({ "removed": removed, "warnings": notes, "failed": failed })
        )?;
    } else {
        for w in &notes {
            errln!("shmring: note: {w}");
        }
        for name in &removed {
            outln!("removed {}", cell(name))?;
        }
        for (_, f) in &refused {
            errln!("shmring: {}", f.message);
        }
    }
    match refused.into_iter().map(|(_, f)| f).max_by_key(|f| f.code) {
        // Already reported, one line each: exit with the worst code, quietly.
        Some(f) => Err(Failure::new(f.code, String::new())),
        None => Ok(()),
    }
}

/// What a ring still holds, for `gc`: `"3 unread messages"`, `"120 unread bytes"`, or `None`.
fn unread(r: &Inspection) -> Option<String> {
    let fill = r.control.as_ref()?.fill;
    (fill > 0).then(|| format!("{fill} unread {}", unit(r.info.kind)))
}

/// `gc`: removes every ring whose recorded processes are all dead — but not one that still
/// holds unread messages, unless `discard_unread` — and every `mq:` and `sysv:` queue whose
/// receiver died, with what it held (reported: its next receiver would replace it anyway, and
/// no shmring command can read it).
pub fn gc(dry_run: bool, discard_unread: bool, json: bool) -> Result<(), Failure> {
    let mut removed = Vec::new();
    let mut discarded = Vec::new();
    let mut kept = Vec::new();
    for name in inspect::list() {
        let reason = match inspect::inspect(&name) {
            Ok(r) if r.in_use() => "in use".to_string(),
            Ok(r) => match unread(&r) {
                Some(left) if !discard_unread => format!(
                    "its processes are gone but it holds {left}: `shmring recv {}` reads them, \
                     `shmring gc --discard-unread` removes it anyway",
                    cell(&name)
                ),
                left => {
                    if !dry_run {
                        if let Err(e) = shmring::Segment::unlink_name(&name) {
                            kept.push(json!({ "name": name, "reason": e.to_string() }));
                            continue;
                        }
                    }
                    if let Some(left) = left {
                        discarded.push(json!({ "name": name, "unread": left }));
                    }
                    removed.push(name);
                    continue;
                }
            },
            Err(e) => format!(
                "unreadable ({e}); remove it with `shmring rm --force {}`",
                cell(&name)
            ),
        };
        kept.push(json!({ "name": name, "reason": reason }));
    }
    // Kernel queues (shmring-ipc `mq:`, `sysv:`) whose receiver died: only their next receiver
    // would remove them.
    let mut sweep = |name: String, messages: u64, remove: &dyn Fn() -> bool| {
        if dry_run || remove() {
            if messages > 0 {
                let s = if messages == 1 { "" } else { "s" };
                let left = format!("{messages} queue message{s}");
                discarded.push(json!({ "name": name, "unread": left }));
            }
            removed.push(name);
        }
    };
    for q in shmring_ipc::mq::abandoned() {
        sweep(format!("mq:{}", q.name), q.messages, &|| {
            shmring_ipc::mq::remove(&q.name)
        });
    }
    for q in shmring_ipc::sysv::abandoned() {
        let name = format!("sysv:{:#010x}", q.key as u32);
        sweep(name, q.messages, &|| shmring_ipc::sysv::remove(q.key));
    }
    if json {
        outln!(
            "{}",
            json!({ "dry_run": dry_run, "removed": removed, "discarded": discarded, "kept": kept })
        )?;
        return Ok(());
    }
    let verb = if dry_run { "would remove" } else { "removed" };
    for name in &removed {
        let left = discarded
            .iter()
            .find(|d| d["name"].as_str() == Some(name.as_str()))
            .and_then(|d| d["unread"].as_str());
        match left {
            Some(left) => outln!("{verb} {} (discarding {left})", cell(name))?,
            None => outln!("{verb} {}", cell(name))?,
        }
    }
    for k in &kept {
        outln!(
            "kept {} ({})",
            cell(k["name"].as_str().unwrap_or_default()),
            k["reason"].as_str().unwrap_or_default()
        )?;
    }
    if removed.is_empty() {
        outln!("nothing to remove")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00.000 UTC");
        // A leap day, and the end of a leap century year.
        assert_eq!(utc(951_782_400_000_000_000), "2000-02-29 00:00:00.000 UTC");
        assert_eq!(utc(978_307_199_999_000_000), "2000-12-31 23:59:59.999 UTC");
        assert_eq!(
            utc(1_796_480_172_858_000_000),
            "2026-12-05 14:16:12.858 UTC"
        );
    }
}
