//! `spsc::Receiver::recv_async` and the readiness eventfd, across real processes: an async
//! receiver with a blocking sender, a SIGKILLed sender, several rings in one `select!`,
//! futures dropped at random points (nothing lost or duplicated, no waiter left registered).
#![cfg(all(feature = "tokio", not(shmring_loom)))]

use shmring_test_support as common;
use shmring_test_support::send_despite_drops;

use std::time::{Duration, Instant};

use common::{Unlink, child, unique_name, wait_for_line, wait_with_watchdog};
use shmring::RecvError;
use shmring::spsc::{Receiver, Sender};

const COUNT_VAR: &str = "SHMRING_ASYNC_COUNT";

#[test]
fn child_entry() {
    common::run_child(|role, name| match role {
        // Sends 0..COUNT, pausing now and then so the receiver goes to sleep; with COUNT
        // unset, sends one value and waits to be killed.
        "sender" => {
            let mut tx = Sender::<u64>::open(name.as_str()).unwrap();
            println!("READY");
            let count: Option<u64> = std::env::var(COUNT_VAR).ok().map(|c| c.parse().unwrap());
            match count {
                Some(n) => {
                    for i in 0..n {
                        tx.send(i).unwrap();
                        if i % 997 == 0 {
                            std::thread::sleep(Duration::from_millis(i % 3));
                        }
                    }
                }
                None => {
                    tx.send(0).unwrap();
                    std::thread::sleep(common::WATCHDOG);
                }
            }
        }
        // Receives 0..COUNT in order (pausing now and then so the ring fills and the sender
        // waits), then expects `Disconnected`.
        "receiver" => {
            let mut rx = Receiver::<u64>::open(name.as_str()).unwrap();
            println!("READY");
            let n: u64 = std::env::var(COUNT_VAR).unwrap().parse().unwrap();
            for i in 0..n {
                assert_eq!(rx.recv(), Ok(i));
                if i % 997 == 0 {
                    std::thread::sleep(Duration::from_millis(i % 3));
                }
            }
            assert_eq!(rx.recv(), Err(RecvError::Disconnected));
        }
        other => panic!("unknown role {other}"),
    });
}

fn spawn_sender(name: &str, count: Option<u64>) -> std::process::Child {
    spawn_role("sender", name, count)
}

fn spawn_role(role: &str, name: &str, count: Option<u64>) -> std::process::Child {
    let mut cmd = child("child_entry", role, name);
    if let Some(n) = count {
        cmd.env(COUNT_VAR, n.to_string());
    }
    let mut c = cmd.spawn().unwrap();
    wait_for_line(&mut c, "READY");
    c
}

#[test]
fn async_receiver_blocking_sender() {
    const N: u64 = 200_000;
    let name = unique_name("spsc-async");
    let _u = Unlink(name.clone());
    let mut rx = Receiver::<u64>::create(name.as_str(), 64).unwrap();
    let tx = spawn_sender(&name, Some(N));
    common::current_thread().block_on(async {
        for i in 0..N {
            let got = tokio::time::timeout(common::WATCHDOG, rx.recv_async()).await;
            assert_eq!(got.expect("stuck"), Ok(i));
        }
        let end = tokio::time::timeout(common::WATCHDOG, rx.recv_async()).await;
        assert_eq!(end.expect("stuck"), Err(RecvError::Disconnected));
    });
    assert!(wait_with_watchdog(tx).status.success());
}

#[test]
fn a_killed_sender_is_disconnected() {
    let name = unique_name("spsc-async-kill");
    let _u = Unlink(name.clone());
    let mut rx = Receiver::<u64>::create(name.as_str(), 64).unwrap();
    let mut tx = spawn_sender(&name, None);
    common::current_thread().block_on(async {
        assert_eq!(rx.recv_async().await, Ok(0));
        tx.kill().unwrap();
        let end = tokio::time::timeout(common::WATCHDOG, rx.recv_async()).await;
        assert_eq!(end.expect("stuck"), Err(RecvError::Disconnected));
    });
    wait_with_watchdog(tx);
}

/// Futures dropped at random points: every value exactly once and in order; and after the
/// last dropped future the waiting flag goes back to 0 (senders stop paying wake-ups).
#[test]
fn dropped_futures_lose_nothing_and_leave_no_waiter() {
    const N: u64 = 20_000;
    let name = unique_name("spsc-async-cancel");
    let _u = Unlink(name.clone());
    let mut rx = Receiver::<u64>::create(name.as_str(), 64).unwrap();
    let tx = spawn_sender(&name, Some(N));
    let dropped = common::current_thread().block_on(async {
        let mut next = 0u64;
        let mut dropped = 0u32;
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let start = Instant::now();
        loop {
            assert!(start.elapsed() < common::WATCHDOG, "stuck at {next}");
            let got = common::recv_or_drop!(&mut seed, 300, rx.recv_async());
            match got {
                None => dropped += 1,
                Some(Ok(v)) => {
                    assert_eq!(v, next);
                    next += 1;
                }
                Some(Err(RecvError::Disconnected)) => break,
                Some(Err(e)) => panic!("{e}"),
            }
        }
        assert_eq!(next, N);
        // One more future, dropped while it waits on the empty ring: the flag must clear.
        let _ = tokio::time::timeout(Duration::from_millis(5), rx.recv_async()).await;
        dropped
    });
    common::assert_dropped(dropped);
    common::no_waiter_left(&name, true);
    assert!(wait_with_watchdog(tx).status.success());
    eprintln!("{N} values exactly once, {dropped} futures dropped");
}

/// Three rings, three sender processes, one `select!` on a multi-thread runtime.
#[test]
fn many_rings_in_one_select() {
    const N: u64 = 20_000;
    let names: Vec<String> = (0..3).map(|_| unique_name("spsc-async-select")).collect();
    let _u: Vec<Unlink> = names.iter().map(|n| Unlink(n.clone())).collect();
    let mut rxs: Vec<Receiver<u64>> = names
        .iter()
        .map(|n| Receiver::<u64>::create(n.as_str(), 64).unwrap())
        .collect();
    let txs: Vec<_> = names.iter().map(|n| spawn_sender(n, Some(N))).collect();
    let rt = common::multi_thread();
    let counts = rt.block_on(async {
        let [a, b, c] = &mut rxs[..] else {
            unreachable!()
        };
        let mut next = [0u64; 3];
        let mut done = [false; 3];
        let deadline = tokio::time::sleep(common::WATCHDOG);
        tokio::pin!(deadline);
        while done.iter().any(|d| !d) {
            let (k, got) = common::select_of_three!(a, b, c, done, deadline);
            match got {
                Ok(v) => {
                    assert_eq!(v, next[k], "ring {k}");
                    next[k] += 1;
                }
                Err(RecvError::Disconnected) => done[k] = true,
                Err(e) => panic!("ring {k}: {e}"),
            }
        }
        next
    });
    assert_eq!(counts, [N; 3]);
    for tx in txs {
        assert!(wait_with_watchdog(tx).status.success());
    }
}

/// `send_async` into a blocking receiver in another process, with futures dropped at random
/// points: a dropped send sends nothing (it is repeated), so the receiver sees every value
/// exactly once and in order.
#[test]
fn async_sender_with_dropped_futures() {
    const N: u64 = 50_000;
    let name = unique_name("spsc-async-send");
    let _u = Unlink(name.clone());
    let mut tx = Sender::<u64>::create(name.as_str(), 16).unwrap();
    let rx = spawn_role("receiver", &name, Some(N));
    let dropped = common::current_thread().block_on(async {
        let mut dropped = 0u32;
        let mut seed = 0x0123_4567_89ab_cdefu64;
        for i in 0..N {
            dropped += send_despite_drops!(&mut seed, 200, tx.send_async(i));
        }
        dropped
    });
    drop(tx);
    common::expect_success(rx);
    eprintln!("{N} values sent exactly once, {dropped} send futures dropped");
}

/// The futures are `Send`: a receive can be spawned onto a multi-thread runtime.
#[test]
fn futures_can_be_spawned() {
    let rt = common::multi_thread();
    let (mut tx, mut rx) = shmring::spsc::channel::<u64>(8).unwrap();
    let (mut ftx, mut frx) = shmring::framed::channel(256).unwrap();
    let (mtx, mut mrx) = shmring::framed::mpsc::channel(256).unwrap();
    rt.block_on(async {
        let a = tokio::spawn(async move { rx.recv_async().await });
        let b = tokio::spawn(async move { frx.recv_async().await });
        let c = tokio::spawn(async move {
            let mut buf = Vec::new();
            mrx.recv_into_async(&mut buf).await.map(|_| buf)
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        tx.send_async(5).await.unwrap();
        ftx.send_async(b"framed").await.unwrap();
        mtx.send(b"mpsc").unwrap();
        assert_eq!(a.await.unwrap(), Ok(5));
        assert_eq!(b.await.unwrap().unwrap(), b"framed");
        assert_eq!(c.await.unwrap().unwrap(), b"mpsc");
    });
}

/// `into_stream()`: every value of a sender process in order, then the end of the stream.
#[cfg(feature = "stream")]
#[test]
fn receiver_as_a_stream() {
    use futures_core::Stream;
    const N: u64 = 20_000;
    let name = unique_name("spsc-async-stream");
    let _u = Unlink(name.clone());
    let rx = Receiver::<u64>::create(name.as_str(), 64).unwrap();
    let tx = spawn_sender(&name, Some(N));
    let got = common::current_thread().block_on(async {
        let mut stream = rx.into_stream();
        let mut next = 0u64;
        let deadline = Instant::now() + common::WATCHDOG;
        while let Some(v) =
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_next(cx)).await
        {
            assert!(Instant::now() < deadline, "stuck at {next}");
            assert_eq!(v, Ok(next));
            next += 1;
        }
        next
    });
    assert_eq!(got, N);
    assert!(wait_with_watchdog(tx).status.success());
}
