//! `shmring ls`, `inspect`, `rm` end to end, and each bad-input case with its exit code (`gc`
//! has its own file: it removes other tests' dead rings).

mod common;

use common::*;
use std::os::unix::fs::FileExt;

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
        let mut send = spawn(
            &["send", &small, "--wait", "0.2"],
            Stdio::piped(),
            Stdio::null(),
        );
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

/// Issue 16, finding 6: the command's errors used to speak the library ("use open_or_create
/// … Segment::unlink", "raise SegmentOptions::init_timeout", "an spsc ring has one sender",
/// "truncated … something shrank it" for a 3-byte foreign file, `--capacity 63` → "invalid
/// configuration for ring \"\""). Each now names the ring, the cause and a command to run,
/// and no message names a library call.
#[test]
fn errors_name_the_ring_the_cause_and_a_command() {
    let library_words = [
        "open_or_create",
        "Segment::",
        "SegmentOptions",
        "init_timeout",
        "spsc ring has one",
        "Location::",
    ];
    let check = |args: &[&str], code: i32, words: &[&str]| {
        let (got, _, err) = run(args);
        assert_eq!(got, Some(code), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        for w in words {
            assert!(err.contains(w), "{args:?}: {w:?} missing from {err}");
        }
        for w in library_words {
            assert!(!err.contains(w), "{args:?}: names {w:?}: {err}");
        }
    };
    let missing = unique("nowhere");
    check(
        &["send", &missing],
        3,
        &[&missing, "--create", "shmring ls"],
    );
    check(&["recv", &missing], 3, &[&missing, "--create", "--wait"]);
    check(&["inspect", &missing], 3, &[&missing, "shmring ls"]);

    // A 3-byte foreign file: not a ring, and how to remove it.
    let three = unique("three");
    let path = std::path::Path::new("/dev/shm").join(&three);
    std::fs::write(&path, b"abc").unwrap();
    let _u = Unlink(three.clone());
    for cmd in ["send", "recv"] {
        check(
            &[cmd, &three],
            5,
            &[
                &three,
                "not a shmring ring",
                "3 bytes",
                "shmring rm --force",
            ],
        );
    }
    check(
        &["inspect", &three],
        5,
        &[&three, "not a readable shmring ring", "shmring rm --force"],
    );

    // Another kind: 4, naming both kinds and `shmring rm`.
    let typed = unique("kind");
    let _u = Unlink(typed.clone());
    let holder = shmring::spsc::Sender::<i32>::create(typed.as_str(), 8).unwrap();
    check(
        &["recv", &typed],
        4,
        &[&typed, "spsc", "framed-mpsc", "shmring rm"],
    );
    drop(holder);

    // Capacities: named as the option, with a value that works.
    let new = unique("cap");
    let _u = Unlink(new.clone());
    check(
        &["send", &new, "--create", "--capacity", "63"],
        2,
        &["--capacity 63", "64"],
    );
    check(
        &["send", &new, "--create", "--capacity", "100"],
        2,
        &["--capacity 100", "not a power of two", "128"],
    );
    check(
        &["send", &new, "--create", "--capacity", "0"],
        2,
        &["--capacity 0", "64"],
    );
    check(
        &["send", &new, "--create", "--capacity", "2199023255552"],
        2,
        &["--capacity 2199023255552", "1099511627776"],
    );
    assert!(!std::path::Path::new("/dev/shm").join(&new).exists());

    // A second receiver on a framed many-producer ring: 10 (it used to be 1, "an spsc ring has
    // one sender and one receiver … use an mpmc ring").
    let logs = unique("one-receiver");
    let _u = Unlink(logs.clone());
    let rx = shmring::framed::mpsc::Receiver::create(logs.as_str(), 4096).unwrap();
    check(
        &["recv", &logs],
        10,
        &[&logs, "already has a receiver", "stop that process"],
    );
    drop(rx);
}

/// A broadcast ring in `inspect` (text and JSON), `ls` and `top --once`: its kind, its policy,
/// and each receiver's position and lag.
#[test]
fn broadcast_rings_show_policy_and_each_receivers_lag() {
    let name = unique("broadcast");
    let _u = Unlink(name.clone());
    let mut tx = shmring::broadcast::Sender::<u64>::options()
        .policy(shmring::broadcast::Policy::Overwrite)
        .create(name.as_str(), 16)
        .unwrap();
    let mut rx = shmring::broadcast::Receiver::<u64>::open(name.as_str()).unwrap();
    for i in 0..5 {
        tx.send(i).unwrap();
    }
    // A receiver announces its position once a quarter ring (4 of 16) is read.
    for i in 0..4 {
        assert_eq!(rx.recv(), Ok(i));
    }
    let (code, out, err) = run(&["inspect", &name]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("kind            broadcast"), "{out}");
    assert!(out.contains("policy          overwrite"), "{out}");
    assert!(out.contains("receiver pid"), "{out}");
    assert!(out.contains("at 4, lag 1"), "{out}");
    let (code, out, err) = run(&["--json", "inspect", &name]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kind"], "broadcast");
    assert_eq!(v["policy"], "overwrite");
    let receiver = v["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["role"] == "receiver")
        .unwrap();
    assert_eq!(
        (receiver["position"].as_u64(), receiver["lag"].as_u64()),
        (Some(4), Some(1))
    );
    let (code, out, _) = run(&["ls"]);
    assert_eq!(code, Some(0));
    assert!(
        out.lines()
            .any(|l| l.contains(&name) && l.contains("broadcast")),
        "{out}"
    );
    let (code, out, _) = run(&["top", "--once"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("at 4, lag 1"), "{out}");
}
