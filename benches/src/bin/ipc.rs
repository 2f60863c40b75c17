//! Cross-process throughput of the shmring-ipc transports against the raw mechanisms used
//! directly, in the same run: one sender process (pinned to core 1 where there are two)
//! streaming fixed-size messages, this process (core 0) receiving them.
//!
//! Raw baselines: one `write_all` per message and `read_exact` of the message size on a Unix
//! socket, a TCP connection and a FIFO; `mq_send`/`mq_receive` on a POSIX message queue. The
//! shmring-ipc rows send with `Sender::send` and receive with `Receiver::recv_into` (framed,
//! checked). Each row is the median of `--reps` interleaved repetitions.
//!
//! `cargo run --release -p shmring-benches --bin ipc -- [--quick] [--reps N] [--secs S] [--only KIND]`
//!
//! With `SHMRING_BENCH_STATS` set, each measurement also prints the sender's and this
//! process's context-switch counts (from `/proc/PID/status`) to stderr.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SIZES: [usize; 2] = [64, 1024];
const KINDS: [&str; 5] = ["uds", "tcp", "fifo", "mq", "shm"];

fn unique(tag: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "shmring-bench-ipc-{tag}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

fn spawn(args: &[&str]) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .arg("peer")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// Receives with `recv` (returns bytes of one message) for `secs`; messages per second.
fn drain(secs: Duration, mut recv: impl FnMut() -> bool) -> f64 {
    // Warm up, then measure.
    for _ in 0..1000 {
        if !recv() {
            return 0.0;
        }
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < secs {
        for _ in 0..256 {
            if !recv() {
                break;
            }
        }
        n += 256;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// One measurement: (messages per second).
fn measure(kind: &str, ipc: bool, size: usize, secs: Duration) -> f64 {
    let dir = std::env::temp_dir();
    let name = unique(kind);
    let size_s = size.to_string();
    let rate;
    let mut child;
    if ipc {
        let endpoint = match kind {
            "uds" => format!("uds:{}", dir.join(format!("{name}.sock")).display()),
            "tcp" => "tcp:127.0.0.1:0".to_owned(),
            "fifo" => format!("fifo:{}", dir.join(format!("{name}.fifo")).display()),
            "mq" => format!("mq:/{name}"),
            _ => format!("shm:{name}"),
        };
        let mut rx = shmring_ipc::Receiver::bind(&endpoint).unwrap();
        let endpoint = rx.endpoint().to_string();
        child = spawn(&["ipc", &endpoint, &size_s]);
        let mut buf = Vec::with_capacity(size);
        rate = drain(secs, || rx.recv_into(&mut buf).is_ok());
        drop(rx);
        if kind == "shm" {
            let _ = shmring::Segment::unlink_name(&name);
        }
    } else {
        let mut buf = vec![0u8; size];
        match kind {
            "uds" => {
                let path = dir.join(format!("{name}.sock"));
                let listener = UnixListener::bind(&path).unwrap();
                child = spawn(&["raw-uds", path.to_str().unwrap(), &size_s]);
                let (mut s, _) = listener.accept().unwrap();
                rate = drain(secs, || s.read_exact(&mut buf).is_ok());
                let _ = std::fs::remove_file(&path);
            }
            "tcp" => {
                let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                let addr = listener.local_addr().unwrap().to_string();
                child = spawn(&["raw-tcp", &addr, &size_s]);
                let (mut s, _) = listener.accept().unwrap();
                s.set_nodelay(true).unwrap();
                rate = drain(secs, || s.read_exact(&mut buf).is_ok());
            }
            "fifo" => {
                let path = dir.join(format!("{name}.fifo"));
                nix::unistd::mkfifo(&path, nix::sys::stat::Mode::S_IRWXU).unwrap();
                child = spawn(&["raw-fifo", path.to_str().unwrap(), &size_s]);
                let mut f = std::fs::File::open(&path).unwrap();
                rate = drain(secs, || f.read_exact(&mut buf).is_ok());
                let _ = std::fs::remove_file(&path);
            }
            "mq" => {
                use nix::mqueue::{MQ_OFlag, MqAttr, mq_close, mq_open, mq_receive, mq_unlink};
                let qname = format!("/{name}");
                let attr = MqAttr::new(0, 10, size as _, 0);
                let q = mq_open(
                    qname.as_str(),
                    MQ_OFlag::O_CREAT | MQ_OFlag::O_RDONLY,
                    nix::sys::stat::Mode::S_IRWXU,
                    Some(&attr),
                )
                .unwrap();
                child = spawn(&["raw-mq", &qname, &size_s]);
                let mut prio = 0;
                rate = drain(secs, || mq_receive(&q, &mut buf, &mut prio).is_ok());
                let _ = mq_close(q);
                let _ = mq_unlink(qname.as_str());
            }
            _ => return 0.0,
        }
    }
    if std::env::var_os("SHMRING_BENCH_STATS").is_some() {
        let status = |pid: String| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("ctxt_switches"))
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join(", ")
        };
        eprintln!(
            "{kind} {} {size} B: {:.3} M/s; sender {}; receiver {}",
            if ipc { "ipc" } else { "raw" },
            rate / 1e6,
            status(child.id().to_string()),
            status("self".into())
        );
    }
    let _ = child.kill();
    let _ = child.wait();
    rate
}

fn peer(args: &[String]) {
    shmring_benches::pin(1);
    let size: usize = args[2].parse().unwrap();
    let msg = vec![0x5au8; size];
    match args[0].as_str() {
        "ipc" => {
            let mut tx = shmring_ipc::Sender::connect(&args[1]).unwrap();
            while tx.send(&msg).is_ok() {}
        }
        "raw-uds" => {
            let mut s = UnixStream::connect(&args[1]).unwrap();
            while s.write_all(&msg).is_ok() {}
        }
        "raw-tcp" => {
            let mut s = std::net::TcpStream::connect(&args[1]).unwrap();
            s.set_nodelay(true).unwrap();
            while s.write_all(&msg).is_ok() {}
        }
        "raw-fifo" => {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(&args[1])
                .unwrap();
            while f.write_all(&msg).is_ok() {}
        }
        "raw-mq" => {
            use nix::mqueue::{MQ_OFlag, mq_open, mq_send};
            let q = mq_open(
                args[1].as_str(),
                MQ_OFlag::O_WRONLY,
                nix::sys::stat::Mode::empty(),
                None,
            )
            .unwrap();
            while mq_send(&q, &msg, 0).is_ok() {}
        }
        other => panic!("unknown peer {other}"),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("peer") {
        return peer(&args[1..]);
    }
    let quick = args.iter().any(|a| a == "--quick");
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<f64>().ok())
    };
    let reps = flag("--reps").map_or(3, |r| r as usize).max(1);
    let secs = Duration::from_secs_f64(flag("--secs").unwrap_or(if quick { 0.4 } else { 1.0 }));
    shmring_benches::pin(0);
    let only: Option<&str> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str);
    let mut rows = Vec::new();
    for size in SIZES {
        for kind in KINDS
            .iter()
            .copied()
            .filter(|k| only.is_none_or(|o| o == *k))
        {
            let mut raw = Vec::new();
            let mut ipc = Vec::new();
            for _ in 0..reps {
                if kind != "shm" {
                    raw.push(measure(kind, false, size, secs));
                }
                ipc.push(measure(kind, true, size, secs));
            }
            let raw = (!raw.is_empty()).then(|| median(raw));
            rows.push((kind, size, raw, median(ipc)));
            eprint!(".");
        }
    }
    eprintln!();
    println!("| transport | size | raw M msgs/s | shmring-ipc M msgs/s | ipc / raw |");
    println!("|---|---|---:|---:|---:|");
    for (kind, size, raw, ipc) in &rows {
        let raw_s = raw.map_or("—".to_owned(), |r| format!("{:.3}", r / 1e6));
        let ratio = raw.map_or("—".to_owned(), |r| format!("{:.2}×", ipc / r));
        println!(
            "| {kind} | {size} B | {raw_s} | {:.3} | {ratio} |",
            ipc / 1e6
        );
    }
    if only.is_some() {
        return;
    }
    let at = |kind: &str| {
        rows.iter()
            .find(|(k, s, ..)| *k == kind && *s == 64)
            .map_or(0.0, |r| r.3)
    };
    println!();
    println!(
        "shm: / uds: at 64 B (both through shmring-ipc): {:.1}×",
        at("shm") / at("uds")
    );
}
