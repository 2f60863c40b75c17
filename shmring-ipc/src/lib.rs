//! One message API over shmring shared memory, Unix sockets, pipes and FIFOs, POSIX and
//! System V message queues and TCP, selected by an endpoint string: `shm:NAME`, `uds:PATH`,
//! `fifo:PATH`, `pipe`, `mq:/NAME`, `sysv:KEY` (or `sysv:/PATH`), `tcp:HOST:PORT`
//! ([`Endpoint`]).
//!
//! A [`Receiver`] binds an endpoint; [`Sender`]s connect to it — any number of them, except
//! on `fifo:` and `pipe` (one at a time; see [`pipe`] for handing a pipe to a child). Every transport has the same blocking, try, timeout and
//! deadline calls and the same errors as the rings ([`TrySendError`], [`SendError`],
//! [`SendTimeoutError`], [`RecvError`],
//! [`TryRecvError`], [`RecvTimeoutError`]); binding and connecting fail with a specific
//! [`ConnectError`].
//!
//! ```
//! use shmring_ipc::{Receiver, Sender};
//!
//! let path = std::env::temp_dir().join(format!("shmring-ipc-doc-{}.sock", std::process::id()));
//! let endpoint = format!("uds:{}", path.display());
//! let mut rx = Receiver::bind(&endpoint)?;
//! let mut tx = Sender::connect(&endpoint)?;           // normally another process
//! tx.send(b"hello").unwrap();
//! assert_eq!(rx.recv().unwrap(), b"hello");
//! drop(tx);
//! assert_eq!(rx.recv(), Err(shmring_ipc::RecvError::Disconnected));
//! # Ok::<(), shmring_ipc::ConnectError>(())
//! ```
//!
//! # Semantics shared by every transport
//!
//! * Messages are byte strings of 0 to the receiver's maximum ([`Options::max_message`],
//!   1 MiB by default; for `shm:` the ring's maximum). A longer one is
//!   [`SendError::TooLarge`] naming both sizes, on the sending side; a frame over the maximum
//!   arriving at a receiver is a protocol error: that connection is closed and the receive
//!   returns `Corrupted` ([`Receiver::protocol_error`] says why).
//! * Each sender's messages arrive in order, whole, exactly once; messages of several senders
//!   interleave.
//! * `Disconnected` on receive: every sender that connected is gone and everything they
//!   committed was received (before any sender connected, a receive waits). On send: the
//!   receiver is gone.
//! * A sender killed in the middle of a message never delivers part of it.
//!
//! The stream codec (`uds:`, `fifo:`, `tcp:`) is documented byte for byte in
//! `docs/protocols.md` ([`codec`]).
//!
//! # Features
//!
//! * `tokio`: `recv_async`/`send_async` on every transport, and readiness descriptors for
//!   epoll/mio users on the socket, pipe and queue transports.
//! * `stream` (implies `tokio`): `into_stream()` on receivers, a `futures_core::Stream`.
//! * `tracing`: connection and protocol events as `tracing` events.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs, missing_debug_implementations)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(feature = "tokio")]
mod asyncio;
pub mod auto;
pub mod codec;
pub mod duplex;
mod endpoint;
mod error;
mod kqueue;
pub mod mq;
mod options;
pub mod pipe;
pub mod pubsub;
mod receiver;
mod sender;
mod stream;
pub mod sysv;
mod transport;
pub mod typed;
#[cfg(feature = "zenoh")]
pub mod zenoh_link;
pub use options::{Options, ZenohMode, ZenohOptions};
pub use pubsub::{Publisher, Subscriber};
pub use receiver::Receiver;
pub(crate) use receiver::ReceiverInner;
pub use sender::Sender;
pub(crate) use sender::SenderInner;

use std::time::{Duration, Instant};

pub use endpoint::Endpoint;
pub use error::ConnectError;
use shmring::framed::Refusal;
pub use shmring::framed::{SendError, SendTimeoutError, TrySendError};
pub use shmring::{OpenError, RecvError, RecvTimeoutError, ShmType, TryRecvError, TypeLayout};

use shmring::framed::mpsc;
use stream::{Expect, StreamReceiver, StreamSender};

/// The largest message on the stream transports unless [`Options::max_message`] says
/// otherwise.
pub const DEFAULT_STREAM_MAX: u32 = 1 << 20;

/// `zenoh:` in a build without the `zenoh` feature.
#[cfg(not(feature = "zenoh"))]
fn no_zenoh(endpoint: &Endpoint) -> ConnectError {
    ConnectError::Unsupported {
        endpoint: endpoint.to_string(),
        what: "be used",
        reason: "this build of shmring-ipc has no zenoh: transport (its `zenoh` feature)",
    }
}

/// Typed channels over `auto:` would need the type in the rendezvous; refused clearly until
/// then.
fn typed_auto(endpoint: &Endpoint) -> ConnectError {
    ConnectError::BadEndpoint {
        endpoint: endpoint.to_string(),
        reason: "typed channels over auto: are not available yet; use shm: or uds: for typed \
                 channels"
            .into(),
    }
}
