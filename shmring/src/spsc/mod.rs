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

mod area;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) use area::{Area, Role, geometry};
pub use area::{
    CONTROL_SIZE, DATA_SEQ_OFFSET, DATA_WAITING_OFFSET, HEAD_OFFSET, RECEIVER_RECORD_OFFSET,
    RECORD_OWNER, RECORD_PID_NS, RECORD_STATE, SENDER_RECORD_OFFSET, SPACE_SEQ_OFFSET,
    SPACE_WAITING_OFFSET, STATE_ATTACHED, STATE_CLOSED, STATE_NEVER, TAIL_OFFSET, slots_offset,
};

use crate::error::{recv_without_timeout, try_recv_to_timeout, try_to_timeout, without_timeout};
use crate::header::HeaderError;
use crate::storage::{open_ring, ring_options};
use crate::sync::Ordering;
use crate::wait::{Step, Waiter};
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
    let segment = Arc::new(create_options::<T>(capacity, &Location::Heap)?.create(Location::Heap)?);
    let tx = Sender::attach(segment.clone())?;
    let rx = Receiver::attach(segment)?;
    Ok((tx, rx))
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

/// Segment options for a new ring of `capacity` (rounded up to a power of two) `T` slots.
pub(crate) fn create_options<T: ShmType>(
    capacity: u64,
    location: &Location,
) -> Result<SegmentOptions, OpenError> {
    ring_options::<T>(RingKind::Spsc, capacity, area::geometry::<T>(), location)
}

fn open_segment<T: ShmType>(location: impl Into<Location>) -> Result<Segment, OpenError> {
    open_ring::<T>(RingKind::Spsc, location, area::geometry::<T>())
}

impl<T: ShmType> End<T> {
    /// A handle end on a loom model area, attached as `role`.
    #[cfg(shmring_loom)]
    pub(crate) fn model(area: &Area<T>, role: Role) -> End<T> {
        let me = 1u64 << 40 | role as u64;
        area.owner(role).store(me, Ordering::Relaxed);
        area.state(role).store(STATE_ATTACHED, Ordering::Relaxed);
        End {
            area: area.clone(),
            role,
            me,
            // No spinning: every wait goes to sleep, so loom explores the futex protocol.
            waiter: Waiter::new(WaitStrategy::Blocking { spin: 0, yields: 0 }),
            light: false,
            dead_peer: 0,
            last_liveness: None,
            polls: 0,
            corrupted: false,
            name: "loom".into(),
            _segment: None,
        }
    }

    /// Claims `role` in `segment` for this process.
    #[cfg(not(shmring_loom))]
    pub(crate) fn attach(segment: Arc<Segment>, role: Role) -> Result<End<T>, OpenError> {
        use crate::process::{Liveness, ProcessId, current_pid_ns, owner_liveness, owner_word};
        let name = segment.name().to_owned();
        // SAFETY: the segment's header was validated and `check_geometry` (or our own create)
        // confirmed the area holds the control block and `capacity` slots of T; the area is
        // page aligned; `segment` is kept alive in the End next to the Area.
        let area = unsafe { Area::<T>::new(segment.area_ptr(), segment.info().capacity) };
        let me_process = ProcessId::current().map_err(|source| OpenError::Io {
            name: name.clone(),
            op: "read /proc/self/stat",
            source,
        })?;
        let me = owner_word(&me_process);
        let owner = area.owner(role);
        let mut claimed = false;
        for _ in 0..64 {
            let current = owner.load(Ordering::Acquire);
            if current != 0 {
                let ns = area.pid_ns(role).load(Ordering::Relaxed);
                if owner_liveness(current, ns) != Liveness::Dead {
                    return Err(OpenError::RoleTaken {
                        name,
                        role: role.name(),
                        pid: (current >> 32) as u32,
                    });
                }
            }
            if owner
                .compare_exchange(current, me, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                claimed = true;
                break;
            }
        }
        if !claimed {
            return Err(OpenError::Io {
                name,
                op: "claim ring role",
                source: std::io::Error::other("the role record kept changing"),
            });
        }
        area.pid_ns(role).store(current_pid_ns(), Ordering::Relaxed);
        // A predecessor that died asleep left its flag set; only this role sleeps there.
        area.waiting_flag(role).store(0, Ordering::Relaxed);
        area.state(role).store(STATE_ATTACHED, Ordering::Release);
        Ok(End {
            area,
            role,
            me,
            waiter: Waiter::new(WaitStrategy::default()),
            light: crate::futex::register_barrier(),
            dead_peer: 0,
            last_liveness: None,
            polls: 0,
            corrupted: false,
            name,
            readiness: Default::default(),
            _segment: Some(segment),
        })
    }

    /// Claims `role` and reads the shared indices, which must satisfy
    /// `head <= tail <= head + capacity`: a successor continues exactly where the ring is.
    #[cfg(not(shmring_loom))]
    fn attach_with_indices(
        segment: Arc<Segment>,
        role: Role,
    ) -> Result<(End<T>, u64, u64), OpenError> {
        let end = End::attach(segment, role)?;
        let head = end.area.head().load(Ordering::Acquire);
        let tail = end.area.tail().load(Ordering::Acquire);
        if head > tail || tail - head > end.area.capacity() {
            return Err(OpenError::Corrupted {
                name: end.name.clone(),
                reason: HeaderError::BadField {
                    field: "ring indices (tail - head)",
                    value: tail.wrapping_sub(head),
                },
            });
        }
        Ok((end, head, tail))
    }

    /// The peer's state; `force` re-checks its process even if checked recently.
    pub(crate) fn peer(&mut self, force: bool) -> Peer {
        let peer = self.role.other();
        match self.area.state(peer).load(Ordering::Acquire) {
            STATE_NEVER => Peer::Present,
            STATE_CLOSED => Peer::Gone,
            STATE_ATTACHED => self.peer_process(force),
            _ => {
                self.corrupted = true;
                Peer::Corrupt
            }
        }
    }

    #[cfg(shmring_loom)]
    fn peer_process(&mut self, _force: bool) -> Peer {
        Peer::Present
    }

    #[cfg(not(shmring_loom))]
    fn peer_process(&mut self, force: bool) -> Peer {
        use crate::process::{Liveness, owner_liveness};
        let peer = self.role.other();
        let owner = self.area.owner(peer).load(Ordering::Acquire);
        if owner == 0 {
            return Peer::Present; // between claim and release: not gone
        }
        if owner == self.dead_peer {
            return Peer::Gone;
        }
        // Unforced checks come from polling loops: read the clock only every 1024th time, so
        // an empty poll stays a few loads (blocking waits force a check after every sleep).
        self.polls = self.polls.wrapping_add(1);
        if !force && self.polls % 1024 != 0 {
            return Peer::Present;
        }
        let now = Instant::now();
        if !force
            && self
                .last_liveness
                .is_some_and(|t| now.duration_since(t) < crate::wait::LIVENESS_PERIOD)
        {
            return Peer::Present;
        }
        self.last_liveness = Some(now);
        let ns = self.area.pid_ns(peer).load(Ordering::Relaxed);
        if owner_liveness(owner, ns) == Liveness::Dead {
            self.dead_peer = owner;
            Peer::Gone
        } else {
            Peer::Present
        }
    }

    /// The segment this end's ring lives in (mapped builds always hold one).
    #[cfg(not(shmring_loom))]
    pub(crate) fn segment(&self) -> &Segment {
        self._segment
            .as_deref()
            .expect("a mapped ring always holds its segment")
    }

    /// The sender publishes its tail with one Release store and wakes the receiver if it
    /// sleeps (no system call otherwise).
    #[inline]
    pub(crate) fn publish_tail(&self, tail: u64) {
        self.area.tail().store(tail, Ordering::Release);
        if self.waiter.strategy().notifies() {
            self.area.data_event().notify(&*self.area, self.light);
        }
    }

    /// The receiver releases up to `head` with one Release store and wakes the sender if it
    /// sleeps.
    #[inline]
    pub(crate) fn publish_head(&self, head: u64) {
        self.area.head().store(head, Ordering::Release);
        if self.waiter.strategy().notifies() {
            self.area.space_event().notify(&*self.area, self.light);
        }
    }

    /// Whether the peer's role record says it closed (one shared load, for hot paths).
    #[inline]
    pub(crate) fn peer_closed(&self) -> bool {
        self.area.state(self.role.other()).load(Ordering::Relaxed) == STATE_CLOSED
    }
}

impl<T: ShmType> Drop for End<T> {
    fn drop(&mut self) {
        self.area
            .state(self.role)
            .store(STATE_CLOSED, Ordering::Release);
        let _ = self.area.owner(self.role).compare_exchange(
            self.me,
            0,
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
        // Wake the peer whichever way it sleeps, so it sees the closed state now.
        self.area.data_event().wake(&*self.area);
        self.area.space_event().wake(&*self.area);
    }
}

impl<T: ShmType> fmt::Debug for End<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("End")
            .field("ring", &self.name)
            .field("role", &self.role.name())
            .field("capacity", &self.area.capacity())
            .field("wait", &self.waiter.strategy())
            .field("corrupted", &self.corrupted)
            .finish()
    }
}

impl<T: ShmType> Sender<T> {
    /// Creates a ring of at least `capacity` slots (rounded up to a power of two) at
    /// `location` (a name means `/dev/shm/NAME`) and attaches as its sender.
    ///
    /// # Errors
    ///
    /// As [`SegmentOptions::create`].
    ///
    /// ```
    /// let name = format!("shmring-doc-spsc-create-{}", std::process::id());
    /// let tx = shmring::spsc::Sender::<u32>::create(name.as_str(), 1000)?;
    /// assert_eq!(tx.capacity(), 1024);
    /// shmring::Segment::unlink_name(&name)?;
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn create(location: impl Into<Location>, capacity: u64) -> Result<Sender<T>, OpenError> {
        Sender::create_with_mode(location, capacity, crate::DEFAULT_MODE)
    }

    /// Like [`create`](Sender::create), with the segment's permission bits `mode` instead
    /// of the default `0o600` (owner only): `0o660` lets the owner's group attach too.
    /// Applied exactly, whatever the umask.
    ///
    /// # Errors
    ///
    /// As [`create`](Sender::create).
    ///
    /// ```
    /// use std::os::unix::fs::PermissionsExt;
    /// let name = format!("shmring-doc-spsc-mode-{}-{}", std::process::id(), line!());
    /// let h = shmring::spsc::Sender::<u32>::create_with_mode(name.as_str(), 8, 0o660)?;
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
    ) -> Result<Sender<T>, OpenError> {
        let location = location.into();
        let segment = create_options::<T>(capacity, &location)?
            .mode(mode)
            .create(location)?;
        Sender::attach(Arc::new(segment))
    }

    /// Opens the ring at `location` as its sender. If a sender process died, this one takes
    /// over its role, and what it had published stays in the ring.
    ///
    /// # Errors
    ///
    /// As [`SegmentOptions::open`], plus [`OpenError::RoleTaken`] while another live process
    /// is the sender, and [`OpenError::Corrupted`] for impossible indices.
    ///
    /// ```
    /// let err = shmring::spsc::Sender::<u32>::open("shmring-doc-no-such-ring").unwrap_err();
    /// assert!(matches!(err, shmring::OpenError::NotFound { .. }));
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn open(location: impl Into<Location>) -> Result<Sender<T>, OpenError> {
        Sender::attach(Arc::new(open_segment::<T>(location)?))
    }

    #[cfg(not(shmring_loom))]
    fn attach(segment: Arc<Segment>) -> Result<Sender<T>, OpenError> {
        let (end, head, tail) = End::attach_with_indices(segment, Role::Sender)?;
        Ok(Sender { end, tail, head })
    }

    /// Sets how this handle waits when the ring is full.
    ///
    /// ```
    /// let (tx, _rx) = shmring::spsc::channel::<u8>(2)?;
    /// let tx = tx.with_wait_strategy(shmring::WaitStrategy::BusyPoll);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn with_wait_strategy(mut self, strategy: WaitStrategy) -> Sender<T> {
        self.end.waiter = Waiter::new(strategy);
        self
    }

    /// Sends without waiting.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] when no slot is free, `Disconnected` when the receiver closed
    /// (or, noticed when the ring is full, died), `Corrupted` after invalid shared indices.
    /// The value comes back in every case.
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::spsc::channel::<u8>(1)?;
    /// tx.try_send(1).unwrap();
    /// assert!(tx.try_send(2).unwrap_err().is_full());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[inline]
    pub fn try_send(&mut self, value: T) -> Result<(), TrySendError<T>> {
        self.push(value, false)
    }

    /// Like [`try_send`](Sender::try_send), copying `*value` straight into the slot: for large
    /// payloads, one copy instead of moving the value through the call.
    ///
    /// # Errors
    ///
    /// As [`try_send`](Sender::try_send), without a value to give back.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<[u64; 512]>(2)?;
    /// let big = [7u64; 512];
    /// tx.try_send_ref(&big).unwrap();
    /// assert_eq!(rx.recv().unwrap()[511], 7);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[inline]
    pub fn try_send_ref(&mut self, value: &T) -> Result<(), TrySendError<()>> {
        self.push_ref(value, false)
    }

    /// Like [`send`](Sender::send), copying `*value` straight into the slot.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send), without a value to give back.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<[u8; 4096]>(2)?;
    /// tx.send_ref(&[1; 4096]).unwrap();
    /// let mut page = [0u8; 4096];
    /// rx.recv_into(&mut page).unwrap();
    /// assert_eq!(page[4095], 1);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[inline]
    pub fn send_ref(&mut self, value: &T) -> Result<(), SendError<()>> {
        match self.push_ref(value, false) {
            Ok(()) => Ok(()),
            Err(first) => self.send_ref_slow(value, first),
        }
    }

    /// `send_ref` after a failed first attempt: wait if full, else report.
    #[cold]
    #[inline(never)]
    fn send_ref_slow(&mut self, value: &T, first: TrySendError<()>) -> Result<(), SendError<()>> {
        let result = match first {
            TrySendError::Full(()) => self.send_wait(value, None),
            e => Err(try_to_timeout(e)),
        };
        result.map_err(without_timeout)
    }

    /// Sends, waiting as long as the ring is full.
    ///
    /// # Errors
    ///
    /// [`SendError::Disconnected`] if the receiver is gone, `Corrupted` after invalid shared
    /// indices; the value comes back.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(1)?;
    /// let t = std::thread::spawn(move || { tx.send(1).unwrap(); tx.send(2).unwrap(); });
    /// assert_eq!((rx.recv(), rx.recv()), (Ok(1), Ok(2)));
    /// t.join().unwrap();
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[inline]
    pub fn send(&mut self, value: T) -> Result<(), SendError<T>> {
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
    /// let (mut tx, _rx) = shmring::spsc::channel::<u8>(1)?;
    /// tx.send(1).unwrap();
    /// assert!(tx.send_timeout(2, Duration::from_millis(1)).unwrap_err().is_timeout());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send_timeout(&mut self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
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
    /// let (mut tx, _rx) = shmring::spsc::channel::<u8>(1)?;
    /// tx.send_deadline(1, Instant::now() + Duration::from_secs(1)).unwrap();
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send_deadline(
        &mut self,
        value: T,
        deadline: Instant,
    ) -> Result<(), SendTimeoutError<T>> {
        self.send_until(value, Some(deadline))
    }

    /// The fast path (inlined, so a large `T` goes from the caller to the slot without
    /// intermediate copies), falling back to waiting when the ring is full.
    #[inline]
    fn send_until(
        &mut self,
        value: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        match self.push(value, false) {
            Ok(()) => Ok(()),
            Err(first) => self.send_slow(first, deadline),
        }
    }

    /// A send after a failed first attempt: wait if full, else report.
    #[cold]
    #[inline(never)]
    fn send_slow(
        &mut self,
        first: TrySendError<T>,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        match first {
            TrySendError::Full(v) => self.send_wait(&v, deadline).map_err(|e| e.with_value(v)),
            e => Err(try_to_timeout(e)),
        }
    }

    /// Waits for a free slot and copies `*value` into it.
    #[inline(never)]
    fn send_wait(
        &mut self,
        value: &T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<()>> {
        let area = self.end.area.clone();
        let mut waiter = self.end.waiter;
        let done = waiter.wait(&*area, area.space_event(), deadline, |force| {
            match self.push_ref(value, force) {
                Ok(()) => Step::Done(Ok(())),
                Err(TrySendError::Full(())) => Step::Retry,
                Err(e) => Step::Done(Err(try_to_timeout(e))),
            }
        });
        self.end.waiter = waiter;
        done.unwrap_or(Err(SendTimeoutError::Timeout(())))
    }

    /// One attempt: `Ok` if the slot at `tail` is free for this sender to write.
    #[inline]
    fn reserve(&mut self, force: bool) -> Result<(), TrySendError<()>> {
        if self.end.corrupted {
            return Err(TrySendError::Corrupted(()));
        }
        if self.end.peer_closed() {
            return Err(TrySendError::Disconnected(()));
        }
        if self.tail - self.head == self.end.area.capacity() {
            if !self.refresh_head() {
                return Err(TrySendError::Corrupted(()));
            }
            if self.tail - self.head == self.end.area.capacity() {
                return Err(match self.end.peer(force) {
                    Peer::Present => TrySendError::Full(()),
                    Peer::Gone => TrySendError::Disconnected(()),
                    Peer::Corrupt => TrySendError::Corrupted(()),
                });
            }
        }
        Ok(())
    }

    /// One attempt: publish `value` if a slot is free.
    #[inline]
    fn push(&mut self, value: T, force: bool) -> Result<(), TrySendError<T>> {
        if let Err(e) = self.reserve(force) {
            return Err(e.with_value(value));
        }
        // SAFETY: `reserve` found tail < head + capacity, so the slot at `tail` is free and
        // only this sender writes it until `publish` releases it.
        unsafe { self.end.area.write_one(self.tail, value) };
        self.publish(self.tail + 1);
        Ok(())
    }

    /// One attempt: publish a copy of `*value` if a slot is free (one copy, straight into the
    /// slot).
    #[inline]
    fn push_ref(&mut self, value: &T, force: bool) -> Result<(), TrySendError<()>> {
        self.reserve(force)?;
        // SAFETY: as in `push`. Small payloads are moved as typed values (plain register
        // moves); large ones with one memcpy straight from `*value`.
        unsafe {
            if size_of::<T>() <= SMALL_PAYLOAD {
                self.end.area.write_one(self.tail, *value);
            } else {
                self.end.area.write(self.tail, std::slice::from_ref(value));
            }
        }
        self.publish(self.tail + 1);
        Ok(())
    }

    /// Publishes the tail with one Release store and wakes a sleeping receiver.
    #[inline]
    fn publish(&mut self, tail: u64) {
        self.tail = tail;
        self.end.publish_tail(tail);
    }

    /// Re-reads the receiver's head; `false` (and the handle marked corrupted) if it moved
    /// backwards or past the tail.
    fn refresh_head(&mut self) -> bool {
        let head = self.end.area.head().load(Ordering::Acquire);
        if head < self.head || head > self.tail {
            self.end.corrupted = true;
            return false;
        }
        self.head = head;
        true
    }

    /// Free slots now (re-reads the receiver's head). Takes `&self`, so it can size a chunk
    /// in the same expression: `tx.write_chunk(tx.slots())`. An invalid head in shared
    /// memory counts as no free slot (the next operation reports `Corrupted`).
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(4)?;
    /// tx.send(1).unwrap();
    /// assert_eq!(tx.slots(), 3);
    /// let mut chunk = tx.write_chunk(tx.slots()).unwrap();
    /// chunk.fill_with(|| 2);
    /// assert_eq!(chunk.commit(), 3);
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2, 2, 2]);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn slots(&self) -> usize {
        let head = self.end.area.head().load(Ordering::Acquire);
        if head < self.head || head > self.tail {
            return 0;
        }
        (self.end.area.capacity() - (self.tail - head)) as usize
    }

    /// Reserves exactly `n` free slots to fill in place and publish together.
    ///
    /// # Errors
    ///
    /// [`ChunkError::TooFewSlots`] with the number free when fewer than `n` are (a chunk larger
    /// than the capacity never fits), `Disconnected`, `Corrupted`.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u32>(8)?;
    /// let mut chunk = tx.write_chunk(3).unwrap();
    /// assert_eq!(chunk.extend_from_slice(&[1, 2]), 2);
    /// chunk.push(3).unwrap();
    /// assert_eq!(chunk.commit(), 3);
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![1, 2, 3]);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn write_chunk(&mut self, n: usize) -> Result<WriteChunk<'_, T>, ChunkError> {
        if self.end.corrupted {
            return Err(ChunkError::Corrupted);
        }
        if self.end.peer_closed() {
            return Err(ChunkError::Disconnected);
        }
        let capacity = self.end.area.capacity();
        if ((capacity - (self.tail - self.head)) as usize) < n {
            if !self.refresh_head() {
                return Err(ChunkError::Corrupted);
            }
            let free = (capacity - (self.tail - self.head)) as usize;
            if free < n {
                return Err(match self.end.peer(false) {
                    Peer::Gone => ChunkError::Disconnected,
                    Peer::Corrupt => ChunkError::Corrupted,
                    Peer::Present => ChunkError::TooFewSlots(free),
                });
            }
        }
        Ok(WriteChunk {
            tx: self,
            len: n,
            written: 0,
        })
    }

    /// Messages in the ring now, as far as shared memory says (clamped to the capacity).
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::spsc::channel::<u8>(4)?;
    /// tx.send(1).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn len(&self) -> usize {
        ring_len(&self.end.area)
    }

    /// Whether the ring is empty now.
    ///
    /// ```
    /// let (tx, _rx) = shmring::spsc::channel::<u8>(4)?;
    /// assert!(tx.is_empty());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the ring is full now.
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::spsc::channel::<u8>(1)?;
    /// tx.send(1).unwrap();
    /// assert!(tx.is_full());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    /// Capacity in messages (a power of two).
    ///
    /// ```
    /// let (tx, _rx) = shmring::spsc::channel::<u8>(5)?;
    /// assert_eq!(tx.capacity(), 8);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.end.area.capacity() as usize
    }

    /// Whether the receiver is gone (closed, or its process is dead), checked now.
    ///
    /// ```
    /// let (mut tx, rx) = shmring::spsc::channel::<u8>(1)?;
    /// assert!(!tx.is_disconnected());
    /// drop(rx);
    /// assert!(tx.is_disconnected());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn is_disconnected(&mut self) -> bool {
        self.end.peer(true) != Peer::Present
    }
}

impl<T: ShmType> Receiver<T> {
    /// Creates a ring of at least `capacity` slots (rounded up to a power of two) at
    /// `location` and attaches as its receiver.
    ///
    /// # Errors
    ///
    /// As [`SegmentOptions::create`].
    ///
    /// ```
    /// let name = format!("shmring-doc-spsc-rcreate-{}", std::process::id());
    /// let rx = shmring::spsc::Receiver::<u64>::create(name.as_str(), 64)?;
    /// assert!(rx.is_empty());
    /// shmring::Segment::unlink_name(&name)?;
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn create(location: impl Into<Location>, capacity: u64) -> Result<Receiver<T>, OpenError> {
        Receiver::create_with_mode(location, capacity, crate::DEFAULT_MODE)
    }

    /// Like [`create`](Receiver::create), with the segment's permission bits `mode` instead
    /// of the default `0o600` (owner only): `0o660` lets the owner's group attach too.
    /// Applied exactly, whatever the umask.
    ///
    /// # Errors
    ///
    /// As [`create`](Receiver::create).
    ///
    /// ```
    /// use std::os::unix::fs::PermissionsExt;
    /// let name = format!("shmring-doc-spsc-mode-{}-{}", std::process::id(), line!());
    /// let h = shmring::spsc::Receiver::<u32>::create_with_mode(name.as_str(), 8, 0o660)?;
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
    ) -> Result<Receiver<T>, OpenError> {
        let location = location.into();
        let segment = create_options::<T>(capacity, &location)?
            .mode(mode)
            .create(location)?;
        Receiver::attach(Arc::new(segment))
    }

    /// Opens the ring at `location` as its receiver. If a receiver process died, this one
    /// takes over: it continues from the last message its predecessor released.
    ///
    /// # Errors
    ///
    /// As [`Sender::open`].
    ///
    /// ```
    /// let err = shmring::spsc::Receiver::<u32>::open("bad/name").unwrap_err();
    /// assert!(matches!(err, shmring::OpenError::InvalidName { .. }));
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn open(location: impl Into<Location>) -> Result<Receiver<T>, OpenError> {
        Receiver::attach(Arc::new(open_segment::<T>(location)?))
    }

    #[cfg(not(shmring_loom))]
    fn attach(segment: Arc<Segment>) -> Result<Receiver<T>, OpenError> {
        let (end, head, tail) = End::attach_with_indices(segment, Role::Receiver)?;
        Ok(Receiver { end, head, tail })
    }

    /// Sets how this handle waits when the ring is empty.
    ///
    /// ```
    /// let (_tx, rx) = shmring::spsc::channel::<u8>(2)?;
    /// let rx = rx.with_wait_strategy(shmring::WaitStrategy::Blocking { spin: 100, yields: 1 });
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn with_wait_strategy(mut self, strategy: WaitStrategy) -> Receiver<T> {
        self.end.waiter = Waiter::new(strategy);
        self
    }

    /// Receives without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`], `Disconnected` once the ring is empty and the sender is gone,
    /// `Corrupted` after invalid shared indices.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(2)?;
    /// assert_eq!(rx.try_recv(), Err(shmring::TryRecvError::Empty));
    /// tx.send(4).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(4));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[inline]
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.pop(false)
    }

    /// Like [`try_recv`](Receiver::try_recv), copying the message straight into `*dst`: for
    /// large payloads, one copy instead of moving the value out through the call.
    ///
    /// # Errors
    ///
    /// As [`try_recv`](Receiver::try_recv); `*dst` is unchanged then.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<[u64; 512]>(2)?;
    /// tx.send([3; 512]).unwrap();
    /// let mut buf = [0u64; 512];
    /// rx.try_recv_into(&mut buf).unwrap();
    /// assert_eq!(buf[0], 3);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[inline]
    pub fn try_recv_into(&mut self, dst: &mut T) -> Result<(), TryRecvError> {
        self.pop_into(dst, false)
    }

    /// Like [`recv`](Receiver::recv), copying the message straight into `*dst`.
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv); `*dst` is unchanged then.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u32>(2)?;
    /// tx.send(5).unwrap();
    /// let mut v = 0;
    /// rx.recv_into(&mut v).unwrap();
    /// assert_eq!(v, 5);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[inline]
    pub fn recv_into(&mut self, dst: &mut T) -> Result<(), RecvError> {
        match self.poll_quickly(|rx| rx.pop_into(dst, false)) {
            Ok(()) => Ok(()),
            Err(first) => self.recv_into_slow(dst, first),
        }
    }

    /// Runs `attempt`, and while it finds the ring empty, up to [`QUICK_POLLS`] more times
    /// with a spin hint between: a message is usually a moment away, and this is cheaper than
    /// entering the waiting machinery.
    #[inline]
    fn poll_quickly<R>(
        &mut self,
        mut attempt: impl FnMut(&mut Self) -> Result<R, TryRecvError>,
    ) -> Result<R, TryRecvError> {
        let mut result = attempt(self);
        for _ in 0..QUICK_POLLS {
            if !matches!(result, Err(TryRecvError::Empty)) {
                break;
            }
            crate::sync::spin_loop();
            result = attempt(self);
        }
        result
    }

    /// `recv_into` after a failed first attempt: wait if empty, else report.
    #[cold]
    #[inline(never)]
    fn recv_into_slow(&mut self, dst: &mut T, first: TryRecvError) -> Result<(), RecvError> {
        let result = match first {
            TryRecvError::Empty => self.recv_wait(dst, None),
            e => Err(try_recv_to_timeout(e)),
        };
        result.map_err(recv_without_timeout)
    }

    /// Receives, waiting as long as the ring is empty.
    ///
    /// # Errors
    ///
    /// [`RecvError::Disconnected`] once the ring is empty and the sender is gone, `Corrupted`
    /// after invalid shared indices.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(2)?;
    /// tx.send(1).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.recv(), Ok(1));
    /// assert_eq!(rx.recv(), Err(shmring::RecvError::Disconnected));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[inline]
    pub fn recv(&mut self) -> Result<T, RecvError> {
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
    /// let (_tx, mut rx) = shmring::spsc::channel::<u8>(2)?;
    /// assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Err(shmring::RecvTimeoutError::Timeout));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<T, RecvTimeoutError> {
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
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(2)?;
    /// tx.send(3).unwrap();
    /// assert_eq!(rx.recv_deadline(Instant::now() + Duration::from_secs(1)), Ok(3));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn recv_deadline(&mut self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_until(Some(deadline))
    }

    #[inline]
    fn recv_until(&mut self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        match self.poll_quickly(|rx| rx.pop(false)) {
            Ok(v) => Ok(v),
            Err(first) => self.recv_slow(first, deadline),
        }
    }

    /// A receive after a failed first attempt: wait if empty, else report.
    #[cold]
    #[inline(never)]
    fn recv_slow(
        &mut self,
        first: TryRecvError,
        deadline: Option<Instant>,
    ) -> Result<T, RecvTimeoutError> {
        match first {
            TryRecvError::Empty => {
                let mut value = T::zeroed();
                self.recv_wait(&mut value, deadline).map(|()| value)
            }
            e => Err(try_recv_to_timeout(e)),
        }
    }

    /// Waits for a message and copies it into `*dst`.
    #[inline(never)]
    fn recv_wait(
        &mut self,
        dst: &mut T,
        deadline: Option<Instant>,
    ) -> Result<(), RecvTimeoutError> {
        let area = self.end.area.clone();
        let mut waiter = self.end.waiter;
        let done = waiter.wait(&*area, area.data_event(), deadline, |force| {
            match self.pop_into(dst, force) {
                Ok(()) => Step::Done(Ok(())),
                Err(TryRecvError::Empty) => Step::Retry,
                Err(e) => Step::Done(Err(try_recv_to_timeout(e))),
            }
        });
        self.end.waiter = waiter;
        done.unwrap_or(Err(RecvTimeoutError::Timeout))
    }

    /// One attempt: `Ok` if the slot at `head` holds a published message.
    #[inline]
    fn ready(&mut self, force: bool) -> Result<(), TryRecvError> {
        if self.end.corrupted {
            return Err(TryRecvError::Corrupted);
        }
        if self.head == self.tail && !self.wait_free(force)? {
            return Err(TryRecvError::Empty);
        }
        Ok(())
    }

    /// One attempt: take the next message if one is published.
    #[inline]
    fn pop(&mut self, force: bool) -> Result<T, TryRecvError> {
        self.ready(force)?;
        // SAFETY: `ready` found head < tail (validated), so the slot at `head` is published
        // and is not rewritten until `release` hands it back.
        let value = unsafe { self.end.area.read_one(self.head) };
        self.release(self.head + 1);
        Ok(value)
    }

    /// One attempt: copy the next message into `*dst` if one is published.
    #[inline]
    fn pop_into(&mut self, dst: &mut T, force: bool) -> Result<(), TryRecvError> {
        self.ready(force)?;
        // SAFETY: as in `pop`; small payloads as typed values, large ones with one memcpy.
        unsafe {
            if size_of::<T>() <= SMALL_PAYLOAD {
                *dst = self.end.area.read_one(self.head);
            } else {
                self.end.area.read(self.head, std::slice::from_mut(dst));
            }
        }
        self.release(self.head + 1);
        Ok(())
    }

    /// When the cached tail says empty: re-reads it, and if still empty decides between
    /// `Empty` (`Ok(false)`) and `Disconnected`. `Ok(true)`: messages are available.
    fn wait_free(&mut self, force: bool) -> Result<bool, TryRecvError> {
        if !self.refresh_tail() {
            return Err(TryRecvError::Corrupted);
        }
        if self.head != self.tail {
            return Ok(true);
        }
        match self.end.peer(force) {
            Peer::Present => Ok(false),
            Peer::Corrupt => Err(TryRecvError::Corrupted),
            Peer::Gone => {
                // Drain what the sender committed before it went.
                if !self.refresh_tail() {
                    return Err(TryRecvError::Corrupted);
                }
                if self.head == self.tail {
                    Err(TryRecvError::Disconnected)
                } else {
                    Ok(true)
                }
            }
        }
    }

    /// Releases slots up to `head` with one Release store and wakes a sleeping sender.
    #[inline]
    fn release(&mut self, head: u64) {
        self.head = head;
        self.end.publish_head(head);
    }

    /// Re-reads the sender's tail; `false` (and the handle marked corrupted) if it moved
    /// backwards or more than the capacity ahead of the head.
    fn refresh_tail(&mut self) -> bool {
        let tail = self.end.area.tail().load(Ordering::Acquire);
        if tail < self.tail || tail - self.head > self.end.area.capacity() {
            self.end.corrupted = true;
            return false;
        }
        self.tail = tail;
        true
    }

    /// Messages available now (re-reads the sender's tail). Takes `&self`, so it can size a
    /// chunk in the same expression: `rx.read_chunk(rx.slots())`. An invalid tail in shared
    /// memory counts as nothing available (the next operation reports `Corrupted`).
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(4)?;
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.slots(), 2);
    /// let chunk = rx.read_chunk(rx.slots()).unwrap();
    /// assert_eq!(chunk.into_iter().collect::<Vec<_>>(), [1, 2]);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn slots(&self) -> usize {
        let tail = self.end.area.tail().load(Ordering::Acquire);
        if tail < self.tail || tail - self.head > self.end.area.capacity() {
            return 0;
        }
        (tail - self.head) as usize
    }

    /// Takes exactly `n` published messages to read in place and release together.
    ///
    /// # Errors
    ///
    /// [`ChunkError::TooFewSlots`] with the number available when fewer than `n` are,
    /// `Disconnected` when none are left and the sender is gone, `Corrupted`.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u32>(8)?;
    /// for i in 0..4 { tx.send(i).unwrap(); }
    /// let chunk = rx.read_chunk(4).unwrap();
    /// assert_eq!(chunk.into_iter().collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    /// assert!(rx.try_recv().is_err()); // the iterator released them
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn read_chunk(&mut self, n: usize) -> Result<ReadChunk<'_, T>, ChunkError> {
        if self.end.corrupted {
            return Err(ChunkError::Corrupted);
        }
        if ((self.tail - self.head) as usize) < n {
            match self.wait_free(false) {
                Ok(_) => {}
                Err(TryRecvError::Disconnected) => return Err(ChunkError::Disconnected),
                Err(_) => return Err(ChunkError::Corrupted),
            }
            let available = (self.tail - self.head) as usize;
            if available < n {
                return Err(ChunkError::TooFewSlots(available));
            }
        }
        Ok(ReadChunk {
            rx: self,
            len: n,
            read: 0,
        })
    }

    /// A blocking iterator: yields messages until the sender is gone and the ring is drained
    /// (or the ring is corrupt).
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(4)?;
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.iter().collect::<Vec<_>>(), vec![1, 2]);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn iter(&mut self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// A non-blocking iterator over the messages available now.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(4)?;
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_iter().count(), 1);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_iter(&mut self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    /// Messages in the ring now (clamped to the capacity).
    ///
    /// ```
    /// let (_tx, rx) = shmring::spsc::channel::<u8>(4)?;
    /// assert_eq!(rx.len(), 0);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn len(&self) -> usize {
        ring_len(&self.end.area)
    }

    /// Whether the ring is empty now.
    ///
    /// ```
    /// let (_tx, rx) = shmring::spsc::channel::<u8>(4)?;
    /// assert!(rx.is_empty());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the ring is full now.
    ///
    /// ```
    /// let (_tx, rx) = shmring::spsc::channel::<u8>(4)?;
    /// assert!(!rx.is_full());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    /// Capacity in messages (a power of two).
    ///
    /// ```
    /// let (_tx, rx) = shmring::spsc::channel::<u8>(4)?;
    /// assert_eq!(rx.capacity(), 4);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.end.area.capacity() as usize
    }

    /// Whether the sender is gone (closed, or its process is dead), checked now. Messages it
    /// committed may still be waiting.
    ///
    /// ```
    /// let (tx, mut rx) = shmring::spsc::channel::<u8>(1)?;
    /// drop(tx);
    /// assert!(rx.is_disconnected());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn is_disconnected(&mut self) -> bool {
        self.end.peer(true) != Peer::Present
    }
}

/// Length from the shared indices, never more than the capacity whatever a peer wrote.
fn ring_len<T: ShmType>(area: &Area<T>) -> usize {
    let head = area.head().load(Ordering::Acquire);
    let tail = area.tail().load(Ordering::Acquire);
    tail.saturating_sub(head).min(area.capacity()) as usize
}

impl<T: ShmType> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("end", &self.end)
            .field("tail", &self.tail)
            .finish()
    }
}

impl<T: ShmType> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("end", &self.end)
            .field("head", &self.head)
            .finish()
    }
}

/// Slots reserved by [`Sender::write_chunk`]: fill them with [`push`](WriteChunk::push) or
/// [`extend_from_slice`](WriteChunk::extend_from_slice), then [`commit`](WriteChunk::commit).
/// Dropped without a commit, nothing is published.
///
/// ```
/// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(4)?;
/// let mut chunk = tx.write_chunk(2).unwrap();
/// chunk.fill_with(|| 5);
/// drop(chunk); // not committed
/// assert!(rx.try_recv().is_err());
/// # Ok::<(), shmring::OpenError>(())
/// ```
#[must_use = "a chunk publishes nothing unless committed"]
pub struct WriteChunk<'a, T: ShmType> {
    tx: &'a mut Sender<T>,
    len: usize,
    written: usize,
}

impl<T: ShmType> WriteChunk<'_, T> {
    /// Slots reserved.
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::spsc::channel::<u8>(4)?;
    /// assert_eq!(tx.write_chunk(3).unwrap().len(), 3);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no slots were reserved.
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::spsc::channel::<u8>(4)?;
    /// assert!(tx.write_chunk(0).unwrap().is_empty());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slots filled so far.
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::spsc::channel::<u8>(4)?;
    /// let mut c = tx.write_chunk(3).unwrap();
    /// c.push(1).unwrap();
    /// assert_eq!(c.written(), 1);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn written(&self) -> usize {
        self.written
    }

    /// Writes the next slot.
    ///
    /// # Errors
    ///
    /// Gives `value` back when every reserved slot is written.
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::spsc::channel::<u8>(4)?;
    /// let mut c = tx.write_chunk(1).unwrap();
    /// assert_eq!(c.push(1), Ok(()));
    /// assert_eq!(c.push(2), Err(2));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn push(&mut self, value: T) -> Result<(), T> {
        if self.written == self.len {
            return Err(value);
        }
        // SAFETY: the slot lies in the reservation (tail + written < tail + len <= head +
        // capacity), which only this sender writes until commit publishes it.
        unsafe {
            self.tx
                .end
                .area
                .write_one(self.tx.tail + self.written as u64, value)
        };
        self.written += 1;
        Ok(())
    }

    /// Copies as much of `src` as fits into the next slots; returns how many were copied.
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::spsc::channel::<u8>(4)?;
    /// let mut c = tx.write_chunk(2).unwrap();
    /// assert_eq!(c.extend_from_slice(&[1, 2, 3]), 2);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn extend_from_slice(&mut self, src: &[T]) -> usize {
        let n = src.len().min(self.len - self.written);
        // SAFETY: as in `push`, for the n slots after those already written.
        unsafe {
            self.tx
                .end
                .area
                .write(self.tx.tail + self.written as u64, &src[..n])
        };
        self.written += n;
        n
    }

    /// Fills every remaining slot with values from `f`.
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::spsc::channel::<u8>(4)?;
    /// let mut c = tx.write_chunk(4).unwrap();
    /// let mut i = 0;
    /// c.fill_with(|| { i += 1; i });
    /// assert_eq!(i, 4, "called once per slot");
    /// assert_eq!(c.commit(), 4);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn fill_with(&mut self, mut f: impl FnMut() -> T) {
        // `f` runs exactly once per remaining slot: no value is made and then dropped.
        while self.written < self.len {
            let _ = self.push(f());
        }
    }

    /// Publishes the written slots with one Release store (waking a sleeping receiver);
    /// returns how many.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(4)?;
    /// let mut c = tx.write_chunk(4).unwrap();
    /// c.push(1).unwrap();
    /// assert_eq!(c.commit(), 1); // only what was written
    /// assert_eq!(rx.try_iter().count(), 1);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn commit(self) -> usize {
        if self.written > 0 {
            let tail = self.tx.tail + self.written as u64;
            self.tx.publish(tail);
        }
        self.written
    }
}

impl<T: ShmType> fmt::Debug for WriteChunk<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteChunk")
            .field("len", &self.len)
            .field("written", &self.written)
            .finish()
    }
}

/// Messages taken by [`Receiver::read_chunk`]: read them with [`pop`](ReadChunk::pop) or
/// [`copy_to_slice`](ReadChunk::copy_to_slice), then [`commit`](ReadChunk::commit) to release
/// the slots — dropped without a commit, nothing is released (the messages will be read
/// again). Or iterate over it (`into_iter`, a `for` loop): the iterator releases what it
/// yielded when it is dropped, as rtrb's does ([`ReadChunkIntoIter`]).
///
/// ```
/// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(4)?;
/// tx.send(1).unwrap();
/// let mut c = rx.read_chunk(1).unwrap();
/// assert_eq!(c.pop(), Some(1));
/// drop(c); // not committed: still there
/// assert_eq!(rx.try_recv(), Ok(1));
/// # Ok::<(), shmring::OpenError>(())
/// ```
#[must_use = "a chunk releases nothing unless committed or iterated"]
pub struct ReadChunk<'a, T: ShmType> {
    rx: &'a mut Receiver<T>,
    len: usize,
    read: usize,
}

impl<T: ShmType> ReadChunk<'_, T> {
    /// Messages in the chunk.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(4)?;
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.read_chunk(1).unwrap().len(), 1);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the chunk holds no messages.
    ///
    /// ```
    /// let (_tx, mut rx) = shmring::spsc::channel::<u8>(4)?;
    /// assert!(rx.read_chunk(0).unwrap().is_empty());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads the next message of the chunk.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(4)?;
    /// tx.send(8).unwrap();
    /// let mut c = rx.read_chunk(1).unwrap();
    /// assert_eq!((c.pop(), c.pop()), (Some(8), None));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn pop(&mut self) -> Option<T> {
        if self.read == self.len {
            return None;
        }
        // SAFETY: the message lies in [head, head + len) ⊆ [head, tail): published and not
        // released until commit.
        let value = unsafe { self.rx.end.area.read_one(self.rx.head + self.read as u64) };
        self.read += 1;
        Some(value)
    }

    /// Copies the next messages into `dst`, as many as fit; returns how many.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(4)?;
    /// for i in 0..3 { tx.send(i).unwrap(); }
    /// let mut c = rx.read_chunk(3).unwrap();
    /// let mut buf = [0u8; 8];
    /// assert_eq!(c.copy_to_slice(&mut buf), 3);
    /// assert_eq!(&buf[..3], &[0, 1, 2]);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn copy_to_slice(&mut self, dst: &mut [T]) -> usize {
        let n = dst.len().min(self.len - self.read);
        // SAFETY: as in `pop`, for the n messages after those already read.
        unsafe {
            self.rx
                .end
                .area
                .read(self.rx.head + self.read as u64, &mut dst[..n])
        };
        self.read += n;
        n
    }

    /// Releases the messages read so far with one Release store (waking a sleeping sender);
    /// returns how many.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(4)?;
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// let mut c = rx.read_chunk(2).unwrap();
    /// c.pop();
    /// assert_eq!(c.commit(), 1);
    /// assert_eq!(rx.try_recv(), Ok(2));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn commit(self) -> usize {
        if self.read > 0 {
            let head = self.rx.head + self.read as u64;
            self.rx.release(head);
        }
        self.read
    }

    /// Releases every message of the chunk, read or not; returns how many.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(4)?;
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.read_chunk(1).unwrap().commit_all(), 1);
    /// assert!(rx.try_recv().is_err());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn commit_all(mut self) -> usize {
        self.read = self.len;
        self.commit()
    }
}

impl<'a, T: ShmType> IntoIterator for ReadChunk<'a, T> {
    type Item = T;
    type IntoIter = ReadChunkIntoIter<'a, T>;

    /// An iterator over the chunk's messages that **releases every message it yielded when
    /// it is dropped** (as rtrb's does); messages it did not yield stay in the ring.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(4)?;
    /// for i in 0..3 { tx.send(i).unwrap(); }
    /// let firsts: Vec<u8> = rx.read_chunk(3).unwrap().into_iter().take(2).collect();
    /// assert_eq!(firsts, [0, 1]);                // released when the iterator was dropped
    /// assert_eq!(rx.try_recv(), Ok(2));          // not yielded: still there
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    fn into_iter(self) -> ReadChunkIntoIter<'a, T> {
        ReadChunkIntoIter { chunk: Some(self) }
    }
}

/// The iterator of a [`ReadChunk`] (from `into_iter`, or a `for` loop over the chunk): yields
/// its messages and, when dropped, releases those it yielded with one Release store — the
/// same as rtrb's `ReadChunkIntoIter`. A `ReadChunk` read with [`pop`](ReadChunk::pop) or
/// [`copy_to_slice`](ReadChunk::copy_to_slice) releases nothing until
/// [`commit`](ReadChunk::commit).
///
/// ```
/// let (mut tx, mut rx) = shmring::spsc::channel::<u32>(8)?;
/// for i in 0..4 { tx.send(i).unwrap(); }
/// let mut sum = 0;
/// for v in rx.read_chunk(4).unwrap() {
///     sum += v;
/// }
/// assert_eq!(sum, 6);
/// assert!(rx.try_recv().is_err()); // all four released by the loop
/// # Ok::<(), shmring::OpenError>(())
/// ```
#[must_use = "iterators are lazy; dropping this releases only the messages it yielded"]
pub struct ReadChunkIntoIter<'a, T: ShmType> {
    /// `None` only while dropping.
    chunk: Option<ReadChunk<'a, T>>,
}

impl<T: ShmType> Iterator for ReadChunkIntoIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.chunk.as_mut()?.pop()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.chunk.as_ref().map_or(0, |c| c.len - c.read);
        (left, Some(left))
    }
}

impl<T: ShmType> ExactSizeIterator for ReadChunkIntoIter<'_, T> {}

impl<T: ShmType> Drop for ReadChunkIntoIter<'_, T> {
    /// Releases the messages yielded so far.
    fn drop(&mut self) {
        if let Some(chunk) = self.chunk.take() {
            chunk.commit();
        }
    }
}

impl<T: ShmType> fmt::Debug for ReadChunkIntoIter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadChunkIntoIter")
            .field("chunk", &self.chunk)
            .finish()
    }
}

impl<T: ShmType> fmt::Debug for ReadChunk<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadChunk")
            .field("len", &self.len)
            .field("read", &self.read)
            .finish()
    }
}

/// Blocking iterator from [`Receiver::iter`].
#[derive(Debug)]
pub struct Iter<'a, T: ShmType> {
    rx: &'a mut Receiver<T>,
}

impl<T: ShmType> Iterator for Iter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

/// Non-blocking iterator from [`Receiver::try_iter`].
#[derive(Debug)]
pub struct TryIter<'a, T: ShmType> {
    rx: &'a mut Receiver<T>,
}

impl<T: ShmType> Iterator for TryIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

/// Readiness (an eventfd signalled by a helper thread that sleeps on the ring's futex in
/// the handle's place; docs/protocols.md, "Ring readiness"), shared by both handles: each
/// waits on its own direction's eventcount.
#[cfg(not(shmring_loom))]
impl<T: ShmType> End<T> {
    /// This handle's bridge, made on first use for the direction it waits on.
    pub(crate) fn bridge(&mut self) -> std::io::Result<Arc<crate::notify::Bridge>> {
        let segment = self._segment.clone();
        let event = match self.role {
            Role::Receiver => self.area.data_event(),
            Role::Sender => self.area.space_event(),
        };
        self.readiness.bridge(|| {
            let segment = segment.ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::Unsupported, "no mapped segment")
            })?;
            let crate::wait::Waiting::Flag(flag) = event.waiting else {
                unreachable!("an spsc ring has one waiting flag per direction")
            };
            crate::notify::Bridge::new(segment, event.seq, crate::notify::WaitWord::Flag(flag))
        })
    }
}

#[cfg(not(shmring_loom))]
impl<T: ShmType> crate::handle::Core for Receiver<T> {
    fn readiness(&mut self) -> &mut crate::notify::Readiness {
        &mut self.end.readiness
    }

    fn bridge(&mut self) -> std::io::Result<Arc<crate::notify::Bridge>> {
        self.end.bridge()
    }

    fn waiter(&self) -> Waiter {
        self.end.waiter
    }

    fn keep_waiter(&mut self, waiter: Waiter) {
        self.end.waiter = waiter;
    }

    fn would_wait(&mut self, _need: usize) -> bool {
        matches!(self.ready(false), Err(TryRecvError::Empty))
    }

    fn look_at_peers(&mut self) {
        let _ = self.end.peer(true);
    }
}

crate::handle::readiness_methods! {
    impl[T: ShmType] Receiver<T>;
    channel: "spsc::channel::<u32>(4)",
    var: "rx",
    proceeds: "a message may have arrived (or the sender may be gone)",
    register: "assert!(rx.register_readiness()?); // empty: wait on rx.readiness_fd()"
}

/// `async` receiving (feature `tokio`).
#[cfg(all(feature = "tokio", not(shmring_loom)))]
impl<T: ShmType> Receiver<T> {
    /// Receives the next message, awaiting one without blocking the thread: try first; when
    /// the ring is empty, register (the sender then wakes this handle's helper, which
    /// signals the readiness eventfd) and await the eventfd through tokio's `AsyncFd`.
    ///
    /// The eventfd is registered with the reactor of the runtime this handle first awaits
    /// in; keep using the handle in that runtime (a registration whose runtime has shut down
    /// is replaced).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a message is taken only in the poll that completes the future. A future
    /// dropped while waiting disarms the helper at once, so the sender does not go on paying
    /// a wake-up for a waiter that is gone.
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u32>(4)?;
    /// tx.send(7).unwrap();
    /// assert_eq!(rx.recv_async().await, Ok(7));
    /// # Ok(()) }
    /// ```
    pub async fn recv_async(&mut self) -> Result<T, RecvError> {
        crate::handle::drive(self, 0, |rx, force| crate::handle::received(rx.pop(force))).await
    }
}

#[cfg(not(shmring_loom))]
impl<T: ShmType> crate::handle::Core for Sender<T> {
    fn readiness(&mut self) -> &mut crate::notify::Readiness {
        &mut self.end.readiness
    }

    fn bridge(&mut self) -> std::io::Result<Arc<crate::notify::Bridge>> {
        self.end.bridge()
    }

    fn waiter(&self) -> Waiter {
        self.end.waiter
    }

    fn keep_waiter(&mut self, waiter: Waiter) {
        self.end.waiter = waiter;
    }

    fn would_wait(&mut self, _need: usize) -> bool {
        matches!(self.reserve(false), Err(TrySendError::Full(())))
    }

    fn look_at_peers(&mut self) {
        let _ = self.end.peer(true);
    }
}

crate::handle::readiness_methods! {
    impl[T: ShmType] Sender<T>;
    channel: "spsc::channel::<u32>(1)",
    var: "tx",
    proceeds: "a slot may have become free (or the receiver may be gone)",
    register: "assert!(!tx.register_readiness()?); // room: send at once"
}

/// `async` sending (feature `tokio`).
#[cfg(all(feature = "tokio", not(shmring_loom)))]
impl<T: ShmType> Sender<T> {
    /// Sends `value`, awaiting a free slot without blocking the thread: try first; when the
    /// ring is full, spin briefly, then register and await the readiness eventfd.
    ///
    /// The eventfd is registered with the reactor of the runtime this handle first awaits
    /// in; keep using the handle in that runtime.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: `value` is published only in the poll that completes the future; a
    /// future dropped before that sends nothing (and drops `value`) and disarms the helper.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send), with `value` returned.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u32>(1)?;
    /// tx.send_async(7).await.unwrap();
    /// assert_eq!(rx.recv(), Ok(7));
    /// # Ok(()) }
    /// ```
    pub async fn send_async(&mut self, value: T) -> Result<(), SendError<T>> {
        let mut value = Some(value);
        crate::handle::drive(self, 0, |tx, force| {
            match tx.push(value.take().expect("kept until sent"), force) {
                Ok(()) => Some(Ok(())),
                Err(TrySendError::Full(v)) => {
                    value = Some(v);
                    None
                }
                Err(TrySendError::Disconnected(v)) => Some(Err(SendError::Disconnected(v))),
                Err(TrySendError::Corrupted(v)) => Some(Err(SendError::Corrupted(v))),
            }
        })
        .await
    }
}

crate::handle::stream_method! {
    impl[T: ShmType + Send] Receiver<T> => T;
    channel: "spsc::channel::<u32>(4)",
    send: "tx.send(5).unwrap();",
    first: "5"
}
