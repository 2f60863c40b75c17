//! The sending half of a one-way channel, over every transport.

#[allow(unused_imports)]
use super::*;

/// The sending side of a connection to an endpoint.
#[derive(Debug)]
pub struct Sender {
    pub(crate) inner: SenderInner,
    pub(crate) endpoint: Endpoint,
    /// What an `auto:` connection chose, and why.
    pub(crate) selection: Option<auto::Selection>,
    /// The descriptor registered with the tokio reactor, once an async call needed it.
    #[cfg(feature = "tokio")]
    pub(crate) registered: asyncio::Registered,
}

#[derive(Debug)]
pub(super) enum SenderInner {
    Shm(mpsc::Sender),
    Stream(StreamSender),
    Mq(mq::MqSender),
    Sysv(crate::sysv::SysvSender),
    #[cfg(feature = "zenoh")]
    Zenoh(Box<crate::zenoh_link::ZenohSender>),
}

impl Sender {
    /// Connects to the receiver bound at `endpoint`.
    ///
    /// # Errors
    ///
    /// [`ConnectError::BadEndpoint`], `NotFound` (nothing bound there), `NoReceiver` (a stale
    /// socket file, a FIFO nobody reads, a refused connection), `Handshake`/`HandshakeTimeout`
    /// (the peer does not speak the codec), `Open` (the shared-memory ring), `Io`.
    ///
    /// ```
    /// let err = shmring_ipc::Sender::connect("uds:/nonexistent/x.sock").unwrap_err();
    /// assert!(matches!(err, shmring_ipc::ConnectError::NotFound { .. }), "{err}");
    /// ```
    pub fn connect(endpoint: &str) -> Result<Sender, ConnectError> {
        Sender::connect_with(endpoint, &Options::default())
    }

    /// [`connect`](Sender::connect) with explicit [`Options`].
    ///
    /// # Errors
    ///
    /// As [`connect`](Sender::connect).
    ///
    /// ```
    /// let options = shmring_ipc::Options::default().max_message(64);
    /// assert!(shmring_ipc::Sender::connect_with("tcp:127.0.0.1:1", &options).is_err());
    /// ```
    pub fn connect_with(endpoint: &str, options: &Options) -> Result<Sender, ConnectError> {
        Sender::open(endpoint, options, Expect::default())
    }

    /// Connects as a sender of messages of the payload type `layout` — a type this process
    /// may know only as a [`TypeLayout::recorded`] (a bridge passing a typed channel on): the
    /// receiver checks it as it checks a [`typed::Sender`](crate::typed::Sender)'s.
    ///
    /// # Errors
    ///
    /// As [`connect`](Sender::connect), plus [`ConnectError::IncompatibleLayout`] naming both
    /// types.
    ///
    /// ```
    /// use shmring_ipc::{Options, Sender, ShmType};
    /// let err = Sender::connect_as("shm:shmring-doc-none", &Options::default(), &u64::layout());
    /// assert!(matches!(err, Err(shmring_ipc::ConnectError::NotFound { .. })));
    /// ```
    pub fn connect_as(
        endpoint: &str,
        options: &Options,
        layout: &TypeLayout,
    ) -> Result<Sender, ConnectError> {
        Sender::open(endpoint, options, Expect::of_layout(layout))
    }

    /// Connects, announcing (and, where the transport can tell, checking) the payload type.
    pub(crate) fn open(
        endpoint: &str,
        options: &Options,
        expect: Expect,
    ) -> Result<Sender, ConnectError> {
        let endpoint = Endpoint::parse(endpoint)?;
        let mismatch = |e: OpenError, endpoint: &Endpoint| match e {
            OpenError::NotFound { .. } => ConnectError::NotFound {
                endpoint: endpoint.to_string(),
            },
            OpenError::IncompatibleLayout {
                found, expected, ..
            } => ConnectError::IncompatibleLayout {
                endpoint: endpoint.to_string(),
                ours: expected,
                theirs: found,
            },
            e => ConnectError::Open(e),
        };
        // A connected socket, its hello written: the stream sender, its peer's type checked.
        let socket = |conn| {
            let tx = StreamSender::new(conn, options.stream_max(), true);
            check_typed(tx, &endpoint, options, &expect).map(SenderInner::Stream)
        };
        let inner = match &endpoint {
            Endpoint::Shm(name) => {
                let mut ring = mpsc::Sender::options();
                if let Some(layout) = &expect.layout {
                    ring = ring.label(layout.clone());
                }
                let tx = ring.open(name.as_str());
                SenderInner::Shm(tx.map_err(|e| mismatch(e, &endpoint))?)
            }
            Endpoint::Uds(path) => {
                let conn = transport::uds_stream(&endpoint, path, options, &expect)?;
                socket(conn)?
            }
            Endpoint::Tcp(addr) => {
                let conn = transport::tcp_stream(&endpoint, addr, options, &expect)?;
                socket(conn)?
            }
            Endpoint::Fifo(path) => {
                SenderInner::Stream(transport::connect_fifo(&endpoint, path, options, &expect)?)
            }
            Endpoint::Mq(name) => SenderInner::Mq(mq::connect(&endpoint, name, &expect)?),
            Endpoint::Sysv(address) => {
                SenderInner::Sysv(crate::sysv::connect(&endpoint, address, &expect)?)
            }
            Endpoint::Pipe => SenderInner::Stream(pipe::connect_inherited(options)?),
            Endpoint::Auto(_) if expect.fingerprint != 0 => {
                return Err(typed_auto(&endpoint));
            }
            Endpoint::Auto(name) => {
                let (inner, selection) = auto::connect(&endpoint, name, options)?;
                return Ok(Sender::from_parts(inner, endpoint, Some(selection)));
            }
            #[cfg(feature = "zenoh")]
            Endpoint::Zenoh(key) => SenderInner::Zenoh(Box::new(
                crate::zenoh_link::ZenohSender::connect(&endpoint, key, options, &expect, true)?,
            )),
            #[cfg(not(feature = "zenoh"))]
            Endpoint::Zenoh(_) => return Err(crate::no_zenoh(&endpoint)),
        };
        Ok(Sender::from_parts(inner, endpoint, None))
    }

    pub(crate) fn from_parts(
        inner: SenderInner,
        endpoint: Endpoint,
        selection: Option<auto::Selection>,
    ) -> Sender {
        Sender {
            inner,
            endpoint,
            selection,
            #[cfg(feature = "tokio")]
            registered: None,
        }
    }

    /// The endpoint this sender is connected to.
    ///
    /// ```no_run
    /// let tx = shmring_ipc::Sender::connect("shm:feed")?;
    /// assert_eq!(tx.endpoint().to_string(), "shm:feed");
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// For `auto:` endpoints, the transport chosen and the reason for any downgrade
    /// (`None` on other endpoints).
    ///
    /// ```no_run
    /// let tx = shmring_ipc::Sender::connect("auto:feed")?;
    /// eprintln!("connected over {}", tx.selection().unwrap());
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn selection(&self) -> Option<&auto::Selection> {
        self.selection.as_ref()
    }

    /// The largest message the receiver accepts.
    ///
    /// ```no_run
    /// let tx = shmring_ipc::Sender::connect("uds:/run/app.sock")?;
    /// assert!(tx.max_message() > 0);
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn max_message(&self) -> usize {
        match &self.inner {
            SenderInner::Shm(tx) => tx.max_message(),
            SenderInner::Stream(tx) => tx.peer_max as usize,
            SenderInner::Mq(tx) => tx.max(),
            SenderInner::Sysv(tx) => tx.max(),
            #[cfg(feature = "zenoh")]
            SenderInner::Zenoh(tx) => tx.max(),
        }
    }

    /// Sends `msg`, waiting while the transport is full; returns once the transport holds
    /// the whole message.
    ///
    /// # Errors
    ///
    /// [`SendError::TooLarge`], `Disconnected`, `Corrupted` (a corrupted ring).
    ///
    /// ```no_run
    /// let mut tx = shmring_ipc::Sender::connect("shm:feed")?;
    /// tx.send(b"tick").unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        match &mut self.inner {
            SenderInner::Shm(tx) => tx.send(msg),
            SenderInner::Stream(tx) => tx.send(msg, true, None).map_err(Refusal::into_send),
            SenderInner::Mq(tx) => tx.send(msg, true, None).map_err(Refusal::into_send),
            SenderInner::Sysv(tx) => tx.send(msg, true, None).map_err(Refusal::into_send),
            #[cfg(feature = "zenoh")]
            SenderInner::Zenoh(tx) => tx.send(msg, true, None).map_err(|e| match e {
                SendTimeoutError::TooLarge { len, max } => SendError::TooLarge { len, max },
                SendTimeoutError::Corrupted => SendError::Corrupted,
                SendTimeoutError::Timeout | SendTimeoutError::Disconnected => {
                    SendError::Disconnected
                }
            }),
        }
    }

    /// Sends `msg` if the transport has room now.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send), plus [`TrySendError::Full`]. On a stream, a message is
    /// committed once the stream took its first byte; the rest is written by later calls,
    /// [`flush`](Sender::flush) or drop.
    ///
    /// ```no_run
    /// let mut tx = shmring_ipc::Sender::connect("uds:/run/app.sock")?;
    /// match tx.try_send(b"x") {
    ///     Ok(()) | Err(shmring_ipc::TrySendError::Full) => {}
    ///     Err(e) => panic!("{e}"),
    /// }
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError> {
        match &mut self.inner {
            SenderInner::Shm(tx) => tx.try_send(msg),
            SenderInner::Stream(tx) => tx.send(msg, false, None).map_err(Refusal::into_try),
            SenderInner::Mq(tx) => tx.send(msg, false, None).map_err(Refusal::into_try),
            SenderInner::Sysv(tx) => tx.send(msg, false, None).map_err(Refusal::into_try),
            #[cfg(feature = "zenoh")]
            SenderInner::Zenoh(tx) => tx.send(msg, false, None).map_err(crate::zenoh_link::as_try),
        }
    }

    /// Sends `msg`, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send), plus [`SendTimeoutError::Timeout`] (nothing of the message sent).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let mut tx = shmring_ipc::Sender::connect("tcp:127.0.0.1:9000")?;
    /// tx.send_timeout(b"x", Duration::from_millis(10)).unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn send_timeout(&mut self, msg: &[u8], timeout: Duration) -> Result<(), SendTimeoutError> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.send_deadline(msg, deadline),
            None => self.send(msg).map_err(SendTimeoutError::from),
        }
    }

    /// Sends `msg`, waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`send_timeout`](Sender::send_timeout).
    ///
    /// ```no_run
    /// use std::time::{Duration, Instant};
    /// let mut tx = shmring_ipc::Sender::connect("shm:feed")?;
    /// tx.send_deadline(b"x", Instant::now() + Duration::from_secs(1)).unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn send_deadline(&mut self, msg: &[u8], deadline: Instant) -> Result<(), SendTimeoutError> {
        match &mut self.inner {
            SenderInner::Shm(tx) => tx.send_deadline(msg, deadline),
            SenderInner::Stream(tx) => tx
                .send(msg, true, Some(deadline))
                .map_err(Refusal::into_timeout),
            SenderInner::Mq(tx) => tx
                .send(msg, true, Some(deadline))
                .map_err(Refusal::into_timeout),
            SenderInner::Sysv(tx) => tx
                .send(msg, true, Some(deadline))
                .map_err(Refusal::into_timeout),
            #[cfg(feature = "zenoh")]
            SenderInner::Zenoh(tx) => tx.send(msg, true, Some(deadline)),
        }
    }

    /// Writes every committed message out to the transport, waiting as long as it takes.
    ///
    /// # Errors
    ///
    /// [`SendError::Disconnected`] if the receiver went away first.
    ///
    /// ```no_run
    /// let mut tx = shmring_ipc::Sender::connect("uds:/run/app.sock")?;
    /// let _ = tx.try_send(b"x");
    /// tx.flush().unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn flush(&mut self) -> Result<(), SendError> {
        match &mut self.inner {
            SenderInner::Shm(_) | SenderInner::Mq(_) | SenderInner::Sysv(_) => Ok(()),
            #[cfg(feature = "zenoh")]
            SenderInner::Zenoh(_) => Ok(()),
            SenderInner::Stream(tx) => tx.flush_blocking(None).map_err(Refusal::into_send),
        }
    }

    /// Whether the receiver is gone (checked now).
    ///
    /// ```no_run
    /// let mut tx = shmring_ipc::Sender::connect("shm:feed")?;
    /// if tx.is_disconnected() { eprintln!("the receiver left"); }
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn is_disconnected(&mut self) -> bool {
        match &mut self.inner {
            SenderInner::Shm(tx) => tx.is_disconnected(),
            SenderInner::Stream(tx) => tx.is_disconnected(),
            SenderInner::Mq(tx) => tx.is_disconnected(),
            SenderInner::Sysv(tx) => tx.is_disconnected(),
            #[cfg(feature = "zenoh")]
            SenderInner::Zenoh(tx) => tx.is_disconnected(),
        }
    }

    /// Writes committed bytes without waiting: `Ok(true)` once none are left (always on the
    /// message transports).
    #[cfg(feature = "tokio")]
    pub(crate) fn try_flush(&mut self) -> Result<bool, Refusal> {
        match &mut self.inner {
            SenderInner::Stream(tx) => tx.try_flush(),
            SenderInner::Shm(_) | SenderInner::Mq(_) | SenderInner::Sysv(_) => Ok(true),
            #[cfg(feature = "zenoh")]
            SenderInner::Zenoh(_) => Ok(true),
        }
    }

    /// A descriptor for `poll`/`epoll`/mio that reports writable when a
    /// [`try_send`](Sender::try_send) may succeed (the socket, FIFO, pipe or queue itself);
    /// the descriptor stays owned by this sender. `None` on `shm:` (and a sender upgraded
    /// by `auto:`): a shared-memory ring has no descriptor of its own; nor has a System V
    /// queue (`sysv:`).
    ///
    /// Readiness is a hint: after it, `try_send` may still report `Full`; wait again.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("shmring-ipc-doc-wfd-{}.sock", std::process::id()));
    /// let endpoint = format!("uds:{}", path.display());
    /// let _rx = shmring_ipc::Receiver::bind(&endpoint)?;
    /// let tx = shmring_ipc::Sender::connect(&endpoint)?;
    /// assert!(tx.readiness_fd().is_some());
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn readiness_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        match &self.inner {
            SenderInner::Shm(_) | SenderInner::Sysv(_) => None,
            #[cfg(feature = "zenoh")]
            SenderInner::Zenoh(_) => None,
            SenderInner::Stream(tx) => Some(tx.readiness()),
            SenderInner::Mq(tx) => Some(tx.readiness()),
        }
    }
}

/// For a typed sender on a two-way stream: waits for the receiver's hello (it arrives when the
/// receiver accepts, which it does while receiving) and checks its payload type.
pub(super) fn check_typed(
    mut tx: StreamSender,
    endpoint: &Endpoint,
    options: &Options,
    expect: &Expect,
) -> Result<StreamSender, ConnectError> {
    if expect.fingerprint == 0 {
        return Ok(tx);
    }
    match tx.await_hello(Instant::now() + options.handshake_timeout) {
        Ok(Some(peer)) if peer.fingerprint == expect.fingerprint => Ok(tx),
        Ok(Some(peer)) => Err(ConnectError::IncompatibleLayout {
            endpoint: endpoint.to_string(),
            ours: expect.describe(),
            theirs: stream::describe(peer.fingerprint, &peer.description),
        }),
        Ok(None) => Ok(tx),
        Err(Refusal::Timeout) => Err(ConnectError::HandshakeTimeout {
            endpoint: endpoint.to_string(),
            seconds: options.handshake_timeout.as_secs().max(1),
        }),
        Err(_) => Err(ConnectError::NoReceiver {
            endpoint: endpoint.to_string(),
            reason: "the receiver closed the connection during the handshake".into(),
        }),
    }
}
