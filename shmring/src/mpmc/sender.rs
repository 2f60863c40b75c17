//! The mpmc sending handle: blocking, timed and async sends.

#[allow(unused_imports)]
use super::*;

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

    pub(super) fn send_until(
        &self,
        value: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        self.send_ref_until(&value, deadline)
            .map_err(|e| e.with_value(value))
    }

    pub(super) fn send_ref_until(
        &self,
        value: &(impl crate::storage::Source<T> + ?Sized),
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<()>> {
        let shared = &*self.shared;
        shared.wait_until(Role::Sender, self.strategy, deadline, |force| {
            shared.try_send_ref::<false>(value, force)
        })
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
