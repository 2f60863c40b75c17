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
    /// How a `zenoh:` endpoint's session is made (feature `zenoh`).
    pub zenoh: ZenohOptions,
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
            zenoh: ZenohOptions::default(),
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

    /// Sets the zenoh session's mode (`peer` by default, or the config file's).
    ///
    /// ```
    /// use shmring_ipc::{Options, ZenohMode};
    /// let o = Options::default().zenoh_mode(ZenohMode::Client).zenoh_connect("tcp/10.0.0.2:7447");
    /// assert_eq!(o.zenoh.mode, Some(ZenohMode::Client));
    /// ```
    pub fn zenoh_mode(mut self, mode: ZenohMode) -> Options {
        self.zenoh.mode = Some(mode);
        self
    }

    /// Adds a zenoh endpoint the session connects to (`tcp/HOST:PORT`; a peer, or a router in
    /// client mode).
    ///
    /// ```
    /// let o = shmring_ipc::Options::default().zenoh_connect("tcp/127.0.0.1:7447");
    /// assert_eq!(o.zenoh.connect, ["tcp/127.0.0.1:7447"]);
    /// ```
    pub fn zenoh_connect(mut self, endpoint: impl Into<String>) -> Options {
        self.zenoh.connect.push(endpoint.into());
        self
    }

    /// Adds a zenoh endpoint the session listens on (`tcp/0.0.0.0:7447`).
    ///
    /// ```
    /// let o = shmring_ipc::Options::default().zenoh_listen("tcp/127.0.0.1:0");
    /// assert_eq!(o.zenoh.listen, ["tcp/127.0.0.1:0"]);
    /// ```
    pub fn zenoh_listen(mut self, endpoint: impl Into<String>) -> Options {
        self.zenoh.listen.push(endpoint.into());
        self
    }

    /// Turns zenoh's scouting (multicast and gossip discovery of peers) on or off; off, a
    /// session knows only the endpoints it connects to or that connect to it.
    ///
    /// ```
    /// let o = shmring_ipc::Options::default().zenoh_scouting(false);
    /// assert_eq!(o.zenoh.scouting, Some(false));
    /// ```
    pub fn zenoh_scouting(mut self, enabled: bool) -> Options {
        self.zenoh.scouting = Some(enabled);
        self
    }

    /// Starts the session from a zenoh configuration file (JSON5; the options above are
    /// applied on top of it).
    ///
    /// ```
    /// let o = shmring_ipc::Options::default().zenoh_config_file("/etc/zenoh/session.json5");
    /// assert!(o.zenoh.config_file.is_some());
    /// ```
    pub fn zenoh_config_file(mut self, path: impl Into<std::path::PathBuf>) -> Options {
        self.zenoh.config_file = Some(path.into());
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

/// How a `zenoh:` endpoint's session is made (feature `zenoh`): each handle opens its own
/// session with these settings.
///
/// ```
/// let z = shmring_ipc::ZenohOptions::default();
/// assert!(z.mode.is_none() && z.connect.is_empty() && z.scouting.is_none());
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ZenohOptions {
    /// Peer (the default) or client of a router.
    pub mode: Option<ZenohMode>,
    /// Endpoints to connect to (`tcp/HOST:PORT`).
    pub connect: Vec<String>,
    /// Endpoints to listen on.
    pub listen: Vec<String>,
    /// Scouting on or off (`None`: zenoh's default, multicast on, or the config file's).
    pub scouting: Option<bool>,
    /// A zenoh configuration file the settings above are applied on top of.
    pub config_file: Option<std::path::PathBuf>,
}

/// A zenoh session's mode.
///
/// ```
/// assert_ne!(shmring_ipc::ZenohMode::Peer, shmring_ipc::ZenohMode::Client);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZenohMode {
    /// Talks to other peers directly (and through routers if configured).
    Peer,
    /// Talks through the router(s) it connects to.
    Client,
}
