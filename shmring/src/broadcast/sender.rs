//! The broadcast writer: writing a slot under its stamp, the lossless writer's look at the
//! receivers' cursors, blocking, timed and async sends, construction and takeover.

#[allow(unused_imports)]
use super::*;
use crate::error::without_timeout;
use crate::wait::{Attempt, Waiter};
use crate::{SendError, SendTimeoutError, TrySendError};

impl<T: ShmType> Sender<T> {
    /// The writer on `shared`, if no other live writer holds the ring.
    pub(super) fn from_shared(
        shared: Participant<T>,
        overwrite: bool,
    ) -> Result<Sender<T>, OpenError> {
        // One writer at a time; one whose process is proven dead is taken over (what it left
        // half written at the tail was never published).
        if let Some(pid) = shared.other_live(Role::Sender) {
            return Err(OpenError::RoleTaken {
                name: shared.name.clone(),
                role: "sender",
                pid,
            });
        }
        let tail = shared.area.tail().load(Ordering::Acquire);
        if tail >= MAX_POSITION {
            // Checked when the segment was mapped, but a peer may have written it since.
            return Err(OpenError::Corrupted {
                name: shared.name.clone(),
                reason: crate::header::HeaderError::BadField {
                    field: "broadcast tail",
                    value: tail,
                },
            });
        }
        Ok(Sender {
            shared,
            strategy: default_strategy(),
            tail,
            lowest: 0,
            seen_epoch: u64::MAX,
            receivers: Vec::new(),
            overwrite,
            #[cfg(not(shmring_loom))]
            readiness: Default::default(),
        })
    }

    #[cfg(not(shmring_loom))]
    pub(crate) fn attach(segment: Arc<Segment>) -> Result<Sender<T>, OpenError> {
        let geometry = slot_geometry::<T>(segment.info().overwrite);
        Sender::attach_laid_out(segment, geometry)
    }

    /// The writer of `segment`, whose slots are laid out as `geometry` (the payload type is
    /// known at run time: [`DynSender`](super::DynSender)).
    #[cfg(not(shmring_loom))]
    pub(crate) fn attach_laid_out(
        segment: Arc<Segment>,
        geometry: Geometry,
    ) -> Result<Sender<T>, OpenError> {
        let overwrite = segment.info().overwrite;
        Sender::from_shared(join(segment, Role::Sender, geometry)?, overwrite)
    }

    /// Sets how this handle waits when a lossless ring is full.
    ///
    /// ```
    /// let (tx, _rx) = shmring::broadcast::channel::<u8>(2)?;
    /// let tx = tx.with_wait_strategy(shmring::WaitStrategy::BusyPoll);
    /// # let _ = tx;
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn with_wait_strategy(mut self, strategy: WaitStrategy) -> Sender<T> {
        self.strategy = strategy;
        self
    }

    /// The ring's policy for slow receivers (recorded in its header).
    ///
    /// ```
    /// let (tx, _rx) = shmring::broadcast::channel::<u8>(2)?;
    /// assert_eq!(tx.policy(), shmring::broadcast::Policy::Lossless);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn policy(&self) -> Policy {
        policy_of(self.overwrite)
    }

    /// One more receiver of this ring, in this process (its own record, as another process
    /// would have), starting at the next message.
    ///
    /// # Errors
    ///
    /// [`OpenError::ParticipantsFull`] when the table has no free record.
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::broadcast::channel::<u8>(4)?;
    /// let mut rx2 = tx.subscribe()?;
    /// tx.send(3).unwrap();
    /// assert_eq!(rx2.recv(), Ok(3));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn subscribe(&self) -> Result<Receiver<T>, OpenError> {
        let s = &self.shared;
        let shared = Participant::join(
            s.area.clone(),
            Protocol::Cursors,
            Role::Receiver,
            s.name.clone(),
            s._segment.clone(),
        )?;
        Receiver::from_shared(shared, self.overwrite, false)
    }

    /// The loom build: joining this ring as a receiver from another thread, as a process
    /// opening it does.
    #[cfg(shmring_loom)]
    #[doc(hidden)]
    pub fn joiner(&self) -> Joiner<T> {
        Joiner {
            area: self.shared.area.clone(),
            name: self.shared.name.clone(),
            overwrite: self.overwrite,
        }
    }

    /// Receivers attached now and not proven dead.
    ///
    /// ```
    /// let (tx, rx) = shmring::broadcast::channel::<u8>(4)?;
    /// assert_eq!(tx.receiver_count(), 1);
    /// drop(rx);
    /// assert_eq!(tx.receiver_count(), 0);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn receiver_count(&self) -> usize {
        self.shared.scan().receivers as usize
    }

    /// Sends without waiting.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] (with the value) when a lossless ring's slowest live receiver
    /// is a whole ring behind by the cursor it last announced (receivers announce once a
    /// quarter of the ring was read, and before they wait); `Corrupted` after invalid shared
    /// state. A broadcast ring is
    /// never `Disconnected` for its writer: with no receiver, messages wait in the ring for
    /// late joiners (see [`Receiver::options`]).
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::broadcast::channel::<u8>(2)?;
    /// tx.try_send(1).unwrap();
    /// tx.try_send(2).unwrap();
    /// assert_eq!(tx.try_send(3), Err(shmring::TrySendError::Full(3)));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_send(&mut self, value: T) -> Result<(), TrySendError<T>> {
        self.push(&value, false).map_err(|e| e.with_value(value))
    }

    /// Sends, waiting (lossless rings) while the slowest live receiver is a ring behind.
    ///
    /// # Errors
    ///
    /// [`SendError::Corrupted`] after invalid shared state.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::broadcast::channel::<u32>(4)?;
    /// tx.send(10).unwrap();
    /// assert_eq!(rx.recv(), Ok(10));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send(&mut self, value: T) -> Result<(), SendError<T>> {
        self.send_ref(&value)
            .map_err(|e| without_timeout(e.with_value(value)))
    }

    /// Sends `*value` (one copy into the slot, for large payloads).
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send), without the value.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::broadcast::channel::<[u64; 64]>(2)?;
    /// tx.send_ref(&[7; 64]).unwrap();
    /// assert_eq!(rx.recv().unwrap()[63], 7);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send_ref(&mut self, value: &T) -> Result<(), SendTimeoutError<()>> {
        self.send_until(value, None)
    }

    /// Sends, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send), plus [`SendTimeoutError::Timeout`] with the value.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (mut tx, _rx) = shmring::broadcast::channel::<u8>(2)?;
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// let e = tx.send_timeout(3, Duration::from_millis(1)).unwrap_err();
    /// assert!(e.is_timeout());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn send_timeout(&mut self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_until(&value, Instant::now().checked_add(timeout))
            .map_err(|e| e.with_value(value))
    }

    /// Sends, waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`send_timeout`](Sender::send_timeout).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (mut tx, mut rx) = shmring::broadcast::channel::<u8>(2)?;
    /// tx.send_deadline(4, Instant::now() + Duration::from_secs(1)).unwrap();
    /// assert_eq!(rx.recv(), Ok(4));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn send_deadline(
        &mut self,
        value: T,
        deadline: Instant,
    ) -> Result<(), SendTimeoutError<T>> {
        self.send_until(&value, Some(deadline))
            .map_err(|e| e.with_value(value))
    }

    #[inline]
    pub(super) fn send_until(
        &mut self,
        value: &(impl Source<T> + ?Sized),
        deadline: Option<std::time::Instant>,
    ) -> Result<(), SendTimeoutError<()>> {
        let pos = self.tail;
        if self.room_known(pos) {
            self.write_slot(pos, value);
            self.publish(pos + 1);
            return Ok(());
        }
        self.send_slow(value, deadline)
    }

    /// Whether `pos` may be written by what this writer already knows (no shared state
    /// read but the membership epoch): the common case of [`reserve`](Sender::reserve).
    #[inline]
    fn room_known(&self, pos: u64) -> bool {
        pos < MAX_POSITION - 1
            && !self.shared.is_corrupted()
            && (self.overwrite
                || (pos < self.lowest.saturating_add(self.shared.area.capacity())
                    && self.shared.area.epoch().load(Ordering::Acquire) == self.seen_epoch))
    }

    /// [`send_until`](Sender::send_until) when the cached lowest cursor says full, the
    /// membership changed, or the ring is corrupted.
    #[cold]
    #[inline(never)]
    fn send_slow(
        &mut self,
        value: &(impl Source<T> + ?Sized),
        deadline: Option<std::time::Instant>,
    ) -> Result<(), SendTimeoutError<()>> {
        let pos = self.reserve_until(1, deadline)?;
        self.write_slot(pos, value);
        self.publish(pos + 1);
        Ok(())
    }

    /// The tail once the `n` slots from it may be written, waiting until `deadline` (`None`:
    /// as long as it takes) while a lossless ring's slowest receiver has not read them.
    pub(crate) fn reserve_until(
        &mut self,
        n: u64,
        deadline: Option<std::time::Instant>,
    ) -> Result<u64, SendTimeoutError<()>> {
        let first = self.reserve(n, false);
        if !first.retry() {
            return first.done();
        }
        let area = self.shared.area.clone();
        let sleepers = crate::sync::Mutex::new(0);
        let event = area.event(Role::Sender, self.shared.index, &sleepers);
        let mut waiter = Waiter::new(self.strategy);
        waiter.until(area.storage(), event, deadline, |force| {
            self.reserve(n, force)
        })
    }

    /// Whether writing `n` slots would wait now (a lossless ring without room for them).
    pub(crate) fn would_wait_for(&mut self, n: u64) -> bool {
        let last = self.tail + n.max(1) - 1;
        !self.overwrite && !self.shared.is_corrupted() && !self.room(last, false)
    }

    /// The ring's area (the framed form reads its own last message back on takeover).
    pub(crate) fn area(&self) -> &Area<T> {
        &self.shared.area
    }

    /// The ring's name.
    pub(crate) fn shared_name(&self) -> &str {
        &self.shared.name
    }

    /// The next position this writer writes.
    pub(crate) fn tail(&self) -> u64 {
        self.tail
    }

    /// One attempt: write `*value` at the tail, if a lossless ring's receivers left room.
    pub(super) fn push(
        &mut self,
        value: &(impl Source<T> + ?Sized),
        force: bool,
    ) -> Result<(), TrySendError<()>> {
        let pos = self.reserve(1, force)?;
        self.write_slot(pos, value);
        self.publish(pos + 1);
        Ok(())
    }

    /// The tail, if the `n` slots from it may be written now: `Full` when a lossless ring's
    /// slowest live receiver has not read what they hold, `Corrupted` after invalid shared
    /// state (or positions run out).
    pub(crate) fn reserve(&mut self, n: u64, force: bool) -> Result<u64, TrySendError<()>> {
        if self.shared.is_corrupted() {
            return Err(TrySendError::Corrupted(()));
        }
        let pos = self.tail;
        if pos >= MAX_POSITION - n {
            self.shared.corrupt();
            return Err(TrySendError::Corrupted(()));
        }
        if !self.overwrite && !self.room(pos + n - 1, force) {
            return Err(TrySendError::Full(()));
        }
        Ok(pos)
    }

    /// Writes `*value` into the slot of `pos` (reserved, not yet published): under its stamp
    /// in an overwrite ring; as it is in a lossless one, where no receiver reads it now.
    #[inline]
    pub(crate) fn write_slot(&mut self, pos: u64, value: &(impl Source<T> + ?Sized)) {
        let storage = self.shared.area.storage();
        if !storage.is_stamped() {
            // SAFETY: this handle is the ring's only writer and the slot of `pos` lies inside
            // the area; lossless, every receiver it knows has read the position this slot
            // held (`reserve`), and one joining now starts past it.
            unsafe { value.put(storage, pos) };
            return;
        }
        let stamp = storage.stamp(pos);
        // The seqlock: odd while the payload changes; a receiver that saw any byte of this
        // write sees the odd (or a later) stamp after its copy, through the fence pair.
        stamp.store(writing(pos), Ordering::Relaxed);
        crate::sync::fence(Ordering::Release);
        // SAFETY: this handle is the ring's only writer (its role claimed in the table) and
        // the slot of `pos` lies inside the area; receivers copying it meanwhile discard
        // their copy by the stamp.
        unsafe { value.put_shared(storage, pos) };
        stamp.store(written(pos), Ordering::Release);
    }

    /// Publishes every slot written below `tail` and wakes sleeping receivers.
    #[inline]
    pub(crate) fn publish(&mut self, tail: u64) {
        self.tail = tail;
        self.shared.area.tail().store(tail, Ordering::Release);
        self.shared.notify(Role::Receiver);
    }

    /// Lossless: whether position `pos` may be written — every live receiver has read
    /// `pos − capacity`. Re-reads the known receivers' cursors when the cached lowest one says
    /// no; re-reads the table when the membership changed, or (`force`) at once, reaping dead
    /// receivers on the way (and once per liveness period while it finds no room).
    fn room(&mut self, pos: u64, force: bool) -> bool {
        let capacity = self.shared.area.capacity();
        // Read after the fence of the previous publication's notify: a receiver that
        // announced itself (cursor, then epoch, then a barrier, then the tail) either shows
        // here, or saw that publication's tail and started past what may be overwritten.
        let epoch = self.shared.area.epoch().load(Ordering::Acquire);
        if epoch == self.seen_epoch && !force && pos < self.lowest.saturating_add(capacity) {
            return true;
        }
        // A scan reaps dead receivers (at once when forced, else once per liveness period);
        // a reap moves the epoch, and the table is read again.
        self.shared.peers_present(true, force);
        let epoch = self.shared.area.epoch().load(Ordering::Acquire);
        if epoch != self.seen_epoch || force {
            self.seen_epoch = epoch;
            self.shared.members(Role::Receiver, &mut self.receivers);
        }
        let area = &self.shared.area;
        // Idle cursors (a receiver joining) constrain nothing yet; a cursor ahead of the
        // tail is impossible (a hostile peer's) and constrains nothing beyond it.
        self.lowest = self
            .receivers
            .iter()
            .map(|&index| area.lane(index, 0).load(Ordering::Acquire))
            .filter(|&cursor| cursor != IDLE)
            .min()
            .map_or(u64::MAX, |c| c.min(pos));
        pos < self.lowest.saturating_add(capacity)
    }

    /// Marks this writer dead without releasing anything, as a process killed at that point
    /// would leave it (loom models of the crash protocol).
    #[doc(hidden)]
    #[cfg(shmring_loom)]
    pub fn die(self) {
        self.shared.die();
    }
}

/// `async` sending (feature `tokio`).
#[cfg(all(feature = "tokio", not(shmring_loom)))]
impl<T: ShmType> Sender<T> {
    /// Sends, awaiting room (lossless rings) without blocking the thread: try, spin briefly,
    /// then register and await this handle's readiness eventfd.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes sends nothing.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, mut rx) = shmring::broadcast::channel::<u8>(2)?;
    /// tx.send_async(1).await.unwrap();
    /// assert_eq!(rx.recv_async().await, Ok(1));
    /// # Ok(()) }
    /// ```
    pub async fn send_async(&mut self, value: T) -> Result<(), SendError<T>> {
        crate::handle::drive(self, 0, |tx, force| match tx.push(&value, force) {
            Err(TrySendError::Full(())) => None,
            other => Some(other),
        })
        .await
        .map_err(|e| match e {
            TrySendError::Full(()) | TrySendError::Corrupted(()) => SendError::Corrupted(value),
            TrySendError::Disconnected(()) => SendError::Disconnected(value),
        })
    }
}

// The writer sleeps on its own record's bit of the space mask (it is not `Clone`).
crate::mpmc::participant_core! {
    impl[T: ShmType] Sender<T>;
    role: Role::Sender,
    counted: false,
    peers_gone: |tx| !tx.shared.peers_present(false, true),
    would_wait: |tx, _need| tx.would_wait_for(1),
    look_at_peers: |tx| tx.shared.peers_present(false, true)
}

crate::handle::readiness_methods! {
    impl[T: ShmType] Sender<T>;
    channel: "broadcast::channel::<u32>(2)",
    var: "tx",
    proceeds: "room may have freed in a lossless ring (a slow receiver read, left or died)",
    register: "assert!(!tx.register_readiness()?); // room: send at once"
}

crate::build::ring_options! {
    impl[T: ShmType] Sender<T>;
    example: "broadcast::Sender::<u64>",
    role: "its writer",
    opens: "If the writer's process died, this one takes over: what it published stays, a message it was writing is never seen.",
    create_segment: |l: Location, capacity, o: &Self| create_segment::<T>(RingKind::Broadcast, l, capacity, o),
    open_segment: |l: Location, _: &Self| open_segment::<T>(RingKind::Broadcast, l),
    attach: |s, _: &Self| Sender::attach(s)
}

#[cfg(not(shmring_loom))]
impl<T: ShmType> crate::RingOptions<Sender<T>> {
    /// The policy of a ring `create` makes (default [`Policy::Lossless`]); opening ignores
    /// it (the ring's own, from its header, holds).
    ///
    /// ```
    /// use shmring::broadcast::{Policy, Sender};
    /// let name = format!("shmring-doc-policy-{}", std::process::id());
    /// let tx = Sender::<u64>::options().policy(Policy::Overwrite).create(name.as_str(), 8)?;
    /// assert_eq!(tx.policy(), Policy::Overwrite);
    /// shmring::Segment::unlink_name(&name)?;
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }
}
