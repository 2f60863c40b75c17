//! The other region kinds: files (persistence), memfds (shared by descriptor, sealed), heap.

use shmring_test_support as common;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;

use common::{child, result_line, run};
use shmring::{Location, OpenError, RingKind, Segment, SegmentOptions};

fn opts() -> SegmentOptions {
    SegmentOptions::new(RingKind::Raw)
        .payload::<u64>()
        .capacity(32)
}

/// Slot `index` of the area of u64 slots.
fn slot(seg: &Segment, index: usize) -> *mut u64 {
    assert!(index < seg.area_len() / 8);
    // SAFETY: the index is inside the area of u64 slots (asserted), so the offset stays in
    // the mapping.
    unsafe { seg.area_ptr().as_ptr().cast::<u64>().add(index) }
}

fn write_slot(seg: &Segment, index: usize, value: u64) {
    // SAFETY: `slot` is in the area, which is page aligned; only this test's processes touch
    // it, one after the other.
    unsafe { slot(seg, index).write_volatile(value) };
}

fn read_slot(seg: &Segment, index: usize) -> u64 {
    // SAFETY: as in `write_slot`.
    unsafe { slot(seg, index).read_volatile() }
}

#[test]
fn file_segments_persist_and_keep_their_mode() {
    let dir = std::env::temp_dir().join(format!("shmring-regions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ring");
    {
        let seg = opts().create(Location::file(&path)).unwrap();
        write_slot(&seg, 31, 0xfeed);
    }
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o600);
    let seg = opts().open(Location::file(&path)).unwrap();
    assert_eq!(
        read_slot(&seg, 31),
        0xfeed,
        "data survives close and reopen"
    );
    let again = opts().open_or_create(Location::file(&path)).unwrap();
    assert_eq!(again.info().created_unix_ns, seg.info().created_unix_ns);
    let err = opts().create(Location::file(&path)).unwrap_err();
    assert!(matches!(err, OpenError::AlreadyExists { .. }), "{err:?}");
    std::fs::remove_dir_all(&dir).unwrap();
    let err = opts().open(Location::file(&path)).unwrap_err();
    assert!(matches!(err, OpenError::NotFound { .. }), "{err:?}");
}

#[test]
fn memfd_and_heap_cannot_be_opened_by_name() {
    for loc in [Location::memfd("x"), Location::Heap] {
        let err = opts().open(loc).unwrap_err();
        assert!(matches!(err, OpenError::InvalidConfig { .. }), "{err:?}");
    }
}

#[test]
fn memfd_reopened_from_a_descriptor_in_this_process() {
    let seg = opts().create(Location::memfd("same-process")).unwrap();
    write_slot(&seg, 0, 41);
    let fd = seg.as_fd().unwrap().try_clone_to_owned().unwrap();
    let other = opts().open_or_create(Location::Fd(fd)).unwrap();
    write_slot(&other, 1, 42);
    assert_eq!((read_slot(&other, 0), read_slot(&seg, 1)), (41, 42));
}

/// Child dispatcher: does nothing unless this binary was re-executed in a role.
#[test]
fn child_entry() {
    let Some(role) = common::role() else { return };
    assert_eq!(role, "memfd-reader");
    let raw: i32 = common::child_name().parse().unwrap();
    // SAFETY: the parent passed this descriptor number, open and owned by nobody else here.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    match opts().open(Location::Fd(fd)) {
        Ok(seg) => println!("RESULT ok {} {}", read_slot(&seg, 7), seg.name()),
        Err(e) => println!("RESULT err {e}"),
    }
}

#[test]
fn memfd_shared_with_a_child_process() {
    let seg = opts().create(Location::memfd("to-child")).unwrap();
    write_slot(&seg, 7, 777);
    // An inheritable duplicate (the original is close-on-exec).
    let fd = nix::fcntl::fcntl(seg.as_fd().unwrap(), nix::fcntl::FcntlArg::F_DUPFD(100)).unwrap();
    // SAFETY: F_DUPFD returned a new descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let out = run(child(
        "child_entry",
        "memfd-reader",
        &fd.as_raw_fd().to_string(),
    ));
    assert_eq!(result_line(&out), "ok 777 memfd");
}
