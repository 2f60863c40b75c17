//! `shmring send` and `recv` end to end: every byte across processes, signals, closed pipes,
//! bounded memory, followers and killed senders.

mod common;

use common::*;

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
        // The ring outlives a run: wait for this run's receiver itself to hold it, or a probe
        // below could take the receiver's role first and make it fail.
        wait_for_receiver(&name, pid);
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

/// Waits until process `pid` is the live receiver of ring `name` (as `inspect` reports).
fn wait_for_receiver(name: &str, pid: u32) {
    wait_for_inspect(name, &format!("pid {pid} never became the receiver"), |v| {
        v["participants"].as_array().is_some_and(|ps| {
            ps.iter()
                .any(|p| p["role"] == "receiver" && p["pid"] == pid && p["liveness"] == "alive")
        })
    });
}

/// Waits until `until` holds of `shmring --json inspect NAME`'s output (`what` says what
/// never happened when the watchdog fires).
fn wait_for_inspect(name: &str, what: &str, until: impl Fn(&serde_json::Value) -> bool) {
    let start = Instant::now();
    loop {
        let (_, out, _) = run(&["--json", "inspect", name]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        if until(&v) {
            return;
        }
        assert!(start.elapsed() < WATCHDOG, "{what}: {out}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until ring `name` holds `fill` bytes (as `inspect` reports).
fn wait_for_fill(name: &str, fill: u64) {
    wait_for_inspect(name, &format!("fill never reached {fill}"), |v| {
        v["control"]["fill"].as_u64() == Some(fill)
    });
}

/// Waits until the receiver of ring `name` has taken everything up to byte `position` (its
/// consumed word, docs/layout.md: the published `head` may lag it).
fn wait_for_taken(name: &str, position: u64) {
    wait_for_inspect(name, &format!("never taken to {position}"), |v| {
        v["control"]["consumed"].as_u64() >= Some(position)
    });
}

/// `recv` used to exit 0 when its sender had been SIGKILLed, as if every sender had closed.
/// Now the end of a stream whose sender was killed is exit 11 (the messages sent before the
/// kill are all delivered), `inspect` counts the dead sender, and `recv --follow` warns on
/// stderr and goes on. A ring a hostile write corrupted stops `recv` with exit 5 after
/// writing out every whole message before the damage.
#[test]
fn recv_tells_a_killed_sender_and_a_corrupt_ring_apart_from_a_clean_end() {
    let name = unique("killed-sender");
    let _unlink = Unlink(name.clone());
    // Two lines (8-byte record header + payload, rounded to 8: 16 bytes each) in the ring,
    // then the sender is killed while it waits for more input.
    let mut send = spawn(
        &["send", &name, "--create", "--capacity", "4096"],
        Stdio::piped(),
        Stdio::null(),
    );
    let mut stdin = send.stdin.take().unwrap();
    stdin.write_all(b"one\ntwo\n").unwrap();
    stdin.flush().unwrap();
    wait_for_ring(&name);
    wait_for_fill(&name, 32);
    send.kill().unwrap();
    finish(send);
    drop(stdin);
    let (code, out, err) = run(&["recv", &name]);
    assert_eq!(code, Some(11), "{err}");
    assert_eq!(out, "one\ntwo\n");
    assert!(
        err.contains("killed or crashed") && err.contains(&name),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let (_, out, _) = run(&["--json", "inspect", &name]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["control"]["dead_senders"], 1, "{out}");
    // A clean sender afterwards: exit 0 again (only deaths while recv ran count).
    let (code, _, err) = run(&["send", &name]);
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = run(&["recv", &name]);
    assert_eq!(code, Some(0), "{err}");

    // --follow: a warning line per death, and it keeps receiving.
    let recv = spawn(&["recv", &name, "--follow"], Stdio::null(), Stdio::piped());
    let pid = recv.id();
    let receiver = std::thread::spawn(move || finish(recv));
    let mut send = spawn(&["send", &name], Stdio::piped(), Stdio::null());
    let mut stdin = send.stdin.take().unwrap();
    stdin.write_all(b"before\n").unwrap();
    stdin.flush().unwrap();
    wait_for_taken(&name, 48); // "before" is taken
    send.kill().unwrap();
    finish(send);
    drop(stdin);
    let mut after = spawn(&["send", &name], Stdio::piped(), Stdio::null());
    after.stdin.take().unwrap().write_all(b"after\n").unwrap();
    assert_eq!(finish(after).0, Some(0));
    wait_for_taken(&name, 64); // "after" is taken
    std::thread::sleep(Duration::from_millis(300));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let (code, out, err) = receiver.join().unwrap();
    assert_eq!(code, Some(130), "{err}");
    assert_eq!(String::from_utf8_lossy(&out), "before\nafter\n");
    assert!(err.contains("died without closing"), "{err}");

    // A record header overwritten with garbage: exit 5, the whole messages before it out.
    let corrupt = unique("corrupt-record");
    let _unlink = Unlink(corrupt.clone());
    let (code, _, err) = run(&["send", &corrupt, "--create", "--capacity", "4096"]);
    assert_eq!(code, Some(0), "{err}");
    let mut send = spawn(&["send", &corrupt], Stdio::piped(), Stdio::null());
    send.stdin
        .take()
        .unwrap()
        .write_all(b"whole\nbroken\n")
        .unwrap();
    assert_eq!(finish(send).0, Some(0));
    // docs/layout.md: header 4096 bytes, framed-mpsc data at area offset 9216; "whole" is a
    // 16-byte record, so the second record's header word is at 4096 + 9216 + 16.
    let second = 4096 + 9216 + 16;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(std::path::Path::new("/dev/shm").join(&corrupt))
        .unwrap();
    std::os::unix::fs::FileExt::write_at(&file, &u64::MAX.to_le_bytes(), second).unwrap();
    let (code, out, err) = run(&["recv", &corrupt]);
    assert_eq!(code, Some(5), "{err}");
    assert_eq!(out, "whole\n");
    assert!(err.contains("corrupt") && err.contains(&corrupt), "{err}");
}

/// A sender that comes while the ring is between receivers (the last one left, the next has
/// not attached yet — the README's log collection run a second time) used to exit 8 at once
/// and lose its input. Now it waits for the next receiver, as a writer opening a FIFO waits
/// for a reader, and delivers everything to it; with `--wait` it gives up after that long.
#[test]
fn send_waits_for_the_next_receiver() {
    let name = unique("between");
    let _unlink = Unlink(name.clone());
    // A receiver came and went.
    let rx = shmring::framed::mpsc::Receiver::create(name.as_str(), 4096).unwrap();
    drop(rx);
    let mut send = spawn(&["send", &name], Stdio::piped(), Stdio::null());
    send.stdin
        .take()
        .unwrap()
        .write_all(b"first\nsecond\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(send.try_wait().unwrap().is_none(), "send gave up");
    let (code, out, err) = run(&["recv", &name, "--count", "2"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "first\nsecond\n");
    let (code, _, err) = finish(send);
    assert_eq!(code, Some(0), "{err}");
    // With --wait, exit 8 once it has waited that long, naming the option.
    let (code, _, err) = {
        let mut send = spawn(
            &["send", &name, "--wait", "0.3"],
            Stdio::piped(),
            Stdio::null(),
        );
        send.stdin.take().unwrap().write_all(b"third\n").unwrap();
        finish(send)
    };
    assert_eq!(code, Some(8), "{err}");
    assert!(err.contains("--wait 0.3") && err.contains(&name), "{err}");
}

/// `send --create --broadcast`: every `recv` attached gets every line (two followers at
/// once), a late `recv --from-oldest` gets the history the ring holds, and `--from-oldest` on
/// a ring that is not a broadcast one is refused (exit 2).
#[test]
fn a_broadcast_ring_gives_every_line_to_every_recv() {
    let name = unique("broadcast");
    let _u = Unlink(name.clone());
    // Created first (nothing sent), so both followers attach before the first line.
    let (code, _, err) = run(&["send", &name, "--create", "--broadcast"]);
    assert_eq!(code, Some(0), "{err}");
    let followers: Vec<_> = (0..2)
        .map(|_| {
            spawn(
                &["recv", &name, "--count", "1000"],
                Stdio::null(),
                Stdio::piped(),
            )
        })
        .collect();
    // Each follower announces its cursor in the ring's table as it attaches.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while shmring::inspect::inspect(&name)
        .unwrap()
        .participants
        .iter()
        .filter(|p| p.position.is_some())
        .count()
        < 2
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the receivers never attached"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let input: Vec<u8> = (0..1000)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    let mut send = spawn(&["send", &name], Stdio::piped(), Stdio::null());
    send.stdin.take().unwrap().write_all(&input).unwrap();
    let (code, _, err) = finish(send);
    assert_eq!(code, Some(0), "{err}");
    for f in followers {
        let (code, out, err) = finish(f);
        assert_eq!(code, Some(0), "{err}");
        assert!(out == input, "a receiver missed or reordered lines");
    }
    // The history: the ring (1 MiB, 16 384 cells) still holds all 1 000 lines.
    let (code, out, err) = run(&["recv", &name, "--from-oldest", "--count", "1000"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.as_bytes() == input, "the history differs");

    let plain = unique("not-broadcast");
    let _v = Unlink(plain.clone());
    let (code, _, err) = run(&["recv", &plain, "--create", "--from-oldest", "--count", "1"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--from-oldest is for broadcast rings"),
        "{err}"
    );
}
