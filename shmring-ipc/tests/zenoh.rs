//! `zenoh:` endpoints (feature `zenoh`): two zenoh sessions in one process joined over
//! `tcp/127.0.0.1` with scouting off, as two hosts would be — every byte of random-length
//! messages checked, the end of a sender's stream seen as `Disconnected`, typed channels
//! refusing another type naming both, publish/subscribe fan-out, a configuration file, and a
//! sender that finds no receiver refused instead of publishing into the void, and a sender
//! dropped with megabytes in flight to a slow receiver losing none of them.
#![cfg(feature = "zenoh")]

use shmring_test_support as common;

use std::time::{Duration, Instant};

use common::{Tick, free_port, numbered_message, tick};
use shmring_ipc::{ConnectError, Options, Publisher, Receiver, Sender, Subscriber, typed};

const PATIENCE: Duration = Duration::from_secs(30);

/// A key no other test uses.
fn key(tag: &str) -> String {
    format!("shmring-test/{tag}/{}", std::process::id())
}

/// The options of the listening side (`host A`) and of a side that connects to it.
fn hosts() -> (Options, Options) {
    let addr = format!("tcp/127.0.0.1:{}", free_port());
    let a = Options::default()
        .zenoh_scouting(false)
        .zenoh_listen(addr.clone());
    let b = Options::default().zenoh_scouting(false).zenoh_connect(addr);
    (a, b)
}

#[test]
fn random_length_messages_cross_two_sessions_every_byte_checked() {
    const N: u32 = 20_000;
    let (a, b) = hosts();
    let endpoint = format!("zenoh:{}", key("bytes"));
    let mut rx = Receiver::bind_with(&endpoint, &a).unwrap();
    assert!(!rx.is_disconnected(), "no sender yet is not the end");
    let sender = std::thread::spawn({
        let endpoint = endpoint.clone();
        move || {
            let mut tx = Sender::connect_with(&endpoint, &b).unwrap();
            for i in 0..N {
                tx.send_timeout(&numbered_message(i, 3000), PATIENCE)
                    .unwrap();
            }
        }
    });
    let mut buf = Vec::new();
    for i in 0..N {
        rx.recv_into_deadline(&mut buf, Instant::now() + PATIENCE)
            .unwrap();
        assert_eq!(buf, numbered_message(i, 3000), "message {i}");
    }
    sender.join().unwrap();
    // The sender's end marker: everything received, then the end.
    assert_eq!(
        rx.recv_into_deadline(&mut buf, Instant::now() + PATIENCE),
        Err(shmring_ipc::RecvTimeoutError::Disconnected)
    );
}

#[test]
fn typed_channels_refuse_another_type_naming_both() {
    let (a, b) = hosts();
    let endpoint = format!("zenoh:{}", key("typed"));
    let mut rx = typed::Receiver::<Tick>::bind_with(&endpoint, &a).unwrap();
    let wrong = typed::Sender::<u64>::connect_with(&endpoint, &b).unwrap_err();
    let text = wrong.to_string();
    assert!(
        matches!(wrong, ConnectError::IncompatibleLayout { .. }),
        "{wrong:?}"
    );
    assert!(
        text.contains(&<Tick as shmring::ShmType>::layout().to_string())
            && text.contains("u64 (size 8, align 8)"),
        "{text}"
    );
    // Untyped bytes into a typed receiver: refused too.
    let bytes = Sender::connect_with(&endpoint, &b).unwrap_err();
    assert!(
        matches!(bytes, ConnectError::IncompatibleLayout { .. }),
        "{bytes:?}"
    );
    // Refused senders were never this receiver's: their coming and going is no end.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !rx.is_disconnected(),
        "a refused sender ended the receiver's stream"
    );
    let mut tx = typed::Sender::<Tick>::connect_with(&endpoint, &b).unwrap();
    for i in 0..1000 {
        tx.send(&tick(i)).unwrap();
    }
    for i in 0..1000 {
        assert_eq!(rx.recv_timeout(PATIENCE).unwrap(), tick(i));
    }
}

#[test]
fn an_untyped_receiver_learns_the_senders_type() {
    let (a, b) = hosts();
    let endpoint = format!("zenoh:{}", key("learn"));
    let mut rx = Receiver::bind_with(&endpoint, &a).unwrap();
    let mut tx = typed::Sender::<Tick>::connect_with(&endpoint, &b).unwrap();
    tx.send(&tick(1)).unwrap();
    let got = rx.recv_timeout(PATIENCE).unwrap();
    assert_eq!(bytemuck::pod_read_unaligned::<Tick>(&got), tick(1));
    let layout = rx.peer_layout().expect("the sender's type");
    let tick_layout = <Tick as shmring::ShmType>::layout();
    assert_eq!(layout.to_string(), tick_layout.to_string());
    assert_eq!(layout.fingerprint(), tick_layout.fingerprint());
}

#[test]
fn a_sender_with_no_receiver_is_refused_not_published_into_the_void() {
    let options = Options::default()
        .zenoh_scouting(false)
        .handshake_timeout(Duration::from_millis(300));
    let err = Sender::connect_with(&format!("zenoh:{}", key("nobody")), &options).unwrap_err();
    assert!(matches!(err, ConnectError::NoReceiver { .. }), "{err:?}");
    // A wildcard is no key to publish on; a malformed key is no endpoint.
    assert!(Sender::connect_with("zenoh:a/*", &options).is_err());
    assert!(matches!(
        Sender::connect("zenoh:a//b"),
        Err(ConnectError::BadEndpoint { .. })
    ));
}

#[test]
fn a_publisher_fans_out_to_every_subscriber_in_order() {
    const N: u32 = 5_000;
    let (a, b) = hosts();
    let endpoint = format!("zenoh:{}", key("fanout"));
    let mut publisher = Publisher::bind_with(&endpoint, &a).unwrap();
    let mut subs: Vec<Subscriber> = (0..2)
        .map(|_| Subscriber::connect_with(&endpoint, &b).unwrap())
        .collect();
    let joined_by = Instant::now() + PATIENCE;
    while publisher.subscriber_count() < 2 {
        assert!(
            Instant::now() < joined_by,
            "the subscribers never showed up"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // Their subscriptions reach the publisher's routes a moment after their tokens: send
    // a first message until each has seen one, then the numbered ones.
    let mut primed = [false, false];
    while primed != [true, true] {
        assert!(Instant::now() < joined_by, "no route to the subscribers");
        publisher.send(b"hello").unwrap();
        for (s, p) in subs.iter_mut().zip(&mut primed) {
            while let Ok(m) = s.try_recv() {
                *p |= m == b"hello";
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // The subscribers read while the publisher sends (a blocking publisher waits for them:
    // with nobody reading, what zenoh and the sockets buffer would decide the outcome).
    let readers: Vec<_> = subs
        .into_iter()
        .map(|mut s| {
            std::thread::spawn(move || {
                let mut next = 0;
                while next < N {
                    let m = s.recv_timeout(PATIENCE).unwrap();
                    if m == b"hello" {
                        continue;
                    }
                    assert_eq!(m, numbered_message(next, 500), "message {next}");
                    next += 1;
                }
            })
        })
        .collect();
    for i in 0..N {
        publisher.send(&numbered_message(i, 500)).unwrap();
    }
    for r in readers {
        r.join().unwrap();
    }
    // No history on zenoh: `from_oldest` is refused clearly.
    assert!(matches!(
        Subscriber::connect_with(&endpoint, &b.clone().from_oldest()),
        Err(ConnectError::Unsupported { .. })
    ));
}

#[test]
fn a_zenoh_config_file_configures_the_session() {
    let port = free_port();
    let path = std::env::temp_dir().join(format!("shmring-zenoh-{}.json5", std::process::id()));
    std::fs::write(
        &path,
        format!(
            "{{ mode: \"peer\", listen: {{ endpoints: [\"tcp/127.0.0.1:{port}\"] }}, \
             scouting: {{ multicast: {{ enabled: false }}, gossip: {{ enabled: false }} }} }}"
        ),
    )
    .unwrap();
    let endpoint = format!("zenoh:{}", key("config"));
    let mut rx =
        Receiver::bind_with(&endpoint, &Options::default().zenoh_config_file(&path)).unwrap();
    let b = Options::default()
        .zenoh_scouting(false)
        .zenoh_connect(format!("tcp/127.0.0.1:{port}"));
    let mut tx = Sender::connect_with(&endpoint, &b).unwrap();
    tx.send(b"configured").unwrap();
    assert_eq!(rx.recv_timeout(PATIENCE).unwrap(), b"configured");
    std::fs::remove_file(&path).unwrap();
    // A file that is not there is named in the error.
    let err =
        Receiver::bind_with(&endpoint, &Options::default().zenoh_config_file(&path)).unwrap_err();
    assert!(matches!(err, ConnectError::Zenoh { .. }), "{err:?}");
}

#[test]
fn a_sender_dropped_with_messages_in_flight_loses_none_to_a_slow_receiver() {
    const N: u32 = 30_000;
    let (a, b) = hosts();
    let endpoint = format!("zenoh:{}", key("in-flight"));
    let mut rx = Receiver::bind_with(&endpoint, &a).unwrap();
    let sender = std::thread::spawn({
        let endpoint = endpoint.clone();
        move || {
            let mut tx = Sender::connect_with(&endpoint, &b).unwrap();
            for i in 0..N {
                tx.send_timeout(&numbered_message(i, 2000), PATIENCE)
                    .unwrap();
            }
            // Dropped at once: megabytes are still in zenoh's queues and the socket.
        }
    });
    let mut buf = Vec::new();
    for i in 0..N {
        if i % 64 == 0 {
            std::thread::sleep(Duration::from_millis(5)); // a slow receiver
        }
        rx.recv_into_deadline(&mut buf, Instant::now() + PATIENCE)
            .unwrap_or_else(|e| panic!("message {i}: {e}"));
        assert_eq!(buf, numbered_message(i, 2000), "message {i}");
    }
    sender.join().unwrap();
    assert_eq!(
        rx.recv_into_deadline(&mut buf, Instant::now() + PATIENCE),
        Err(shmring_ipc::RecvTimeoutError::Disconnected)
    );
}
