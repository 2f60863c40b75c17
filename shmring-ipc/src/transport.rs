//! Binding and connecting the stream transports: Unix and TCP sockets, FIFOs.

use std::fs::{File, OpenOptions};
use std::io;
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::codec::Hello;
use crate::stream::{Conn, Expect, Listen, StreamReceiver, StreamSender, set_nonblocking, wait_fd};
use crate::{ConnectError, Endpoint, Options};

/// Writes this side's hello (within the handshake timeout).
pub(crate) fn send_hello(
    conn: &mut dyn Conn,
    ours: &Hello,
    endpoint: &Endpoint,
    timeout: Duration,
) -> Result<(), ConnectError> {
    let deadline = Instant::now() + timeout;
    let mut bytes = Vec::new();
    ours.encode(&mut bytes);
    let mut written = 0;
    let socket = crate::stream::is_socket(conn.as_fd());
    while written < bytes.len() {
        match crate::stream::write_conn(conn, socket, &bytes[written..]) {
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let events = nix::poll::PollFlags::POLLOUT;
                wait_until(conn.as_fd(), events, deadline, endpoint, timeout)?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ConnectError::io(endpoint, "send the hello", e)),
        }
    }
    Ok(())
}

fn wait_until(
    fd: BorrowedFd<'_>,
    events: nix::poll::PollFlags,
    deadline: Instant,
    endpoint: &Endpoint,
    timeout: Duration,
) -> Result<(), ConnectError> {
    match wait_fd(&[fd], events, Some(deadline)) {
        Ok(true) => Ok(()),
        Ok(false) => Err(ConnectError::HandshakeTimeout {
            endpoint: endpoint.to_string(),
            seconds: timeout.as_secs().max(1),
        }),
        Err(e) => Err(ConnectError::io(endpoint, "poll", e)),
    }
}

// ---------------------------------------------------------------- sockets

/// A listening Unix socket that removes its file when dropped.
#[derive(Debug)]
struct UdsListener {
    listener: UnixListener,
    path: PathBuf,
    hello: Vec<u8>,
}

impl Drop for UdsListener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl AsFd for UdsListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }
}

impl Listen for UdsListener {
    fn accept_one(&mut self) -> io::Result<Option<Box<dyn Conn>>> {
        accept(self.listener.accept().map(|(s, _)| s), &self.hello)
    }
}

#[derive(Debug)]
struct TcpListen {
    listener: TcpListener,
    hello: Vec<u8>,
}

impl AsFd for TcpListen {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }
}

impl Listen for TcpListen {
    fn accept_one(&mut self) -> io::Result<Option<Box<dyn Conn>>> {
        let accepted = self.listener.accept().map(|(s, _)| s);
        if let Ok(s) = &accepted {
            s.set_nodelay(true)?;
        }
        accept(accepted, &self.hello)
    }
}

/// Finishes accepting a socket: non-blocking, our hello written (a fresh socket's buffer
/// always has room for it).
///
/// A sender may have sent everything and closed before it is accepted: writing the hello
/// then fails (`EPIPE`, `ECONNRESET`), but what the sender committed is still in the socket,
/// so the connection is kept and read to its end.
fn accept<S: Conn + 'static>(
    accepted: io::Result<S>,
    hello: &[u8],
) -> io::Result<Option<Box<dyn Conn>>> {
    let mut s = match accepted {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
        Err(e) => return Err(e),
    };
    match crate::stream::write_all_conn(&mut s, true, hello) {
        Ok(()) => {}
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ) => {}
        Err(e) => return Err(e),
    }
    set_nonblocking(s.as_fd(), true)?;
    Ok(Some(Box::new(s)))
}

pub(crate) fn our_hello(options: &Options, expect: &Expect) -> Hello {
    Hello {
        flags: 0,
        max_frame: options.stream_max(),
        fingerprint: expect.fingerprint,
        description: expect.description.clone(),
    }
}

/// Removes a socket file nobody listens on (left by a dead receiver); one a live receiver
/// listens on, or another kind of file, is [`ConnectError::InUse`].
pub(crate) fn replace_stale_socket(endpoint: &Endpoint, path: &Path) -> Result<(), ConnectError> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(ConnectError::InUse {
                endpoint: endpoint.to_string(),
            });
        }
        match UnixStream::connect(path) {
            Ok(_) => {
                return Err(ConnectError::InUse {
                    endpoint: endpoint.to_string(),
                });
            }
            Err(_) => std::fs::remove_file(path)
                .map_err(|e| ConnectError::io(endpoint, "remove the stale socket file", e))?,
        }
    }
    Ok(())
}

/// A listening Unix socket (a stale socket file replaced) that writes this side's hello to
/// every connection it accepts.
pub(crate) fn uds_listener(
    endpoint: &Endpoint,
    path: &Path,
    options: &Options,
    expect: &Expect,
) -> Result<Box<dyn Listen>, ConnectError> {
    uds_listen(endpoint, path, options, &our_hello(options, expect))
}

/// A listening Unix socket (as [`uds_listener`]) that writes `hello` to every connection.
pub(crate) fn uds_listen(
    endpoint: &Endpoint,
    path: &Path,
    options: &Options,
    hello: &Hello,
) -> Result<Box<dyn Listen>, ConnectError> {
    replace_stale_socket(endpoint, path)?;
    let listener = UnixListener::bind(path).map_err(|e| ConnectError::io(endpoint, "bind", e))?;
    // Who may connect is decided by the socket file's permissions.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(options.mode))
        .map_err(|e| ConnectError::io(endpoint, "set the socket's permissions", e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| ConnectError::io(endpoint, "set non-blocking", e))?;
    let mut bytes = Vec::new();
    hello.encode(&mut bytes);
    Ok(Box::new(UdsListener {
        listener,
        path: path.to_owned(),
        hello: bytes,
    }))
}

/// A listening TCP socket, with the address it listens on (port 0 picks a free port).
pub(crate) fn tcp_listener(
    endpoint: &Endpoint,
    addr: &str,
    options: &Options,
    expect: &Expect,
) -> Result<(Box<dyn Listen>, std::net::SocketAddr), ConnectError> {
    tcp_listen(endpoint, addr, &our_hello(options, expect))
}

/// A listening TCP socket (as [`tcp_listener`]) that writes `hello` to every connection.
pub(crate) fn tcp_listen(
    endpoint: &Endpoint,
    addr: &str,
    hello: &Hello,
) -> Result<(Box<dyn Listen>, std::net::SocketAddr), ConnectError> {
    let listener = TcpListener::bind(addr).map_err(|e| {
        if e.kind() == io::ErrorKind::AddrInUse {
            ConnectError::InUse {
                endpoint: endpoint.to_string(),
            }
        } else {
            ConnectError::io(endpoint, "bind", e)
        }
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| ConnectError::io(endpoint, "set non-blocking", e))?;
    let local = listener
        .local_addr()
        .map_err(|e| ConnectError::io(endpoint, "read the bound address", e))?;
    let mut bytes = Vec::new();
    hello.encode(&mut bytes);
    Ok((
        Box::new(TcpListen {
            listener,
            hello: bytes,
        }),
        local,
    ))
}

/// Binds a Unix socket receiver.
pub(crate) fn bind_uds(
    endpoint: &Endpoint,
    path: &Path,
    options: &Options,
    expect: Expect,
) -> Result<StreamReceiver, ConnectError> {
    let listener = uds_listener(endpoint, path, options, &expect)?;
    Ok(StreamReceiver::new(
        Some(listener),
        None,
        None,
        options.stream_max(),
        expect,
    ))
}

/// Binds a TCP receiver; returns it with the address it listens on.
pub(crate) fn bind_tcp(
    endpoint: &Endpoint,
    addr: &str,
    options: &Options,
    expect: Expect,
) -> Result<(StreamReceiver, std::net::SocketAddr), ConnectError> {
    let (listener, local) = tcp_listener(endpoint, addr, options, &expect)?;
    let rx = StreamReceiver::new(Some(listener), None, None, options.stream_max(), expect);
    Ok((rx, local))
}

/// A connected Unix socket, non-blocking, this side's hello written.
pub(crate) fn uds_stream(
    endpoint: &Endpoint,
    path: &Path,
    options: &Options,
    expect: &Expect,
) -> Result<Box<dyn Conn>, ConnectError> {
    uds_connect(endpoint, path, options, &our_hello(options, expect))
}

/// A connected Unix socket, non-blocking, `hello` written.
pub(crate) fn uds_connect(
    endpoint: &Endpoint,
    path: &Path,
    options: &Options,
    hello: &Hello,
) -> Result<Box<dyn Conn>, ConnectError> {
    let stream = UnixStream::connect(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => ConnectError::NotFound {
            endpoint: endpoint.to_string(),
        },
        io::ErrorKind::ConnectionRefused => ConnectError::NoReceiver {
            endpoint: endpoint.to_string(),
            reason: "a socket file nobody listens on (left by a receiver that died?)".into(),
        },
        _ => ConnectError::io(endpoint, "connect", e),
    })?;
    ready(Box::new(stream), endpoint, options, hello)
}

/// A connected TCP socket (`TCP_NODELAY`), non-blocking, this side's hello written.
pub(crate) fn tcp_stream(
    endpoint: &Endpoint,
    addr: &str,
    options: &Options,
    expect: &Expect,
) -> Result<Box<dyn Conn>, ConnectError> {
    tcp_connect(endpoint, addr, options, &our_hello(options, expect))
}

/// A connected TCP socket (`TCP_NODELAY`), non-blocking, `hello` written.
pub(crate) fn tcp_connect(
    endpoint: &Endpoint,
    addr: &str,
    options: &Options,
    hello: &Hello,
) -> Result<Box<dyn Conn>, ConnectError> {
    let addrs: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|e| ConnectError::io(endpoint, "resolve the address", e))?
        .collect();
    let mut last = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, options.handshake_timeout) {
            Ok(s) => {
                s.set_nodelay(true)
                    .map_err(|e| ConnectError::io(endpoint, "set TCP_NODELAY", e))?;
                return ready(Box::new(s), endpoint, options, hello);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) if e.kind() == io::ErrorKind::ConnectionRefused => ConnectError::NoReceiver {
            endpoint: endpoint.to_string(),
            reason: "connection refused".into(),
        },
        Some(e) => ConnectError::io(endpoint, "connect", e),
        None => ConnectError::NotFound {
            endpoint: endpoint.to_string(),
        },
    })
}

fn ready(
    mut conn: Box<dyn Conn>,
    endpoint: &Endpoint,
    options: &Options,
    hello: &Hello,
) -> Result<Box<dyn Conn>, ConnectError> {
    set_nonblocking(conn.as_fd(), true)
        .map_err(|e| ConnectError::io(endpoint, "set non-blocking", e))?;
    send_hello(&mut *conn, hello, endpoint, options.handshake_timeout)?;
    Ok(conn)
}

// ---------------------------------------------------------------- FIFOs

/// Binds a FIFO receiver: creates the FIFO (an existing FIFO is reused; another kind of file
/// is [`ConnectError::InUse`]) and opens it for reading, plus a write end of its own until
/// the first sender arrives.
pub(crate) fn bind_fifo(
    endpoint: &Endpoint,
    path: &Path,
    options: &Options,
    expect: Expect,
) -> Result<StreamReceiver, ConnectError> {
    let mut created = false;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_fifo() => {}
        Ok(_) => {
            return Err(ConnectError::InUse {
                endpoint: endpoint.to_string(),
            });
        }
        Err(_) => {
            nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600))
                .map_err(|e| ConnectError::io(endpoint, "mkfifo", e.into()))?;
            // mkfifo applies the umask; the mode asked for is set exactly.
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(options.mode))
                .map_err(|e| ConnectError::io(endpoint, "set the FIFO's permissions", e))?;
            created = true;
        }
    }
    let read = OpenOptions::new()
        .read(true)
        .custom_flags(libc_nonblock())
        .open(path)
        .map_err(|e| ConnectError::io(endpoint, "open the FIFO for reading", e))?;
    let keepalive = OpenOptions::new()
        .write(true)
        .custom_flags(libc_nonblock())
        .open(path)
        .map_err(|e| ConnectError::io(endpoint, "open the FIFO's keep-alive end", e))?;
    let mut rx = StreamReceiver::new(
        None,
        Some(Box::new(read)),
        Some(Box::new(keepalive)),
        options.stream_max(),
        expect,
    );
    rx.remove_on_drop = created.then(|| path.to_owned());
    Ok(rx)
}

fn libc_nonblock() -> i32 {
    nix::fcntl::OFlag::O_NONBLOCK.bits()
}

pub(crate) fn connect_fifo(
    endpoint: &Endpoint,
    path: &Path,
    options: &Options,
    expect: &Expect,
) -> Result<StreamSender, ConnectError> {
    let file: File = OpenOptions::new()
        .write(true)
        .custom_flags(libc_nonblock())
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc_enoent) if libc_enoent == nix::errno::Errno::ENOENT as i32 => {
                ConnectError::NotFound {
                    endpoint: endpoint.to_string(),
                }
            }
            Some(enxio) if enxio == nix::errno::Errno::ENXIO as i32 => ConnectError::NoReceiver {
                endpoint: endpoint.to_string(),
                reason: "the FIFO exists but nobody reads it".into(),
            },
            _ => ConnectError::io(endpoint, "open the FIFO for writing", e),
        })?;
    let mut conn: Box<dyn Conn> = Box::new(file);
    let hello = our_hello(options, expect);
    send_hello(&mut *conn, &hello, endpoint, options.handshake_timeout)?;
    Ok(StreamSender::new(conn, options.stream_max(), false))
}
