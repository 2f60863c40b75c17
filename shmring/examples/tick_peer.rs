//! A Rust process with a `Tick` ring, for the language bindings' tests (pytest, C):
//!
//! * `tick_peer describe` — prints the layout description and fingerprint of `Tick`;
//! * `tick_peer send NAME N` — creates the spsc ring `NAME` of `Tick` and sends ticks 0..N
//!   (`ts_ns = i`, `price = i / 2`, `qty = -i`, `side = i % 2`), then waits for the receiver
//!   to take them all;
//! * `tick_peer recv NAME N` — opens `NAME` as its receiver and checks N such ticks;
//! * `tick_peer broadcast NAME N R` — creates the lossless broadcast ring `NAME` of `Tick`,
//!   waits (30 s at most) for R receivers to join, then sends ticks 0..N to all of them.
//!
//! `cargo run --release -p shmring --example tick_peer -- send ticks 1000`

use std::time::Duration;

use shmring_test_support::{Tick, tick};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    use shmring::ShmType;
    let args: Vec<String> = std::env::args().collect();
    let n = |i: usize| -> u64 { args.get(i).map_or(0, |a| a.parse().unwrap()) };
    match args.get(1).map(String::as_str) {
        Some("describe") => {
            let l = Tick::layout();
            println!("{l}\n{}", l.fingerprint());
        }
        Some("send") => {
            let mut tx = shmring::spsc::Sender::<Tick>::create(args[2].as_str(), 1024)?;
            for i in 0..n(3) {
                tx.send_timeout(tick(i), Duration::from_secs(30))?;
            }
            // Stay until the receiver has taken everything (the ring outlives us anyway).
            while !tx.is_empty() {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Some("recv") => {
            let mut rx = shmring::spsc::Receiver::<Tick>::open(args[2].as_str())?;
            for i in 0..n(3) {
                let t = rx.recv_timeout(Duration::from_secs(30))?;
                assert_eq!(t, tick(i), "tick {i}");
            }
            println!("received {}", n(3));
        }
        Some("broadcast") => {
            let mut tx = shmring::broadcast::Sender::<Tick>::create(args[2].as_str(), 1024)?;
            let joined_by = std::time::Instant::now() + Duration::from_secs(30);
            while tx.receiver_count() < n(4) as usize {
                if std::time::Instant::now() > joined_by {
                    return Err(format!("only {} receivers joined", tx.receiver_count()).into());
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            for i in 0..n(3) {
                tx.send_timeout(tick(i), Duration::from_secs(30))?;
            }
        }
        _ => {
            return Err(
                "usage: tick_peer describe | send NAME N | recv NAME N | broadcast NAME N R".into(),
            );
        }
    }
    Ok(())
}
