//! Zero-copy chunks (as rtrb's): a `WriteChunk` fills slots in place and publishes them with one
//! store, a `ReadChunk` reads them in place and releases them with one store.

#[allow(unused_imports)]
use super::*;

/// Slots reserved by [`Sender::write_chunk`]: fill them with [`push`](WriteChunk::push) or
/// [`extend_from_slice`](WriteChunk::extend_from_slice), then [`commit`](WriteChunk::commit).
/// Dropped without a commit, nothing is published.
///
/// ```
/// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(4)?;
/// let mut chunk = tx.write_chunk(2).unwrap();
/// chunk.fill_with(|| 5);
/// drop(chunk); // not committed
/// assert!(rx.try_recv().is_err());
/// # Ok::<(), shmring::OpenError>(())
/// ```
#[must_use = "a chunk publishes nothing unless committed"]
pub struct WriteChunk<'a, T: ShmType> {
    pub(super) tx: &'a mut Sender<T>,
    pub(super) len: usize,
    pub(super) written: usize,
}

impl<T: ShmType> WriteChunk<'_, T> {
    /// Slots reserved.
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::spsc::channel::<u8>(4)?;
    /// assert_eq!(tx.write_chunk(3).unwrap().len(), 3);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no slots were reserved.
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::spsc::channel::<u8>(4)?;
    /// assert!(tx.write_chunk(0).unwrap().is_empty());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slots filled so far.
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::spsc::channel::<u8>(4)?;
    /// let mut c = tx.write_chunk(3).unwrap();
    /// c.push(1).unwrap();
    /// assert_eq!(c.written(), 1);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn written(&self) -> usize {
        self.written
    }

    /// Writes the next slot.
    ///
    /// # Errors
    ///
    /// Gives `value` back when every reserved slot is written.
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::spsc::channel::<u8>(4)?;
    /// let mut c = tx.write_chunk(1).unwrap();
    /// assert_eq!(c.push(1), Ok(()));
    /// assert_eq!(c.push(2), Err(2));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn push(&mut self, value: T) -> Result<(), T> {
        if self.written == self.len {
            return Err(value);
        }
        // SAFETY: the slot lies in the reservation (tail + written < tail + len <= head +
        // capacity), which only this sender writes until commit publishes it.
        unsafe {
            self.tx
                .end
                .area
                .write_one(self.tx.tail + self.written as u64, value)
        };
        self.written += 1;
        Ok(())
    }

    /// Copies as much of `src` as fits into the next slots; returns how many were copied.
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::spsc::channel::<u8>(4)?;
    /// let mut c = tx.write_chunk(2).unwrap();
    /// assert_eq!(c.extend_from_slice(&[1, 2, 3]), 2);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn extend_from_slice(&mut self, src: &[T]) -> usize {
        let n = src.len().min(self.len - self.written);
        // SAFETY: as in `push`, for the n slots after those already written.
        unsafe {
            self.tx
                .end
                .area
                .write(self.tx.tail + self.written as u64, &src[..n])
        };
        self.written += n;
        n
    }

    /// Fills every remaining slot with values from `f`.
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::spsc::channel::<u8>(4)?;
    /// let mut c = tx.write_chunk(4).unwrap();
    /// let mut i = 0;
    /// c.fill_with(|| { i += 1; i });
    /// assert_eq!(i, 4, "called once per slot");
    /// assert_eq!(c.commit(), 4);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn fill_with(&mut self, mut f: impl FnMut() -> T) {
        // `f` runs exactly once per remaining slot: no value is made and then dropped.
        while self.written < self.len {
            let _ = self.push(f());
        }
    }

    /// The slots not written yet, in place in the ring (two runs when they wrap around its
    /// end; the second is empty otherwise): build messages right where the receiver will
    /// read them, then [`commit_all`](WriteChunk::commit_all).
    ///
    /// The slices are the segment's shared memory, not a copy. No honest receiver reads or
    /// writes them before the commit publishes them; another process that maps the segment
    /// and writes there anyway (a hostile or broken peer) can only change which values you
    /// read back or the receiver gets: `T` is plain data (`Pod`: any bytes are a valid
    /// value, no pointers, no drop), and the mapping outlives the chunk, which borrows the
    /// handle that keeps it. The same reasoning as for every payload the rings copy.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u32>(4)?;
    /// let mut c = tx.write_chunk(3).unwrap();
    /// let (a, b) = c.as_mut_slices();
    /// for (i, slot) in a.iter_mut().chain(b.iter_mut()).enumerate() {
    ///     *slot = 10 * i as u32;
    /// }
    /// assert_eq!(c.commit_all(), 3);
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [0, 10, 20]);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn as_mut_slices(&mut self) -> (&mut [T], &mut [T]) {
        let from = self.tx.tail + self.written as u64;
        // SAFETY: [tail + written, tail + len) is this sender's reservation (len ≤ the room
        // the receiver's head left), unpublished; the slices borrow the chunk, which
        // borrows the sender that keeps the mapping alive.
        unsafe { self.tx.end.area.runs_mut(from, self.len - self.written) }
    }

    /// Publishes every reserved slot — written in place through
    /// [`as_mut_slices`](WriteChunk::as_mut_slices), pushed, or left as it was — with one
    /// Release store; returns how many.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(4)?;
    /// let mut c = tx.write_chunk(2).unwrap();
    /// c.as_mut_slices().0.fill(7);
    /// assert_eq!(c.commit_all(), 2);
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [7, 7]);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn commit_all(mut self) -> usize {
        self.written = self.len;
        self.commit()
    }

    /// Publishes the written slots with one Release store (waking a sleeping receiver);
    /// returns how many.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(4)?;
    /// let mut c = tx.write_chunk(4).unwrap();
    /// c.push(1).unwrap();
    /// assert_eq!(c.commit(), 1); // only what was written
    /// assert_eq!(rx.try_iter().count(), 1);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn commit(self) -> usize {
        if self.written > 0 {
            let tail = self.tx.tail + self.written as u64;
            self.tx.publish(tail);
        }
        self.written
    }
}

impl<T: ShmType> fmt::Debug for WriteChunk<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteChunk")
            .field("len", &self.len)
            .field("written", &self.written)
            .finish()
    }
}

/// Messages taken by [`Receiver::read_chunk`]: read them with [`pop`](ReadChunk::pop) or
/// [`copy_to_slice`](ReadChunk::copy_to_slice), then [`commit`](ReadChunk::commit) to release
/// the slots — dropped without a commit, nothing is released (the messages will be read
/// again). Or iterate over it (`into_iter`, a `for` loop): the iterator releases what it
/// yielded when it is dropped, as rtrb's does ([`ReadChunkIntoIter`]).
///
/// ```
/// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(4)?;
/// tx.send(1).unwrap();
/// let mut c = rx.read_chunk(1).unwrap();
/// assert_eq!(c.pop(), Some(1));
/// drop(c); // not committed: still there
/// assert_eq!(rx.try_recv(), Ok(1));
/// # Ok::<(), shmring::OpenError>(())
/// ```
#[must_use = "a chunk releases nothing unless committed or iterated"]
pub struct ReadChunk<'a, T: ShmType> {
    pub(super) rx: &'a mut Receiver<T>,
    pub(super) len: usize,
    pub(super) read: usize,
}

impl<T: ShmType> ReadChunk<'_, T> {
    /// Messages in the chunk.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(4)?;
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.read_chunk(1).unwrap().len(), 1);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the chunk holds no messages.
    ///
    /// ```
    /// let (_tx, mut rx) = shmring::spsc::channel::<u8>(4)?;
    /// assert!(rx.read_chunk(0).unwrap().is_empty());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads the next message of the chunk.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(4)?;
    /// tx.send(8).unwrap();
    /// let mut c = rx.read_chunk(1).unwrap();
    /// assert_eq!((c.pop(), c.pop()), (Some(8), None));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn pop(&mut self) -> Option<T> {
        if self.read == self.len {
            return None;
        }
        // SAFETY: the message lies in [head, head + len) ⊆ [head, tail): published and not
        // released until commit.
        let value = unsafe { self.rx.end.area.read_one(self.rx.head + self.read as u64) };
        self.read += 1;
        Some(value)
    }

    /// Copies the next messages into `dst`, as many as fit; returns how many.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(4)?;
    /// for i in 0..3 { tx.send(i).unwrap(); }
    /// let mut c = rx.read_chunk(3).unwrap();
    /// let mut buf = [0u8; 8];
    /// assert_eq!(c.copy_to_slice(&mut buf), 3);
    /// assert_eq!(&buf[..3], &[0, 1, 2]);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn copy_to_slice(&mut self, dst: &mut [T]) -> usize {
        let n = dst.len().min(self.len - self.read);
        // SAFETY: as in `pop`, for the n messages after those already read.
        unsafe {
            self.rx
                .end
                .area
                .read(self.rx.head + self.read as u64, &mut dst[..n])
        };
        self.read += n;
        n
    }

    /// Releases the messages read so far with one Release store (waking a sleeping sender);
    /// returns how many.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(4)?;
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// let mut c = rx.read_chunk(2).unwrap();
    /// c.pop();
    /// assert_eq!(c.commit(), 1);
    /// assert_eq!(rx.try_recv(), Ok(2));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn commit(self) -> usize {
        if self.read > 0 {
            let head = self.rx.head + self.read as u64;
            self.rx.release(head);
        }
        self.read
    }

    /// The messages of the chunk not read yet, in place in the ring (two runs when they wrap
    /// around its end): read them without copying, then
    /// [`commit_all`](ReadChunk::commit_all) hands their slots back.
    ///
    /// The slices are the segment's shared memory. The honest sender does not write these
    /// slots until they are released; a hostile process that does can only change the
    /// values you see (`T` is `Pod`), as described at
    /// [`WriteChunk::as_mut_slices`].
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u32>(4)?;
    /// for v in [1, 2, 3] { tx.send(v).unwrap(); }
    /// let c = rx.read_chunk(3).unwrap();
    /// let (a, b) = c.as_slices();
    /// assert_eq!(a.iter().chain(b).sum::<u32>(), 6);
    /// assert_eq!(c.commit_all(), 3);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    #[cfg(not(shmring_loom))]
    pub fn as_slices(&self) -> (&[T], &[T]) {
        let from = self.rx.head + self.read as u64;
        // SAFETY: [head + read, head + len) is published (below the tail the receiver
        // validated) and not released until a commit, which consumes the chunk; shared
        // slices of it while the chunk is borrowed.
        unsafe { self.rx.end.area.runs(from, self.len - self.read) }
    }

    /// Releases every message of the chunk, read or not; returns how many.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(4)?;
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.read_chunk(1).unwrap().commit_all(), 1);
    /// assert!(rx.try_recv().is_err());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn commit_all(mut self) -> usize {
        self.read = self.len;
        self.commit()
    }
}

impl<'a, T: ShmType> IntoIterator for ReadChunk<'a, T> {
    type Item = T;
    type IntoIter = ReadChunkIntoIter<'a, T>;

    /// An iterator over the chunk's messages that **releases every message it yielded when
    /// it is dropped** (as rtrb's does); messages it did not yield stay in the ring.
    ///
    /// ```
    /// let (mut tx, mut rx) = shmring::spsc::channel::<u8>(4)?;
    /// for i in 0..3 { tx.send(i).unwrap(); }
    /// let firsts: Vec<u8> = rx.read_chunk(3).unwrap().into_iter().take(2).collect();
    /// assert_eq!(firsts, [0, 1]);                // released when the iterator was dropped
    /// assert_eq!(rx.try_recv(), Ok(2));          // not yielded: still there
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    fn into_iter(self) -> ReadChunkIntoIter<'a, T> {
        ReadChunkIntoIter { chunk: Some(self) }
    }
}

/// The iterator of a [`ReadChunk`] (from `into_iter`, or a `for` loop over the chunk): yields
/// its messages and, when dropped, releases those it yielded with one Release store — the
/// same as rtrb's `ReadChunkIntoIter`. A `ReadChunk` read with [`pop`](ReadChunk::pop) or
/// [`copy_to_slice`](ReadChunk::copy_to_slice) releases nothing until
/// [`commit`](ReadChunk::commit).
///
/// ```
/// let (mut tx, mut rx) = shmring::spsc::channel::<u32>(8)?;
/// for i in 0..4 { tx.send(i).unwrap(); }
/// let mut sum = 0;
/// for v in rx.read_chunk(4).unwrap() {
///     sum += v;
/// }
/// assert_eq!(sum, 6);
/// assert!(rx.try_recv().is_err()); // all four released by the loop
/// # Ok::<(), shmring::OpenError>(())
/// ```
#[must_use = "iterators are lazy; dropping this releases only the messages it yielded"]
pub struct ReadChunkIntoIter<'a, T: ShmType> {
    /// `None` only while dropping.
    pub(super) chunk: Option<ReadChunk<'a, T>>,
}

impl<T: ShmType> Iterator for ReadChunkIntoIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.chunk.as_mut()?.pop()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.chunk.as_ref().map_or(0, |c| c.len - c.read);
        (left, Some(left))
    }
}

impl<T: ShmType> ExactSizeIterator for ReadChunkIntoIter<'_, T> {}

impl<T: ShmType> Drop for ReadChunkIntoIter<'_, T> {
    /// Releases the messages yielded so far.
    fn drop(&mut self) {
        if let Some(chunk) = self.chunk.take() {
            chunk.commit();
        }
    }
}

impl<T: ShmType> fmt::Debug for ReadChunkIntoIter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadChunkIntoIter")
            .field("chunk", &self.chunk)
            .finish()
    }
}

impl<T: ShmType> fmt::Debug for ReadChunk<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadChunk")
            .field("len", &self.len)
            .field("read", &self.read)
            .finish()
    }
}
