//! `mpmc::{Receiver::recv_async, Sender::send_async}` and their readiness eventfds, across
//! real processes: several async tasks on one record (each with its own clone, so several
//! bridges share the record's waiting bit), blocking peers in other processes, futures
//! dropped at random points — every value exactly once, each producer's values in order, and
//! no waiter left registered afterwards.
#![cfg(all(feature = "tokio", not(shmring_loom)))]

use shmring_test_support as common;
use shmring_test_support::send_despite_drops;

use std::time::{Duration, Instant};

use common::{Unlink, child, unique_name, wait_for_line, wait_with_watchdog};
use shmring::RecvError;
use shmring::mpmc::{Receiver, Sender};

/// Values per producer.
const N: u64 = 10_000;
/// Producers (processes or tasks) per test.
const PRODUCERS: u64 = 2;

/// Value `i` of producer `p`.
fn value(p: u64, i: u64) -> u64 {
    (p << 32) | i
}

#[test]
fn child_entry() {
    common::run_child(|role, name| match role {
        // Producer `SHMRING_PRODUCER` sends its N values, pausing now and then so the
        // receivers go to sleep.
        "sender" => {
            let p: u64 = std::env::var("SHMRING_PRODUCER").unwrap().parse().unwrap();
            let tx = Sender::<u64>::open(name.as_str()).unwrap();
            println!("READY");
            for i in 0..N {
                tx.send(value(p, i)).unwrap();
                if i % 997 == 0 {
                    std::thread::sleep(Duration::from_millis(i % 3));
                }
            }
        }
        // Receives every producer's values in order (pausing so the ring fills and the
        // senders wait), then expects `Disconnected`.
        "receiver" => {
            let rx = Receiver::<u64>::open(name.as_str()).unwrap();
            println!("READY");
            let mut next = [0u64; PRODUCERS as usize];
            for k in 0..N * PRODUCERS {
                let v = rx.recv().unwrap();
                let p = (v >> 32) as usize;
                assert_eq!(v & 0xffff_ffff, next[p], "producer {p}");
                next[p] += 1;
                if k % 997 == 0 {
                    std::thread::sleep(Duration::from_millis(k % 3));
                }
            }
            assert_eq!(rx.recv(), Err(RecvError::Disconnected));
        }
        other => panic!("unknown role {other}"),
    });
}

fn spawn(role: &str, name: &str, producer: u64) -> std::process::Child {
    let mut c = child("child_entry", role, name)
        .env("SHMRING_PRODUCER", producer.to_string())
        .spawn()
        .unwrap();
    wait_for_line(&mut c, "READY");
    c
}

/// Two async receiving tasks (clones of one receiver) on a multi-thread runtime, two
/// blocking sender processes, receive futures dropped at random: every value exactly once,
/// each task sees each producer's values in increasing order, the waiting bit clears.
#[test]
fn async_receivers_blocking_senders() {
    let name = unique_name("mpmc-async-recv");
    let _u = Unlink(name.clone());
    let rx = Receiver::<u64>::create(name.as_str(), 32).unwrap();
    let senders: Vec<_> = (0..PRODUCERS).map(|p| spawn("sender", &name, p)).collect();
    let (seen, dropped) = common::multi_thread().block_on(async {
        let tasks: Vec<_> = (0..2u64)
            .map(|t| {
                let mut rx = rx.clone();
                tokio::spawn(async move {
                    let (mut got, mut dropped) = (Vec::new(), 0u32);
                    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ t;
                    let mut last = [None::<u64>; PRODUCERS as usize];
                    let start = Instant::now();
                    loop {
                        assert!(start.elapsed() < common::WATCHDOG, "task {t} stuck");
                        match common::recv_or_drop!(&mut seed, 300, rx.recv_async()) {
                            None => dropped += 1,
                            Some(Ok(v)) => {
                                let p = (v >> 32) as usize;
                                assert!(last[p] < Some(v), "task {t}: {v:#x} after {last:?}");
                                last[p] = Some(v);
                                got.push(v);
                            }
                            Some(Err(RecvError::Disconnected)) => break,
                            Some(Err(e)) => panic!("{e}"),
                        }
                    }
                    // One more future, dropped while it waits: its registration must go.
                    let _ = tokio::time::timeout(Duration::from_millis(5), rx.recv_async()).await;
                    (got, dropped)
                })
            })
            .collect();
        let mut seen = Vec::new();
        let mut dropped = 0;
        for task in tasks {
            let (got, d) = task.await.unwrap();
            seen.extend(got);
            dropped += d;
        }
        (seen, dropped)
    });
    let mut seen = seen;
    seen.sort_unstable();
    let expected: Vec<u64> = (0..PRODUCERS)
        .flat_map(|p| (0..N).map(move |i| value(p, i)))
        .collect();
    assert_eq!(seen.len(), expected.len(), "lost or duplicated values");
    assert!(seen == expected, "lost or duplicated values");
    common::assert_dropped(dropped);
    common::no_waiter_left(&name, true);
    for s in senders {
        assert!(wait_with_watchdog(s).status.success());
    }
    drop(rx);
    eprintln!(
        "{} values exactly once over 2 tasks, {dropped} futures dropped",
        seen.len()
    );
}

/// Two async sending tasks (clones of one sender) into a small ring, a blocking receiver
/// process, send futures dropped at random (a dropped send is repeated): the receiver sees
/// every value exactly once and each producer's in order; the waiting bit clears.
#[test]
fn async_senders_blocking_receiver() {
    let name = unique_name("mpmc-async-send");
    let _u = Unlink(name.clone());
    let tx = Sender::<u64>::create(name.as_str(), 8).unwrap();
    let receiver = spawn("receiver", &name, 0);
    let dropped = common::multi_thread().block_on(async {
        let tasks: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let mut tx = tx.clone();
                tokio::spawn(async move {
                    let mut dropped = 0u32;
                    let mut seed = 0x0123_4567_89ab_cdefu64 ^ p;
                    for i in 0..N {
                        dropped += send_despite_drops!(&mut seed, 200, tx.send_async(value(p, i)));
                    }
                    dropped
                })
            })
            .collect();
        common::total(tasks).await
    });
    common::senders_finished(&name, tx, receiver, dropped);
    eprintln!(
        "{} values sent exactly once by 2 tasks, {dropped} send futures dropped",
        N * PRODUCERS
    );
}

/// Readiness for an epoll user: register, poll(2) the eventfd, clear, try — with the
/// sender in another process.
#[test]
fn readiness_fd_with_poll() {
    use std::os::fd::AsRawFd;
    let name = unique_name("mpmc-async-poll");
    let _u = Unlink(name.clone());
    let mut rx = Receiver::<u64>::create(name.as_str(), 32).unwrap();
    let sender = spawn("sender", &name, 1);
    let mut next = 0u64;
    let start = Instant::now();
    loop {
        assert!(start.elapsed() < common::WATCHDOG, "stuck at {next}");
        match rx.try_recv() {
            Ok(v) => {
                assert_eq!(v, value(1, next));
                next += 1;
                continue;
            }
            Err(shmring::TryRecvError::Disconnected) => break,
            Err(shmring::TryRecvError::Empty) => {}
            Err(e) => panic!("{e}"),
        }
        if rx.register_readiness().unwrap() {
            let fd = rx.readiness_fd().unwrap().as_raw_fd();
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd for the duration of the call.
            let n = unsafe { libc::poll(&mut pfd, 1, 1000) };
            assert!(n >= 0);
            rx.clear_readiness();
        }
    }
    assert_eq!(next, N);
    rx.cancel_readiness();
    common::no_waiter_left(&name, true);
    assert!(wait_with_watchdog(sender).status.success());
}
