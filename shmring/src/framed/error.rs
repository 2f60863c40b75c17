//! The framed rings' send errors, in crossbeam's split: a try call can find the ring full, a
//! timed call can time out, a blocking call can do neither — so `send` cannot return `Full`.
//! Every one can refuse a message longer than the ring allows (`TooLarge`, naming both
//! sizes). The message is a borrowed slice, so nothing needs to be given back.

/// Why a send was refused, every case at once: what the rings (and shmring-ipc's transports)
/// use inside; each public call narrows it to its own error type (`into_try`, `into_send`,
/// `into_timeout`). Not part of the stable API.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// See [`SendError::TooLarge`].
    TooLarge {
        /// The message's length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// See [`TrySendError::Full`].
    Full,
    /// See [`SendTimeoutError::Timeout`].
    Timeout,
    /// The receiver is gone.
    Disconnected,
    /// The shared state is invalid.
    Corrupted,
}

macro_rules! send_error {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident $(= $msg:literal)?),* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
        pub enum $name {
            /// The message is longer than the ring allows.
            #[error("message of {len} bytes exceeds the ring's maximum message size of {max} bytes")]
            TooLarge {
                /// The message's length.
                len: usize,
                /// The ring's maximum (`max_message()`).
                max: usize,
            },
            $($(#[$vdoc])* $(#[error($msg)])? $variant,)*
            /// The receiver is gone.
            #[error("the receiver is gone")]
            Disconnected,
            /// The shared state is invalid; this handle will not use the ring again.
            #[error("the ring's shared state is corrupted")]
            Corrupted,
        }
    };
}

send_error! {
    /// Why a non-blocking send (`try_send`, `try_reserve`) did not happen.
    ///
    /// ```
    /// let (mut tx, _rx) = shmring::framed::channel(64)?;
    /// while tx.try_send(&[0; 8]).is_ok() {}
    /// assert_eq!(tx.try_send(&[0; 8]), Err(shmring::framed::TrySendError::Full));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    TrySendError {
        /// No room now.
        Full = "the ring is full"
    }
}

send_error! {
    /// Why a blocking send (`send`, `reserve`, `send_async`) did not happen: it waits for
    /// room, so the ring is never "full" for it.
    ///
    /// ```
    /// let (mut tx, rx) = shmring::framed::channel(64)?;
    /// drop(rx);
    /// assert_eq!(tx.send(b"x"), Err(shmring::framed::SendError::Disconnected));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    SendError {}
}

send_error! {
    /// Why a timed send (`send_timeout`, `send_deadline`) did not happen.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (mut tx, _rx) = shmring::framed::channel(64)?;
    /// while tx.try_send(&[0; 8]).is_ok() {}
    /// let err = tx.send_timeout(&[0; 8], Duration::from_millis(1)).unwrap_err();
    /// assert_eq!(err, shmring::framed::SendTimeoutError::Timeout);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    SendTimeoutError {
        /// The deadline passed while the ring stayed full.
        Timeout = "timed out waiting for room in the ring"
    }
}

impl TrySendError {
    /// Whether the ring was full.
    ///
    /// ```
    /// assert!(shmring::framed::TrySendError::Full.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        *self == TrySendError::Full
    }
}

impl SendTimeoutError {
    /// Whether the deadline passed.
    ///
    /// ```
    /// assert!(shmring::framed::SendTimeoutError::Timeout.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        *self == SendTimeoutError::Timeout
    }
}

impl Refusal {
    /// As a try call reports it (a try call never times out).
    pub fn into_try(self) -> TrySendError {
        match self {
            Refusal::TooLarge { len, max } => TrySendError::TooLarge { len, max },
            Refusal::Full | Refusal::Timeout => TrySendError::Full,
            Refusal::Disconnected => TrySendError::Disconnected,
            Refusal::Corrupted => TrySendError::Corrupted,
        }
    }

    /// As a blocking call reports it: it waits through `Full` and has no deadline, so those
    /// cannot reach it.
    pub fn into_send(self) -> SendError {
        match self {
            Refusal::TooLarge { len, max } => SendError::TooLarge { len, max },
            Refusal::Disconnected => SendError::Disconnected,
            Refusal::Corrupted => SendError::Corrupted,
            Refusal::Full | Refusal::Timeout => {
                unreachable!("a blocking send waits for room and has no deadline")
            }
        }
    }

    /// As a timed call reports it (it waits through `Full` until its deadline).
    pub fn into_timeout(self) -> SendTimeoutError {
        match self {
            Refusal::TooLarge { len, max } => SendTimeoutError::TooLarge { len, max },
            Refusal::Full | Refusal::Timeout => SendTimeoutError::Timeout,
            Refusal::Disconnected => SendTimeoutError::Disconnected,
            Refusal::Corrupted => SendTimeoutError::Corrupted,
        }
    }
}

impl From<TrySendError> for Refusal {
    fn from(e: TrySendError) -> Refusal {
        match e {
            TrySendError::TooLarge { len, max } => Refusal::TooLarge { len, max },
            TrySendError::Full => Refusal::Full,
            TrySendError::Disconnected => Refusal::Disconnected,
            TrySendError::Corrupted => Refusal::Corrupted,
        }
    }
}

impl From<SendTimeoutError> for Refusal {
    fn from(e: SendTimeoutError) -> Refusal {
        match e {
            SendTimeoutError::TooLarge { len, max } => Refusal::TooLarge { len, max },
            SendTimeoutError::Timeout => Refusal::Timeout,
            SendTimeoutError::Disconnected => Refusal::Disconnected,
            SendTimeoutError::Corrupted => Refusal::Corrupted,
        }
    }
}

impl From<SendError> for Refusal {
    fn from(e: SendError) -> Refusal {
        SendTimeoutError::from(e).into()
    }
}

/// A blocking send's failure as a timed send reports it (a timed call that cannot time out
/// — its deadline out of range — is a blocking one).
impl From<SendError> for SendTimeoutError {
    fn from(e: SendError) -> SendTimeoutError {
        match e {
            SendError::TooLarge { len, max } => SendTimeoutError::TooLarge { len, max },
            SendError::Disconnected => SendTimeoutError::Disconnected,
            SendError::Corrupted => SendTimeoutError::Corrupted,
        }
    }
}

/// A blocking send's failure as a try call reports it.
impl From<SendError> for TrySendError {
    fn from(e: SendError) -> TrySendError {
        match e {
            SendError::TooLarge { len, max } => TrySendError::TooLarge { len, max },
            SendError::Disconnected => TrySendError::Disconnected,
            SendError::Corrupted => TrySendError::Corrupted,
        }
    }
}
