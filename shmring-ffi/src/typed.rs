//! What the typed rings' C calls share (spsc, mpmc, broadcast): making a handle from a name
//! and a field table, and running a send or receive with one payload of the ring's type.

use std::ffi::c_char;
use std::time::{Duration, Instant};

use shmring::{SendError, SendTimeoutError, TrySendError};

use crate::bytes::{hand_out, handle};
use crate::error::{Failure, call, failure_from, non_null, text};
use crate::layout::{shmring_type, type_layout};
use crate::shmring_status;

failure_from!(TrySendError<()> {
    TrySendError::Full(()) => SHMRING_FULL,
    TrySendError::Disconnected(()) => SHMRING_DISCONNECTED,
    TrySendError::Corrupted(()) => SHMRING_CORRUPTED,
});
failure_from!(SendError<()> {
    SendError::Disconnected(()) => SHMRING_DISCONNECTED,
    SendError::Corrupted(()) => SHMRING_CORRUPTED,
});
failure_from!(SendTimeoutError<()> {
    SendTimeoutError::Timeout(()) => SHMRING_TIMEOUT,
    SendTimeoutError::Disconnected(()) => SHMRING_DISCONNECTED,
    SendTimeoutError::Corrupted(()) => SHMRING_CORRUPTED,
});

/// A typed handle: each message is one payload of this many bytes.
pub(crate) trait Typed {
    fn payload_size(&self) -> usize;
}

/// The deadline `timeout_ns` nanoseconds from now (`None`: too far to represent, wait as long
/// as it takes).
pub(crate) fn deadline_in(timeout_ns: u64) -> Option<Instant> {
    Instant::now().checked_add(Duration::from_nanos(timeout_ns))
}

/// A handle made from the name and layout arguments of a create or open, into `*out`.
///
/// # Safety
///
/// `name` is NULL or NUL-terminated; `ty` is NULL or a valid table; `out` is NULL or writable.
pub(crate) unsafe fn make<H>(
    name: *const c_char,
    ty: *const shmring_type,
    out: *mut *mut H,
    attach: impl FnOnce(&str, shmring::TypeLayout) -> Result<H, Failure>,
) -> shmring_status {
    call(|| {
        // SAFETY: the caller's contract.
        let (name, layout) = unsafe { (text(name, "name")?, type_layout(ty)?) };
        // SAFETY: the caller's contract.
        unsafe { hand_out(out, || attach(name, layout)) }
    })
}

/// Runs `op` with the handle behind `tx` and the payload at `value` (one of the ring's).
///
/// # Safety
///
/// `tx` is NULL or a live handle; `value` is NULL or valid for one payload.
pub(crate) unsafe fn with_payload<H: Typed>(
    tx: *mut H,
    value: *const u8,
    op: impl FnOnce(&mut H, &[u8]) -> Result<(), Failure>,
) -> shmring_status {
    call(|| {
        // SAFETY: the caller's contract.
        let tx = unsafe { handle(tx, "tx")? };
        non_null(value, "value")?;
        // SAFETY: non-null, valid for one payload (the caller's contract).
        let msg = unsafe { std::slice::from_raw_parts(value, tx.payload_size()) };
        op(tx, msg)
    })
}

/// Runs `op` with the handle behind `rx` and room for one payload at `out`.
///
/// # Safety
///
/// `rx` is NULL or a live handle; `out` is NULL or writable for one payload.
pub(crate) unsafe fn with_room<H: Typed>(
    rx: *mut H,
    out: *mut u8,
    op: impl FnOnce(&mut H, &mut [u8]) -> Result<(), Failure>,
) -> shmring_status {
    call(|| {
        // SAFETY: the caller's contract.
        let rx = unsafe { handle(rx, "rx")? };
        non_null(out, "out")?;
        // SAFETY: non-null, writable for one payload (the caller's contract).
        let dst = unsafe { std::slice::from_raw_parts_mut(out, rx.payload_size()) };
        op(rx, dst)
    })
}
