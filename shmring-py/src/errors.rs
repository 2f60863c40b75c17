//! Exceptions, the mapping of shmring's errors to them, and the blocking loop that
//! releases the GIL and honours Ctrl-C.

use super::*;

create_exception!(_shmring, ShmringError, PyException, "Every shmring error.");
create_exception!(
    _shmring,
    IncompatibleLayoutError,
    ShmringError,
    "The ring holds another payload type; the message names both layouts."
);
create_exception!(
    _shmring,
    NotFoundError,
    ShmringError,
    "No ring of that name."
);
create_exception!(
    _shmring,
    DisconnectedError,
    ShmringError,
    "The other side is gone (and, for a receiver, everything sent was received)."
);
create_exception!(
    _shmring,
    LaggedError,
    ShmringError,
    "A broadcast receiver fell more than a ring behind an overwriting sender: `args[1]` \
     messages were missed; the next receive goes on with the oldest still held."
);
create_exception!(
    _shmring,
    CorruptedError,
    ShmringError,
    "A peer damaged the ring's shared state."
);

/// How long a blocking call sleeps in the ring before it looks for a Python signal.
pub(crate) const SLICE: Duration = Duration::from_millis(50);

pub(crate) fn open_error(e: OpenError) -> PyErr {
    let text = e.to_string();
    match e {
        OpenError::IncompatibleLayout { .. } | OpenError::KindMismatch { .. } => {
            IncompatibleLayoutError::new_err(text)
        }
        OpenError::NotFound { .. } => NotFoundError::new_err(text),
        OpenError::Corrupted { .. } => CorruptedError::new_err(text),
        _ => ShmringError::new_err(text),
    }
}

/// The Python error of a failed receive.
pub(crate) fn recv_error(e: RecvTimeoutError) -> PyErr {
    match e {
        RecvTimeoutError::Timeout => PyTimeoutError::new_err(e.to_string()),
        RecvTimeoutError::Disconnected => DisconnectedError::new_err(e.to_string()),
        RecvTimeoutError::Corrupted => CorruptedError::new_err(e.to_string()),
    }
}

/// The Python error of a failed non-blocking receive (`Empty` is not one: callers handle it).
pub(crate) fn try_recv_error(e: shmring::TryRecvError) -> PyErr {
    match e {
        shmring::TryRecvError::Disconnected => DisconnectedError::new_err(e.to_string()),
        _ => CorruptedError::new_err(e.to_string()),
    }
}

/// A handle behind a lock (Python objects may be shared between threads); `None` once closed.
pub(crate) struct Slot<H>(Mutex<Option<H>>);

impl<H> Slot<H> {
    pub(crate) fn new(h: H) -> Self {
        Slot(Mutex::new(Some(h)))
    }

    pub(crate) fn lock(&self) -> PyResult<MutexGuard<'_, Option<H>>> {
        let guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            return Err(ShmringError::new_err("the handle is closed"));
        }
        Ok(guard)
    }

    pub(crate) fn close(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// Runs `attempt(deadline)` with the GIL released, in slices of [`SLICE`], checking for Python
/// signals (Ctrl-C) between slices, until it succeeds, fails otherwise, or `timeout` passes.
pub(crate) fn blocking<T, E: Send>(
    py: Python<'_>,
    timeout: Option<f64>,
    mut attempt: impl FnMut(Instant) -> Result<T, E> + Send,
    timed_out: impl Fn(&E) -> bool,
) -> PyResult<Result<T, E>>
where
    T: Send,
{
    let deadline = match timeout {
        Some(t) if !(t >= 0.0 && t.is_finite()) => {
            return Err(PyValueError::new_err(format!(
                "timeout {t} is not a duration"
            )));
        }
        Some(t) => Instant::now().checked_add(Duration::from_secs_f64(t)),
        None => None,
    };
    loop {
        let slice = Instant::now() + SLICE;
        let until = deadline.map_or(slice, |d| d.min(slice));
        let result = py.detach(|| attempt(until));
        match result {
            Err(e) if timed_out(&e) && deadline.is_none_or(|d| Instant::now() < d) => {
                py.check_signals()?;
            }
            other => return Ok(other),
        }
    }
}

/// The Python error of a failed framed send.
pub(crate) fn send_error(e: shmring::framed::SendTimeoutError) -> PyErr {
    use shmring::framed::SendTimeoutError as E;
    match e {
        E::Timeout => PyTimeoutError::new_err(e.to_string()),
        E::Disconnected => DisconnectedError::new_err(e.to_string()),
        E::Corrupted => CorruptedError::new_err(e.to_string()),
        E::TooLarge { .. } => PyValueError::new_err(e.to_string()),
    }
}

/// The Python error of a failed broadcast receive.
pub(crate) fn broadcast_error(e: shmring::broadcast::RecvTimeoutError) -> PyErr {
    use shmring::broadcast::RecvTimeoutError as E;
    match e {
        E::Timeout => PyTimeoutError::new_err(e.to_string()),
        E::Lagged(n) => LaggedError::new_err((e.to_string(), n)),
        E::Disconnected => DisconnectedError::new_err(e.to_string()),
        E::Corrupted => CorruptedError::new_err(e.to_string()),
    }
}

/// The Python error of a typed send of `total` records that stopped after `sent`.
pub(crate) fn records_send_error(
    e: shmring::SendTimeoutError<()>,
    sent: usize,
    total: usize,
) -> PyErr {
    use shmring::SendTimeoutError as E;
    match e {
        E::Timeout(()) => PyTimeoutError::new_err(format!("{e}: {sent} of {total} records sent")),
        E::Disconnected(()) => DisconnectedError::new_err(e.to_string()),
        E::Corrupted(()) => CorruptedError::new_err(e.to_string()),
    }
}

/// The Python error of a failed non-blocking broadcast receive (`Empty` is not one).
pub(crate) fn broadcast_try_error(e: shmring::broadcast::TryRecvError) -> PyErr {
    use shmring::broadcast::{RecvTimeoutError as R, TryRecvError as E};
    broadcast_error(match e {
        E::Lagged(n) => R::Lagged(n),
        E::Disconnected => R::Disconnected,
        E::Empty | E::Corrupted => R::Corrupted,
    })
}
