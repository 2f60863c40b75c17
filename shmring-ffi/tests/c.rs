//! C processes on the C ABI beside Rust processes: `tests/c/peer.c` is compiled with the system
//! `cc` against the static library and `include/shmring.h`, then run. A C struct's field table
//! gives the Rust type's own description and fingerprint; fields swapped, or an `int32_t` read
//! as `uint8_t`, are refused naming both layouts; byte messages go both ways, every byte
//! checked; a C sender SIGKILLed mid-stream leaves the Rust receiver whole.

use shmring_test_support as common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Unlink, unique_name};
use shmring::ShmType;

/// The Rust side's payload.
#[derive(Clone, Copy, Debug, PartialEq, shmring::ShmType, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
struct Tick {
    ts_ns: u64,
    price: f64,
    qty: i32,
    side: u32,
}

#[path = "c/build.rs"]
mod build;

/// The compiled C peer.
fn peer() -> &'static std::path::Path {
    build::c_peer()
}

/// Runs the C peer to completion; its stdout.
fn run_peer(args: &[&str]) -> String {
    let out = Command::new(peer()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "peer {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Message `seq` as the C peer makes it.
fn message(seq: u64) -> Vec<u8> {
    let len = 8 + (seq % 200) as usize;
    let mut m = seq.to_ne_bytes().to_vec();
    m.extend((8..len).map(|i| (seq.wrapping_mul(31) as usize + i) as u8));
    m
}

/// The line of `out` that starts with `prefix`, without it.
fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in\n{out}"))
}

#[test]
fn a_c_field_table_is_checked_like_the_rust_type() {
    let name = unique_name("ffi-layout");
    let _u = Unlink(name.clone());
    let _tx = shmring::spsc::Sender::<Tick>::create(name.as_str(), 16).unwrap();
    let out = run_peer(&["layout", &name]);
    let rust = Tick::layout();
    // The same fingerprint and description as #[derive(ShmType)].
    assert_eq!(
        line(&out, "tick fingerprint "),
        format!("{:016x} {rust}", rust.fingerprint())
    );
    assert_eq!(line(&out, "tick check "), "0 ");
    // Swapped fields and a narrower field: other fingerprints, refused naming both layouts.
    for label in ["swapped", "narrow"] {
        let (fp, text) = line(&out, &format!("{label} fingerprint "))
            .split_once(' ')
            .unwrap();
        assert_ne!(fp, format!("{:016x}", rust.fingerprint()), "{label}");
        let check = line(&out, &format!("{label} check "));
        assert!(check.starts_with("11 "), "{label}: {check}");
        assert!(
            check.contains(&rust.to_string()) && check.contains(text),
            "{label}: the refusal names both layouts: {check}"
        );
    }
    assert!(line(&out, "swapped fingerprint ").contains("side: u32 @16, qty: i32 @20"));
    assert!(line(&out, "narrow fingerprint ").contains("qty: u8 @16"));
}

#[test]
fn a_c_sender_and_a_rust_receiver() {
    let name = unique_name("ffi-c-to-rust");
    let _u = Unlink(name.clone());
    let mut rx = shmring::framed::mpsc::Receiver::create(name.as_str(), 1 << 16).unwrap();
    let n = 20_000u64;
    let child = Command::new(peer())
        .args(["send", &name, &n.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    for seq in 0..n {
        let got = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(got, message(seq), "message {seq}");
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("sent {n}\n")
    );
    // The C sender closed: the receiver is told, after everything was received.
    assert!(matches!(
        rx.recv_timeout(Duration::from_secs(10)),
        Err(shmring::RecvTimeoutError::Disconnected)
    ));
}

#[test]
fn a_rust_sender_and_a_c_receiver() {
    let name = unique_name("ffi-rust-to-c");
    let _u = Unlink(name.clone());
    let tx = shmring::framed::mpsc::Sender::create(name.as_str(), 1 << 16).unwrap();
    let n = 20_000u64;
    let child = Command::new(peer())
        .args(["recv", &name, &n.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    for seq in 0..n {
        // Until the C receiver attaches, sends wait (the ring has no receiver yet).
        tx.send_timeout(&message(seq), Duration::from_secs(10))
            .unwrap();
    }
    let out = common::wait_with_watchdog(child);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // All received and checked by the C side; the ring then empty (status 2).
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("received {n}, then status 2\n")
    );
}

#[test]
fn a_c_sender_killed_mid_stream_leaves_the_rust_receiver_whole() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let name = unique_name("ffi-c-killed");
    let _u = Unlink(name.clone());
    let mut rx = shmring::framed::mpsc::Receiver::create(name.as_str(), 1 << 14).unwrap();
    let mut child = Command::new(peer())
        .args(["send", &name, "1000000000"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut seq = 0u64;
    while seq < 5_000 {
        let got = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(got, message(seq), "message {seq}");
        seq += 1;
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    // Whatever it committed arrives whole and in order; then the receiver learns the only
    // sender is dead (within the liveness period), not a torn message or a hang.
    loop {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(got) => {
                assert_eq!(got, message(seq), "message {seq} after the kill");
                seq += 1;
            }
            Err(shmring::RecvTimeoutError::Disconnected) => break,
            Err(e) => panic!("after {seq} messages: {e}"),
        }
    }
    assert_eq!(rx.dead_senders(), 1);
}

/// Tick `i` as the C peer makes it.
fn tick(i: u64) -> Tick {
    Tick {
        ts_ns: i,
        price: i as f64 * 0.5,
        qty: -(i as i32),
        side: (i % 2) as u32,
    }
}

#[test]
fn a_c_process_receives_a_rust_tick_ring() {
    let name = unique_name("ffi-ticks");
    let _u = Unlink(name.clone());
    let mut tx = shmring::spsc::Sender::<Tick>::create(name.as_str(), 64).unwrap();
    let n = 50_000u64;
    let child = Command::new(peer())
        .args(["ticks", &name, &n.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for i in 0..n {
        tx.send_timeout(tick(i), Duration::from_secs(10)).unwrap();
    }
    drop(tx);
    let out = common::wait_with_watchdog(child);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every tick checked in C; then the sender's close (status 4, DISCONNECTED).
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("ticks {n}, then status 4\n")
    );
}

#[test]
fn a_c_process_sends_ticks_to_rust() {
    let name = unique_name("ffi-send-ticks");
    let _u = Unlink(name.clone());
    let mut rx = shmring::spsc::Receiver::<Tick>::create(name.as_str(), 64).unwrap();
    let n = 50_000u64;
    let child = Command::new(peer())
        .args(["send-ticks", &name, &n.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    for i in 0..n {
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), tick(i));
    }
    let out = common::wait_with_watchdog(child);
    assert!(out.status.success());
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)),
        Err(shmring::RecvTimeoutError::Disconnected)
    );
}

#[test]
fn a_c_struct_with_other_fields_cannot_attach_to_a_tick_ring() {
    let name = unique_name("ffi-open-as");
    let _u = Unlink(name.clone());
    let _tx = shmring::spsc::Sender::<Tick>::create(name.as_str(), 8).unwrap();
    let rust = Tick::layout().to_string();
    for (label, theirs) in [
        ("swapped", "side: u32 @16, qty: i32 @20"),
        ("narrow", "qty: u8 @16"),
    ] {
        let out = run_peer(&["open-as", label, &name]);
        assert!(out.starts_with("11 "), "{label}: {out}");
        assert!(
            out.contains(&rust) && out.contains(theirs),
            "{label}: the refusal names both layouts: {out}"
        );
    }
    // The right table attaches (the receiver role is free).
    assert_eq!(run_peer(&["open-as", "tick", &name]), "0 \n");
}

#[test]
fn a_c_tick_sender_killed_mid_stream_leaves_the_rust_receiver_whole() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let name = unique_name("ffi-ticks-killed");
    let _u = Unlink(name.clone());
    let mut rx = shmring::spsc::Receiver::<Tick>::create(name.as_str(), 64).unwrap();
    let mut child = Command::new(peer())
        .args(["send-ticks", &name, "1000000000"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut i = 0u64;
    while i < 5_000 {
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), tick(i));
        i += 1;
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    loop {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(t) => {
                assert_eq!(t, tick(i), "tick {i} after the kill");
                i += 1;
            }
            Err(shmring::RecvTimeoutError::Disconnected) => break,
            Err(e) => panic!("after {i} ticks: {e}"),
        }
    }
}

#[test]
fn a_c_sender_builds_messages_in_place() {
    let name = unique_name("ffi-reserve");
    let _u = Unlink(name.clone());
    let mut rx = shmring::framed::mpsc::Receiver::create(name.as_str(), 1 << 14).unwrap();
    let n = 20_000u64;
    let child = Command::new(peer())
        .args(["reserve", &name, &n.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Every committed message arrives whole and in order; the abandoned ones never do.
    for seq in 0..n {
        let got = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(got, message(seq), "message {seq}");
    }
    let out = common::wait_with_watchdog(child);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("reserved {n}\n")
    );
    assert!(matches!(
        rx.recv_timeout(Duration::from_secs(10)),
        Err(shmring::RecvTimeoutError::Disconnected)
    ));
}

#[test]
fn a_c_event_loop_waits_on_the_readiness_descriptor() {
    let name = unique_name("ffi-poll");
    let _u = Unlink(name.clone());
    let mut tx = shmring::spsc::Sender::<Tick>::create(name.as_str(), 16).unwrap();
    let n = 2_000u64;
    let child = Command::new(peer())
        .args(["poll-ticks", &name, &n.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for i in 0..n {
        tx.send_timeout(tick(i), Duration::from_secs(10)).unwrap();
        if i % 100 == 0 {
            // Let the C side run dry and go to poll(2), so the descriptor's wake-up is used.
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let out = common::wait_with_watchdog(child);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("polled {n} ticks\n")
    );
}
