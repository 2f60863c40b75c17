//! `shmring gc` end to end. Its own test binary (cargo runs test binaries one at a time): `gc`
//! removes every dead ring in /dev/shm, so it must not run beside tests whose rings are
//! momentarily without a live process; the lock below keeps this file's two tests apart.

mod common;

use common::*;

/// Held by each test of this file: `gc` in one would remove the other's rings.
static GC: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn ls_inspect_and_gc_after_a_killed_producer() {
    let _gc = GC.lock().unwrap_or_else(|e| e.into_inner());
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
    assert!(out.contains("largest message 2040 bytes"), "{out}");
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

/// `gc` used to remove a dead ring that still held unread messages: it keeps it (saying how
/// much it holds and how to read or discard it) unless `--discard-unread`, and `--dry-run`
/// shows what would be discarded.
#[test]
fn gc_keeps_unread_messages_unless_asked() {
    let _gc = GC.lock().unwrap_or_else(|e| e.into_inner());
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

/// A `sysv:` queue whose receiver (a bridge) was SIGKILLed: `gc --dry-run` lists it with the
/// message left in it, `gc` removes the queue and its lock files; a live receiver's queue is
/// kept.
#[test]
fn gc_removes_a_killed_receivers_sysv_queue() {
    let key = shmring_ipc::sysv::key_for(&unique("gc-sysv"));
    let qid = || {
        // SAFETY: msgget takes no pointers.
        unsafe { libc::msgget(key as i32, 0) }
    };
    gc_removes_a_killed_receivers_queue(
        &format!("sysv:{key:#010x}"),
        &format!("shmring-sysv-{key:08x}"),
        &|| qid() >= 0,
        &|| {
            // A type-2 (message) queue message: mtype, then the payload.
            let mut message = shmring_ipc::sysv::TYPE_MESSAGE.to_ne_bytes().to_vec();
            message.extend_from_slice(b"left");
            // SAFETY: the buffer holds an mtype followed by 4 bytes of text.
            let r = unsafe { libc::msgsnd(qid(), message.as_ptr().cast(), 4, libc::IPC_NOWAIT) };
            assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
        },
    );
}

/// The same for an `mq:` queue.
#[test]
fn gc_removes_a_killed_receivers_mq_queue() {
    use nix::mqueue::{MQ_OFlag, mq_open, mq_send};
    let name = format!("/{}", unique("gc-mq"));
    let open = || {
        let flags = MQ_OFlag::O_WRONLY | MQ_OFlag::O_NONBLOCK;
        mq_open(name.as_str(), flags, nix::sys::stat::Mode::empty(), None)
    };
    gc_removes_a_killed_receivers_queue(
        &format!("mq:{name}"),
        &format!("shmring-mq-{}", &name[1..]),
        &|| open().is_ok(),
        &|| mq_send(&open().unwrap(), b"\x01left", 0).unwrap(),
    );
}

/// A receiver of `endpoint` (a bridge to a socket) SIGKILLed leaves its queue (`exists`) and
/// its lock files (`/dev/shm/{stem}.*`); `put` leaves a message in the queue.
fn gc_removes_a_killed_receivers_queue(
    endpoint: &str,
    stem: &str,
    exists: &dyn Fn() -> bool,
    put: &dyn Fn(),
) {
    let _gc = GC.lock().unwrap_or_else(|e| e.into_inner());
    let sock = std::env::temp_dir().join(unique("gc-queue.sock"));
    let mut bridge = spawn(
        &["bridge", endpoint, &format!("uds:{}", sock.display())],
        Stdio::null(),
        Stdio::null(),
    );
    let start = Instant::now();
    while !exists() {
        assert!(
            start.elapsed() < WATCHDOG,
            "the bridge never bound {endpoint}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let (_, out, _) = run(&["gc", "--dry-run"]);
    assert!(
        !out.contains(endpoint),
        "a live receiver's queue is kept: {out}"
    );
    bridge.kill().unwrap();
    bridge.wait().unwrap();
    put();
    let (code, out, _) = run(&["gc", "--dry-run"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains(&format!(
            "would remove {endpoint} (discarding 1 queue message)"
        )),
        "{out}"
    );
    assert!(exists(), "a dry run removes nothing");
    let (code, out, _) = run(&["gc", "--json"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["removed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == endpoint),
        "{out}"
    );
    assert!(
        v["discarded"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == endpoint && d["unread"] == "1 queue message"),
        "{out}"
    );
    assert!(!exists(), "removed");
    for file in ["receiver", "senders"] {
        let path = format!("/dev/shm/{stem}.{file}");
        assert!(!std::path::Path::new(&path).exists(), "{path} removed");
    }
}
