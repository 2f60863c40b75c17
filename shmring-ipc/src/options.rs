//! `Options`: what a channel is made with on any transport (maximum message, capacity, mode,
//! timeouts, wait strategy).

#[allow(unused_imports)]
use super::*;

/// Settings of a binding or connection.
///
/// ```
/// let options = shmring_ipc::Options::default().max_message(4096);
/// assert_eq!(options.max_message, Some(4096));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Options {
    /// The largest message a receiver accepts. `None` (the default): 1 MiB on the stream
    /// transports, the system's `msgsize_max` on `mq:`; `shm:` rings take half their
    /// capacity. A `fifo:` or `pipe` sender must use the receiver's value (these carry no
    /// reply).
    pub max_message: Option<u32>,
    /// Bytes of a `shm:` ring created by `bind` (1 MiB by default; messages up to half).
    pub shm_capacity: u64,
    /// How long connecting waits for the peer's hello.
    pub handshake_timeout: Duration,
    /// Messages an `mq:` queue holds (`None`: the system's `msg_max`).
    pub mq_depth: Option<u32>,
    /// Which peers an `auto:` receiver accepts (same user by default).
    pub auto_peers: auto::Peers,
    /// An `auto:` sender stays on the socket even when offered shared memory (also
    /// `SHMRING_IPC_NO_SHM=1` in the environment).
    pub auto_no_shm: bool,
    /// Permission bits of what `bind` creates — a `shm:` ring, a `uds:` socket file, a
    /// `fifo:`, an `mq:` queue — and so who else may connect: `0o600` (owner only) by
    /// default; `0o660` admits the owner's group. Applied exactly, whatever the umask.
    /// (`auto:` admits peers by their credentials instead: [`Options::auto_peers`].)
    pub mode: u32,
    /// Publish/subscribe: what a publisher does when a subscriber falls behind —
    /// [`Policy::Lossless`](shmring::broadcast::Policy) (the default: it waits) or `Overwrite`
    /// (it goes on; the subscriber gets `Lagged(n)`). On `shm:` the ring records it when
    /// `bind` creates it.
    pub policy: shmring::broadcast::Policy,
    /// Publish/subscribe over `shm:`: a subscriber starts at the oldest message the ring
    /// still holds instead of the next one (history for late joiners).
    pub from_oldest: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            max_message: None,
            shm_capacity: 1 << 20,
            handshake_timeout: Duration::from_secs(5),
            mq_depth: None,
            auto_peers: auto::Peers::SameUser,
            auto_no_shm: false,
            mode: shmring::DEFAULT_MODE,
            policy: shmring::broadcast::Policy::Lossless,
            from_oldest: false,
        }
    }
}

impl Options {
    /// Sets [`Options::policy`].
    ///
    /// ```
    /// use shmring::broadcast::Policy;
    /// let o = shmring_ipc::Options::default().policy(Policy::Overwrite);
    /// assert_eq!(o.policy, Policy::Overwrite);
    /// ```
    pub fn policy(mut self, policy: shmring::broadcast::Policy) -> Options {
        self.policy = policy;
        self
    }

    /// Sets [`Options::from_oldest`].
    ///
    /// ```
    /// assert!(shmring_ipc::Options::default().from_oldest().from_oldest);
    /// ```
    pub fn from_oldest(mut self) -> Options {
        self.from_oldest = true;
        self
    }

    /// Sets [`Options::max_message`].
    ///
    /// ```
    /// assert_eq!(shmring_ipc::Options::default().max_message(10).max_message, Some(10));
    /// ```
    pub fn max_message(mut self, max: u32) -> Options {
        self.max_message = Some(max.min(codec::MAX_FRAME_LIMIT));
        self
    }

    /// The maximum on the stream transports.
    pub(crate) fn stream_max(&self) -> u32 {
        self.max_message.unwrap_or(DEFAULT_STREAM_MAX)
    }

    /// Sets [`Options::shm_capacity`].
    ///
    /// ```
    /// assert_eq!(shmring_ipc::Options::default().shm_capacity(4096).shm_capacity, 4096);
    /// ```
    pub fn shm_capacity(mut self, bytes: u64) -> Options {
        self.shm_capacity = bytes;
        self
    }

    /// Sets [`Options::mq_depth`].
    ///
    /// ```
    /// assert_eq!(shmring_ipc::Options::default().mq_depth(4).mq_depth, Some(4));
    /// ```
    pub fn mq_depth(mut self, depth: u32) -> Options {
        self.mq_depth = Some(depth);
        self
    }

    /// Sets [`Options::handshake_timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let o = shmring_ipc::Options::default().handshake_timeout(Duration::from_secs(1));
    /// assert_eq!(o.handshake_timeout, Duration::from_secs(1));
    /// ```
    pub fn handshake_timeout(mut self, timeout: Duration) -> Options {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets [`Options::mode`] (permission bits; only `0o777` are used).
    ///
    /// ```
    /// assert_eq!(shmring_ipc::Options::default().mode(0o660).mode, 0o660);
    /// ```
    pub fn mode(mut self, mode: u32) -> Options {
        self.mode = mode & 0o777;
        self
    }
}
