//! The receiving side of stream connections: accepting, reading hellos and frames from many
//! connections through epoll, protocol errors.

#[allow(unused_imports)]
use super::*;

/// One connection of a receiver.
#[derive(Debug)]
pub(super) struct Incoming {
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
    pub(super) fn new(conn: Box<dyn Conn>) -> Incoming {
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
    pub(super) fn set_blocking(&mut self, on: bool) -> io::Result<()> {
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
    pub(super) fn want(&self, max: u32) -> usize {
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
    pub(super) fn read_some(&mut self, max: u32) -> io::Result<()> {
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
    pub(super) fn push(&mut self, incoming: Incoming) {
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
    pub(super) fn remove(&mut self, i: usize) {
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
    pub(super) fn poll(&mut self, deadline: Option<Instant>) -> io::Result<bool> {
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

    pub(super) fn accept_all(&mut self) {
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
    pub(super) fn take(&mut self, buf: &mut Vec<u8>) -> Option<Result<(), RecvTimeoutError>> {
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
    pub(super) fn close(&mut self, i: usize, error: FrameError) -> RecvTimeoutError {
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
