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

super::byte_receiver_methods! {
    impl Receiver;
    channel: "framed::channel(64)"
}
