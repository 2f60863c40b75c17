//! `framed::{Sender::send_async, Receiver::recv_async}` and the many-producer ring's
//! `recv_into_async`/`send_async` across real processes, with futures dropped at random
//! points: every message exactly once, in order, byte for byte.
#![cfg(all(feature = "tokio", not(shmring_loom)))]

use shmring_test_support as common;
use shmring_test_support::send_despite_drops;

use std::time::{Duration, Instant};

use common::{Unlink, child, unique_name, wait_for_line, wait_with_watchdog};
use shmring::RecvError;
use shmring::framed::{Receiver, Sender};

const COUNT: u32 = 20_000;
const CAPACITY: u64 = 4096;

/// Message `i`: 0 to 900 bytes, its number in the first four.
fn message(i: u32) -> Vec<u8> {
    common::numbered_message(i, 900)
}

#[test]
fn child_entry() {
    common::run_child(|role, name| match role {
        "sender" => {
            let mut tx = Sender::open(name.as_str()).unwrap();
            println!("READY");
            for i in 0..COUNT {
                tx.send(&message(i)).unwrap();
                if i % 997 == 0 {
                    std::thread::sleep(Duration::from_millis(u64::from(i % 3)));
                }
            }
        }
        "receiver" => {
            let mut rx = Receiver::open(name.as_str()).unwrap();
            println!("READY");
            for i in 0..COUNT {
                assert_eq!(rx.recv().unwrap(), message(i), "message {i}");
                if i % 997 == 0 {
                    std::thread::sleep(Duration::from_millis(u64::from(i % 3)));
                }
            }
            assert_eq!(rx.recv(), Err(RecvError::Disconnected));
        }
        // One of two producers of a many-producer ring: message i of producer p is
        // `[p, i as u32 LE, ...]` of varying length.
        "mpsc-sender" => {
            let p: u8 = std::env::var("SHMRING_PRODUCER").unwrap().parse().unwrap();
            let tx = shmring::framed::mpsc::Sender::open(name.as_str()).unwrap();
            println!("READY");
            for i in 0..COUNT / 2 {
                let mut m = message(i);
                m.splice(0..0, [p]);
                tx.send(&m).unwrap();
                if i % 997 == 0 {
                    std::thread::sleep(Duration::from_millis(u64::from(i % 3)));
                }
            }
        }
        // The receiver of a many-producer ring fed by two producers as above: each one's
        // messages in its order, then `Disconnected`.
        "mpsc-receiver" => {
            let mut rx = shmring::framed::mpsc::Receiver::open(name.as_str()).unwrap();
            println!("READY");
            let mut next = [0u32; 2];
            for k in 0..COUNT {
                let m = rx.recv().unwrap();
                let p = usize::from(m[0]);
                assert_eq!(
                    &m[1..],
                    message(next[p]),
                    "producer {p} message {}",
                    next[p]
                );
                next[p] += 1;
                if k % 997 == 0 {
                    std::thread::sleep(Duration::from_millis(u64::from(k % 3)));
                }
            }
            assert_eq!(rx.recv(), Err(RecvError::Disconnected));
        }
        other => panic!("unknown role {other}"),
    });
}

fn spawn(role: &str, name: &str) -> std::process::Child {
    let mut c = child("child_entry", role, name).spawn().unwrap();
    wait_for_line(&mut c, "READY");
    c
}

#[test]
fn async_receiver_with_dropped_futures() {
    let name = unique_name("framed-async-rx");
    let _u = Unlink(name.clone());
    let mut rx = Receiver::create(name.as_str(), CAPACITY).unwrap();
    let tx = spawn("sender", &name);
    let dropped = common::current_thread().block_on(async {
        let (mut next, mut dropped, mut seed) = (0u32, 0u32, 0x5851_f42d_4c95_7f2du64);
        let mut buf = Vec::new();
        let start = Instant::now();
        loop {
            assert!(start.elapsed() < common::WATCHDOG, "stuck at {next}");
            match common::recv_or_drop!(&mut seed, 300, rx.recv_into_async(&mut buf)) {
                None => dropped += 1,
                Some(Ok(_)) => {
                    assert_eq!(buf, message(next), "message {next}");
                    next += 1;
                }
                Some(Err(RecvError::Disconnected)) => break,
                Some(Err(e)) => panic!("{e}"),
            }
        }
        assert_eq!(next, COUNT);
        dropped
    });
    assert!(wait_with_watchdog(tx).status.success());
    eprintln!("{COUNT} messages exactly once, {dropped} receive futures dropped");
}

#[test]
fn async_sender_with_dropped_futures() {
    let name = unique_name("framed-async-tx");
    let _u = Unlink(name.clone());
    let mut tx = Sender::create(name.as_str(), CAPACITY).unwrap();
    let rx = spawn("receiver", &name);
    let dropped = common::current_thread().block_on(async {
        let (mut dropped, mut seed) = (0u32, 0x2545_f491_4f6c_dd1du64);
        for i in 0..COUNT {
            let msg = message(i);
            dropped += send_despite_drops!(&mut seed, 300, tx.send_async(&msg));
        }
        dropped
    });
    drop(tx);
    common::expect_success(rx);
    eprintln!("{COUNT} messages sent exactly once, {dropped} send futures dropped");
}

/// The many-producer ring's receiver, async, with two producer processes and futures dropped
/// at random: every message of each producer exactly once and in that producer's order.
#[test]
fn mpsc_async_receiver_two_producers() {
    let name = unique_name("framed-async-mpsc");
    let _u = Unlink(name.clone());
    let mut rx = shmring::framed::mpsc::Receiver::create(name.as_str(), CAPACITY).unwrap();
    let producers: Vec<_> = (0..2u8)
        .map(|p| {
            let mut c = child("child_entry", "mpsc-sender", &name)
                .env("SHMRING_PRODUCER", p.to_string())
                .spawn()
                .unwrap();
            wait_for_line(&mut c, "READY");
            c
        })
        .collect();
    let (next, dropped) = common::current_thread().block_on(async {
        let (mut next, mut dropped, mut seed) = ([0u32; 2], 0u32, 0x9e37_79b9_7f4a_7c15u64);
        let mut buf = Vec::new();
        let start = Instant::now();
        loop {
            assert!(start.elapsed() < common::WATCHDOG, "stuck at {next:?}");
            match common::recv_or_drop!(&mut seed, 300, rx.recv_into_async(&mut buf)) {
                None => dropped += 1,
                Some(Ok(_)) => {
                    let p = usize::from(buf[0]);
                    assert_eq!(
                        &buf[1..],
                        message(next[p]),
                        "producer {p} message {}",
                        next[p]
                    );
                    next[p] += 1;
                }
                Some(Err(RecvError::Disconnected)) => break,
                Some(Err(e)) => panic!("{e}"),
            }
        }
        (next, dropped)
    });
    assert_eq!(next, [COUNT / 2; 2]);
    for p in producers {
        assert!(wait_with_watchdog(p).status.success());
    }
    eprintln!(
        "2 × {} messages exactly once, {dropped} receive futures dropped",
        COUNT / 2
    );
}

/// Two async producer tasks (clones of one many-producer sender, so two bridges share the
/// record's waiting bit) on a multi-thread runtime, a blocking receiver process, send futures
/// dropped at random: every message exactly once and in its producer's order; afterwards no
/// sender is left registered as waiting.
#[test]
fn mpsc_async_senders_blocking_receiver() {
    let name = unique_name("framed-async-mpsc-send");
    let _u = Unlink(name.clone());
    let tx = shmring::framed::mpsc::Sender::create(name.as_str(), CAPACITY).unwrap();
    let receiver = spawn("mpsc-receiver", &name);
    let rt = common::multi_thread();
    let dropped = rt.block_on(async {
        let tasks: Vec<_> = (0..2u8)
            .map(|p| {
                let mut tx = tx.clone();
                tokio::spawn(async move {
                    let (mut dropped, mut seed) = (0u32, 0x0123_4567_89ab_cdefu64 ^ u64::from(p));
                    for i in 0..COUNT / 2 {
                        let mut m = message(i);
                        m.splice(0..0, [p]);
                        dropped += send_despite_drops!(&mut seed, 200, tx.send_async(&m));
                    }
                    dropped
                })
            })
            .collect();
        common::total(tasks).await
    });
    common::senders_finished(&name, tx, receiver, dropped);
    eprintln!(
        "2 × {} messages exactly once, {dropped} send futures dropped",
        COUNT / 2
    );
}
