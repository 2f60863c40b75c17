//! Errors from creating and opening segments.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::RingKind;
use crate::header::HeaderError;

/// Why a segment could not be created or opened.
///
/// Every message names the segment, says what was wrong and what to do about it.
///
/// ```
/// use shmring::{OpenError, RingKind, Segment, SegmentOptions};
///
/// let err = SegmentOptions::new(RingKind::Raw)
///     .payload::<u8>()
///     .open("shmring-doc-error-that-does-not-exist")
///     .unwrap_err();
/// assert!(matches!(err, OpenError::NotFound { .. }));
/// assert!(err.to_string().contains("does not exist"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The name is not a valid POSIX shared-memory name.
    #[error("invalid segment name {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The requested configuration cannot be built (zero capacity, zero-sized payload, …).
    #[error("invalid configuration for ring {name:?}: {reason}")]
    InvalidConfig {
        /// The segment.
        name: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// No segment by that name.
    #[error(
        "ring {name:?} does not exist; create it first, or check the name and that both \
         processes share the same /dev/shm (containers need a shared IPC namespace)"
    )]
    NotFound {
        /// The segment.
        name: String,
    },
    /// `create` found a segment by that name already.
    #[error(
        "ring {name:?} already exists; open it instead (or use open_or_create), or remove a \
         stale one with Segment::unlink"
    )]
    AlreadyExists {
        /// The segment.
        name: String,
    },
    /// The operating system refused access.
    #[error(
        "permission denied for ring {name:?} ({source}); segments are created owner-only \
         (mode 0600): run as the user that created it, or create it with a wider mode"
    )]
    PermissionDenied {
        /// The segment.
        name: String,
        /// The underlying error.
        source: io::Error,
    },
    /// Not enough memory in `/dev/shm` (or the file system) to reserve the segment's pages.
    #[error(
        "cannot reserve {requested} bytes for ring {name:?} ({source}); free space in /dev/shm \
         (`df -h /dev/shm`) or choose a smaller capacity"
    )]
    NoSpace {
        /// The segment.
        name: String,
        /// Bytes requested.
        requested: u64,
        /// The underlying error.
        source: io::Error,
    },
    /// The segment holds a different payload type than this process expects.
    #[error(
        "ring {name:?} holds {found}; this process expects {expected} — open it with the type \
         its creator used, or remove it and create it again"
    )]
    IncompatibleLayout {
        /// The segment.
        name: String,
        /// The payload description stored in the segment.
        found: String,
        /// The payload description of the type this process asked for.
        expected: String,
    },
    /// The segment holds another kind of ring.
    #[error("ring {name:?} is a {found} ring; this process expects a {expected} ring")]
    KindMismatch {
        /// The segment.
        name: String,
        /// The kind in the segment.
        found: RingKind,
        /// The kind asked for.
        expected: RingKind,
    },
    /// The segment's capacity (or another configured size) differs from what was asked.
    #[error(
        "ring {name:?} has {what} {found}; this process asked for {expected} — open it without \
         asking for a {what}, or remove it and create it again"
    )]
    ConfigMismatch {
        /// The segment.
        name: String,
        /// Which setting differs.
        what: &'static str,
        /// The value in the segment.
        found: u64,
        /// The value asked for.
        expected: u64,
    },
    /// The segment was written in a header format version this build does not read.
    #[error(
        "ring {name:?} uses format version {found}; this build of shmring reads version \
         {supported} — build both processes against the same shmring version"
    )]
    VersionMismatch {
        /// The segment.
        name: String,
        /// The version in the segment.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The segment is smaller than its header says (it was shrunk after creation).
    #[error(
        "ring {name:?} is truncated: it has {actual} bytes but needs {expected}; something \
         shrank it after creation — remove it and create it again"
    )]
    Truncated {
        /// The segment.
        name: String,
        /// Bytes the header requires.
        expected: u64,
        /// Bytes the segment has.
        actual: u64,
    },
    /// The segment exists but is not a shmring segment.
    #[error(
        "{name:?} exists but is not a shmring segment ({why}); choose another name, or remove \
         it if nothing else uses it"
    )]
    NotASegment {
        /// The segment.
        name: String,
        /// What gave it away: `"wrong magic bytes"`, or a file too short for a header.
        why: String,
    },
    /// The header failed validation.
    #[error(
        "ring {name:?} has a corrupt header: {reason}; stop the processes using it, remove it \
         and create it again"
    )]
    Corrupted {
        /// The segment.
        name: String,
        /// What validation found.
        reason: HeaderError,
    },
    /// The creator did not finish initialising within the configured time.
    #[error(
        "ring {name:?} was still being initialised after {waited:?}{creator}; if its creator \
         crashed, remove it (Segment::unlink) and create it again, otherwise raise \
         SegmentOptions::init_timeout",
        creator = CreatorNote(*creator, *creator_alive)
    )]
    InitTimeout {
        /// The segment.
        name: String,
        /// How long this process waited.
        waited: Duration,
        /// The creator's pid, if it had recorded it.
        creator: Option<u32>,
        /// Whether the creator still runs, if that could be told.
        creator_alive: Option<bool>,
    },
    /// The segment's owner retired it.
    #[error("ring {name:?} was closed by its owner; create it again to reuse the name")]
    Closed {
        /// The segment.
        name: String,
    },
    /// A memfd handed to [`Location::Fd`](crate::Location::Fd) can still be shrunk by others.
    #[error(
        "the memfd for ring {name:?} is not sealed against shrinking and growing, so a peer \
         could truncate it and crash this process with SIGBUS; create it with Location::memfd"
    )]
    NotSealed {
        /// The segment.
        name: String,
    },
    /// The role (sender or receiver of a single-producer/single-consumer ring) is held by a
    /// live process.
    #[error(
        "ring {name:?} already has a live {role} (pid {pid}), and this kind of ring has one \
         {role} at a time — stop that process first, or use an mpmc ring for several"
    )]
    RoleTaken {
        /// The segment.
        name: String,
        /// `"sender"` or `"receiver"`.
        role: &'static str,
        /// The process holding it.
        pid: u32,
    },
    /// Every participant record of an mpmc ring is held by a live process.
    #[error(
        "ring {name:?} already has {max} attached participants, all alive; an mpmc ring \
         records at most {max} attached processes — close a handle in one of them first"
    )]
    ParticipantsFull {
        /// The segment.
        name: String,
        /// The size of the participant table.
        max: usize,
    },
    /// Any other operating-system error.
    #[error("{op} failed for ring {name:?}: {source}")]
    Io {
        /// The segment.
        name: String,
        /// The operation that failed, e.g. `"mmap"`.
        op: &'static str,
        /// The underlying error.
        source: io::Error,
    },
}

struct CreatorNote(Option<u32>, Option<bool>);

impl fmt::Display for CreatorNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (Some(pid), Some(false)) => write!(f, " (its creator, pid {pid}, has died)"),
            (Some(pid), Some(true)) => write!(f, " (its creator, pid {pid}, is still running)"),
            (Some(pid), None) => write!(f, " (created by pid {pid})"),
            (None, _) => Ok(()),
        }
    }
}

impl OpenError {
    /// Maps an errno from a system call on segment `name`.
    pub(crate) fn from_errno(name: &str, op: &'static str, errno: nix::errno::Errno) -> OpenError {
        use nix::errno::Errno;
        let name = name.to_owned();
        let source = io::Error::from(errno);
        match errno {
            Errno::ENOENT => OpenError::NotFound { name },
            Errno::EEXIST => OpenError::AlreadyExists { name },
            Errno::EACCES | Errno::EPERM => OpenError::PermissionDenied { name, source },
            _ => OpenError::Io { name, op, source },
        }
    }
}

macro_rules! value_error {
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$vmeta:meta])* $variant:ident => $msg:literal),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq)]
        pub enum $name<T> {
            $($(#[$vmeta])* $variant(T),)*
        }

        impl<T> $name<T> {
            /// The message that could not be sent.
            pub fn into_inner(self) -> T {
                match self {
                    $($name::$variant(v) => v,)*
                }
            }

            /// The same error carrying `value` instead.
            #[allow(dead_code)] // not every error type needs it
            pub(crate) fn with_value<U>(self, value: U) -> $name<U> {
                match self {
                    $($name::$variant(_) => $name::$variant(value),)*
                }
            }
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($name::$variant(_) => f.write_str(concat!(stringify!($variant), "(..)")),)*
                }
            }
        }

        impl<T> fmt::Display for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($name::$variant(_) => f.write_str($msg),)*
                }
            }
        }

        impl<T> std::error::Error for $name<T> {}
    };
}

macro_rules! unit_error {
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$vmeta:meta])* $variant:ident => $msg:literal),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($name::$variant => f.write_str($msg),)*
                }
            }
        }

        impl std::error::Error for $name {}
    };
}

value_error! {
    /// A blocking send failed; the message comes back.
    ///
    /// ```
    /// let e = shmring::SendError::Disconnected(5u32);
    /// assert_eq!(e.into_inner(), 5);
    /// ```
    SendError {
        /// The receiver is gone (dropped, or its process died).
        Disconnected => "sending on a ring whose receiver is gone (dropped or dead)",
        /// The ring's shared state failed validation.
        Corrupted => "the ring's shared state is corrupt (a peer wrote impossible indices); stop using it and recreate it",
    }
}

value_error! {
    /// A non-blocking send failed; the message comes back.
    ///
    /// ```
    /// let e = shmring::TrySendError::Full(1u8);
    /// assert!(e.is_full());
    /// ```
    TrySendError {
        /// No free slot right now.
        Full => "sending on a full ring",
        /// The receiver is gone (dropped, or its process died).
        Disconnected => "sending on a ring whose receiver is gone (dropped or dead)",
        /// The ring's shared state failed validation.
        Corrupted => "the ring's shared state is corrupt (a peer wrote impossible indices); stop using it and recreate it",
    }
}

value_error! {
    /// A send with a timeout or deadline failed; the message comes back.
    ///
    /// ```
    /// let e = shmring::SendTimeoutError::Timeout(1u8);
    /// assert!(e.is_timeout());
    /// ```
    SendTimeoutError {
        /// The ring stayed full until the deadline.
        Timeout => "timed out waiting for a free slot",
        /// The receiver is gone (dropped, or its process died).
        Disconnected => "sending on a ring whose receiver is gone (dropped or dead)",
        /// The ring's shared state failed validation.
        Corrupted => "the ring's shared state is corrupt (a peer wrote impossible indices); stop using it and recreate it",
    }
}

impl<T> TrySendError<T> {
    /// Whether the ring was full.
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// Whether the receiver is gone.
    pub fn is_disconnected(&self) -> bool {
        matches!(self, TrySendError::Disconnected(_))
    }
}

impl<T> SendTimeoutError<T> {
    /// Whether the deadline passed.
    pub fn is_timeout(&self) -> bool {
        matches!(self, SendTimeoutError::Timeout(_))
    }

    /// Whether the receiver is gone.
    pub fn is_disconnected(&self) -> bool {
        matches!(self, SendTimeoutError::Disconnected(_))
    }
}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(e: SendError<T>) -> Self {
        match e {
            SendError::Disconnected(v) => TrySendError::Disconnected(v),
            SendError::Corrupted(v) => TrySendError::Corrupted(v),
        }
    }
}

impl<T> From<SendError<T>> for SendTimeoutError<T> {
    fn from(e: SendError<T>) -> Self {
        match e {
            SendError::Disconnected(v) => SendTimeoutError::Disconnected(v),
            SendError::Corrupted(v) => SendTimeoutError::Corrupted(v),
        }
    }
}

unit_error! {
    /// A blocking receive failed.
    ///
    /// ```
    /// assert!(shmring::RecvError::Disconnected.to_string().contains("sender is gone"));
    /// ```
    RecvError {
        /// The ring is empty and its sender is gone (dropped, or its process died).
        Disconnected => "receiving on an empty ring whose sender is gone (dropped or dead)",
        /// The ring's shared state failed validation.
        Corrupted => "the ring's shared state is corrupt (a peer wrote impossible indices); stop using it and recreate it",
    }
}

unit_error! {
    /// A non-blocking receive failed.
    ///
    /// ```
    /// assert_eq!(shmring::TryRecvError::Empty.to_string(), "receiving on an empty ring");
    /// ```
    TryRecvError {
        /// No message right now.
        Empty => "receiving on an empty ring",
        /// The ring is empty and its sender is gone (dropped, or its process died).
        Disconnected => "receiving on an empty ring whose sender is gone (dropped or dead)",
        /// The ring's shared state failed validation.
        Corrupted => "the ring's shared state is corrupt (a peer wrote impossible indices); stop using it and recreate it",
    }
}

unit_error! {
    /// A receive with a timeout or deadline failed.
    ///
    /// ```
    /// assert_eq!(shmring::RecvTimeoutError::Timeout.to_string(), "timed out waiting for a message");
    /// ```
    RecvTimeoutError {
        /// No message arrived before the deadline.
        Timeout => "timed out waiting for a message",
        /// The ring is empty and its sender is gone (dropped, or its process died).
        Disconnected => "receiving on an empty ring whose sender is gone (dropped or dead)",
        /// The ring's shared state failed validation.
        Corrupted => "the ring's shared state is corrupt (a peer wrote impossible indices); stop using it and recreate it",
    }
}

/// A chunk of the requested size could not be reserved.
///
/// ```
/// let e = shmring::ChunkError::TooFewSlots(3);
/// assert!(e.to_string().contains("only 3"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkError {
    /// Fewer slots (or messages) than asked for are available right now; this many are.
    TooFewSlots(usize),
    /// The peer is gone (dropped, or its process died) and nothing more will come.
    Disconnected,
    /// The ring's shared state failed validation.
    Corrupted,
}

impl fmt::Display for ChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChunkError::TooFewSlots(n) => write!(f, "only {n} slots are available for the chunk"),
            ChunkError::Disconnected => f.write_str("the peer is gone (dropped or dead)"),
            ChunkError::Corrupted => f.write_str(
                "the ring's shared state is corrupt (a peer wrote impossible indices); stop using \
                 it and recreate it",
            ),
        }
    }
}

impl std::error::Error for ChunkError {}

/// A `try_` error as the matching timed error (`Full`/`Empty` become `Timeout`).
pub(crate) fn try_to_timeout<T>(e: TrySendError<T>) -> SendTimeoutError<T> {
    match e {
        TrySendError::Full(v) => SendTimeoutError::Timeout(v),
        TrySendError::Disconnected(v) => SendTimeoutError::Disconnected(v),
        TrySendError::Corrupted(v) => SendTimeoutError::Corrupted(v),
    }
}

/// A blocking call's error: without a deadline there is no timeout, so that arm only
/// completes the match.
pub(crate) fn without_timeout<T>(e: SendTimeoutError<T>) -> SendError<T> {
    match e {
        SendTimeoutError::Disconnected(v) => SendError::Disconnected(v),
        SendTimeoutError::Corrupted(v) | SendTimeoutError::Timeout(v) => SendError::Corrupted(v),
    }
}

/// As [`without_timeout`], for receiving.
pub(crate) fn recv_without_timeout(e: RecvTimeoutError) -> RecvError {
    match e {
        RecvTimeoutError::Disconnected => RecvError::Disconnected,
        RecvTimeoutError::Corrupted | RecvTimeoutError::Timeout => RecvError::Corrupted,
    }
}

impl From<TryRecvError> for RecvTimeoutError {
    /// `Empty` becomes `Timeout` (what a wait that ran out found).
    ///
    /// ```
    /// use shmring::{RecvTimeoutError, TryRecvError};
    /// assert_eq!(RecvTimeoutError::from(TryRecvError::Empty), RecvTimeoutError::Timeout);
    /// ```
    fn from(e: TryRecvError) -> RecvTimeoutError {
        match e {
            TryRecvError::Empty => RecvTimeoutError::Timeout,
            TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
            TryRecvError::Corrupted => RecvTimeoutError::Corrupted,
        }
    }
}
