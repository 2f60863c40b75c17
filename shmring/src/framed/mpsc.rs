//! The framed ring with many producers: any number of [`Sender`]s (clones, threads and
//! processes) and one [`Receiver`], records as in the single-producer ring ([`super::record`]).
//!
//! A producer announces its claim (position and length) in its participant record, claims the
//! bytes with one CAS on the tail, marks the record [`CLAIMED`](record::CLAIMED) (in
//! progress), writes the payload and commits with one Release store of the header — the
//! padding header last when the claim wraps, so the reader never passes the wrap before the
//! record behind it is committed. A claim dropped uncommitted becomes padding. When a
//! producer dies with a claim in flight, the receiver (and only the receiver, so nobody else
//! ever writes into the unconsumed part of the ring) finds the claim in the dead producer's
//! record and turns it into padding, so it moves on; the participant table and the proof
//! that the owner is dead are the mpmc ring's ([`crate::mpmc`]). `docs/protocols.md` has the
//! protocol and its proof obligations.
//!
//! ```
//! use shmring::framed::mpsc;
//!
//! let name = format!("shmring-doc-framed-mpsc-{}", std::process::id());
//! let mut rx = mpsc::Receiver::create(name.as_str(), 4096)?;
//! let tx = mpsc::Sender::open(name.as_str())?;          // normally other processes
//! let tx2 = tx.clone();
//! std::thread::spawn(move || tx2.send(b"from a thread").unwrap()).join().unwrap();
//! tx.send(b"hello").unwrap();
//! let mut got = vec![rx.recv().unwrap(), rx.recv().unwrap()];
//! got.sort();
//! assert_eq!(got, [b"from a thread".to_vec(), b"hello".to_vec()]);
//! shmring::Segment::unlink_name(&name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::record::{self, HEADER, Record};
use super::{Cursor, MIN_CAPACITY, Next, SendError, header, max_message};
use crate::error::{recv_without_timeout, try_recv_to_timeout};
use crate::mpmc::{
    Area, CONTROL_SIZE, Claimant, IDLE, LaneGuard, Participant, Protocol, Resolution, Role,
};
use crate::storage::{Geometry, Storage};
use crate::sync::Ordering;
use crate::wait::{Step, Waiter};
#[cfg(not(shmring_loom))]
use crate::{Location, RingKind, Segment, TypeLayout, header::HeaderError};
use crate::{OpenError, RecvError, RecvTimeoutError, TryRecvError, WaitStrategy};

/// Offset (in the control block) of the receiver's "consumed" word (see
/// [`super::CONSUMED_OFFSET`]).
pub const CONSUMED_OFFSET: usize = 768;

/// Operations (sends, open reservations) one process can have in flight on one ring.
pub const LANES_PER_PROCESS: usize = crate::mpmc::LANES / 2;

/// Attempts one claim makes before it reports `Full` under contention (each failed attempt
/// means another producer claimed).
const RETRIES: u32 = 1 << 16;

/// The geometry: the mpmc control block and participant table, then the byte area.
fn geometry() -> Geometry {
    Geometry::packed::<u8>(CONTROL_SIZE)
}

/// The strategy of new handles; under loom no spinning (as in [`crate::mpmc`]).
fn default_strategy() -> WaitStrategy {
    if cfg!(shmring_loom) {
        WaitStrategy::Blocking { spin: 0, yields: 0 }
    } else {
        WaitStrategy::default()
    }
}

#[cfg(not(shmring_loom))]
fn create_segment(
    location: impl Into<Location>,
    capacity: u64,
    label: Option<TypeLayout>,
    mode: u32,
) -> Result<Segment, OpenError> {
    let location = location.into();
    let options = super::framed_options(RingKind::FramedMpsc, capacity, geometry(), &location)?;
    match label {
        Some(layout) => options.payload_layout(layout),
        None => options,
    }
    .mode(mode)
    .create(location)
}

#[cfg(not(shmring_loom))]
fn open_segment(
    location: impl Into<Location>,
    label: Option<TypeLayout>,
) -> Result<Segment, OpenError> {
    let layout = label.unwrap_or_else(<u8 as crate::ShmType>::layout);
    crate::storage::open_ring_as(RingKind::FramedMpsc, layout, location, geometry())
}

/// Joins the ring in `segment` as `role`, after checking its positions.
#[cfg(not(shmring_loom))]
fn attach(segment: Arc<Segment>, role: Role) -> Result<Participant<u8>, OpenError> {
    let capacity = segment.info().capacity;
    let bad = |field: &'static str, value: u64| OpenError::Corrupted {
        name: segment.name().to_owned(),
        reason: HeaderError::BadField { field, value },
    };
    if capacity < MIN_CAPACITY {
        return Err(bad("capacity", capacity));
    }
    // SAFETY: `open_ring` (or our own create) checked that the area holds the control block
    // and `capacity` bytes (a power of two); the area is page aligned; the segment is kept
    // alive in the participant next to the area.
    let area = unsafe { Area::<u8>::with_geometry(segment.area_ptr(), capacity, geometry()) };
    let head = area.head().load(Ordering::Acquire);
    let tail = area.tail().load(Ordering::Acquire);
    if head > tail || tail - head > capacity || (head | tail) % record::ALIGN as u64 != 0 {
        return Err(bad(
            "framed positions (tail - head)",
            tail.wrapping_sub(head),
        ));
    }
    let name = segment.name().to_owned();
    Participant::join(area, Protocol::Records(resolve), role, name, Some(segment))
}

/// Creates a many-producer framed ring on the process heap (threads of one process, and
/// tests).
///
/// # Errors
///
/// [`OpenError::InvalidConfig`] for a capacity below [`MIN_CAPACITY`] or too large.
///
/// ```
/// let (tx, mut rx) = shmring::framed::mpsc::channel(256)?;
/// let handles: Vec<_> = (0..4u8)
///     .map(|i| { let tx = tx.clone(); std::thread::spawn(move || tx.send(&[i; 3]).unwrap()) })
///     .collect();
/// handles.into_iter().for_each(|h| h.join().unwrap());
/// let mut got: Vec<_> = (0..4).map(|_| rx.recv().unwrap()).collect();
/// got.sort();
/// assert_eq!(got, (0..4u8).map(|i| vec![i; 3]).collect::<Vec<_>>());
/// # Ok::<(), shmring::OpenError>(())
/// ```
#[cfg(not(shmring_loom))]
pub fn channel(capacity: u64) -> Result<(Sender, Receiver), OpenError> {
    let segment = Arc::new(create_segment(
        Location::Heap,
        capacity,
        None,
        crate::DEFAULT_MODE,
    )?);
    let rx = Receiver::attach(segment.clone())?;
    let tx = Sender::attach(segment)?;
    Ok((tx, rx))
}

/// The loom build: the ring on the loom heap; more producers come from
/// [`Sender::attach_sender`].
///
/// # Errors
///
/// Never in practice; the `Result` matches the normal build's signature.
#[cfg(shmring_loom)]
pub fn channel(capacity: u64) -> Result<(Sender, Receiver), OpenError> {
    let capacity = capacity.next_power_of_two().max(MIN_CAPACITY);
    let area = Area::<u8>::model_with_geometry(capacity, geometry());
    let tx = Participant::join(
        area.clone(),
        Protocol::Records(resolve),
        Role::Sender,
        "loom".into(),
        None,
    )?;
    let rx = Participant::join(
        area,
        Protocol::Records(resolve),
        Role::Receiver,
        "loom".into(),
        None,
    )?;
    Ok((
        Sender::from_shared(tx),
        Receiver {
            shared: rx,
            cursor: Cursor::fresh(CONSUMED_OFFSET),
            strategy: default_strategy(),
        },
    ))
}

/// Turns the `span` bytes from `pos` into padding (split at the wrap): the header at `pos`
/// last, so a reader never passes it before the rest is padding too.
fn pad(storage: &Storage<u8>, pos: u64, span: u64) {
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
fn owner_span(
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

/// A sending handle: `Clone` (clones share this process's participant record) and `Sync`;
/// every process that opens the ring is one more producer.
pub struct Sender {
    shared: Arc<Participant<u8>>,
    strategy: WaitStrategy,
    /// This handle's readiness eventfd, its helper and reactor registration, once asked
    /// for (not shared with clones: each clone waits on its own).
    #[cfg(not(shmring_loom))]
    readiness: crate::notify::Readiness,
}

impl Clone for Sender {
    fn clone(&self) -> Self {
        Sender {
            shared: self.shared.clone(),
            strategy: self.strategy,
            #[cfg(not(shmring_loom))]
            readiness: Default::default(),
        }
    }
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("framed::mpsc::Sender")
            .field("ring", &self.shared.name)
            .field("capacity", &self.shared.area.capacity())
            .field("record", &self.shared.index)
            .finish()
    }
}

/// The receiving handle: one per ring at a time (a successor may take over from a dead one).
pub struct Receiver {
    shared: Participant<u8>,
    cursor: Cursor,
    strategy: WaitStrategy,
    /// The readiness eventfd, its helper and reactor registration, once asked for.
    #[cfg(not(shmring_loom))]
    readiness: crate::notify::Readiness,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("framed::mpsc::Receiver")
            .field("ring", &self.shared.name)
            .field("capacity", &self.shared.area.capacity())
            .field("head", &self.cursor.head)
            .finish()
    }
}

impl Drop for Receiver {
    /// Hands back what was consumed.
    fn drop(&mut self) {
        if !self.shared.is_corrupted() {
            self.hand_back();
        }
    }
}

/// A claim: `needed` bytes from `pos`, the record at its end (after padding to the wrap if
/// the record did not fit before it).
#[derive(Clone, Copy, Debug)]
struct Claim {
    pos: u64,
    needed: u64,
    len: usize,
}

impl Claim {
    /// Where the record starts.
    fn record(&self) -> u64 {
        self.pos + self.needed - record::span(self.len) as u64
    }
}

impl Sender {
    fn from_shared(shared: Participant<u8>) -> Sender {
        Sender {
            shared: Arc::new(shared),
            strategy: default_strategy(),
            #[cfg(not(shmring_loom))]
            readiness: Default::default(),
        }
    }

    #[cfg(not(shmring_loom))]
    fn attach(segment: Arc<Segment>) -> Result<Sender, OpenError> {
        Ok(Sender::from_shared(attach(segment, Role::Sender)?))
    }

    /// Creates a ring with a data area of at least `capacity` bytes (rounded up to a power of
    /// two, at least [`MIN_CAPACITY`]) and attaches as one of its producers.
    ///
    /// # Errors
    ///
    /// As [`SegmentOptions::create`](crate::SegmentOptions::create), and
    /// [`OpenError::InvalidConfig`] for a bad capacity.
    ///
    /// ```
    /// let name = format!("shmring-doc-mpsc-create-{}", std::process::id());
    /// let tx = shmring::framed::mpsc::Sender::create(name.as_str(), 1000)?;
    /// assert_eq!((tx.capacity(), tx.max_message()), (1024, 504));
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
    /// let name = format!("shmring-doc-mpsc-mode-{}-{}", std::process::id(), line!());
    /// let h = shmring::framed::mpsc::Sender::create_with_mode(name.as_str(), 4096, 0o660)?;
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
        Sender::attach(Arc::new(create_segment(location, capacity, None, mode)?))
    }

    /// Opens the ring at `location` as one more producer.
    ///
    /// # Errors
    ///
    /// As [`SegmentOptions::open`](crate::SegmentOptions::open), plus
    /// [`OpenError::ParticipantsFull`] when every record is held by a live process,
    /// [`OpenError::KindMismatch`] for a ring of another kind (such as a single-producer
    /// framed ring), and
    /// [`OpenError::Corrupted`] for impossible positions.
    ///
    /// ```
    /// let err = shmring::framed::mpsc::Sender::open("shmring-doc-no-such-mpsc").unwrap_err();
    /// assert!(matches!(err, shmring::OpenError::NotFound { .. }));
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn open(location: impl Into<Location>) -> Result<Sender, OpenError> {
        Sender::attach(Arc::new(open_segment(location, None)?))
    }

    /// Opens a ring whose header says its messages carry values of `label` (created with
    /// [`Receiver::create_labelled`]): a ring labelled with another type, or not labelled, is
    /// [`OpenError::IncompatibleLayout`] naming both. The ring still carries bytes; the label
    /// is for typed layers such as `shmring-ipc`'s typed channels.
    ///
    /// # Errors
    ///
    /// As [`open`](Sender::open).
    ///
    /// ```
    /// use shmring::ShmType;
    /// let name = format!("shmring-doc-mpsc-label-{}", std::process::id());
    /// let _rx = shmring::framed::mpsc::Receiver::create_labelled(name.as_str(), 256, u32::layout())?;
    /// assert!(shmring::framed::mpsc::Sender::open_labelled(name.as_str(), u32::layout()).is_ok());
    /// let err = shmring::framed::mpsc::Sender::open_labelled(name.as_str(), i64::layout()).unwrap_err();
    /// assert!(matches!(err, shmring::OpenError::IncompatibleLayout { .. }), "{err}");
    /// shmring::Segment::unlink_name(&name)?;
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn open_labelled(
        location: impl Into<Location>,
        label: TypeLayout,
    ) -> Result<Sender, OpenError> {
        Sender::attach(Arc::new(open_segment(location, Some(label))?))
    }

    /// Attaches one more producer to the same ring as a separate participant (its own
    /// record, as another process would have; tests and loom models).
    ///
    /// # Errors
    ///
    /// [`OpenError::ParticipantsFull`].
    #[doc(hidden)]
    pub fn attach_sender(&self) -> Result<Sender, OpenError> {
        let s = &self.shared;
        Participant::join(
            s.area.clone(),
            Protocol::Records(resolve),
            Role::Sender,
            s.name.clone(),
            s._segment.clone(),
        )
        .map(Sender::from_shared)
    }

    /// Claims room for a message of `len` bytes as [`reserve`](Sender::reserve) would, then
    /// dies without writing or committing it (loom models of the crash protocol) — with
    /// `marked` false, between the claiming CAS and the claimed mark. Returns whether the
    /// claim was made.
    #[doc(hidden)]
    #[cfg(shmring_loom)]
    pub fn die_after_claim(self, len: usize, marked: bool) -> bool {
        let lane = self.shared.lane();
        let claimed = self.claim_marked(&lane, len, false, marked).is_ok();
        std::mem::forget(lane);
        self.shared.die();
        claimed
    }

    /// Sets how this handle waits when the ring is full (clones made afterwards inherit it).
    ///
    /// ```
    /// let (tx, _rx) = shmring::framed::mpsc::channel(64)?;
    /// let tx = tx.with_wait_strategy(shmring::WaitStrategy::BusyPoll);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn with_wait_strategy(mut self, strategy: WaitStrategy) -> Sender {
        self.strategy = strategy;
        self
    }

    /// The segment the ring lives in.
    ///
    /// ```
    /// let (tx, _rx) = shmring::framed::mpsc::channel(64)?;
    /// assert_eq!(tx.segment().info().kind, shmring::RingKind::FramedMpsc);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn segment(&self) -> &Segment {
        self.shared._segment.as_deref().expect("a mapped ring")
    }

    /// The largest message this ring carries (half its capacity, less an 8-byte header).
    ///
    /// ```
    /// let (tx, _rx) = shmring::framed::mpsc::channel(64)?;
    /// assert_eq!(tx.max_message(), 24);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn max_message(&self) -> usize {
        max_message(self.shared.area.capacity())
    }

    /// Bytes in the data area.
    ///
    /// ```
    /// let (tx, _rx) = shmring::framed::mpsc::channel(100)?;
    /// assert_eq!(tx.capacity(), 128);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.shared.area.capacity() as usize
    }

    /// Whether the receiver is gone (closed, or dead — checked now).
    ///
    /// ```
    /// let (tx, rx) = shmring::framed::mpsc::channel(64)?;
    /// assert!(!tx.is_disconnected());
    /// drop(rx);
    /// assert!(tx.is_disconnected());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn is_disconnected(&self) -> bool {
        !self.shared.peers_present(false, true)
    }

    /// Sends `msg` (type 0) without waiting.
    ///
    /// # Errors
    ///
    /// [`SendError::TooLarge`] (with both sizes), `Full`, `Disconnected`, `Corrupted`.
    ///
    /// ```
    /// use shmring::framed::SendError;
    /// let (tx, _rx) = shmring::framed::mpsc::channel(64)?;
    /// tx.try_send(&[1; 24]).unwrap();
    /// tx.try_send(&[2; 24]).unwrap();
    /// assert_eq!(tx.try_send(&[]), Err(SendError::Full));
    /// assert_eq!(tx.try_send(&[0; 25]), Err(SendError::TooLarge { len: 25, max: 24 }));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_send(&self, msg: &[u8]) -> Result<(), SendError> {
        self.try_send_typed(0, msg)
    }

    /// Sends `msg` with message type `kind` (any value below `u32::MAX - 1`) without waiting.
    ///
    /// # Errors
    ///
    /// As [`try_send`](Sender::try_send).
    ///
    /// # Panics
    ///
    /// If `kind` is one of the two reserved types.
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(64)?;
    /// tx.try_send_typed(3, b"x").unwrap();
    /// let mut buf = Vec::new();
    /// assert_eq!(rx.try_recv_into(&mut buf), Ok(3));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_send_typed(&self, kind: u32, msg: &[u8]) -> Result<(), SendError> {
        self.try_send_forced(kind, msg, false)
    }

    /// [`try_send_typed`](Sender::try_send_typed); `force`: look at the receiver's liveness
    /// now.
    fn try_send_forced(&self, kind: u32, msg: &[u8], force: bool) -> Result<(), SendError> {
        check_kind(kind);
        let lane = self.shared.try_lane().ok_or(SendError::Full)?;
        let claim = self.claim(&lane, msg.len(), force)?;
        self.write(claim, 0, msg);
        self.commit(&lane, claim, kind);
        Ok(())
    }

    /// Sends `msg` (type 0), waiting as long as the ring is full.
    ///
    /// # Errors
    ///
    /// [`SendError::TooLarge`], `Disconnected`, `Corrupted`.
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(64)?;
    /// let t = std::thread::spawn(move || (0..100u8).for_each(|i| tx.send(&[i; 20]).unwrap()));
    /// for i in 0..100u8 { assert_eq!(rx.recv().unwrap(), [i; 20]); }
    /// t.join().unwrap();
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send(&self, msg: &[u8]) -> Result<(), SendError> {
        self.send_typed_until(0, msg, None)
    }

    /// Sends `msg` with type `kind`, waiting as long as the ring is full.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send).
    ///
    /// # Panics
    ///
    /// If `kind` is one of the two reserved types.
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(64)?;
    /// tx.send_typed(9, b"nine").unwrap();
    /// let mut buf = Vec::new();
    /// assert_eq!(rx.recv_into(&mut buf), Ok(9));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send_typed(&self, kind: u32, msg: &[u8]) -> Result<(), SendError> {
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
    /// let (tx, _rx) = shmring::framed::mpsc::channel(64)?;
    /// tx.send(&[0; 24]).unwrap();
    /// tx.send(&[0; 24]).unwrap();
    /// assert!(tx.send_timeout(&[0; 24], Duration::from_millis(1)).unwrap_err().is_timeout());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send_timeout(&self, msg: &[u8], timeout: Duration) -> Result<(), SendError> {
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
    /// let (tx, _rx) = shmring::framed::mpsc::channel(64)?;
    /// tx.send_deadline(b"ok", Instant::now() + Duration::from_secs(1)).unwrap();
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send_deadline(&self, msg: &[u8], deadline: Instant) -> Result<(), SendError> {
        self.send_typed_until(0, msg, Some(deadline))
    }

    fn send_typed_until(
        &self,
        kind: u32,
        msg: &[u8],
        deadline: Option<Instant>,
    ) -> Result<(), SendError> {
        check_kind(kind);
        let lane = self.shared.lane();
        let claim = self.claim_waiting(&lane, msg.len(), deadline)?;
        self.write(claim, 0, msg);
        self.commit(&lane, claim, kind);
        Ok(())
    }

    /// Reserves room for a message of `len` bytes (type 0), waiting as long as the ring is
    /// full. Write it in place with [`Reservation::write_at`] and publish it with
    /// [`Reservation::commit`]. Messages are received in the order of their reservations; a
    /// reservation held open holds back the messages reserved after it. One dropped without
    /// commit — or whose process dies — becomes padding the receiver skips.
    ///
    /// A process has [`LANES_PER_PROCESS`] operations in flight on one ring at most (the
    /// lanes of its participant record, where a claim is announced for crash recovery): a
    /// further `reserve` waits until a reservation of another thread is committed or dropped
    /// (so one thread must not hold more than that many open), and `try_reserve` and
    /// `try_send` report [`SendError::Full`].
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send).
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(128)?;
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
    pub fn reserve(&self, len: usize) -> Result<Reservation<'_>, SendError> {
        let lane = self.shared.lane();
        let claim = self.claim_waiting(&lane, len, None)?;
        Ok(self.reservation(lane, claim, true))
    }

    /// Like [`reserve`](Sender::reserve), without waiting.
    ///
    /// # Errors
    ///
    /// As [`try_send`](Sender::try_send).
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(64)?;
    /// drop(tx.try_reserve(8).unwrap()); // never committed: padding
    /// tx.try_send(b"after").unwrap();
    /// assert_eq!(rx.try_recv().unwrap(), b"after");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_reserve(&self, len: usize) -> Result<Reservation<'_>, SendError> {
        let lane = self.shared.try_lane().ok_or(SendError::Full)?;
        let claim = self.claim(&lane, len, false)?;
        Ok(self.reservation(lane, claim, true))
    }

    /// Hands `claim` to its user; `held_open` marks it so in the lane ([`HELD_OPEN`]).
    ///
    /// [`HELD_OPEN`]: crate::mpmc::HELD_OPEN
    fn reservation<'a>(
        &'a self,
        lane: LaneGuard<'a, u8>,
        claim: Claim,
        held_open: bool,
    ) -> Reservation<'a> {
        if held_open {
            lane.hold_open();
        }
        Reservation {
            sender: self,
            lane,
            claim,
            kind: 0,
            committed: false,
        }
    }

    /// A reservation that receivers see as a send still copying its message (not marked
    /// [`HELD_OPEN`](crate::mpmc::HELD_OPEN)): for tests of what `try_recv` does behind a
    /// producer that is slow, stopped or killed in the middle of a send.
    ///
    /// # Errors
    ///
    /// As [`reserve`](Sender::reserve).
    #[doc(hidden)]
    pub fn reserve_as_send(&self, len: usize) -> Result<Reservation<'_>, SendError> {
        let lane = self.shared.lane();
        let claim = self.claim_waiting(&lane, len, None)?;
        Ok(self.reservation(lane, claim, false))
    }

    fn claim_waiting(
        &self,
        lane: &LaneGuard<'_, u8>,
        len: usize,
        deadline: Option<Instant>,
    ) -> Result<Claim, SendError> {
        match self.claim(lane, len, false) {
            Err(SendError::Full) => {}
            other => return other,
        }
        let shared = &*self.shared;
        let mut waiter = Waiter::new(self.strategy);
        let event = shared
            .area
            .event(Role::Sender, shared.index, &shared.sleepers);
        let done = waiter.wait(shared.area.storage(), event, deadline, |force| {
            match self.claim(lane, len, force) {
                Err(SendError::Full) => Step::Retry,
                other => Step::Done(other),
            }
        });
        done.unwrap_or(Err(SendError::Timeout))
    }

    /// One attempt to claim room for a record of `len` payload bytes (plus the padding to the
    /// wrap if it does not fit before it): announce, then CAS the tail, then mark it claimed.
    fn claim(&self, lane: &LaneGuard<'_, u8>, len: usize, force: bool) -> Result<Claim, SendError> {
        self.claim_marked(lane, len, force, true)
    }

    /// [`claim`](Sender::claim), optionally stopping before the mark (loom models of a
    /// producer killed between its CAS and the mark).
    #[inline]
    fn claim_marked(
        &self,
        lane: &LaneGuard<'_, u8>,
        len: usize,
        force: bool,
        mark: bool,
    ) -> Result<Claim, SendError> {
        let shared = &*self.shared;
        let max = self.max_message();
        if len > max {
            return Err(SendError::TooLarge { len, max });
        }
        if shared.is_corrupted() {
            return Err(SendError::Corrupted);
        }
        if !shared.peers_present(false, force) {
            return Err(SendError::Disconnected);
        }
        let corrupted = || {
            shared.corrupt();
            Err(SendError::Corrupted)
        };
        let area = &shared.area;
        let capacity = area.capacity();
        let span = record::span(len) as u64;
        let mut pos = area.tail().load(Ordering::Acquire);
        for _ in 0..RETRIES {
            let head = area.head().load(Ordering::Acquire);
            if pos < head {
                // Our tail is older than the receiver's head: look again.
                let tail = area.tail().load(Ordering::Acquire);
                if tail < head || tail == pos {
                    return corrupted();
                }
                pos = tail;
                continue;
            }
            if pos % record::ALIGN as u64 != 0 || pos - head > capacity {
                return corrupted();
            }
            let to_end = capacity - (pos & area.mask);
            let needed = if span > to_end { to_end + span } else { span };
            if pos - head + needed > capacity {
                let tail = area.tail().load(Ordering::Acquire);
                if tail != pos {
                    pos = tail;
                    continue;
                }
                return Err(if shared.peers_present(true, false) {
                    SendError::Full
                } else {
                    SendError::Disconnected
                });
            }
            // Announce before claiming, so that whoever recovers from this process's death
            // finds the claim.
            lane.set_claim(pos, needed);
            match area.tail().compare_exchange(
                pos,
                pos + needed,
                Ordering::SeqCst,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if mark {
                        header(area, pos)
                            .store(record::encode_claimed(needed as usize), Ordering::Relaxed);
                    }
                    return Ok(Claim { pos, needed, len });
                }
                Err(current) => pos = current,
            }
        }
        lane.set(IDLE);
        Err(SendError::Full)
    }

    /// Whether a record of `len` payload bytes would have to wait now: the ring lacks the
    /// room (as [`claim`](Sender::claim) computes it), or every lane of this process's
    /// record is in use. Anything unexpected counts as "go and try", so the attempt itself
    /// reports it. The re-check after registering for readiness.
    #[cfg(not(shmring_loom))]
    fn would_wait(&self, len: usize) -> bool {
        let shared = &*self.shared;
        if len > self.max_message() || shared.is_corrupted() {
            return false;
        }
        let area = &shared.area;
        let capacity = area.capacity();
        let pos = area.tail().load(Ordering::Acquire);
        let head = area.head().load(Ordering::Acquire);
        if pos < head || pos - head > capacity {
            return false;
        }
        let span = record::span(len) as u64;
        let to_end = capacity - (pos & area.mask);
        let needed = if span > to_end { to_end + span } else { span };
        pos - head + needed > capacity || shared.try_lane().is_none()
    }

    /// Copies `bytes` into the payload of `claim`'s record from payload offset `offset`.
    fn write(&self, claim: Claim, offset: usize, bytes: &[u8]) {
        // SAFETY: the claim made [pos, pos + needed) this producer's until its commit; the
        // record does not wrap, and callers keep offset + len within the payload.
        unsafe {
            self.shared
                .area
                .write(claim.record() + (HEADER + offset) as u64, bytes)
        };
    }

    /// Commits `claim`: the record's header (Release), then the padding before it if it
    /// wrapped (replacing the claimed mark), then the lane goes idle.
    fn commit(&self, lane: &LaneGuard<'_, u8>, claim: Claim, kind: u32) {
        let area = &self.shared.area;
        let word = record::encode(claim.len, kind);
        let at = claim.record();
        if at == claim.pos {
            header(area, at).store(word, Ordering::Release);
        } else {
            header(area, at).store(word, Ordering::Release);
            header(area, claim.pos).store(
                record::encode_padding((at - claim.pos) as usize),
                Ordering::Release,
            );
        }
        lane.set(IDLE);
        self.shared.notify(Role::Receiver);
    }

    /// Turns `claim` into padding (a reservation dropped uncommitted).
    fn abandon(&self, lane: &LaneGuard<'_, u8>, claim: Claim) {
        pad(&self.shared.area, claim.pos, claim.needed);
        lane.set(IDLE);
        self.shared.notify(Role::Receiver);
    }
}

fn check_kind(kind: u32) {
    assert!(
        record::user_kind(kind),
        "message types u32::MAX and u32::MAX - 1 are reserved"
    );
}

/// Room for one message, reserved by [`Sender::reserve`]: write it in place, then
/// [`commit`](Reservation::commit). Dropping it without committing sends nothing (the room
/// becomes padding).
pub struct Reservation<'a> {
    sender: &'a Sender,
    lane: LaneGuard<'a, u8>,
    claim: Claim,
    kind: u32,
    committed: bool,
}

impl std::fmt::Debug for Reservation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("framed::mpsc::Reservation")
            .field("len", &self.claim.len)
            .field("kind", &self.kind)
            .finish()
    }
}

impl Reservation<'_> {
    /// The message's length.
    ///
    /// ```
    /// let (tx, _rx) = shmring::framed::mpsc::channel(64)?;
    /// assert_eq!(tx.reserve(5).unwrap().len(), 5);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.claim.len
    }

    /// Whether the message is empty.
    ///
    /// ```
    /// let (tx, _rx) = shmring::framed::mpsc::channel(64)?;
    /// assert!(tx.reserve(0).unwrap().is_empty());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.claim.len == 0
    }

    /// Copies `bytes` into the message at `offset`.
    ///
    /// # Panics
    ///
    /// If `offset + bytes.len()` exceeds the reserved length.
    ///
    /// ```
    /// let (tx, _rx) = shmring::framed::mpsc::channel(64)?;
    /// let mut r = tx.reserve(4).unwrap();
    /// r.write_at(2, b"zz");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn write_at(&mut self, offset: usize, bytes: &[u8]) {
        let fits = offset
            .checked_add(bytes.len())
            .is_some_and(|end| end <= self.claim.len);
        assert!(
            fits,
            "write of {} bytes at {offset} past a reservation of {}",
            bytes.len(),
            self.claim.len
        );
        self.sender.write(self.claim, offset, bytes);
    }

    /// Sets the message type (default 0; `u32::MAX` and `u32::MAX - 1` are reserved).
    ///
    /// # Panics
    ///
    /// If `kind` is reserved.
    ///
    /// ```
    /// let (tx, _rx) = shmring::framed::mpsc::channel(64)?;
    /// tx.reserve(1).unwrap().set_type(5);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn set_type(&mut self, kind: u32) {
        check_kind(kind);
        self.kind = kind;
    }

    /// Publishes the message. Bytes never written are zero.
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(64)?;
    /// tx.reserve(3).unwrap().commit();
    /// assert_eq!(rx.recv().unwrap(), [0, 0, 0]);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn commit(mut self) {
        self.sender.commit(&self.lane, self.claim, self.kind);
        self.committed = true;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.committed {
            self.sender.abandon(&self.lane, self.claim);
        }
    }
}

impl Receiver {
    #[cfg(not(shmring_loom))]
    fn attach(segment: Arc<Segment>) -> Result<Receiver, OpenError> {
        let shared = attach(segment, Role::Receiver)?;
        // One receiver at a time: having joined, look for another live one (two joining at
        // once may both give up; both never stay).
        shared.scan();
        if let Some(pid) = shared.other_live(Role::Receiver) {
            return Err(OpenError::RoleTaken {
                name: shared.name.clone(),
                role: "receiver",
                pid,
            });
        }
        let cursor =
            Cursor::open(&shared.area, CONSUMED_OFFSET).map_err(|head| OpenError::Corrupted {
                name: shared.name.clone(),
                reason: HeaderError::BadField {
                    field: "framed head",
                    value: head,
                },
            })?;
        shared.local_head.store(cursor.head, Ordering::Relaxed);
        let mut rx = Receiver {
            shared,
            cursor,
            strategy: default_strategy(),
            readiness: Default::default(),
        };
        // A predecessor that died before handing back what it consumed: hand it back now.
        rx.hand_back();
        Ok(rx)
    }

    /// Creates a ring with a data area of at least `capacity` bytes and attaches as its
    /// receiver.
    ///
    /// # Errors
    ///
    /// As [`Sender::create`].
    ///
    /// ```
    /// let name = format!("shmring-doc-mpsc-rcreate-{}", std::process::id());
    /// let rx = shmring::framed::mpsc::Receiver::create(name.as_str(), 4096)?;
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
    /// let name = format!("shmring-doc-mpsc-mode-{}-{}", std::process::id(), line!());
    /// let h = shmring::framed::mpsc::Receiver::create_with_mode(name.as_str(), 4096, 0o660)?;
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
        Receiver::attach(Arc::new(create_segment(location, capacity, None, mode)?))
    }

    /// Creates a ring whose header says its messages carry values of `label` (see
    /// [`Sender::open_labelled`]).
    ///
    /// # Errors
    ///
    /// As [`create`](Receiver::create).
    ///
    /// ```
    /// use shmring::ShmType;
    /// let name = format!("shmring-doc-mpsc-rlabel-{}", std::process::id());
    /// let rx = shmring::framed::mpsc::Receiver::create_labelled(name.as_str(), 256, u16::layout())?;
    /// assert_eq!(rx.segment().info().description, "u16 (size 2, align 2)");
    /// shmring::Segment::unlink_name(&name)?;
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn create_labelled(
        location: impl Into<Location>,
        capacity: u64,
        label: TypeLayout,
    ) -> Result<Receiver, OpenError> {
        Receiver::create_labelled_with_mode(location, capacity, label, crate::DEFAULT_MODE)
    }

    /// [`create_labelled`](Receiver::create_labelled) with the permission bits `mode` (see
    /// [`create_with_mode`](Receiver::create_with_mode)).
    ///
    /// # Errors
    ///
    /// As [`create`](Receiver::create).
    ///
    /// ```
    /// use shmring::ShmType;
    /// let name = format!("shmring-doc-mpsc-lmode-{}", std::process::id());
    /// let rx = shmring::framed::mpsc::Receiver::create_labelled_with_mode(name.as_str(), 256, u16::layout(), 0o640)?;
    /// shmring::Segment::unlink_name(&name)?;
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn create_labelled_with_mode(
        location: impl Into<Location>,
        capacity: u64,
        label: TypeLayout,
        mode: u32,
    ) -> Result<Receiver, OpenError> {
        Receiver::attach(Arc::new(create_segment(
            location,
            capacity,
            Some(label),
            mode,
        )?))
    }

    /// Opens a labelled ring as its receiver (see [`Sender::open_labelled`]).
    ///
    /// # Errors
    ///
    /// As [`open`](Receiver::open), plus [`OpenError::IncompatibleLayout`].
    ///
    /// ```
    /// use shmring::ShmType;
    /// let err = shmring::framed::mpsc::Receiver::open_labelled("shmring-doc-none", u8::layout()).unwrap_err();
    /// assert!(matches!(err, shmring::OpenError::NotFound { .. }));
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn open_labelled(
        location: impl Into<Location>,
        label: TypeLayout,
    ) -> Result<Receiver, OpenError> {
        Receiver::attach(Arc::new(open_segment(location, Some(label))?))
    }

    /// Opens the ring at `location` as its receiver, taking over from a dead receiver (which
    /// resumes where it stopped consuming: at most the message it was copying when it died is
    /// delivered again).
    ///
    /// # Errors
    ///
    /// As [`Sender::open`], plus [`OpenError::RoleTaken`] while a live process is the
    /// receiver.
    ///
    /// ```
    /// let name = format!("shmring-doc-mpsc-ropen-{}", std::process::id());
    /// let _rx = shmring::framed::mpsc::Receiver::create(name.as_str(), 64)?;
    /// let err = shmring::framed::mpsc::Receiver::open(name.as_str()).unwrap_err();
    /// assert!(matches!(err, shmring::OpenError::RoleTaken { role: "receiver", .. }));
    /// shmring::Segment::unlink_name(&name)?;
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn open(location: impl Into<Location>) -> Result<Receiver, OpenError> {
        Receiver::attach(Arc::new(open_segment(location, None)?))
    }

    /// The segment the ring lives in.
    ///
    /// ```
    /// let (_tx, rx) = shmring::framed::mpsc::channel(64)?;
    /// assert_eq!(rx.segment().info().capacity, 64);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn segment(&self) -> &Segment {
        self.shared._segment.as_deref().expect("a mapped ring")
    }

    /// Sets how this handle waits when the ring is empty.
    ///
    /// ```
    /// let (_tx, rx) = shmring::framed::mpsc::channel(64)?;
    /// let rx = rx.with_wait_strategy(shmring::WaitStrategy::BusyPoll);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn with_wait_strategy(mut self, strategy: WaitStrategy) -> Receiver {
        self.strategy = strategy;
        self
    }

    /// Bytes in the data area.
    ///
    /// ```
    /// let (_tx, rx) = shmring::framed::mpsc::channel(64)?;
    /// assert_eq!(rx.capacity(), 64);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.shared.area.capacity() as usize
    }

    /// The largest message this ring carries.
    ///
    /// ```
    /// let (_tx, rx) = shmring::framed::mpsc::channel(128)?;
    /// assert_eq!(rx.max_message(), 56);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn max_message(&self) -> usize {
        max_message(self.shared.area.capacity())
    }

    /// Whether every producer is gone (closed or dead, checked now) — after at least one
    /// attached; messages may still be waiting.
    ///
    /// ```
    /// let (tx, rx) = shmring::framed::mpsc::channel(64)?;
    /// let tx2 = tx.clone();
    /// drop(tx);
    /// assert!(!rx.is_disconnected());
    /// drop(tx2);
    /// assert!(rx.is_disconnected());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn is_disconnected(&self) -> bool {
        // The scan below may settle dead producers' claims: from this receiver's position.
        self.shared
            .local_head
            .store(self.cursor.head, Ordering::Relaxed);
        !self.shared.peers_present(false, true)
    }

    /// How many producers of this ring were found dead — killed, or crashed without
    /// dropping their handle — and cleaned up since the ring was created (by any
    /// participant's scan; a receiver that saw [`Disconnected`](TryRecvError::Disconnected)
    /// has seen every producer's departure counted). A producer killed in the middle of a
    /// message leaves no part of it: that message is lost, the others are whole.
    ///
    /// ```
    /// let (tx, rx) = shmring::framed::mpsc::channel(64)?;
    /// drop(tx); // closed, not dead
    /// assert_eq!(rx.dead_senders(), 0);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn dead_senders(&self) -> u32 {
        self.shared.reaped(Role::Sender)
    }

    /// Receives the next message without waiting for one.
    ///
    /// `Empty` means nothing is sent and untaken: when the record at the head is claimed by
    /// a producer still writing it (messages claimed after it wait behind it, in order), this
    /// waits for that producer — spinning, then yielding — and settles the claim of one proven
    /// dead through the crash protocol; only a live producer stopped mid-write (or holding a
    /// [`Reservation`] open) for longer than
    /// [`CLAIM_PATIENCE`](crate::wait::CLAIM_PATIENCE) makes it report `Empty` anyway.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`], `Disconnected` once the ring is drained and every producer is
    /// gone, `Corrupted` for an invalid record or position.
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(64)?;
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
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(64)?;
    /// tx.send(b"abc").unwrap();
    /// let mut buf = Vec::with_capacity(64);
    /// assert_eq!(rx.try_recv_into(&mut buf), Ok(0));
    /// assert_eq!(buf, b"abc");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<u32, TryRecvError> {
        match self.pop(buf, false) {
            Err(TryRecvError::Empty) => match self.wait_in_flight(buf) {
                Some(result) => result,
                None => self.pop(buf, false),
            },
            other => other,
        }
    }

    /// Holds what this receiver takes from now on: messages received are not consumed until
    /// [`commit`](Receiver::commit). Until then [`rewind`](Receiver::rewind) takes them again,
    /// and so does the next receiver of the ring if this one is dropped or killed first — at
    /// least once delivery for a consumer whose own output can fail after it took a message
    /// (the `shmring recv` command commits only what `write(2)` accepted, so a closed pipe
    /// leaves the rest in the ring). Held messages keep their space: commit often, or the
    /// producers find the ring full.
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(256)?;
    /// for m in [b"a", b"b", b"c"] { tx.send(m).unwrap(); }
    /// rx.hold();
    /// assert_eq!(rx.recv().unwrap(), b"a");
    /// rx.commit();                       // "a" is consumed
    /// assert_eq!(rx.recv().unwrap(), b"b");
    /// rx.rewind();                       // "b" was not committed: taken again
    /// assert_eq!(rx.recv().unwrap(), b"b");
    /// assert_eq!(rx.recv().unwrap(), b"c");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn hold(&mut self) {
        self.cursor.hold();
    }

    /// Consumes the messages taken since holding began or since the last commit; holding
    /// goes on. Without [`hold`](Receiver::hold), messages are consumed as they are taken and
    /// this does nothing.
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(256)?;
    /// tx.send(b"x").unwrap();
    /// rx.hold();
    /// rx.recv().unwrap();
    /// rx.commit();
    /// rx.rewind(); // nothing to take again
    /// assert!(rx.try_recv().is_err());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn commit(&mut self) {
        self.cursor.commit(&self.shared.area);
        if self.cursor.due(self.shared.area.capacity()) {
            self.hand_back();
        }
    }

    /// Goes back to the first message taken since the last commit (or since holding began),
    /// so that it and the messages after it are received again. Without
    /// [`hold`](Receiver::hold) this does nothing.
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(256)?;
    /// tx.send(b"x").unwrap();
    /// rx.hold();
    /// assert_eq!(rx.recv().unwrap(), b"x");
    /// rx.rewind();
    /// assert_eq!(rx.recv().unwrap(), b"x");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn rewind(&mut self) {
        self.cursor.rewind();
        self.shared
            .local_head
            .store(self.cursor.head, Ordering::Relaxed);
    }

    /// Commits what was taken and stops holding: messages are consumed as they are taken
    /// again.
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(256)?;
    /// rx.hold();
    /// tx.send(b"x").unwrap();
    /// rx.recv().unwrap();
    /// rx.unhold();
    /// rx.rewind(); // not holding: nothing to take again
    /// assert!(rx.try_recv().is_err());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn unhold(&mut self) {
        self.cursor.unhold(&self.shared.area);
        self.hand_back();
    }

    /// Receives the next message, waiting as long as the ring is empty.
    ///
    /// # Errors
    ///
    /// [`RecvError::Disconnected`] once drained and every producer is gone, `Corrupted`.
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(64)?;
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

    /// Receives the next message into `buf` (reusing its allocation), waiting as long as the
    /// ring is empty; returns the message type.
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv).
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(64)?;
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
    /// let (_tx, mut rx) = shmring::framed::mpsc::channel(64)?;
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
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(64)?;
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
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(64)?;
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
        let mut waiter = Waiter::new(self.strategy);
        let area = self.shared.area.clone();
        let index = self.shared.index;
        // The sleeper count is process-local and only this handle receives, so a private
        // one serves (the shared record's count is borrowed by `self` below).
        let sleepers = crate::sync::Mutex::new(0);
        let event = area.event(Role::Receiver, index, &sleepers);
        let done = waiter.wait(area.storage(), event, deadline, |force| {
            match self.pop(buf, force) {
                Ok(kind) => Step::Done(Ok(kind)),
                Err(TryRecvError::Empty) => Step::Retry,
                Err(e) => Step::Done(Err(try_recv_to_timeout(e))),
            }
        });
        done.unwrap_or(Err(RecvTimeoutError::Timeout))
    }

    /// An iterator that receives until every producer is gone and the ring is drained.
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(256)?;
    /// tx.send(b"1").unwrap();
    /// tx.send(b"22").unwrap();
    /// drop(tx);
    /// assert_eq!(rx.iter().collect::<Vec<_>>(), [b"1".to_vec(), b"22".to_vec()]);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn iter(&mut self) -> impl Iterator<Item = Vec<u8>> + '_ {
        std::iter::from_fn(|| self.recv().ok())
    }

    /// An iterator over the messages available now ([`try_recv`](Receiver::try_recv) until
    /// it reports anything but a message, so it does not stop before a record a producer is
    /// in the middle of writing).
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(256)?;
    /// tx.send(b"1").unwrap();
    /// assert_eq!(rx.try_iter().count(), 1);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_iter(&mut self) -> impl Iterator<Item = Vec<u8>> + '_ {
        std::iter::from_fn(|| self.try_recv().ok())
    }

    /// One attempt: take the next message (skipping padding) into `buf`.
    fn pop(&mut self, buf: &mut Vec<u8>, force: bool) -> Result<u32, TryRecvError> {
        if self.shared.is_corrupted() {
            return Err(TryRecvError::Corrupted);
        }
        match self.take(buf) {
            Some(result) => return result,
            None => self.hand_back(),
        }
        let shared = &self.shared;
        shared.local_head.store(self.cursor.head, Ordering::Relaxed);
        let epoch = shared.area.epoch().load(Ordering::Acquire);
        if shared.peers_present(true, force) {
            // A scan may just have turned a dead producer's claim into padding.
            return self.take(buf).unwrap_or(Err(TryRecvError::Empty));
        }
        // No producer is left. Reaping settled every dead producer's claims (committed or
        // padding) before freeing its record, so what lies between head and tail is readable.
        if let Some(result) = self.take(buf) {
            return result;
        }
        let tail = self.shared.area.tail().load(Ordering::Acquire);
        if tail <= self.cursor.head {
            return Err(TryRecvError::Disconnected);
        }
        // Still stuck behind a claim: a fresh scan settles what it can; a claim it must leave
        // pending (a producer not proven dead showed its position) is not corruption.
        let pending = force && self.shared.scan().pending > 0;
        if let Some(result) = self.take(buf) {
            return result;
        }
        if !force
            || pending
            || self.shared.area.epoch().load(Ordering::Acquire) != epoch
            || self.shared.sender_may_live()
        {
            // A producer attached meanwhile, or one is joining or leaving: its claims settle
            // once it is done. Only a forced look (after a sleep: fresh views of every record)
            // calls it corruption.
            Err(TryRecvError::Empty)
        } else {
            self.shared.corrupt(); // claimed bytes with no producer to own them
            Err(TryRecvError::Corrupted)
        }
    }

    /// After an attempt found nothing readable at the head: if a producer has claimed the
    /// record there (`tail` is past the head) and is still copying into it, waits for it
    /// ([`crate::wait::patiently`]; a dead producer's claim is settled on the way) and takes
    /// what follows. `None`: nothing is claimed any more, the claim is a reservation its user
    /// holds open (not waited for), or the patience is spent.
    fn wait_in_flight(&mut self, buf: &mut Vec<u8>) -> Option<Result<u32, TryRecvError>> {
        crate::wait::patiently(|settle| {
            if settle {
                let shared = &self.shared;
                match shared.claimant(self.cursor.head) {
                    // Nobody claimed it (or the producer just committed): one last look. A
                    // reservation held open by its user is not waited for.
                    Claimant::Nobody | Claimant::HeldOpen => return Some(self.take(buf)),
                    Claimant::Working => {}
                }
                shared.local_head.store(self.cursor.head, Ordering::Relaxed);
                shared.scan();
            }
            match self.take(buf) {
                Some(result) => Some(Some(result)),
                None if self.shared.area.tail().load(Ordering::Acquire) <= self.cursor.head => {
                    Some(None)
                }
                None => None,
            }
        })
        .flatten()
    }

    /// The next message if one is committed (`None`: nothing readable at the head).
    fn take(&mut self, buf: &mut Vec<u8>) -> Option<Result<u32, TryRecvError>> {
        match self.cursor.next(&self.shared.area, buf) {
            Next::Message(kind) => {
                if self.cursor.due(self.shared.area.capacity()) {
                    self.hand_back();
                }
                Some(Ok(kind))
            }
            Next::NotReady => None,
            Next::Corrupt => {
                self.shared.corrupt();
                Some(Err(TryRecvError::Corrupted))
            }
        }
    }

    /// Clears what was consumed and publishes the head, waking waiting producers.
    fn hand_back(&mut self) {
        if let Some(head) = self.cursor.hand_back(&self.shared.area) {
            self.shared.area.head().store(head, Ordering::Release);
            self.shared.notify(Role::Sender);
        }
    }
}

/// Each clone has its own eventfd; the handles of one record count together in the record's
/// waiting bit, as blocking senders do.
#[cfg(not(shmring_loom))]
impl crate::handle::Core for Sender {
    fn readiness(&mut self) -> &mut crate::notify::Readiness {
        &mut self.readiness
    }

    fn bridge(&mut self) -> std::io::Result<Arc<crate::notify::Bridge>> {
        self.shared
            .counted_bridge(Role::Sender, &mut self.readiness)
    }

    fn waiter(&self) -> Waiter {
        Waiter::new(self.strategy)
    }

    fn would_wait(&mut self, need: usize) -> bool {
        Sender::would_wait(self, need)
    }

    fn look_at_peers(&mut self) {
        self.shared.peers_present(false, true);
    }
}

crate::handle::readiness_methods! {
    impl[] Sender;
    channel: "framed::mpsc::channel(64)",
    var: "tx",
    proceeds: "room for a message of `len` bytes may have freed (or the receiver may be gone)",
    register: "assert!(!tx.register_readiness(24)?); // 24 bytes fit: send at once",
    need: len
}

/// `async` sending (feature `tokio`).
#[cfg(all(feature = "tokio", not(shmring_loom)))]
impl Sender {
    /// Sends `msg` (type 0), awaiting room without blocking the thread: try, spin briefly (as
    /// [`send`](Sender::send) does), then register and await this handle's readiness eventfd
    /// (through tokio's `AsyncFd`).
    ///
    /// Takes `&mut self`: give each task its own clone (clones share the participant record
    /// and are cheap; each has its own eventfd). The eventfd is registered with the reactor
    /// of the runtime this handle first awaits in.
    ///
    /// An attempt needs a free lane of this process's record ([`LANES_PER_PROCESS`]); while
    /// other threads hold that many reservations open, the future waits for room as for a
    /// full ring and tries again at the latest after a liveness period.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: the message is written and published within the one poll that completes
    /// the future; a future dropped before that sends nothing and leaves the record's
    /// waiting count at once.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, mut rx) = shmring::framed::mpsc::channel(64)?;
    /// tx.send_async(b"hello").await?;
    /// assert_eq!(rx.recv()?, b"hello");
    /// # Ok(()) }
    /// ```
    pub async fn send_async(&mut self, msg: &[u8]) -> Result<(), SendError> {
        self.send_typed_async(0, msg).await
    }

    /// Like [`send_async`](Sender::send_async), with message type `kind`.
    ///
    /// # Cancel safety
    ///
    /// As [`send_async`](Sender::send_async).
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send).
    ///
    /// # Panics
    ///
    /// If `kind` is one of the two reserved types.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, mut rx) = shmring::framed::mpsc::channel(64)?;
    /// tx.send_typed_async(5, b"x").await?;
    /// let mut buf = Vec::new();
    /// assert_eq!(rx.recv_into(&mut buf), Ok(5));
    /// # Ok(()) }
    /// ```
    pub async fn send_typed_async(&mut self, kind: u32, msg: &[u8]) -> Result<(), SendError> {
        check_kind(kind);
        crate::handle::drive(self, msg.len(), |tx, force| {
            match tx.try_send_forced(kind, msg, force) {
                Err(SendError::Full) => None,
                other => Some(other),
            }
        })
        .await
    }
}

/// The receiver announces itself by its own bit in the waiting mask.
#[cfg(not(shmring_loom))]
impl crate::handle::Core for Receiver {
    fn readiness(&mut self) -> &mut crate::notify::Readiness {
        &mut self.readiness
    }

    fn bridge(&mut self) -> std::io::Result<Arc<crate::notify::Bridge>> {
        let shared = &self.shared;
        let segment = shared._segment.clone();
        let event = shared
            .area
            .event(Role::Receiver, shared.index, &shared.sleepers);
        let mask = shared.area.waiting(Role::Receiver);
        let bit = 1u64 << shared.index;
        self.readiness.bridge(|| {
            let segment = segment.ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::Unsupported, "no mapped segment")
            })?;
            crate::notify::Bridge::new(segment, event.seq, crate::notify::WaitWord::Bit(mask, bit))
        })
    }

    fn waiter(&self) -> Waiter {
        Waiter::new(self.strategy)
    }

    fn would_wait(&mut self, _need: usize) -> bool {
        // Nothing committed at the head: no header, or a claim still being written.
        let word = header(&self.shared.area, self.cursor.head).load(Ordering::Acquire);
        (word == 0 || (word >> 32) as u32 == record::CLAIMED) && !self.shared.is_corrupted()
    }

    fn look_at_peers(&mut self) {
        self.shared
            .local_head
            .store(self.cursor.head, Ordering::Relaxed);
        self.shared.peers_present(false, true);
    }
}

crate::handle::readiness_methods! {
    impl[] Receiver;
    channel: "framed::mpsc::channel(64)",
    var: "rx",
    proceeds: "a message may have arrived (or every sender may be gone)",
    register: "assert!(rx.register_readiness()?); // empty: wait on rx.readiness_fd()"
}

/// `async` receiving (feature `tokio`).
#[cfg(all(feature = "tokio", not(shmring_loom)))]
impl Receiver {
    /// Receives the next message into `buf` (its type returned), awaiting one without
    /// blocking the thread: try, spin briefly, then register and await the readiness eventfd.
    /// Every helper slice that ends without a wake-up makes the next attempt look at the
    /// senders (dead producers' claims are settled, `Disconnected` once all are gone).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a message is taken only in the poll that completes the future.
    ///
    /// # Errors
    ///
    /// As [`recv_into`](Receiver::recv_into).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(64)?;
    /// tx.send(b"hi").unwrap();
    /// let mut buf = Vec::new();
    /// assert_eq!(rx.recv_into_async(&mut buf).await, Ok(0));
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
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(64)?;
    /// tx.send(b"hi").unwrap();
    /// assert_eq!(rx.recv_async().await.unwrap(), b"hi");
    /// # Ok(()) }
    /// ```
    pub async fn recv_async(&mut self) -> Result<Vec<u8>, RecvError> {
        let mut buf = Vec::new();
        self.recv_into_async(&mut buf).await.map(|_| buf)
    }
}

crate::handle::stream_method! {
    impl[] Receiver => Vec<u8>;
    channel: "framed::mpsc::channel(64)",
    send: "tx.send(&[5]).unwrap();",
    first: "vec![5]"
}
