//! The Rust side for a program in another language: sends or receives a known sequence of
//! messages over a ring or an endpoint, and checks every one it receives. `ci/conformance.py`
//! (a client written from the docs alone) runs it against its own implementation of each ring
//! kind and transport.
//!
//! ```sh
//! cargo run -p shmring-ipc --example peer -- ring-send mpmc NAME COUNT CAPACITY
//! cargo run -p shmring-ipc --example peer -- ring-recv spsc NAME COUNT
//! cargo run -p shmring-ipc --example peer -- recv mq:/NAME COUNT
//! ```
//!
//! Rings: `spsc` and `mpmc` carry `u64` (message `i` is [`value`]`(i)`), `framed` carries
//! bytes (message `i` is [`message`]`(i)`); `recv ENDPOINT` receives bytes messages on any
//! shmring-ipc endpoint (printing `READY` once bound). Each prints one line with what it did
//! and exits 0, or names the first message that differs and exits 1.

use std::error::Error;

/// Message `i` of a typed ring: `i` times the 64-bit golden ratio, so a message off by one
/// position or torn between two is caught.
fn value(i: u64) -> u64 {
    i.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Message `i` of a byte ring: `message I ` then `i * 7 % 200` bytes `(i + k) % 256`.
fn message(i: u64) -> Vec<u8> {
    let mut m = format!("message {i} ").into_bytes();
    m.extend((0..(i * 7 % 200)).map(|k| ((i + k) % 256) as u8));
    m
}

/// Compares received message `i` with the one expected.
fn check<T: PartialEq + std::fmt::Debug>(i: u64, got: T, want: T) -> Result<(), Box<dyn Error>> {
    if got == want {
        Ok(())
    } else {
        Err(format!("message {i}: got {got:?}, expected {want:?}").into())
    }
}

fn ring_send(kind: &str, name: &str, count: u64, capacity: u64) -> Result<(), Box<dyn Error>> {
    match kind {
        "spsc" => {
            let mut tx = shmring::spsc::Sender::<u64>::create(name, capacity)?;
            for i in 0..count {
                tx.send(value(i)).map_err(|e| format!("message {i}: {e}"))?;
            }
        }
        "mpmc" => {
            let tx = shmring::mpmc::Sender::<u64>::create(name, capacity)?;
            for i in 0..count {
                tx.send(value(i)).map_err(|e| format!("message {i}: {e}"))?;
            }
        }
        "framed" => {
            let mut tx = shmring::framed::Sender::create(name, capacity)?;
            for i in 0..count {
                tx.send(&message(i))
                    .map_err(|e| format!("message {i}: {e}"))?;
            }
        }
        other => return Err(format!("unknown ring kind {other}").into()),
    }
    println!("sent {count} messages into {kind} ring {name}");
    Ok(())
}

fn ring_recv(kind: &str, name: &str, count: u64) -> Result<(), Box<dyn Error>> {
    match kind {
        "spsc" => {
            let mut rx = shmring::spsc::Receiver::<u64>::open(name)?;
            for i in 0..count {
                check(
                    i,
                    rx.recv().map_err(|e| format!("message {i}: {e}"))?,
                    value(i),
                )?;
            }
        }
        "mpmc" => {
            let rx = shmring::mpmc::Receiver::<u64>::open(name)?;
            for i in 0..count {
                check(
                    i,
                    rx.recv().map_err(|e| format!("message {i}: {e}"))?,
                    value(i),
                )?;
            }
        }
        "framed" => {
            let mut rx = shmring::framed::Receiver::open(name)?;
            for i in 0..count {
                check(
                    i,
                    rx.recv().map_err(|e| format!("message {i}: {e}"))?,
                    message(i),
                )?;
            }
        }
        other => return Err(format!("unknown ring kind {other}").into()),
    }
    println!("received {count} messages from {kind} ring {name}, every one as expected");
    Ok(())
}

fn endpoint_recv(endpoint: &str, count: u64) -> Result<(), Box<dyn Error>> {
    use std::io::Write;
    let mut rx = shmring_ipc::Receiver::bind(endpoint)?;
    println!("READY {}", rx.endpoint());
    std::io::stdout().flush()?;
    for i in 0..count {
        check(
            i,
            rx.recv().map_err(|e| format!("message {i}: {e}"))?,
            message(i),
        )?;
    }
    println!("received {count} messages on {endpoint}, every one as expected");
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["ring-send", kind, name, count, capacity] => {
            ring_send(kind, name, count.parse()?, capacity.parse()?)
        }
        ["ring-recv", kind, name, count] => ring_recv(kind, name, count.parse()?),
        ["recv", endpoint, count] => endpoint_recv(endpoint, count.parse()?),
        _ => Err(
            "usage: peer ring-send KIND NAME COUNT CAPACITY | ring-recv KIND NAME COUNT \
                  | recv ENDPOINT COUNT (KIND: spsc, mpmc, framed)"
                .into(),
        ),
    }
}
