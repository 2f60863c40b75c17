//! `shmring bridge FROM TO`: receives every message of one endpoint (bound as its receiver)
//! and sends it on to another (connected as a sender), the payload type passed through — a
//! ring on this host to a zenoh key that a bridge on another host forwards into its ring.
//!
//! The type: a `shm:` ring's label (read from its header before binding, so a typed ring is
//! taken over with its own type), or the type a `zenoh:` sender announces (known once its
//! first message arrives). The sending side is connected announcing that type, so the far
//! receiver's layout guard holds across the chain: a mismatch is refused naming both layouts
//! (exit 4). When every sender of FROM is gone and everything was forwarded, the bridge
//! closes TO (its receiver then sees the end too) and exits 0.
//!
//! A bridge killed loses only what it holds at that moment (docs/failures.md, "Bridges"): the
//! message between its receive and its send, and what zenoh had queued in the killed process;
//! the rest waits — in the ring FROM, or at the zenoh sender, which waits for a subscriber —
//! until a bridge runs again.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use shmring_ipc::{ConnectError, Options, Receiver, RecvTimeoutError, SendError, Sender};

use crate::Failure;

/// `shmring bridge` arguments.
#[derive(Debug, clap::Args)]
pub struct BridgeArgs {
    /// The endpoint to receive from (bound as its receiver): shm:NAME, uds:PATH,
    /// tcp:HOST:PORT, zenoh:KEYEXPR, mq:/NAME, fifo:PATH.
    from: String,
    /// The endpoint to send to (connected as a sender), as FROM.
    to: String,
    /// zenoh: an endpoint the session connects to (tcp/HOST:PORT); repeatable.
    #[arg(long, value_name = "ENDPOINT")]
    zenoh_connect: Vec<String>,
    /// zenoh: an endpoint the session listens on (tcp/0.0.0.0:7447); repeatable.
    #[arg(long, value_name = "ENDPOINT")]
    zenoh_listen: Vec<String>,
    /// zenoh: the session's mode.
    #[arg(long, value_parser = ["peer", "client"])]
    zenoh_mode: Option<String>,
    /// zenoh: a configuration file (JSON5) the options above are applied on top of.
    #[arg(long, value_name = "FILE")]
    zenoh_config: Option<PathBuf>,
    /// zenoh: no multicast or gossip scouting (only the endpoints given).
    #[arg(long)]
    no_scouting: bool,
    /// Seconds to wait for TO's receiver when connecting.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    wait: f64,
    /// Stop after forwarding this many messages.
    #[arg(long)]
    count: Option<u64>,
    /// zenoh: drop what a congested link cannot take (the default waits, losing nothing).
    #[arg(long)]
    lossy: bool,
    /// Keep running when every sender of FROM is gone (a restarted or new one is forwarded
    /// too): a bridge daemon. Without it the bridge ends, closing TO, once FROM is finished.
    #[arg(long)]
    follow: bool,
}

impl BridgeArgs {
    fn options(&self) -> Result<Options, Failure> {
        if !(self.wait.is_finite() && self.wait >= 0.0) {
            return Err(Failure::new(
                2,
                format!("--wait {} is not a duration", self.wait),
            ));
        }
        let mut o = Options::default().handshake_timeout(Duration::from_secs_f64(self.wait));
        for e in &self.zenoh_connect {
            o = o.zenoh_connect(e.clone());
        }
        for e in &self.zenoh_listen {
            o = o.zenoh_listen(e.clone());
        }
        if let Some(mode) = &self.zenoh_mode {
            o = o.zenoh_mode(if mode == "client" {
                shmring_ipc::ZenohMode::Client
            } else {
                shmring_ipc::ZenohMode::Peer
            });
        }
        if let Some(path) = &self.zenoh_config {
            o = o.zenoh_config_file(path.clone());
        }
        if self.no_scouting {
            o = o.zenoh_scouting(false);
        }
        if self.lossy {
            o = o.policy(shmring::broadcast::Policy::Overwrite);
        }
        Ok(o)
    }
}

/// A connect or bind failure in the command's terms.
fn connect_failure(side: &str, e: ConnectError) -> Failure {
    let code = match &e {
        ConnectError::BadEndpoint { .. } | ConnectError::Unsupported { .. } => 2,
        ConnectError::NotFound { .. } | ConnectError::NoReceiver { .. } => 3,
        ConnectError::IncompatibleLayout { .. } => 4,
        ConnectError::Open(open) => return Failure::open(open),
        _ => 1,
    };
    Failure::new(code, format!("bridge {side}: {e}"))
}

/// The type of a `shm:` ring that exists already (its header's label), so the bridge binds it
/// with its own type.
fn ring_layout(from: &str) -> Option<shmring::TypeLayout> {
    let name = from.strip_prefix("shm:")?;
    shmring::framed::mpsc::label_of(&shmring::inspect::inspect(name).ok()?.info)
}

/// Runs the bridge until FROM is finished (every sender gone, everything forwarded; never with
/// `--follow`), `--count` messages, or a stop signal (SIGINT, SIGTERM, SIGHUP: exit 128+N once
/// the message in hand is forwarded).
pub fn bridge(args: &BridgeArgs, json: bool) -> Result<(), Failure> {
    let options = args.options()?;
    let mut rx = match ring_layout(&args.from) {
        Some(layout) => Receiver::bind_as(&args.from, &options, &layout),
        None => Receiver::bind_with(&args.from, &options),
    }
    .map_err(|e| connect_failure("FROM", e))?;
    errln!("bridging {} -> {}", rx.endpoint(), args.to);
    crate::signals::catch();
    let mut tx: Option<Sender> = None;
    let (mut messages, mut bytes) = (0u64, 0u64);
    let mut buf = Vec::new();
    let finished = loop {
        if args.count.is_some_and(|c| messages >= c) {
            break Ok(());
        }
        let signal = crate::signals::caught();
        if signal != 0 {
            break Err(Failure::new(128 + signal as u8, String::new()));
        }
        match rx.recv_into_deadline(&mut buf, Instant::now() + Duration::from_millis(100)) {
            Ok(()) => {}
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) if args.follow => {
                // Every sender is gone for now: look again for the next one.
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break Ok(()),
            Err(RecvTimeoutError::Corrupted) => {
                break Err(Failure::new(
                    5,
                    format!("bridge FROM {}: corrupted", rx.endpoint()),
                ));
            }
        }
        // Connected at the first message: by then a zenoh sender's type is known.
        let sender = match &mut tx {
            Some(tx) => tx,
            None => {
                let made = match rx.peer_layout() {
                    Some(layout) => Sender::connect_as(&args.to, &options, &layout),
                    None => Sender::connect_with(&args.to, &options),
                };
                tx.insert(made.map_err(|e| connect_failure("TO", e))?)
            }
        };
        match sender.send(&buf) {
            Ok(()) => {
                messages += 1;
                bytes += buf.len() as u64;
            }
            Err(SendError::TooLarge { len, max }) => {
                break Err(Failure::new(
                    9,
                    format!(
                        "bridge TO {}: a message of {len} bytes; it takes {max}",
                        args.to
                    ),
                ));
            }
            Err(e) => break Err(Failure::new(1, format!("bridge TO {}: {e}", args.to))),
        }
    };
    crate::signals::release();
    // Closing TO here (flushing a stream, a zenoh sender's end marker) before the summary.
    if let Some(mut tx) = tx {
        let _ = tx.flush();
    }
    crate::pipe::summary(json, "bridged", messages, bytes);
    finished
}
