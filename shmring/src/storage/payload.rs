//! What a slot's payload is copied from and into: a typed value (`T` itself), or the bytes of
//! one payload whose type is known only at run time (`[u8]`, the language bindings' rings).
//! The ring algorithms are written once over these two traits; the typed handles pass `T`, the
//! run-time typed ones (`spsc::DynSender`, `mpmc::DynSender`, `broadcast::DynSender`, …) a
//! byte slice of the payload's size.

use super::Storage;

/// A payload to copy into a slot.
pub(crate) trait Source<T> {
    /// Copies the payload into the slot of `pos`.
    ///
    /// # Safety
    ///
    /// As for [`Storage::write_from`]: the caller is the slot's only writer and no reader
    /// copies it meanwhile; a byte slice is exactly one payload long.
    unsafe fn put(&self, storage: &Storage<T>, pos: u64);

    /// Copies the payload into the slot of `pos` while readers may be copying it out (they
    /// tell by the slot's stamp).
    ///
    /// # Safety
    ///
    /// As for [`Storage::write_shared`]; a byte slice is exactly one payload long.
    unsafe fn put_shared(&self, storage: &Storage<T>, pos: u64);
}

/// Room for a payload copied out of a slot.
pub(crate) trait Sink<T> {
    /// Copies the payload of the slot of `pos` into `self`.
    ///
    /// # Safety
    ///
    /// As for [`Storage::read_to`]; a byte slice is exactly one payload long.
    unsafe fn take(&mut self, storage: &Storage<T>, pos: u64);

    /// Copies the payload of the slot of `pos` into `self` while its writer may be
    /// overwriting it (the caller discards a torn copy by the slot's stamp).
    ///
    /// # Safety
    ///
    /// As for [`Storage::read_shared`]; a byte slice is exactly one payload long.
    unsafe fn take_shared(&mut self, storage: &Storage<T>, pos: u64);
}

impl<T: bytemuck::Pod> Source<T> for T {
    #[inline]
    unsafe fn put(&self, storage: &Storage<T>, pos: u64) {
        // SAFETY: forwarded contract.
        unsafe { storage.write_from(pos, self) }
    }

    #[inline]
    unsafe fn put_shared(&self, storage: &Storage<T>, pos: u64) {
        // SAFETY: forwarded contract.
        unsafe { storage.write_shared(pos, self) }
    }
}

impl<T: bytemuck::Pod> Sink<T> for T {
    #[inline]
    unsafe fn take(&mut self, storage: &Storage<T>, pos: u64) {
        // SAFETY: forwarded contract.
        unsafe { storage.read_to(pos, self) }
    }

    #[inline]
    unsafe fn take_shared(&mut self, storage: &Storage<T>, pos: u64) {
        // SAFETY: forwarded contract.
        unsafe { storage.read_shared(pos, self) }
    }
}

/// The run-time typed payloads (mapped storage only: the loom models check the typed rings,
/// whose algorithms these share).
#[cfg(not(shmring_loom))]
impl<T: Copy> Source<T> for [u8] {
    #[inline]
    unsafe fn put(&self, storage: &Storage<T>, pos: u64) {
        // SAFETY: forwarded contract (`self` is one payload long).
        unsafe { storage.write_payload(pos, self) }
    }

    #[inline]
    unsafe fn put_shared(&self, storage: &Storage<T>, pos: u64) {
        // SAFETY: as `put`; concurrent readers only copy bytes out and check the stamp
        // afterwards, as for a typed payload.
        unsafe { storage.write_payload(pos, self) }
    }
}

#[cfg(not(shmring_loom))]
impl<T: Copy> Sink<T> for [u8] {
    #[inline]
    unsafe fn take(&mut self, storage: &Storage<T>, pos: u64) {
        // SAFETY: forwarded contract (`self` is one payload long).
        unsafe { storage.read_payload(pos, self) }
    }

    #[inline]
    unsafe fn take_shared(&mut self, storage: &Storage<T>, pos: u64) {
        // SAFETY: as `take`; the bytes of a torn copy are only bytes, discarded by the
        // caller after its stamp check.
        unsafe { storage.read_payload(pos, self) }
    }
}
