//! One conformance suite, run against every transport across real processes: message
//! boundaries (0 bytes to the maximum) and order, a large burst, disconnection in both
//! directions, timeouts, too-large messages on both sides, and a sender killed in the middle of
//! a message.

use shmring_test_support as common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{child, endpoints, unique_name, wait_for_line, wait_with_watchdog};
use shmring_ipc::{
    Options, Receiver, RecvError, RecvTimeoutError, SendError, SendTimeoutError, Sender,
};

const ENDPOINT_VAR: &str = "SHMRING_IPC_TEST_ENDPOINT";
const COUNT_VAR: &str = "SHMRING_IPC_TEST_COUNT";

/// The options of `endpoint`: the shm ring's maximum is half its capacity less 8 bytes, the
/// stream maximum matches it; message queues are kept small (a user may only have about
/// 800 KiB of them: `RLIMIT_MSGQUEUE`), and tests run in parallel.
fn options_for(endpoint: &str) -> Options {
    if endpoint.starts_with("mq:") {
        Options::default().mq_depth(4).max_message(4095)
    } else if endpoint.starts_with("sysv:") {
        // Within the system's default msgmax (8192) and msgmnb (16384).
        Options::default().max_message(4095)
    } else {
        Options::default()
            .shm_capacity(1 << 16)
            .max_message((1 << 15) - 8)
    }
}

/// Message `i` of a stream: its length cycles through the boundaries and beyond.
fn message(i: u32, max: usize) -> Vec<u8> {
    let len = match i % 7 {
        0 => 0,
        1 => 1,
        2 => max,
        3 => 4,
        _ => (i as usize * 7919) % max,
    };
    let mut m: Vec<u8> = (0..len).map(|k| (k as u32 ^ i) as u8).collect();
    if len >= 4 {
        m[..4].copy_from_slice(&i.to_le_bytes());
    }
    m
}

fn check(i: u32, got: &[u8], max: usize) {
    assert_eq!(got, message(i, max).as_slice(), "message {i}");
}

#[test]
fn child_entry() {
    let Some(role) = common::role() else { return };
    let endpoint = std::env::var(ENDPOINT_VAR).unwrap();
    let count: u32 = std::env::var(COUNT_VAR).map_or(u32::MAX, |c| c.parse().unwrap());
    match role.as_str() {
        "sender" => {
            let mut tx = Sender::connect_with(&endpoint, &options_for(&endpoint)).unwrap();
            let max = tx.max_message();
            println!("READY");
            std::io::stdout().flush().unwrap();
            for i in 0..count {
                match tx.send(&message(i, max)) {
                    Ok(()) => {}
                    Err(SendError::Disconnected) => {
                        println!("RESULT disconnected {i}");
                        return;
                    }
                    Err(e) => panic!("send {i}: {e}"),
                }
            }
            println!("RESULT sent {count}");
        }
        // Receives on an inherited pipe, checking every message, until disconnected.
        "pipe-receiver" => {
            let mut rx = Receiver::bind_with("pipe", &options_for("pipe")).unwrap();
            let max = rx.max_message();
            let mut n = 0;
            let mut buf = Vec::new();
            loop {
                match rx.recv_into(&mut buf) {
                    Ok(()) => {
                        check(n, &buf, max);
                        n += 1;
                    }
                    Err(RecvError::Disconnected) => break,
                    Err(e) => panic!("{e:?}"),
                }
            }
            println!("RESULT received {n}");
        }
        // Connects to an auto: endpoint, reports the choice, sends `count` messages.
        "auto-sender" => {
            let mut tx = Sender::connect(&endpoint).unwrap();
            println!("SELECTION {}", tx.selection().unwrap());
            std::io::stdout().flush().unwrap();
            let id = u8::from(std::env::var_os("SHMRING_IPC_NO_SHM").is_some());
            for i in 0..count {
                let mut msg = vec![id; 5 + (i as usize % 100)];
                msg[1..5].copy_from_slice(&i.to_le_bytes());
                tx.send(&msg).unwrap();
            }
            println!("RESULT sent {count}");
        }
        // Connects to an auto: endpoint and reports how it went (run as another user).
        "auto-probe" => match Sender::connect(&endpoint) {
            Ok(mut tx) => {
                tx.send(b"from another user").unwrap();
                println!("RESULT connected {}", tx.selection().unwrap());
            }
            Err(e) => println!("RESULT error {e:?}"),
        },
        // A receiver that binds and waits to be killed.
        "idle-receiver" => {
            let _rx = Receiver::bind_with(&endpoint, &options_for(&endpoint)).unwrap();
            println!("READY");
            std::io::stdout().flush().unwrap();
            std::thread::sleep(common::WATCHDOG);
        }
        // A duplex echo server: every message of every client comes back.
        "echo-server" => {
            let mut server =
                shmring_ipc::duplex::Server::bind_with(&endpoint, &options_for(&endpoint)).unwrap();
            println!("READY {}", server.endpoint());
            std::io::stdout().flush().unwrap();
            loop {
                let mut conn = server
                    .accept()
                    .unwrap_or_else(|e| panic!("echo server {endpoint}: accept: {e:?}"));
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    loop {
                        if let Err(e) = conn.recv_into(&mut buf) {
                            eprintln!("echo server: recv: {e:?}");
                            break;
                        }
                        if let Err(e) = conn.send(&buf) {
                            eprintln!("echo server: send: {e:?}");
                            break;
                        }
                    }
                });
            }
        }
        other => panic!("unknown role {other}"),
    }
}

fn spawn_sender(endpoint: &str, count: Option<u32>) -> std::process::Child {
    let mut cmd = child("child_entry", "sender", "-");
    cmd.env(ENDPOINT_VAR, endpoint);
    if let Some(count) = count {
        cmd.env(COUNT_VAR, count.to_string());
    }
    cmd.spawn().unwrap()
}

/// Order and boundaries, then a burst, from a child process; then `Disconnected` once it
/// exits — on every transport.
#[test]
fn order_boundaries_burst_and_disconnect() {
    for (endpoint, _guard) in endpoints("conf-order") {
        let mut rx = Receiver::bind_with(&endpoint, &options_for(&endpoint)).unwrap();
        let endpoint = rx.endpoint().to_string();
        let max = rx.max_message();
        const N: u32 = 20_000;
        let mut tx = spawn_sender(&endpoint, Some(N));
        wait_for_line(&mut tx, "READY");
        let mut buf = Vec::new();
        for i in 0..N {
            rx.recv_into_deadline(&mut buf, Instant::now() + common::WATCHDOG)
                .unwrap_or_else(|e| panic!("{endpoint}: message {i}: {e:?}"));
            check(i, &buf, max);
        }
        assert!(wait_with_watchdog(tx).status.success());
        assert_eq!(
            rx.recv_timeout(common::WATCHDOG),
            Err(RecvTimeoutError::Disconnected),
            "{endpoint}"
        );
        eprintln!("{endpoint}: {N} messages in order, then Disconnected");
    }
}

/// A sender that connects, sends and exits before the receiver ever looks: its messages are
/// still delivered, then `Disconnected` — on every transport. (On a Unix socket the
/// receiver's hello to an already closed connection failed, and the connection was dropped
/// with its frames unread: the messages were lost and the receiver waited for ever.)
#[test]
fn sender_gone_before_the_first_receive() {
    for (endpoint, _guard) in endpoints("conf-early") {
        let mut rx = Receiver::bind_with(&endpoint, &options_for(&endpoint)).unwrap();
        let endpoint = rx.endpoint().to_string();
        let max = rx.max_message();
        // Messages 0 and 1 are 0 and 1 bytes long: they fit any transport's buffer.
        let tx = spawn_sender(&endpoint, Some(2));
        assert!(wait_with_watchdog(tx).status.success(), "{endpoint}");
        let mut buf = Vec::new();
        for i in 0..2 {
            rx.recv_into_deadline(&mut buf, Instant::now() + common::WATCHDOG)
                .unwrap_or_else(|e| panic!("{endpoint}: message {i}: {e:?}"));
            check(i, &buf, max);
        }
        assert_eq!(
            rx.recv_timeout(common::WATCHDOG),
            Err(RecvTimeoutError::Disconnected),
            "{endpoint}"
        );
    }
}

/// Timeouts on both sides, `TooLarge` on the sending side, and a receiver that goes away:
/// the sender gets `Disconnected`.
#[test]
fn timeouts_too_large_and_receiver_gone() {
    for (endpoint, _guard) in endpoints("conf-timeouts") {
        let mut rx = Receiver::bind_with(&endpoint, &options_for(&endpoint)).unwrap();
        let endpoint = rx.endpoint().to_string();
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(20)),
            Err(RecvTimeoutError::Timeout),
            "{endpoint}: nobody connected yet"
        );
        let mut tx = Sender::connect_with(&endpoint, &options_for(&endpoint)).unwrap();
        let max = tx.max_message();
        assert_eq!(
            tx.send(&vec![0; max + 1]),
            Err(SendError::TooLarge { len: max + 1, max }),
            "{endpoint}"
        );
        // Fill the transport (nobody reads), then a send times out.
        let big = vec![7u8; max];
        let start = Instant::now();
        loop {
            match tx.send_timeout(&big, Duration::from_millis(20)) {
                Ok(()) => assert!(start.elapsed() < common::WATCHDOG, "{endpoint}: never full"),
                Err(SendTimeoutError::Timeout) => break,
                Err(e) => panic!("{endpoint}: {e}"),
            }
        }
        assert_eq!(rx.try_recv().map(|m| m.len()), Ok(max), "{endpoint}");
        drop(rx);
        let start = Instant::now();
        loop {
            match tx.send_timeout(b"after", Duration::from_millis(20)) {
                Err(SendTimeoutError::Disconnected) => break,
                Ok(()) | Err(SendTimeoutError::Timeout) => {
                    assert!(
                        start.elapsed() < common::WATCHDOG,
                        "{endpoint}: never disconnected"
                    );
                }
                Err(e) => panic!("{endpoint}: {e}"),
            }
        }
        eprintln!("{endpoint}: timeouts, TooLarge and Disconnected as specified");
    }
}

/// A sender killed while it streams (on the stream transports, often in the middle of a
/// frame): the receiver gets whole messages in order, then `Disconnected` — never a partial
/// message, never a hang.
#[test]
fn sender_killed_mid_stream() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    for (endpoint, _guard) in endpoints("conf-kill") {
        let mut rx = Receiver::bind_with(&endpoint, &options_for(&endpoint)).unwrap();
        let endpoint = rx.endpoint().to_string();
        let max = rx.max_message();
        let mut tx = spawn_sender(&endpoint, None);
        wait_for_line(&mut tx, "READY");
        let mut buf = Vec::new();
        for i in 0..2_000 {
            rx.recv_into(&mut buf).unwrap();
            check(i, &buf, max);
        }
        kill(Pid::from_raw(tx.id() as i32), Signal::SIGKILL).unwrap();
        wait_with_watchdog(tx);
        let mut i = 2_000;
        loop {
            match rx.recv_timeout(common::WATCHDOG) {
                Ok(m) => {
                    check(i, &m, max);
                    i += 1;
                }
                Err(RecvTimeoutError::Disconnected) => break,
                Err(e) => panic!("{endpoint}: {e:?} after {i}"),
            }
        }
        eprintln!("{endpoint}: {i} whole messages, then Disconnected");
    }
}

/// A peer that writes a frame over the receiver's maximum (a raw socket client) is a protocol
/// error: its connection is closed, the receive says `Corrupted` and names the reason; other
/// senders carry on.
#[test]
fn oversized_frame_is_a_protocol_error() {
    use shmring_ipc::codec::{FrameError, Hello};
    let dir = std::env::temp_dir();
    let path = dir.join(format!("{}.sock", unique_name("conf-oversize")));
    let endpoint = format!("uds:{}", path.display());
    let mut rx = Receiver::bind_with(&endpoint, &Options::default().max_message(100)).unwrap();
    let mut good = Sender::connect(&endpoint).unwrap();
    let mut raw = std::os::unix::net::UnixStream::connect(&path).unwrap();
    let mut bytes = Vec::new();
    Hello {
        flags: 0,
        max_frame: 100,
        fingerprint: 0,
        description: String::new(),
    }
    .encode(&mut bytes);
    bytes.extend_from_slice(&1000u32.to_le_bytes());
    raw.write_all(&bytes).unwrap();
    good.send(b"fine").unwrap();
    let mut got = Vec::new();
    let mut corrupted = 0;
    while got.is_empty() || corrupted == 0 {
        match rx.recv() {
            Ok(m) => got.push(m),
            Err(RecvError::Corrupted) => corrupted += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(got, [b"fine".to_vec()]);
    assert_eq!(
        rx.protocol_error(),
        Some(&FrameError::TooLong {
            len: 1000,
            max: 100
        })
    );
    assert_eq!(
        rx.protocol_error().unwrap().to_string(),
        "frame of 1000 bytes exceeds the maximum of 100 bytes"
    );
}

/// Bad endpoints and missing receivers are specific errors.
#[test]
fn connect_errors_are_specific() {
    use shmring_ipc::ConnectError;
    let dir = std::env::temp_dir();
    let missing = dir.join(unique_name("conf-missing"));
    for (endpoint, want) in [
        (format!("uds:{}", missing.display()), "NotFound"),
        (format!("fifo:{}", missing.display()), "NotFound"),
        (format!("shm:{}", unique_name("conf-missing")), "NotFound"),
        ("tcp:127.0.0.1:1".to_owned(), "NoReceiver"),
        ("carrier-pigeon:x".to_owned(), "BadEndpoint"),
    ] {
        let err = Sender::connect(&endpoint).unwrap_err();
        let variant = format!("{err:?}");
        assert!(variant.starts_with(want), "{endpoint}: {err:?}");
        assert!(!err.to_string().is_empty());
    }
    // A FIFO that exists but that nobody reads.
    let fifo = dir.join(unique_name("conf-unread"));
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let err = Sender::connect(&format!("fifo:{}", fifo.display())).unwrap_err();
    assert!(matches!(err, ConnectError::NoReceiver { .. }), "{err:?}");
    std::fs::remove_file(&fifo).unwrap();
    // A socket file left by a dead receiver is replaced by the next bind.
    let sock = dir.join(format!("{}.sock", unique_name("conf-stale")));
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap()); // leaves the file
    let err = Sender::connect(&format!("uds:{}", sock.display())).unwrap_err();
    assert!(matches!(err, ConnectError::NoReceiver { .. }), "{err:?}");
    let _rx = Receiver::bind(&format!("uds:{}", sock.display())).unwrap();
    let err = Receiver::bind(&format!("uds:{}", sock.display())).unwrap_err();
    assert!(matches!(err, ConnectError::InUse { .. }), "{err:?}");
}

/// POSIX message queue limits are checked when binding, with the limit named.
#[test]
fn mq_limits_are_clear_errors() {
    use shmring_ipc::ConnectError;
    let name = format!("mq:/{}", unique_name("conf-limits"));
    let err = Receiver::bind_with(&name, &Options::default().max_message(1 << 20)).unwrap_err();
    assert!(matches!(err, ConnectError::Limit { .. }), "{err:?}");
    assert!(err.to_string().contains("msgsize_max"), "{err}");
    let err = Receiver::bind_with(&name, &Options::default().mq_depth(1 << 20)).unwrap_err();
    assert!(matches!(err, ConnectError::Limit { .. }), "{err:?}");
    assert!(err.to_string().contains("msg_max"), "{err}");
    // Within the limits it works, and a second receiver is refused while the first lives.
    let _rx = Receiver::bind_with(&name, &Options::default().mq_depth(2)).unwrap();
    let err = Receiver::bind(&name).unwrap_err();
    assert!(matches!(err, ConnectError::InUse { .. }), "{err:?}");
}

/// A POSIX queue of the name that shmring did not make is another program's: binding refuses
/// it and touches nothing (not its messages), a sender finds no receiver. A queue a killed
/// shmring receiver left is stale and replaced by the next receiver.
#[test]
fn mq_a_queue_shmring_did_not_make_is_left_alone() {
    use nix::mqueue::{MQ_OFlag, MqAttr, mq_close, mq_getattr, mq_open, mq_send, mq_unlink};
    use nix::sys::stat::Mode;
    use shmring_ipc::ConnectError;
    let queue = format!("/{}", unique_name("conf-foreign"));
    let endpoint = format!("mq:{queue}");
    let attr = MqAttr::new(0, 4, 64, 0);
    let flags = MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_RDWR;
    let foreign = mq_open(
        queue.as_str(),
        flags,
        Mode::from_bits_truncate(0o600),
        Some(&attr),
    )
    .expect("a queue of another program");
    mq_send(&foreign, b"theirs", 0).unwrap();
    let err = Receiver::bind(&endpoint).unwrap_err();
    assert!(matches!(err, ConnectError::PeerRefused { .. }), "{err:?}");
    assert!(err.to_string().contains("did not make"), "{err}");
    assert!(err.to_string().contains(&queue), "{err}");
    let err = Sender::connect(&endpoint).unwrap_err();
    assert!(matches!(err, ConnectError::NoReceiver { .. }), "{err:?}");
    let err = Receiver::bind(&endpoint).unwrap_err();
    assert!(
        matches!(err, ConnectError::PeerRefused { .. }),
        "still: {err:?}"
    );
    assert_eq!(
        mq_getattr(&foreign).unwrap().curmsgs(),
        1,
        "its message is still there"
    );
    mq_close(foreign).unwrap();
    mq_unlink(queue.as_str()).expect("the queue was never removed");
    // A receiver killed leaves its queue behind: the next receiver replaces it.
    let mut cmd = child("child_entry", "idle-receiver", "-");
    cmd.env(ENDPOINT_VAR, &endpoint);
    let mut killed = cmd.spawn().unwrap();
    wait_for_line(&mut killed, "READY");
    let mut tx = Sender::connect_with(&endpoint, &options_for(&endpoint)).unwrap();
    tx.send(b"to the dead").unwrap();
    let err = Receiver::bind(&endpoint).unwrap_err();
    assert!(matches!(err, ConnectError::InUse { .. }), "{err:?}");
    killed.kill().unwrap();
    killed.wait().unwrap();
    drop(tx);
    let mut rx = Receiver::bind_with(&endpoint, &options_for(&endpoint)).unwrap();
    let mut tx = Sender::connect_with(&endpoint, &options_for(&endpoint)).unwrap();
    tx.send(b"to the living").unwrap();
    let got = rx.recv_timeout(common::WATCHDOG).unwrap();
    assert_eq!(got, b"to the living", "the stale queue's message is gone");
}

/// Receivers binding a kernel queue while its last receiver leaves (which removes the lock
/// files) are never half bound: each bind that succeeds holds the lock at the path, so a
/// sender finds it and no second receiver binds beside it.
#[test]
fn kernel_queue_receivers_rebinding_as_the_last_one_leaves_are_never_half_bound() {
    use shmring_ipc::ConnectError;
    let key = common::unique_sysv_key();
    for endpoint in [
        format!("mq:/{}", unique_name("conf-rebind")),
        format!("sysv:{key:#x}"),
    ] {
        let rounds = std::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    let start = Instant::now();
                    while rounds.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 400 {
                        let mut rx = loop {
                            match Receiver::bind(&endpoint) {
                                Ok(rx) => break rx,
                                Err(ConnectError::InUse { .. }) => {
                                    assert!(start.elapsed() < common::WATCHDOG, "never bound");
                                    std::thread::yield_now();
                                }
                                Err(e) => panic!("{endpoint}: {e}"),
                            }
                        };
                        let mut tx = Sender::connect(&endpoint)
                            .unwrap_or_else(|e| panic!("{endpoint}: half bound: {e}"));
                        tx.send(b"here").unwrap();
                        assert_eq!(rx.recv_timeout(common::WATCHDOG).unwrap(), b"here");
                    }
                });
            }
        });
    }
}

/// `pipe` both ways: a child sending on an inherited pipe (order, boundaries, then
/// `Disconnected` when it exits; then a child killed mid-stream), and a child receiving.
#[test]
fn pipe_to_and_from_a_child() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    use shmring_ipc::pipe;
    for killed in [false, true] {
        let (mut rx, end) = pipe::receiver(&options_for("pipe")).unwrap();
        let max = rx.max_message();
        let mut cmd = child("child_entry", "sender", "-");
        cmd.env(ENDPOINT_VAR, "pipe");
        if !killed {
            cmd.env(COUNT_VAR, "5000");
        }
        end.configure(&mut cmd).unwrap();
        let mut tx = cmd.spawn().unwrap();
        drop(end);
        wait_for_line(&mut tx, "READY");
        let mut n = 0;
        let mut buf = Vec::new();
        loop {
            if killed && n == 1000 {
                kill(Pid::from_raw(tx.id() as i32), Signal::SIGKILL).unwrap();
            }
            match rx.recv_into_deadline(&mut buf, Instant::now() + common::WATCHDOG) {
                Ok(()) => {
                    check(n, &buf, max);
                    n += 1;
                }
                Err(RecvTimeoutError::Disconnected) => break,
                Err(e) => panic!("pipe: {e:?} after {n}"),
            }
        }
        wait_with_watchdog(tx);
        if !killed {
            assert_eq!(n, 5000);
        }
        eprintln!("pipe (killed: {killed}): {n} whole messages, then Disconnected");
    }
    let (mut tx, end) = pipe::sender(&options_for("pipe")).unwrap();
    let max = tx.max_message();
    let mut cmd = child("child_entry", "pipe-receiver", "-");
    cmd.env(ENDPOINT_VAR, "pipe");
    end.configure(&mut cmd).unwrap();
    let rx = cmd.spawn().unwrap();
    drop(end);
    for i in 0..5000 {
        tx.send(&message(i, max)).unwrap();
    }
    drop(tx);
    let out = wait_with_watchdog(rx);
    assert_eq!(common::result_line(&out), "received 5000");
}

/// Typed channels on every transport: values arrive whole; a sender of another type is refused
/// with `IncompatibleLayout` naming both types when connecting (shm, uds, tcp, mq), or cut off
/// by the receiver with the mismatch named (fifo: one-way, the sender cannot be told).
#[test]
fn typed_channels_check_the_layout() {
    use shmring_ipc::typed;
    use shmring_ipc::{ConnectError, codec::FrameError};
    type Tick = [u32; 3];
    for (endpoint, _guard) in endpoints("conf-typed") {
        let rx = typed::Receiver::<Tick>::bind(&endpoint).unwrap();
        let endpoint = rx.endpoint().to_string();
        // The receiver receives on its own thread (on sockets it accepts while receiving).
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let receiving = std::thread::spawn(move || {
            let mut rx = rx;
            let mut got = Vec::new();
            let mut corrupted = Vec::new();
            while stop_rx.try_recv().is_err() {
                match rx.recv_timeout(Duration::from_millis(10)) {
                    Ok(v) => got.push(v),
                    Err(RecvTimeoutError::Corrupted) => {
                        corrupted.push(rx.protocol_error().cloned());
                    }
                    Err(_) => {}
                }
            }
            (got, corrupted)
        });
        let one_way = endpoint.starts_with("fifo:");
        if !one_way {
            let err = typed::Sender::<u64>::connect(&endpoint).unwrap_err();
            match &err {
                ConnectError::IncompatibleLayout { ours, theirs, .. } => {
                    assert!(ours.contains("u64"), "{endpoint}: {err}");
                    assert!(theirs.contains("u32"), "{endpoint}: {err}");
                }
                other => panic!("{endpoint}: {other:?}"),
            }
        }
        let mut tx = typed::Sender::<Tick>::connect(&endpoint).unwrap();
        for i in 0..100u32 {
            tx.send(&[i, i + 1, i + 2]).unwrap();
        }
        drop(tx);
        if one_way {
            // A FIFO has one sender at a time: the mismatched one comes after.
            let mut bad = typed::Sender::<u64>::connect(&endpoint).unwrap();
            let _ = bad.send(&1);
        }
        std::thread::sleep(Duration::from_millis(300));
        stop_tx.send(()).unwrap();
        let (got, corrupted) = receiving.join().unwrap();
        let want: Vec<Tick> = (0..100u32).map(|i| [i, i + 1, i + 2]).collect();
        assert_eq!(got, want, "{endpoint}");
        if one_way {
            assert!(
                matches!(corrupted.first(), Some(Some(FrameError::Layout { .. }))),
                "{endpoint}: {corrupted:?}"
            );
        }
        eprintln!("{endpoint}: 100 typed values; mismatched sender refused");
    }
    // Not over auto: (yet), and said so.
    let err = typed::Receiver::<u32>::bind("auto:typed").unwrap_err();
    assert!(matches!(err, ConnectError::BadEndpoint { .. }), "{err:?}");
    let err = typed::Sender::<u32>::connect("auto:typed").unwrap_err();
    assert!(matches!(err, ConnectError::BadEndpoint { .. }), "{err:?}");
}

/// Duplex request/response over every named transport with a server in another process:
/// several clients at once, every reply checked; a client that leaves does not disturb the
/// others; when the server dies the clients get `Disconnected`.
#[test]
fn duplex_echo_across_processes() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    use shmring_ipc::duplex::Connection;
    for (endpoint, _guard) in endpoints("conf-echo") {
        let mut cmd = child("child_entry", "echo-server", "-");
        cmd.env(ENDPOINT_VAR, &endpoint)
            .stderr(std::process::Stdio::inherit()); // the server's errors, if any, in the log
        let mut server = cmd.spawn().unwrap();
        let line = wait_for_line(&mut server, "READY");
        let bound = line.trim_start_matches("READY ").to_owned();
        let clients: Vec<_> = (0..3)
            .map(|c| {
                let bound = bound.clone();
                std::thread::spawn(move || {
                    let mut conn = Connection::connect_with(&bound, &options_for(&bound))
                        .unwrap_or_else(|e| panic!("{bound}: client {c} connect: {e:?}"));
                    for i in 0..(300 * (c + 1)) {
                        let msg = message(i as u32, 200);
                        conn.send(&msg)
                            .unwrap_or_else(|e| panic!("{bound}: client {c} send {i}: {e:?}"));
                        let reply = conn
                            .recv()
                            .unwrap_or_else(|e| panic!("{bound}: client {c} reply {i}: {e:?}"));
                        assert_eq!(reply, msg, "{bound}: client {c} reply {i}");
                    }
                    conn
                })
            })
            .collect();
        let joined: Vec<_> = clients.into_iter().map(|c| c.join()).collect();
        if joined.iter().any(Result::is_err) {
            let status = server.try_wait();
            panic!("{bound}: a client failed; the echo server: {status:?}");
        }
        let mut conns: Vec<_> = joined.into_iter().map(Result::unwrap).collect();
        // Connected channels have no names left (nothing to leak if both sides are killed).
        let named: Vec<String> = entries_named_after(&bound)
            .into_iter()
            .filter(|(file, _)| file.contains(".up") || file.contains(".down"))
            .map(|(file, _)| file)
            .collect();
        assert!(named.is_empty(), "{bound}: channel names left: {named:?}");
        drop(conns.pop()); // one client leaves; the others still get replies
        for conn in &mut conns {
            conn.send(b"still here").unwrap();
            assert_eq!(conn.recv().unwrap(), b"still here");
        }
        kill(Pid::from_raw(server.id() as i32), Signal::SIGKILL).unwrap();
        wait_with_watchdog(server);
        for conn in &mut conns {
            assert_eq!(
                conn.recv_timeout(common::WATCHDOG),
                Err(RecvTimeoutError::Disconnected),
                "{bound}"
            );
        }
        drop(conns);
        // What the killed server bound (its endpoint, the clients' `up` channels) is left
        // behind, as a killed process leaves it (`shmring gc` is the cure); clean up here.
        remove_leftovers(&bound);
        eprintln!("{bound}: 3 clients echoed, one left, server killed → Disconnected");
    }
}

/// Files, segments, queue lock files (and queues, where `/dev/mqueue` is mounted) named
/// after the name in `endpoint`: (file name, path).
fn entries_named_after(endpoint: &str) -> Vec<(String, std::path::PathBuf)> {
    let name = endpoint
        .rsplit(['/', ':'])
        .next()
        .unwrap_or_default()
        .trim_end_matches(".sock")
        .trim_end_matches(".fifo")
        .to_owned();
    if name.is_empty() {
        return Vec::new();
    }
    let mut found = Vec::new();
    for dir in [
        std::env::temp_dir(),
        "/dev/shm".into(),
        "/dev/mqueue".into(),
    ] {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.starts_with(&name) || file.starts_with(&format!("shmring-mq-{name}")) {
                found.push((file, entry.path()));
            }
        }
    }
    found
}

/// Removes every file, segment and queue whose name starts with the name in `endpoint`.
fn remove_leftovers(endpoint: &str) {
    for (file, path) in entries_named_after(endpoint) {
        if let Some(queue) = file
            .strip_prefix("shmring-mq-")
            .and_then(|f| f.strip_suffix(".receiver"))
        {
            let _ = nix::mqueue::mq_unlink(format!("/{queue}").as_str());
        }
        if path.starts_with("/dev/mqueue") {
            let _ = nix::mqueue::mq_unlink(format!("/{file}").as_str());
        } else {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// `auto:`: a sender of the same user is upgraded to shared memory (the choice reported); one
/// told not to (`SHMRING_IPC_NO_SHM=1`) stays on the Unix socket with the reason reported, and
/// its messages arrive all the same; both at once, then `Disconnected` when both have gone.
#[test]
fn auto_upgrades_or_explains() {
    let name = unique_name("conf-auto");
    let endpoint = format!("auto:{name}");
    let mut rx = Receiver::bind(&endpoint).unwrap();
    // A client that connects and never says hello holds up nobody.
    let _stalled =
        std::os::unix::net::UnixStream::connect(shmring_ipc::auto::socket_path(&name)).unwrap();
    let mut senders = Vec::new();
    for no_shm in [false, true] {
        let mut cmd = child("child_entry", "auto-sender", "-");
        cmd.env(ENDPOINT_VAR, &endpoint).env(COUNT_VAR, "3000");
        if no_shm {
            cmd.env("SHMRING_IPC_NO_SHM", "1");
        }
        let mut tx = cmd.spawn().unwrap();
        let line = wait_for_line(&mut tx, "SELECTION");
        if no_shm {
            assert!(line.starts_with("SELECTION uds (asked not to"), "{line}");
        } else {
            assert_eq!(line, "SELECTION shm");
        }
        senders.push(tx);
    }
    // Each sender's messages: its id, then its sequence number, in order, whole.
    let mut next = [0u32; 2];
    let mut buf = Vec::new();
    loop {
        match rx.recv_into_deadline(&mut buf, Instant::now() + common::WATCHDOG) {
            Ok(()) => {
                let id = usize::from(buf[0]);
                let i = u32::from_le_bytes(buf[1..5].try_into().unwrap());
                assert_eq!(i, next[id], "sender {id} out of order");
                assert_eq!(buf.len(), 5 + (i as usize % 100));
                assert!(buf.iter().skip(5).all(|b| usize::from(*b) == id), "torn");
                next[id] += 1;
            }
            Err(RecvTimeoutError::Disconnected) => break,
            Err(e) => panic!("{e:?} after {next:?}"),
        }
    }
    for tx in senders {
        assert!(wait_with_watchdog(tx).status.success());
    }
    assert_eq!(next, [3000, 3000]);
}

/// `auto:` checks the peer's credentials: a process of another user (`nobody`, by dropping
/// privileges with `setpriv`) is refused by default, with the reason; a receiver that allows
/// that user lets it in. Needs root to drop privileges; skipped (and said so) otherwise.
#[test]
fn auto_checks_peer_credentials() {
    use std::os::unix::fs::PermissionsExt;
    if !nix::unistd::getuid().is_root()
        || std::process::Command::new("setpriv")
            .arg("--version")
            .output()
            .is_err()
    {
        eprintln!("skipped: needs root and setpriv to run a peer as another user");
        return;
    }
    for allow in [false, true] {
        let name = unique_name("conf-auto-cred");
        let endpoint = format!("auto:{name}");
        let mut options = Options::default();
        if allow {
            options.auto_peers = shmring_ipc::auto::Peers::Uid(65534);
        }
        let mut rx = Receiver::bind_with(&endpoint, &options).unwrap();
        // Let the other user reach the socket, so that the credential check is what decides.
        let path = shmring_ipc::auto::socket_path(&name);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
        let mut cmd = std::process::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(std::env::current_exe().unwrap())
            .args([
                "child_entry",
                "--exact",
                "--nocapture",
                "--test-threads=1",
                "-q",
            ])
            .env(common::ROLE_VAR, "auto-probe")
            .env(common::NAME_VAR, "-")
            .env(ENDPOINT_VAR, &endpoint)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let out = common::run(cmd);
        let result = common::result_line(&out);
        if allow {
            assert!(result.starts_with("connected"), "{result}");
            assert_eq!(
                rx.recv_timeout(common::WATCHDOG).unwrap(),
                b"from another user"
            );
        } else {
            assert!(result.starts_with("error PeerRefused"), "{result}");
            assert!(result.contains("uid 65534"), "{result}");
        }
        eprintln!("auto (allow nobody: {allow}): {result}");
    }
}

/// Senders that connect to one FIFO at once: their hellos may arrive back to back, with no
/// frame between (a duplex server's control FIFO with several clients connecting). Found as
/// a rare failure of `duplex_echo_across_processes`: the second hello was read as a frame
/// length and the connection closed as a protocol error.
#[test]
fn fifo_hellos_back_to_back() {
    use shmring_ipc::codec::{Hello, encode_frame};
    let path = std::env::temp_dir().join(format!("{}.fifo", unique_name("conf-hellos")));
    let endpoint = format!("fifo:{}", path.display());
    let mut rx = Receiver::bind(&endpoint).unwrap();
    let hello = Hello {
        flags: 0,
        max_frame: 1 << 20,
        fingerprint: 0,
        description: String::new(),
    };
    let mut bytes = Vec::new();
    hello.encode(&mut bytes);
    hello.encode(&mut bytes);
    encode_frame(b"first", &mut bytes);
    hello.encode(&mut bytes);
    hello.encode(&mut bytes);
    encode_frame(b"second", &mut bytes);
    // Byte by byte as well as at once: the receiver reads whatever has arrived.
    for chunk in [bytes.len(), 1] {
        let mut fifo = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        for piece in bytes.chunks(chunk) {
            fifo.write_all(piece).unwrap();
            fifo.flush().unwrap();
        }
        assert_eq!(rx.recv_timeout(common::WATCHDOG).unwrap(), b"first");
        assert_eq!(rx.recv_timeout(common::WATCHDOG).unwrap(), b"second");
        assert_eq!(rx.protocol_error(), None);
    }
}

/// A writer that puts garbage into a duplex server's control FIFO costs that attempt only:
/// the server reports it, skips to the next hello, and the next client connects.
#[test]
fn duplex_fifo_server_survives_garbage() {
    use shmring_ipc::duplex::{Connection, Server};
    let path = std::env::temp_dir().join(format!("{}.fifo", unique_name("conf-garbage")));
    let endpoint = format!("fifo:{}", path.display());
    let mut server = Server::bind(&endpoint).unwrap();
    let serving = std::thread::spawn(move || {
        let start = Instant::now();
        let mut errors = 0;
        loop {
            assert!(start.elapsed() < common::WATCHDOG, "no client got through");
            match server.accept() {
                Ok(mut conn) => {
                    let msg = conn.recv().unwrap();
                    conn.send(&msg).unwrap();
                    return errors;
                }
                Err(_) => errors += 1,
            }
        }
    });
    {
        let mut fifo = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        fifo.write_all(b"\xff\xff\xff\xffnot a hello at all")
            .unwrap();
    }
    let mut conn = Connection::connect(&endpoint).unwrap();
    conn.send(b"ping").unwrap();
    assert_eq!(conn.recv_timeout(common::WATCHDOG).unwrap(), b"ping");
    let errors = serving.join().unwrap();
    assert!(errors >= 1, "the garbage was reported");
}

/// The codec's rule on a duplex connection: a server's replies are held to the largest payload
/// the client announced in its hello (16 bytes here), not to the server's own (a 17-byte
/// reply used to be sent). Over `uds:` and `tcp:`.
#[test]
fn duplex_replies_respect_the_client_s_announced_maximum() {
    use shmring_ipc::duplex::{Connection, Server};
    let path = std::env::temp_dir().join(format!("{}.sock", unique_name("dup-max")));
    for endpoint in [
        format!("uds:{}", path.display()),
        "tcp:127.0.0.1:0".to_owned(),
    ] {
        let mut server = Server::bind_with(&endpoint, &Options::default()).unwrap();
        let bound = server.endpoint().to_string();
        let client = std::thread::spawn(move || {
            let mut c =
                Connection::connect_with(&bound, &Options::default().max_message(16)).unwrap();
            c.send(b"hello").unwrap();
            c.recv_timeout(common::WATCHDOG).unwrap()
        });
        let mut conn = server.accept().unwrap();
        assert_eq!(conn.recv_timeout(common::WATCHDOG).unwrap(), b"hello");
        assert_eq!(
            conn.send(&[7; 17]).unwrap_err(),
            SendError::TooLarge { len: 17, max: 16 },
            "{endpoint}"
        );
        conn.send(&[7; 16]).unwrap();
        assert_eq!(client.join().unwrap(), [7; 16], "{endpoint}");
        let _ = std::fs::remove_file(&path);
    }
}

/// A `shm:` duplex server left waiting after its clients' connect requests are all in (its
/// control channel then reports every sender gone) keeps waiting in constant stack: it used
/// to call itself every 5 ms until its thread's stack overflowed and the process aborted
/// (found when the echo server of `duplex_echo_across_processes` died under load). Here on a
/// 64 KiB stack, for longer than that took.
#[test]
fn an_idle_duplex_server_waits_in_constant_stack() {
    use shmring_ipc::duplex::{Connection, Server};
    let name = unique_name("conf-idle");
    let endpoint = format!("shm:{name}");
    let mut server = Server::bind(&endpoint).unwrap();
    let waiter = std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(move || {
            // One client connects (and drops its side of the control channel)...
            let accepted = server.accept_timeout(common::WATCHDOG).unwrap();
            // ...then nobody for two seconds: four hundred 5 ms looks.
            let next = server.accept_timeout(Duration::from_secs(2)).unwrap();
            (accepted.is_some(), next.is_none())
        })
        .unwrap();
    let client = Connection::connect(&endpoint).unwrap();
    assert_eq!(waiter.join().unwrap(), (true, true));
    drop(client);
    remove_leftovers(&endpoint);
}
