//! One message API over shmring shared memory, Unix sockets, pipes/FIFOs, POSIX message
//! queues and TCP, selected by an endpoint string (`shm:NAME`, `uds:PATH`, `fifo:PATH`,
//! `pipe`, `mq:/NAME`, `tcp:HOST:PORT`, `auto:NAME`).
//!
//! The transports are being built; today this crate re-exports the shared-memory foundation
//! they stand on, so that code written against `shmring_ipc` names the same payload types and
//! layout guard as code written against `shmring`:
//!
//! ```
//! use shmring_ipc::ShmType;
//! assert_eq!(u32::layout().to_string(), "u32 (size 4, align 4)");
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs, missing_debug_implementations)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub use shmring::{OpenError, ShmType, TypeLayout};
