//! A real segment (a sealed memfd) whose header is overwritten with fuzzer-shaped bytes before
//! it is opened: the opener returns a segment or a specific error, never panics, hangs or
//! touches memory outside the mapping.
#![no_main]

use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use shmring::{Location, RingKind, SegmentOptions};

fuzz_target!(|data: &[u8]| {
    let opts = SegmentOptions::new(RingKind::Raw)
        .payload::<u64>()
        .capacity(16);
    let seg = opts
        .create(Location::memfd("fuzz"))
        .expect("create memfd segment");
    let fd: OwnedFd = seg
        .as_fd()
        .expect("memfd")
        .try_clone_to_owned()
        .expect("dup");
    let file = std::fs::File::from(fd.try_clone().expect("dup"));
    file.write_all_at(&shmring_fuzz::header_bytes(data), 0)
        .expect("overwrite header");
    let opened = opts.init_timeout(Duration::ZERO).open(Location::Fd(fd));
    if let Ok(other) = opened {
        // Whatever was accepted is internally consistent and inside the mapping.
        let info = other.info();
        assert!(info.total_size as usize <= other.region().len());
        assert_eq!(other.area_len() as u64, info.area_size);
        assert_eq!(info.capacity, 16);
    }
});
