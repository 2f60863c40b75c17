//! The receive errors of a broadcast receiver: the crate's own, plus `Lagged(n)` (tokio's
//! word) for a receiver the writer overtook.

use std::fmt;

use crate::wait::Attempt;

/// A blocking receive failed, or skipped messages.
///
/// ```
/// use shmring::broadcast::RecvError;
/// assert!(RecvError::Lagged(3).to_string().contains("missed 3"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// The writer overtook this receiver (overwrite policy): it missed `n` messages and
    /// goes on from the oldest message the ring still holds. Receive again.
    Lagged(u64),
    /// Everything sent was received and the writer is gone (dropped, or its process died).
    Disconnected,
    /// The ring's shared state failed validation.
    Corrupted,
}

/// A non-blocking receive found nothing, or skipped messages.
///
/// ```
/// use shmring::broadcast::TryRecvError;
/// assert_eq!(TryRecvError::Empty.to_string(), "receiving on an empty broadcast ring");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// No message right now.
    Empty,
    /// See [`RecvError::Lagged`].
    Lagged(u64),
    /// See [`RecvError::Disconnected`].
    Disconnected,
    /// See [`RecvError::Corrupted`].
    Corrupted,
}

/// A receive with a timeout or deadline failed, or skipped messages.
///
/// ```
/// use shmring::broadcast::RecvTimeoutError;
/// assert_eq!(RecvTimeoutError::Timeout.to_string(), "timed out waiting for a message");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvTimeoutError {
    /// No message arrived before the deadline.
    Timeout,
    /// See [`RecvError::Lagged`].
    Lagged(u64),
    /// See [`RecvError::Disconnected`].
    Disconnected,
    /// See [`RecvError::Corrupted`].
    Corrupted,
}

/// The words of the three error types, written once (`empty`: the `Timeout` of a try is
/// `Empty`).
fn describe(f: &mut fmt::Formatter<'_>, e: RecvTimeoutError, empty: bool) -> fmt::Result {
    match e {
        RecvTimeoutError::Timeout if empty => f.write_str("receiving on an empty broadcast ring"),
        RecvTimeoutError::Timeout => f.write_str("timed out waiting for a message"),
        RecvTimeoutError::Lagged(n) => write!(
            f,
            "the writer overtook this receiver: it missed {n} messages (receive again to go on from the oldest message held)"
        ),
        RecvTimeoutError::Disconnected => f.write_str(
            "receiving on a drained broadcast ring whose writer is gone (dropped or dead)",
        ),
        RecvTimeoutError::Corrupted => f.write_str(
            "the ring's shared state is corrupt (a peer wrote impossible positions or stamps); stop using it and recreate it",
        ),
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        describe(f, (*self).into(), false)
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        describe(f, (*self).into(), *self == TryRecvError::Empty)
    }
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        describe(f, *self, false)
    }
}

impl RecvError {
    /// Whether this is a [`Lagged`](RecvError::Lagged) gap (receive again to go on).
    ///
    /// ```
    /// assert!(shmring::broadcast::RecvError::Lagged(2).is_lagged());
    /// ```
    pub fn is_lagged(&self) -> bool {
        matches!(self, RecvError::Lagged(_))
    }
}

impl TryRecvError {
    /// Whether this is a [`Lagged`](TryRecvError::Lagged) gap (receive again to go on).
    ///
    /// ```
    /// assert!(!shmring::broadcast::TryRecvError::Empty.is_lagged());
    /// ```
    pub fn is_lagged(&self) -> bool {
        matches!(self, TryRecvError::Lagged(_))
    }
}

impl RecvTimeoutError {
    /// Whether this is a [`Lagged`](RecvTimeoutError::Lagged) gap (receive again to go on).
    ///
    /// ```
    /// assert!(shmring::broadcast::RecvTimeoutError::Lagged(1).is_lagged());
    /// ```
    pub fn is_lagged(&self) -> bool {
        matches!(self, RecvTimeoutError::Lagged(_))
    }
}

impl std::error::Error for RecvError {}
impl std::error::Error for TryRecvError {}
impl std::error::Error for RecvTimeoutError {}

impl From<TryRecvError> for RecvTimeoutError {
    /// `Empty` becomes `Timeout` (what a wait that ran out found).
    fn from(e: TryRecvError) -> Self {
        match e {
            TryRecvError::Empty => RecvTimeoutError::Timeout,
            TryRecvError::Lagged(n) => RecvTimeoutError::Lagged(n),
            TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
            TryRecvError::Corrupted => RecvTimeoutError::Corrupted,
        }
    }
}

/// A receive of a ring without lags (the crate's own error) in a broadcast receive's shape.
///
/// ```
/// use shmring::broadcast::TryRecvError;
/// assert_eq!(TryRecvError::from(shmring::TryRecvError::Empty), TryRecvError::Empty);
/// ```
impl From<crate::TryRecvError> for TryRecvError {
    fn from(e: crate::TryRecvError) -> Self {
        match e {
            crate::TryRecvError::Empty => TryRecvError::Empty,
            crate::TryRecvError::Disconnected => TryRecvError::Disconnected,
            crate::TryRecvError::Corrupted => TryRecvError::Corrupted,
        }
    }
}

/// As the `TryRecvError` conversion, for timed receives.
///
/// ```
/// use shmring::broadcast::RecvTimeoutError;
/// let e = RecvTimeoutError::from(shmring::RecvTimeoutError::Timeout);
/// assert_eq!(e, RecvTimeoutError::Timeout);
/// ```
impl From<crate::RecvTimeoutError> for RecvTimeoutError {
    fn from(e: crate::RecvTimeoutError) -> Self {
        match e {
            crate::RecvTimeoutError::Timeout => RecvTimeoutError::Timeout,
            crate::RecvTimeoutError::Disconnected => RecvTimeoutError::Disconnected,
            crate::RecvTimeoutError::Corrupted => RecvTimeoutError::Corrupted,
        }
    }
}

impl From<RecvError> for RecvTimeoutError {
    fn from(e: RecvError) -> Self {
        match e {
            RecvError::Lagged(n) => RecvTimeoutError::Lagged(n),
            RecvError::Disconnected => RecvTimeoutError::Disconnected,
            RecvError::Corrupted => RecvTimeoutError::Corrupted,
        }
    }
}

/// A blocking call's error: without a deadline there is no timeout, so that arm only
/// completes the match.
pub(crate) fn without_timeout(e: RecvTimeoutError) -> RecvError {
    match e {
        RecvTimeoutError::Lagged(n) => RecvError::Lagged(n),
        RecvTimeoutError::Disconnected => RecvError::Disconnected,
        RecvTimeoutError::Corrupted | RecvTimeoutError::Timeout => RecvError::Corrupted,
    }
}

/// A non-blocking receive's result as an async drive outcome (`None`: wait).
#[cfg(all(feature = "tokio", not(shmring_loom)))]
pub(crate) fn received<T>(result: Result<T, TryRecvError>) -> Option<Result<T, RecvError>> {
    match result {
        Err(TryRecvError::Empty) => None,
        other => Some(other.map_err(|e| without_timeout(e.into()))),
    }
}

impl<V> Attempt for Result<V, TryRecvError> {
    type Outcome = Result<V, RecvTimeoutError>;

    #[inline]
    fn retry(&self) -> bool {
        matches!(self, Err(TryRecvError::Empty))
    }

    #[inline]
    fn done(self) -> Self::Outcome {
        self.map_err(RecvTimeoutError::from)
    }

    fn timed_out() -> Self::Outcome {
        Err(RecvTimeoutError::Timeout)
    }
}
