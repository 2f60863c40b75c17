//! The shmring framed rows (one producer and many).

#[allow(unused_imports)]
use super::*;

/// Round trips of `size`-byte messages through two single-producer framed rings (one each
/// way) to an echoing peer; an empty message stops it.
pub(super) fn framed_rtt(cfg: Config, mode: Mode, strategy: WaitStrategy, size: usize) -> Row {
    let name = unique("framed-rtt");
    let (ping, pong) = (format!("{name}-ping"), format!("{name}-pong"));
    let mut tx = shmring::framed::Sender::create(ping.as_str(), 1 << 14)
        .unwrap()
        .with_wait_strategy(strategy);
    let mut rx = shmring::framed::Receiver::create(pong.as_str(), 1 << 14)
        .unwrap()
        .with_wait_strategy(strategy);
    let child = spawn_peer(&["framed-rtt", &size.to_string(), &name, mode.arg()]);
    let mut msg = vec![9u8; size];
    let mut back = Vec::with_capacity(size);
    let mut hist = histogram();
    for i in 0..cfg.rtt_iters + 10_000 {
        msg[..8].copy_from_slice(&i.to_le_bytes());
        let start = Instant::now();
        tx.send(&msg).unwrap();
        rx.recv_into(&mut back).unwrap();
        if i >= 10_000 {
            hist.record(start.elapsed().as_nanos() as u64).unwrap();
        }
        assert_eq!(back, msg);
    }
    tx.send(&[]).unwrap();
    finish(child);
    Segment::unlink_name(&ping).unwrap();
    Segment::unlink_name(&pong).unwrap();
    rtt_row(&format!("shmring framed ({mode})"), size_label(size), &hist)
}

pub(super) fn framed_echo(name: &str, mode: Mode) {
    let mut rx = shmring::framed::Receiver::open(format!("{name}-ping").as_str())
        .unwrap()
        .with_wait_strategy(mode.strategy());
    let mut tx = shmring::framed::Sender::open(format!("{name}-pong").as_str())
        .unwrap()
        .with_wait_strategy(mode.strategy());
    let mut buf = Vec::new();
    loop {
        rx.recv_into(&mut buf).unwrap();
        if buf.is_empty() {
            return;
        }
        tx.send(&buf).unwrap();
    }
}

// ---------------------------------------------------------------- shmring framed

/// One producer process sending `size`-byte messages through a framed ring (the
/// single-producer one, or the many-producer one with `many`), this process receiving them
/// with `recv_into` (one reused buffer) and checking each sequence number.
pub(super) fn framed_tput(
    cfg: Config,
    mode: Mode,
    strategy: WaitStrategy,
    size: usize,
    many: bool,
) -> Row {
    let name = unique("framed-tput");
    // Small messages: a ring that stays in the caches; large: room for a few messages.
    let capacity = if size <= 1024 { 1 << 16 } else { 1 << 18 };
    let (role, label) = if many {
        ("framed-mpsc-tput", "framed-mpsc")
    } else {
        ("framed-tput", "framed")
    };
    // The two receivers share no trait (their calls are written once by a macro in the
    // library), so the drain is spelled once here by a macro too.
    macro_rules! drain {
        ($receiver:ty) => {{
            let mut rx = <$receiver>::create(name.as_str(), capacity)
                .unwrap()
                .with_wait_strategy(strategy);
            let child = spawn_peer(&[role, &size.to_string(), &name, mode.arg()]);
            let (n, took) = framed_drain(cfg, size, |buf| rx.recv_into(buf).unwrap());
            drop(rx);
            finish(child);
            (n, took)
        }};
    }
    let row = if many {
        drain!(shmring::framed::mpsc::Receiver)
    } else {
        drain!(shmring::framed::Receiver)
    };
    Segment::unlink_name(&name).unwrap();
    tput_row(
        &format!("shmring {label} ({mode})"),
        size_label(size),
        size,
        row.0,
        row.1,
    )
}

/// Receives for the configured time, checking every sequence number; (messages, time).
pub(super) fn framed_drain(
    cfg: Config,
    size: usize,
    mut recv: impl FnMut(&mut Vec<u8>) -> u32,
) -> (u64, Duration) {
    let mut buf = Vec::with_capacity(size);
    let mut expected = 0u64;
    let mut start = None;
    loop {
        recv(&mut buf);
        assert_eq!(buf.len(), size);
        assert_eq!(u64::from_le_bytes(buf[..8].try_into().unwrap()), expected);
        expected += 1;
        let started = *start.get_or_insert_with(Instant::now);
        if expected % 256 == 0 && started.elapsed() >= cfg.tput {
            break;
        }
    }
    (expected, start.unwrap().elapsed())
}

pub(super) fn framed_produce(name: &str, size: usize, mode: Mode, many: bool) {
    if many {
        let tx = shmring::framed::mpsc::Sender::open(name)
            .unwrap()
            .with_wait_strategy(mode.strategy());
        produce_until_gone(size, |msg| tx.send(msg).is_ok());
    } else {
        let mut tx = shmring::framed::Sender::open(name)
            .unwrap()
            .with_wait_strategy(mode.strategy());
        produce_until_gone(size, |msg| tx.send(msg).is_ok());
    }
}

/// Sends numbered messages of `size` bytes (the number in the first eight) through `send`
/// until it fails (the receiver is gone). Generic, so each ring's loop is compiled for it.
fn produce_until_gone(size: usize, mut send: impl FnMut(&[u8]) -> bool) {
    let mut msg = vec![5u8; size];
    for seq in 0u64.. {
        msg[..8].copy_from_slice(&seq.to_le_bytes());
        if !send(&msg) {
            return;
        }
    }
}
