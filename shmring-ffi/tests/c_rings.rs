//! C processes on typed mpmc and broadcast rings beside Rust processes (`tests/c/peer.c`,
//! compiled with the system `cc`): C and Rust producers sharing an mpmc ring, C consumers
//! splitting one, C receivers seeing every broadcast message, a C writer fanning out to Rust
//! receivers and SIGKILLed mid-stream, an overwriting ring's lag report, and C structs with
//! other fields refused on both kinds naming both layouts. The C++ layer (`include/shmring.hpp`,
//! `tests/c/cxx.cpp` compiled with the system `c++`) on all three typed kinds.

use shmring_test_support as common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{Tick, Unlink, tick, unique_name};
use shmring::{broadcast, mpmc};

#[path = "c/build.rs"]
mod build;
#[path = "c/support.rs"]
mod support;

use support::{killed_mid_stream, line, peer_output, run_peer, spawn_peer};

const PATIENCE: Duration = Duration::from_secs(30);

#[test]
fn c_and_rust_producers_share_an_mpmc_ring() {
    const N: u64 = 20_000;
    let name = unique_name("ffi-mpmc-in");
    let _u = Unlink(name.clone());
    let rx = mpmc::Receiver::<Tick>::create(name.as_str(), 64).unwrap();
    let c = [1, 2].map(|p| spawn_peer(&["mpmc-send", &name, &N.to_string(), &p.to_string()]));
    let tx = mpmc::Sender::<Tick>::open(name.as_str()).unwrap();
    let rust = std::thread::spawn(move || {
        for i in 0..N {
            tx.send_timeout(Tick { side: 0, ..tick(i) }, PATIENCE)
                .unwrap();
        }
    });
    // One receiver: each producer's ticks arrive in its order, every one whole.
    let mut next: HashMap<u32, u64> = HashMap::new();
    for _ in 0..3 * N {
        let t = rx.recv_timeout(PATIENCE).unwrap();
        let want = next.entry(t.side).or_default();
        assert_eq!(
            t,
            Tick {
                side: t.side,
                ..tick(*want)
            },
            "producer {}",
            t.side
        );
        *want += 1;
    }
    rust.join().unwrap();
    for child in c {
        assert_eq!(peer_output(child), format!("sent {N} ticks\n"));
    }
    assert_eq!(next, HashMap::from([(0, N), (1, N), (2, N)]));
    assert_eq!(
        rx.recv_timeout(PATIENCE),
        Err(shmring::RecvTimeoutError::Disconnected)
    );
}

#[test]
fn c_consumers_split_an_mpmc_ring() {
    const N: u64 = 30_000;
    let name = unique_name("ffi-mpmc-out");
    let _u = Unlink(name.clone());
    let tx = mpmc::Sender::<Tick>::create(name.as_str(), 64).unwrap();
    let c = [0, 1].map(|_| spawn_peer(&["mpmc-recv", &name]));
    for i in 0..N {
        tx.send_timeout(tick(i), PATIENCE).unwrap();
    }
    drop(tx);
    // Each tick taken by exactly one of them: the counts and the sums of ts_ns add up.
    let (mut count, mut sum) = (0, 0);
    for child in c {
        let out = peer_output(child);
        let (n, s) = line(&out, "received ").split_once(" sum ").unwrap();
        count += n.parse::<u64>().unwrap();
        sum += s.parse::<u64>().unwrap();
    }
    assert_eq!((count, sum), (N, N * (N - 1) / 2));
}

#[test]
fn c_receivers_see_every_broadcast_message() {
    const N: u64 = 30_000;
    let name = unique_name("ffi-bc-out");
    let _u = Unlink(name.clone());
    let mut tx = broadcast::Sender::<Tick>::create(name.as_str(), 64).unwrap();
    let c = [0, 1].map(|_| spawn_peer(&["bc-recv", &name, &N.to_string()]));
    // A receiver starts at the next message: send once both have joined.
    let joined_by = Instant::now() + PATIENCE;
    while tx.receiver_count() < 2 {
        assert!(Instant::now() < joined_by, "the C receivers never joined");
        std::thread::sleep(Duration::from_millis(1));
    }
    for i in 0..N {
        tx.send_deadline(tick(i), Instant::now() + PATIENCE)
            .unwrap();
    }
    drop(tx);
    // Each checked every tick in order, then saw the writer leave (4, DISCONNECTED).
    for child in c {
        assert_eq!(
            peer_output(child),
            format!("broadcast {N}, then status 4\n")
        );
    }
}

#[test]
fn a_c_writer_fans_out_to_rust_receivers() {
    const N: u64 = 30_000;
    let name = unique_name("ffi-bc-in");
    let _u = Unlink(name.clone());
    let mut a = broadcast::Receiver::<Tick>::create(name.as_str(), 64).unwrap();
    let mut b =
        broadcast::DynReceiver::open(name.as_str(), <Tick as shmring::ShmType>::layout()).unwrap();
    let child = spawn_peer(&["bc-send", &name, &N.to_string()]);
    let mut buf = [0u8; 24];
    for i in 0..N {
        assert_eq!(a.recv_timeout(PATIENCE), Ok(tick(i)));
        b.recv_into_deadline(&mut buf, Instant::now() + PATIENCE)
            .unwrap();
        assert_eq!(bytemuck::pod_read_unaligned::<Tick>(&buf), tick(i));
    }
    assert_eq!(peer_output(child), format!("sent {N} ticks\n"));
    assert_eq!(
        a.recv_timeout(PATIENCE),
        Err(broadcast::RecvTimeoutError::Disconnected)
    );
}

#[test]
fn a_c_broadcast_writer_killed_mid_stream_leaves_the_rust_receiver_whole() {
    let name = unique_name("ffi-bc-killed");
    let _u = Unlink(name.clone());
    let mut rx = broadcast::Receiver::<Tick>::create(name.as_str(), 64).unwrap();
    killed_mid_stream(
        &["bc-send", &name, "1000000000"],
        || {
            rx.recv_timeout(Duration::from_secs(10))
                .map_err(|e| match e {
                    broadcast::RecvTimeoutError::Disconnected => {
                        shmring::RecvTimeoutError::Disconnected
                    }
                    other => panic!("{other}"),
                })
        },
        tick,
    );
    // A new writer takes over from the dead one.
    assert!(broadcast::Sender::<Tick>::open(name.as_str()).is_ok());
}

#[test]
fn an_overwritten_c_receiver_is_told_how_many_it_missed() {
    let name = unique_name("ffi-bc-lag");
    let _u = Unlink(name.clone());
    let out = run_peer(&["bc-lag", &name]);
    // Capacity 8, 20 written: the oldest 7 are left, 13 missed (17: LAGGED).
    let status = line(&out, "status ");
    assert!(status.starts_with("17 ") && status.contains("13"), "{out}");
    assert_eq!(line(&out, "missed "), "13 left 7 then 2");
}

#[test]
fn c_structs_with_other_fields_cannot_attach_to_mpmc_or_broadcast_rings() {
    let rust = <Tick as shmring::ShmType>::layout().to_string();
    for kind in ["mpmc", "broadcast"] {
        let name = unique_name("ffi-open-kind");
        let _u = Unlink(name.clone());
        let _tx: Box<dyn std::any::Any> = if kind == "mpmc" {
            Box::new(mpmc::Sender::<Tick>::create(name.as_str(), 8).unwrap())
        } else {
            Box::new(broadcast::Sender::<Tick>::create(name.as_str(), 8).unwrap())
        };
        for (label, theirs) in [
            ("swapped", "side: u32 @16, qty: i32 @20"),
            ("narrow", "qty: u8 @16"),
        ] {
            let out = run_peer(&["open-as", label, &name, kind]);
            assert!(out.starts_with("11 "), "{kind} {label}: {out}");
            assert!(
                out.contains(&rust) && out.contains(theirs),
                "{kind} {label}: the refusal names both layouts: {out}"
            );
        }
        assert_eq!(
            run_peer(&["open-as", "tick", &name, kind]),
            "0 \n",
            "{kind}"
        );
    }
}

#[test]
fn the_cxx_layer_on_spsc_mpmc_and_broadcast_rings() {
    let base = unique_name("ffi-cxx");
    let _u = ["spsc", "mpmc", "bc"].map(|k| Unlink(format!("{base}-{k}")));
    let child = std::process::Command::new(build::cxx_peer())
        .args(["self", &base])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(peer_output(child), "c++ ok\n");
}

#[test]
fn a_cxx_receiver_of_a_rust_broadcast() {
    const N: u64 = 20_000;
    let name = unique_name("ffi-cxx-bc");
    let _u = Unlink(name.clone());
    let mut tx = broadcast::Sender::<Tick>::create(name.as_str(), 64).unwrap();
    let child = std::process::Command::new(build::cxx_peer())
        .args(["bc-recv", &name, &N.to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let joined_by = Instant::now() + PATIENCE;
    while tx.receiver_count() < 1 {
        assert!(Instant::now() < joined_by, "the C++ receiver never joined");
        std::thread::sleep(Duration::from_millis(1));
    }
    for i in 0..N {
        tx.send_deadline(tick(i), Instant::now() + PATIENCE)
            .unwrap();
    }
    drop(tx);
    assert_eq!(peer_output(child), format!("c++ broadcast {N}\n"));
}
