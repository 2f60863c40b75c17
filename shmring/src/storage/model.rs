//! The loom model of a ring's storage: atomics and cells in plain vectors.

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
