//! Multi-producer / multi-consumer typed ring across processes that a killed participant
//! can never wedge.
//!
//! The algorithm is the bounded Vyukov queue (crossbeam's `ArrayQueue` form): every slot
//! carries a 64-bit sequence stamp, producers claim positions with a CAS on `tail`,
//! consumers with a CAS on `head`, and a slot is published or released by a Release store of
//! its stamp. Stamps are absolute 64-bit positions, so a stale value can never be mistaken for
//! a current one.
//!
//! # What the non-blocking calls promise
//!
//! As crossbeam's `ArrayQueue`, [`Receiver::try_recv`] reports `Empty` only when the
//! positions say the ring is empty (`tail == head`: no message sent and not yet taken), and
//! [`Sender::try_send`] reports `Full` only when they say it is full (`tail == head +
//! capacity`). So a thread whose own `send` has returned finds a message with `try_recv`, and
//! [`is_empty`](Receiver::is_empty) and `try_recv` agree. Between a participant's claim of a
//! position and the end of its copy the slot is neither readable nor free: a try call that
//! meets such a slot waits for that participant (spinning, then yielding), settles the claim
//! of one proven dead through the crash protocol below, and only reports `Empty`/`Full` after
//! [`CLAIM_PATIENCE`](crate::wait::CLAIM_PATIENCE) if a live one stays stopped in the middle of
//! its operation. The blocking, timed and async calls wait in any case.
//!
//! Any number of processes may attach on either side; [`Sender`] and [`Receiver`] are
//! `Clone` and `Sync` (clones share one participant record and up to
//! [`LANES`] operations in flight at once).
//!
//! ```
//! use shmring::mpmc;
//!
//! let name = format!("shmring-doc-mpmc-{}", std::process::id());
//! let tx = mpmc::Sender::<u64>::create(name.as_str(), 1024)?;
//! let rx = mpmc::Receiver::<u64>::open(name.as_str())?;   // normally other processes
//! let tx2 = tx.clone();
//! std::thread::scope(|s| {
//!     s.spawn(|| tx.send(1).unwrap());
//!     s.spawn(|| tx2.send(2).unwrap());
//! });
//! let mut got = [rx.recv().unwrap(), rx.recv().unwrap()];
//! got.sort();
//! assert_eq!(got, [1, 2]);
//! shmring::Segment::unlink_name(&name)?;
//! # Ok::<(), shmring::OpenError>(())
//! ```
//!
//! # Crashes
//!
//! Each attached process holds a **participant record** in the segment (owner pid and start
//! time, role, and the ring position of every operation it has in flight, written before the
//! claiming CAS). A process that finds the ring empty or full for a while (at least every
//! [`LIVENESS_PERIOD`](crate::wait::LIVENESS_PERIOD) while it waits) scans the table; for a
//! participant proven dead it **tombstones** a slot that participant claimed but never
//! published (consumers skip it) and **releases** a slot it was consuming (that message is
//! lost with its consumer), then frees the record. The protocol and its proof obligations are
//! in `docs/protocols.md`. The table has [`PARTICIPANTS`] records; attaching
//! to a ring whose records are all held by live processes fails with
//! [`OpenError::ParticipantsFull`].
//!
//! # Disconnection
//!
//! Once every sender is gone (dropped, or dead and reaped), receivers take what is left and
//! then get `Disconnected`; once every receiver is gone, senders get `Disconnected` with
//! their value back. A ring nobody has attached to yet on one side is not disconnected: its
//! first peer may still come.
//!
//! # Hostile peers
//!
//! Positions, stamps and records read from shared memory are validated against what the
//! protocol allows (a stamp is one of the two values its lap permits, positions only move
//! forward and stay within a capacity of each other); a violation makes the handle return
//! `Corrupted` from then on — never undefined behaviour, a panic or an endless loop.

#[cfg(not(shmring_loom))]
mod dynamic;
pub mod layout;
#[allow(unused_imports)]
use layout::*;
mod handles;
mod receiver;
mod sender;
mod table;
mod vyukov;

#[cfg(not(shmring_loom))]
pub use dynamic::{DynReceiver, DynSender};
#[cfg(not(shmring_loom))]
use table::attach;
pub(crate) use table::{LaneGuard, participant_core};

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) use layout::{Area, Role};

use crate::error::{recv_without_timeout, without_timeout};
use crate::header::HeaderError;
use crate::storage::{open_ring, ring_options};
use std::sync::atomic::{AtomicBool, AtomicU64};

use crate::sync::{Mutex, Ordering, yield_now};
use crate::wait::{Waiter, default_strategy};
use crate::{
    Location, OpenError, RecvError, RecvTimeoutError, RingKind, Segment, SendError,
    SendTimeoutError, ShmType, TryRecvError, TrySendError, WaitStrategy,
};

/// Attempts one operation makes before it reports `Full`/`Empty` under contention (each
/// failed attempt means another participant made progress).
const RETRIES: u32 = 1 << 16;

/// The sending side. `Clone` (the clone shares this process's participant record) and
/// `Sync`.
pub struct Sender<T: ShmType> {
    shared: Arc<Participant<T>>,
    strategy: WaitStrategy,
    /// This handle's readiness eventfd, its helper and reactor registration, once asked
    /// for (not shared with clones: each clone waits on its own).
    #[cfg(not(shmring_loom))]
    readiness: crate::notify::Readiness,
}

/// The receiving side. `Clone` and `Sync`, like [`Sender`].
pub struct Receiver<T: ShmType> {
    shared: Arc<Participant<T>>,
    strategy: WaitStrategy,
    /// As [`Sender`]'s.
    #[cfg(not(shmring_loom))]
    readiness: crate::notify::Readiness,
}

/// What the positions in a participant's lanes refer to, and so how a dead participant's
/// in-flight operations are recovered.
pub(crate) enum Protocol<T: ShmType> {
    /// Vyukov slots (this module): a lane is one position.
    Slots,
    /// Framed records of the many-producer byte ring ([`crate::framed::mpsc`]): a lane is a
    /// pair of words, the claim's position and its length in bytes, settled by this function.
    Records(Recover<T>),
    /// The broadcast ring ([`crate::broadcast`]): lane 0 of a receiver's record is its read
    /// cursor, not a claim; a dead member leaves nothing in flight (its record is freed, and a
    /// writer's unfinished slot is never published).
    Cursors,
}

/// Settles the claim (position, length) a dead participant of a role had in flight.
pub(crate) type Recover<T> =
    fn(&Participant<T>, Role, u64, u64, &mut Vec<(u64, bool)>) -> Resolution;

impl<T: ShmType> Clone for Protocol<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ShmType> Copy for Protocol<T> {}

impl<T: ShmType> Protocol<T> {
    /// Words per lane.
    fn stride(self) -> usize {
        match self {
            Protocol::Slots => 1,
            Protocol::Records(_) => 2,
            Protocol::Cursors => LANES,
        }
    }
}

/// One attached participant: a record in the segment's table, and this process's view. The
/// process-local atomics are std's even under loom: they are per-process caches and flags, not
/// part of the shared-memory protocol being modelled. The participant table is shared with
/// the many-producer framed ring, which recovers claims of dead producers its own way
/// ([`Protocol`]).
pub(crate) struct Participant<T: ShmType> {
    pub(crate) area: Area<T>,
    pub(crate) protocol: Protocol<T>,
    role: Role,
    /// Index of the record in the table.
    pub(crate) index: usize,
    /// The owner word written in the record.
    me: u64,
    /// Which of the record's lanes an operation of this process is using.
    busy: [AtomicBool; LANES],
    /// Threads of this process asleep under this record's waiting bit.
    /// (Shared with the readiness bridges of this record's handles, which count among them.)
    pub(crate) sleepers: Arc<Mutex<u32>>,
    /// Framed receivers: the position up to which this process has consumed (recovery of
    /// dead producers' claims only touches records from here on); `u64::MAX` until known.
    pub(crate) local_head: AtomicU64,
    light: bool,
    corrupted: AtomicBool,
    /// Dropping releases nothing: not (yet) holding a record, or left as a killed process
    /// would leave it (models).
    abandoned: AtomicBool,
    /// Membership epoch of the last table scan, and whether the other side was present then.
    seen_epoch: AtomicU64,
    peers: AtomicBool,
    /// When the next scan of a polling loop is due.
    period: crate::liveness::Period,
    pub(crate) name: String,
    pub(crate) _segment: Option<Arc<Segment>>,
}

/// What a table scan found alive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Members {
    pub(crate) senders: u32,
    pub(crate) receivers: u32,
    /// Dead records left for a later scan: a participant not proven dead showed one of
    /// their positions in flight.
    pub(crate) pending: u32,
}

impl Members {
    fn of(&self, role: Role) -> u32 {
        match role {
            Role::Sender => self.senders,
            Role::Receiver => self.receivers,
        }
    }
}

/// The outcome of resolving one in-flight position of a dead participant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resolution {
    /// Nothing is left waiting on it.
    Settled,
    /// A live participant may own the same position; try again on a later scan.
    Pending,
}

/// Who holds a claimed position ([`Participant::claimant`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Claimant {
    /// No lane shows it.
    Nobody,
    /// A participant (alive or dead) is in the middle of its operation there.
    Working,
    /// A framed reservation its user holds open ([`HELD_OPEN`]).
    HeldOpen,
}

/// What one attempt at an operation found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// The operation took place.
    Done,
    /// Nothing to do by the positions: the ring is full (send) or empty (receive).
    Nothing,
    /// Another participant is in the middle of an operation at the position this one needs
    /// (or won every race for it): neither full nor empty, try again shortly.
    InFlight,
}

/// The loom build: the ring on the loom heap; every further participant comes from
/// [`Sender::attach_sender`]-style calls on these handles.
#[cfg(shmring_loom)]
pub fn channel<T: ShmType>(capacity: u64) -> Result<(Sender<T>, Receiver<T>), OpenError> {
    let area = Area::<T>::new_model(capacity.next_power_of_two().max(2));
    let tx = Participant::join(
        area.clone(),
        Protocol::Slots,
        Role::Sender,
        "loom".into(),
        None,
    )?;
    let rx = Participant::join(area, Protocol::Slots, Role::Receiver, "loom".into(), None)?;
    Ok((Sender::from_shared(tx), Receiver::from_shared(rx)))
}

/// Creates an mpmc ring on the process heap, for threads of one process (and for tests).
///
/// # Errors
///
/// [`OpenError::InvalidConfig`] for a zero or too large capacity. A capacity of 1 is made 2
/// (the smallest Vyukov ring).
///
/// ```
/// let (tx, rx) = shmring::mpmc::channel::<u32>(4)?;
/// tx.send(1).unwrap();
/// assert_eq!(rx.recv(), Ok(1));
/// # Ok::<(), shmring::OpenError>(())
/// ```
#[cfg(not(shmring_loom))]
pub fn channel<T: ShmType>(capacity: u64) -> Result<(Sender<T>, Receiver<T>), OpenError> {
    let segment = create_options::<T>(capacity, &Location::Heap)?.create(Location::Heap);
    crate::build::heap_channel(segment, Sender::attach, Receiver::attach)
}

/// Capacities are powers of two of at least 2: with one slot, a published stamp (`pos + 1`)
/// would equal the next lap's free stamp (`pos + capacity`).
fn create_options<T: ShmType>(
    capacity: u64,
    location: &Location,
) -> Result<crate::SegmentOptions, OpenError> {
    let capacity = if capacity == 1 { 2 } else { capacity };
    ring_options::<T>(RingKind::Mpmc, capacity, layout::geometry::<T>(), location)
}

// SAFETY: a participant touches the shared area only through atomics and through slot
// copies whose exclusive ownership the ring protocol gives it (a won CAS); its process-local
// state is atomics and a mutex. Any thread may use it, concurrently.
unsafe impl<T: ShmType + Send> Send for Participant<T> {}
// SAFETY: as above; every method takes `&self` and synchronises through atomics.
unsafe impl<T: ShmType + Send> Sync for Participant<T> {}
