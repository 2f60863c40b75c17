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

use shmring_test_support as common;
mod broadcast;
mod events;
mod exhaustion;
mod handles;
mod hostile;
mod kills;
mod ledger;
mod permissions;
mod processes;
mod roles;
mod soak;

#[allow(unused_imports)]
use {
    broadcast::*, events::*, exhaustion::*, handles::*, hostile::*, kills::*, ledger::*,
    permissions::*, processes::*, roles::*, soak::*,
};

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
    /// Only in the hostile-peer, soak and permission tests here (its kill test is in
    /// broadcast.rs: the ledger's exactly-once-by-one-consumer accounting is not the
    /// broadcast contract).
    Broadcast,
    /// The broadcast ring of byte messages (as Broadcast).
    FramedBroadcast,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::Spsc,
        Kind::Mpmc,
        Kind::Framed,
        Kind::Shm,
        Kind::Broadcast,
        Kind::FramedBroadcast,
    ];

    fn tag(self) -> &'static str {
        match self {
            Kind::Spsc => "spsc",
            Kind::Mpmc => "mpmc",
            Kind::Framed => "framed",
            Kind::Shm => "shm",
            Kind::Broadcast => "broadcast",
            Kind::FramedBroadcast => "framed-broadcast",
        }
    }

    fn parse(s: &str) -> Kind {
        *Kind::ALL.iter().find(|k| k.tag() == s).expect("kind")
    }

    /// Producers and consumers at a time.
    fn shape(self) -> (usize, usize) {
        match self {
            Kind::Spsc | Kind::Framed | Kind::Broadcast | Kind::FramedBroadcast => (1, 1),
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
            Kind::Broadcast => drop(shmring::broadcast::Sender::<Msg>::create(name, 64).unwrap()),
            Kind::FramedBroadcast => {
                drop(shmring::framed::broadcast::Sender::create(name, 256).unwrap())
            }
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

/// The test every child process runs (`common::child` re-executes this binary with
/// `--exact child_entry` and its role in the environment): at the top level, so its name
/// stays `child_entry`. In the parent it returns at once.
#[test]
fn child_entry() {
    roles::child_entry();
}
