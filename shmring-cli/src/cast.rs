//! `send` and `recv` on a broadcast ring of byte messages ([`shmring::framed::broadcast`]):
//! one sender, and every `recv` attached gets every message — `tail -f` on a log shared by
//! any number of readers.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use shmring::broadcast::{Policy, RecvTimeoutError};
use shmring::framed::SendError;
use shmring::framed::broadcast::{CELL, Receiver, Sender};

use crate::pipe::{Common, PolicyArg, ReadFail, attach, next_message, summary};
use crate::{Failure, signals};

/// How long `recv` waits for a message before it looks at the stop flag again.
const STOP_POLL: Duration = Duration::from_millis(50);

/// Cells of a ring of `--capacity` bytes.
fn cells(capacity: u64) -> u64 {
    (capacity / CELL as u64).max(2)
}

pub fn send(c: &Common, json: bool) -> Result<(), Failure> {
    let policy = match c.policy {
        PolicyArg::Lossless => Policy::Lossless,
        PolicyArg::Overwrite => Policy::Overwrite,
    };
    let mut tx = attach(
        c,
        |n, cap, mode| {
            Sender::options()
                .mode(mode)
                .policy(policy)
                .create(n, cells(cap))
        },
        |n| Sender::open(n),
    )?;
    let max = tx.max_message();
    let too_large = |messages: u64, len: Option<u64>| {
        let size = len.map_or_else(
            || format!("longer than {max} bytes"),
            |l| format!("{l} bytes"),
        );
        Failure::new(
            9,
            format!(
                "message {} is {size}; broadcast ring {} takes at most {max} bytes per message \
                 (create it with a larger --capacity: the largest message is about half of it)",
                messages + 1,
                c.name
            ),
        )
    };
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut buf = Vec::new();
    let (mut messages, mut bytes) = (0u64, 0u64);
    loop {
        match next_message(&mut input, c.frames, &mut buf, max) {
            Ok(Some(())) => {}
            Ok(None) => break,
            Err(ReadFail::TooLarge(len)) => return Err(too_large(messages, len)),
            Err(ReadFail::Failure(f)) => return Err(f),
        }
        // A broadcast sender never loses its receivers: with none attached, messages stay
        // in the ring as history.
        match tx.send(&buf) {
            Ok(()) => {
                messages += 1;
                bytes += buf.len() as u64;
            }
            Err(SendError::TooLarge { len, .. }) => {
                return Err(too_large(messages, Some(len as u64)));
            }
            Err(e) => return Err(Failure::new(5, format!("{}: {e}", c.name))),
        }
    }
    summary(json, "sent", messages, bytes);
    Ok(())
}

pub fn recv(
    c: &Common,
    count: Option<u64>,
    follow: bool,
    from_oldest: bool,
    json: bool,
) -> Result<(), Failure> {
    let mut rx = attach(
        c,
        |n, cap, mode| Receiver::options().mode(mode).create(n, cells(cap)),
        |n| {
            let mut o = Receiver::options();
            if from_oldest {
                o = o.from_oldest();
            }
            o.open(n)
        },
    )?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut buf = Vec::new();
    let (mut messages, mut bytes, mut missed) = (0u64, 0u64, 0u64);
    // A receiver attached before any sender waits for one, as a FIFO's reader does; without
    // --follow it ends once the sender it has seen is gone and everything was received.
    let mut seen_sender = false;
    let write_fail = |e: io::Error| {
        if e.kind() == io::ErrorKind::BrokenPipe {
            None // the reader of stdout stopped: a clean end
        } else {
            Some(Failure::new(1, format!("writing stdout: {e}")))
        }
    };
    signals::catch();
    let mut stopped = 0;
    while count.is_none_or(|n| messages < n) {
        stopped = signals::caught();
        if stopped != 0 {
            signals::release();
            break;
        }
        if rx.is_empty() {
            // Write only when nothing more is waiting: a fast stream goes out in blocks.
            if let Err(e) = out.flush() {
                return write_fail(e).map_or(Ok(()), Err);
            }
        }
        match rx.recv_into_deadline(&mut buf, Instant::now() + STOP_POLL) {
            Ok(_) => seen_sender = true,
            Err(RecvTimeoutError::Timeout) => {
                seen_sender |= !rx.is_disconnected();
                continue;
            }
            Err(RecvTimeoutError::Lagged(n)) => {
                missed += n;
                if json {
                    errln!(
                        "{}",
                        serde_json::json!({ "warning": "lagged", "ring": c.name, "missed": n })
                    );
                } else {
                    errln!(
                        "shmring: the sender of {} overtook this receiver: {n} message(s) \
                         missed (an overwrite ring); going on with the oldest still held",
                        c.name
                    );
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) if follow || !seen_sender => {
                std::thread::sleep(STOP_POLL);
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Corrupted) => {
                let _ = out.flush();
                return Err(Failure::new(
                    5,
                    format!("{} is corrupt (after {messages} messages)", c.name),
                ));
            }
        }
        messages += 1;
        bytes += buf.len() as u64;
        let written = if c.frames {
            out.write_all(&(buf.len() as u32).to_le_bytes())
                .and_then(|()| out.write_all(&buf))
        } else {
            out.write_all(&buf).and_then(|()| out.write_all(b"\n"))
        };
        if let Err(e) = written {
            return write_fail(e).map_or(Ok(()), Err);
        }
    }
    if let Err(e) = out.flush() {
        return write_fail(e).map_or(Ok(()), Err);
    }
    summary(json, "received", messages, bytes);
    if stopped != 0 {
        let name = nix::sys::signal::Signal::try_from(stopped)
            .map_or("a signal", nix::sys::signal::Signal::as_str);
        return Err(Failure::new(
            (128 + stopped) as u8,
            format!(
                "stopped by {name} after {messages} messages, all written out ({missed} missed)"
            ),
        ));
    }
    Ok(())
}
