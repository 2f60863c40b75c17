//! What the C tests share: the compiled C peer, running it under the watchdog, and the
//! SIGKILL-mid-stream check.

#![allow(dead_code)] // each test file uses its own subset

use std::process::{Child, Command, Stdio};

use shmring_test_support as common;

/// The compiled C peer.
pub fn peer() -> &'static std::path::Path {
    crate::build::c_peer()
}

/// Starts the C peer with `args`, its output captured.
pub fn spawn_peer(args: &[&str]) -> Child {
    Command::new(peer())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits (under the watchdog) for a peer to succeed; its stdout.
pub fn peer_output(child: Child) -> String {
    let out = common::wait_with_watchdog(child);
    assert!(
        out.status.success(),
        "peer: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs the C peer to completion; its stdout.
pub fn run_peer(args: &[&str]) -> String {
    peer_output(spawn_peer(args))
}

/// Starts the C peer with `args` — a sender that would go on for ever — checks the first
/// 5 000 values `recv` gives against `expected`, SIGKILLs the peer, then checks that whatever
/// it committed arrives whole and in order and ends in `Disconnected` (its death noticed
/// within the liveness period), not a torn message or a hang.
pub fn killed_mid_stream<V: PartialEq + std::fmt::Debug>(
    args: &[&str],
    mut recv: impl FnMut() -> Result<V, shmring::RecvTimeoutError>,
    expected: impl Fn(u64) -> V,
) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let mut child = Command::new(peer())
        .args(args)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut seq = 0u64;
    while seq < 5_000 {
        assert_eq!(recv().unwrap(), expected(seq), "message {seq}");
        seq += 1;
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    loop {
        match recv() {
            Ok(got) => {
                assert_eq!(got, expected(seq), "message {seq} after the kill");
                seq += 1;
            }
            Err(shmring::RecvTimeoutError::Disconnected) => break,
            Err(e) => panic!("after {seq} messages: {e}"),
        }
    }
}

/// The line of `out` that starts with `prefix`, without it.
pub fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in\n{out}"))
}
