//! `shmring notify NAME ID…` and `shmring listen NAME`: events without data from a shell,
//! on the event segments of [`shmring::event`].

use std::time::{Duration, Instant};

use shmring::OpenError;
use shmring::event::{Listener, Notifier, NotifyError, WaitError};

use crate::Failure;

/// What `notify` and `listen` share: the segment and how to make it.
#[derive(Debug, clap::Args)]
pub struct EventCommon {
    /// The event segment's name (as in /dev/shm).
    name: String,
    /// Create the segment if it does not exist (an existing one is used; a ring of another
    /// kind is refused, exit 4).
    #[arg(long)]
    create: bool,
    /// Event ids of a segment created here: ids are 0..MAX_IDS (at most 65536).
    #[arg(long, default_value_t = 4096, requires = "create")]
    max_ids: u64,
    /// Permissions of a segment created here, in octal (default 600: the owner only).
    #[arg(long, default_value = "600", requires = "create", value_parser = crate::pipe::parse_mode)]
    mode: u32,
    /// Wait up to this many seconds for the segment to appear (without --create).
    #[arg(long, value_name = "SECONDS", value_parser = crate::pipe::parse_seconds)]
    wait: Option<f64>,
}

/// `shmring notify`.
#[derive(Debug, clap::Args)]
pub struct NotifyArgs {
    #[command(flatten)]
    common: EventCommon,
    /// The ids to notify, in this order (each below the segment's max_ids).
    #[arg(required = true)]
    ids: Vec<u32>,
}

/// `shmring listen`.
#[derive(Debug, clap::Args)]
pub struct ListenArgs {
    #[command(flatten)]
    common: EventCommon,
    /// Stop after this many waits that returned ids.
    #[arg(long)]
    count: Option<u64>,
    /// Give up (exit 12) when no id came within this many seconds of the last.
    #[arg(long, value_name = "SECONDS", value_parser = crate::pipe::parse_seconds)]
    timeout: Option<f64>,
}

/// The failure an open error stands for, in these commands' terms.
fn open_failure(e: &OpenError) -> Failure {
    match e {
        OpenError::KindMismatch { name, found, .. } => Failure::new(
            4,
            format!(
                "ring {name} is of kind {found}; notify and listen use event segments: use \
                 another name, or `shmring rm {name}` if nothing uses it"
            ),
        ),
        OpenError::InvalidConfig { reason, .. } => Failure::new(2, reason.clone()),
        _ => Failure::open(e),
    }
}

/// Opens (retrying while it does not exist, up to `--wait`) or creates the segment.
fn attach<T>(
    c: &EventCommon,
    create: impl Fn(&str, u64, u32) -> Result<T, OpenError>,
    open: impl Fn(&str) -> Result<T, OpenError>,
) -> Result<T, Failure> {
    if c.create {
        loop {
            match create(&c.name, c.max_ids, c.mode) {
                Err(OpenError::AlreadyExists { .. }) => match open(&c.name) {
                    Err(OpenError::NotFound { .. }) => continue,
                    r => return r.map_err(|e| open_failure(&e)),
                },
                r => return r.map_err(|e| open_failure(&e)),
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs_f64(c.wait.unwrap_or(0.0));
    loop {
        match open(&c.name) {
            Err(OpenError::NotFound { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            r => return r.map_err(|e| open_failure(&e)),
        }
    }
}

pub fn notify(args: &NotifyArgs, json: bool) -> Result<(), Failure> {
    let n = attach(
        &args.common,
        |name, max, mode| Notifier::options().mode(mode).create(name, max),
        |name| Notifier::open(name),
    )?;
    // Every id is checked before any is notified: a bad command line notifies nothing.
    if let Some(&id) = args.ids.iter().find(|&&id| id >= n.max_ids()) {
        return Err(Failure::new(
            2,
            format!(
                "event id {id} is out of range: {} has ids 0..{}",
                args.common.name,
                n.max_ids()
            ),
        ));
    }
    // The listeners the ids go to (one may leave as soon as it has them).
    let listeners = n.listeners();
    let mut warnings = 0;
    for &id in &args.ids {
        match n.notify(id) {
            Ok(()) => {}
            // The id is recorded; one listener's wake-up signal was not queued.
            Err(e @ (NotifyError::SignalQueueFull { .. } | NotifyError::Signal { .. })) => {
                warnings += 1;
                errln!("shmring: warning: {e}");
            }
            Err(e) => return Err(Failure::new(5, format!("{}: {e}", args.common.name))),
        }
    }
    if json {
        outln!(
            "{}",
            serde_json::json!({
                "notified": args.ids,
                "listeners": listeners,
                "signal_warnings": warnings,
            })
        )?;
    }
    Ok(())
}

pub fn listen(args: &ListenArgs, json: bool) -> Result<(), Failure> {
    let mut l = attach(
        &args.common,
        |name, max, mode| Listener::options().mode(mode).create(name, max),
        |name| Listener::open(name),
    )?;
    crate::signals::catch();
    let timeout = args.timeout.map(Duration::from_secs_f64);
    let mut waits = 0u64;
    let mut last = Instant::now();
    while args.count.is_none_or(|c| waits < c) {
        let signal = crate::signals::caught();
        if signal != 0 {
            return Err(Failure::new(128 + signal as u8, ""));
        }
        if timeout.is_some_and(|t| last.elapsed() >= t) {
            return Err(Failure::new(
                12,
                format!(
                    "no event on {} within {:.1} s",
                    args.common.name,
                    timeout.unwrap_or_default().as_secs_f64()
                ),
            ));
        }
        // Slices, so a stop signal or the timeout is noticed within 100 ms.
        match l.wait_timeout(Duration::from_millis(100)) {
            Ok(set) => {
                waits += 1;
                last = Instant::now();
                if json {
                    outln!("{}", serde_json::json!({ "ids": set.as_slice() }))?;
                } else {
                    for id in &set {
                        outln!("{id}")?;
                    }
                }
            }
            Err(WaitError::Timeout) => {}
            Err(e) => return Err(Failure::new(5, format!("{}: {e}", args.common.name))),
        }
    }
    Ok(())
}
