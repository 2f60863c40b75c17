//! The SPSC ring area: byte layout and the storage abstraction the algorithm runs on.
//!
//! In normal builds an [`Area`] reinterprets the mapped segment (atomics through
//! `AtomicU64::from_ptr`, slots through raw pointers); under `--cfg shmring_loom` it owns
//! heap-allocated loom atomics, loom cells and a model futex, so the same ring code is
//! model-checked. Offsets are relative to the start of the area (segment offset 4096) and are
//! documented in `docs/layout.md`.

use std::time::Instant;

use crate::futex::Woken;
use crate::sync::{AtomicU32, AtomicU64};
use crate::wait::{EventCount, Futex};

/// Producer index (`u64`, monotonic), alone in its 128-byte block.
pub const TAIL_OFFSET: usize = 0;
/// Consumer index (`u64`, monotonic), alone in its 128-byte block.
pub const HEAD_OFFSET: usize = 128;
/// "Data available" eventcount word (`u32`, futex); the receiver sleeps on it.
pub const DATA_SEQ_OFFSET: usize = 256;
/// The receiver is (about to be) asleep on the data word (`u32` flag).
pub const DATA_WAITING_OFFSET: usize = 260;
/// "Space available" eventcount word (`u32`, futex); the sender sleeps on it.
pub const SPACE_SEQ_OFFSET: usize = 384;
/// The sender is (about to be) asleep on the space word (`u32` flag).
pub const SPACE_WAITING_OFFSET: usize = 388;
/// The sender's attachment record.
pub const SENDER_RECORD_OFFSET: usize = 512;
/// The receiver's attachment record.
pub const RECEIVER_RECORD_OFFSET: usize = 640;
/// Within a record: owner word (`u64`: pid << 32 | low 32 bits of its start time; 0 = none).
pub const RECORD_OWNER: usize = 0;
/// Within a record: attachment state (`u32`: 0 never attached, 1 attached, 2 closed).
pub const RECORD_STATE: usize = 8;
/// Within a record: the owner's pid namespace inode (`u64`).
pub const RECORD_PID_NS: usize = 16;
/// Bytes before the first slot (more if the payload's alignment asks for it).
pub const CONTROL_SIZE: usize = 768;

/// Attachment state: nobody has attached to this role yet.
pub const STATE_NEVER: u32 = 0;
/// Attachment state: a process holds the role (check its liveness).
pub const STATE_ATTACHED: u32 = 1;
/// Attachment state: the last holder closed it.
pub const STATE_CLOSED: u32 = 2;

/// Offset of slot 0 for a payload of alignment `align`.
pub fn slots_offset(align: usize) -> usize {
    CONTROL_SIZE.next_multiple_of(align.max(1))
}

/// Area size for `capacity` slots of a payload of `size` and `align` bytes, if it fits.
pub fn area_size(capacity: u64, size: usize, align: usize) -> Option<u64> {
    capacity
        .checked_mul(size as u64)?
        .checked_add(slots_offset(align) as u64)
}

/// The two ends of the ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Sender,
    Receiver,
}

impl Role {
    pub fn other(self) -> Role {
        match self {
            Role::Sender => Role::Receiver,
            Role::Receiver => Role::Sender,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Sender => "sender",
            Role::Receiver => "receiver",
        }
    }

    fn record(self) -> usize {
        match self {
            Role::Sender => SENDER_RECORD_OFFSET,
            Role::Receiver => RECEIVER_RECORD_OFFSET,
        }
    }
}

#[cfg(not(shmring_loom))]
pub(crate) use mapped::Area;

#[cfg(shmring_loom)]
pub(crate) use model::Area;

/// Accessors shared by both storage implementations.
impl<T: Copy> Area<T> {
    pub fn tail(&self) -> &AtomicU64 {
        self.u64_at(TAIL_OFFSET)
    }

    pub fn head(&self) -> &AtomicU64 {
        self.u64_at(HEAD_OFFSET)
    }

    pub fn owner(&self, role: Role) -> &AtomicU64 {
        self.u64_at(role.record() + RECORD_OWNER)
    }

    pub fn state(&self, role: Role) -> &AtomicU32 {
        self.u32_at(role.record() + RECORD_STATE)
    }

    pub fn pid_ns(&self, role: Role) -> &AtomicU64 {
        self.u64_at(role.record() + RECORD_PID_NS)
    }

    /// The eventcount the receiver sleeps on (notified by the sender).
    pub fn data_event(&self) -> EventCount<'_> {
        EventCount {
            seq: self.u32_at(DATA_SEQ_OFFSET),
            waiting: self.u32_at(DATA_WAITING_OFFSET),
        }
    }

    /// The eventcount the sender sleeps on (notified by the receiver).
    pub fn space_event(&self) -> EventCount<'_> {
        EventCount {
            seq: self.u32_at(SPACE_SEQ_OFFSET),
            waiting: self.u32_at(SPACE_WAITING_OFFSET),
        }
    }

    /// The eventcount that `role` sleeps on.
    pub fn event_of(&self, role: Role) -> EventCount<'_> {
        match role {
            Role::Sender => self.space_event(),
            Role::Receiver => self.data_event(),
        }
    }

    pub fn capacity(&self) -> u64 {
        self.mask + 1
    }
}

#[cfg(not(shmring_loom))]
mod mapped {
    use std::marker::PhantomData;
    use std::ptr::NonNull;

    use super::*;

    /// The ring area inside a mapped segment. Holds raw pointers only; the segment that keeps
    /// the mapping alive is owned by the handle next to it.
    pub(crate) struct Area<T> {
        base: NonNull<u8>,
        slots: NonNull<T>,
        pub(super) mask: u64,
        _payload: PhantomData<T>,
    }

    impl<T> Clone for Area<T> {
        fn clone(&self) -> Self {
            Area {
                base: self.base,
                slots: self.slots,
                mask: self.mask,
                _payload: PhantomData,
            }
        }
    }

    impl<T: Copy> Area<T> {
        /// # Safety
        ///
        /// `base` is 128-byte aligned and valid for `area_size(capacity, size_of::<T>(),
        /// align_of::<T>())` bytes for as long as the `Area` (and its clones) are used;
        /// `capacity` is a power of two.
        pub unsafe fn new(base: NonNull<u8>, capacity: u64) -> Area<T> {
            debug_assert!(capacity.is_power_of_two());
            debug_assert_eq!(base.as_ptr() as usize % 128, 0);
            // SAFETY: the slots start inside the area (the caller's contract covers
            // slots_offset + capacity slots).
            let slots = unsafe { base.add(slots_offset(align_of::<T>())) }.cast::<T>();
            Area {
                base,
                slots,
                mask: capacity - 1,
                _payload: PhantomData,
            }
        }

        pub(super) fn u64_at(&self, offset: usize) -> &AtomicU64 {
            debug_assert!(offset % 8 == 0 && offset + 8 <= CONTROL_SIZE);
            // SAFETY: offset is one of the 8-aligned control offsets below CONTROL_SIZE, inside
            // the area (`new`'s contract); these words are only ever accessed atomically.
            unsafe { AtomicU64::from_ptr(self.base.as_ptr().add(offset).cast()) }
        }

        pub(super) fn u32_at(&self, offset: usize) -> &AtomicU32 {
            debug_assert!(offset % 4 == 0 && offset + 4 <= CONTROL_SIZE);
            // SAFETY: as in `u64_at`, for a 4-aligned control offset.
            unsafe { AtomicU32::from_ptr(self.base.as_ptr().add(offset).cast()) }
        }

        /// Copies `src` into the slots starting at ring position `pos`, wrapping.
        ///
        /// # Safety
        ///
        /// The caller is the only writer of those slots: they lie between the published tail
        /// and head + capacity (the sender's reservation).
        pub unsafe fn write(&self, pos: u64, src: &[T]) {
            let (first, second) = self.split(pos, src.len());
            // SAFETY: `split` keeps both runs inside the slot array; the slots belong to the
            // caller, and `src` is process-local memory, so the ranges do not overlap.
            unsafe {
                let start = self.slots.as_ptr().add((pos & self.mask) as usize);
                std::ptr::copy_nonoverlapping(src.as_ptr(), start, first);
                std::ptr::copy_nonoverlapping(src.as_ptr().add(first), self.slots.as_ptr(), second);
            }
        }

        /// Copies the slots starting at ring position `pos`, wrapping, into `dst`.
        ///
        /// # Safety
        ///
        /// Those slots are published (below the tail this receiver validated) and not yet
        /// released (at or above its head). `T` is `Pod`, so whatever bytes a hostile peer
        /// left there are still a valid `T`.
        pub unsafe fn read(&self, pos: u64, dst: &mut [T]) {
            let (first, second) = self.split(pos, dst.len());
            // SAFETY: as in `write`, with source and destination swapped.
            unsafe {
                let start = self.slots.as_ptr().add((pos & self.mask) as usize);
                std::ptr::copy_nonoverlapping(start, dst.as_mut_ptr(), first);
                std::ptr::copy_nonoverlapping(
                    self.slots.as_ptr(),
                    dst.as_mut_ptr().add(first),
                    second,
                );
            }
        }

        /// Writes one slot (the single-message fast path).
        ///
        /// # Safety
        ///
        /// As for [`Area::write`].
        #[inline]
        pub unsafe fn write_one(&self, pos: u64, value: T) {
            // SAFETY: the masked index is inside the slot array; the slot is the caller's.
            unsafe {
                self.slots
                    .as_ptr()
                    .add((pos & self.mask) as usize)
                    .write(value)
            }
        }

        /// Reads one slot (the single-message fast path).
        ///
        /// # Safety
        ///
        /// As for [`Area::read`].
        #[inline]
        pub unsafe fn read_one(&self, pos: u64) -> T {
            // SAFETY: the masked index is inside the slot array; the slot is published.
            unsafe { self.slots.as_ptr().add((pos & self.mask) as usize).read() }
        }

        /// Lengths of the runs before and after the wrap for `n` slots from `pos`.
        fn split(&self, pos: u64, n: usize) -> (usize, usize) {
            let start = (pos & self.mask) as usize;
            let capacity = self.capacity() as usize;
            assert!(n <= capacity, "a run longer than the ring");
            let first = n.min(capacity - start);
            (first, n - first)
        }
    }

    impl<T> Futex for Area<T> {
        fn futex_wait(&self, word: &AtomicU32, expected: u32, deadline: Option<Instant>) -> Woken {
            crate::futex::wait(word, expected, deadline)
        }

        fn futex_wake(&self, word: &AtomicU32) {
            crate::futex::wake_all(word);
        }

        fn heavy_barrier(&self) {
            // Peers that registered notify after a compiler fence only; if this process cannot
            // issue the barrier, its sleeps are still cut into liveness periods, so a missed
            // wake-up costs latency, never a hang.
            if crate::futex::register_barrier() {
                crate::futex::heavy_barrier();
            }
        }
    }
}

#[cfg(shmring_loom)]
mod model {
    use loom::cell::UnsafeCell;
    use loom::sync::{Arc, Condvar, Mutex};

    use super::*;

    /// The ring area on the loom heap: every control word a loom atomic at its offset, every
    /// slot a loom cell, and a model futex.
    pub(crate) struct Area<T> {
        inner: Arc<Inner<T>>,
        pub(super) mask: u64,
    }

    struct Inner<T> {
        words64: Vec<AtomicU64>,
        words32: Vec<AtomicU32>,
        slots: Vec<UnsafeCell<T>>,
        lock: Mutex<()>,
        wake: Condvar,
    }

    impl<T> Clone for Area<T> {
        fn clone(&self) -> Self {
            Area {
                inner: self.inner.clone(),
                mask: self.mask,
            }
        }
    }

    impl<T: Copy + bytemuck::Zeroable> Area<T> {
        pub fn new_model(capacity: u64) -> Area<T> {
            assert!(capacity.is_power_of_two());
            let inner = Inner {
                words64: (0..CONTROL_SIZE / 8).map(|_| AtomicU64::new(0)).collect(),
                words32: (0..CONTROL_SIZE / 4).map(|_| AtomicU32::new(0)).collect(),
                slots: (0..capacity)
                    .map(|_| UnsafeCell::new(T::zeroed()))
                    .collect(),
                lock: Mutex::new(()),
                wake: Condvar::new(),
            };
            Area {
                inner: Arc::new(inner),
                mask: capacity - 1,
            }
        }
    }

    impl<T: Copy> Area<T> {
        pub(super) fn u64_at(&self, offset: usize) -> &AtomicU64 {
            &self.inner.words64[offset / 8]
        }

        pub(super) fn u32_at(&self, offset: usize) -> &AtomicU32 {
            &self.inner.words32[offset / 4]
        }

        /// # Safety
        ///
        /// As for the mapped `Area::write`; loom checks it.
        pub unsafe fn write(&self, pos: u64, src: &[T]) {
            for (i, v) in src.iter().enumerate() {
                // SAFETY: forwarded contract.
                unsafe { self.write_one(pos + i as u64, *v) };
            }
        }

        /// # Safety
        ///
        /// As for the mapped `Area::read`; loom checks it.
        pub unsafe fn read(&self, pos: u64, dst: &mut [T]) {
            for (i, v) in dst.iter_mut().enumerate() {
                // SAFETY: forwarded contract.
                *v = unsafe { self.read_one(pos + i as u64) };
            }
        }

        /// # Safety
        ///
        /// As for the mapped `Area::write_one`; loom reports a racing access.
        pub unsafe fn write_one(&self, pos: u64, value: T) {
            let cell = &self.inner.slots[(pos & self.mask) as usize];
            // SAFETY: loom tracks the access and fails the model on a race.
            cell.with_mut(|p| unsafe { p.write(value) });
        }

        /// # Safety
        ///
        /// As for the mapped `Area::read_one`; loom reports a racing access.
        pub unsafe fn read_one(&self, pos: u64) -> T {
            let cell = &self.inner.slots[(pos & self.mask) as usize];
            // SAFETY: loom tracks the access and fails the model on a race.
            cell.with(|p| unsafe { p.read() })
        }
    }

    impl<T> Futex for Area<T> {
        fn futex_wait(&self, word: &AtomicU32, expected: u32, _deadline: Option<Instant>) -> Woken {
            let guard = self.inner.lock.lock().unwrap();
            if word.load(crate::sync::Ordering::SeqCst) != expected {
                return Woken::Changed;
            }
            drop(self.inner.wake.wait(guard).unwrap());
            Woken::Maybe
        }

        fn futex_wake(&self, _word: &AtomicU32) {
            let _guard = self.inner.lock.lock().unwrap();
            self.inner.wake.notify_all();
        }

        /// The model notifies with full fences, so no heavy barrier is needed.
        fn heavy_barrier(&self) {}
    }
}
