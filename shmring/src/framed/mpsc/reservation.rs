//! A claimed record written in place by its user (`write_at`, `set_tag`, `commit`), held open
//! as long as they like (`HELD_OPEN`).

#[allow(unused_imports)]
use super::*;

/// Room for one message, reserved by [`Sender::reserve`]: write it in place, then
/// [`commit`](Reservation::commit). Dropping it without committing sends nothing (the room
/// becomes padding).
pub struct Reservation<'a> {
    pub(super) sender: &'a Sender,
    pub(super) lane: LaneGuard<'a, u8>,
    pub(super) claim: Claim,
    pub(super) tag: u32,
    pub(super) committed: bool,
}

impl std::fmt::Debug for Reservation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("framed::mpsc::Reservation")
            .field("len", &self.claim.len)
            .field("tag", &self.tag)
            .finish()
    }
}

impl Reservation<'_> {
    /// The message's length.
    ///
    /// ```
    /// let (tx, _rx) = shmring::framed::mpsc::channel(64)?;
    /// assert_eq!(tx.reserve(5).unwrap().len(), 5);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.claim.len
    }

    /// Whether the message is empty.
    ///
    /// ```
    /// let (tx, _rx) = shmring::framed::mpsc::channel(64)?;
    /// assert!(tx.reserve(0).unwrap().is_empty());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.claim.len == 0
    }

    /// Copies `bytes` into the message at `offset`.
    ///
    /// # Panics
    ///
    /// If `offset + bytes.len()` exceeds the reserved length.
    ///
    /// ```
    /// let (tx, _rx) = shmring::framed::mpsc::channel(64)?;
    /// let mut r = tx.reserve(4).unwrap();
    /// r.write_at(2, b"zz");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn write_at(&mut self, offset: usize, bytes: &[u8]) {
        let fits = offset
            .checked_add(bytes.len())
            .is_some_and(|end| end <= self.claim.len);
        assert!(
            fits,
            "write of {} bytes at {offset} past a reservation of {}",
            bytes.len(),
            self.claim.len
        );
        self.sender.write(self.claim, offset, bytes);
    }

    /// The message's bytes, in place in the ring (one slice: a record never wraps): build
    /// the message where the receiver will read it, then commit. As
    /// [`framed::Reservation::as_mut_bytes`](crate::framed::Reservation::as_mut_bytes),
    /// including why a process writing the segment behind your back can only change bytes.
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(64)?;
    /// let mut r = tx.reserve(2).unwrap();
    /// r.as_mut_bytes().copy_from_slice(b"hi");
    /// r.commit();
    /// assert_eq!(rx.recv().unwrap(), b"hi");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn as_mut_bytes(&mut self) -> &mut [u8] {
        let pos = self.claim.record() + HEADER as u64;
        // SAFETY: the claim made the record this producer's until its commit (or its
        // abandonment on drop); the slice borrows the reservation. A record never wraps.
        let (bytes, rest) = unsafe { self.sender.shared.area.runs_mut(pos, self.claim.len) };
        debug_assert!(rest.is_empty());
        bytes
    }

    /// Sets the message's tag (default 0; `u32::MAX` and `u32::MAX - 1` are reserved).
    ///
    /// # Panics
    ///
    /// If `tag` is reserved.
    ///
    /// ```
    /// let (tx, _rx) = shmring::framed::mpsc::channel(64)?;
    /// tx.reserve(1).unwrap().set_tag(5);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn set_tag(&mut self, tag: u32) {
        check_tag(tag);
        self.tag = tag;
    }

    /// Publishes the message. Bytes never written are zero.
    ///
    /// ```
    /// let (tx, mut rx) = shmring::framed::mpsc::channel(64)?;
    /// tx.reserve(3).unwrap().commit();
    /// assert_eq!(rx.recv().unwrap(), [0, 0, 0]);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn commit(mut self) {
        self.sender.commit(&self.lane, self.claim, self.tag);
        self.committed = true;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.committed {
            self.sender.abandon(&self.lane, self.claim);
        }
    }
}
