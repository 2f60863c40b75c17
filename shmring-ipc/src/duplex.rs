//! Duplex connections for request/response: a [`Server`] bound to an endpoint accepts any
//! number of clients; each accepted or connected [`Connection`] sends and receives.
//!
//! * `uds:` and `tcp:`: one socket per client, both directions on it.
//! * `shm:`, `fifo:` and `mq:`: a pair of one-way channels per client, named after the
//!   server's endpoint (`NAME.ID.up` carries the client's messages, `NAME.ID.down` the
//!   server's). The client binds its `down` channel, asks the server over the endpoint itself
//!   (`connect ID`), the server binds `up`, connects to `down` and answers `accepted`; the
//!   client connects to `up` and at once removes both names (the open channels outlive
//!   them), so a connection leaves nothing behind in `/dev/shm`, the queue namespace or the
//!   file system even if both processes are killed afterwards. Until then, each side removes
//!   the channel it bound if the handshake fails or the connection is dropped.
//! * `pipe` has no names to rendezvous on: use [`crate::pipe`] twice.
//!
//! ```
//! use shmring_ipc::duplex::{Connection, Server};
//!
//! let path = std::env::temp_dir().join(format!("shmring-ipc-doc-duplex-{}.sock", std::process::id()));
//! let endpoint = format!("uds:{}", path.display());
//! let mut server = Server::bind(&endpoint)?;
//! let client = std::thread::spawn({
//!     let endpoint = endpoint.clone();
//!     move || {
//!         let mut c = Connection::connect(&endpoint).unwrap();
//!         c.send(b"ping").unwrap();
//!         c.recv().unwrap()
//!     }
//! });
//! let mut conn = server.accept()?;
//! let request = conn.recv().unwrap();
//! conn.send(&request).unwrap();
//! assert_eq!(client.join().unwrap(), b"ping");
//! # Ok::<(), shmring_ipc::ConnectError>(())
//! ```

use std::fs::File;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::stream::{Conn, Expect, Listen, StreamReceiver, StreamSender, wait_fd};
use crate::{
    ConnectError, Endpoint, Options, Receiver, ReceiverInner, RecvError, RecvTimeoutError,
    SendError, SendTimeoutError, Sender, SenderInner, TryRecvError, TrySendError, transport,
};

/// One side of a duplex connection.
#[derive(Debug)]
pub struct Connection {
    tx: Sender,
    rx: Receiver,
    remove: Unlink,
}

/// Names of channels this side bound, removed when dropped (open channels outlive their
/// names: a mapped ring, an open queue or FIFO keeps working).
#[derive(Debug)]
struct Unlink(Vec<Endpoint>);

impl Drop for Unlink {
    fn drop(&mut self) {
        for endpoint in &self.0 {
            match endpoint {
                Endpoint::Shm(name) => {
                    let _ = shmring::Segment::unlink_name(name);
                }
                Endpoint::Fifo(path) => {
                    let _ = std::fs::remove_file(path);
                }
                Endpoint::Mq(name) => crate::mq::unlink(name),
                _ => {}
            }
        }
    }
}

/// Accepts duplex connections at an endpoint.
#[derive(Debug)]
pub struct Server {
    endpoint: Endpoint,
    options: Options,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Socket(Box<dyn Listen>),
    Paired(Box<Receiver>),
}

fn paired(endpoint: &Endpoint) -> Result<(), ConnectError> {
    match endpoint {
        Endpoint::Pipe => Err(ConnectError::BadEndpoint {
            endpoint: endpoint.to_string(),
            reason: "a pipe has no name to connect to; make one pipe per direction".into(),
        }),
        _ => Ok(()),
    }
}

/// The channel `dir` of client `id` of the server at `base`.
fn derive(base: &Endpoint, id: &str, dir: &str) -> String {
    match base {
        Endpoint::Shm(name) => format!("shm:{name}.{id}.{dir}"),
        Endpoint::Fifo(path) => format!("fifo:{}.{id}.{dir}", path.display()),
        Endpoint::Mq(name) => format!("mq:{name}.{id}.{dir}"),
        Endpoint::Sysv(address) => {
            format!(
                "sysv:{:#x}",
                crate::sysv::derived_key(base, address, id, dir)
            )
        }
        other => other.to_string(),
    }
}

impl Server {
    /// Binds `endpoint` (`uds:`, `tcp:`, `shm:`, `fifo:`, `mq:` or `sysv:`) to accept connections.
    ///
    /// # Errors
    ///
    /// As [`Receiver::bind`]; `pipe` is [`ConnectError::BadEndpoint`].
    ///
    /// ```
    /// let err = shmring_ipc::duplex::Server::bind("pipe").unwrap_err();
    /// assert!(matches!(err, shmring_ipc::ConnectError::BadEndpoint { .. }));
    /// ```
    pub fn bind(endpoint: &str) -> Result<Server, ConnectError> {
        Server::bind_with(endpoint, &Options::default())
    }

    /// [`bind`](Server::bind) with explicit [`Options`].
    ///
    /// # Errors
    ///
    /// As [`bind`](Server::bind).
    ///
    /// ```
    /// let o = shmring_ipc::Options::default();
    /// let server = shmring_ipc::duplex::Server::bind_with("tcp:127.0.0.1:0", &o)?;
    /// assert!(server.endpoint().to_string().starts_with("tcp:127.0.0.1:"));
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn bind_with(endpoint: &str, options: &Options) -> Result<Server, ConnectError> {
        let mut parsed = Endpoint::parse(endpoint)?;
        paired(&parsed)?;
        let kind = match &parsed {
            Endpoint::Uds(path) => Kind::Socket(transport::uds_listener(
                &parsed,
                path,
                options,
                &Expect::default(),
            )?),
            Endpoint::Tcp(addr) => {
                let (listener, local) =
                    transport::tcp_listener(&parsed, addr, options, &Expect::default())?;
                parsed = Endpoint::Tcp(local.to_string());
                Kind::Socket(listener)
            }
            _ => {
                let mut control = Receiver::bind_with(endpoint, options)?;
                if let ReceiverInner::Stream(rx) = &mut control.inner {
                    rx.persistent = true; // clients come and go on the control FIFO
                }
                Kind::Paired(Box::new(control))
            }
        };
        Ok(Server {
            endpoint: parsed,
            options: options.clone(),
            kind,
        })
    }

    /// The endpoint (for `tcp:` with port 0, the port chosen).
    ///
    /// ```
    /// let server = shmring_ipc::duplex::Server::bind("tcp:127.0.0.1:0")?;
    /// assert!(!server.endpoint().to_string().ends_with(":0"));
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Waits for the next client and returns the connection to it.
    ///
    /// # Errors
    ///
    /// [`ConnectError::Io`] and the errors of setting up a client's channels (a client that
    /// sent a malformed request is [`ConnectError::Handshake`]; accepting goes on with the
    /// next call).
    ///
    /// ```no_run
    /// let mut server = shmring_ipc::duplex::Server::bind("shm:echo")?;
    /// loop {
    ///     let mut conn = server.accept()?;
    ///     std::thread::spawn(move || while let Ok(m) = conn.recv() { let _ = conn.send(&m); });
    /// }
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn accept(&mut self) -> Result<Connection, ConnectError> {
        loop {
            if let Some(c) = self.accept_timeout(Duration::from_secs(3600))? {
                return Ok(c);
            }
        }
    }

    /// Waits at most `timeout` for the next client (`Ok(None)` when none came).
    ///
    /// # Errors
    ///
    /// As [`accept`](Server::accept).
    ///
    /// ```
    /// let mut server = shmring_ipc::duplex::Server::bind("tcp:127.0.0.1:0")?;
    /// assert!(server.accept_timeout(std::time::Duration::from_millis(5))?.is_none());
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn accept_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<Connection>, ConnectError> {
        let deadline = Instant::now() + timeout;
        let endpoint = self.endpoint.clone();
        match &mut self.kind {
            Kind::Socket(listener) => loop {
                match listener.accept_one() {
                    Ok(Some(conn)) => {
                        return socket_connection(conn, &endpoint, &self.options, false).map(Some);
                    }
                    Ok(None) => {}
                    Err(e) => return Err(ConnectError::io(&endpoint, "accept", e)),
                }
                let ready = wait_fd(
                    &[listener.as_fd()],
                    nix::poll::PollFlags::POLLIN,
                    Some(deadline),
                )
                .map_err(|e| ConnectError::io(&endpoint, "poll", e))?;
                if !ready {
                    return Ok(None);
                }
            },
            Kind::Paired(control) => {
                let request = loop {
                    match control.recv_deadline(deadline) {
                        Ok(m) => break m,
                        Err(RecvTimeoutError::Timeout) => return Ok(None),
                        Err(RecvTimeoutError::Disconnected) => {
                            // Every client that asked so far has gone; the next may come at
                            // any time. Look again shortly (never spin) — in this loop: a
                            // server idle between clients used to recurse here every 5 ms
                            // until its thread's stack overflowed.
                            let left = deadline.saturating_duration_since(Instant::now());
                            if left.is_zero() {
                                return Ok(None);
                            }
                            std::thread::sleep(left.min(Duration::from_millis(5)));
                        }
                        Err(RecvTimeoutError::Corrupted) => {
                            return Err(ConnectError::Handshake {
                                endpoint: endpoint.to_string(),
                                source: control.protocol_error().cloned().unwrap_or(
                                    crate::codec::FrameError::BadHello {
                                        field: "control message",
                                        value: 0,
                                    },
                                ),
                            });
                        }
                    }
                };
                let id = std::str::from_utf8(&request)
                    .ok()
                    .and_then(|r| r.strip_prefix("connect "))
                    .filter(|id| {
                        !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    })
                    .ok_or_else(|| ConnectError::Handshake {
                        endpoint: endpoint.to_string(),
                        source: crate::codec::FrameError::BadHello {
                            field: "connect request",
                            value: request.len() as u64,
                        },
                    })?
                    .to_owned();
                let up = derive(&endpoint, &id, "up");
                let rx = Receiver::bind_with(&up, &self.options)?;
                let mut tx = Sender::connect_with(&derive(&endpoint, &id, "down"), &self.options)?;
                tx.send(b"accepted").map_err(|_| ConnectError::NoReceiver {
                    endpoint: derive(&endpoint, &id, "down"),
                    reason: "the client went away while connecting".into(),
                })?;
                Ok(Some(Connection {
                    tx,
                    rx,
                    remove: Unlink(Endpoint::parse(&up).into_iter().collect()),
                }))
            }
        }
    }
}

/// A connection over an accepted (`server`) or connected socket: frames both ways, the
/// receiving half reading the peer's hello first.
fn socket_connection(
    conn: Box<dyn Conn>,
    endpoint: &Endpoint,
    options: &Options,
    _client: bool,
) -> Result<Connection, ConnectError> {
    let dup = conn
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| ConnectError::io(endpoint, "dup", e))?;
    let writer: Box<dyn Conn> = Box::new(File::from(dup));
    let tx = StreamSender::new(writer, options.stream_max(), false);
    let rx = StreamReceiver::new(
        None,
        Some(conn),
        None,
        options.stream_max(),
        Expect::default(),
    );
    Ok(Connection {
        tx: Sender::from_parts(SenderInner::Stream(tx), endpoint.clone(), None),
        rx: Receiver::from_parts(ReceiverInner::Stream(rx), endpoint.clone()),
        remove: Unlink(Vec::new()),
    })
}

impl Connection {
    /// Over a socket: once the peer's hello has been read (the first thing it sends), this
    /// side's messages are held to the largest payload the peer announced there, as the
    /// codec's rule says (a server answering a client that announced 16 bytes sends no
    /// 17-byte reply: `SendError::TooLarge`).
    fn adopt_peer_max(&mut self) {
        if let (crate::SenderInner::Stream(tx), crate::ReceiverInner::Stream(rx)) =
            (&mut self.tx.inner, &self.rx.inner)
        {
            if let Some(max) = rx.peer_max {
                tx.peer_max = tx.peer_max.min(max);
            }
        }
    }

    /// Connects to the [`Server`] at `endpoint`.
    ///
    /// # Errors
    ///
    /// As [`Sender::connect`]; over `shm:`, `fifo:` and `mq:` also the errors of binding this
    /// client's channel, and [`ConnectError::HandshakeTimeout`] if the server does not answer.
    ///
    /// ```
    /// let err = shmring_ipc::duplex::Connection::connect("uds:/nonexistent/s.sock").unwrap_err();
    /// assert!(matches!(err, shmring_ipc::ConnectError::NotFound { .. }));
    /// ```
    pub fn connect(endpoint: &str) -> Result<Connection, ConnectError> {
        Connection::connect_with(endpoint, &Options::default())
    }

    /// [`connect`](Connection::connect) with explicit [`Options`].
    ///
    /// # Errors
    ///
    /// As [`connect`](Connection::connect).
    ///
    /// ```
    /// let o = shmring_ipc::Options::default();
    /// assert!(shmring_ipc::duplex::Connection::connect_with("tcp:127.0.0.1:1", &o).is_err());
    /// ```
    pub fn connect_with(endpoint: &str, options: &Options) -> Result<Connection, ConnectError> {
        let parsed = Endpoint::parse(endpoint)?;
        paired(&parsed)?;
        match &parsed {
            Endpoint::Uds(path) => {
                let conn = transport::uds_stream(&parsed, path, options, &Expect::default())?;
                socket_connection(conn, &parsed, options, true)
            }
            Endpoint::Tcp(addr) => {
                let conn = transport::tcp_stream(&parsed, addr, options, &Expect::default())?;
                socket_connection(conn, &parsed, options, true)
            }
            _ => {
                static NEXT: AtomicU32 = AtomicU32::new(0);
                let id = format!(
                    "{}-{}-{}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed),
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.subsec_nanos())
                );
                let down = derive(&parsed, &id, "down");
                let mut rx = Receiver::bind_with(&down, options)?;
                let remove = Unlink(Endpoint::parse(&down).into_iter().collect());
                let mut control = Sender::connect_with(endpoint, options)?;
                control
                    .send(format!("connect {id}").as_bytes())
                    .map_err(|_| ConnectError::NoReceiver {
                        endpoint: endpoint.to_owned(),
                        reason: "the server went away".into(),
                    })?;
                drop(control);
                let answer = rx.recv_timeout(options.handshake_timeout);
                if answer.as_deref() != Ok(b"accepted".as_slice()) {
                    return Err(ConnectError::HandshakeTimeout {
                        endpoint: endpoint.to_owned(),
                        seconds: options.handshake_timeout.as_secs().max(1),
                    });
                }
                let up = derive(&parsed, &id, "up");
                let tx = Sender::connect_with(&up, options)?;
                // Both channels are open on both sides: their names can go now.
                drop(remove);
                drop(Unlink(Endpoint::parse(&up).into_iter().collect()));
                Ok(Connection {
                    tx,
                    rx,
                    remove: Unlink(Vec::new()),
                })
            }
        }
    }

    /// Splits into the sending and receiving halves (for example to use them on two threads).
    ///
    /// ```no_run
    /// let conn = shmring_ipc::duplex::Connection::connect("uds:/run/echo.sock")?;
    /// let (tx, rx) = conn.split();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn split(self) -> (Sender, Receiver) {
        // Both sides have their channels open by now: the names can go.
        let Connection { tx, rx, remove } = self;
        drop(remove);
        (tx, rx)
    }

    /// Sends `msg` to the peer, waiting while the channel is full.
    ///
    /// # Errors
    ///
    /// As [`Sender::send`].
    ///
    /// ```no_run
    /// let mut c = shmring_ipc::duplex::Connection::connect("shm:echo")?;
    /// c.send(b"ping").unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        self.adopt_peer_max();
        self.tx.send(msg)
    }

    /// Sends `msg` if there is room now.
    ///
    /// # Errors
    ///
    /// As [`Sender::try_send`].
    ///
    /// ```no_run
    /// let mut c = shmring_ipc::duplex::Connection::connect("shm:echo")?;
    /// let _ = c.try_send(b"ping");
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError> {
        self.adopt_peer_max();
        self.tx.try_send(msg)
    }

    /// Sends `msg`, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Sender::send_timeout`].
    ///
    /// ```no_run
    /// let mut c = shmring_ipc::duplex::Connection::connect("shm:echo")?;
    /// let _ = c.send_timeout(b"ping", std::time::Duration::from_millis(5));
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn send_timeout(&mut self, msg: &[u8], timeout: Duration) -> Result<(), SendTimeoutError> {
        self.adopt_peer_max();
        self.tx.send_timeout(msg, timeout)
    }

    /// Receives the peer's next message.
    ///
    /// # Errors
    ///
    /// As [`Receiver::recv`].
    ///
    /// ```no_run
    /// let mut c = shmring_ipc::duplex::Connection::connect("shm:echo")?;
    /// let reply = c.recv().unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn recv(&mut self) -> Result<Vec<u8>, RecvError> {
        self.rx.recv()
    }

    /// Receives into a reused buffer.
    ///
    /// # Errors
    ///
    /// As [`Receiver::recv_into`].
    ///
    /// ```no_run
    /// let mut c = shmring_ipc::duplex::Connection::connect("shm:echo")?;
    /// let mut buf = Vec::new();
    /// c.recv_into(&mut buf).unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), RecvError> {
        self.rx.recv_into(buf)
    }

    /// Receives if a message is there now.
    ///
    /// # Errors
    ///
    /// As [`Receiver::try_recv`].
    ///
    /// ```no_run
    /// let mut c = shmring_ipc::duplex::Connection::connect("shm:echo")?;
    /// let _ = c.try_recv();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn try_recv(&mut self) -> Result<Vec<u8>, TryRecvError> {
        self.rx.try_recv()
    }

    /// Receives, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Receiver::recv_timeout`].
    ///
    /// ```no_run
    /// let mut c = shmring_ipc::duplex::Connection::connect("shm:echo")?;
    /// let _ = c.recv_timeout(std::time::Duration::from_millis(5));
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Vec<u8>, RecvTimeoutError> {
        self.rx.recv_timeout(timeout)
    }
}
