//! The floor: two processes spinning on one shared cache line (round trips) and an unchecked
//! shared-memory ring (throughput) — what no ring can beat.

#[allow(unused_imports)]
use super::*;

// ---------------------------------------------------------------- the floor

/// A raw shared segment: word 0 and word 16 are flags on separate cache lines, then two
/// payload buffers.
pub(super) fn raw_segment(name: &str, bytes: u64, create: bool) -> Segment {
    let opts = SegmentOptions::new(RingKind::Raw)
        .payload::<u64>()
        .capacity(bytes / 8);
    if create {
        opts.create(name).expect("create raw")
    } else {
        opts.open(name).expect("open raw")
    }
}

pub(super) fn word(seg: &Segment, index: usize) -> &AtomicU64 {
    assert!((index + 1) * 8 <= seg.area_len());
    // SAFETY: in bounds (asserted), 8-aligned, and only accessed atomically by both processes.
    unsafe { AtomicU64::from_ptr(seg.area_ptr().as_ptr().cast::<u64>().add(index)) }
}

pub(super) fn copy_in(seg: &Segment, offset: usize, src: &[u8]) {
    assert!(offset + src.len() <= seg.area_len());
    // SAFETY: in bounds (asserted); the flag protocol gives this process the buffer.
    unsafe {
        std::ptr::copy_nonoverlapping(src.as_ptr(), seg.area_ptr().as_ptr().add(offset), src.len())
    };
}

pub(super) fn copy_out(seg: &Segment, offset: usize, dst: &mut [u8]) {
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

pub(super) const PING_BUF: usize = 256;

/// Where the reply of a `size`-byte round trip goes (after the request's buffer).
fn pong_buf(size: usize) -> usize {
    PING_BUF + size.max(2048)
}

/// The bytes of a `size`-byte round trip's segment: the flags, the request, the reply.
fn rtt_segment_len(size: usize) -> u64 {
    (pong_buf(size) + size.max(2048)) as u64
}

/// Round trip on one shared cache line (plus a copied payload above 8 bytes): the floor.
pub(super) fn floor_rtt<P: Payload>(cfg: Config) -> Row {
    let size = size_of::<P>();
    let name = unique("floor-rtt");
    let seg = raw_segment(&name, rtt_segment_len(size), true);
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
            copy_out(&seg, pong_buf(size), &mut payload);
        }
    });
    flag.store(STOP, Ordering::Release);
    finish(child);
    seg.unlink().unwrap();
    rtt_row("floor (spinning cache line)", P::LABEL, &hist)
}

pub(super) fn floor_echo(name: &str, size: usize) {
    let seg = raw_segment(name, rtt_segment_len(size), false);
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
                copy_in(&seg, pong_buf(size), &payload);
            }
            flag.store(v + 1, Ordering::Release);
        }
        std::hint::spin_loop();
    }
}

/// An unchecked Lamport ring in a raw segment: no validation, no wake-ups, no liveness — the
/// floor for streaming. Words: 0 = tail, 16 = head, 32 = stop; slots from byte 512.
pub(super) const FLOOR_SLOTS: usize = 512;

pub(super) fn floor_tput<P: Payload>(cfg: Config) -> Row {
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

pub(super) fn floor_produce<P: Payload>(name: &str, cap: usize) {
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
