//! An echo server and client that run unchanged over every duplex transport, chosen by the
//! endpoint on the command line:
//!
//! ```sh
//! cargo run --release -p shmring-ipc --example echo -- shm:echo        # server + client
//! cargo run --release -p shmring-ipc --example echo -- server uds:/tmp/echo.sock
//! cargo run --release -p shmring-ipc --example echo -- client uds:/tmp/echo.sock 10000
//! ```
//!
//! With only an endpoint, the program starts itself as the server in a second process, runs a
//! client of 10 000 requests against it (every reply checked, round-trip percentiles printed),
//! then stops the server. Endpoints: `shm:NAME`, `uds:PATH`, `tcp:HOST:PORT`, `fifo:PATH`,
//! `mq:/NAME`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use shmring_ipc::duplex::{Connection, Server};

fn serve(endpoint: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut server = Server::bind(endpoint)?;
    eprintln!("echo server on {}", server.endpoint());
    println!("READY {}", server.endpoint());
    loop {
        // One client's failed handshake (it went away, or sent garbage) is that client's
        // problem: report it and serve the next.
        let mut conn = match server.accept() {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("echo server: a client could not connect: {e}");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            while conn.recv_into(&mut buf).is_ok() {
                if conn.send(&buf).is_err() {
                    break;
                }
            }
        });
    }
}

fn client(endpoint: &str, n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let mut conn = Connection::connect(endpoint)?;
    let mut times = Vec::with_capacity(n);
    let mut reply = Vec::new();
    for i in 0..n {
        let request: Vec<u8> = (0..(i % 300)).map(|k| (k ^ i) as u8).collect();
        let start = Instant::now();
        conn.send(&request)?;
        conn.recv_into(&mut reply)?;
        times.push(start.elapsed());
        if reply != request {
            return Err(format!("reply {i} differs from its request").into());
        }
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    println!(
        "{endpoint}: {n} requests echoed, round trip p50 {:?}, p99 {:?}, max {:?}",
        at(0.5),
        at(0.99),
        at(1.0)
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["server", endpoint] => serve(endpoint),
        ["client", endpoint, n] => client(endpoint, n.parse()?),
        ["client", endpoint] => client(endpoint, 10_000),
        [endpoint] => {
            let mut server = Command::new(std::env::current_exe()?)
                .args(["server", endpoint])
                .stdout(Stdio::piped())
                .spawn()?;
            // Wait for the server's READY line (it names the port chosen for tcp:...:0).
            let mut line = String::new();
            std::io::BufRead::read_line(
                &mut std::io::BufReader::new(server.stdout.take().ok_or("no stdout")?),
                &mut line,
            )?;
            let bound = line
                .trim()
                .strip_prefix("READY ")
                .ok_or("the server did not start")?;
            let result = client(bound, 10_000);
            let _ = server.kill();
            let _ = server.wait();
            std::thread::sleep(Duration::from_millis(10));
            result
        }
        _ => Err("usage: echo [server|client] ENDPOINT [N]".into()),
    }
}
