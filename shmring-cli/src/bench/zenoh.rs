//! The `zenoh` rows of `shmring bench` (feature `zenoh`): shmring-ipc's `zenoh:` endpoint and
//! raw zenoh publish/subscribe (the floor it is measured against in the same run), round trips
//! and one-way throughput between two processes over `tcp/127.0.0.1` with scouting off. The
//! `tcp:` rows to compare with are the `ipc-tcp` group.

use std::time::{Duration, Instant};

use ::zenoh::Wait;
use shmring_ipc::{Options, Receiver, Sender};

use super::{Config, Plan, Row, finish, round_trips, rtt_row, size_label, spawn_peer, tput_row};

/// Adds the zenoh rows `plan` selects.
pub(super) fn add_rows(plan: &mut Plan) {
    let cfg = plan.cfg;
    for size in [64, 1024] {
        plan.add("zenoh", size, move || ipc_rtt(cfg, size));
        plan.add("zenoh", size, move || raw_rtt(cfg, size));
        plan.add("zenoh", size, move || ipc_tput(cfg, size));
        plan.add("zenoh", size, move || raw_tput(cfg, size));
    }
}

/// A local TCP endpoint nothing listens on now, for a session to listen on.
fn local_endpoint() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    format!("tcp/127.0.0.1:{port}")
}

/// A key no other row uses.
fn key(tag: &str) -> String {
    format!("shmring-bench/{tag}/{}", super::unique("z"))
}

fn listening(at: &str) -> Options {
    Options::default().zenoh_scouting(false).zenoh_listen(at)
}

fn connecting(to: &str) -> Options {
    Options::default().zenoh_scouting(false).zenoh_connect(to)
}

/// A raw zenoh session (peer mode, scouting off) listening on or connecting to `at`.
fn raw_session(at: &str, listen: bool) -> ::zenoh::Session {
    let mut c = ::zenoh::Config::default();
    let set = |c: &mut ::zenoh::Config, k: &str, v: String| c.insert_json5(k, &v).expect(k);
    set(&mut c, "mode", "\"peer\"".into());
    set(&mut c, "scouting/multicast/enabled", "false".into());
    set(&mut c, "scouting/gossip/enabled", "false".into());
    let which = if listen {
        "listen/endpoints"
    } else {
        "connect/endpoints"
    };
    set(&mut c, which, format!("[{at:?}]"));
    ::zenoh::open(c).wait().expect("zenoh session")
}

fn publisher(s: &::zenoh::Session, key: &str) -> ::zenoh::pubsub::Publisher<'static> {
    s.declare_publisher(key.to_owned())
        .congestion_control(::zenoh::qos::CongestionControl::Block)
        .wait()
        .expect("publisher")
}

type RawSubscriber =
    ::zenoh::pubsub::Subscriber<::zenoh::handlers::FifoChannelHandler<::zenoh::sample::Sample>>;

fn subscriber(s: &::zenoh::Session, key: &str) -> RawSubscriber {
    s.declare_subscriber(key.to_owned())
        .with(::zenoh::handlers::FifoChannel::new(1024))
        .wait()
        .expect("subscriber")
}

/// A sample's payload copied into `buf`, as a receiver that keeps the message does (what the
/// `zenoh:` endpoint's `recv_into` does, so both rows do the same work).
fn copy_out(sample: &::zenoh::sample::Sample, buf: &mut Vec<u8>) {
    buf.clear();
    buf.extend_from_slice(&sample.payload().to_bytes());
}

/// Waits until `p` has a subscriber (a put before that goes nowhere).
fn matched(p: &::zenoh::pubsub::Publisher<'_>) {
    let until = Instant::now() + Duration::from_secs(30);
    while !p.matching_status().wait().expect("matching").matching() {
        assert!(Instant::now() < until, "no zenoh subscriber");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Round trips through shmring-ipc `zenoh:` (ping and pong keys) to an echoing peer.
fn ipc_rtt(cfg: Config, size: usize) -> Row {
    let (ping, pong) = (key("ping"), key("pong"));
    let (rx_at, tx_at) = (local_endpoint(), local_endpoint());
    let mut rx = Receiver::bind_with(&format!("zenoh:{pong}"), &listening(&rx_at)).expect("bind");
    let child = spawn_peer(&["zenoh-ipc-echo", &ping, &pong, &tx_at, &rx_at]);
    let mut tx =
        Sender::connect_with(&format!("zenoh:{ping}"), &listening(&tx_at)).expect("connect");
    let request = vec![3u8; size];
    let mut reply = Vec::with_capacity(size);
    let hist = round_trips(2_000, cfg.rtt_iters / 10, |_| {
        tx.send(&request).expect("send");
        rx.recv_into(&mut reply).expect("receive");
    });
    assert_eq!(reply, request);
    drop(tx); // the peer sees the end of the pings and exits
    finish(child);
    rtt_row("shmring-ipc zenoh:", size_label(size), &hist)
}

/// Round trips through raw zenoh publish/subscribe (one session per process).
fn raw_rtt(cfg: Config, size: usize) -> Row {
    let (ping, pong) = (key("raw-ping"), key("raw-pong"));
    let at = local_endpoint();
    let session = raw_session(&at, true);
    let replies = subscriber(&session, &pong);
    let child = spawn_peer(&["zenoh-raw-echo", &ping, &pong, &at]);
    let requests = publisher(&session, &ping);
    matched(&requests);
    let request = vec![3u8; size];
    let mut reply = Vec::with_capacity(size);
    let hist = round_trips(2_000, cfg.rtt_iters / 10, |_| {
        requests.put(request.as_slice()).wait().expect("put");
        copy_out(&replies.recv().expect("reply"), &mut reply);
    });
    assert_eq!(reply, request);
    requests.put(Vec::<u8>::new()).wait().expect("stop");
    finish(child);
    rtt_row("raw zenoh pub/sub", size_label(size), &hist)
}

/// One-way through shmring-ipc `zenoh:`: a peer sends, this process receives.
fn ipc_tput(cfg: Config, size: usize) -> Row {
    let k = key("tput");
    let at = local_endpoint();
    let mut rx = Receiver::bind_with(&format!("zenoh:{k}"), &listening(&at)).expect("bind");
    let child = spawn_peer(&["zenoh-ipc-send", &k, &at, &size.to_string()]);
    let mut buf = Vec::with_capacity(size);
    for _ in 0..1000 {
        rx.recv_into(&mut buf).expect("warm-up receive");
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < cfg.tput {
        for _ in 0..256 {
            rx.recv_into(&mut buf).expect("receive");
            assert_eq!(buf.len(), size);
        }
        n += 256;
    }
    let took = start.elapsed();
    drop(rx); // the peer finds no receiver and exits
    finish(child);
    tput_row("shmring-ipc zenoh:", size_label(size), size, n, took)
}

/// One-way through raw zenoh publish/subscribe.
fn raw_tput(cfg: Config, size: usize) -> Row {
    let k = key("raw-tput");
    let at = local_endpoint();
    let session = raw_session(&at, true);
    let samples = subscriber(&session, &k);
    let child = spawn_peer(&["zenoh-raw-send", &k, &at, &size.to_string()]);
    let mut buf = Vec::with_capacity(size);
    for _ in 0..1000 {
        samples.recv().expect("warm-up sample");
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < cfg.tput {
        for _ in 0..256 {
            copy_out(&samples.recv().expect("sample"), &mut buf);
            assert_eq!(buf.len(), size);
        }
        n += 256;
    }
    let took = start.elapsed();
    drop(samples);
    drop(session); // the peer's publisher loses its subscriber and exits
    finish(child);
    tput_row("raw zenoh pub/sub", size_label(size), size, n, took)
}

/// Runs the peer role `args` names; `false` if it names none of these.
pub(super) fn peer(args: &[String]) -> bool {
    let arg = |i: usize| args.get(i).map_or("", String::as_str);
    match arg(0) {
        "zenoh-ipc-echo" => {
            let (ping, pong, tx_at, rx_at) = (arg(1), arg(2), arg(3), arg(4));
            let mut rx =
                Receiver::bind_with(&format!("zenoh:{ping}"), &connecting(tx_at)).expect("bind");
            let mut tx = Sender::connect_with(&format!("zenoh:{pong}"), &connecting(rx_at))
                .expect("connect");
            let mut buf = Vec::new();
            while rx.recv_into(&mut buf).is_ok() {
                if tx.send(&buf).is_err() {
                    break;
                }
            }
        }
        "zenoh-raw-echo" => {
            let session = raw_session(arg(3), false);
            let requests = subscriber(&session, arg(1));
            let replies = publisher(&session, arg(2));
            matched(&replies);
            while let Ok(sample) = requests.recv() {
                let payload = sample.payload().to_bytes();
                if payload.is_empty() {
                    break;
                }
                replies.put(payload.as_ref()).wait().expect("put");
            }
        }
        "zenoh-ipc-send" => {
            let size: usize = arg(3).parse().unwrap();
            let mut tx = Sender::connect_with(&format!("zenoh:{}", arg(1)), &connecting(arg(2)))
                .expect("connect");
            let msg = vec![0x5au8; size];
            // Ends when the receiver is gone: no subscriber for a while.
            while tx.send_timeout(&msg, Duration::from_secs(1)).is_ok() {}
        }
        "zenoh-raw-send" => {
            let size: usize = arg(3).parse().unwrap();
            let session = raw_session(arg(2), false);
            let samples = publisher(&session, arg(1));
            matched(&samples);
            let msg = vec![0x5au8; size];
            let mut sent = 0u64;
            loop {
                samples.put(msg.as_slice()).wait().expect("put");
                sent += 1;
                if sent % 4096 == 0 && !samples.matching_status().wait().is_ok_and(|m| m.matching())
                {
                    break;
                }
            }
        }
        _ => return false,
    }
    true
}
