//! The spsc sending handle: Lamport's send with a cached head, blocking and timed sends,
//! readiness and `send_async`.

#[allow(unused_imports)]
use super::*;

impl<T: ShmType> Sender<T> {
    #[cfg(not(shmring_loom))]
    pub(super) fn attach(segment: Arc<Segment>) -> Result<Sender<T>, OpenError> {
        Sender::attach_laid_out(segment, geometry::<T>())
    }

    /// [`attach`](Sender::attach) to slots laid out as `geometry`.
    #[cfg(not(shmring_loom))]
    pub(super) fn attach_laid_out(
        segment: Arc<Segment>,
        geometry: crate::storage::Geometry,
    ) -> Result<Sender<T>, OpenError> {
        let (end, head, tail) = End::attach_with_indices(segment, Role::Sender, geometry)?;
        Ok(Sender { end, tail, head })
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
    pub(super) fn send_ref_slow(
        &mut self,
        value: &T,
        first: TrySendError<()>,
    ) -> Result<(), SendError<()>> {
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
    pub(super) fn send_until(
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
    pub(super) fn send_slow(
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
    pub(super) fn send_wait(
        &mut self,
        value: &T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<()>> {
        self.wait_space(deadline, |tx, force| tx.push_ref(value, force))
    }

    /// Waits (as the wait strategy says) until `attempt` finds a free slot and fills it.
    pub(super) fn wait_space(
        &mut self,
        deadline: Option<Instant>,
        mut attempt: impl FnMut(&mut Self, bool) -> Result<(), TrySendError<()>>,
    ) -> Result<(), SendTimeoutError<()>> {
        let area = self.end.area.clone();
        let mut waiter = self.end.waiter;
        let done = waiter.until(&*area, area.space_event(), deadline, |force| {
            attempt(self, force)
        });
        self.end.waiter = waiter;
        done
    }

    /// One attempt: `Ok` if the slot at `tail` is free for this sender to write.
    #[inline]
    pub(super) fn reserve(&mut self, force: bool) -> Result<(), TrySendError<()>> {
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
    pub(super) fn push(&mut self, value: T, force: bool) -> Result<(), TrySendError<T>> {
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
    pub(super) fn push_ref(&mut self, value: &T, force: bool) -> Result<(), TrySendError<()>> {
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
    pub(super) fn publish(&mut self, tail: u64) {
        self.tail = tail;
        self.end.publish_tail(tail);
    }

    /// Re-reads the receiver's head; `false` (and the handle marked corrupted) if it moved
    /// backwards or past the tail.
    pub(super) fn refresh_head(&mut self) -> bool {
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
}

impl<T: ShmType> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("end", &self.end)
            .field("tail", &self.tail)
            .finish()
    }
}

crate::spsc::end_core! {
    impl[T: ShmType] Sender<T>;
    would_wait: |tx, _need| matches!(tx.reserve(false), Err(TrySendError::Full(())))
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

    /// Like [`send_async`](Sender::send_async), copying from `*value`: for large payloads,
    /// one copy instead of moving the value into the call.
    ///
    /// # Cancel safety
    ///
    /// As [`send_async`](Sender::send_async).
    ///
    /// # Errors
    ///
    /// As [`send_ref`](Sender::send_ref).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, mut rx) = shmring::spsc::channel::<[u64; 128]>(2)?;
    /// tx.send_ref_async(&[5; 128]).await.unwrap();
    /// assert_eq!(rx.recv().unwrap()[0], 5);
    /// # Ok(()) }
    /// ```
    pub async fn send_ref_async(&mut self, value: &T) -> Result<(), SendError<()>> {
        crate::handle::drive(self, 0, |tx, force| match tx.push_ref(value, force) {
            Ok(()) => Some(Ok(())),
            Err(TrySendError::Full(())) => None,
            Err(TrySendError::Disconnected(())) => Some(Err(SendError::Disconnected(()))),
            Err(TrySendError::Corrupted(())) => Some(Err(SendError::Corrupted(()))),
        })
        .await
    }
}

crate::build::ring_options! {
    impl[T: ShmType] Sender<T>;
    example: "spsc::Sender::<u64>",
    role: "its sender",
    opens: "If a sender process died, this one takes over its role, and what it had published stays in the ring.",
    create_segment: |l: Location, capacity, o: &Self| {
        crate::build::create_with(create_options::<T>(capacity, &l), l, o)
    },
    open_segment: |l: Location, _: &Self| {
        open_ring::<T>(RingKind::Spsc, l, layout::geometry::<T>())
    },
    attach: |s, _: &Self| Sender::attach(s)
}
