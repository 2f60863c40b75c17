//! The socket publisher (`uds:`, `tcp:`): a listener whose helper thread accepts subscribers,
//! reads their hellos and keeps their connections flowing; each message fanned out to every
//! subscriber's connection under the policy.

use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::poll::PollFlags;

use super::Policy;
use crate::codec::{
    FLAG_OVERWRITE, FLAG_PUBLISHER, FLAG_SUBSCRIBER, Hello, encode_frame, encode_lag,
};
use crate::stream::{Conn, HIGH_WATER, Listen, StreamSender, hello_missing, wait_fd};
use crate::{ConnectError, Endpoint, Options, Refusal, transport};

/// How often the helper looks for new subscribers' hellos, a stop, and committed bytes to
/// write while the publisher is idle.
const TICK: Duration = Duration::from_millis(10);

/// One subscriber's connection.
#[derive(Debug)]
struct Sub {
    tx: StreamSender,
    /// Messages dropped for it (overwrite) since it last got a lag record.
    lagged: u64,
}

/// The subscribers, shared with the helper thread.
#[derive(Debug, Default)]
struct Shared {
    subs: Mutex<Vec<Sub>>,
    stop: AtomicBool,
}

impl Shared {
    fn subs(&self) -> MutexGuard<'_, Vec<Sub>> {
        self.subs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The fan-out publisher.
#[derive(Debug)]
pub(super) struct Fanout {
    endpoint: Endpoint,
    policy: Policy,
    max: u32,
    shared: Arc<Shared>,
    helper: Option<JoinHandle<()>>,
    frame: Vec<u8>,
}

impl Fanout {
    pub(super) fn bind(endpoint: &Endpoint, options: &Options) -> Result<Fanout, ConnectError> {
        let overwrite = options.policy == Policy::Overwrite;
        let max = options.stream_max();
        let hello = Hello {
            flags: FLAG_PUBLISHER | if overwrite { FLAG_OVERWRITE } else { 0 },
            max_frame: max,
            fingerprint: 0,
            description: String::new(),
        };
        let (listener, bound) = match endpoint {
            Endpoint::Uds(path) => (
                transport::uds_listen(endpoint, path, options, &hello)?,
                endpoint.clone(),
            ),
            Endpoint::Tcp(addr) => {
                let (l, local) = transport::tcp_listen(endpoint, addr, &hello)?;
                (l, Endpoint::Tcp(local.to_string()))
            }
            _ => unreachable!("only sockets fan out"),
        };
        let shared = Arc::new(Shared::default());
        let helper = {
            let shared = shared.clone();
            let timeout = options.handshake_timeout;
            std::thread::Builder::new()
                .name("shmring-publisher".into())
                .spawn(move || accept_loop(listener, &shared, max, timeout))
                .map_err(|e| ConnectError::io(endpoint, "start the accepting thread", e))?
        };
        Ok(Fanout {
            endpoint: bound,
            policy: options.policy,
            max,
            shared,
            helper: Some(helper),
            frame: Vec::new(),
        })
    }

    pub(super) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub(super) fn policy(&self) -> Policy {
        self.policy
    }

    pub(super) fn max_message(&self) -> usize {
        self.max as usize
    }

    pub(super) fn subscriber_count(&mut self) -> usize {
        let mut subs = self.shared.subs();
        subs.retain_mut(|s| !s.tx.is_disconnected());
        subs.len()
    }

    /// Publishes one frame to every subscriber (see `Publisher::send`, `try_send`,
    /// `send_timeout`): lossless, first waits until every subscriber has room (at most
    /// [`HIGH_WATER`] committed bytes unwritten; none for a try), so a message goes to all of
    /// them or to none; overwrite, a subscriber without room misses it and later gets a lag
    /// record. A blocking lossless send returns once every subscriber's stream has the whole
    /// frame. Subscribers whose connection broke are dropped.
    pub(super) fn publish(
        &mut self,
        msg: &[u8],
        wait: bool,
        deadline: Option<Instant>,
    ) -> Result<(), Refusal> {
        if msg.len() > self.max as usize {
            return Err(Refusal::TooLarge {
                len: msg.len(),
                max: self.max as usize,
            });
        }
        self.frame.clear();
        encode_frame(msg, &mut self.frame);
        let mut subs = self.shared.subs();
        if self.policy == Policy::Overwrite {
            let mut lag = Vec::with_capacity(crate::codec::LAG_RECORD);
            subs.retain_mut(|s| {
                if s.tx.flush_some().is_err() {
                    return false;
                }
                if s.tx.pending() > HIGH_WATER {
                    s.lagged += 1;
                    return true;
                }
                if s.lagged > 0 {
                    lag.clear();
                    encode_lag(std::mem::take(&mut s.lagged), &mut lag);
                    if s.tx.commit(&lag).is_err() {
                        return false;
                    }
                }
                s.tx.commit(&self.frame).is_ok()
            });
            return Ok(());
        }
        let limit = if wait { HIGH_WATER } else { 0 };
        loop {
            subs.retain_mut(|s| s.tx.flush_some().is_ok());
            let behind: Vec<BorrowedFd<'_>> = subs
                .iter()
                .filter(|s| s.tx.pending() > limit)
                .map(|s| s.tx.readiness())
                .collect();
            if behind.is_empty() {
                break;
            }
            if !wait {
                return Err(Refusal::Full);
            }
            match wait_fd(&behind, PollFlags::POLLOUT, deadline) {
                Ok(true) => {}
                Ok(false) => return Err(Refusal::Timeout),
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        subs.retain_mut(|s| s.tx.commit(&self.frame).is_ok());
        if wait && deadline.is_none() {
            subs.retain_mut(|s| s.tx.flush_blocking(None).is_ok());
        }
        Ok(())
    }
}

impl Drop for Fanout {
    /// Stops the helper and tells each subscriber that missed the last messages how many;
    /// each subscriber's committed frames are completed as its connection is dropped (up to
    /// [`crate::stream::DROP_FLUSH`] each).
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(h) = self.helper.take() {
            let _ = h.join();
        }
        // A subscriber that missed the last messages is told so before the end.
        let mut lag = Vec::new();
        for s in self.shared.subs().iter_mut().filter(|s| s.lagged > 0) {
            lag.clear();
            encode_lag(std::mem::take(&mut s.lagged), &mut lag);
            let _ = s.tx.commit(&lag);
        }
    }
}

/// A connection accepted, its subscriber's hello being read.
struct Joining {
    conn: Box<dyn Conn>,
    got: Vec<u8>,
    since: Instant,
}

/// What reading a joining subscriber's hello gave.
enum Hearing {
    /// Not all of it yet.
    More,
    /// A subscriber that accepts `max`-byte messages.
    Subscriber(u32),
    /// Not a subscriber (or gone): close.
    Refuse,
}

/// The helper thread: accepts connections, reads each one's hello (a subscriber's, accepting
/// at least `max`, within `timeout`) and hands it to the publisher; writes committed bytes
/// of subscribers while the publisher is idle; ends when told to stop.
fn accept_loop(mut listener: Box<dyn Listen>, shared: &Shared, max: u32, timeout: Duration) {
    let mut joining: Vec<Joining> = Vec::new();
    // Subscribers heard and not yet handed over: the publisher may hold the list for long
    // (a lossless send waiting for a slow subscriber), and accepting must go on meanwhile.
    let mut ready: Vec<Sub> = Vec::new();
    while !shared.stop.load(Ordering::Acquire) {
        {
            let fds: Vec<BorrowedFd<'_>> = std::iter::once(listener.as_fd())
                .chain(joining.iter().map(|j| j.conn.as_fd()))
                .collect();
            let _ = wait_fd(&fds, PollFlags::POLLIN, Some(Instant::now() + TICK));
        }
        while let Ok(Some(conn)) = listener.accept_one() {
            joining.push(Joining {
                conn,
                got: Vec::new(),
                since: Instant::now(),
            });
        }
        let mut i = 0;
        while i < joining.len() {
            match hear(&mut joining[i], max, timeout) {
                Hearing::More => i += 1,
                Hearing::Refuse => drop(joining.swap_remove(i)),
                Hearing::Subscriber(their_max) => {
                    let j = joining.swap_remove(i);
                    let tx = StreamSender::new(j.conn, their_max, false);
                    ready.push(Sub { tx, lagged: 0 });
                }
            }
        }
        // Keep committed frames flowing while the publisher is idle (it may be busy: then
        // it writes them itself).
        if let Ok(mut subs) = shared.subs.try_lock() {
            subs.append(&mut ready);
            subs.retain_mut(|s| s.tx.pending() == 0 || s.tx.flush_some().is_ok());
        }
    }
}

/// Reads what has arrived of a joining connection's hello.
fn hear(j: &mut Joining, max: u32, timeout: Duration) -> Hearing {
    let mut chunk = [0u8; 256];
    loop {
        match Hello::decode_pubsub(&j.got) {
            Ok(Some((hello, _))) => {
                return if hello.flags == FLAG_SUBSCRIBER && hello.max_frame >= max {
                    Hearing::Subscriber(hello.max_frame)
                } else {
                    Hearing::Refuse
                };
            }
            Ok(None) => {}
            Err(_) => return Hearing::Refuse,
        }
        let want = hello_missing(&j.got).min(chunk.len());
        match j.conn.read(&mut chunk[..want]) {
            Ok(0) => return Hearing::Refuse,
            Ok(n) => j.got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return if j.since.elapsed() > timeout {
                    Hearing::Refuse
                } else {
                    Hearing::More
                };
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Hearing::Refuse,
        }
    }
}
