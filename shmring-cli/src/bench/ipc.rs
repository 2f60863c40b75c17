//! The shmring-ipc rows of `shmring bench`: every transport through the one API — one-way
//! throughput (`Sender::send` in a peer process, `Receiver::recv_into` here) and round trips
//! through a duplex connection — and the raw POSIX and System V message queue baselines (the
//! raw pipe, Unix socket and TCP baselines are the stream rows of [`super::rings`]).

use std::time::Instant;

use nix::mqueue::{MQ_OFlag, MqAttr, MqdT, mq_open, mq_receive, mq_send, mq_unlink};
use nix::sys::stat::Mode;
use shmring_ipc::duplex::{Connection, Server};

use super::{
    Config, Plan, Row, finish, round_trips, rtt_row, size_label, spawn_peer, tput_row, unique,
};

/// The transports, as `--rows` names them (`ipc-KIND`).
pub(super) const KINDS: [&str; 6] = ["shm", "uds", "tcp", "fifo", "mq", "sysv"];

/// Adds the ipc rows and the raw mq and SysV baselines that `plan` selects.
pub(super) fn add_rows(plan: &mut Plan) {
    let cfg = plan.cfg;
    for kind in KINDS {
        let group = format!("ipc-{kind}");
        for size in [64, 1024] {
            plan.add(&group, size, move || ipc_rtt(cfg, kind, size));
            plan.add(&group, size, move || ipc_tput(cfg, kind, size));
        }
    }
    for size in [8, 64, 1024] {
        plan.add("mq", size, move || mq_rtt(cfg, size));
        plan.add("mq", size, move || mq_tput(cfg, size));
        plan.add("sysv", size, move || sysv_rtt(cfg, size));
        plan.add("sysv", size, move || sysv_tput(cfg, size));
    }
}

/// A fresh endpoint of transport `kind`.
fn endpoint(kind: &str) -> String {
    let name = unique(&format!("ipc-{kind}"));
    let dir = std::env::temp_dir();
    match kind {
        "uds" => format!("uds:{}", dir.join(format!("{name}.sock")).display()),
        "tcp" => "tcp:127.0.0.1:0".to_owned(),
        "fifo" => format!("fifo:{}", dir.join(format!("{name}.fifo")).display()),
        "mq" => format!("mq:/{name}"),
        "sysv" => format!("sysv:{:#010x}", shmring_ipc::sysv::key_for(&name)),
        _ => format!("shm:{name}"),
    }
}

fn row_name(kind: &str) -> String {
    format!("shmring-ipc {kind}:")
}

/// One-way: a peer sends `size`-byte messages, this process receives them.
fn ipc_tput(cfg: Config, kind: &str, size: usize) -> Row {
    let mut rx = shmring_ipc::Receiver::bind(&endpoint(kind)).expect("bind");
    let bound = rx.endpoint().to_string();
    let child = spawn_peer(&["ipc-send", &bound, &size.to_string()]);
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
    drop(rx); // the peer's next send fails: it exits
    finish(child);
    if let Some(name) = bound.strip_prefix("shm:") {
        let _ = shmring::Segment::unlink_name(name);
    }
    tput_row(&row_name(kind), size_label(size), size, n, took)
}

/// Round trips through a duplex connection to an echoing peer.
fn ipc_rtt(cfg: Config, kind: &str, size: usize) -> Row {
    let mut server = Server::bind(&endpoint(kind)).expect("bind");
    let bound = server.endpoint().to_string();
    let child = spawn_peer(&["ipc-echo", &bound]);
    let mut conn = server.accept().expect("accept");
    let request = vec![3u8; size];
    let mut reply = Vec::with_capacity(size);
    let hist = round_trips(2_000, cfg.rtt_iters / 10, |_| {
        conn.send(&request).expect("send");
        conn.recv_into(&mut reply).expect("receive");
    });
    assert_eq!(reply, request);
    drop(conn);
    drop(server);
    finish(child);
    if let Some(name) = bound.strip_prefix("shm:") {
        let _ = shmring::Segment::unlink_name(name);
    }
    rtt_row(&row_name(kind), size_label(size), &hist)
}

/// Opens (creating, with `create`) the raw queue `name` for messages of `size` bytes.
fn queue(name: &str, size: usize, create: bool, write: bool) -> MqdT {
    let mut flags = if write {
        MQ_OFlag::O_WRONLY
    } else {
        MQ_OFlag::O_RDONLY
    };
    if create {
        flags |= MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL;
    }
    let attr = MqAttr::new(0, 10, size.max(1) as _, 0);
    mq_open(
        name,
        flags,
        Mode::S_IRUSR | Mode::S_IWUSR,
        create.then_some(&attr),
    )
    .expect("mq_open")
}

/// Raw POSIX queue, one-way.
fn mq_tput(cfg: Config, size: usize) -> Row {
    let name = format!("/{}", unique("mq-tput"));
    let q = queue(&name, size, true, false);
    let child = spawn_peer(&["raw-mq-send", &name, &size.to_string()]);
    let mut buf = vec![0u8; size];
    let mut prio = 0;
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < cfg.tput {
        for _ in 0..256 {
            mq_receive(&q, &mut buf, &mut prio).expect("mq_receive");
        }
        n += 256;
    }
    let took = start.elapsed();
    let _ = mq_unlink(name.as_str());
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    let _ = child.wait_with_output();
    tput_row("raw POSIX mq", size_label(size), size, n, took)
}

/// Raw POSIX queues, round trips (one queue each way).
fn mq_rtt(cfg: Config, size: usize) -> Row {
    let (ping, pong) = (
        format!("/{}", unique("mq-ping")),
        format!("/{}", unique("mq-pong")),
    );
    let tx = queue(&ping, size, true, true);
    let rx = queue(&pong, size, true, false);
    let child = spawn_peer(&["raw-mq-echo", &ping, &pong, &size.to_string()]);
    let mut buf = vec![1u8; size];
    let mut prio = 0;
    let hist = round_trips(2_000, cfg.rtt_iters / 10, |_| {
        mq_send(&tx, &buf, 0).expect("mq_send");
        mq_receive(&rx, &mut buf, &mut prio).expect("mq_receive");
    });
    mq_send(&tx, &[], 0).expect("stop");
    finish(child);
    let _ = mq_unlink(ping.as_str());
    let _ = mq_unlink(pong.as_str());
    rtt_row("raw POSIX mq", size_label(size), &hist)
}

/// The raw System V calls of the baselines: a queue by key, and blocking `msgsnd`/`msgrcv`
/// of one message type with `mtype` then the text in one buffer.
mod raw_sysv {
    const MTYPE: usize = std::mem::size_of::<libc::c_long>();

    /// Creates (`create`) or opens the queue of `key`.
    pub(super) fn queue(key: u32, create: bool) -> i32 {
        let flags = if create {
            libc::IPC_CREAT | libc::IPC_EXCL | 0o600
        } else {
            0
        };
        // SAFETY: msgget takes no pointers.
        let qid = unsafe { libc::msgget(key as i32, flags) };
        assert!(qid >= 0, "msgget: {}", std::io::Error::last_os_error());
        qid
    }

    pub(super) fn remove(qid: i32) {
        // SAFETY: IPC_RMID takes no buffer.
        unsafe { libc::msgctl(qid, libc::IPC_RMID, std::ptr::null_mut()) };
    }

    /// A buffer for messages of `size` bytes: `mtype` 1, then the text.
    pub(super) fn buffer(size: usize) -> Vec<u8> {
        let mut b = vec![0x5au8; MTYPE + size];
        b[..MTYPE].copy_from_slice(&(1 as libc::c_long).to_ne_bytes());
        b
    }

    /// Sends `buf` (made by [`buffer`]) blocking; `false` once the queue is gone.
    pub(super) fn send(qid: i32, buf: &[u8]) -> bool {
        // SAFETY: `buf` is an mtype and `len - MTYPE` bytes of text.
        unsafe { libc::msgsnd(qid, buf.as_ptr().cast(), buf.len() - MTYPE, 0) == 0 }
    }

    /// Receives into `buf` blocking: the text's length, or `None` once the queue is gone.
    pub(super) fn recv(qid: i32, buf: &mut [u8]) -> Option<usize> {
        // SAFETY: `buf` has room for an mtype and `len - MTYPE` bytes of text.
        let n = unsafe { libc::msgrcv(qid, buf.as_mut_ptr().cast(), buf.len() - MTYPE, 0, 0) };
        (n >= 0).then_some(n as usize)
    }
}

/// Raw System V queue, one-way.
fn sysv_tput(cfg: Config, size: usize) -> Row {
    let key = shmring_ipc::sysv::key_for(&unique("sysv-tput"));
    let q = raw_sysv::queue(key, true);
    let child = spawn_peer(&["raw-sysv-send", &key.to_string(), &size.to_string()]);
    let mut buf = raw_sysv::buffer(size);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < cfg.tput {
        for _ in 0..256 {
            raw_sysv::recv(q, &mut buf).expect("msgrcv");
        }
        n += 256;
    }
    let took = start.elapsed();
    raw_sysv::remove(q); // the peer's next send fails: it exits
    finish(child);
    tput_row("raw SysV msgsnd/msgrcv", size_label(size), size, n, took)
}

/// Raw System V queues, round trips (one queue each way).
fn sysv_rtt(cfg: Config, size: usize) -> Row {
    let (ping, pong) = (
        shmring_ipc::sysv::key_for(&unique("sysv-ping")),
        shmring_ipc::sysv::key_for(&unique("sysv-pong")),
    );
    let (tx, rx) = (raw_sysv::queue(ping, true), raw_sysv::queue(pong, true));
    let child = spawn_peer(&[
        "raw-sysv-echo",
        &ping.to_string(),
        &pong.to_string(),
        &size.to_string(),
    ]);
    let mut buf = raw_sysv::buffer(size);
    let hist = round_trips(2_000, cfg.rtt_iters / 10, |_| {
        assert!(raw_sysv::send(tx, &buf));
        raw_sysv::recv(rx, &mut buf).expect("msgrcv");
    });
    raw_sysv::remove(tx); // the peer's next receive fails: it exits
    finish(child);
    raw_sysv::remove(rx);
    rtt_row("raw SysV msgsnd/msgrcv", size_label(size), &hist)
}

/// Runs the peer role `args` names; `false` if it names none of these.
pub(super) fn peer(args: &[String]) -> bool {
    let arg = |i: usize| args.get(i).map_or("", String::as_str);
    match arg(0) {
        "ipc-send" => {
            let size: usize = arg(2).parse().unwrap();
            let mut tx = shmring_ipc::Sender::connect(arg(1)).expect("connect");
            let msg = vec![0x5au8; size];
            while tx.send(&msg).is_ok() {}
        }
        "ipc-echo" => {
            let mut conn = Connection::connect(arg(1)).expect("connect");
            let mut buf = Vec::new();
            while conn.recv_into(&mut buf).is_ok() {
                if conn.send(&buf).is_err() {
                    break;
                }
            }
        }
        "raw-mq-send" => {
            let size: usize = arg(2).parse().unwrap();
            let q = queue(arg(1), size, false, true);
            let msg = vec![0x5au8; size];
            while mq_send(&q, &msg, 0).is_ok() {}
        }
        "raw-mq-echo" => {
            let size: usize = arg(3).parse().unwrap();
            let rx = queue(arg(1), size, false, false);
            let tx = queue(arg(2), size, false, true);
            let mut buf = vec![0u8; size];
            let mut prio = 0;
            while let Ok(n) = mq_receive(&rx, &mut buf, &mut prio) {
                if n == 0 && size > 0 {
                    break; // the stop message
                }
                mq_send(&tx, &buf[..n], 0).expect("mq_send");
            }
        }
        "raw-sysv-send" => {
            let (key, size): (u32, usize) = (arg(1).parse().unwrap(), arg(2).parse().unwrap());
            let q = raw_sysv::queue(key, false);
            let buf = raw_sysv::buffer(size);
            while raw_sysv::send(q, &buf) {}
        }
        "raw-sysv-echo" => {
            let (rx, tx) = (
                raw_sysv::queue(arg(1).parse().unwrap(), false),
                raw_sysv::queue(arg(2).parse().unwrap(), false),
            );
            let mut buf = raw_sysv::buffer(arg(3).parse().unwrap());
            while let Some(n) = raw_sysv::recv(rx, &mut buf) {
                let len = std::mem::size_of::<libc::c_long>() + n;
                if !raw_sysv::send(tx, &buf[..len]) {
                    break;
                }
            }
        }
        _ => return false,
    }
    true
}
