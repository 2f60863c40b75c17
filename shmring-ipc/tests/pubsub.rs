//! Publish/subscribe with one API over `shm:`, `uds:` and `tcp:`: every subscriber gets every
//! message whole and in order (lossless), across threads and processes; an overwrite
//! publisher never waits and a slow subscriber's `Lagged` counts match its gaps exactly; a
//! subscriber that leaves never stalls a lossless publisher; the publisher gone ends every
//! subscriber after the last message; FIFOs, pipes, queues and `auto:` refuse clearly, as do
//! a subscriber meeting a plain receiver and history asked of a socket.

use shmring_test_support as common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{Unlink, child, unique_name, wait_for_line, wait_with_watchdog};
use shmring::broadcast::Policy;
use shmring_ipc::pubsub::{RecvTimeoutError, TryRecvError};
use shmring_ipc::{ConnectError, Options, Publisher, Subscriber};

/// The publish/subscribe endpoints with a fresh address for `tag` (the `shm:` ring unlinked
/// when its guard drops).
fn endpoints(tag: &str) -> Vec<(String, Option<Unlink>)> {
    common::endpoints(tag)
        .into_iter()
        .filter(|(e, _)| !["fifo:", "mq:", "sysv:"].iter().any(|k| e.starts_with(k)))
        .collect()
}

/// Message `i`: its number and a length and pattern that follow from it (up to 1 000 bytes).
fn message(i: u32) -> Vec<u8> {
    let mut m = common::numbered_message(i, 1000);
    m.splice(0..0, i.to_le_bytes());
    m
}

/// The number of a message, after checking every byte of it.
fn check(m: &[u8]) -> u32 {
    let i = u32::from_le_bytes(m[..4].try_into().unwrap());
    assert_eq!(m, message(i), "message {i} is not whole");
    i
}

/// Publishes after `subscribers` subscribers are connected (a socket publisher accepts them
/// on its helper thread).
fn wait_for_subscribers(p: &mut Publisher, subscribers: usize) {
    let deadline = Instant::now() + common::WATCHDOG;
    while p.subscriber_count() < subscribers {
        assert!(Instant::now() < deadline, "subscribers never arrived");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Receives until the publisher is gone: `(received, missed)`, checking each message whole,
/// in order, and each gap equal to the `Lagged` counts before it.
fn drain(s: &mut Subscriber) -> (u64, u64) {
    let (mut got, mut missed, mut pending, mut next) = (0u64, 0u64, 0u64, None::<u32>);
    loop {
        match s.recv_timeout(common::WATCHDOG) {
            Ok(m) => {
                let i = check(&m);
                if let Some(n) = next {
                    assert_eq!(u64::from(i - n), pending, "gap before message {i}");
                }
                next = Some(i + 1);
                pending = 0;
                got += 1;
            }
            Err(RecvTimeoutError::Lagged(n)) => {
                missed += n;
                pending += n;
            }
            Err(RecvTimeoutError::Disconnected) => return (got, missed),
            Err(e) => panic!("receive: {e}"),
        }
    }
}

#[test]
fn every_subscriber_gets_every_message_on_every_transport() {
    const N: u32 = 20_000;
    for (endpoint, _guard) in endpoints("pubsub-all") {
        let mut p = Publisher::bind(&endpoint).unwrap();
        let at = p.endpoint().to_string();
        let subscribers: Vec<_> = (0..3).map(|_| Subscriber::connect(&at).unwrap()).collect();
        wait_for_subscribers(&mut p, 3);
        assert_eq!(subscribers[0].policy(), Policy::Lossless);
        let threads: Vec<_> = subscribers
            .into_iter()
            .map(|mut s| std::thread::spawn(move || drain(&mut s)))
            .collect();
        for i in 0..N {
            p.send(&message(i)).unwrap();
        }
        drop(p);
        for t in threads {
            assert_eq!(t.join().unwrap(), (u64::from(N), 0), "{endpoint}");
        }
    }
}

#[test]
fn an_overwrite_publisher_never_waits_and_lags_add_up() {
    const N: u32 = 30_000;
    for (endpoint, _guard) in endpoints("pubsub-lag") {
        let options = Options::default()
            .policy(Policy::Overwrite)
            .shm_capacity(1 << 14);
        let mut p = Publisher::bind_with(&endpoint, &options).unwrap();
        let at = p.endpoint().to_string();
        let slow = Subscriber::connect(&at).unwrap();
        wait_for_subscribers(&mut p, 1);
        assert_eq!(slow.policy(), Policy::Overwrite);
        // Nobody reads while everything is published: the publisher must not wait.
        for i in 0..N {
            p.try_send(&message(i)).unwrap();
        }
        // The subscriber reads while the publisher's end completes what it committed.
        let reader = std::thread::spawn(move || {
            let mut slow = slow;
            drain(&mut slow)
        });
        drop(p);
        let (got, missed) = reader.join().unwrap();
        assert!(missed > 0, "{endpoint}: 30 000 messages fitted");
        assert_eq!(got + missed, u64::from(N), "{endpoint}");
    }
}

#[test]
fn a_subscriber_leaving_never_stalls_a_lossless_publisher() {
    for (endpoint, _guard) in endpoints("pubsub-leave") {
        let options = Options::default().shm_capacity(1 << 14);
        let mut p = Publisher::bind_with(&endpoint, &options).unwrap();
        let at = p.endpoint().to_string();
        let stays = Subscriber::connect(&at).unwrap();
        let leaves = Subscriber::connect(&at).unwrap();
        wait_for_subscribers(&mut p, 2);
        let reader = std::thread::spawn(move || {
            let mut stays = stays;
            drain(&mut stays)
        });
        // `leaves` never reads: the publisher fills its room and waits for it, until it goes
        // away.
        let leaver = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            drop(leaves);
        });
        let start = Instant::now();
        for i in 0..20_000 {
            p.send(&message(i)).unwrap();
            assert!(
                start.elapsed() < common::WATCHDOG,
                "{endpoint}: stalled at {i}"
            );
        }
        leaver.join().unwrap();
        drop(p);
        assert_eq!(reader.join().unwrap(), (20_000, 0), "{endpoint}");
    }
}

#[test]
fn the_publisher_gone_ends_subscribers_after_the_last_message() {
    for (endpoint, _guard) in endpoints("pubsub-end") {
        let mut p = Publisher::bind(&endpoint).unwrap();
        let mut s = Subscriber::connect(&p.endpoint().to_string()).unwrap();
        wait_for_subscribers(&mut p, 1);
        assert_eq!(s.try_recv(), Err(TryRecvError::Empty), "{endpoint}");
        p.send(b"last").unwrap();
        drop(p);
        assert_eq!(s.recv().unwrap(), b"last", "{endpoint}");
        assert_eq!(
            s.recv_timeout(common::WATCHDOG),
            Err(RecvTimeoutError::Disconnected),
            "{endpoint}"
        );
    }
}

#[test]
fn transports_that_cannot_fan_out_refuse_clearly() {
    let dir = std::env::temp_dir();
    let name = unique_name("pubsub-refuse");
    for endpoint in [
        format!("fifo:{}", dir.join(format!("{name}.fifo")).display()),
        "pipe".to_owned(),
        format!("mq:/{name}"),
        "sysv:0x5eed".to_owned(),
        format!("auto:{name}"),
    ] {
        for err in [
            Publisher::bind(&endpoint).unwrap_err(),
            Subscriber::connect(&endpoint).unwrap_err(),
        ] {
            assert!(
                matches!(err, ConnectError::Unsupported { .. }),
                "{endpoint}: {err}"
            );
            assert!(
                err.to_string().contains("needs shm:, uds:, tcp: or zenoh:"),
                "{err}"
            );
        }
    }
    // History is the shm: ring's.
    let p = Publisher::bind("tcp:127.0.0.1:0").unwrap();
    let err =
        Subscriber::connect_with(&p.endpoint().to_string(), &Options::default().from_oldest())
            .unwrap_err();
    assert!(err.to_string().contains("keeps no history"), "{err}");
}

#[test]
fn a_subscriber_meeting_a_plain_receiver_is_refused_naming_it() {
    let path = std::env::temp_dir().join(format!("{}.sock", unique_name("pubsub-plain")));
    let endpoint = format!("uds:{}", path.display());
    let mut rx = shmring_ipc::Receiver::bind(&endpoint).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let err = std::thread::scope(|s| {
        // A receiver accepts (and says hello) as it receives.
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = rx.recv_timeout(Duration::from_millis(5));
            }
        });
        let err = Subscriber::connect(&endpoint).unwrap_err();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        err
    });
    assert!(matches!(err, ConnectError::PeerRefused { .. }), "{err}");
    assert!(err.to_string().contains("not a publisher"), "{err}");
    // And a plain sender cannot talk to a publisher: its first message fails.
    let mut p = Publisher::bind("tcp:127.0.0.1:0").unwrap();
    let at = p.endpoint().to_string();
    match shmring_ipc::Sender::connect(&at) {
        Err(_) => {}
        Ok(mut tx) => {
            let deadline = Instant::now() + common::WATCHDOG;
            while tx.send_timeout(b"x", Duration::from_millis(10)).is_ok() {
                assert!(Instant::now() < deadline, "a sender talked to a publisher");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    assert_eq!(p.subscriber_count(), 0);
}

const EXPECT_VAR: &str = "SHMRING_TEST_PUBSUB_EXPECT";

/// Child dispatcher: a subscriber process that checks everything it gets and reports
/// `RESULT got missed` once the publisher is gone.
#[test]
fn child_entry() {
    common::run_child(|role, endpoint| {
        assert_eq!(role, "subscriber");
        let mut s = Subscriber::connect(&endpoint).unwrap();
        println!("READY");
        std::io::stdout().flush().unwrap();
        let (got, missed) = drain(&mut s);
        let expect: u64 = std::env::var(EXPECT_VAR).unwrap().parse().unwrap();
        assert_eq!(got + missed, expect);
        eprintln!("RESULT {got} {missed}");
    });
}

#[test]
fn subscriber_processes_get_every_message_on_every_transport() {
    const N: u32 = 50_000;
    for (endpoint, _guard) in endpoints("pubsub-procs") {
        let mut p = Publisher::bind(&endpoint).unwrap();
        let at = p.endpoint().to_string();
        let children: Vec<_> = (0..2)
            .map(|_| {
                let mut cmd = child("child_entry", "subscriber", &at);
                cmd.env(EXPECT_VAR, N.to_string());
                let mut c = cmd.spawn().unwrap();
                wait_for_line(&mut c, "READY");
                c
            })
            .collect();
        wait_for_subscribers(&mut p, 2);
        let start = Instant::now();
        for i in 0..N {
            p.send(&message(i)).unwrap();
        }
        drop(p);
        for c in children {
            let out = wait_with_watchdog(c);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{endpoint}: {stderr}");
            assert!(
                stderr.contains(&format!("RESULT {N} 0")),
                "{endpoint}: {stderr}"
            );
        }
        eprintln!(
            "{endpoint}: {N} messages to 2 subscriber processes in {:?}",
            start.elapsed()
        );
    }
}
