//! Typed rings: records of a numpy structured dtype.

use super::*;

/// The receiving end of a typed ring: records of a numpy structured dtype.
#[pyclass(module = "shmring")]
pub(crate) struct Receiver {
    rx: Slot<(DynReceiver, Vec<u8>)>,
    dtype: Py<PyAny>,
    /// `numpy.frombuffer`, looked up once.
    frombuffer: Py<PyAny>,
}

impl Receiver {
    fn new(py: Python<'_>, rx: DynReceiver, dtype: &Bound<'_, PyAny>) -> PyResult<Self> {
        let np = numpy(py)?;
        Ok(Receiver {
            rx: Slot::new((rx, Vec::new())),
            dtype: np.call_method1("dtype", (dtype,))?.unbind(),
            frombuffer: np.getattr("frombuffer")?.unbind(),
        })
    }
}

handle_methods! {
impl Receiver (rx) iterates PyAny {
    /// Creates the typed ring `name` for `capacity` records of `dtype`, whose Rust struct is
    /// called `type_name`, and attaches as its receiver.
    #[staticmethod]
    fn create(
        py: Python<'_>,
        name: &str,
        capacity: u64,
        dtype: &Bound<'_, PyAny>,
        type_name: &str,
    ) -> PyResult<Self> {
        let layout = ring_layout(dtype, name, Some(type_name))?;
        let rx = DynReceiver::create(name, capacity, layout).map_err(open_error)?;
        Receiver::new(py, rx, dtype)
    }

    /// Opens the typed ring `name` as its receiver; `dtype` must have the ring's layout (else
    /// `IncompatibleLayoutError` naming both). The struct's name is the ring's unless given.
    #[staticmethod]
    #[pyo3(signature = (name, dtype, type_name = None))]
    fn open(
        py: Python<'_>,
        name: &str,
        dtype: &Bound<'_, PyAny>,
        type_name: Option<&str>,
    ) -> PyResult<Self> {
        let layout = ring_layout(dtype, name, type_name)?;
        let rx = DynReceiver::open(name, layout).map_err(open_error)?;
        Receiver::new(py, rx, dtype)
    }

    /// The record dtype.
    #[getter]
    fn dtype(&self, py: Python<'_>) -> Py<PyAny> {
        self.dtype.clone_ref(py)
    }

    /// The next record (a numpy structured scalar), waiting for one.
    #[pyo3(signature = (timeout = None))]
    fn recv<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let mut guard = self.rx.lock()?;
        let (rx, scratch) = guard.as_mut().expect("checked open");
        scratch.resize(rx.payload_size(), 0);
        match rx.try_recv_into(scratch) {
            Ok(()) => {}
            Err(shmring::TryRecvError::Empty) => blocking(
                py,
                timeout,
                |until| rx.recv_into_deadline(scratch, until),
                |e| *e == RecvTimeoutError::Timeout,
            )?
            .map_err(recv_error)?,
            Err(e) => return Err(try_recv_error(e)),
        }
        record_scalar(self.dtype.bind(py), scratch)
    }

    /// Up to `n` records as a numpy array: waits for the first (at most `timeout` seconds),
    /// then takes what is there, in one call.
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
        let (rx, _) = guard.as_mut().expect("checked open");
        let size = rx.payload_size();
        let mut buf = vec![0u8; n * size];
        // What is there already, without giving up the GIL; else wait for one, then take the
        // rest of what came meanwhile.
        let got = match rx.try_recv_many(&mut buf) {
            Ok(k) => k,
            Err(shmring::TryRecvError::Empty) => {
                let (first, rest) = buf.split_at_mut(size);
                blocking(
                    py,
                    timeout,
                    |until| rx.recv_into_deadline(first, until),
                    |e| *e == RecvTimeoutError::Timeout,
                )?
                .map_err(recv_error)?;
                1 + if rest.is_empty() {
                    0
                } else {
                    rx.try_recv_many(rest).unwrap_or(0) // an error shows at the next call
                }
            }
            Err(e) => return Err(try_recv_error(e)),
        };
        buf.truncate(got * size);
        self.frombuffer
            .bind(py)
            .call1((PyByteArray::new(py, &buf), self.dtype.bind(py)))
    }
}
}

/// The sending end of a typed ring.
#[pyclass(module = "shmring")]
pub(crate) struct Sender {
    tx: Slot<DynSender>,
    dtype: Py<PyAny>,
}

handle_methods! {
impl Sender (tx) {
    /// Creates the typed ring `name` for `capacity` records of `dtype` (Rust struct
    /// `type_name`) and attaches as its sender.
    #[staticmethod]
    fn create(
        py: Python<'_>,
        name: &str,
        capacity: u64,
        dtype: &Bound<'_, PyAny>,
        type_name: &str,
    ) -> PyResult<Self> {
        let layout = ring_layout(dtype, name, Some(type_name))?;
        let tx = DynSender::create(name, capacity, layout).map_err(open_error)?;
        Ok(Sender {
            tx: Slot::new(tx),
            dtype: numpy(py)?.call_method1("dtype", (dtype,))?.unbind(),
        })
    }

    /// Opens the typed ring `name` as its sender (`dtype` checked as for `Receiver.open`).
    #[staticmethod]
    #[pyo3(signature = (name, dtype, type_name = None))]
    fn open(
        py: Python<'_>,
        name: &str,
        dtype: &Bound<'_, PyAny>,
        type_name: Option<&str>,
    ) -> PyResult<Self> {
        let layout = ring_layout(dtype, name, type_name)?;
        let tx = DynSender::open(name, layout).map_err(open_error)?;
        Ok(Sender {
            tx: Slot::new(tx),
            dtype: numpy(py)?.call_method1("dtype", (dtype,))?.unbind(),
        })
    }

    /// The record dtype.
    #[getter]
    fn dtype(&self, py: Python<'_>) -> Py<PyAny> {
        self.dtype.clone_ref(py)
    }

    /// Sends one record (anything `numpy.asarray(record, dtype)` takes: a structured scalar,
    /// a tuple of field values), waiting while the ring is full.
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

    /// Sends every record of `array` (converted to the ring's dtype), in one call.
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
        // The GIL is released once per slice, for as many records as go in it.
        let mut sent = 0;
        blocking(
            py,
            timeout,
            |until| {
                sent += tx.send_many_deadline(&bytes[sent * size..], until)?;
                if sent * size < bytes.len() {
                    Err(shmring::SendTimeoutError::Timeout(()))
                } else {
                    Ok(())
                }
            },
            |e: &shmring::SendTimeoutError<()>| e.is_timeout(),
        )?
        .map_err(|e| records_send_error(e, sent, bytes.len() / size))?;
        Ok(())
    }

}
}
