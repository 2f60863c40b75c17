//! End-to-end tests of the built `shmring` binary: `send | recv` across processes with every
//! byte checked, `gc` after a SIGKILLed producer, and each bad-input case with its exit code.

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;

/// Longest any child may run before the test kills it and fails.
const WATCHDOG: Duration = Duration::from_secs(60);

fn shmring() -> Command {
    Command::cargo_bin("shmring").expect("the shmring binary is built")
}

fn unique(tag: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "shmring-cli-test-{tag}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Removes the ring when dropped.
struct Unlink(String);

impl Drop for Unlink {
    fn drop(&mut self) {
        let _ = shmring::Segment::unlink_name(&self.0);
    }
}

/// Waits for `child` with the watchdog; its exit code and stdout.
fn finish(child: Child) -> (Option<i32>, Vec<u8>, String) {
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
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let child = spawn(args, Stdio::null(), Stdio::piped());
    let (code, out, err) = finish(child);
    (code, String::from_utf8_lossy(&out).into_owned(), err)
}

/// Starts `shmring ARGS` with the given stdin and stdout, stderr piped.
fn spawn(args: &[&str], stdin: Stdio, stdout: Stdio) -> Child {
    shmring()
        .args(args)
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the ring `name` exists.
fn wait_for_ring(name: &str) {
    let start = Instant::now();
    while !std::path::Path::new("/dev/shm").join(name).exists() {
        assert!(start.elapsed() < WATCHDOG, "ring {name} never appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Pseudo-random bytes (xorshift), deterministic per seed.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
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
fn pipeline(name: &str, extra: &[&str], input: Vec<u8>) -> Vec<u8> {
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

#[test]
fn lines_from_send_arrive_at_recv_byte_for_byte() {
    let name = unique("lines");
    let _u = Unlink(name.clone());
    // 20 000 lines of 0..300 random bytes other than the newline, some empty.
    let mut input = Vec::new();
    for i in 0..20_000u64 {
        let mut line = bytes(i, (i * 7919 % 301) as usize);
        line.retain(|&b| b != b'\n');
        input.extend_from_slice(&line);
        input.push(b'\n');
    }
    let out = pipeline(&name, &[], input.clone());
    assert_eq!(out.len(), input.len());
    assert!(out == input, "the lines differ");
}

#[test]
fn frames_carry_any_bytes() {
    let name = unique("frames");
    let _u = Unlink(name.clone());
    let mut input = Vec::new();
    for i in 0..5_000u64 {
        let msg = bytes(i, (i * 104_729 % 4000) as usize); // newlines included
        input.extend_from_slice(&(msg.len() as u32).to_le_bytes());
        input.extend_from_slice(&msg);
    }
    let out = pipeline(&name, &["--frames"], input.clone());
    assert!(out == input, "the frames differ");
}

#[test]
fn recv_count_stops_and_json_summarises() {
    let name = unique("count");
    let _u = Unlink(name.clone());
    let recv = spawn(
        &["--json", "recv", &name, "--create", "--count", "2"],
        Stdio::null(),
        Stdio::piped(),
    );
    wait_for_ring(&name);
    let mut send = spawn(&["send", &name], Stdio::piped(), Stdio::null());
    send.stdin.take().unwrap().write_all(b"one\ntwo\n").unwrap();
    let (code, out, err) = finish(recv);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, b"one\ntwo\n");
    let summary: serde_json::Value = serde_json::from_str(err.trim()).unwrap();
    assert_eq!(summary["messages"], 2);
    assert_eq!(summary["bytes"], 6);
    finish(send);
}

#[test]
fn ls_inspect_and_gc_after_a_killed_producer() {
    let dead = unique("gc-dead");
    let live = unique("gc-live");
    let _u1 = Unlink(dead.clone());
    let _u2 = Unlink(live.clone());
    // A producer that creates its ring, sends one line and is killed while it waits for more.
    let mut producer = shmring()
        .args(["send", &dead, "--create", "--capacity", "4096"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = producer.stdin.take().unwrap();
    stdin.write_all(b"committed\n").unwrap();
    stdin.flush().unwrap();
    wait_for_ring(&dead);
    let start = Instant::now();
    loop {
        let (_, out, _) = run(&["--json", "inspect", &dead]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        if v["control"]["fill"].as_u64() == Some(24) {
            break; // the line is in the ring
        }
        assert!(start.elapsed() < WATCHDOG, "the line never arrived: {out}");
        std::thread::sleep(Duration::from_millis(5));
    }
    producer.kill().unwrap();
    finish(producer);
    drop(stdin);
    // A ring this process holds stays.
    let holder = shmring::spsc::Sender::<u32>::create(live.as_str(), 8).unwrap();

    let (code, out, err) = run(&["ls"]);
    assert_eq!(code, Some(0), "{err}");
    let row = out
        .lines()
        .find(|l| l.starts_with(&dead))
        .expect("ls lists it");
    assert!(row.contains("framed-mpsc") && row.contains("dead"), "{row}");
    let row = out
        .lines()
        .find(|l| l.starts_with(&live))
        .expect("ls lists it");
    assert!(row.contains("spsc") && row.contains("alive"), "{row}");

    let (code, out, _) = run(&["inspect", &dead]);
    assert_eq!(code, Some(0));
    assert!(out.contains("consistency     ok"), "{out}");
    assert!(out.contains("fill            24 bytes"), "{out}");
    assert!(out.contains("sender pid"), "{out}");

    // The dead ring still holds the killed producer's messages: kept unless discarded.
    let (code, out, _) = run(&["gc", "--dry-run"]);
    assert_eq!(code, Some(0));
    assert!(out.contains(&format!("kept {dead}")), "{out}");
    let (code, out, _) = run(&["gc", "--dry-run", "--discard-unread"]);
    assert_eq!(code, Some(0));
    assert!(out.contains(&format!("would remove {dead}")), "{out}");
    assert!(!out.contains(&format!("would remove {live}")), "{out}");
    assert!(std::path::Path::new("/dev/shm").join(&dead).exists());

    let (code, out, _) = run(&["--json", "gc", "--discard-unread"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let removed: Vec<&str> = v["removed"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n.as_str())
        .collect();
    assert!(removed.contains(&dead.as_str()), "{out}");
    assert!(!removed.contains(&live.as_str()), "{out}");
    assert!(!std::path::Path::new("/dev/shm").join(&dead).exists());
    assert!(std::path::Path::new("/dev/shm").join(&live).exists());

    let (code, out, err) = run(&["rm", &live]);
    assert_eq!(code, Some(0));
    assert!(out.contains(&format!("removed {live}")), "{out}");
    assert!(err.contains("in use by pid"), "{err}");
    drop(holder);
}

#[test]
fn every_bad_input_has_its_own_exit_code() {
    let missing = unique("missing");
    // No such ring: 3, one line, no backtrace.
    for args in [
        vec!["inspect", missing.as_str()],
        vec!["rm", missing.as_str()],
        vec!["send", missing.as_str()],
        vec!["recv", missing.as_str()],
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, Some(3), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{err}"
        );
    }
    // JSON errors.
    let (code, _, err) = run(&["--json", "inspect", &missing]);
    assert_eq!(code, Some(3));
    let v: serde_json::Value = serde_json::from_str(err.trim()).unwrap();
    assert_eq!(v["exit_code"], 3);

    // Another kind of ring: 4.
    let typed = unique("typed");
    let _u = Unlink(typed.clone());
    let holder = shmring::spsc::Sender::<i32>::create(typed.as_str(), 8).unwrap();
    let (code, _, err) = run(&["send", &typed]);
    assert_eq!(code, Some(4), "{err}");
    let (code, _, err) = run(&["recv", &typed]);
    assert_eq!(code, Some(4), "{err}");
    drop(holder);

    // --create on a ring that exists opens it: one of another kind is 4 (it used to be 7,
    // "already exists", even for a ring of the right kind).
    let (code, _, err) = run(&["recv", &typed, "--create"]);
    assert_eq!(code, Some(4), "{err}");

    // A corrupt header: inspect says 5, ls marks it, rm removes it.
    let broken = unique("broken");
    let _u = Unlink(broken.clone());
    drop(shmring::spsc::Sender::<u8>::create(broken.as_str(), 8).unwrap());
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(std::path::Path::new("/dev/shm").join(&broken))
        .unwrap();
    file.write_at(b"garbage", 200).unwrap();
    let (code, _, err) = run(&["inspect", &broken]);
    assert_eq!(code, Some(5), "{err}");
    assert!(err.contains("checksum"), "{err}");
    let (_, out, _) = run(&["ls"]);
    assert!(
        out.lines()
            .any(|l| l.starts_with(&broken) && l.contains("UNREADABLE")),
        "{out}"
    );
    // A corrupt control block: inspect prints the report and exits 5.
    let skewed = unique("skewed");
    let _u = Unlink(skewed.clone());
    drop(shmring::spsc::Sender::<u8>::create(skewed.as_str(), 8).unwrap());
    let file2 = std::fs::OpenOptions::new()
        .write(true)
        .open(std::path::Path::new("/dev/shm").join(&skewed))
        .unwrap();
    file2.write_at(&77u64.to_ne_bytes(), 4096 + 128).unwrap();
    let (code, out, err) = run(&["inspect", &skewed]);
    assert_eq!(code, Some(5), "{err}");
    assert!(
        out.contains("PROBLEM") && err.contains("corrupt"),
        "{out}{err}"
    );
    let (code, _, _) = run(&["rm", &broken]);
    assert_eq!(code, Some(0));

    // Not a shmring file: rm refuses (5) and leaves it.
    let foreign = unique("foreign");
    let path = std::path::Path::new("/dev/shm").join(&foreign);
    std::fs::write(&path, vec![0xabu8; 8192]).unwrap();
    let (code, _, err) = run(&["rm", &foreign]);
    assert_eq!(code, Some(5), "{err}");
    assert!(path.exists());
    std::fs::remove_file(&path).unwrap();

    // Too large: 9; the receiver gone: 8.
    let small = unique("small");
    let _u = Unlink(small.clone());
    let rx = shmring::framed::mpsc::Receiver::create(small.as_str(), 64).unwrap();
    let mut send = spawn(&["send", &small], Stdio::piped(), Stdio::null());
    send.stdin.take().unwrap().write_all(&[b'x'; 100]).unwrap();
    let (code, _, err) = finish(send);
    assert_eq!(code, Some(9), "{err}");
    drop(rx);
    let (code, _, err) = {
        let mut send = spawn(&["send", &small], Stdio::piped(), Stdio::null());
        send.stdin.take().unwrap().write_all(b"hello\n").unwrap();
        finish(send)
    };
    assert_eq!(code, Some(8), "{err}");

    // A bad command line: 2 — also a name that is not a segment name.
    let (code, _, _) = run(&["frobnicate"]);
    assert_eq!(code, Some(2));
    let odd = unique("odd");
    let (code, _, err) = run(&["recv", &odd, "--create", "--capacity", "0"]);
    assert_eq!(code, Some(2), "a capacity below the minimum: {err}");
    for args in [["inspect", "../etc/passwd"], ["rm", "a/b"]] {
        let (code, _, err) = run(&args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
    }
}

#[test]
fn another_user_gets_permission_denied() {
    use std::os::unix::process::CommandExt;
    let name = unique("perm");
    let _u = Unlink(name.clone());
    let holder = shmring::spsc::Sender::<u8>::create(name.as_str(), 8).unwrap(); // mode 0600
    let as_nobody = |args: &[&str]| {
        let mut cmd = shmring();
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if nix::unistd::Uid::effective().is_root() {
            cmd.uid(65534).gid(65534);
        }
        finish(cmd.spawn().unwrap())
    };
    if !nix::unistd::Uid::effective().is_root() {
        // Without root, make the file unreadable even to its owner instead.
        std::fs::set_permissions(
            std::path::Path::new("/dev/shm").join(&name),
            std::os::unix::fs::PermissionsExt::from_mode(0o000),
        )
        .unwrap();
    }
    for args in [["inspect", name.as_str()], ["recv", name.as_str()]] {
        let (code, _, err) = as_nobody(&args);
        assert_eq!(code, Some(6), "{args:?}: {err}");
        assert!(err.contains("ermission"), "{err}");
    }
    // `ls` lists the ring it may not read, with its owner (it used to say "no shmring rings").
    let (code, out, err) = as_nobody(&["ls"]);
    assert_eq!(code, Some(0), "{err}");
    let out = String::from_utf8_lossy(&out).into_owned();
    let row = out
        .lines()
        .find(|l| l.starts_with(&name))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        row.contains("NO ACCESS") && row.contains("owned by uid"),
        "{row}"
    );
    drop(holder);
}

/// A tiny `bench` run end to end: peers spawned, rows measured, JSON with ratios to the
/// floor; bad options are command-line errors.
#[test]
fn bench_runs_selected_rows() {
    let (code, out, err) = run(&[
        "--json",
        "bench",
        "--rows",
        "spsc-spin,ipc-uds,ipc-shm,mq",
        "--sizes",
        "8,64",
        "--round-trips",
        "20000",
        "--secs",
        "0.05",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = v["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().filter_map(|r| r["row"].as_str()).collect();
    for want in [
        "floor (spinning cache line)",
        "shmring spsc (spin)",
        "shmring-ipc uds:",
        "shmring-ipc shm:",
        "raw POSIX mq",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert!(!names.iter().any(|n| n.contains("mpmc")), "{names:?}");
    for r in rows {
        assert!(
            ["8 B", "64 B"].contains(&r["size"].as_str().unwrap()),
            "{r}"
        );
        let measured = r["rtt_us"]["p50"]
            .as_f64()
            .or(r["throughput"]["msgs_per_s"].as_f64());
        assert!(measured.is_some_and(|m| m > 0.0), "{r}");
    }
    let floor = rows
        .iter()
        .find(|r| r["row"] == "floor (spinning cache line)" && r["size"] == "8 B")
        .unwrap();
    assert_eq!(floor["rtt_us"]["ratio_to_floor"].as_f64(), Some(1.0));

    for bad in [
        &["bench", "--rows", "nonsense"][..],
        &["bench", "--cores", "0,0"],
        &["bench", "--secs", "-1"],
    ] {
        let (code, _, err) = run(bad);
        assert_eq!(code, Some(2), "{bad:?}: {err}");
    }
}

/// `shmring recv NAME | head -1`: the reader of recv's stdout goes away; recv ends cleanly.
#[test]
fn recv_into_a_closed_pipe_ends_cleanly() {
    use std::io::{BufRead, BufReader};
    let name = unique("head");
    let _u = Unlink(name.clone());
    let mut recv = spawn(&["recv", &name, "--create"], Stdio::null(), Stdio::piped());
    wait_for_ring(&name);
    let tx = shmring::framed::mpsc::Sender::open(name.as_str()).unwrap();
    tx.send(b"first").unwrap();
    let mut first = String::new();
    BufReader::new(recv.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap(); // and the pipe's read end is dropped here
    assert_eq!(first, "first\n");
    // Keep sending until recv notices (its next flush fails).
    let start = Instant::now();
    while recv.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < WATCHDOG, "recv never ended");
        let _ = tx.try_send(b"more");
        std::thread::sleep(Duration::from_millis(1));
    }
    let (code, _, err) = finish(recv);
    assert_eq!(code, Some(0), "{err}");
}

/// A benchmark row that cannot run (here: no POSIX queues allowed) ends the run with one
/// line naming the cause and exit 1 — not a panic's backtrace.
#[test]
fn a_failing_bench_row_is_one_line() {
    use std::os::unix::process::CommandExt;
    let mut cmd = shmring();
    cmd.args(["bench", "--rows", "mq", "--sizes", "8", "--secs", "0.05"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_MSGQUEUE, 0, 0)
                .map_err(std::io::Error::from)
        });
    }
    let (code, _, err) = finish(cmd.spawn().unwrap());
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("a benchmark row failed: mq_open"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// Runs `args` with stdout going to `stdout`; exit code and stderr.
fn run_into(args: &[&str], stdout: Stdio) -> (Option<i32>, String) {
    let child = spawn(args, Stdio::null(), stdout);
    let (code, _, stderr) = finish(child);
    (code, stderr)
}

/// A pipe whose reading end is already closed: every write to it fails with `EPIPE`.
fn closed_pipe() -> Stdio {
    let (read, write) = nix::unistd::pipe().unwrap();
    drop(read);
    Stdio::from(write)
}

/// `shmring ls | head -1` and friends: a closed stdout ends the command quietly with exit 0,
/// a full device is one line and exit 1 — never a panic (exit 101, "failed printing to
/// stdout").
#[test]
fn closed_pipes_and_full_devices_never_panic() {
    let name = unique("pipes");
    let _unlink = Unlink(name.clone());
    let (code, _, err) = run(&["send", &name, "--create"]);
    assert_eq!(code, Some(0), "{err}");
    let commands: [&[&str]; 6] = [
        &["ls"],
        &["ls", "--json"],
        &["inspect", &name],
        &["inspect", &name, "--json"],
        &["gc", "--dry-run"],
        &["gc", "--dry-run", "--json"],
    ];
    for args in commands {
        let (code, err) = run_into(args, closed_pipe());
        assert_eq!(code, Some(0), "{args:?} into a closed pipe: {err}");
        assert!(err.is_empty(), "{args:?} into a closed pipe said: {err}");
        let full = std::fs::File::create("/dev/full").unwrap();
        let (code, err) = run_into(args, Stdio::from(full));
        assert_eq!(code, Some(1), "{args:?} into /dev/full: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?} into /dev/full: {err}");
        assert!(err.contains("writing stdout"), "{args:?}: {err}");
    }
}

/// `mkfifo /dev/shm/f; shmring inspect f` (and `rm f`) used to block forever, and `inspect`
/// followed symbolic links: now both are "not a shmring ring" at once (exit 5).
#[test]
fn fifos_and_links_in_dev_shm_neither_block_nor_redirect() {
    let fifo = unique("fifo");
    let link = unique("link");
    let fifo_path = std::path::Path::new("/dev/shm").join(&fifo);
    let link_path = std::path::Path::new("/dev/shm").join(&link);
    nix::unistd::mkfifo(&fifo_path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", &link_path).unwrap();
    let cleanup = || {
        let _ = std::fs::remove_file(&fifo_path);
        let _ = std::fs::remove_file(&link_path);
    };
    for (args, what) in [
        (["inspect", fifo.as_str()], "FIFO"),
        (["rm", fifo.as_str()], "FIFO"),
        (["inspect", link.as_str()], "symbolic link"),
    ] {
        let (code, _, err) = run(&args);
        if code != Some(5) || !err.contains("not a shmring ring") || !err.contains(what) {
            cleanup();
            panic!("{args:?}: exit {code:?}: {err}");
        }
    }
    let (code, out, _) = run(&["ls"]);
    cleanup();
    assert_eq!(code, Some(0));
    assert!(!out.contains(&fifo) && !out.contains(&link), "{out}");
}

/// `head -c 300000000 /dev/zero | shmring send big` used to read the whole line into memory
/// (297 MB) before refusing it; under a 256 MiB address-space limit it aborted. `send` holds at
/// most the ring's largest message: the over-long line (or a frame whose length prefix says
/// 2 GiB) is refused with exit 9 as soon as its length passes the maximum.
#[test]
fn send_memory_is_bounded_by_the_largest_message() {
    use std::os::unix::process::CommandExt;
    let name = unique("big");
    let _unlink = Unlink(name.clone());
    for frames in [false, true] {
        let mut cmd = shmring();
        cmd.args(["send", &name, "--create", "--capacity", "4096"]);
        if frames {
            cmd.arg("--frames");
        }
        // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                let limit = 256 << 20;
                nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_AS, limit, limit)
                    .map_err(std::io::Error::from)
            });
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            if frames {
                let _ = stdin.write_all(&[0xff, 0xff, 0xff, 0x7f]);
            }
            let zeros = vec![0u8; 1 << 20];
            // 300 MB, or until `send` has gone and the pipe is closed.
            let mut written = 0usize;
            while written < 300 << 20 && stdin.write_all(&zeros).is_ok() {
                written += zeros.len();
            }
            written
        });
        let (code, _, err) = finish(child);
        let written = writer.join().unwrap();
        assert_eq!(code, Some(9), "frames {frames}: {err}");
        assert!(err.contains("at most 2040 bytes"), "{err}");
        assert!(
            written < 300 << 20,
            "send read all the input ({written} bytes)"
        );
        let _ = shmring::Segment::unlink_name(&name);
    }
}

/// Sends `lines` (`1\n2\n…`) into a new ring `name` and returns once all are in it.
fn fill_with_lines(name: &str, lines: u32) {
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
fn numbers(out: &[u8]) -> Vec<u32> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| l.parse().unwrap())
        .collect()
}

/// Issue 16's scenario: `seq 1 60000 | shmring send kr --create`; `shmring recv kr | (sleep 2;
/// cat > a.txt) &`; the recv stopped by a signal after 1 s; `shmring recv kr > b.txt`. Before,
/// ~11 000 lines were in neither file (the output buffer was dropped). Now a stopped `recv`
/// writes out everything it has taken, exits 128 + the signal, and leaves the rest in the
/// ring: `a.txt` and `b.txt` together are every line once, in order.
#[test]
fn recv_stopped_by_a_signal_loses_nothing() {
    use nix::sys::signal::{Signal, kill};
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        let name = unique("stopped");
        let _unlink = Unlink(name.clone());
        fill_with_lines(&name, 60_000);
        let mut first = spawn(&["recv", &name], Stdio::null(), Stdio::piped());
        let mut stdout = first.stdout.take().unwrap();
        // The slow reader: nothing for two seconds, then everything.
        let reader = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(2));
            let mut a = Vec::new();
            std::io::Read::read_to_end(&mut stdout, &mut a).unwrap();
            a
        });
        std::thread::sleep(Duration::from_secs(1));
        kill(nix::unistd::Pid::from_raw(first.id() as i32), signal).unwrap();
        let (code, _, err) = finish(first);
        let a = reader.join().unwrap();
        assert_eq!(code, Some(128 + signal as i32), "{signal}: {err}");
        assert!(err.contains("stopped by"), "{err}");
        let (code, b, err) = run(&["recv", &name]);
        assert_eq!(code, Some(0), "{err}");
        let mut all = numbers(&a);
        assert!(!all.is_empty(), "{signal}: the first recv wrote nothing");
        all.extend(numbers(b.as_bytes()));
        assert_eq!(all, (1..=60_000).collect::<Vec<_>>(), "{signal}");
    }
}

/// `shmring recv kr | head`: the reader closes its end while `recv` is blocked writing a full
/// pipe. What `recv` had taken but not written stays in the ring: the next receiver starts
/// right after the lines that went into the pipe (at most the pipe's 64 KiB), where before the
/// fix the 64 KiB output buffer was dropped as well.
#[test]
fn recv_into_a_reader_that_goes_away_leaves_the_rest_in_the_ring() {
    let name = unique("headed");
    let _unlink = Unlink(name.clone());
    fill_with_lines(&name, 60_000);
    // Close-on-exec: the child must not hold the reading end open itself.
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let pipe_size = nix::fcntl::fcntl(&read, nix::fcntl::FcntlArg::F_GETPIPE_SZ).unwrap() as usize;
    let first = spawn(&["recv", &name], Stdio::null(), Stdio::from(write));
    // Let it fill the pipe and block on its next write, then go away unread.
    std::thread::sleep(Duration::from_secs(1));
    drop(read);
    let (code, _, err) = finish(first);
    assert_eq!(code, Some(0), "a closed stdout is a clean end: {err}");
    assert!(err.is_empty(), "{err}");
    let (code, rest, err) = run(&["recv", &name]);
    assert_eq!(code, Some(0), "{err}");
    let rest = numbers(rest.as_bytes());
    let start = rest[0];
    assert_eq!(rest, (start..=60_000).collect::<Vec<_>>());
    let written: usize = (1..start).map(|i| i.to_string().len() + 1).sum();
    assert!(
        written <= pipe_size,
        "lines 1..{start} ({written} bytes) are gone, more than the pipe holds ({pipe_size})"
    );
}

/// The README's log collection, run after run: `recv logs --create --follow` keeps receiving
/// while short-lived senders come and go; run a second time, `--create` opens the ring that
/// is still there (it used to exit 7) and a second `recv` on a ring with a live receiver is
/// exit 10. Without `--follow`, `recv` ends once every sender that attached is gone and the
/// ring is drained.
#[test]
fn a_long_lived_receiver_follows_short_lived_senders_run_after_run() {
    use nix::sys::signal::{Signal, kill};
    let name = unique("logs");
    let _unlink = Unlink(name.clone());
    for run_no in 0..2 {
        let recv = spawn(
            &["recv", &name, "--create", "--follow"],
            Stdio::null(),
            Stdio::piped(),
        );
        wait_for_ring(&name);
        let pid = recv.id();
        let receiver = std::thread::spawn(move || finish(recv));
        if run_no == 1 {
            // The ring has a live receiver: a second one is refused.
            let deadline = Instant::now() + WATCHDOG;
            loop {
                let (code, _, err) = run(&["recv", &name, "--count", "1"]);
                if code == Some(10) {
                    assert!(err.contains("already has a receiver"), "{err}");
                    break;
                }
                assert!(Instant::now() < deadline, "never refused: {code:?} {err}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let mut expected = Vec::new();
        for i in 0..5 {
            let line = format!("run {run_no} sender {i}");
            let mut send = spawn(&["send", &name, "--create"], Stdio::piped(), Stdio::null());
            send.stdin
                .take()
                .unwrap()
                .write_all(format!("{line}\n").as_bytes())
                .unwrap();
            let (code, _, err) = finish(send);
            assert_eq!(code, Some(0), "send {i}: {err}");
            expected.push(line);
            // Let the receiver see the sender gone before the next one comes.
            std::thread::sleep(Duration::from_millis(30));
        }
        // Everything is delivered before the stop.
        std::thread::sleep(Duration::from_millis(200));
        kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGINT).unwrap();
        let (code, out, err) = receiver.join().unwrap();
        assert_eq!(code, Some(130), "{err}");
        let got: Vec<String> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(got, expected, "run {run_no}");
    }
    // Without --follow: ends when the senders are gone and the ring is drained.
    let (code, _, err) = run(&["send", &name]);
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = run(&["recv", &name]);
    assert_eq!(code, Some(0), "{err}");
}

/// `rm a1 missing a2` used to remove a1 and never try a2: every name is handled and reported,
/// and the exit code is the worst (3, no such ring). A name that is not a shmring ring is
/// refused (5) unless `--force`, as `gc` advises for it.
#[test]
fn rm_handles_every_name_and_forces_foreign_files() {
    let (a1, a2, missing, foreign) = (
        unique("rm-a1"),
        unique("rm-a2"),
        unique("rm-missing"),
        unique("rm-foreign"),
    );
    let _u = [
        Unlink(a1.clone()),
        Unlink(a2.clone()),
        Unlink(foreign.clone()),
    ];
    for n in [&a1, &a2] {
        drop(shmring::spsc::Sender::<u8>::create(n.as_str(), 8).unwrap());
    }
    let (code, out, err) = run(&["rm", &a1, &missing, &a2]);
    assert_eq!(code, Some(3), "{out}{err}");
    assert!(
        out.contains(&format!("removed {a1}")) && out.contains(&format!("removed {a2}")),
        "{out}"
    );
    let failures: Vec<&str> = err.lines().filter(|l| !l.contains("note:")).collect();
    assert!(
        failures.len() == 1 && failures[0].contains(&missing),
        "{err}"
    );
    std::fs::write(std::path::Path::new("/dev/shm").join(&foreign), b"abc").unwrap();
    let (code, _, err) = run(&["rm", &foreign]);
    assert_eq!(code, Some(5), "{err}");
    assert!(err.contains("rm --force"), "{err}");
    let (code, out, err) = run(&["rm", "--force", &foreign]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains(&format!("removed {foreign}")), "{out}");
}

/// Usage errors answer in JSON when `--json` was given; `inspect` shows the creation time as a
/// date; a name with a newline stays on one line of the `ls` table (escaped).
#[test]
fn json_usage_errors_dates_and_odd_names() {
    let (code, _, err) = run(&["--json", "recv"]);
    assert_eq!(code, Some(2));
    let v: serde_json::Value = serde_json::from_str(err.trim()).expect("one JSON line");
    assert_eq!(v["exit_code"], 2);
    assert!(v["error"].as_str().unwrap().contains("<NAME>"), "{err}");

    let name = format!("{}\nsecond-line", unique("odd"));
    let _unlink = Unlink(name.clone());
    let (code, _, err) = run(&["send", &name, "--create"]);
    assert_eq!(code, Some(0), "{err}");
    let (_, out, _) = run(&["ls"]);
    let escaped = name.replace('\n', "\\n");
    assert!(
        out.lines().any(|l| l.starts_with(&escaped)),
        "no line starts with {escaped}: {out}"
    );
    assert!(!out.lines().any(|l| l.starts_with("second-line")), "{out}");
    let (code, out, _) = run(&["inspect", &name]);
    assert_eq!(code, Some(0));
    let created = out.lines().find(|l| l.starts_with("created")).unwrap();
    let date = created.trim_start_matches("created").trim();
    // 2026-12-05 14:36:12.858 UTC
    assert!(
        date.len() == 27 && date.ends_with(" UTC") && date.as_bytes()[4] == b'-',
        "{created}"
    );
}

/// `shmring completions bash|zsh|fish` print a script that names every subcommand (the bash
/// one is valid bash).
#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = run(&["completions", shell]);
        assert_eq!(code, Some(0), "{shell}: {err}");
        for sub in ["bench", "inspect", "gc", "send", "recv", "completions"] {
            assert!(out.contains(sub), "{shell} completions lack {sub}");
        }
        if shell == "bash" {
            let mut check = Command::new("bash")
                .args(["-n"])
                .stdin(Stdio::piped())
                .spawn()
                .unwrap();
            check
                .stdin
                .take()
                .unwrap()
                .write_all(out.as_bytes())
                .unwrap();
            assert!(
                check.wait().unwrap().success(),
                "bash -n refused the script"
            );
        }
    }
    let (code, _, _) = run(&["completions", "tcsh"]);
    assert_eq!(code, Some(2));
}

/// `gc` used to remove a dead ring that still held unread messages: it keeps it (saying how
/// much it holds and how to read or discard it) unless `--discard-unread`, and `--dry-run`
/// shows what would be discarded.
#[test]
fn gc_keeps_unread_messages_unless_asked() {
    let name = unique("gc-unread");
    let _unlink = Unlink(name.clone());
    // A ring whose every process is gone, holding three messages: made by a child process.
    let mut send = spawn(&["send", &name, "--create"], Stdio::piped(), Stdio::null());
    send.stdin.take().unwrap().write_all(b"a\nb\nc\n").unwrap();
    let (code, _, err) = finish(send);
    assert_eq!(code, Some(0), "{err}");
    let (code, out, _) = run(&["gc"]);
    assert_eq!(code, Some(0));
    let kept = out
        .lines()
        .find(|l| l.contains(&name))
        .unwrap_or_default()
        .to_owned();
    assert!(
        kept.starts_with("kept") && kept.contains("unread") && kept.contains("--discard-unread"),
        "{out}"
    );
    let (_, out, _) = run(&["gc", "--dry-run", "--discard-unread"]);
    assert!(
        out.lines().any(
            |l| l.starts_with(&format!("would remove {name} (discarding"))
                && l.contains("unread bytes")
        ),
        "{out}"
    );
    let (code, out, _) = run(&["gc", "--discard-unread"]);
    assert_eq!(code, Some(0));
    assert!(out.contains(&format!("removed {name}")), "{out}");
}

/// Every subcommand's `--help` ends with examples; `--mode` sets a created ring's permissions
/// exactly (an invalid mode is a usage error).
#[test]
fn help_has_examples_and_create_takes_a_mode() {
    for sub in [
        "bench",
        "ls",
        "inspect",
        "rm",
        "gc",
        "send",
        "recv",
        "completions",
    ] {
        let (code, out, _) = run(&[sub, "--help"]);
        assert_eq!(code, Some(0), "{sub}");
        let examples = out
            .rfind("Examples:")
            .unwrap_or_else(|| panic!("{sub}: {out}"));
        assert!(
            out[examples..].contains(&format!("shmring {sub}"))
                || out[examples..].contains("| shmring"),
            "{sub}: {out}"
        );
    }
    let name = unique("mode");
    let _unlink = Unlink(name.clone());
    let (code, _, err) = run(&["send", &name, "--create", "--mode", "640"]);
    assert_eq!(code, Some(0), "{err}");
    let mode = std::fs::metadata(std::path::Path::new("/dev/shm").join(&name))
        .unwrap()
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o640
    );
    let (code, _, err) = run(&["send", &name, "--create", "--mode", "999"]);
    assert_eq!(code, Some(2), "{err}");
}
