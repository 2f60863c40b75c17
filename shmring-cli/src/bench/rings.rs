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
    Config, Plan, Row, finish, histogram, round_trips, round_trips_async, rtt_row, size_label,
    spawn_peer, tput_row, unique,
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
        ("spsc-rtt", "8") => spsc_echo::<u64>(arg(2), arg(3)),
        ("spsc-rtt", _) => spsc_echo::<[u64; 128]>(arg(2), arg(3)),
        ("spsc-tput", "8") => spsc_produce::<u64>(arg(2), arg(3), arg(4)),
        ("spsc-tput", _) => spsc_produce::<[u64; 8192]>(arg(2), arg(3), arg(4)),
        ("mpmc-rtt", _) => mpmc_echo(arg(2), arg(3)),
        ("framed-rtt", _) => framed_echo(arg(2), arg(3)),
        ("framed-tput", size) => framed_produce(arg(2), size.parse().unwrap(), arg(3), false),
        ("framed-mpsc-tput", size) => framed_produce(arg(2), size.parse().unwrap(), arg(3), true),
        ("mpmc-tput", _) => mpmc_produce(arg(2), arg(3)),
        ("stream-rtt", kind) => stream_echo(kind, arg(2), arg(3).parse().unwrap()),
        ("stream-tput", kind) => stream_produce(kind, arg(2), arg(3).parse().unwrap()),
        _ => return false,
    }
    true
}

fn strategy(mode: &str) -> WaitStrategy {
    if mode == "spin" {
        WaitStrategy::BusyPoll
    } else {
        WaitStrategy::default()
    }
}

// ---------------------------------------------------------------- the floor

/// A raw shared segment: word 0 and word 16 are flags on separate cache lines, then two
/// payload buffers.
fn raw_segment(name: &str, bytes: u64, create: bool) -> Segment {
    let opts = SegmentOptions::new(RingKind::Raw)
        .payload::<u64>()
        .capacity(bytes / 8);
    if create {
        opts.create(name).expect("create raw")
    } else {
        opts.open(name).expect("open raw")
    }
}

fn word(seg: &Segment, index: usize) -> &AtomicU64 {
    assert!((index + 1) * 8 <= seg.area_len());
    // SAFETY: in bounds (asserted), 8-aligned, and only accessed atomically by both processes.
    unsafe { AtomicU64::from_ptr(seg.area_ptr().as_ptr().cast::<u64>().add(index)) }
}

fn copy_in(seg: &Segment, offset: usize, src: &[u8]) {
    assert!(offset + src.len() <= seg.area_len());
    // SAFETY: in bounds (asserted); the flag protocol gives this process the buffer.
    unsafe {
        std::ptr::copy_nonoverlapping(src.as_ptr(), seg.area_ptr().as_ptr().add(offset), src.len())
    };
}

fn copy_out(seg: &Segment, offset: usize, dst: &mut [u8]) {
    assert!(offset + dst.len() <= seg.area_len());
    // SAFETY: in bounds (asserted); the flag protocol gives this process the buffer.
    unsafe {
        std::ptr::copy_nonoverlapping(
            seg.area_ptr().as_ptr().add(offset),
            dst.as_mut_ptr(),
            dst.len(),
        )
    };
}

const PING_BUF: usize = 256;
const PONG_BUF: usize = 256 + 2048;

/// Round trip on one shared cache line (plus a copied payload above 8 bytes): the floor.
fn floor_rtt<P: Payload>(cfg: Config) -> Row {
    let size = size_of::<P>();
    let name = unique("floor-rtt");
    let seg = raw_segment(&name, 8192, true);
    let child = spawn_peer(&["floor-rtt", &size.to_string(), &name]);
    let flag = word(&seg, 0);
    let mut payload = vec![7u8; size];
    let mut seq = 0u64;
    let hist = round_trips(10_000, cfg.rtt_iters, |_| {
        if size > 8 {
            copy_in(&seg, PING_BUF, &payload);
        }
        seq += 1;
        flag.store(2 * seq - 1, Ordering::Release);
        while flag.load(Ordering::Acquire) != 2 * seq {
            std::hint::spin_loop();
        }
        if size > 8 {
            copy_out(&seg, PONG_BUF, &mut payload);
        }
    });
    flag.store(STOP, Ordering::Release);
    finish(child);
    seg.unlink().unwrap();
    rtt_row("floor (spinning cache line)", P::LABEL, &hist)
}

fn floor_echo(name: &str, size: usize) {
    let seg = raw_segment(name, 8192, false);
    let flag = word(&seg, 0);
    let mut payload = vec![0u8; size];
    let mut seen = 0;
    loop {
        let v = flag.load(Ordering::Acquire);
        if v == STOP {
            return;
        }
        if v % 2 == 1 && v != seen {
            seen = v;
            if size > 8 {
                copy_out(&seg, PING_BUF, &mut payload);
                copy_in(&seg, PONG_BUF, &payload);
            }
            flag.store(v + 1, Ordering::Release);
        }
        std::hint::spin_loop();
    }
}

/// An unchecked Lamport ring in a raw segment: no validation, no wake-ups, no liveness — the
/// floor for streaming. Words: 0 = tail, 16 = head, 32 = stop; slots from byte 512.
const FLOOR_SLOTS: usize = 512;

fn floor_tput<P: Payload>(cfg: Config) -> Row {
    // About 256 KiB of slots (a ring that stays in the L2), 16 to 4096 of them.
    let cap = (262_144 / size_of::<P>()).clamp(16, 4096);
    let name = unique("floor-tput");
    let seg = raw_segment(&name, (FLOOR_SLOTS + cap * size_of::<P>()) as u64, true);
    let child = spawn_peer(&[
        "floor-tput",
        &size_of::<P>().to_string(),
        &name,
        &cap.to_string(),
    ]);
    let (tail, head, stop) = (word(&seg, 0), word(&seg, 16), word(&seg, 32));
    let mut value = P::zeroed();
    let mut pos = 0u64;
    let mut cached = 0u64;
    let mut expected = 0u64;
    let mut start = None;
    let mut count = 0u64;
    loop {
        if pos == cached {
            cached = tail.load(Ordering::Acquire);
            if pos == cached {
                std::hint::spin_loop();
                continue;
            }
        }
        let offset = FLOOR_SLOTS + (pos as usize % cap) * size_of::<P>();
        copy_out(&seg, offset, bytemuck::bytes_of_mut(&mut value));
        // Keep the whole copy: the check below reads one word, and the compiler could shrink
        // the copy to that word otherwise.
        std::hint::black_box(&mut value);
        pos += 1;
        head.store(pos, Ordering::Release);
        assert_eq!(value.seq(), expected);
        expected += 1;
        let started = *start.get_or_insert_with(Instant::now);
        count += 1;
        if count % 1024 == 0 && started.elapsed() >= cfg.tput {
            break;
        }
    }
    let took = start.unwrap().elapsed();
    stop.store(1, Ordering::Release);
    finish(child);
    seg.unlink().unwrap();
    tput_row(
        "floor (unchecked ring, spinning)",
        P::LABEL,
        size_of::<P>(),
        count,
        took,
    )
}

fn floor_produce<P: Payload>(name: &str, cap: usize) {
    let seg = raw_segment(name, (FLOOR_SLOTS + cap * size_of::<P>()) as u64, false);
    let (tail, head, stop) = (word(&seg, 0), word(&seg, 16), word(&seg, 32));
    let mut pos = 0u64;
    let mut cached = 0u64;
    let mut value = P::with_seq(0);
    while stop.load(Ordering::Relaxed) == 0 {
        if pos - cached == cap as u64 {
            cached = head.load(Ordering::Acquire);
            if pos - cached == cap as u64 {
                std::hint::spin_loop();
                continue;
            }
        }
        value.set_seq(pos);
        let offset = FLOOR_SLOTS + (pos as usize % cap) * size_of::<P>();
        copy_in(&seg, offset, bytemuck::bytes_of(&value));
        pos += 1;
        tail.store(pos, Ordering::Release);
    }
}

// ---------------------------------------------------------------- shmring spsc

fn spsc_rtt<P: Payload>(cfg: Config, mode: &str, strategy: WaitStrategy, capacity: u64) -> Row {
    let name = unique("spsc-rtt");
    let (ping, pong) = (format!("{name}-ping"), format!("{name}-pong"));
    let mut tx = Sender::<P>::create(ping.as_str(), capacity)
        .unwrap()
        .with_wait_strategy(strategy);
    let mut rx = Receiver::<P>::create(pong.as_str(), capacity)
        .unwrap()
        .with_wait_strategy(strategy);
    let child = spawn_peer(&["spsc-rtt", &size_of::<P>().to_string(), &name, mode]);
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
    let label = if capacity == RTT_CAPACITY {
        format!("shmring spsc ({mode})")
    } else {
        format!("shmring spsc ({mode}, {capacity} slots)")
    };
    rtt_row(&label, P::LABEL, &hist)
}

/// Round trips with the reply received by `recv_async` on a current-thread tokio runtime
/// (the request sent, and echoed by the peer, in blocking mode): the async waiter's cost
/// against the blocking row.
fn spsc_rtt_async(cfg: Config, mode: &str) -> Row {
    let strategy = WaitStrategy::default();
    let name = unique("spsc-rtt-async");
    let (ping, pong) = (format!("{name}-ping"), format!("{name}-pong"));
    let mut tx = Sender::<u64>::create(ping.as_str(), RTT_CAPACITY).unwrap();
    let mut rx = Receiver::<u64>::create(pong.as_str(), RTT_CAPACITY)
        .unwrap()
        .with_wait_strategy(strategy);
    let child = spawn_peer(&["spsc-rtt", "8", &name, mode]);
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

fn spsc_echo<P: Payload>(name: &str, mode: &str) {
    let mut rx = Receiver::<P>::open(format!("{name}-ping").as_str())
        .unwrap()
        .with_wait_strategy(strategy(mode));
    let mut tx = Sender::<P>::open(format!("{name}-pong").as_str())
        .unwrap()
        .with_wait_strategy(strategy(mode));
    let mut v = P::zeroed();
    // "reply after": answer only after a pause longer than a waiting receiver spins, so
    // the round trip measures its wake-up path.
    let delay = mode.contains("reply after").then_some(REPLY_DELAY);
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

/// The pause of the "reply after" rows: longer than the default spin of a waiting receiver.
const REPLY_DELAY: Duration = Duration::from_micros(100);

/// `how`: "one" (blocking API), "try" (non-blocking calls in a spin loop) or "chunk".
fn spsc_tput<P: Payload>(cfg: Config, mode: &str, strategy: WaitStrategy, how: &str) -> Row {
    let chunk = how == "chunk";
    let try_loop = how == "try";
    let name = unique("spsc-tput");
    let cap = if size_of::<P>() > 8 { 16 } else { 4096 };
    let mut rx = Receiver::<P>::create(name.as_str(), cap)
        .unwrap()
        .with_wait_strategy(strategy);
    let child = spawn_peer(&["spsc-tput", &size_of::<P>().to_string(), &name, mode, how]);
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
        &format!("shmring spsc ({mode}, {how})"),
        P::LABEL,
        size_of::<P>(),
        count,
        took,
    )
}

fn spsc_produce<P: Payload>(name: &str, mode: &str, how: &str) {
    let chunk = how == "chunk";
    let try_loop = how == "try";
    let mut tx = Sender::<P>::open(name)
        .unwrap()
        .with_wait_strategy(strategy(mode));
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

// ---------------------------------------------------------------- shmring mpmc

/// Round trip through two mpmc rings (one producer and one consumer each), 8 B.
/// Round trips through two mpmc rings to an echoing peer; `asynchronous`: the reply is
/// received by `recv_async` (the async waiter's cost against the blocking row).
fn mpmc_rtt(cfg: Config, mode: &str, strategy: WaitStrategy, asynchronous: bool) -> Row {
    let name = unique("mpmc-rtt");
    let (ping, pong) = (format!("{name}-ping"), format!("{name}-pong"));
    let tx = shmring::mpmc::Sender::<u64>::create(ping.as_str(), RTT_CAPACITY)
        .unwrap()
        .with_wait_strategy(strategy);
    let mut rx = shmring::mpmc::Receiver::<u64>::create(pong.as_str(), RTT_CAPACITY)
        .unwrap()
        .with_wait_strategy(strategy);
    let child = spawn_peer(&["mpmc-rtt", "8", &name, mode]);
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
    finish(child);
    Segment::unlink_name(&ping).unwrap();
    Segment::unlink_name(&pong).unwrap();
    let label = if asynchronous {
        format!("shmring mpmc ({mode}, async receive)")
    } else {
        format!("shmring mpmc ({mode})")
    };
    rtt_row(&label, "8 B", &hist)
}

fn mpmc_echo(name: &str, mode: &str) {
    let rx = shmring::mpmc::Receiver::<u64>::open(format!("{name}-ping").as_str())
        .unwrap()
        .with_wait_strategy(strategy(mode));
    let tx = shmring::mpmc::Sender::<u64>::open(format!("{name}-pong").as_str())
        .unwrap()
        .with_wait_strategy(strategy(mode));
    loop {
        let v = rx.recv().unwrap();
        if v == STOP {
            return;
        }
        tx.send(v).unwrap();
    }
}

/// Round trips of `size`-byte messages through two single-producer framed rings (one each
/// way) to an echoing peer; an empty message stops it.
fn framed_rtt(cfg: Config, mode: &str, strategy: WaitStrategy, size: usize) -> Row {
    let name = unique("framed-rtt");
    let (ping, pong) = (format!("{name}-ping"), format!("{name}-pong"));
    let mut tx = shmring::framed::Sender::create(ping.as_str(), 1 << 14)
        .unwrap()
        .with_wait_strategy(strategy);
    let mut rx = shmring::framed::Receiver::create(pong.as_str(), 1 << 14)
        .unwrap()
        .with_wait_strategy(strategy);
    let child = spawn_peer(&["framed-rtt", &size.to_string(), &name, mode]);
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

fn framed_echo(name: &str, mode: &str) {
    let mut rx = shmring::framed::Receiver::open(format!("{name}-ping").as_str())
        .unwrap()
        .with_wait_strategy(strategy(mode));
    let mut tx = shmring::framed::Sender::open(format!("{name}-pong").as_str())
        .unwrap()
        .with_wait_strategy(strategy(mode));
    let mut buf = Vec::new();
    loop {
        rx.recv_into(&mut buf).unwrap();
        if buf.is_empty() {
            return;
        }
        tx.send(&buf).unwrap();
    }
}

/// One producer process, this process consuming, 8 B one at a time.
fn mpmc_tput(cfg: Config, mode: &str, strategy: WaitStrategy) -> Row {
    let name = unique("mpmc-tput");
    let rx = shmring::mpmc::Receiver::<u64>::create(name.as_str(), 4096)
        .unwrap()
        .with_wait_strategy(strategy);
    let child = spawn_peer(&["mpmc-tput", "8", &name, mode]);
    let mut expected = 0u64;
    let mut start = None;
    loop {
        assert_eq!(rx.recv().unwrap(), expected);
        expected += 1;
        let started = *start.get_or_insert_with(Instant::now);
        if expected % 1024 == 0 && started.elapsed() >= cfg.tput {
            break;
        }
    }
    let took = start.unwrap().elapsed();
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

fn mpmc_produce(name: &str, mode: &str) {
    let tx = shmring::mpmc::Sender::<u64>::open(name)
        .unwrap()
        .with_wait_strategy(strategy(mode));
    let mut seq = 0;
    while tx.send(seq).is_ok() {
        seq += 1;
    }
}

// ---------------------------------------------------------------- pipes and sockets

/// A bidirectional byte stream: two FIFOs, one Unix socket or one TCP connection.
struct Duplex {
    read: Box<dyn Read>,
    write: Box<dyn Write>,
}

fn stream_paths(kind: &str) -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(unique(kind));
    std::fs::create_dir_all(&dir).unwrap();
    (dir.clone(), dir.display().to_string())
}

/// The parent's end. For pipes: creates two FIFOs; for uds: listens and accepts.
fn stream_parent(kind: &str, dir: &std::path::Path, accept: impl FnOnce()) -> Duplex {
    if kind == "pipe" {
        let (a, b) = (dir.join("ping"), dir.join("pong"));
        nix::unistd::mkfifo(&a, nix::sys::stat::Mode::S_IRWXU).unwrap();
        nix::unistd::mkfifo(&b, nix::sys::stat::Mode::S_IRWXU).unwrap();
        accept();
        let write = std::fs::OpenOptions::new().write(true).open(&a).unwrap();
        let read = std::fs::File::open(&b).unwrap();
        Duplex {
            read: Box::new(read),
            write: Box::new(write),
        }
    } else if kind == "tcp" {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std::fs::write(dir.join("port"), listener.local_addr().unwrap().to_string()).unwrap();
        accept();
        let (s, _) = listener.accept().unwrap();
        s.set_nodelay(true).unwrap();
        Duplex {
            read: Box::new(s.try_clone().unwrap()),
            write: Box::new(s),
        }
    } else {
        let listener = UnixListener::bind(dir.join("sock")).unwrap();
        accept();
        let (s, _) = listener.accept().unwrap();
        Duplex {
            read: Box::new(s.try_clone().unwrap()),
            write: Box::new(s),
        }
    }
}

fn stream_child(kind: &str, dir: &str) -> Duplex {
    let dir = std::path::Path::new(dir);
    if kind == "pipe" {
        let read = std::fs::File::open(dir.join("ping")).unwrap();
        let write = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("pong"))
            .unwrap();
        Duplex {
            read: Box::new(read),
            write: Box::new(write),
        }
    } else if kind == "tcp" {
        let addr = std::fs::read_to_string(dir.join("port")).unwrap();
        let s = std::net::TcpStream::connect(addr.trim()).unwrap();
        s.set_nodelay(true).unwrap();
        Duplex {
            read: Box::new(s.try_clone().unwrap()),
            write: Box::new(s),
        }
    } else {
        let s = UnixStream::connect(dir.join("sock")).unwrap();
        Duplex {
            read: Box::new(s.try_clone().unwrap()),
            write: Box::new(s),
        }
    }
}

fn stream_rtt(cfg: Config, kind: &str, size: usize) -> Row {
    let (dir, dir_s) = stream_paths(kind);
    let mut child = None;
    let mut io = stream_parent(kind, &dir, || {
        child = Some(spawn_peer(&["stream-rtt", kind, &dir_s, &size.to_string()]));
    });
    let mut buf = vec![1u8; size];
    let hist = round_trips(2_000, cfg.rtt_iters / 10, |_| {
        io.write.write_all(&buf).unwrap();
        io.read.read_exact(&mut buf).unwrap();
    });
    drop(io);
    finish(child.unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
    rtt_row(stream_name(kind), size_label(size), &hist)
}

/// A raw stream baseline as the table names it.
fn stream_name(kind: &str) -> &'static str {
    match kind {
        "pipe" => "raw pipe (FIFO)",
        "tcp" => "raw TCP loopback",
        _ => "raw Unix stream socket",
    }
}

fn stream_echo(kind: &str, dir: &str, size: usize) {
    let mut io = stream_child(kind, dir);
    let mut buf = vec![0u8; size];
    while io.read.read_exact(&mut buf).is_ok() {
        io.write.write_all(&buf).unwrap();
    }
}

fn stream_tput(cfg: Config, kind: &str, size: usize) -> Row {
    let (dir, dir_s) = stream_paths(kind);
    let mut child = None;
    let mut io = stream_parent(kind, &dir, || {
        child = Some(spawn_peer(&[
            "stream-tput",
            kind,
            &dir_s,
            &size.to_string(),
        ]));
    });
    let mut buf = vec![0u8; size];
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed() < cfg.tput {
        for _ in 0..1024 {
            io.read.read_exact(&mut buf).unwrap();
        }
        count += 1024;
    }
    let took = start.elapsed();
    drop(io);
    finish(child.unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
    tput_row(stream_name(kind), size_label(size), size, count, took)
}

// ---------------------------------------------------------------- shmring framed

/// One producer process sending `size`-byte messages through a framed ring (the
/// single-producer one, or the many-producer one with `many`), this process receiving them
/// with `recv_into` (one reused buffer) and checking each sequence number.
fn framed_tput(cfg: Config, mode: &str, strategy: WaitStrategy, size: usize, many: bool) -> Row {
    let name = unique("framed-tput");
    // Small messages: a ring that stays in the caches; large: room for a few messages.
    let capacity = if size <= 1024 { 1 << 16 } else { 1 << 18 };
    let (role, label) = if many {
        ("framed-mpsc-tput", "framed-mpsc")
    } else {
        ("framed-tput", "framed")
    };
    let row = if many {
        let mut rx = shmring::framed::mpsc::Receiver::create(name.as_str(), capacity)
            .unwrap()
            .with_wait_strategy(strategy);
        let child = spawn_peer(&[role, &size.to_string(), &name, mode]);
        let (n, took) = framed_drain(cfg, size, |buf| rx.recv_into(buf).unwrap());
        drop(rx);
        finish(child);
        (n, took)
    } else {
        let mut rx = shmring::framed::Receiver::create(name.as_str(), capacity)
            .unwrap()
            .with_wait_strategy(strategy);
        let child = spawn_peer(&[role, &size.to_string(), &name, mode]);
        let (n, took) = framed_drain(cfg, size, |buf| rx.recv_into(buf).unwrap());
        drop(rx);
        finish(child);
        (n, took)
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
fn framed_drain(
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

fn framed_produce(name: &str, size: usize, mode: &str, many: bool) {
    let mut msg = vec![5u8; size];
    let mut seq = 0u64;
    let mut next = |msg: &mut Vec<u8>| {
        msg[..8].copy_from_slice(&seq.to_le_bytes());
        seq += 1;
    };
    if many {
        let tx = shmring::framed::mpsc::Sender::open(name)
            .unwrap()
            .with_wait_strategy(strategy(mode));
        loop {
            next(&mut msg);
            if tx.send(&msg).is_err() {
                return;
            }
        }
    } else {
        let mut tx = shmring::framed::Sender::open(name)
            .unwrap()
            .with_wait_strategy(strategy(mode));
        loop {
            next(&mut msg);
            if tx.send(&msg).is_err() {
                return;
            }
        }
    }
}

fn stream_produce(kind: &str, dir: &str, size: usize) {
    let mut io = stream_child(kind, dir);
    let buf = vec![2u8; size];
    while io.write.write_all(&buf).is_ok() {}
}

// ---------------------------------------------------------------- in-process baselines

/// Spinning producer thread on core 1, consumer on core 0; returns messages and time.
fn inproc(
    cfg: Config,
    mut push: impl FnMut(u64) -> bool + Send + 'static,
    mut pop: impl FnMut() -> Option<u64>,
) -> (u64, Duration) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let producer = std::thread::spawn(move || {
        super::pin_peer();
        let mut i = 0;
        while !stop2.load(Ordering::Relaxed) {
            if push(i) {
                i += 1;
            } else {
                std::hint::spin_loop();
            }
        }
    });
    let mut expected = 0;
    let start = Instant::now();
    while start.elapsed() < cfg.tput {
        for _ in 0..1024 {
            loop {
                if let Some(v) = pop() {
                    assert_eq!(v, expected);
                    expected += 1;
                    break;
                }
                std::hint::spin_loop();
            }
        }
    }
    let took = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    while pop().is_some() {}
    producer.join().unwrap();
    (expected, took)
}

fn rtrb_tput(cfg: Config) -> Row {
    let (mut p, mut c) = rtrb::RingBuffer::<u64>::new(4096);
    let (n, took) = inproc(cfg, move |v| p.push(v).is_ok(), move || c.pop().ok());
    tput_row("rtrb (in-process, spinning)", "8 B", 8, n, took)
}

fn shmring_inproc_tput(cfg: Config) -> Row {
    let (mut tx, mut rx) = shmring::spsc::channel::<u64>(4096).unwrap();
    let (n, took) = inproc(
        cfg,
        move |v| tx.try_send(v).is_ok(),
        move || rx.try_recv().ok(),
    );
    tput_row("shmring spsc (in-process, spinning)", "8 B", 8, n, took)
}

fn crossbeam_tput(cfg: Config) -> Row {
    let q = std::sync::Arc::new(crossbeam_queue::ArrayQueue::<u64>::new(4096));
    let q2 = q.clone();
    let (n, took) = inproc(cfg, move |v| q2.push(v).is_ok(), move || q.pop());
    tput_row(
        "crossbeam ArrayQueue (in-process, spinning)",
        "8 B",
        8,
        n,
        took,
    )
}

// ---------------------------------------------------------------- the plan

/// Adds the ring rows and their baselines that `plan` selects.
pub(super) fn add_rows(plan: &mut Plan) {
    let cfg = plan.cfg;
    // The floors, at every size another row may compare with.
    plan.add("floor", 8, move || floor_rtt::<u64>(cfg));
    plan.add("floor", 64, move || floor_rtt::<[u64; 8]>(cfg));
    plan.add("floor", 1024, move || floor_rtt::<[u64; 128]>(cfg));
    plan.add("floor", 8, move || floor_tput::<u64>(cfg));
    plan.add("floor", 64, move || floor_tput::<[u64; 8]>(cfg));
    plan.add("floor", 1024, move || floor_tput::<[u64; 128]>(cfg));
    plan.add("floor", 65536, move || floor_tput::<[u64; 8192]>(cfg));
    for mode in ["spin", "blocking"] {
        let strategy = strategy(mode);
        let group = format!("spsc-{mode}");
        plan.add(&group, 8, move || {
            spsc_rtt::<u64>(cfg, mode, strategy, RTT_CAPACITY)
        });
        for capacity in [RTT_CAPACITY, RTT_SMALL_CAPACITY] {
            plan.add(&group, 1024, move || {
                spsc_rtt::<[u64; 128]>(cfg, mode, strategy, capacity)
            });
        }
        for how in ["one", "try", "chunk"] {
            plan.add(&group, 8, move || {
                spsc_tput::<u64>(cfg, mode, strategy, how)
            });
        }
        for how in ["one", "chunk"] {
            plan.add(&group, 65536, move || {
                spsc_tput::<[u64; 8192]>(cfg, mode, strategy, how)
            });
        }
        if mode == "blocking" {
            plan.add(&group, 8, move || spsc_rtt_async(cfg, "blocking"));
        }
        let group = format!("mpmc-{mode}");
        plan.add(&group, 8, move || mpmc_rtt(cfg, mode, strategy, false));
        if mode == "blocking" {
            plan.add(&group, 8, move || mpmc_rtt(cfg, mode, strategy, true));
        }
        plan.add(&group, 8, move || mpmc_tput(cfg, mode, strategy));
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
    let mode = "blocking, reply after 100 µs";
    plan.add("wake", 8, move || {
        spsc_rtt::<u64>(wake, mode, WaitStrategy::default(), RTT_CAPACITY)
    });
    plan.add("wake", 8, move || spsc_rtt_async(wake, mode));
    plan.add("inproc", 8, move || rtrb_tput(cfg));
    plan.add("inproc", 8, move || shmring_inproc_tput(cfg));
    plan.add("inproc", 8, move || crossbeam_tput(cfg));
}
