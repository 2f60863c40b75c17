//! The storage every ring runs on: control words at fixed offsets, then an array of slots.
//!
//! In normal builds a [`Storage`] reinterprets a mapped segment's area (atomics through
//! `AtomicU64::from_ptr`, payloads through raw pointers; never a Rust reference to a payload
//! another process can write). Under `--cfg shmring_loom` it owns heap-allocated loom atomics,
//! loom cells and a model futex, so the same ring code is model-checked. Each ring gives the
//! offsets of its control words (`spsc::area`, `mpmc::area`); this module only knows the
//! [`Geometry`].

use std::time::Instant;

use crate::futex::Woken;
use crate::header::HeaderError;
use crate::sync::{AtomicU32, AtomicU64};
use crate::wait::Futex;
use crate::{Location, OpenError, RingKind, Segment, SegmentOptions, ShmType};

/// Where the slots start and how they are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// Bytes of control words before the slots (before rounding up to the slot alignment).
    pub control: usize,
    /// Offset of the payload inside a slot: 0 for bare payloads, 8 after a `u64` stamp.
    pub value_offset: usize,
    /// Bytes from one slot to the next.
    pub stride: usize,
    /// Alignment of a slot.
    pub align: usize,
}

impl Geometry {
    /// Slots that are just the payload (spsc).
    pub const fn packed<T>(control: usize) -> Geometry {
        Geometry::packed_of(control, size_of::<T>(), align_of::<T>())
    }

    /// Bare payload slots of `size` bytes aligned to `align`: a payload type known only at
    /// run time (`spsc::DynSender`).
    pub const fn packed_of(control: usize, size: usize, align: usize) -> Geometry {
        Geometry {
            control,
            value_offset: 0,
            stride: size,
            align,
        }
    }

    /// Slots that start with a 64-bit stamp (mpmc): `[stamp u64][payload][padding]`.
    pub const fn stamped<T>(control: usize) -> Geometry {
        let align = if align_of::<T>() > 8 {
            align_of::<T>()
        } else {
            8
        };
        Geometry {
            control,
            value_offset: align,
            stride: (align + size_of::<T>()).next_multiple_of(align),
            align,
        }
    }

    /// Offset of slot 0 from the start of the area.
    pub const fn slots_offset(&self) -> usize {
        self.control.next_multiple_of(self.align)
    }

    /// Area size for `capacity` slots, if it fits in a `u64`.
    pub fn area_size(&self, capacity: u64) -> Option<u64> {
        capacity
            .checked_mul(self.stride as u64)?
            .checked_add(self.slots_offset() as u64)
    }
}

/// Segment options for a new ring of `T` with `capacity` slots (rounded up to a power of two)
/// laid out as `geometry`.
pub(crate) fn ring_options<T: ShmType>(
    kind: RingKind,
    capacity: u64,
    geometry: Geometry,
    location: &Location,
) -> Result<SegmentOptions, OpenError> {
    ring_options_as(kind, T::layout(), capacity, geometry, location)
}

/// [`ring_options`] for a payload given by its layout (a type known at run time).
pub(crate) fn ring_options_as(
    kind: RingKind,
    layout: crate::TypeLayout,
    capacity: u64,
    geometry: Geometry,
    location: &Location,
) -> Result<SegmentOptions, OpenError> {
    let invalid = |reason: String| OpenError::InvalidConfig {
        name: location.display_name(),
        reason,
    };
    if capacity == 0 {
        return Err(invalid(format!(
            "capacity is 0; an {kind} ring needs at least 1 slot"
        )));
    }
    let rounded = capacity
        .checked_next_power_of_two()
        .filter(|c| *c <= MAX_CAPACITY)
        .ok_or_else(|| {
            invalid(format!(
                "capacity {capacity} is too large (at most {MAX_CAPACITY} slots, or bytes for a framed ring)"
            ))
        })?;
    let area = geometry.area_size(rounded).ok_or_else(|| {
        invalid(format!(
            "{rounded} slots of {} bytes overflow",
            geometry.stride
        ))
    })?;
    Ok(SegmentOptions::new(kind)
        .payload_layout(layout)
        .capacity(rounded)
        .area_size(area))
}

/// Opens a ring of `kind` holding `T` and checks that its capacity and area size match
/// `geometry`, so every slot index the ring computes stays inside the mapping.
pub(crate) fn open_ring<T: ShmType>(
    kind: RingKind,
    location: impl Into<Location>,
    geometry: Geometry,
) -> Result<Segment, OpenError> {
    open_ring_as(kind, T::layout(), location, geometry)
}

/// [`open_ring`] for a payload named by its layout (byte rings labelled with the type their
/// messages carry).
pub(crate) fn open_ring_as(
    kind: RingKind,
    layout: crate::TypeLayout,
    location: impl Into<Location>,
    geometry: Geometry,
) -> Result<Segment, OpenError> {
    open_ring_laid_out(kind, layout, location, |_| geometry)
}

/// [`open_ring_as`] for a ring whose slot layout depends on its header (the broadcast
/// policy): `geometry` is asked once the header is validated.
pub(crate) fn open_ring_laid_out(
    kind: RingKind,
    layout: crate::TypeLayout,
    location: impl Into<Location>,
    geometry: impl FnOnce(&crate::header::HeaderInfo) -> Geometry,
) -> Result<Segment, OpenError> {
    let segment = SegmentOptions::new(kind)
        .payload_layout(layout)
        .open(location)?;
    let info = segment.info();
    let geometry = geometry(info);
    let bad = |field, value| OpenError::Corrupted {
        name: segment.name().to_owned(),
        reason: HeaderError::BadField { field, value },
    };
    if !info.capacity.is_power_of_two() || info.capacity > MAX_CAPACITY {
        return Err(bad("capacity", info.capacity));
    }
    if geometry.area_size(info.capacity) != Some(info.area_size) {
        return Err(bad("area_size", info.area_size));
    }
    Ok(segment)
}

/// Largest ring capacity: slots of a typed ring, bytes of a framed one (positions stay far
/// below the stamp flag bit).
///
/// ```
/// assert_eq!(shmring::MAX_CAPACITY, 1 << 40);
/// ```
pub const MAX_CAPACITY: u64 = 1 << 40;

/// Every ring position (messages of a typed ring, bytes of a framed one) stays below 2^62: one
/// read from shared memory at or past it is `Corrupted`. So a hostile position can never make
/// `position + capacity` (or a record's span, or a broadcast stamp `2·pos + 2`) overflow,
/// while an honest ring would need decades at full speed to get there (docs/layout.md).
pub(crate) const MAX_POSITION: u64 = 1 << 62;

#[cfg(not(shmring_loom))]
pub(crate) use mapped::Storage;

#[cfg(shmring_loom)]
pub(crate) use model::Storage;

#[cfg(not(shmring_loom))]
mod mapped {
    use std::marker::PhantomData;
    use std::ptr::NonNull;

    use super::*;

    /// A ring area inside a mapped segment. Holds raw pointers only; the segment that keeps
    /// the mapping alive is owned by the handle next to it.
    pub(crate) struct Storage<T> {
        base: NonNull<u8>,
        slots: NonNull<u8>,
        geometry: Geometry,
        pub(crate) mask: u64,
        /// The ring's header asks every notifier to fence after each send, so a sleeper
        /// needs no heavy barrier ([`crate::header::FLAG_FENCE_EVERY_SEND`]).
        fence_every_send: bool,
        _payload: PhantomData<T>,
    }

    impl<T> Clone for Storage<T> {
        fn clone(&self) -> Self {
            Storage {
                base: self.base,
                slots: self.slots,
                geometry: self.geometry,
                mask: self.mask,
                fence_every_send: self.fence_every_send,
                _payload: PhantomData,
            }
        }
    }

    impl<T: Copy> Storage<T> {
        /// # Safety
        ///
        /// `base` is 128-byte aligned and valid for `geometry.area_size(capacity)` bytes for
        /// as long as the `Storage` (and its clones) are used; `capacity` is a power of two;
        /// `geometry` was made for `T`. `fence_every_send`: the ring's header flag.
        pub unsafe fn new(
            base: NonNull<u8>,
            capacity: u64,
            geometry: Geometry,
            fence_every_send: bool,
        ) -> Storage<T> {
            debug_assert!(capacity.is_power_of_two());
            debug_assert_eq!(base.as_ptr() as usize % 128, 0);
            // SAFETY: the slots start inside the area (the caller's contract covers
            // slots_offset + capacity slots).
            let slots = unsafe { base.add(geometry.slots_offset()) };
            Storage {
                base,
                slots,
                geometry,
                mask: capacity - 1,
                fence_every_send,
                _payload: PhantomData,
            }
        }

        /// Whether this ring's notifiers fence after every send (its header's flag).
        pub fn fences_every_send(&self) -> bool {
            self.fence_every_send
        }

        pub fn u64_at(&self, offset: usize) -> &AtomicU64 {
            debug_assert!(offset % 8 == 0 && offset + 8 <= self.geometry.control);
            // SAFETY: offset is one of the 8-aligned control offsets below the control size,
            // inside the area (`new`'s contract); these words are only ever accessed
            // atomically.
            unsafe { AtomicU64::from_ptr(self.base.as_ptr().add(offset).cast()) }
        }

        pub fn u32_at(&self, offset: usize) -> &AtomicU32 {
            debug_assert!(offset % 4 == 0 && offset + 4 <= self.geometry.control);
            // SAFETY: as in `u64_at`, for a 4-aligned control offset.
            unsafe { AtomicU32::from_ptr(self.base.as_ptr().add(offset).cast()) }
        }

        /// The start of the slot of ring position `pos`.
        #[inline]
        fn slot(&self, pos: u64) -> *mut u8 {
            // SAFETY: the masked index is below the capacity, so the slot lies inside the
            // area (`new`'s contract).
            unsafe {
                self.slots
                    .as_ptr()
                    .add((pos & self.mask) as usize * self.geometry.stride)
            }
        }

        /// Whether every slot starts with a stamp word.
        #[inline]
        pub fn is_stamped(&self) -> bool {
            self.geometry.value_offset != 0
        }

        /// The stamp word of the slot of `pos` (stamped geometries only).
        #[inline]
        pub fn stamp(&self, pos: u64) -> &AtomicU64 {
            debug_assert!(self.geometry.value_offset >= 8);
            // SAFETY: a stamped slot starts with an 8-aligned u64 that is only ever accessed
            // atomically.
            unsafe { AtomicU64::from_ptr(self.slot(pos).cast()) }
        }

        /// Copies `src` into the slots starting at ring position `pos`, wrapping (packed
        /// geometries only).
        ///
        /// # Safety
        ///
        /// The caller is the only writer of those slots (its reservation, per the ring
        /// protocol) and no other process reads them meanwhile.
        pub unsafe fn write(&self, pos: u64, src: &[T]) {
            debug_assert_eq!(self.geometry.stride, size_of::<T>());
            let (first, second) = self.split(pos, src.len());
            // SAFETY: `split` keeps both runs inside the slot array; the slots belong to the
            // caller, and `src` is process-local memory, so the ranges do not overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(src.as_ptr(), self.slot(pos).cast(), first);
                std::ptr::copy_nonoverlapping(
                    src.as_ptr().add(first),
                    self.slots.as_ptr().cast(),
                    second,
                );
            }
        }

        /// Copies the slots starting at ring position `pos`, wrapping, into `dst` (packed
        /// geometries only).
        ///
        /// # Safety
        ///
        /// Those slots are published to the caller and not written meanwhile. `T` is `Pod`,
        /// so whatever bytes a hostile peer left there are still a valid `T`.
        pub unsafe fn read(&self, pos: u64, dst: &mut [T]) {
            let (ptr, len) = (dst.as_mut_ptr(), dst.len());
            // SAFETY: `MaybeUninit<T>` has `T`'s layout, and initialized `T`s stay so.
            let dst = unsafe { std::slice::from_raw_parts_mut(ptr.cast(), len) };
            // SAFETY: the caller's contract.
            unsafe { self.read_uninit(pos, dst) }
        }

        /// [`read`](Storage::read) into memory not yet initialized (a `Vec`'s spare
        /// capacity: a received message is copied once, not zero-filled first).
        ///
        /// # Safety
        ///
        /// As for [`Storage::read`].
        pub unsafe fn read_uninit(&self, pos: u64, dst: &mut [std::mem::MaybeUninit<T>]) {
            debug_assert_eq!(self.geometry.stride, size_of::<T>());
            let (first, second) = self.split(pos, dst.len());
            // SAFETY: as in `write`, with source and destination swapped (`MaybeUninit<T>`
            // has `T`'s layout).
            unsafe {
                std::ptr::copy_nonoverlapping(
                    self.slot(pos).cast(),
                    dst.as_mut_ptr().cast::<T>(),
                    first,
                );
                std::ptr::copy_nonoverlapping(
                    self.slots.as_ptr().cast(),
                    dst.as_mut_ptr().add(first).cast::<T>(),
                    second,
                );
            }
        }

        /// Writes the payload of one slot.
        ///
        /// # Safety
        ///
        /// As for [`Storage::write`].
        #[inline]
        pub unsafe fn write_one(&self, pos: u64, value: T) {
            // SAFETY: the payload lies inside the slot at its (aligned) offset; the slot is
            // the caller's. Unaligned-safe write is not needed: slots are aligned for T.
            unsafe {
                self.slot(pos)
                    .add(self.geometry.value_offset)
                    .cast::<T>()
                    .write(value)
            }
        }

        /// Copies `*value` into the payload of one slot (one `memcpy` for large payloads).
        ///
        /// # Safety
        ///
        /// As for [`Storage::write`].
        #[inline]
        pub unsafe fn write_from(&self, pos: u64, value: &T) {
            // SAFETY: as in `write_one`; `value` is process-local, so no overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    value,
                    self.slot(pos).add(self.geometry.value_offset).cast::<T>(),
                    1,
                )
            }
        }

        /// Reads the payload of one slot.
        ///
        /// # Safety
        ///
        /// As for [`Storage::read`].
        #[inline]
        pub unsafe fn read_one(&self, pos: u64) -> T {
            // SAFETY: as in `write_one`; the slot is published to the caller.
            unsafe {
                self.slot(pos)
                    .add(self.geometry.value_offset)
                    .cast::<T>()
                    .read()
            }
        }

        /// Copies the payload of one slot into `*dst` (one `memcpy` for large payloads).
        ///
        /// # Safety
        ///
        /// As for [`Storage::read`].
        #[inline]
        pub unsafe fn read_to(&self, pos: u64, dst: &mut T) {
            // SAFETY: as in `read_one`; `dst` is process-local, so no overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    self.slot(pos).add(self.geometry.value_offset).cast::<T>(),
                    dst,
                    1,
                )
            }
        }

        /// Copies `src`, one whole payload of a type known only at run time (as many bytes as
        /// a slot's payload), into the slot of `pos`.
        ///
        /// # Safety
        ///
        /// As for [`Storage::write`]; `src.len()` is the slot's payload size.
        #[inline]
        pub unsafe fn write_payload(&self, pos: u64, src: &[u8]) {
            debug_assert_eq!(src.len(), self.geometry.stride - self.geometry.value_offset);
            // SAFETY: the payload of one slot lies inside the slot array (`slot`), `src` has
            // its length, and is process-local memory (no overlap); the slot is the caller's.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    src.as_ptr(),
                    self.slot(pos).add(self.geometry.value_offset),
                    src.len(),
                )
            }
        }

        /// Copies the payload of the slot of `pos` into `dst` (as many bytes as a payload).
        ///
        /// # Safety
        ///
        /// As for [`Storage::read`]; `dst.len()` is the slot's payload size.
        #[inline]
        pub unsafe fn read_payload(&self, pos: u64, dst: &mut [u8]) {
            debug_assert_eq!(dst.len(), self.geometry.stride - self.geometry.value_offset);
            // SAFETY: as in `write_payload`, with source and destination swapped.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    self.slot(pos).add(self.geometry.value_offset),
                    dst.as_mut_ptr(),
                    dst.len(),
                )
            }
        }

        /// Copies `*value` into the payload of the slot of `pos` while readers may be copying
        /// it out (the broadcast ring: they tell by the slot's stamp, and discard their copy).
        ///
        /// # Safety
        ///
        /// This process is the slot's only writer (the ring protocol's).
        #[inline]
        pub unsafe fn write_shared(&self, pos: u64, value: &T) {
            // SAFETY: forwarded contract; concurrent readers only copy bytes out (`T` is Pod)
            // and check the stamp afterwards.
            unsafe { self.write_from(pos, value) }
        }

        /// Copies the payload of the slot of `pos` into `*dst` while its writer may be
        /// overwriting it: the copy may be torn, and the caller must discard it unless the
        /// slot's stamp is unchanged after the copy (the broadcast ring's seqlock).
        ///
        /// # Safety
        ///
        /// `T` is `Pod`, so any bytes make a valid `T`; the slot lies inside the area. The
        /// memory is shared with other processes, outside what the compiler can see, so the
        /// overlap with the writer yields unspecified bytes, never more.
        #[inline]
        pub unsafe fn read_shared(&self, pos: u64, dst: &mut T) {
            // SAFETY: the caller's contract.
            unsafe { self.read_to(pos, dst) }
        }

        /// The 64-bit word at the slot of `pos` (byte rings: a record header).
        ///
        /// # Safety
        ///
        /// The slot of `pos` starts an 8-aligned run of 8 bytes inside the slot array, and
        /// every process accesses that word only atomically while it is shared.
        #[inline]
        pub unsafe fn word(&self, pos: u64) -> &AtomicU64 {
            debug_assert_eq!(self.slot(pos) as usize % 8, 0);
            // SAFETY: the caller's contract.
            unsafe { AtomicU64::from_ptr(self.slot(pos).cast()) }
        }

        /// Zeroes `n` slots from `pos`, wrapping.
        ///
        /// # Safety
        ///
        /// As for [`Storage::write`]: those slots are the caller's to write.
        pub unsafe fn zero(&self, pos: u64, n: usize) {
            let (first, second) = self.split(pos, n);
            let stride = self.geometry.stride;
            // SAFETY: `split` keeps both runs inside the slot array.
            unsafe {
                std::ptr::write_bytes(self.slot(pos), 0, first * stride);
                std::ptr::write_bytes(self.slots.as_ptr(), 0, second * stride);
            }
        }

        /// Lengths of the runs before and after the wrap for `n` slots from `pos`.
        /// The `n` slots from ring position `pos` as the two runs they occupy (the second
        /// empty unless they wrap), in place (packed geometries only).
        ///
        /// # Safety
        ///
        /// As for [`Storage::write`] while the slices live: the slots are the caller's (a
        /// reservation or a taken chunk), and an honest peer does not touch them. The
        /// lifetime is the caller's to bound by the borrow of its handle.
        #[allow(clippy::mut_from_ref)]
        pub unsafe fn runs_mut(&self, pos: u64, n: usize) -> (&mut [T], &mut [T]) {
            debug_assert_eq!(self.geometry.stride, size_of::<T>());
            let (first, second) = self.split(pos, n);
            // Both runs lie inside the slot array, disjoint; slots are aligned for T; every
            // byte of the mapping is initialized (zero at creation) and T is Pod.
            // SAFETY: so these are valid, exclusive (the caller's contract) slices of T.
            unsafe {
                (
                    std::slice::from_raw_parts_mut(self.slot(pos).cast::<T>(), first),
                    std::slice::from_raw_parts_mut(self.slots.as_ptr().cast::<T>(), second),
                )
            }
        }

        /// [`runs_mut`](Storage::runs_mut), shared: the slots are published to the caller
        /// and not written while the slices live.
        ///
        /// # Safety
        ///
        /// As for [`Storage::read`] while the slices live.
        pub unsafe fn runs(&self, pos: u64, n: usize) -> (&[T], &[T]) {
            debug_assert_eq!(self.geometry.stride, size_of::<T>());
            let (first, second) = self.split(pos, n);
            // SAFETY: as in `runs_mut`.
            unsafe {
                (
                    std::slice::from_raw_parts(self.slot(pos).cast::<T>(), first),
                    std::slice::from_raw_parts(self.slots.as_ptr().cast::<T>(), second),
                )
            }
        }

        fn split(&self, pos: u64, n: usize) -> (usize, usize) {
            let start = (pos & self.mask) as usize;
            let capacity = (self.mask + 1) as usize;
            assert!(n <= capacity, "a run longer than the ring");
            let first = n.min(capacity - start);
            (first, n - first)
        }
    }

    impl<T> Futex for Storage<T> {
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

        fn sleeper_barrier(&self) {
            if !self.fence_every_send {
                self.heavy_barrier();
            }
        }
    }
}

#[cfg(shmring_loom)]
mod model {
    use loom::cell::UnsafeCell;
    use loom::sync::{Arc, Condvar, Mutex};

    use super::*;

    /// A ring area on the loom heap: every control word a loom atomic at its offset, every
    /// stamp a loom atomic, every payload a loom cell, and a model futex.
    pub(crate) struct Storage<T> {
        inner: Arc<Inner<T>>,
        pub(crate) mask: u64,
    }

    struct Inner<T> {
        words64: Vec<AtomicU64>,
        words32: Vec<AtomicU32>,
        stamps: Vec<AtomicU64>,
        /// One atomic per 8 bytes of the slot array (byte rings' record headers). The model
        /// keeps them apart from the payload cells.
        data_words: Vec<AtomicU64>,
        stride: usize,
        stamped: bool,
        slots: Vec<UnsafeCell<T>>,
        lock: Mutex<()>,
        wake: Condvar,
    }

    impl<T> Clone for Storage<T> {
        fn clone(&self) -> Self {
            Storage {
                inner: self.inner.clone(),
                mask: self.mask,
            }
        }
    }

    impl<T: Copy + bytemuck::Zeroable> Storage<T> {
        /// The model notifies with full fences always (no `membarrier` to skip).
        pub fn fences_every_send(&self) -> bool {
            true
        }

        pub fn new_model(capacity: u64, geometry: Geometry) -> Storage<T> {
            assert!(capacity.is_power_of_two());
            let inner = Inner {
                words64: (0..geometry.control / 8)
                    .map(|_| AtomicU64::new(0))
                    .collect(),
                words32: (0..geometry.control / 4)
                    .map(|_| AtomicU32::new(0))
                    .collect(),
                stamps: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
                data_words: (0..(capacity as usize * geometry.stride).div_ceil(8))
                    .map(|_| AtomicU64::new(0))
                    .collect(),
                stride: geometry.stride,
                stamped: geometry.value_offset != 0,
                slots: (0..capacity)
                    .map(|_| UnsafeCell::new(T::zeroed()))
                    .collect(),
                lock: Mutex::new(()),
                wake: Condvar::new(),
            };
            Storage {
                inner: Arc::new(inner),
                mask: capacity - 1,
            }
        }
    }

    impl<T: Copy> Storage<T> {
        pub fn u64_at(&self, offset: usize) -> &AtomicU64 {
            &self.inner.words64[offset / 8]
        }

        pub fn u32_at(&self, offset: usize) -> &AtomicU32 {
            &self.inner.words32[offset / 4]
        }

        /// Whether the geometry modelled has stamped slots.
        pub fn is_stamped(&self) -> bool {
            self.inner.stamped
        }

        /// The stamp word of the slot of `pos` (zero, as in a fresh mapped ring).
        pub fn stamp(&self, pos: u64) -> &AtomicU64 {
            &self.inner.stamps[(pos & self.mask) as usize]
        }

        /// The model word at the slot of `pos` (8-aligned positions of byte rings).
        ///
        /// # Safety
        ///
        /// None in the model; `unsafe` to match the mapped storage.
        pub unsafe fn word(&self, pos: u64) -> &AtomicU64 {
            &self.inner.data_words[(pos & self.mask) as usize * self.inner.stride / 8]
        }

        /// # Safety
        ///
        /// As for the mapped `Storage::zero`; loom checks it.
        pub unsafe fn zero(&self, pos: u64, n: usize)
        where
            T: bytemuck::Zeroable,
        {
            for i in 0..n as u64 {
                // SAFETY: forwarded contract.
                unsafe { self.write_one(pos + i, T::zeroed()) };
            }
        }

        /// # Safety
        ///
        /// As for the mapped `Storage::write`; loom checks it.
        pub unsafe fn write(&self, pos: u64, src: &[T]) {
            for (i, v) in src.iter().enumerate() {
                // SAFETY: forwarded contract.
                unsafe { self.write_one(pos + i as u64, *v) };
            }
        }

        /// # Safety
        ///
        /// As for the mapped `Storage::read`; loom checks it.
        pub unsafe fn read(&self, pos: u64, dst: &mut [T]) {
            for (i, v) in dst.iter_mut().enumerate() {
                // SAFETY: forwarded contract.
                *v = unsafe { self.read_one(pos + i as u64) };
            }
        }

        /// # Safety
        ///
        /// As for the mapped `Storage::read_uninit`; loom checks it.
        pub unsafe fn read_uninit(&self, pos: u64, dst: &mut [std::mem::MaybeUninit<T>]) {
            for (i, v) in dst.iter_mut().enumerate() {
                // SAFETY: forwarded contract.
                v.write(unsafe { self.read_one(pos + i as u64) });
            }
        }

        /// # Safety
        ///
        /// As for the mapped `Storage::write_one`; loom reports a racing access.
        pub unsafe fn write_one(&self, pos: u64, value: T) {
            let cell = &self.inner.slots[(pos & self.mask) as usize];
            // SAFETY: loom tracks the access and fails the model on a race.
            cell.with_mut(|p| unsafe { p.write(value) });
        }

        /// # Safety
        ///
        /// As for the mapped `Storage::write_from`.
        pub unsafe fn write_from(&self, pos: u64, value: &T) {
            // SAFETY: forwarded contract.
            unsafe { self.write_one(pos, *value) }
        }

        /// # Safety
        ///
        /// As for the mapped `Storage::read_one`; loom reports a racing access.
        pub unsafe fn read_one(&self, pos: u64) -> T {
            let cell = &self.inner.slots[(pos & self.mask) as usize];
            // SAFETY: loom tracks the access and fails the model on a race.
            cell.with(|p| unsafe { p.read() })
        }

        /// # Safety
        ///
        /// As for the mapped `Storage::read_to`.
        pub unsafe fn read_to(&self, pos: u64, dst: &mut T) {
            // SAFETY: forwarded contract.
            *dst = unsafe { self.read_one(pos) };
        }

        /// The model of a payload that readers copy while its writer may overwrite it: the
        /// slot's bytes as relaxed 64-bit atomics (the model's data words), so a torn copy is
        /// a possible outcome loom explores, not a data race it reports.
        ///
        /// # Safety
        ///
        /// None in the model; `unsafe` to match the mapped storage.
        pub unsafe fn write_shared(&self, pos: u64, value: &T)
        where
            T: bytemuck::Pod,
        {
            let first = (pos & self.mask) as usize * self.inner.stride / 8;
            for (k, chunk) in bytemuck::bytes_of(value).chunks(8).enumerate() {
                let mut word = [0u8; 8];
                word[..chunk.len()].copy_from_slice(chunk);
                self.inner.data_words[first + k]
                    .store(u64::from_ne_bytes(word), crate::sync::Ordering::Relaxed);
            }
        }

        /// See [`write_shared`](Self::write_shared).
        ///
        /// # Safety
        ///
        /// None in the model.
        pub unsafe fn read_shared(&self, pos: u64, dst: &mut T)
        where
            T: bytemuck::Pod,
        {
            let first = (pos & self.mask) as usize * self.inner.stride / 8;
            let bytes = bytemuck::bytes_of_mut(dst);
            for (k, chunk) in bytes.chunks_mut(8).enumerate() {
                let word = self.inner.data_words[first + k]
                    .load(crate::sync::Ordering::Relaxed)
                    .to_ne_bytes();
                chunk.copy_from_slice(&word[..chunk.len()]);
            }
        }
    }

    impl<T> Futex for Storage<T> {
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

        fn sleeper_barrier(&self) {}
    }
}
