//! Broadcast rings of byte messages: one writer, every receiver sees every message.

use super::*;

/// The writer of a broadcast ring of byte messages: every receiver sees every message.
#[pyclass(module = "shmring")]
pub(crate) struct BroadcastSender {
    tx: Slot<shmring::framed::broadcast::Sender>,
}

handle_methods! {
impl BroadcastSender (tx) {
    /// Creates the broadcast ring `name` of `capacity` 64-byte cells (a message of up to 40
    /// bytes takes one, each further 56 bytes one more) and attaches as its writer. `overwrite=False` (lossless) waits for the slowest receiver; `True` never waits
    /// and a receiver that falls a ring behind gets `LaggedError`.
    #[staticmethod]
    #[pyo3(signature = (name, capacity, overwrite = false))]
    fn create(name: &str, capacity: u64, overwrite: bool) -> PyResult<Self> {
        let policy = if overwrite {
            shmring::broadcast::Policy::Overwrite
        } else {
            shmring::broadcast::Policy::Lossless
        };
        let tx = shmring::framed::broadcast::Sender::options()
            .policy(policy)
            .create(name, capacity)
            .map_err(open_error)?;
        Ok(BroadcastSender { tx: Slot::new(tx) })
    }

    /// Opens the broadcast ring `name` as its writer (a dead writer's role is taken over).
    #[staticmethod]
    fn open(name: &str) -> PyResult<Self> {
        let tx = shmring::framed::broadcast::Sender::open(name).map_err(open_error)?;
        Ok(BroadcastSender { tx: Slot::new(tx) })
    }

    /// Sends `data` to every receiver, waiting (lossless) while the slowest one is a ring
    /// behind.
    #[pyo3(signature = (data, timeout = None))]
    fn send(&self, py: Python<'_>, data: &[u8], timeout: Option<f64>) -> PyResult<()> {
        let mut guard = self.tx.lock()?;
        let tx = guard.as_mut().expect("checked open");
        blocking(
            py,
            timeout,
            |until| tx.send_deadline(data, until),
            |e| *e == shmring::framed::SendTimeoutError::Timeout,
        )?
        .map_err(send_error)
    }

    /// How many receivers are attached.
    #[getter]
    fn receiver_count(&self) -> PyResult<usize> {
        Ok(self
            .tx
            .lock()?
            .as_ref()
            .expect("checked open")
            .receiver_count())
    }

}
}

/// A receiver of a broadcast ring of byte messages (any number of them, each sees every
/// message from where it joined).
#[pyclass(module = "shmring")]
pub(crate) struct BroadcastReceiver {
    rx: Slot<(shmring::framed::broadcast::Receiver, Vec<u8>)>,
}

handle_methods! {
impl BroadcastReceiver (rx) {
    /// Joins the broadcast ring `name`: at the next message, or with `from_oldest=True` at the
    /// oldest the ring still holds.
    #[staticmethod]
    #[pyo3(signature = (name, from_oldest = false))]
    fn open(name: &str, from_oldest: bool) -> PyResult<Self> {
        let options = shmring::framed::broadcast::Receiver::options();
        let options = if from_oldest {
            options.from_oldest()
        } else {
            options
        };
        let rx = options.open(name).map_err(open_error)?;
        Ok(BroadcastReceiver {
            rx: Slot::new((rx, Vec::new())),
        })
    }

    /// The next message, waiting for one; `LaggedError` (overwrite rings) when messages were
    /// missed — the next call goes on.
    #[pyo3(signature = (timeout = None))]
    fn recv<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyBytes>> {
        let mut guard = self.rx.lock()?;
        let (rx, buf) = guard.as_mut().expect("checked open");
        blocking(
            py,
            timeout,
            |until| rx.recv_into_deadline(buf, until),
            |e| *e == shmring::broadcast::RecvTimeoutError::Timeout,
        )?
        .map_err(broadcast_error)?;
        Ok(PyBytes::new(py, buf))
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Iteration receives until the writer is gone and everything was received (a lag is
    /// skipped over).
    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        loop {
            match self.recv(py, None) {
                Ok(b) => return Ok(Some(b)),
                Err(e) if e.is_instance_of::<LaggedError>(py) => continue,
                Err(e) if e.is_instance_of::<DisconnectedError>(py) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }
}
}
