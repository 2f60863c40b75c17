//! What becomes of a dead producer's claim: padding written over it, or the committed record
//! it had finished (docs/protocols.md, "The many-producer framed ring").

#[allow(unused_imports)]
use super::*;

/// Turns the `span` bytes from `pos` into padding (split at the wrap): the header at `pos`
/// last, so a reader never passes it before the rest is padding too.
pub(super) fn pad(storage: &Storage<u8>, pos: u64, span: u64) {
    let to_end = storage.mask + 1 - (pos & storage.mask);
    if span > to_end {
        header(storage, pos + to_end).store(
            record::encode_padding((span - to_end) as usize),
            Ordering::Release,
        );
        header(storage, pos).store(record::encode_padding(to_end as usize), Ordering::Release);
    } else {
        header(storage, pos).store(record::encode_padding(span as usize), Ordering::Release);
    }
}

/// Settles the claim (`pos`, `span`) a dead participant of `role` had announced (called by the
/// participant table's reaper, [`Participant::scan`]). Only the receiver writes: it turns an
/// uncommitted claim into padding once no live producer can own it. Anyone else leaves claims
/// the receiver has not passed for the receiver.
pub(crate) fn resolve(
    p: &Participant<u8>,
    role: Role,
    pos: u64,
    span: u64,
    verdicts: &mut Vec<(u64, bool)>,
) -> Resolution {
    let area = &p.area;
    let capacity = area.capacity();
    let align = record::ALIGN as u64;
    if role != Role::Sender || pos % align != 0 || span % align != 0 || span == 0 {
        return Resolution::Settled; // receivers claim nothing; garbage in a dead record
    }
    if span > capacity {
        return Resolution::Settled;
    }
    let tail = area.tail().load(Ordering::Acquire);
    // Not claimed (its CAS never happened), or not this claim (a lost CAS at a position
    // somebody else claimed with another length).
    if pos >= tail || pos.checked_add(span).is_none_or(|end| end > tail) {
        return Resolution::Settled;
    }
    if p.role() != Role::Receiver {
        let head = area.head().load(Ordering::Acquire);
        return if pos < head {
            Resolution::Settled
        } else {
            Resolution::Pending
        };
    }
    let local_head = p.local_head.load(Ordering::Relaxed);
    if local_head == u64::MAX {
        // Attaching: this receiver's position is not known yet, so nothing it might have
        // consumed may be written; the next scan settles it.
        return Resolution::Pending;
    }
    if pos < local_head {
        return Resolution::Settled; // consumed already
    }
    let word = header(area, pos).load(Ordering::Acquire);
    let max = max_message(capacity);
    match record::decode(word, (pos & area.mask) as usize, capacity as usize, max) {
        Ok(Record::Claimed { span: claimed }) if claimed as u64 == span => {}
        Ok(Record::Empty) => {}
        // Committed (the owner died after its commit), someone else's claim, or garbage the
        // reader reports itself.
        Ok(_) | Err(_) => return Resolution::Settled,
    }
    if p.held_by_live(Role::Sender, pos, verdicts) {
        return Resolution::Pending;
    }
    // A live owner commits before its lane goes idle: the lane reads above saw it idle, so a
    // changed header is its commit. Look again.
    if header(area, pos).load(Ordering::Acquire) != word {
        return Resolution::Pending;
    }
    if word == 0 && owner_span(p, pos, tail, verdicts) != Some(span) {
        // The owner died between its CAS and marking the claim, and dead producers disagree
        // on the length at `pos`: the one the ring's boundaries confirm is the owner's.
        return Resolution::Settled;
    }
    pad(area, pos, span);
    Resolution::Settled
}

/// The length of the unmarked claim at `pos`, from the lanes of dead producers that announced
/// `pos`: every lane position is a tail value, so a boundary between claims; the owner's length
/// ends at the next boundary, and no boundary lies inside its (unwritten) claim. So the
/// shortest announced length whose end is witnessed as a boundary (the tail, a lane, or a
/// written header) is the owner's.
pub(super) fn owner_span(
    p: &Participant<u8>,
    pos: u64,
    tail: u64,
    verdicts: &mut Vec<(u64, bool)>,
) -> Option<u64> {
    let mut spans = Vec::new();
    p.dead_claims(verdicts, |_, q, n| {
        let fits = pos.checked_add(n).is_some_and(|end| end <= tail);
        if q == pos && n % record::ALIGN as u64 == 0 && n > 0 && fits {
            spans.push(n);
        }
    });
    spans.sort_unstable();
    spans.dedup();
    spans.into_iter().find(|&n| {
        let end = pos + n;
        // Lanes before the header: a live claimant at `end` writes its header before its
        // lane leaves `end`.
        end == tail
            || p.claimant(end) != Claimant::Nobody
            || header(&p.area, end).load(Ordering::Acquire) != 0
    })
}
