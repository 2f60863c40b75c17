//! Byte rings for C: the many-producer framed ring (`shmring::framed::mpsc`) — any number of
//! sending processes, one receiver — behind opaque handles.

use std::ffi::c_char;
use std::time::Duration;

use shmring::framed::mpsc::{Receiver, Reservation, Sender};
use shmring::framed::{SendError, SendTimeoutError, TrySendError};
use shmring::{RecvError, RecvTimeoutError, TryRecvError};

use crate::error::{Failure, call, failure_from, non_null, text};
use crate::readiness::{Ready, write_fd, write_register};
use crate::shmring_status::{self, *};

/// A sending handle on a byte ring (opaque), with the message it has reserved and not yet
/// committed, if any.
#[derive(Debug)]
pub struct shmring_bytes_sender {
    // Declared (so dropped) before `tx`, whose heap allocation it borrows.
    open: Option<Reservation<'static>>,
    // Behind a pointer of its own (an `Arc`: no uniqueness asserted over it), so that taking
    // `&mut` of the handle never covers what an open reservation borrows.
    tx: std::sync::Arc<Sender>,
}

/// The receiving handle of a byte ring (opaque); it keeps the last message received.
#[derive(Debug)]
pub struct shmring_bytes_receiver {
    pub(crate) rx: Receiver,
    buf: Vec<u8>,
}

failure_from!(SendError {
    SendError::TooLarge { .. } => SHMRING_TOO_LARGE,
    SendError::Disconnected => SHMRING_DISCONNECTED,
    SendError::Corrupted => SHMRING_CORRUPTED,
});
failure_from!(TrySendError {
    TrySendError::TooLarge { .. } => SHMRING_TOO_LARGE,
    TrySendError::Full => SHMRING_FULL,
    TrySendError::Disconnected => SHMRING_DISCONNECTED,
    TrySendError::Corrupted => SHMRING_CORRUPTED,
});
failure_from!(SendTimeoutError {
    SendTimeoutError::TooLarge { .. } => SHMRING_TOO_LARGE,
    SendTimeoutError::Timeout => SHMRING_TIMEOUT,
    SendTimeoutError::Disconnected => SHMRING_DISCONNECTED,
    SendTimeoutError::Corrupted => SHMRING_CORRUPTED,
});
failure_from!(RecvError {
    RecvError::Disconnected => SHMRING_DISCONNECTED,
    RecvError::Corrupted => SHMRING_CORRUPTED,
});
failure_from!(TryRecvError {
    TryRecvError::Empty => SHMRING_EMPTY,
    TryRecvError::Disconnected => SHMRING_DISCONNECTED,
    TryRecvError::Corrupted => SHMRING_CORRUPTED,
});
failure_from!(RecvTimeoutError {
    RecvTimeoutError::Timeout => SHMRING_TIMEOUT,
    RecvTimeoutError::Disconnected => SHMRING_DISCONNECTED,
    RecvTimeoutError::Corrupted => SHMRING_CORRUPTED,
});

/// Stores a new handle into `*out` (checked non-null first, so nothing leaks).
///
/// # Safety
///
/// `out` is NULL or writable.
pub(crate) unsafe fn hand_out<H>(
    out: *mut *mut H,
    make: impl FnOnce() -> Result<H, Failure>,
) -> Result<(), Failure> {
    non_null(out, "out")?;
    let handle = Box::into_raw(Box::new(make()?));
    // SAFETY: non-null and writable (the caller's contract).
    unsafe { out.write(handle) };
    Ok(())
}

/// Frees a handle made by [`hand_out`] (`NULL` is ignored).
///
/// # Safety
///
/// `ptr` is NULL or a live handle, not used again.
pub(crate) unsafe fn free<H>(ptr: *mut H) {
    if !ptr.is_null() {
        // SAFETY: made by `hand_out` (Box::into_raw) and given back once.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// The handle behind `ptr`, or `INVALID_ARGUMENT`.
///
/// # Safety
///
/// `ptr` is NULL or a live handle of this type used by no other thread during the call.
pub(crate) unsafe fn handle<'a, H>(ptr: *mut H, what: &str) -> Result<&'a mut H, Failure> {
    non_null(ptr, what)?;
    // SAFETY: a live handle made by `hand_out`, exclusively ours for the call.
    Ok(unsafe { &mut *ptr })
}

/// A message to send.
///
/// # Safety
///
/// `data` is valid for `len` bytes (may be NULL when `len` is 0).
unsafe fn message<'a>(data: *const u8, len: usize) -> Result<&'a [u8], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    non_null(data, "data")?;
    // SAFETY: non-null and valid for `len` bytes (the caller's contract).
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// Creates the byte ring `name` (`/dev/shm/NAME`) with room for `capacity` bytes (rounded up
/// to a power of two; the largest message is a quarter of it, less 8 bytes) and attaches as its
/// receiver; `*out` receives the handle.
///
/// # Safety
///
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_bytes_receiver_create(
    name: *const c_char,
    capacity: u64,
    out: *mut *mut shmring_bytes_receiver,
) -> shmring_status {
    call(|| {
        // SAFETY: the caller's contract.
        let name = unsafe { text(name, "name")? };
        // SAFETY: the caller's contract.
        unsafe {
            hand_out(out, || {
                Ok(shmring_bytes_receiver {
                    rx: Receiver::create(name, capacity)?,
                    buf: Vec::new(),
                })
            })
        }
    })
}

/// Opens the byte ring `name` as its receiver (a dead receiver's role is taken over; a live
/// one's is `SHMRING_BUSY`).
///
/// # Safety
///
/// As [`shmring_bytes_receiver_create`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_bytes_receiver_open(
    name: *const c_char,
    out: *mut *mut shmring_bytes_receiver,
) -> shmring_status {
    call(|| {
        // SAFETY: the caller's contract.
        let name = unsafe { text(name, "name")? };
        // SAFETY: the caller's contract.
        unsafe {
            hand_out(out, || {
                Ok(shmring_bytes_receiver {
                    rx: Receiver::open(name)?,
                    buf: Vec::new(),
                })
            })
        }
    })
}

/// Creates the byte ring `name` with room for `capacity` bytes and attaches as a sender.
///
/// # Safety
///
/// As [`shmring_bytes_receiver_create`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_bytes_sender_create(
    name: *const c_char,
    capacity: u64,
    out: *mut *mut shmring_bytes_sender,
) -> shmring_status {
    call(|| {
        // SAFETY: the caller's contract.
        let name = unsafe { text(name, "name")? };
        // SAFETY: the caller's contract.
        unsafe {
            hand_out(out, || {
                Ok(shmring_bytes_sender {
                    open: None,
                    tx: std::sync::Arc::new(Sender::create(name, capacity)?),
                })
            })
        }
    })
}

/// Opens the byte ring `name` as one more sender.
///
/// # Safety
///
/// As [`shmring_bytes_receiver_create`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_bytes_sender_open(
    name: *const c_char,
    out: *mut *mut shmring_bytes_sender,
) -> shmring_status {
    call(|| {
        // SAFETY: the caller's contract.
        let name = unsafe { text(name, "name")? };
        // SAFETY: the caller's contract.
        unsafe {
            hand_out(out, || {
                Ok(shmring_bytes_sender {
                    open: None,
                    tx: std::sync::Arc::new(Sender::open(name)?),
                })
            })
        }
    })
}

/// Detaches and frees a sender (`NULL` is ignored). The receiver sees the ring's senders gone
/// once the last one closes.
///
/// # Safety
///
/// `tx` is NULL or a live sender handle, not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_bytes_sender_close(tx: *mut shmring_bytes_sender) {
    // SAFETY: the caller's contract.
    unsafe { free(tx) }
}

/// Detaches and frees a receiver (`NULL` is ignored).
///
/// # Safety
///
/// `rx` is NULL or a live receiver handle, not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_bytes_receiver_close(rx: *mut shmring_bytes_receiver) {
    // SAFETY: the caller's contract.
    unsafe { free(rx) }
}

/// Sends `len` bytes from `data`, waiting while the ring is full: `SHMRING_OK`,
/// `SHMRING_TOO_LARGE`, `SHMRING_DISCONNECTED` (the receiver is gone) or `SHMRING_CORRUPTED`.
///
/// # Safety
///
/// `tx` is NULL or a live sender; `data` is valid for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_bytes_send(
    tx: *mut shmring_bytes_sender,
    data: *const u8,
    len: usize,
) -> shmring_status {
    call(|| {
        // SAFETY: the caller's contract.
        let (tx, msg) = unsafe { (handle(tx, "tx")?, message(data, len)?) };
        Ok(tx.tx.send(msg)?)
    })
}

/// Sends without waiting: as [`shmring_bytes_send`], or `SHMRING_FULL`.
///
/// # Safety
///
/// As [`shmring_bytes_send`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_bytes_try_send(
    tx: *mut shmring_bytes_sender,
    data: *const u8,
    len: usize,
) -> shmring_status {
    call(|| {
        // SAFETY: the caller's contract.
        let (tx, msg) = unsafe { (handle(tx, "tx")?, message(data, len)?) };
        Ok(tx.tx.try_send(msg)?)
    })
}

/// Sends, waiting at most `timeout_ns` nanoseconds for room: as [`shmring_bytes_send`], or
/// `SHMRING_TIMEOUT`.
///
/// # Safety
///
/// As [`shmring_bytes_send`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_bytes_send_timeout(
    tx: *mut shmring_bytes_sender,
    data: *const u8,
    len: usize,
    timeout_ns: u64,
) -> shmring_status {
    call(|| {
        // SAFETY: the caller's contract.
        let (tx, msg) = unsafe { (handle(tx, "tx")?, message(data, len)?) };
        Ok(tx.tx.send_timeout(msg, Duration::from_nanos(timeout_ns))?)
    })
}

/// Reserves room for a message of `len` bytes in the ring, waiting while it is full (or, with
/// `wait` 0, `SHMRING_FULL` at once), and points `*data` at it: write the message there, then
/// [`shmring_bytes_commit`] (or [`shmring_bytes_abandon`]). The memory is the ring's own —
/// the message is built in place, with no copy — and stays valid until the commit, the
/// abandon or the close. One reservation at a time per handle (`SHMRING_BUSY` otherwise); the
/// handle may send meanwhile.
///
/// # Safety
///
/// `tx` is NULL or a live sender; `data` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_bytes_reserve(
    tx: *mut shmring_bytes_sender,
    len: usize,
    wait: i32,
    data: *mut *mut u8,
) -> shmring_status {
    call(|| {
        // SAFETY: the caller's contract.
        let handle = unsafe { handle(tx, "tx")? };
        non_null(data, "data")?;
        if handle.open.is_some() {
            return Err(Failure::new(
                SHMRING_BUSY,
                "this sender has a reservation open: commit or abandon it first",
            ));
        }
        let mut reservation = if wait != 0 {
            handle.tx.reserve(len)?
        } else {
            handle.tx.try_reserve(len)?
        };
        let ptr = reservation.as_mut_bytes().as_mut_ptr();
        // SAFETY: the reservation borrows the `Sender` inside `handle.tx`'s allocation, which
        // is never replaced and outlives `open`: the handle is only freed as a whole (fields
        // dropped in order, `open` first), and commit/abandon take `open` out first.
        let reservation: Reservation<'static> = unsafe { std::mem::transmute(reservation) };
        handle.open = Some(reservation);
        // SAFETY: non-null and writable (the caller's contract).
        unsafe { data.write(ptr) };
        Ok(())
    })
}

/// Publishes the message reserved by [`shmring_bytes_reserve`] (`SHMRING_INVALID_ARGUMENT`
/// if none is open).
///
/// # Safety
///
/// `tx` is NULL or a live sender.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_bytes_commit(tx: *mut shmring_bytes_sender) -> shmring_status {
    call(|| {
        // SAFETY: the caller's contract.
        let handle = unsafe { handle(tx, "tx")? };
        let open = handle.open.take();
        open.ok_or_else(|| Failure::invalid("no reservation is open on this sender"))?
            .commit();
        Ok(())
    })
}

/// Gives up the message reserved by [`shmring_bytes_reserve`]: nothing is sent (its room
/// becomes padding the receiver skips).
///
/// # Safety
///
/// `tx` is NULL or a live sender.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_bytes_abandon(tx: *mut shmring_bytes_sender) -> shmring_status {
    call(|| {
        // SAFETY: the caller's contract.
        let handle = unsafe { handle(tx, "tx")? };
        handle
            .open
            .take()
            .map(drop)
            .ok_or_else(|| Failure::invalid("no reservation is open on this sender"))
    })
}

/// The largest message a sender's ring carries, in bytes (0 for `NULL`).
///
/// # Safety
///
/// `tx` is NULL or a live sender.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_bytes_sender_max_message(
    tx: *const shmring_bytes_sender,
) -> usize {
    // SAFETY: the caller's contract.
    unsafe { tx.as_ref() }.map_or(0, |t| t.tx.max_message())
}

/// Points `*data` and `*len` at the message just received (kept by the handle until its next
/// receive or close).
///
/// # Safety
///
/// `data` and `len` are NULL or writable.
unsafe fn hand_message(
    rx: &shmring_bytes_receiver,
    data: *mut *const u8,
    len: *mut usize,
) -> Result<(), Failure> {
    // SAFETY: checked non-null, writable by the caller's contract.
    unsafe {
        non_null(data, "data")?;
        non_null(len, "len")?;
        data.write(rx.buf.as_ptr());
        len.write(rx.buf.len());
    }
    Ok(())
}

/// Receives the next message, waiting for one: `*data` and `*len` then give its bytes, valid
/// until this handle's next receive or close. `SHMRING_DISCONNECTED` once every sender is gone
/// and everything they sent was received; `SHMRING_CORRUPTED` if a peer damaged the ring.
///
/// # Safety
///
/// `rx` is NULL or a live receiver; `data` and `len` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_bytes_recv(
    rx: *mut shmring_bytes_receiver,
    data: *mut *const u8,
    len: *mut usize,
) -> shmring_status {
    call(|| {
        // SAFETY: the caller's contract.
        let rx = unsafe { handle(rx, "rx")? };
        rx.rx.recv_into(&mut rx.buf)?;
        // SAFETY: the caller's contract.
        unsafe { hand_message(rx, data, len) }
    })
}

/// Receives without waiting: as [`shmring_bytes_recv`], or `SHMRING_EMPTY`.
///
/// # Safety
///
/// As [`shmring_bytes_recv`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_bytes_try_recv(
    rx: *mut shmring_bytes_receiver,
    data: *mut *const u8,
    len: *mut usize,
) -> shmring_status {
    call(|| {
        // SAFETY: the caller's contract.
        let rx = unsafe { handle(rx, "rx")? };
        rx.rx.try_recv_into(&mut rx.buf)?;
        // SAFETY: the caller's contract.
        unsafe { hand_message(rx, data, len) }
    })
}

/// Receives, waiting at most `timeout_ns` nanoseconds: as [`shmring_bytes_recv`], or
/// `SHMRING_TIMEOUT`.
///
/// # Safety
///
/// As [`shmring_bytes_recv`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_bytes_recv_timeout(
    rx: *mut shmring_bytes_receiver,
    timeout_ns: u64,
    data: *mut *const u8,
    len: *mut usize,
) -> shmring_status {
    call(|| {
        // SAFETY: the caller's contract.
        let rx = unsafe { handle(rx, "rx")? };
        let deadline = std::time::Instant::now().checked_add(Duration::from_nanos(timeout_ns));
        match deadline {
            Some(d) => rx.rx.recv_into_deadline(&mut rx.buf, d)?,
            None => rx.rx.recv_into(&mut rx.buf)?,
        };
        // SAFETY: the caller's contract.
        unsafe { hand_message(rx, data, len) }
    })
}

/// The receiver's readiness descriptor (an eventfd for `poll`/`epoll`) into `*fd`: register
/// with [`shmring_bytes_receiver_register_readiness`], wait for the descriptor to be readable,
/// then [`shmring_bytes_receiver_clear_readiness`] and receive with the try call. The
/// descriptor belongs to the handle (closed with it).
///
/// # Safety
///
/// `rx` is NULL or a live receiver; `fd` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_bytes_receiver_readiness_fd(
    rx: *mut shmring_bytes_receiver,
    fd: *mut i32,
) -> shmring_status {
    // SAFETY: the caller's contract.
    call(|| unsafe { write_fd(handle(rx, "rx")?, fd) })
}

/// Asks for the readiness descriptor to be signalled when a message may be there: `*wait` is
/// 1 if the caller should poll the descriptor first, 0 if a message is there already.
///
/// # Safety
///
/// `rx` is NULL or a live receiver; `wait` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_bytes_receiver_register_readiness(
    rx: *mut shmring_bytes_receiver,
    wait: *mut i32,
) -> shmring_status {
    // SAFETY: the caller's contract.
    call(|| unsafe { write_register(handle(rx, "rx")?, wait) })
}

/// After the readiness descriptor was readable: resets it (and notices a sender that died).
///
/// # Safety
///
/// `rx` is NULL or a live receiver.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_bytes_receiver_clear_readiness(
    rx: *mut shmring_bytes_receiver,
) -> shmring_status {
    call(|| {
        // SAFETY: the caller's contract.
        unsafe { handle(rx, "rx")? }.clear();
        Ok(())
    })
}
