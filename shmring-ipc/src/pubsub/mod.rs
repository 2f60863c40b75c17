//! Publish/subscribe: one publisher, any number of subscribers, each getting every message,
//! with one API over `shm:` (the broadcast ring of byte messages,
//! [`shmring::framed::broadcast`]) and `uds:`/`tcp:` (the publisher fans each message out
//! to every connected subscriber).
//!
//! The slow-subscriber policy ([`Options::policy`]) is the same on every transport:
//! *lossless* (the default) — the publisher waits for the slowest live subscriber; a
//! subscriber that dies or disconnects stops holding it — or *overwrite* — the publisher
//! never waits, and a subscriber that fell behind gets
//! [`RecvError::Lagged(n)`](RecvError::Lagged), how many messages it missed, then the next
//! ones. On `shm:` "behind" means a whole ring behind; on a socket, more than the socket's
//! buffer plus 256 KiB of frames the publisher holds for that subscriber. History for late
//! joiners ([`Options::from_oldest`]) is kept by the `shm:` ring only.
//!
//! FIFOs, pipes and message queues deliver each message to one reader: binding or connecting
//! them here is [`ConnectError::Unsupported`].
//!
//! ```
//! use shmring_ipc::{Publisher, Subscriber};
//!
//! let endpoint = format!("shm:pubsub-doc-{}", std::process::id());
//! let mut publisher = Publisher::bind(&endpoint)?;
//! let mut a = Subscriber::connect(&endpoint)?;   // normally in other processes
//! let mut b = Subscriber::connect(&endpoint)?;
//! publisher.send(b"tick").unwrap();
//! assert_eq!(a.recv().unwrap(), b"tick");
//! assert_eq!(b.recv().unwrap(), b"tick");
//! # shmring::Segment::unlink_name(&endpoint[4..]).unwrap();
//! # Ok::<(), shmring_ipc::ConnectError>(())
//! ```
//!
//! The wire protocol of `uds:`/`tcp:` publish/subscribe is in `docs/protocols.md`
//! ("shmring-ipc publish/subscribe").

mod fanout;
mod subscriber;

use std::time::{Duration, Instant};

pub use shmring::broadcast::{Policy, RecvError, RecvTimeoutError, TryRecvError};
use shmring::framed::broadcast as ring;

use crate::{ConnectError, Endpoint, Options, Refusal, SendError, SendTimeoutError, TrySendError};
use fanout::Fanout;
use subscriber::StreamSubscriber;

/// The publishing end: one per endpoint.
///
/// ```
/// let endpoint = format!("shm:pubsub-doc-pub-{}", std::process::id());
/// let mut publisher = shmring_ipc::Publisher::bind(&endpoint)?;
/// assert_eq!(publisher.subscriber_count(), 0);
/// publisher.send(b"nobody listens yet").unwrap(); // kept in the ring as history
/// # shmring::Segment::unlink_name(&endpoint[4..]).unwrap();
/// # Ok::<(), shmring_ipc::ConnectError>(())
/// ```
#[derive(Debug)]
pub struct Publisher {
    inner: PublisherInner,
    endpoint: Endpoint,
}

#[derive(Debug)]
enum PublisherInner {
    Shm(ring::Sender),
    Fanout(Fanout),
    #[cfg(feature = "zenoh")]
    Zenoh(Box<crate::zenoh_link::ZenohSender>, Policy),
}

/// A subscribing end: any number per endpoint.
///
/// ```
/// let endpoint = format!("shm:pubsub-doc-sub-{}", std::process::id());
/// let mut publisher = shmring_ipc::Publisher::bind(&endpoint)?;
/// let mut subscriber = shmring_ipc::Subscriber::connect(&endpoint)?;
/// publisher.send(b"x").unwrap();
/// assert_eq!(subscriber.try_recv().unwrap(), b"x");
/// # shmring::Segment::unlink_name(&endpoint[4..]).unwrap();
/// # Ok::<(), shmring_ipc::ConnectError>(())
/// ```
#[derive(Debug)]
pub struct Subscriber {
    inner: SubscriberInner,
    endpoint: Endpoint,
}

#[derive(Debug)]
enum SubscriberInner {
    Shm(ring::Receiver),
    Stream(StreamSubscriber),
    #[cfg(feature = "zenoh")]
    Zenoh(Box<crate::zenoh_link::ZenohReceiver>, Policy),
}

/// The refusal of a transport that cannot fan out.
fn unsupported(endpoint: &Endpoint, what: &'static str) -> ConnectError {
    ConnectError::Unsupported {
        endpoint: endpoint.to_string(),
        what,
        reason: "a FIFO, a pipe or a message queue gives each message to one reader; \
                 publish/subscribe needs shm:, uds:, tcp: or zenoh:",
    }
}

impl Publisher {
    /// Binds the publisher at `endpoint` with the default [`Options`].
    ///
    /// # Errors
    ///
    /// As [`bind_with`](Publisher::bind_with).
    ///
    /// ```
    /// let err = shmring_ipc::Publisher::bind("fifo:/tmp/nope").unwrap_err();
    /// assert!(err.to_string().contains("publish/subscribe needs shm:, uds:, tcp: or zenoh:"), "{err}");
    /// ```
    pub fn bind(endpoint: &str) -> Result<Publisher, ConnectError> {
        Publisher::bind_with(endpoint, &Options::default())
    }

    /// Binds the publisher at `endpoint`: on `shm:` it creates the ring
    /// (`options.shm_capacity` bytes, in 64-byte cells, with `options.policy`) or takes over
    /// one whose publisher died; on `uds:`/`tcp:` it listens, and a helper thread accepts
    /// subscribers as they connect.
    ///
    /// # Errors
    ///
    /// [`ConnectError::Unsupported`] for `fifo:`, `pipe`, `mq:` and `auto:`;
    /// [`ConnectError::InUse`] when a live publisher holds the endpoint; the transport's own.
    ///
    /// ```
    /// use shmring_ipc::{Options, Publisher};
    /// use shmring::broadcast::Policy;
    /// let endpoint = format!("shm:pubsub-doc-bind-{}", std::process::id());
    /// let p = Publisher::bind_with(&endpoint, &Options::default().policy(Policy::Overwrite))?;
    /// assert_eq!(p.policy(), Policy::Overwrite);
    /// # shmring::Segment::unlink_name(&endpoint[4..]).unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn bind_with(endpoint: &str, options: &Options) -> Result<Publisher, ConnectError> {
        let endpoint = Endpoint::parse(endpoint)?;
        let inner = match &endpoint {
            Endpoint::Shm(name) => PublisherInner::Shm(shm_publisher(&endpoint, name, options)?),
            Endpoint::Uds(_) | Endpoint::Tcp(_) => {
                PublisherInner::Fanout(Fanout::bind(&endpoint, options)?)
            }
            #[cfg(feature = "zenoh")]
            Endpoint::Zenoh(key) => PublisherInner::Zenoh(
                Box::new(crate::zenoh_link::ZenohSender::connect(
                    &endpoint,
                    key,
                    options,
                    &crate::stream::Expect::default(),
                    false,
                )?),
                options.policy,
            ),
            #[cfg(not(feature = "zenoh"))]
            Endpoint::Zenoh(_) => return Err(crate::no_zenoh(&endpoint)),
            _ => return Err(unsupported(&endpoint, "publish")),
        };
        Ok(Publisher { inner, endpoint })
    }

    /// The endpoint this publisher is bound at (for `tcp:HOST:0`, with the port chosen).
    ///
    /// ```
    /// let p = shmring_ipc::Publisher::bind("tcp:127.0.0.1:0")?;
    /// assert!(!p.endpoint().to_string().ends_with(":0"));
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn endpoint(&self) -> &Endpoint {
        match &self.inner {
            PublisherInner::Fanout(f) => f.endpoint(),
            PublisherInner::Shm(_) => &self.endpoint,
            #[cfg(feature = "zenoh")]
            PublisherInner::Zenoh(..) => &self.endpoint,
        }
    }

    /// The policy for slow subscribers.
    ///
    /// ```
    /// let p = shmring_ipc::Publisher::bind("tcp:127.0.0.1:0")?;
    /// assert_eq!(p.policy(), shmring::broadcast::Policy::Lossless);
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn policy(&self) -> Policy {
        match &self.inner {
            PublisherInner::Shm(tx) => tx.policy(),
            PublisherInner::Fanout(f) => f.policy(),
            #[cfg(feature = "zenoh")]
            PublisherInner::Zenoh(_, policy) => *policy,
        }
    }

    /// The largest message this publisher sends.
    ///
    /// ```
    /// let p = shmring_ipc::Publisher::bind("tcp:127.0.0.1:0")?;
    /// assert_eq!(p.max_message(), shmring_ipc::DEFAULT_STREAM_MAX as usize);
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn max_message(&self) -> usize {
        match &self.inner {
            PublisherInner::Shm(tx) => tx.max_message(),
            PublisherInner::Fanout(f) => f.max_message(),
            #[cfg(feature = "zenoh")]
            PublisherInner::Zenoh(tx, _) => tx.max(),
        }
    }

    /// Subscribers connected now (on `shm:`, receivers attached and not proven dead).
    ///
    /// ```
    /// let endpoint = format!("shm:pubsub-doc-count-{}", std::process::id());
    /// let mut p = shmring_ipc::Publisher::bind(&endpoint)?;
    /// let s = shmring_ipc::Subscriber::connect(&endpoint)?;
    /// assert_eq!(p.subscriber_count(), 1);
    /// drop(s);
    /// assert_eq!(p.subscriber_count(), 0);
    /// # shmring::Segment::unlink_name(&endpoint[4..]).unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn subscriber_count(&mut self) -> usize {
        match &mut self.inner {
            PublisherInner::Shm(tx) => tx.receiver_count(),
            PublisherInner::Fanout(f) => f.subscriber_count(),
            #[cfg(feature = "zenoh")]
            PublisherInner::Zenoh(tx, _) => tx.receiver_count(),
        }
    }

    /// Publishes `msg`, waiting (lossless) while the slowest subscriber is behind.
    ///
    /// # Errors
    ///
    /// [`SendError::TooLarge`]; `Corrupted` (a `shm:` ring's shared state). A publisher is
    /// never `Disconnected`: with no subscriber, a message goes to nobody (on `shm:` it stays
    /// as history).
    ///
    /// ```
    /// let mut p = shmring_ipc::Publisher::bind("tcp:127.0.0.1:0")?;
    /// p.send(b"to nobody").unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        self.publish(msg, true, None).map_err(Refusal::into_send)
    }

    /// Publishes `msg` without waiting.
    ///
    /// # Errors
    ///
    /// As [`send`](Publisher::send), plus [`TrySendError::Full`] when a lossless publisher's
    /// slowest subscriber has no room now.
    ///
    /// ```
    /// let mut p = shmring_ipc::Publisher::bind("tcp:127.0.0.1:0")?;
    /// p.try_send(b"now").unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError> {
        self.publish(msg, false, None).map_err(Refusal::into_try)
    }

    /// Publishes `msg`, waiting at most `timeout` for the slowest subscriber.
    ///
    /// # Errors
    ///
    /// As [`send`](Publisher::send), plus [`SendTimeoutError::Timeout`] (nothing was sent
    /// to anybody).
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut p = shmring_ipc::Publisher::bind("tcp:127.0.0.1:0")?;
    /// p.send_timeout(b"soon", Duration::from_millis(10)).unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn send_timeout(&mut self, msg: &[u8], timeout: Duration) -> Result<(), SendTimeoutError> {
        self.publish(msg, true, Instant::now().checked_add(timeout))
            .map_err(Refusal::into_timeout)
    }

    fn publish(
        &mut self,
        msg: &[u8],
        wait: bool,
        deadline: Option<Instant>,
    ) -> Result<(), Refusal> {
        match &mut self.inner {
            PublisherInner::Shm(tx) if !wait => tx.try_send(msg).map_err(Refusal::from),
            PublisherInner::Shm(tx) => match deadline {
                Some(d) => tx.send_deadline(msg, d).map_err(Refusal::from),
                None => tx.send(msg).map_err(Refusal::from),
            },
            PublisherInner::Fanout(f) => f.publish(msg, wait, deadline),
            #[cfg(feature = "zenoh")]
            PublisherInner::Zenoh(tx, _) => tx.send(msg, wait, deadline).map_err(Refusal::from),
        }
    }
}

/// The `shm:` publisher: the ring created, or taken over from a dead publisher.
fn shm_publisher(
    endpoint: &Endpoint,
    name: &str,
    options: &Options,
) -> Result<ring::Sender, ConnectError> {
    let cells = (options.shm_capacity / ring::CELL as u64).max(2);
    let made = ring::Sender::options()
        .mode(options.mode)
        .policy(options.policy)
        .open_or_create(name, cells);
    made.map_err(|e| match e {
        shmring::OpenError::RoleTaken { .. } => ConnectError::InUse {
            endpoint: endpoint.to_string(),
        },
        e => ConnectError::Open(e),
    })
}

impl Subscriber {
    /// Subscribes at `endpoint` with the default [`Options`].
    ///
    /// # Errors
    ///
    /// As [`connect_with`](Subscriber::connect_with).
    ///
    /// ```
    /// let err = shmring_ipc::Subscriber::connect("shm:pubsub-doc-nowhere").unwrap_err();
    /// assert!(matches!(err, shmring_ipc::ConnectError::Open(shmring::OpenError::NotFound { .. })));
    /// ```
    pub fn connect(endpoint: &str) -> Result<Subscriber, ConnectError> {
        Subscriber::connect_with(endpoint, &Options::default())
    }

    /// Subscribes at `endpoint`: on `shm:` it attaches to the ring as one more receiver (at
    /// the next message, or the oldest held with `options.from_oldest`); on `uds:`/`tcp:` it
    /// connects and waits (at most `options.handshake_timeout`) for the publisher to accept
    /// it, and gets every message published after that.
    ///
    /// # Errors
    ///
    /// [`ConnectError::Unsupported`] for `fifo:`, `pipe`, `mq:`, `auto:`, and for
    /// `from_oldest` on a socket; [`ConnectError::PeerRefused`] when the endpoint is not a
    /// publisher (a plain receiver); the transport's own.
    ///
    /// ```
    /// use shmring_ipc::{Options, Publisher, Subscriber};
    /// let endpoint = format!("shm:pubsub-doc-oldest-{}", std::process::id());
    /// let mut p = Publisher::bind(&endpoint)?;
    /// p.send(b"before").unwrap();
    /// let mut late = Subscriber::connect_with(&endpoint, &Options::default().from_oldest())?;
    /// assert_eq!(late.try_recv().unwrap(), b"before");
    /// # shmring::Segment::unlink_name(&endpoint[4..]).unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn connect_with(endpoint: &str, options: &Options) -> Result<Subscriber, ConnectError> {
        let endpoint = Endpoint::parse(endpoint)?;
        let inner = match &endpoint {
            Endpoint::Shm(name) => {
                let mut o = ring::Receiver::options();
                if options.from_oldest {
                    o = o.from_oldest();
                }
                SubscriberInner::Shm(o.open(name.as_str())?)
            }
            Endpoint::Uds(_) | Endpoint::Tcp(_) if options.from_oldest => {
                return Err(ConnectError::Unsupported {
                    endpoint: endpoint.to_string(),
                    what: "start at the oldest message",
                    reason: "a socket publisher keeps no history; the shm: ring does",
                });
            }
            Endpoint::Uds(_) | Endpoint::Tcp(_) => {
                SubscriberInner::Stream(StreamSubscriber::connect(&endpoint, options)?)
            }
            Endpoint::Zenoh(_) if options.from_oldest => {
                return Err(ConnectError::Unsupported {
                    endpoint: endpoint.to_string(),
                    what: "start at the oldest message",
                    reason: "a zenoh subscriber sees what is published after it subscribes; \
                             the shm: ring keeps history",
                });
            }
            #[cfg(feature = "zenoh")]
            Endpoint::Zenoh(key) => SubscriberInner::Zenoh(
                Box::new(crate::zenoh_link::ZenohReceiver::bind(
                    &endpoint,
                    key,
                    options,
                    &crate::stream::Expect::default(),
                )?),
                options.policy,
            ),
            #[cfg(not(feature = "zenoh"))]
            Endpoint::Zenoh(_) => return Err(crate::no_zenoh(&endpoint)),
            _ => return Err(unsupported(&endpoint, "subscribe")),
        };
        Ok(Subscriber { inner, endpoint })
    }

    /// The endpoint this subscriber is connected to.
    ///
    /// ```
    /// let endpoint = format!("shm:pubsub-doc-ep-{}", std::process::id());
    /// let _p = shmring_ipc::Publisher::bind(&endpoint)?;
    /// let s = shmring_ipc::Subscriber::connect(&endpoint)?;
    /// assert_eq!(s.endpoint().to_string(), endpoint);
    /// # shmring::Segment::unlink_name(&endpoint[4..]).unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The publisher's policy for slow subscribers.
    ///
    /// ```
    /// let endpoint = format!("shm:pubsub-doc-pol-{}", std::process::id());
    /// let _p = shmring_ipc::Publisher::bind(&endpoint)?;
    /// let s = shmring_ipc::Subscriber::connect(&endpoint)?;
    /// assert_eq!(s.policy(), shmring::broadcast::Policy::Lossless);
    /// # shmring::Segment::unlink_name(&endpoint[4..]).unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn policy(&self) -> Policy {
        match &self.inner {
            SubscriberInner::Shm(rx) => rx.policy(),
            SubscriberInner::Stream(s) => s.policy(),
            #[cfg(feature = "zenoh")]
            SubscriberInner::Zenoh(_, policy) => *policy,
        }
    }

    /// Receives the next message into `buf` without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`]; [`TryRecvError::Lagged(n)`](TryRecvError::Lagged) (overwrite
    /// policy: `n` messages were dropped for this subscriber; receive again);
    /// `Disconnected` once the publisher is gone and everything was received; `Corrupted`
    /// (a broken ring or protocol).
    ///
    /// ```
    /// let endpoint = format!("shm:pubsub-doc-tri-{}", std::process::id());
    /// let mut p = shmring_ipc::Publisher::bind(&endpoint)?;
    /// let mut s = shmring_ipc::Subscriber::connect(&endpoint)?;
    /// let mut buf = Vec::new();
    /// assert_eq!(s.try_recv_into(&mut buf), Err(shmring_ipc::pubsub::TryRecvError::Empty));
    /// p.send(b"m").unwrap();
    /// s.try_recv_into(&mut buf).unwrap();
    /// assert_eq!(buf, b"m");
    /// # shmring::Segment::unlink_name(&endpoint[4..]).unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), TryRecvError> {
        match &mut self.inner {
            SubscriberInner::Shm(rx) => rx.try_recv_into(buf).map(drop),
            SubscriberInner::Stream(s) => {
                s.recv_into(buf, Some(Instant::now())).map_err(|e| match e {
                    RecvTimeoutError::Timeout => TryRecvError::Empty,
                    RecvTimeoutError::Lagged(n) => TryRecvError::Lagged(n),
                    RecvTimeoutError::Disconnected => TryRecvError::Disconnected,
                    RecvTimeoutError::Corrupted => TryRecvError::Corrupted,
                })
            }
            #[cfg(feature = "zenoh")]
            SubscriberInner::Zenoh(rx, _) => rx.try_recv(buf).map_err(TryRecvError::from),
        }
    }

    /// Receives the next message without waiting.
    ///
    /// # Errors
    ///
    /// As [`try_recv_into`](Subscriber::try_recv_into).
    ///
    /// ```
    /// let endpoint = format!("shm:pubsub-doc-tr-{}", std::process::id());
    /// let mut p = shmring_ipc::Publisher::bind(&endpoint)?;
    /// let mut s = shmring_ipc::Subscriber::connect(&endpoint)?;
    /// p.send(b"m").unwrap();
    /// assert_eq!(s.try_recv().unwrap(), b"m");
    /// # shmring::Segment::unlink_name(&endpoint[4..]).unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn try_recv(&mut self) -> Result<Vec<u8>, TryRecvError> {
        let mut buf = Vec::new();
        self.try_recv_into(&mut buf).map(|()| buf)
    }

    /// Receives the next message into `buf`, waiting until `deadline` (`None`: as long as it
    /// takes).
    fn recv_until(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<(), RecvTimeoutError> {
        match &mut self.inner {
            SubscriberInner::Shm(rx) => match deadline {
                Some(d) => rx.recv_into_deadline(buf, d).map(drop),
                None => rx.recv_into(buf).map(drop).map_err(RecvTimeoutError::from),
            },
            SubscriberInner::Stream(s) => s.recv_into(buf, deadline),
            #[cfg(feature = "zenoh")]
            SubscriberInner::Zenoh(rx, _) => rx.recv(buf, deadline).map_err(RecvTimeoutError::from),
        }
    }

    /// Receives the next message into `buf`, waiting as long as there is none.
    ///
    /// # Errors
    ///
    /// [`RecvError::Lagged(n)`](RecvError::Lagged), `Disconnected`, `Corrupted` (as
    /// [`try_recv_into`](Subscriber::try_recv_into)).
    ///
    /// ```
    /// let mut p = shmring_ipc::Publisher::bind("tcp:127.0.0.1:0")?;
    /// let mut s = shmring_ipc::Subscriber::connect(&p.endpoint().to_string())?;
    /// while p.subscriber_count() == 0 { std::thread::yield_now(); }
    /// p.send(b"over tcp").unwrap();
    /// let mut buf = Vec::new();
    /// s.recv_into(&mut buf).unwrap();
    /// assert_eq!(buf, b"over tcp");
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), RecvError> {
        self.recv_until(buf, None).map_err(|e| match e {
            RecvTimeoutError::Lagged(n) => RecvError::Lagged(n),
            RecvTimeoutError::Disconnected => RecvError::Disconnected,
            RecvTimeoutError::Timeout | RecvTimeoutError::Corrupted => RecvError::Corrupted,
        })
    }

    /// Receives the next message, waiting as long as there is none.
    ///
    /// # Errors
    ///
    /// As [`recv_into`](Subscriber::recv_into).
    ///
    /// ```
    /// let endpoint = format!("shm:pubsub-doc-recv-{}", std::process::id());
    /// let mut p = shmring_ipc::Publisher::bind(&endpoint)?;
    /// let mut s = shmring_ipc::Subscriber::connect(&endpoint)?;
    /// p.send(b"r").unwrap();
    /// drop(p);
    /// assert_eq!(s.recv().unwrap(), b"r");
    /// assert_eq!(s.recv(), Err(shmring_ipc::pubsub::RecvError::Disconnected));
    /// # shmring::Segment::unlink_name(&endpoint[4..]).unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn recv(&mut self) -> Result<Vec<u8>, RecvError> {
        let mut buf = Vec::new();
        self.recv_into(&mut buf).map(|()| buf)
    }

    /// Receives the next message, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`recv`](Subscriber::recv), plus [`RecvTimeoutError::Timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let endpoint = format!("shm:pubsub-doc-rt-{}", std::process::id());
    /// let _p = shmring_ipc::Publisher::bind(&endpoint)?;
    /// let mut s = shmring_ipc::Subscriber::connect(&endpoint)?;
    /// assert_eq!(
    ///     s.recv_timeout(Duration::from_millis(1)),
    ///     Err(shmring_ipc::pubsub::RecvTimeoutError::Timeout)
    /// );
    /// # shmring::Segment::unlink_name(&endpoint[4..]).unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Vec<u8>, RecvTimeoutError> {
        let mut buf = Vec::new();
        self.recv_until(&mut buf, Instant::now().checked_add(timeout))
            .map(|()| buf)
    }

    /// Receives the next message into `buf`, waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`recv_timeout`](Subscriber::recv_timeout).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let endpoint = format!("shm:pubsub-doc-rd-{}", std::process::id());
    /// let mut p = shmring_ipc::Publisher::bind(&endpoint)?;
    /// let mut s = shmring_ipc::Subscriber::connect(&endpoint)?;
    /// p.send(b"d").unwrap();
    /// let mut buf = Vec::new();
    /// s.recv_into_deadline(&mut buf, Instant::now() + Duration::from_secs(1)).unwrap();
    /// # shmring::Segment::unlink_name(&endpoint[4..]).unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn recv_into_deadline(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: Instant,
    ) -> Result<(), RecvTimeoutError> {
        self.recv_until(buf, Some(deadline))
    }

    /// A blocking iterator until the publisher is gone (a `Lagged` gap is skipped; see
    /// [`recv`](Subscriber::recv) to see it).
    ///
    /// ```
    /// let endpoint = format!("shm:pubsub-doc-it-{}", std::process::id());
    /// let mut p = shmring_ipc::Publisher::bind(&endpoint)?;
    /// let mut s = shmring_ipc::Subscriber::connect(&endpoint)?;
    /// p.send(b"1").unwrap();
    /// p.send(b"2").unwrap();
    /// drop(p);
    /// assert_eq!(s.iter().count(), 2);
    /// # shmring::Segment::unlink_name(&endpoint[4..]).unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn iter(&mut self) -> impl Iterator<Item = Vec<u8>> + '_ {
        std::iter::from_fn(move || {
            loop {
                match self.recv() {
                    Ok(m) => return Some(m),
                    Err(RecvError::Lagged(_)) => continue,
                    Err(_) => return None,
                }
            }
        })
    }
}
