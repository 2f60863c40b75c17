//! Per-operation cost of the SPSC ring in one thread (no cross-core traffic): a send and a
//! receive per iteration, and a 64-message chunk each way, next to rtrb and crossbeam
//! `ArrayQueue` doing the same. Cross-core latency and throughput are measured by the `xproc`
//! binary. Run with `cargo bench -p shmring-benches --bench spsc`.
#![allow(missing_docs)]

use criterion::{BatchSize, Criterion, Throughput, black_box, criterion_group, criterion_main};
use shmring::spsc;

fn single(c: &mut Criterion) {
    let mut group = c.benchmark_group("send+recv 8 B, one thread");
    group.throughput(Throughput::Elements(1));
    let (mut tx, mut rx) = spsc::channel::<u64>(1024).unwrap();
    group.bench_function("shmring spsc", |b| {
        b.iter(|| {
            tx.try_send(black_box(7)).unwrap();
            rx.try_recv().unwrap()
        })
    });
    let (mut p, mut q) = rtrb::RingBuffer::<u64>::new(1024);
    group.bench_function("rtrb", |b| {
        b.iter(|| {
            p.push(black_box(7)).unwrap();
            q.pop().unwrap()
        })
    });
    let aq = crossbeam_queue::ArrayQueue::<u64>::new(1024);
    group.bench_function("crossbeam ArrayQueue", |b| {
        b.iter(|| {
            aq.push(black_box(7)).unwrap();
            aq.pop().unwrap()
        })
    });
    group.finish();
}

fn chunks(c: &mut Criterion) {
    let mut group = c.benchmark_group("64 × 8 B chunk each way, one thread");
    group.throughput(Throughput::Elements(64));
    let (mut tx, mut rx) = spsc::channel::<u64>(1024).unwrap();
    let src = [5u64; 64];
    let mut dst = [0u64; 64];
    group.bench_function("shmring spsc chunks", |b| {
        b.iter(|| {
            let mut w = tx.write_chunk(64).unwrap();
            w.extend_from_slice(black_box(&src));
            w.commit();
            let mut r = rx.read_chunk(64).unwrap();
            r.copy_to_slice(&mut dst);
            r.commit();
        })
    });
    let (mut p, mut q) = rtrb::RingBuffer::<u64>::new(1024);
    group.bench_function("rtrb chunks", |b| {
        b.iter(|| {
            let w = p.write_chunk_uninit(64).unwrap();
            w.fill_from_iter(black_box(src));
            let r = q.read_chunk(64).unwrap();
            let (a, bb) = r.as_slices();
            dst[..a.len()].copy_from_slice(a);
            dst[a.len()..].copy_from_slice(bb);
            r.commit_all();
        })
    });
    group.finish();
}

fn open_pair(c: &mut Criterion) {
    c.bench_function("spsc create+open+drop (named shm, 1024 × u64)", |b| {
        let name = format!("shmring-bench-spsc-open-{}", std::process::id());
        b.iter_batched(
            || (),
            |()| {
                let tx = spsc::Sender::<u64>::create(name.as_str(), 1024).unwrap();
                let rx = spsc::Receiver::<u64>::open(name.as_str()).unwrap();
                shmring::Segment::unlink_name(&name).unwrap();
                (tx, rx)
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, single, chunks, open_pair);
criterion_main!(benches);
