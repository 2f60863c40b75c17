//! The framed receiving handle: blocking, timed and async receives into reused buffers,
//! iterators, readiness and the stream.

#[allow(unused_imports)]
use super::*;

impl Drop for Receiver {
    /// Hands back what was consumed.
    fn drop(&mut self) {
        if !self.end.corrupted {
            self.hand_back();
        }
    }
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("framed::Receiver")
            .field("ring", &self.end.name)
            .field("capacity", &self.end.area.capacity())
            .field("head", &self.cursor.head)
            .finish()
    }
}

impl Receiver {
    #[cfg(not(shmring_loom))]
    pub(super) fn attach(segment: Arc<Segment>) -> Result<Receiver, OpenError> {
        let end = End::<u8>::attach(segment, Role::Receiver)?;
        let head = end.area.head().load(Ordering::Acquire);
        let tail = end.area.tail().load(Ordering::Acquire);
        let corrupted = |value: u64| OpenError::Corrupted {
            name: end.name.clone(),
            reason: HeaderError::BadField {
                field: "framed positions (tail - head)",
                value,
            },
        };
        // The head may be past the stored tail: a sender commits a record before it stores the
        // tail, and one killed in between leaves a record the receiver may already have taken.
        if head.abs_diff(tail) > end.area.capacity() {
            return Err(corrupted(tail.wrapping_sub(head)));
        }
        let cursor = Cursor::open(&end.area, CONSUMED_OFFSET)
            .map_err(|head| corrupted(tail.wrapping_sub(head)))?;
        let mut rx = Receiver { end, cursor };
        // A predecessor that died before handing back what it consumed: hand it back now.
        rx.hand_back();
        Ok(rx)
    }

    /// Sets how this handle waits when the ring is empty.
    ///
    /// ```
    /// let (_tx, rx) = shmring::framed::channel(64)?;
    /// let rx = rx.with_wait_strategy(shmring::WaitStrategy::BusyPoll);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn with_wait_strategy(mut self, strategy: WaitStrategy) -> Receiver {
        self.end.waiter = Waiter::new(strategy);
        self
    }

    /// The largest message this ring carries.
    ///
    /// ```
    /// let (_tx, rx) = shmring::framed::channel(64)?;
    /// assert_eq!(rx.max_message(), 24);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn max_message(&self) -> usize {
        max_message(self.end.area.capacity())
    }

    /// Receives the next message without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`], `Disconnected` once the ring is drained and the sender gone,
    /// `Corrupted` for an invalid record or position.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// assert_eq!(rx.try_recv(), Err(shmring::TryRecvError::Empty));
    /// tx.send(b"a").unwrap();
    /// assert_eq!(rx.try_recv().unwrap(), b"a");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_recv(&mut self) -> Result<Vec<u8>, TryRecvError> {
        let mut buf = Vec::new();
        self.try_recv_into(&mut buf).map(|_| buf)
    }

    /// Receives the next message into `buf` (cleared first; its allocation is reused) without
    /// waiting, and returns its tag.
    ///
    /// # Errors
    ///
    /// As [`try_recv`](Receiver::try_recv).
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// tx.send(b"abc").unwrap();
    /// let mut buf = Vec::with_capacity(64);
    /// assert_eq!(rx.try_recv_into(&mut buf), Ok(0));
    /// assert_eq!(buf, b"abc");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<u32, TryRecvError> {
        self.pop(buf, false)
    }

    /// Receives the next message, waiting as long as the ring is empty.
    ///
    /// # Errors
    ///
    /// [`RecvError::Disconnected`] once drained and the sender is gone, `Corrupted`.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// tx.send(b"x").unwrap();
    /// drop(tx);
    /// assert_eq!(rx.recv().unwrap(), b"x");
    /// assert_eq!(rx.recv(), Err(shmring::RecvError::Disconnected));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn recv(&mut self) -> Result<Vec<u8>, RecvError> {
        let mut buf = Vec::new();
        self.recv_into(&mut buf).map(|_| buf)
    }

    /// Receives the next message into `buf` (reusing its allocation: no allocation per
    /// message once it is large enough), waiting as long as the ring is empty; returns the
    /// tag.
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv).
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// tx.send_tagged(4, b"yz").unwrap();
    /// let mut buf = Vec::new();
    /// assert_eq!(rx.recv_into(&mut buf), Ok(4));
    /// assert_eq!(buf, b"yz");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<u32, RecvError> {
        self.recv_into_until(buf, None)
            .map_err(recv_without_timeout)
    }

    /// Receives, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv), plus [`RecvTimeoutError::Timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let (_tx, mut rx) = shmring::framed::channel(64)?;
    /// assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Err(shmring::RecvTimeoutError::Timeout));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Vec<u8>, RecvTimeoutError> {
        let mut buf = Vec::new();
        self.recv_into_until(&mut buf, Instant::now().checked_add(timeout))
            .map(|_| buf)
    }

    /// Receives, waiting until `deadline` (a `CLOCK_MONOTONIC` instant).
    ///
    /// # Errors
    ///
    /// As [`recv_timeout`](Receiver::recv_timeout).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// tx.send(b"d").unwrap();
    /// assert_eq!(rx.recv_deadline(Instant::now() + Duration::from_secs(1)).unwrap(), b"d");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn recv_deadline(&mut self, deadline: Instant) -> Result<Vec<u8>, RecvTimeoutError> {
        let mut buf = Vec::new();
        self.recv_into_until(&mut buf, Some(deadline)).map(|_| buf)
    }

    /// Like [`recv_into`](Receiver::recv_into), waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`recv_timeout`](Receiver::recv_timeout).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// tx.send(b"e").unwrap();
    /// let mut buf = Vec::new();
    /// rx.recv_into_deadline(&mut buf, Instant::now() + Duration::from_secs(1)).unwrap();
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn recv_into_deadline(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: Instant,
    ) -> Result<u32, RecvTimeoutError> {
        self.recv_into_until(buf, Some(deadline))
    }

    pub(super) fn recv_into_until(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<u32, RecvTimeoutError> {
        match self.pop(buf, false) {
            Ok(tag) => return Ok(tag),
            Err(TryRecvError::Empty) => {}
            Err(e) => return Err(try_recv_to_timeout(e)),
        }
        let area = self.end.area.clone();
        let mut waiter = self.end.waiter;
        let done = waiter.wait(&*area, area.data_event(), deadline, |force| {
            match self.pop(buf, force) {
                Ok(tag) => Step::Done(Ok(tag)),
                Err(TryRecvError::Empty) => Step::Retry,
                Err(e) => Step::Done(Err(try_recv_to_timeout(e))),
            }
        });
        self.end.waiter = waiter;
        done.unwrap_or(Err(RecvTimeoutError::Timeout))
    }

    /// An iterator that receives until the sender is gone and the ring drained.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::channel(256)?;
    /// tx.send(b"1").unwrap();
    /// tx.send(b"22").unwrap();
    /// drop(tx);
    /// assert_eq!(rx.iter().collect::<Vec<_>>(), [b"1".to_vec(), b"22".to_vec()]);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn iter(&mut self) -> impl Iterator<Item = Vec<u8>> + '_ {
        std::iter::from_fn(|| self.recv().ok())
    }

    /// An iterator over the messages available now.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::channel(256)?;
    /// tx.send(b"1").unwrap();
    /// assert_eq!(rx.try_iter().count(), 1);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_iter(&mut self) -> impl Iterator<Item = Vec<u8>> + '_ {
        std::iter::from_fn(|| self.try_recv().ok())
    }

    /// One attempt: take the next message (skipping padding) into `buf`.
    pub(super) fn pop(&mut self, buf: &mut Vec<u8>, force: bool) -> Result<u32, TryRecvError> {
        if self.end.corrupted {
            return Err(TryRecvError::Corrupted);
        }
        match self.cursor.next(&self.end.area, buf) {
            Next::Message(tag) => {
                if self.cursor.due(self.end.area.capacity()) {
                    self.hand_back();
                }
                Ok(tag)
            }
            Next::Corrupt => {
                self.end.corrupted = true;
                Err(TryRecvError::Corrupted)
            }
            Next::NotReady => {
                self.hand_back();
                match self.end.peer(force) {
                    Peer::Present => Err(TryRecvError::Empty),
                    Peer::Corrupt => Err(TryRecvError::Corrupted),
                    // The sender commits before it closes: a last look, then gone.
                    Peer::Gone => {
                        if header(&self.end.area, self.cursor.head).load(Ordering::Acquire) == 0 {
                            Err(TryRecvError::Disconnected)
                        } else {
                            self.pop(buf, false)
                        }
                    }
                }
            }
        }
    }

    /// Clears what was consumed and publishes the head with a Release store, waking a
    /// waiting sender.
    pub(super) fn hand_back(&mut self) {
        if let Some(head) = self.cursor.hand_back(&self.end.area) {
            self.end.publish_head(head);
        }
    }
}

crate::spsc::end_core! {
    impl[] Receiver;
    would_wait: |rx, _need| {
        header(&rx.end.area, rx.cursor.head).load(Ordering::Acquire) == 0
            && matches!(rx.end.peer(false), Peer::Present)
            && !rx.end.corrupted
    }
}

crate::handle::readiness_methods! {
    impl[] Receiver;
    channel: "framed::channel(64)",
    var: "rx",
    proceeds: "a message may have arrived (or the sender may be gone)",
    register: "assert!(rx.register_readiness()?); // empty: wait on rx.readiness_fd()"
}

/// `async` receiving (feature `tokio`).
#[cfg(all(feature = "tokio", not(shmring_loom)))]
impl Receiver {
    /// Receives the next message into `buf` (its tag returned), awaiting one without
    /// blocking the thread: try, spin briefly, then register and await the readiness eventfd.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a message is taken only in the poll that completes the future; `buf` is
    /// written only then.
    ///
    /// # Errors
    ///
    /// As [`recv_into`](Receiver::recv_into).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// tx.send(b"hi").unwrap();
    /// let mut buf = Vec::new();
    /// assert_eq!(rx.recv_into_async(&mut buf).await, Ok(0));
    /// assert_eq!(buf, b"hi");
    /// # Ok(()) }
    /// ```
    pub async fn recv_into_async(&mut self, buf: &mut Vec<u8>) -> Result<u32, RecvError> {
        crate::handle::drive(self, 0, |rx, force| {
            crate::handle::received(rx.pop(buf, force))
        })
        .await
    }

    /// [`recv_into_async`](Receiver::recv_into_async) into a new buffer.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as `recv_into_async`.
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// tx.send(b"hi").unwrap();
    /// assert_eq!(rx.recv_async().await.unwrap(), b"hi");
    /// # Ok(()) }
    /// ```
    pub async fn recv_async(&mut self) -> Result<Vec<u8>, RecvError> {
        let mut buf = Vec::new();
        self.recv_into_async(&mut buf).await.map(|_| buf)
    }
}

crate::handle::stream_method! {
    impl[] Receiver => Vec<u8>;
    channel: "framed::channel(64)",
    send: "tx.send(&[5]).unwrap();",
    first: "vec![5]"
}

crate::build::ring_options! {
    impl[] Receiver;
    example: "framed::Receiver",
    role: "its receiver",
    opens: "If a receiver process died, this one takes over and resumes where it stopped consuming (at most the message it was copying when it died is delivered again).",
    create_segment: create_segment,
    open_segment: open_segment,
    attach: Receiver::attach
}
