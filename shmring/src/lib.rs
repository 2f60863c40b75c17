//! Lock-free messaging between processes on one Linux machine, in POSIX shared memory, with a
//! layout guard and crash-safe handles.
//!
//! # Which ring?
//!
//! | ring | producers | consumers | payload | zero-copy | a killed peer |
//! |---|---|---|---|---|---|
//! | [`spsc`] | 1 | 1 | `T: ShmType` | `write_chunk`/`read_chunk` | its role can be taken over; nothing committed is lost |
//! | [`mpmc`] | any (processes, threads: `Clone + Sync`) | any | `T: ShmType` | — (`send_ref`, `recv_into`) | its claimed slot is tombstoned or released within a liveness period |
//! | [`framed`] | 1 | 1 | bytes, any length up to `max_message` | `reserve` → `write_at` → `commit` | its half-written record is never seen; the receiver's successor resumes exactly |
//! | [`framed::mpsc`] | any | 1 | bytes | `reserve` (held open as long as you like) | its claim becomes padding; nobody waits for it |
//! | [`broadcast`] | 1 | any, each sees every message | `T: ShmType` | — (`send_ref`, `recv_into`) | a dead receiver stops holding a lossless writer within a liveness period; a dead writer's half-written slot is never seen |
//! | [`framed::broadcast`] | 1 | any, each sees every message | bytes, up to `max_message` (64-byte cells) | — (`recv_into` reuses the buffer) | as broadcast; a dead writer's half-written message is never seen |
//!
//! And events without data: [`event`] — any number of notifiers, up to 64 listeners, each
//! `wait` returning the set of ids notified since the last one (futex or realtime-signal
//! wake-ups; a killed listener never blocks a notifier).
//!
//! Every handle has the same calls where the operation makes sense (the handle layer writes
//! readiness, `async` and streams once for all of them):
//!
//! | call | spsc | mpmc | framed | framed::mpsc | broadcast | framed::broadcast |
//! |---|---|---|---|---|---|---|
//! | `create`, `open`, `channel` | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ |
//! | `send`, `try_send`, `send_timeout`, `send_deadline`, `send_async` | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ (and `send_tagged`) |
//! | `send_ref` / `try_send_ref` / `send_ref_async` (copy from a reference) | ✓ | ✓ | — | — | `send_ref` | — |
//! | `recv`, `try_recv`, `recv_timeout`, `recv_deadline`, `recv_async`, `iter`, `try_iter` | ✓ | ✓ | ✓ | ✓ | ✓ (and `Lagged(n)`) | ✓ (and `Lagged(n)`, in messages) |
//! | `recv_into`, `try_recv_into`, `recv_into_deadline`, `recv_into_async` | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ |
//! | `write_chunk` / `read_chunk` | ✓ | — | — | — | — | — |
//! | `reserve` / `try_reserve` | — | — | ✓ | ✓ | — | — |
//! | `name`, `segment`, `capacity`, `is_disconnected` (`&self`) | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ |
//! | `len`, `is_empty`, `is_full` | ✓ | ✓ | — | — | receivers: `len`, `is_empty` (their backlog) | receivers: `is_empty`, `backlog_cells` |
//! | `max_message` | — | — | ✓ | ✓ | — | ✓ |
//! | `readiness_fd`, `register_readiness`, `clear_readiness`, `cancel_readiness` | ✓ | ✓ | ✓ | ✓ (senders: `register_readiness(len)`) | ✓ | ✓ (sender: `register_readiness(len)`) |
//! | `into_stream` (feature `stream`) | ✓ | ✓ | ✓ | ✓ | ✓ (`Lagged` is an item; the stream goes on) | ✓ (as broadcast) |
//!
//! # Features
//!
//! * `derive` (default): `#[derive(ShmType)]` for `#[repr(C)]` structs.
//! * `tokio`: `recv_async`/`send_async` (and `recv_into_async`, `send_ref_async`) on every
//!   handle, awaiting the readiness eventfd through tokio's reactor.
//! * `stream` (implies `tokio`): `into_stream()` on every receiver, a
//!   `futures_core::Stream`.
//!
//! # What else is in it
//!
//! * **Segments** ([`SegmentOptions`], [`Segment`]): named shared memory, sealed memfds, files or
//!   heap, with a validated header — what every ring stands on.
//! * The **layout guard** ([`ShmType`], `#[derive(ShmType)]`): a process that attaches with the
//!   wrong payload type gets [`OpenError::IncompatibleLayout`] before it reads a byte.
//!
//! ```
//! use shmring::spsc;
//!
//! let name = format!("shmring-doc-intro-{}", std::process::id());
//! // Process A
//! let mut tx = spsc::Sender::<u64>::create(name.as_str(), 4096)?;
//! // Process B (here the same process, for the example)
//! let mut rx = spsc::Receiver::<u64>::open(name.as_str())?;
//! tx.send(42).unwrap();
//! assert_eq!(rx.recv(), Ok(42));
//! shmring::Segment::unlink_name(&name)?;
//! # Ok::<(), shmring::OpenError>(())
//! ```
//!
//! # Blocking, disconnection and errors
//!
//! Every ring offers non-blocking (`try_send`, `try_recv`), blocking (`send`, `recv`) and
//! bounded (`*_timeout`, `*_deadline`) calls, with errors in crossbeam-channel's shape
//! ([`TrySendError::Full`], [`RecvError::Disconnected`], …) plus a `Corrupted` case for a peer
//! that wrote impossible values. A value that could not be sent always comes back. The
//! framed rings have the same split for byte messages ([`framed::TrySendError`],
//! [`framed::SendError`], [`framed::SendTimeoutError`]), each with `TooLarge { len, max }`;
//! the message is a borrowed slice, so there is nothing to give back. How a
//! handle waits is its [`WaitStrategy`]. When the other side is dropped or its process dies,
//! the receiver first gets everything committed, then `Disconnected`.
//!
//! # Creating and opening
//!
//! One process creates a segment with [`SegmentOptions::create`]; others open it with
//! [`SegmentOptions::open`], or every process calls [`SegmentOptions::open_or_create`].
//! Named segments live in `/dev/shm`, owner-only (mode 0600) unless you ask for more, and stay
//! until [`Segment::unlink`]. The creator reserves every page at creation, so a full
//! `/dev/shm` is [`OpenError::NoSpace`] then, not a SIGBUS later.
//!
//! ```
//! use shmring::{RingKind, SegmentOptions};
//!
//! let name = format!("shmring-doc-lib-{}", std::process::id());
//! let opts = SegmentOptions::new(RingKind::Raw).payload::<u64>().capacity(1024);
//! let creator = opts.create(name.as_str())?;
//! let opener = opts.open(name.as_str())?;
//! assert_eq!(opener.info().owner.pid, std::process::id());
//! creator.unlink()?;
//! # Ok::<(), shmring::OpenError>(())
//! ```
//!
//! # The layout guard
//!
//! Payload types implement [`ShmType`]: the primitives and arrays do, and
//! `#[derive(ShmType)]` covers `#[repr(C)]` structs that are [`bytemuck::Pod`]. The header
//! stores the type's structural fingerprint and readable description; opening with another type
//! is [`OpenError::IncompatibleLayout`], whose message shows both layouts.
//!
//! ```
//! use shmring::{Location, OpenError, RingKind, SegmentOptions, ShmType};
//!
//! #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable, ShmType)]
//! #[repr(C)]
//! struct Tick { ts_ns: u64, price: f64, qty: i32, side: u32 }
//!
//! #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable, ShmType)]
//! #[repr(C)]
//! struct Other { price: f64, ts_ns: u64, qty: i32, side: u32 }
//!
//! let path = std::env::temp_dir().join(format!("shmring-doc-guard-{}", std::process::id()));
//! let _ring = SegmentOptions::new(RingKind::Raw).payload::<Tick>().capacity(64)
//!     .create(Location::file(&path))?;
//! let err = SegmentOptions::new(RingKind::Raw).payload::<Other>()
//!     .open(Location::file(&path)).unwrap_err();
//! assert!(matches!(err, OpenError::IncompatibleLayout { .. }));
//! # std::fs::remove_file(&path).unwrap();
//! # Ok::<(), OpenError>(())
//! ```
//!
//! The derive refuses types whose layout is not fixed, at compile time:
//!
//! ```compile_fail
//! #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable, shmring::ShmType)]
//! struct NoRepr { a: u32 } // error: #[derive(ShmType)] needs #[repr(C)]
//! ```
//!
//! ```compile_fail
//! #[derive(Clone, Copy, shmring::ShmType)]
//! #[repr(u8)]
//! enum Side { Buy, Sell } // error: #[derive(ShmType)] supports only structs
//! ```
//!
//! ```compile_fail
//! #[derive(Clone, Copy, shmring::ShmType)]
//! #[repr(C)]
//! struct WithRef { p: &'static u8 } // error: not bytemuck::Pod, not ShmType
//! ```
//!
//! # Crashed and hostile peers
//!
//! The header is validated field by field and by checksum; a bad value is a specific error
//! ([`OpenError::Corrupted`], [`OpenError::NotASegment`], [`OpenError::VersionMismatch`],
//! [`OpenError::Truncated`]), never a panic or an access outside the mapping. An opener waits
//! at most [`SegmentOptions::init_timeout`] for a creator that has not finished, and fails
//! at once with [`OpenError::InitTimeout`] if that creator is proven dead (pid + start time,
//! see [`process`]). Memfd segments are sealed so no peer can shrink them under you; a named
//! segment shrunk by a peer while mapped can still raise SIGBUS — `docs/failures.md` lists
//! what is and is not defended.
#![cfg(target_os = "linux")]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs, missing_debug_implementations)]
#![warn(clippy::undocumented_unsafe_blocks)]
// Under loom only the ring algorithms are built for the models; the mapping code idles.
#![cfg_attr(shmring_loom, allow(dead_code, unused_imports))]

pub mod broadcast;
mod build;
#[cfg(not(shmring_loom))]
mod dyn_payload;
mod error;
pub mod event;
pub mod framed;
mod futex;
mod handle;
pub mod header;
pub mod inspect;
pub(crate) mod liveness;
pub mod mpmc;
#[cfg(not(shmring_loom))]
mod notify;
pub mod process;
pub mod region;
mod segment;
mod shm_type;
pub mod spsc;
mod storage;
#[cfg(all(feature = "stream", not(shmring_loom)))]
pub mod stream;
mod sync;
pub mod wait;

pub use build::RingOptions;
pub use error::{
    ChunkError, OpenError, RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError,
    TrySendError,
};
pub use header::RingKind;
pub use segment::{DEFAULT_INIT_TIMEOUT, DEFAULT_MODE, Location, Segment, SegmentOptions};
pub use shm_type::{FieldLayout, ShmType, TypeLayout};
/// Derives [`ShmType`] for a `#[repr(C)]` struct of `ShmType` fields (also `bytemuck::Pod`).
#[cfg(feature = "derive")]
pub use shmring_derive::ShmType;
pub use storage::MAX_CAPACITY;
pub use wait::WaitStrategy;

// Lets `#[derive(ShmType)]` name `::shmring` inside this crate's own tests.
#[cfg(test)]
extern crate self as shmring;
