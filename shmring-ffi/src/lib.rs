//! The C ABI of shmring (`include/shmring.h`, generated from this crate by cbindgen).
//!
//! * **Handles are opaque** pointers made by a `*_create` or `*_open` function and given back to
//!   the matching `*_close` (which accepts `NULL`). A handle is used by one thread at a time.
//! * **Every call that can fail returns a [`shmring_status`]**; `SHMRING_OK` is 0. After a
//!   failure, [`shmring_last_error_message`] gives the one-line text the Rust API's error
//!   displays (the same words a Rust program would print), valid until the next failing call on
//!   the same thread.
//! * **Payload layouts** are described once per C struct by a field table
//!   ([`shmring_type`], built with the `SHMRING_FIELD` / `SHMRING_TYPE` macros of the header);
//!   the library turns it into the same description and fingerprint `#[derive(ShmType)]` gives
//!   the equivalent `#[repr(C)]` Rust struct, so a C struct with fields swapped, or an `int32_t`
//!   where the ring holds `uint8_t`, is refused naming both layouts.
//! * **Typed spsc rings** (`shmring_spsc_*`): one sender, one receiver, payloads of a C struct
//!   described by its field table — the same ring as Rust's `spsc::Sender<T>`/`Receiver<T>`.
//! * **Typed mpmc rings** (`shmring_mpmc_*`): any number of senders and receivers, each
//!   message taken by one receiver — Rust's `mpmc::Sender<T>`/`Receiver<T>`.
//! * **Typed broadcast rings** (`shmring_broadcast_*`): one writer, any number of receivers,
//!   each seeing every message (lossless, or overwriting with `SHMRING_LAGGED` reports) —
//!   Rust's `broadcast::Sender<T>`/`Receiver<T>`.
//! * **Byte rings** are the many-producer framed ring (`shmring::framed::mpsc`): any number of
//!   sending processes, one receiver.
//!
//! No call panics across the boundary: a panic inside is caught and reported as
//! `SHMRING_INTERNAL`. docs/bindings.md has the C walkthrough.

#![allow(non_camel_case_types)]

mod broadcast;
mod bytes;
mod error;
mod layout;
mod mpmc;
mod readiness;
mod spsc;
mod typed;

pub use broadcast::*;
pub use bytes::*;
pub use error::{shmring_last_error_message, shmring_status};
pub use layout::*;
pub use mpmc::*;
pub use spsc::*;

/// The library's version, `MAJOR.MINOR.PATCH` as a NUL-terminated string with static lifetime.
///
/// ```
/// // SAFETY: the version is a static NUL-terminated string.
/// let v = unsafe { std::ffi::CStr::from_ptr(shmring_ffi::shmring_version()) };
/// assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
/// ```
#[unsafe(no_mangle)]
pub extern "C" fn shmring_version() -> *const std::ffi::c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
