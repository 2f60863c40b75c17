//! `auto:NAME`: rendezvous on a Unix socket, check the peer's credentials, then upgrade to
//! shared memory when both sides can — or stay on the socket, saying why. Never silent: the
//! choice is on [`Sender::selection`](crate::Sender::selection) and logged with the optional
//! `tracing` feature.
//!
//! The receiver listens on `$TMPDIR/shmring-auto-NAME.sock` and creates one many-producer
//! framed ring in a sealed memfd. For each client it checks `SO_PEERCRED` (by default the same
//! user only; [`Options::auto_peers`]), then sends one frame: `shm` with the memfd attached
//! (`SCM_RIGHTS`), or `uds REASON` when it cannot offer shared memory. The client answers `shm`
//! once it has mapped the ring (the socket is then closed), or `uds REASON` (it cannot map it,
//! or was asked not to: [`Options::auto_no_shm`] or `SHMRING_IPC_NO_SHM=1`) and goes on sending
//! frames on the socket, which a thread of the receiver relays into the ring — so the
//! receiver reads one ring either way.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};
use shmring::Location;
use shmring::framed::mpsc;

use crate::codec::{Decoder, Hello};
use crate::stream::{Conn, Expect, StreamReceiver, StreamSender};
use crate::{ConnectError, Endpoint, Options, RecvTimeoutError};

/// Which peers an `auto:` receiver accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Peers {
    /// Processes of the same user (the default).
    #[default]
    SameUser,
    /// Processes of this user id (and the same user).
    Uid(u32),
    /// Any process that can reach the socket.
    Anyone,
}

/// The transport an `auto:` connection settled on, and why.
///
/// ```
/// let s = shmring_ipc::auto::Selection { transport: "uds", reason: Some("asked not to".into()) };
/// assert_eq!(s.to_string(), "uds (asked not to)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    /// `"shm"` or `"uds"`.
    pub transport: &'static str,
    /// Why it is not shared memory (`None` when it is).
    pub reason: Option<String>,
}

impl std::fmt::Display for Selection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.reason {
            None => f.write_str(self.transport),
            Some(r) => write!(f, "{} ({r})", self.transport),
        }
    }
}

fn log(endpoint: &Endpoint, what: &str) {
    #[cfg(feature = "tracing")]
    tracing::info!(endpoint = %endpoint, "{what}");
    #[cfg(not(feature = "tracing"))]
    let _ = (endpoint, what);
}

/// The rendezvous socket of `auto:NAME`.
pub fn socket_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("shmring-auto-{name}.sock"))
}

/// Sends one frame, with `fd` attached if given.
fn send_frame(sock: &UnixStream, payload: &[u8], fd: Option<&OwnedFd>) -> std::io::Result<()> {
    let mut bytes = Vec::new();
    crate::codec::encode_frame(payload, &mut bytes);
    let raw = fd.map(|f| [f.as_raw_fd()]);
    let cmsgs: Vec<ControlMessage<'_>> = raw
        .as_ref()
        .map(|r| ControlMessage::ScmRights(r))
        .into_iter()
        .collect();
    let mut sent = 0;
    while sent < bytes.len() {
        let cm: &[ControlMessage<'_>] = if sent == 0 { &cmsgs } else { &[] };
        let n = sendmsg::<()>(
            sock.as_raw_fd(),
            &[IoSlice::new(&bytes[sent..])],
            cm,
            MsgFlags::MSG_NOSIGNAL,
            None,
        )?;
        sent += n;
    }
    Ok(())
}

/// Receives one small control frame (at most 4 KiB), with the descriptor attached to it if any.
fn recv_frame(sock: &UnixStream, deadline: Instant) -> std::io::Result<(Vec<u8>, Option<OwnedFd>)> {
    let decoder = Decoder::new(4096);
    let mut got = Vec::new();
    let mut fd = None;
    loop {
        if let Some((payload, used)) = decoder
            .decode(&got)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?
        {
            if used != got.len() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "bytes after a control frame",
                ));
            }
            return Ok((got[payload].to_vec(), fd));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        sock.set_read_timeout(Some(left))?;
        // Read no further than the frame (its prefix first, then its payload).
        let want = match got.first_chunk::<4>() {
            None => 4 - got.len(),
            Some(prefix) => (4 + u32::from_le_bytes(*prefix) as usize)
                .saturating_sub(got.len())
                .max(1),
        };
        let mut buf = vec![0u8; want.min(4096)];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )?;
        let n = msg.bytes;
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                for raw in fds {
                    // SAFETY: the kernel just installed `raw` in this process for this message;
                    // nothing else owns it.
                    let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                    if fd.is_none() {
                        fd = Some(owned);
                    }
                }
            }
        }
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        got.extend_from_slice(&buf[..n]);
    }
}

fn peer_allowed(sock: &UnixStream, peers: Peers) -> Result<(), String> {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    let cred = getsockopt(sock, PeerCredentials).map_err(|e| format!("SO_PEERCRED failed: {e}"))?;
    let me = nix::unistd::getuid().as_raw();
    let ok = match peers {
        Peers::Anyone => true,
        Peers::SameUser => cred.uid() == me,
        Peers::Uid(uid) => cred.uid() == me || cred.uid() == uid,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "peer pid {} runs as uid {}; this receiver accepts {peers:?} (uid {me})",
            cred.pid(),
            cred.uid()
        ))
    }
}

/// The receiving side of `auto:NAME`.
#[derive(Debug)]
pub(crate) struct AutoReceiver {
    pub(crate) ring: mpsc::Receiver,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    path: PathBuf,
}

impl Drop for AutoReceiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

pub(crate) fn bind(
    endpoint: &Endpoint,
    name: &str,
    options: &Options,
) -> Result<AutoReceiver, ConnectError> {
    let path = socket_path(name);
    crate::transport::replace_stale_socket(endpoint, &path)?;
    let listener = UnixListener::bind(&path).map_err(|e| ConnectError::io(endpoint, "bind", e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| ConnectError::io(endpoint, "set non-blocking", e))?;
    let capacity = options.shm_capacity;
    // A ring nobody else can open by name: only clients handed its descriptor.
    let ring = mpsc::Receiver::create(Location::memfd(format!("shmring-auto-{name}")), capacity)?;
    let memfd = ring
        .segment()
        .as_fd()
        .map(|fd| fd.try_clone_to_owned())
        .and_then(Result::ok);
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let stop = stop.clone();
        let endpoint = endpoint.clone();
        let options = options.clone();
        std::thread::Builder::new()
            .name(format!("shmring-auto-{name}"))
            .spawn(move || rendezvous(listener, memfd, &endpoint, &options, &stop))
            .map_err(|e| ConnectError::io(&endpoint_str(name), "spawn the rendezvous thread", e))?
    };
    Ok(AutoReceiver {
        ring,
        stop,
        thread: Some(thread),
        path,
    })
}

fn endpoint_str(name: &str) -> String {
    format!("auto:{name}")
}

/// The receiver's rendezvous thread: accepts clients, checks them, hands them the ring (or
/// keeps them on the socket and relays their frames into the ring).
fn rendezvous(
    listener: UnixListener,
    memfd: Option<OwnedFd>,
    endpoint: &Endpoint,
    options: &Options,
    stop: &AtomicBool,
) {
    // Frames of clients that stay on the socket, and one producer handle of the ring per such
    // client (attached before its offer, so the ring never looks sender-less while a client
    // is being set up or relayed).
    let mut relay: Option<(StreamReceiver, Vec<mpsc::Sender>)> = None;
    let mut buf = Vec::new();
    // Each client's handshake runs on its own short-lived thread, so a client that stalls
    // holds up nobody else; clients that stay on the socket come back here to be relayed.
    let (staying_tx, staying) = std::sync::mpsc::channel::<(Box<dyn Conn>, mpsc::Sender)>();
    while !stop.load(Ordering::Relaxed) {
        while let Ok((sock, _)) = listener.accept() {
            let fd = memfd.as_ref().and_then(|f| f.try_clone().ok());
            let (endpoint, options, staying_tx) =
                (endpoint.clone(), options.clone(), staying_tx.clone());
            let _ = std::thread::Builder::new()
                .name("shmring-auto-handshake".into())
                .spawn(move || {
                    if let Some(stay) = handshake(sock, fd, &endpoint, &options) {
                        let _ = staying_tx.send(stay);
                    }
                });
        }
        while let Ok((conn, guard)) = staying.try_recv() {
            let (rx, guards) = relay.get_or_insert_with(|| {
                let rx =
                    StreamReceiver::new(None, None, None, options.stream_max(), Expect::default());
                (rx, Vec::new())
            });
            rx.add_after_hello(conn);
            guards.push(guard);
        }
        match &mut relay {
            Some((rx, guards)) => match rx.recv(
                &mut buf,
                true,
                Some(Instant::now() + Duration::from_millis(10)),
            ) {
                Ok(()) => {
                    // Wait for room, but never past a stop request (the receiver is going).
                    while let Err(shmring::framed::SendTimeoutError::Timeout) =
                        guards[0].send_timeout(&buf, Duration::from_millis(10))
                    {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                    }
                }
                // Every relayed client is gone: their producer handles leave with them.
                Err(RecvTimeoutError::Disconnected) => relay = None,
                Err(_) => {}
            },
            None => {
                let _ = crate::stream::wait_fd(
                    &[listener.as_fd()],
                    nix::poll::PollFlags::POLLIN,
                    Some(Instant::now() + Duration::from_millis(50)),
                );
            }
        }
    }
}

/// Checks a new client and settles its transport; `Some(conn)` if it stays on the socket.
fn handshake(
    sock: UnixStream,
    memfd: Option<OwnedFd>,
    endpoint: &Endpoint,
    options: &Options,
) -> Option<(Box<dyn Conn>, mpsc::Sender)> {
    // A client that connects and then stalls must not hold up the next ones for long.
    let _ = sock.set_nonblocking(false);
    let _ = sock.set_read_timeout(Some(options.handshake_timeout));
    let _ = sock.set_write_timeout(Some(options.handshake_timeout));
    let deadline = Instant::now() + options.handshake_timeout;
    // The client's hello first (so that a refused client is not cut off mid-write and sees
    // the reason), then its credentials.
    let mut hello = vec![0u8; crate::codec::HELLO_FIXED];
    if std::io::Read::read_exact(&mut &sock, &mut hello).is_err()
        || Hello::decode(&hello).ok()?.is_none()
    {
        return None;
    }
    if let Err(reason) = peer_allowed(&sock, options.auto_peers) {
        log(endpoint, &format!("refused a client: {reason}"));
        let _ = send_frame(&sock, format!("refused {reason}").as_bytes(), None);
        return None;
    }
    // A producer handle of the ring for this client, attached before the offer: the ring
    // never looks sender-less while the client is being set up (it attaches its own before
    // answering `shm`) or relayed (this handle goes with its socket).
    let memfd = memfd?;
    let guard = mpsc::Sender::open(Location::Fd(memfd.try_clone().ok()?)).ok()?;
    send_frame(&sock, b"shm", Some(&memfd)).ok()?;
    drop(memfd);
    let (answer, _) = recv_frame(&sock, deadline).ok()?;
    if answer == b"shm" {
        log(endpoint, "a client upgraded to shared memory");
        return None; // done with this socket; the client is a producer of its own now
    }
    let reason =
        String::from_utf8_lossy(answer.strip_prefix(b"uds ").unwrap_or(&answer)).into_owned();
    log(
        endpoint,
        &format!("a client stays on the Unix socket: {reason}"),
    );
    let _ = sock.set_read_timeout(None);
    let _ = sock.set_write_timeout(None);
    sock.set_nonblocking(true).ok()?;
    Some((Box::new(sock), guard))
}

/// Connects to `auto:NAME`: the ring if both sides can, else the socket.
pub(crate) fn connect(
    endpoint: &Endpoint,
    name: &str,
    options: &Options,
) -> Result<(crate::SenderInner, Selection), ConnectError> {
    let path = socket_path(name);
    let sock = UnixStream::connect(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ConnectError::NotFound {
            endpoint: endpoint.to_string(),
        },
        std::io::ErrorKind::ConnectionRefused => ConnectError::NoReceiver {
            endpoint: endpoint.to_string(),
            reason: "a rendezvous socket nobody listens on".into(),
        },
        _ => ConnectError::io(endpoint, "connect", e),
    })?;
    let deadline = Instant::now() + options.handshake_timeout;
    let mut hello = Vec::new();
    Hello {
        flags: 0,
        max_frame: options.stream_max(),
        fingerprint: 0,
        description: String::new(),
    }
    .encode(&mut hello);
    // A receiver that refuses this process may close before the hello is all written: its
    // reason still waits to be read.
    let sent = crate::stream::write_all_conn(&mut &sock, true, &hello);
    let offer = recv_frame(&sock, deadline);
    if let (Err(e), Err(_)) = (&sent, &offer) {
        return Err(ConnectError::io(
            endpoint,
            "send the hello",
            e.kind().into(),
        ));
    }
    let (offer, fd) = offer.map_err(|e| {
        if e.kind() == std::io::ErrorKind::TimedOut || e.kind() == std::io::ErrorKind::WouldBlock {
            ConnectError::HandshakeTimeout {
                endpoint: endpoint.to_string(),
                seconds: options.handshake_timeout.as_secs().max(1),
            }
        } else {
            ConnectError::io(endpoint, "read the receiver's offer", e)
        }
    })?;
    if let Some(reason) = offer.strip_prefix(b"refused ") {
        return Err(ConnectError::PeerRefused {
            endpoint: endpoint.to_string(),
            reason: String::from_utf8_lossy(reason).into_owned(),
        });
    }
    let not_wanted =
        options.auto_no_shm || std::env::var_os("SHMRING_IPC_NO_SHM").is_some_and(|v| v == "1");
    let reason = if let Some(reason) = offer.strip_prefix(b"uds ") {
        format!(
            "the receiver offers no shared memory: {}",
            String::from_utf8_lossy(reason)
        )
    } else if offer != b"shm" {
        return Err(ConnectError::Handshake {
            endpoint: endpoint.to_string(),
            source: crate::codec::FrameError::BadHello {
                field: "offer",
                value: offer.len() as u64,
            },
        });
    } else if not_wanted {
        "asked not to use shared memory (Options::auto_no_shm or SHMRING_IPC_NO_SHM=1)".to_owned()
    } else {
        match fd.map(|fd| mpsc::Sender::open(Location::Fd(fd))) {
            Some(Ok(tx)) => {
                send_frame(&sock, b"shm", None)
                    .map_err(|e| ConnectError::io(endpoint, "answer the offer", e))?;
                let selection = Selection {
                    transport: "shm",
                    reason: None,
                };
                log(endpoint, "using shared memory");
                return Ok((crate::SenderInner::Shm(tx), selection));
            }
            Some(Err(e)) => format!("could not map the receiver's ring: {e}"),
            None => "the offer came without a descriptor".to_owned(),
        }
    };
    send_frame(&sock, format!("uds {reason}").as_bytes(), None)
        .map_err(|e| ConnectError::io(endpoint, "answer the offer", e))?;
    log(endpoint, &format!("staying on the Unix socket: {reason}"));
    sock.set_read_timeout(None)
        .map_err(|e| ConnectError::io(endpoint, "socket options", e))?;
    sock.set_nonblocking(true)
        .map_err(|e| ConnectError::io(endpoint, "set non-blocking", e))?;
    let tx = StreamSender::new(Box::new(sock), options.stream_max(), false);
    Ok((
        crate::SenderInner::Stream(tx),
        Selection {
            transport: "uds",
            reason: Some(reason),
        },
    ))
}
