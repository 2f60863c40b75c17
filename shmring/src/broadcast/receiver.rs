//! A broadcast receiver: joining at the next or the oldest message, the seqlock copy, being
//! overtaken (`Lagged`), blocking, timed and async receives, iterators, the stream.

#[allow(unused_imports)]
use super::*;
use crate::wait::{Attempt, Futex};

impl<T: ShmType> Receiver<T> {
    /// The receiver on `shared`, its cursor announced: at the next message, or (`from_oldest`)
    /// at the oldest the ring still holds.
    pub(super) fn from_shared(
        shared: Participant<T>,
        overwrite: bool,
        from_oldest: bool,
    ) -> Result<Receiver<T>, OpenError> {
        let area = shared.area.clone();
        let capacity = area.capacity();
        let corrupted = |tail: u64| OpenError::Corrupted {
            name: shared.name.clone(),
            reason: crate::header::HeaderError::BadField {
                field: "broadcast tail",
                value: tail,
            },
        };
        let first = area.tail().load(Ordering::Acquire);
        if first >= MAX_POSITION {
            return Err(corrupted(first));
        }
        let mut cursor = if from_oldest {
            oldest(first, capacity)
        } else {
            first
        };
        let lane = area.lane(shared.index, 0);
        lane.store(cursor, Ordering::Relaxed);
        // Announce the cursor to a lossless writer: it reads the epoch after every
        // publication's fence, so either it sees this bump (and the cursor), or the tail
        // read below shows every position it may overwrite without knowing of us.
        // The fence orders the bump before the tail read below for the C11 argument (a
        // SeqCst RMW and load alone do not, in the models loom explores); the heavy barrier
        // stands in for the full fence a writer that notifies lightly leaves out.
        area.epoch().fetch_add(1, Ordering::SeqCst);
        crate::sync::fence(Ordering::SeqCst);
        area.storage().heavy_barrier();
        let tail = area.tail().load(Ordering::SeqCst);
        if tail < first || tail >= MAX_POSITION {
            return Err(corrupted(tail));
        }
        cursor = cursor.max(oldest(tail, capacity));
        lane.store(cursor, Ordering::Release);
        Ok(Receiver {
            shared,
            strategy: default_strategy(),
            cursor,
            published: cursor,
            tail: cursor,
            overwrite,
            #[cfg(not(shmring_loom))]
            readiness: Default::default(),
        })
    }

    #[cfg(not(shmring_loom))]
    pub(crate) fn attach(
        segment: Arc<Segment>,
        from_oldest: bool,
    ) -> Result<Receiver<T>, OpenError> {
        let geometry = slot_geometry::<T>(segment.info().overwrite);
        Receiver::attach_laid_out(segment, from_oldest, geometry)
    }

    /// A receiver of `segment`, whose slots are laid out as `geometry` (the payload type is
    /// known at run time: [`DynReceiver`](super::DynReceiver)).
    #[cfg(not(shmring_loom))]
    pub(crate) fn attach_laid_out(
        segment: Arc<Segment>,
        from_oldest: bool,
        geometry: Geometry,
    ) -> Result<Receiver<T>, OpenError> {
        let overwrite = segment.info().overwrite;
        Receiver::from_shared(
            join(segment, Role::Receiver, geometry)?,
            overwrite,
            from_oldest,
        )
    }

    /// Sets how this handle waits when the ring is empty.
    ///
    /// ```
    /// let (_tx, rx) = shmring::broadcast::channel::<u8>(2)?;
    /// let rx = rx.with_wait_strategy(shmring::WaitStrategy::BusyPoll);
    /// # let _ = rx;
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn with_wait_strategy(mut self, strategy: WaitStrategy) -> Receiver<T> {
        self.strategy = strategy;
        self
    }

    /// The ring's policy for slow receivers (recorded in its header).
    ///
    /// ```
    /// let (_tx, rx) = shmring::broadcast::channel::<u8>(2)?;
    /// assert_eq!(rx.policy(), shmring::broadcast::Policy::Lossless);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn policy(&self) -> Policy {
        policy_of(self.overwrite)
    }

    /// This receiver's backlog: messages sent that it has not received yet (at most the
    /// capacity: in an overwrite ring, more means it was overtaken).
    ///
    /// ```
    /// let (mut tx, rx) = shmring::broadcast::channel::<u8>(4)?;
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.len(), 2);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn len(&self) -> usize {
        let tail = self.shared.area.tail().load(Ordering::Acquire);
        tail.saturating_sub(self.cursor)
            .min(self.shared.area.capacity()) as usize
    }

    /// Whether this receiver has nothing to receive now (`len() == 0`).
    ///
    /// ```
    /// let (_tx, rx) = shmring::broadcast::channel::<u8>(4)?;
    /// assert!(rx.is_empty());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next position this receiver reads (messages sent before it: the ring's count).
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::broadcast::channel::<u8>(4)?;
    /// tx.send(1).unwrap();
    /// rx.recv().unwrap();
    /// assert_eq!(rx.position(), 1);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn position(&self) -> u64 {
        self.cursor
    }

    /// Receives without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`]; [`TryRecvError::Lagged(n)`](TryRecvError::Lagged) when the
    /// writer overtook this receiver (it goes on from the oldest message held: receive
    /// again); `Disconnected` once everything sent was received and the writer is gone;
    /// `Corrupted` after invalid shared state.
    ///
    /// ```
    /// use shmring::broadcast::TryRecvError;
    /// let (mut tx, mut rx) = shmring::broadcast::channel::<u8>(4)?;
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(4).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(4));
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut value = T::zeroed();
        self.pop(&mut value, false).map(|()| value)
    }

    /// Like [`try_recv`](Receiver::try_recv), copying the message straight into `*dst`.
    ///
    /// # Errors
    ///
    /// As [`try_recv`](Receiver::try_recv); `*dst` is unspecified then.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::broadcast::channel::<[u64; 64]>(2)?;
    /// tx.send([2; 64]).unwrap();
    /// let mut buf = [0; 64];
    /// rx.try_recv_into(&mut buf).unwrap();
    /// assert_eq!(buf[0], 2);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_recv_into(&mut self, dst: &mut T) -> Result<(), TryRecvError> {
        self.pop(dst, false)
    }

    /// Receives, waiting while there is nothing new.
    ///
    /// # Errors
    ///
    /// [`RecvError::Lagged(n)`](RecvError::Lagged) when the writer overtook this receiver
    /// (receive again); `Disconnected` once everything sent was received and the writer is
    /// gone; `Corrupted` after invalid shared state.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::broadcast::channel::<u8>(4)?;
    /// tx.send(1).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.recv(), Ok(1));
    /// assert_eq!(rx.recv(), Err(shmring::broadcast::RecvError::Disconnected));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn recv(&mut self) -> Result<T, RecvError> {
        let mut value = T::zeroed();
        self.recv_into(&mut value).map(|()| value)
    }

    /// Like [`recv`](Receiver::recv), copying the message straight into `*dst`.
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv); `*dst` is unspecified then.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::broadcast::channel::<u32>(2)?;
    /// tx.send(5).unwrap();
    /// let mut v = 0;
    /// rx.recv_into(&mut v).unwrap();
    /// assert_eq!(v, 5);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn recv_into(&mut self, dst: &mut T) -> Result<(), RecvError> {
        self.recv_into_until(dst, None)
            .map_err(error::without_timeout)
    }

    /// Receives, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv), plus [`RecvTimeoutError::Timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use shmring::broadcast::RecvTimeoutError;
    /// let (_tx, mut rx) = shmring::broadcast::channel::<u8>(2)?;
    /// assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let mut value = T::zeroed();
        self.recv_into_until(&mut value, Instant::now().checked_add(timeout))
            .map(|()| value)
    }

    /// Receives, waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`recv_timeout`](Receiver::recv_timeout).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (mut tx, mut rx) = shmring::broadcast::channel::<u8>(2)?;
    /// tx.send(3).unwrap();
    /// assert_eq!(rx.recv_deadline(Instant::now() + Duration::from_secs(1)), Ok(3));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn recv_deadline(&mut self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        let mut value = T::zeroed();
        self.recv_into_until(&mut value, Some(deadline))
            .map(|()| value)
    }

    /// Like [`recv_into`](Receiver::recv_into), waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`recv_deadline`](Receiver::recv_deadline); `*dst` is unspecified then.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (mut tx, mut rx) = shmring::broadcast::channel::<u32>(2)?;
    /// tx.send(8).unwrap();
    /// let mut v = 0;
    /// rx.recv_into_deadline(&mut v, Instant::now() + Duration::from_secs(1)).unwrap();
    /// assert_eq!(v, 8);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn recv_into_deadline(
        &mut self,
        dst: &mut T,
        deadline: Instant,
    ) -> Result<(), RecvTimeoutError> {
        self.recv_into_until(dst, Some(deadline))
    }

    /// A blocking iterator: yields messages until the writer is gone and everything was
    /// received; a `Lagged` gap is skipped (see [`recv`](Receiver::recv) to see it), and the
    /// iterator ends on a corrupted ring.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::broadcast::channel::<u8>(4)?;
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.iter().collect::<Vec<_>>(), [1, 2]);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn iter(&mut self) -> impl Iterator<Item = T> + '_ {
        skipping_lagged(move || self.recv(), RecvError::is_lagged)
    }

    /// A non-blocking iterator over what is there now (a `Lagged` gap is skipped).
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::broadcast::channel::<u8>(4)?;
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1]);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_iter(&mut self) -> impl Iterator<Item = T> + '_ {
        skipping_lagged(move || self.try_recv(), TryRecvError::is_lagged)
    }

    #[inline]
    pub(super) fn recv_into_until(
        &mut self,
        dst: &mut (impl Sink<T> + ?Sized),
        deadline: Option<std::time::Instant>,
    ) -> Result<(), RecvTimeoutError> {
        let first = self.pop(dst, false);
        if !first.retry() {
            return first.done();
        }
        self.wait_into(dst, deadline)
    }

    /// The waiting part of [`recv_into_until`](Receiver::recv_into_until).
    #[cold]
    #[inline(never)]
    fn wait_into(
        &mut self,
        dst: &mut (impl Sink<T> + ?Sized),
        deadline: Option<std::time::Instant>,
    ) -> Result<(), RecvTimeoutError> {
        let area = self.shared.area.clone();
        let (index, strategy) = (self.record(), self.strategy);
        wait_on_record(&area, index, strategy, deadline, |force| {
            self.pop(dst, force)
        })
    }

    /// One attempt: copy the message at the cursor under its stamp. The common case — the
    /// tail last read covers the cursor and the copy is whole — inline; the rest
    /// ([`pop_slow`](Receiver::pop_slow)) out of line.
    #[inline]
    pub(super) fn pop(
        &mut self,
        dst: &mut (impl Sink<T> + ?Sized),
        force: bool,
    ) -> Result<(), TryRecvError> {
        let position = self.cursor;
        if position < self.tail
            && self.tail - position <= self.shared.area.capacity()
            && !self.shared.is_corrupted()
            && read_slot(&self.shared.area, position, dst) == Slot::Copied
        {
            self.advance(position + 1, false);
            return Ok(());
        }
        self.pop_slow(dst, force)
    }

    /// [`pop`](Receiver::pop) when the cursor has caught up with the tail last read, was
    /// overtaken, or the ring is corrupted.
    #[cold]
    #[inline(never)]
    fn pop_slow(
        &mut self,
        dst: &mut (impl Sink<T> + ?Sized),
        force: bool,
    ) -> Result<(), TryRecvError> {
        let position = self.next_position(force)?;
        match read_slot(&self.shared.area, position, dst) {
            Slot::Copied => {
                self.advance(position + 1, false);
                Ok(())
            }
            Slot::Overwritten => Err(self.overtaken()),
            Slot::Corrupt => Err(self.corrupt()),
        }
    }

    /// The cursor, if the writer published it: `Empty` (announcing the cursor first, so a
    /// lossless writer waiting on this receiver goes on), `Disconnected` once the writer is
    /// gone and everything was read, `Lagged` when the cursor is more than a ring behind,
    /// `Corrupted`.
    pub(crate) fn next_position(&mut self, force: bool) -> Result<u64, TryRecvError> {
        if self.shared.is_corrupted() {
            return Err(TryRecvError::Corrupted);
        }
        let position = self.cursor;
        if position == self.tail && !self.look_at_tail()? {
            if self.published != position {
                self.announce();
            }
            // Nothing new: the writer gone (after a last look at the tail) means the end.
            if self.shared.peers_present(true, force) || self.look_at_tail()? {
                return Err(TryRecvError::Empty);
            }
            return Err(TryRecvError::Disconnected);
        }
        if self.tail - position > self.shared.area.capacity() {
            return Err(self.overtaken());
        }
        Ok(position)
    }

    /// The writer's tail as this receiver last read it (every position below it is
    /// published).
    pub(crate) fn seen_tail(&self) -> u64 {
        self.tail
    }

    /// The index of this receiver's record (whose bit of the data mask it sleeps under).
    pub(crate) fn record(&self) -> usize {
        self.shared.index
    }

    /// How this handle waits.
    pub(crate) fn strategy(&self) -> WaitStrategy {
        self.strategy
    }

    /// The ring's area.
    pub(crate) fn area(&self) -> &Area<T> {
        &self.shared.area
    }

    /// Whether a receive would wait now (nothing new, the ring sound).
    pub(crate) fn nothing_new(&self) -> bool {
        self.shared.area.tail().load(Ordering::Acquire) == self.cursor
            && !self.shared.is_corrupted()
    }

    /// Reads the writer's tail: whether it moved past the cursor (`Corrupted` for a tail
    /// that went backwards or out of range).
    fn look_at_tail(&mut self) -> Result<bool, TryRecvError> {
        let tail = self.shared.area.tail().load(Ordering::Acquire);
        if tail < self.cursor || tail >= MAX_POSITION {
            return Err(self.corrupt());
        }
        self.tail = tail;
        Ok(tail != self.cursor)
    }

    /// The writer overtook this receiver: go on from the oldest message the ring holds now.
    fn overtaken(&mut self) -> TryRecvError {
        let from = self.cursor;
        match self.skip_to_oldest() {
            Ok(()) => TryRecvError::Lagged(self.cursor - from),
            Err(e) => e,
        }
    }

    /// Moves the cursor past what the writer may be overwriting now: to the oldest position
    /// the ring holds (at least one past the cursor), announced at once.
    pub(crate) fn skip_to_oldest(&mut self) -> Result<(), TryRecvError> {
        self.look_at_tail()?;
        let resume = oldest(self.tail, self.shared.area.capacity()).max(self.cursor + 1);
        self.advance(resume, true);
        Ok(())
    }

    /// Moves the cursor to `position`; announces it (and lets a lossless writer waiting on
    /// this receiver go on) once a quarter of the ring was read since the last time, or at
    /// once with `now`. The announced cursor lags the real one by less than a quarter ring,
    /// which only makes a lossless writer more careful; a receiver that finds the ring empty
    /// announces before it waits, so a writer waiting for room is always served.
    #[inline]
    pub(crate) fn advance(&mut self, position: u64, now: bool) {
        self.cursor = position;
        let quarter = (self.shared.area.capacity() / 4).max(1);
        if now || position - self.published >= quarter {
            self.announce();
        }
    }

    /// Publishes the cursor and wakes a lossless writer waiting for room.
    #[cold]
    fn announce(&mut self) {
        self.published = self.cursor;
        self.shared
            .area
            .lane(self.shared.index, 0)
            .store(self.cursor, Ordering::Release);
        if !self.overwrite {
            self.shared.notify(Role::Sender);
        }
    }

    pub(crate) fn corrupt(&self) -> TryRecvError {
        self.shared.corrupt();
        TryRecvError::Corrupted
    }

    /// Marks this receiver dead without releasing anything, as a process killed at that
    /// point would leave it (loom models of the crash protocol).
    #[doc(hidden)]
    #[cfg(shmring_loom)]
    pub fn die(self) {
        self.shared.die();
    }
}

/// `async` receiving (feature `tokio`).
#[cfg(all(feature = "tokio", not(shmring_loom)))]
impl<T: ShmType> Receiver<T> {
    /// Like [`recv_async`](Receiver::recv_async), copying the message into `*dst`.
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv); `*dst` is unspecified then.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, mut rx) = shmring::broadcast::channel::<u32>(2)?;
    /// tx.send(6).unwrap();
    /// let mut v = 0;
    /// rx.recv_into_async(&mut v).await.unwrap();
    /// assert_eq!(v, 6);
    /// # Ok(()) }
    /// ```
    pub async fn recv_into_async(&mut self, dst: &mut T) -> Result<(), RecvError> {
        crate::handle::drive(self, 0, |rx, force| error::received(rx.pop(dst, force))).await
    }

    /// Receives without blocking the thread: try, spin briefly, then register and await
    /// this handle's readiness eventfd.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes takes no message.
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, mut rx) = shmring::broadcast::channel::<u8>(2)?;
    /// tx.send(6).unwrap();
    /// assert_eq!(rx.recv_async().await, Ok(6));
    /// # Ok(()) }
    /// ```
    pub async fn recv_async(&mut self) -> Result<T, RecvError> {
        let mut value = T::zeroed();
        self.recv_into_async(&mut value).await.map(|()| value)
    }
}

// A receiver sleeps on its own record's bit of the data mask (it is not `Clone`).
crate::mpmc::participant_core! {
    impl[T: ShmType] Receiver<T>;
    role: Role::Receiver,
    counted: false,
    peers_gone: |rx| !rx.shared.peers_present(false, true),
    would_wait: |rx, _need| rx.nothing_new(),
    look_at_peers: |rx| rx.shared.peers_present(false, true)
}

crate::handle::stream_method! {
    impl[T: ShmType + Send] Receiver<T> => T, RecvError;
    channel: "broadcast::channel::<u32>(2)",
    send: "tx.send(5).unwrap();",
    first: "5"
}

crate::handle::readiness_methods! {
    impl[T: ShmType] Receiver<T>;
    channel: "broadcast::channel::<u32>(2)",
    var: "rx",
    proceeds: "a message may have arrived (or the writer may be gone)",
    register: "assert!(rx.register_readiness()?); // nothing yet: wait on rx.readiness_fd()"
}

crate::build::ring_options! {
    impl[T: ShmType] Receiver<T>;
    example: "broadcast::Receiver::<u64>",
    role: "one more receiver",
    opens: "Any number of receivers may attach (up to the participant table), each at the next message, or at the oldest held with `options().from_oldest()`; a dead receiver's record is reaped.",
    create_segment: |l: Location, capacity, o: &Self| create_segment::<T>(RingKind::Broadcast, l, capacity, o),
    open_segment: |l: Location, _: &Self| open_segment::<T>(RingKind::Broadcast, l),
    attach: |s, o: &Self| Receiver::attach(s, o.from_oldest)
}

#[cfg(not(shmring_loom))]
impl<T: ShmType> crate::RingOptions<Receiver<T>> {
    /// Start at the oldest message the ring still holds (up to `capacity − 1` messages of
    /// history for a late joiner), not at the next one.
    ///
    /// ```
    /// use shmring::broadcast::{Receiver, Sender};
    /// let name = format!("shmring-doc-oldest-{}", std::process::id());
    /// let mut tx = Sender::<u64>::create(name.as_str(), 8)?;
    /// for i in 0..3 { tx.send(i).unwrap(); }
    /// let mut late = Receiver::<u64>::options().from_oldest().open(name.as_str())?;
    /// assert_eq!(late.try_iter().collect::<Vec<_>>(), [0, 1, 2]);
    /// shmring::Segment::unlink_name(&name)?;
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn from_oldest(mut self) -> Self {
        self.from_oldest = true;
        self
    }

    /// The policy of a ring `create` makes (see [`RingOptions::policy`](crate::RingOptions)
    /// on the writer's options); opening ignores it.
    ///
    /// ```
    /// use shmring::broadcast::{Policy, Receiver};
    /// let opts = Receiver::<u64>::options().policy(Policy::Overwrite);
    /// # let _ = opts;
    /// ```
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }
}
