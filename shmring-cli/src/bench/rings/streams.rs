//! Pipes (FIFOs), Unix stream sockets and TCP: the raw mechanisms shmring-ipc is measured
//! against.

#[allow(unused_imports)]
use super::*;

// ---------------------------------------------------------------- pipes and sockets

/// A bidirectional byte stream: two FIFOs, one Unix socket or one TCP connection.
pub(super) struct Duplex {
    read: Box<dyn Read>,
    write: Box<dyn Write>,
}

pub(super) fn stream_paths(kind: &str) -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(unique(kind));
    std::fs::create_dir_all(&dir).unwrap();
    (dir.clone(), dir.display().to_string())
}

/// The parent's end. For pipes: creates two FIFOs; for uds: listens and accepts.
pub(super) fn stream_parent(kind: &str, dir: &std::path::Path, accept: impl FnOnce()) -> Duplex {
    if kind == "pipe" {
        let (a, b) = (dir.join("ping"), dir.join("pong"));
        nix::unistd::mkfifo(&a, nix::sys::stat::Mode::S_IRWXU).unwrap();
        nix::unistd::mkfifo(&b, nix::sys::stat::Mode::S_IRWXU).unwrap();
        accept();
        let write = std::fs::OpenOptions::new().write(true).open(&a).unwrap();
        let read = std::fs::File::open(&b).unwrap();
        Duplex {
            read: Box::new(read),
            write: Box::new(write),
        }
    } else if kind == "tcp" {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std::fs::write(dir.join("port"), listener.local_addr().unwrap().to_string()).unwrap();
        accept();
        let (s, _) = listener.accept().unwrap();
        s.set_nodelay(true).unwrap();
        Duplex {
            read: Box::new(s.try_clone().unwrap()),
            write: Box::new(s),
        }
    } else {
        let listener = UnixListener::bind(dir.join("sock")).unwrap();
        accept();
        let (s, _) = listener.accept().unwrap();
        Duplex {
            read: Box::new(s.try_clone().unwrap()),
            write: Box::new(s),
        }
    }
}

pub(super) fn stream_child(kind: &str, dir: &str) -> Duplex {
    let dir = std::path::Path::new(dir);
    if kind == "pipe" {
        let read = std::fs::File::open(dir.join("ping")).unwrap();
        let write = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("pong"))
            .unwrap();
        Duplex {
            read: Box::new(read),
            write: Box::new(write),
        }
    } else if kind == "tcp" {
        let addr = std::fs::read_to_string(dir.join("port")).unwrap();
        let s = std::net::TcpStream::connect(addr.trim()).unwrap();
        s.set_nodelay(true).unwrap();
        Duplex {
            read: Box::new(s.try_clone().unwrap()),
            write: Box::new(s),
        }
    } else {
        let s = UnixStream::connect(dir.join("sock")).unwrap();
        Duplex {
            read: Box::new(s.try_clone().unwrap()),
            write: Box::new(s),
        }
    }
}

pub(super) fn stream_rtt(cfg: Config, kind: &str, size: usize) -> Row {
    let (dir, dir_s) = stream_paths(kind);
    let mut child = None;
    let mut io = stream_parent(kind, &dir, || {
        child = Some(spawn_peer(&["stream-rtt", kind, &dir_s, &size.to_string()]));
    });
    let mut buf = vec![1u8; size];
    let hist = round_trips(2_000, cfg.rtt_iters / 10, |_| {
        io.write.write_all(&buf).unwrap();
        io.read.read_exact(&mut buf).unwrap();
    });
    drop(io);
    finish(child.unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
    rtt_row(stream_name(kind), size_label(size), &hist)
}

/// A raw stream baseline as the table names it.
pub(super) fn stream_name(kind: &str) -> &'static str {
    match kind {
        "pipe" => "raw pipe (FIFO)",
        "tcp" => "raw TCP loopback",
        _ => "raw Unix stream socket",
    }
}

pub(super) fn stream_echo(kind: &str, dir: &str, size: usize) {
    let mut io = stream_child(kind, dir);
    let mut buf = vec![0u8; size];
    while io.read.read_exact(&mut buf).is_ok() {
        io.write.write_all(&buf).unwrap();
    }
}

pub(super) fn stream_tput(cfg: Config, kind: &str, size: usize) -> Row {
    let (dir, dir_s) = stream_paths(kind);
    let mut child = None;
    let mut io = stream_parent(kind, &dir, || {
        child = Some(spawn_peer(&[
            "stream-tput",
            kind,
            &dir_s,
            &size.to_string(),
        ]));
    });
    let mut buf = vec![0u8; size];
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed() < cfg.tput {
        for _ in 0..1024 {
            io.read.read_exact(&mut buf).unwrap();
        }
        count += 1024;
    }
    let took = start.elapsed();
    drop(io);
    finish(child.unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
    tput_row(stream_name(kind), size_label(size), size, count, took)
}

pub(super) fn stream_produce(kind: &str, dir: &str, size: usize) {
    let mut io = stream_child(kind, dir);
    let buf = vec![2u8; size];
    while io.write.write_all(&buf).is_ok() {}
}
