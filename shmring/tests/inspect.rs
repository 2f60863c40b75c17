//! `shmring::inspect`: every ring kind reported as it is, a SIGKILLed participant reported
//! dead, and damaged control blocks or headers reported — never a panic.
#![cfg(not(shmring_loom))]

use shmring_test_support as common;

use std::os::unix::fs::FileExt;

use common::{Unlink, unique_name};
use shmring::RingKind;
use shmring::inspect::{Health, InspectError, inspect, inspect_bytes, list};
use shmring::process::Liveness;

#[test]
fn child_entry() {
    common::run_child(|role, name| match role {
        "mpmc-sender" => {
            let tx = shmring::mpmc::Sender::<u32>::open(name.as_str()).unwrap();
            tx.send(7).unwrap();
            println!("READY");
            std::thread::sleep(common::WATCHDOG); // killed by the test
        }
        other => panic!("unknown role {other}"),
    });
}

fn me() -> u32 {
    std::process::id()
}

#[test]
fn every_kind_as_it_is() {
    let spsc = unique_name("inspect-spsc");
    let _u1 = Unlink(spsc.clone());
    let mut tx = shmring::spsc::Sender::<u64>::create(spsc.as_str(), 16).unwrap();
    for i in 0..5 {
        tx.send(i).unwrap();
    }
    let r = inspect(&spsc).unwrap();
    assert_eq!(r.info.kind, RingKind::Spsc);
    assert_eq!(r.health, Health::Ok, "{:?}", r.problems);
    let c = r.control.as_ref().unwrap();
    assert_eq!((c.tail, c.head, c.fill), (5, 0, 5));
    assert_eq!(r.participants.len(), 1);
    assert_eq!(r.participants[0].role, "sender");
    assert_eq!(r.participants[0].pid, me());
    assert_eq!(r.participants[0].liveness, Liveness::Alive);
    assert_eq!(r.participants[0].state, Some("attached"));
    assert!(r.in_use());
    assert!(list().contains(&spsc));

    let mpmc = unique_name("inspect-mpmc");
    let _u2 = Unlink(mpmc.clone());
    let tx = shmring::mpmc::Sender::<u32>::create(mpmc.as_str(), 8).unwrap();
    let rx = shmring::mpmc::Receiver::<u32>::open(mpmc.as_str()).unwrap();
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    assert_eq!(rx.recv(), Ok(1));
    let r = inspect(&mpmc).unwrap();
    assert_eq!(r.health, Health::Ok, "{:?}", r.problems);
    let c = r.control.as_ref().unwrap();
    assert_eq!((c.tail, c.head, c.fill), (2, 1, 1));
    let mut roles: Vec<_> = r.participants.iter().map(|p| p.role).collect();
    roles.sort();
    assert_eq!(roles, ["receiver", "sender"]);

    let framed = unique_name("inspect-framed");
    let _u3 = Unlink(framed.clone());
    let mut tx = shmring::framed::Sender::create(framed.as_str(), 1024).unwrap();
    tx.send(b"hello").unwrap();
    let r = inspect(&framed).unwrap();
    assert_eq!(r.info.kind, RingKind::Framed);
    assert_eq!(r.health, Health::Ok, "{:?}", r.problems);
    assert_eq!(r.control.as_ref().unwrap().fill, 16, "one 5-byte record");

    let mpsc = unique_name("inspect-framed-mpsc");
    let _u4 = Unlink(mpsc.clone());
    let rx = shmring::framed::mpsc::Receiver::create(mpsc.as_str(), 1024).unwrap();
    let tx = shmring::framed::mpsc::Sender::open(mpsc.as_str()).unwrap();
    tx.send(b"0123456789").unwrap();
    let r = inspect(&mpsc).unwrap();
    assert_eq!(r.info.kind, RingKind::FramedMpsc);
    assert_eq!(r.health, Health::Ok, "{:?}", r.problems);
    assert_eq!(r.control.as_ref().unwrap().fill, 24);
    assert_eq!(r.participants.len(), 2);
    drop((rx, tx));
}

#[test]
fn a_killed_participant_is_dead() {
    let name = unique_name("inspect-killed");
    let _u = Unlink(name.clone());
    let rx = shmring::mpmc::Receiver::<u32>::create(name.as_str(), 8).unwrap();
    let mut child = common::child("child_entry", "mpmc-sender", &name)
        .spawn()
        .unwrap();
    common::wait_for_line(&mut child, "READY");
    let pid = child.id();
    let alive = inspect(&name).unwrap();
    let p = alive.participants.iter().find(|p| p.pid == pid).unwrap();
    assert_eq!(p.liveness, Liveness::Alive);
    child.kill().unwrap();
    common::wait_with_watchdog(child);
    let after = inspect(&name).unwrap();
    let p = after.participants.iter().find(|p| p.pid == pid).unwrap();
    assert_eq!((p.role, p.liveness), ("sender", Liveness::Dead));
    assert!(after.in_use(), "this process still holds the receiver");
    drop(rx);
}

#[test]
fn damage_is_reported() {
    let name = unique_name("inspect-damage");
    let _u = Unlink(name.clone());
    let tx = shmring::spsc::Sender::<u64>::create(name.as_str(), 16).unwrap();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(common::shm_path(&name))
        .unwrap();
    // head ahead of tail.
    file.write_at(&99u64.to_ne_bytes(), 4096 + 128).unwrap();
    let r = inspect(&name).unwrap();
    assert_eq!(r.health, Health::Corrupt);
    assert!(r.problems[0].contains("ahead of tail"), "{:?}", r.problems);
    // More waiting than fits.
    file.write_at(&1000u64.to_ne_bytes(), 4096).unwrap();
    let r = inspect(&name).unwrap();
    assert!(r.problems[0].contains("capacity is 16"), "{:?}", r.problems);
    // A broken slot state.
    file.write_at(&9u32.to_ne_bytes(), 4096 + 512 + 8).unwrap();
    assert!(
        inspect(&name)
            .unwrap()
            .problems
            .iter()
            .any(|p| p.contains("state 9"))
    );
    // A damaged header is an error naming the file.
    file.write_at(b"X", 300).unwrap();
    let err = inspect(&name).unwrap_err();
    assert!(matches!(err, InspectError::Header { .. }), "{err}");
    assert!(err.to_string().contains(&name), "{err}");
    drop(tx);
}

#[test]
fn any_bytes_give_a_report_or_an_error() {
    // A valid header followed by random control blocks of every length: no panic.
    let name = unique_name("inspect-bytes");
    let _u = Unlink(name.clone());
    let tx = shmring::mpmc::Sender::<u64>::create(name.as_str(), 16).unwrap();
    let bytes = std::fs::read(common::shm_path(&name)).unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for len in (0..bytes.len().min(4096 + 9216)).step_by(97) {
        let mut copy = bytes[..len].to_vec();
        for b in copy.iter_mut().skip(4096) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = state as u8;
        }
        let _ = inspect_bytes(&name, &copy, bytes.len() as u64);
    }
    drop(tx);
}

/// A FIFO, a symbolic link (here to a real ring, and to a file outside /dev/shm) and a
/// directory in /dev/shm are "not a shmring ring" at once: never opened in a way that blocks
/// (a FIFO's `open` waits for a writer), never followed, and not listed.
#[test]
fn special_files_are_not_rings_and_never_block() {
    let ring = unique_name("special-ring");
    let _ring = Unlink(ring.clone());
    let _tx = shmring::spsc::Sender::<u8>::create(ring.as_str(), 8).unwrap();
    let fifo = unique_name("special-fifo");
    let link = unique_name("special-link");
    let outside = unique_name("special-outside");
    let dir = unique_name("special-dir");
    let paths: Vec<_> = [&fifo, &link, &outside, &dir]
        .iter()
        .map(|n| common::shm_path(n))
        .collect();
    struct Remove(Vec<std::path::PathBuf>);
    impl Drop for Remove {
        fn drop(&mut self) {
            for p in &self.0 {
                let _ = std::fs::remove_file(p).or_else(|_| std::fs::remove_dir(p));
            }
        }
    }
    let _remove = Remove(paths.clone());
    nix::unistd::mkfifo(&paths[0], nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    std::os::unix::fs::symlink(common::shm_path(&ring), &paths[1]).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", &paths[2]).unwrap();
    std::fs::create_dir(&paths[3]).unwrap();
    // A watchdog: a blocking open would hang this thread, not the test.
    let (tx, rx) = std::sync::mpsc::channel();
    let names = [fifo.clone(), link.clone(), outside.clone(), dir.clone()];
    std::thread::spawn(move || {
        let got: Vec<_> = names.iter().map(|n| inspect(n).err()).collect();
        let _ = tx.send(got);
    });
    let got = rx
        .recv_timeout(common::WATCHDOG)
        .expect("inspect blocked on a special file");
    let whats: Vec<_> = got
        .into_iter()
        .map(|e| match e {
            Some(InspectError::NotAFile { what, .. }) => what,
            other => panic!("expected NotAFile, got {other:?}"),
        })
        .collect();
    assert_eq!(
        whats,
        ["FIFO", "symbolic link", "symbolic link", "directory"]
    );
    let listed = list();
    assert!(listed.contains(&ring));
    for n in [&fifo, &link, &outside, &dir] {
        assert!(!listed.contains(n), "{n} listed");
    }
}
