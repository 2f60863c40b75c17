//! The storage of a ring in a mapped segment: atomics and copies at computed offsets.

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

    /// Bytes a slot has for its payload (the stride past the stamp, padding included).
    #[inline]
    fn payload_room(&self) -> usize {
        self.geometry.stride - self.geometry.value_offset
    }

    /// Copies `src`, one whole payload of a type known only at run time (as many bytes as
    /// a slot's payload), into the slot of `pos`.
    ///
    /// # Safety
    ///
    /// As for [`Storage::write`]; `src.len()` is the payload size the slots were laid out
    /// for (checked against the slot's room: a longer one panics, never overruns).
    #[inline]
    pub unsafe fn write_payload(&self, pos: u64, src: &[u8]) {
        assert!(
            src.len() <= self.payload_room(),
            "payload larger than its slot"
        );
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
    /// As for [`Storage::read`]; `dst.len()` is the payload size the slots were laid out
    /// for (checked as in `write_payload`).
    #[inline]
    pub unsafe fn read_payload(&self, pos: u64, dst: &mut [u8]) {
        assert!(
            dst.len() <= self.payload_room(),
            "payload larger than its slot"
        );
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
