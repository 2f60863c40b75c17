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
use super::{
    Cursor, MIN_CAPACITY, Next, Refusal, SendError, SendTimeoutError, TrySendError, header,
    max_message,
};
use crate::mpmc::layout::{CONTROL_SIZE, IDLE};
use crate::mpmc::{Area, Claimant, LaneGuard, Participant, Protocol, Resolution, Role};
use crate::storage::{Geometry, Storage};
use crate::sync::Ordering;
use crate::wait::{Attempt, Waiter, default_strategy};
#[cfg(not(shmring_loom))]
use crate::{Location, RingKind, Segment, TypeLayout, header::HeaderError};
use crate::{OpenError, RecvTimeoutError, TryRecvError, WaitStrategy};

/// Offset (in the control block) of the receiver's "consumed" word (see
/// [`super::CONSUMED_OFFSET`]).
pub const CONSUMED_OFFSET: usize = 768;

/// Operations (sends, open reservations) one process can have in flight on one ring.
pub const LANES_PER_PROCESS: usize = crate::mpmc::layout::LANES / 2;

/// Attempts one claim makes before it reports `Full` under contention (each failed attempt
/// means another producer claimed).
const RETRIES: u32 = 1 << 16;
mod receiver;
mod recovery;
mod reservation;
mod sender;
mod take;
use recovery::{pad, resolve};
pub use reservation::Reservation;
use sender::{Claim, check_tag};

/// The geometry: the mpmc control block and participant table, then the byte area.
fn geometry() -> Geometry {
    Geometry::packed::<u8>(CONTROL_SIZE)
}

#[cfg(not(shmring_loom))]
fn create_segment(
    location: Location,
    capacity: u64,
    ring: &crate::RingOptions<impl Sized>,
) -> Result<Segment, OpenError> {
    let options = super::framed_options(RingKind::FramedMpsc, capacity, geometry(), &location)?;
    ring.segment(match &ring.label {
        Some(layout) => options.payload_layout(layout.clone()),
        None => options,
    })
    .create(location)
}

/// The payload type a ring of this kind is labelled with, from its header (as
/// [`TypeLayout::recorded`]: a process that does not have the type can open the ring with it);
/// `None` for an unlabelled ring of plain bytes, or a description the header had to truncate.
///
/// ```
/// use shmring::ShmType;
/// use shmring::framed::mpsc::{Receiver, label_of};
/// let name = format!("shmring-doc-label-{}", std::process::id());
/// let rx = Receiver::options().label(u64::layout()).create(name.as_str(), 4096)?;
/// let label = label_of(rx.segment().info()).unwrap();
/// assert_eq!(label.fingerprint(), u64::layout().fingerprint());
/// # shmring::Segment::unlink_name(&name)?;
/// # Ok::<(), shmring::OpenError>(())
/// ```
#[cfg(not(shmring_loom))]
pub fn label_of(info: &crate::header::HeaderInfo) -> Option<TypeLayout> {
    let bytes = <u8 as crate::ShmType>::layout().fingerprint();
    (info.fingerprint != bytes && !info.description_truncated)
        .then(|| TypeLayout::recorded(&info.description, info.fingerprint))
        .flatten()
}

#[cfg(not(shmring_loom))]
fn open_segment(location: Location, label: Option<TypeLayout>) -> Result<Segment, OpenError> {
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
    let (base, fenced) = (segment.area_ptr(), segment.info().fence_every_send);
    // SAFETY: `open_ring` (or our own create) checked that the area holds the control block
    // and `capacity` bytes (a power of two); the area is page aligned; the segment is kept
    // alive in the participant next to the area.
    let area = unsafe { Area::<u8>::with_geometry(base, capacity, geometry(), fenced) };
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
    let segment = create_segment(Location::Heap, capacity, &crate::RingOptions::<()>::new());
    crate::build::heap_channel(segment, Sender::attach, Receiver::attach)
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

/// The receiving handle: one per ring at a time (a successor may take over from a dead one).
pub struct Receiver {
    shared: Participant<u8>,
    cursor: Cursor,
    strategy: WaitStrategy,
    /// The readiness eventfd, its helper and reactor registration, once asked for.
    #[cfg(not(shmring_loom))]
    readiness: crate::notify::Readiness,
}

/// A label for the many-producer framed ring's header: the ring carries bytes, and its
/// header says they are values of `label` — for typed layers such as `shmring-ipc`'s typed
/// channels. A ring labelled with another type, or not labelled, is then
/// [`OpenError::IncompatibleLayout`] naming both.
macro_rules! label_option {
    ($ty:ty) => {
        #[cfg(not(shmring_loom))]
        impl crate::RingOptions<$ty> {
            /// Labels the ring (`create`) or requires its label (`open`): its header says
            /// its messages carry values of `label`; opening a ring labelled with another
            /// type, or not labelled, is [`OpenError::IncompatibleLayout`] naming both.
            ///
            /// ```
            /// use shmring::ShmType;
            /// use shmring::framed::mpsc::{Receiver, Sender};
            /// let name = format!("shmring-doc-label-{}-{}", std::process::id(), line!());
            /// let rx = Receiver::options().label(u32::layout()).create(name.as_str(), 256)?;
            /// assert_eq!(rx.segment().info().description, "u32 (size 4, align 4)");
            /// assert!(Sender::options().label(u32::layout()).open(name.as_str()).is_ok());
            /// let err = Sender::options().label(i64::layout()).open(name.as_str()).unwrap_err();
            /// assert!(matches!(err, shmring::OpenError::IncompatibleLayout { .. }), "{err}");
            /// shmring::Segment::unlink_name(&name)?;
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn label(mut self, label: TypeLayout) -> Self {
                self.label = Some(label);
                self
            }
        }
    };
}

label_option!(Sender);
label_option!(Receiver);
