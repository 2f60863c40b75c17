//! Typed mpmc rings for C: any number of sending and receiving processes, each message taken
//! by one receiver; payloads of a C struct described by a field table ([`shmring_type`]) — the
//! same ring a Rust `mpmc::Sender<T>` / `Receiver<T>` uses, the layout checked when a handle
//! attaches.

use std::ffi::c_char;

use shmring::mpmc::{DynReceiver, DynSender};

use crate::bytes::{free, handle};
use crate::error::call;
use crate::layout::shmring_type;
use crate::readiness::{Ready, write_fd, write_register};
use crate::shmring_status;
use crate::typed::{Typed, deadline_in, make, with_payload, with_room};

/// A sending end of a typed mpmc ring (opaque).
#[derive(Debug)]
pub struct shmring_mpmc_sender {
    tx: DynSender,
}

/// A receiving end of a typed mpmc ring (opaque).
#[derive(Debug)]
pub struct shmring_mpmc_receiver {
    pub(crate) rx: DynReceiver,
}

impl Typed for shmring_mpmc_sender {
    fn payload_size(&self) -> usize {
        self.tx.payload_size()
    }
}

impl Typed for shmring_mpmc_receiver {
    fn payload_size(&self) -> usize {
        self.rx.payload_size()
    }
}

/// Creates the typed mpmc ring `name` for `capacity` payloads of `type` (rounded up to a
/// power of two, at least 2) and attaches as a sender; `*out` receives the handle.
///
/// # Safety
///
/// `name` is NULL or NUL-terminated; `type` is NULL or a valid table; `out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_mpmc_sender_create(
    name: *const c_char,
    capacity: u64,
    r#type: *const shmring_type,
    out: *mut *mut shmring_mpmc_sender,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe {
        make(name, r#type, out, |name, layout| {
            Ok(shmring_mpmc_sender {
                tx: DynSender::create(name, capacity, layout)?,
            })
        })
    }
}

/// Opens the typed mpmc ring `name`, which must hold payloads of `type` (else
/// `SHMRING_INCOMPATIBLE_LAYOUT`, naming both layouts), as one more sender
/// (`SHMRING_BUSY` when every participant record is taken).
///
/// # Safety
///
/// As for [`shmring_mpmc_sender_create`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_mpmc_sender_open(
    name: *const c_char,
    r#type: *const shmring_type,
    out: *mut *mut shmring_mpmc_sender,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe {
        make(name, r#type, out, |name, layout| {
            Ok(shmring_mpmc_sender {
                tx: DynSender::open(name, layout)?,
            })
        })
    }
}

/// Creates the typed mpmc ring `name` for `capacity` payloads of `type` and attaches as a
/// receiver; `*out` receives the handle.
///
/// # Safety
///
/// As for [`shmring_mpmc_sender_create`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_mpmc_receiver_create(
    name: *const c_char,
    capacity: u64,
    r#type: *const shmring_type,
    out: *mut *mut shmring_mpmc_receiver,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe {
        make(name, r#type, out, |name, layout| {
            Ok(shmring_mpmc_receiver {
                rx: DynReceiver::create(name, capacity, layout)?,
            })
        })
    }
}

/// Opens the typed mpmc ring `name`, which must hold payloads of `type`, as one more
/// receiver.
///
/// # Safety
///
/// As for [`shmring_mpmc_sender_create`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_mpmc_receiver_open(
    name: *const c_char,
    r#type: *const shmring_type,
    out: *mut *mut shmring_mpmc_receiver,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe {
        make(name, r#type, out, |name, layout| {
            Ok(shmring_mpmc_receiver {
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
pub unsafe extern "C" fn shmring_mpmc_sender_close(handle: *mut shmring_mpmc_sender) {
    // SAFETY: the caller's contract.
    unsafe { free(handle) }
}

/// Detaches and frees the receiver (`NULL` is ignored).
///
/// # Safety
///
/// `handle` is NULL or a live receiver, not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_mpmc_receiver_close(handle: *mut shmring_mpmc_receiver) {
    // SAFETY: the caller's contract.
    unsafe { free(handle) }
}

/// Sends one payload (`sizeof` the ring's type, read from `value`), waiting while the ring is
/// full: `SHMRING_OK`, `SHMRING_DISCONNECTED` once every receiver is gone, or
/// `SHMRING_CORRUPTED`.
///
/// # Safety
///
/// `tx` is NULL or a live sender; `value` is NULL or valid for one payload.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_mpmc_send(
    tx: *mut shmring_mpmc_sender,
    value: *const u8,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe { with_payload(tx, value, |tx, msg| Ok(tx.tx.send(msg)?)) }
}

/// Sends without waiting: as [`shmring_mpmc_send`], or `SHMRING_FULL`.
///
/// # Safety
///
/// As [`shmring_mpmc_send`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_mpmc_try_send(
    tx: *mut shmring_mpmc_sender,
    value: *const u8,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe { with_payload(tx, value, |tx, msg| Ok(tx.tx.try_send(msg)?)) }
}

/// Sends, waiting at most `timeout_ns` nanoseconds: as [`shmring_mpmc_send`], or
/// `SHMRING_TIMEOUT`.
///
/// # Safety
///
/// As [`shmring_mpmc_send`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_mpmc_send_timeout(
    tx: *mut shmring_mpmc_sender,
    value: *const u8,
    timeout_ns: u64,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe {
        with_payload(tx, value, |tx, msg| match deadline_in(timeout_ns) {
            Some(deadline) => Ok(tx.tx.send_deadline(msg, deadline)?),
            None => Ok(tx.tx.send(msg)?),
        })
    }
}

/// Receives one payload into `out` (`sizeof` the ring's type), waiting for one: `SHMRING_OK`,
/// `SHMRING_DISCONNECTED` once every sender is gone and everything was received, or
/// `SHMRING_CORRUPTED`.
///
/// # Safety
///
/// `rx` is NULL or a live receiver; `out` is NULL or writable for one payload.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_mpmc_recv(
    rx: *mut shmring_mpmc_receiver,
    out: *mut u8,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe { with_room(rx, out, |rx, dst| Ok(rx.rx.recv_into(dst)?)) }
}

/// Receives without waiting: as [`shmring_mpmc_recv`], or `SHMRING_EMPTY`.
///
/// # Safety
///
/// As [`shmring_mpmc_recv`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_mpmc_try_recv(
    rx: *mut shmring_mpmc_receiver,
    out: *mut u8,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe { with_room(rx, out, |rx, dst| Ok(rx.rx.try_recv_into(dst)?)) }
}

/// Receives, waiting at most `timeout_ns` nanoseconds: as [`shmring_mpmc_recv`], or
/// `SHMRING_TIMEOUT`.
///
/// # Safety
///
/// As [`shmring_mpmc_recv`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_mpmc_recv_timeout(
    rx: *mut shmring_mpmc_receiver,
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

/// The receiver's readiness descriptor (an eventfd for `poll`/`epoll`) into `*fd`: register
/// with [`shmring_mpmc_receiver_register_readiness`], wait until the descriptor is readable,
/// [`shmring_mpmc_receiver_clear_readiness`], then [`shmring_mpmc_try_recv`]. It belongs to
/// the handle (closed with it).
///
/// # Safety
///
/// `rx` is NULL or a live receiver; `fd` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_mpmc_receiver_readiness_fd(
    rx: *mut shmring_mpmc_receiver,
    fd: *mut i32,
) -> shmring_status {
    // SAFETY: the caller's contract.
    call(|| unsafe { write_fd(handle(rx, "rx")?, fd) })
}

/// Asks for the readiness descriptor to be signalled when a payload may be there: `*wait` is 1
/// if the caller should poll the descriptor first, 0 if one is there already.
///
/// # Safety
///
/// `rx` is NULL or a live receiver; `wait` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_mpmc_receiver_register_readiness(
    rx: *mut shmring_mpmc_receiver,
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
pub unsafe extern "C" fn shmring_mpmc_receiver_clear_readiness(
    rx: *mut shmring_mpmc_receiver,
) -> shmring_status {
    call(|| {
        // SAFETY: the caller's contract.
        unsafe { handle(rx, "rx")? }.clear();
        Ok(())
    })
}
