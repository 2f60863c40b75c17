//! `recv_async` / `send_async` under tokio across real processes: an async receiver with a
//! blocking sender and the reverse on every transport, several receivers in one `select!`
//! on a multi-thread runtime, and futures dropped at random points (nothing lost, nothing
//! duplicated).
#![cfg(feature = "tokio")]

use shmring_test_support as common;

use std::io::Write;
use std::time::Duration;

use common::{Unlink, child, endpoints, wait_for_line, wait_with_watchdog};
use shmring_ipc::{Options, Receiver, RecvError, Sender};

const ENDPOINT_VAR: &str = "SHMRING_IPC_ASYNC_ENDPOINT";
const COUNT_VAR: &str = "SHMRING_IPC_ASYNC_COUNT";
const PAUSE_VAR: &str = "SHMRING_IPC_ASYNC_PAUSE";

/// Small queues (a user may only have about 800 KiB of them), a small ring.
fn options_for(endpoint: &str) -> Options {
    if endpoint.starts_with("mq:") {
        Options::default().mq_depth(4).max_message(1024)
    } else {
        Options::default().shm_capacity(1 << 14).max_message(1024)
    }
}

/// Message `i`: 0 to 1000 bytes, its number in the first four.
fn message(i: u32) -> Vec<u8> {
    common::numbered_message(i, 1000)
}

#[test]
fn child_entry() {
    let Some(role) = common::role() else { return };
    let endpoint = std::env::var(ENDPOINT_VAR).unwrap();
    let count: u32 = std::env::var(COUNT_VAR).unwrap().parse().unwrap();
    let pause = std::env::var(PAUSE_VAR).is_ok();
    match role.as_str() {
        // A blocking sender, optionally pausing now and then (so the receiver sleeps).
        "sender" => {
            let mut tx = Sender::connect_with(&endpoint, &options_for(&endpoint)).unwrap();
            println!("READY");
            std::io::stdout().flush().unwrap();
            for i in 0..count {
                tx.send(&message(i)).unwrap();
                if pause && i % 97 == 0 {
                    std::thread::sleep(Duration::from_millis(i as u64 % 5));
                }
            }
            tx.flush().unwrap();
        }
        // A blocking receiver that checks every message, then reports.
        "receiver" => {
            let mut rx = Receiver::bind_with(&endpoint, &options_for(&endpoint)).unwrap();
            println!("READY {}", rx.endpoint());
            std::io::stdout().flush().unwrap();
            for i in 0..count {
                assert_eq!(rx.recv().unwrap(), message(i), "message {i}");
            }
        }
        other => panic!("unknown role {other}"),
    }
}

fn spawn(role: &str, endpoint: &str, count: u32, pause: bool) -> std::process::Child {
    let mut cmd = child("child_entry", role, "-");
    cmd.env(ENDPOINT_VAR, endpoint)
        .env(COUNT_VAR, count.to_string());
    if pause {
        cmd.env(PAUSE_VAR, "1");
    }
    cmd.spawn().unwrap()
}

/// Receives `count` messages with `recv_async`, each checked, then `Disconnected`.
async fn receive_all(rx: &mut Receiver, count: u32, endpoint: &str) {
    for i in 0..count {
        let got = tokio::time::timeout(common::WATCHDOG, rx.recv_async())
            .await
            .unwrap_or_else(|_| panic!("{endpoint}: message {i} never came"))
            .unwrap_or_else(|e| panic!("{endpoint}: message {i}: {e}"));
        assert_eq!(got, message(i), "{endpoint}: message {i}");
    }
    let end = tokio::time::timeout(common::WATCHDOG, rx.recv_async()).await;
    assert_eq!(
        end.expect("Disconnected never came"),
        Err(RecvError::Disconnected),
        "{endpoint}"
    );
}

#[test]
fn async_receiver_blocking_sender_every_transport() {
    const N: u32 = 3000;
    for (endpoint, _guard) in endpoints("async-rx") {
        let mut rx = Receiver::bind_with(&endpoint, &options_for(&endpoint)).unwrap();
        let bound = rx.endpoint().to_string();
        let mut tx = spawn("sender", &bound, N, true);
        wait_for_line(&mut tx, "READY");
        common::current_thread().block_on(receive_all(&mut rx, N, &bound));
        assert!(wait_with_watchdog(tx).status.success(), "{bound}");
        eprintln!("{bound}: {N} messages received with recv_async");
    }
}

#[test]
fn async_sender_blocking_receiver_every_transport() {
    const N: u32 = 3000;
    for (endpoint, _guard) in endpoints("async-tx") {
        let mut rx = spawn("receiver", &endpoint, N, false);
        let line = wait_for_line(&mut rx, "READY");
        let bound = line.trim_start_matches("READY ").to_owned();
        common::current_thread().block_on(async {
            let mut tx = Sender::connect_with(&bound, &options_for(&bound)).unwrap();
            for i in 0..N {
                tokio::time::timeout(common::WATCHDOG, tx.send_async(&message(i)))
                    .await
                    .expect("send_async never finished")
                    .unwrap_or_else(|e| panic!("{bound}: message {i}: {e}"));
            }
            tx.flush_async().await.unwrap();
        });
        // The child checked every message (a mismatch panics: a failed exit).
        let out = wait_with_watchdog(rx);
        assert!(
            out.status.success(),
            "{bound}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("{bound}: {N} messages sent with send_async");
    }
}

/// Three receivers of different transports in one `select!` on a multi-thread runtime.
#[test]
fn many_receivers_in_one_select() {
    const N: u32 = 1500;
    let all = endpoints("async-select");
    let picked: Vec<&(String, Option<Unlink>)> = all
        .iter()
        .filter(|(e, _)| e.starts_with("shm:") || e.starts_with("uds:") || e.starts_with("mq:"))
        .collect();
    let mut receivers: Vec<Receiver> = picked
        .iter()
        .map(|(e, _)| Receiver::bind_with(e, &options_for(e)).unwrap())
        .collect();
    let mut senders: Vec<_> = receivers
        .iter()
        .map(|rx| {
            let mut tx = spawn("sender", &rx.endpoint().to_string(), N, true);
            wait_for_line(&mut tx, "READY");
            tx
        })
        .collect();
    let runtime = common::multi_thread();
    let counts = runtime.block_on(async {
        let mut next = [0u32; 3];
        let mut done = [false; 3];
        let [a, b, c] = &mut receivers[..] else {
            unreachable!()
        };
        let deadline = tokio::time::sleep(common::WATCHDOG);
        tokio::pin!(deadline);
        while done.iter().any(|d| !d) {
            let (k, got) = common::select_of_three!(a, b, c, done, deadline);
            match got {
                Ok(m) => {
                    assert_eq!(m, message(next[k]), "receiver {k}");
                    next[k] += 1;
                }
                Err(RecvError::Disconnected) => done[k] = true,
                Err(e) => panic!("receiver {k}: {e}"),
            }
        }
        next
    });
    assert_eq!(counts, [N; 3]);
    for tx in senders.drain(..) {
        assert!(wait_with_watchdog(tx).status.success());
    }
}

/// Futures dropped at random points (timeouts of 0 to 300 µs around `recv_async`, and a
/// `select!` against a timer): every message arrives exactly once, in order.
#[test]
fn dropped_futures_lose_nothing() {
    const N: u32 = 2000;
    for (endpoint, _guard) in endpoints("async-cancel") {
        let mut rx = Receiver::bind_with(&endpoint, &options_for(&endpoint)).unwrap();
        let bound = rx.endpoint().to_string();
        let mut tx = spawn("sender", &bound, N, true);
        wait_for_line(&mut tx, "READY");
        let (received, dropped) = common::current_thread().block_on(async {
            let mut next = 0u32;
            let mut dropped = 0u32;
            let mut seed = 0x2545_f491_4f6c_dd1du64;
            let start = std::time::Instant::now();
            loop {
                assert!(
                    start.elapsed() < common::WATCHDOG,
                    "{bound}: stuck at {next}"
                );
                let got = common::recv_or_drop!(&mut seed, 300, rx.recv_async());
                match got {
                    None => dropped += 1,
                    Some(Ok(m)) => {
                        assert_eq!(m, message(next), "{bound}: message {next}");
                        next += 1;
                    }
                    Some(Err(RecvError::Disconnected)) => break,
                    Some(Err(e)) => panic!("{bound}: {e}"),
                }
            }
            (next, dropped)
        });
        assert_eq!(received, N, "{bound}");
        assert!(wait_with_watchdog(tx).status.success(), "{bound}");
        eprintln!("{bound}: {N} messages exactly once, {dropped} futures dropped");
    }
}

/// The readiness descriptors for epoll/mio users: readable exactly while a receive finds
/// something, on every transport that has one; none on `shm:`.
#[test]
fn readiness_descriptors_poll_as_documented() {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let readable = |rx: &mut Receiver, ms: u16| {
        let fd = rx.readiness_fd().unwrap().expect("a descriptor");
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::from(ms)).unwrap() == 1
    };
    for (endpoint, _guard) in endpoints("async-fd") {
        let mut rx = Receiver::bind_with(&endpoint, &options_for(&endpoint)).unwrap();
        let bound = rx.endpoint().to_string();
        // A shared-memory ring and a System V queue have no descriptor of their own.
        if bound.starts_with("shm:") || bound.starts_with("sysv:") {
            assert!(rx.readiness_fd().unwrap().is_none());
            let tx = Sender::connect_with(&bound, &options_for(&bound)).unwrap();
            assert!(tx.readiness_fd().is_none());
            continue;
        }
        let mut tx = Sender::connect_with(&bound, &options_for(&bound)).unwrap();
        assert!(tx.readiness_fd().is_some(), "{bound}");
        tx.send(b"one").unwrap();
        assert!(readable(&mut rx, 5_000), "{bound}: a message waits");
        assert_eq!(rx.try_recv().unwrap(), b"one", "{bound}");
        assert!(!readable(&mut rx, 50), "{bound}: drained");
        tx.send(b"two").unwrap();
        assert!(readable(&mut rx, 5_000), "{bound}: the next one");
        assert_eq!(rx.try_recv().unwrap(), b"two", "{bound}");
    }
}

/// Typed channels have the async calls too (the sender on its own thread: a typed sender
/// on a socket waits for the receiver's hello, which an accepting receive writes).
#[test]
fn typed_async() {
    for (endpoint, _guard) in endpoints("async-typed") {
        let mut rx =
            shmring_ipc::typed::Receiver::<u64>::bind_with(&endpoint, &options_for(&endpoint))
                .unwrap();
        let bound = rx.endpoint().to_string();
        let sender = std::thread::spawn({
            let bound = bound.clone();
            move || {
                common::current_thread().block_on(async {
                    let mut tx = shmring_ipc::typed::Sender::<u64>::connect_with(
                        &bound,
                        &options_for(&bound),
                    )
                    .unwrap();
                    for i in 0..3u64 {
                        tx.send_async(&(i * 1_000_003)).await.unwrap();
                    }
                })
            }
        });
        common::current_thread().block_on(async {
            for i in 0..3u64 {
                let got = tokio::time::timeout(common::WATCHDOG, rx.recv_async()).await;
                assert_eq!(got.expect("never came"), Ok(i * 1_000_003), "{bound}");
            }
        });
        sender.join().unwrap();
    }
}
