//! The one synchronisation shim: std under normal builds, loom under `--cfg shmring_loom`.
//!
//! Ring algorithms take every atomic, fence, spin hint and yield from here, so the same code
//! is model-checked by loom (`RUSTFLAGS="--cfg shmring_loom" cargo test --release --test
//! loom_spsc`). loom atomics are model handles rather than integers and cannot live in shared
//! memory; the ring areas therefore keep heap-allocated loom atomics under loom and
//! reinterpret mapped memory otherwise (see `spsc::Area`).

#[cfg(shmring_loom)]
pub(crate) use loom::{
    hint::spin_loop,
    sync::Mutex,
    sync::atomic::{AtomicU32, AtomicU64, Ordering, fence},
    thread::yield_now,
};
#[cfg(not(shmring_loom))]
pub(crate) use std::{
    hint::spin_loop,
    sync::Mutex,
    sync::atomic::{AtomicU32, AtomicU64, Ordering, fence},
    thread::yield_now,
};
