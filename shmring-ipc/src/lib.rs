//! One message API over shmring shared memory, Unix sockets, pipes and FIFOs, POSIX message
//! queues and TCP, selected by an endpoint string: `shm:NAME`, `uds:PATH`, `fifo:PATH`,
//! `pipe`, `mq:/NAME`, `tcp:HOST:PORT` ([`Endpoint`]).
//!
//! A [`Receiver`] binds an endpoint; [`Sender`]s connect to it — any number of them, except
//! on `fifo:` and `pipe` (one at a time; see [`pipe`] for handing a pipe to a child). Every transport has the same blocking, try, timeout and
//! deadline calls and the same errors as the rings ([`SendError`], [`RecvError`],
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
mod mq;
pub mod pipe;
mod stream;
mod transport;
pub mod typed;

use std::time::{Duration, Instant};

pub use endpoint::Endpoint;
pub use error::ConnectError;
pub use shmring::framed::SendError;
pub use shmring::{OpenError, RecvError, RecvTimeoutError, ShmType, TryRecvError, TypeLayout};

use shmring::framed::mpsc;
use stream::{Expect, StreamReceiver, StreamSender};

/// The largest message on the stream transports unless [`Options::max_message`] says
/// otherwise.
pub const DEFAULT_STREAM_MAX: u32 = 1 << 20;

/// Settings of a binding or connection.
///
/// ```
/// let options = shmring_ipc::Options::default().max_message(4096);
/// assert_eq!(options.max_message, Some(4096));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Options {
    /// The largest message a receiver accepts. `None` (the default): 1 MiB on the stream
    /// transports, the system's `msgsize_max` on `mq:`; `shm:` rings take half their
    /// capacity. A `fifo:` or `pipe` sender must use the receiver's value (these carry no
    /// reply).
    pub max_message: Option<u32>,
    /// Bytes of a `shm:` ring created by `bind` (1 MiB by default; messages up to half).
    pub shm_capacity: u64,
    /// How long connecting waits for the peer's hello.
    pub handshake_timeout: Duration,
    /// Messages an `mq:` queue holds (`None`: the system's `msg_max`).
    pub mq_depth: Option<u32>,
    /// Which peers an `auto:` receiver accepts (same user by default).
    pub auto_peers: auto::Peers,
    /// An `auto:` sender stays on the socket even when offered shared memory (also
    /// `SHMRING_IPC_NO_SHM=1` in the environment).
    pub auto_no_shm: bool,
    /// Permission bits of what `bind` creates — a `shm:` ring, a `uds:` socket file, a
    /// `fifo:`, an `mq:` queue — and so who else may connect: `0o600` (owner only) by
    /// default; `0o660` admits the owner's group. Applied exactly, whatever the umask.
    /// (`auto:` admits peers by their credentials instead: [`Options::auto_peers`].)
    pub mode: u32,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            max_message: None,
            shm_capacity: 1 << 20,
            handshake_timeout: Duration::from_secs(5),
            mq_depth: None,
            auto_peers: auto::Peers::SameUser,
            auto_no_shm: false,
            mode: shmring::DEFAULT_MODE,
        }
    }
}

impl Options {
    /// Sets [`Options::max_message`].
    ///
    /// ```
    /// assert_eq!(shmring_ipc::Options::default().max_message(10).max_message, Some(10));
    /// ```
    pub fn max_message(mut self, max: u32) -> Options {
        self.max_message = Some(max.min(codec::MAX_FRAME_LIMIT));
        self
    }

    /// The maximum on the stream transports.
    pub(crate) fn stream_max(&self) -> u32 {
        self.max_message.unwrap_or(DEFAULT_STREAM_MAX)
    }

    /// Sets [`Options::shm_capacity`].
    ///
    /// ```
    /// assert_eq!(shmring_ipc::Options::default().shm_capacity(4096).shm_capacity, 4096);
    /// ```
    pub fn shm_capacity(mut self, bytes: u64) -> Options {
        self.shm_capacity = bytes;
        self
    }

    /// Sets [`Options::mq_depth`].
    ///
    /// ```
    /// assert_eq!(shmring_ipc::Options::default().mq_depth(4).mq_depth, Some(4));
    /// ```
    pub fn mq_depth(mut self, depth: u32) -> Options {
        self.mq_depth = Some(depth);
        self
    }

    /// Sets [`Options::handshake_timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let o = shmring_ipc::Options::default().handshake_timeout(Duration::from_secs(1));
    /// assert_eq!(o.handshake_timeout, Duration::from_secs(1));
    /// ```
    pub fn handshake_timeout(mut self, timeout: Duration) -> Options {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets [`Options::mode`] (permission bits; only `0o777` are used).
    ///
    /// ```
    /// assert_eq!(shmring_ipc::Options::default().mode(0o660).mode, 0o660);
    /// ```
    pub fn mode(mut self, mode: u32) -> Options {
        self.mode = mode & 0o777;
        self
    }
}

/// The sending side of a connection to an endpoint.
#[derive(Debug)]
pub struct Sender {
    inner: SenderInner,
    endpoint: Endpoint,
    /// What an `auto:` connection chose, and why.
    selection: Option<auto::Selection>,
    /// The descriptor registered with the tokio reactor, once an async call needed it.
    #[cfg(feature = "tokio")]
    registered: asyncio::Registered,
}

#[derive(Debug)]
enum SenderInner {
    Shm(mpsc::Sender),
    Stream(StreamSender),
    Mq(mq::MqSender),
}

/// The receiving side, bound to an endpoint.
#[derive(Debug)]
pub struct Receiver {
    inner: ReceiverInner,
    endpoint: Endpoint,
    /// The descriptor registered with the tokio reactor, once an async call needed it.
    #[cfg(feature = "tokio")]
    registered: asyncio::Registered,
}

#[derive(Debug)]
enum ReceiverInner {
    Shm(mpsc::Receiver),
    Stream(StreamReceiver),
    Mq(mq::MqReceiver),
    Auto(Box<auto::AutoReceiver>),
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
        let inner = match &endpoint {
            Endpoint::Shm(name) => {
                let tx = match &expect.layout {
                    Some(layout) => mpsc::Sender::open_labelled(name.as_str(), layout.clone()),
                    None => mpsc::Sender::open(name.as_str()),
                };
                SenderInner::Shm(tx.map_err(|e| mismatch(e, &endpoint))?)
            }
            Endpoint::Uds(path) => {
                let tx = transport::connect_uds(&endpoint, path, options, &expect)?;
                SenderInner::Stream(check_typed(tx, &endpoint, options, &expect)?)
            }
            Endpoint::Tcp(addr) => {
                let tx = transport::connect_tcp(&endpoint, addr, options, &expect)?;
                SenderInner::Stream(check_typed(tx, &endpoint, options, &expect)?)
            }
            Endpoint::Fifo(path) => {
                SenderInner::Stream(transport::connect_fifo(&endpoint, path, options, &expect)?)
            }
            Endpoint::Mq(name) => SenderInner::Mq(mq::connect(&endpoint, name, &expect)?),
            Endpoint::Pipe => SenderInner::Stream(pipe::connect_inherited(options)?),
            Endpoint::Auto(_) if expect.fingerprint != 0 => {
                return Err(typed_auto(&endpoint));
            }
            Endpoint::Auto(name) => {
                let (inner, selection) = auto::connect(&endpoint, name, options)?;
                return Ok(Sender::from_parts(inner, endpoint, Some(selection)));
            }
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
            SenderInner::Stream(tx) => tx.send(msg, true, None),
            SenderInner::Mq(tx) => tx.send(msg, true, None),
        }
    }

    /// Sends `msg` if the transport has room now.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send), plus [`SendError::Full`]. On a stream, a message is
    /// committed once the stream took its first byte; the rest is written by later calls,
    /// [`flush`](Sender::flush) or drop.
    ///
    /// ```no_run
    /// let mut tx = shmring_ipc::Sender::connect("uds:/run/app.sock")?;
    /// match tx.try_send(b"x") {
    ///     Ok(()) | Err(shmring_ipc::SendError::Full) => {}
    ///     Err(e) => panic!("{e}"),
    /// }
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn try_send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        match &mut self.inner {
            SenderInner::Shm(tx) => tx.try_send(msg),
            SenderInner::Stream(tx) => tx.send(msg, false, None),
            SenderInner::Mq(tx) => tx.send(msg, false, None),
        }
    }

    /// Sends `msg`, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send), plus [`SendError::Timeout`] (nothing of the message sent).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let mut tx = shmring_ipc::Sender::connect("tcp:127.0.0.1:9000")?;
    /// tx.send_timeout(b"x", Duration::from_millis(10)).unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn send_timeout(&mut self, msg: &[u8], timeout: Duration) -> Result<(), SendError> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.send_deadline(msg, deadline),
            None => self.send(msg),
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
    pub fn send_deadline(&mut self, msg: &[u8], deadline: Instant) -> Result<(), SendError> {
        match &mut self.inner {
            SenderInner::Shm(tx) => tx.send_deadline(msg, deadline),
            SenderInner::Stream(tx) => tx.send(msg, true, Some(deadline)),
            SenderInner::Mq(tx) => tx.send(msg, true, Some(deadline)),
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
            SenderInner::Shm(_) | SenderInner::Mq(_) => Ok(()),
            SenderInner::Stream(tx) => tx.flush_blocking(None),
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
        }
    }

    /// Writes committed bytes without waiting: `Ok(true)` once none are left (always on the
    /// message transports).
    #[cfg(feature = "tokio")]
    pub(crate) fn try_flush(&mut self) -> Result<bool, SendError> {
        match &mut self.inner {
            SenderInner::Stream(tx) => tx.try_flush(),
            SenderInner::Shm(_) | SenderInner::Mq(_) => Ok(true),
        }
    }

    /// A descriptor for `poll`/`epoll`/mio that reports writable when a
    /// [`try_send`](Sender::try_send) may succeed (the socket, FIFO, pipe or queue itself);
    /// the descriptor stays owned by this sender. `None` on `shm:` (and a sender upgraded
    /// by `auto:`): a shared-memory ring has no descriptor of its own.
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
            SenderInner::Shm(_) => None,
            SenderInner::Stream(tx) => Some(tx.readiness()),
            SenderInner::Mq(tx) => Some(tx.readiness()),
        }
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

/// One receive from a framed ring, in the shape of the stream receivers.
fn ring_recv(
    rx: &mut mpsc::Receiver,
    buf: &mut Vec<u8>,
    wait: bool,
    deadline: Option<Instant>,
) -> Result<(), RecvTimeoutError> {
    let r = match (wait, deadline) {
        (false, _) => rx.try_recv_into(buf).map_err(|e| match e {
            TryRecvError::Empty => RecvTimeoutError::Timeout,
            TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
            TryRecvError::Corrupted => RecvTimeoutError::Corrupted,
        }),
        (true, Some(d)) => rx.recv_into_deadline(buf, d),
        (true, None) => rx.recv_into(buf).map_err(|e| match e {
            RecvError::Disconnected => RecvTimeoutError::Disconnected,
            RecvError::Corrupted => RecvTimeoutError::Corrupted,
        }),
    };
    r.map(|_| ())
}

/// For a typed sender on a two-way stream: waits for the receiver's hello (it arrives when the
/// receiver accepts, which it does while receiving) and checks its payload type.
fn check_typed(
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
        Err(SendError::Timeout) => Err(ConnectError::HandshakeTimeout {
            endpoint: endpoint.to_string(),
            seconds: options.handshake_timeout.as_secs().max(1),
        }),
        Err(_) => Err(ConnectError::NoReceiver {
            endpoint: endpoint.to_string(),
            reason: "the receiver closed the connection during the handshake".into(),
        }),
    }
}

impl Receiver {
    /// Binds `endpoint` and receives from every sender that connects. `shm:` creates the
    /// ring (or takes it over from a dead receiver); `uds:` replaces a socket file nobody
    /// listens on; `fifo:` creates the FIFO (or reuses one).
    ///
    /// # Errors
    ///
    /// [`ConnectError::BadEndpoint`], `InUse` (a live receiver is bound there), `Open` (the
    /// ring: for example `RoleTaken`), `Io`.
    ///
    /// ```
    /// let name = format!("shm:shmring-ipc-doc-bind-{}", std::process::id());
    /// let rx = shmring_ipc::Receiver::bind(&name)?;
    /// assert!(rx.max_message() > 0);
    /// # drop(rx); shmring::Segment::unlink_name(&name[4..]).unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn bind(endpoint: &str) -> Result<Receiver, ConnectError> {
        Receiver::bind_with(endpoint, &Options::default())
    }

    /// [`bind`](Receiver::bind) with explicit [`Options`].
    ///
    /// # Errors
    ///
    /// As [`bind`](Receiver::bind).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("shmring-ipc-doc-bw-{}.sock", std::process::id()));
    /// let options = shmring_ipc::Options::default().max_message(64);
    /// let rx = shmring_ipc::Receiver::bind_with(&format!("uds:{}", path.display()), &options)?;
    /// assert_eq!(rx.max_message(), 64);
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn bind_with(endpoint: &str, options: &Options) -> Result<Receiver, ConnectError> {
        Receiver::open(endpoint, options, Expect::default())
    }

    /// Binds, expecting senders of the payload type in `expect`.
    pub(crate) fn open(
        endpoint: &str,
        options: &Options,
        expect: Expect,
    ) -> Result<Receiver, ConnectError> {
        let mut endpoint = Endpoint::parse(endpoint)?;
        let inner = match &endpoint {
            Endpoint::Shm(name) => {
                let capacity = options.shm_capacity;
                let rx = match &expect.layout {
                    Some(layout) => {
                        match mpsc::Receiver::create_labelled_with_mode(
                            name.as_str(),
                            capacity,
                            layout.clone(),
                            options.mode,
                        ) {
                            Err(OpenError::AlreadyExists { .. }) => {
                                mpsc::Receiver::open_labelled(name.as_str(), layout.clone())
                            }
                            other => other,
                        }
                    }
                    None => match mpsc::Receiver::create_with_mode(
                        name.as_str(),
                        capacity,
                        options.mode,
                    ) {
                        Err(OpenError::AlreadyExists { .. }) => mpsc::Receiver::open(name.as_str()),
                        other => other,
                    },
                };
                ReceiverInner::Shm(rx?)
            }
            Endpoint::Uds(path) => {
                ReceiverInner::Stream(transport::bind_uds(&endpoint, path, options, expect)?)
            }
            Endpoint::Tcp(addr) => {
                let (rx, local) = transport::bind_tcp(&endpoint, addr, options, expect)?;
                endpoint = Endpoint::Tcp(local.to_string());
                ReceiverInner::Stream(rx)
            }
            Endpoint::Fifo(path) => {
                ReceiverInner::Stream(transport::bind_fifo(&endpoint, path, options, expect)?)
            }
            Endpoint::Mq(name) => ReceiverInner::Mq(mq::bind(&endpoint, name, options, expect)?),
            Endpoint::Pipe => ReceiverInner::Stream(pipe::bind_inherited(options)?),
            Endpoint::Auto(_) if expect.fingerprint != 0 => return Err(typed_auto(&endpoint)),
            Endpoint::Auto(name) => {
                ReceiverInner::Auto(Box::new(auto::bind(&endpoint, name, options)?))
            }
        };
        Ok(Receiver::from_parts(inner, endpoint))
    }

    pub(crate) fn from_parts(inner: ReceiverInner, endpoint: Endpoint) -> Receiver {
        Receiver {
            inner,
            endpoint,
            #[cfg(feature = "tokio")]
            registered: None,
        }
    }

    /// The endpoint this receiver is bound to (for `tcp:` with port 0, the port chosen).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("shmring-ipc-doc-ep-{}.sock", std::process::id()));
    /// let endpoint = format!("uds:{}", path.display());
    /// let rx = shmring_ipc::Receiver::bind(&endpoint)?;
    /// assert_eq!(rx.endpoint().to_string(), endpoint);
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The largest message this receiver accepts.
    ///
    /// ```
    /// let name = format!("shm:shmring-ipc-doc-max-{}", std::process::id());
    /// let options = shmring_ipc::Options::default().shm_capacity(4096);
    /// let rx = shmring_ipc::Receiver::bind_with(&name, &options)?;
    /// assert_eq!(rx.max_message(), 2040);
    /// # drop(rx); shmring::Segment::unlink_name(&name[4..]).unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn max_message(&self) -> usize {
        match &self.inner {
            ReceiverInner::Shm(rx) => rx.max_message(),
            ReceiverInner::Auto(rx) => rx.ring.max_message(),
            ReceiverInner::Stream(rx) => rx.max() as usize,
            ReceiverInner::Mq(rx) => rx.max(),
        }
    }

    /// Why the last connection that broke the protocol was closed (after a receive returned
    /// `Corrupted`).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("shmring-ipc-doc-pe-{}.sock", std::process::id()));
    /// let rx = shmring_ipc::Receiver::bind(&format!("uds:{}", path.display()))?;
    /// assert!(rx.protocol_error().is_none());
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn protocol_error(&self) -> Option<&codec::FrameError> {
        match &self.inner {
            ReceiverInner::Shm(_) | ReceiverInner::Auto(_) => None,
            ReceiverInner::Stream(rx) => rx.error.as_ref(),
            ReceiverInner::Mq(rx) => rx.error.as_ref(),
        }
    }

    /// Receives the next message, waiting as long as there is none.
    ///
    /// # Errors
    ///
    /// [`RecvError::Disconnected`] (every sender gone, everything received), `Corrupted` (a
    /// corrupted ring, or a sender that broke the protocol: its connection is closed).
    ///
    /// ```no_run
    /// let mut rx = shmring_ipc::Receiver::bind("shm:feed")?;
    /// while let Ok(msg) = rx.recv() { println!("{} bytes", msg.len()); }
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn recv(&mut self) -> Result<Vec<u8>, RecvError> {
        let mut buf = Vec::new();
        self.recv_into(&mut buf).map(|()| buf)
    }

    /// Receives the next message into `buf` (cleared first; its allocation is reused).
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv).
    ///
    /// ```no_run
    /// let mut rx = shmring_ipc::Receiver::bind("uds:/run/app.sock")?;
    /// let mut buf = Vec::with_capacity(4096);
    /// rx.recv_into(&mut buf).unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), RecvError> {
        match self.recv_until(buf, true, None) {
            Ok(()) => Ok(()),
            Err(RecvTimeoutError::Disconnected) => Err(RecvError::Disconnected),
            Err(_) => Err(RecvError::Corrupted),
        }
    }

    /// Receives a message if one is there now.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`], `Disconnected`, `Corrupted`.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("shmring-ipc-doc-try-{}.sock", std::process::id()));
    /// let mut rx = shmring_ipc::Receiver::bind(&format!("uds:{}", path.display()))?;
    /// assert_eq!(rx.try_recv(), Err(shmring_ipc::TryRecvError::Empty));
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn try_recv(&mut self) -> Result<Vec<u8>, TryRecvError> {
        let mut buf = Vec::new();
        self.try_recv_into(&mut buf).map(|()| buf)
    }

    /// [`try_recv`](Receiver::try_recv) into a reused buffer.
    ///
    /// # Errors
    ///
    /// As [`try_recv`](Receiver::try_recv).
    ///
    /// ```no_run
    /// let mut rx = shmring_ipc::Receiver::bind("shm:feed")?;
    /// let mut buf = Vec::new();
    /// let _ = rx.try_recv_into(&mut buf);
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), TryRecvError> {
        match self.recv_until(buf, false, None) {
            Ok(()) => Ok(()),
            Err(RecvTimeoutError::Timeout) => Err(TryRecvError::Empty),
            Err(RecvTimeoutError::Disconnected) => Err(TryRecvError::Disconnected),
            Err(RecvTimeoutError::Corrupted) => Err(TryRecvError::Corrupted),
        }
    }

    /// Receives, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`], `Disconnected`, `Corrupted`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let path = std::env::temp_dir().join(format!("shmring-ipc-doc-rt-{}.sock", std::process::id()));
    /// let mut rx = shmring_ipc::Receiver::bind(&format!("uds:{}", path.display()))?;
    /// assert_eq!(rx.recv_timeout(Duration::from_millis(5)), Err(shmring_ipc::RecvTimeoutError::Timeout));
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Vec<u8>, RecvTimeoutError> {
        let mut buf = Vec::new();
        let deadline = Instant::now().checked_add(timeout);
        self.recv_until(&mut buf, true, deadline).map(|()| buf)
    }

    /// Receives, waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`recv_timeout`](Receiver::recv_timeout).
    ///
    /// ```no_run
    /// use std::time::{Duration, Instant};
    /// let mut rx = shmring_ipc::Receiver::bind("shm:feed")?;
    /// let _ = rx.recv_deadline(Instant::now() + Duration::from_secs(1));
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn recv_deadline(&mut self, deadline: Instant) -> Result<Vec<u8>, RecvTimeoutError> {
        let mut buf = Vec::new();
        self.recv_until(&mut buf, true, Some(deadline))
            .map(|()| buf)
    }

    /// [`recv_deadline`](Receiver::recv_deadline) into a reused buffer.
    ///
    /// # Errors
    ///
    /// As [`recv_timeout`](Receiver::recv_timeout).
    ///
    /// ```no_run
    /// use std::time::{Duration, Instant};
    /// let mut rx = shmring_ipc::Receiver::bind("shm:feed")?;
    /// let mut buf = Vec::new();
    /// let _ = rx.recv_into_deadline(&mut buf, Instant::now() + Duration::from_secs(1));
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn recv_into_deadline(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: Instant,
    ) -> Result<(), RecvTimeoutError> {
        self.recv_until(buf, true, Some(deadline))
    }

    fn recv_until(
        &mut self,
        buf: &mut Vec<u8>,
        wait: bool,
        deadline: Option<Instant>,
    ) -> Result<(), RecvTimeoutError> {
        match &mut self.inner {
            ReceiverInner::Shm(rx) => ring_recv(rx, buf, wait, deadline),
            ReceiverInner::Auto(rx) => ring_recv(&mut rx.ring, buf, wait, deadline),
            ReceiverInner::Stream(rx) => rx.recv(buf, wait, deadline),
            ReceiverInner::Mq(rx) => rx.recv(buf, wait, deadline),
        }
    }

    /// Whether every sender that connected is gone (none connected yet: `false`).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("shmring-ipc-doc-dc-{}.sock", std::process::id()));
    /// let mut rx = shmring_ipc::Receiver::bind(&format!("uds:{}", path.display()))?;
    /// assert!(!rx.is_disconnected());
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn is_disconnected(&mut self) -> bool {
        match &mut self.inner {
            ReceiverInner::Shm(rx) => rx.is_disconnected(),
            ReceiverInner::Auto(rx) => rx.ring.is_disconnected(),
            ReceiverInner::Stream(rx) => rx.is_disconnected(),
            ReceiverInner::Mq(rx) => rx.is_disconnected(),
        }
    }

    /// A descriptor for `poll`/`epoll`/mio that reports readable when a
    /// [`try_recv`](Receiver::try_recv) may find a message or news (a sender connecting or
    /// leaving): on `uds:`/`tcp:`/`fifo:`/`pipe` an epoll set of the listener and every
    /// connection, kept up to date by this receiver; on `mq:` the queue. The descriptor stays
    /// owned by this receiver. `Ok(None)` on `shm:` and `auto:`: a shared-memory ring has no
    /// descriptor of its own.
    ///
    /// Readiness is a hint, and frames already read into this receiver's buffer do not make
    /// the descriptor readable: always `try_recv` until `Empty` before waiting on it.
    ///
    /// # Errors
    ///
    /// Creating the epoll set failed (for example out of descriptors).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("shmring-ipc-doc-rfd-{}.sock", std::process::id()));
    /// let mut rx = shmring_ipc::Receiver::bind(&format!("uds:{}", path.display()))?;
    /// assert!(rx.readiness_fd()?.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn readiness_fd(&mut self) -> std::io::Result<Option<std::os::fd::BorrowedFd<'_>>> {
        match &mut self.inner {
            ReceiverInner::Shm(_) | ReceiverInner::Auto(_) => Ok(None),
            ReceiverInner::Stream(rx) => rx.readiness().map(Some),
            ReceiverInner::Mq(rx) => Ok(Some(rx.readiness())),
        }
    }
}
