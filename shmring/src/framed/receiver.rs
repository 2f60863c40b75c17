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
        let (ring, capacity) = (&self.end.name, self.end.area.capacity());
        super::fmt_receiver(f, "framed::Receiver", ring, capacity, self.cursor.head)
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

    /// The waiting part of a receive whose first try found the ring empty.
    fn wait_into(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<u32, RecvTimeoutError> {
        let area = self.end.area.clone();
        let mut waiter = self.end.waiter;
        let done = waiter.until(&*area, area.data_event(), deadline, |force| {
            self.pop(buf, force)
        });
        self.end.waiter = waiter;
        done
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

super::byte_receiver_methods! {
    impl Receiver;
    example: "framed::Receiver",
    channel: "framed::channel(64)"
}
