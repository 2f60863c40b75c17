//! Variable-length byte messages in a byte ring, Agrona-style records.
//!
//! Each message is a record `[header u64][payload][padding to 8 bytes]` (see [`record`]); the
//! header, holding the length and a user message type, is stored last with a Release store, so
//! a reader never sees a record before all its bytes are written, and never sees one whose
//! writer died before committing. When a record does not fit before the end of the area, a
//! padding record fills the rest and the message starts at offset 0. The reader zeroes every
//! byte it consumes, so stale bytes of an earlier lap never look like a header.
//!
//! This ring has one sender and one receiver at a time (either side creates, the other opens;
//! a new process may take over the role of a dead one, as with [`crate::spsc`]).
//!
//! ```
//! use shmring::framed;
//!
//! let name = format!("shmring-doc-framed-{}", std::process::id());
//! let mut tx = framed::Sender::create(name.as_str(), 4096)?;
//! let mut rx = framed::Receiver::open(name.as_str())?;   // normally another process
//! tx.send(b"hello").unwrap();
//! assert_eq!(rx.recv().unwrap(), b"hello");
//! // Zero-copy: reserve, write in place, commit.
//! let mut r = tx.reserve(3).unwrap();
//! r.write_at(0, b"abc");
//! r.commit();
//! let mut buf = Vec::new();
//! rx.recv_into(&mut buf).unwrap();
//! assert_eq!(buf, b"abc");
//! shmring::Segment::unlink_name(&name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod mpsc;
pub mod record;

use std::sync::Arc;
use std::time::{Duration, Instant};

use record::{HEADER, Record};

use crate::error::{recv_without_timeout, try_recv_to_timeout};
use crate::header::HeaderError;
#[cfg(shmring_loom)]
use crate::spsc::Area;
use crate::spsc::{End, Peer, Role};
use crate::storage::{Geometry, Storage, open_ring, ring_options};
use crate::sync::Ordering;
use crate::wait::{Step, Waiter};
use crate::{
    Location, OpenError, RecvError, RecvTimeoutError, RingKind, Segment, TryRecvError, WaitStrategy,
};

/// Smallest data area in bytes.
pub const MIN_CAPACITY: u64 = 64;

/// Offset (in the control block of the single-producer ring) of the receiver's "consumed"
/// word: the position up to which the receiver has taken messages, stored after every
/// message, so a receiver taking over from a dead one resumes exactly there.
pub const CONSUMED_OFFSET: usize = 704;

/// A send that did not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The message is longer than the ring allows.
    #[error("message of {len} bytes exceeds the ring's maximum message size of {max} bytes")]
    TooLarge {
        /// The message's length.
        len: usize,
        /// The ring's maximum ([`Sender::max_message`]).
        max: usize,
    },
    /// No room now (non-blocking calls only).
    #[error("the ring is full")]
    Full,
    /// The deadline passed while the ring stayed full.
    #[error("timed out waiting for room in the ring")]
    Timeout,
    /// The receiver is gone.
    #[error("the receiver is gone")]
    Disconnected,
    /// The shared state is invalid; this handle will not use the ring again.
    #[error("the ring's shared state is corrupted")]
    Corrupted,
}

impl SendError {
    /// Whether the ring was full.
    ///
    /// ```
    /// assert!(shmring::framed::SendError::Full.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        *self == SendError::Full
    }

    /// Whether the deadline passed.
    ///
    /// ```
    /// assert!(shmring::framed::SendError::Timeout.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        *self == SendError::Timeout
    }
}

/// The ring's geometry over bytes.
#[cfg(not(shmring_loom))]
fn geometry() -> Geometry {
    crate::spsc::geometry::<u8>()
}

/// The largest message a framed ring (either kind) of `capacity` bytes carries: half the area
/// less the 8-byte record header, so a record plus the padding before it always fits once the
/// reader has caught up — and at most 2^31 − 8 bytes.
///
/// ```
/// assert_eq!(shmring::framed::max_message(1 << 20), 524_280);
/// assert_eq!(shmring::framed::max_message(64), 24);
/// ```
pub fn max_message(capacity: u64) -> usize {
    usize::try_from(capacity / 2)
        .unwrap_or(usize::MAX)
        .saturating_sub(HEADER)
        .min(record::MAX_MESSAGE)
}

/// The options of a new framed ring (either kind) of `capacity` bytes at `location`.
#[cfg(not(shmring_loom))]
pub(crate) fn framed_options(
    kind: RingKind,
    capacity: u64,
    geometry: Geometry,
    location: &Location,
) -> Result<crate::SegmentOptions, OpenError> {
    if capacity < MIN_CAPACITY {
        return Err(OpenError::InvalidConfig {
            name: location.display_name(),
            reason: format!(
                "capacity {capacity} bytes is below the minimum of {MIN_CAPACITY} for a framed ring"
            ),
        });
    }
    ring_options::<u8>(kind, capacity, geometry, location)
}

#[cfg(not(shmring_loom))]
fn create_segment(
    location: impl Into<Location>,
    capacity: u64,
    mode: u32,
) -> Result<Segment, OpenError> {
    let location = location.into();
    framed_options(RingKind::Framed, capacity, geometry(), &location)?
        .mode(mode)
        .create(location)
}

#[cfg(not(shmring_loom))]
fn open_segment(location: impl Into<Location>) -> Result<Segment, OpenError> {
    let segment = open_ring::<u8>(RingKind::Framed, location, geometry())?;
    if segment.info().capacity < MIN_CAPACITY {
        return Err(OpenError::Corrupted {
            name: segment.name().to_owned(),
            reason: HeaderError::BadField {
                field: "capacity",
                value: segment.info().capacity,
            },
        });
    }
    Ok(segment)
}

/// The sending side: one per ring at a time.
///
/// ```
/// let (mut tx, mut rx) = shmring::framed::channel(256)?;
/// tx.send_typed(7, b"typed").unwrap();
/// let mut buf = Vec::new();
/// assert_eq!(rx.recv_into(&mut buf), Ok(7));
/// # Ok::<(), shmring::OpenError>(())
/// ```
pub struct Sender {
    end: End<u8>,
    /// The authoritative tail (bytes written and committed).
    tail: u64,
    /// The receiver's head as last seen.
    head: u64,
}

/// The receiving side: one per ring at a time.
pub struct Receiver {
    end: End<u8>,
    cursor: Cursor,
}

impl Drop for Receiver {
    /// Hands back what was consumed.
    fn drop(&mut self) {
        if !self.end.corrupted {
            self.hand_back();
        }
    }
}

/// Where both control blocks (spsc and mpmc) keep the published head.
const HEAD_OFFSET: usize = crate::spsc::HEAD_OFFSET;
const _: () = assert!(crate::spsc::HEAD_OFFSET == crate::mpmc::HEAD_OFFSET);

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
                Record::Message { kind, len, span } => {
                    buf.clear();
                    buf.resize(len, 0);
                    // SAFETY: the header (Acquire) committed the record's bytes; they stay
                    // this receiver's until it hands them back.
                    unsafe { storage.read(self.head.wrapping_add(HEADER as u64), buf) };
                    self.release(storage, span);
                    return Next::Message(kind);
                }
            }
        }
        Next::Corrupt
    }

    /// Moves past a consumed record.
    fn release(&mut self, storage: &Storage<u8>, span: usize) {
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
    fn settled(&self) -> u64 {
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

// SAFETY: a handle owns its role exclusively (claimed in shared memory) and touches the area
// only through atomics and copies of the bytes the record protocol assigns to its role; moving
// it to another thread changes nothing. It is not Sync: methods take `&mut self`.
unsafe impl Send for Sender {}
// SAFETY: as for Sender.
unsafe impl Send for Receiver {}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("framed::Sender")
            .field("ring", &self.end.name)
            .field("capacity", &self.end.area.capacity())
            .field("tail", &self.tail)
            .finish()
    }
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("framed::Receiver")
            .field("ring", &self.end.name)
            .field("capacity", &self.end.area.capacity())
            .field("head", &self.cursor.head)
            .finish()
    }
}

/// A framed ring on the process heap (threads of one process, and tests).
///
/// # Errors
///
/// [`OpenError::InvalidConfig`] for a capacity below [`MIN_CAPACITY`] or too large.
///
/// ```
/// let (mut tx, mut rx) = shmring::framed::channel(100)?; // rounded up to 128 bytes
/// assert_eq!(tx.max_message(), 56);
/// tx.send(&[1, 2, 3]).unwrap();
/// assert_eq!(rx.try_recv().unwrap(), [1, 2, 3]);
/// # Ok::<(), shmring::OpenError>(())
/// ```
#[cfg(not(shmring_loom))]
pub fn channel(capacity: u64) -> Result<(Sender, Receiver), OpenError> {
    let segment = Arc::new(create_segment(
        Location::Heap,
        capacity,
        crate::DEFAULT_MODE,
    )?);
    let tx = Sender::attach(segment.clone())?;
    let rx = Receiver::attach(segment)?;
    Ok((tx, rx))
}

/// The loom build: the ring on the loom heap, with a model futex.
///
/// # Errors
///
/// Never; the `Result` matches the normal build's signature.
#[cfg(shmring_loom)]
pub fn channel(capacity: u64) -> Result<(Sender, Receiver), OpenError> {
    let area = Area::<u8>::new_model(capacity.next_power_of_two().max(MIN_CAPACITY));
    let tx = Sender {
        end: End::model(&area, Role::Sender),
        tail: 0,
        head: 0,
    };
    let rx = Receiver {
        end: End::model(&area, Role::Receiver),
        cursor: Cursor::fresh(CONSUMED_OFFSET),
    };
    Ok((tx, rx))
}

/// The header word of the record at data offset `pos & mask`.
pub(crate) fn header(storage: &Storage<u8>, pos: u64) -> &crate::sync::AtomicU64 {
    debug_assert_eq!(pos % record::ALIGN as u64, 0);
    // SAFETY: positions of records are multiples of 8 and the data area starts 8-aligned, so
    // the 8 bytes lie inside the area; both sides access header words only atomically.
    unsafe { storage.word(pos) }
}

impl Sender {
    /// The segment the ring lives in: for example to pass a memfd ring's descriptor to
    /// another process (`segment().as_fd()`).
    ///
    /// ```
    /// let (tx, _rx) = shmring::framed::channel(64)?;
    /// assert_eq!(tx.segment().info().capacity, 64);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn segment(&self) -> &Segment {
        self.end.segment()
    }

    /// Creates a ring with a data area of at least `capacity` bytes (rounded up to a power of
    /// two, at least [`MIN_CAPACITY`]) and attaches as its sender.
    ///
    /// # Errors
    ///
    /// As [`SegmentOptions::create`](crate::SegmentOptions::create), and
    /// [`OpenError::InvalidConfig`] for a bad capacity.
    ///
    /// ```
    /// let name = format!("shmring-doc-framed-create-{}", std::process::id());
    /// let tx = shmring::framed::Sender::create(name.as_str(), 1 << 16)?;
    /// assert_eq!(tx.max_message(), (1 << 15) - 8);
    /// shmring::Segment::unlink_name(&name)?;
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn create(location: impl Into<Location>, capacity: u64) -> Result<Sender, OpenError> {
        Sender::create_with_mode(location, capacity, crate::DEFAULT_MODE)
    }

    /// Like [`create`](Sender::create), with the segment's permission bits `mode` instead
    /// of the default `0o600` (owner only). Applied exactly, whatever the umask.
    ///
    /// # Errors
    ///
    /// As [`create`](Sender::create).
    ///
    /// ```
    /// use std::os::unix::fs::PermissionsExt;
    /// let name = format!("shmring-doc-framed-mode-{}-{}", std::process::id(), line!());
    /// let h = shmring::framed::Sender::create_with_mode(name.as_str(), 4096, 0o660)?;
    /// let meta = std::fs::metadata(format!("/dev/shm/{name}"))?;
    /// assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    /// shmring::Segment::unlink_name(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn create_with_mode(
        location: impl Into<Location>,
        capacity: u64,
        mode: u32,
    ) -> Result<Sender, OpenError> {
        Sender::attach(Arc::new(create_segment(location, capacity, mode)?))
    }

    /// Opens the ring at `location` as its sender, taking over from a dead sender if there
    /// was one: records it committed stay, bytes it left uncommitted are cleared.
    ///
    /// # Errors
    ///
    /// As [`SegmentOptions::open`](crate::SegmentOptions::open), plus
    /// [`OpenError::RoleTaken`] while a live process is the sender and
    /// [`OpenError::Corrupted`] for impossible positions.
    ///
    /// ```
    /// let err = shmring::framed::Sender::open("shmring-doc-no-such-framed").unwrap_err();
    /// assert!(matches!(err, shmring::OpenError::NotFound { .. }));
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn open(location: impl Into<Location>) -> Result<Sender, OpenError> {
        Sender::attach(Arc::new(open_segment(location)?))
    }

    #[cfg(not(shmring_loom))]
    fn attach(segment: Arc<Segment>) -> Result<Sender, OpenError> {
        let end = End::<u8>::attach(segment, Role::Sender)?;
        let corrupted = |what: &'static str, value: u64| OpenError::Corrupted {
            name: end.name.clone(),
            reason: HeaderError::BadField { field: what, value },
        };
        let area = &end.area;
        let capacity = area.capacity();
        let max = max_message(capacity);
        // Find the end of what is committed: a predecessor commits a record before it stores
        // the tail, so follow committed headers from the stored tail — but never into the
        // receiver's part of the ring: at `head + capacity` a full ring's next lap begins,
        // and the header there is the receiver's next record, not one of ours.
        let head = area.head().load(Ordering::Acquire);
        let mut tail = area.tail().load(Ordering::Acquire);
        if tail % record::ALIGN as u64 != 0 {
            return Err(corrupted("framed tail alignment", tail));
        }
        // Before `head` can become a position read below (a hostile unaligned head used to
        // reach the header read: a debug assertion, an unaligned atomic in release).
        if head % record::ALIGN as u64 != 0 {
            return Err(corrupted("framed head alignment", head));
        }
        tail = tail.max(head);
        for _ in 0..3 {
            if tail.wrapping_sub(head) >= capacity {
                break;
            }
            let index = (tail & area.mask) as usize;
            match record::decode(
                header(area, tail).load(Ordering::Acquire),
                index,
                capacity as usize,
                max,
            ) {
                Ok(Record::Message { span, .. }) => tail += span as u64,
                Ok(Record::Padding { span }) => tail += span as u64,
                Ok(Record::Empty) => break,
                Ok(Record::Claimed { .. }) | Err(_) => {
                    return Err(corrupted("framed record at the tail", tail));
                }
            }
        }
        // The receiver may have taken records past the stored tail (committed by a
        // predecessor killed before it stored the tail) and cleared their headers before
        // handing them back: its consumed position says how far it went. It is stored before
        // a header is cleared (Release, `Cursor::release`), so a header seen cleared above
        // comes with the consumed position that covers it. Starting below it would lay new
        // records out of step with the receiver, which would then read payload as a header
        // (found by the kill torture).
        if let Some(consumed) = Cursor::consumed(area, CONSUMED_OFFSET, head) {
            tail = tail.max(consumed);
        }
        if tail - head > capacity || head % record::ALIGN as u64 != 0 {
            return Err(corrupted(
                "framed positions (tail - head)",
                tail.wrapping_sub(head),
            ));
        }
        // Clear whatever a dead predecessor wrote without committing — the free space
        // [tail, head + capacity), none when the ring is full (then `tail` is where the
        // receiver's next record starts). The header at `tail` may be read by the receiver
        // meanwhile, so it is cleared atomically.
        let free = (head + capacity - tail) as usize;
        if free >= HEADER {
            header(area, tail).store(0, Ordering::Relaxed);
        }
        if free > HEADER {
            // SAFETY: [tail + 8, head + capacity) is free space: the receiver reads nothing
            // there before a header at `tail` is committed, and this process is the only
            // sender.
            unsafe { area.zero(tail + HEADER as u64, free - HEADER) };
        }
        area.tail().store(tail, Ordering::Release);
        Ok(Sender { end, tail, head })
    }

    /// Sets how this handle waits when the ring is full.
    ///
    /// ```
    /// let (tx, _rx) = shmring::framed::channel(64)?;
    /// let tx = tx.with_wait_strategy(shmring::WaitStrategy::BusyPoll);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn with_wait_strategy(mut self, strategy: WaitStrategy) -> Sender {
        self.end.waiter = Waiter::new(strategy);
        self
    }

    /// The largest message this ring carries (half its capacity, less an 8-byte header).
    ///
    /// ```
    /// let (tx, _rx) = shmring::framed::channel(1024)?;
    /// assert_eq!(tx.max_message(), 504);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn max_message(&self) -> usize {
        max_message(self.end.area.capacity())
    }

    /// Bytes in the data area.
    ///
    /// ```
    /// let (tx, _rx) = shmring::framed::channel(1000)?;
    /// assert_eq!(tx.capacity(), 1024);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.end.area.capacity() as usize
    }

    /// Whether the receiver is gone (closed, or dead — checked now).
    ///
    /// ```
    /// let (mut tx, rx) = shmring::framed::channel(64)?;
    /// drop(rx);
    /// assert!(tx.is_disconnected());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn is_disconnected(&mut self) -> bool {
        self.end.peer(true) != Peer::Present
    }

    /// Sends `msg` (type 0) without waiting.
    ///
    /// # Errors
    ///
    /// [`SendError::TooLarge`] (with both sizes), `Full`, `Disconnected`, `Corrupted`.
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::framed::channel(64)?;
    /// tx.try_send(&[0; 24]).unwrap(); // 32 bytes with its header
    /// tx.try_send(&[0; 24]).unwrap();
    /// assert_eq!(tx.try_send(&[]), Err(shmring::framed::SendError::Full));
    /// let err = tx.try_send(&[0; 25]).unwrap_err();
    /// assert_eq!(err.to_string(), "message of 25 bytes exceeds the ring's maximum message size of 24 bytes");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        self.try_send_typed(0, msg)
    }

    /// Sends `msg` with message type `kind` (any value below `u32::MAX - 1`) without waiting.
    ///
    /// # Errors
    ///
    /// As [`try_send`](Sender::try_send).
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// tx.try_send_typed(3, b"x").unwrap();
    /// let mut buf = Vec::new();
    /// assert_eq!(rx.try_recv_into(&mut buf), Ok(3));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_send_typed(&mut self, kind: u32, msg: &[u8]) -> Result<(), SendError> {
        let index = self.claim(msg.len(), kind, false)?;
        self.write(index, 0, msg);
        self.commit(index, msg.len(), kind);
        Ok(())
    }

    /// Sends `msg` (type 0), waiting as long as the ring is full.
    ///
    /// # Errors
    ///
    /// [`SendError::TooLarge`], `Disconnected`, `Corrupted`.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// let t = std::thread::spawn(move || (0..100u8).for_each(|i| tx.send(&[i; 20]).unwrap()));
    /// for i in 0..100u8 { assert_eq!(rx.recv().unwrap(), [i; 20]); }
    /// t.join().unwrap();
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        self.send_typed_until(0, msg, None)
    }

    /// Sends `msg` with type `kind`, waiting as long as the ring is full.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send).
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// tx.send_typed(9, b"nine").unwrap();
    /// let mut buf = Vec::new();
    /// assert_eq!(rx.recv_into(&mut buf), Ok(9));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send_typed(&mut self, kind: u32, msg: &[u8]) -> Result<(), SendError> {
        self.send_typed_until(kind, msg, None)
    }

    /// Sends `msg`, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send), plus [`SendError::Timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let (mut tx, _rx) = shmring::framed::channel(64)?;
    /// tx.send(&[0; 24]).unwrap();
    /// tx.send(&[0; 24]).unwrap();
    /// assert!(tx.send_timeout(&[0; 24], Duration::from_millis(1)).unwrap_err().is_timeout());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send_timeout(&mut self, msg: &[u8], timeout: Duration) -> Result<(), SendError> {
        self.send_typed_until(0, msg, Instant::now().checked_add(timeout))
    }

    /// Sends `msg`, waiting until `deadline` (a `CLOCK_MONOTONIC` instant) for room.
    ///
    /// # Errors
    ///
    /// As [`send_timeout`](Sender::send_timeout).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (mut tx, _rx) = shmring::framed::channel(64)?;
    /// tx.send_deadline(b"ok", Instant::now() + Duration::from_secs(1)).unwrap();
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send_deadline(&mut self, msg: &[u8], deadline: Instant) -> Result<(), SendError> {
        self.send_typed_until(0, msg, Some(deadline))
    }

    fn send_typed_until(
        &mut self,
        kind: u32,
        msg: &[u8],
        deadline: Option<Instant>,
    ) -> Result<(), SendError> {
        let index = self.claim_waiting(msg.len(), kind, deadline)?;
        self.write(index, 0, msg);
        self.commit(index, msg.len(), kind);
        Ok(())
    }

    /// Reserves room for a message of `len` bytes (type 0), waiting as long as the ring is
    /// full. Write it in place with [`Reservation::write_at`] and publish it with
    /// [`Reservation::commit`]; a reservation dropped without commit is never seen by the
    /// receiver — nor is one whose process dies before committing.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send).
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::channel(128)?;
    /// let mut r = tx.reserve(10).unwrap();
    /// r.write_at(0, b"hello");
    /// r.write_at(5, b"world");
    /// r.set_type(2);
    /// r.commit();
    /// let mut buf = Vec::new();
    /// assert_eq!(rx.recv_into(&mut buf), Ok(2));
    /// assert_eq!(buf, b"helloworld");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn reserve(&mut self, len: usize) -> Result<Reservation<'_>, SendError> {
        let index = self.claim_waiting(len, 0, None)?;
        Ok(Reservation {
            sender: self,
            index,
            len,
            kind: 0,
            dirty: 0,
        })
    }

    /// Like [`reserve`](Sender::reserve), without waiting.
    ///
    /// # Errors
    ///
    /// As [`try_send`](Sender::try_send).
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::framed::channel(64)?;
    /// let r = tx.try_reserve(24).unwrap();
    /// drop(r); // never committed: nothing is sent
    /// assert!(tx.try_reserve(24).is_ok());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_reserve(&mut self, len: usize) -> Result<Reservation<'_>, SendError> {
        let index = self.claim(len, 0, false)?;
        Ok(Reservation {
            sender: self,
            index,
            len,
            kind: 0,
            dirty: 0,
        })
    }

    fn claim_waiting(
        &mut self,
        len: usize,
        kind: u32,
        deadline: Option<Instant>,
    ) -> Result<u64, SendError> {
        match self.claim(len, kind, false) {
            Err(SendError::Full) => {}
            other => return other,
        }
        let area = self.end.area.clone();
        let mut waiter = self.end.waiter;
        let done = waiter.wait(&*area, area.space_event(), deadline, |force| {
            match self.claim(len, kind, force) {
                Err(SendError::Full) => Step::Retry,
                other => Step::Done(other),
            }
        });
        self.end.waiter = waiter;
        done.unwrap_or(Err(SendError::Timeout))
    }

    /// Makes room for a record of `len` payload bytes at the tail (writing the padding record
    /// first if it must wrap) and returns the record's position.
    fn claim(&mut self, len: usize, kind: u32, force: bool) -> Result<u64, SendError> {
        let max = self.max_message();
        if len > max {
            return Err(SendError::TooLarge { len, max });
        }
        assert!(
            record::user_kind(kind),
            "message types u32::MAX and u32::MAX - 1 are reserved"
        );
        if self.end.corrupted {
            return Err(SendError::Corrupted);
        }
        if self.end.peer_closed() {
            return Err(SendError::Disconnected);
        }
        let capacity = self.end.area.capacity();
        let span = record::span(len) as u64;
        let to_end = capacity - (self.tail & self.end.area.mask);
        let needed = if span > to_end { to_end + span } else { span };
        if capacity - (self.tail - self.head) < needed {
            let head = self.end.area.head().load(Ordering::Acquire);
            if head < self.head || head > self.tail || head % record::ALIGN as u64 != 0 {
                self.end.corrupted = true;
                return Err(SendError::Corrupted);
            }
            self.head = head;
            if capacity - (self.tail - self.head) < needed {
                return Err(match self.end.peer(force) {
                    Peer::Present => SendError::Full,
                    Peer::Gone => SendError::Disconnected,
                    Peer::Corrupt => SendError::Corrupted,
                });
            }
        }
        if span > to_end {
            header(&self.end.area, self.tail)
                .store(record::encode_padding(to_end as usize), Ordering::Release);
            self.publish(self.tail + to_end);
        }
        Ok(self.tail)
    }

    /// Copies `bytes` into the payload of the record at `pos`, from payload offset `offset`.
    fn write(&self, pos: u64, offset: usize, bytes: &[u8]) {
        // SAFETY: `claim` made [pos, pos + span) free and this sender's until commit; the
        // record does not wrap, and callers keep offset + len within the payload.
        unsafe { self.end.area.write(pos + (HEADER + offset) as u64, bytes) };
    }

    /// Commits the record at `pos`: one Release store of its header, then the tail.
    fn commit(&mut self, pos: u64, len: usize, kind: u32) {
        header(&self.end.area, pos).store(record::encode(len, kind), Ordering::Release);
        self.publish(pos + record::span(len) as u64);
    }

    fn publish(&mut self, tail: u64) {
        self.tail = tail;
        self.end.publish_tail(tail);
    }
}

/// Room for one message, reserved by [`Sender::reserve`]: write it in place, then
/// [`commit`](Reservation::commit). Dropping it without committing sends nothing.
#[derive(Debug)]
pub struct Reservation<'a> {
    sender: &'a mut Sender,
    index: u64,
    len: usize,
    kind: u32,
    /// Payload bytes written so far (to clear them again if the reservation is dropped).
    dirty: usize,
}

impl Reservation<'_> {
    /// The message's length.
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::framed::channel(64)?;
    /// assert_eq!(tx.reserve(5).unwrap().len(), 5);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the message is empty.
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::framed::channel(64)?;
    /// assert!(tx.reserve(0).unwrap().is_empty());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies `bytes` into the message at `offset`.
    ///
    /// # Panics
    ///
    /// If `offset + bytes.len()` exceeds the reserved length.
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::framed::channel(64)?;
    /// let mut r = tx.reserve(4).unwrap();
    /// r.write_at(2, b"zz");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn write_at(&mut self, offset: usize, bytes: &[u8]) {
        let end = offset
            .checked_add(bytes.len())
            .filter(|e| *e <= self.len)
            .unwrap_or_else(|| {
                panic!(
                    "write of {} bytes at {offset} past a reservation of {}",
                    bytes.len(),
                    self.len
                )
            });
        self.sender.write(self.index, offset, bytes);
        self.dirty = self.dirty.max(end);
    }

    /// Sets the message type (default 0; `u32::MAX` and `u32::MAX - 1` are reserved).
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::framed::channel(64)?;
    /// tx.reserve(1).unwrap().set_type(5);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn set_type(&mut self, kind: u32) {
        assert!(
            record::user_kind(kind),
            "message types u32::MAX and u32::MAX - 1 are reserved"
        );
        self.kind = kind;
    }

    /// Publishes the message. Bytes never written are zero.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// tx.reserve(3).unwrap().commit();
    /// assert_eq!(rx.recv().unwrap(), [0, 0, 0]);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn commit(self) {
        let mut this = std::mem::ManuallyDrop::new(self);
        let (index, len, kind) = (this.index, this.len, this.kind);
        this.sender.commit(index, len, kind);
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.dirty > 0 {
            // SAFETY: the reserved record is still this sender's; clearing what was written
            // keeps the free space zeroed.
            unsafe {
                self.sender
                    .end
                    .area
                    .zero(self.index + HEADER as u64, self.dirty)
            };
        }
    }
}

impl Receiver {
    /// The segment the ring lives in: for example to pass a memfd ring's descriptor to
    /// another process (`segment().as_fd()`).
    ///
    /// ```
    /// let (_tx, rx) = shmring::framed::channel(64)?;
    /// assert_eq!(rx.segment().info().capacity, 64);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn segment(&self) -> &Segment {
        self.end.segment()
    }

    /// Creates a ring with a data area of at least `capacity` bytes and attaches as its
    /// receiver.
    ///
    /// # Errors
    ///
    /// As [`Sender::create`].
    ///
    /// ```
    /// let name = format!("shmring-doc-framed-rcreate-{}", std::process::id());
    /// let rx = shmring::framed::Receiver::create(name.as_str(), 4096)?;
    /// assert_eq!(rx.capacity(), 4096);
    /// shmring::Segment::unlink_name(&name)?;
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn create(location: impl Into<Location>, capacity: u64) -> Result<Receiver, OpenError> {
        Receiver::create_with_mode(location, capacity, crate::DEFAULT_MODE)
    }

    /// Like [`create`](Receiver::create), with the segment's permission bits `mode` instead
    /// of the default `0o600` (owner only). Applied exactly, whatever the umask.
    ///
    /// # Errors
    ///
    /// As [`create`](Receiver::create).
    ///
    /// ```
    /// use std::os::unix::fs::PermissionsExt;
    /// let name = format!("shmring-doc-framed-mode-{}-{}", std::process::id(), line!());
    /// let h = shmring::framed::Receiver::create_with_mode(name.as_str(), 4096, 0o660)?;
    /// let meta = std::fs::metadata(format!("/dev/shm/{name}"))?;
    /// assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    /// shmring::Segment::unlink_name(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn create_with_mode(
        location: impl Into<Location>,
        capacity: u64,
        mode: u32,
    ) -> Result<Receiver, OpenError> {
        Receiver::attach(Arc::new(create_segment(location, capacity, mode)?))
    }

    /// Opens the ring at `location` as its receiver (taking over from a dead receiver).
    ///
    /// # Errors
    ///
    /// As [`Sender::open`].
    ///
    /// ```
    /// let err = shmring::framed::Receiver::open("shmring-doc-no-such-framed").unwrap_err();
    /// assert!(matches!(err, shmring::OpenError::NotFound { .. }));
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn open(location: impl Into<Location>) -> Result<Receiver, OpenError> {
        Receiver::attach(Arc::new(open_segment(location)?))
    }

    #[cfg(not(shmring_loom))]
    fn attach(segment: Arc<Segment>) -> Result<Receiver, OpenError> {
        let end = End::<u8>::attach(segment, Role::Receiver)?;
        let head = end.area.head().load(Ordering::Acquire);
        let tail = end.area.tail().load(Ordering::Acquire);
        let corrupted = |value: u64| OpenError::Corrupted {
            name: end.name.clone(),
            reason: HeaderError::BadField {
                field: "framed positions (tail - head)",
                value,
            },
        };
        // The head may be past the stored tail: a sender commits a record before it stores the
        // tail, and one killed in between leaves a record the receiver may already have taken.
        if head.abs_diff(tail) > end.area.capacity() {
            return Err(corrupted(tail.wrapping_sub(head)));
        }
        let cursor = Cursor::open(&end.area, CONSUMED_OFFSET)
            .map_err(|head| corrupted(tail.wrapping_sub(head)))?;
        let mut rx = Receiver { end, cursor };
        // A predecessor that died before handing back what it consumed: hand it back now.
        rx.hand_back();
        Ok(rx)
    }

    /// Sets how this handle waits when the ring is empty.
    ///
    /// ```
    /// let (_tx, rx) = shmring::framed::channel(64)?;
    /// let rx = rx.with_wait_strategy(shmring::WaitStrategy::BusyPoll);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn with_wait_strategy(mut self, strategy: WaitStrategy) -> Receiver {
        self.end.waiter = Waiter::new(strategy);
        self
    }

    /// Bytes in the data area.
    ///
    /// ```
    /// let (_tx, rx) = shmring::framed::channel(64)?;
    /// assert_eq!(rx.capacity(), 64);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.end.area.capacity() as usize
    }

    /// The largest message this ring carries.
    ///
    /// ```
    /// let (_tx, rx) = shmring::framed::channel(64)?;
    /// assert_eq!(rx.max_message(), 24);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn max_message(&self) -> usize {
        max_message(self.end.area.capacity())
    }

    /// Whether the sender is gone (closed, or dead — checked now).
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::channel(64)?;
    /// drop(tx);
    /// assert!(rx.is_disconnected());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn is_disconnected(&mut self) -> bool {
        self.end.peer(true) != Peer::Present
    }

    /// Receives the next message without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`], `Disconnected` once the ring is drained and the sender gone,
    /// `Corrupted` for an invalid record or position.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// assert_eq!(rx.try_recv(), Err(shmring::TryRecvError::Empty));
    /// tx.send(b"a").unwrap();
    /// assert_eq!(rx.try_recv().unwrap(), b"a");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_recv(&mut self) -> Result<Vec<u8>, TryRecvError> {
        let mut buf = Vec::new();
        self.try_recv_into(&mut buf).map(|_| buf)
    }

    /// Receives the next message into `buf` (cleared first; its allocation is reused) without
    /// waiting, and returns its message type.
    ///
    /// # Errors
    ///
    /// As [`try_recv`](Receiver::try_recv).
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// tx.send(b"abc").unwrap();
    /// let mut buf = Vec::with_capacity(64);
    /// assert_eq!(rx.try_recv_into(&mut buf), Ok(0));
    /// assert_eq!(buf, b"abc");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<u32, TryRecvError> {
        self.pop(buf, false)
    }

    /// Receives the next message, waiting as long as the ring is empty.
    ///
    /// # Errors
    ///
    /// [`RecvError::Disconnected`] once drained and the sender is gone, `Corrupted`.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// tx.send(b"x").unwrap();
    /// drop(tx);
    /// assert_eq!(rx.recv().unwrap(), b"x");
    /// assert_eq!(rx.recv(), Err(shmring::RecvError::Disconnected));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn recv(&mut self) -> Result<Vec<u8>, RecvError> {
        let mut buf = Vec::new();
        self.recv_into(&mut buf).map(|_| buf)
    }

    /// Receives the next message into `buf` (reusing its allocation: no allocation per
    /// message once it is large enough), waiting as long as the ring is empty; returns the
    /// message type.
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv).
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// tx.send_typed(4, b"yz").unwrap();
    /// let mut buf = Vec::new();
    /// assert_eq!(rx.recv_into(&mut buf), Ok(4));
    /// assert_eq!(buf, b"yz");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<u32, RecvError> {
        self.recv_into_until(buf, None)
            .map_err(recv_without_timeout)
    }

    /// Receives, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv), plus [`RecvTimeoutError::Timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let (_tx, mut rx) = shmring::framed::channel(64)?;
    /// assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Err(shmring::RecvTimeoutError::Timeout));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Vec<u8>, RecvTimeoutError> {
        let mut buf = Vec::new();
        self.recv_into_until(&mut buf, Instant::now().checked_add(timeout))
            .map(|_| buf)
    }

    /// Receives, waiting until `deadline` (a `CLOCK_MONOTONIC` instant).
    ///
    /// # Errors
    ///
    /// As [`recv_timeout`](Receiver::recv_timeout).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// tx.send(b"d").unwrap();
    /// assert_eq!(rx.recv_deadline(Instant::now() + Duration::from_secs(1)).unwrap(), b"d");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn recv_deadline(&mut self, deadline: Instant) -> Result<Vec<u8>, RecvTimeoutError> {
        let mut buf = Vec::new();
        self.recv_into_until(&mut buf, Some(deadline)).map(|_| buf)
    }

    /// Like [`recv_into`](Receiver::recv_into), waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`recv_timeout`](Receiver::recv_timeout).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// tx.send(b"e").unwrap();
    /// let mut buf = Vec::new();
    /// rx.recv_into_deadline(&mut buf, Instant::now() + Duration::from_secs(1)).unwrap();
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn recv_into_deadline(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: Instant,
    ) -> Result<u32, RecvTimeoutError> {
        self.recv_into_until(buf, Some(deadline))
    }

    fn recv_into_until(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<u32, RecvTimeoutError> {
        match self.pop(buf, false) {
            Ok(kind) => return Ok(kind),
            Err(TryRecvError::Empty) => {}
            Err(e) => return Err(try_recv_to_timeout(e)),
        }
        let area = self.end.area.clone();
        let mut waiter = self.end.waiter;
        let done = waiter.wait(&*area, area.data_event(), deadline, |force| {
            match self.pop(buf, force) {
                Ok(kind) => Step::Done(Ok(kind)),
                Err(TryRecvError::Empty) => Step::Retry,
                Err(e) => Step::Done(Err(try_recv_to_timeout(e))),
            }
        });
        self.end.waiter = waiter;
        done.unwrap_or(Err(RecvTimeoutError::Timeout))
    }

    /// An iterator that receives until the sender is gone and the ring drained.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::channel(256)?;
    /// tx.send(b"1").unwrap();
    /// tx.send(b"22").unwrap();
    /// drop(tx);
    /// assert_eq!(rx.iter().collect::<Vec<_>>(), [b"1".to_vec(), b"22".to_vec()]);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn iter(&mut self) -> impl Iterator<Item = Vec<u8>> + '_ {
        std::iter::from_fn(|| self.recv().ok())
    }

    /// An iterator over the messages available now.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::channel(256)?;
    /// tx.send(b"1").unwrap();
    /// assert_eq!(rx.try_iter().count(), 1);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_iter(&mut self) -> impl Iterator<Item = Vec<u8>> + '_ {
        std::iter::from_fn(|| self.try_recv().ok())
    }

    /// One attempt: take the next message (skipping padding) into `buf`.
    fn pop(&mut self, buf: &mut Vec<u8>, force: bool) -> Result<u32, TryRecvError> {
        if self.end.corrupted {
            return Err(TryRecvError::Corrupted);
        }
        match self.cursor.next(&self.end.area, buf) {
            Next::Message(kind) => {
                if self.cursor.due(self.end.area.capacity()) {
                    self.hand_back();
                }
                Ok(kind)
            }
            Next::Corrupt => {
                self.end.corrupted = true;
                Err(TryRecvError::Corrupted)
            }
            Next::NotReady => {
                self.hand_back();
                match self.end.peer(force) {
                    Peer::Present => Err(TryRecvError::Empty),
                    Peer::Corrupt => Err(TryRecvError::Corrupted),
                    // The sender commits before it closes: a last look, then gone.
                    Peer::Gone => {
                        if header(&self.end.area, self.cursor.head).load(Ordering::Acquire) == 0 {
                            Err(TryRecvError::Disconnected)
                        } else {
                            self.pop(buf, false)
                        }
                    }
                }
            }
        }
    }

    /// Clears what was consumed and publishes the head with a Release store, waking a
    /// waiting sender.
    fn hand_back(&mut self) {
        if let Some(head) = self.cursor.hand_back(&self.end.area) {
            self.end.publish_head(head);
        }
    }
}

#[cfg(not(shmring_loom))]
impl crate::handle::Core for Receiver {
    fn readiness(&mut self) -> &mut crate::notify::Readiness {
        &mut self.end.readiness
    }

    fn bridge(&mut self) -> std::io::Result<std::sync::Arc<crate::notify::Bridge>> {
        self.end.bridge()
    }

    fn waiter(&self) -> Waiter {
        self.end.waiter
    }

    fn keep_waiter(&mut self, waiter: Waiter) {
        self.end.waiter = waiter;
    }

    fn would_wait(&mut self, _need: usize) -> bool {
        header(&self.end.area, self.cursor.head).load(Ordering::Acquire) == 0
            && matches!(self.end.peer(false), Peer::Present)
            && !self.end.corrupted
    }

    fn look_at_peers(&mut self) {
        let _ = self.end.peer(true);
    }
}

crate::handle::readiness_methods! {
    impl[] Receiver;
    channel: "framed::channel(64)",
    var: "rx",
    proceeds: "a message may have arrived (or the sender may be gone)",
    register: "assert!(rx.register_readiness()?); // empty: wait on rx.readiness_fd()"
}

/// `async` receiving (feature `tokio`).
#[cfg(all(feature = "tokio", not(shmring_loom)))]
impl Receiver {
    /// Receives the next message into `buf` (its type returned), awaiting one without
    /// blocking the thread: try, spin briefly, then register and await the readiness eventfd.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a message is taken only in the poll that completes the future; `buf` is
    /// written only then.
    ///
    /// # Errors
    ///
    /// As [`recv_into`](Receiver::recv_into).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// tx.send(b"hi").unwrap();
    /// let mut buf = Vec::new();
    /// assert_eq!(rx.recv_into_async(&mut buf).await, Ok(0));
    /// assert_eq!(buf, b"hi");
    /// # Ok(()) }
    /// ```
    pub async fn recv_into_async(&mut self, buf: &mut Vec<u8>) -> Result<u32, RecvError> {
        crate::handle::drive(self, 0, |rx, force| {
            crate::handle::received(rx.pop(buf, force))
        })
        .await
    }

    /// [`recv_into_async`](Receiver::recv_into_async) into a new buffer.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as `recv_into_async`.
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// tx.send(b"hi").unwrap();
    /// assert_eq!(rx.recv_async().await.unwrap(), b"hi");
    /// # Ok(()) }
    /// ```
    pub async fn recv_async(&mut self) -> Result<Vec<u8>, RecvError> {
        let mut buf = Vec::new();
        self.recv_into_async(&mut buf).await.map(|_| buf)
    }
}

#[cfg(not(shmring_loom))]
impl crate::handle::Core for Sender {
    fn readiness(&mut self) -> &mut crate::notify::Readiness {
        &mut self.end.readiness
    }

    fn bridge(&mut self) -> std::io::Result<std::sync::Arc<crate::notify::Bridge>> {
        self.end.bridge()
    }

    fn waiter(&self) -> Waiter {
        self.end.waiter
    }

    fn keep_waiter(&mut self, waiter: Waiter) {
        self.end.waiter = waiter;
    }

    fn would_wait(&mut self, need: usize) -> bool {
        matches!(self.claim(need, 0, false), Err(SendError::Full))
    }

    fn look_at_peers(&mut self) {
        let _ = self.end.peer(true);
    }
}

crate::handle::readiness_methods! {
    impl[] Sender;
    channel: "framed::channel(64)",
    var: "tx",
    proceeds: "room for a message of `len` bytes may have been handed back (or the receiver \
               may be gone)",
    register: "assert!(!tx.register_readiness(8)?); // 8 bytes fit: send at once",
    need: len
}

/// `async` sending (feature `tokio`).
#[cfg(all(feature = "tokio", not(shmring_loom)))]
impl Sender {
    /// Sends `msg`, awaiting room without blocking the thread: try, spin briefly, then
    /// register and await the readiness eventfd.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: `msg` is committed only in the poll that completes the future; a future
    /// dropped before that sends nothing of it.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// tx.send_async(b"hi").await.unwrap();
    /// assert_eq!(rx.recv().unwrap(), b"hi");
    /// # Ok(()) }
    /// ```
    pub async fn send_async(&mut self, msg: &[u8]) -> Result<(), SendError> {
        crate::handle::drive(self, msg.len(), |tx, force| {
            if force {
                let _ = tx.end.peer(true);
            }
            match tx.try_send(msg) {
                Err(SendError::Full) => None,
                other => Some(other),
            }
        })
        .await
    }
}

crate::handle::stream_method! {
    impl[] Receiver => Vec<u8>;
    channel: "framed::channel(64)",
    send: "tx.send(&[5]).unwrap();",
    first: "vec![5]"
}
