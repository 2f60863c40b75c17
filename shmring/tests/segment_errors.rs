//! Every way opening or creating a segment can go wrong gives its own error, never a panic or
//! a SIGBUS: damaged headers, truncation, foreign files, permissions, names, space.

use shmring_test_support as common;

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::{Unlink, child, report, result_line, run, shm_path, unique_name};
use shmring::header::{CHECKSUM_OFFSET, HEADER_SIZE};
use shmring::{Location, OpenError, RingKind, SegmentOptions};

fn opts() -> SegmentOptions {
    SegmentOptions::new(RingKind::Raw)
        .payload::<u64>()
        .capacity(64)
}

/// Creates a segment, unmaps it, and returns its name with a guard that removes it.
fn created(tag: &str) -> (String, Unlink) {
    let name = unique_name(tag);
    let guard = Unlink(name.clone());
    drop(opts().create(name.as_str()).expect("create"));
    (name, guard)
}

/// Overwrites bytes of a segment's file at `offset`.
fn poke(name: &str, offset: u64, bytes: &[u8]) {
    let mut f = OpenOptions::new().write(true).open(shm_path(name)).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(bytes).unwrap();
}

fn open(name: &str) -> Result<shmring::Segment, OpenError> {
    opts().init_timeout(Duration::from_millis(200)).open(name)
}

/// Deterministic pseudo-random bytes (xorshift64*).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

#[test]
fn truncated_after_creation() {
    let (name, _g) = created("trunc");
    let file = OpenOptions::new()
        .write(true)
        .open(shm_path(&name))
        .unwrap();
    file.set_len(HEADER_SIZE as u64 + 100).unwrap();
    match open(&name) {
        Err(OpenError::Truncated {
            expected, actual, ..
        }) => {
            assert_eq!(expected, HEADER_SIZE as u64 + 64 * 8);
            assert_eq!(actual, HEADER_SIZE as u64 + 100);
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
    // Shorter than a header: nothing says it ever was a ring (a 3-byte foreign file used to
    // be called "truncated … something shrank it").
    file.set_len(3).unwrap();
    let err = open(&name).unwrap_err();
    assert!(matches!(err, OpenError::NotASegment { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("3 bytes, shorter than the 4096-byte header"),
        "{err}"
    );
}

#[test]
fn emptied_segment_times_out_as_uninitialised() {
    let (name, _g) = created("empty");
    OpenOptions::new()
        .write(true)
        .open(shm_path(&name))
        .unwrap()
        .set_len(0)
        .unwrap();
    let err = open(&name).unwrap_err();
    assert!(
        matches!(err, OpenError::InitTimeout { creator: None, .. }),
        "{err:?}"
    );
}

#[test]
fn random_header_is_not_a_segment() {
    for seed in 1..=20 {
        let (name, _g) = created("random");
        poke(&name, 0, &noise(seed, HEADER_SIZE));
        let err = open(&name).unwrap_err();
        assert!(
            matches!(
                err,
                OpenError::NotASegment { .. } | OpenError::Corrupted { .. }
            ),
            "seed {seed}: {err:?}"
        );
    }
}

#[test]
fn random_bytes_after_the_version_are_corruption() {
    for seed in 1..=20 {
        let (name, _g) = created("randbody");
        let mut body = noise(seed, HEADER_SIZE - 16);
        body[..4].copy_from_slice(&1u32.to_ne_bytes()); // keep the state `ready`
        poke(&name, 16, &body);
        let err = open(&name).unwrap_err();
        assert!(
            matches!(err, OpenError::Corrupted { .. }),
            "seed {seed}: {err:?}"
        );
        assert!(err.to_string().contains("corrupt header"), "{err}");
    }
}

#[test]
fn wrong_magic() {
    let (name, _g) = created("magic");
    poke(&name, 0, b"NOTMINE!");
    let err = open(&name).unwrap_err();
    assert!(matches!(err, OpenError::NotASegment { .. }), "{err:?}");
    assert!(err.to_string().contains("not a shmring segment"), "{err}");
}

#[test]
fn future_format_version() {
    let (name, _g) = created("version");
    poke(&name, 8, &2u32.to_ne_bytes());
    match open(&name) {
        Err(OpenError::VersionMismatch {
            found: 2,
            supported: 1,
            ..
        }) => {}
        other => panic!("expected VersionMismatch, got {other:?}"),
    }
}

#[test]
fn flipped_capacity_fails_the_checksum() {
    let (name, _g) = created("checksum");
    poke(&name, 56, &32u64.to_ne_bytes());
    let err = open(&name).unwrap_err();
    assert!(
        matches!(
            err,
            OpenError::Corrupted {
                reason: shmring::header::HeaderError::Checksum { .. },
                ..
            }
        ),
        "{err:?}"
    );
    // A forged checksum does not help a wrong capacity past the configured check.
    let mut header = std::fs::read(shm_path(&name)).unwrap();
    header.truncate(HEADER_SIZE);
    let sum = shmring::header::checksum(&header);
    poke(&name, CHECKSUM_OFFSET as u64, &sum.to_ne_bytes());
    let err = open(&name).unwrap_err();
    assert!(
        matches!(
            err,
            OpenError::ConfigMismatch {
                what: "capacity",
                found: 32,
                expected: 64,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn foreign_file_in_dev_shm() {
    let name = unique_name("foreign");
    let _g = Unlink(name.clone());
    std::fs::write(shm_path(&name), vec![b'x'; 8192]).unwrap();
    let err = open(&name).unwrap_err();
    assert!(matches!(err, OpenError::NotASegment { .. }), "{err:?}");
}

#[test]
fn wrong_kind_and_capacity() {
    let (name, _g) = created("kind");
    let err = SegmentOptions::new(RingKind::Spsc)
        .payload::<u64>()
        .open(name.as_str())
        .unwrap_err();
    assert!(matches!(
        err,
        OpenError::KindMismatch {
            found: RingKind::Raw,
            expected: RingKind::Spsc,
            ..
        }
    ));
    assert!(
        err.to_string()
            .contains("is a raw ring; this process expects a spsc ring"),
        "{err}"
    );
    let err = opts().capacity(65).open(name.as_str()).unwrap_err();
    assert!(
        matches!(
            err,
            OpenError::ConfigMismatch {
                what: "capacity",
                ..
            }
        ),
        "{err:?}"
    );
    // Without a payload or capacity, open accepts whatever is there (inspection tools).
    let seg = SegmentOptions::new(RingKind::Raw)
        .open(name.as_str())
        .unwrap();
    assert_eq!(seg.info().description, "u64 (size 8, align 8)");
}

#[test]
fn closed_segment_is_refused() {
    let name = unique_name("closed");
    let _g = Unlink(name.clone());
    let seg = opts().create(name.as_str()).unwrap();
    seg.close();
    assert!(matches!(open(&name), Err(OpenError::Closed { .. })));
}

#[test]
fn missing_name_is_not_found() {
    let err = open(&unique_name("missing")).unwrap_err();
    assert!(matches!(err, OpenError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[test]
fn create_twice_is_already_exists() {
    let (name, _g) = created("twice");
    let err = opts().create(name.as_str()).unwrap_err();
    assert!(matches!(err, OpenError::AlreadyExists { .. }), "{err:?}");
}

#[test]
fn invalid_names() {
    for bad in ["", "/", "a/b", "/a/b", &"n".repeat(256)] {
        let err = opts().create(bad).unwrap_err();
        assert!(
            matches!(err, OpenError::InvalidName { .. }),
            "{bad:?}: {err:?}"
        );
        let err = opts().open(bad).unwrap_err();
        assert!(
            matches!(err, OpenError::InvalidName { .. }),
            "{bad:?}: {err:?}"
        );
    }
}

#[test]
fn invalid_configurations() {
    let heap = || Location::Heap;
    let cases = [
        SegmentOptions::new(RingKind::Raw).capacity(1),
        SegmentOptions::new(RingKind::Raw).payload::<u8>(),
        SegmentOptions::new(RingKind::Raw)
            .payload::<u8>()
            .capacity(0),
        SegmentOptions::new(RingKind::Raw)
            .payload::<[u8; 0]>()
            .capacity(1),
        SegmentOptions::new(RingKind::Raw)
            .payload::<u64>()
            .capacity(4)
            .area_size(31),
        SegmentOptions::new(RingKind::Raw)
            .payload::<u64>()
            .capacity(u64::MAX),
    ];
    for opts in cases {
        let err = opts.create(heap()).unwrap_err();
        assert!(
            matches!(err, OpenError::InvalidConfig { .. }),
            "{opts:?}: {err:?}"
        );
    }
}

/// A ring refused for its capacity is named in the error: the ring's name, or `heap` for an
/// in-process channel (not an empty `""`).
#[test]
fn invalid_ring_capacities_name_the_ring() {
    fn name_of(err: OpenError) -> String {
        match err {
            OpenError::InvalidConfig { name, .. } => name,
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }
    assert_eq!(
        name_of(shmring::spsc::channel::<u8>(0).unwrap_err()),
        "heap"
    );
    assert_eq!(
        name_of(shmring::mpmc::channel::<u8>(0).unwrap_err()),
        "heap"
    );
    assert_eq!(name_of(shmring::framed::channel(8).unwrap_err()), "heap");
    assert_eq!(
        name_of(shmring::framed::mpsc::channel(8).unwrap_err()),
        "heap"
    );
    let err = shmring::spsc::channel::<u8>(0).unwrap_err().to_string();
    assert!(
        err.contains("\"heap\"") && err.contains("capacity is 0"),
        "{err}"
    );

    let name = unique_name("zero-cap");
    let _unlink = Unlink(name.clone());
    let cases = [
        shmring::spsc::Sender::<u8>::create(name.as_str(), 0).map(drop),
        shmring::spsc::Receiver::<u8>::create(name.as_str(), u64::MAX).map(drop),
        shmring::mpmc::Sender::<u8>::create(name.as_str(), 0).map(drop),
        shmring::framed::Sender::create(name.as_str(), 8).map(drop),
        shmring::framed::mpsc::Receiver::create(name.as_str(), 8).map(drop),
    ];
    for result in cases {
        assert_eq!(name_of(result.unwrap_err()), name);
    }
    assert!(!shm_path(&name).exists(), "nothing was created");
}

#[test]
fn default_mode_is_owner_only() {
    let (name, _g) = created("mode");
    let mode = std::fs::metadata(shm_path(&name))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o600);
}

#[test]
fn requested_mode_is_applied_despite_umask() {
    let name = unique_name("mode666");
    let _g = Unlink(name.clone());
    let _seg = opts().mode(0o666).create(name.as_str()).unwrap();
    let mode = std::fs::metadata(shm_path(&name))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o666);
}

#[test]
fn full_dev_shm_is_no_space_at_create() {
    let fs = nix::sys::statvfs::statvfs("/dev/shm").unwrap();
    let size = fs.blocks() as u64 * fs.fragment_size() as u64;
    if size == 0 {
        eprintln!("skipped: /dev/shm has no size limit here, so no create can run out of space");
        return;
    }
    let name = unique_name("nospace");
    let _g = Unlink(name.clone());
    let err = SegmentOptions::new(RingKind::Raw)
        .payload::<u8>()
        .capacity(2 * size)
        .create(name.as_str())
        .unwrap_err();
    assert!(matches!(err, OpenError::NoSpace { .. }), "{err:?}");
    assert!(err.to_string().contains("df -h /dev/shm"), "{err}");
    assert!(
        !shm_path(&name).exists(),
        "a failed create must not leave the name behind"
    );
}

/// Child dispatcher: does nothing unless this binary was re-executed in a role.
#[test]
fn child_entry() {
    common::run_child(|role, name| match role {
        "other-user" => {
            use nix::unistd::{Gid, Uid, setgid, setuid};
            setgid(Gid::from_raw(65534)).expect("setgid nobody");
            setuid(Uid::from_raw(65534)).expect("setuid nobody");
            report(opts().open(name.as_str()));
        }
        other => panic!("unknown role {other}"),
    });
}

#[test]
fn another_users_segment_is_permission_denied() {
    let (name, _g) = created("perm");
    if nix::unistd::geteuid().is_root() {
        let out = run(child("child_entry", "other-user", &name));
        let result = result_line(&out);
        assert!(result.starts_with("err PermissionDenied: "), "{result}");
        assert!(result.contains("mode 0600"), "{result}");
    } else {
        // Not root: a segment this user cannot read stands in for another user's.
        std::fs::set_permissions(shm_path(&name), std::fs::Permissions::from_mode(0o000)).unwrap();
        let err = open(&name).unwrap_err();
        assert!(matches!(err, OpenError::PermissionDenied { .. }), "{err:?}");
    }
}

#[test]
fn zero_init_timeout_still_opens_a_ready_segment() {
    let (name, _g) = created("ready");
    let seg = opts()
        .init_timeout(Duration::ZERO)
        .open(name.as_str())
        .unwrap();
    assert_eq!(seg.info().capacity, 64);
}
