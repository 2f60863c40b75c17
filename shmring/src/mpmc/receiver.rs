//! The mpmc receiving handle: blocking, timed and async receives, iterators, the stream.

#[allow(unused_imports)]
use super::*;

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

    pub(super) fn recv_until(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let mut value = T::zeroed();
        self.recv_into_until(&mut value, deadline).map(|()| value)
    }

    /// Like [`recv_into`](Receiver::recv_into), waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`recv_deadline`](Receiver::recv_deadline); `*dst` is unspecified then.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (tx, rx) = shmring::mpmc::channel::<u32>(2)?;
    /// tx.send(8).unwrap();
    /// let mut v = 0;
    /// rx.recv_into_deadline(&mut v, Instant::now() + Duration::from_secs(1)).unwrap();
    /// assert_eq!(v, 8);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn recv_into_deadline(
        &self,
        dst: &mut T,
        deadline: Instant,
    ) -> Result<(), RecvTimeoutError> {
        self.recv_into_until(dst, Some(deadline))
    }

    pub(super) fn recv_into_until(
        &self,
        value: &mut (impl crate::storage::Sink<T> + ?Sized),
        deadline: Option<Instant>,
    ) -> Result<(), RecvTimeoutError> {
        let shared = &*self.shared;
        shared.wait_until(Role::Receiver, self.strategy, deadline, |force| {
            shared.try_recv_into::<false>(value, force)
        })
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

crate::handle::stream_method! {
    impl[T: ShmType + Send] Receiver<T> => T;
    channel: "mpmc::channel::<u32>(4)",
    send: "tx.send(5).unwrap();",
    first: "5"
}
