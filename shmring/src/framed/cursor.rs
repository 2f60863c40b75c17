//! The receiver's cursor over the record area, which both framed rings share: reading and
//! validating record headers, skipping padding, taking messages out, handing consumed space back.

#[allow(unused_imports)]
use super::*;

/// What the record at a receiver's head holds.
pub(crate) enum Next {
    /// A message of this type was copied out.
    Message(u32),
    /// Nothing committed there yet (empty, or a claim in progress).
    NotReady,
    /// An invalid record or a run of padding that cannot be.
    Corrupt,
}

/// The reading position of a framed ring, shared by both receivers.
///
/// Consumed space is handed back to the senders in batches (a quarter of the ring, or
/// whenever the ring is found empty), so the shared head line and the clearing cost once per
/// batch instead of once per message. The exact position is kept in the receiver's own
/// "consumed" word after every message, so a successor of a receiver that died resumes where
/// it stopped instead of redelivering the batch.
pub(crate) struct Cursor {
    /// The authoritative head (bytes consumed).
    pub(crate) head: u64,
    /// The head as last published; [published, head) is consumed but not yet cleared and
    /// handed back.
    published: u64,
    /// Offset of the consumed word in the control block.
    consumed_at: usize,
    /// Holding (see [`Receiver::hold`]): messages taken from this position on are not
    /// consumed until [`commit`](Cursor::commit) — the consumed word, their headers and their
    /// space stay as they were.
    held: Option<u64>,
}

impl Cursor {
    /// Where a receiver attaching to `storage` starts: the published head, or the consumed
    /// word of a predecessor that died between taking messages and handing them back (whose
    /// bytes are then cleared and handed back; the caller publishes `head`).
    pub(crate) fn open(storage: &Storage<u8>, consumed_at: usize) -> Result<Cursor, u64> {
        let head = storage.u64_at(HEAD_OFFSET).load(Ordering::Acquire);
        if head % record::ALIGN as u64 != 0 {
            return Err(head);
        }
        let mut cursor = Cursor {
            head,
            published: head,
            consumed_at,
            held: None,
        };
        if let Some(consumed) = Cursor::consumed(storage, consumed_at, head) {
            cursor.head = consumed;
        } else {
            storage.u64_at(consumed_at).store(head, Ordering::Relaxed);
        }
        Ok(cursor)
    }

    /// The consumed word at `consumed_at` if it is a position a receiver can have reached
    /// past the published `head` (within a ring, aligned): how far the current or a dead
    /// receiver has taken messages.
    pub(crate) fn consumed(storage: &Storage<u8>, consumed_at: usize, head: u64) -> Option<u64> {
        let consumed = storage.u64_at(consumed_at).load(Ordering::Acquire);
        (consumed > head
            && consumed - head <= storage.mask + 1
            && consumed % record::ALIGN as u64 == 0)
            .then_some(consumed)
    }

    /// A cursor at 0 on a fresh (model) ring.
    #[cfg(shmring_loom)]
    pub(crate) fn fresh(consumed_at: usize) -> Cursor {
        Cursor {
            head: 0,
            published: 0,
            consumed_at,
            held: None,
        }
    }

    /// Takes the next message (skipping padding) into `buf`.
    pub(crate) fn next(&mut self, storage: &Storage<u8>, buf: &mut Vec<u8>) -> Next {
        let capacity = storage.mask + 1;
        let max = max_message(capacity);
        // Every padding record moves the head on by at least 8 bytes: a whole ring of them
        // is the most there can be before a message or the end of what is committed.
        for _ in 0..=capacity / record::ALIGN as u64 {
            if self.held.is_some() && self.head.wrapping_sub(self.published) >= capacity {
                // Holding a ring's worth not handed back: nothing new can be here, and the
                // header here is still the first held record's, a lap old. (Not holding, it
                // was cleared when taken: a non-zero one is a hostile write, caught below.)
                return Next::NotReady;
            }
            let index = self.head & storage.mask;
            let word = header(storage, self.head).load(Ordering::Acquire);
            let record = match record::decode(word, index as usize, capacity as usize, max) {
                Ok(Record::Padding { span } | Record::Message { span, .. })
                    if self.head.wrapping_sub(self.published) + span as u64 > capacity =>
                {
                    // More than a ring's worth past what was handed back: no sender can
                    // have written that (a hostile chain of padding records, say).
                    return Next::Corrupt;
                }
                Ok(record) => record,
                Err(_) => return Next::Corrupt,
            };
            match record {
                Record::Empty | Record::Claimed { .. } => return Next::NotReady,
                Record::Padding { span } => self.release(storage, span),
                Record::Message { tag, len, span } => {
                    buf.clear();
                    buf.reserve(len);
                    // Copied once into the spare capacity (no zero-fill first).
                    // SAFETY: the header (Acquire) committed the record's bytes, this
                    // receiver's until handed back; then `len` bytes are initialized.
                    unsafe {
                        storage.read_uninit(
                            self.head.wrapping_add(HEADER as u64),
                            &mut buf.spare_capacity_mut()[..len],
                        );
                        buf.set_len(len);
                    }
                    self.release(storage, span);
                    return Next::Message(tag);
                }
            }
        }
        Next::Corrupt
    }

    /// Moves past a consumed record.
    pub(super) fn release(&mut self, storage: &Storage<u8>, span: usize) {
        // Wrapping: a hostile head near 2^64 must not panic (positions never get there).
        let next = self.head.wrapping_add(span as u64);
        if self.held.is_some() {
            // Held: consumed only at the commit, when the consumed word moves past it.
            self.head = next;
            return;
        }
        // The consumed position first: a successor of a receiver killed between the two
        // stores starts after this record and zeroes it with the rest of the batch. The other
        // way round, a receiver killed after clearing the header left its successor waiting
        // at an empty header with no producer to fill it — a wedged ring reported as
        // corrupted (found by the kill torture, torture/tests/torture.rs).
        storage
            .u64_at(self.consumed_at)
            .store(next, Ordering::Relaxed);
        // The header word is cleared at once, atomically (the loom model keeps header words
        // apart from payload bytes); the rest of the record with the batch. Release: the
        // store above is never reordered after it.
        header(storage, self.head).store(0, Ordering::Release);
        self.head = next;
    }

    /// How far messages are consumed: the head, or where holding began.
    #[inline]
    pub(super) fn settled(&self) -> u64 {
        self.held.unwrap_or(self.head)
    }

    /// Whether a batch is due to be handed back.
    #[inline]
    pub(crate) fn due(&self, capacity: u64) -> bool {
        self.settled().wrapping_sub(self.published) >= capacity / 4
    }

    /// Zeroes the consumed bytes [published, settled) (so no stale byte ever looks like a
    /// header) and returns the head to publish, if anything was consumed.
    pub(crate) fn hand_back(&mut self, storage: &Storage<u8>) -> Option<u64> {
        let settled = self.settled();
        let consumed = settled.wrapping_sub(self.published) as usize;
        if consumed == 0 {
            return None;
        }
        // SAFETY: [published, settled) is consumed: no sender writes it before the head is
        // published, and this receiver only reads at or after `settled`.
        unsafe { storage.zero(self.published, consumed) };
        self.published = settled;
        Some(settled)
    }

    /// Starts holding at the current position (no-op while holding).
    pub(crate) fn hold(&mut self) {
        self.held.get_or_insert(self.head);
    }

    /// Consumes what was taken while holding (holding goes on from here): the consumed word
    /// moves past it, so neither a successor of this receiver nor a
    /// [`rewind`](Cursor::rewind) sees it again.
    pub(crate) fn commit(&mut self, storage: &Storage<u8>) {
        if self.held.is_some() {
            storage
                .u64_at(self.consumed_at)
                .store(self.head, Ordering::Release);
            self.held = Some(self.head);
        }
    }

    /// Goes back to the first message taken since the last commit (or since holding began):
    /// it and those after it are taken again.
    pub(crate) fn rewind(&mut self) {
        if let Some(from) = self.held {
            self.head = from;
        }
    }

    /// Commits, then stops holding.
    pub(crate) fn unhold(&mut self, storage: &Storage<u8>) {
        self.commit(storage);
        self.held = None;
    }
}

/// The header word of the record at data offset `pos & mask`.
pub(crate) fn header(storage: &Storage<u8>, pos: u64) -> &crate::sync::AtomicU64 {
    debug_assert_eq!(pos % record::ALIGN as u64, 0);
    // SAFETY: positions of records are multiples of 8 and the data area starts 8-aligned, so
    // the 8 bytes lie inside the area; both sides access header words only atomically.
    unsafe { storage.word(pos) }
}
