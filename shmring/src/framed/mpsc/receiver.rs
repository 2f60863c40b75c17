//! The many-producer framed receiving handle: construction and takeover, holding and
//! committing, blocking, timed and async receives, iterators, readiness, the stream.

#[allow(unused_imports)]
use super::*;

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (ring, capacity) = (&self.shared.name, self.shared.area.capacity());
        crate::framed::fmt_receiver(
            f,
            "framed::mpsc::Receiver",
            ring,
            capacity,
            self.cursor.head,
        )
    }
}

impl Drop for Receiver {
    /// Hands back what was consumed.
    fn drop(&mut self) {
        if !self.shared.is_corrupted() {
            self.hand_back();
        }
    }
}

impl Receiver {
    #[cfg(not(shmring_loom))]
    pub(super) fn attach(segment: Arc<Segment>) -> Result<Receiver, OpenError> {
        let shared = attach(segment, Role::Receiver)?;
        // One receiver at a time: having joined, look for another live one (two joining at
        // once may both give up; both never stay).
        shared.scan();
        if let Some(pid) = shared.other_live(Role::Receiver) {
            return Err(OpenError::RoleTaken {
                name: shared.name.clone(),
                role: "receiver",
                pid,
            });
        }
        let cursor =
            Cursor::open(&shared.area, CONSUMED_OFFSET).map_err(|head| OpenError::Corrupted {
                name: shared.name.clone(),
                reason: HeaderError::BadField {
                    field: "framed head",
                    value: head,
                },
            })?;
        shared.local_head.store(cursor.head, Ordering::Relaxed);
        let mut rx = Receiver {
            shared,
            cursor,
            strategy: default_strategy(),
            readiness: Default::default(),
        };
        // A predecessor that died before handing back what it consumed: hand it back now.
        rx.hand_back();
        Ok(rx)
    }

    /// Sets how this handle waits when the ring is empty.
    ///
    /// ```
    /// let (_tx, rx) = shmring::framed::mpsc::channel(64)?;
    /// let rx = rx.with_wait_strategy(shmring::WaitStrategy::BusyPoll);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn with_wait_strategy(mut self, strategy: WaitStrategy) -> Receiver {
        self.strategy = strategy;
        self
    }

    /// The largest message this ring carries.
    ///
    /// ```
    /// let (_tx, rx) = shmring::framed::mpsc::channel(128)?;
    /// assert_eq!(rx.max_message(), 56);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn max_message(&self) -> usize {
        max_message(self.shared.area.capacity())
    }

    /// How many producers of this ring were found dead — killed, or crashed without
    /// dropping their handle — and cleaned up since the ring was created (by any
    /// participant's scan; a receiver that saw [`Disconnected`](TryRecvError::Disconnected)
    /// has seen every producer's departure counted). A producer killed in the middle of a
    /// message leaves no part of it: that message is lost, the others are whole.
    ///
    /// ```
    /// let (tx, rx) = shmring::framed::mpsc::channel(64)?;
    /// drop(tx); // closed, not dead
    /// assert_eq!(rx.dead_senders(), 0);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn dead_senders(&self) -> u32 {
        self.shared.reaped(Role::Sender)
    }

    /// Receives the next message into `buf` (cleared first; its allocation is reused) without
    /// waiting, and returns its tag.
    ///
    /// # Errors
    ///
    /// As [`try_recv`](Receiver::try_recv).
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(64)?;
    /// tx.send(b"abc").unwrap();
    /// let mut buf = Vec::with_capacity(64);
    /// assert_eq!(rx.try_recv_into(&mut buf), Ok(0));
    /// assert_eq!(buf, b"abc");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<u32, TryRecvError> {
        match self.pop(buf, false) {
            Err(TryRecvError::Empty) => match self.wait_in_flight(buf) {
                Some(result) => result,
                None => self.pop(buf, false),
            },
            other => other,
        }
    }

    /// Holds what this receiver takes from now on: messages received are not consumed until
    /// [`commit`](Receiver::commit). Until then [`rewind`](Receiver::rewind) takes them again,
    /// and so does the next receiver of the ring if this one is dropped or killed first — at
    /// least once delivery for a consumer whose own output can fail after it took a message
    /// (the `shmring recv` command commits only what `write(2)` accepted, so a closed pipe
    /// leaves the rest in the ring). Held messages keep their space: commit often, or the
    /// producers find the ring full.
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(256)?;
    /// for m in [b"a", b"b", b"c"] { tx.send(m).unwrap(); }
    /// rx.hold();
    /// assert_eq!(rx.recv().unwrap(), b"a");
    /// rx.commit();                       // "a" is consumed
    /// assert_eq!(rx.recv().unwrap(), b"b");
    /// rx.rewind();                       // "b" was not committed: taken again
    /// assert_eq!(rx.recv().unwrap(), b"b");
    /// assert_eq!(rx.recv().unwrap(), b"c");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn hold(&mut self) {
        self.cursor.hold();
    }

    /// Consumes the messages taken since holding began or since the last commit; holding
    /// goes on. Without [`hold`](Receiver::hold), messages are consumed as they are taken and
    /// this does nothing.
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(256)?;
    /// tx.send(b"x").unwrap();
    /// rx.hold();
    /// rx.recv().unwrap();
    /// rx.commit();
    /// rx.rewind(); // nothing to take again
    /// assert!(rx.try_recv().is_err());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn commit(&mut self) {
        self.cursor.commit(&self.shared.area);
        if self.cursor.due(self.shared.area.capacity()) {
            self.hand_back();
        }
    }

    /// Goes back to the first message taken since the last commit (or since holding began),
    /// so that it and the messages after it are received again. Without
    /// [`hold`](Receiver::hold) this does nothing.
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(256)?;
    /// tx.send(b"x").unwrap();
    /// rx.hold();
    /// assert_eq!(rx.recv().unwrap(), b"x");
    /// rx.rewind();
    /// assert_eq!(rx.recv().unwrap(), b"x");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn rewind(&mut self) {
        self.cursor.rewind();
        self.shared
            .local_head
            .store(self.cursor.head, Ordering::Relaxed);
    }

    /// Commits what was taken and stops holding: messages are consumed as they are taken
    /// again.
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(256)?;
    /// rx.hold();
    /// tx.send(b"x").unwrap();
    /// rx.recv().unwrap();
    /// rx.unhold();
    /// rx.rewind(); // not holding: nothing to take again
    /// assert!(rx.try_recv().is_err());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn unhold(&mut self) {
        self.cursor.unhold(&self.shared.area);
        self.hand_back();
    }

    /// The waiting part of a receive whose first try found the ring empty.
    fn wait_into(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<u32, RecvTimeoutError> {
        let mut waiter = Waiter::new(self.strategy);
        let area = self.shared.area.clone();
        let index = self.shared.index;
        // The sleeper count is process-local and only this handle receives, so a private
        // one serves (the shared record's count is borrowed by `self` below).
        let sleepers = crate::sync::Mutex::new(0);
        let event = area.event(Role::Receiver, index, &sleepers);
        waiter.until(area.storage(), event, deadline, |force| {
            self.pop(buf, force)
        })
    }
}

// The receiver announces itself by its own bit in the waiting mask.
crate::mpmc::participant_core! {
    impl[] Receiver;
    role: Role::Receiver,
    counted: false,
    // The scan may settle dead producers' claims: from this receiver's position.
    peers_gone: |rx| {
        rx.shared.local_head.store(rx.cursor.head, Ordering::Relaxed);
        !rx.shared.peers_present(false, true)
    },
    // Nothing committed at the head: no header, or a claim still being written.
    would_wait: |rx, _need| {
        let word = header(&rx.shared.area, rx.cursor.head).load(Ordering::Acquire);
        (word == 0 || (word >> 32) as u32 == record::CLAIMED) && !rx.shared.is_corrupted()
    },
    look_at_peers: |rx| {
        rx.shared.local_head.store(rx.cursor.head, Ordering::Relaxed);
        rx.shared.peers_present(false, true)
    }
}

crate::framed::byte_receiver_methods! {
    impl Receiver;
    example: "framed::mpsc::Receiver",
    channel: "framed::mpsc::channel(64)"
}
