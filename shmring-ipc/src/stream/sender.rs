//! The sending side of a stream connection: frames committed whole, written without blocking
//! the caller beyond its deadline, the receiver's hello read as it arrives.

#[allow(unused_imports)]
use super::*;

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
    pub(super) fn set_blocking(&mut self, on: bool) -> Result<(), Refusal> {
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
    pub(super) fn poll_hello(&mut self) -> Result<(), Refusal> {
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
    pub(crate) fn await_hello(&mut self, deadline: Instant) -> Result<Option<&Hello>, Refusal> {
        while self.peer_hello.is_some() {
            self.set_blocking(false)?;
            self.poll_hello()?;
            if self.peer_hello.is_some() {
                match wait_fd(&[self.conn.as_fd()], PollFlags::POLLIN, Some(deadline)) {
                    Ok(true) => {}
                    Ok(false) => return Err(Refusal::Timeout),
                    Err(_) => return Err(self.broke()),
                }
            }
        }
        Ok(self.peer.as_ref())
    }

    /// Writes committed bytes without waiting: `Ok(true)` once none are left.
    #[cfg(feature = "tokio")]
    pub(crate) fn try_flush(&mut self) -> Result<bool, Refusal> {
        if self.broken {
            return Err(Refusal::Disconnected);
        }
        self.set_blocking(false)?;
        self.flush_some()?;
        Ok(self.pending() == 0)
    }

    /// The connection's descriptor: writable while the stream takes bytes.
    pub(crate) fn readiness(&self) -> BorrowedFd<'_> {
        self.conn.as_fd()
    }

    pub(crate) fn pending(&self) -> usize {
        self.out.len() - self.written
    }

    /// Writes committed bytes until done or the stream is full.
    pub(crate) fn flush_some(&mut self) -> Result<(), Refusal> {
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

    /// Commits `bytes` (whole frames or lag records, already encoded) behind what is
    /// committed, without waiting, and writes what the stream takes now.
    pub(crate) fn commit(&mut self, bytes: &[u8]) -> Result<(), Refusal> {
        if self.broken {
            return Err(Refusal::Disconnected);
        }
        self.set_blocking(false)?;
        self.out.extend_from_slice(bytes);
        self.flush_some()
    }

    pub(super) fn broke(&mut self) -> Refusal {
        self.broken = true;
        self.out.clear();
        self.written = 0;
        Refusal::Disconnected
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
    ) -> Result<(), Refusal> {
        if self.broken {
            return Err(Refusal::Disconnected);
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
            return Err(Refusal::TooLarge {
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
                return Err(Refusal::Full);
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
                return Err(Refusal::Full);
            }
            return Ok(());
        }
        if deadline.is_none() {
            return self.flush_blocking(None);
        }
        Ok(())
    }

    pub(super) fn wait_writable(&mut self, deadline: Option<Instant>) -> Result<(), Refusal> {
        match wait_fd(&[self.conn.as_fd()], PollFlags::POLLOUT, deadline) {
            Ok(true) => Ok(()),
            Ok(false) => Err(Refusal::Timeout),
            Err(_) => Err(self.broke()),
        }
    }

    /// Writes every committed byte, waiting until `deadline` at most.
    pub(crate) fn flush_blocking(&mut self, deadline: Option<Instant>) -> Result<(), Refusal> {
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
