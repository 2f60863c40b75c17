//! One writer, many receivers, each seeing every message: a typed broadcast ring across
//! processes (market data, telemetry, log fan-out).
//!
//! Every receiver has its own read cursor; the writer writes each message once into a
//! stamped slot and every receiver copies it out. What happens when a receiver falls a whole
//! ring behind is the ring's [`Policy`], chosen when it is created and recorded in the
//! header:
//!
//! * [`Policy::Lossless`] (the default): the writer waits for the slowest live receiver, so
//!   nothing is ever skipped. A receiver that dies is detached within the liveness period
//!   ([`LIVENESS_PERIOD`](crate::wait::LIVENESS_PERIOD), as mpmc) and the writer goes on.
//! * [`Policy::Overwrite`]: the writer never waits. A receiver that fell more than a ring
//!   behind gets [`RecvError::Lagged(n)`](RecvError::Lagged) — how many messages it
//!   missed — and goes on from the oldest message the ring still holds. A receiver never
//!   returns a message that was being overwritten while it copied it: every slot carries a
//!   stamp, checked before and after the copy (a seqlock), and a torn copy counts as missed.
//!
//! A receiver opens at the next message (the default) or at the oldest message the ring
//! still holds ([`RingOptions::from_oldest`](crate::RingOptions::from_oldest): up to
//! `capacity − 1` messages of history for a late joiner).
//!
//! ```
//! use shmring::broadcast;
//!
//! let name = format!("shmring-doc-broadcast-{}", std::process::id());
//! let mut tx = broadcast::Sender::<u64>::create(name.as_str(), 1024)?;
//! let mut a = broadcast::Receiver::<u64>::open(name.as_str())?;   // normally other processes
//! let mut b = broadcast::Receiver::<u64>::open(name.as_str())?;
//! tx.send(7).unwrap();
//! assert_eq!((a.recv(), b.recv()), (Ok(7), Ok(7)));
//! shmring::Segment::unlink_name(&name)?;
//! # Ok::<(), shmring::OpenError>(())
//! ```
//!
//! # Membership and crashes
//!
//! The ring is an mpmc area (docs/layout.md, "broadcast area"): the same control block and
//! participant table, with each receiver's cursor in lane 0 of its record; its slots are
//! stamped in an overwrite ring and bare payloads, packed as spsc's, in a lossless one.
//! One writer holds the ring at a time; a new one may take over from a writer whose process
//! died (a write it left unfinished is never published: the tail never covered it). A killed receiver is found dead by the next scan and its record freed,
//! so a lossless writer waiting on it resumes.
//!
//! # Hostile peers
//!
//! Positions, cursors and stamps read from shared memory are validated: a tail that goes
//! backwards or a stamp a published slot cannot have makes the receiver return `Corrupted`
//! from then on; a receiver's cursor outside what the protocol allows only ever slows a
//! lossless writer as a receiver that stopped reading would. Never undefined behaviour, a
//! panic or an endless loop.

#[cfg(not(shmring_loom))]
mod dynamic;
mod error;
mod receiver;
mod sender;

#[cfg(not(shmring_loom))]
pub use dynamic::{DynReceiver, DynSender};

#[cfg(all(feature = "tokio", not(shmring_loom)))]
pub(crate) use error::received;
pub(crate) use error::without_timeout;
pub use error::{RecvError, RecvTimeoutError, TryRecvError};

use std::sync::Arc;
#[cfg(not(shmring_loom))]
use std::time::{Duration, Instant};

use crate::mpmc::layout::{CONTROL_SIZE, IDLE};
use crate::mpmc::{Area, Participant, Protocol, Role};
use crate::storage::{Geometry, Sink, Source};
use crate::sync::Ordering;
use crate::wait::default_strategy;
#[cfg(not(shmring_loom))]
use crate::{Location, RingKind, Segment, SegmentOptions, header::HeaderError};
use crate::{OpenError, ShmType, WaitStrategy};

/// What the writer does when a receiver is a whole ring behind; chosen at creation and
/// recorded in the header ([`crate::header::FLAG_OVERWRITE`]).
///
/// ```
/// assert_eq!(shmring::broadcast::Policy::default(), shmring::broadcast::Policy::Lossless);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Policy {
    /// The writer waits for the slowest live receiver: nothing is ever skipped.
    #[default]
    Lossless,
    /// The writer never waits; a receiver overtaken gets [`RecvError::Lagged`].
    Overwrite,
}

/// The writer: one per ring at a time.
///
/// ```
/// let (mut tx, mut rx) = shmring::broadcast::channel::<u32>(8)?;
/// tx.send(1).unwrap();
/// assert_eq!(rx.try_recv(), Ok(1));
/// # Ok::<(), shmring::OpenError>(())
/// ```
pub struct Sender<T: ShmType> {
    shared: Participant<T>,
    strategy: WaitStrategy,
    /// The next position to write (only this handle writes the tail).
    tail: u64,
    /// Lossless: the lowest receiver cursor at the last look (no receiver: `u64::MAX`).
    lowest: u64,
    /// The membership epoch that `receivers` was read under.
    seen_epoch: u64,
    /// Lossless: the records of the live receivers at the last scan (their cursors are what
    /// the writer re-reads when the cached lowest says full).
    receivers: Vec<usize>,
    overwrite: bool,
    #[cfg(not(shmring_loom))]
    readiness: crate::notify::Readiness,
}

/// A receiver: any number per ring (up to the participant table), each with its own cursor.
///
/// ```
/// let (mut tx, mut rx) = shmring::broadcast::channel::<u32>(8)?;
/// tx.send(5).unwrap();
/// assert_eq!(rx.recv(), Ok(5));
/// # Ok::<(), shmring::OpenError>(())
/// ```
pub struct Receiver<T: ShmType> {
    shared: Participant<T>,
    strategy: WaitStrategy,
    /// The next position to read.
    cursor: u64,
    /// The cursor as last announced in the record (a lossless writer's view of it).
    published: u64,
    /// The writer's tail as last seen.
    tail: u64,
    overwrite: bool,
    #[cfg(not(shmring_loom))]
    readiness: crate::notify::Readiness,
}

// SAFETY: a handle's shared state is reached only through atomics and the seqlock copies of
// the slot protocol; its process-local state moves with it. Not Sync: methods take `&mut`.
unsafe impl<T: ShmType + Send> Send for Sender<T> {}
// SAFETY: as for Sender.
unsafe impl<T: ShmType + Send> Send for Receiver<T> {}

/// The loom build: what a thread needs to join a ring as a receiver, as a process opening it
/// does ([`Sender::joiner`]).
#[cfg(shmring_loom)]
#[doc(hidden)]
pub struct Joiner<T: ShmType> {
    area: Area<T>,
    name: String,
    overwrite: bool,
}

// SAFETY: as for Receiver: the area is reached only through atomics and the slot protocol.
#[cfg(shmring_loom)]
unsafe impl<T: ShmType + Send> Send for Joiner<T> {}

#[cfg(shmring_loom)]
impl<T: ShmType> std::fmt::Debug for Joiner<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("broadcast::Joiner")
            .field("ring", &self.name)
            .finish()
    }
}

#[cfg(shmring_loom)]
impl<T: ShmType> Joiner<T> {
    /// Joins at the next message, or (`from_oldest`) at the oldest held.
    ///
    /// # Errors
    ///
    /// As `Receiver::open`: a full participant table.
    pub fn join(self, from_oldest: bool) -> Result<Receiver<T>, OpenError> {
        let shared = Participant::join(
            self.area,
            Protocol::Cursors,
            Role::Receiver,
            self.name,
            None,
        )?;
        Receiver::from_shared(shared, self.overwrite, from_oldest)
    }
}

/// Positions stay below [`MAX_POSITION`], so the stamps (`2·pos + 2`) never wrap.
pub(crate) use crate::storage::MAX_POSITION;

/// The stamp of a slot while the writer writes position `pos` into it.
const fn writing(pos: u64) -> u64 {
    2 * pos + 1
}

/// The stamp of a slot holding position `pos` (0: never written).
const fn written(pos: u64) -> u64 {
    2 * pos + 2
}

/// The oldest position a receiver may start from when the writer is at `tail`: the slot of
/// `tail − capacity` may be being overwritten now.
fn oldest(tail: u64, capacity: u64) -> u64 {
    tail.saturating_sub(capacity - 1)
}

/// How the slots of a broadcast ring are laid out: with a stamp each when the writer may
/// overwrite a slot while a receiver copies it (the overwrite policy's seqlock); bare
/// payloads, packed as in an spsc ring, when it never does (lossless: the writer waits until
/// every receiver it knows has read a slot before it writes the slot again, and a joining
/// receiver starts past whatever the writer may write before it knows of it). Packed slots
/// halve the cache lines a small message takes, and a receiver keeping pace with its writer
/// pays for every line it pulls across.
pub(crate) const fn slot_geometry<T>(overwrite: bool) -> Geometry {
    slot_geometry_of(overwrite, size_of::<T>(), align_of::<T>())
}

/// [`slot_geometry`] for payloads of `size` bytes aligned to `align` (a type known at run
/// time).
pub(crate) const fn slot_geometry_of(overwrite: bool, size: usize, align: usize) -> Geometry {
    if overwrite {
        Geometry::stamped_of(CONTROL_SIZE, size, align)
    } else {
        Geometry::packed_of(CONTROL_SIZE, size, align)
    }
}

/// The policy a header's overwrite flag stands for.
fn policy_of(overwrite: bool) -> Policy {
    if overwrite {
        Policy::Overwrite
    } else {
        Policy::Lossless
    }
}

/// The segment options of a new broadcast ring (`kind`: typed, or the byte messages of
/// [`crate::framed::broadcast`]) of `capacity` (at least 2, rounded up to a power of two) `T`
/// slots.
#[cfg(not(shmring_loom))]
pub(crate) fn create_options<T: ShmType>(
    kind: RingKind,
    capacity: u64,
    location: &Location,
    policy: Policy,
) -> Result<SegmentOptions, OpenError> {
    let capacity = capacity.max(2);
    let overwrite = policy == Policy::Overwrite;
    crate::storage::ring_options::<T>(kind, capacity, slot_geometry::<T>(overwrite), location)
        .map(|o| o.overwrite(overwrite))
}

/// A new broadcast segment of `kind` and `T` at `location` with the policy and permission
/// bits the handle's options ask for (what either handle's `create` makes).
#[cfg(not(shmring_loom))]
pub(crate) fn create_segment<T: ShmType>(
    kind: RingKind,
    location: Location,
    capacity: u64,
    options: &crate::build::RingOptions<impl Sized>,
) -> Result<Segment, OpenError> {
    let segment_options = create_options::<T>(kind, capacity, &location, options.policy);
    crate::build::create_with(segment_options, location, options)
}

/// The broadcast segment of `kind` and `T` at `location`.
#[cfg(not(shmring_loom))]
pub(crate) fn open_segment<T: ShmType>(
    kind: RingKind,
    location: Location,
) -> Result<Segment, OpenError> {
    crate::storage::open_ring_laid_out(kind, T::layout(), location, |info| {
        slot_geometry::<T>(info.overwrite)
    })
}

/// Receives with `recv` until it gives a message or an error that is not a lag (`lagged`
/// says which are): the iterators, which skip over gaps.
pub(crate) fn skipping_lagged<V, E>(
    mut recv: impl FnMut() -> Result<V, E>,
    lagged: fn(&E) -> bool,
) -> impl Iterator<Item = V> {
    std::iter::from_fn(move || {
        loop {
            match recv() {
                Ok(v) => return Some(v),
                Err(e) if lagged(&e) => continue,
                Err(_) => return None,
            }
        }
    })
}

/// Waits (the waiting loop, [`crate::wait::Waiter::until`]) on the data event under the bit
/// of receiver record `index`, for `attempt` to stop asking to retry. Only that receiver
/// waits under its record's bit, so a private sleeper count serves.
pub(crate) fn wait_on_record<T: ShmType, A: crate::wait::Attempt>(
    area: &Area<T>,
    index: usize,
    strategy: WaitStrategy,
    deadline: Option<std::time::Instant>,
    attempt: impl FnMut(bool) -> A,
) -> A::Outcome {
    let sleepers = crate::sync::Mutex::new(0);
    let event = area.event(Role::Receiver, index, &sleepers);
    crate::wait::Waiter::new(strategy).until(area.storage(), event, deadline, attempt)
}

/// What a stamped copy of one slot found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    /// The copy holds position `pos` as the writer published it.
    Copied,
    /// The slot was (or is being) overwritten by a later lap: the copy is discarded.
    Overwritten,
    /// A stamp the protocol never writes under a tail that covers the position.
    Corrupt,
}

/// Copies the slot of `position` (below the tail the caller read) into `*dst`: under its
/// stamp, checked before and after the copy (the seqlock), in an overwrite ring; as it is in
/// a lossless one, whose writer never rewrites a slot a receiver it knows has not read.
#[inline]
pub(crate) fn read_slot<T: ShmType>(
    area: &Area<T>,
    position: u64,
    dst: &mut (impl Sink<T> + ?Sized),
) -> Slot {
    let storage = area.storage();
    if !storage.is_stamped() {
        // The lossless protocol keeps the writer off a published slot until this receiver's
        // announced cursor (never ahead of the real one) passes it; a hostile writer there
        // only changes the bytes copied (`T` is Pod).
        // SAFETY: the slot lies inside the area and is published (below the tail).
        unsafe { dst.take(storage, position) };
        return Slot::Copied;
    }
    let stamp = storage.stamp(position);
    let before = stamp.load(Ordering::Acquire);
    if before != written(position) {
        // A later stamp: the slot was (is being) overwritten. An earlier one under a tail
        // that covers it: impossible.
        return if before > written(position) {
            Slot::Overwritten
        } else {
            Slot::Corrupt
        };
    }
    // SAFETY: the slot of `position` lies inside the area; the copy may race with the
    // writer, and is discarded below unless the stamp is unchanged after it.
    unsafe { dst.take_shared(storage, position) };
    crate::sync::fence(Ordering::Acquire);
    if stamp.load(Ordering::Relaxed) != before {
        return Slot::Overwritten;
    }
    Slot::Copied
}

/// The area of a broadcast segment, its tail checked.
#[cfg(not(shmring_loom))]
fn area_of<T: ShmType>(segment: &Segment, geometry: Geometry) -> Result<Area<T>, OpenError> {
    let capacity = segment.info().capacity;
    let bad = |field: &'static str, value: u64| OpenError::Corrupted {
        name: segment.name().to_owned(),
        reason: HeaderError::BadField { field, value },
    };
    if capacity < 2 {
        return Err(bad("capacity", capacity));
    }
    let fenced = segment.info().fence_every_send;
    // The segment is kept alive in the participant next to the area.
    // SAFETY: `open_segment` (or our create) checked the area holds the control block and
    // `capacity` (a power of two) page-aligned slots laid out as `geometry`, the policy's.
    let area = unsafe { Area::<T>::with_geometry(segment.area_ptr(), capacity, geometry, fenced) };
    let tail = area.tail().load(Ordering::Acquire);
    if tail >= MAX_POSITION {
        return Err(bad("broadcast tail", tail));
    }
    Ok(area)
}

/// Joins `segment`, whose slots are laid out as `geometry`, as `role` of the broadcast
/// protocol.
#[cfg(not(shmring_loom))]
fn join<T: ShmType>(
    segment: Arc<Segment>,
    role: Role,
    geometry: Geometry,
) -> Result<Participant<T>, OpenError> {
    let area = area_of::<T>(&segment, geometry)?;
    let name = segment.name().to_owned();
    Participant::join(area, Protocol::Cursors, role, name, Some(segment))
}

/// Creates a broadcast ring on the process heap with one receiver (threads of one process,
/// and tests); more receivers come from [`Sender::subscribe`].
///
/// # Errors
///
/// [`OpenError::InvalidConfig`] for a zero or too large capacity (1 is made 2).
///
/// ```
/// let (mut tx, mut rx) = shmring::broadcast::channel::<u64>(4)?;
/// let mut late = tx.subscribe()?;
/// tx.send(9).unwrap();
/// assert_eq!((rx.recv(), late.recv()), (Ok(9), Ok(9)));
/// # Ok::<(), shmring::OpenError>(())
/// ```
#[cfg(not(shmring_loom))]
pub fn channel<T: ShmType>(capacity: u64) -> Result<(Sender<T>, Receiver<T>), OpenError> {
    channel_of_kind(RingKind::Broadcast, capacity, Policy::Lossless)
}

/// A heap ring of `kind` (typed, or framed broadcast cells) with one receiver.
#[cfg(not(shmring_loom))]
pub(crate) fn channel_of_kind<T: ShmType>(
    kind: RingKind,
    capacity: u64,
    policy: Policy,
) -> Result<(Sender<T>, Receiver<T>), OpenError> {
    let segment = create_options::<T>(kind, capacity, &Location::Heap, policy)?;
    crate::build::heap_channel(segment.create(Location::Heap), Sender::attach, |s| {
        Receiver::attach(s, false)
    })
}

/// The loom build: the ring on the loom heap with one receiver; more from
/// [`Sender::subscribe`].
///
/// # Errors
///
/// Never; the `Result` matches the normal build's signature.
#[cfg(shmring_loom)]
pub fn channel<T: ShmType>(capacity: u64) -> Result<(Sender<T>, Receiver<T>), OpenError> {
    channel_with(capacity, Policy::Lossless)
}

/// The loom build of a ring with `policy`.
///
/// # Errors
///
/// Never; the `Result` matches the normal build's signature.
#[cfg(shmring_loom)]
#[doc(hidden)]
pub fn channel_with<T: ShmType>(
    capacity: u64,
    policy: Policy,
) -> Result<(Sender<T>, Receiver<T>), OpenError> {
    let overwrite = policy == Policy::Overwrite;
    let area = Area::<T>::model_with_geometry(
        capacity.next_power_of_two().max(2),
        slot_geometry::<T>(overwrite),
    );
    let rx = Participant::join(
        area.clone(),
        Protocol::Cursors,
        Role::Receiver,
        "loom".into(),
        None,
    )?;
    let tx = Participant::join(area, Protocol::Cursors, Role::Sender, "loom".into(), None)?;
    Ok((
        Sender::from_shared(tx, overwrite)?,
        Receiver::from_shared(rx, overwrite, false)?,
    ))
}

impl<T: ShmType> Drop for Receiver<T> {
    fn drop(&mut self) {
        if self.shared.abandoned() {
            return; // left as a killed process would leave it (loom models)
        }
        // The record is freed by the participant; a lossless writer waiting on this cursor
        // must look again.
        self.shared
            .area
            .lane(self.shared.index, 0)
            .store(IDLE, Ordering::Release);
        if !self.overwrite {
            self.shared.notify(Role::Sender);
        }
    }
}

impl<T: ShmType> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("broadcast::Sender")
            .field("ring", &self.shared.name)
            .field("capacity", &self.shared.area.capacity())
            .field("tail", &self.tail)
            .field("overwrite", &self.overwrite)
            .finish()
    }
}

impl<T: ShmType> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("broadcast::Receiver")
            .field("ring", &self.shared.name)
            .field("capacity", &self.shared.area.capacity())
            .field("cursor", &self.cursor)
            .field("overwrite", &self.overwrite)
            .finish()
    }
}
