//! Typed broadcast rings: one writer, every receiver sees every record of a numpy structured
//! dtype — the ring a Rust `broadcast::Sender<T>` / `Receiver<T>` uses.

use super::*;
use shmring::broadcast::{DynReceiver as BcReceiver, DynSender as BcSender, Policy};

/// The writer of a typed broadcast ring.
#[pyclass(module = "shmring")]
pub(crate) struct TypedBroadcastSender {
    tx: Slot<BcSender>,
    dtype: Py<PyAny>,
}

impl TypedBroadcastSender {
    fn new(py: Python<'_>, tx: BcSender, dtype: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(TypedBroadcastSender {
            tx: Slot::new(tx),
            dtype: numpy(py)?.call_method1("dtype", (dtype,))?.unbind(),
        })
    }
}

handle_methods! {
impl TypedBroadcastSender (tx) {
    /// Creates the typed broadcast ring `name` for `capacity` records of `dtype` (Rust struct
    /// `type_name`) and attaches as its writer. `overwrite=False` (lossless) waits for the
    /// slowest receiver; `True` never waits and a receiver a ring behind gets `LaggedError`.
    #[staticmethod]
    #[pyo3(signature = (name, capacity, dtype, type_name, overwrite = false))]
    fn create(
        py: Python<'_>,
        name: &str,
        capacity: u64,
        dtype: &Bound<'_, PyAny>,
        type_name: &str,
        overwrite: bool,
    ) -> PyResult<Self> {
        let layout = ring_layout(dtype, name, Some(type_name))?;
        let policy = if overwrite {
            Policy::Overwrite
        } else {
            Policy::Lossless
        };
        let tx = BcSender::create(name, capacity, layout, policy).map_err(open_error)?;
        TypedBroadcastSender::new(py, tx, dtype)
    }

    /// Opens the typed broadcast ring `name` as its writer (a dead writer's role is taken
    /// over); `dtype` checked as for `Receiver.open`.
    #[staticmethod]
    #[pyo3(signature = (name, dtype, type_name = None))]
    fn open(
        py: Python<'_>,
        name: &str,
        dtype: &Bound<'_, PyAny>,
        type_name: Option<&str>,
    ) -> PyResult<Self> {
        let layout = ring_layout(dtype, name, type_name)?;
        let tx = BcSender::open(name, layout).map_err(open_error)?;
        TypedBroadcastSender::new(py, tx, dtype)
    }

    /// The record dtype.
    #[getter]
    fn dtype(&self, py: Python<'_>) -> Py<PyAny> {
        self.dtype.clone_ref(py)
    }

    /// How many receivers are attached.
    #[getter]
    fn receiver_count(&self) -> PyResult<usize> {
        Ok(self.tx.lock()?.as_ref().expect("checked open").receiver_count())
    }

    /// Sends one record to every receiver, waiting (lossless) while the slowest is a ring
    /// behind.
    #[pyo3(signature = (record, timeout = None))]
    fn send(
        &self,
        py: Python<'_>,
        record: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let array = one_record(record, self.dtype.bind(py))?;
        self.send_many(py, &array, timeout)
    }

    /// Sends every record of `array` (converted to the ring's dtype) to every receiver.
    #[pyo3(signature = (array, timeout = None))]
    fn send_many(
        &self,
        py: Python<'_>,
        array: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let bytes = records_bytes(array, self.dtype.bind(py))?;
        let mut guard = self.tx.lock()?;
        let tx = guard.as_mut().expect("checked open");
        let size = tx.payload_size();
        let mut sent = 0;
        blocking(
            py,
            timeout,
            |until| {
                for record in bytes[sent * size..].chunks_exact(size) {
                    tx.send_deadline(record, until)?;
                    sent += 1;
                }
                Ok(())
            },
            |e: &shmring::SendTimeoutError<()>| e.is_timeout(),
        )?
        .map_err(|e| records_send_error(e, sent, bytes.len() / size))
    }
}
}

/// A receiver of a typed broadcast ring (any number of them, each sees every record from
/// where it joined).
#[pyclass(module = "shmring")]
pub(crate) struct TypedBroadcastReceiver {
    rx: Slot<Joined>,
    dtype: Py<PyAny>,
    /// `numpy.frombuffer`, looked up once.
    frombuffer: Py<PyAny>,
}

/// The receiver, a record's scratch, and a lag met in the middle of a `recv_many` batch, told
/// by the next call.
struct Joined {
    rx: BcReceiver,
    scratch: Vec<u8>,
    lag: Option<u64>,
}

impl Joined {
    /// A lag not told yet, as the error to raise.
    fn take_lag(&mut self) -> PyResult<()> {
        match self.lag.take() {
            Some(n) => Err(broadcast_error(
                shmring::broadcast::RecvTimeoutError::Lagged(n),
            )),
            None => Ok(()),
        }
    }

    /// The next record into `dst`, waiting for one (in GIL-free slices) up to `timeout`.
    fn recv_into(&mut self, py: Python<'_>, dst: &mut [u8], timeout: Option<f64>) -> PyResult<()> {
        self.take_lag()?;
        let rx = &mut self.rx;
        match rx.try_recv_into(dst) {
            Ok(()) => Ok(()),
            Err(shmring::broadcast::TryRecvError::Empty) => blocking(
                py,
                timeout,
                |until| rx.recv_into_deadline(dst, until),
                |e| *e == shmring::broadcast::RecvTimeoutError::Timeout,
            )?
            .map_err(broadcast_error),
            Err(e) => Err(broadcast_try_error(e)),
        }
    }
}

handle_methods! {
impl TypedBroadcastReceiver (rx) {
    /// Joins the typed broadcast ring `name` (`dtype` checked as for `Receiver.open`): at the
    /// next record, or with `from_oldest=True` at the oldest the ring still holds.
    #[staticmethod]
    #[pyo3(signature = (name, dtype, type_name = None, from_oldest = false))]
    fn open(
        py: Python<'_>,
        name: &str,
        dtype: &Bound<'_, PyAny>,
        type_name: Option<&str>,
        from_oldest: bool,
    ) -> PyResult<Self> {
        let layout = ring_layout(dtype, name, type_name)?;
        let rx = if from_oldest {
            BcReceiver::open_from_oldest(name, layout)
        } else {
            BcReceiver::open(name, layout)
        }
        .map_err(open_error)?;
        let np = numpy(py)?;
        Ok(TypedBroadcastReceiver {
            rx: Slot::new(Joined {
                scratch: vec![0; rx.payload_size()],
                rx,
                lag: None,
            }),
            dtype: np.call_method1("dtype", (dtype,))?.unbind(),
            frombuffer: np.getattr("frombuffer")?.unbind(),
        })
    }

    /// The record dtype.
    #[getter]
    fn dtype(&self, py: Python<'_>) -> Py<PyAny> {
        self.dtype.clone_ref(py)
    }

    /// The next record (a numpy structured scalar), waiting for one; `LaggedError`
    /// (overwrite rings) when records were missed — the next call goes on from the oldest
    /// held.
    #[pyo3(signature = (timeout = None))]
    fn recv<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let mut guard = self.rx.lock()?;
        let joined = guard.as_mut().expect("checked open");
        let mut scratch = std::mem::take(&mut joined.scratch);
        let got = joined.recv_into(py, &mut scratch, timeout);
        let record = got.and_then(|()| record_scalar(self.dtype.bind(py), &mut scratch));
        joined.scratch = scratch;
        record
    }

    /// Up to `n` records as a numpy array: waits for the first (at most `timeout` seconds),
    /// then takes what is there. A lag met after the first ends the batch and is raised by
    /// the next call.
    #[pyo3(signature = (n, timeout = None))]
    fn recv_many<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if n == 0 {
            return Err(PyValueError::new_err(
                "recv_many(0) would never return a record",
            ));
        }
        let mut guard = self.rx.lock()?;
        let joined = guard.as_mut().expect("checked open");
        let size = joined.rx.payload_size();
        let mut buf = vec![0u8; n * size];
        let (first, rest) = buf.split_at_mut(size);
        joined.recv_into(py, first, timeout)?;
        let mut got = 1;
        for record in rest.chunks_exact_mut(size) {
            match joined.rx.try_recv_into(record) {
                Ok(()) => got += 1,
                Err(shmring::broadcast::TryRecvError::Lagged(missed)) => {
                    joined.lag = Some(missed);
                    break;
                }
                Err(_) => break, // empty; a disconnection or corruption shows at the next call
            }
        }
        buf.truncate(got * size);
        self.frombuffer
            .bind(py)
            .call1((PyByteArray::new(py, &buf), self.dtype.bind(py)))
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Iteration receives until the writer is gone and everything was received (a lag is
    /// skipped over).
    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        loop {
            match self.recv(py, None) {
                Ok(r) => return Ok(Some(r)),
                Err(e) if e.is_instance_of::<LaggedError>(py) => continue,
                Err(e) if e.is_instance_of::<DisconnectedError>(py) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }
}
}
