//! Errors across the C boundary: a status code per call, and the Rust error's text for the last
//! failure on this thread.

use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use shmring::OpenError;

/// What a call did. `SHMRING_OK` (0) is success; every other value comes with a message from
/// [`shmring_last_error_message`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum shmring_status {
    /// Done.
    SHMRING_OK = 0,
    /// A non-blocking send found the ring full.
    SHMRING_FULL = 1,
    /// A non-blocking receive found the ring empty.
    SHMRING_EMPTY = 2,
    /// A timed call's time ran out.
    SHMRING_TIMEOUT = 3,
    /// The other side is gone (and, for a receiver, everything sent was received).
    SHMRING_DISCONNECTED = 4,
    /// The ring's shared state or header is invalid (a peer wrote garbage); the handle will
    /// not use the ring again.
    SHMRING_CORRUPTED = 5,
    /// The message is longer than the ring carries, or the caller's buffer is too short.
    SHMRING_TOO_LARGE = 6,
    /// A null pointer, a name that is not UTF-8, an invalid layout table or capacity.
    SHMRING_INVALID_ARGUMENT = 7,
    /// No ring of that name.
    SHMRING_NOT_FOUND = 8,
    /// `create` found the name taken.
    SHMRING_ALREADY_EXISTS = 9,
    /// The ring's permissions refuse this process.
    SHMRING_PERMISSION_DENIED = 10,
    /// The ring holds another payload type: the message names both layouts.
    SHMRING_INCOMPATIBLE_LAYOUT = 11,
    /// The ring is another kind of ring.
    SHMRING_KIND_MISMATCH = 12,
    /// A live process holds the role, or every participant record is taken.
    SHMRING_BUSY = 13,
    /// Not enough shared memory for the ring.
    SHMRING_NO_SPACE = 14,
    /// Opening or creating failed for another reason (the message says which).
    SHMRING_OPEN_FAILED = 15,
    /// A bug in this library (a caught panic); please report the message.
    SHMRING_INTERNAL = 16,
    /// A broadcast receiver was overtaken by an overwriting writer: the message says how many
    /// messages it missed; the next receive goes on from the oldest one the ring holds.
    SHMRING_LAGGED = 17,
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// The message of the last call on this thread that did not return `SHMRING_OK`: one line,
/// the text the Rust API's error displays. Valid until the next failing call on this thread;
/// an empty string if none failed yet. Never `NULL`.
///
/// ```
/// use std::ffi::CStr;
/// use shmring_ffi::*;
/// let mut rx = std::ptr::null_mut();
/// // SAFETY: a NUL-terminated name and a writable handle pointer.
/// let status = unsafe { shmring_bytes_receiver_open(c"shmring-doc-nowhere".as_ptr(), &mut rx) };
/// assert_eq!(status, shmring_status::SHMRING_NOT_FOUND);
/// // SAFETY: the message is a NUL-terminated string valid until the next failing call.
/// let msg = unsafe { CStr::from_ptr(shmring_last_error_message()) };
/// assert!(msg.to_str().unwrap().contains("shmring-doc-nowhere"));
/// ```
#[unsafe(no_mangle)]
pub extern "C" fn shmring_last_error_message() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// A failed call: its status and message.
pub(crate) struct Failure {
    pub status: shmring_status,
    pub message: String,
}

impl Failure {
    pub fn new(status: shmring_status, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Failure {
        Failure::new(shmring_status::SHMRING_INVALID_ARGUMENT, message)
    }
}

impl From<OpenError> for Failure {
    fn from(e: OpenError) -> Failure {
        use shmring_status::*;
        let status = match &e {
            OpenError::NotFound { .. } => SHMRING_NOT_FOUND,
            OpenError::AlreadyExists { .. } => SHMRING_ALREADY_EXISTS,
            OpenError::PermissionDenied { .. } => SHMRING_PERMISSION_DENIED,
            OpenError::IncompatibleLayout { .. } => SHMRING_INCOMPATIBLE_LAYOUT,
            OpenError::KindMismatch { .. } => SHMRING_KIND_MISMATCH,
            OpenError::RoleTaken { .. } | OpenError::ParticipantsFull { .. } => SHMRING_BUSY,
            OpenError::NoSpace { .. } => SHMRING_NO_SPACE,
            OpenError::InvalidName { .. } | OpenError::InvalidConfig { .. } => {
                SHMRING_INVALID_ARGUMENT
            }
            OpenError::Corrupted { .. }
            | OpenError::Truncated { .. }
            | OpenError::NotASegment { .. } => SHMRING_CORRUPTED,
            _ => SHMRING_OPEN_FAILED,
        };
        Failure::new(status, e.to_string())
    }
}

/// `impl From<ERROR> for Failure`: each pattern of the error to its status, the message the
/// error's text (the Rust API's own words).
macro_rules! failure_from {
    ($err:ty { $($pat:pat => $status:ident),* $(,)? }) => {
        impl From<$err> for $crate::error::Failure {
            fn from(e: $err) -> $crate::error::Failure {
                use $crate::shmring_status::*;
                let status = match e {
                    $($pat => $status),*
                };
                $crate::error::Failure::new(status, e.to_string())
            }
        }
    };
}
pub(crate) use failure_from;

/// Runs `body`, turning its failure (or a panic) into a status and this thread's message.
pub(crate) fn call(body: impl FnOnce() -> Result<(), Failure>) -> shmring_status {
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return shmring_status::SHMRING_OK,
        Ok(Err(f)) => f,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            Failure::new(
                shmring_status::SHMRING_INTERNAL,
                format!("shmring-ffi internal error: {what}"),
            )
        }
    };
    let text = CString::new(failure.message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = text);
    failure.status
}

/// A required pointer argument, or `INVALID_ARGUMENT` naming it.
pub(crate) fn non_null<T>(ptr: *const T, what: &str) -> Result<*const T, Failure> {
    if ptr.is_null() {
        Err(Failure::invalid(format!("{what} is NULL")))
    } else {
        Ok(ptr)
    }
}

/// A NUL-terminated UTF-8 string argument.
///
/// # Safety
///
/// `ptr` is NULL or points to a NUL-terminated string valid for the call.
pub(crate) unsafe fn text<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Failure> {
    let ptr = non_null(ptr, what)?;
    // SAFETY: non-null, and the caller's contract makes it a NUL-terminated string that lives
    // for the call.
    unsafe { std::ffi::CStr::from_ptr(ptr) }
        .to_str()
        .map_err(|_| Failure::invalid(format!("{what} is not UTF-8")))
}
