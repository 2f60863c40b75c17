//! `sysv:` specifics beyond the conformance suite (which runs over it like every transport):
//! keys and `ftok` paths, the system's limits named in errors, permissions, a full queue with
//! `IPC_NOWAIT`, the queue removed with its receiver, and an abandoned queue (its receiver
//! SIGKILLed) found and removed as `shmring gc` does — and a new receiver of the key taking
//! it over.

use shmring_test_support as common;

use std::time::{Duration, Instant};

use common::{child, unique_name, wait_for_line};
use shmring_ipc::sysv::key_for as sysv_key;
use shmring_ipc::{ConnectError, Options, Receiver, RecvTimeoutError, Sender, TrySendError};

/// The queue of `key` (its id), if it exists.
fn queue(key: u32) -> Option<i32> {
    // SAFETY: msgget takes no pointers.
    let qid = unsafe { libc::msgget(key as i32, 0) };
    (qid >= 0).then_some(qid)
}

/// The permission bits of queue `qid`.
fn mode(qid: i32) -> u32 {
    // SAFETY: a zeroed msqid_ds for IPC_STAT to fill.
    let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: `ds` is valid for writing for the call's duration.
    assert_eq!(unsafe { libc::msgctl(qid, libc::IPC_STAT, &mut ds) }, 0);
    u32::from(ds.msg_perm.mode) & 0o777
}

fn limit(name: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/sys/kernel/{name}"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn child_entry() {
    common::run_child(|role, endpoint| match role {
        // Binds the endpoint, says so, and waits to be killed.
        "receiver" => {
            let _rx = Receiver::bind(&endpoint).unwrap();
            println!("READY");
            std::thread::sleep(common::WATCHDOG);
        }
        other => panic!("unknown role {other}"),
    });
}

#[test]
fn keys_and_paths_name_queues() {
    for bad in [
        "sysv:0",
        "sysv:x",
        "sysv:0x1ffffffff",
        "sysv:relative/path",
        "sysv:-",
    ] {
        let err = Receiver::bind(bad).unwrap_err();
        assert!(
            matches!(err, ConnectError::BadEndpoint { .. }),
            "{bad}: {err}"
        );
    }
    // A path through ftok: the same file, the same queue, from both sides.
    let path = std::env::temp_dir().join(unique_name("sysv-ftok"));
    std::fs::write(&path, b"").unwrap();
    let endpoint = format!("sysv:{}", path.display());
    let mut rx = Receiver::bind(&endpoint).unwrap();
    let mut tx = Sender::connect(&endpoint).unwrap();
    tx.send(b"through ftok").unwrap();
    assert_eq!(rx.recv().unwrap(), b"through ftok");
    drop((tx, rx));
    std::fs::remove_file(&path).unwrap();
    let err = Receiver::bind(&endpoint).unwrap_err();
    assert!(err.to_string().contains("ftok"), "{err}");
    // Decimal and hexadecimal keys name the same queue.
    let key = sysv_key(&unique_name("sysv-key")) & 0x7fff_ffff;
    let mut rx = Receiver::bind(&format!("sysv:{key}")).unwrap();
    let mut tx = Sender::connect(&format!("sysv:{key:#x}")).unwrap();
    tx.send(b"k").unwrap();
    assert_eq!(rx.recv().unwrap(), b"k");
}

#[test]
fn limits_are_read_and_named() {
    let msgmax = limit("msgmax");
    let endpoint = format!("sysv:{:#x}", sysv_key(&unique_name("sysv-limit")));
    let err = Receiver::bind_with(
        &endpoint,
        &Options::default().max_message(msgmax as u32 + 1),
    )
    .unwrap_err();
    assert!(matches!(err, ConnectError::Limit { .. }), "{err}");
    assert!(
        err.to_string().contains("msgmax") && err.to_string().contains(&msgmax.to_string()),
        "{err}"
    );
    // By default the largest message is msgmax (within msgmnb).
    let rx = Receiver::bind(&endpoint).unwrap();
    assert_eq!(rx.max_message() as u64, msgmax.min(limit("msgmnb")));
    let mut tx = Sender::connect(&endpoint).unwrap();
    assert_eq!(tx.max_message(), rx.max_message());
    let too_long = vec![0u8; rx.max_message() + 1];
    assert!(matches!(
        tx.try_send(&too_long),
        Err(TrySendError::TooLarge { .. })
    ));
}

#[test]
fn permissions_are_0600_by_default_and_as_asked() {
    let key = sysv_key(&unique_name("sysv-mode"));
    let endpoint = format!("sysv:{key:#x}");
    let rx = Receiver::bind(&endpoint).unwrap();
    assert_eq!(mode(queue(key).unwrap()), 0o600);
    drop(rx);
    let _rx = Receiver::bind_with(&endpoint, &Options::default().mode(0o660)).unwrap();
    assert_eq!(mode(queue(key).unwrap()), 0o660);
}

#[test]
fn a_full_queue_is_full_with_ipc_nowait_then_drains() {
    let endpoint = format!("sysv:{:#x}", sysv_key(&unique_name("sysv-full")));
    let mut rx = Receiver::bind_with(&endpoint, &Options::default().max_message(1000)).unwrap();
    let mut tx = Sender::connect(&endpoint).unwrap();
    let msg = vec![7u8; 1000];
    let mut sent = 0u32;
    loop {
        match tx.try_send(&msg) {
            Ok(()) => sent += 1,
            Err(TrySendError::Full) => break,
            Err(e) => panic!("{e}"),
        }
        assert!(sent < 1_000_000, "never full");
    }
    assert!(
        u64::from(sent) * 1000 <= limit("msgmnb"),
        "{sent} in the queue"
    );
    assert_eq!(
        tx.send_timeout(&msg, Duration::from_millis(20)),
        Err(shmring_ipc::SendTimeoutError::Timeout)
    );
    // A blocked sender goes on as soon as the receiver takes one.
    let t = std::thread::spawn(move || {
        tx.send(b"after").unwrap();
        tx
    });
    std::thread::sleep(Duration::from_millis(20));
    for _ in 0..sent {
        assert_eq!(rx.recv().unwrap(), msg);
    }
    assert_eq!(rx.recv().unwrap(), b"after");
    drop(t.join().unwrap());
    assert_eq!(
        rx.recv_timeout(common::WATCHDOG),
        Err(RecvTimeoutError::Disconnected)
    );
}

#[test]
fn the_queue_goes_with_its_receiver() {
    let key = sysv_key(&unique_name("sysv-gone"));
    let endpoint = format!("sysv:{key:#x}");
    let rx = Receiver::bind(&endpoint).unwrap();
    let mut tx = Sender::connect(&endpoint).unwrap();
    assert!(queue(key).is_some());
    drop(rx);
    assert!(queue(key).is_none(), "removed with its receiver");
    assert!(matches!(tx.try_send(b"x"), Err(TrySendError::Disconnected)));
    assert!(matches!(
        Sender::connect(&endpoint),
        Err(ConnectError::NotFound { .. })
    ));
}

#[test]
fn a_killed_receivers_queue_is_abandoned_then_removed_or_taken_over() {
    let key = sysv_key(&unique_name("sysv-killed"));
    let endpoint = format!("sysv:{key:#x}");
    for take_over in [false, true] {
        let mut c = child("child_entry", "receiver", &endpoint).spawn().unwrap();
        wait_for_line(&mut c, "READY");
        assert!(
            !shmring_ipc::sysv::abandoned()
                .iter()
                .any(|a| a.key as u32 == key),
            "a live receiver's queue is not abandoned"
        );
        c.kill().unwrap();
        c.wait().unwrap();
        let found = shmring_ipc::sysv::abandoned();
        assert!(
            found.iter().any(|a| a.key as u32 == key && a.queue),
            "{found:?}"
        );
        assert!(matches!(
            Sender::connect(&endpoint),
            Err(ConnectError::NoReceiver { .. })
        ));
        if take_over {
            // A new receiver of the key replaces the stale queue.
            let mut rx = Receiver::bind(&endpoint).unwrap();
            let mut tx = Sender::connect(&endpoint).unwrap();
            tx.send(b"fresh").unwrap();
            assert_eq!(rx.recv().unwrap(), b"fresh");
        } else {
            assert!(shmring_ipc::sysv::remove(key as i32));
            assert!(queue(key).is_none());
            assert!(
                !shmring_ipc::sysv::abandoned()
                    .iter()
                    .any(|a| a.key as u32 == key)
            );
        }
    }
}

#[test]
fn a_blocking_receive_ends_at_its_deadline() {
    let endpoint = format!("sysv:{:#x}", sysv_key(&unique_name("sysv-deadline")));
    let mut rx = Receiver::bind(&endpoint).unwrap();
    let _tx = Sender::connect(&endpoint).unwrap();
    let start = Instant::now();
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(30)),
        Err(RecvTimeoutError::Timeout)
    );
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(30), "{took:?}");
}

/// Sends a raw queue message of type `mtype` with `text` to the queue of `key`.
fn raw_send(key: u32, mtype: libc::c_long, text: &[u8]) {
    let mut buf = mtype.to_ne_bytes().to_vec();
    buf.extend_from_slice(text);
    let qid = queue(key).unwrap();
    // SAFETY: `buf` is an mtype then `text.len()` bytes of text.
    let rc = unsafe { libc::msgsnd(qid, buf.as_ptr().cast(), text.len(), libc::IPC_NOWAIT) };
    assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
}

#[test]
fn foreign_queue_messages_are_protocol_errors_never_messages() {
    // An unknown message type, and a message over the receiver's maximum, each to a fresh
    // receiver; a stray wake-up (type 3) is skipped.
    for (mtype, len, what) in [(9, 4, "queue message type"), (2, 101, "exceeds")] {
        let key = sysv_key(&unique_name("sysv-foreign"));
        let endpoint = format!("sysv:{key:#x}");
        let mut rx = Receiver::bind_with(&endpoint, &Options::default().max_message(100)).unwrap();
        let _tx = Sender::connect(&endpoint).unwrap();
        raw_send(key, shmring_ipc::sysv::TYPE_WAKE, &[]);
        raw_send(key, mtype, &vec![1u8; len]);
        assert_eq!(rx.try_recv(), Err(shmring_ipc::TryRecvError::Corrupted));
        let why = rx
            .protocol_error()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(why.contains(what), "{mtype}: {why}");
    }
}

#[test]
fn a_queue_shmring_did_not_make_is_left_alone() {
    let key = sysv_key(&unique_name("sysv-foreign-queue"));
    // SAFETY: msgget takes no pointers.
    let qid = unsafe { libc::msgget(key as i32, libc::IPC_CREAT | libc::IPC_EXCL | 0o600) };
    assert!(qid >= 0);
    let endpoint = format!("sysv:{key:#x}");
    let err = Receiver::bind(&endpoint).unwrap_err();
    assert!(matches!(err, ConnectError::PeerRefused { .. }), "{err}");
    assert!(err.to_string().contains("ipcrm -q"), "{err}");
    // A sender finds no shmring receiver there (and leaves the queue alone too).
    assert!(matches!(
        Sender::connect(&endpoint),
        Err(ConnectError::NoReceiver { .. })
    ));
    assert_eq!(queue(key), Some(qid), "untouched");
    // Nor does `shmring gc`'s sweep count it as one of ours.
    assert!(
        !shmring_ipc::sysv::abandoned()
            .iter()
            .any(|a| a.key as u32 == key)
    );
    shmring_ipc::sysv::remove(key as i32);
    assert_eq!(queue(key), Some(qid), "still untouched");
    let err = Receiver::bind(&endpoint).unwrap_err();
    assert!(
        matches!(err, ConnectError::PeerRefused { .. }),
        "still refused: {err}"
    );
    // SAFETY: IPC_RMID takes no buffer.
    unsafe { libc::msgctl(qid, libc::IPC_RMID, std::ptr::null_mut()) };
    let _ = std::fs::remove_file(format!("/dev/shm/shmring-sysv-{key:08x}.receiver"));
    let _ = std::fs::remove_file(format!("/dev/shm/shmring-sysv-{key:08x}.senders"));
    let mut rx = Receiver::bind(&endpoint).unwrap();
    let mut tx = Sender::connect(&endpoint).unwrap();
    tx.send(b"ours now").unwrap();
    assert_eq!(rx.recv().unwrap(), b"ours now");
}
