//! The ring rows of `shmring bench` and their raw baselines: two processes spinning on one
//! shared cache line (the floor), an unchecked shared-memory ring (the floor for streaming),
//! the shmring spsc, mpmc and framed rings (busy-poll and blocking), a pipe (FIFO), a Unix
//! stream socket, TCP, and in-process rtrb and crossbeam `ArrayQueue`.
//!
//! Round trips are recorded in an HDR histogram (p50/p99/p99.9/max); throughput is one-way,
//! one message at a time unless the row says `chunk`.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use shmring::spsc::{Receiver, Sender};
use shmring::{RingKind, Segment, SegmentOptions, ShmType, WaitStrategy};

use super::{
    Config, Plan, Row, finish, histogram, noise_row, round_trips, round_trips_async, rtt_row,
    size_label, spawn_peer, tput_row, unique,
};

/// A message of a given size whose first word carries a sequence number.
trait Payload: ShmType + Send {
    const LABEL: &'static str;
    fn with_seq(seq: u64) -> Self;
    fn seq(&self) -> u64;
    fn set_seq(&mut self, seq: u64);
}

impl Payload for u64 {
    const LABEL: &'static str = "8 B";
    fn with_seq(seq: u64) -> Self {
        seq
    }
    fn seq(&self) -> u64 {
        *self
    }
    fn set_seq(&mut self, seq: u64) {
        *self = seq;
    }
}

macro_rules! array_payload {
    ($n:literal, $label:literal) => {
        impl Payload for [u64; $n] {
            const LABEL: &'static str = $label;
            fn with_seq(seq: u64) -> Self {
                let mut a = [seq; $n];
                a[0] = seq;
                a
            }
            fn seq(&self) -> u64 {
                self[0]
            }
            fn set_seq(&mut self, seq: u64) {
                self[0] = seq;
            }
        }
    };
}

array_payload!(8, "64 B");
array_payload!(128, "1 KiB");
array_payload!(8192, "64 KiB");

const STOP: u64 = u64::MAX;
/// Ring capacity for the round-trip rows: one message is in flight at a time.
const RTT_CAPACITY: u64 = 64;
/// A request/response-sized ring: at 1 KiB, 64 slots per direction (128 KiB in all) do not
/// fit the 32 KiB L1 of a core here, 4 slots do.
const RTT_SMALL_CAPACITY: u64 = 4;
mod broadcast;
mod floor;
mod framed;
#[cfg(feature = "peers")]
mod ice;
mod inproc;
mod mpmc;
mod spsc;
mod streams;

#[cfg(feature = "peers")]
use ice::*;
#[allow(unused_imports)]
use {broadcast::*, floor::*, framed::*, inproc::*, mpmc::*, spsc::*, streams::*};

/// After a round-trip row over two named rings: the echo finishes, both rings go.
fn finish_pair(child: std::process::Child, ping: &str, pong: &str) {
    finish(child);
    Segment::unlink_name(ping).unwrap();
    Segment::unlink_name(pong).unwrap();
}

/// The echo of a typed round-trip row: sends back what `recv` gives until [`STOP`].
fn echo_until_stop(mut recv: impl FnMut() -> u64, mut send: impl FnMut(u64)) {
    loop {
        let v = recv();
        if v == STOP {
            return;
        }
        send(v);
    }
}

/// Receives `0, 1, 2, …` (checked) from `recv` for the throughput window, counted from the
/// first message: how many, in how long.
fn count_in_order(cfg: Config, mut recv: impl FnMut() -> u64) -> (u64, Duration) {
    let mut expected = 0u64;
    let mut start = None;
    loop {
        assert_eq!(recv(), expected);
        expected += 1;
        let started = *start.get_or_insert_with(Instant::now);
        if expected % 1024 == 0 && started.elapsed() >= cfg.tput {
            return (expected, started.elapsed());
        }
    }
}

// ---------------------------------------------------------------- peers

/// Runs the peer role `args` names; `false` if it names none of these.
pub(super) fn peer(args: &[String]) -> bool {
    super::pin_peer();
    let arg = |i: usize| args[i].as_str();
    match (arg(0), arg(1)) {
        ("floor-rtt", size) => floor_echo(arg(2), size.parse().unwrap()),
        ("floor-tput", "8") => floor_produce::<u64>(arg(2), arg(3).parse().unwrap()),
        ("floor-tput", "64") => floor_produce::<[u64; 8]>(arg(2), arg(3).parse().unwrap()),
        ("floor-tput", "1024") => floor_produce::<[u64; 128]>(arg(2), arg(3).parse().unwrap()),
        ("floor-tput", _) => floor_produce::<[u64; 8192]>(arg(2), arg(3).parse().unwrap()),
        ("spsc-rtt", "8") => spsc_echo::<u64>(arg(2), Mode::parse(arg(3))),
        ("spsc-rtt", "65536") => spsc_echo::<[u64; 8192]>(arg(2), Mode::parse(arg(3))),
        ("spsc-rtt", _) => spsc_echo::<[u64; 128]>(arg(2), Mode::parse(arg(3))),
        ("spsc-tput", "8") => spsc_produce::<u64>(arg(2), Mode::parse(arg(3)), arg(4)),
        ("spsc-tput", _) => spsc_produce::<[u64; 8192]>(arg(2), Mode::parse(arg(3)), arg(4)),
        ("mpmc-rtt", _) => mpmc_echo(arg(2), Mode::parse(arg(3))),
        ("framed-rtt", _) => framed_echo(arg(2), Mode::parse(arg(3))),
        ("framed-tput", size) => {
            framed_produce(arg(2), size.parse().unwrap(), Mode::parse(arg(3)), false)
        }
        ("framed-mpsc-tput", size) => {
            framed_produce(arg(2), size.parse().unwrap(), Mode::parse(arg(3)), true)
        }
        ("mpmc-tput", _) => mpmc_produce(arg(2), Mode::parse(arg(3))),
        ("broadcast-rtt", _) => broadcast_echo(arg(2), Mode::parse(arg(3))),
        ("broadcast-tput", _) => {
            broadcast_produce(arg(2), Mode::parse(arg(3)), arg(4).parse().unwrap())
        }
        ("broadcast-sink", _) => broadcast_sink(arg(2), Mode::parse(arg(3))),
        #[cfg(feature = "peers")]
        ("iceoryx2-rtt", _) => iceoryx2_echo(arg(2), Mode::parse(arg(3))),
        #[cfg(feature = "peers")]
        ("iceoryx2-tput", _) => iceoryx2_produce(arg(2), arg(3).parse().unwrap()),
        #[cfg(feature = "peers")]
        ("iceoryx2-sink", _) => iceoryx2_sink(arg(2)),
        ("stream-rtt", kind) => stream_echo(kind, arg(2), arg(3).parse().unwrap()),
        ("stream-tput", kind) => stream_produce(kind, arg(2), arg(3).parse().unwrap()),
        _ => return false,
    }
    true
}

/// How a row's handles wait: busy-polling, blocking (the default), or blocking with the
/// echo replying only after [`REPLY_DELAY`] (the wake-up row: every message finds its
/// receiver asleep).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Spin,
    Blocking,
    Wake,
}

impl Mode {
    /// The word the peer process is given.
    fn arg(self) -> &'static str {
        match self {
            Mode::Spin => "spin",
            Mode::Blocking => "blocking",
            Mode::Wake => "wake",
        }
    }

    /// The mode a peer was given (`arg`).
    fn parse(arg: &str) -> Mode {
        match arg {
            "spin" => Mode::Spin,
            "wake" => Mode::Wake,
            _ => Mode::Blocking,
        }
    }

    fn strategy(self) -> WaitStrategy {
        match self {
            Mode::Spin => WaitStrategy::BusyPoll,
            Mode::Blocking | Mode::Wake => WaitStrategy::default(),
        }
    }

    /// How long the echo waits before it replies.
    fn reply_delay(self) -> Option<Duration> {
        (self == Mode::Wake).then_some(REPLY_DELAY)
    }
}

/// As the rows name it.
impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Spin => "spin",
            Mode::Blocking => "blocking",
            Mode::Wake => "blocking, reply after 100 µs",
        })
    }
}

// ---------------------------------------------------------------- the plan

/// Adds the ring rows and their baselines that `plan` selects.
pub(super) fn add_rows(plan: &mut Plan) {
    let cfg = plan.cfg;
    // The floors, at every size another row may compare with.
    plan.add("floor", 8, move || floor_rtt::<u64>(cfg));
    plan.add("floor", 64, move || floor_rtt::<[u64; 8]>(cfg));
    plan.add("floor", 1024, move || floor_rtt::<[u64; 128]>(cfg));
    plan.add("floor", 65536, move || floor_rtt::<[u64; 8192]>(cfg));
    plan.add("floor", 8, move || floor_tput::<u64>(cfg));
    plan.add("floor", 64, move || floor_tput::<[u64; 8]>(cfg));
    plan.add("floor", 1024, move || floor_tput::<[u64; 128]>(cfg));
    plan.add("floor", 65536, move || floor_tput::<[u64; 8192]>(cfg));
    for mode in [Mode::Spin, Mode::Blocking] {
        let strategy = mode.strategy();
        let group = format!("spsc-{mode}");
        plan.add(&group, 8, move || {
            spsc_rtt::<u64>(cfg, mode, strategy, RTT_CAPACITY, false)
        });
        for capacity in [RTT_CAPACITY, RTT_SMALL_CAPACITY] {
            plan.add(&group, 1024, move || {
                spsc_rtt::<[u64; 128]>(cfg, mode, strategy, capacity, false)
            });
        }
        if mode == Mode::Spin {
            // Large-message ping-pong: two slots per direction against sixteen.
            for capacity in [2, 16] {
                plan.add(&group, 65536, move || {
                    spsc_rtt::<[u64; 8192]>(cfg, mode, strategy, capacity, false)
                });
            }
        }
        for how in ["one", "try", "chunk"] {
            plan.add(&group, 8, move || {
                spsc_tput::<u64>(cfg, mode, strategy, how, false)
            });
        }
        for how in ["one", "chunk"] {
            plan.add(&group, 65536, move || {
                spsc_tput::<[u64; 8192]>(cfg, mode, strategy, how, false)
            });
        }
        if mode == Mode::Blocking {
            plan.add(&group, 8, move || spsc_rtt_async(cfg, Mode::Blocking));
        }
        let group = format!("mpmc-{mode}");
        plan.add(&group, 8, move || mpmc_rtt(cfg, mode, strategy, false));
        if mode == Mode::Blocking {
            plan.add(&group, 8, move || mpmc_rtt(cfg, mode, strategy, true));
        }
        plan.add(&group, 8, move || mpmc_tput(cfg, mode, strategy));
        let group = format!("broadcast-{mode}");
        plan.add(&group, 8, move || broadcast_rtt(cfg, mode, strategy));
        for receivers in [1, 2] {
            plan.add(&group, 8, move || {
                broadcast_tput(cfg, mode, strategy, receivers)
            });
        }
        for size in [64, 1024] {
            plan.add(&format!("framed-{mode}"), size, move || {
                framed_rtt(cfg, mode, strategy, size)
            });
        }
        for size in [64, 65536] {
            plan.add(&format!("framed-{mode}"), size, move || {
                framed_tput(cfg, mode, strategy, size, false)
            });
            plan.add(&format!("framed-mpsc-{mode}"), size, move || {
                framed_tput(cfg, mode, strategy, size, true)
            });
        }
    }
    for kind in ["pipe", "uds", "tcp"] {
        for size in [8, 64, 1024] {
            plan.add(kind, size, move || stream_rtt(cfg, kind, size));
        }
        for size in [8, 64, 1024] {
            plan.add(kind, size, move || stream_tput(cfg, kind, size));
        }
    }
    // The wake-up path: a reply that comes after the waiting side stopped spinning, to a
    // blocking and to an async receive (the helper thread's extra hop). Every round trip
    // takes the pause, so few of them.
    let wake = Config {
        rtt_iters: cfg.rtt_iters / 100,
        ..cfg
    };
    let mode = Mode::Wake;
    plan.add("wake", 8, move || {
        spsc_rtt::<u64>(wake, mode, WaitStrategy::default(), RTT_CAPACITY, false)
    });
    // The per-ring fence (`fence_every_send`) against the default membarrier protocol: what
    // the fence costs a streaming row, what skipping the membarrier saves a sleeping one.
    let (blocking, strategy) = (Mode::Blocking, WaitStrategy::default());
    plan.add("fence", 8, move || {
        spsc_rtt::<u64>(cfg, blocking, strategy, RTT_CAPACITY, true)
    });
    plan.add("fence", 8, move || {
        spsc_tput::<u64>(cfg, blocking, strategy, "one", true)
    });
    plan.add("fence", 8, move || {
        spsc_rtt::<u64>(wake, mode, strategy, RTT_CAPACITY, true)
    });
    plan.add("wake", 8, move || spsc_rtt_async(wake, mode));
    // iceoryx2 publish-subscribe (feature `peers`): beside spsc and broadcast.
    #[cfg(feature = "peers")]
    {
        plan.add("peers", 8, move || iceoryx2_rtt(cfg, Mode::Spin));
        plan.add("peers", 8, move || iceoryx2_rtt(cfg, Mode::Blocking));
        plan.add("peers", 8, move || iceoryx2_rtt(wake, Mode::Wake));
        for subscribers in [1, 2] {
            plan.add("peers", 8, move || iceoryx2_tput(cfg, subscribers));
        }
    }
    // Tail latency: a long busy-poll round-trip run, beside the machine's own noise (two
    // threads spinning on the clock, one on each benchmark core, as long as a throughput
    // slice): what the scheduler and the hypervisor take is the floor under any p99.99.
    let long = Config {
        rtt_iters: cfg.rtt_iters * 5,
        ..cfg
    };
    plan.add("tail", 8, move || {
        let mut row = spsc_rtt::<u64>(
            long,
            Mode::Spin,
            WaitStrategy::BusyPoll,
            RTT_CAPACITY,
            false,
        );
        row.name = format!("shmring spsc (spin, {} round trips)", long.rtt_iters);
        row
    });
    plan.add("tail", 8, move || noise_row(cfg));
    plan.add("inproc", 8, move || rtrb_tput(cfg));
    plan.add("inproc", 8, move || shmring_inproc_tput(cfg));
    plan.add("inproc", 8, move || crossbeam_tput(cfg));
}
