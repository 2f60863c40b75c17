//! Typed broadcast rings for C: one writer, any number of receiving processes, each seeing
//! every message; payloads of a C struct described by a field table ([`shmring_type`]) — the
//! same ring a Rust `broadcast::Sender<T>` / `Receiver<T>` uses, the layout checked when a
//! handle attaches. An overwrite ring's receiver that falls a whole ring behind gets
//! `SHMRING_LAGGED` and goes on from the oldest message held.

use std::ffi::c_char;

use shmring::broadcast::{
    DynReceiver, DynSender, Policy, RecvError, RecvTimeoutError, TryRecvError,
};

use crate::bytes::{free, handle};
use crate::error::{Failure, call, failure_from, non_null};
use crate::layout::shmring_type;
use crate::readiness::{Ready, write_fd, write_register};
use crate::shmring_status;
use crate::typed::{Typed, deadline_in, make, with_payload, with_room};

/// `policy` of [`shmring_broadcast_sender_create`]: the writer waits for the slowest live
/// receiver, so nothing is ever skipped.
pub const SHMRING_POLICY_LOSSLESS: u32 = 0;
/// `policy` of [`shmring_broadcast_sender_create`]: the writer never waits; a receiver a whole
/// ring behind gets `SHMRING_LAGGED`.
pub const SHMRING_POLICY_OVERWRITE: u32 = 1;

/// The writer of a typed broadcast ring (opaque).
#[derive(Debug)]
pub struct shmring_broadcast_sender {
    tx: DynSender,
}

/// A receiver of a typed broadcast ring (opaque), with the count of messages it missed.
#[derive(Debug)]
pub struct shmring_broadcast_receiver {
    pub(crate) rx: DynReceiver,
    missed: u64,
}

impl Typed for shmring_broadcast_sender {
    fn payload_size(&self) -> usize {
        self.tx.payload_size()
    }
}

impl Typed for shmring_broadcast_receiver {
    fn payload_size(&self) -> usize {
        self.rx.payload_size()
    }
}

failure_from!(TryRecvError {
    TryRecvError::Empty => SHMRING_EMPTY,
    TryRecvError::Lagged(_) => SHMRING_LAGGED,
    TryRecvError::Disconnected => SHMRING_DISCONNECTED,
    TryRecvError::Corrupted => SHMRING_CORRUPTED,
});
failure_from!(RecvError {
    RecvError::Lagged(_) => SHMRING_LAGGED,
    RecvError::Disconnected => SHMRING_DISCONNECTED,
    RecvError::Corrupted => SHMRING_CORRUPTED,
});
failure_from!(RecvTimeoutError {
    RecvTimeoutError::Timeout => SHMRING_TIMEOUT,
    RecvTimeoutError::Lagged(_) => SHMRING_LAGGED,
    RecvTimeoutError::Disconnected => SHMRING_DISCONNECTED,
    RecvTimeoutError::Corrupted => SHMRING_CORRUPTED,
});

/// A receive's outcome, counting what a lag skipped into `*missed`.
fn counting<E>(
    missed: &mut u64,
    result: Result<(), E>,
    lagged: fn(&E) -> Option<u64>,
) -> Result<(), Failure>
where
    Failure: From<E>,
{
    result.map_err(|e| {
        *missed += lagged(&e).unwrap_or(0);
        Failure::from(e)
    })
}

/// Creates the typed broadcast ring `name` for `capacity` payloads of `type` (rounded up to a
/// power of two, at least 2) under `policy` ([`SHMRING_POLICY_LOSSLESS`] or
/// [`SHMRING_POLICY_OVERWRITE`]) and attaches as its writer; `*out` receives the handle.
///
/// # Safety
///
/// `name` is NULL or NUL-terminated; `type` is NULL or a valid table; `out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_broadcast_sender_create(
    name: *const c_char,
    capacity: u64,
    r#type: *const shmring_type,
    policy: u32,
    out: *mut *mut shmring_broadcast_sender,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe {
        make(name, r#type, out, |name, layout| {
            let policy = match policy {
                SHMRING_POLICY_LOSSLESS => Policy::Lossless,
                SHMRING_POLICY_OVERWRITE => Policy::Overwrite,
                other => {
                    return Err(Failure::invalid(format!(
                        "policy {other} is neither SHMRING_POLICY_LOSSLESS (0) nor \
                         SHMRING_POLICY_OVERWRITE (1)"
                    )));
                }
            };
            Ok(shmring_broadcast_sender {
                tx: DynSender::create(name, capacity, layout, policy)?,
            })
        })
    }
}

/// Opens the typed broadcast ring `name`, which must hold payloads of `type` (else
/// `SHMRING_INCOMPATIBLE_LAYOUT`, naming both layouts), as its writer: `SHMRING_BUSY` while
/// another live process writes it (a dead writer is taken over).
///
/// # Safety
///
/// As for [`shmring_broadcast_sender_create`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_broadcast_sender_open(
    name: *const c_char,
    r#type: *const shmring_type,
    out: *mut *mut shmring_broadcast_sender,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe {
        make(name, r#type, out, |name, layout| {
            Ok(shmring_broadcast_sender {
                tx: DynSender::open(name, layout)?,
            })
        })
    }
}

/// Opens the typed broadcast ring `name`, which must hold payloads of `type`, as one more
/// receiver: at the next message, or (`from_oldest` non-zero) at the oldest the ring still
/// holds.
///
/// # Safety
///
/// As for [`shmring_broadcast_sender_create`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_broadcast_receiver_open(
    name: *const c_char,
    r#type: *const shmring_type,
    from_oldest: i32,
    out: *mut *mut shmring_broadcast_receiver,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe {
        make(name, r#type, out, |name, layout| {
            let rx = if from_oldest != 0 {
                DynReceiver::open_from_oldest(name, layout)?
            } else {
                DynReceiver::open(name, layout)?
            };
            Ok(shmring_broadcast_receiver { rx, missed: 0 })
        })
    }
}

/// Detaches and frees the writer (`NULL` is ignored); receivers get `SHMRING_DISCONNECTED`
/// once they have read everything.
///
/// # Safety
///
/// `handle` is NULL or a live writer, not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_broadcast_sender_close(handle: *mut shmring_broadcast_sender) {
    // SAFETY: the caller's contract.
    unsafe { free(handle) }
}

/// Detaches and frees the receiver (`NULL` is ignored); a lossless writer stops waiting for
/// it.
///
/// # Safety
///
/// `handle` is NULL or a live receiver, not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_broadcast_receiver_close(handle: *mut shmring_broadcast_receiver) {
    // SAFETY: the caller's contract.
    unsafe { free(handle) }
}

/// Sends one payload (`sizeof` the ring's type, read from `value`) to every receiver, waiting
/// (lossless rings) while the slowest live receiver is a ring behind: `SHMRING_OK` or
/// `SHMRING_CORRUPTED`.
///
/// # Safety
///
/// `tx` is NULL or a live writer; `value` is NULL or valid for one payload.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_broadcast_send(
    tx: *mut shmring_broadcast_sender,
    value: *const u8,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe { with_payload(tx, value, |tx, msg| Ok(tx.tx.send(msg)?)) }
}

/// Sends without waiting: as [`shmring_broadcast_send`], or `SHMRING_FULL` (lossless rings).
///
/// # Safety
///
/// As [`shmring_broadcast_send`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_broadcast_try_send(
    tx: *mut shmring_broadcast_sender,
    value: *const u8,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe { with_payload(tx, value, |tx, msg| Ok(tx.tx.try_send(msg)?)) }
}

/// Sends, waiting at most `timeout_ns` nanoseconds: as [`shmring_broadcast_send`], or
/// `SHMRING_TIMEOUT`.
///
/// # Safety
///
/// As [`shmring_broadcast_send`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_broadcast_send_timeout(
    tx: *mut shmring_broadcast_sender,
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

/// Receives the next message into `out` (`sizeof` the ring's type), waiting for one:
/// `SHMRING_OK`, `SHMRING_LAGGED` when the writer overtook this receiver (the message says how
/// many it missed, [`shmring_broadcast_receiver_missed`] counts them all; receive again to go
/// on from the oldest held), `SHMRING_DISCONNECTED` once the writer is gone and everything was
/// received, or `SHMRING_CORRUPTED`.
///
/// # Safety
///
/// `rx` is NULL or a live receiver; `out` is NULL or writable for one payload.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_broadcast_recv(
    rx: *mut shmring_broadcast_receiver,
    out: *mut u8,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe {
        with_room(rx, out, |rx, dst| {
            let result = rx.rx.recv_into(dst);
            counting(&mut rx.missed, result, |e| match e {
                RecvError::Lagged(n) => Some(*n),
                _ => None,
            })
        })
    }
}

/// Receives without waiting: as [`shmring_broadcast_recv`], or `SHMRING_EMPTY`.
///
/// # Safety
///
/// As [`shmring_broadcast_recv`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_broadcast_try_recv(
    rx: *mut shmring_broadcast_receiver,
    out: *mut u8,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe {
        with_room(rx, out, |rx, dst| {
            let result = rx.rx.try_recv_into(dst);
            counting(&mut rx.missed, result, |e| match e {
                TryRecvError::Lagged(n) => Some(*n),
                _ => None,
            })
        })
    }
}

/// Receives, waiting at most `timeout_ns` nanoseconds: as [`shmring_broadcast_recv`], or
/// `SHMRING_TIMEOUT`.
///
/// # Safety
///
/// As [`shmring_broadcast_recv`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_broadcast_recv_timeout(
    rx: *mut shmring_broadcast_receiver,
    out: *mut u8,
    timeout_ns: u64,
) -> shmring_status {
    // SAFETY: the caller's contract.
    unsafe {
        with_room(rx, out, |rx, dst| {
            let result = match deadline_in(timeout_ns) {
                Some(deadline) => rx.rx.recv_into_deadline(dst, deadline),
                None => rx.rx.recv_into(dst).map_err(RecvTimeoutError::from),
            };
            counting(&mut rx.missed, result, |e| match e {
                RecvTimeoutError::Lagged(n) => Some(*n),
                _ => None,
            })
        })
    }
}

/// How many messages this receiver has missed since it opened (the sum of every
/// `SHMRING_LAGGED`'s count) into `*missed`.
///
/// # Safety
///
/// `rx` is NULL or a live receiver; `missed` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_broadcast_receiver_missed(
    rx: *mut shmring_broadcast_receiver,
    missed: *mut u64,
) -> shmring_status {
    call(|| {
        // SAFETY: the caller's contract.
        let rx = unsafe { handle(rx, "rx")? };
        non_null(missed, "missed")?;
        // SAFETY: non-null and writable (the caller's contract).
        unsafe { missed.write(rx.missed) };
        Ok(())
    })
}

/// The receiver's readiness descriptor (an eventfd for `poll`/`epoll`) into `*fd`: register
/// with [`shmring_broadcast_receiver_register_readiness`], wait until the descriptor is
/// readable, [`shmring_broadcast_receiver_clear_readiness`], then
/// [`shmring_broadcast_try_recv`]. It belongs to the handle (closed with it).
///
/// # Safety
///
/// `rx` is NULL or a live receiver; `fd` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_broadcast_receiver_readiness_fd(
    rx: *mut shmring_broadcast_receiver,
    fd: *mut i32,
) -> shmring_status {
    // SAFETY: the caller's contract.
    call(|| unsafe { write_fd(handle(rx, "rx")?, fd) })
}

/// Asks for the readiness descriptor to be signalled when a message may be there: `*wait` is 1
/// if the caller should poll the descriptor first, 0 if one is there already.
///
/// # Safety
///
/// `rx` is NULL or a live receiver; `wait` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_broadcast_receiver_register_readiness(
    rx: *mut shmring_broadcast_receiver,
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
pub unsafe extern "C" fn shmring_broadcast_receiver_clear_readiness(
    rx: *mut shmring_broadcast_receiver,
) -> shmring_status {
    call(|| {
        // SAFETY: the caller's contract.
        unsafe { handle(rx, "rx")? }.clear();
        Ok(())
    })
}
