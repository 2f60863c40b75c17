//! The shmring broadcast rows: round trip through two broadcast rings (one writer and one
//! receiver each, to compare with spsc), and one writer's 8 B throughput to one receiver and
//! per receiver to two (lossless: the writer waits for the slower).

#[allow(unused_imports)]
use super::*;

use shmring::broadcast;

/// How often a writer with nobody left to read checks that (a scan of the table).
const CHECK_EVERY: u64 = 1 << 16;

/// Round trips through two broadcast rings to an echoing peer, 8 B.
pub(super) fn broadcast_rtt(cfg: Config, mode: Mode, strategy: WaitStrategy) -> Row {
    let name = unique("broadcast-rtt");
    let (ping, pong) = (format!("{name}-ping"), format!("{name}-pong"));
    let mut tx = broadcast::Sender::<u64>::create(ping.as_str(), RTT_CAPACITY)
        .unwrap()
        .with_wait_strategy(strategy);
    let mut rx = broadcast::Receiver::<u64>::create(pong.as_str(), RTT_CAPACITY)
        .unwrap()
        .with_wait_strategy(strategy);
    let child = spawn_peer(&["broadcast-rtt", "8", &name, mode.arg()]);
    let hist = round_trips(10_000, cfg.rtt_iters, |i| {
        tx.send(i).unwrap();
        assert_eq!(rx.recv().unwrap(), i);
    });
    tx.send(STOP).unwrap();
    finish_pair(child, &ping, &pong);
    rtt_row(&format!("shmring broadcast ({mode})"), "8 B", &hist)
}

pub(super) fn broadcast_echo(name: &str, mode: Mode) {
    // From the oldest message held: the first ping may come before this receiver attached.
    let mut rx = broadcast::Receiver::<u64>::options()
        .from_oldest()
        .wait_strategy(mode.strategy())
        .open(format!("{name}-ping").as_str())
        .unwrap();
    let mut tx = broadcast::Sender::<u64>::open(format!("{name}-pong").as_str())
        .unwrap()
        .with_wait_strategy(mode.strategy());
    echo_until_stop(|| rx.recv().unwrap(), |v| tx.send(v).unwrap());
}

/// A writer process and `receivers` receivers (this process, and a draining peer for the
/// second), 8 B one at a time: this receiver's throughput.
pub(super) fn broadcast_tput(
    cfg: Config,
    mode: Mode,
    strategy: WaitStrategy,
    receivers: u32,
) -> Row {
    let name = unique("broadcast-tput");
    let mut rx = broadcast::Receiver::<u64>::create(name.as_str(), 4096)
        .unwrap()
        .with_wait_strategy(strategy);
    let sink = (receivers > 1).then(|| spawn_peer(&["broadcast-sink", "8", &name, mode.arg()]));
    let writer = spawn_peer(&[
        "broadcast-tput",
        "8",
        &name,
        mode.arg(),
        &receivers.to_string(),
    ]);
    let (expected, took) = count_in_order(cfg, || rx.recv().unwrap());
    drop(rx);
    if let Some(sink) = sink {
        finish(sink);
    }
    finish(writer);
    Segment::unlink_name(&name).unwrap();
    let label = if receivers == 1 {
        format!("shmring broadcast ({mode}, 1 receiver)")
    } else {
        format!("shmring broadcast ({mode}, {receivers} receivers, per receiver)")
    };
    tput_row(&label, "8 B", 8, expected, took)
}

/// The writer of the throughput rows: sends until fewer than `receivers` are left (the
/// measuring one left; a draining one stays until the writer is gone).
pub(super) fn broadcast_produce(name: &str, mode: Mode, receivers: usize) {
    let mut tx = broadcast::Sender::<u64>::open(name)
        .unwrap()
        .with_wait_strategy(mode.strategy());
    // The measuring receiver is attached already; wait for a draining one to attach too.
    while tx.receiver_count() < receivers {
        std::thread::yield_now();
    }
    for seq in 0u64.. {
        tx.send(seq).unwrap();
        if seq % CHECK_EVERY == CHECK_EVERY - 1 && tx.receiver_count() < receivers {
            return;
        }
    }
}

/// The second receiver of the two-receiver row: drains until the writer is gone.
pub(super) fn broadcast_sink(name: &str, mode: Mode) {
    let mut rx = broadcast::Receiver::<u64>::options()
        .from_oldest()
        .wait_strategy(mode.strategy())
        .open(name)
        .unwrap();
    while rx.recv().is_ok() {}
}
