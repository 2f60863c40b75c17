//! The shmring mpmc rows.

#[allow(unused_imports)]
use super::*;

// ---------------------------------------------------------------- shmring mpmc

/// Round trip through two mpmc rings (one producer and one consumer each), 8 B.
/// Round trips through two mpmc rings to an echoing peer; `asynchronous`: the reply is
/// received by `recv_async` (the async waiter's cost against the blocking row).
pub(super) fn mpmc_rtt(cfg: Config, mode: Mode, strategy: WaitStrategy, asynchronous: bool) -> Row {
    let name = unique("mpmc-rtt");
    let (ping, pong) = (format!("{name}-ping"), format!("{name}-pong"));
    let tx = shmring::mpmc::Sender::<u64>::create(ping.as_str(), RTT_CAPACITY)
        .unwrap()
        .with_wait_strategy(strategy);
    let mut rx = shmring::mpmc::Receiver::<u64>::create(pong.as_str(), RTT_CAPACITY)
        .unwrap()
        .with_wait_strategy(strategy);
    let child = spawn_peer(&["mpmc-rtt", "8", &name, mode.arg()]);
    let hist = if asynchronous {
        round_trips_async(10_000, cfg.rtt_iters, async |i| {
            tx.send(i).unwrap();
            assert_eq!(rx.recv_async().await.unwrap(), i);
        })
    } else {
        round_trips(10_000, cfg.rtt_iters, |i| {
            tx.send(i).unwrap();
            assert_eq!(rx.recv().unwrap(), i);
        })
    };
    tx.send(STOP).unwrap();
    finish_pair(child, &ping, &pong);
    let label = if asynchronous {
        format!("shmring mpmc ({mode}, async receive)")
    } else {
        format!("shmring mpmc ({mode})")
    };
    rtt_row(&label, "8 B", &hist)
}

pub(super) fn mpmc_echo(name: &str, mode: Mode) {
    let rx = shmring::mpmc::Receiver::<u64>::open(format!("{name}-ping").as_str())
        .unwrap()
        .with_wait_strategy(mode.strategy());
    let tx = shmring::mpmc::Sender::<u64>::open(format!("{name}-pong").as_str())
        .unwrap()
        .with_wait_strategy(mode.strategy());
    echo_until_stop(|| rx.recv().unwrap(), |v| tx.send(v).unwrap());
}

/// One producer process, this process consuming, 8 B one at a time.
pub(super) fn mpmc_tput(cfg: Config, mode: Mode, strategy: WaitStrategy) -> Row {
    let name = unique("mpmc-tput");
    let rx = shmring::mpmc::Receiver::<u64>::create(name.as_str(), 4096)
        .unwrap()
        .with_wait_strategy(strategy);
    let child = spawn_peer(&["mpmc-tput", "8", &name, mode.arg()]);
    let (expected, took) = count_in_order(cfg, || rx.recv().unwrap());
    drop(rx);
    finish(child);
    Segment::unlink_name(&name).unwrap();
    tput_row(
        &format!("shmring mpmc ({mode}, one at a time)"),
        "8 B",
        8,
        expected,
        took,
    )
}

pub(super) fn mpmc_produce(name: &str, mode: Mode) {
    let tx = shmring::mpmc::Sender::<u64>::open(name)
        .unwrap()
        .with_wait_strategy(mode.strategy());
    let mut seq = 0;
    while tx.send(seq).is_ok() {
        seq += 1;
    }
}
