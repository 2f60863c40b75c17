//! Errors of binding and connecting. Message errors are the rings' own, the same on every
//! transport: [`SendError`](crate::SendError) (and its try and timed forms) (too large with both sizes, full, timeout,
//! disconnected, corrupted), [`RecvError`](crate::RecvError),
//! [`TryRecvError`](crate::TryRecvError), [`RecvTimeoutError`](crate::RecvTimeoutError); a
//! peer that breaks the protocol makes a receive return `Corrupted` (the reason is available
//! from `Receiver::protocol_error`).

use crate::codec::FrameError;

/// Why a `bind` or `connect` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The endpoint string is not valid.
    #[error("bad endpoint `{endpoint}`: {reason}")]
    BadEndpoint {
        /// The string given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Nothing is bound at the endpoint (no socket file, FIFO, queue or ring).
    #[error("nothing is bound at `{endpoint}`")]
    NotFound {
        /// The endpoint.
        endpoint: String,
    },
    /// Something exists at the endpoint but no receiver is there (a stale socket file, a FIFO
    /// nobody reads, a refused TCP connection).
    #[error("no receiver at `{endpoint}`: {reason}")]
    NoReceiver {
        /// The endpoint.
        endpoint: String,
        /// What was found.
        reason: String,
    },
    /// The receiver refused this process (`auto:`: its credentials, checked with
    /// `SO_PEERCRED`), or the endpoint holds something shmring did not make and leaves alone
    /// (`mq:`, `sysv:`: another program's queue).
    #[error("`{endpoint}` refused this process: {reason}")]
    PeerRefused {
        /// The endpoint.
        endpoint: String,
        /// The receiver's reason.
        reason: String,
    },
    /// A live receiver is already bound there.
    #[error("`{endpoint}` is already bound by a live receiver")]
    InUse {
        /// The endpoint.
        endpoint: String,
    },
    /// The shared-memory ring could not be created or opened.
    #[error(transparent)]
    Open(#[from] shmring::OpenError),
    /// The peer's hello is not the shmring-ipc codec, or breaks it.
    #[error("handshake with `{endpoint}` failed: {source}")]
    Handshake {
        /// The endpoint.
        endpoint: String,
        /// What was wrong.
        source: FrameError,
    },
    /// The two sides disagree on the payload type (typed channels).
    #[error("`{endpoint}` carries {theirs}; this process expects {ours}")]
    IncompatibleLayout {
        /// The endpoint.
        endpoint: String,
        /// This side's layout description.
        ours: String,
        /// The peer's layout description.
        theirs: String,
    },
    /// A system limit forbids the configuration (POSIX message queue limits).
    #[error("`{endpoint}`: {reason}")]
    Limit {
        /// The endpoint.
        endpoint: String,
        /// Which limit, its value, and what was asked.
        reason: String,
    },
    /// The transport cannot do what was asked (publish/subscribe over a FIFO, a pipe or a
    /// message queue; history on a socket).
    #[error("`{endpoint}` cannot {what}: {reason}")]
    Unsupported {
        /// The endpoint.
        endpoint: String,
        /// What was asked.
        what: &'static str,
        /// Why not, and what to use instead.
        reason: &'static str,
    },
    /// The peer did not complete the handshake in time.
    #[error("`{endpoint}`: the peer did not complete the handshake within {seconds} s")]
    HandshakeTimeout {
        /// The endpoint.
        endpoint: String,
        /// The limit.
        seconds: u64,
    },
    /// The zenoh engine refused a step (its configuration, opening the session, declaring a
    /// publisher or subscriber); the reason is zenoh's.
    #[error("`{endpoint}`: zenoh could not {op}: {reason}")]
    Zenoh {
        /// The endpoint.
        endpoint: String,
        /// What was being done.
        op: &'static str,
        /// Zenoh's error.
        reason: String,
    },
    /// An operating-system error.
    #[error("`{endpoint}`: {op} failed: {source}")]
    Io {
        /// The endpoint.
        endpoint: String,
        /// What was being done.
        op: &'static str,
        /// The error.
        source: std::io::Error,
    },
}

impl ConnectError {
    pub(crate) fn io(
        endpoint: &impl std::fmt::Display,
        op: &'static str,
        source: std::io::Error,
    ) -> ConnectError {
        ConnectError::Io {
            endpoint: endpoint.to_string(),
            op,
            source,
        }
    }
}
