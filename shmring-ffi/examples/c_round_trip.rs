//! The C round trip against Rust's, in the same run (issue 20's benchmark): 64-byte messages
//! through two byte rings to an echo process written in C (`tests/c/peer.c`, on the C ABI) and
//! to the same echo written in Rust (this program, re-run as the peer), alternating in pairs;
//! the ratio of p50s per pair, its median and spread.
//!
//! `cargo run --release -p shmring-ffi --example c_round_trip [-- PAIRS ROUND_TRIPS]`

#[path = "../tests/c/build.rs"]
mod build;

use std::process::Command;
use std::time::{Duration, Instant};

use shmring::framed::mpsc::{Receiver, Sender};

/// Runs as the Rust echo when given `echo PING PONG`.
fn rust_echo(ping: &str, pong: &str) {
    let mut rx = Receiver::open(ping).unwrap();
    let tx = Sender::open(pong).unwrap();
    let mut buf = Vec::new();
    loop {
        rx.recv_into(&mut buf).unwrap();
        if buf.is_empty() {
            return;
        }
        tx.send(&buf).unwrap();
    }
}

/// p50 of `n` round trips of a 64-byte message to an echo started by `echo` (µs).
fn round_trips(n: usize, echo: impl FnOnce(&str, &str) -> std::process::Child) -> f64 {
    let name = format!("shmring-ffi-rtt-{}-{}", std::process::id(), n);
    let (ping, pong) = (format!("{name}-ping"), format!("{name}-pong"));
    let tx = Sender::create(ping.as_str(), 1 << 16).unwrap();
    let mut rx = Receiver::create(pong.as_str(), 1 << 16).unwrap();
    let mut child = echo(&ping, &pong);
    let msg = [7u8; 64];
    let mut back = Vec::new();
    let mut times = Vec::with_capacity(n);
    for i in 0..n + 2_000 {
        let start = Instant::now();
        tx.send(&msg).unwrap();
        rx.recv_into(&mut back).unwrap();
        if i >= 2_000 {
            times.push(start.elapsed());
        }
        assert_eq!(back, msg);
    }
    tx.send(&[]).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "echo failed: {status}");
    for name in [&ping, &pong] {
        shmring::Segment::unlink_name(name).unwrap();
    }
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1e6
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("echo") {
        return rust_echo(&args[2], &args[3]);
    }
    let pairs: usize = args.get(1).map_or(7, |a| a.parse().unwrap());
    let n: usize = args.get(2).map_or(50_000, |a| a.parse().unwrap());
    let c_peer = build::c_peer();
    let me = std::env::current_exe().unwrap();
    let mut ratios = Vec::new();
    for pair in 0..pairs {
        let c = || {
            round_trips(n, |ping, pong| {
                Command::new(c_peer)
                    .args(["echo", ping, pong])
                    .spawn()
                    .unwrap()
            })
        };
        let rust = || {
            round_trips(n, |ping, pong| {
                Command::new(&me)
                    .args(["echo", ping, pong])
                    .spawn()
                    .unwrap()
            })
        };
        // Alternate which goes first, so a change of machine speed hits both alike.
        let (c_us, rust_us) = if pair % 2 == 0 {
            let c_us = c();
            (c_us, rust())
        } else {
            let rust_us = rust();
            (c(), rust_us)
        };
        println!(
            "pair {pair}: C echo p50 {c_us:.3} µs, Rust echo p50 {rust_us:.3} µs, ratio {:.3}",
            c_us / rust_us
        );
        ratios.push(c_us / rust_us);
        std::thread::sleep(Duration::from_millis(50));
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "C round trip / Rust round trip (64 B, byte rings): median {:.3}, spread {:.3}–{:.3} over {} pairs of {n}",
        ratios[ratios.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1],
        ratios.len()
    );
}
