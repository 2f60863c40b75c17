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
use crate::{RecvTimeoutError, Refusal};
mod receiver;
mod sender;

pub(crate) use receiver::{Listen, StreamReceiver};
pub(crate) use sender::StreamSender;

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
pub(crate) const HIGH_WATER: usize = 256 * 1024;
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
        Expect::of_layout(&T::layout())
    }

    /// What a channel of the payload type `layout` announces.
    pub(crate) fn of_layout(layout: &shmring::TypeLayout) -> Expect {
        Expect {
            fingerprint: layout.fingerprint(),
            description: layout.to_string(),
            layout: Some(layout.clone()),
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
