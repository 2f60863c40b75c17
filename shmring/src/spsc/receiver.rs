//! The spsc receiving handle: Lamport's receive with a cached tail, blocking and timed
//! receives, iterators, readiness, `recv_async` and the stream.

#[allow(unused_imports)]
use super::*;

impl<T: ShmType> Receiver<T> {
    #[cfg(not(shmring_loom))]
    pub(super) fn attach(segment: Arc<Segment>) -> Result<Receiver<T>, OpenError> {
        Receiver::attach_laid_out(segment, geometry::<T>())
    }

    /// [`attach`](Receiver::attach) to slots laid out as `geometry`.
    #[cfg(not(shmring_loom))]
    pub(super) fn attach_laid_out(
        segment: Arc<Segment>,
        geometry: crate::storage::Geometry,
    ) -> Result<Receiver<T>, OpenError> {
        let (end, head, tail) = End::attach_with_indices(segment, Role::Receiver, geometry)?;
        Ok(Receiver { end, head, tail })
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

    /// Like [`recv_into`](Receiver::recv_into), waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`recv_deadline`](Receiver::recv_deadline); `*dst` is unchanged then.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u32>(2)?;
    /// tx.send(8).unwrap();
    /// let mut v = 0;
    /// rx.recv_into_deadline(&mut v, Instant::now() + Duration::from_secs(1)).unwrap();
    /// assert_eq!(v, 8);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn recv_into_deadline(
        &mut self,
        dst: &mut T,
        deadline: Instant,
    ) -> Result<(), RecvTimeoutError> {
        match self.poll_quickly(|rx| rx.pop_into(dst, false)) {
            Ok(()) => Ok(()),
            Err(TryRecvError::Empty) => self.recv_wait(dst, Some(deadline)),
            Err(e) => Err(RecvTimeoutError::from(e)),
        }
    }

    /// Runs `attempt`, and while it finds the ring empty, up to [`QUICK_POLLS`] more times
    /// with a spin hint between: a message is usually a moment away, and this is cheaper than
    /// entering the waiting machinery.
    #[inline]
    pub(super) fn poll_quickly<R>(
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
    pub(super) fn recv_into_slow(
        &mut self,
        dst: &mut T,
        first: TryRecvError,
    ) -> Result<(), RecvError> {
        let result = match first {
            TryRecvError::Empty => self.recv_wait(dst, None),
            e => Err(RecvTimeoutError::from(e)),
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
    pub(super) fn recv_until(&mut self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        match self.poll_quickly(|rx| rx.pop(false)) {
            Ok(v) => Ok(v),
            Err(first) => self.recv_slow(first, deadline),
        }
    }

    /// A receive after a failed first attempt: wait if empty, else report.
    #[cold]
    #[inline(never)]
    pub(super) fn recv_slow(
        &mut self,
        first: TryRecvError,
        deadline: Option<Instant>,
    ) -> Result<T, RecvTimeoutError> {
        match first {
            TryRecvError::Empty => {
                let mut value = T::zeroed();
                self.recv_wait(&mut value, deadline).map(|()| value)
            }
            e => Err(RecvTimeoutError::from(e)),
        }
    }

    /// Waits for a message and copies it into `*dst`.
    #[inline(never)]
    pub(super) fn recv_wait(
        &mut self,
        dst: &mut T,
        deadline: Option<Instant>,
    ) -> Result<(), RecvTimeoutError> {
        self.wait_data(deadline, |rx, force| rx.pop_into(dst, force))
    }

    /// Waits (as the wait strategy says) until `attempt` finds a message and takes it.
    pub(super) fn wait_data(
        &mut self,
        deadline: Option<Instant>,
        mut attempt: impl FnMut(&mut Self, bool) -> Result<(), TryRecvError>,
    ) -> Result<(), RecvTimeoutError> {
        let area = self.end.area.clone();
        let mut waiter = self.end.waiter;
        let done = waiter.until(&*area, area.data_event(), deadline, |force| {
            attempt(self, force)
        });
        self.end.waiter = waiter;
        done
    }

    /// One attempt: `Ok` if the slot at `head` holds a published message.
    #[inline]
    pub(super) fn ready(&mut self, force: bool) -> Result<(), TryRecvError> {
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
    pub(super) fn pop(&mut self, force: bool) -> Result<T, TryRecvError> {
        self.ready(force)?;
        // SAFETY: `ready` found head < tail (validated), so the slot at `head` is published
        // and is not rewritten until `release` hands it back.
        let value = unsafe { self.end.area.read_one(self.head) };
        self.release(self.head + 1);
        Ok(value)
    }

    /// One attempt: copy the next message into `*dst` if one is published.
    #[inline]
    pub(super) fn pop_into(&mut self, dst: &mut T, force: bool) -> Result<(), TryRecvError> {
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
    pub(super) fn wait_free(&mut self, force: bool) -> Result<bool, TryRecvError> {
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
    pub(super) fn release(&mut self, head: u64) {
        self.head = head;
        self.end.publish_head(head);
    }

    /// Re-reads the sender's tail; `false` (and the handle marked corrupted) if it moved
    /// backwards or more than the capacity ahead of the head.
    pub(super) fn refresh_tail(&mut self) -> bool {
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
}

impl<T: ShmType> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("end", &self.end)
            .field("head", &self.head)
            .finish()
    }
}

/// Blocking iterator from [`Receiver::iter`].
#[derive(Debug)]
pub struct Iter<'a, T: ShmType> {
    pub(super) rx: &'a mut Receiver<T>,
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
    pub(super) rx: &'a mut Receiver<T>,
}

impl<T: ShmType> Iterator for TryIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

crate::spsc::end_core! {
    impl[T: ShmType] Receiver<T>;
    would_wait: |rx, _need| matches!(rx.ready(false), Err(TryRecvError::Empty))
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

    /// Like [`recv_async`](Receiver::recv_async), copying the message straight into `*dst`.
    ///
    /// # Cancel safety
    ///
    /// As [`recv_async`](Receiver::recv_async); `*dst` is written only by the poll that
    /// completes the future.
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv); `*dst` is unchanged then.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, mut rx) = shmring::spsc::channel::<[u8; 64]>(4)?;
    /// tx.send([9; 64]).unwrap();
    /// let mut buf = [0; 64];
    /// rx.recv_into_async(&mut buf).await.unwrap();
    /// assert_eq!(buf[63], 9);
    /// # Ok(()) }
    /// ```
    pub async fn recv_into_async(&mut self, dst: &mut T) -> Result<(), RecvError> {
        crate::handle::drive(self, 0, |rx, force| {
            crate::handle::received(rx.pop_into(dst, force))
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

crate::build::ring_options! {
    impl[T: ShmType] Receiver<T>;
    example: "spsc::Receiver::<u64>",
    role: "its receiver",
    opens: "If a receiver process died, this one takes over: it continues from the last message its predecessor released.",
    create_segment: |l: Location, capacity, o: &Self| {
        crate::build::create_with(create_options::<T>(capacity, &l), l, o)
    },
    open_segment: |l: Location, _: &Self| {
        open_ring::<T>(RingKind::Spsc, l, layout::geometry::<T>())
    },
    attach: |s, _: &Self| Receiver::attach(s)
}
