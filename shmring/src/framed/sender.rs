//! The framed sending handle (one producer): claiming room, padding at the wrap, committing
//! records; blocking, timed and async sends and readiness.

#[allow(unused_imports)]
use super::*;
use crate::storage::MAX_POSITION;

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("framed::Sender")
            .field("ring", &self.end.name)
            .field("capacity", &self.end.area.capacity())
            .field("tail", &self.tail)
            .finish()
    }
}

impl Sender {
    #[cfg(not(shmring_loom))]
    pub(super) fn attach(segment: Arc<Segment>) -> Result<Sender, OpenError> {
        let end = End::<u8>::attach(segment, Role::Sender)?;
        let corrupted = |what: &'static str, value: u64| OpenError::Corrupted {
            name: end.name.clone(),
            reason: HeaderError::BadField { field: what, value },
        };
        let area = &end.area;
        let capacity = area.capacity();
        let max = max_message(capacity);
        // Find the end of what is committed: a predecessor commits a record before it stores
        // the tail, so follow committed headers from the stored tail — but never into the
        // receiver's part of the ring: at `head + capacity` a full ring's next lap begins,
        // and the header there is the receiver's next record, not one of ours.
        let head = area.head().load(Ordering::Acquire);
        let mut tail = area.tail().load(Ordering::Acquire);
        if tail % record::ALIGN as u64 != 0 {
            return Err(corrupted("framed tail alignment", tail));
        }
        // Before `head` can become a position read below (a hostile unaligned head used to
        // reach the header read: a debug assertion, an unaligned atomic in release).
        if head % record::ALIGN as u64 != 0 {
            return Err(corrupted("framed head alignment", head));
        }
        // Nor may a position near the end of the range make the sums below overflow.
        for (what, pos) in [("framed head", head), ("framed tail", tail)] {
            if pos >= MAX_POSITION {
                return Err(corrupted(what, pos));
            }
        }
        tail = tail.max(head);
        for _ in 0..3 {
            if tail.wrapping_sub(head) >= capacity {
                break;
            }
            let index = (tail & area.mask) as usize;
            match record::decode(
                header(area, tail).load(Ordering::Acquire),
                index,
                capacity as usize,
                max,
            ) {
                Ok(Record::Message { span, .. }) => tail += span as u64,
                Ok(Record::Padding { span }) => tail += span as u64,
                Ok(Record::Empty) => break,
                Ok(Record::Claimed { .. }) | Err(_) => {
                    return Err(corrupted("framed record at the tail", tail));
                }
            }
        }
        // The receiver may have taken records past the stored tail (committed by a
        // predecessor killed before it stored the tail) and cleared their headers before
        // handing them back: its consumed position says how far it went. It is stored before
        // a header is cleared (Release, `Cursor::release`), so a header seen cleared above
        // comes with the consumed position that covers it. Starting below it would lay new
        // records out of step with the receiver, which would then read payload as a header
        // (found by the kill torture).
        if let Some(consumed) = Cursor::consumed(area, CONSUMED_OFFSET, head) {
            tail = tail.max(consumed);
        }
        if tail - head > capacity || head % record::ALIGN as u64 != 0 {
            return Err(corrupted(
                "framed positions (tail - head)",
                tail.wrapping_sub(head),
            ));
        }
        // Clear whatever a dead predecessor wrote without committing — the free space
        // [tail, head + capacity), none when the ring is full (then `tail` is where the
        // receiver's next record starts). The header at `tail` may be read by the receiver
        // meanwhile, so it is cleared atomically.
        let free = (capacity - (tail - head)) as usize;
        if free >= HEADER {
            header(area, tail).store(0, Ordering::Relaxed);
        }
        if free > HEADER {
            // SAFETY: [tail + 8, head + capacity) is free space: the receiver reads nothing
            // there before a header at `tail` is committed, and this process is the only
            // sender.
            unsafe { area.zero(tail + HEADER as u64, free - HEADER) };
        }
        area.tail().store(tail, Ordering::Release);
        Ok(Sender { end, tail, head })
    }

    /// Sets how this handle waits when the ring is full.
    ///
    /// ```
    /// let (tx, _rx) = shmring::framed::channel(64)?;
    /// let tx = tx.with_wait_strategy(shmring::WaitStrategy::BusyPoll);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn with_wait_strategy(mut self, strategy: WaitStrategy) -> Sender {
        self.end.waiter = Waiter::new(strategy);
        self
    }

    /// The largest message this ring carries (half its capacity, less an 8-byte header).
    ///
    /// ```
    /// let (tx, _rx) = shmring::framed::channel(1024)?;
    /// assert_eq!(tx.max_message(), 504);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn max_message(&self) -> usize {
        max_message(self.end.area.capacity())
    }

    /// Sends `msg` (type 0) without waiting.
    ///
    /// # Errors
    ///
    /// [`TrySendError::TooLarge`] (with both sizes), `Full`, `Disconnected`, `Corrupted`.
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::framed::channel(64)?;
    /// tx.try_send(&[0; 24]).unwrap(); // 32 bytes with its header
    /// tx.try_send(&[0; 24]).unwrap();
    /// assert_eq!(tx.try_send(&[]), Err(shmring::framed::TrySendError::Full));
    /// let err = tx.try_send(&[0; 25]).unwrap_err();
    /// assert_eq!(err.to_string(), "message of 25 bytes exceeds the ring's maximum message size of 24 bytes");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError> {
        self.try_send_tagged(0, msg)
    }

    /// Sends `msg` with the tag `tag` (any value below `u32::MAX - 1`) without waiting.
    ///
    /// # Errors
    ///
    /// As [`try_send`](Sender::try_send).
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// tx.try_send_tagged(3, b"x").unwrap();
    /// let mut buf = Vec::new();
    /// assert_eq!(rx.try_recv_into(&mut buf), Ok(3));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_send_tagged(&mut self, tag: u32, msg: &[u8]) -> Result<(), TrySendError> {
        let index = self
            .claim(msg.len(), tag, false)
            .map_err(Refusal::into_try)?;
        self.write(index, 0, msg);
        self.commit(index, msg.len(), tag);
        Ok(())
    }

    /// Sends `msg` (type 0), waiting as long as the ring is full.
    ///
    /// # Errors
    ///
    /// [`SendError::TooLarge`], `Disconnected`, `Corrupted`.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// let t = std::thread::spawn(move || (0..100u8).for_each(|i| tx.send(&[i; 20]).unwrap()));
    /// for i in 0..100u8 { assert_eq!(rx.recv().unwrap(), [i; 20]); }
    /// t.join().unwrap();
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        self.send_tagged_until(0, msg, None)
            .map_err(Refusal::into_send)
    }

    /// Sends `msg` with the tag `tag`, waiting as long as the ring is full.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send).
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// tx.send_tagged(9, b"nine").unwrap();
    /// let mut buf = Vec::new();
    /// assert_eq!(rx.recv_into(&mut buf), Ok(9));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send_tagged(&mut self, tag: u32, msg: &[u8]) -> Result<(), SendError> {
        self.send_tagged_until(tag, msg, None)
            .map_err(Refusal::into_send)
    }

    /// Sends `msg`, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send), plus [`SendTimeoutError::Timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let (mut tx, _rx) = shmring::framed::channel(64)?;
    /// tx.send(&[0; 24]).unwrap();
    /// tx.send(&[0; 24]).unwrap();
    /// assert!(tx.send_timeout(&[0; 24], Duration::from_millis(1)).unwrap_err().is_timeout());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send_timeout(&mut self, msg: &[u8], timeout: Duration) -> Result<(), SendTimeoutError> {
        self.send_tagged_until(0, msg, Instant::now().checked_add(timeout))
            .map_err(Refusal::into_timeout)
    }

    /// Sends `msg`, waiting until `deadline` (a `CLOCK_MONOTONIC` instant) for room.
    ///
    /// # Errors
    ///
    /// As [`send_timeout`](Sender::send_timeout).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (mut tx, _rx) = shmring::framed::channel(64)?;
    /// tx.send_deadline(b"ok", Instant::now() + Duration::from_secs(1)).unwrap();
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send_deadline(&mut self, msg: &[u8], deadline: Instant) -> Result<(), SendTimeoutError> {
        self.send_tagged_until(0, msg, Some(deadline))
            .map_err(Refusal::into_timeout)
    }

    pub(super) fn send_tagged_until(
        &mut self,
        tag: u32,
        msg: &[u8],
        deadline: Option<Instant>,
    ) -> Result<(), Refusal> {
        let index = self.claim_waiting(msg.len(), tag, deadline)?;
        self.write(index, 0, msg);
        self.commit(index, msg.len(), tag);
        Ok(())
    }

    /// Reserves room for a message of `len` bytes (type 0), waiting as long as the ring is
    /// full. Write it in place with [`Reservation::write_at`] and publish it with
    /// [`Reservation::commit`]; a reservation dropped without commit is never seen by the
    /// receiver — nor is one whose process dies before committing.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send).
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::channel(128)?;
    /// let mut r = tx.reserve(10).unwrap();
    /// r.write_at(0, b"hello");
    /// r.write_at(5, b"world");
    /// r.set_tag(2);
    /// r.commit();
    /// let mut buf = Vec::new();
    /// assert_eq!(rx.recv_into(&mut buf), Ok(2));
    /// assert_eq!(buf, b"helloworld");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn reserve(&mut self, len: usize) -> Result<Reservation<'_>, SendError> {
        let index = self
            .claim_waiting(len, 0, None)
            .map_err(Refusal::into_send)?;
        Ok(self.reservation(index, len))
    }

    /// Like [`reserve`](Sender::reserve), without waiting.
    ///
    /// # Errors
    ///
    /// As [`try_send`](Sender::try_send).
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::framed::channel(64)?;
    /// let r = tx.try_reserve(24).unwrap();
    /// drop(r); // never committed: nothing is sent
    /// assert!(tx.try_reserve(24).is_ok());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_reserve(&mut self, len: usize) -> Result<Reservation<'_>, TrySendError> {
        let index = self.claim(len, 0, false).map_err(Refusal::into_try)?;
        Ok(self.reservation(index, len))
    }

    /// The reservation of the `len` bytes claimed at area offset `index` (type 0, nothing
    /// written yet).
    fn reservation(&mut self, index: u64, len: usize) -> Reservation<'_> {
        Reservation {
            sender: self,
            index,
            len,
            tag: 0,
            dirty: 0,
        }
    }

    pub(super) fn claim_waiting(
        &mut self,
        len: usize,
        tag: u32,
        deadline: Option<Instant>,
    ) -> Result<u64, Refusal> {
        let first = self.claim(len, tag, false);
        if !first.retry() {
            return first;
        }
        let area = self.end.area.clone();
        let mut waiter = self.end.waiter;
        let done = waiter.until(&*area, area.space_event(), deadline, |force| {
            self.claim(len, tag, force)
        });
        self.end.waiter = waiter;
        done
    }

    /// Makes room for a record of `len` payload bytes at the tail (writing the padding record
    /// first if it must wrap) and returns the record's position.
    pub(super) fn claim(&mut self, len: usize, tag: u32, force: bool) -> Result<u64, Refusal> {
        let max = self.max_message();
        if len > max {
            return Err(Refusal::TooLarge { len, max });
        }
        assert!(
            record::user_kind(tag),
            "tags u32::MAX and u32::MAX - 1 are reserved"
        );
        if self.end.corrupted {
            return Err(Refusal::Corrupted);
        }
        if self.end.peer_closed() {
            return Err(Refusal::Disconnected);
        }
        let capacity = self.end.area.capacity();
        let span = record::span(len) as u64;
        let to_end = capacity - (self.tail & self.end.area.mask);
        let needed = if span > to_end { to_end + span } else { span };
        if capacity - (self.tail - self.head) < needed {
            let head = self.end.area.head().load(Ordering::Acquire);
            if head < self.head || head > self.tail || head % record::ALIGN as u64 != 0 {
                self.end.corrupted = true;
                return Err(Refusal::Corrupted);
            }
            self.head = head;
            if capacity - (self.tail - self.head) < needed {
                return Err(match self.end.peer(force) {
                    Peer::Present => Refusal::Full,
                    Peer::Gone => Refusal::Disconnected,
                    Peer::Corrupt => Refusal::Corrupted,
                });
            }
        }
        if span > to_end {
            header(&self.end.area, self.tail)
                .store(record::encode_padding(to_end as usize), Ordering::Release);
            self.publish(self.tail + to_end);
        }
        Ok(self.tail)
    }

    /// Copies `bytes` into the payload of the record at `pos`, from payload offset `offset`.
    pub(super) fn write(&self, pos: u64, offset: usize, bytes: &[u8]) {
        // SAFETY: `claim` made [pos, pos + span) free and this sender's until commit; the
        // record does not wrap, and callers keep offset + len within the payload.
        unsafe { self.end.area.write(pos + (HEADER + offset) as u64, bytes) };
    }

    /// Commits the record at `pos`: one Release store of its header, then the tail.
    pub(super) fn commit(&mut self, pos: u64, len: usize, tag: u32) {
        header(&self.end.area, pos).store(record::encode(len, tag), Ordering::Release);
        self.publish(pos + record::span(len) as u64);
    }

    pub(super) fn publish(&mut self, tail: u64) {
        self.tail = tail;
        self.end.publish_tail(tail);
    }
}

crate::spsc::end_core! {
    impl[] Sender;
    would_wait: |tx, need| matches!(tx.claim(need, 0, false), Err(Refusal::Full))
}

crate::handle::readiness_methods! {
    impl[] Sender;
    channel: "framed::channel(64)",
    var: "tx",
    proceeds: "room for a message of `len` bytes may have been handed back (or the receiver \
               may be gone)",
    register: "assert!(!tx.register_readiness(8)?); // 8 bytes fit: send at once",
    need: len
}

/// `async` sending (feature `tokio`).
#[cfg(all(feature = "tokio", not(shmring_loom)))]
impl Sender {
    /// Sends `msg`, awaiting room without blocking the thread: try, spin briefly, then
    /// register and await the readiness eventfd.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: `msg` is committed only in the poll that completes the future; a future
    /// dropped before that sends nothing of it.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// tx.send_async(b"hi").await.unwrap();
    /// assert_eq!(rx.recv().unwrap(), b"hi");
    /// # Ok(()) }
    /// ```
    pub async fn send_async(&mut self, msg: &[u8]) -> Result<(), SendError> {
        crate::handle::drive(self, msg.len(), |tx, force| {
            if force {
                let _ = tx.end.peer(true);
            }
            match tx.try_send(msg) {
                Err(TrySendError::Full) => None,
                Ok(()) => Some(Ok(())),
                Err(TrySendError::TooLarge { len, max }) => {
                    Some(Err(SendError::TooLarge { len, max }))
                }
                Err(TrySendError::Disconnected) => Some(Err(SendError::Disconnected)),
                Err(TrySendError::Corrupted) => Some(Err(SendError::Corrupted)),
            }
        })
        .await
    }
}

crate::build::ring_options! {
    impl[] Sender;
    example: "framed::Sender",
    role: "its sender",
    opens: "If a sender process died, this one takes over: records it committed stay, bytes it left uncommitted are cleared.",
    create_segment: |l: Location, capacity, o: &Self| {
        create_segment(l, capacity, o)
    },
    open_segment: |l: Location, o: &Self| open_segment(l, o.label.clone()),
    attach: |s, _: &Self| Sender::attach(s)
}
