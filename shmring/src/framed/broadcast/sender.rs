//! The framed broadcast writer: a message cut into cells, published at once; sequence
//! numbers carried on after a takeover; blocking, timed and async sends.

use std::time::{Duration, Instant};

use super::{CELL, CELL_HEADER, Cell, FIRST_HEADER, Sender, cells_for, next_seq};
use crate::broadcast::Policy;
use crate::framed::{Refusal, SendError, SendTimeoutError, TrySendError};
#[cfg(not(shmring_loom))]
use crate::{Location, RingKind, Segment};
use crate::{OpenError, WaitStrategy};

/// The crate's send refusal as the framed rings name it.
fn refusal(e: crate::SendTimeoutError<()>) -> Refusal {
    match e {
        crate::SendTimeoutError::Timeout(()) => Refusal::Timeout,
        crate::SendTimeoutError::Disconnected(()) => Refusal::Disconnected,
        crate::SendTimeoutError::Corrupted(()) => Refusal::Corrupted,
    }
}

impl Sender {
    /// The writer over `ring`, its sequence numbers going on from the last message
    /// published (a writer taking over from a dead one).
    pub(super) fn from_ring(ring: crate::broadcast::Sender<Cell>) -> Result<Sender, OpenError> {
        let seq = next_seq(ring.area(), ring.tail()).ok_or_else(|| OpenError::Corrupted {
            name: ring.shared_name().to_owned(),
            reason: crate::header::HeaderError::BadField {
                field: "framed broadcast last message",
                value: ring.tail(),
            },
        })?;
        Ok(Sender { ring, seq })
    }

    #[cfg(not(shmring_loom))]
    fn attach(segment: std::sync::Arc<Segment>) -> Result<Sender, OpenError> {
        Sender::from_ring(crate::broadcast::Sender::attach(segment)?)
    }

    /// Sets how this handle waits when a lossless ring is full.
    ///
    /// ```
    /// let (tx, _rx) = shmring::framed::broadcast::channel(4)?;
    /// let tx = tx.with_wait_strategy(shmring::WaitStrategy::BusyPoll);
    /// # let _ = tx;
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn with_wait_strategy(mut self, strategy: WaitStrategy) -> Sender {
        self.ring = self.ring.with_wait_strategy(strategy);
        self
    }

    /// The ring's policy for slow receivers (recorded in its header).
    ///
    /// ```
    /// let (tx, _rx) = shmring::framed::broadcast::channel(4)?;
    /// assert_eq!(tx.policy(), shmring::broadcast::Policy::Lossless);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn policy(&self) -> Policy {
        self.ring.policy()
    }

    /// The largest message this ring carries ([`max_message`](super::max_message) of its
    /// capacity in cells).
    ///
    /// ```
    /// let (tx, _rx) = shmring::framed::broadcast::channel(4)?;
    /// assert_eq!(tx.max_message(), 96);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn max_message(&self) -> usize {
        super::max_message(self.ring.area().capacity())
    }

    /// One more receiver of this ring, in this process, starting at the next message.
    ///
    /// # Errors
    ///
    /// [`OpenError::ParticipantsFull`] when the table has no free record.
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::framed::broadcast::channel(4)?;
    /// let mut rx2 = tx.subscribe()?;
    /// tx.send(b"x").unwrap();
    /// assert_eq!(rx2.recv().unwrap(), b"x");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn subscribe(&self) -> Result<super::Receiver, OpenError> {
        Ok(super::Receiver::from_ring(self.ring.subscribe()?, false))
    }

    /// Receivers attached now and not proven dead.
    ///
    /// ```
    /// let (tx, rx) = shmring::framed::broadcast::channel(4)?;
    /// assert_eq!(tx.receiver_count(), 1);
    /// drop(rx);
    /// assert_eq!(tx.receiver_count(), 0);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn receiver_count(&self) -> usize {
        self.ring.receiver_count()
    }

    /// Sends `msg` (tag 0) without waiting.
    ///
    /// # Errors
    ///
    /// [`TrySendError::TooLarge`] (with both sizes), [`TrySendError::Full`] when a lossless
    /// ring's slowest live receiver has not read the cells the message needs, `Corrupted`
    /// after invalid shared state. Never `Disconnected`: with no receiver, messages stay in
    /// the ring for late joiners.
    ///
    /// ```
    /// use shmring::framed::TrySendError;
    /// let (mut tx, _rx) = shmring::framed::broadcast::channel(2)?;
    /// tx.try_send(b"a").unwrap();
    /// tx.try_send(b"b").unwrap();
    /// assert_eq!(tx.try_send(b"c"), Err(TrySendError::Full));
    /// assert_eq!(tx.try_send(&[0; 41]), Err(TrySendError::TooLarge { len: 41, max: 40 }));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError> {
        self.try_send_tagged(0, msg)
    }

    /// Sends `msg` with the tag `tag` without waiting.
    ///
    /// # Errors
    ///
    /// As [`try_send`](Sender::try_send).
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::broadcast::channel(4)?;
    /// tx.try_send_tagged(3, b"x").unwrap();
    /// let mut buf = Vec::new();
    /// assert_eq!(rx.try_recv_into(&mut buf), Ok(3));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_send_tagged(&mut self, tag: u32, msg: &[u8]) -> Result<(), TrySendError> {
        self.attempt(tag, msg, false).map_err(Refusal::into_try)
    }

    /// Sends `msg` (tag 0), waiting while a lossless ring's slowest receiver has not read the
    /// cells it needs.
    ///
    /// # Errors
    ///
    /// [`SendError::TooLarge`], `Corrupted`.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::broadcast::channel(8)?;
    /// let t = std::thread::spawn(move || (0..100u8).for_each(|i| tx.send(&[i; 50]).unwrap()));
    /// for i in 0..100u8 { assert_eq!(rx.recv().unwrap(), [i; 50]); }
    /// t.join().unwrap();
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        self.send_tagged_until(0, msg, None)
            .map_err(Refusal::into_send)
    }

    /// Sends `msg` with the tag `tag`, waiting as [`send`](Sender::send) does.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send).
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::broadcast::channel(4)?;
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
    /// let (mut tx, _rx) = shmring::framed::broadcast::channel(2)?;
    /// tx.send(b"1").unwrap();
    /// tx.send(b"2").unwrap();
    /// assert!(tx.send_timeout(b"3", Duration::from_millis(1)).unwrap_err().is_timeout());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send_timeout(&mut self, msg: &[u8], timeout: Duration) -> Result<(), SendTimeoutError> {
        self.send_tagged_until(0, msg, Instant::now().checked_add(timeout))
            .map_err(Refusal::into_timeout)
    }

    /// Sends `msg`, waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`send_timeout`](Sender::send_timeout).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (mut tx, _rx) = shmring::framed::broadcast::channel(4)?;
    /// tx.send_deadline(b"ok", Instant::now() + Duration::from_secs(1)).unwrap();
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send_deadline(&mut self, msg: &[u8], deadline: Instant) -> Result<(), SendTimeoutError> {
        self.send_tagged_until(0, msg, Some(deadline))
            .map_err(Refusal::into_timeout)
    }

    /// Sends, waiting until `deadline` (`None`: as long as it takes).
    pub(crate) fn send_tagged_until(
        &mut self,
        tag: u32,
        msg: &[u8],
        deadline: Option<Instant>,
    ) -> Result<(), Refusal> {
        let cells = self.cells(msg)?;
        let pos = self.ring.reserve_until(cells, deadline).map_err(refusal)?;
        self.write(pos, tag, msg);
        Ok(())
    }

    /// One attempt (`force`: look at every receiver now).
    fn attempt(&mut self, tag: u32, msg: &[u8], force: bool) -> Result<(), Refusal> {
        let cells = self.cells(msg)?;
        let pos = self
            .ring
            .reserve(cells, force)
            .map_err(|e| refusal(crate::error::try_to_timeout(e)))
            .map_err(|r| {
                if r == Refusal::Timeout {
                    Refusal::Full
                } else {
                    r
                }
            })?;
        self.write(pos, tag, msg);
        Ok(())
    }

    /// The cells `msg` takes, if it fits the ring.
    fn cells(&self, msg: &[u8]) -> Result<u64, Refusal> {
        let max = self.max_message();
        if msg.len() > max {
            return Err(Refusal::TooLarge {
                len: msg.len(),
                max,
            });
        }
        Ok(cells_for(msg.len()))
    }

    /// Writes `msg` into the cells from `pos` (reserved) and publishes them at once.
    fn write(&mut self, pos: u64, tag: u32, msg: &[u8]) {
        let count = cells_for(msg.len());
        let mut cell: Cell = [0; CELL];
        put(&mut cell, 4, count as u32);
        put(&mut cell, 8, msg.len() as u32);
        put(&mut cell, 12, tag);
        cell[16..FIRST_HEADER].copy_from_slice(&self.seq.to_ne_bytes());
        let first = msg.len().min(CELL - FIRST_HEADER);
        cell[FIRST_HEADER..FIRST_HEADER + first].copy_from_slice(&msg[..first]);
        self.ring.write_slot(pos, &cell);
        let mut rest = &msg[first..];
        for index in 1..count {
            let take = rest.len().min(CELL - CELL_HEADER);
            put(&mut cell, 0, index as u32);
            cell[CELL_HEADER..CELL_HEADER + take].copy_from_slice(&rest[..take]);
            cell[CELL_HEADER + take..].fill(0);
            self.ring.write_slot(pos + index, &cell);
            rest = &rest[take..];
        }
        self.ring.publish(pos + count);
        // Read back from shared memory on takeover, so any value: wrapping, never a panic
        // (receivers report a sequence that went backwards as corruption).
        self.seq = self.seq.wrapping_add(1);
    }

    /// Marks this writer dead without releasing anything (loom models).
    #[doc(hidden)]
    #[cfg(shmring_loom)]
    pub fn die(self) {
        self.ring.die();
    }
}

/// Stores `value` at `at` of a cell (native byte order).
fn put(cell: &mut Cell, at: usize, value: u32) {
    cell[at..at + 4].copy_from_slice(&value.to_ne_bytes());
}

/// `async` sending (feature `tokio`).
#[cfg(all(feature = "tokio", not(shmring_loom)))]
impl Sender {
    /// Sends `msg`, awaiting room (lossless rings) without blocking the thread.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes sends nothing.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, mut rx) = shmring::framed::broadcast::channel(4)?;
    /// tx.send_async(b"hi").await.unwrap();
    /// assert_eq!(rx.recv_async().await.unwrap(), b"hi");
    /// # Ok(()) }
    /// ```
    pub async fn send_async(&mut self, msg: &[u8]) -> Result<(), SendError> {
        crate::handle::drive(self, msg.len(), |tx, force| {
            match tx.attempt(0, msg, force) {
                Err(Refusal::Full) => None,
                other => Some(other),
            }
        })
        .await
        .map_err(Refusal::into_send)
    }
}

crate::handle::wrapped_core!(Sender, ring, would_wait: |tx, need| tx.ring.would_wait_for(cells_for(need)));

crate::handle::readiness_methods! {
    impl[] Sender;
    channel: "framed::broadcast::channel(4)",
    var: "tx",
    proceeds: "room may have freed in a lossless ring (a slow receiver read, left or died)",
    register: "assert!(!tx.register_readiness(8)?); // room: send at once",
    need: len
}

crate::build::ring_options! {
    impl[] Sender;
    example: "framed::broadcast::Sender",
    role: "its writer",
    opens: "If the writer's process died, this one takes over: what it published stays, a message it was writing is never seen, and sequence numbers go on.",
    create_segment: |l: Location, capacity, o: &Self| {
        crate::broadcast::create_segment::<Cell>(RingKind::FramedBroadcast, l, capacity, o)
    },
    open_segment: |l: Location, _: &Self| crate::broadcast::open_segment::<Cell>(RingKind::FramedBroadcast, l),
    attach: |s, _: &Self| Sender::attach(s)
}

super::policy_option!(Sender, "Sender");
