//! Variable-length byte messages in a byte ring, Agrona-style records.
//!
//! Each message is a record `[header u64][payload][padding to 8 bytes]` (see [`record`]); the
//! header, holding the length and a user tag (a `u32` the sender chooses), is stored last with a Release store, so
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

mod cursor;
pub mod mpsc;
mod receiver;
mod reservation;
mod sender;
pub(crate) use cursor::{Cursor, Next, header};
pub use reservation::Reservation;
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
    location: Location,
    capacity: u64,
    mode: u32,
    _label: Option<crate::TypeLayout>,
) -> Result<Segment, OpenError> {
    framed_options(RingKind::Framed, capacity, geometry(), &location)?
        .mode(mode)
        .create(location)
}

#[cfg(not(shmring_loom))]
fn open_segment(
    location: Location,
    _label: Option<crate::TypeLayout>,
) -> Result<Segment, OpenError> {
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
/// tx.send_tagged(7, b"typed").unwrap();
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

/// Where both control blocks (spsc and mpmc) keep the published head.
const HEAD_OFFSET: usize = crate::spsc::layout::HEAD_OFFSET;
const _: () = assert!(crate::spsc::layout::HEAD_OFFSET == crate::mpmc::layout::HEAD_OFFSET);

// SAFETY: a handle owns its role exclusively (claimed in shared memory) and touches the area
// only through atomics and copies of the bytes the record protocol assigns to its role; moving
// it to another thread changes nothing. It is not Sync: methods take `&mut self`.
unsafe impl Send for Sender {}
// SAFETY: as for Sender.
unsafe impl Send for Receiver {}

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
        None,
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
