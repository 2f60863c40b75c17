//! The readiness calls every C receiving handle has, written once over what the handles
//! share: a readiness descriptor, registering for it, and clearing it.

use std::os::fd::AsRawFd;

use crate::error::{Failure, non_null};
use crate::shmring_status::SHMRING_OPEN_FAILED;

/// A receiving handle with the readiness calls of the Rust handle layer.
pub(crate) trait Ready {
    fn fd(&mut self) -> std::io::Result<i32>;
    fn register(&mut self) -> std::io::Result<bool>;
    fn clear(&mut self);
}

/// Writes `handle`'s readiness descriptor into `*fd`.
///
/// # Safety
///
/// `fd` is NULL or writable.
pub(crate) unsafe fn write_fd(handle: &mut impl Ready, fd: *mut i32) -> Result<(), Failure> {
    non_null(fd, "fd")?;
    let raw = handle
        .fd()
        .map_err(|e| Failure::new(SHMRING_OPEN_FAILED, format!("readiness descriptor: {e}")))?;
    // SAFETY: non-null and writable (the caller's contract).
    unsafe { fd.write(raw) };
    Ok(())
}

/// Registers `handle` for readiness; `*wait` = 1 if the caller should poll first.
///
/// # Safety
///
/// `wait` is NULL or writable.
pub(crate) unsafe fn write_register(
    handle: &mut impl Ready,
    wait: *mut i32,
) -> Result<(), Failure> {
    non_null(wait, "wait")?;
    let must_wait = handle
        .register()
        .map_err(|e| Failure::new(SHMRING_OPEN_FAILED, format!("readiness: {e}")))?;
    // SAFETY: non-null and writable (the caller's contract).
    unsafe { wait.write(i32::from(must_wait)) };
    Ok(())
}

/// Every receiving handle's readiness is its Rust receiver's (field `rx`).
macro_rules! ready_through_rx {
    ($($handle:ty),* $(,)?) => {$(
        impl Ready for $handle {
            fn fd(&mut self) -> std::io::Result<i32> {
                Ok(self.rx.readiness_fd()?.as_raw_fd())
            }

            fn register(&mut self) -> std::io::Result<bool> {
                self.rx.register_readiness()
            }

            fn clear(&mut self) {
                self.rx.clear_readiness();
            }
        }
    )*};
}

ready_through_rx!(
    crate::shmring_bytes_receiver,
    crate::shmring_spsc_receiver,
    crate::shmring_mpmc_receiver,
    crate::shmring_broadcast_receiver,
);
