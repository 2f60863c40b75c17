//! Attach-time costs: layout fingerprints and opening an existing segment (header copy-out,
//! validation, layout check). Run with `cargo bench -p shmring-benches --bench segment`.
#![allow(missing_docs)]

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use nix::fcntl::OFlag;
use nix::sys::mman::shm_open;
use nix::sys::stat::Mode;
use shmring::{RingKind, SegmentOptions, ShmType};
use shmring_benches::Tick;

fn fingerprint(c: &mut Criterion) {
    c.bench_function("fingerprint/Tick", |b| {
        b.iter(|| black_box(Tick::layout()).fingerprint())
    });
}

fn open(c: &mut Criterion) {
    let name = format!("shmring-bench-open-{}", std::process::id());
    let opts = SegmentOptions::new(RingKind::Raw)
        .payload::<Tick>()
        .capacity(4096);
    let created = opts.create(name.as_str()).expect("create");
    c.bench_function("open/named-shm/4096xTick", |b| {
        b.iter(|| opts.open(name.as_str()).expect("open"))
    });
    // Baseline: what any shared-memory attach costs (open, fstat, map, unmap, close), without
    // header validation or the layout check.
    let shm = format!("/{name}");
    c.bench_function("open/baseline-shm_open+fstat+mmap", |b| {
        b.iter(|| {
            let fd = shm_open(shm.as_str(), OFlag::O_RDWR, Mode::empty()).expect("shm_open");
            let file = std::fs::File::from(fd);
            let len = file.metadata().expect("fstat").len() as usize;
            let map = memmap2::MmapOptions::new()
                .len(len)
                .map_raw(&file)
                .expect("mmap");
            black_box(map.as_ptr());
        })
    });
    let header = shmring::header::encode(created.info(), shmring::header::STATE_READY);
    c.bench_function("header/decode", |b| {
        b.iter(|| shmring::header::decode(black_box(&header)))
    });
    created.unlink().expect("unlink");
}

criterion_group!(benches, fingerprint, open);
criterion_main!(benches);
