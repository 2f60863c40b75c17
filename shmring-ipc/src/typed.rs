//! Typed channels: values of a `ShmType` over any transport, the payload's layout fingerprint
//! checked in the handshake.
//!
//! A sender and a receiver of different types never exchange a value: on `shm:`, `uds:`,
//! `tcp:` and `mq:` connecting fails with [`ConnectError::IncompatibleLayout`] naming both
//! types (on `uds:` and `tcp:` the connect waits for the receiver to accept, which it does
//! while it receives, within [`Options::handshake_timeout`]); on the one-way `fifo:` and `pipe`
//! the receiver closes the sender's stream and its receive returns `Corrupted`, with
//! [`Receiver::protocol_error`] naming both types.
//!
//! ```
//! use shmring_ipc::typed;
//!
//! let name = format!("shm:shmring-ipc-doc-typed-{}", std::process::id());
//! let mut rx = typed::Receiver::<[u32; 4]>::bind(&name)?;
//! let mut tx = typed::Sender::<[u32; 4]>::connect(&name)?;
//! tx.send(&[1, 2, 3, 4]).unwrap();
//! assert_eq!(rx.recv().unwrap(), [1, 2, 3, 4]);
//! let err = typed::Sender::<u8>::connect(&name).unwrap_err();
//! assert!(matches!(err, shmring_ipc::ConnectError::IncompatibleLayout { .. }), "{err}");
//! # drop((rx, tx)); shmring::Segment::unlink_name(&name[4..]).unwrap();
//! # Ok::<(), shmring_ipc::ConnectError>(())
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use crate::stream::Expect;
use crate::{
    ConnectError, Endpoint, Options, RecvError, RecvTimeoutError, SendError, SendTimeoutError,
    ShmType, TryRecvError, TrySendError,
};

/// Sends values of `T`.
pub struct Sender<T: ShmType> {
    inner: crate::Sender,
    _type: PhantomData<fn(T)>,
}

/// Receives values of `T`.
pub struct Receiver<T: ShmType> {
    inner: crate::Receiver,
    buf: Vec<u8>,
    _type: PhantomData<fn() -> T>,
}

impl<T: ShmType> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("typed::Sender")
            .field("endpoint", self.inner.endpoint())
            .field("type", &T::layout().to_string())
            .finish()
    }
}

impl<T: ShmType> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("typed::Receiver")
            .field("endpoint", self.inner.endpoint())
            .field("type", &T::layout().to_string())
            .finish()
    }
}

impl<T: ShmType> Sender<T> {
    /// Connects to a receiver of `T` at `endpoint`.
    ///
    /// # Errors
    ///
    /// As [`crate::Sender::connect`], plus [`ConnectError::IncompatibleLayout`].
    ///
    /// ```
    /// let err = shmring_ipc::typed::Sender::<u64>::connect("shm:shmring-doc-no-such").unwrap_err();
    /// assert!(matches!(err, shmring_ipc::ConnectError::NotFound { .. }));
    /// ```
    pub fn connect(endpoint: &str) -> Result<Sender<T>, ConnectError> {
        Sender::connect_with(endpoint, &Options::default())
    }

    /// [`connect`](Sender::connect) with explicit [`Options`].
    ///
    /// # Errors
    ///
    /// As [`connect`](Sender::connect).
    ///
    /// ```
    /// let o = shmring_ipc::Options::default();
    /// assert!(shmring_ipc::typed::Sender::<u8>::connect_with("tcp:127.0.0.1:1", &o).is_err());
    /// ```
    pub fn connect_with(endpoint: &str, options: &Options) -> Result<Sender<T>, ConnectError> {
        Ok(Sender {
            inner: crate::Sender::open(endpoint, options, Expect::of::<T>())?,
            _type: PhantomData,
        })
    }

    /// The endpoint.
    ///
    /// ```no_run
    /// let tx = shmring_ipc::typed::Sender::<u32>::connect("shm:ticks")?;
    /// assert_eq!(tx.endpoint().to_string(), "shm:ticks");
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn endpoint(&self) -> &Endpoint {
        self.inner.endpoint()
    }

    /// Sends `value`, waiting while the transport is full.
    ///
    /// # Errors
    ///
    /// [`SendError::TooLarge`] (a `T` larger than the receiver's maximum), `Disconnected`,
    /// `Corrupted`.
    ///
    /// ```no_run
    /// let mut tx = shmring_ipc::typed::Sender::<u32>::connect("shm:ticks")?;
    /// tx.send(&7).unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn send(&mut self, value: &T) -> Result<(), SendError> {
        self.inner.send(bytemuck::bytes_of(value))
    }

    /// Sends `value` if there is room now.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send), plus [`TrySendError::Full`].
    ///
    /// ```no_run
    /// let mut tx = shmring_ipc::typed::Sender::<u32>::connect("shm:ticks")?;
    /// let _ = tx.try_send(&7);
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn try_send(&mut self, value: &T) -> Result<(), TrySendError> {
        self.inner.try_send(bytemuck::bytes_of(value))
    }

    /// Sends `value`, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send), plus [`SendTimeoutError::Timeout`].
    ///
    /// ```no_run
    /// let mut tx = shmring_ipc::typed::Sender::<u32>::connect("shm:ticks")?;
    /// let _ = tx.send_timeout(&7, std::time::Duration::from_millis(5));
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn send_timeout(&mut self, value: &T, timeout: Duration) -> Result<(), SendTimeoutError> {
        self.inner.send_timeout(bytemuck::bytes_of(value), timeout)
    }

    /// Sends `value`, waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`send_timeout`](Sender::send_timeout).
    ///
    /// ```no_run
    /// use std::time::{Duration, Instant};
    /// let mut tx = shmring_ipc::typed::Sender::<u32>::connect("shm:ticks")?;
    /// let _ = tx.send_deadline(&7, Instant::now() + Duration::from_millis(5));
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn send_deadline(&mut self, value: &T, deadline: Instant) -> Result<(), SendTimeoutError> {
        self.inner
            .send_deadline(bytemuck::bytes_of(value), deadline)
    }

    /// Whether the receiver is gone.
    ///
    /// ```no_run
    /// let mut tx = shmring_ipc::typed::Sender::<u32>::connect("shm:ticks")?;
    /// let _ = tx.is_disconnected();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn is_disconnected(&mut self) -> bool {
        self.inner.is_disconnected()
    }
}

impl<T: ShmType> Receiver<T> {
    /// Binds `endpoint` for senders of `T`.
    ///
    /// # Errors
    ///
    /// As [`crate::Receiver::bind`]; on `shm:`, an existing ring of another type is
    /// `Open(IncompatibleLayout)`.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("shmring-ipc-doc-typed-{}.sock", std::process::id()));
    /// let rx = shmring_ipc::typed::Receiver::<f64>::bind(&format!("uds:{}", path.display()))?;
    /// # drop(rx);
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn bind(endpoint: &str) -> Result<Receiver<T>, ConnectError> {
        Receiver::bind_with(endpoint, &Options::default())
    }

    /// [`bind`](Receiver::bind) with explicit [`Options`].
    ///
    /// # Errors
    ///
    /// As [`bind`](Receiver::bind).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("shmring-ipc-doc-typed-w-{}.sock", std::process::id()));
    /// let o = shmring_ipc::Options::default();
    /// let rx = shmring_ipc::typed::Receiver::<u8>::bind_with(&format!("uds:{}", path.display()), &o)?;
    /// # drop(rx);
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn bind_with(endpoint: &str, options: &Options) -> Result<Receiver<T>, ConnectError> {
        Ok(Receiver {
            inner: crate::Receiver::open(endpoint, options, Expect::of::<T>())?,
            buf: Vec::with_capacity(size_of::<T>()),
            _type: PhantomData,
        })
    }

    /// The endpoint.
    ///
    /// ```no_run
    /// let rx = shmring_ipc::typed::Receiver::<u32>::bind("shm:ticks")?;
    /// assert_eq!(rx.endpoint().to_string(), "shm:ticks");
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn endpoint(&self) -> &Endpoint {
        self.inner.endpoint()
    }

    /// Why the last sender that broke the protocol (for example with another payload type)
    /// was cut off.
    ///
    /// ```no_run
    /// let rx = shmring_ipc::typed::Receiver::<u32>::bind("fifo:/tmp/ticks")?;
    /// assert!(rx.protocol_error().is_none());
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn protocol_error(&self) -> Option<&crate::codec::FrameError> {
        self.inner.protocol_error()
    }

    /// A received message as a `T` (a message of another size is a protocol error).
    fn value(&self) -> Option<T> {
        (self.buf.len() == size_of::<T>()).then(|| bytemuck::pod_read_unaligned(&self.buf))
    }

    /// Receives the next value, waiting as long as there is none.
    ///
    /// # Errors
    ///
    /// [`RecvError::Disconnected`], `Corrupted` (also for a message that is not one `T`).
    ///
    /// ```no_run
    /// let mut rx = shmring_ipc::typed::Receiver::<u32>::bind("shm:ticks")?;
    /// while let Ok(v) = rx.recv() { println!("{v}"); }
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn recv(&mut self) -> Result<T, RecvError> {
        self.inner.recv_into(&mut self.buf)?;
        self.value().ok_or(RecvError::Corrupted)
    }

    /// Receives a value if one is there now.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`], `Disconnected`, `Corrupted`.
    ///
    /// ```no_run
    /// let mut rx = shmring_ipc::typed::Receiver::<u32>::bind("shm:ticks")?;
    /// let _ = rx.try_recv();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.inner.try_recv_into(&mut self.buf)?;
        self.value().ok_or(TryRecvError::Corrupted)
    }

    /// Receives, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`], `Disconnected`, `Corrupted`.
    ///
    /// ```no_run
    /// let mut rx = shmring_ipc::typed::Receiver::<u32>::bind("shm:ticks")?;
    /// let _ = rx.recv_timeout(std::time::Duration::from_millis(5));
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.recv_deadline(deadline),
            None => self.recv().map_err(|e| match e {
                RecvError::Disconnected => RecvTimeoutError::Disconnected,
                RecvError::Corrupted => RecvTimeoutError::Corrupted,
            }),
        }
    }

    /// Receives, waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`recv_timeout`](Receiver::recv_timeout).
    ///
    /// ```no_run
    /// use std::time::{Duration, Instant};
    /// let mut rx = shmring_ipc::typed::Receiver::<u32>::bind("shm:ticks")?;
    /// let _ = rx.recv_deadline(Instant::now() + Duration::from_millis(5));
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn recv_deadline(&mut self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.inner.recv_into_deadline(&mut self.buf, deadline)?;
        self.value().ok_or(RecvTimeoutError::Corrupted)
    }

    /// Whether every sender that connected is gone.
    ///
    /// ```no_run
    /// let mut rx = shmring_ipc::typed::Receiver::<u32>::bind("shm:ticks")?;
    /// let _ = rx.is_disconnected();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn is_disconnected(&mut self) -> bool {
        self.inner.is_disconnected()
    }
}

#[cfg(feature = "tokio")]
impl<T: ShmType> Sender<T> {
    /// Sends `value`, awaiting room without blocking the thread (feature `tokio`).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`crate::Sender::send_async`]: the value is committed only in the poll
    /// that completes the future.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send).
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut tx = shmring_ipc::typed::Sender::<u64>::connect("uds:/run/ticks.sock")?;
    /// tx.send_async(&7).await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_async(&mut self, value: &T) -> Result<(), SendError> {
        self.inner.send_async(bytemuck::bytes_of(value)).await
    }
}

#[cfg(feature = "tokio")]
impl<T: ShmType> Receiver<T> {
    /// Receives the next value, awaiting one without blocking the thread (feature `tokio`).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`crate::Receiver::recv_async`]: a value is taken only in the poll
    /// that completes the future.
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv).
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut rx = shmring_ipc::typed::Receiver::<u64>::bind("uds:/run/ticks.sock")?;
    /// let tick: u64 = rx.recv_async().await?;
    /// # Ok(()) }
    /// ```
    pub async fn recv_async(&mut self) -> Result<T, RecvError> {
        self.inner.recv_into_async(&mut self.buf).await?;
        self.value().ok_or(RecvError::Corrupted)
    }
}
