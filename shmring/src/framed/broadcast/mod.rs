//! One writer, many receivers, each seeing every byte message: the variable-length form of
//! the [broadcast ring](crate::broadcast), for publish/subscribe of records whose length
//! varies (log lines, encoded market data, `shmring-ipc`'s `shm:` publish/subscribe).
//!
//! It is the broadcast ring itself — the same control block, participant table, receiver
//! cursors, [`Policy`], join protocol, crash handling and wake-ups — over slots that are
//! 64-byte *cells*: a message of `len` bytes takes `cells_for(len)` consecutive cells, and the
//! writer publishes the tail once, after its last cell, so a receiver never sees part of a
//! message, and a writer killed mid-message leaves nothing anybody reads (docs/layout.md,
//! "framed broadcast cells"). Every cell is stamped as a typed slot is, so a receiver of an
//! overwrite ring never returns a message torn by the writer lapping it; every message
//! carries its sequence number, so [`RecvError::Lagged(n)`](RecvError::Lagged) counts
//! exactly the messages a receiver missed.
//!
//! ```
//! use shmring::framed::broadcast;
//!
//! let name = format!("shmring-doc-framed-broadcast-{}", std::process::id());
//! let mut tx = broadcast::Sender::create(name.as_str(), 256)?;   // 256 cells of 64 bytes
//! let mut a = broadcast::Receiver::open(name.as_str())?;         // normally other processes
//! let mut b = broadcast::Receiver::open(name.as_str())?;
//! tx.send(b"hello, everyone").unwrap();
//! assert_eq!(a.recv().unwrap(), b"hello, everyone");
//! assert_eq!(b.recv().unwrap(), b"hello, everyone");
//! shmring::Segment::unlink_name(&name)?;
//! # Ok::<(), shmring::OpenError>(())
//! ```

mod receiver;
mod sender;

use crate::broadcast::Policy;
pub use crate::broadcast::{RecvError, RecvTimeoutError, TryRecvError};

/// Bytes per cell (the ring's slot).
pub const CELL: usize = 64;
/// Bytes of the header of a message's first cell: `index`, `count`, `len`, `tag` (u32
/// each) and `seq` (u64).
pub const FIRST_HEADER: usize = 24;
/// Bytes of the header of every other cell: `index` and `count`.
pub const CELL_HEADER: usize = 8;

/// One cell of the ring (what a slot holds).
type Cell = [u8; CELL];

/// The number of cells a message of `len` bytes takes.
///
/// ```
/// use shmring::framed::broadcast::cells_for;
/// assert_eq!(cells_for(0), 1);
/// assert_eq!(cells_for(40), 1);
/// assert_eq!(cells_for(41), 2);
/// assert_eq!(cells_for(96), 2);
/// assert_eq!(cells_for(97), 3);
/// ```
pub const fn cells_for(len: usize) -> u64 {
    let first = CELL - FIRST_HEADER;
    let rest = CELL - CELL_HEADER;
    if len <= first {
        1
    } else {
        1 + (len - first).div_ceil(rest) as u64
    }
}

/// The largest message a ring of `capacity` cells carries: half the ring's cells, so a
/// message always leaves room for the one before it (history for late joiners, and a
/// lossless writer never waits for a ring it alone would fill).
///
/// ```
/// use shmring::framed::broadcast::max_message;
/// assert_eq!(max_message(2), 40);
/// assert_eq!(max_message(256), 40 + 127 * 56);
/// ```
pub const fn max_message(capacity: u64) -> usize {
    let cells = if capacity / 2 > 1 { capacity / 2 } else { 1 };
    let max = (CELL - FIRST_HEADER) as u64 + (cells - 1) * (CELL - CELL_HEADER) as u64;
    if max > (i32::MAX as u64) {
        i32::MAX as usize
    } else {
        max as usize
    }
}

/// The header fields of a cell: `(index, count)`.
fn cell_header(cell: &Cell) -> (u32, u32) {
    (word(cell, 0), word(cell, 4))
}

/// The u32 at `at` of a cell (native byte order, as every field of a segment).
fn word(cell: &Cell, at: usize) -> u32 {
    u32::from_ne_bytes([cell[at], cell[at + 1], cell[at + 2], cell[at + 3]])
}

/// The sequence number of a first cell.
fn seq_of(cell: &Cell) -> u64 {
    let mut b = [0; 8];
    b.copy_from_slice(&cell[16..24]);
    u64::from_ne_bytes(b)
}

/// The sequence number after the last message published below `tail` (0 for an empty
/// ring), read back from that message's first cell; `None` if those cells are not what a
/// writer leaves (or were overwritten meanwhile).
fn next_seq(area: &crate::mpmc::Area<Cell>, tail: u64) -> Option<u64> {
    use crate::broadcast::{Slot, read_slot};
    if tail == 0 {
        return Some(0);
    }
    if tail >= crate::storage::MAX_POSITION {
        return None; // a peer's word: no stamp arithmetic on it
    }
    let mut cell: Cell = [0; CELL];
    if read_slot(area, tail - 1, &mut cell) != Slot::Copied {
        return None;
    }
    let (index, count) = cell_header(&cell);
    if index >= count || u64::from(index) >= tail.min(area.capacity()) {
        return None;
    }
    let start = tail - 1 - u64::from(index);
    if read_slot(area, start, &mut cell) != Slot::Copied || cell_header(&cell) != (0, count) {
        return None;
    }
    seq_of(&cell).checked_add(1)
}

/// The writer: one per ring at a time (a new one takes over from a writer whose process
/// died, and goes on with its sequence numbers).
///
/// ```
/// let (mut tx, mut rx) = shmring::framed::broadcast::channel(16)?;
/// tx.send(b"one").unwrap();
/// assert_eq!(rx.try_recv().unwrap(), b"one");
/// # Ok::<(), shmring::OpenError>(())
/// ```
pub struct Sender {
    ring: crate::broadcast::Sender<Cell>,
    /// The sequence number of the next message.
    seq: u64,
}

/// A receiver: any number per ring (up to the participant table), each with its own cursor.
///
/// ```
/// let (mut tx, mut rx) = shmring::framed::broadcast::channel(16)?;
/// tx.send_tagged(7, b"tagged").unwrap();
/// let mut buf = Vec::new();
/// assert_eq!(rx.recv_into(&mut buf), Ok(7));
/// assert_eq!(buf, b"tagged");
/// # Ok::<(), shmring::OpenError>(())
/// ```
pub struct Receiver {
    ring: crate::broadcast::Receiver<Cell>,
    /// The sequence number of the next message, once one was read (a gap is `Lagged`).
    expected: Option<u64>,
}

/// Creates a framed broadcast ring of `capacity` cells on the process heap with one receiver
/// (threads of one process, and tests); more receivers come from [`Sender::subscribe`].
///
/// # Errors
///
/// [`OpenError::InvalidConfig`](crate::OpenError::InvalidConfig) for a zero or too large
/// capacity.
///
/// ```
/// let (mut tx, mut rx) = shmring::framed::broadcast::channel(8)?;
/// let mut late = tx.subscribe()?;
/// tx.send(b"both").unwrap();
/// assert_eq!((rx.recv().unwrap(), late.recv().unwrap()), (b"both".to_vec(), b"both".to_vec()));
/// # Ok::<(), shmring::OpenError>(())
/// ```
#[cfg(not(shmring_loom))]
pub fn channel(capacity: u64) -> Result<(Sender, Receiver), crate::OpenError> {
    let (tx, rx) = crate::broadcast::channel_of_kind::<Cell>(
        crate::RingKind::FramedBroadcast,
        capacity,
        Policy::Lossless,
    )?;
    Ok((Sender::from_ring(tx)?, Receiver::from_ring(rx, false)))
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("framed::broadcast::Sender")
            .field("ring", &self.ring)
            .field("seq", &self.seq)
            .finish()
    }
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("framed::broadcast::Receiver")
            .field("ring", &self.ring)
            .field("expected", &self.expected)
            .finish()
    }
}

/// The policy options both handles' builders take (a created ring records it).
macro_rules! policy_option {
    ($ty:ty, $example:literal) => {
        #[cfg(not(shmring_loom))]
        impl crate::RingOptions<$ty> {
            /// The policy of a ring `create` makes (default
            /// [`Policy::Lossless`](crate::broadcast::Policy)); opening ignores it (the
            /// ring's own, from its header, holds).
            ///
            /// ```
            /// use shmring::broadcast::Policy;
            #[doc = concat!("let opts = shmring::framed::broadcast::", $example, "::options().policy(Policy::Overwrite);")]
            /// # let _ = opts;
            /// ```
            pub fn policy(mut self, policy: crate::broadcast::Policy) -> Self {
                self.policy = policy;
                self
            }
        }
    };
}
use policy_option;
