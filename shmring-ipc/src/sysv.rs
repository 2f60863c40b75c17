//! The `sysv:KEY` / `sysv:PATH` transport: a System V message queue (`msgget`, `msgsnd`,
//! `msgrcv`). The kernel keeps message boundaries; the message type says what a queue message
//! is — [`TYPE_HELLO`] (a sender's hello, as on every transport), [`TYPE_MESSAGE`] (a
//! message), [`TYPE_WAKE`] (an empty message the receiver's own ticker queues to end a
//! blocking `msgrcv` at a deadline; never from a sender). docs/protocols.md, "sysv:".
//!
//! `KEY` is the queue's IPC key (decimal, or hexadecimal with `0x`; not 0, which is
//! `IPC_PRIVATE`); `PATH` (absolute) names it through `ftok(PATH, 'S')`, so the file must
//! exist. Liveness, as on `mq:`, through the lock files `/dev/shm/shmring-sysv-KEY.receiver`
//! and `.senders` (`KEY` as 8 lowercase hexadecimal digits; the same lock files as `mq:`): the
//! receiver's carries its hello, so a typed sender checks the payload type before it sends.
//!
//! Limits are the system's, read when binding: `msgmax` (`/proc/sys/kernel/msgmax`, the
//! largest message) and `msgmnb` (`/proc/sys/kernel/msgmnb`, the bytes a queue holds); asking
//! for more is a clear [`ConnectError::Limit`] naming them. A queue is created with the
//! receiver's permission bits (0600 by default; System V IPC ignores the umask) and removed
//! when its receiver goes — or, when the receiver was killed, by the next receiver of the key
//! or by `shmring gc` ([`abandoned`], [`remove`]).
//!
//! System V queues have no descriptor to poll and `msgrcv` has no timeout, so a blocking
//! receive polls with `IPC_NOWAIT` for 20 µs, then sleeps in `msgrcv` itself (one system call
//! per message while it sleeps, as the raw calls) while a ticker thread of the receiver queues
//! a [`TYPE_WAKE`] message when the receive's deadline or liveness slice passes. A sender whose
//! queue is full retries with `IPC_NOWAIT` between short sleeps.

use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::fcntl::Flock;

use crate::codec::{FrameError, Hello};
use crate::kqueue::{LockFiles, Senders, check_len, meet_receiver, sender_hello};
use crate::stream::Expect;
use crate::{ConnectError, Endpoint, Options, RecvTimeoutError, Refusal};

/// The message type of a sender's hello.
pub const TYPE_HELLO: libc::c_long = 1;
/// The message type of a message.
pub const TYPE_MESSAGE: libc::c_long = 2;
/// The message type of the receiver's own wake-up (empty).
pub const TYPE_WAKE: libc::c_long = 3;
/// The project id `sysv:PATH` passes to `ftok`.
pub const FTOK_PROJECT: i32 = b'S' as i32;
/// Bytes of the `mtype` field before a queue message's text.
const MTYPE: usize = std::mem::size_of::<libc::c_long>();

/// A system limit from `/proc/sys/kernel/`.
fn limit(file: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/sys/kernel/{file}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The key of a `sysv:` address: a number, or an absolute path through `ftok`.
pub(crate) fn key_of(endpoint: &Endpoint, address: &str) -> Result<libc::key_t, ConnectError> {
    if address.starts_with('/') {
        let path = std::ffi::CString::new(address).map_err(|_| ConnectError::BadEndpoint {
            endpoint: endpoint.to_string(),
            reason: "the path holds a NUL byte".into(),
        })?;
        // SAFETY: `path` is a valid NUL-terminated string for the call's duration.
        let key = unsafe { libc::ftok(path.as_ptr(), FTOK_PROJECT) };
        if key == -1 {
            return Err(ConnectError::io(
                endpoint,
                "ftok (the path must exist)",
                std::io::Error::last_os_error(),
            ));
        }
        return Ok(key);
    }
    parse_key(address).ok_or_else(|| ConnectError::BadEndpoint {
        endpoint: endpoint.to_string(),
        reason: "expected sysv:KEY (a non-zero 32-bit number, decimal or 0x hexadecimal) or \
                 sysv:/ABSOLUTE/PATH"
            .into(),
    })
}

/// A numeric key: decimal or `0x` hexadecimal, non-zero, 32 bits (as `u32` or `i32`).
pub(crate) fn parse_key(text: &str) -> Option<libc::key_t> {
    let value = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok()?,
        None => text.parse::<i64>().ok()?,
    };
    let key = if (0..=i64::from(u32::MAX)).contains(&value) {
        value as u32 as i32
    } else if (i64::from(i32::MIN)..0).contains(&value) {
        value as i32
    } else {
        return None;
    };
    (key != 0).then_some(key)
}

/// The liveness files of key `key`.
fn lock_files(key: libc::key_t) -> LockFiles {
    LockFiles::new(&format!("shmring-sysv-{:08x}", key as u32))
}

/// Removes queue `qid` (its messages are lost; blocked callers get `EIDRM`).
fn remove_queue(qid: i32) {
    // SAFETY: IPC_RMID takes no buffer.
    unsafe { libc::msgctl(qid, libc::IPC_RMID, std::ptr::null_mut()) };
}

/// The queue of `key`, if it exists (and this process may see it).
fn existing(key: libc::key_t) -> Option<i32> {
    // SAFETY: msgget takes no pointers.
    let qid = unsafe { libc::msgget(key, 0) };
    (qid >= 0).then_some(qid)
}

/// The number of messages in queue `qid` (`msg_qnum`), when this process may read its state.
fn waiting(qid: i32) -> Option<u64> {
    let mut ds = std::mem::MaybeUninit::<libc::msqid_ds>::zeroed();
    // SAFETY: IPC_STAT writes one msqid_ds into the buffer, which is one msqid_ds large.
    let r = unsafe { libc::msgctl(qid, libc::IPC_STAT, ds.as_mut_ptr()) };
    // SAFETY: zeroed is a valid msqid_ds (plain integers), and msgctl filled it on success.
    let ds = unsafe { ds.assume_init() };
    // msgqnum_t is u64 on x86_64, not on every target.
    #[allow(clippy::unnecessary_cast)]
    (r == 0).then_some(ds.msg_qnum as u64)
}

/// A `sysv:` queue whose receiver is gone (its lock file is not held), as `shmring gc` lists
/// them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Abandoned {
    /// The queue's key.
    pub key: libc::key_t,
    /// Whether the queue itself still exists (else only its lock files are left).
    pub queue: bool,
    /// Queue messages waiting in it (senders' hellos included; 0 when the queue is gone):
    /// what removing it discards.
    pub messages: u64,
}

/// Every `sysv:` queue left by a receiver that died (found by its lock files in `/dev/shm`),
/// by key.
///
/// ```
/// assert!(shmring_ipc::sysv::abandoned().iter().all(|a| a.key != 0));
/// ```
pub fn abandoned() -> Vec<Abandoned> {
    let mut found: Vec<Abandoned> = crate::kqueue::abandoned("shmring-sysv-")
        .into_iter()
        .filter_map(|hex| {
            let key = u32::from_str_radix(&hex, 16).ok()? as libc::key_t;
            let qid = existing(key);
            Some(Abandoned {
                key,
                queue: qid.is_some(),
                messages: qid.and_then(waiting).unwrap_or(0),
            })
        })
        .collect();
    found.sort_by_key(|a| a.key as u32);
    found
}

/// Removes an abandoned queue and its lock files — unless a receiver holds the key (bound
/// again meanwhile); a queue of the key that shmring did not make (no receiver's hello in the
/// lock file) is left alone. False only when a receiver holds the key (nothing removed).
///
/// ```
/// assert!(!shmring_ipc::sysv::remove(0x7fff_fff1) || true);
/// ```
pub fn remove(key: libc::key_t) -> bool {
    lock_files(key).remove_abandoned(|| {
        if let Some(qid) = existing(key) {
            remove_queue(qid);
        }
    })
}

/// When a blocked receive should be woken, shared with the ticker.
#[derive(Debug, Default)]
struct TickState {
    /// The receiver is blocked in `msgrcv` until this instant (`None`: not blocked).
    until: Option<Instant>,
    /// When the ticker wakes next by itself (a receive due earlier must wake it).
    wakes_at: Option<Instant>,
    stop: bool,
}

/// The receiver's ticker: queues a [`TYPE_WAKE`] message when a blocked receive's slice or
/// deadline passes.
#[derive(Debug)]
struct Ticker {
    state: Arc<(Mutex<TickState>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(qid: i32) -> std::io::Result<Ticker> {
        let state = Arc::new((Mutex::new(TickState::default()), Condvar::new()));
        let shared = state.clone();
        let thread = std::thread::Builder::new()
            .name("shmring-sysv-ticker".into())
            .spawn(move || tick(qid, &shared))?;
        Ok(Ticker {
            state,
            thread: Some(thread),
        })
    }

    /// The receiver is about to block until `until`.
    fn arm(&self, until: Instant) {
        let (lock, cv) = &*self.state;
        let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
        s.until = Some(until);
        // Only a receive due before the ticker's own next look needs a wake-up (a system
        // call); the usual one, a slice from now, does not.
        let early = s.wakes_at.is_none_or(|w| until < w);
        drop(s);
        if early {
            cv.notify_one();
        }
    }

    fn disarm(&self) {
        let (lock, _) = &*self.state;
        lock.lock().unwrap_or_else(|e| e.into_inner()).until = None;
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        let (lock, cv) = &*self.state;
        lock.lock().unwrap_or_else(|e| e.into_inner()).stop = true;
        cv.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How long a blocking receive sleeps before it looks at its senders' liveness.
const SLICE: Duration = Duration::from_millis(50);

fn tick(qid: i32, state: &(Mutex<TickState>, Condvar)) {
    let (lock, cv) = state;
    let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if s.stop {
            return;
        }
        let now = Instant::now();
        match s.until {
            Some(until) if until <= now => {
                s.until = None;
                let buf = TYPE_WAKE.to_ne_bytes();
                // SAFETY: `buf` holds an mtype and no text; msgsnd reads MTYPE bytes.
                unsafe { libc::msgsnd(qid, buf.as_ptr().cast(), 0, libc::IPC_NOWAIT) };
            }
            until => {
                let nap = until.map_or(SLICE, |u| (u - now).min(SLICE));
                s.wakes_at = Some(now + nap);
                s = cv.wait_timeout(s, nap).unwrap_or_else(|e| e.into_inner()).0;
                s.wakes_at = None;
            }
        }
    }
}

/// The receiving end of a System V message queue.
#[derive(Debug)]
pub(crate) struct SysvReceiver {
    qid: i32,
    max: usize,
    /// `mtype` and up to `msgmax` bytes of text (so a message over `max` is seen whole).
    scratch: Vec<u8>,
    _receiver_lock: Flock<File>,
    files: LockFiles,
    pub(crate) senders: Senders,
    ticker: Ticker,
}

impl Drop for SysvReceiver {
    fn drop(&mut self) {
        remove_queue(self.qid);
        self.files.remove();
    }
}

pub(crate) fn bind(
    endpoint: &Endpoint,
    address: &str,
    options: &Options,
    expect: Expect,
) -> Result<SysvReceiver, ConnectError> {
    let limit_error = |reason: String| ConnectError::Limit {
        endpoint: endpoint.to_string(),
        reason,
    };
    let key = key_of(endpoint, address)?;
    let msgmax = limit("msgmax").unwrap_or(8192);
    let msgmnb = limit("msgmnb").unwrap_or(16384);
    let max = u64::from(
        options
            .max_message
            .unwrap_or(msgmax.min(u64::from(u32::MAX)) as u32),
    );
    if max > msgmax {
        return Err(limit_error(format!(
            "messages of up to {max} bytes are over the system's msgmax of {msgmax} \
             (/proc/sys/kernel/msgmax)"
        )));
    }
    if max > msgmnb {
        return Err(limit_error(format!(
            "messages of up to {max} bytes do not fit a queue of the system's msgmnb of \
             {msgmnb} bytes (/proc/sys/kernel/msgmnb)"
        )));
    }
    let files = lock_files(key);
    let ours = files.bound_before();
    let receiver_lock = files.lock_receiver(
        endpoint,
        &Hello {
            flags: 0,
            max_frame: max as u32,
            fingerprint: expect.fingerprint,
            description: expect.description.clone(),
        },
    )?;
    // No live receiver: a queue left by a dead one is stale.
    if let Some(qid) = existing(key) {
        if !ours {
            let _ = std::fs::remove_file(&files.receiver);
            return Err(ConnectError::PeerRefused {
                endpoint: endpoint.to_string(),
                reason: format!(
                    "a System V queue of key {:#010x} exists that shmring did not make (queue \
                     id {qid}); remove it (`ipcrm -q {qid}`) if nothing uses it, or choose \
                     another key",
                    key as u32
                ),
            });
        }
        remove_queue(qid);
    }
    let mode = (options.mode & 0o777) as i32;
    // SAFETY: msgget takes no pointers.
    let qid = unsafe { libc::msgget(key, libc::IPC_CREAT | libc::IPC_EXCL | mode) };
    if qid < 0 {
        let e = std::io::Error::last_os_error();
        let _ = std::fs::remove_file(&files.receiver);
        return Err(match e.raw_os_error() {
            Some(libc::ENOSPC) => limit_error(format!(
                "the system refused another message queue ({e}: see /proc/sys/kernel/msgmni)"
            )),
            Some(libc::EEXIST) => ConnectError::InUse {
                endpoint: endpoint.to_string(),
            },
            _ => ConnectError::io(endpoint, "msgget", e),
        });
    }
    let senders = Senders::new(expect, files.senders_probe(endpoint)?);
    let ticker = Ticker::start(qid).map_err(|e| {
        remove_queue(qid);
        ConnectError::io(endpoint, "start the receiver's ticker thread", e)
    })?;
    Ok(SysvReceiver {
        qid,
        max: max as usize,
        scratch: vec![0; MTYPE + msgmax as usize],
        _receiver_lock: receiver_lock,
        files,
        senders,
        ticker,
    })
}

impl SysvReceiver {
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// One queue message into `buf`: `Some(Ok)` a message, `Some(Err)` a protocol error,
    /// `None` empty or woken (hellos and wakes are consumed here). `block`: sleep in
    /// `msgrcv` (the ticker ends it at the armed instant).
    fn take(&mut self, buf: &mut Vec<u8>, block: bool) -> Option<Result<(), RecvTimeoutError>> {
        loop {
            let flags = if block { 0 } else { libc::IPC_NOWAIT };
            let text = self.scratch.len() - MTYPE;
            // SAFETY: `scratch` holds MTYPE + `text` bytes, what msgrcv may write (an mtype
            // and at most `text` bytes of text; a longer message fails with E2BIG).
            let n =
                unsafe { libc::msgrcv(self.qid, self.scratch.as_mut_ptr().cast(), text, 0, flags) };
            if n < 0 {
                return match std::io::Error::last_os_error().raw_os_error() {
                    Some(libc::EINTR) if !block => continue,
                    Some(libc::E2BIG) => {
                        // Longer than msgmax was when this receiver bound: take it out.
                        // SAFETY: as above; MSG_NOERROR truncates to `text` bytes.
                        unsafe {
                            libc::msgrcv(
                                self.qid,
                                self.scratch.as_mut_ptr().cast(),
                                text,
                                0,
                                libc::IPC_NOWAIT | libc::MSG_NOERROR,
                            )
                        };
                        Some(Err(self.senders.protocol(FrameError::TooLong {
                            len: text as u64 + 1,
                            max: self.max as u32,
                        })))
                    }
                    // The queue was removed under this receiver: nothing more will come.
                    Some(libc::EIDRM | libc::EINVAL) => Some(Err(RecvTimeoutError::Disconnected)),
                    // Empty (ENOMSG), or interrupted while blocking (EINTR).
                    _ => None,
                };
            }
            let n = n as usize;
            let mtype =
                libc::c_long::from_ne_bytes(self.scratch[..MTYPE].try_into().expect("MTYPE bytes"));
            let body = &self.scratch[MTYPE..MTYPE + n];
            match mtype {
                TYPE_MESSAGE if n <= self.max => {
                    buf.clear();
                    buf.extend_from_slice(body);
                    return Some(Ok(()));
                }
                TYPE_MESSAGE => {
                    return Some(Err(self.senders.protocol(FrameError::TooLong {
                        len: n as u64,
                        max: self.max as u32,
                    })));
                }
                TYPE_HELLO => {
                    if let Some(e) = self.senders.hello(body) {
                        return Some(Err(e));
                    }
                }
                // The ticker ended a blocking receive; a stale one is skipped.
                TYPE_WAKE if block => return None,
                TYPE_WAKE => continue,
                other => {
                    return Some(Err(self.senders.protocol(FrameError::BadHello {
                        field: "queue message type",
                        value: other as u64,
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
        loop {
            if let Some(r) = self.take(buf, false) {
                return r;
            }
            if self.senders.gone() {
                // Every sender is gone: whatever they sent is in the queue already.
                return self
                    .take(buf, false)
                    .unwrap_or(Err(RecvTimeoutError::Disconnected));
            }
            if !wait {
                return Err(RecvTimeoutError::Timeout);
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Err(RecvTimeoutError::Timeout);
            }
            // A reply is often a few microseconds away: look again for a moment before
            // sleeping in msgrcv, whose wake-up costs tens of microseconds.
            if let Some(r) = self.poll_briefly(buf) {
                return r;
            }
            let slice = now + SLICE;
            self.ticker.arm(deadline.map_or(slice, |d| d.min(slice)));
            let got = self.take(buf, true);
            self.ticker.disarm();
            if let Some(r) = got {
                return r;
            }
        }
    }

    /// Tries `IPC_NOWAIT` receives for up to [`POLL`], spinning between them.
    fn poll_briefly(&mut self, buf: &mut Vec<u8>) -> Option<Result<(), RecvTimeoutError>> {
        let start = Instant::now();
        while start.elapsed() < POLL {
            for _ in 0..32 {
                std::hint::spin_loop();
            }
            if let Some(r) = self.take(buf, false) {
                return Some(r);
            }
        }
        None
    }

    pub(crate) fn is_disconnected(&mut self) -> bool {
        self.senders.gone()
    }
}

/// How long a blocking receive polls with `IPC_NOWAIT` before it sleeps in `msgrcv`.
const POLL: Duration = Duration::from_micros(20);

/// The sending end of a System V message queue.
#[derive(Debug)]
pub(crate) struct SysvSender {
    qid: i32,
    max: usize,
    scratch: Vec<u8>,
    receiver: crate::kqueue::Receiver,
    _senders: Flock<File>,
}

pub(crate) fn connect(
    endpoint: &Endpoint,
    address: &str,
    expect: &Expect,
) -> Result<SysvSender, ConnectError> {
    let key = key_of(endpoint, address)?;
    // SAFETY: msgget takes no pointers.
    let qid = unsafe { libc::msgget(key, 0) };
    if qid < 0 {
        let e = std::io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::ENOENT) => ConnectError::NotFound {
                endpoint: endpoint.to_string(),
            },
            Some(libc::EACCES) => ConnectError::PeerRefused {
                endpoint: endpoint.to_string(),
                reason: format!("the queue's permissions do not let this user send ({e})"),
            },
            _ => ConnectError::io(endpoint, "msgget", e),
        });
    }
    let files = lock_files(key);
    // The receiver's hello: its payload type (a typed sender checks it) and largest message.
    let (peer, receiver) = meet_receiver(endpoint, &files, expect)?;
    let senders = files.lock_sender(endpoint)?;
    let max = peer.max_frame as usize;
    let hello = sender_hello(endpoint, expect, max)?;
    let mut tx = SysvSender {
        qid,
        max,
        scratch: Vec::with_capacity(MTYPE + max),
        receiver,
        _senders: senders,
    };
    tx.put(
        TYPE_HELLO,
        &hello,
        true,
        Some(Instant::now() + Duration::from_secs(5)),
    )
    .map_err(|_| ConnectError::HandshakeTimeout {
        endpoint: endpoint.to_string(),
        seconds: 5,
    })?;
    Ok(tx)
}

impl SysvSender {
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
        self.put(TYPE_MESSAGE, msg, wait, deadline)
    }

    fn put(
        &mut self,
        mtype: libc::c_long,
        msg: &[u8],
        wait: bool,
        deadline: Option<Instant>,
    ) -> Result<(), Refusal> {
        if self.receiver.is_broken() {
            return Err(Refusal::Disconnected);
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(&mtype.to_ne_bytes());
        self.scratch.extend_from_slice(msg);
        let mut pause = Duration::from_micros(20);
        let mut looked = Instant::now();
        let mut probe = !wait;
        loop {
            // SAFETY: `scratch` is an mtype followed by `msg.len()` bytes of text.
            let rc = unsafe {
                libc::msgsnd(
                    self.qid,
                    self.scratch.as_ptr().cast(),
                    msg.len(),
                    libc::IPC_NOWAIT,
                )
            };
            if rc == 0 {
                return Ok(());
            }
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EAGAIN) => {}
                Some(libc::EINTR) => continue,
                // EIDRM, EINVAL: the queue was removed (its receiver went); anything else
                // leaves this sender unable to go on.
                _ => return Err(self.receiver.broke()),
            }
            if probe && self.is_disconnected() {
                return Err(Refusal::Disconnected);
            }
            if !wait {
                return Err(Refusal::Full);
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Err(Refusal::Timeout);
            }
            // Full: no descriptor to wait on. Back off (20 µs doubling to 1 ms), and look at
            // the receiver once a slice.
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(1));
            probe = now.duration_since(looked) >= SLICE;
            if probe {
                looked = now;
            }
        }
    }

    pub(crate) fn is_disconnected(&mut self) -> bool {
        self.receiver.is_disconnected()
    }
}

/// A key for a name, for programs that name their queues by strings (FNV-1a of the name's
/// bytes, folded to 32 bits, never 0): `sysv:{key_for(name):#x}`. Two names may share a key
/// (one in four billion).
///
/// ```
/// let key = shmring_ipc::sysv::key_for("market-ticks");
/// assert_ne!(key, 0);
/// assert_eq!(key, shmring_ipc::sysv::key_for("market-ticks"));
/// ```
pub fn key_for(name: &str) -> u32 {
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    ((h >> 32) as u32 ^ h as u32).max(1)
}

/// The key of a duplex connection's channel `dir` of client `id` on the server at `address`
/// (docs/protocols.md, "sysv:"): [`key_for`] of `KEY.ID.DIR`, with the server's key as 8
/// lowercase hexadecimal digits.
pub(crate) fn derived_key(base: &Endpoint, address: &str, id: &str, dir: &str) -> u32 {
    // The server bound `address` already, so it resolves; -1 is what a failed ftok returns.
    let key = key_of(base, address).unwrap_or(-1);
    key_for(&format!("{:08x}.{id}.{dir}", key as u32))
}

/// Whether `path` is a plausible `sysv:` address (a key or an absolute path).
pub(crate) fn valid_address(address: &str) -> bool {
    Path::new(address).is_absolute() || parse_key(address).is_some()
}
