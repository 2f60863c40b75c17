//! A framed broadcast receiver: a message gathered from its cells under their stamps,
//! finding the next message's first cell after a skip, `Lagged` counted by sequence
//! numbers; blocking, timed and async receives, iterators, the stream.

use std::time::{Duration, Instant};

use super::{
    CELL, CELL_HEADER, Cell, FIRST_HEADER, Receiver, RecvError, RecvTimeoutError, TryRecvError,
    cell_header, cells_for, seq_of, word,
};
use crate::broadcast::{Policy, Slot, read_slot};
#[cfg(not(shmring_loom))]
use crate::{Location, RingKind, Segment};
use crate::{OpenError, WaitStrategy};

impl Receiver {
    /// The receiver over `ring`. Opened at the next message, it knows that message's
    /// sequence number (one past the last one published), so a lag before its first message
    /// is counted too; opened at the oldest held, what it finds is its history.
    pub(super) fn from_ring(ring: crate::broadcast::Receiver<Cell>, from_oldest: bool) -> Receiver {
        let expected = if from_oldest {
            None
        } else {
            super::next_seq(ring.area(), ring.position())
        };
        Receiver { ring, expected }
    }

    #[cfg(not(shmring_loom))]
    fn attach(segment: std::sync::Arc<Segment>, from_oldest: bool) -> Result<Receiver, OpenError> {
        let ring = crate::broadcast::Receiver::attach(segment, from_oldest)?;
        Ok(Receiver::from_ring(ring, from_oldest))
    }

    /// Sets how this handle waits when there is nothing new.
    ///
    /// ```
    /// let (_tx, rx) = shmring::framed::broadcast::channel(4)?;
    /// let rx = rx.with_wait_strategy(shmring::WaitStrategy::BusyPoll);
    /// # let _ = rx;
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn with_wait_strategy(mut self, strategy: WaitStrategy) -> Receiver {
        self.ring = self.ring.with_wait_strategy(strategy);
        self
    }

    /// The ring's policy for slow receivers (recorded in its header).
    ///
    /// ```
    /// let (_tx, rx) = shmring::framed::broadcast::channel(4)?;
    /// assert_eq!(rx.policy(), shmring::broadcast::Policy::Lossless);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn policy(&self) -> Policy {
        self.ring.policy()
    }

    /// The largest message the ring carries.
    ///
    /// ```
    /// let (_tx, rx) = shmring::framed::broadcast::channel(4)?;
    /// assert_eq!(rx.max_message(), 96);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn max_message(&self) -> usize {
        super::max_message(self.ring.area().capacity())
    }

    /// Whether this receiver has nothing to receive now.
    ///
    /// ```
    /// let (mut tx, rx) = shmring::framed::broadcast::channel(4)?;
    /// assert!(rx.is_empty());
    /// tx.send(b"x").unwrap();
    /// assert!(!rx.is_empty());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// This receiver's backlog in cells (at most the capacity: in an overwrite ring, more
    /// means it was overtaken).
    ///
    /// ```
    /// let (mut tx, rx) = shmring::framed::broadcast::channel(8)?;
    /// tx.send(&[0; 50]).unwrap(); // two cells
    /// assert_eq!(rx.backlog_cells(), 2);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn backlog_cells(&self) -> usize {
        self.ring.len()
    }

    /// The next cell this receiver reads (cells sent before it: the ring's count).
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::broadcast::channel(8)?;
    /// tx.send(&[0; 50]).unwrap();
    /// rx.recv().unwrap();
    /// assert_eq!(rx.position(), 2);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn position(&self) -> u64 {
        self.ring.position()
    }

    /// Receives the next message into `buf` (its tag returned) without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`]; [`TryRecvError::Lagged(n)`](TryRecvError::Lagged) when the
    /// writer overtook this receiver and `n` messages are lost (receive again for the oldest
    /// held); `Disconnected` once everything sent was received and the writer is gone;
    /// `Corrupted` after invalid shared state.
    ///
    /// ```
    /// use shmring::framed::broadcast::TryRecvError;
    /// let (mut tx, mut rx) = shmring::framed::broadcast::channel(4)?;
    /// let mut buf = Vec::new();
    /// assert_eq!(rx.try_recv_into(&mut buf), Err(TryRecvError::Empty));
    /// tx.send_tagged(2, b"hi").unwrap();
    /// assert_eq!(rx.try_recv_into(&mut buf), Ok(2));
    /// drop(tx);
    /// assert_eq!(rx.try_recv_into(&mut buf), Err(TryRecvError::Disconnected));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<u32, TryRecvError> {
        self.pop(buf, false)
    }

    /// Receives the next message without waiting.
    ///
    /// # Errors
    ///
    /// As [`try_recv_into`](Receiver::try_recv_into).
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::broadcast::channel(4)?;
    /// tx.send(b"a").unwrap();
    /// assert_eq!(rx.try_recv().unwrap(), b"a");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_recv(&mut self) -> Result<Vec<u8>, TryRecvError> {
        let mut buf = Vec::new();
        self.pop(&mut buf, false).map(|_| buf)
    }

    /// Receives the next message, waiting while there is nothing new.
    ///
    /// # Errors
    ///
    /// [`RecvError::Lagged(n)`](RecvError::Lagged) (receive again), `Disconnected` once
    /// everything sent was received and the writer is gone, `Corrupted`.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::broadcast::channel(4)?;
    /// tx.send(b"x").unwrap();
    /// drop(tx);
    /// assert_eq!(rx.recv().unwrap(), b"x");
    /// assert_eq!(rx.recv(), Err(shmring::broadcast::RecvError::Disconnected));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn recv(&mut self) -> Result<Vec<u8>, RecvError> {
        let mut buf = Vec::new();
        self.recv_into(&mut buf).map(|_| buf)
    }

    /// Receives the next message into `buf` (reusing its allocation), waiting while there is
    /// nothing new; returns its tag.
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv).
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::broadcast::channel(4)?;
    /// tx.send_tagged(4, b"yz").unwrap();
    /// let mut buf = Vec::new();
    /// assert_eq!(rx.recv_into(&mut buf), Ok(4));
    /// assert_eq!(buf, b"yz");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<u32, RecvError> {
        self.recv_into_until(buf, None)
            .map_err(crate::broadcast::without_timeout)
    }

    /// Receives, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv), plus [`RecvTimeoutError::Timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use shmring::framed::broadcast::RecvTimeoutError;
    /// let (_tx, mut rx) = shmring::framed::broadcast::channel(4)?;
    /// assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Vec<u8>, RecvTimeoutError> {
        let mut buf = Vec::new();
        self.recv_into_until(&mut buf, Instant::now().checked_add(timeout))
            .map(|_| buf)
    }

    /// Receives, waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`recv_timeout`](Receiver::recv_timeout).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (mut tx, mut rx) = shmring::framed::broadcast::channel(4)?;
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
    /// let (mut tx, mut rx) = shmring::framed::broadcast::channel(4)?;
    /// tx.send(b"e").unwrap();
    /// let mut buf = Vec::new();
    /// rx.recv_into_deadline(&mut buf, Instant::now() + Duration::from_secs(1)).unwrap();
    /// assert_eq!(buf, b"e");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn recv_into_deadline(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: Instant,
    ) -> Result<u32, RecvTimeoutError> {
        self.recv_into_until(buf, Some(deadline))
    }

    /// A blocking iterator: yields messages until the writer is gone and everything was
    /// received; a `Lagged` gap is skipped (see [`recv`](Receiver::recv) to see it), and the
    /// iterator ends on a corrupted ring.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::broadcast::channel(4)?;
    /// tx.send(b"1").unwrap();
    /// tx.send(b"22").unwrap();
    /// drop(tx);
    /// assert_eq!(rx.iter().collect::<Vec<_>>(), [b"1".to_vec(), b"22".to_vec()]);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn iter(&mut self) -> impl Iterator<Item = Vec<u8>> + '_ {
        crate::broadcast::skipping_lagged(move || self.recv(), RecvError::is_lagged)
    }

    /// A non-blocking iterator over what is there now (a `Lagged` gap is skipped).
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::broadcast::channel(4)?;
    /// tx.send(b"1").unwrap();
    /// assert_eq!(rx.try_iter().count(), 1);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_iter(&mut self) -> impl Iterator<Item = Vec<u8>> + '_ {
        crate::broadcast::skipping_lagged(move || self.try_recv(), TryRecvError::is_lagged)
    }

    fn recv_into_until(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<u32, RecvTimeoutError> {
        use crate::wait::Attempt;
        let first = self.pop(buf, false);
        if !first.retry() {
            return first.done();
        }
        let area = self.ring.area().clone();
        let (index, strategy) = (self.ring.record(), self.ring.strategy());
        crate::broadcast::wait_on_record(&area, index, strategy, deadline, |force| {
            self.pop(buf, force)
        })
    }

    /// One attempt: the next whole message into `buf`. Cells that are not a message's first
    /// (after a skip, or opening at the oldest held) are passed over to the next first cell;
    /// a cell overwritten while it was copied sends the cursor to the oldest cell held. The
    /// passes are bounded by the ring's capacity; a writer lapping this receiver all along
    /// makes the attempt report `Empty` (the next one goes on).
    fn pop(&mut self, buf: &mut Vec<u8>, force: bool) -> Result<u32, TryRecvError> {
        let capacity = self.ring.area().capacity();
        let max_cells = cells_for(super::max_message(capacity));
        let mut cell: Cell = [0; CELL];
        for _ in 0..2 * capacity + 2 {
            let pos = match self.ring.next_position(force) {
                Ok(pos) => pos,
                // Overtaken: the cursor went on to the oldest cell held; the sequence
                // numbers tell how many messages that lost.
                Err(TryRecvError::Lagged(_)) => continue,
                Err(e) => return Err(e),
            };
            match read_slot(self.ring.area(), pos, &mut cell) {
                Slot::Copied => {}
                Slot::Overwritten => {
                    self.ring.skip_to_oldest()?;
                    continue;
                }
                Slot::Corrupt => return Err(self.ring.corrupt()),
            }
            let (index, count) = cell_header(&cell);
            let (index, count) = (u64::from(index), u64::from(count));
            let tail = self.ring.seen_tail();
            // Every field is a peer's word: checked before it decides anything (no arithmetic
            // on it can overflow past these checks).
            if count == 0 || count > max_cells || index >= count || index > pos {
                return Err(self.ring.corrupt());
            }
            if pos - index + count > tail {
                return Err(self.ring.corrupt());
            }
            if index != 0 {
                // The middle of a message: its end is the next message's first cell.
                self.ring.advance(pos - index + count, false);
                continue;
            }
            let (len, tag, seq) = (word(&cell, 8) as usize, word(&cell, 12), seq_of(&cell));
            if cells_for(len) != count || seq == u64::MAX {
                return Err(self.ring.corrupt());
            }
            match self.expected {
                Some(expected) if seq < expected => return Err(self.ring.corrupt()),
                Some(expected) if seq > expected => {
                    // Messages lost to the writer: say how many; the message here is the
                    // next one received (if it is still held then).
                    self.expected = Some(seq);
                    return Err(TryRecvError::Lagged(seq - expected));
                }
                _ => {}
            }
            buf.clear();
            buf.reserve(len);
            let first = len.min(CELL - FIRST_HEADER);
            buf.extend_from_slice(&cell[FIRST_HEADER..FIRST_HEADER + first]);
            if !self.gather(pos, count, len, buf, &mut cell)? {
                continue;
            }
            self.ring.advance(pos + count, false);
            self.expected = Some(seq + 1);
            return Ok(tag);
        }
        Err(TryRecvError::Empty)
    }

    /// Appends the cells after the first of the message at `pos` to `buf` (`Ok(false)`: one
    /// was overwritten meanwhile, and the cursor went on to the oldest held).
    fn gather(
        &mut self,
        pos: u64,
        count: u64,
        len: usize,
        buf: &mut Vec<u8>,
        cell: &mut Cell,
    ) -> Result<bool, TryRecvError> {
        for index in 1..count {
            match read_slot(self.ring.area(), pos + index, cell) {
                Slot::Copied => {}
                Slot::Overwritten => {
                    self.ring.skip_to_oldest()?;
                    return Ok(false);
                }
                Slot::Corrupt => return Err(self.ring.corrupt()),
            }
            if cell_header(cell) != (index as u32, count as u32) {
                return Err(self.ring.corrupt());
            }
            let take = (len - buf.len()).min(CELL - CELL_HEADER);
            buf.extend_from_slice(&cell[CELL_HEADER..CELL_HEADER + take]);
        }
        Ok(true)
    }

    /// Marks this receiver dead without releasing anything (loom models).
    #[doc(hidden)]
    #[cfg(shmring_loom)]
    pub fn die(self) {
        self.ring.die();
    }
}

/// `async` receiving (feature `tokio`).
#[cfg(all(feature = "tokio", not(shmring_loom)))]
impl Receiver {
    /// Receives the next message into `buf` (its tag returned) without blocking the thread.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes takes no message.
    ///
    /// # Errors
    ///
    /// As [`recv_into`](Receiver::recv_into).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, mut rx) = shmring::framed::broadcast::channel(4)?;
    /// tx.send(b"hi").unwrap();
    /// let mut buf = Vec::new();
    /// assert_eq!(rx.recv_into_async(&mut buf).await, Ok(0));
    /// # Ok(()) }
    /// ```
    pub async fn recv_into_async(&mut self, buf: &mut Vec<u8>) -> Result<u32, RecvError> {
        crate::handle::drive(self, 0, |rx, force| {
            crate::broadcast::received(rx.pop(buf, force))
        })
        .await
    }

    /// [`recv_into_async`](Receiver::recv_into_async) into a new buffer.
    ///
    /// # Cancel safety
    ///
    /// As `recv_into_async`.
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, mut rx) = shmring::framed::broadcast::channel(4)?;
    /// tx.send(b"hi").unwrap();
    /// assert_eq!(rx.recv_async().await.unwrap(), b"hi");
    /// # Ok(()) }
    /// ```
    pub async fn recv_async(&mut self) -> Result<Vec<u8>, RecvError> {
        let mut buf = Vec::new();
        self.recv_into_async(&mut buf).await.map(|_| buf)
    }
}

crate::handle::wrapped_core!(Receiver, ring, would_wait: |rx, _need| rx.ring.nothing_new());

crate::handle::stream_method! {
    impl[] Receiver => Vec<u8>, RecvError;
    channel: "framed::broadcast::channel(4)",
    send: "tx.send(&[5]).unwrap();",
    first: "vec![5]"
}

crate::handle::readiness_methods! {
    impl[] Receiver;
    channel: "framed::broadcast::channel(4)",
    var: "rx",
    proceeds: "a message may have arrived (or the writer may be gone)",
    register: "assert!(rx.register_readiness()?); // nothing yet: wait on rx.readiness_fd()"
}

crate::build::ring_options! {
    impl[] Receiver;
    example: "framed::broadcast::Receiver",
    role: "one more receiver",
    opens: "Any number of receivers may attach (up to the participant table), each at the next message, or at the oldest held with `options().from_oldest()`.",
    create_segment: |l: Location, capacity, o: &Self| {
        crate::broadcast::create_segment::<Cell>(RingKind::FramedBroadcast, l, capacity, o)
    },
    open_segment: |l: Location, _: &Self| crate::broadcast::open_segment::<Cell>(RingKind::FramedBroadcast, l),
    attach: |s, o: &Self| Receiver::attach(s, o.from_oldest)
}

super::policy_option!(Receiver, "Receiver");

#[cfg(not(shmring_loom))]
impl crate::RingOptions<Receiver> {
    /// Start at the oldest message the ring still holds, not at the next one.
    ///
    /// ```
    /// use shmring::framed::broadcast::{Receiver, Sender};
    /// let name = format!("shmring-doc-fb-oldest-{}", std::process::id());
    /// let mut tx = Sender::create(name.as_str(), 16)?;
    /// for m in [&b"a"[..], b"bb", b"ccc"] { tx.send(m).unwrap(); }
    /// let mut late = Receiver::options().from_oldest().open(name.as_str())?;
    /// assert_eq!(late.try_iter().collect::<Vec<_>>(), [b"a".to_vec(), b"bb".to_vec(), b"ccc".to_vec()]);
    /// shmring::Segment::unlink_name(&name)?;
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn from_oldest(mut self) -> Self {
        self.from_oldest = true;
        self
    }
}
