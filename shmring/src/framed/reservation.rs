//! A record being written in place: `write_at`, `set_tag`, then `commit` (or drop: nothing
//! is published).

#[allow(unused_imports)]
use super::*;

/// Room for one message, reserved by [`Sender::reserve`]: write it in place, then
/// [`commit`](Reservation::commit). Dropping it without committing sends nothing.
#[derive(Debug)]
pub struct Reservation<'a> {
    pub(super) sender: &'a mut Sender,
    pub(super) index: u64,
    pub(super) len: usize,
    pub(super) tag: u32,
    /// Payload bytes written so far (to clear them again if the reservation is dropped).
    pub(super) dirty: usize,
}

impl Reservation<'_> {
    /// The message's length.
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::framed::channel(64)?;
    /// assert_eq!(tx.reserve(5).unwrap().len(), 5);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the message is empty.
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::framed::channel(64)?;
    /// assert!(tx.reserve(0).unwrap().is_empty());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies `bytes` into the message at `offset`.
    ///
    /// # Panics
    ///
    /// If `offset + bytes.len()` exceeds the reserved length.
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::framed::channel(64)?;
    /// let mut r = tx.reserve(4).unwrap();
    /// r.write_at(2, b"zz");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn write_at(&mut self, offset: usize, bytes: &[u8]) {
        let end = offset
            .checked_add(bytes.len())
            .filter(|e| *e <= self.len)
            .unwrap_or_else(|| {
                panic!(
                    "write of {} bytes at {offset} past a reservation of {}",
                    bytes.len(),
                    self.len
                )
            });
        self.sender.write(self.index, offset, bytes);
        self.dirty = self.dirty.max(end);
    }

    /// The message's bytes, in place in the ring (a record never wraps, so they are one
    /// slice): build the message right where the receiver will read it, then
    /// [`commit`](Reservation::commit). They start as zeros.
    ///
    /// The slice is the segment's shared memory. No honest receiver touches it before the
    /// commit; a process that maps the segment and writes there anyway can only change the
    /// bytes (what you read back, or what is received) — a byte has no invalid values, and
    /// the mapping outlives the reservation, which borrows the handle that keeps it.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// let mut r = tx.reserve(5).unwrap();
    /// r.as_mut_bytes().copy_from_slice(b"hello");
    /// r.commit();
    /// assert_eq!(rx.recv().unwrap(), b"hello");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn as_mut_bytes(&mut self) -> &mut [u8] {
        // Dropped without a commit, whatever was written is zeroed again.
        self.dirty = self.len;
        let pos = self.index + HEADER as u64;
        // SAFETY: the claim made the record this sender's until commit; the slice borrows
        // the reservation, which borrows the sender keeping the mapping alive. A record
        // never wraps, so the second run is empty.
        let (bytes, rest) = unsafe { self.sender.end.area.runs_mut(pos, self.len) };
        debug_assert!(rest.is_empty());
        bytes
    }

    /// Sets the message's tag (default 0; `u32::MAX` and `u32::MAX - 1` are reserved).
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::framed::channel(64)?;
    /// tx.reserve(1).unwrap().set_tag(5);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn set_tag(&mut self, tag: u32) {
        assert!(
            record::user_kind(tag),
            "tags u32::MAX and u32::MAX - 1 are reserved"
        );
        self.tag = tag;
    }

    /// Publishes the message. Bytes never written are zero.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::framed::channel(64)?;
    /// tx.reserve(3).unwrap().commit();
    /// assert_eq!(rx.recv().unwrap(), [0, 0, 0]);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn commit(self) {
        let mut this = std::mem::ManuallyDrop::new(self);
        let (index, len, tag) = (this.index, this.len, this.tag);
        this.sender.commit(index, len, tag);
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.dirty > 0 {
            // SAFETY: the reserved record is still this sender's; clearing what was written
            // keeps the free space zeroed.
            unsafe {
                self.sender
                    .end
                    .area
                    .zero(self.index + HEADER as u64, self.dirty)
            };
        }
    }
}
