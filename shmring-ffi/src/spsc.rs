//! Typed spsc rings for C: one sender, one receiver, payloads of a C struct described by a
//! field table ([`shmring_type`]) — the same ring a Rust `spsc::Sender<T>` / `Receiver<T>`
//! uses, with the layout checked when a handle attaches.

use std::ffi::c_char;
use std::time::Duration;

use shmring::spsc::{DynReceiver, DynSender};

use crate::bytes::{free, handle};
use crate::error::call;
use crate::layout::shmring_type;
use crate::readiness::{Ready, write_fd, write_register};
use crate::shmring_status;
use crate::typed::{Typed, deadline_in, make, with_payload, with_room};

/// The sending end of a typed spsc ring (opaque).
#[derive(Debug)]
pub struct shmring_spsc_sender {
    tx: DynSender,
}

/// The receiving end of a typed spsc ring (opaque).
#[derive(Debug)]
pub struct shmring_spsc_receiver {
    pub(crate) rx: DynReceiver,
}

impl Typed for shmring_spsc_sender {
    fn payload_size(&self) -> usize {
        self.tx.payload_size()
    }
}

impl Typed for shmring_spsc_receiver {
    fn payload_size(&self) -> usize {
        self.rx.payload_size()
    }
}

/// Creates the typed spsc ring `name` for `capacity` payloads of `type` (rounded up to a
/// power of two) and attaches as its sender; `*out` receives the handle.
///
/// # Safety
///
/// `name` is NULL or NUL-terminated; `type` is NULL or a valid table; `out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_spsc_sender_create(
    name: *const c_char,
    capacity: u64,
    r#type: *const shmring_type,
    out: *mut *mut shmring_spsc_sender,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe {
        make(name, r#type, out, |name, layout| {
            Ok(shmring_spsc_sender {
                tx: DynSender::create(name, capacity, layout)?,
            })
        })
    }
}

/// Opens the typed spsc ring `name`, which must hold payloads of `type` (else
/// `SHMRING_INCOMPATIBLE_LAYOUT`, naming both layouts), as its sender.
///
/// # Safety
///
/// As for [`shmring_spsc_sender_create`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_spsc_sender_open(
    name: *const c_char,
    r#type: *const shmring_type,
    out: *mut *mut shmring_spsc_sender,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe {
        make(name, r#type, out, |name, layout| {
            Ok(shmring_spsc_sender {
                tx: DynSender::open(name, layout)?,
            })
        })
    }
}

/// Creates the typed spsc ring `name` for `capacity` payloads of `type` (rounded up to a
/// power of two) and attaches as its receiver; `*out` receives the handle.
///
/// # Safety
///
/// `name` is NULL or NUL-terminated; `type` is NULL or a valid table; `out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_spsc_receiver_create(
    name: *const c_char,
    capacity: u64,
    r#type: *const shmring_type,
    out: *mut *mut shmring_spsc_receiver,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe {
        make(name, r#type, out, |name, layout| {
            Ok(shmring_spsc_receiver {
                rx: DynReceiver::create(name, capacity, layout)?,
            })
        })
    }
}

/// Opens the typed spsc ring `name`, which must hold payloads of `type` (else
/// `SHMRING_INCOMPATIBLE_LAYOUT`, naming both layouts), as its receiver.
///
/// # Safety
///
/// As for [`shmring_spsc_receiver_create`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_spsc_receiver_open(
    name: *const c_char,
    r#type: *const shmring_type,
    out: *mut *mut shmring_spsc_receiver,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe {
        make(name, r#type, out, |name, layout| {
            Ok(shmring_spsc_receiver {
                rx: DynReceiver::open(name, layout)?,
            })
        })
    }
}

/// Detaches and frees the sender (`NULL` is ignored).
///
/// # Safety
///
/// `handle` is NULL or a live sender, not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_spsc_sender_close(handle: *mut shmring_spsc_sender) {
    // SAFETY: the caller's contract.
    unsafe { free(handle) }
}

/// Detaches and frees the receiver (`NULL` is ignored).
///
/// # Safety
///
/// `handle` is NULL or a live receiver, not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_spsc_receiver_close(handle: *mut shmring_spsc_receiver) {
    // SAFETY: the caller's contract.
    unsafe { free(handle) }
}

/// Sends one payload (`sizeof` the ring's type, read from `value`), waiting while the ring is
/// full: `SHMRING_OK`, `SHMRING_DISCONNECTED` or `SHMRING_CORRUPTED`.
///
/// # Safety
///
/// `tx` is NULL or a live sender; `value` is NULL or valid for one payload.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_spsc_send(
    tx: *mut shmring_spsc_sender,
    value: *const u8,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe { with_payload(tx, value, |tx, msg| Ok(tx.tx.send(msg)?)) }
}

/// Sends without waiting: as [`shmring_spsc_send`], or `SHMRING_FULL`.
///
/// # Safety
///
/// As [`shmring_spsc_send`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_spsc_try_send(
    tx: *mut shmring_spsc_sender,
    value: *const u8,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe { with_payload(tx, value, |tx, msg| Ok(tx.tx.try_send(msg)?)) }
}

/// Sends, waiting at most `timeout_ns` nanoseconds: as [`shmring_spsc_send`], or
/// `SHMRING_TIMEOUT`.
///
/// # Safety
///
/// As [`shmring_spsc_send`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_spsc_send_timeout(
    tx: *mut shmring_spsc_sender,
    value: *const u8,
    timeout_ns: u64,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe {
        with_payload(tx, value, |tx, msg| {
            Ok(tx.tx.send_timeout(msg, Duration::from_nanos(timeout_ns))?)
        })
    }
}

/// Receives one payload into `out` (`sizeof` the ring's type), waiting for one:
/// `SHMRING_OK`, `SHMRING_DISCONNECTED` once the sender is gone and everything was received,
/// or `SHMRING_CORRUPTED`.
///
/// # Safety
///
/// `rx` is NULL or a live receiver; `out` is NULL or writable for one payload.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_spsc_recv(
    rx: *mut shmring_spsc_receiver,
    out: *mut u8,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe { with_room(rx, out, |rx, dst| Ok(rx.rx.recv_into(dst)?)) }
}

/// Receives without waiting: as [`shmring_spsc_recv`], or `SHMRING_EMPTY`.
///
/// # Safety
///
/// As [`shmring_spsc_recv`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_spsc_try_recv(
    rx: *mut shmring_spsc_receiver,
    out: *mut u8,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe { with_room(rx, out, |rx, dst| Ok(rx.rx.try_recv_into(dst)?)) }
}

/// Receives, waiting at most `timeout_ns` nanoseconds: as [`shmring_spsc_recv`], or
/// `SHMRING_TIMEOUT`.
///
/// # Safety
///
/// As [`shmring_spsc_recv`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_spsc_recv_timeout(
    rx: *mut shmring_spsc_receiver,
    out: *mut u8,
    timeout_ns: u64,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe {
        with_room(rx, out, |rx, dst| match deadline_in(timeout_ns) {
            Some(deadline) => Ok(rx.rx.recv_into_deadline(dst, deadline)?),
            None => Ok(rx.rx.recv_into(dst)?),
        })
    }
}

/// The typed receiver's readiness descriptor (an eventfd for `poll`/`epoll`) into `*fd`:
/// register with [`shmring_spsc_receiver_register_readiness`], wait until the descriptor is
/// readable, [`shmring_spsc_receiver_clear_readiness`], then [`shmring_spsc_try_recv`]. It
/// belongs to the handle (closed with it).
///
/// # Safety
///
/// `rx` is NULL or a live receiver; `fd` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_spsc_receiver_readiness_fd(
    rx: *mut shmring_spsc_receiver,
    fd: *mut i32,
) -> shmring_status {
    // SAFETY: the caller's contract.
    call(|| unsafe { write_fd(handle(rx, "rx")?, fd) })
}

/// Asks for the readiness descriptor to be signalled when a record may be there: `*wait` is
/// 1 if the caller should poll the descriptor first, 0 if a record is there already.
///
/// # Safety
///
/// `rx` is NULL or a live receiver; `wait` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_spsc_receiver_register_readiness(
    rx: *mut shmring_spsc_receiver,
    wait: *mut i32,
) -> shmring_status {
    // SAFETY: the caller's contract.
    call(|| unsafe { write_register(handle(rx, "rx")?, wait) })
}

/// After the readiness descriptor was readable: resets it.
///
/// # Safety
///
/// `rx` is NULL or a live receiver.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_spsc_receiver_clear_readiness(
    rx: *mut shmring_spsc_receiver,
) -> shmring_status {
    call(|| {
        // SAFETY: the caller's contract.
        unsafe { handle(rx, "rx")? }.clear();
        Ok(())
    })
}
