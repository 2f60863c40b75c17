//! C processes on the C ABI beside Rust processes: `tests/c/peer.c` is compiled with the system
//! `cc` against the static library and `include/shmring.h`, then run. A C struct's field table
//! gives the Rust type's own description and fingerprint; fields swapped, or an `int32_t` read
//! as `uint8_t`, are refused naming both layouts; byte messages go both ways, every byte
//! checked; a C sender SIGKILLed mid-stream leaves the Rust receiver whole.

use shmring_test_support as common;

use std::time::Duration;

use common::{Tick, Unlink, tick, unique_name};
use shmring::ShmType;

#[path = "c/build.rs"]
mod build;
#[path = "c/support.rs"]
mod support;

use support::{killed_mid_stream, line, peer_output, run_peer, spawn_peer};

/// Message `seq` as the C peer makes it.
fn message(seq: u64) -> Vec<u8> {
    let len = 8 + (seq % 200) as usize;
    let mut m = seq.to_ne_bytes().to_vec();
    m.extend((8..len).map(|i| (seq.wrapping_mul(31) as usize + i) as u8));
    m
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
    let child = spawn_peer(&["send", &name, &n.to_string()]);
    for seq in 0..n {
        let got = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(got, message(seq), "message {seq}");
    }
    assert_eq!(peer_output(child), format!("sent {n}\n"));
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
    let child = spawn_peer(&["recv", &name, &n.to_string()]);
    for seq in 0..n {
        // Until the C receiver attaches, sends wait (the ring has no receiver yet).
        tx.send_timeout(&message(seq), Duration::from_secs(10))
            .unwrap();
    }
    // All received and checked by the C side; the ring then empty (status 2).
    assert_eq!(peer_output(child), format!("received {n}, then status 2\n"));
}

#[test]
fn a_c_sender_killed_mid_stream_leaves_the_rust_receiver_whole() {
    let name = unique_name("ffi-c-killed");
    let _u = Unlink(name.clone());
    let mut rx = shmring::framed::mpsc::Receiver::create(name.as_str(), 1 << 14).unwrap();
    killed_mid_stream(
        &["send", &name, "1000000000"],
        || rx.recv_timeout(Duration::from_secs(10)),
        message,
    );
    assert_eq!(rx.dead_senders(), 1);
}

#[test]
fn a_c_process_receives_a_rust_tick_ring() {
    let name = unique_name("ffi-ticks");
    let _u = Unlink(name.clone());
    let mut tx = shmring::spsc::Sender::<Tick>::create(name.as_str(), 64).unwrap();
    let n = 50_000u64;
    let child = spawn_peer(&["ticks", &name, &n.to_string()]);
    for i in 0..n {
        tx.send_timeout(tick(i), Duration::from_secs(10)).unwrap();
    }
    drop(tx);
    // Every tick checked in C; then the sender's close (status 4, DISCONNECTED).
    assert_eq!(peer_output(child), format!("ticks {n}, then status 4\n"));
}

#[test]
fn a_c_process_sends_ticks_to_rust() {
    let name = unique_name("ffi-send-ticks");
    let _u = Unlink(name.clone());
    let mut rx = shmring::spsc::Receiver::<Tick>::create(name.as_str(), 64).unwrap();
    let n = 50_000u64;
    let child = spawn_peer(&["send-ticks", &name, &n.to_string()]);
    for i in 0..n {
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), tick(i));
    }
    peer_output(child);
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
    let name = unique_name("ffi-ticks-killed");
    let _u = Unlink(name.clone());
    let mut rx = shmring::spsc::Receiver::<Tick>::create(name.as_str(), 64).unwrap();
    killed_mid_stream(
        &["send-ticks", &name, "1000000000"],
        || rx.recv_timeout(Duration::from_secs(10)),
        tick,
    );
}

#[test]
fn a_c_sender_builds_messages_in_place() {
    let name = unique_name("ffi-reserve");
    let _u = Unlink(name.clone());
    let mut rx = shmring::framed::mpsc::Receiver::create(name.as_str(), 1 << 14).unwrap();
    let n = 20_000u64;
    let child = spawn_peer(&["reserve", &name, &n.to_string()]);
    // Every committed message arrives whole and in order; the abandoned ones never do.
    for seq in 0..n {
        let got = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(got, message(seq), "message {seq}");
    }
    assert_eq!(peer_output(child), format!("reserved {n}\n"));
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
    let child = spawn_peer(&["poll-ticks", &name, &n.to_string()]);
    for i in 0..n {
        tx.send_timeout(tick(i), Duration::from_secs(10)).unwrap();
        if i % 100 == 0 {
            // Let the C side run dry and go to poll(2), so the descriptor's wake-up is used.
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    assert_eq!(peer_output(child), format!("polled {n} ticks\n"));
}
