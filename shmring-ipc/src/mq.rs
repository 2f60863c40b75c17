//! The `mq:/NAME` transport: a POSIX message queue. The kernel keeps message boundaries; each
//! queue message is a one-byte tag (0: the sender's hello, 1: a message) and the payload.
//!
//! A message queue has no notion of its peers, so liveness uses two lock files next to the
//! shared-memory segments, `/dev/shm/shmring-mq-NAME.receiver` and `.senders`: locks vanish
//! with their process, so a killed peer is noticed (within
//! [`LIVENESS_PERIOD`](shmring::wait::LIVENESS_PERIOD) of waiting).
//!
//! Limits (`/proc/sys/fs/mqueue/msg_max` and `msgsize_max`) are read when binding: asking for
//! more is a clear [`ConnectError::Limit`], never a failure later.
//!
//! The transport itself is used through [`Sender`](crate::Sender) and
//! [`Receiver`](crate::Receiver) with `mq:/NAME`; this module has what `shmring gc` uses to
//! find and remove the queues of receivers that died ([`abandoned`], [`remove`]).
//! docs/protocols.md, "Message queues".

use std::fs::File;
use std::time::Instant;

use nix::errno::Errno;
use nix::fcntl::Flock;
use nix::mqueue::{
    MQ_OFlag, MqAttr, MqdT, mq_close, mq_getattr, mq_open, mq_receive, mq_send, mq_unlink,
};
use nix::poll::PollFlags;
use nix::sys::stat::Mode;
use std::os::fd::{AsFd, BorrowedFd};

use crate::codec::{FrameError, Hello};
use crate::kqueue::{LockFiles, Senders, check_len, meet_receiver, sender_hello};
use crate::stream::{Expect, wait_fd};
use crate::{ConnectError, Endpoint, Options, RecvTimeoutError, Refusal};

const TAG_HELLO: u8 = 0;
const TAG_MESSAGE: u8 = 1;

/// A system limit from `/proc/sys/fs/mqueue/`.
fn limit(file: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/sys/fs/mqueue/{file}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The liveness files of queue `name` (with its leading `/`).
fn lock_files(name: &str) -> LockFiles {
    LockFiles::new(&format!("shmring-mq-{}", &name[1..]))
}

/// An `mq:` queue whose receiver is gone (its lock file is not held), as `shmring gc` lists
/// them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Abandoned {
    /// The queue's name, with its leading `/` (the endpoint is `mq:` and this).
    pub name: String,
    /// Whether the queue itself still exists (else only its lock files are left).
    pub queue: bool,
    /// Queue messages waiting in it (senders' hellos included; 0 when the queue is gone):
    /// what removing it discards.
    pub messages: u64,
}

/// Every `mq:` queue left by a receiver that died (found by its lock files in `/dev/shm`),
/// by name.
///
/// ```
/// assert!(shmring_ipc::mq::abandoned().iter().all(|a| a.name.starts_with('/')));
/// ```
pub fn abandoned() -> Vec<Abandoned> {
    crate::kqueue::abandoned("shmring-mq-")
        .into_iter()
        .map(|name| {
            let name = format!("/{name}");
            let flags = MQ_OFlag::O_RDONLY | MQ_OFlag::O_NONBLOCK | MQ_OFlag::O_CLOEXEC;
            let queue = mq_open(name.as_str(), flags, Mode::empty(), None).ok();
            let messages = queue
                .as_ref()
                .and_then(|q| mq_getattr(q).ok())
                .map_or(0, |a| a.curmsgs() as u64);
            let exists = queue.is_some();
            drop(Queue(queue));
            Abandoned {
                name,
                queue: exists,
                messages,
            }
        })
        .collect()
}

/// Removes an abandoned queue (`name` with its leading `/`) and its lock files — unless a
/// receiver holds the name (bound again meanwhile); a queue of the name that shmring did not
/// make (no receiver's hello in the lock file) is left alone. False only when a receiver
/// holds the name, or `name` is not a queue name (nothing removed).
///
/// ```
/// assert!(shmring_ipc::mq::remove("/shmring-doc-never-bound"));
/// ```
pub fn remove(name: &str) -> bool {
    if !matches!(format!("mq:{name}").parse(), Ok(Endpoint::Mq(_))) {
        return false;
    }
    lock_files(name).remove_abandoned(|| {
        let _ = mq_unlink(name);
    })
}

/// A queue descriptor, closed when dropped.
#[derive(Debug)]
struct Queue(Option<MqdT>);

impl Queue {
    fn get(&self) -> &MqdT {
        self.0.as_ref().expect("open queue")
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        if let Some(q) = self.0.take() {
            let _ = mq_close(q);
        }
    }
}

/// The receiving end of a message queue.
#[derive(Debug)]
pub(crate) struct MqReceiver {
    /// Non-blocking descriptor (tries), and a blocking one (waits).
    queue: Queue,
    wait_queue: Queue,
    name: String,
    max: usize,
    scratch: Vec<u8>,
    /// Holds the exclusive lock that says "a receiver is here".
    _receiver_lock: Flock<File>,
    files: LockFiles,
    pub(crate) senders: Senders,
}

/// Removes queue `name` (with its leading `/`) and its liveness files; open descriptors and
/// held locks keep working.
pub(crate) fn unlink(name: &str) {
    let _ = mq_unlink(name);
    lock_files(name).remove();
}

impl Drop for MqReceiver {
    fn drop(&mut self) {
        let _ = mq_unlink(self.name.as_str());
        self.files.remove();
    }
}

pub(crate) fn bind(
    endpoint: &Endpoint,
    name: &str,
    options: &Options,
    expect: Expect,
) -> Result<MqReceiver, ConnectError> {
    let limit_error = |reason: String| ConnectError::Limit {
        endpoint: endpoint.to_string(),
        reason,
    };
    let size_max = limit("msgsize_max").unwrap_or(8192);
    let depth_max = limit("msg_max").unwrap_or(10);
    let max = u64::from(options.max_message.unwrap_or((size_max - 1) as u32));
    if max + 1 > size_max {
        return Err(limit_error(format!(
            "messages of up to {max} bytes need queue messages of {} bytes, over the system's \
             msgsize_max of {size_max} (/proc/sys/fs/mqueue/msgsize_max)",
            max + 1
        )));
    }
    let depth = options.mq_depth.map_or(depth_max, u64::from);
    if depth > depth_max || depth == 0 {
        return Err(limit_error(format!(
            "a queue of {depth} messages is over the system's msg_max of {depth_max} \
             (/proc/sys/fs/mqueue/msg_max)"
        )));
    }
    let files = lock_files(name);
    let ours = files.bound_before();
    // The lock file also carries this receiver's hello, so typed senders can check the
    // payload type when they connect.
    let receiver_lock = files.lock_receiver(
        endpoint,
        &Hello {
            flags: 0,
            max_frame: max as u32,
            fingerprint: expect.fingerprint,
            description: expect.description.clone(),
        },
    )?;
    // No live receiver: a queue left by a dead one is stale; another program's queue of the
    // name makes the exclusive open below fail, and is refused.
    if ours {
        let _ = mq_unlink(name);
    }
    let attr = MqAttr::new(0, depth as _, (max + 1) as _, 0);
    let flags = MQ_OFlag::O_CREAT
        | MQ_OFlag::O_EXCL
        | MQ_OFlag::O_RDONLY
        | MQ_OFlag::O_NONBLOCK
        | MQ_OFlag::O_CLOEXEC;
    let queue = mq_open(
        name,
        flags,
        Mode::from_bits_truncate(options.mode),
        Some(&attr),
    )
    .inspect_err(|_| {
        // Nothing was bound: leave no lock file behind.
        let _ = std::fs::remove_file(&files.receiver);
    });
    let queue = queue.map_err(|e| match e {
        Errno::EEXIST => ConnectError::PeerRefused {
            endpoint: endpoint.to_string(),
            reason: format!(
                "a POSIX message queue {name} exists that shmring did not make; remove it \
                 (`rm /dev/mqueue{name}`, or mq_unlink) if nothing uses it, or choose another \
                 name"
            ),
        },
        Errno::EMFILE | Errno::ENOSPC | Errno::ENOMEM => limit_error(format!(
            "the system refused another message queue ({e}: see /proc/sys/fs/mqueue/queues_max and RLIMIT_MSGQUEUE)"
        )),
        Errno::EINVAL => limit_error(format!(
            "the system refused a queue of {depth} messages of {} bytes ({e})",
            max + 1
        )),
        e => ConnectError::io(endpoint, "mq_open", e.into()),
    })?;
    // mq_open applies the umask; the mode asked for is set exactly.
    nix::sys::stat::fchmod(
        queue.as_fd(),
        Mode::from_bits_truncate(options.mode & 0o777),
    )
    .map_err(|e| ConnectError::io(endpoint, "set the queue's permissions", e.into()))?;
    let queue = Queue(Some(queue));
    let wait_queue = mq_open(
        name,
        MQ_OFlag::O_RDONLY | MQ_OFlag::O_CLOEXEC,
        Mode::empty(),
        None,
    )
    .map_err(|e| ConnectError::io(endpoint, "mq_open", e.into()))?;
    let senders = Senders::new(expect, files.senders_probe(endpoint)?);
    Ok(MqReceiver {
        queue,
        wait_queue: Queue(Some(wait_queue)),
        name: name.to_owned(),
        max: max as usize,
        scratch: vec![0; max as usize + 1],
        _receiver_lock: receiver_lock,
        files,
        senders,
    })
}

impl MqReceiver {
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// One queue message into `buf`: `Some(Ok)` a message, `Some(Err)` a protocol error,
    /// `None` empty (hellos are consumed here).
    ///
    /// `until`: wait for a message until then (a blocking `mq_timedreceive` on the second
    /// descriptor: one system call per message while waiting); `None`: do not wait.
    fn take(
        &mut self,
        buf: &mut Vec<u8>,
        until: Option<Instant>,
    ) -> Option<Result<(), RecvTimeoutError>> {
        loop {
            let mut prio = 0;
            let got = match until {
                None => mq_receive(self.queue.get(), &mut self.scratch, &mut prio),
                Some(until) => {
                    let abs = realtime_after(until.saturating_duration_since(Instant::now()));
                    nix::mqueue::mq_timedreceive(
                        self.wait_queue.get(),
                        &mut self.scratch,
                        &mut prio,
                        &abs,
                    )
                }
            };
            let n = match got {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(_) => return None,
            };
            match self.scratch.first() {
                Some(&TAG_MESSAGE) if n >= 1 => {
                    buf.clear();
                    buf.extend_from_slice(&self.scratch[1..n]);
                    return Some(Ok(()));
                }
                Some(&TAG_HELLO) if n >= 1 => {
                    if let Some(e) = self.senders.hello(&self.scratch[1..n]) {
                        return Some(Err(e));
                    }
                }
                _ => {
                    let tag = self.scratch.first().copied().unwrap_or(0);
                    return Some(Err(self.senders.protocol(FrameError::BadHello {
                        field: "queue message tag",
                        value: tag.into(),
                    })));
                }
            }
        }
    }

    pub(crate) fn recv(
        &mut self,
        buf: &mut Vec<u8>,
        wait: bool,
        deadline: Option<Instant>,
    ) -> Result<(), RecvTimeoutError> {
        // A waiting receive blocks in the kernel for one slice at a time; senders' liveness
        // is probed when a try finds the queue empty and whenever a slice passes idle — not
        // while messages keep coming.
        loop {
            let until = if wait {
                let slice = Instant::now() + shmring::wait::LIVENESS_PERIOD * 5;
                match deadline {
                    Some(d) if Instant::now() >= d => return Err(RecvTimeoutError::Timeout),
                    Some(d) => Some(d.min(slice)),
                    None => Some(slice),
                }
            } else {
                None
            };
            if let Some(r) = self.take(buf, until) {
                return r;
            }
            if self.senders.gone() {
                // Every sender is gone: whatever they sent is in the queue already.
                return self
                    .take(buf, None)
                    .unwrap_or(Err(RecvTimeoutError::Disconnected));
            }
            if !wait {
                return Err(RecvTimeoutError::Timeout);
            }
        }
    }

    pub(crate) fn is_disconnected(&mut self) -> bool {
        self.senders.gone()
    }

    /// The queue's (non-blocking) descriptor: readable while a message waits.
    pub(crate) fn readiness(&self) -> BorrowedFd<'_> {
        self.queue.get().as_fd()
    }
}

/// The `CLOCK_REALTIME` instant `after` from now (the clock `mq_timedreceive` takes).
fn realtime_after(after: std::time::Duration) -> nix::sys::time::TimeSpec {
    use nix::time::{ClockId, clock_gettime};
    let now = clock_gettime(ClockId::CLOCK_REALTIME)
        .unwrap_or_else(|_| nix::sys::time::TimeSpec::new(0, 0));
    now + nix::sys::time::TimeSpec::from_duration(after)
}

/// Waits for `events` on the queue for one slice (five liveness periods) at most, so peers
/// are checked between slices: `Some(ready)`, or `None` once `deadline` has passed.
fn slice_wait(queue: &Queue, events: PollFlags, deadline: Option<Instant>) -> Option<bool> {
    if deadline.is_some_and(|d| Instant::now() >= d) {
        return None;
    }
    let slice = Instant::now() + shmring::wait::LIVENESS_PERIOD * 5;
    let until = deadline.map_or(slice, |d| d.min(slice));
    Some(wait_fd(&[queue.get().as_fd()], events, Some(until)).unwrap_or(false))
}

/// The sending end of a message queue.
#[derive(Debug)]
pub(crate) struct MqSender {
    queue: Queue,
    max: usize,
    scratch: Vec<u8>,
    receiver: crate::kqueue::Receiver,
    /// Holds a shared lock that says "a sender is here".
    _senders: Flock<File>,
}

pub(crate) fn connect(
    endpoint: &Endpoint,
    name: &str,
    expect: &Expect,
) -> Result<MqSender, ConnectError> {
    let flags = MQ_OFlag::O_WRONLY | MQ_OFlag::O_NONBLOCK | MQ_OFlag::O_CLOEXEC;
    let queue = mq_open(name, flags, Mode::empty(), None).map_err(|e| match e {
        Errno::ENOENT => ConnectError::NotFound {
            endpoint: endpoint.to_string(),
        },
        e => ConnectError::io(endpoint, "mq_open", e.into()),
    })?;
    let queue = Queue(Some(queue));
    let attr =
        mq_getattr(queue.get()).map_err(|e| ConnectError::io(endpoint, "mq_getattr", e.into()))?;
    let size = attr.msgsize().max(1) as usize;
    let files = lock_files(name);
    let (_, receiver) = meet_receiver(endpoint, &files, expect)?;
    let senders = files.lock_sender(endpoint)?;
    let hello = sender_hello(endpoint, expect, size - 1)?;
    let mut tx = MqSender {
        queue,
        max: size - 1,
        scratch: Vec::with_capacity(size),
        receiver,
        _senders: senders,
    };
    tx.put(
        TAG_HELLO,
        &hello,
        true,
        Some(Instant::now() + std::time::Duration::from_secs(5)),
    )
    .map_err(|_| ConnectError::HandshakeTimeout {
        endpoint: endpoint.to_string(),
        seconds: 5,
    })?;
    Ok(tx)
}

impl MqSender {
    /// The queue's (non-blocking) descriptor: writable while the queue has room.
    pub(crate) fn readiness(&self) -> BorrowedFd<'_> {
        self.queue.get().as_fd()
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    pub(crate) fn send(
        &mut self,
        msg: &[u8],
        wait: bool,
        deadline: Option<Instant>,
    ) -> Result<(), Refusal> {
        check_len(msg.len(), self.max)?;
        self.put(TAG_MESSAGE, msg, wait, deadline)
    }

    fn put(
        &mut self,
        tag: u8,
        msg: &[u8],
        wait: bool,
        deadline: Option<Instant>,
    ) -> Result<(), Refusal> {
        if self.receiver.is_broken() {
            return Err(Refusal::Disconnected);
        }
        self.scratch.clear();
        self.scratch.push(tag);
        self.scratch.extend_from_slice(msg);
        let mut probe = !wait;
        loop {
            match mq_send(self.queue.get(), &self.scratch, 0) {
                Ok(()) => return Ok(()),
                Err(Errno::EAGAIN) => {}
                Err(Errno::EINTR) => continue,
                Err(_) => return Err(self.receiver.broke()),
            }
            if probe && self.is_disconnected() {
                return Err(Refusal::Disconnected);
            }
            if !wait {
                return Err(Refusal::Full);
            }
            match slice_wait(&self.queue, PollFlags::POLLOUT, deadline) {
                None => return Err(Refusal::Timeout),
                Some(writable) => probe = !writable,
            }
        }
    }

    pub(crate) fn is_disconnected(&mut self) -> bool {
        self.receiver.is_disconnected()
    }
}
