//! The many-producer framed sending handle (`Clone + Sync`): claiming a record by CAS on the
//! tail with an announced lane, copying, committing; blocking, timed and async sends, readiness.

#[allow(unused_imports)]
use super::*;
use crate::storage::MAX_POSITION;

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("framed::mpsc::Sender")
            .field("ring", &self.shared.name)
            .field("capacity", &self.shared.area.capacity())
            .field("record", &self.shared.index)
            .finish()
    }
}

/// A claim: `needed` bytes from `pos`, the record at its end (after padding to the wrap if
/// the record did not fit before it).
#[derive(Clone, Copy, Debug)]
pub(super) struct Claim {
    pub(super) pos: u64,
    pub(super) needed: u64,
    pub(super) len: usize,
}

impl Claim {
    /// Where the record starts.
    pub(super) fn record(&self) -> u64 {
        self.pos + self.needed - record::span(self.len) as u64
    }
}

impl Sender {
    pub(super) fn from_shared(shared: Participant<u8>) -> Sender {
        Sender {
            shared: Arc::new(shared),
            strategy: default_strategy(),
            #[cfg(not(shmring_loom))]
            readiness: Default::default(),
        }
    }

    #[cfg(not(shmring_loom))]
    pub(super) fn attach(segment: Arc<Segment>) -> Result<Sender, OpenError> {
        Ok(Sender::from_shared(attach(segment, Role::Sender)?))
    }

    /// Attaches one more producer to the same ring as a separate participant (its own
    /// record, as another process would have; tests and loom models).
    ///
    /// # Errors
    ///
    /// [`OpenError::ParticipantsFull`].
    #[doc(hidden)]
    pub fn attach_sender(&self) -> Result<Sender, OpenError> {
        let s = &self.shared;
        Participant::join(
            s.area.clone(),
            Protocol::Records(resolve),
            Role::Sender,
            s.name.clone(),
            s._segment.clone(),
        )
        .map(Sender::from_shared)
    }

    /// Claims room for a message of `len` bytes as [`reserve`](Sender::reserve) would, then
    /// dies without writing or committing it (loom models of the crash protocol) — with
    /// `marked` false, between the claiming CAS and the claimed mark. Returns whether the
    /// claim was made.
    #[doc(hidden)]
    #[cfg(shmring_loom)]
    pub fn die_after_claim(self, len: usize, marked: bool) -> bool {
        let lane = self.shared.lane();
        let claimed = self.claim_marked(&lane, len, false, marked).is_ok();
        std::mem::forget(lane);
        self.shared.die();
        claimed
    }

    /// Sets how this handle waits when the ring is full (clones made afterwards inherit it).
    ///
    /// ```
    /// let (tx, _rx) = shmring::framed::mpsc::channel(64)?;
    /// let tx = tx.with_wait_strategy(shmring::WaitStrategy::BusyPoll);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn with_wait_strategy(mut self, strategy: WaitStrategy) -> Sender {
        self.strategy = strategy;
        self
    }

    /// The largest message this ring carries (half its capacity, less an 8-byte header).
    ///
    /// ```
    /// let (tx, _rx) = shmring::framed::mpsc::channel(64)?;
    /// assert_eq!(tx.max_message(), 24);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn max_message(&self) -> usize {
        max_message(self.shared.area.capacity())
    }

    /// Sends `msg` (type 0) without waiting.
    ///
    /// # Errors
    ///
    /// [`TrySendError::TooLarge`] (with both sizes), `Full`, `Disconnected`, `Corrupted`.
    ///
    /// ```
    /// use shmring::framed::TrySendError;
    /// let (tx, _rx) = shmring::framed::mpsc::channel(64)?;
    /// tx.try_send(&[1; 24]).unwrap();
    /// tx.try_send(&[2; 24]).unwrap();
    /// assert_eq!(tx.try_send(&[]), Err(TrySendError::Full));
    /// assert_eq!(tx.try_send(&[0; 25]), Err(TrySendError::TooLarge { len: 25, max: 24 }));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_send(&self, msg: &[u8]) -> Result<(), TrySendError> {
        self.try_send_tagged(0, msg)
    }

    /// Sends `msg` with the tag `tag` (any value below `u32::MAX - 1`) without waiting.
    ///
    /// # Errors
    ///
    /// As [`try_send`](Sender::try_send).
    ///
    /// # Panics
    ///
    /// If `tag` is one of the two reserved tags.
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(64)?;
    /// tx.try_send_tagged(3, b"x").unwrap();
    /// let mut buf = Vec::new();
    /// assert_eq!(rx.try_recv_into(&mut buf), Ok(3));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_send_tagged(&self, tag: u32, msg: &[u8]) -> Result<(), TrySendError> {
        self.try_send_forced(tag, msg, false)
            .map_err(Refusal::into_try)
    }

    /// [`try_send_tagged`](Sender::try_send_tagged); `force`: look at the receiver's liveness
    /// now.
    pub(super) fn try_send_forced(&self, tag: u32, msg: &[u8], force: bool) -> Result<(), Refusal> {
        check_tag(tag);
        let lane = self.shared.try_lane().ok_or(Refusal::Full)?;
        let claim = self.claim(&lane, msg.len(), force)?;
        self.write(claim, 0, msg);
        self.commit(&lane, claim, tag);
        Ok(())
    }

    /// Sends `msg` (type 0), waiting as long as the ring is full.
    ///
    /// # Errors
    ///
    /// [`SendError::TooLarge`], `Disconnected`, `Corrupted`.
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(64)?;
    /// let t = std::thread::spawn(move || (0..100u8).for_each(|i| tx.send(&[i; 20]).unwrap()));
    /// for i in 0..100u8 { assert_eq!(rx.recv().unwrap(), [i; 20]); }
    /// t.join().unwrap();
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send(&self, msg: &[u8]) -> Result<(), SendError> {
        self.send_tagged_until(0, msg, None)
            .map_err(Refusal::into_send)
    }

    /// Sends `msg` with the tag `tag`, waiting as long as the ring is full.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send).
    ///
    /// # Panics
    ///
    /// If `tag` is one of the two reserved tags.
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(64)?;
    /// tx.send_tagged(9, b"nine").unwrap();
    /// let mut buf = Vec::new();
    /// assert_eq!(rx.recv_into(&mut buf), Ok(9));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send_tagged(&self, tag: u32, msg: &[u8]) -> Result<(), SendError> {
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
    /// let (tx, _rx) = shmring::framed::mpsc::channel(64)?;
    /// tx.send(&[0; 24]).unwrap();
    /// tx.send(&[0; 24]).unwrap();
    /// assert!(tx.send_timeout(&[0; 24], Duration::from_millis(1)).unwrap_err().is_timeout());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send_timeout(&self, msg: &[u8], timeout: Duration) -> Result<(), SendTimeoutError> {
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
    /// let (tx, _rx) = shmring::framed::mpsc::channel(64)?;
    /// tx.send_deadline(b"ok", Instant::now() + Duration::from_secs(1)).unwrap();
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send_deadline(&self, msg: &[u8], deadline: Instant) -> Result<(), SendTimeoutError> {
        self.send_tagged_until(0, msg, Some(deadline))
            .map_err(Refusal::into_timeout)
    }

    pub(super) fn send_tagged_until(
        &self,
        tag: u32,
        msg: &[u8],
        deadline: Option<Instant>,
    ) -> Result<(), Refusal> {
        check_tag(tag);
        let lane = self.shared.lane();
        let claim = self.claim_waiting(&lane, msg.len(), deadline)?;
        self.write(claim, 0, msg);
        self.commit(&lane, claim, tag);
        Ok(())
    }

    /// Reserves room for a message of `len` bytes (type 0), waiting as long as the ring is
    /// full. Write it in place with [`Reservation::write_at`] and publish it with
    /// [`Reservation::commit`]. Messages are received in the order of their reservations; a
    /// reservation held open holds back the messages reserved after it. One dropped without
    /// commit — or whose process dies — becomes padding the receiver skips.
    ///
    /// A process has [`LANES_PER_PROCESS`] operations in flight on one ring at most (the
    /// lanes of its participant record, where a claim is announced for crash recovery): a
    /// further `reserve` waits until a reservation of another thread is committed or dropped
    /// (so one thread must not hold more than that many open), and `try_reserve` and
    /// `try_send` report [`TrySendError::Full`].
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send).
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(128)?;
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
    pub fn reserve(&self, len: usize) -> Result<Reservation<'_>, SendError> {
        let lane = self.shared.lane();
        let claim = self
            .claim_waiting(&lane, len, None)
            .map_err(Refusal::into_send)?;
        Ok(self.reservation(lane, claim, true))
    }

    /// Like [`reserve`](Sender::reserve), without waiting.
    ///
    /// # Errors
    ///
    /// As [`try_send`](Sender::try_send).
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(64)?;
    /// drop(tx.try_reserve(8).unwrap()); // never committed: padding
    /// tx.try_send(b"after").unwrap();
    /// assert_eq!(rx.try_recv().unwrap(), b"after");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_reserve(&self, len: usize) -> Result<Reservation<'_>, TrySendError> {
        let lane = self.shared.try_lane().ok_or(TrySendError::Full)?;
        let claim = self.claim(&lane, len, false).map_err(Refusal::into_try)?;
        Ok(self.reservation(lane, claim, true))
    }

    /// Hands `claim` to its user; `held_open` marks it so in the lane ([`HELD_OPEN`]).
    ///
    /// [`HELD_OPEN`]: crate::mpmc::HELD_OPEN
    pub(super) fn reservation<'a>(
        &'a self,
        lane: LaneGuard<'a, u8>,
        claim: Claim,
        held_open: bool,
    ) -> Reservation<'a> {
        if held_open {
            lane.hold_open();
        }
        Reservation {
            sender: self,
            lane,
            claim,
            tag: 0,
            committed: false,
        }
    }

    /// A reservation that receivers see as a send still copying its message (not marked
    /// [`HELD_OPEN`](crate::mpmc::HELD_OPEN)): for tests of what `try_recv` does behind a
    /// producer that is slow, stopped or killed in the middle of a send.
    ///
    /// # Errors
    ///
    /// As [`reserve`](Sender::reserve).
    #[doc(hidden)]
    pub fn reserve_as_send(&self, len: usize) -> Result<Reservation<'_>, SendError> {
        let lane = self.shared.lane();
        let claim = self
            .claim_waiting(&lane, len, None)
            .map_err(Refusal::into_send)?;
        Ok(self.reservation(lane, claim, false))
    }

    pub(super) fn claim_waiting(
        &self,
        lane: &LaneGuard<'_, u8>,
        len: usize,
        deadline: Option<Instant>,
    ) -> Result<Claim, Refusal> {
        // The first try here, inline: the hot path stays out of the generic waiting call.
        let first = self.claim(lane, len, false);
        if !first.retry() {
            return first;
        }
        self.shared
            .wait_until(Role::Sender, self.strategy, deadline, |force| {
                self.claim(lane, len, force)
            })
    }

    /// One attempt to claim room for a record of `len` payload bytes (plus the padding to the
    /// wrap if it does not fit before it): announce, then CAS the tail, then mark it claimed.
    pub(super) fn claim(
        &self,
        lane: &LaneGuard<'_, u8>,
        len: usize,
        force: bool,
    ) -> Result<Claim, Refusal> {
        self.claim_marked(lane, len, force, true)
    }

    /// [`claim`](Sender::claim), optionally stopping before the mark (loom models of a
    /// producer killed between its CAS and the mark).
    #[inline]
    pub(super) fn claim_marked(
        &self,
        lane: &LaneGuard<'_, u8>,
        len: usize,
        force: bool,
        mark: bool,
    ) -> Result<Claim, Refusal> {
        let shared = &*self.shared;
        let max = self.max_message();
        if len > max {
            return Err(Refusal::TooLarge { len, max });
        }
        if shared.is_corrupted() {
            return Err(Refusal::Corrupted);
        }
        if !shared.peers_present(false, force) {
            return Err(Refusal::Disconnected);
        }
        let corrupted = || {
            shared.corrupt();
            Err(Refusal::Corrupted)
        };
        let area = &shared.area;
        let capacity = area.capacity();
        let span = record::span(len) as u64;
        let mut pos = area.tail().load(Ordering::Acquire);
        for _ in 0..RETRIES {
            let head = area.head().load(Ordering::Acquire);
            if pos < head {
                // Our tail is older than the receiver's head: look again.
                let tail = area.tail().load(Ordering::Acquire);
                if tail < head || tail == pos {
                    return corrupted();
                }
                pos = tail;
                continue;
            }
            if pos % record::ALIGN as u64 != 0 || pos - head > capacity || pos >= MAX_POSITION {
                return corrupted();
            }
            let to_end = capacity - (pos & area.mask);
            let needed = if span > to_end { to_end + span } else { span };
            if pos - head + needed > capacity {
                let tail = area.tail().load(Ordering::Acquire);
                if tail != pos {
                    pos = tail;
                    continue;
                }
                return Err(if shared.peers_present(true, false) {
                    Refusal::Full
                } else {
                    Refusal::Disconnected
                });
            }
            // Announce before claiming, so that whoever recovers from this process's death
            // finds the claim.
            lane.set_claim(pos, needed);
            match area.tail().compare_exchange(
                pos,
                pos + needed,
                Ordering::SeqCst,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if mark {
                        header(area, pos)
                            .store(record::encode_claimed(needed as usize), Ordering::Relaxed);
                    }
                    return Ok(Claim { pos, needed, len });
                }
                Err(current) => pos = current,
            }
        }
        lane.set(IDLE);
        Err(Refusal::Full)
    }

    /// Whether a record of `len` payload bytes would have to wait now: the ring lacks the
    /// room (as [`claim`](Sender::claim) computes it), or every lane of this process's
    /// record is in use. Anything unexpected counts as "go and try", so the attempt itself
    /// reports it. The re-check after registering for readiness.
    #[cfg(not(shmring_loom))]
    pub(super) fn would_wait(&self, len: usize) -> bool {
        let shared = &*self.shared;
        if len > self.max_message() || shared.is_corrupted() {
            return false;
        }
        let area = &shared.area;
        let capacity = area.capacity();
        let pos = area.tail().load(Ordering::Acquire);
        let head = area.head().load(Ordering::Acquire);
        if pos < head || pos - head > capacity {
            return false;
        }
        let span = record::span(len) as u64;
        let to_end = capacity - (pos & area.mask);
        let needed = if span > to_end { to_end + span } else { span };
        pos - head + needed > capacity || shared.try_lane().is_none()
    }

    /// Copies `bytes` into the payload of `claim`'s record from payload offset `offset`.
    pub(super) fn write(&self, claim: Claim, offset: usize, bytes: &[u8]) {
        // SAFETY: the claim made [pos, pos + needed) this producer's until its commit; the
        // record does not wrap, and callers keep offset + len within the payload.
        unsafe {
            self.shared
                .area
                .write(claim.record() + (HEADER + offset) as u64, bytes)
        };
    }

    /// Commits `claim`: the record's header (Release), then the padding before it if it
    /// wrapped (replacing the claimed mark), then the lane goes idle.
    pub(super) fn commit(&self, lane: &LaneGuard<'_, u8>, claim: Claim, tag: u32) {
        let area = &self.shared.area;
        let word = record::encode(claim.len, tag);
        let at = claim.record();
        if at == claim.pos {
            header(area, at).store(word, Ordering::Release);
        } else {
            header(area, at).store(word, Ordering::Release);
            header(area, claim.pos).store(
                record::encode_padding((at - claim.pos) as usize),
                Ordering::Release,
            );
        }
        lane.set(IDLE);
        self.shared.notify(Role::Receiver);
    }

    /// Turns `claim` into padding (a reservation dropped uncommitted).
    pub(super) fn abandon(&self, lane: &LaneGuard<'_, u8>, claim: Claim) {
        pad(&self.shared.area, claim.pos, claim.needed);
        lane.set(IDLE);
        self.shared.notify(Role::Receiver);
    }
}

pub(super) fn check_tag(tag: u32) {
    assert!(
        record::user_kind(tag),
        "tags u32::MAX and u32::MAX - 1 are reserved"
    );
}

// Each clone has its own eventfd; the handles of one record count together in the record's
// waiting bit, as blocking senders do.
crate::mpmc::participant_core! {
    impl[] Sender;
    role: Role::Sender,
    counted: true,
    peers_gone: |tx| !tx.shared.peers_present(false, true),
    would_wait: |tx, need| Sender::would_wait(tx, need),
    look_at_peers: |tx| tx.shared.peers_present(false, true)
}

crate::handle::readiness_methods! {
    impl[] Sender;
    channel: "framed::mpsc::channel(64)",
    var: "tx",
    proceeds: "room for a message of `len` bytes may have freed (or the receiver may be gone)",
    register: "assert!(!tx.register_readiness(24)?); // 24 bytes fit: send at once",
    need: len
}

/// `async` sending (feature `tokio`).
#[cfg(all(feature = "tokio", not(shmring_loom)))]
impl Sender {
    /// Sends `msg` (type 0), awaiting room without blocking the thread: try, spin briefly (as
    /// [`send`](Sender::send) does), then register and await this handle's readiness eventfd
    /// (through tokio's `AsyncFd`).
    ///
    /// Takes `&mut self`: give each task its own clone (clones share the participant record
    /// and are cheap; each has its own eventfd). The eventfd is registered with the reactor
    /// of the runtime this handle first awaits in.
    ///
    /// An attempt needs a free lane of this process's record ([`LANES_PER_PROCESS`]); while
    /// other threads hold that many reservations open, the future waits for room as for a
    /// full ring and tries again at the latest after a liveness period.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: the message is written and published within the one poll that completes
    /// the future; a future dropped before that sends nothing and leaves the record's
    /// waiting count at once.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, mut rx) = shmring::framed::mpsc::channel(64)?;
    /// tx.send_async(b"hello").await?;
    /// assert_eq!(rx.recv()?, b"hello");
    /// # Ok(()) }
    /// ```
    pub async fn send_async(&mut self, msg: &[u8]) -> Result<(), SendError> {
        self.send_tagged_async(0, msg).await
    }

    /// Like [`send_async`](Sender::send_async), with the tag `tag`.
    ///
    /// # Cancel safety
    ///
    /// As [`send_async`](Sender::send_async).
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send).
    ///
    /// # Panics
    ///
    /// If `tag` is one of the two reserved tags.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, mut rx) = shmring::framed::mpsc::channel(64)?;
    /// tx.send_tagged_async(5, b"x").await?;
    /// let mut buf = Vec::new();
    /// assert_eq!(rx.recv_into(&mut buf), Ok(5));
    /// # Ok(()) }
    /// ```
    pub async fn send_tagged_async(&mut self, tag: u32, msg: &[u8]) -> Result<(), SendError> {
        check_tag(tag);
        crate::handle::drive(self, msg.len(), |tx, force| {
            match tx.try_send_forced(tag, msg, force) {
                Err(Refusal::Full) => None,
                other => Some(other.map_err(Refusal::into_send)),
            }
        })
        .await
    }
}

crate::build::ring_options! {
    impl[] Sender;
    example: "framed::mpsc::Sender",
    role: "one more producer",
    opens: "Any number of producers may attach (up to the participant table).",
    create_segment: |l: Location, capacity, o: &Self| {
        create_segment(l, capacity, o)
    },
    open_segment: |l: Location, o: &Self| open_segment(l, o.label.clone()),
    attach: |s, _: &Self| Sender::attach(s)
}
