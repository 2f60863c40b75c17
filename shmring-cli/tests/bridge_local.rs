//! `shmring bridge` between local transports (no zenoh feature needed): a ring forwarded to a
//! Unix socket and a TCP connection forwarded into a ring, every byte checked, the end of the
//! stream carried through; a bad endpoint refused with exit 2.

mod common;

use common::*;
use shmring_ipc::{Receiver, RecvTimeoutError, Sender};

const PATIENCE: Duration = Duration::from_secs(30);

fn message(i: u32) -> Vec<u8> {
    shmring_test_support::numbered_message(i, 700)
}

/// Connects to an endpoint a bridge is binding.
fn connect_when_there(endpoint: &str) -> Sender {
    let until = Instant::now() + PATIENCE;
    loop {
        match Sender::connect(endpoint) {
            Ok(tx) => return tx,
            Err(e) => {
                assert!(Instant::now() < until, "{endpoint}: {e}");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Sends `n` messages into `from` while a bridge forwards them to `to` (bound here), checks
/// every one and the end, and the bridge's clean exit.
fn forwards(from: &str, to: &str, n: u32) {
    let mut rx = Receiver::bind(to).unwrap();
    let to = rx.endpoint().to_string(); // tcp: the port chosen
    let bridge = shmring()
        .args(["bridge", from, &to])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let producer = std::thread::spawn({
        let from = from.to_owned();
        move || {
            let mut tx = connect_when_there(&from);
            for i in 0..n {
                tx.send_timeout(&message(i), PATIENCE).unwrap();
            }
        }
    });
    let mut buf = Vec::new();
    for i in 0..n {
        rx.recv_into_deadline(&mut buf, Instant::now() + PATIENCE)
            .unwrap_or_else(|e| panic!("message {i}: {e}"));
        assert_eq!(buf, message(i), "message {i}");
    }
    producer.join().unwrap();
    assert_eq!(
        rx.recv_into_deadline(&mut buf, Instant::now() + PATIENCE),
        Err(RecvTimeoutError::Disconnected)
    );
    let (code, _, stderr) = finish(bridge);
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_ring_forwarded_to_a_unix_socket() {
    let src = unique("bridge-uds");
    let _u = Unlink(src.clone());
    let sock = std::env::temp_dir().join(format!("{src}.sock"));
    forwards(
        &format!("shm:{src}"),
        &format!("uds:{}", sock.display()),
        20_000,
    );
}

#[test]
fn a_tcp_connection_forwarded_into_a_ring() {
    let dst = unique("bridge-tcp");
    let _u = Unlink(dst.clone());
    let port = shmring_test_support::free_port();
    forwards(
        &format!("tcp:127.0.0.1:{port}"),
        &format!("shm:{dst}"),
        20_000,
    );
}

#[test]
fn a_bad_endpoint_is_a_usage_error() {
    let out = shmring()
        .args(["bridge", "udp:nowhere", "shm:x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("udp:nowhere"), "{stderr}");
}
