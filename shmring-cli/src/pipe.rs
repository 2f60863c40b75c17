//! `send` and `recv`: shell pipelines over a many-producer framed ring
//! ([`shmring::framed::mpsc`]): each line (or length-prefixed frame) of stdin is one message.

use std::io::{self, BufRead, Read};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use shmring::framed::SendError;
use shmring::framed::mpsc::{Receiver, Sender};

use nix::sys::signal::Signal;
use shmring::{OpenError, RecvError, RecvTimeoutError, TryRecvError};

use crate::{Failure, signals};

/// Options both directions share.
#[derive(Debug, clap::Args)]
pub struct Common {
    /// The ring's name (as in /dev/shm).
    pub(crate) name: String,
    /// Create the ring (a framed many-producer ring) if it does not exist; if it does, open
    /// it (a ring of another kind is refused, exit 4). So the same command works run after
    /// run.
    #[arg(long)]
    pub(crate) create: bool,
    /// Capacity in bytes when creating (a power of two, at least 64; the largest message is
    /// half of it, less 8 bytes). Ignored when the ring exists.
    #[arg(long, default_value_t = 1 << 20, requires = "create")]
    pub(crate) capacity: u64,
    /// Permissions of a ring created here, in octal (default 600: the owner only; 660 lets
    /// the group send and receive). Ignored when the ring exists.
    #[arg(long, default_value = "600", requires = "create", value_parser = parse_mode)]
    pub(crate) mode: u32,
    /// Wait up to this many seconds for the ring to appear (when opening without --create)
    /// and, for `send`, for a receiver while the ring has lost its own (by default `send`
    /// waits for the next receiver as long as it takes, as a writer opening a FIFO waits for
    /// a reader; with --wait it gives up after SECONDS with exit 8).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub(crate) wait: Option<f64>,
    /// Frames instead of lines: each message is a 4-byte little-endian length, then that
    /// many bytes.
    #[arg(long)]
    pub(crate) frames: bool,
    /// With --create: make a broadcast ring of byte messages (framed-broadcast): every
    /// `recv` attached gets every message, like `tail -f` on a log. An existing
    /// framed-broadcast ring is used as one without this flag.
    #[arg(long, requires = "create")]
    pub(crate) broadcast: bool,
    /// With --broadcast: what the sender does when a receiver falls a ring behind — wait for
    /// it (lossless), or go on and let it skip (overwrite; it is told how many it missed).
    #[arg(long, value_enum, default_value_t = PolicyArg::Lossless, requires = "broadcast")]
    pub(crate) policy: PolicyArg,
}

/// `--policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyArg {
    /// The sender waits for the slowest receiver.
    Lossless,
    /// The sender never waits; a slow receiver skips (and is told how many).
    Overwrite,
}

impl Common {
    /// Whether this command works on a broadcast ring: asked for, or the ring is one.
    pub(crate) fn broadcast(&self) -> bool {
        self.broadcast
            || shmring::inspect::inspect(&self.name)
                .is_ok_and(|i| i.info.kind == shmring::RingKind::FramedBroadcast)
    }
}

/// `shmring send`.
#[derive(Debug, clap::Args)]
pub struct SendArgs {
    #[command(flatten)]
    common: Common,
}

/// `shmring recv`.
#[derive(Debug, clap::Args)]
pub struct RecvArgs {
    #[command(flatten)]
    common: Common,
    /// Stop after this many messages.
    #[arg(long)]
    count: Option<u64>,
    /// Keep receiving while senders come and go, until interrupted (or `--count`). Without
    /// it, `recv` ends once every sender that attached is gone and the ring is drained.
    #[arg(long)]
    follow: bool,
    /// On a broadcast ring: start at the oldest message the ring still holds (its history),
    /// not at the next one.
    #[arg(long)]
    from_oldest: bool,
}

/// `--mode`: octal permission bits, at most 777.
pub(crate) fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s, 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| format!("{s:?} is not an octal mode such as 600 or 660"))
}

/// `--wait`: a number of seconds, at least 0 and at most a year.
pub(crate) fn parse_seconds(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|w| w.is_finite() && (0.0..=3.2e7).contains(w))
        .ok_or_else(|| format!("{s:?} is not a number of seconds (0 to 32000000)"))
}

/// Opens (retrying while it does not exist, up to `--wait`) or creates the ring.
pub(crate) fn attach<T>(
    c: &Common,
    create: impl Fn(&str, u64, u32) -> Result<T, OpenError>,
    open: impl Fn(&str) -> Result<T, OpenError>,
) -> Result<T, Failure> {
    if c.create {
        let (min, max) = (shmring::framed::MIN_CAPACITY, shmring::MAX_CAPACITY);
        if c.capacity < min || c.capacity > max {
            return Err(Failure::new(
                2,
                format!(
                    "--capacity {} is out of range: a framed ring holds {min} to {max} bytes \
                     (a power of two)",
                    c.capacity
                ),
            ));
        }
        if !c.capacity.is_power_of_two() {
            let up = c.capacity.next_power_of_two();
            return Err(Failure::new(
                2,
                format!(
                    "--capacity {} is not a power of two; use {} (or {})",
                    c.capacity,
                    up,
                    up / 2
                ),
            ));
        }
        // Create, or open what exists; a ring removed between the two is created again.
        loop {
            match create(&c.name, c.capacity, c.mode) {
                Err(OpenError::AlreadyExists { .. }) => match open(&c.name) {
                    Err(OpenError::NotFound { .. }) => continue,
                    r => return r.map_err(|e| Failure::open(&e)),
                },
                r => return r.map_err(|e| Failure::open(&e)),
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs_f64(c.wait.unwrap_or(0.0));
    loop {
        match open(&c.name) {
            Err(OpenError::NotFound { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            r => return r.map_err(|e| Failure::open(&e)),
        }
    }
}

pub(crate) fn summary(json: bool, verb: &str, messages: u64, bytes: u64) {
    if json {
        errln!(
            "{}",
            serde_json::json!({ "messages": messages, "bytes": bytes, "direction": verb })
        );
    }
}

/// Why the next message could not be read.
pub(crate) enum ReadFail {
    /// The message is longer than the ring's largest (`len` when known: a frame's prefix).
    TooLarge(Option<u64>),
    /// Input ended inside a frame, or reading failed.
    Failure(Failure),
}

/// Reads the next message from stdin into `buf`: a line without its newline, or a frame.
/// `None` at the end of input. Holds at most `max + 1` bytes of a message: a line or frame
/// longer than `max` is refused as soon as that is known, without reading the rest.
pub(crate) fn next_message(
    input: &mut impl BufRead,
    frames: bool,
    buf: &mut Vec<u8>,
    max: usize,
) -> Result<Option<()>, ReadFail> {
    buf.clear();
    let io_err = |e: io::Error| ReadFail::Failure(Failure::new(1, format!("reading stdin: {e}")));
    if !frames {
        loop {
            let chunk = match input.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err(e)),
            };
            if chunk.is_empty() {
                // End of input: a last line without a newline is still a message.
                return Ok((!buf.is_empty()).then_some(()));
            }
            let (take, newline) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            if buf.len() + take > max {
                return Err(ReadFail::TooLarge(None));
            }
            buf.extend_from_slice(&chunk[..take]);
            input.consume(take + usize::from(newline));
            if newline {
                return Ok(Some(()));
            }
        }
    }
    let mut prefix = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match input.read(&mut prefix[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => {
                return Err(ReadFail::Failure(Failure::new(
                    1,
                    "stdin ended inside a frame's length",
                )));
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(e)),
        }
    }
    let len = u64::from(u32::from_le_bytes(prefix));
    if len > max as u64 {
        return Err(ReadFail::TooLarge(Some(len)));
    }
    input.take(len).read_to_end(buf).map_err(io_err)?;
    if (buf.len() as u64) < len {
        return Err(ReadFail::Failure(Failure::new(
            1,
            format!("stdin ended inside a frame ({} of {len} bytes)", buf.len()),
        )));
    }
    Ok(Some(()))
}

pub fn send(args: &SendArgs, json: bool) -> Result<(), Failure> {
    let c = &args.common;
    if c.broadcast() {
        return crate::cast::send(c, json);
    }
    let tx = attach(
        c,
        |n, cap, mode| Sender::options().mode(mode).create(n, cap),
        |n| Sender::open(n),
    )?;
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut buf = Vec::new();
    let (mut messages, mut bytes) = (0u64, 0u64);
    let max = tx.max_message();
    let too_large = |messages: u64, len: Option<u64>| {
        let what = if c.frames { "frame" } else { "line" };
        let size = len.map_or_else(
            || format!("longer than {max} bytes"),
            |l| format!("{l} bytes"),
        );
        Failure::new(
            9,
            format!(
                "message {} ({what}) is {size}; ring {} takes at most {max} bytes per message \
                 (create it with a larger --capacity: the largest message is half of it, less 8)",
                messages + 1,
                c.name
            ),
        )
    };
    let mut retry = false;
    loop {
        if !retry {
            match next_message(&mut input, c.frames, &mut buf, max) {
                Ok(Some(())) => {}
                Ok(None) => break,
                Err(ReadFail::TooLarge(len)) => return Err(too_large(messages, len)),
                Err(ReadFail::Failure(f)) => return Err(f),
            }
        }
        retry = false;
        match tx.send(&buf) {
            Ok(()) => {
                messages += 1;
                bytes += buf.len() as u64;
            }
            Err(SendError::TooLarge { len, .. }) => {
                return Err(too_large(messages, Some(len as u64)));
            }
            Err(SendError::Disconnected) => {
                // The ring had a receiver and has none now: wait for the next one (the
                // message is still here), as long as --wait allows.
                retry = true;
                if !await_receiver(&tx, c, messages) {
                    let waited = c.wait.map_or(String::new(), |w| {
                        format!(" and none came back within --wait {w}")
                    });
                    return Err(Failure::new(
                        8,
                        format!(
                            "the receiver of {} went away after {messages} messages{waited}; \
                             the rest of the input was not sent",
                            c.name
                        ),
                    ));
                }
                continue;
            }
            Err(e) => return Err(Failure::new(5, format!("{}: {e}", c.name))),
        }
    }
    summary(json, "sent", messages, bytes);
    Ok(())
}

/// `send` while its ring has lost its receiver: waits until a receiver is attached again
/// (up to `--wait` if given; forever otherwise, saying so on stderr after a second).
/// Whether one came.
fn await_receiver(tx: &Sender, c: &Common, messages: u64) -> bool {
    let start = Instant::now();
    let limit = c.wait.map(Duration::from_secs_f64);
    let mut told = false;
    while tx.is_disconnected() {
        let waited = start.elapsed();
        if limit.is_some_and(|l| waited >= l) {
            return false;
        }
        if limit.is_none() && !told && waited >= Duration::from_secs(1) {
            errln!(
                "shmring: the receiver of {} went away after {messages} messages; waiting for \
                 the next one (`shmring recv {}`), or give --wait SECONDS to stop waiting",
                c.name,
                c.name
            );
            told = true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// Senders of the ring found dead (killed or crashed) since `recv` started.
struct Dead {
    /// The ring's count when `recv` started.
    before: u32,
    /// The count last reported (`--follow` warns once per death).
    reported: u32,
}

impl Dead {
    /// `recv --follow`: one line on stderr for each sender found dead since the last look.
    fn warn(&mut self, rx: &Receiver, name: &str, json: bool) {
        let now = rx.dead_senders();
        let new = now.wrapping_sub(self.reported);
        if new == 0 {
            return;
        }
        self.reported = now;
        if json {
            errln!(
                "{}",
                serde_json::json!({ "warning": "sender died", "ring": name, "count": new })
            );
        } else {
            errln!(
                "shmring: {new} sender(s) of {name} died without closing (killed or crashed); \
                 a message one was writing is lost, the rest are whole; still following"
            );
        }
    }
}

/// How long `recv` waits for a message before it looks at the stop flag again.
const STOP_POLL: Duration = Duration::from_millis(50);
/// How often `recv --follow` looks for a new sender while none is attached.
const FOLLOW_POLL: Duration = Duration::from_millis(10);

/// `recv`'s output: messages are gathered into blocks of about 64 KiB and written with
/// `write(2)` straight to stdout; the ring holds them ([`Receiver::hold`]) until the write
/// that carries them has succeeded, and only then are they committed. So a closed stdout, a
/// full device or a SIGKILL never loses a message taken from the ring: what was not written
/// stays in the ring for the next receiver (a write cut short by the reader closing the pipe
/// in the middle of it can make the next receiver repeat the messages of that one write).
struct Output {
    pending: Vec<u8>,
    frames: bool,
}

/// Bytes gathered before a write.
const BLOCK: usize = 64 * 1024;

impl Output {
    /// Adds a message; writes the block when it is full.
    fn push(&mut self, rx: &mut Receiver, msg: &[u8]) -> io::Result<()> {
        if self.frames {
            self.pending
                .extend_from_slice(&(msg.len() as u32).to_le_bytes());
            self.pending.extend_from_slice(msg);
        } else {
            self.pending.extend_from_slice(msg);
            self.pending.push(b'\n');
        }
        if self.pending.len() >= BLOCK {
            self.flush(rx)?;
        }
        Ok(())
    }

    /// Writes what is gathered (retrying after a signal interrupts the write), then commits
    /// the messages it carried.
    fn flush(&mut self, rx: &mut Receiver) -> io::Result<()> {
        let stdout = io::stdout();
        let fd = stdout.as_fd();
        let mut done = 0;
        while done < self.pending.len() {
            match nix::unistd::write(fd, &self.pending[done..]) {
                Ok(n) => done += n,
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(io::Error::from(e)),
            }
        }
        self.pending.clear();
        rx.commit();
        Ok(())
    }
}

pub fn recv(args: &RecvArgs, json: bool) -> Result<(), Failure> {
    let c = &args.common;
    if c.broadcast() {
        return crate::cast::recv(c, args.count, args.follow, args.from_oldest, json);
    }
    if args.from_oldest {
        return Err(Failure::new(
            2,
            format!(
                "--from-oldest is for broadcast rings; {} is not one (a framed ring's messages \
                 go to one receiver, oldest first already)",
                c.name
            ),
        ));
    }
    // Senders found dead from now on count, those our own attach finds included (read from
    // the file, before attaching reaps them); a ring that does not exist yet has none.
    let before = shmring::inspect::inspect(&c.name)
        .ok()
        .and_then(|i| i.control?.dead_senders)
        .unwrap_or(0);
    let mut rx = attach(
        c,
        |n, cap, mode| Receiver::options().mode(mode).create(n, cap),
        |n| Receiver::open(n),
    )?;
    rx.hold();
    let mut dead = Dead {
        before,
        reported: before,
    };
    let mut out = Output {
        pending: Vec::with_capacity(BLOCK + 1024),
        frames: c.frames,
    };
    let mut buf = Vec::new();
    let (mut messages, mut bytes) = (0u64, 0u64);
    let end = |e: io::Error| {
        if e.kind() == io::ErrorKind::BrokenPipe {
            None // the reader of stdout stopped: a clean end; the rest stays in the ring
        } else {
            Some(Failure::new(
                1,
                format!(
                    "writing stdout: {e}; the messages not written stay in {}",
                    c.name
                ),
            ))
        }
    };
    signals::catch();
    let mut stopped = 0;
    while args.count.is_none_or(|n| messages < n) {
        stopped = signals::caught();
        if stopped != 0 {
            // A second signal ends the process at once (what is gathered stays in the ring).
            signals::release();
            break;
        }
        // Write only when nothing more is waiting, so a fast stream is written in blocks
        // and a slow one message by message.
        let got = match rx.try_recv_into(&mut buf) {
            Ok(_) => Ok(()),
            Err(TryRecvError::Empty) => {
                if let Err(e) = out.flush(&mut rx) {
                    return end(e).map_or(Ok(()), Err);
                }
                match rx.recv_into_deadline(&mut buf, Instant::now() + STOP_POLL) {
                    Ok(_) => Ok(()),
                    Err(RecvTimeoutError::Timeout) => {
                        if args.follow {
                            dead.warn(&rx, &c.name, json);
                        }
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) if args.follow => {
                        // No sender now: wait for the next one.
                        dead.warn(&rx, &c.name, json);
                        std::thread::sleep(FOLLOW_POLL);
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => Err(RecvError::Disconnected),
                    Err(RecvTimeoutError::Corrupted) => Err(RecvError::Corrupted),
                }
            }
            Err(TryRecvError::Disconnected) if args.follow => {
                if let Err(e) = out.flush(&mut rx) {
                    return end(e).map_or(Ok(()), Err);
                }
                dead.warn(&rx, &c.name, json);
                std::thread::sleep(FOLLOW_POLL);
                continue;
            }
            Err(TryRecvError::Disconnected) => Err(RecvError::Disconnected),
            Err(TryRecvError::Corrupted) => Err(RecvError::Corrupted),
        };
        match got {
            Ok(()) => {}
            Err(RecvError::Disconnected) => break,
            Err(RecvError::Corrupted) => {
                let _ = out.flush(&mut rx);
                return Err(Failure::new(
                    5,
                    format!("{} is corrupt (after {messages} messages)", c.name),
                ));
            }
        }
        messages += 1;
        bytes += buf.len() as u64;
        if let Err(e) = out.push(&mut rx, &buf) {
            return end(e).map_or(Ok(()), Err);
        }
    }
    if let Err(e) = out.flush(&mut rx) {
        return end(e).map_or(Ok(()), Err);
    }
    summary(json, "received", messages, bytes);
    let died = rx.dead_senders().wrapping_sub(dead.before);
    if stopped == 0 && died > 0 && args.count.is_none_or(|n| messages < n) {
        return Err(Failure::new(
            11,
            format!(
                "every sender of {} is gone, {died} of them killed or crashed without closing \
                 (a message one was writing as it died is lost; the {messages} received are \
                 whole and written out)",
                c.name
            ),
        ));
    }
    if stopped != 0 {
        let name = Signal::try_from(stopped).map_or("a signal", Signal::as_str);
        return Err(Failure::new(
            (128 + stopped) as u8,
            format!(
                "stopped by {name} after {messages} messages, all written out; the rest stay \
                 in {} for the next receiver",
                c.name
            ),
        ));
    }
    Ok(())
}
