//! The torture suite: what a peer may do — die at any instruction, scribble on the shared
//! memory, exhaust /dev/shm, descriptors or queues, attach as another user, run for a long
//! time — must never make a correct process hang, crash, or lose, duplicate or tear a
//! committed message. Every test runs real processes (this binary re-executed in a role),
//! bounds every wait with a watchdog, and prints one `TORTURE` line of figures.
//!
//! Bounded by default (CI: about two minutes); `SHMRING_TORTURE=long` runs the long mode
//! (`ci/torture-long.sh`, which also runs the hostile-peer tests under AddressSanitizer).
//! `SHMRING_TORTURE_SECS=N` overrides the duration of each timed phase. What is checked and
//! the figures of the last long run: docs/reliability.md.

#[path = "../../shmring/tests/common/mod.rs"]
mod common;

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Rng, Unlink, unique_name};
use shmring::{OpenError, RecvTimeoutError, SendTimeoutError};

// ------------------------------------------------------------------------------ settings

/// Whether the long mode was asked for.
fn long() -> bool {
    std::env::var("SHMRING_TORTURE").is_ok_and(|v| v == "long")
}

/// The duration of a timed phase: `ci` seconds, or `long` in the long mode, or
/// `SHMRING_TORTURE_SECS`.
fn phase(ci: u64, long_secs: u64) -> Duration {
    if let Some(secs) = std::env::var("SHMRING_TORTURE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return Duration::from_secs(secs);
    }
    Duration::from_secs(if long() { long_secs } else { ci })
}

/// How long a process may take to finish once told to stop before it counts as hung.
const STOP_WATCHDOG: Duration = Duration::from_secs(30);

const LEDGER_VAR: &str = "SHMRING_TORTURE_LEDGER";
const KIND_VAR: &str = "SHMRING_TORTURE_KIND";
const INCARNATION_VAR: &str = "SHMRING_TORTURE_INCARNATION";
const HOSTILE_VAR: &str = "SHMRING_TORTURE_HOSTILE";

// ------------------------------------------------------------------------------ ring kinds

/// The rings under test: the three ring families and the shmring-ipc `shm:` transport (a
/// framed many-producer ring behind the message API).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Spsc,
    Mpmc,
    Framed,
    Shm,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::Spsc, Kind::Mpmc, Kind::Framed, Kind::Shm];

    fn tag(self) -> &'static str {
        match self {
            Kind::Spsc => "spsc",
            Kind::Mpmc => "mpmc",
            Kind::Framed => "framed",
            Kind::Shm => "shm",
        }
    }

    fn parse(s: &str) -> Kind {
        *Kind::ALL.iter().find(|k| k.tag() == s).expect("kind")
    }

    /// Producers and consumers at a time.
    fn shape(self) -> (usize, usize) {
        match self {
            Kind::Spsc | Kind::Framed => (1, 1),
            Kind::Mpmc => (2, 2),
            Kind::Shm => (2, 1),
        }
    }

    /// Creates the ring, with nobody attached afterwards.
    fn create(self, name: &str) {
        match self {
            Kind::Spsc => drop(shmring::spsc::Receiver::<Msg>::create(name, 64).unwrap()),
            Kind::Mpmc => drop(shmring::mpmc::Receiver::<Msg>::create(name, 64).unwrap()),
            Kind::Framed => drop(shmring::framed::Receiver::create(name, 1 << 14).unwrap()),
            Kind::Shm => drop(
                shmring_ipc::Receiver::bind_with(&format!("shm:{name}"), &ipc_options()).unwrap(),
            ),
        }
    }
}

fn ipc_options() -> shmring_ipc::Options {
    shmring_ipc::Options::default().shm_capacity(1 << 14)
}

// ------------------------------------------------------------------------------ messages

/// A typed message: producer incarnation, sequence number, and two check words.
type Msg = [u64; 4];

fn mix(p: u64, s: u64) -> u64 {
    let mut x = p.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ s.wrapping_add(0x632b_e59b_d9b4_e019);
    x ^= x >> 31;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^ (x >> 29)
}

fn typed(p: u64, s: u64) -> Msg {
    let m = mix(p, s);
    [p, s, m, !m]
}

/// `Some((p, s))` if `msg` is whole.
fn check_typed(msg: &Msg) -> Option<(u64, u64)> {
    let m = mix(msg[0], msg[1]);
    (msg[2] == m && msg[3] == !m).then_some((msg[0], msg[1]))
}

/// A byte message: p and s, then 0 to 239 bytes derived from both.
fn bytes(p: u64, s: u64, out: &mut Vec<u8>) {
    let m = mix(p, s);
    out.clear();
    out.extend_from_slice(&p.to_le_bytes());
    out.extend_from_slice(&s.to_le_bytes());
    let len = (m % 240) as usize;
    out.extend((0..len).map(|i| (m >> ((i % 8) * 8)) as u8 ^ i as u8));
}

fn check_bytes(msg: &[u8]) -> Option<(u64, u64)> {
    let p = u64::from_le_bytes(msg.get(0..8)?.try_into().ok()?);
    let s = u64::from_le_bytes(msg.get(8..16)?.try_into().ok()?);
    let mut expect = Vec::new();
    bytes(p, s, &mut expect);
    (expect == msg).then_some((p, s))
}

// ------------------------------------------------------------------------------ the ledger

/// Shared bookkeeping of one test: a sparse file in /dev/shm mapped by every process of
/// the test. Producers record how many messages each incarnation committed (after `send`
/// returned); consumers set one bit per message received, which finds duplicates at once
/// and losses at the end.
struct Ledger {
    map: memmap2::MmapRaw,
    path: std::path::PathBuf,
    owner: bool,
}

/// Word indices.
const STOP_PRODUCERS: usize = 0;
const STOP_CONSUMERS: usize = 1;
const TORN: usize = 2;
const DUPLICATED: usize = 3;
const RECEIVED: usize = 4;
const CORRUPTED: usize = 5;
const GARBAGE: usize = 6;
const HOSTILE_WRITES: usize = 7;
const OUT_OF_ORDER: usize = 8;
/// Committed counts, one per producer incarnation.
const COMMITTED: usize = 64;
/// Producer incarnations a ledger holds.
const INCARNATIONS: usize = 4096;
/// Messages per incarnation it can account for.
const PER_INCARNATION: u64 = 1 << 15;
const BITMAP: usize = COMMITTED + INCARNATIONS;
const WORDS: usize = BITMAP + INCARNATIONS * (PER_INCARNATION as usize / 64);

impl Ledger {
    fn create() -> Ledger {
        let path = std::path::PathBuf::from(format!("/dev/shm/{}", unique_name("torture-ledger")));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        file.set_len((WORDS * 8) as u64).unwrap();
        let map = memmap2::MmapOptions::new().map_raw(&file).unwrap();
        Ledger {
            map,
            path,
            owner: true,
        }
    }

    fn open(path: &str) -> Ledger {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap();
        Ledger {
            map: memmap2::MmapOptions::new().map_raw(&file).unwrap(),
            path: path.into(),
            owner: false,
        }
    }

    fn from_env() -> Ledger {
        Ledger::open(&std::env::var(LEDGER_VAR).unwrap())
    }

    fn word(&self, i: usize) -> &AtomicU64 {
        assert!(i < WORDS);
        // SAFETY: the mapping is WORDS u64s long, page aligned, shared and lives as long as
        // `self`; every access to it goes through atomics.
        unsafe { AtomicU64::from_ptr(self.map.as_mut_ptr().cast::<u64>().add(i)) }
    }

    fn get(&self, i: usize) -> u64 {
        self.word(i).load(Ordering::Acquire)
    }

    fn set(&self, i: usize, v: u64) {
        self.word(i).store(v, Ordering::Release);
    }

    fn bump(&self, i: usize) {
        self.word(i).fetch_add(1, Ordering::AcqRel);
    }

    fn commit(&self, p: u64, count: u64) {
        self.set(COMMITTED + p as usize, count);
    }

    /// Marks message (p, s) received; false if it was already.
    fn mark(&self, p: u64, s: u64) -> bool {
        let idx = p as usize * PER_INCARNATION as usize + s as usize;
        let bit = 1u64 << (idx % 64);
        self.word(BITMAP + idx / 64).fetch_or(bit, Ordering::AcqRel) & bit == 0
    }

    /// Records a received message (p, s) that passed its check.
    fn received(&self, p: u64, s: u64) {
        if p as usize >= INCARNATIONS || s >= PER_INCARNATION {
            self.bump(GARBAGE);
        } else if !self.mark(p, s) {
            self.bump(DUPLICATED);
        }
        self.bump(RECEIVED);
    }

    /// For incarnation p: (messages below its committed count that were received, received
    /// messages past it — one is a message sent but not yet recorded when its producer was
    /// killed, more would be phantoms).
    fn tally(&self, p: u64) -> (u64, u64, u64) {
        let committed = self.get(COMMITTED + p as usize);
        let base = p as usize * PER_INCARNATION as usize;
        let (mut below, mut at, mut beyond) = (0, 0, 0);
        for w in 0..PER_INCARNATION as usize / 64 {
            let mut word = self.get(BITMAP + (base / 64) + w);
            while word != 0 {
                let s = (w * 64 + word.trailing_zeros() as usize) as u64;
                word &= word - 1;
                match s.cmp(&committed) {
                    std::cmp::Ordering::Less => below += 1,
                    std::cmp::Ordering::Equal => at += 1,
                    std::cmp::Ordering::Greater => beyond += 1,
                }
            }
        }
        (committed - below, at, beyond)
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        if self.owner {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

// ------------------------------------------------------------------------------ handles

enum Tx {
    Spsc(shmring::spsc::Sender<Msg>),
    Mpmc(shmring::mpmc::Sender<Msg>),
    Framed(shmring::framed::Sender),
    Shm(shmring_ipc::Sender),
}

enum Rx {
    Spsc(shmring::spsc::Receiver<Msg>),
    Mpmc(shmring::mpmc::Receiver<Msg>),
    Framed(shmring::framed::Receiver),
    Shm(shmring_ipc::Receiver),
}

/// What one attempt gave.
enum Outcome {
    /// Sent, or received a message (its check result).
    Done(Option<(u64, u64)>),
    /// Timed out (full or empty).
    Again,
    /// The other side is gone.
    Gone,
    /// The ring is corrupted (or the open said so).
    Corrupted,
}

/// Whether an open error is one a restart may clear (a dead predecessor not yet reaped, no
/// receiver yet).
fn transient_open(e: &OpenError) -> bool {
    matches!(
        e,
        OpenError::RoleTaken { .. } | OpenError::ParticipantsFull { .. }
    )
}

/// `None`: try again; otherwise how the open ended. On a scribbled ring (`hostile`) every
/// refusal is an acceptable, clear outcome; on an honest ring only corruption is reported
/// (and then fails the test), anything else is a bug.
fn open_error(e: OpenError, hostile: bool) -> Option<Outcome> {
    if transient_open(&e) {
        None
    } else if hostile || matches!(e, OpenError::Corrupted { .. }) {
        Some(Outcome::Corrupted)
    } else {
        panic!("open: {e}")
    }
}

/// Why an open attempt gave no handle.
enum Refusal {
    /// Try again (no live receiver yet).
    Retry,
    /// An open error, judged by [`open_error`].
    Open(OpenError),
    /// Another shmring-ipc refusal: clear and acceptable on a scribbled ring (the open ends
    /// as `Corrupted`), a bug on an honest one.
    Ipc(shmring_ipc::ConnectError),
}

/// Calls `open` until it gives a handle, a refusal that ends the open, or `give_up` says so.
fn retry_open<H>(
    hostile: bool,
    give_up: impl Fn() -> bool,
    mut open: impl FnMut() -> Result<H, Refusal>,
) -> Result<H, Outcome> {
    loop {
        match open() {
            Ok(h) => return Ok(h),
            Err(Refusal::Retry) => {}
            Err(Refusal::Open(e)) => {
                if let Some(o) = open_error(e, hostile) {
                    return Err(o);
                }
            }
            Err(Refusal::Ipc(e)) => {
                assert!(hostile, "connect/bind: {e}");
                eprintln!("refused on a scribbled ring: {e}");
                return Err(Outcome::Corrupted);
            }
        }
        if give_up() {
            return Err(Outcome::Gone);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

impl Tx {
    /// Opens the sending side, retrying transient refusals until `give_up` says so.
    fn open(
        kind: Kind,
        name: &str,
        hostile: bool,
        give_up: impl Fn() -> bool,
    ) -> Result<Tx, Outcome> {
        retry_open(hostile, give_up, || match kind {
            Kind::Spsc => shmring::spsc::Sender::open(name)
                .map(Tx::Spsc)
                .map_err(Refusal::Open),
            Kind::Mpmc => shmring::mpmc::Sender::open(name)
                .map(Tx::Mpmc)
                .map_err(Refusal::Open),
            Kind::Framed => shmring::framed::Sender::open(name)
                .map(Tx::Framed)
                .map_err(Refusal::Open),
            Kind::Shm => shmring_ipc::Sender::connect_with(&format!("shm:{name}"), &ipc_options())
                .map(Tx::Shm)
                .map_err(|e| match e {
                    shmring_ipc::ConnectError::Open(e) => Refusal::Open(e),
                    // No live receiver yet: a restart is on its way.
                    shmring_ipc::ConnectError::NoReceiver { .. } => Refusal::Retry,
                    e => Refusal::Ipc(e),
                }),
        })
    }

    fn send(&mut self, p: u64, s: u64, buf: &mut Vec<u8>) -> Outcome {
        let wait = Duration::from_millis(20);
        let typed_outcome = |r: Result<(), SendTimeoutError<Msg>>| match r {
            Ok(()) => Outcome::Done(None),
            Err(SendTimeoutError::Timeout(_)) => Outcome::Again,
            Err(SendTimeoutError::Disconnected(_)) => Outcome::Gone,
            Err(SendTimeoutError::Corrupted(_)) => Outcome::Corrupted,
        };
        let framed_outcome = |r: Result<(), shmring::framed::SendError>| match r {
            Ok(()) => Outcome::Done(None),
            Err(shmring::framed::SendError::Timeout | shmring::framed::SendError::Full) => {
                Outcome::Again
            }
            Err(shmring::framed::SendError::Disconnected) => Outcome::Gone,
            Err(shmring::framed::SendError::Corrupted) => Outcome::Corrupted,
            Err(e) => panic!("send: {e}"),
        };
        match self {
            Tx::Spsc(tx) => typed_outcome(tx.send_timeout(typed(p, s), wait)),
            Tx::Mpmc(tx) => typed_outcome(tx.send_timeout(typed(p, s), wait)),
            Tx::Framed(tx) => {
                bytes(p, s, buf);
                framed_outcome(tx.send_timeout(buf, wait))
            }
            Tx::Shm(tx) => {
                bytes(p, s, buf);
                framed_outcome(tx.send_timeout(buf, wait))
            }
        }
    }
}

impl Rx {
    /// Opens the receiving side, retrying transient refusals until `give_up` says so.
    fn open(
        kind: Kind,
        name: &str,
        hostile: bool,
        give_up: impl Fn() -> bool,
    ) -> Result<Rx, Outcome> {
        retry_open(hostile, give_up, || match kind {
            Kind::Spsc => shmring::spsc::Receiver::open(name)
                .map(Rx::Spsc)
                .map_err(Refusal::Open),
            Kind::Mpmc => shmring::mpmc::Receiver::open(name)
                .map(Rx::Mpmc)
                .map_err(Refusal::Open),
            Kind::Framed => shmring::framed::Receiver::open(name)
                .map(Rx::Framed)
                .map_err(Refusal::Open),
            Kind::Shm => shmring_ipc::Receiver::bind_with(&format!("shm:{name}"), &ipc_options())
                .map(Rx::Shm)
                .map_err(|e| match e {
                    shmring_ipc::ConnectError::Open(e) => Refusal::Open(e),
                    e => Refusal::Ipc(e),
                }),
        })
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> Outcome {
        let wait = Duration::from_millis(20);
        let err = |e: RecvTimeoutError| match e {
            RecvTimeoutError::Timeout => Outcome::Again,
            RecvTimeoutError::Disconnected => Outcome::Gone,
            RecvTimeoutError::Corrupted => Outcome::Corrupted,
        };
        match self {
            Rx::Spsc(rx) => match rx.recv_timeout(wait) {
                Ok(m) => Outcome::Done(check_typed(&m)),
                Err(e) => err(e),
            },
            Rx::Mpmc(rx) => match rx.recv_timeout(wait) {
                Ok(m) => Outcome::Done(check_typed(&m)),
                Err(e) => err(e),
            },
            Rx::Framed(rx) => match rx.recv_into_deadline(buf, Instant::now() + wait) {
                Ok(_) => Outcome::Done(check_bytes(buf)),
                Err(e) => err(e),
            },
            Rx::Shm(rx) => match rx.recv_into_deadline(buf, Instant::now() + wait) {
                Ok(()) => Outcome::Done(check_bytes(buf)),
                Err(e) => err(e),
            },
        }
    }
}

// ------------------------------------------------------------------------------ child roles

#[test]
fn child_entry() {
    let Some(role) = common::role() else { return };
    let name = common::child_name();
    let kind = std::env::var(KIND_VAR).map(|k| Kind::parse(&k));
    let hostile = std::env::var(HOSTILE_VAR).is_ok();
    match role.as_str() {
        "producer" => producer(kind.unwrap(), &name, hostile),
        "consumer" => consumer(kind.unwrap(), &name, hostile),
        "soak-producer" => soak_producer(kind.unwrap(), &name),
        "soak-consumer" => soak_consumer(kind.unwrap(), &name),
        "hostile" => scribbler(&name),
        "tiny-shm" => tiny_shm(&name),
        "few-fds" => few_fds(&name),
        "no-queues" => no_queues(&name),
        "other-user" => other_user(kind.unwrap(), &name),
        "auto-peer" => match shmring_ipc::Sender::connect(&format!("auto:{name}")) {
            Ok(_) => println!("RESULT connected"),
            Err(e) => println!("RESULT refused {e}"),
        },
        other => panic!("unknown role {other}"),
    }
}

/// Sends (incarnation, 0..) until told to stop, recording each committed message. On a
/// corrupted ring (hostile mode only) it waits for the stop and leaves.
fn producer(kind: Kind, name: &str, hostile: bool) {
    let ledger = Ledger::from_env();
    let p: u64 = std::env::var(INCARNATION_VAR).unwrap().parse().unwrap();
    let stop = || ledger.get(STOP_PRODUCERS) != 0;
    let mut tx = match Tx::open(kind, name, hostile, stop) {
        Ok(tx) => tx,
        Err(o) => return leave(&ledger, o, hostile, STOP_PRODUCERS, name),
    };
    let mut buf = Vec::new();
    for s in 0..PER_INCARNATION {
        loop {
            if stop() {
                return;
            }
            match tx.send(p, s, &mut buf) {
                Outcome::Done(_) => break,
                Outcome::Again => {}
                Outcome::Gone => std::thread::sleep(Duration::from_millis(1)),
                Outcome::Corrupted => {
                    return leave(&ledger, Outcome::Corrupted, hostile, STOP_PRODUCERS, name);
                }
            }
        }
        ledger.commit(p, s + 1);
    }
    while !stop() {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Receives and accounts every message until told to stop and the producers are gone (or,
/// in hostile mode, at once when told).
fn consumer(kind: Kind, name: &str, hostile: bool) {
    let ledger = Ledger::from_env();
    let stop = || ledger.get(STOP_CONSUMERS) != 0;
    let mut rx = match Rx::open(kind, name, hostile, stop) {
        Ok(rx) => rx,
        Err(o) => return leave(&ledger, o, hostile, STOP_CONSUMERS, name),
    };
    let mut buf = Vec::new();
    loop {
        if hostile && stop() {
            return;
        }
        match rx.recv(&mut buf) {
            Outcome::Done(Some((p, s))) => ledger.received(p, s),
            Outcome::Done(None) => ledger.bump(if hostile { GARBAGE } else { TORN }),
            Outcome::Again => {}
            Outcome::Gone => {
                if stop() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Outcome::Corrupted => {
                return leave(&ledger, Outcome::Corrupted, hostile, STOP_CONSUMERS, name);
            }
        }
    }
}

/// A process that met a corrupted ring: counts it; in hostile mode waits for the stop (the
/// ring is unusable, which is the expected outcome), otherwise fails.
fn leave(ledger: &Ledger, o: Outcome, hostile: bool, stop: usize, name: &str) {
    if let Outcome::Corrupted = o {
        ledger.bump(CORRUPTED);
        if !hostile {
            let report = shmring::inspect::inspect(name);
            eprintln!("{}", dump_mpsc(name));
            panic!("an honest ring reported corruption: {report:#?}");
        }
    }
    while ledger.get(stop) == 0 {
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The raw state of a many-producer framed ring (for a failure report): positions, the
/// participant table's owners, roles and lanes, and the record headers from the head.
fn dump_mpsc(name: &str) -> String {
    use shmring::mpmc::{
        CONTROL_SIZE, HEAD_OFFSET, LANES, PARTICIPANTS, RECORD_LANES, RECORD_OWNER, RECORD_ROLE,
        RECORD_SIZE, TABLE_OFFSET, TAIL_OFFSET,
    };
    use std::fmt::Write;
    let Ok(bytes) = std::fs::read(common::shm_path(name)) else {
        return String::new();
    };
    let Ok(info) = shmring::header::decode(&bytes) else {
        return String::new();
    };
    if info.kind != shmring::RingKind::FramedMpsc || bytes.len() < info.total_size as usize {
        return String::new();
    }
    let word = |off: usize| u64::from_le_bytes(bytes[off..off + 8].try_into().unwrap());
    let area = info.area_offset as usize;
    let data = area + CONTROL_SIZE;
    let capacity = info.capacity;
    let (tail, head) = (word(area + TAIL_OFFSET), word(area + HEAD_OFFSET));
    let consumed = word(area + shmring::framed::mpsc::CONSUMED_OFFSET);
    let mut out = format!("tail {tail} head {head} consumed {consumed} capacity {capacity}\n");
    for r in 0..PARTICIPANTS {
        let rec = area + TABLE_OFFSET + r * RECORD_SIZE;
        let (owner, role) = (
            word(rec + RECORD_OWNER),
            word(rec + RECORD_ROLE) & 0xffff_ffff,
        );
        let lanes: Vec<u64> = (0..LANES)
            .map(|l| word(rec + RECORD_LANES + l * 8))
            .collect();
        if owner != 0 {
            let _ = writeln!(
                out,
                "record {r}: owner {owner:#x} role {role} lanes {lanes:?}"
            );
        }
    }
    let mut pos = head;
    for _ in 0..12 {
        if pos >= tail {
            break;
        }
        let h = word(data + (pos % capacity) as usize);
        let (len, kind) = (h & 0xffff_ffff, h >> 32);
        let _ = writeln!(
            out,
            "at {pos} (offset {}): header {h:#x} len {len} kind {kind:#x}",
            pos % capacity
        );
        if len == 0 || len % 8 != 0 {
            break;
        }
        pos += len;
    }
    out
}

// ------------------------------------------------------------------------------ processes

/// A child process of the test and what it plays.
struct Proc {
    child: Guard,
    producer: bool,
}

/// A child process that is killed (and reaped) if the test fails and drops it while it
/// still runs: a failing test leaves no process behind.
struct Guard(Child);

impl std::ops::Deref for Guard {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Guard {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn spawn(role: &str, kind: Kind, name: &str, ledger: &Ledger, extra: &[(&str, String)]) -> Guard {
    let mut cmd = common::child("child_entry", role, name);
    cmd.env(KIND_VAR, kind.tag())
        .env(LEDGER_VAR, &ledger.path)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    Guard(cmd.spawn().unwrap())
}

fn kill(child: &mut Child) -> ExitStatus {
    let _ = child.kill();
    child.wait().unwrap()
}

/// Waits for `child` until `deadline`; `None` if it is still running then (it is killed).
fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            kill(child);
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A child that ended on its own: only a clean exit is acceptable.
fn assert_clean(status: ExitStatus, what: &str) {
    assert!(
        status.success(),
        "{what} ended badly: {status:?} (signal {:?})",
        status.signal()
    );
}

// ------------------------------------------------------------------------------ 1. kills

/// What a kill-torture run counted.
#[derive(Debug, Default)]
struct KillFigures {
    kills: u64,
    producer_kills: u64,
    consumer_kills: u64,
    incarnations: u64,
    committed: u64,
    received: u64,
    /// Committed messages never received; at most one per killed consumer (the message it
    /// had taken when it died, before recording it).
    lost_with_killed_consumers: u64,
    /// Sent, but the producer was killed before recording it.
    unrecorded: u64,
    phantom: u64,
    duplicated: u64,
    torn: u64,
    hangs: u64,
}

fn kill_torture(kind: Kind) {
    let duration = phase(8, 120);
    let name = unique_name(&format!("torture-kill-{}", kind.tag()));
    let _u = Unlink(name.clone());
    kind.create(&name);
    let ledger = Ledger::create();
    let (np, nc) = kind.shape();
    let mut rng = Rng::new();
    let mut next_p = 0u64;
    let mut fig = KillFigures::default();
    let start_producer = |next_p: &mut u64| {
        let p = *next_p;
        *next_p += 1;
        let child = spawn(
            "producer",
            kind,
            &name,
            &ledger,
            &[(INCARNATION_VAR, p.to_string())],
        );
        Proc {
            child,
            producer: true,
        }
    };
    let start_consumer = || Proc {
        child: spawn("consumer", kind, &name, &ledger, &[]),
        producer: false,
    };
    let mut procs: Vec<Proc> = (0..np).map(|_| start_producer(&mut next_p)).collect();
    procs.extend((0..nc).map(|_| start_consumer()));
    let start = Instant::now();
    while start.elapsed() < duration && (next_p as usize) < INCARNATIONS - np {
        std::thread::sleep(Duration::from_micros(rng.below(20_000)));
        for p in &mut procs {
            if let Some(status) = p.child.try_wait().unwrap() {
                assert_clean(status, "a process");
                panic!("a process left before it was told to: {status:?}");
            }
        }
        // One victim, or now and then every process at once.
        let victims: Vec<usize> = if rng.below(10) == 0 {
            (0..procs.len()).collect()
        } else {
            vec![rng.below(procs.len() as u64) as usize]
        };
        for &v in &victims {
            let status = kill(&mut procs[v].child);
            if status.signal() != Some(libc::SIGKILL) {
                assert_clean(status, "a process");
            }
            fig.kills += 1;
            if procs[v].producer {
                fig.producer_kills += 1;
            } else {
                fig.consumer_kills += 1;
            }
        }
        for &v in &victims {
            procs[v] = if procs[v].producer {
                start_producer(&mut next_p)
            } else {
                start_consumer()
            };
        }
    }
    // Producers finish; consumers drain what is left and see every sender gone.
    ledger.set(STOP_PRODUCERS, 1);
    let deadline = Instant::now() + STOP_WATCHDOG;
    for p in procs.iter_mut().filter(|p| p.producer) {
        match wait_until(&mut p.child, deadline) {
            Some(status) => assert_clean(status, "a producer"),
            None => fig.hangs += 1,
        }
    }
    ledger.set(STOP_CONSUMERS, 1);
    let deadline = Instant::now() + STOP_WATCHDOG;
    for p in procs.iter_mut().filter(|p| !p.producer) {
        match wait_until(&mut p.child, deadline) {
            Some(status) => assert_clean(status, "a consumer"),
            None => fig.hangs += 1,
        }
    }
    fig.incarnations = next_p;
    for p in 0..next_p {
        let (missing, at, beyond) = ledger.tally(p);
        fig.committed += ledger.get(COMMITTED + p as usize);
        fig.lost_with_killed_consumers += missing;
        fig.unrecorded += at;
        fig.phantom += beyond;
    }
    fig.received = ledger.get(RECEIVED);
    fig.duplicated = ledger.get(DUPLICATED);
    fig.torn = ledger.get(TORN);
    let garbage = ledger.get(GARBAGE);
    println!(
        "TORTURE kill {} secs={:.1} {fig:?} garbage={garbage}",
        kind.tag(),
        start.elapsed().as_secs_f64()
    );
    assert_eq!(fig.hangs, 0, "{fig:?}");
    // An honest ring reported corruption (the process that saw it panicked, but may have
    // been killed by the next round before its exit status could tell).
    assert_eq!(
        ledger.get(CORRUPTED),
        0,
        "an honest ring reported corruption: {fig:?}"
    );
    assert_eq!(fig.duplicated, 0, "{fig:?}");
    assert_eq!(fig.torn + garbage, 0, "{fig:?}");
    assert_eq!(fig.phantom, 0, "{fig:?}");
    assert!(
        fig.lost_with_killed_consumers <= fig.consumer_kills,
        "committed messages lost beyond one per killed consumer: {fig:?}"
    );
    assert!(fig.kills > 0 && fig.received > 0, "{fig:?}");
    // The ring is reusable: a fresh producer and consumer pass messages through it.
    reuse_check(kind, &name, &ledger, next_p);
}

/// After the torture: a new producer and consumer, both fresh processes, exchange 1 000
/// messages through the same ring.
fn reuse_check(kind: Kind, name: &str, ledger: &Ledger, p: u64) {
    ledger.set(STOP_PRODUCERS, 0);
    ledger.set(STOP_CONSUMERS, 0);
    let before = ledger.get(RECEIVED);
    let mut consumer = spawn("consumer", kind, name, ledger, &[]);
    let mut producer = spawn(
        "producer",
        kind,
        name,
        ledger,
        &[(INCARNATION_VAR, p.to_string())],
    );
    let deadline = Instant::now() + common::WATCHDOG;
    while ledger.get(RECEIVED) - before < 1_000 {
        assert!(Instant::now() < deadline, "the ring was not reusable");
        std::thread::sleep(Duration::from_millis(2));
    }
    ledger.set(STOP_PRODUCERS, 1);
    assert_clean(
        wait_until(&mut producer, Instant::now() + STOP_WATCHDOG).expect("hang"),
        "producer",
    );
    ledger.set(STOP_CONSUMERS, 1);
    assert_clean(
        wait_until(&mut consumer, Instant::now() + STOP_WATCHDOG).expect("hang"),
        "consumer",
    );
    assert_eq!(ledger.get(DUPLICATED), 0);
    assert_eq!(ledger.get(CORRUPTED), 0);
}

#[test]
fn kill_torture_spsc() {
    kill_torture(Kind::Spsc);
}

#[test]
fn kill_torture_mpmc() {
    kill_torture(Kind::Mpmc);
}

#[test]
fn kill_torture_framed() {
    kill_torture(Kind::Framed);
}

#[test]
fn kill_torture_shm_transport() {
    kill_torture(Kind::Shm);
}

// ------------------------------------------------------------------------------ 2. hostile

/// Overwrites random words of the ring's file — header, control block, indices, stamps,
/// records — until told to stop, counting its writes.
fn scribbler(name: &str) {
    let ledger = Ledger::from_env();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(common::shm_path(name))
        .unwrap();
    let map = memmap2::MmapOptions::new().map_raw(&file).unwrap();
    let len = map.len();
    let mut rng = Rng::new();
    while ledger.get(STOP_PRODUCERS) == 0 {
        // Where: the header page, the control block after it, or anywhere.
        let region = match rng.below(10) {
            0..=2 => 0..4096.min(len),
            3..=6 => 4096.min(len)..(4096 + 1024).min(len),
            _ => 0..len,
        };
        if region.is_empty() {
            continue;
        }
        let width = [1usize, 4, 8][rng.below(3) as usize];
        let off =
            (region.start + rng.below((region.end - region.start) as u64) as usize) & !(width - 1);
        if off + width > len {
            continue;
        }
        // What: random bits, an extreme, or the current value nudged (plausible lies).
        // SAFETY: `off + width <= len`, aligned to `width`; the mapping lives until the end
        // of this function; a volatile access to shared memory others change is the point.
        unsafe {
            let at = map.as_mut_ptr().add(off);
            let current = match width {
                1 => u64::from(at.read_volatile()),
                4 => u64::from(at.cast::<u32>().read_volatile()),
                _ => at.cast::<u64>().read_volatile(),
            };
            let value = match rng.below(4) {
                0 => rng.below(u64::MAX),
                1 => [0, u64::MAX, 1 << 63, u64::from(u32::MAX)][rng.below(4) as usize],
                _ => current.wrapping_add(rng.below(64)).wrapping_sub(32),
            };
            match width {
                1 => at.write_volatile(value as u8),
                4 => at.cast::<u32>().write_volatile(value as u32),
                _ => at.cast::<u64>().write_volatile(value),
            }
        }
        ledger.bump(HOSTILE_WRITES);
        if rng.below(4) == 0 {
            std::thread::sleep(Duration::from_micros(rng.below(300)));
        }
    }
}

#[derive(Debug, Default)]
struct HostileFigures {
    rounds: u64,
    hostile_writes: u64,
    messages: u64,
    garbage: u64,
    corrupted_reports: u64,
    crashes: u64,
    hangs: u64,
}

fn hostile_torture(kind: Kind) {
    let duration = phase(6, 60);
    let ledger = Ledger::create();
    let mut rng = Rng::new();
    let mut fig = HostileFigures::default();
    let start = Instant::now();
    let mut p = 0u64;
    while start.elapsed() < duration && (p as usize) < INCARNATIONS {
        let name = unique_name(&format!("torture-hostile-{}", kind.tag()));
        let _u = Unlink(name.clone());
        kind.create(&name);
        ledger.set(STOP_PRODUCERS, 0);
        ledger.set(STOP_CONSUMERS, 0);
        let honest = [(HOSTILE_VAR, "1".to_owned())];
        let mut consumer = spawn("consumer", kind, &name, &ledger, &honest);
        let mut producer = spawn(
            "producer",
            kind,
            &name,
            &ledger,
            &[
                (HOSTILE_VAR, "1".to_owned()),
                (INCARNATION_VAR, p.to_string()),
            ],
        );
        p += 1;
        // Let the honest pair get going, then scribble for a while.
        std::thread::sleep(Duration::from_millis(5 + rng.below(20)));
        let mut scribbler = spawn("hostile", kind, &name, &ledger, &[]);
        std::thread::sleep(Duration::from_millis(50 + rng.below(250)));
        ledger.set(STOP_PRODUCERS, 1);
        ledger.set(STOP_CONSUMERS, 1);
        let deadline = Instant::now() + STOP_WATCHDOG;
        for (what, child) in [("producer", &mut producer), ("consumer", &mut consumer)] {
            match wait_until(child, deadline) {
                Some(status) if status.success() => {}
                Some(status) => {
                    fig.crashes += 1;
                    eprintln!(
                        "honest {what} on a scribbled {} ring: {status:?}",
                        kind.tag()
                    );
                }
                None => {
                    fig.hangs += 1;
                    eprintln!("honest {what} on a scribbled {} ring hung", kind.tag());
                }
            }
        }
        assert_clean(
            wait_until(&mut scribbler, deadline).expect("scribbler hung"),
            "the scribbler",
        );
        fig.rounds += 1;
    }
    fig.hostile_writes = ledger.get(HOSTILE_WRITES);
    fig.messages = ledger.get(RECEIVED);
    fig.garbage = ledger.get(GARBAGE);
    fig.corrupted_reports = ledger.get(CORRUPTED);
    println!(
        "TORTURE hostile {} secs={:.1} {fig:?}",
        kind.tag(),
        start.elapsed().as_secs_f64()
    );
    assert_eq!((fig.crashes, fig.hangs), (0, 0), "{fig:?}");
    assert!(fig.hostile_writes > 0 && fig.rounds > 0, "{fig:?}");
}

#[test]
fn hostile_peer_spsc() {
    hostile_torture(Kind::Spsc);
}

#[test]
fn hostile_peer_mpmc() {
    hostile_torture(Kind::Mpmc);
}

#[test]
fn hostile_peer_framed() {
    hostile_torture(Kind::Framed);
}

#[test]
fn hostile_peer_shm_transport() {
    hostile_torture(Kind::Shm);
}

// ------------------------------------------------------------------------------ 3. exhaustion

/// Whether this process may make mount namespaces and switch users; the tests that need it
/// say so and pass without it.
fn root() -> bool {
    nix::unistd::getuid().is_root()
}

/// Runs role `role` in a child that first gets a private mount namespace with a 1 MiB tmpfs
/// on /dev/shm (and with the limits `prepare` sets).
fn isolated(
    role: &str,
    name: &str,
    tiny_shm: bool,
    prepare: fn() -> std::io::Result<()>,
) -> String {
    let mut cmd = common::child("child_entry", role, name);
    let tmpfs = std::ffi::CString::new("tmpfs").unwrap();
    let target = std::ffi::CString::new("/dev/shm").unwrap();
    let root_dir = std::ffi::CString::new("/").unwrap();
    let data = std::ffi::CString::new("size=1m,mode=1777").unwrap();
    // SAFETY: between fork and exec only async-signal-safe calls (unshare, mount, setrlimit)
    // on C strings prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            if tiny_shm
                && (libc::unshare(libc::CLONE_NEWNS) != 0
                    || libc::mount(
                        std::ptr::null(),
                        root_dir.as_ptr(),
                        std::ptr::null(),
                        libc::MS_REC | libc::MS_PRIVATE,
                        std::ptr::null(),
                    ) != 0
                    || libc::mount(
                        tmpfs.as_ptr(),
                        target.as_ptr(),
                        tmpfs.as_ptr(),
                        0,
                        data.as_ptr().cast(),
                    ) != 0)
            {
                return Err(std::io::Error::last_os_error());
            }
            prepare()
        });
    }
    let out = common::run(cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{role}: {:?}\n{stderr}", out.status);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("RESULT "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// In a 1 MiB /dev/shm: rings that do not fit fail at creation with `NoSpace`; one that
/// fits keeps working after the file system is filled to the last byte (its pages were
/// allocated when it was created — no SIGBUS later).
fn tiny_shm(name: &str) {
    let too_big = |r: Result<(), OpenError>, what: &str| match r {
        Err(e @ OpenError::NoSpace { .. }) => println!("RESULT {what}: {e}"),
        other => panic!("{what}: expected NoSpace, got {other:?}"),
    };
    too_big(
        shmring::spsc::Receiver::<Msg>::create(format!("{name}-a").as_str(), 1 << 16).map(drop),
        "spsc 2 MiB",
    );
    too_big(
        shmring::mpmc::Receiver::<Msg>::create(format!("{name}-b").as_str(), 1 << 16).map(drop),
        "mpmc 2 MiB",
    );
    too_big(
        shmring::framed::Receiver::create(format!("{name}-c").as_str(), 4 << 20).map(drop),
        "framed 4 MiB",
    );
    match shmring_ipc::Receiver::bind_with(
        &format!("shm:{name}-d"),
        &shmring_ipc::Options::default().shm_capacity(4 << 20),
    ) {
        Err(shmring_ipc::ConnectError::Open(e @ OpenError::NoSpace { .. })) => {
            println!("RESULT shm: 4 MiB: {e}")
        }
        other => panic!("shm: expected NoSpace, got {:?}", other.map(|_| ())),
    }
    // Nothing half-made is left behind.
    let left: Vec<_> = std::fs::read_dir("/dev/shm")
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    // A ring that fits, then a full file system.
    let small = format!("{name}-e");
    let mut rx = shmring::spsc::Receiver::<u64>::create(small.as_str(), 1024).unwrap();
    let mut filler = std::fs::File::create("/dev/shm/filler").unwrap();
    let chunk = vec![0u8; 4096];
    let mut filled = 0usize;
    loop {
        match std::io::Write::write(&mut filler, &chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => filled += n,
        }
    }
    println!("RESULT filled the rest of /dev/shm with {filled} bytes");
    too_big(
        shmring::spsc::Receiver::<u64>::create(format!("{name}-f").as_str(), 64).map(drop),
        "spsc on a full /dev/shm",
    );
    let sender = std::thread::spawn(move || {
        let mut tx = shmring::spsc::Sender::<u64>::open(small.as_str()).unwrap();
        for i in 0..200_000u64 {
            tx.send(i).unwrap();
        }
    });
    for i in 0..200_000u64 {
        assert_eq!(rx.recv(), Ok(i));
    }
    sender.join().unwrap();
    println!("RESULT 200000 messages through the ring on the full file system");
}

#[test]
fn exhaustion_tiny_dev_shm() {
    if !root() {
        eprintln!("skipped: needs root for a private mount namespace");
        return;
    }
    let out = isolated("tiny-shm", &unique_name("torture-tiny"), true, || Ok(()));
    println!("TORTURE exhaustion tiny /dev/shm:\n{out}");
    assert_eq!(out.lines().count(), 7, "{out}");
}

/// With 20 descriptors allowed: every operation that needs one more fails with a clear
/// error (no panic), and works again once descriptors are freed.
fn few_fds(name: &str) {
    let mut keep = Vec::new();
    let mut first = None;
    for i in 0..64 {
        match std::fs::File::open("/dev/null") {
            Ok(f) => keep.push(f),
            Err(e) => {
                first = Some((i, e));
                break;
            }
        }
    }
    let (held, e) = first.expect("the descriptor limit did not apply");
    println!("RESULT {held} descriptors, then: {e}");
    // Rings: a named segment needs a descriptor while it is opened.
    match shmring::spsc::Receiver::<u64>::create(format!("{name}-a").as_str(), 64) {
        Err(e) => println!("RESULT spsc create: {e}"),
        Ok(_) => panic!("creating a ring without a free descriptor worked"),
    }
    match shmring_ipc::Receiver::bind(&format!("uds:/tmp/{name}.sock")) {
        Err(e) => println!("RESULT uds bind: {e}"),
        Ok(_) => panic!("binding a socket without a free descriptor worked"),
    }
    // Free a few: a ring and its readiness eventfd (a descriptor and a helper thread).
    keep.truncate(keep.len().saturating_sub(4));
    let mut rx = shmring::spsc::Receiver::<u64>::create(format!("{name}-b").as_str(), 64).unwrap();
    let fd = rx.readiness_fd().map(|_| ());
    println!("RESULT after freeing 4: ring created, readiness fd {fd:?}");
    keep.clear();
    let _ = shmring::Segment::unlink_name(&format!("{name}-b"));
}

#[test]
fn exhaustion_descriptors() {
    let out = isolated("few-fds", &unique_name("torture-fds"), false, || {
        let lim = libc::rlimit {
            rlim_cur: 20,
            rlim_max: 20,
        };
        // SAFETY: plain system call with a valid struct.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    });
    println!("TORTURE exhaustion descriptors:\n{out}");
    assert!(
        out.contains("spsc create:") && out.contains("uds bind:"),
        "{out}"
    );
    assert!(out.contains("ring created"), "{out}");
}

/// With `RLIMIT_MSGQUEUE` at 0: binding an `mq:` endpoint is a `Limit` error that names
/// the limit, and nothing is left behind.
fn no_queues(name: &str) {
    match shmring_ipc::Receiver::bind(&format!("mq:/{name}")) {
        Err(e @ shmring_ipc::ConnectError::Limit { .. }) => println!("RESULT mq bind: {e}"),
        other => panic!("expected a Limit error, got {:?}", other.map(|_| ())),
    }
    assert!(!std::path::Path::new(&format!("/dev/mqueue/{name}")).exists());
}

#[test]
fn exhaustion_message_queues() {
    let out = isolated("no-queues", &unique_name("torture-mq"), false, || {
        let lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: plain system call with a valid struct.
        if unsafe { libc::setrlimit(libc::RLIMIT_MSGQUEUE, &lim) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    });
    println!("TORTURE exhaustion message queues:\n{out}");
    assert!(out.contains("RLIMIT_MSGQUEUE"), "{out}");
}

// ------------------------------------------------------------------------------ 4. permissions

/// As another user (uid 65534): open the ring `name` of `kind` and, if that works, send one
/// message.
fn other_user(kind: Kind, name: &str) {
    let mut buf = Vec::new();
    let r: Result<(), String> = match kind {
        Kind::Spsc => shmring::spsc::Sender::<Msg>::open(name)
            .map_err(|e| format!("{e:?}"))
            .map(|mut tx| tx.send(typed(7, 0)).unwrap()),
        Kind::Mpmc => shmring::mpmc::Sender::<Msg>::open(name)
            .map_err(|e| format!("{e:?}"))
            .map(|tx| tx.send(typed(7, 0)).unwrap()),
        Kind::Framed => shmring::framed::Sender::open(name)
            .map_err(|e| format!("{e:?}"))
            .map(|mut tx| {
                bytes(7, 0, &mut buf);
                tx.send(&buf).unwrap()
            }),
        Kind::Shm => shmring_ipc::Sender::connect(&format!("shm:{name}"))
            .map_err(|e| format!("{e:?}"))
            .map(|mut tx| {
                bytes(7, 0, &mut buf);
                tx.send(&buf).unwrap()
            }),
    };
    match r {
        Ok(()) => println!("RESULT sent"),
        Err(e) => println!("RESULT refused {e}"),
    }
}

fn as_nobody(kind: Kind, name: &str) -> String {
    let mut cmd = common::child("child_entry", "other-user", name);
    cmd.env(KIND_VAR, kind.tag()).uid(65534).gid(65534);
    common::result_line(&common::run(cmd))
}

#[test]
fn permissions() {
    use std::os::unix::fs::PermissionsExt;
    if !root() {
        eprintln!("skipped: needs root to run a peer as another user");
        return;
    }
    let mut lines = Vec::new();
    for kind in Kind::ALL {
        for mode in [None, Some(0o666)] {
            let name = unique_name(&format!("torture-perm-{}", kind.tag()));
            let _u = Unlink(name.clone());
            let m = mode.unwrap_or(0o600);
            let mut rx = match kind {
                Kind::Spsc => Rx::Spsc(
                    shmring::spsc::Receiver::create_with_mode(name.as_str(), 8, m).unwrap(),
                ),
                Kind::Mpmc => Rx::Mpmc(
                    shmring::mpmc::Receiver::create_with_mode(name.as_str(), 8, m).unwrap(),
                ),
                Kind::Framed => Rx::Framed(
                    shmring::framed::Receiver::create_with_mode(name.as_str(), 4096, m).unwrap(),
                ),
                Kind::Shm => Rx::Shm(
                    shmring_ipc::Receiver::bind_with(
                        &format!("shm:{name}"),
                        &ipc_options().mode(m),
                    )
                    .unwrap(),
                ),
            };
            let meta = std::fs::metadata(common::shm_path(&name)).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, m, "{kind:?}");
            let result = as_nobody(kind, &name);
            match mode {
                None => assert!(
                    result.starts_with("refused") && result.contains("PermissionDenied"),
                    "{kind:?}: {result}"
                ),
                Some(_) => {
                    assert_eq!(result, "sent", "{kind:?}");
                    let mut buf = Vec::new();
                    let deadline = Instant::now() + common::WATCHDOG;
                    loop {
                        match rx.recv(&mut buf) {
                            Outcome::Done(Some((7, 0))) => break,
                            Outcome::Again => assert!(Instant::now() < deadline, "nothing arrived"),
                            _ => panic!("{kind:?}: unexpected receive"),
                        }
                    }
                }
            }
            lines.push(format!("{} {:o}: other user {result}", kind.tag(), m));
        }
    }
    // The auto: rendezvous: another user who can reach the socket is refused by its
    // credentials (SO_PEERCRED), unless the receiver admits that user.
    for admit in [false, true] {
        let name = unique_name("torture-perm-auto");
        let mut options = shmring_ipc::Options::default();
        if admit {
            options.auto_peers = shmring_ipc::auto::Peers::Uid(65534);
        }
        let _rx = shmring_ipc::Receiver::bind_with(&format!("auto:{name}"), &options).unwrap();
        let socket = shmring_ipc::auto::socket_path(&name);
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o777)).unwrap();
        let mut cmd = common::child("child_entry", "auto-peer", &name);
        cmd.uid(65534).gid(65534);
        let result = common::result_line(&common::run(cmd));
        if admit {
            assert_eq!(result, "connected");
        } else {
            assert!(
                result.starts_with("refused") && result.contains("65534"),
                "{result}"
            );
        }
        lines.push(format!(
            "auto: (admit uid 65534: {admit}): other user {result}"
        ));
    }
    println!("TORTURE permissions:\n{}", lines.join("\n"));
}

// ------------------------------------------------------------------------------ 5. soak

fn soak_producer(kind: Kind, name: &str) {
    let ledger = Ledger::from_env();
    let p: u64 = std::env::var(INCARNATION_VAR).unwrap().parse().unwrap();
    let stop = || ledger.get(STOP_PRODUCERS) != 0;
    let mut tx = Tx::open(kind, name, false, stop).unwrap_or_else(|_| panic!("open"));
    let mut buf = Vec::new();
    let mut s = 0u64;
    while !stop() {
        match tx.send(p, s, &mut buf) {
            Outcome::Done(_) => {
                s += 1;
                if s % 256 == 0 {
                    ledger.commit(p, s);
                }
            }
            Outcome::Again => {}
            // Not attached yet (the soak starts every process at once).
            Outcome::Gone => std::thread::sleep(Duration::from_millis(1)),
            Outcome::Corrupted => panic!("an honest ring reported corruption"),
        }
    }
    ledger.commit(p, s);
}

/// Checks every message in order per producer (one consumer per ring in the soak, so
/// exactly-once is "each producer's numbers without a gap or a repeat").
fn soak_consumer(kind: Kind, name: &str) {
    let ledger = Ledger::from_env();
    let stop = || ledger.get(STOP_CONSUMERS) != 0;
    let mut rx = Rx::open(kind, name, false, stop).unwrap_or_else(|_| panic!("open"));
    let mut next = std::collections::HashMap::<u64, u64>::new();
    let mut buf = Vec::new();
    let mut local = 0u64;
    loop {
        match rx.recv(&mut buf) {
            Outcome::Done(Some((p, s))) => {
                let n = next.entry(p).or_insert(0);
                if s != *n {
                    ledger.bump(OUT_OF_ORDER);
                }
                *n = s + 1;
                local += 1;
                if local % 4096 == 0 {
                    ledger.word(RECEIVED).fetch_add(4096, Ordering::AcqRel);
                }
            }
            Outcome::Done(None) => ledger.bump(TORN),
            Outcome::Again => {}
            Outcome::Gone if stop() => break,
            Outcome::Gone => std::thread::sleep(Duration::from_millis(1)),
            Outcome::Corrupted => panic!("an honest ring reported corruption"),
        }
    }
    ledger
        .word(RECEIVED)
        .fetch_add(local % 4096, Ordering::AcqRel);
    // Every producer's last number was received.
    for (p, n) in next {
        if ledger.get(COMMITTED + p as usize) != n {
            ledger.bump(DUPLICATED); // a count mismatch: lost or repeated at the end
        }
    }
}

/// (resident set in KiB, open descriptors) of a process.
fn footprint(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    (rss, fds)
}

fn our_segments(prefix: &str) -> usize {
    std::fs::read_dir("/dev/shm")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .count()
}

#[test]
fn soak() {
    let duration = phase(45, 600);
    let prefix = format!("shmring-test-torture-soak-{}-", std::process::id());
    assert_eq!(our_segments(&prefix), 0);
    let ledger = Ledger::create();
    let mut procs = Vec::new();
    let mut guards = Vec::new();
    let mut p = 0u64;
    for kind in Kind::ALL {
        let name = unique_name("torture-soak");
        assert!(name.starts_with(&prefix));
        kind.create(&name);
        guards.push(Unlink(name.clone()));
        let producers = if kind == Kind::Spsc || kind == Kind::Framed {
            1
        } else {
            2
        };
        procs.push((true, spawn("soak-consumer", kind, &name, &ledger, &[])));
        for _ in 0..producers {
            procs.push((
                false,
                spawn(
                    "soak-producer",
                    kind,
                    &name,
                    &ledger,
                    &[(INCARNATION_VAR, p.to_string())],
                ),
            ));
            p += 1;
        }
    }
    let start = Instant::now();
    let warm = Duration::from_secs(5).min(duration / 4);
    std::thread::sleep(warm);
    let first: Vec<_> = procs.iter().map(|(_, c)| footprint(c.id())).collect();
    while start.elapsed() < duration {
        std::thread::sleep(Duration::from_millis(200));
        for (_, c) in &mut procs {
            if let Some(status) = c.try_wait().unwrap() {
                panic!("a soak process ended early: {status:?}");
            }
        }
    }
    let last: Vec<_> = procs.iter().map(|(_, c)| footprint(c.id())).collect();
    ledger.set(STOP_PRODUCERS, 1);
    let deadline = Instant::now() + STOP_WATCHDOG;
    for (consumer, c) in &mut procs {
        if !*consumer {
            assert_clean(
                wait_until(c, deadline).expect("a producer hung"),
                "soak producer",
            );
        }
    }
    ledger.set(STOP_CONSUMERS, 1);
    for (consumer, c) in &mut procs {
        if *consumer {
            assert_clean(
                wait_until(c, deadline).expect("a consumer hung"),
                "soak consumer",
            );
        }
    }
    let sent: u64 = (0..p).map(|i| ledger.get(COMMITTED + i as usize)).sum();
    let received = ledger.get(RECEIVED);
    let growth: Vec<i64> = first
        .iter()
        .zip(&last)
        .map(|(a, b)| b.0 as i64 - a.0 as i64)
        .collect();
    let fd_growth: Vec<i64> = first
        .iter()
        .zip(&last)
        .map(|(a, b)| b.1 as i64 - a.1 as i64)
        .collect();
    drop(guards);
    let left = our_segments(&prefix);
    println!(
        "TORTURE soak secs={:.1} processes={} sent={sent} received={received} out_of_order={} torn={} mismatched_ends={} rss_growth_kib={growth:?} fd_growth={fd_growth:?} segments_left={left}",
        start.elapsed().as_secs_f64(),
        procs.len(),
        ledger.get(OUT_OF_ORDER),
        ledger.get(TORN),
        ledger.get(DUPLICATED),
    );
    assert_eq!(sent, received);
    assert_eq!(
        (
            ledger.get(OUT_OF_ORDER),
            ledger.get(TORN),
            ledger.get(DUPLICATED)
        ),
        (0, 0, 0)
    );
    assert!(growth.iter().all(|&g| g < 1024), "RSS grew: {growth:?} KiB");
    assert!(
        fd_growth.iter().all(|&g| g == 0),
        "descriptors grew: {fd_growth:?}"
    );
    assert_eq!(left, 0, "segments left after cleanup");
}
