//! Helpers for tests that run real processes: the test binary re-executes itself in a child
//! role, every wait is bounded by a watchdog, and segment names are unique and cleaned up.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

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
    ]
}

/// The next pseudo-random wait below `bound_us` microseconds (xorshift on `seed`), for
/// tests that drop futures at random points.
pub fn random_wait(seed: &mut u64, bound_us: u64) -> Duration {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    Duration::from_micros(*seed % bound_us)
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
