//! Single-producer / single-consumer typed ring across processes.
//!
//! A Lamport ring: the sender owns the 64-bit monotonic `tail`, the receiver owns `head`, each
//! in its own 128-byte block, and each side caches the other's index in its own handle so that
//! the shared cache line is read only when the cached value says the ring is full (sender) or
//! empty (receiver). Capacity is a power of two (requests are rounded up), so a slot index is
//! `position & mask`.
//!
//! Either side creates the ring; the other opens it. Opening checks the payload layout (see
//! [`crate::ShmType`]) before anything is read.
//!
//! ```
//! use shmring::spsc;
//!
//! let name = format!("shmring-doc-spsc-{}", std::process::id());
//! let mut tx = spsc::Sender::<u64>::create(name.as_str(), 1024)?;
//! let mut rx = spsc::Receiver::<u64>::open(name.as_str())?;   // normally another process
//! tx.send(7).unwrap();
//! assert_eq!(rx.recv(), Ok(7));
//! drop(tx);
//! assert_eq!(rx.recv(), Err(shmring::RecvError::Disconnected));
//! shmring::Segment::unlink_name(&name)?;
//! # Ok::<(), shmring::OpenError>(())
//! ```
//!
//! # Blocking and wake-ups
//!
//! Blocking calls spin, yield, then sleep on a futex eventcount ([`WaitStrategy`]). The other
//! side wakes a sleeper with one system call, and makes **none** when nobody sleeps. With
//! [`WaitStrategy::BusyPoll`] nobody ever sleeps and nobody pays for notifying.
//!
//! # Batches
//!
//! [`Sender::write_chunk`] reserves `n` slots, which are filled in place and published with one
//! Release store by [`WriteChunk::commit`]; [`Receiver::read_chunk`] is the mirror image.
//!
//! # Disconnection and crashes
//!
//! Dropping a handle marks its side closed and wakes the peer. A peer killed with SIGKILL is
//! noticed through its recorded pid and start time: a waiting handle checks at least every
//! [`LIVENESS_PERIOD`](crate::wait::LIVENESS_PERIOD). The receiver still gets every message
//! committed before the sender went, then [`RecvError::Disconnected`]; the sender gets its value
//! back in a `Disconnected` error. A new process may then open the dead side's role; the ring
//! keeps its data. Every index read from shared memory is validated, and an impossible one
//! makes the handle return `Corrupted` from then on.

pub mod layout;
#[allow(unused_imports)]
use layout::*;
mod chunks;
#[cfg(not(shmring_loom))]
mod dynamic;
mod end;
pub(crate) use end::end_core;
mod receiver;
mod sender;
pub use chunks::{ReadChunk, ReadChunkIntoIter, WriteChunk};
#[cfg(not(shmring_loom))]
pub use dynamic::{DynReceiver, DynSender};
pub use receiver::{Iter, TryIter};

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) use layout::{Area, Role, geometry};

use crate::error::{recv_without_timeout, try_to_timeout, without_timeout};
use crate::header::HeaderError;
use crate::storage::{open_ring, ring_options};
use crate::sync::Ordering;
use crate::wait::Waiter;
use crate::{
    ChunkError, Location, OpenError, RecvError, RecvTimeoutError, RingKind, Segment,
    SegmentOptions, SendError, SendTimeoutError, ShmType, TryRecvError, TrySendError, WaitStrategy,
};

/// Tight polls a blocking call makes inline before it enters the waiting machinery (none
/// under loom, whose models must reach the sleeping protocol).
const QUICK_POLLS: u32 = if cfg!(shmring_loom) { 0 } else { 8 };

/// Payloads up to this size are copied as typed values; larger ones by one `memcpy`.
const SMALL_PAYLOAD: usize = 64;

/// The sending half. `Send` but neither `Clone` nor `Sync`: there is one producer.
///
/// ```
/// let (mut tx, mut rx) = shmring::spsc::channel::<u32>(4)?;
/// tx.try_send(1).unwrap();
/// assert_eq!(rx.try_recv(), Ok(1));
/// # Ok::<(), shmring::OpenError>(())
/// ```
pub struct Sender<T: ShmType> {
    end: End<T>,
    /// The authoritative tail: only this handle writes it.
    tail: u64,
    /// The receiver's head as last seen.
    head: u64,
}

/// The receiving half. `Send` but neither `Clone` nor `Sync`: there is one consumer.
///
/// ```
/// let (mut tx, mut rx) = shmring::spsc::channel::<u32>(4)?;
/// tx.send(9).unwrap();
/// assert_eq!(rx.recv(), Ok(9));
/// # Ok::<(), shmring::OpenError>(())
/// ```
pub struct Receiver<T: ShmType> {
    end: End<T>,
    /// The authoritative head: only this handle writes it.
    head: u64,
    /// The sender's tail as last seen.
    tail: u64,
}

// SAFETY: a handle owns its role exclusively (claimed in shared memory) and touches the area
// only through atomics and slot copies whose ownership the ring protocol assigns to that role;
// moving it to another thread changes nothing. It is not Sync: methods take `&mut self`.
unsafe impl<T: ShmType + Send> Send for Sender<T> {}
// SAFETY: as for Sender.
unsafe impl<T: ShmType + Send> Send for Receiver<T> {}

/// What both handles share: the area, the segment that keeps it mapped, the claimed role and
/// what is known about the peer.
pub(crate) struct End<T: ShmType> {
    pub(crate) area: Area<T>,
    pub(crate) role: Role,
    /// Owner word this handle wrote into its role record.
    pub(crate) me: u64,
    pub(crate) waiter: Waiter,
    /// Notify with a compiler fence only (this process is registered for membarrier).
    pub(crate) light: bool,
    /// The peer's owner word once proven dead (cached so it is not re-checked).
    pub(crate) dead_peer: u64,
    pub(crate) last_liveness: Option<Instant>,
    /// Unforced liveness questions since the handle was made (see `peer_process`).
    pub(crate) polls: u32,
    pub(crate) corrupted: bool,
    pub(crate) name: String,
    /// The readiness eventfd, its helper and reactor registration, once asked for.
    #[cfg(not(shmring_loom))]
    pub(crate) readiness: crate::notify::Readiness,
    /// Keeps the mapping alive; after `area` so it is dropped last.
    pub(crate) _segment: Option<Arc<Segment>>,
}

/// What is known about the other side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Peer {
    /// Attached and alive, or not attached yet.
    Present,
    /// Closed, or its process died.
    Gone,
    /// Its record holds an impossible value.
    Corrupt,
}

/// Creates a ring on loom's model heap (`--cfg shmring_loom` only).
///
/// # Errors
///
/// Never; the `Result` matches the normal build's signature.
#[cfg(shmring_loom)]
pub fn channel<T: ShmType>(capacity: u64) -> Result<(Sender<T>, Receiver<T>), OpenError> {
    let area = Area::<T>::new_model(capacity.next_power_of_two());
    let end = |role: Role| End::model(&area, role);
    Ok((
        Sender {
            end: end(Role::Sender),
            tail: 0,
            head: 0,
        },
        Receiver {
            end: end(Role::Receiver),
            head: 0,
            tail: 0,
        },
    ))
}

/// Creates an in-process ring on the heap (for tests, benchmarks and single-process use).
///
/// # Errors
///
/// [`OpenError::InvalidConfig`] for a zero or too large capacity.
///
/// ```
/// let (mut tx, mut rx) = shmring::spsc::channel::<[u8; 16]>(8)?;
/// tx.send([1; 16]).unwrap();
/// assert_eq!(rx.recv().unwrap(), [1; 16]);
/// # Ok::<(), shmring::OpenError>(())
/// ```
#[cfg(not(shmring_loom))]
pub fn channel<T: ShmType>(capacity: u64) -> Result<(Sender<T>, Receiver<T>), OpenError> {
    let segment = create_options::<T>(capacity, &Location::Heap)?.create(Location::Heap);
    crate::build::heap_channel(segment, Sender::attach, Receiver::attach)
}

/// Segment options for a new ring of `capacity` (rounded up to a power of two) `T` slots.
pub(crate) fn create_options<T: ShmType>(
    capacity: u64,
    location: &Location,
) -> Result<SegmentOptions, OpenError> {
    ring_options::<T>(RingKind::Spsc, capacity, layout::geometry::<T>(), location)
}

/// Length from the shared indices, never more than the capacity whatever a peer wrote.
fn ring_len<T: ShmType>(area: &Area<T>) -> usize {
    let head = area.head().load(Ordering::Acquire);
    let tail = area.tail().load(Ordering::Acquire);
    tail.saturating_sub(head).min(area.capacity()) as usize
}

/// What both spsc handles have alike: the wait strategy and the fill of the ring.
macro_rules! both_handles {
    ($handle:ident, $var:literal, $waits:literal) => {
        impl<T: ShmType> $handle<T> {
            #[doc = concat!("Sets how this handle waits when ", $waits, ".")]
            ///
            /// ```
            /// let (tx, rx) = shmring::spsc::channel::<u8>(2)?;
            #[doc = concat!("let h = ", $var, ".with_wait_strategy(shmring::WaitStrategy::BusyPoll);")]
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn with_wait_strategy(mut self, strategy: WaitStrategy) -> $handle<T> {
                self.end.waiter = Waiter::new(strategy);
                self
            }

            /// Messages in the ring now, as far as shared memory says (clamped to the
            /// capacity).
            ///
            /// ```
            /// let (mut tx, rx) = shmring::spsc::channel::<u8>(4)?;
            /// tx.send(1).unwrap();
            #[doc = concat!("assert_eq!(", $var, ".len(), 1);")]
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn len(&self) -> usize {
                ring_len(&self.end.area)
            }

            /// Whether the ring is empty now.
            ///
            /// ```
            /// let (tx, rx) = shmring::spsc::channel::<u8>(4)?;
            #[doc = concat!("assert!(", $var, ".is_empty());")]
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// Whether the ring is full now.
            ///
            /// ```
            /// let (mut tx, rx) = shmring::spsc::channel::<u8>(1)?;
            /// tx.send(1).unwrap();
            #[doc = concat!("assert!(", $var, ".is_full());")]
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn is_full(&self) -> bool {
                self.len() == self.end.area.capacity() as usize
            }
        }
    };
}

both_handles!(Sender, "tx", "the ring is full");
both_handles!(Receiver, "rx", "the ring is empty");
