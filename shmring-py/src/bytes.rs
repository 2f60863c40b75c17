//! Byte rings: any number of senders, one receiver.

use super::*;

/// The receiving end of a byte ring: messages of any length from any number of senders.
#[pyclass(module = "shmring")]
pub(crate) struct ByteReceiver {
    rx: Slot<(shmring::framed::mpsc::Receiver, Vec<u8>)>,
}

handle_methods! {
impl ByteReceiver (rx) iterates PyBytes {
    /// Creates the ring `name` (`/dev/shm/NAME`) with room for `capacity` bytes.
    #[staticmethod]
    fn create(name: &str, capacity: u64) -> PyResult<Self> {
        let rx = shmring::framed::mpsc::Receiver::create(name, capacity).map_err(open_error)?;
        Ok(ByteReceiver {
            rx: Slot::new((rx, Vec::new())),
        })
    }

    /// Opens the ring `name` as its receiver.
    #[staticmethod]
    fn open(name: &str) -> PyResult<Self> {
        let rx = shmring::framed::mpsc::Receiver::open(name).map_err(open_error)?;
        Ok(ByteReceiver {
            rx: Slot::new((rx, Vec::new())),
        })
    }

    /// The next message, waiting for one (at most `timeout` seconds if given).
    #[pyo3(signature = (timeout = None))]
    fn recv<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyBytes>> {
        let mut guard = self.rx.lock()?;
        let (rx, buf) = guard.as_mut().expect("checked open");
        blocking(
            py,
            timeout,
            |until| rx.recv_into_deadline(buf, until),
            |e| *e == RecvTimeoutError::Timeout,
        )?
        .map_err(recv_error)?;
        Ok(PyBytes::new(py, buf))
    }

    /// The next message if one is there, else `None`.
    fn try_recv<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let mut guard = self.rx.lock()?;
        let (rx, buf) = guard.as_mut().expect("checked open");
        match rx.try_recv_into(buf) {
            Ok(_) => Ok(Some(PyBytes::new(py, buf))),
            Err(shmring::TryRecvError::Empty) => Ok(None),
            Err(e) => Err(try_recv_error(e)),
        }
    }

    /// The largest message the ring carries, in bytes.
    #[getter]
    fn max_message(&self) -> PyResult<usize> {
        Ok(self
            .rx
            .lock()?
            .as_ref()
            .expect("checked open")
            .0
            .max_message())
    }
}
}

/// A sending end of a byte ring.
#[pyclass(module = "shmring")]
pub(crate) struct ByteSender {
    tx: Slot<shmring::framed::mpsc::Sender>,
}

handle_methods! {
impl ByteSender (tx) {
    /// Creates the ring `name` with room for `capacity` bytes and attaches as a sender.
    #[staticmethod]
    fn create(name: &str, capacity: u64) -> PyResult<Self> {
        let tx = shmring::framed::mpsc::Sender::create(name, capacity).map_err(open_error)?;
        Ok(ByteSender { tx: Slot::new(tx) })
    }

    /// Opens the ring `name` as one more sender.
    #[staticmethod]
    fn open(name: &str) -> PyResult<Self> {
        let tx = shmring::framed::mpsc::Sender::open(name).map_err(open_error)?;
        Ok(ByteSender { tx: Slot::new(tx) })
    }

    /// Sends `data`, waiting while the ring is full (at most `timeout` seconds if given).
    #[pyo3(signature = (data, timeout = None))]
    fn send(&self, py: Python<'_>, data: &[u8], timeout: Option<f64>) -> PyResult<()> {
        let guard = self.tx.lock()?;
        let tx = guard.as_ref().expect("checked open");
        blocking(
            py,
            timeout,
            |until| tx.send_deadline(data, until),
            |e| *e == shmring::framed::SendTimeoutError::Timeout,
        )?
        .map_err(send_error)
    }

    /// Sends without waiting: `True`, or `False` when the ring is full.
    fn try_send(&self, data: &[u8]) -> PyResult<bool> {
        use shmring::framed::TrySendError as E;
        match self
            .tx
            .lock()?
            .as_ref()
            .expect("checked open")
            .try_send(data)
        {
            Ok(()) => Ok(true),
            Err(E::Full) => Ok(false),
            Err(e @ E::Disconnected) => Err(DisconnectedError::new_err(e.to_string())),
            Err(e @ E::Corrupted) => Err(CorruptedError::new_err(e.to_string())),
            Err(e @ E::TooLarge { .. }) => Err(PyValueError::new_err(e.to_string())),
        }
    }

}
}
