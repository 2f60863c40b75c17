//! Helpers for tests that run real processes: the test binary re-executes itself in a child
//! role, every wait is bounded by a watchdog, and segment names are unique and cleaned up.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// The market tick the language bindings' tests exchange with C and Python peers, which
/// describe it field for field (`shmring-ffi/tests/c/peer.c`, `shmring-py/tests`).
#[derive(Clone, Copy, Debug, PartialEq, shmring::ShmType, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct Tick {
    /// Nanoseconds.
    pub ts_ns: u64,
    /// Price.
    pub price: f64,
    /// Signed quantity.
    pub qty: i32,
    /// Side.
    pub side: u32,
}

/// Tick number `i` as every peer makes it: `ts_ns = i`, `price = i / 2`, `qty = -i`,
/// `side = i % 2`.
pub fn tick(i: u64) -> Tick {
    Tick {
        ts_ns: i,
        price: i as f64 * 0.5,
        qty: -(i as i32),
        side: (i % 2) as u32,
    }
}

/// [`Tick`]'s layout with its last two fields swapped (`side` before `qty`): the same size
/// and field types, which a name-and-size check would let through and the layout guard must
/// refuse, naming both.
pub fn swapped_tick_layout() -> shmring::TypeLayout {
    use shmring::{FieldLayout, ShmType, TypeLayout};
    TypeLayout::structure(
        "Tick",
        24,
        8,
        vec![
            FieldLayout::new("ts_ns", 0, u64::layout()),
            FieldLayout::new("price", 8, f64::layout()),
            FieldLayout::new("side", 16, u32::layout()),
            FieldLayout::new("qty", 20, i32::layout()),
        ],
    )
}

/// A local TCP port nothing listens on now (for a peer to listen on next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free local port")
        .port()
}

/// Environment variable that tells a re-executed test binary which role to play.
pub const ROLE_VAR: &str = "SHMRING_TEST_ROLE";
/// Environment variable carrying the segment name to a child.
pub const NAME_VAR: &str = "SHMRING_TEST_NAME";
/// Longest a child may take before the watchdog kills it and fails the test.
pub const WATCHDOG: Duration = Duration::from_secs(60);

/// The role this process was started in, if it is a child.
pub fn role() -> Option<String> {
    std::env::var(ROLE_VAR).ok()
}

/// The role and segment name this process was started with, if it is a child (see
/// [`child`]).
pub fn child_role() -> Option<(String, String)> {
    role().map(|role| (role, child_name()))
}

/// The body of a test binary's child dispatcher: in a child (see [`child`]), runs `body`
/// with the role and segment name it was started with; in the test run itself, nothing.
pub fn run_child(body: impl FnOnce(&str, String)) {
    if let Some(role) = role() {
        body(&role, child_name());
    }
}

/// The segment name handed to a child.
pub fn child_name() -> String {
    std::env::var(NAME_VAR).expect("child started without a segment name")
}

/// A command that re-runs this test binary's test `entry` (the child dispatcher) in `role`.
pub fn child(entry: &str, role: &str, name: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("current_exe"));
    cmd.args([entry, "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env(ROLE_VAR, role)
        .env(NAME_VAR, name)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Waits for `child` (with the watchdog) and panics with its stderr unless it succeeded.
pub fn expect_success(child: Child) -> Output {
    let out = wait_with_watchdog(child);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `cmd` to completion, killing it and panicking if it outlives the watchdog.
pub fn run(mut cmd: Command) -> Output {
    let child = cmd.spawn().expect("spawn child");
    wait_with_watchdog(child)
}

/// Waits for `child`, killing it and panicking if it outlives the watchdog.
pub fn wait_with_watchdog(child: Child) -> Output {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(WATCHDOG) {
        Ok(out) => out.expect("wait for child"),
        Err(_) => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("child {pid} did not finish within {WATCHDOG:?}");
        }
    }
}

/// Reads lines from `child`'s stdout until one starts with `prefix`; panics on EOF or when
/// the watchdog expires. Returns the line.
pub fn wait_for_line(child: &mut Child, prefix: &str) -> String {
    let stdout = child.stdout.take().expect("child stdout is piped");
    let prefix = prefix.to_owned();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        // Keep draining after the match, so the child never writes into a closed pipe.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if !sent && line.starts_with(&prefix) {
                let _ = tx.send(line);
                sent = true;
            }
        }
    });
    rx.recv_timeout(WATCHDOG)
        .expect("child never printed the expected line")
}

/// The `RESULT ...` line a child printed, or a panic showing everything it printed.
pub fn result_line(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT ").map(str::to_owned))
        .unwrap_or_else(|| {
            panic!(
                "child printed no RESULT line (status {:?})\nstdout:\n{stdout}\nstderr:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

/// The numbers of the `RESULT ...` line a child printed on stderr (its stdout went to
/// [`wait_for_line`]), once it exited successfully (with the watchdog).
pub fn stderr_result_numbers(child: Child) -> Vec<u64> {
    let out = wait_with_watchdog(child);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line:\n{stderr}"));
    line.split_whitespace()
        .map(|w| w.parse().expect("a number in the RESULT line"))
        .collect()
}

/// A segment name unique to this process and call.
pub fn unique_name(tag: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "shmring-test-{tag}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Unlinks a named segment when dropped, so failing tests leave nothing in /dev/shm.
#[derive(Debug)]
pub struct Unlink(pub String);

impl Drop for Unlink {
    fn drop(&mut self) {
        let _ = shmring::Segment::unlink_name(&self.0);
    }
}

/// The path of a named segment in /dev/shm.
pub fn shm_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new("/dev/shm").join(name)
}

/// Prints the outcome of an open for the parent to read: `RESULT ok <description>` or
/// `RESULT err <Variant>: <message>`.
pub fn report(result: Result<shmring::Segment, shmring::OpenError>) {
    match result {
        Ok(seg) => println!("RESULT ok {}", seg.info().description),
        Err(e) => {
            let debug = format!("{e:?}");
            let variant = debug.split([' ', '{', '(']).next().unwrap_or("");
            println!("RESULT err {variant}: {e}");
        }
    }
}

/// A small xorshift generator for random kill points, seeded from the clock and the pid
/// (the seed is printed, so a failing round can be replayed).
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator with a fresh seed.
    pub fn new() -> Rng {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let seed = now.as_nanos() as u64 ^ (u64::from(std::process::id()) << 32);
        eprintln!("rng seed {seed:#x}");
        Rng(seed | 1)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

impl Default for Rng {
    fn default() -> Rng {
        Rng::new()
    }
}

/// Every shmring-ipc transport with a fresh address for `tag` (the `shm:` ring unlinked
/// when the guard drops): for the suites that run against all of them.
pub fn endpoints(tag: &str) -> Vec<(String, Option<Unlink>)> {
    let dir = std::env::temp_dir();
    let name = unique_name(tag);
    vec![
        (format!("shm:{name}"), Some(Unlink(name.clone()))),
        (
            format!("uds:{}", dir.join(format!("{name}.sock")).display()),
            None,
        ),
        ("tcp:127.0.0.1:0".to_owned(), None),
        (
            format!("fifo:{}", dir.join(format!("{name}.fifo")).display()),
            None,
        ),
        (format!("mq:/{name}"), None),
        (format!("sysv:{:#010x}", unique_sysv_key()), None),
    ]
}

/// A System V IPC key unique to this process and call (the process id, then a counter).
pub fn unique_sysv_key() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // pid_max is at most 2^22, so bit 30 stays set: never 0.
    0x4000_0000 ^ (std::process::id() << 8) ^ (NEXT.fetch_add(1, Ordering::Relaxed) & 0xff)
}
/// Message `i` of a stream of test messages: 0 to `max_len` bytes (varying with `i`), its
/// number in the first four bytes when there is room, every byte determined by `i`.
pub fn numbered_message(i: u32, max_len: usize) -> Vec<u8> {
    let len = (i as usize * 7919) % (max_len + 1);
    let mut m: Vec<u8> = (0..len).map(|k| (k as u32 ^ i) as u8).collect();
    if len >= 4 {
        m[..4].copy_from_slice(&i.to_le_bytes());
    }
    m
}

/// The next pseudo-random wait below `bound_us` microseconds (xorshift on `seed`), for
/// tests that drop futures at random points.
pub fn random_wait(seed: &mut u64, bound_us: u64) -> Duration {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    Duration::from_micros(*seed % bound_us)
}

pub use tokio;

/// A current-thread tokio runtime with timers and I/O.
pub fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A multi-thread tokio runtime with two workers (this machine has two cores).
pub fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Awaits the first `recv_async()` of three receivers among those not yet `$done` (a
/// `[bool; 3]`), panicking if `$deadline` (a pinned sleep) fires first; evaluates to
/// `(which, result)`. The many-receivers-in-one-`select!` tests.
#[macro_export]
macro_rules! select_of_three {
    ($a:expr, $b:expr, $c:expr, $done:expr, $deadline:expr) => {
        $crate::tokio::select! {
            got = $a.recv_async(), if !$done[0] => (0usize, got),
            got = $b.recv_async(), if !$done[1] => (1usize, got),
            got = $c.recv_async(), if !$done[2] => (2usize, got),
            () = &mut $deadline => panic!("the select never finished"),
        }
    };
}

/// Awaits spawned tasks and adds up what each returns (the futures it dropped).
pub async fn total(tasks: Vec<tokio::task::JoinHandle<u32>>) -> u32 {
    let mut sum = 0;
    for task in tasks {
        sum += task.await.unwrap();
    }
    sum
}

/// The end of a test of async senders against a receiving child: no sender waiter left
/// registered on ring `name`, the last sender handle (`tx`) dropped so the child sees the
/// end, the child succeeded, and some send futures were dropped on the way.
pub fn senders_finished<S>(name: &str, tx: S, receiver: Child, dropped: u32) {
    no_waiter_left(name, false);
    drop(tx);
    expect_success(receiver);
    assert_dropped(dropped);
}

/// Asserts that a cancellation test dropped at least one future (else it proved nothing).
pub fn assert_dropped(dropped: u32) {
    assert!(
        dropped > 0,
        "no future was dropped: the test proved nothing"
    );
}

/// Awaits `$recv` (an expression making a receive future) for a random 0 to `$bound_us` µs,
/// alternately under `tokio::time::timeout` and in a `select!` against a sleep; evaluates to
/// `Some(output)`, or `None` when the future was dropped unfinished (the cancellation tests
/// of the async receivers: a dropped future must have taken nothing).
#[macro_export]
macro_rules! recv_or_drop {
    ($seed:expr, $bound_us:expr, $recv:expr) => {{
        let seed: &mut u64 = $seed;
        let wait = $crate::random_wait(seed, $bound_us);
        if *seed % 2 == 0 {
            $crate::tokio::time::timeout(wait, $recv).await.ok()
        } else {
            $crate::tokio::select! {
                got = $recv => Some(got),
                () = $crate::tokio::time::sleep(wait) => None,
            }
        }
    }};
}

/// Awaits `$send` (an expression making a send future) under random timeouts of 0 to
/// `$bound_us` µs until one completes; evaluates to how many futures were dropped on the way.
/// A dropped send future sent nothing, so the same message is sent again (the cancellation
/// tests of the async senders). A macro, not a function: the futures of spawned tasks must
/// stay `Send`, which an async closure's cannot promise yet.
#[macro_export]
macro_rules! send_despite_drops {
    ($seed:expr, $bound_us:expr, $send:expr) => {{
        let start = std::time::Instant::now();
        let mut dropped = 0u32;
        loop {
            assert!(start.elapsed() < $crate::WATCHDOG, "a send never completed");
            let wait = $crate::random_wait($seed, $bound_us);
            match tokio::time::timeout(wait, $send).await {
                Ok(Ok(())) => break dropped,
                Ok(Err(e)) => panic!("send: {e}"),
                Err(_) => dropped += 1,
            }
        }
    }};
}

/// Waits (bounded) until `shmring inspect` shows no waiter registered on ring `name`, on
/// the receiving side (`receivers`) or the sending side: a dropped future must leave none.
pub fn no_waiter_left(name: &str, receivers: bool) {
    let start = std::time::Instant::now();
    loop {
        let control = shmring::inspect::inspect(name).unwrap().control.unwrap();
        let waiting = if receivers {
            control.receiver_waiting
        } else {
            control.sender_waiting
        };
        if !waiting {
            return;
        }
        assert!(start.elapsed() < WATCHDOG, "a waiter stayed registered");
        std::thread::sleep(Duration::from_millis(1));
    }
}
