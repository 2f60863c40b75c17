//! Helpers the command-line tests share: run the built `shmring` with a watchdog, unique
//! ring names removed on drop, pipelines and closed pipes.
#![allow(dead_code)] // each test file uses its own subset

pub use std::io::Write;
pub use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
pub use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;

/// Longest any child may run before the test kills it and fails.
pub const WATCHDOG: Duration = Duration::from_secs(60);

pub fn shmring() -> Command {
    Command::cargo_bin("shmring").expect("the shmring binary is built")
}

pub fn unique(tag: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "shmring-cli-test-{tag}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Removes the ring when dropped.
pub use shmring_test_support::Unlink;

/// Waits for `child` with the watchdog; its exit code and stdout.
pub fn finish(child: Child) -> (Option<i32>, Vec<u8>, String) {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(WATCHDOG) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("shmring (pid {pid}) did not finish within {WATCHDOG:?}");
        }
    };
    (
        out.status.code(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `shmring ARGS` to completion (stdin empty).
pub fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let child = spawn(args, Stdio::null(), Stdio::piped());
    let (code, out, err) = finish(child);
    (code, String::from_utf8_lossy(&out).into_owned(), err)
}

/// Starts `shmring ARGS` with the given stdin and stdout, stderr piped.
pub fn spawn(args: &[&str], stdin: Stdio, stdout: Stdio) -> Child {
    shmring()
        .args(args)
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the ring `name` exists.
pub fn wait_for_ring(name: &str) {
    let start = Instant::now();
    while !std::path::Path::new("/dev/shm").join(name).exists() {
        assert!(start.elapsed() < WATCHDOG, "ring {name} never appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Pseudo-random bytes (xorshift), deterministic per seed.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut s = seed | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as u8
        })
        .collect()
}

/// `shmring recv --create` in one process, `shmring send` in another, stdin to stdout.
pub fn pipeline(name: &str, extra: &[&str], input: Vec<u8>) -> Vec<u8> {
    let mut recv_args = vec!["recv", name, "--create", "--capacity", "65536"];
    recv_args.extend_from_slice(extra);
    let recv = shmring()
        .args(&recv_args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut send_args = vec!["send", name, "--wait", "30"];
    send_args.extend_from_slice(extra);
    let mut send = shmring()
        .args(&send_args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read recv's output while send runs (a full stdout pipe would stall the ring).
    let receiver = std::thread::spawn(move || finish(recv));
    let mut stdin = send.stdin.take().unwrap();
    let wrote = stdin.write_all(&input);
    drop(stdin);
    let (send_code, _, send_err) = finish(send);
    let (code, out, err) = receiver.join().unwrap();
    assert_eq!(
        send_code,
        Some(0),
        "send: {send_err} (writing its input: {wrote:?}); recv: {code:?} {err}"
    );
    assert_eq!(code, Some(0), "recv: {err}");
    out
}

/// Runs `args` with stdout going to `stdout`; exit code and stderr.
pub fn run_into(args: &[&str], stdout: Stdio) -> (Option<i32>, String) {
    let child = spawn(args, Stdio::null(), stdout);
    let (code, _, stderr) = finish(child);
    (code, stderr)
}

/// A pipe whose reading end is already closed: every write to it fails with `EPIPE`.
pub fn closed_pipe() -> Stdio {
    let (read, write) = nix::unistd::pipe().unwrap();
    drop(read);
    Stdio::from(write)
}

/// Sends `lines` (`1\n2\n…`) into a new ring `name` and returns once all are in it.
pub fn fill_with_lines(name: &str, lines: u32) {
    let mut send = spawn(
        &["send", name, "--create", "--capacity", "4194304"],
        Stdio::piped(),
        Stdio::null(),
    );
    let input: String = (1..=lines).map(|i| format!("{i}\n")).collect();
    send.stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let (code, _, err) = finish(send);
    assert_eq!(code, Some(0), "send: {err}");
}

/// The lines of `out` as numbers.
pub fn numbers(out: &[u8]) -> Vec<u32> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| l.parse().unwrap())
        .collect()
}
