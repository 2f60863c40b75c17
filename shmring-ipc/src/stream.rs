//! The stream transports (`uds:`, `tcp:`, `fifo:`, `pipe`): one sender connection, and a
//! receiver that reads frames from every connected sender, over non-blocking descriptors and
//! `poll(2)`, so that blocking, try, timeout and deadline calls all have one implementation.

use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};

use crate::codec::{Decoder, FrameError, Hello, LENGTH_PREFIX, encode_frame};
use crate::{RecvTimeoutError, SendError};

/// A connected byte stream: a Unix or TCP socket, or one end of a pipe or FIFO.
pub(crate) trait Conn: Read + Write + AsFd + Send + fmt::Debug {}

impl<T: Read + Write + AsFd + Send + fmt::Debug> Conn for T {}

/// Whether `fd` is a socket (a write to it can then ask for no `SIGPIPE`).
pub(crate) fn is_socket(fd: BorrowedFd<'_>) -> bool {
    use nix::sys::stat::SFlag;
    nix::sys::stat::fstat(fd)
        .is_ok_and(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFSOCK)
}

/// One write to `conn` that never raises `SIGPIPE` on a socket whose peer is gone
/// (`send(2)` with `MSG_NOSIGNAL`: `EPIPE` instead), so a host process that keeps the
/// default disposition of `SIGPIPE` is not killed by a vanished peer. std's `UnixStream` and
/// `TcpStream` already write so; a socket duplicated into a `File` (the duplex writer) would
/// not. Pipes and FIFOs (`socket` false) have no such flag: there only the process's
/// disposition helps (Rust programs ignore `SIGPIPE`; docs/reliability.md).
pub(crate) fn write_conn(
    conn: &mut (impl Write + AsFd + ?Sized),
    socket: bool,
    buf: &[u8],
) -> io::Result<usize> {
    if socket {
        use std::os::fd::AsRawFd;
        nix::sys::socket::send(
            conn.as_fd().as_raw_fd(),
            buf,
            nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
        )
        .map_err(io::Error::from)
    } else {
        conn.write(buf)
    }
}

/// All of `buf` through [`write_conn`] (a blocking descriptor, or one with room).
pub(crate) fn write_all_conn(
    conn: &mut (impl Write + AsFd + ?Sized),
    socket: bool,
    mut buf: &[u8],
) -> io::Result<()> {
    while !buf.is_empty() {
        match write_conn(conn, socket, buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `POLLRDHUP` (Linux: the peer shut down its end), which nix does not name.
const POLLRDHUP: PollFlags = PollFlags::from_bits_retain(0x2000);

/// How long dropping a sender waits for the receiver to take its committed bytes.
pub const DROP_FLUSH: Duration = Duration::from_secs(10);
/// Committed bytes a sender holds before `send` waits for the receiver.
const HIGH_WATER: usize = 256 * 1024;
/// Non-blocking read attempts a waiting receiver makes before it sleeps in `poll(2)`.
const SPIN_READS: u32 = 8;
/// A connection's initial read buffer (it grows to the largest frame read).
const INITIAL_BUF: usize = 4096;

/// The `poll(2)` timeout that ends at `deadline` (`None`: none), rounded up so a wait never
/// ends a little early and spins.
fn poll_timeout(deadline: Option<Instant>) -> PollTimeout {
    match deadline {
        None => PollTimeout::NONE,
        Some(d) => {
            let left = d.saturating_duration_since(Instant::now());
            let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128);
            PollTimeout::try_from(ms as i32).unwrap_or(PollTimeout::MAX)
        }
    }
}

/// Makes `fd` non-blocking (`on`) or blocking.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = OFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFL)?);
    let flags = if on {
        flags | OFlag::O_NONBLOCK
    } else {
        flags - OFlag::O_NONBLOCK
    };
    fcntl(fd, FcntlArg::F_SETFL(flags))?;
    Ok(())
}

/// Waits until `fd` shows `events` (or an error or hang-up), or `deadline` passes; `Ok(false)`
/// on timeout. `None` waits for ever.
pub(crate) fn wait_fd(
    fds: &[BorrowedFd<'_>],
    events: PollFlags,
    deadline: Option<Instant>,
) -> io::Result<bool> {
    loop {
        let timeout = poll_timeout(deadline);
        let mut polls: Vec<PollFd<'_>> = fds.iter().map(|fd| PollFd::new(*fd, events)).collect();
        match poll(&mut polls, timeout) {
            Ok(0) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(false);
                }
            }
            Ok(_) => return Ok(true),
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// The sending end of a stream connection.
#[derive(Debug)]
pub(crate) struct StreamSender {
    conn: Box<dyn Conn>,
    /// `conn` is a socket: writes ask for no `SIGPIPE` ([`write_conn`]).
    socket: bool,
    /// Committed bytes not yet written: whole frames, the first possibly partly written.
    out: Vec<u8>,
    written: usize,
    /// The largest payload the receiver accepts (this side's setting until the receiver's
    /// hello arrives).
    pub(crate) peer_max: u32,
    /// The receiver's hello as far as read (two-way streams; `None` once complete or on
    /// one-way streams).
    peer_hello: Option<Vec<u8>>,
    /// The receiver's hello, once read.
    pub(crate) peer: Option<Hello>,
    broken: bool,
    /// The descriptor is in blocking mode (for `send` without a deadline).
    blocking: bool,
}

impl StreamSender {
    /// A sender over `conn` (already non-blocking, its hello written). On a two-way stream
    /// the receiver's hello is read as it arrives (the receiver writes it when it accepts the
    /// connection, which may be after this side's first messages).
    pub(crate) fn new(conn: Box<dyn Conn>, peer_max: u32, two_way: bool) -> StreamSender {
        StreamSender {
            socket: is_socket(conn.as_fd()),
            conn,
            out: Vec::new(),
            written: 0,
            peer_max,
            peer_hello: two_way.then(Vec::new),
            peer: None,
            broken: false,
            blocking: false,
        }
    }

    /// Switches the descriptor between blocking and non-blocking writes (one `fcntl` per
    /// change of mode): a plain `send` writes like the raw mechanism, in one blocking call.
    fn set_blocking(&mut self, on: bool) -> Result<(), SendError> {
        if self.blocking == on {
            return Ok(());
        }
        match set_nonblocking(self.conn.as_fd(), !on) {
            Ok(()) => {
                self.blocking = on;
                Ok(())
            }
            Err(_) => Err(self.broke()),
        }
    }

    /// Reads whatever of the receiver's hello has arrived; applies it once complete.
    fn poll_hello(&mut self) -> Result<(), SendError> {
        let Some(got) = &mut self.peer_hello else {
            return Ok(());
        };
        let mut chunk = [0u8; 256];
        loop {
            match Hello::decode(got) {
                Ok(Some((hello, _))) => {
                    self.peer_max = hello.max_frame;
                    self.peer_hello = None;
                    self.peer = Some(hello);
                    return Ok(());
                }
                Ok(None) => {}
                Err(_) => return Err(self.broke()), // not a shmring-ipc receiver
            }
            let want = hello_missing(got).min(chunk.len());
            match self.conn.read(&mut chunk[..want]) {
                Ok(0) => return Err(self.broke()),
                Ok(n) => got.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(self.broke()),
            }
        }
    }

    /// Waits until the receiver's hello has arrived (two-way streams; the receiver writes it
    /// when it accepts the connection), or `deadline`.
    pub(crate) fn await_hello(&mut self, deadline: Instant) -> Result<Option<&Hello>, SendError> {
        while self.peer_hello.is_some() {
            self.set_blocking(false)?;
            self.poll_hello()?;
            if self.peer_hello.is_some() {
                match wait_fd(&[self.conn.as_fd()], PollFlags::POLLIN, Some(deadline)) {
                    Ok(true) => {}
                    Ok(false) => return Err(SendError::Timeout),
                    Err(_) => return Err(self.broke()),
                }
            }
        }
        Ok(self.peer.as_ref())
    }

    /// Writes committed bytes without waiting: `Ok(true)` once none are left.
    #[cfg(feature = "tokio")]
    pub(crate) fn try_flush(&mut self) -> Result<bool, SendError> {
        if self.broken {
            return Err(SendError::Disconnected);
        }
        self.set_blocking(false)?;
        self.flush_some()?;
        Ok(self.pending() == 0)
    }

    /// The connection's descriptor: writable while the stream takes bytes.
    pub(crate) fn readiness(&self) -> BorrowedFd<'_> {
        self.conn.as_fd()
    }

    fn pending(&self) -> usize {
        self.out.len() - self.written
    }

    /// Writes committed bytes until done or the stream is full.
    fn flush_some(&mut self) -> Result<(), SendError> {
        while self.written < self.out.len() {
            match write_conn(&mut *self.conn, self.socket, &self.out[self.written..]) {
                Ok(0) => return Err(self.broke()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(self.broke()),
            }
        }
        if self.written == self.out.len() {
            self.out.clear();
            self.written = 0;
        } else if self.written > self.out.len() / 2 {
            self.out.drain(..self.written);
            self.written = 0;
        }
        Ok(())
    }

    fn broke(&mut self) -> SendError {
        self.broken = true;
        self.out.clear();
        self.written = 0;
        SendError::Disconnected
    }

    /// Sends one frame.
    ///
    /// * `wait` false (try): only when no committed bytes are waiting; `Full` unless the
    ///   stream takes at least the frame's first byte now.
    /// * `wait` with a `deadline`: waits (until the deadline, else `Timeout`) while more than
    ///   a high-water mark of committed bytes wait, then commits the frame behind them.
    /// * `wait` without a deadline: as above, then returns once the stream has the whole frame.
    ///
    /// A committed frame is completed by later calls, `flush` or drop.
    pub(crate) fn send(
        &mut self,
        msg: &[u8],
        wait: bool,
        deadline: Option<Instant>,
    ) -> Result<(), SendError> {
        if self.broken {
            return Err(SendError::Disconnected);
        }
        if self.peer_hello.is_some() {
            // The receiver's hello is read without blocking.
            self.set_blocking(false)?;
            self.poll_hello()?;
        }
        if !(wait && deadline.is_none()) {
            self.set_blocking(false)?;
        }
        let max = self.peer_max as usize;
        if msg.len() > max {
            return Err(SendError::TooLarge {
                len: msg.len(),
                max,
            });
        }
        if wait && deadline.is_none() {
            self.set_blocking(true)?;
        }
        self.flush_some()?;
        let limit = if wait { HIGH_WATER } else { 0 };
        while self.pending() > limit {
            if !wait {
                return Err(SendError::Full);
            }
            self.wait_writable(deadline)?;
            self.flush_some()?;
        }
        let frame = LENGTH_PREFIX + msg.len();
        encode_frame(msg, &mut self.out);
        self.flush_some()?;
        if !wait {
            if self.pending() == frame {
                self.out.clear(); // the stream took nothing: not committed
                return Err(SendError::Full);
            }
            return Ok(());
        }
        if deadline.is_none() {
            return self.flush_blocking(None);
        }
        Ok(())
    }

    fn wait_writable(&mut self, deadline: Option<Instant>) -> Result<(), SendError> {
        match wait_fd(&[self.conn.as_fd()], PollFlags::POLLOUT, deadline) {
            Ok(true) => Ok(()),
            Ok(false) => Err(SendError::Timeout),
            Err(_) => Err(self.broke()),
        }
    }

    /// Writes every committed byte, waiting until `deadline` at most.
    pub(crate) fn flush_blocking(&mut self, deadline: Option<Instant>) -> Result<(), SendError> {
        if deadline.is_some() {
            self.set_blocking(false)?;
        }
        self.flush_some()?;
        while self.pending() > 0 {
            self.wait_writable(deadline)?;
            self.flush_some()?;
        }
        Ok(())
    }

    /// Whether the receiver is gone (the stream is broken or hung up).
    pub(crate) fn is_disconnected(&mut self) -> bool {
        if self.broken {
            return true;
        }
        if self.peer_hello.is_some()
            && (self.set_blocking(false).is_err() || self.poll_hello().is_err())
        {
            return true;
        }
        let mut fds = [PollFd::new(
            self.conn.as_fd(),
            PollFlags::POLLOUT | POLLRDHUP,
        )];
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(_) => fds[0]
                .revents()
                .is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | POLLRDHUP)),
            Err(_) => true,
        }
    }
}

impl Drop for StreamSender {
    /// Completes committed frames (waiting up to [`DROP_FLUSH`] for the receiver to take
    /// them).
    fn drop(&mut self) {
        if !self.broken && self.pending() > 0 {
            let _ = self.flush_blocking(Some(Instant::now() + DROP_FLUSH));
        }
    }
}

/// Bytes still missing from a hello being read (at least 1).
pub(crate) fn hello_missing(got: &[u8]) -> usize {
    use crate::codec::HELLO_FIXED;
    if got.len() < HELLO_FIXED {
        return HELLO_FIXED - got.len();
    }
    let len = usize::from(u16::from_le_bytes([got[24], got[25]]));
    (HELLO_FIXED + len).saturating_sub(got.len()).max(1)
}

/// What the receiver expects of a sender's hello.
#[derive(Clone, Debug, Default)]
pub(crate) struct Expect {
    pub fingerprint: u64,
    pub description: String,
    /// The typed payload's layout (`None`: untyped bytes).
    pub layout: Option<shmring::TypeLayout>,
}

impl Expect {
    /// What a typed channel of `T` announces.
    pub(crate) fn of<T: shmring::ShmType>() -> Expect {
        let layout = T::layout();
        Expect {
            fingerprint: layout.fingerprint(),
            description: layout.to_string(),
            layout: Some(layout),
        }
    }

    pub(crate) fn describe(&self) -> String {
        describe(self.fingerprint, &self.description)
    }
}

/// A payload type as error messages name it.
pub(crate) fn describe(fingerprint: u64, description: &str) -> String {
    if fingerprint == 0 {
        "untyped byte messages".into()
    } else {
        description.to_owned()
    }
}

/// One connection of a receiver.
#[derive(Debug)]
struct Incoming {
    conn: Box<dyn Conn>,
    /// Bytes read: `buf[start..end]` not yet decoded.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    hello: bool,
    eof: bool,
    /// The descriptor is in blocking mode (a lone pipe or FIFO read without a deadline).
    blocking: bool,
    /// The size of the last frame taken, prefix included (the next read's guess).
    last: usize,
}

impl Incoming {
    fn new(conn: Box<dyn Conn>) -> Incoming {
        Incoming {
            conn,
            buf: vec![0; INITIAL_BUF],
            start: 0,
            end: 0,
            hello: false,
            eof: false,
            blocking: false,
            last: 0,
        }
    }

    /// Switches the descriptor between blocking and non-blocking reads (one `fcntl` per
    /// change of mode).
    fn set_blocking(&mut self, on: bool) -> io::Result<()> {
        if self.blocking != on {
            set_nonblocking(self.conn.as_fd(), !on)?;
            self.blocking = on;
        }
        Ok(())
    }

    /// How many bytes the next read asks for: what completes the hello or frame at the
    /// front of the buffer; with nothing of a frame buffered, as much as the last frame took
    /// (at least a length prefix); 0 once a whole frame (or something the decoder rejects)
    /// is buffered. So a stream holding many frames is read one frame per system call, as a
    /// raw reader of whole messages reads it. (Reading as much as possible empties the
    /// stream every time, and a sender writing into an empty pipe pays for a wake-up and a
    /// fresh buffer on every write: measured, a FIFO transfer was 15–25% slower.)
    fn want(&self, max: u32) -> usize {
        let mut bytes = &self.buf[self.start..self.end];
        // Hellos not yet taken: this connection's first, or the next FIFO senders'.
        let mut hello = self.hello;
        while !hello || bytes.starts_with(&crate::codec::MAGIC[..LENGTH_PREFIX]) {
            match Hello::decode(bytes) {
                Ok(Some((_, used))) => bytes = &bytes[used..],
                Ok(None) => return hello_missing(bytes),
                Err(_) => return 0,
            }
            hello = true;
        }
        let Some(prefix) = bytes.first_chunk::<LENGTH_PREFIX>() else {
            return self.last.max(LENGTH_PREFIX) - bytes.len();
        };
        let len = u32::from_le_bytes(*prefix);
        if len > max {
            return 0; // the decoder reports the oversized frame
        }
        (LENGTH_PREFIX + len as usize).saturating_sub(bytes.len())
    }

    /// Reads until a whole frame is buffered or the stream has nothing more now (each read
    /// asks for [`Incoming::want`] bytes). On a blocking descriptor, waits for the first
    /// bytes.
    fn read_some(&mut self, max: u32) -> io::Result<()> {
        loop {
            let want = self.want(max);
            if want == 0 || self.eof {
                return Ok(());
            }
            if self.start == self.end {
                self.start = 0;
                self.end = 0;
            } else if self.buf.len() - self.end < want && self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end + want > self.buf.len() {
                self.buf.resize(self.end + want, 0);
            }
            match self.conn.read(&mut self.buf[self.end..self.end + want]) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.end += n;
                    if n < want {
                        return Ok(()); // the stream is drained for now
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => self.eof = true,
                Err(e) => return Err(e),
            }
        }
    }
}

/// A source of new connections (a listening socket).
pub(crate) trait Listen: AsFd + Send + fmt::Debug {
    /// Accepts one pending connection, if any (non-blocking), ready for use (non-blocking,
    /// this side's hello written).
    fn accept_one(&mut self) -> io::Result<Option<Box<dyn Conn>>>;
}

/// The receiving end: frames from every connected sender, round robin.
#[derive(Debug)]
pub(crate) struct StreamReceiver {
    listener: Option<Box<dyn Listen>>,
    incoming: Vec<Incoming>,
    decoder: Decoder,
    expect: Expect,
    next: usize,
    /// Whether a sender has ever said hello (before that, no sender is not "disconnected").
    ever: bool,
    /// A FIFO's own write end, kept open until the first sender's hello (so the read end does
    /// not report end-of-file before anyone connected).
    keepalive: Option<Box<dyn Conn>>,
    /// Why the last connection that broke the protocol was closed.
    pub(crate) error: Option<FrameError>,
    /// A file this receiver created and removes when dropped (a FIFO).
    pub(crate) remove_on_drop: Option<std::path::PathBuf>,
    /// The listener may have connections to accept (poll said so, or not asked yet).
    check_listener: bool,
    /// Which connections the last `poll(2)` found readable (kept to reuse its allocation).
    ready: Vec<bool>,
    /// Keep the FIFO's own write end for good: senders come and go (a duplex server's
    /// control FIFO), and the receiver never reports `Disconnected`.
    pub(crate) persistent: bool,
    /// Once asked for a readiness descriptor: an epoll set of the listener and every
    /// connection, kept up to date as they come and go.
    epoll: Option<Epoll>,
    /// The largest payload the peer accepts, from the last hello read: on a duplex
    /// connection, the limit for this side's replies.
    pub(crate) peer_max: Option<u32>,
}

impl Drop for StreamReceiver {
    fn drop(&mut self) {
        if let Some(path) = &self.remove_on_drop {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl StreamReceiver {
    pub(crate) fn new(
        listener: Option<Box<dyn Listen>>,
        initial: Option<Box<dyn Conn>>,
        keepalive: Option<Box<dyn Conn>>,
        max: u32,
        expect: Expect,
    ) -> StreamReceiver {
        StreamReceiver {
            listener,
            incoming: initial.into_iter().map(Incoming::new).collect(),
            decoder: Decoder::new(max),
            expect,
            next: 0,
            ever: false,
            keepalive,
            error: None,
            remove_on_drop: None,
            check_listener: true,
            ready: Vec::new(),
            persistent: false,
            epoll: None,
            peer_max: None,
        }
    }

    /// A descriptor that polls readable when a receive may find something: an epoll set of
    /// the listener and every connection (created on first use, kept up to date).
    pub(crate) fn readiness(&mut self) -> io::Result<BorrowedFd<'_>> {
        if self.epoll.is_none() {
            let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
            for fd in self
                .listener
                .iter()
                .map(|l| l.as_fd())
                .chain(self.incoming.iter().map(|c| c.conn.as_fd()))
            {
                epoll.add(fd, EpollEvent::new(EpollFlags::EPOLLIN, 0))?;
            }
            self.epoll = Some(epoll);
        }
        Ok(self
            .epoll
            .as_ref()
            .map(|e| e.0.as_fd())
            .expect("just created"))
    }

    /// Adds a new connection (watched by the readiness set, if there is one).
    fn push(&mut self, incoming: Incoming) {
        if let Some(epoll) = &self.epoll {
            // A descriptor the set cannot take would never report ready: treat as closed.
            if epoll
                .add(
                    incoming.conn.as_fd(),
                    EpollEvent::new(EpollFlags::EPOLLIN, 0),
                )
                .is_err()
            {
                return;
            }
        }
        self.incoming.push(incoming);
    }

    /// Removes connection `i` (and from the readiness set: a descriptor shared with a
    /// writer half would otherwise stay in it, readable at end of file for ever).
    fn remove(&mut self, i: usize) {
        let conn = self.incoming.remove(i);
        if let Some(epoll) = &self.epoll {
            let _ = epoll.delete(conn.conn.as_fd());
        }
    }

    pub(crate) fn max(&self) -> u32 {
        self.decoder.max()
    }

    /// Adds a connection whose hello was read already (the `auto:` rendezvous).
    pub(crate) fn add_after_hello(&mut self, conn: Box<dyn Conn>) {
        let mut incoming = Incoming::new(conn);
        incoming.hello = true;
        self.push(incoming);
        self.ever = true;
    }

    /// Receives one frame into `buf`. `wait` false: one look (`Timeout` stands for empty).
    pub(crate) fn recv(
        &mut self,
        buf: &mut Vec<u8>,
        wait: bool,
        deadline: Option<Instant>,
    ) -> Result<(), RecvTimeoutError> {
        // Which connections to read: a try reads every one; a waiting receive asks poll(2)
        // first (one call that returns at once when data is there), then reads only the
        // ready ones — so a receiver that keeps up pays poll + read per wake-up, and nothing
        // for frames already buffered.
        // A lone pipe or FIFO without a deadline: a plain blocking read, as the raw pipe
        // would do (no poll in between).
        let lone =
            wait && deadline.is_none() && self.listener.is_none() && self.incoming.len() == 1;
        if let Some(conn) = self.incoming.first_mut() {
            if conn.set_blocking(lone).is_err() {
                conn.eof = true;
            }
        }
        // Read every connection (`true`), or only those `self.ready` marks.
        let mut read_all = !wait || lone;
        self.ready.clear();
        let mut spins = if wait && !lone { SPIN_READS } else { 0 };
        loop {
            if let Some(r) = self.take(buf) {
                return r;
            }
            if self.check_listener || !wait || self.incoming.is_empty() {
                self.check_listener = false;
                self.accept_all();
            }
            let max = self.decoder.max();
            for (i, conn) in self.incoming.iter_mut().enumerate() {
                let readable = read_all || self.ready.get(i).copied().unwrap_or(true);
                if !conn.eof && readable && conn.read_some(max).is_err() {
                    conn.eof = true;
                }
            }
            if let Some(r) = self.take(buf) {
                return r;
            }
            // Connections at end of file have nothing more to give; one that stopped in the
            // middle of a frame vanished mid-message (its partial frame is dropped).
            let mut i = 0;
            while i < self.incoming.len() {
                if self.incoming[i].eof {
                    self.remove(i);
                } else {
                    i += 1;
                }
            }
            if self.incoming.is_empty() && (self.ever || self.listener.is_none()) {
                // Every sender that connected is gone (on a socket another may still connect:
                // a later call delivers its messages); a pipe's only writer is gone.
                return Err(RecvTimeoutError::Disconnected);
            }
            if !wait {
                return Err(RecvTimeoutError::Timeout);
            }
            if spins > 0 {
                // Spin briefly before sleeping: a sender that keeps sending is caught without
                // a wake-up (which costs the sender far more than these reads cost here).
                spins -= 1;
                for _ in 0..64 {
                    std::hint::spin_loop();
                }
                read_all = true;
                continue;
            }
            read_all = false;
            match self.poll(deadline) {
                Ok(true) => {}
                Ok(false) => return Err(RecvTimeoutError::Timeout),
                Err(_) => return Err(RecvTimeoutError::Disconnected),
            }
        }
    }

    /// Waits until a connection or the listener is readable (or `deadline`; `Ok(false)`),
    /// marking the readable connections in `self.ready` and a readable listener for the next
    /// accept.
    fn poll(&mut self, deadline: Option<Instant>) -> io::Result<bool> {
        loop {
            let timeout = poll_timeout(deadline);
            let mut fds: Vec<PollFd<'_>> = self
                .incoming
                .iter()
                .map(|c| PollFd::new(c.conn.as_fd(), PollFlags::POLLIN))
                .collect();
            if let Some(l) = &self.listener {
                fds.push(PollFd::new(l.as_fd(), PollFlags::POLLIN));
            }
            match poll(&mut fds, timeout) {
                Ok(0) => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Ok(false);
                    }
                }
                Ok(_) => {
                    let n = self.incoming.len();
                    let ready = |f: &PollFd<'_>| f.revents().is_some_and(|r| !r.is_empty());
                    self.check_listener |= fds.get(n).is_some_and(ready);
                    self.ready.clear();
                    self.ready.extend(fds[..n].iter().map(ready));
                    return Ok(true);
                }
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn accept_all(&mut self) {
        let Some(listener) = &mut self.listener else {
            return;
        };
        let mut new = Vec::new();
        while let Ok(Some(conn)) = listener.accept_one() {
            new.push(Incoming::new(conn));
        }
        for conn in new {
            self.push(conn);
        }
    }

    /// The next buffered frame (round robin over connections), or a protocol error (the
    /// offending connection is closed).
    fn take(&mut self, buf: &mut Vec<u8>) -> Option<Result<(), RecvTimeoutError>> {
        let n = self.incoming.len();
        for k in 0..n {
            let i = (self.next + k) % n;
            // On a FIFO the next sender's hello follows the previous sender's last frame — or
            // its hello, when senders connect at once (a duplex server's control FIFO): no
            // frame length can equal the magic's first four bytes (0x524d4853 > 2^30).
            loop {
                let conn = &mut self.incoming[i];
                let bytes = &conn.buf[conn.start..conn.end];
                if conn.hello && !bytes.starts_with(&crate::codec::MAGIC[..4]) {
                    break;
                }
                match Hello::decode(bytes) {
                    Ok(None) => {
                        conn.hello = false;
                        break;
                    }
                    Ok(Some((hello, used))) => {
                        if hello.fingerprint != self.expect.fingerprint {
                            let mismatch = FrameError::Layout {
                                expected: self.expect.describe(),
                                found: describe(hello.fingerprint, &hello.description),
                            };
                            return Some(Err(self.close(i, mismatch)));
                        }
                        conn.start += used;
                        conn.hello = true;
                        self.ever = true;
                        self.peer_max = Some(hello.max_frame);
                        if !self.persistent {
                            self.keepalive = None;
                        }
                    }
                    Err(e) => return Some(Err(self.close(i, e))),
                }
            }
            if !self.incoming[i].hello {
                continue; // a hello still arriving
            }
            let conn = &mut self.incoming[i];
            match self.decoder.decode(&conn.buf[conn.start..conn.end]) {
                Ok(None) => {}
                Ok(Some((payload, used))) => {
                    buf.clear();
                    buf.extend_from_slice(
                        &conn.buf[conn.start + payload.start..conn.start + payload.end],
                    );
                    conn.start += used;
                    conn.last = used;
                    self.next = (i + 1) % n;
                    return Some(Ok(()));
                }
                Err(e) => return Some(Err(self.close(i, e))),
            }
        }
        None
    }

    /// Closes connection `i` for breaking the protocol — except on a persistent receiver
    /// (a duplex server's control FIFO), whose one connection is every client's way in: it
    /// skips to the next hello instead (the bytes of a writer that broke the protocol are
    /// dropped; a client whose hello was among them times out and may try again).
    fn close(&mut self, i: usize, error: FrameError) -> RecvTimeoutError {
        if self.persistent {
            let conn = &mut self.incoming[i];
            let from = (conn.start + 1).min(conn.end);
            let rest = &conn.buf[from..conn.end];
            let magic = &crate::codec::MAGIC;
            let skip = (0..rest.len())
                .find(|&j| magic.starts_with(&rest[j..rest.len().min(j + magic.len())]))
                .unwrap_or(rest.len());
            conn.start = from + skip;
            conn.hello = false;
        } else {
            self.remove(i);
        }
        self.error = Some(error);
        self.ever = true;
        RecvTimeoutError::Corrupted
    }

    /// Whether every sender that connected is gone (none connected yet: not disconnected).
    pub(crate) fn is_disconnected(&mut self) -> bool {
        self.accept_all();
        self.ever
            && self.incoming.iter().all(|c| c.eof)
            && self.incoming.iter().all(|c| c.start == c.end)
    }
}
