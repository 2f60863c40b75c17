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

pub(crate) mod area;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) use area::{Area, Role};
pub use area::{
    CONTROL_SIZE, DATA_SEQ_OFFSET, DATA_WAITING_OFFSET, EPOCH_OFFSET, HEAD_OFFSET, HELD_OPEN, IDLE,
    LANES, PARTICIPANTS, RECEIVERS_EVER_OFFSET, RECEIVERS_REAPED_OFFSET, RECORD_LANES,
    RECORD_OWNER, RECORD_PID_NS, RECORD_ROLE, RECORD_SIZE, SENDERS_EVER_OFFSET,
    SENDERS_REAPED_OFFSET, SPACE_SEQ_OFFSET, SPACE_WAITING_OFFSET, TABLE_OFFSET, TAIL_OFFSET,
    TOMBSTONE,
};

use crate::error::{recv_without_timeout, try_recv_to_timeout, try_to_timeout, without_timeout};
use crate::header::HeaderError;
use crate::storage::{open_ring, ring_options};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};

use crate::sync::{Mutex, Ordering, yield_now};
use crate::wait::{Step, Waiter};
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
    /// Polls since the last scan, and when it ran (ns since `clock_base`).
    polls: AtomicU32,
    last_scan: AtomicU64,
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

/// Whether the slot of position `pos`, stamped `stamp`, makes the ring full for a producer
/// at `pos`: the previous lap's message is still unconsumed (or being consumed), or its
/// producer has not published yet.
#[inline]
fn full_at(stamp: u64, pos: u64, cap: u64) -> bool {
    (stamp & !TOMBSTONE).wrapping_add(cap) == pos + 1
        || (stamp.wrapping_add(cap) == pos && pos >= cap)
}

/// Whether the slot of position `pos`, stamped `stamp`, makes the ring empty for a consumer
/// at `pos`: not yet published, or the previous lap's consumer is still reading.
#[inline]
fn empty_at(stamp: u64, pos: u64, cap: u64) -> bool {
    stamp == pos || (stamp & !TOMBSTONE).wrapping_add(cap) == pos + 1
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
    let segment = Arc::new(create_options::<T>(capacity, &Location::Heap)?.create(Location::Heap)?);
    let tx = Sender::attach(segment.clone())?;
    let rx = Receiver::attach(segment)?;
    Ok((tx, rx))
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

/// Capacities are powers of two of at least 2: with one slot, a published stamp (`pos + 1`)
/// would equal the next lap's free stamp (`pos + capacity`).
fn create_options<T: ShmType>(
    capacity: u64,
    location: &Location,
) -> Result<crate::SegmentOptions, OpenError> {
    let capacity = if capacity == 1 { 2 } else { capacity };
    ring_options::<T>(RingKind::Mpmc, capacity, area::geometry::<T>(), location)
}

#[cfg(not(shmring_loom))]
fn attach<T: ShmType>(segment: Arc<Segment>, role: Role) -> Result<Participant<T>, OpenError> {
    // SAFETY: `open_ring` (or our own create) checked that the area holds the control block
    // and `capacity` stamped slots of T; the area is page aligned; the segment is kept alive
    // in the participant next to the area.
    let capacity = segment.info().capacity;
    if capacity < 2 {
        return Err(OpenError::Corrupted {
            name: segment.name().to_owned(),
            reason: HeaderError::BadField {
                field: "capacity",
                value: capacity,
            },
        });
    }
    // SAFETY: see above; the capacity was checked to be a power of two by `open_ring`.
    let area = unsafe { Area::<T>::new(segment.area_ptr(), capacity) };
    let head = area.head().load(Ordering::Acquire);
    let tail = area.tail().load(Ordering::Acquire);
    if head > tail || tail - head > area.capacity() || tail & TOMBSTONE != 0 {
        return Err(OpenError::Corrupted {
            name: segment.name().to_owned(),
            reason: HeaderError::BadField {
                field: "ring positions (tail - head)",
                value: tail.wrapping_sub(head),
            },
        });
    }
    Participant::join(
        area,
        Protocol::Slots,
        role,
        segment.name().to_owned(),
        Some(segment),
    )
}

/// The strategy of new handles; under loom no spinning, so that every wait goes to sleep and
/// loom explores the futex protocol instead of unrolling spin loops.
fn default_strategy() -> WaitStrategy {
    if cfg!(shmring_loom) {
        WaitStrategy::Blocking { spin: 0, yields: 0 }
    } else {
        WaitStrategy::default()
    }
}

/// Nanoseconds on a process-local monotonic clock.
#[cfg(not(shmring_loom))]
fn now_ns() -> u64 {
    static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

impl<T: ShmType> Participant<T> {
    /// Claims a free record of the table for `role`.
    pub(crate) fn join(
        area: Area<T>,
        protocol: Protocol<T>,
        role: Role,
        name: String,
        segment: Option<Arc<Segment>>,
    ) -> Result<Participant<T>, OpenError> {
        let me = Self::identity(&name)?;
        let mut participant = Participant {
            area,
            protocol,
            role,
            index: 0,
            me,
            busy: std::array::from_fn(|_| AtomicBool::new(false)),
            sleepers: Arc::new(Mutex::new(0)),
            local_head: AtomicU64::new(u64::MAX),
            light: Self::light(),
            corrupted: AtomicBool::new(false),
            abandoned: AtomicBool::new(true),
            seen_epoch: AtomicU64::new(u64::MAX),
            peers: AtomicBool::new(true),
            polls: AtomicU32::new(0),
            last_scan: AtomicU64::new(0),
            name,
            _segment: segment,
        };
        // Two passes: the second after reaping whatever dead participants hold records.
        for pass in 0..2 {
            for index in 0..PARTICIPANTS {
                let me = participant.model_identity(index);
                let owner = participant.area.owner(index);
                if owner
                    .compare_exchange(0, me, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                {
                    participant.index = index;
                    participant.me = me;
                    participant.abandoned.store(false, Ordering::Relaxed);
                    participant.enter(role);
                    return Ok(participant);
                }
            }
            if pass == 0 {
                participant.scan();
            }
        }
        Err(OpenError::ParticipantsFull {
            name: participant.name.clone(),
            max: PARTICIPANTS,
        })
    }

    /// Fills a freshly claimed record and announces it.
    fn enter(&self, role: Role) {
        let area = &self.area;
        area.pid_ns(self.index)
            .store(Self::pid_ns(), Ordering::Relaxed);
        for lane in 0..LANES {
            area.lane(self.index, lane).store(IDLE, Ordering::Relaxed);
        }
        // A predecessor in this record that died asleep left its waiting bits set.
        let bit = 1u64 << self.index;
        area.waiting(Role::Sender)
            .fetch_and(!bit, Ordering::Relaxed);
        area.waiting(Role::Receiver)
            .fetch_and(!bit, Ordering::Relaxed);
        area.role(self.index).store(role as u32, Ordering::Release);
        area.ever(role).store(1, Ordering::Release);
        area.epoch().fetch_add(1, Ordering::AcqRel);
        // Peers blocked on "nobody attached yet" re-check now.
        self.wake_all();
    }

    #[cfg(not(shmring_loom))]
    fn identity(name: &str) -> Result<u64, OpenError> {
        let me = crate::process::ProcessId::current().map_err(|source| OpenError::Io {
            name: name.to_owned(),
            op: "read /proc/self/stat",
            source,
        })?;
        Ok(crate::process::owner_word(&me))
    }

    #[cfg(shmring_loom)]
    fn identity(_name: &str) -> Result<u64, OpenError> {
        Ok(0)
    }

    /// The owner word to claim record `index` with: this process's word; under loom every
    /// participant is its own "process", named by its record.
    #[cfg(not(shmring_loom))]
    fn model_identity(&self, _index: usize) -> u64 {
        self.me
    }

    #[cfg(shmring_loom)]
    fn model_identity(&self, index: usize) -> u64 {
        index as u64 + 1
    }

    #[cfg(not(shmring_loom))]
    fn pid_ns() -> u64 {
        crate::process::current_pid_ns()
    }

    #[cfg(shmring_loom)]
    fn pid_ns() -> u64 {
        0
    }

    #[cfg(not(shmring_loom))]
    fn light() -> bool {
        crate::futex::register_barrier()
    }

    #[cfg(shmring_loom)]
    fn light() -> bool {
        false
    }

    /// Whether the process owning record `index` (owner word `owner`) is proven dead.
    #[cfg(not(shmring_loom))]
    fn dead(&self, index: usize, owner: u64, verdicts: &mut Vec<(u64, bool)>) -> bool {
        use crate::process::{Liveness, owner_liveness};
        if owner == self.me {
            return false;
        }
        if let Some(&(_, dead)) = verdicts.iter().find(|(o, _)| *o == owner) {
            return dead;
        }
        let ns = self.area.pid_ns(index).load(Ordering::Relaxed);
        let dead = owner_liveness(owner, ns) == Liveness::Dead;
        verdicts.push((owner, dead));
        dead
    }

    /// Under loom a participant "dies" by setting its bit in a model-only word.
    #[cfg(shmring_loom)]
    fn dead(&self, index: usize, owner: u64, _verdicts: &mut Vec<(u64, bool)>) -> bool {
        owner == index as u64 + 1
            && self
                .area
                .storage()
                .u64_at(area::MODEL_DEAD_OFFSET)
                .load(Ordering::SeqCst)
                & (1 << index)
                != 0
    }

    /// Marks this participant dead without releasing anything, as a process killed at that
    /// point would leave it (loom models of the crash protocol).
    #[cfg(shmring_loom)]
    pub(crate) fn die(&self) {
        self.area
            .storage()
            .u64_at(area::MODEL_DEAD_OFFSET)
            .fetch_or(1 << self.index, Ordering::SeqCst);
        self.abandoned.store(true, Ordering::Relaxed);
        // Survivors asleep would notice within a liveness period; loom has no time.
        self.wake_all();
    }

    pub(crate) fn corrupt(&self) {
        self.corrupted.store(true, Ordering::Relaxed);
    }

    pub(crate) fn is_corrupted(&self) -> bool {
        self.corrupted.load(Ordering::Relaxed)
    }

    /// The side this participant is on.
    pub(crate) fn role(&self) -> Role {
        self.role
    }

    /// The pid of another participant of `role` not proven dead, if there is one.
    pub(crate) fn other_live(&self, role: Role) -> Option<u32> {
        let mut verdicts = Vec::new();
        (0..PARTICIPANTS).find_map(|index| {
            let owner = self.area.owner(index).load(Ordering::Acquire);
            let live = index != self.index
                && owner != 0
                && Role::from_code(self.area.role(index).load(Ordering::Acquire)) == Some(role)
                && !self.dead(index, owner, &mut verdicts);
            live.then_some((owner >> 32) as u32)
        })
    }

    /// Lanes per record under this participant's protocol.
    fn lanes(&self) -> usize {
        LANES / self.protocol.stride()
    }

    /// Takes one of the record's lanes for an operation.
    pub(crate) fn lane(&self) -> LaneGuard<'_, T> {
        loop {
            if let Some(lane) = self.try_lane() {
                return lane;
            }
            // More threads of this process mid-operation than lanes: wait for one.
            yield_now();
        }
    }

    /// Takes a free lane of the record, if there is one.
    pub(crate) fn try_lane(&self) -> Option<LaneGuard<'_, T>> {
        let (i, _) = self.busy[..self.lanes()]
            .iter()
            .enumerate()
            .find(|(_, busy)| {
                !busy.load(Ordering::Relaxed) && !busy.swap(true, Ordering::Acquire)
            })?;
        Some(LaneGuard {
            participant: self,
            lane: i,
            armed: std::cell::Cell::new(false),
        })
    }

    pub(crate) fn wake_all(&self) {
        let area = &self.area;
        area.event(Role::Sender, self.index, &self.sleepers)
            .wake(area.storage());
        area.event(Role::Receiver, self.index, &self.sleepers)
            .wake(area.storage());
    }

    pub(crate) fn notify(&self, role: Role) {
        let area = &self.area;
        area.event(role, self.index, &self.sleepers)
            .notify(area.storage(), self.light);
    }

    // ------------------------------------------------------------------ the Vyukov queue

    /// One enqueue: `Err(())` for corrupted shared state. With `exact`, [`Found::Nothing`]
    /// means full by the positions (`tail == head + capacity`) and a slot at `tail` still held
    /// by a consumer that claimed it (`head` is past it) is [`Found::InFlight`]; without,
    /// both are `Nothing` and `head` is not read (the waiting loops retry either way, and a
    /// load of the line the consumers write costs a round trip). A run of lost CAS races is
    /// `InFlight`.
    #[inline]
    fn push(&self, value: &T, exact: bool) -> Result<Found, ()> {
        let area = &self.area;
        let cap = area.capacity();
        let lane = self.lane();
        let mut pos = area.tail().load(Ordering::Relaxed);
        for _ in 0..RETRIES {
            if pos & TOMBSTONE != 0 {
                return Err(());
            }
            let stamp = area.load_stamp(pos, Ordering::Acquire);
            let bare = stamp & !TOMBSTONE;
            if stamp == pos {
                // Announce the position before claiming it, so that whoever reaps this
                // process after a crash finds the claim.
                lane.set(pos);
                match area.tail().compare_exchange(
                    pos,
                    pos + 1,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: the CAS made this process the only writer of the slot of
                        // `pos` until its stamp says published; consumers read it only then.
                        unsafe { area.storage().write_from(pos, value) };
                        area.store_stamp(pos, pos + 1, Ordering::Release);
                        lane.set(IDLE);
                        drop(lane);
                        self.notify(Role::Receiver);
                        return Ok(Found::Done);
                    }
                    Err(current) => pos = current,
                }
            } else if full_at(stamp, pos, cap) {
                // Full only if no consumer has claimed the previous lap's message: `tail`
                // is at least `pos`, so `head + cap <= pos` means `tail - head >= cap` now.
                return Ok(
                    if !exact || area.head().load(Ordering::Acquire).saturating_add(cap) <= pos {
                        Found::Nothing
                    } else {
                        Found::InFlight
                    },
                );
            } else if bare > pos {
                // Another producer took `pos` already; our tail was stale.
                let tail = area.tail().load(Ordering::Acquire);
                if tail <= pos {
                    return Err(());
                }
                pos = tail;
            } else {
                return Err(());
            }
        }
        Ok(Found::InFlight)
    }

    /// One dequeue into `*dst` (tombstoned slots are skipped): `Err(())` for corrupted shared
    /// state. With `exact`, [`Found::Nothing`] means empty by the positions (`tail == head`)
    /// and a slot at `head` claimed by a producer that has not published it yet (`tail` is
    /// past it) is [`Found::InFlight`]; without, both are `Nothing` and `tail` is not read (as
    /// in [`push`](Participant::push)). A run of lost CAS races is `InFlight`.
    fn pop(&self, dst: &mut T, exact: bool) -> Result<Found, ()> {
        let area = &self.area;
        let cap = area.capacity();
        let lane = self.lane();
        let mut pos = area.head().load(Ordering::Relaxed);
        for _ in 0..RETRIES {
            if pos & TOMBSTONE != 0 {
                return Err(());
            }
            let stamp = area.load_stamp(pos, Ordering::Acquire);
            let bare = stamp & !TOMBSTONE;
            if bare == pos + 1 {
                lane.set(pos);
                match area.head().compare_exchange(
                    pos,
                    pos + 1,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        let message = stamp & TOMBSTONE == 0;
                        if message {
                            // SAFETY: the slot is published (stamp pos + 1, Acquire) and the
                            // CAS made this process its only reader; no producer writes it
                            // until the stamp below releases it.
                            unsafe { area.storage().read_to(pos, dst) };
                        }
                        area.store_stamp(pos, pos + cap, Ordering::Release);
                        lane.set(IDLE);
                        self.notify(Role::Sender);
                        if message {
                            return Ok(Found::Done);
                        }
                        pos += 1;
                    }
                    Err(current) => pos = current,
                }
            } else if empty_at(stamp, pos, cap) {
                // Empty only if no producer has claimed `pos`: `head` is at least `pos`, so
                // `tail <= pos` means `tail <= head` now.
                return Ok(if !exact || area.tail().load(Ordering::Acquire) <= pos {
                    Found::Nothing
                } else {
                    Found::InFlight
                });
            } else if bare > pos + 1 {
                let head = area.head().load(Ordering::Acquire);
                if head <= pos {
                    return Err(());
                }
                pos = head;
            } else {
                return Err(());
            }
        }
        Ok(Found::InFlight)
    }

    /// [`push`](Participant::push) or [`pop`](Participant::pop) through a non-blocking call:
    /// `patient`, an operation of another participant in flight at the position is waited
    /// out ([`crate::wait::patiently`]), settling dead participants' claims on the way; the
    /// outcome is `Done`, `Nothing` (the positions say full or empty) or, impatient or once
    /// the patience is spent, `InFlight`.
    #[inline]
    fn patiently(
        &self,
        patient: bool,
        mut op: impl FnMut() -> Result<Found, ()>,
    ) -> Result<Found, ()> {
        let first = op();
        if patient && first == Ok(Found::InFlight) {
            return self.wait_in_flight(op);
        }
        first
    }

    /// The slow half of [`patiently`](Participant::patiently).
    #[cold]
    #[inline(never)]
    fn wait_in_flight(&self, mut op: impl FnMut() -> Result<Found, ()>) -> Result<Found, ()> {
        let cap = self.area.capacity();
        crate::wait::patiently(|settle| {
            if settle {
                // The position in flight: the slot at `head` a producer is writing, or the
                // previous lap's slot at `tail` a consumer is reading.
                let pos = match self.role {
                    Role::Receiver => self.area.head().load(Ordering::Acquire),
                    Role::Sender => self.area.tail().load(Ordering::Acquire).wrapping_sub(cap),
                };
                if self.claimant(pos) == Claimant::Nobody {
                    // Nobody claimed it (or the claimer just finished): one last look.
                    return Some(op());
                }
                self.scan();
            }
            match op() {
                Ok(Found::InFlight) => None,
                other => Some(other),
            }
        })
        .unwrap_or(Ok(Found::InFlight))
    }

    /// The readiness bridge of a handle of this record that waits in `role`'s direction,
    /// made on first use into `readiness` (the handle's own): it counts among the record's
    /// sleepers in this process, as blocking waiters do (`notify::WaitWord::Counted`).
    #[cfg(not(shmring_loom))]
    pub(crate) fn counted_bridge(
        &self,
        role: Role,
        readiness: &mut crate::notify::Readiness,
    ) -> std::io::Result<Arc<crate::notify::Bridge>> {
        let event = self.area.event(role, self.index, &self.sleepers);
        readiness.bridge(|| {
            let segment = self._segment.clone().ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::Unsupported, "no mapped segment")
            })?;
            crate::notify::Bridge::new(
                segment,
                event.seq,
                crate::notify::WaitWord::Counted(
                    self.area.waiting(role),
                    1u64 << self.index,
                    self.sleepers.clone(),
                ),
            )
        })
    }

    /// Whether this participant's next operation would find nothing to do now: an empty ring
    /// for a receiver, a full one for a sender (the conditions under which `pop` and `push`
    /// report so). The re-check after registering for readiness; anything unexpected counts
    /// as "go and try", so the attempt itself reports it.
    #[cfg(not(shmring_loom))]
    pub(crate) fn would_wait(&self) -> bool {
        if self.is_corrupted() {
            return false;
        }
        let area = &self.area;
        let cap = area.capacity();
        let pos = match self.role {
            Role::Sender => area.tail().load(Ordering::Acquire),
            Role::Receiver => area.head().load(Ordering::Acquire),
        };
        if pos & TOMBSTONE != 0 {
            return false;
        }
        let stamp = area.load_stamp(pos, Ordering::Acquire);
        match self.role {
            Role::Sender => full_at(stamp, pos, cap),
            Role::Receiver => empty_at(stamp, pos, cap),
        }
    }

    /// The first half of an operation: announce and claim the next position, if possible.
    #[cfg(shmring_loom)]
    fn claim_only(&self) -> bool {
        let area = &self.area;
        let (index, ready) = match self.role {
            Role::Sender => (area.tail(), 0),
            Role::Receiver => (area.head(), 1),
        };
        let pos = index.load(Ordering::Relaxed);
        area.load_stamp(pos, Ordering::Acquire) == pos + ready && {
            area.lane(self.index, 0).store(pos, Ordering::Relaxed);
            index
                .compare_exchange(pos, pos + 1, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok()
        }
    }

    // ------------------------------------------------------------------ membership, recovery

    /// Whether the other side is present (attached, or never attached yet). Cheap unless the
    /// membership changed or a rescan is due: `slow` polls (empty/full) rescan every
    /// [`LIVENESS_PERIOD`](crate::wait::LIVENESS_PERIOD), `force` at once.
    pub(crate) fn peers_present(&self, slow: bool, force: bool) -> bool {
        let epoch = self.area.epoch().load(Ordering::Acquire);
        if force || epoch != self.seen_epoch.load(Ordering::Relaxed) || (slow && self.scan_due()) {
            // Read "ever attached" before the scan: a peer that sets it has already claimed
            // and announced its record, so the scan sees it (reading it after the scan could
            // miss a peer that attached in between and call the ring disconnected).
            let other = self.role.other();
            let never = self.area.ever(other).load(Ordering::Acquire) == 0;
            let members = self.scan();
            self.peers
                .store(never || members.of(other) > 0, Ordering::Relaxed);
            self.seen_epoch.store(epoch, Ordering::Relaxed);
        }
        self.peers.load(Ordering::Relaxed)
    }

    /// Every 1024th slow poll reads the clock; a scan is due once per liveness period.
    #[cfg(not(shmring_loom))]
    fn scan_due(&self) -> bool {
        if self.polls.fetch_add(1, Ordering::Relaxed) % 1024 != 0 {
            return false;
        }
        let now = now_ns();
        let last = self.last_scan.load(Ordering::Relaxed);
        now.saturating_sub(last) >= crate::wait::LIVENESS_PERIOD.as_nanos() as u64
    }

    /// loom has no time: a "liveness period" passes whenever a participant died since this
    /// one last looked (the dead mask changed).
    #[cfg(shmring_loom)]
    fn scan_due(&self) -> bool {
        let dead = self
            .area
            .storage()
            .u64_at(area::MODEL_DEAD_OFFSET)
            .load(Ordering::SeqCst) as u32;
        self.polls.swap(dead, Ordering::Relaxed) != dead
    }

    /// Scans the table: counts live participants and reaps dead ones.
    pub(crate) fn scan(&self) -> Members {
        #[cfg(not(shmring_loom))]
        self.last_scan.store(now_ns(), Ordering::Relaxed);
        let mut members = Members::default();
        let mut verdicts = Vec::new();
        for index in 0..PARTICIPANTS {
            let owner = self.area.owner(index).load(Ordering::Acquire);
            if owner == 0 {
                continue;
            }
            if self.dead(index, owner, &mut verdicts) {
                if !self.reap(index, owner, &mut verdicts) {
                    members.pending += 1;
                }
                continue;
            }
            match Role::from_code(self.area.role(index).load(Ordering::Acquire)) {
                Some(Role::Sender) => members.senders += 1,
                Some(Role::Receiver) => members.receivers += 1,
                None => {}
            }
        }
        members
    }

    /// Recovers what the dead owner of record `index` left in flight, then frees the record.
    /// Returns whether the record was settled (freed, or free already).
    fn reap(&self, index: usize, owner: u64, verdicts: &mut Vec<(u64, bool)>) -> bool {
        let area = &self.area;
        let mut settled = true;
        let role = Role::from_code(area.role(index).load(Ordering::Acquire));
        if let Some(role) = role {
            let stride = self.protocol.stride();
            for lane in 0..LANES / stride {
                let pos = area.lane(index, lane * stride).load(Ordering::Acquire);
                if pos == IDLE {
                    continue;
                }
                let resolution = match self.protocol {
                    Protocol::Slots => self.resolve(role, pos, verdicts),
                    Protocol::Records(recover) => {
                        let span = area.lane(index, lane * stride + 1).load(Ordering::Acquire)
                            & !HELD_OPEN;
                        recover(self, role, pos, span, verdicts)
                    }
                };
                if resolution == Resolution::Pending {
                    settled = false;
                }
            }
        }
        if !settled {
            return false;
        }
        let bit = 1u64 << index;
        area.waiting(Role::Sender)
            .fetch_and(!bit, Ordering::Relaxed);
        area.waiting(Role::Receiver)
            .fetch_and(!bit, Ordering::Relaxed);
        // Counted before the record is freed, so whoever sees it free sees it counted; a
        // reaper that loses the race takes its count back.
        if let Some(role) = role {
            area.reaped(role).fetch_add(1, Ordering::AcqRel);
        }
        let freed = area
            .owner(index)
            .compare_exchange(owner, 0, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok();
        if let (false, Some(role)) = (freed, role) {
            area.reaped(role).fetch_sub(1, Ordering::AcqRel);
        }
        if freed {
            area.epoch().fetch_add(1, Ordering::AcqRel);
            self.wake_all();
        }
        true
    }

    /// Settles position `pos` that a dead participant of `role` had in flight.
    fn resolve(&self, role: Role, pos: u64, verdicts: &mut Vec<(u64, bool)>) -> Resolution {
        let area = &self.area;
        if pos & TOMBSTONE != 0 {
            return Resolution::Settled; // not a position: garbage in a dead record
        }
        match role {
            Role::Sender => {
                // Claimed (tail past it) but never published (stamp still `pos`)?
                if area.load_stamp(pos, Ordering::Acquire) != pos
                    || area.tail().load(Ordering::Acquire) <= pos
                {
                    return Resolution::Settled;
                }
                if self.held_by_live(Role::Sender, pos, verdicts) {
                    return Resolution::Pending;
                }
                if area.swap_stamp(pos, pos, (pos + 1) | TOMBSTONE) {
                    self.notify_all(Role::Receiver);
                }
                Resolution::Settled
            }
            Role::Receiver => {
                // Claimed (head past it) but never released (stamp still `pos + 1`)?
                let stamp = area.load_stamp(pos, Ordering::Acquire);
                if stamp & !TOMBSTONE != pos + 1 || area.head().load(Ordering::Acquire) <= pos {
                    return Resolution::Settled;
                }
                if self.held_by_live(Role::Receiver, pos, verdicts) {
                    return Resolution::Pending;
                }
                if area.swap_stamp(pos, stamp, pos + area.capacity()) {
                    self.notify_all(Role::Sender);
                }
                Resolution::Settled
            }
        }
    }

    /// Wakes every sleeper of `role`'s direction (after a recovery made progress possible).
    fn notify_all(&self, role: Role) {
        self.area
            .event(role, self.index, &self.sleepers)
            .wake(self.area.storage());
    }

    /// Whether a participant not proven dead (of `role`, or not yet announced) has `pos` in
    /// one of its lanes. Read after the position that shows `pos` claimed, so a live claimer's
    /// announcement (written before its claiming CAS) is visible here.
    pub(crate) fn held_by_live(
        &self,
        role: Role,
        pos: u64,
        verdicts: &mut Vec<(u64, bool)>,
    ) -> bool {
        (0..PARTICIPANTS).any(|index| {
            let owner = self.area.owner(index).load(Ordering::Acquire);
            if owner == 0 || self.dead(index, owner, verdicts) {
                return false;
            }
            let code = self.area.role(index).load(Ordering::Acquire);
            if code != 0 && Role::from_code(code) != Some(role) {
                return false;
            }
            (0..LANES)
                .step_by(self.protocol.stride())
                .any(|word| self.area.lane(index, word).load(Ordering::Acquire) == pos)
        })
    }

    /// Calls `f(record, position, span)` for every in-flight claim in the lanes of every
    /// record whose owner is proven dead (framed records only).
    pub(crate) fn dead_claims(
        &self,
        verdicts: &mut Vec<(u64, bool)>,
        mut f: impl FnMut(usize, u64, u64),
    ) {
        for index in 0..PARTICIPANTS {
            let owner = self.area.owner(index).load(Ordering::Acquire);
            if owner == 0 || !self.dead(index, owner, verdicts) {
                continue;
            }
            for lane in 0..LANES / 2 {
                let pos = self.area.lane(index, 2 * lane).load(Ordering::Acquire);
                if pos != IDLE {
                    f(
                        index,
                        pos,
                        self.area.lane(index, 2 * lane + 1).load(Ordering::Acquire) & !HELD_OPEN,
                    );
                }
            }
        }
    }

    /// Who holds the claim at position `pos`, by the lanes of every held record: a claimer
    /// announces its position before its claiming CAS and idles the lane after publishing,
    /// so a position in flight that no lane shows was claimed by nobody (a hostile write) —
    /// or its claimer has just finished.
    pub(crate) fn claimant(&self, pos: u64) -> Claimant {
        let stride = self.protocol.stride();
        let mut found = Claimant::Nobody;
        for index in 0..PARTICIPANTS {
            if self.area.owner(index).load(Ordering::Acquire) == 0 {
                continue;
            }
            for word in (0..LANES).step_by(stride) {
                if self.area.lane(index, word).load(Ordering::Acquire) != pos {
                    continue;
                }
                if stride == 2
                    && self.area.lane(index, word + 1).load(Ordering::Acquire) & HELD_OPEN != 0
                {
                    return Claimant::HeldOpen;
                }
                found = Claimant::Working;
            }
        }
        found
    }

    // ------------------------------------------------------------------ operations

    /// One send attempt. `PATIENT`: the public try calls, which wait out a consumer in the
    /// middle of taking the slot at `tail` and report `Full` only when the positions say so
    /// (the waiting loops and async sends retry on their own and pass `false`).
    fn try_send_ref<const PATIENT: bool>(
        &self,
        value: &T,
        force: bool,
    ) -> Result<(), TrySendError<()>> {
        if self.is_corrupted() {
            return Err(TrySendError::Corrupted(()));
        }
        if !self.peers_present(false, force) {
            return Err(TrySendError::Disconnected(()));
        }
        match self.patiently(PATIENT, || self.push(value, PATIENT)) {
            Ok(Found::Done) => Ok(()),
            Ok(Found::Nothing | Found::InFlight) => {
                if self.peers_present(true, false) {
                    Err(TrySendError::Full(()))
                } else {
                    Err(TrySendError::Disconnected(()))
                }
            }
            Err(()) => {
                self.corrupt();
                Err(TrySendError::Corrupted(()))
            }
        }
    }

    /// One receive attempt; `PATIENT` as for [`try_send_ref`](Participant::try_send_ref),
    /// waiting out a producer in the middle of writing the slot at `head`.
    fn try_recv_into<const PATIENT: bool>(
        &self,
        dst: &mut T,
        force: bool,
    ) -> Result<(), TryRecvError> {
        if self.is_corrupted() {
            return Err(TryRecvError::Corrupted);
        }
        let corrupted = |p: &Self| {
            p.corrupt();
            Err(TryRecvError::Corrupted)
        };
        match self.patiently(PATIENT, || self.pop(dst, PATIENT)) {
            Ok(Found::Done) => return Ok(()),
            Ok(Found::Nothing | Found::InFlight) => {}
            Err(()) => return corrupted(self),
        }
        let epoch = self.area.epoch().load(Ordering::Acquire);
        if self.peers_present(true, force) {
            return Err(TryRecvError::Empty);
        }
        // No sender is left. Reaping settles a dead sender's claims before freeing its
        // record, so whatever is between head and tail now is published or tombstoned.
        match self.pop(dst, false) {
            Ok(Found::Done) => return Ok(()),
            Ok(Found::Nothing | Found::InFlight) => {}
            Err(()) => return corrupted(self),
        }
        let head = self.area.head().load(Ordering::Acquire);
        let tail = self.area.tail().load(Ordering::Acquire);
        if tail <= head {
            Err(TryRecvError::Disconnected)
        } else if !force
            || self.area.epoch().load(Ordering::Acquire) != epoch
            || self.scan().pending > 0
            || self.sender_may_live()
        {
            // A sender attached meanwhile, or one is between joining and announcing its role
            // or leaving (its record still held): its claims settle once it is done. Only a
            // forced look (after a sleep: fresh views of every record) calls it corruption.
            Err(TryRecvError::Empty)
        } else {
            corrupted(self) // claimed positions with no sender to own them
        }
    }

    /// Whether another record not proven dead may belong to a sender: announced as one, or
    /// with no role (joining, or leaving). Such a record counts as no sender in a scan, but its
    /// lanes keep dead senders' claims pending ([`held_by_live`](Participant::held_by_live)).
    pub(crate) fn sender_may_live(&self) -> bool {
        let mut verdicts = Vec::new();
        (0..PARTICIPANTS).any(|index| {
            let owner = self.area.owner(index).load(Ordering::Acquire);
            index != self.index
                && owner != 0
                && Role::from_code(self.area.role(index).load(Ordering::Acquire))
                    != Some(Role::Receiver)
                && !self.dead(index, owner, &mut verdicts)
        })
    }

    /// How many participants of `role` were found dead (killed, or crashed without closing)
    /// and reaped since the ring was created.
    pub(crate) fn reaped(&self, role: Role) -> u32 {
        self.area.reaped(role).load(Ordering::Acquire)
    }

    fn len(&self) -> usize {
        let head = self.area.head().load(Ordering::Acquire);
        let tail = self.area.tail().load(Ordering::Acquire);
        tail.saturating_sub(head).min(self.area.capacity()) as usize
    }
}

impl<T: ShmType> Drop for Participant<T> {
    fn drop(&mut self) {
        if self.abandoned.load(Ordering::Relaxed) {
            return;
        }
        let area = &self.area;
        area.role(self.index).store(0, Ordering::Relaxed);
        let _ = area.owner(self.index).compare_exchange(
            self.me,
            0,
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
        area.epoch().fetch_add(1, Ordering::AcqRel);
        self.wake_all();
    }
}

/// A lane of this process's record, held for one operation.
pub(crate) struct LaneGuard<'a, T: ShmType> {
    participant: &'a Participant<T>,
    lane: usize,
    /// The lane shows a position: dropping the guard makes it idle again (an operation that
    /// gave up after a lost CAS must not leave a stale announcement, which would make the
    /// recovery of a dead participant's claim at that position wait for this live one).
    armed: std::cell::Cell<bool>,
}

impl<T: ShmType> LaneGuard<'_, T> {
    /// Announces `pos` (or [`IDLE`], with Release: everything this operation wrote to the
    /// ring is visible to whoever sees the lane idle).
    #[inline]
    pub(crate) fn set(&self, pos: u64) {
        let order = if pos == IDLE {
            Ordering::Release
        } else {
            Ordering::Relaxed
        };
        let p = self.participant;
        p.area
            .lane(p.index, self.lane * p.protocol.stride())
            .store(pos, order);
        self.armed.set(pos != IDLE);
    }

    /// Announces a framed claim: its length first, then its position (both before the
    /// claiming CAS, which publishes them).
    #[inline]
    pub(crate) fn set_claim(&self, pos: u64, span: u64) {
        let p = self.participant;
        debug_assert_eq!(p.protocol.stride(), 2);
        p.area
            .lane(p.index, 2 * self.lane + 1)
            .store(span, Ordering::Relaxed);
        p.area
            .lane(p.index, 2 * self.lane)
            .store(pos, Ordering::Relaxed);
        self.armed.set(true);
    }

    /// Marks this lane's framed claim as a reservation handed to its user ([`HELD_OPEN`]).
    pub(crate) fn hold_open(&self) {
        let p = self.participant;
        debug_assert_eq!(p.protocol.stride(), 2);
        let word = p.area.lane(p.index, 2 * self.lane + 1);
        word.store(word.load(Ordering::Relaxed) | HELD_OPEN, Ordering::Release);
    }
}

impl<T: ShmType> Drop for LaneGuard<'_, T> {
    fn drop(&mut self) {
        if self.armed.get() {
            self.set(IDLE);
        }
        self.participant.busy[self.lane].store(false, Ordering::Release);
    }
}

// SAFETY: a participant touches the shared area only through atomics and through slot
// copies whose exclusive ownership the ring protocol gives it (a won CAS); its process-local
// state is atomics and a mutex. Any thread may use it, concurrently.
unsafe impl<T: ShmType + Send> Send for Participant<T> {}
// SAFETY: as above; every method takes `&self` and synchronises through atomics.
unsafe impl<T: ShmType + Send> Sync for Participant<T> {}

macro_rules! common_handle_methods {
    ($handle:ident, $role:expr, $var:literal, $proceeds:literal, $register:literal) => {
        impl<T: ShmType> $handle<T> {
            fn from_shared(shared: Participant<T>) -> $handle<T> {
                $handle {
                    shared: Arc::new(shared),
                    strategy: default_strategy(),
                    #[cfg(not(shmring_loom))]
                    readiness: Default::default(),
                }
            }

            #[cfg(not(shmring_loom))]
            fn attach(segment: Arc<Segment>) -> Result<$handle<T>, OpenError> {
                Ok($handle::from_shared(attach(segment, $role)?))
            }

            /// Creates a ring of at least `capacity` slots (rounded up to a power of two) at
            /// `location` (a name means `/dev/shm/NAME`) and attaches to it.
            ///
            /// # Errors
            ///
            /// As [`SegmentOptions::create`](crate::SegmentOptions::create), and
            /// [`OpenError::InvalidConfig`] for a zero or too large capacity.
            ///
            /// ```
            /// let name = format!("shmring-doc-mpmc-create-{}-{}", std::process::id(), line!());
            #[doc = concat!("let h = shmring::mpmc::", stringify!($handle), "::<u32>::create(name.as_str(), 100)?;")]
            /// assert_eq!(h.capacity(), 128);
            /// shmring::Segment::unlink_name(&name)?;
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            #[cfg(not(shmring_loom))]
            pub fn create(
                location: impl Into<Location>,
                capacity: u64,
            ) -> Result<$handle<T>, OpenError> {
                $handle::create_with_mode(location, capacity, crate::DEFAULT_MODE)
            }

            /// Like `create`, with the segment's permission bits `mode` instead of the default
            /// `0o600` (owner only): `0o660` lets the owner's group attach too. Applied
            /// exactly, whatever the umask.
            ///
            /// # Errors
            ///
            /// As `create`.
            ///
            /// ```
            /// use std::os::unix::fs::PermissionsExt;
            /// let name = format!("shmring-doc-mpmc-mode-{}-{}", std::process::id(), line!());
            #[doc = concat!("let h = shmring::mpmc::", stringify!($handle), "::<u32>::create_with_mode(name.as_str(), 8, 0o660)?;")]
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
            ) -> Result<$handle<T>, OpenError> {
                let location = location.into();
                let segment = create_options::<T>(capacity, &location)?
                    .mode(mode)
                    .create(location)?;
                $handle::attach(Arc::new(segment))
            }

            /// Opens the ring at `location` and attaches to it as one more participant.
            ///
            /// # Errors
            ///
            /// As [`SegmentOptions::open`](crate::SegmentOptions::open), plus
            /// [`OpenError::ParticipantsFull`] when every record is held by a live process
            /// and [`OpenError::Corrupted`] for impossible positions.
            ///
            /// ```
            #[doc = concat!("let err = shmring::mpmc::", stringify!($handle), "::<u32>::open(\"shmring-doc-no-such-mpmc\").unwrap_err();")]
            /// assert!(matches!(err, shmring::OpenError::NotFound { .. }));
            /// ```
            #[cfg(not(shmring_loom))]
            pub fn open(location: impl Into<Location>) -> Result<$handle<T>, OpenError> {
                let segment = open_ring::<T>(RingKind::Mpmc, location, area::geometry::<T>())?;
                $handle::attach(Arc::new(segment))
            }

            /// Sets how this handle waits (clones made afterwards inherit it).
            ///
            /// ```
            /// let (tx, rx) = shmring::mpmc::channel::<u8>(2)?;
            #[doc = concat!("let h = ", $var, ".with_wait_strategy(shmring::WaitStrategy::BusyPoll);")]
            /// # let _ = (h,);
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn with_wait_strategy(mut self, strategy: WaitStrategy) -> $handle<T> {
                self.strategy = strategy;
                self
            }

            /// Attaches one more sender to the same ring as a separate participant (its own
            /// record, as another process would have).
            ///
            /// # Errors
            ///
            /// [`OpenError::ParticipantsFull`].
            #[doc(hidden)]
            pub fn attach_sender(&self) -> Result<Sender<T>, OpenError> {
                self.attach_as(Role::Sender).map(Sender::from_shared)
            }

            /// Attaches one more receiver as a separate participant.
            ///
            /// # Errors
            ///
            /// [`OpenError::ParticipantsFull`].
            #[doc(hidden)]
            pub fn attach_receiver(&self) -> Result<Receiver<T>, OpenError> {
                self.attach_as(Role::Receiver).map(Receiver::from_shared)
            }

            fn attach_as(&self, role: Role) -> Result<Participant<T>, OpenError> {
                let s = &self.shared;
                Participant::join(
                    s.area.clone(),
                    Protocol::Slots,
                    role,
                    s.name.clone(),
                    s._segment.clone(),
                )
            }

            /// Messages in the ring now, by the positions: published, or claimed by a producer
            /// that is still writing (or a consumer still reading). `0` exactly when
            /// `try_recv` would report `Empty`.
            ///
            /// ```
            /// let (tx, rx) = shmring::mpmc::channel::<u8>(4)?;
            /// tx.send(1).unwrap();
            /// assert_eq!((tx.len(), rx.len()), (1, 1));
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn len(&self) -> usize {
                self.shared.len()
            }

            /// Whether the ring holds no message now (`len() == 0`): agrees with `try_recv`,
            /// which reports `Empty` only then.
            ///
            /// ```
            /// let (_tx, rx) = shmring::mpmc::channel::<u8>(4)?;
            /// assert!(rx.is_empty());
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// Whether every slot is taken now (`len() == capacity()`): agrees with
            /// `try_send`, which reports `Full` only then.
            ///
            /// ```
            /// let (tx, _rx) = shmring::mpmc::channel::<u8>(2)?;
            /// tx.send(1).unwrap();
            /// tx.send(2).unwrap();
            /// assert!(tx.is_full());
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn is_full(&self) -> bool {
                self.len() == self.capacity()
            }

            /// Slots in the ring.
            ///
            /// ```
            /// let (tx, _rx) = shmring::mpmc::channel::<u8>(5)?;
            /// assert_eq!(tx.capacity(), 8);
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn capacity(&self) -> usize {
                self.shared.area.capacity() as usize
            }

            /// Whether every participant of the other side is gone (dropped, or dead —
            /// checked now). A side nobody has attached to yet is not gone.
            ///
            /// ```
            /// let (tx, rx) = shmring::mpmc::channel::<u8>(2)?;
            /// drop(rx);
            /// assert!(tx.is_disconnected());
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn is_disconnected(&self) -> bool {
                !self.shared.peers_present(true, true)
            }

            /// The ring's name (`heap` for rings made by [`channel`]).
            ///
            /// ```
            /// let (tx, _rx) = shmring::mpmc::channel::<u8>(2)?;
            /// assert_eq!(tx.name(), "heap");
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn name(&self) -> &str {
                &self.shared.name
            }

            /// Claims the next position as an operation would (lane, then CAS), then dies before
            /// writing, reading or releasing it (loom models of the crash protocol). Returns
            /// whether a position was claimed.
            #[doc(hidden)]
            #[cfg(shmring_loom)]
            pub fn die_after_claim(self) -> bool {
                let claimed = self.shared.claim_only();
                self.die();
                claimed
            }

            /// (head, tail, logical stamps) for model debugging.
            #[doc(hidden)]
            #[cfg(shmring_loom)]
            pub fn debug_state(&self) -> (u64, u64, Vec<u64>) {
                let a = &self.shared.area;
                let h = a.head().load(Ordering::SeqCst);
                let t = a.tail().load(Ordering::SeqCst);
                (h, t, (0..a.capacity()).map(|i| a.load_stamp(i, Ordering::SeqCst)).collect())
            }

            /// Marks this participant dead without releasing anything, as a process killed
            /// at that point would leave it (tests and loom models of the crash protocol).
            #[doc(hidden)]
            #[cfg(shmring_loom)]
            pub fn die(self) {
                self.shared.die();
            }
        }

        /// Each handle — each clone — has its own eventfd; the handles of one record count
        /// together in the record's waiting bit, as blocking waiters do.
        #[cfg(not(shmring_loom))]
        impl<T: ShmType> crate::handle::Core for $handle<T> {
            fn readiness(&mut self) -> &mut crate::notify::Readiness {
                &mut self.readiness
            }

            fn bridge(&mut self) -> std::io::Result<Arc<crate::notify::Bridge>> {
                self.shared.counted_bridge($role, &mut self.readiness)
            }

            fn waiter(&self) -> Waiter {
                Waiter::new(self.strategy)
            }

            fn would_wait(&mut self, _need: usize) -> bool {
                self.shared.would_wait()
            }

            fn look_at_peers(&mut self) {
                self.shared.peers_present(false, true);
            }
        }

        crate::handle::readiness_methods! {
            impl[T: ShmType] $handle<T>;
            channel: "mpmc::channel::<u32>(2)",
            var: $var,
            proceeds: $proceeds,
            register: $register
        }

        impl<T: ShmType> Clone for $handle<T> {
            fn clone(&self) -> Self {
                $handle {
                    shared: self.shared.clone(),
                    strategy: self.strategy,
                    #[cfg(not(shmring_loom))]
                    readiness: Default::default(),
                }
            }
        }

        impl<T: ShmType> fmt::Debug for $handle<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($handle))
                    .field("ring", &self.shared.name)
                    .field("record", &self.shared.index)
                    .field("capacity", &self.shared.area.capacity())
                    .field("wait", &self.strategy)
                    .field("corrupted", &self.shared.is_corrupted())
                    .finish()
            }
        }
    };
}

common_handle_methods!(
    Sender,
    Role::Sender,
    "tx",
    "a slot may have become free (or the receivers may be gone)",
    "assert!(!tx.register_readiness()?); // room: send at once"
);
common_handle_methods!(
    Receiver,
    Role::Receiver,
    "rx",
    "a message may have arrived (or the senders may be gone)",
    "assert!(rx.register_readiness()?); // empty: wait on rx.readiness_fd()"
);

impl<T: ShmType> Sender<T> {
    /// Sends without waiting for room.
    ///
    /// `Full` means full by the positions (every slot holds a message not yet taken, or is
    /// being written): a slot whose message a consumer has taken and is still copying out is
    /// waited for, briefly, not reported as `Full` (see [the module
    /// docs](crate::mpmc#what-the-non-blocking-calls-promise)).
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] when no slot is free, `Disconnected` when every receiver is
    /// gone, `Corrupted` after invalid shared state. The value comes back in every case.
    ///
    /// ```
    /// let (tx, _rx) = shmring::mpmc::channel::<u8>(2)?;
    /// tx.try_send(1).unwrap();
    /// tx.try_send(2).unwrap();
    /// assert!(tx.try_send(3).unwrap_err().is_full());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.shared
            .try_send_ref::<true>(&value, false)
            .map_err(|e| e.with_value(value))
    }

    /// Like [`try_send`](Sender::try_send), copying `*value` straight into the slot: for large
    /// payloads, one copy instead of moving the value through the call.
    ///
    /// # Errors
    ///
    /// As [`try_send`](Sender::try_send), without a value to give back.
    ///
    /// ```
    /// let (tx, rx) = shmring::mpmc::channel::<[u64; 512]>(2)?;
    /// tx.try_send_ref(&[7; 512]).unwrap();
    /// assert_eq!(rx.recv().unwrap()[511], 7);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_send_ref(&self, value: &T) -> Result<(), TrySendError<()>> {
        self.shared.try_send_ref::<true>(value, false)
    }

    /// Like [`send`](Sender::send), copying `*value` straight into the slot.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send), without a value to give back.
    ///
    /// ```
    /// let (tx, rx) = shmring::mpmc::channel::<[u8; 4096]>(2)?;
    /// tx.send_ref(&[1; 4096]).unwrap();
    /// let mut page = [0u8; 4096];
    /// rx.recv_into(&mut page).unwrap();
    /// assert_eq!(page[4095], 1);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send_ref(&self, value: &T) -> Result<(), SendError<()>> {
        self.send_ref_until(value, None).map_err(without_timeout)
    }

    /// Sends, waiting as long as the ring is full.
    ///
    /// # Errors
    ///
    /// [`SendError::Disconnected`] once every receiver is gone, `Corrupted` after invalid
    /// shared state; the value comes back.
    ///
    /// ```
    /// let (tx, rx) = shmring::mpmc::channel::<u8>(2)?;
    /// let t = std::thread::spawn(move || (1..=5).for_each(|i| tx.send(i).unwrap()));
    /// assert_eq!(rx.iter().collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    /// t.join().unwrap();
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.send_until(value, None).map_err(without_timeout)
    }

    /// Sends, waiting at most `timeout` for a free slot.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send), plus [`SendTimeoutError::Timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, _rx) = shmring::mpmc::channel::<u8>(2)?;
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert!(tx.send_timeout(3, Duration::from_millis(1)).unwrap_err().is_timeout());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_until(value, Instant::now().checked_add(timeout))
    }

    /// Sends, waiting until `deadline` (a `CLOCK_MONOTONIC` instant) for a free slot.
    ///
    /// # Errors
    ///
    /// As [`send_timeout`](Sender::send_timeout).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (tx, _rx) = shmring::mpmc::channel::<u8>(2)?;
    /// tx.send_deadline(1, Instant::now() + Duration::from_secs(1)).unwrap();
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send_deadline(&self, value: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.send_until(value, Some(deadline))
    }

    fn send_until(&self, value: T, deadline: Option<Instant>) -> Result<(), SendTimeoutError<T>> {
        self.send_ref_until(&value, deadline)
            .map_err(|e| e.with_value(value))
    }

    fn send_ref_until(
        &self,
        value: &T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<()>> {
        let shared = &*self.shared;
        match shared.try_send_ref::<false>(value, false) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(())) => {}
            Err(e) => return Err(try_to_timeout(e)),
        }
        let mut waiter = Waiter::new(self.strategy);
        let event = shared
            .area
            .event(Role::Sender, shared.index, &shared.sleepers);
        let done = waiter.wait(shared.area.storage(), event, deadline, |force| match shared
            .try_send_ref::<false>(value, force)
        {
            Ok(()) => Step::Done(Ok(())),
            Err(TrySendError::Full(())) => Step::Retry,
            Err(e) => Step::Done(Err(try_to_timeout(e))),
        });
        done.unwrap_or(Err(SendTimeoutError::Timeout(())))
    }
}

impl<T: ShmType> Receiver<T> {
    /// Receives without waiting for a message.
    ///
    /// `Empty` means empty by the positions (no message sent and not yet taken): a message
    /// whose producer has claimed its slot and is still writing it is waited for, briefly —
    /// so a thread whose own `send` returned always finds a message (see [the module
    /// docs](crate::mpmc#what-the-non-blocking-calls-promise)).
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`], `Disconnected` once the ring is empty and every sender is
    /// gone, `Corrupted` after invalid shared state.
    ///
    /// ```
    /// let (tx, rx) = shmring::mpmc::channel::<u8>(2)?;
    /// assert_eq!(rx.try_recv(), Err(shmring::TryRecvError::Empty));
    /// tx.send(4).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(4));
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Err(shmring::TryRecvError::Disconnected));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut value = T::zeroed();
        self.shared
            .try_recv_into::<true>(&mut value, false)
            .map(|()| value)
    }

    /// Like [`try_recv`](Receiver::try_recv), copying the message straight into `*dst`: for
    /// large payloads, one copy instead of moving the value out through the call.
    ///
    /// # Errors
    ///
    /// As [`try_recv`](Receiver::try_recv); `*dst` is unspecified then.
    ///
    /// ```
    /// let (tx, rx) = shmring::mpmc::channel::<[u64; 512]>(2)?;
    /// tx.send([3; 512]).unwrap();
    /// let mut buf = [0u64; 512];
    /// rx.try_recv_into(&mut buf).unwrap();
    /// assert_eq!(buf[0], 3);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_recv_into(&self, dst: &mut T) -> Result<(), TryRecvError> {
        self.shared.try_recv_into::<true>(dst, false)
    }

    /// Like [`recv`](Receiver::recv), copying the message straight into `*dst`.
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv).
    ///
    /// ```
    /// let (tx, rx) = shmring::mpmc::channel::<u32>(2)?;
    /// tx.send(5).unwrap();
    /// let mut v = 0;
    /// rx.recv_into(&mut v).unwrap();
    /// assert_eq!(v, 5);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn recv_into(&self, dst: &mut T) -> Result<(), RecvError> {
        self.recv_into_until(dst, None)
            .map_err(recv_without_timeout)
    }

    /// Receives, waiting as long as the ring is empty.
    ///
    /// # Errors
    ///
    /// [`RecvError::Disconnected`] once the ring is empty and every sender is gone,
    /// `Corrupted` after invalid shared state.
    ///
    /// ```
    /// let (tx, rx) = shmring::mpmc::channel::<u8>(2)?;
    /// tx.send(1).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.recv(), Ok(1));
    /// assert_eq!(rx.recv(), Err(shmring::RecvError::Disconnected));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_until(None).map_err(recv_without_timeout)
    }

    /// Receives, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv), plus [`RecvTimeoutError::Timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let (_tx, rx) = shmring::mpmc::channel::<u8>(2)?;
    /// assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Err(shmring::RecvTimeoutError::Timeout));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_until(Instant::now().checked_add(timeout))
    }

    /// Receives, waiting until `deadline` (a `CLOCK_MONOTONIC` instant).
    ///
    /// # Errors
    ///
    /// As [`recv_timeout`](Receiver::recv_timeout).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (tx, rx) = shmring::mpmc::channel::<u8>(2)?;
    /// tx.send(3).unwrap();
    /// assert_eq!(rx.recv_deadline(Instant::now() + Duration::from_secs(1)), Ok(3));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_until(Some(deadline))
    }

    fn recv_until(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let mut value = T::zeroed();
        self.recv_into_until(&mut value, deadline).map(|()| value)
    }

    fn recv_into_until(
        &self,
        value: &mut T,
        deadline: Option<Instant>,
    ) -> Result<(), RecvTimeoutError> {
        let shared = &*self.shared;
        match shared.try_recv_into::<false>(value, false) {
            Ok(()) => return Ok(()),
            Err(TryRecvError::Empty) => {}
            Err(e) => return Err(try_recv_to_timeout(e)),
        }
        let mut waiter = Waiter::new(self.strategy);
        let event = shared
            .area
            .event(Role::Receiver, shared.index, &shared.sleepers);
        let done = waiter.wait(shared.area.storage(), event, deadline, |force| match shared
            .try_recv_into::<false>(value, force)
        {
            Ok(()) => Step::Done(Ok(())),
            Err(TryRecvError::Empty) => Step::Retry,
            Err(e) => Step::Done(Err(try_recv_to_timeout(e))),
        });
        done.unwrap_or(Err(RecvTimeoutError::Timeout))
    }

    /// A blocking iterator: yields messages until every sender is gone and the ring is
    /// drained (or the ring is corrupted).
    ///
    /// ```
    /// let (tx, rx) = shmring::mpmc::channel::<u8>(4)?;
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.iter().collect::<Vec<_>>(), [1, 2]);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        std::iter::from_fn(|| self.recv().ok())
    }

    /// A non-blocking iterator over the messages available now: [`try_recv`] until it
    /// reports anything but a message — so it ends only where the ring is empty by the
    /// positions, never before a message a completed `send` put in.
    ///
    /// [`try_recv`]: Receiver::try_recv
    ///
    /// ```
    /// let (tx, rx) = shmring::mpmc::channel::<u8>(4)?;
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_iter(&self) -> impl Iterator<Item = T> + '_ {
        std::iter::from_fn(|| self.try_recv().ok())
    }
}

/// `async` receiving (feature `tokio`).
#[cfg(all(feature = "tokio", not(shmring_loom)))]
impl<T: ShmType> Receiver<T> {
    /// Receives a message, awaiting one without blocking the thread: try, spin briefly (as
    /// [`recv`](Receiver::recv) does), then register and await this handle's readiness
    /// eventfd (through tokio's `AsyncFd`).
    ///
    /// Takes `&mut self`: give each task its own clone (clones share the participant record
    /// and are cheap; each has its own eventfd). The eventfd is registered with the reactor
    /// of the runtime this handle first awaits in; keep using the handle in that runtime.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a message is taken only in the poll that completes the future. A future
    /// dropped while waiting leaves the record's waiting count at once, so senders do not
    /// keep paying a wake-up for it.
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (tx, mut rx) = shmring::mpmc::channel::<u32>(4)?;
    /// let producer = std::thread::spawn(move || tx.send(7));
    /// assert_eq!(rx.recv_async().await, Ok(7));
    /// producer.join().unwrap().unwrap();
    /// # Ok(()) }
    /// ```
    pub async fn recv_async(&mut self) -> Result<T, RecvError> {
        let mut value = T::zeroed();
        self.recv_into_async(&mut value).await.map(|()| value)
    }

    /// Like [`recv_async`](Receiver::recv_async), copying the message straight into `*dst`.
    ///
    /// # Cancel safety
    ///
    /// As [`recv_async`](Receiver::recv_async); `*dst` is written only by the poll that
    /// completes the future.
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv); `*dst` is unspecified then.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (tx, mut rx) = shmring::mpmc::channel::<[u8; 64]>(4)?;
    /// tx.send([9; 64]).unwrap();
    /// let mut buf = [0; 64];
    /// rx.recv_into_async(&mut buf).await.unwrap();
    /// assert_eq!(buf[63], 9);
    /// # Ok(()) }
    /// ```
    pub async fn recv_into_async(&mut self, dst: &mut T) -> Result<(), RecvError> {
        crate::handle::drive(self, 0, |rx, force| {
            crate::handle::received(rx.shared.try_recv_into::<false>(dst, force))
        })
        .await
    }
}

/// `async` sending (feature `tokio`).
#[cfg(all(feature = "tokio", not(shmring_loom)))]
impl<T: ShmType> Sender<T> {
    /// Sends `value`, awaiting a free slot without blocking the thread: try, spin briefly (as
    /// [`send`](Sender::send) does), then register and await this handle's readiness eventfd.
    ///
    /// Takes `&mut self`: give each task its own clone (see
    /// [`Receiver::recv_async`]).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: `value` is published only in the poll that completes the future; a
    /// future dropped before that sends nothing (and drops `value`) and leaves the record's
    /// waiting count at once.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send), with `value` returned.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, rx) = shmring::mpmc::channel::<u32>(2)?;
    /// tx.send_async(1).await.unwrap();
    /// tx.send_async(2).await.unwrap();
    /// let consumer = std::thread::spawn(move || (rx.recv(), rx.recv(), rx.recv()));
    /// tx.send_async(3).await.unwrap(); // waits for the consumer to make room
    /// assert_eq!(consumer.join().unwrap(), (Ok(1), Ok(2), Ok(3)));
    /// # Ok(()) }
    /// ```
    pub async fn send_async(&mut self, value: T) -> Result<(), SendError<T>> {
        self.send_ref_async(&value)
            .await
            .map_err(|e| e.with_value(value))
    }

    /// Like [`send_async`](Sender::send_async), copying from `*value`: for large payloads,
    /// one copy instead of moving the value into the call.
    ///
    /// # Cancel safety
    ///
    /// As [`send_async`](Sender::send_async).
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, rx) = shmring::mpmc::channel::<[u64; 128]>(2)?;
    /// tx.send_ref_async(&[5; 128]).await.unwrap();
    /// assert_eq!(rx.recv().unwrap()[0], 5);
    /// # Ok(()) }
    /// ```
    pub async fn send_ref_async(&mut self, value: &T) -> Result<(), SendError<()>> {
        crate::handle::drive(self, 0, |tx, force| {
            match tx.shared.try_send_ref::<false>(value, force) {
                Ok(()) => Some(Ok(())),
                Err(TrySendError::Full(())) => None,
                Err(TrySendError::Disconnected(())) => Some(Err(SendError::Disconnected(()))),
                Err(TrySendError::Corrupted(())) => Some(Err(SendError::Corrupted(()))),
            }
        })
        .await
    }
}

crate::handle::stream_method! {
    impl[T: ShmType + Send] Receiver<T> => T;
    channel: "mpmc::channel::<u32>(4)",
    send: "tx.send(5).unwrap();",
    first: "5"
}
