//! One interface over the ring kinds under test, so every scenario runs on each.

#[allow(unused_imports)]
use super::*;

// ------------------------------------------------------------------------------ handles

pub(super) enum Tx {
    Spsc(shmring::spsc::Sender<Msg>),
    Mpmc(shmring::mpmc::Sender<Msg>),
    Framed(shmring::framed::Sender),
    Shm(shmring_ipc::Sender),
    Broadcast(shmring::broadcast::Sender<Msg>),
    FramedBroadcast(shmring::framed::broadcast::Sender),
}

pub(super) enum Rx {
    Spsc(shmring::spsc::Receiver<Msg>),
    Mpmc(shmring::mpmc::Receiver<Msg>),
    Framed(shmring::framed::Receiver),
    Shm(shmring_ipc::Receiver),
    Broadcast(shmring::broadcast::Receiver<Msg>),
    FramedBroadcast(shmring::framed::broadcast::Receiver),
}

/// What one attempt gave.
pub(super) enum Outcome {
    /// Sent, or received a message (its check result).
    Done(Option<(u64, u64)>),
    /// Timed out (full or empty).
    Again,
    /// The other side is gone.
    Gone,
    /// A broadcast receiver was overtaken: it missed this many messages.
    Lagged(u64),
    /// The ring is corrupted (or the open said so).
    Corrupted,
}

/// Whether an open error is one a restart may clear (a dead predecessor not yet reaped, no
/// receiver yet).
pub(super) fn transient_open(e: &OpenError) -> bool {
    matches!(
        e,
        OpenError::RoleTaken { .. } | OpenError::ParticipantsFull { .. }
    )
}

/// `None`: try again; otherwise how the open ended. On a scribbled ring (`hostile`) every
/// refusal is an acceptable, clear outcome; on an honest ring only corruption is reported
/// (and then fails the test), anything else is a bug.
pub(super) fn open_error(e: OpenError, hostile: bool) -> Option<Outcome> {
    if transient_open(&e) {
        None
    } else if hostile || matches!(e, OpenError::Corrupted { .. }) {
        Some(Outcome::Corrupted)
    } else {
        panic!("open: {e}")
    }
}

/// Why an open attempt gave no handle.
pub(super) enum Refusal {
    /// Try again (no live receiver yet).
    Retry,
    /// An open error, judged by [`open_error`].
    Open(OpenError),
    /// Another shmring-ipc refusal: clear and acceptable on a scribbled ring (the open ends
    /// as `Corrupted`), a bug on an honest one.
    Ipc(shmring_ipc::ConnectError),
}

/// Calls `open` until it gives a handle, a refusal that ends the open, or `give_up` says so.
pub(super) fn retry_open<H>(
    hostile: bool,
    give_up: impl Fn() -> bool,
    mut open: impl FnMut() -> Result<H, Refusal>,
) -> Result<H, Outcome> {
    loop {
        match open() {
            Ok(h) => return Ok(h),
            Err(Refusal::Retry) => {}
            Err(Refusal::Open(e)) => {
                if let Some(o) = open_error(e, hostile) {
                    return Err(o);
                }
            }
            Err(Refusal::Ipc(e)) => {
                assert!(hostile, "connect/bind: {e}");
                eprintln!("refused on a scribbled ring: {e}");
                return Err(Outcome::Corrupted);
            }
        }
        if give_up() {
            return Err(Outcome::Gone);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

impl Tx {
    /// Opens the sending side, retrying transient refusals until `give_up` says so.
    pub(super) fn open(
        kind: Kind,
        name: &str,
        hostile: bool,
        give_up: impl Fn() -> bool,
    ) -> Result<Tx, Outcome> {
        retry_open(hostile, give_up, || match kind {
            Kind::Spsc => shmring::spsc::Sender::open(name)
                .map(Tx::Spsc)
                .map_err(Refusal::Open),
            Kind::Mpmc => shmring::mpmc::Sender::open(name)
                .map(Tx::Mpmc)
                .map_err(Refusal::Open),
            Kind::Framed => shmring::framed::Sender::open(name)
                .map(Tx::Framed)
                .map_err(Refusal::Open),
            Kind::Broadcast => shmring::broadcast::Sender::open(name)
                .map(Tx::Broadcast)
                .map_err(Refusal::Open),
            Kind::FramedBroadcast => shmring::framed::broadcast::Sender::open(name)
                .map(Tx::FramedBroadcast)
                .map_err(Refusal::Open),
            Kind::Shm => shmring_ipc::Sender::connect_with(&format!("shm:{name}"), &ipc_options())
                .map(Tx::Shm)
                .map_err(|e| match e {
                    shmring_ipc::ConnectError::Open(e) => Refusal::Open(e),
                    // No live receiver yet: a restart is on its way.
                    shmring_ipc::ConnectError::NoReceiver { .. } => Refusal::Retry,
                    e => Refusal::Ipc(e),
                }),
        })
    }

    /// A broadcast writer's live receivers (`None` for the other rings).
    pub(super) fn receivers(&self) -> Option<usize> {
        match self {
            Tx::Broadcast(tx) => Some(tx.receiver_count()),
            Tx::FramedBroadcast(tx) => Some(tx.receiver_count()),
            _ => None,
        }
    }

    pub(super) fn send(&mut self, p: u64, s: u64, buf: &mut Vec<u8>) -> Outcome {
        let wait = Duration::from_millis(20);
        let typed_outcome = |r: Result<(), SendTimeoutError<Msg>>| match r {
            Ok(()) => Outcome::Done(None),
            Err(SendTimeoutError::Timeout(_)) => Outcome::Again,
            Err(SendTimeoutError::Disconnected(_)) => Outcome::Gone,
            Err(SendTimeoutError::Corrupted(_)) => Outcome::Corrupted,
        };
        let framed_outcome = |r: Result<(), shmring::framed::SendTimeoutError>| match r {
            Ok(()) => Outcome::Done(None),
            Err(shmring::framed::SendTimeoutError::Timeout) => Outcome::Again,
            Err(shmring::framed::SendTimeoutError::Disconnected) => Outcome::Gone,
            Err(shmring::framed::SendTimeoutError::Corrupted) => Outcome::Corrupted,
            Err(e) => panic!("send: {e}"),
        };
        match self {
            Tx::Spsc(tx) => typed_outcome(tx.send_timeout(typed(p, s), wait)),
            Tx::Mpmc(tx) => typed_outcome(tx.send_timeout(typed(p, s), wait)),
            Tx::Broadcast(tx) => typed_outcome(tx.send_timeout(typed(p, s), wait)),
            Tx::Framed(tx) => {
                bytes(p, s, buf);
                framed_outcome(tx.send_timeout(buf, wait))
            }
            Tx::FramedBroadcast(tx) => {
                bytes(p, s, buf);
                framed_outcome(tx.send_timeout(buf, wait))
            }
            Tx::Shm(tx) => {
                bytes(p, s, buf);
                framed_outcome(tx.send_timeout(buf, wait))
            }
        }
    }
}

impl Rx {
    /// Opens the receiving side, retrying transient refusals until `give_up` says so.
    pub(super) fn open(
        kind: Kind,
        name: &str,
        hostile: bool,
        give_up: impl Fn() -> bool,
    ) -> Result<Rx, Outcome> {
        retry_open(hostile, give_up, || match kind {
            Kind::Spsc => shmring::spsc::Receiver::open(name)
                .map(Rx::Spsc)
                .map_err(Refusal::Open),
            Kind::Mpmc => shmring::mpmc::Receiver::open(name)
                .map(Rx::Mpmc)
                .map_err(Refusal::Open),
            Kind::Framed => shmring::framed::Receiver::open(name)
                .map(Rx::Framed)
                .map_err(Refusal::Open),
            Kind::Broadcast => shmring::broadcast::Receiver::open(name)
                .map(Rx::Broadcast)
                .map_err(Refusal::Open),
            Kind::FramedBroadcast => shmring::framed::broadcast::Receiver::open(name)
                .map(Rx::FramedBroadcast)
                .map_err(Refusal::Open),
            Kind::Shm => shmring_ipc::Receiver::bind_with(&format!("shm:{name}"), &ipc_options())
                .map(Rx::Shm)
                .map_err(|e| match e {
                    shmring_ipc::ConnectError::Open(e) => Refusal::Open(e),
                    e => Refusal::Ipc(e),
                }),
        })
    }

    pub(super) fn recv(&mut self, buf: &mut Vec<u8>) -> Outcome {
        let wait = Duration::from_millis(20);
        let err = |e: RecvTimeoutError| match e {
            RecvTimeoutError::Timeout => Outcome::Again,
            RecvTimeoutError::Disconnected => Outcome::Gone,
            RecvTimeoutError::Corrupted => Outcome::Corrupted,
        };
        match self {
            Rx::Spsc(rx) => match rx.recv_timeout(wait) {
                Ok(m) => Outcome::Done(check_typed(&m)),
                Err(e) => err(e),
            },
            Rx::Mpmc(rx) => match rx.recv_timeout(wait) {
                Ok(m) => Outcome::Done(check_typed(&m)),
                Err(e) => err(e),
            },
            Rx::Framed(rx) => match rx.recv_into_deadline(buf, Instant::now() + wait) {
                Ok(_) => Outcome::Done(check_bytes(buf)),
                Err(e) => err(e),
            },
            Rx::Shm(rx) => match rx.recv_into_deadline(buf, Instant::now() + wait) {
                Ok(()) => Outcome::Done(check_bytes(buf)),
                Err(e) => err(e),
            },
            Rx::Broadcast(rx) => match rx.recv_timeout(wait) {
                Ok(m) => Outcome::Done(check_typed(&m)),
                Err(e) => broadcast_err(e),
            },
            Rx::FramedBroadcast(rx) => match rx.recv_into_deadline(buf, Instant::now() + wait) {
                Ok(_) => Outcome::Done(check_bytes(buf)),
                Err(e) => broadcast_err(e),
            },
        }
    }
}

/// A broadcast receive error as an outcome.
fn broadcast_err(e: shmring::broadcast::RecvTimeoutError) -> Outcome {
    use shmring::broadcast::RecvTimeoutError as E;
    match e {
        E::Timeout => Outcome::Again,
        E::Lagged(n) => Outcome::Lagged(n),
        E::Disconnected => Outcome::Gone,
        E::Corrupted => Outcome::Corrupted,
    }
}
