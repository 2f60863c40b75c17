//! The `pipe` transport: an anonymous pipe between a parent and the child it spawns.
//!
//! The parent makes the pipe with [`receiver`] (the child sends) or [`sender`] (the child
//! receives), hands the child its end with [`ChildEnd::configure`] before spawning it (the
//! descriptor is inherited and named in the `SHMRING_IPC_PIPE` environment variable), and
//! drops the [`ChildEnd`] once the child is spawned. The child connects with
//! `Sender::connect("pipe")` or `Receiver::bind("pipe")`. The stream codec is the same as on
//! sockets; a pipe carries no reply, so the sender uses the receiver's maximum from
//! [`Options`] (the same default on both sides).
//!
//! ```no_run
//! // Parent:
//! let (mut rx, child_end) = shmring_ipc::pipe::receiver(&shmring_ipc::Options::default())?;
//! let mut cmd = std::process::Command::new("my-worker");
//! child_end.configure(&mut cmd)?;
//! let child = cmd.spawn()?;
//! drop(child_end);                        // so that the child's exit reads as Disconnected
//! let first = rx.recv()?;
//! // Child (my-worker): shmring_ipc::Sender::connect("pipe")?.send(b"ready")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};

use crate::stream::{Expect, StreamReceiver, StreamSender};
use crate::{ConnectError, Endpoint, Options, Receiver, ReceiverInner, Sender, SenderInner};

/// The environment variable naming the inherited pipe end: `r:FD` (read end) or `w:FD`.
pub const ENV_VAR: &str = "SHMRING_IPC_PIPE";

/// Whether this process has taken its inherited pipe end (it can be taken once).
static TAKEN: AtomicBool = AtomicBool::new(false);

/// The end of a pipe that a child process inherits.
#[derive(Debug)]
pub struct ChildEnd {
    fd: OwnedFd,
    write: bool,
}

impl ChildEnd {
    /// Makes `cmd` inherit this end: clears close-on-exec on the descriptor and names it in
    /// [`ENV_VAR`]. Spawn the child, then drop this `ChildEnd`. (Other children spawned
    /// meanwhile by other threads inherit the descriptor too.)
    ///
    /// # Errors
    ///
    /// The `fcntl` error, if clearing close-on-exec fails.
    ///
    /// ```
    /// let (_rx, end) = shmring_ipc::pipe::receiver(&shmring_ipc::Options::default())?;
    /// let mut cmd = std::process::Command::new("true");
    /// end.configure(&mut cmd)?;
    /// assert!(cmd.get_envs().any(|(k, _)| k == shmring_ipc::pipe::ENV_VAR));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn configure(&self, cmd: &mut Command) -> std::io::Result<()> {
        fcntl(&self.fd, FcntlArg::F_SETFD(FdFlag::empty()))?;
        let tag = if self.write { 'w' } else { 'r' };
        cmd.env(ENV_VAR, format!("{tag}:{}", self.fd.as_raw_fd()));
        Ok(())
    }
}

fn make(endpoint: &Endpoint) -> Result<(OwnedFd, OwnedFd), ConnectError> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| ConnectError::io(endpoint, "pipe2", e.into()))
}

fn nonblocking(fd: &OwnedFd, endpoint: &Endpoint) -> Result<(), ConnectError> {
    crate::stream::set_nonblocking(fd.as_fd(), true)
        .map_err(|e| ConnectError::io(endpoint, "fcntl", e))
}

/// A pipe the child sends on: this process's receiver, and the child's (write) end.
///
/// # Errors
///
/// [`ConnectError::Io`] if the pipe cannot be made.
///
/// ```
/// let (rx, _end) = shmring_ipc::pipe::receiver(&shmring_ipc::Options::default())?;
/// assert_eq!(rx.endpoint().to_string(), "pipe");
/// # Ok::<(), shmring_ipc::ConnectError>(())
/// ```
pub fn receiver(options: &Options) -> Result<(Receiver, ChildEnd), ConnectError> {
    let endpoint = Endpoint::Pipe;
    let (read, write) = make(&endpoint)?;
    nonblocking(&read, &endpoint)?;
    let rx = StreamReceiver::new(
        None,
        Some(Box::new(File::from(read))),
        None,
        options.stream_max(),
        Expect::default(),
    );
    let receiver = Receiver::from_parts(ReceiverInner::Stream(rx), endpoint);
    Ok((
        receiver,
        ChildEnd {
            fd: write,
            write: true,
        },
    ))
}

/// A pipe the child receives on: this process's sender, and the child's (read) end.
///
/// # Errors
///
/// [`ConnectError::Io`] if the pipe cannot be made.
///
/// ```
/// let (tx, _end) = shmring_ipc::pipe::sender(&shmring_ipc::Options::default())?;
/// assert_eq!(tx.max_message(), 1 << 20);
/// # Ok::<(), shmring_ipc::ConnectError>(())
/// ```
pub fn sender(options: &Options) -> Result<(Sender, ChildEnd), ConnectError> {
    let endpoint = Endpoint::Pipe;
    let (read, write) = make(&endpoint)?;
    nonblocking(&write, &endpoint)?;
    let tx = connect_fd(write, &endpoint, options)?;
    Ok((
        Sender::from_parts(SenderInner::Stream(tx), endpoint, None),
        ChildEnd {
            fd: read,
            write: false,
        },
    ))
}

fn connect_fd(
    fd: OwnedFd,
    endpoint: &Endpoint,
    options: &Options,
) -> Result<StreamSender, ConnectError> {
    let mut conn: Box<dyn crate::stream::Conn> = Box::new(File::from(fd));
    crate::transport::send_hello(
        &mut *conn,
        &crate::codec::Hello {
            flags: 0,
            max_frame: options.stream_max(),
            fingerprint: 0,
            description: String::new(),
        },
        endpoint,
        options.handshake_timeout,
    )?;
    Ok(StreamSender::new(conn, options.stream_max(), false))
}

/// Takes the pipe end this process inherited (`write`: the write end), once.
fn inherited(write: bool) -> Result<OwnedFd, ConnectError> {
    let endpoint = Endpoint::Pipe;
    let bad = |reason: String| ConnectError::BadEndpoint {
        endpoint: "pipe".into(),
        reason,
    };
    let value = std::env::var(ENV_VAR).map_err(|_| {
        bad(format!(
            "{ENV_VAR} is not set: this process did not inherit a pipe end"
        ))
    })?;
    let want = if write { 'w' } else { 'r' };
    let fd: i32 = value
        .strip_prefix(want)
        .and_then(|v| v.strip_prefix(':'))
        .and_then(|v| v.parse().ok())
        .filter(|fd| *fd >= 0)
        .ok_or_else(|| {
            bad(format!(
                "{ENV_VAR}={value} does not name the pipe's {} end",
                if write { "write" } else { "read" }
            ))
        })?;
    let stat = nix::sys::stat::fstat(
        // SAFETY: the descriptor is only borrowed for this call; fstat fails cleanly if it
        // is not open.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) },
    )
    .map_err(|_| {
        bad(format!(
            "{ENV_VAR} names descriptor {fd}, which is not open"
        ))
    })?;
    use nix::sys::stat::SFlag;
    if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT != SFlag::S_IFIFO {
        return Err(bad(format!(
            "descriptor {fd} named by {ENV_VAR} is not a pipe"
        )));
    }
    if TAKEN.swap(true, Ordering::AcqRel) {
        return Err(bad("the inherited pipe end was taken already".into()));
    }
    // SAFETY: the descriptor is open (fstat above), is a pipe, was handed to this process for
    // this purpose by its parent (named in the environment), and `TAKEN` ensures it gets
    // exactly one owner in this process.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    fcntl(&fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
        .map_err(|e| ConnectError::io(&endpoint, "fcntl", e.into()))?;
    nonblocking(&fd, &endpoint)?;
    Ok(fd)
}

pub(crate) fn connect_inherited(options: &Options) -> Result<StreamSender, ConnectError> {
    let fd = inherited(true)?;
    connect_fd(fd, &Endpoint::Pipe, options)
}

pub(crate) fn bind_inherited(options: &Options) -> Result<StreamReceiver, ConnectError> {
    let fd = inherited(false)?;
    Ok(StreamReceiver::new(
        None,
        Some(Box::new(File::from(fd))),
        None,
        options.stream_max(),
        Expect::default(),
    ))
}
