//! The shmring spsc rows: round trips (busy-poll, blocking, async) and throughput (one at a
//! time and in chunks).

#[allow(unused_imports)]
use super::*;

// ---------------------------------------------------------------- shmring spsc

/// `fenced`: both rings made with `fence_every_send` (the peer follows their headers).
pub(super) fn spsc_rtt<P: Payload>(
    cfg: Config,
    mode: Mode,
    strategy: WaitStrategy,
    capacity: u64,
    fenced: bool,
) -> Row {
    let name = unique("spsc-rtt");
    let (ping, pong) = (format!("{name}-ping"), format!("{name}-pong"));
    let mut tx = fence_if(Sender::<P>::options(), fenced)
        .create(ping.as_str(), capacity)
        .unwrap()
        .with_wait_strategy(strategy);
    let mut rx = fence_if(Receiver::<P>::options(), fenced)
        .create(pong.as_str(), capacity)
        .unwrap()
        .with_wait_strategy(strategy);
    let child = spawn_peer(&["spsc-rtt", &size_of::<P>().to_string(), &name, mode.arg()]);
    let mut msg = P::with_seq(0);
    let mut back = P::zeroed();
    let hist = round_trips(10_000, cfg.rtt_iters, |i| {
        msg.set_seq(i);
        tx.send_ref(&msg).unwrap();
        rx.recv_into(&mut back).unwrap();
        assert_eq!(back.seq(), i);
    });
    tx.send(P::with_seq(STOP)).unwrap();
    finish(child);
    Segment::unlink_name(&ping).unwrap();
    Segment::unlink_name(&pong).unwrap();
    let slots = if capacity == RTT_CAPACITY {
        String::new()
    } else {
        format!(", {capacity} slots")
    };
    let label = format!("shmring spsc ({mode}{slots}{})", fence_label(fenced));
    rtt_row(&label, P::LABEL, &hist)
}

/// Round trips with the reply received by `recv_async` on a current-thread tokio runtime
/// (the request sent, and echoed by the peer, in blocking mode): the async waiter's cost
/// against the blocking row.
pub(super) fn spsc_rtt_async(cfg: Config, mode: Mode) -> Row {
    let strategy = WaitStrategy::default();
    let name = unique("spsc-rtt-async");
    let (ping, pong) = (format!("{name}-ping"), format!("{name}-pong"));
    let mut tx = Sender::<u64>::create(ping.as_str(), RTT_CAPACITY).unwrap();
    let mut rx = Receiver::<u64>::create(pong.as_str(), RTT_CAPACITY)
        .unwrap()
        .with_wait_strategy(strategy);
    let child = spawn_peer(&["spsc-rtt", "8", &name, mode.arg()]);
    let hist = round_trips_async(10_000, cfg.rtt_iters, async |i| {
        tx.send(i).unwrap();
        assert_eq!(rx.recv_async().await.unwrap(), i);
    });
    tx.send(STOP).unwrap();
    finish(child);
    Segment::unlink_name(&ping).unwrap();
    Segment::unlink_name(&pong).unwrap();
    rtt_row(
        &format!("shmring spsc ({mode}, async receive)"),
        "8 B",
        &hist,
    )
}

pub(super) fn spsc_echo<P: Payload>(name: &str, mode: Mode) {
    let mut rx = Receiver::<P>::open(format!("{name}-ping").as_str())
        .unwrap()
        .with_wait_strategy(mode.strategy());
    let mut tx = Sender::<P>::open(format!("{name}-pong").as_str())
        .unwrap()
        .with_wait_strategy(mode.strategy());
    let mut v = P::zeroed();
    // "reply after": answer only after a pause longer than a waiting receiver spins, so
    // the round trip measures its wake-up path.
    let delay = mode.reply_delay();
    loop {
        rx.recv_into(&mut v).unwrap();
        if v.seq() == STOP {
            return;
        }
        if let Some(d) = delay {
            let start = Instant::now();
            while start.elapsed() < d {
                std::hint::spin_loop();
            }
        }
        tx.send_ref(&v).unwrap();
    }
}

/// `options`, made to fence on every send when `fenced`.
fn fence_if<H>(options: shmring::RingOptions<H>, fenced: bool) -> shmring::RingOptions<H> {
    if fenced {
        options.fence_every_send()
    } else {
        options
    }
}

/// What a row made with `fence_every_send` adds to its label.
fn fence_label(fenced: bool) -> &'static str {
    if fenced { ", fence every send" } else { "" }
}

/// The pause of the "reply after" rows: longer than the default spin of a waiting receiver.
pub(super) const REPLY_DELAY: Duration = Duration::from_micros(100);

/// `how`: "one" (blocking API), "try" (non-blocking calls in a spin loop) or "chunk".
/// `fenced`: the ring made with `fence_every_send`.
pub(super) fn spsc_tput<P: Payload>(
    cfg: Config,
    mode: Mode,
    strategy: WaitStrategy,
    how: &str,
    fenced: bool,
) -> Row {
    let chunk = how == "chunk";
    let try_loop = how == "try";
    let name = unique("spsc-tput");
    let cap = if size_of::<P>() > 8 { 16 } else { 4096 };
    let mut rx = fence_if(Receiver::<P>::options(), fenced)
        .create(name.as_str(), cap)
        .unwrap()
        .with_wait_strategy(strategy);
    let child = spawn_peer(&[
        "spsc-tput",
        &size_of::<P>().to_string(),
        &name,
        mode.arg(),
        how,
    ]);
    let mut expected = 0u64;
    let mut start = None;
    let mut count = 0u64;
    let mut batch = vec![P::zeroed(); if size_of::<P>() > 8 { 4 } else { 256 }];
    loop {
        if chunk {
            let avail = rx.slots().min(batch.len());
            if avail == 0 {
                std::hint::spin_loop();
                continue;
            }
            let mut c = rx.read_chunk(avail).unwrap();
            let n = c.copy_to_slice(&mut batch);
            c.commit();
            for v in &batch[..n] {
                assert_eq!(v.seq(), expected);
                expected += 1;
            }
            count += n as u64;
        } else {
            if try_loop {
                while rx.try_recv_into(&mut batch[0]).is_err() {
                    std::hint::spin_loop();
                }
            } else {
                rx.recv_into(&mut batch[0]).unwrap();
            }
            let v = batch[0];
            assert_eq!(v.seq(), expected);
            expected += 1;
            count += 1;
        }
        let started = *start.get_or_insert_with(Instant::now);
        if (chunk || count % 1024 == 0) && started.elapsed() >= cfg.tput {
            break;
        }
    }
    let took = start.unwrap().elapsed();
    drop(rx);
    finish(child);
    Segment::unlink_name(&name).unwrap();
    let how = match how {
        "chunk" => "chunks",
        "try" => "one at a time, try-loop",
        _ => "one at a time",
    };
    tput_row(
        &format!("shmring spsc ({mode}, {how}{})", fence_label(fenced)),
        P::LABEL,
        size_of::<P>(),
        count,
        took,
    )
}

pub(super) fn spsc_produce<P: Payload>(name: &str, mode: Mode, how: &str) {
    let chunk = how == "chunk";
    let try_loop = how == "try";
    let mut tx = Sender::<P>::open(name)
        .unwrap()
        .with_wait_strategy(mode.strategy());
    let mut seq = 0u64;
    if chunk {
        let most = if size_of::<P>() > 8 { 4 } else { 256 };
        let mut batch = vec![P::with_seq(0); most];
        loop {
            let n = tx.slots().clamp(1, most);
            match tx.write_chunk(n) {
                Ok(mut c) => {
                    for m in &mut batch[..n] {
                        m.set_seq(seq);
                        seq += 1;
                    }
                    c.extend_from_slice(&batch[..n]);
                    c.commit();
                }
                Err(shmring::ChunkError::TooFewSlots(_)) => std::hint::spin_loop(),
                Err(_) => return,
            }
        }
    }
    let mut msg = P::with_seq(0);
    loop {
        msg.set_seq(seq);
        if try_loop {
            loop {
                match tx.try_send_ref(&msg) {
                    Ok(()) => break,
                    Err(shmring::TrySendError::Full(())) => std::hint::spin_loop(),
                    Err(_) => return,
                }
            }
        } else if tx.send_ref(&msg).is_err() {
            return;
        }
        seq += 1;
    }
}
