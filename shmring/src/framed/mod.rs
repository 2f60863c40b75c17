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

pub mod broadcast;
mod cursor;
mod error;
pub mod mpsc;
mod receiver;
mod reservation;
mod sender;
pub(crate) use cursor::{Cursor, Next, header};
#[doc(hidden)]
pub use error::Refusal;
pub use error::{SendError, SendTimeoutError, TrySendError};
pub use reservation::Reservation;
pub mod record;

use std::sync::Arc;
use std::time::{Duration, Instant};

use record::{HEADER, Record};

use crate::header::HeaderError;
#[cfg(shmring_loom)]
use crate::spsc::Area;
use crate::spsc::{End, Peer, Role};
use crate::storage::{Geometry, Storage, open_ring, ring_options};
use crate::sync::Ordering;
use crate::wait::{Attempt, Waiter};
use crate::{Location, OpenError, RecvTimeoutError, RingKind, Segment, TryRecvError, WaitStrategy};

/// Smallest data area in bytes.
pub const MIN_CAPACITY: u64 = 64;

/// Offset (in the control block of the single-producer ring) of the receiver's "consumed"
/// word: the position up to which the receiver has taken messages, stored after every
/// message, so a receiver taking over from a dead one resumes exactly there.
pub const CONSUMED_OFFSET: usize = 704;

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

/// The capacity to create a framed ring (either kind) with so that it carries messages of up
/// to `largest_message` bytes: the smallest that [`max_message`] allows it for (a power of
/// two, at least [`MIN_CAPACITY`]). `None` past the largest message any framed ring carries
/// (2^31 − 8 bytes).
///
/// ```
/// use shmring::framed;
/// // 64 KiB messages need a 256 KiB ring, not 128 KiB:
/// assert_eq!(framed::capacity_for(65536), Some(256 * 1024));
/// assert!(framed::max_message(framed::capacity_for(1000).unwrap()) >= 1000);
/// let (mut tx, mut rx) = framed::channel(framed::capacity_for(65536).unwrap())?;
/// tx.send(&vec![7; 65536]).unwrap();
/// assert_eq!(rx.recv().unwrap().len(), 65536);
/// assert_eq!(framed::capacity_for(1 << 31), None);
/// # Ok::<(), shmring::OpenError>(())
/// ```
pub fn capacity_for(largest_message: usize) -> Option<u64> {
    if largest_message > record::MAX_MESSAGE {
        return None;
    }
    let capacity = 2 * (largest_message as u64 + HEADER as u64);
    Some(capacity.next_power_of_two().max(MIN_CAPACITY))
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
    options: &crate::RingOptions<impl Sized>,
) -> Result<Segment, OpenError> {
    options
        .segment(framed_options(
            RingKind::Framed,
            capacity,
            geometry(),
            &location,
        )?)
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
    let segment = create_segment(Location::Heap, capacity, &crate::RingOptions::<()>::new());
    crate::build::heap_channel(segment, Sender::attach, Receiver::attach)
}

/// The `Debug` of a framed receiver (`kind` names its type): its ring, capacity and head.
fn fmt_receiver(
    f: &mut std::fmt::Formatter<'_>,
    kind: &str,
    ring: &str,
    capacity: u64,
    head: u64,
) -> std::fmt::Result {
    f.debug_struct(kind)
        .field("ring", &ring)
        .field("capacity", &capacity)
        .field("head", &head)
        .finish()
}

/// The receive calls both framed receivers spell the same, written once over the ring's
/// `try_recv_into`, `pop(buf, force)` and `wait_into(buf, deadline)` (the waiting part): `try_recv`,
/// `recv`, `recv_into`, `recv_timeout`, `recv_deadline`, `recv_into_deadline`, `iter`,
/// `try_iter`, and (feature `tokio`) `recv_into_async` and `recv_async`; with them the
/// readiness calls, `into_stream` and the constructors (from the module's `create_segment`,
/// `open_segment` and the handle's `attach`). `example` names the handle in examples,
/// `channel` makes a pair.
macro_rules! byte_receiver_methods {
    (impl $ty:ident; example: $example:literal, channel: $channel:literal) => {
        $crate::handle::readiness_methods! {
            impl[] $ty;
            channel: $channel,
            var: "rx",
            proceeds: "a message may have arrived (or every sender may be gone)",
            register: "assert!(rx.register_readiness()?); // empty: wait on rx.readiness_fd()"
        }

        $crate::handle::stream_method! {
            impl[] $ty => Vec<u8>;
            channel: $channel,
            send: "tx.send(&[5]).unwrap();",
            first: "vec![5]"
        }

        $crate::build::ring_options! {
            impl[] $ty;
            example: $example,
            role: "its receiver",
            opens: "If a receiver process died, this one takes over and resumes where it stopped consuming (at most the message it was copying when it died is delivered again).",
            create_segment: |l: Location, capacity, o: &Self| {
        create_segment(l, capacity, o)
    },
            open_segment: |l: Location, o: &Self| open_segment(l, o.label.clone()),
            attach: |s, _: &Self| $ty::attach(s)
        }

        impl $ty {
            /// Receives into `buf`, waiting until `deadline` (`None`: as long as it takes).
            fn recv_into_until(
                &mut self,
                buf: &mut Vec<u8>,
                deadline: Option<std::time::Instant>,
            ) -> Result<u32, $crate::RecvTimeoutError> {
                use $crate::wait::Attempt;
                let first = self.pop(buf, false);
                if first.retry() {
                    self.wait_into(buf, deadline)
                } else {
                    first.done()
                }
            }

            /// Receives the next message without waiting (see `try_recv_into`).
            ///
            /// # Errors
            ///
            /// [`TryRecvError::Empty`](crate::TryRecvError::Empty), `Disconnected` once the
            /// ring is drained and every sender gone, `Corrupted` for an invalid record.
            ///
            /// ```
            #[doc = concat!("let (mut tx, mut rx) = shmring::", $channel, "?;")]
            /// assert_eq!(rx.try_recv(), Err(shmring::TryRecvError::Empty));
            /// tx.send(b"a").unwrap();
            /// assert_eq!(rx.try_recv().unwrap(), b"a");
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn try_recv(&mut self) -> Result<Vec<u8>, $crate::TryRecvError> {
                let mut buf = Vec::new();
                self.try_recv_into(&mut buf).map(|_| buf)
            }

            /// Receives the next message, waiting as long as the ring is empty.
            ///
            /// # Errors
            ///
            /// [`RecvError::Disconnected`](crate::RecvError::Disconnected) once the ring is
            /// drained and every sender is gone, `Corrupted` for an invalid record.
            ///
            /// ```
            #[doc = concat!("let (mut tx, mut rx) = shmring::", $channel, "?;")]
            /// tx.send(b"x").unwrap();
            /// drop(tx);
            /// assert_eq!(rx.recv().unwrap(), b"x");
            /// assert_eq!(rx.recv(), Err(shmring::RecvError::Disconnected));
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn recv(&mut self) -> Result<Vec<u8>, $crate::RecvError> {
                let mut buf = Vec::new();
                self.recv_into(&mut buf).map(|_| buf)
            }

            /// Receives the next message into `buf` (reusing its allocation: no allocation
            /// per message once it is large enough), waiting as long as the ring is empty;
            /// returns its tag.
            ///
            /// # Errors
            ///
            /// As `recv`.
            ///
            /// ```
            #[doc = concat!("let (mut tx, mut rx) = shmring::", $channel, "?;")]
            /// tx.send_tagged(4, b"yz").unwrap();
            /// let mut buf = Vec::new();
            /// assert_eq!(rx.recv_into(&mut buf), Ok(4));
            /// assert_eq!(buf, b"yz");
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<u32, $crate::RecvError> {
                self.recv_into_until(buf, None)
                    .map_err($crate::error::recv_without_timeout)
            }

            /// Receives, waiting at most `timeout`.
            ///
            /// # Errors
            ///
            /// As `recv`, plus [`RecvTimeoutError::Timeout`](crate::RecvTimeoutError::Timeout).
            ///
            /// ```
            /// use std::time::Duration;
            #[doc = concat!("let (mut tx, mut rx) = shmring::", $channel, "?;")]
            /// assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Err(shmring::RecvTimeoutError::Timeout));
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn recv_timeout(
                &mut self,
                timeout: std::time::Duration,
            ) -> Result<Vec<u8>, $crate::RecvTimeoutError> {
                let mut buf = Vec::new();
                self.recv_into_until(&mut buf, std::time::Instant::now().checked_add(timeout))
                    .map(|_| buf)
            }

            /// Receives, waiting until `deadline` (a `CLOCK_MONOTONIC` instant).
            ///
            /// # Errors
            ///
            /// As `recv_timeout`.
            ///
            /// ```
            /// use std::time::{Duration, Instant};
            #[doc = concat!("let (mut tx, mut rx) = shmring::", $channel, "?;")]
            /// tx.send(b"d").unwrap();
            /// assert_eq!(rx.recv_deadline(Instant::now() + Duration::from_secs(1)).unwrap(), b"d");
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn recv_deadline(
                &mut self,
                deadline: std::time::Instant,
            ) -> Result<Vec<u8>, $crate::RecvTimeoutError> {
                let mut buf = Vec::new();
                self.recv_into_until(&mut buf, Some(deadline)).map(|_| buf)
            }

            /// Like `recv_into`, waiting until `deadline` at most.
            ///
            /// # Errors
            ///
            /// As `recv_timeout`.
            ///
            /// ```
            /// use std::time::{Duration, Instant};
            #[doc = concat!("let (mut tx, mut rx) = shmring::", $channel, "?;")]
            /// tx.send(b"e").unwrap();
            /// let mut buf = Vec::new();
            /// rx.recv_into_deadline(&mut buf, Instant::now() + Duration::from_secs(1)).unwrap();
            /// assert_eq!(buf, b"e");
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn recv_into_deadline(
                &mut self,
                buf: &mut Vec<u8>,
                deadline: std::time::Instant,
            ) -> Result<u32, $crate::RecvTimeoutError> {
                self.recv_into_until(buf, Some(deadline))
            }

            /// An iterator that receives until every sender is gone and the ring is drained.
            ///
            /// ```
            #[doc = concat!("let (mut tx, mut rx) = shmring::", $channel, "?;")]
            /// tx.send(b"1").unwrap();
            /// tx.send(b"22").unwrap();
            /// drop(tx);
            /// assert_eq!(rx.iter().collect::<Vec<_>>(), [b"1".to_vec(), b"22".to_vec()]);
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn iter(&mut self) -> impl Iterator<Item = Vec<u8>> + '_ {
                std::iter::from_fn(|| self.recv().ok())
            }

            /// An iterator over the messages available now (`try_recv` until it reports
            /// anything but a message).
            ///
            /// ```
            #[doc = concat!("let (mut tx, mut rx) = shmring::", $channel, "?;")]
            /// tx.send(b"1").unwrap();
            /// assert_eq!(rx.try_iter().count(), 1);
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn try_iter(&mut self) -> impl Iterator<Item = Vec<u8>> + '_ {
                std::iter::from_fn(|| self.try_recv().ok())
            }
        }

        /// `async` receiving (feature `tokio`).
        #[cfg(all(feature = "tokio", not(shmring_loom)))]
        impl $ty {
            /// Receives the next message into `buf` (its tag returned), awaiting one without
            /// blocking the thread: try, spin briefly, then register and await the readiness
            /// eventfd (through tokio's `AsyncFd`, registered with the runtime this handle
            /// first awaits in). Every helper slice that ends without a wake-up makes the
            /// next attempt look at the senders.
            ///
            /// # Cancel safety
            ///
            /// Cancel-safe: a message is taken only in the poll that completes the future; a
            /// future dropped while waiting disarms the helper at once.
            ///
            /// # Errors
            ///
            /// As `recv_into`.
            ///
            /// ```
            /// # #[tokio::main(flavor = "current_thread")]
            /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
            #[doc = concat!("let (mut tx, mut rx) = shmring::", $channel, "?;")]
            /// tx.send(b"hi").unwrap();
            /// let mut buf = Vec::new();
            /// assert_eq!(rx.recv_into_async(&mut buf).await, Ok(0));
            /// assert_eq!(buf, b"hi");
            /// # Ok(()) }
            /// ```
            pub async fn recv_into_async(
                &mut self,
                buf: &mut Vec<u8>,
            ) -> Result<u32, $crate::RecvError> {
                $crate::handle::drive(self, 0, |rx, force| {
                    $crate::handle::received(rx.pop(buf, force))
                })
                .await
            }

            /// `recv_into_async` into a new buffer.
            ///
            /// # Cancel safety
            ///
            /// Cancel-safe, as `recv_into_async`.
            ///
            /// # Errors
            ///
            /// As `recv`.
            ///
            /// ```
            /// # #[tokio::main(flavor = "current_thread")]
            /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
            #[doc = concat!("let (mut tx, mut rx) = shmring::", $channel, "?;")]
            /// tx.send(b"hi").unwrap();
            /// assert_eq!(rx.recv_async().await.unwrap(), b"hi");
            /// # Ok(()) }
            /// ```
            pub async fn recv_async(&mut self) -> Result<Vec<u8>, $crate::RecvError> {
                let mut buf = Vec::new();
                self.recv_into_async(&mut buf).await.map(|_| buf)
            }
        }
    };
}

pub(crate) use byte_receiver_methods;
