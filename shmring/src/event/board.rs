//! The event area's shared words and the protocol on them (docs/layout.md, "Event area";
//! docs/protocols.md, "Events"): notifiers set bits in every live listener's bitmap and wake
//! the listeners that sleep; a listener takes its bits, or registers and sleeps.
//!
//! Written against the sync shim, so the same code runs on a mapped segment and in the loom
//! model (`tests/loom_event.rs`), where the area is a vector of loom atomics.

use crate::sync::{AtomicU32, AtomicU64, Ordering};

/// The largest `max_ids` an event segment may have: ids are `0..max_ids`.
///
/// ```
/// assert_eq!(shmring::event::MAX_IDS, 65_536);
/// ```
pub const MAX_IDS: u32 = 1 << 16;

/// Listener records in the table (one bit each in the `live` mask).
pub const LISTENERS: usize = 64;
/// Bytes of the control block: `live: u64`, then reserved zeros (`max_ids` is the header's
/// capacity).
pub const CONTROL_SIZE: usize = 64;
/// Offset of `live` in the area: bit `i` set while listener record `i` is held.
pub const LIVE_OFFSET: usize = 0;
/// Offset of the listener table in the area (after the control block).
pub const TABLE_OFFSET: usize = CONTROL_SIZE;
/// Bytes per listener record.
pub const RECORD_SIZE: usize = 128;
/// Offset in a record of its owner word (`u64`: pid << 32 | low 32 bits of its start time;
/// 0 free, 1 being freed).
pub const RECORD_OWNER: usize = 0;
/// Offset in a record of the owner's pid namespace inode (`u64`).
pub const RECORD_PID_NS: usize = 8;
/// Offset in a record of its futex word (`u32`, the eventcount's sequence).
pub const RECORD_SEQ: usize = 16;
/// Offset in a record of its waiting flag (`u32`: 1 while the listener is registered to
/// sleep).
pub const RECORD_WAITING: usize = 20;
/// Offset in a record of the realtime signal its listener asked for (`u32`, 0: none).
pub const RECORD_SIGNAL: usize = 24;
/// Offset of the listeners' bitmaps in the area (after the table).
pub const BITMAPS_OFFSET: usize = TABLE_OFFSET + LISTENERS * RECORD_SIZE;
/// The owner word of a record while a reaper frees it (pid 0 is never a process).
pub(crate) const RESERVED: u64 = 1;

/// Bytes of one listener's bitmap for `max_ids` ids (`None` out of `1..=MAX_IDS`): its
/// summary words, then its bitmap words, padded to a multiple of 64; listener `i`'s starts at
/// `BITMAPS_OFFSET + i * stride`.
///
/// ```
/// assert_eq!(shmring::event::layout::bitmap_stride(4096), Some(576));
/// ```
pub fn bitmap_stride(max_ids: u32) -> Option<usize> {
    Shape::of(max_ids).map(|s| s.stride)
}

/// The sizes that follow from `max_ids`: each listener's bitmap is `summaries` summary words
/// (bit `j` of word `k`: bitmap word `64k + j` may be non-zero) then `words` bitmap words
/// (bit `b` of word `w`: id `64w + b` was notified), padded to a multiple of 64 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shape {
    pub max_ids: u32,
    pub words: usize,
    pub summaries: usize,
    pub stride: usize,
}

impl Shape {
    /// The shape for `max_ids` (`None`: out of `1..=MAX_IDS`).
    pub(crate) fn of(max_ids: u32) -> Option<Shape> {
        if max_ids == 0 || max_ids > MAX_IDS {
            return None;
        }
        let words = max_ids.div_ceil(64) as usize;
        let summaries = words.div_ceil(64);
        Some(Shape {
            max_ids,
            words,
            summaries,
            stride: ((summaries + words) * 8).next_multiple_of(64),
        })
    }

    /// The area's size in bytes.
    pub(crate) fn area_size(&self) -> usize {
        BITMAPS_OFFSET + LISTENERS * self.stride
    }

    fn record(record: usize) -> usize {
        TABLE_OFFSET + record * RECORD_SIZE
    }

    fn summary(&self, record: usize, k: usize) -> usize {
        BITMAPS_OFFSET + record * self.stride + 8 * k
    }

    fn word(&self, record: usize, w: usize) -> usize {
        BITMAPS_OFFSET + record * self.stride + 8 * (self.summaries + w)
    }
}

/// Where the area's words live: a mapped segment, or (loom) vectors of model atomics.
#[cfg(not(shmring_loom))]
struct Memory {
    base: std::ptr::NonNull<u8>,
    len: usize,
    _segment: std::sync::Arc<crate::Segment>,
}

#[cfg(shmring_loom)]
struct Memory {
    words64: Vec<AtomicU64>,
    words32: Vec<AtomicU32>,
    lock: loom::sync::Mutex<()>,
    wake: loom::sync::Condvar,
}

/// One event area, shared by the handles of a process that attached to it.
pub(crate) struct Board {
    pub(crate) shape: Shape,
    memory: Memory,
}

// SAFETY: the area is reached only through atomics; the mapping is kept alive by the segment
// the board holds.
unsafe impl Send for Board {}
// SAFETY: as above.
unsafe impl Sync for Board {}

impl std::fmt::Debug for Board {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Board")
            .field("max_ids", &self.shape.max_ids)
            .field("live", &format_args!("{:#x}", self.live()))
            .finish()
    }
}

/// A bitmap word or summary word held bits no notifier can set (beyond `max_ids`, or
/// summary bits past the last word): a peer wrote garbage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Garbage;

#[cfg(not(shmring_loom))]
impl Board {
    /// The board of `segment`'s area, whose size the caller checked is `shape.area_size()`.
    pub(crate) fn mapped(segment: std::sync::Arc<crate::Segment>, shape: Shape) -> Board {
        assert!(
            segment.area_len() >= shape.area_size(),
            "area checked by the opener"
        );
        Board {
            shape,
            memory: Memory {
                base: segment.area_ptr(),
                len: shape.area_size(),
                _segment: segment,
            },
        }
    }

    /// The segment the board lives in.
    pub(crate) fn segment(&self) -> &std::sync::Arc<crate::Segment> {
        &self.memory._segment
    }

    fn u64_at(&self, offset: usize) -> &AtomicU64 {
        assert!(offset % 8 == 0 && offset + 8 <= self.memory.len);
        // SAFETY: the offset is inside the area (checked just above) and 8-aligned (the area
        // starts page-aligned plus the 8-aligned header); the mapping lives as long as
        // `_segment`, and every word of the area is only accessed atomically.
        unsafe { &*self.memory.base.as_ptr().add(offset).cast::<AtomicU64>() }
    }

    fn u32_at(&self, offset: usize) -> &AtomicU32 {
        assert!(offset % 4 == 0 && offset + 4 <= self.memory.len);
        // SAFETY: as for `u64_at`, with 4-byte alignment.
        unsafe { &*self.memory.base.as_ptr().add(offset).cast::<AtomicU32>() }
    }
}

#[cfg(shmring_loom)]
impl Board {
    /// A board on the loom heap.
    pub(crate) fn model(shape: Shape) -> Board {
        let len = shape.area_size();
        Board {
            shape,
            memory: Memory {
                words64: (0..len / 8).map(|_| AtomicU64::new(0)).collect(),
                words32: (0..len / 4).map(|_| AtomicU32::new(0)).collect(),
                lock: loom::sync::Mutex::new(()),
                wake: loom::sync::Condvar::new(),
            },
        }
    }

    fn u64_at(&self, offset: usize) -> &AtomicU64 {
        &self.memory.words64[offset / 8]
    }

    fn u32_at(&self, offset: usize) -> &AtomicU32 {
        &self.memory.words32[offset / 4]
    }
}

impl Board {
    /// The live mask: bit `i` set while listener record `i` is held.
    pub(crate) fn live(&self) -> u64 {
        self.u64_at(LIVE_OFFSET).load(Ordering::SeqCst)
    }

    pub(crate) fn owner(&self, record: usize) -> &AtomicU64 {
        self.u64_at(Shape::record(record) + RECORD_OWNER)
    }

    pub(crate) fn pid_ns(&self, record: usize) -> u64 {
        self.u64_at(Shape::record(record) + RECORD_PID_NS)
            .load(Ordering::Relaxed)
    }

    /// The record's futex word (its eventcount's sequence).
    pub(crate) fn seq(&self, record: usize) -> &AtomicU32 {
        self.u32_at(Shape::record(record) + RECORD_SEQ)
    }

    /// The record's waiting flag: 1 while its listener is registered to sleep.
    pub(crate) fn waiting(&self, record: usize) -> &AtomicU32 {
        self.u32_at(Shape::record(record) + RECORD_WAITING)
    }

    /// The realtime signal the record's listener asked for (0: none).
    pub(crate) fn signal(&self, record: usize) -> u32 {
        self.u32_at(Shape::record(record) + RECORD_SIGNAL)
            .load(Ordering::Relaxed)
    }

    /// Notifies `id` to listener record `record`: sets its bit (a load first: an id already
    /// pending costs no locked instruction), then makes sure the summary bit of its word is
    /// set. Returns (whether the bit was newly set, whether the listener is registered to
    /// sleep). The caller checked `id < max_ids`.
    #[inline]
    pub(crate) fn deliver(&self, record: usize, id: u32) -> (bool, bool) {
        let w = id as usize / 64;
        let bit = 1u64 << (id % 64);
        let word = self.u64_at(self.shape.word(record, w));
        let newly = word.load(Ordering::SeqCst) & bit == 0
            && word.fetch_or(bit, Ordering::SeqCst) & bit == 0;
        // Always looked at, even when the bit was already set: a notifier killed between its
        // bit and its summary bit must not hide the id from the listener for good.
        let summary = self.u64_at(self.shape.summary(record, w / 64));
        let sbit = 1u64 << (w % 64);
        if summary.load(Ordering::SeqCst) & sbit == 0 {
            summary.fetch_or(sbit, Ordering::SeqCst);
        }
        // The store→load order against a listener going to sleep (its flag store, a SeqCst
        // fence, its summary load): the bit's and summary's SeqCst operations and this SeqCst
        // load are in the total order with the listener's fence, so one side sees the other
        // (C++20 [atomics.order]); on x86 the locked instruction is a full barrier anyway.
        // loom models SeqCst accesses as acquire/release only, so its model fences here.
        #[cfg(shmring_loom)]
        crate::sync::fence(Ordering::SeqCst);
        let waiting = self.waiting(record).load(Ordering::SeqCst) != 0;
        (newly, waiting)
    }

    /// Whether listener record `record` has anything pending (a summary word is non-zero).
    pub(crate) fn pending(&self, record: usize) -> bool {
        (0..self.shape.summaries).any(|k| {
            self.u64_at(self.shape.summary(record, k))
                .load(Ordering::SeqCst)
                != 0
        })
    }

    /// Takes every id pending for `record` into `out` (ascending), clearing them: summary
    /// words first, then the bitmap words they name. Bits no notifier can set are dropped and
    /// reported as [`Garbage`] (the valid ids taken stay in `out`).
    pub(crate) fn take(&self, record: usize, out: &mut Vec<u32>) -> Result<(), Garbage> {
        let mut garbage = false;
        for k in 0..self.shape.summaries {
            let summary = self.u64_at(self.shape.summary(record, k));
            if summary.load(Ordering::SeqCst) == 0 {
                continue;
            }
            let mut words = summary.swap(0, Ordering::SeqCst);
            while words != 0 {
                let w = k * 64 + words.trailing_zeros() as usize;
                words &= words - 1;
                if w >= self.shape.words {
                    garbage = true;
                    continue;
                }
                let mut bits = self
                    .u64_at(self.shape.word(record, w))
                    .swap(0, Ordering::SeqCst);
                while bits != 0 {
                    let id = (w * 64) as u32 + bits.trailing_zeros();
                    bits &= bits - 1;
                    if id < self.shape.max_ids {
                        out.push(id);
                    } else {
                        garbage = true;
                    }
                }
            }
        }
        if garbage { Err(Garbage) } else { Ok(()) }
    }

    /// Claims a free record for a listener with owner word `me` (per record under loom),
    /// clears its bitmap and makes it live; `None` when every record is held.
    pub(crate) fn claim(&self, me: u64, pid_ns: u64, signal: u32) -> Option<usize> {
        (0..LISTENERS).find(|&i| {
            let owner = self.owner(i);
            let word = crate::liveness::record_owner(me, i);
            if owner.load(Ordering::Relaxed) != 0
                || owner
                    .compare_exchange(0, word, Ordering::AcqRel, Ordering::Relaxed)
                    .is_err()
            {
                return false;
            }
            let at = Shape::record(i);
            self.u64_at(at + RECORD_PID_NS)
                .store(pid_ns, Ordering::Relaxed);
            self.u32_at(at + RECORD_SIGNAL)
                .store(signal, Ordering::Relaxed);
            self.waiting(i).store(0, Ordering::Relaxed);
            for k in 0..self.shape.summaries {
                self.u64_at(self.shape.summary(i, k))
                    .store(0, Ordering::Relaxed);
            }
            for w in 0..self.shape.words {
                self.u64_at(self.shape.word(i, w))
                    .store(0, Ordering::Relaxed);
            }
            self.u64_at(LIVE_OFFSET).fetch_or(1 << i, Ordering::SeqCst);
            true
        })
    }

    /// Gives record `record` back (its listener is dropped).
    pub(crate) fn release(&self, record: usize) {
        self.waiting(record).store(0, Ordering::Relaxed);
        self.u64_at(LIVE_OFFSET)
            .fetch_and(!(1 << record), Ordering::SeqCst);
        self.owner(record).store(0, Ordering::Release);
    }

    /// Frees record `record` if it is still held by `owner` (a listener found dead): one
    /// reaper wins the owner word, takes the record out of the live mask, then frees it.
    pub(crate) fn reap(&self, record: usize, owner: u64) -> bool {
        if self
            .owner(record)
            .compare_exchange(owner, RESERVED, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        self.release(record);
        true
    }

    /// Frees the records of listeners whose processes are proven dead; how many.
    pub(crate) fn reap_dead(&self) -> usize {
        (0..LISTENERS)
            .filter(|&i| {
                let owner = self.owner(i).load(Ordering::Acquire);
                owner > RESERVED
                    && crate::liveness::dead(owner, self.pid_ns(i), || false)
                    && self.reap(i, owner)
            })
            .count()
    }

    /// Wakes listener record `record` (it is registered to sleep).
    pub(crate) fn wake(&self, record: usize) {
        use crate::wait::Futex;
        let seq = self.seq(record);
        seq.fetch_add(1, Ordering::Release);
        self.futex_wake(seq);
    }
}

/// The futex of an event area: the system call, or the loom model's condition variable.
/// Notifiers set their bits with locked instructions and load the waiting flag after them
/// (a full barrier), so a listener going to sleep needs no heavy barrier.
impl crate::wait::Futex for Board {
    #[cfg(not(shmring_loom))]
    fn futex_wait(
        &self,
        word: &AtomicU32,
        expected: u32,
        deadline: Option<std::time::Instant>,
    ) -> crate::futex::Woken {
        crate::futex::wait(word, expected, deadline)
    }

    #[cfg(not(shmring_loom))]
    fn futex_wake(&self, word: &AtomicU32) {
        crate::futex::wake_all(word);
    }

    #[cfg(shmring_loom)]
    fn futex_wait(
        &self,
        word: &AtomicU32,
        expected: u32,
        _deadline: Option<std::time::Instant>,
    ) -> crate::futex::Woken {
        let guard = self.memory.lock.lock().unwrap();
        if word.load(Ordering::SeqCst) != expected {
            return crate::futex::Woken::Changed;
        }
        drop(self.memory.wake.wait(guard).unwrap());
        crate::futex::Woken::Maybe
    }

    #[cfg(shmring_loom)]
    fn futex_wake(&self, _word: &AtomicU32) {
        let _guard = self.memory.lock.lock().unwrap();
        self.memory.wake.notify_all();
    }

    fn heavy_barrier(&self) {}

    fn sleeper_barrier(&self) {}
}

#[cfg(all(test, not(shmring_loom)))]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let s = Shape::of(4096).unwrap();
        assert_eq!((s.words, s.summaries, s.stride), (64, 1, 576));
        assert_eq!(s.area_size(), 8256 + 64 * 576);
        let s = Shape::of(1).unwrap();
        assert_eq!((s.words, s.summaries, s.stride), (1, 1, 64));
        let s = Shape::of(MAX_IDS).unwrap();
        assert_eq!((s.words, s.summaries, s.stride), (1024, 16, 8320));
        assert_eq!(Shape::of(0), None);
        assert_eq!(Shape::of(MAX_IDS + 1), None);
    }
}
