//! `zenoh:KEYEXPR` (feature `zenoh`): messages published and subscribed on a zenoh key
//! expression, across hosts, on the zenoh engine (each handle opens its own zenoh session,
//! configured by [`Options::zenoh`](crate::Options)).
//!
//! What goes on the wire (docs/protocols.md, "zenoh:"):
//!
//! * **A message** is one zenoh `put` on the key expression: the payload is the message's
//!   bytes, the attachment 16 bytes — the sender's payload fingerprint and its id, both
//!   little-endian `u64` (fingerprint 0: untyped bytes).
//! * **The end of a sender's stream** is a `delete` on the key expression with the same
//!   16-byte attachment: every message the sender published is ahead of it.
//! * **Presence and type**: every handle declares a zenoh liveliness token
//!   `@shmring/ROLE/ID/FINGERPRINT/DESCRIPTION/KEY` — ROLE `tx` (senders, publishers) or `rx`
//!   (receivers, subscribers), ID and FINGERPRINT 16 lowercase hex digits, DESCRIPTION the
//!   payload description (UTF-8) in lowercase hex (`-` when untyped), KEY the handle's key
//!   expression in lowercase hex. A process killed loses its token (zenoh's liveliness).
//!
//! Nothing is dropped silently: publishers use zenoh's blocking congestion control (a full
//! queue waits, back to the sender), subscribers a bounded queue that makes zenoh wait when
//! full, and a sender waits until a receiver is subscribed before it sends (a zenoh put with
//! no route is dropped), so a receiver restarting is waited for. The lossy choice is explicit:
//! [`Policy::Overwrite`](shmring::broadcast::Policy) in [`Options::policy`](crate::Options)
//! drops what a congested link cannot take. Each sender's messages arrive in order.
//!
//! A typed sender refuses at `connect` a subscribed receiver of another type, naming both
//! layouts; a typed receiver drops messages whose attachment carries another fingerprint (a
//! sender that raced the check), so a wrong type never reaches it as garbage.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ::zenoh::Wait;
use ::zenoh::handlers::{FifoChannel, FifoChannelHandler};
use ::zenoh::key_expr::KeyExpr;
use ::zenoh::liveliness::LivelinessToken;
use ::zenoh::pubsub::{Publisher, Subscriber};
use ::zenoh::qos::CongestionControl;
use ::zenoh::query::{QueryTarget, Queryable};
use ::zenoh::sample::{Sample, SampleKind};

use crate::stream::Expect;
use crate::{ConnectError, Endpoint, Options, ZenohMode};
use shmring::framed::{SendTimeoutError, TrySendError};
use shmring::{RecvTimeoutError, TryRecvError, TypeLayout};

/// The first chunk of every shmring liveliness token.
const TOKENS: &str = "@shmring";
/// Samples a subscriber queues before zenoh's receive path waits for it.
const QUEUE: usize = 1024;
/// How long a receiver waits for the last messages of a sender whose token vanished without
/// its end marker (a killed process) before it counts the sender gone.
const GRACE: Duration = Duration::from_millis(200);
/// The longest single wait of a blocking call between looks at the peers.
const SLICE: Duration = Duration::from_millis(20);
/// How long a dropped sender waits for its receivers to have every message it sent.
const DRAIN: Duration = Duration::from_secs(10);

/// Who a handle is in the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Senders and publishers (`tx` tokens).
    Tx,
    /// Receivers and subscribers (`rx` tokens).
    Rx,
}

impl Role {
    fn chunk(self) -> &'static str {
        match self {
            Role::Tx => "tx",
            Role::Rx => "rx",
        }
    }
}

/// A peer as its token describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Peer {
    id: u64,
    fingerprint: u64,
    description: String,
    key: String,
}

impl Peer {
    /// The payload type it announced, as error messages name it.
    fn describe(&self) -> String {
        crate::stream::describe(self.fingerprint, &self.description)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The liveliness token key of a handle.
fn token_key(role: Role, id: u64, expect: &Expect, key: &str) -> String {
    let description = if expect.fingerprint == 0 {
        "-".to_owned()
    } else {
        hex(expect.description.as_bytes())
    };
    format!(
        "{TOKENS}/{}/{id:016x}/{:016x}/{description}/{}",
        role.chunk(),
        expect.fingerprint,
        hex(key.as_bytes())
    )
}

/// The peer a token key describes (`None`: not a well-formed shmring token; ignored).
fn parse_token(key: &str) -> Option<Peer> {
    let mut parts = key.split('/');
    let (_tokens, _role) = (parts.next()?, parts.next()?);
    let id = u64::from_str_radix(parts.next()?, 16).ok()?;
    let fingerprint = u64::from_str_radix(parts.next()?, 16).ok()?;
    let description = match parts.next()? {
        "-" => String::new(),
        text => String::from_utf8(unhex(text)?).ok()?,
    };
    let key = String::from_utf8(unhex(parts.next()?)?).ok()?;
    parts.next().is_none().then_some(Peer {
        id,
        fingerprint,
        description,
        key,
    })
}

/// The key of a receiver's drain queryable: a query there is answered once every message
/// published ahead of it reached the receiver's queue.
fn drain_key(id: u64) -> String {
    format!("{TOKENS}/drain/{id:016x}")
}

/// The 16-byte attachment of a sender's samples: its fingerprint and id.
fn attachment(fingerprint: u64, id: u64) -> [u8; 16] {
    let mut a = [0; 16];
    a[..8].copy_from_slice(&fingerprint.to_le_bytes());
    a[8..].copy_from_slice(&id.to_le_bytes());
    a
}

/// A sample's (fingerprint, sender id), if it carries a well-formed attachment.
fn sample_origin(sample: &Sample) -> Option<(u64, u64)> {
    let bytes = sample.attachment()?.to_bytes();
    let bytes: &[u8] = &bytes;
    (bytes.len() == 16).then(|| {
        let word = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        (word(0), word(8))
    })
}

/// A fresh id for a handle: random enough to tell the handles of many hosts apart.
fn fresh_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish() | 1
}

fn zenoh_error(endpoint: &Endpoint, op: &'static str) -> impl Fn(::zenoh::Error) -> ConnectError {
    let endpoint = endpoint.to_string();
    move |e| ConnectError::Zenoh {
        endpoint: endpoint.clone(),
        op,
        reason: e.to_string(),
    }
}

/// The zenoh configuration `options` ask for: the config file's, with the mode, endpoints
/// and scouting set on top.
pub(crate) fn config(
    endpoint: &Endpoint,
    options: &Options,
) -> Result<::zenoh::Config, ConnectError> {
    let z = &options.zenoh;
    let mut config = match &z.config_file {
        Some(path) => ::zenoh::Config::from_file(path)
            .map_err(zenoh_error(endpoint, "read the config file"))?,
        None => ::zenoh::Config::default(),
    };
    let list = |items: &[String]| {
        let quoted: Vec<String> = items.iter().map(|e| format!("{e:?}")).collect();
        format!("[{}]", quoted.join(","))
    };
    let mut set = |key: &str, value: String| {
        config
            .insert_json5(key, &value)
            .map_err(zenoh_error(endpoint, "apply the options to the config"))
    };
    match z.mode {
        Some(ZenohMode::Client) => set("mode", "\"client\"".into())?,
        Some(ZenohMode::Peer) => set("mode", "\"peer\"".into())?,
        None if z.config_file.is_none() => set("mode", "\"peer\"".into())?,
        None => {}
    }
    if !z.connect.is_empty() {
        set("connect/endpoints", list(&z.connect))?;
    }
    if !z.listen.is_empty() {
        set("listen/endpoints", list(&z.listen))?;
    }
    if let Some(on) = z.scouting {
        set("scouting/multicast/enabled", on.to_string())?;
        set("scouting/gossip/enabled", on.to_string())?;
    }
    Ok(config)
}

/// The other role's live handles whose key expression intersects ours, as their tokens come
/// and go (kept by the liveliness subscriber's callback: nothing queues up, however long
/// nobody looks).
#[derive(Debug, Default)]
struct PeerState {
    /// A typed receiver counts only senders of its own type (a refused sender of another
    /// type is not one of its senders); `None`: every peer counts.
    only: Option<u64>,
    peers: HashMap<u64, Peer>,
    /// When each vanished peer's token went (forgotten after a while).
    vanished: HashMap<u64, Instant>,
    /// Whether any peer was ever seen.
    seen: bool,
}

impl PeerState {
    fn apply(&mut self, sample: &Sample, ours: &KeyExpr<'static>) {
        let Some(peer) = parse_token(sample.key_expr().as_str()) else {
            return;
        };
        let intersects =
            KeyExpr::try_from(peer.key.as_str()).is_ok_and(|theirs| theirs.intersects(ours));
        if !intersects || self.only.is_some_and(|fp| fp != peer.fingerprint) {
            return;
        }
        self.seen = true;
        match sample.kind() {
            SampleKind::Put => {
                self.vanished.remove(&peer.id);
                self.peers.insert(peer.id, peer);
            }
            SampleKind::Delete => {
                if self.peers.remove(&peer.id).is_some() {
                    self.vanished.insert(peer.id, Instant::now());
                }
                self.vanished.retain(|_, at| at.elapsed() < 10 * GRACE);
            }
        }
    }
}

/// A handle's session, token and view of the other role's tokens.
struct Link {
    session: ::zenoh::Session,
    key: KeyExpr<'static>,
    id: u64,
    _token: LivelinessToken,
    /// A receiver's drain queryable (see `ZenohSender::drain`).
    _drain: Option<Queryable<()>>,
    /// The other role's tokens, kept up to date by `_feed`'s callback.
    state: Arc<Mutex<PeerState>>,
    _feed: Subscriber<()>,
    endpoint: Endpoint,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("zenoh::Link")
            .field("key", &self.key.as_str())
            .field("id", &format_args!("{:016x}", self.id))
            .field("peers", &self.peers().peers.len())
            .finish()
    }
}

impl Link {
    fn open(
        endpoint: &Endpoint,
        key: &str,
        options: &Options,
        expect: &Expect,
        role: Role,
    ) -> Result<Link, ConnectError> {
        let key_expr =
            KeyExpr::try_from(key.to_owned()).map_err(|e| ConnectError::BadEndpoint {
                endpoint: endpoint.to_string(),
                reason: format!("not a zenoh key expression: {e}"),
            })?;
        let session = ::zenoh::open(config(endpoint, options)?)
            .wait()
            .map_err(zenoh_error(endpoint, "open a session"))?;
        let id = fresh_id();
        // A receiver answers dropped senders' drain queries (`ZenohSender::drain`) from before
        // its token is seen.
        let drain = match role {
            Role::Tx => None,
            Role::Rx => Some(
                session
                    .declare_queryable(drain_key(id))
                    .callback(|query| {
                        let _ = query
                            .reply(query.key_expr().clone(), Vec::<u8>::new())
                            .wait();
                    })
                    .wait()
                    .map_err(zenoh_error(endpoint, "declare its drain queryable"))?,
            ),
        };
        let token = session
            .liveliness()
            .declare_token(token_key(role, id, expect, key))
            .wait()
            .map_err(zenoh_error(endpoint, "declare its liveliness token"))?;
        let other = match role {
            Role::Tx => Role::Rx,
            Role::Rx => Role::Tx,
        };
        let only = (role == Role::Rx && expect.fingerprint != 0).then_some(expect.fingerprint);
        let state = Arc::new(Mutex::new(PeerState {
            only,
            ..PeerState::default()
        }));
        let feed = session
            .liveliness()
            .declare_subscriber(format!("{TOKENS}/{}/**", other.chunk()))
            .history(true)
            .callback({
                let (state, ours) = (state.clone(), key_expr.clone());
                move |sample| {
                    state
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .apply(&sample, &ours)
                }
            })
            .wait()
            .map_err(zenoh_error(endpoint, "watch its peers' liveliness"))?;
        Ok(Link {
            session,
            key: key_expr,
            id,
            _token: token,
            _drain: drain,
            state,
            _feed: feed,
            endpoint: endpoint.clone(),
        })
    }

    /// The other role's tokens now.
    fn peers(&self) -> MutexGuard<'_, PeerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The first live typed peer of another type than `expect`'s (an untyped receiver takes
    /// any messages as bytes; a typed one only its own type).
    fn mismatched(&self, expect: &Expect) -> Option<Peer> {
        self.peers()
            .peers
            .values()
            .find(|p| p.fingerprint != 0 && p.fingerprint != expect.fingerprint)
            .cloned()
    }

    fn refuse(&self, expect: &Expect, peer: &Peer) -> ConnectError {
        ConnectError::IncompatibleLayout {
            endpoint: self.endpoint.to_string(),
            ours: expect.describe(),
            theirs: peer.describe(),
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // Undeclares the token and everything else of the session.
        let _ = self.session.close().wait();
    }
}

/// The sending side of `zenoh:` (a sender, or a publisher of the publish/subscribe API).
pub(crate) struct ZenohSender {
    link: Link,
    publisher: Publisher<'static>,
    attachment: [u8; 16],
    max: usize,
    /// Senders wait for a subscribed receiver before each message; publishers do not (a
    /// message nobody subscribes to goes nowhere, as on every publish/subscribe transport).
    wait_for_receiver: bool,
    /// The last time a receiver was seen subscribed (a look costs a call into zenoh).
    matched_at: Option<Instant>,
    /// Whether `connect` succeeded (only then does dropping send the end marker).
    connected: bool,
}

impl std::fmt::Debug for ZenohSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZenohSender")
            .field("link", &self.link)
            .field("waits_for_receiver", &self.wait_for_receiver)
            .finish()
    }
}

impl ZenohSender {
    /// Opens a session and declares the publisher: for a sender (`wait_for_receiver`), waits up
    /// to the handshake timeout for a subscribed receiver and refuses one of another type.
    pub(crate) fn connect(
        endpoint: &Endpoint,
        key: &str,
        options: &Options,
        expect: &Expect,
        wait_for_receiver: bool,
    ) -> Result<ZenohSender, ConnectError> {
        let link = Link::open(endpoint, key, options, expect, Role::Tx)?;
        let congestion = match options.policy {
            shmring::broadcast::Policy::Lossless => CongestionControl::Block,
            shmring::broadcast::Policy::Overwrite => CongestionControl::Drop,
        };
        let publisher = link
            .session
            .declare_publisher(link.key.clone())
            .congestion_control(congestion)
            .wait()
            .map_err(zenoh_error(endpoint, "declare a publisher"))?;
        let mut tx = ZenohSender {
            attachment: attachment(expect.fingerprint, link.id),
            link,
            publisher,
            max: options.stream_max() as usize,
            wait_for_receiver,
            matched_at: None,
            connected: false,
        };
        if wait_for_receiver {
            let deadline = Instant::now() + options.handshake_timeout;
            while !tx.matching() {
                if Instant::now() >= deadline {
                    return Err(ConnectError::NoReceiver {
                        endpoint: endpoint.to_string(),
                        reason: format!(
                            "no receiver subscribed within {} s (zenoh routes only to \
                             subscribers it knows of)",
                            options.handshake_timeout.as_secs_f64()
                        ),
                    });
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        // A receiver's token is declared before its subscriber, so once a subscriber is
        // known its token is too.
        if let Some(peer) = tx.link.mismatched(expect) {
            return Err(tx.link.refuse(expect, &peer));
        }
        tx.connected = true;
        Ok(tx)
    }

    /// Whether zenoh knows a subscriber of the key now.
    fn matching(&mut self) -> bool {
        let now = self
            .publisher
            .matching_status()
            .wait()
            .is_ok_and(|s| s.matching());
        if now {
            self.matched_at = Some(Instant::now());
        }
        now
    }

    /// The largest message sent.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// Live receivers (subscribers) of the key, by their tokens.
    pub(crate) fn receiver_count(&mut self) -> usize {
        self.link.peers().peers.len()
    }

    /// Whether no receiver is subscribed now.
    pub(crate) fn is_disconnected(&mut self) -> bool {
        !self.matching()
    }

    /// Publishes `msg`: a sender first waits (until `deadline`, or without `wait`
    /// not at all) for a subscribed receiver; zenoh's blocking congestion control may then
    /// wait inside the put while its queue is full.
    pub(crate) fn send(
        &mut self,
        msg: &[u8],
        wait: bool,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError> {
        if msg.len() > self.max {
            return Err(SendTimeoutError::TooLarge {
                len: msg.len(),
                max: self.max,
            });
        }
        if self.wait_for_receiver && !self.recently_matched() {
            while !self.matching() {
                if !wait || deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(SendTimeoutError::Timeout);
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        self.publisher
            .put(msg)
            .attachment(&self.attachment[..])
            .wait()
            .map_err(|_| SendTimeoutError::Disconnected)
    }

    /// Whether a receiver was seen subscribed within the last millisecond (so a burst of
    /// sends looks once, not per message).
    fn recently_matched(&self) -> bool {
        self.matched_at
            .is_some_and(|t| t.elapsed() < Duration::from_millis(1))
    }
}

impl Drop for ZenohSender {
    fn drop(&mut self) {
        if !self.connected {
            return; // refused: it was never one of the receivers' senders
        }
        // The end marker, behind every message this sender published.
        let _ = self
            .publisher
            .delete()
            .attachment(&self.attachment[..])
            .wait();
        self.drain();
    }
}

impl ZenohSender {
    /// Waits (up to [`DRAIN`]) until every receiver known has everything this sender
    /// published. Closing the session does not: zenoh abandons a batch it is writing, and its
    /// token's removal (control priority) overtakes data still queued, so a receiver would
    /// count the sender gone with the tail of its stream in flight. A query to each
    /// receiver's drain queryable travels behind the data on the same link and priority, and
    /// is answered once the data before it is in the receiver's queue; a receiver that is gone
    /// has no queryable, so its query ends at once.
    fn drain(&mut self) {
        let ids: Vec<u64> = self.link.peers().peers.keys().copied().collect();
        let deadline = Instant::now() + DRAIN;
        let pending: Vec<_> = ids
            .into_iter()
            .filter_map(|id| {
                self.link
                    .session
                    .get(drain_key(id))
                    .target(QueryTarget::All)
                    .timeout(DRAIN)
                    .wait()
                    .ok()
            })
            .collect();
        for replies in pending {
            // A reply, the query ended without one (no such receiver), or the deadline.
            let _ = replies.recv_deadline(deadline);
        }
    }
}

/// `try_send`'s error from the shape `send` returns.
pub(crate) fn as_try(e: SendTimeoutError) -> TrySendError {
    match e {
        SendTimeoutError::Timeout => TrySendError::Full,
        SendTimeoutError::TooLarge { len, max } => TrySendError::TooLarge { len, max },
        SendTimeoutError::Disconnected => TrySendError::Disconnected,
        SendTimeoutError::Corrupted => TrySendError::Corrupted,
    }
}

/// The receiving side of `zenoh:` (a receiver, or a subscriber).
pub(crate) struct ZenohReceiver {
    link: Link,
    subscriber: Subscriber<FifoChannelHandler<Sample>>,
    fingerprint: u64,
    max: usize,
    /// Senders whose end marker arrived.
    ended: HashSet<u64>,
    /// Whether any sender was ever seen (before that, nothing is disconnected: the first may
    /// still come).
    seen: bool,
    /// Messages of another type dropped (a typed receiver's guard).
    refused: u64,
}

impl std::fmt::Debug for ZenohReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZenohReceiver")
            .field("link", &self.link)
            .field("queued", &self.subscriber.len())
            .field("refused", &self.refused)
            .finish()
    }
}

impl ZenohReceiver {
    /// Opens a session and subscribes to `key`.
    pub(crate) fn bind(
        endpoint: &Endpoint,
        key: &str,
        options: &Options,
        expect: &Expect,
    ) -> Result<ZenohReceiver, ConnectError> {
        let link = Link::open(endpoint, key, options, expect, Role::Rx)?;
        let subscriber = link
            .session
            .declare_subscriber(link.key.clone())
            .with(FifoChannel::new(QUEUE))
            .wait()
            .map_err(zenoh_error(endpoint, "declare a subscriber"))?;
        Ok(ZenohReceiver {
            link,
            subscriber,
            fingerprint: expect.fingerprint,
            max: options.stream_max() as usize,
            ended: HashSet::new(),
            seen: false,
            refused: 0,
        })
    }

    /// The largest message accepted.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// The payload type of the live senders (the first typed one's), as a layout a process
    /// that does not have the type can announce or open a ring of.
    pub(crate) fn peer_layout(&mut self) -> Option<TypeLayout> {
        self.link
            .peers()
            .peers
            .values()
            .filter(|p| p.fingerprint != 0)
            .find_map(|p| TypeLayout::recorded(&p.description, p.fingerprint))
    }

    /// One sample taken: a message into `buf` (`true`), or an end marker / a refused message
    /// (`false`: look again).
    fn take(&mut self, sample: Sample, buf: &mut Vec<u8>) -> bool {
        let origin = sample_origin(&sample);
        let fingerprint = origin.map_or(0, |(fp, _)| fp);
        // A typed receiver takes only its own type; another's samples are not its senders'.
        let foreign = self.fingerprint != 0 && fingerprint != self.fingerprint;
        if sample.kind() == SampleKind::Delete {
            if let (Some((_, id)), false) = (origin, foreign) {
                self.seen = true;
                self.ended.insert(id);
            }
            return false;
        }
        if foreign {
            self.refused += 1;
            return false;
        }
        self.seen |= origin.is_some();
        buf.clear();
        buf.extend_from_slice(&sample.payload().to_bytes());
        true
    }

    /// Whether every sender seen is gone (ended, or its token vanished longer than the grace
    /// ago) and nothing is queued.
    fn all_gone(&mut self) -> bool {
        let (live, settling) = {
            let state = self.link.peers();
            self.seen |= state.seen;
            let live = state.peers.keys().any(|id| !self.ended.contains(id));
            let settling = state
                .vanished
                .iter()
                .any(|(id, at)| !self.ended.contains(id) && at.elapsed() < GRACE);
            (live, settling)
        };
        self.seen && !live && !settling && self.subscriber.is_empty()
    }

    /// Receives into `buf` without waiting.
    pub(crate) fn try_recv(&mut self, buf: &mut Vec<u8>) -> Result<(), TryRecvError> {
        loop {
            match self.subscriber.try_recv() {
                Ok(Some(sample)) => {
                    if self.take(sample, buf) {
                        return Ok(());
                    }
                }
                Ok(None) if self.all_gone() => return Err(TryRecvError::Disconnected),
                Ok(None) => return Err(TryRecvError::Empty),
                Err(_) => return Err(TryRecvError::Disconnected),
            }
        }
    }

    /// Receives into `buf`, waiting until `deadline` (`None`: as long as it takes).
    pub(crate) fn recv(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<(), RecvTimeoutError> {
        loop {
            let slice = Instant::now() + SLICE;
            let until = deadline.map_or(slice, |d| d.min(slice));
            match self.subscriber.recv_deadline(until) {
                Ok(Some(sample)) => {
                    if self.take(sample, buf) {
                        return Ok(());
                    }
                }
                Ok(None) => {
                    if self.all_gone() {
                        return Err(RecvTimeoutError::Disconnected);
                    }
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Err(RecvTimeoutError::Timeout);
                    }
                }
                Err(_) => return Err(RecvTimeoutError::Disconnected),
            }
        }
    }

    /// Whether every sender seen is gone and everything was received.
    pub(crate) fn is_disconnected(&mut self) -> bool {
        self.all_gone()
    }
}
