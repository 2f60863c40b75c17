//! The `shmring` Python package's extension module (`shmring._shmring`): byte rings (any number
//! of senders, one receiver) and typed spsc rings whose payload is a numpy structured dtype,
//! checked against the ring's layout like a Rust `#[derive(ShmType)]` struct. Blocking calls
//! release the GIL and wake every 50 ms to honour Ctrl-C; errors are Python exceptions with the
//! Rust error's message. `python/shmring/__init__.pyi` documents the API for type checkers.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use numpy::npyffi::PY_ARRAY_API;
use numpy::{PyArrayDescr, PyArrayDescrMethods};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTimeoutError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyTuple};
use shmring::spsc::{DynReceiver, DynSender};
use shmring::{FieldLayout, OpenError, RecvTimeoutError, ShmType, TypeLayout};

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
const SLICE: Duration = Duration::from_millis(50);

fn open_error(e: OpenError) -> PyErr {
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
fn recv_error(e: RecvTimeoutError) -> PyErr {
    match e {
        RecvTimeoutError::Timeout => PyTimeoutError::new_err(e.to_string()),
        RecvTimeoutError::Disconnected => DisconnectedError::new_err(e.to_string()),
        RecvTimeoutError::Corrupted => CorruptedError::new_err(e.to_string()),
    }
}

/// The Python error of a failed non-blocking receive (`Empty` is not one: callers handle it).
fn try_recv_error(e: shmring::TryRecvError) -> PyErr {
    match e {
        shmring::TryRecvError::Disconnected => DisconnectedError::new_err(e.to_string()),
        _ => CorruptedError::new_err(e.to_string()),
    }
}

/// A handle behind a lock (Python objects may be shared between threads); `None` once closed.
struct Slot<H>(Mutex<Option<H>>);

impl<H> Slot<H> {
    fn new(h: H) -> Self {
        Slot(Mutex::new(Some(h)))
    }

    fn lock(&self) -> PyResult<MutexGuard<'_, Option<H>>> {
        let guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            return Err(ShmringError::new_err("the handle is closed"));
        }
        Ok(guard)
    }

    fn close(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// Runs `attempt(deadline)` with the GIL released, in slices of [`SLICE`], checking for Python
/// signals (Ctrl-C) between slices, until it succeeds, fails otherwise, or `timeout` passes.
fn blocking<T, E: Send>(
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

/// `#[pymethods]` for a handle class, with what every handle has written once: `close()`
/// (detaches; also done when the object is collected) and the context manager that calls it.
macro_rules! handle_methods {
    // A receiver: also an iterator of what `recv` returns, ending when the other side is gone
    // and everything was received.
    (impl $ty:ident ($field:ident) iterates $item:ident { $($body:tt)* }) => {
        handle_methods! {
            impl $ty ($field) {
                fn __iter__(slf: Py<Self>) -> Py<Self> {
                    slf
                }

                fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, $item>>> {
                    match self.recv(py, None) {
                        Ok(r) => Ok(Some(r)),
                        Err(e) if e.is_instance_of::<DisconnectedError>(py) => Ok(None),
                        Err(e) => Err(e),
                    }
                }

                $($body)*
            }
        }
    };
    (impl $ty:ident ($field:ident) { $($body:tt)* }) => {
        #[pymethods]
        impl $ty {
            /// Detaches (also done by `with`, and when the object is collected).
            fn close(&self) {
                self.$field.close();
            }

            fn __enter__(slf: Py<Self>) -> Py<Self> {
                slf
            }

            #[pyo3(signature = (*_exc))]
            fn __exit__(&self, _exc: &Bound<'_, PyTuple>) {
                self.close();
            }

            $($body)*
        }
    };
}

// ---------------------------------------------------------------- byte rings

/// The receiving end of a byte ring: messages of any length from any number of senders.
#[pyclass(module = "shmring")]
struct ByteReceiver {
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
struct ByteSender {
    tx: Slot<shmring::framed::mpsc::Sender>,
}

fn send_error(e: shmring::framed::SendTimeoutError) -> PyErr {
    use shmring::framed::SendTimeoutError as E;
    match e {
        E::Timeout => PyTimeoutError::new_err(e.to_string()),
        E::Disconnected => DisconnectedError::new_err(e.to_string()),
        E::Corrupted => CorruptedError::new_err(e.to_string()),
        E::TooLarge { .. } => PyValueError::new_err(e.to_string()),
    }
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

// ---------------------------------------------------------------- broadcast

/// The Python error of a failed broadcast receive.
fn broadcast_error(e: shmring::broadcast::RecvTimeoutError) -> PyErr {
    use shmring::broadcast::RecvTimeoutError as E;
    match e {
        E::Timeout => PyTimeoutError::new_err(e.to_string()),
        E::Lagged(n) => LaggedError::new_err((e.to_string(), n)),
        E::Disconnected => DisconnectedError::new_err(e.to_string()),
        E::Corrupted => CorruptedError::new_err(e.to_string()),
    }
}

/// The writer of a broadcast ring of byte messages: every receiver sees every message.
#[pyclass(module = "shmring")]
struct BroadcastSender {
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
struct BroadcastReceiver {
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

// ---------------------------------------------------------------- numpy dtypes

/// The layout of one field's numpy dtype: a primitive, or an array of one.
fn field_layout(dt: &Bound<'_, PyAny>) -> PyResult<TypeLayout> {
    let sub = dt.getattr("subdtype")?;
    if !sub.is_none() {
        let (base, shape): (Bound<'_, PyAny>, Vec<usize>) = sub.extract()?;
        let mut layout = field_layout(&base)?;
        for n in shape.into_iter().rev() {
            layout = TypeLayout::array(layout, n);
        }
        return Ok(layout);
    }
    if !dt.getattr("names")?.is_none() {
        return Err(PyValueError::new_err(
            "nested structured dtypes are not supported yet: flatten the struct",
        ));
    }
    let kind: String = dt.getattr("kind")?.extract()?;
    let size: usize = dt.getattr("itemsize")?.extract()?;
    let order: String = dt.getattr("byteorder")?.extract()?;
    let native = if cfg!(target_endian = "little") {
        "<"
    } else {
        ">"
    };
    if !(order == "=" || order == "|" || order == native) {
        return Err(PyValueError::new_err(format!(
            "field dtype {} is not in this machine's byte order",
            dt.str()?
        )));
    }
    Ok(match (kind.as_str(), size) {
        ("u", 1) => u8::layout(),
        ("u", 2) => u16::layout(),
        ("u", 4) => u32::layout(),
        ("u", 8) => u64::layout(),
        ("i", 1) => i8::layout(),
        ("i", 2) => i16::layout(),
        ("i", 4) => i32::layout(),
        ("i", 8) => i64::layout(),
        ("f", 4) => f32::layout(),
        ("f", 8) => f64::layout(),
        _ => {
            return Err(PyValueError::new_err(format!(
                "field dtype {} has no shmring equivalent (unsigned, signed and float \
                 integers of 1 to 8 bytes)",
                dt.str()?
            )));
        }
    })
}

/// The [`TypeLayout`] of a structured dtype, as `#[derive(ShmType)]` gives the `#[repr(C)]`
/// Rust struct called `name` with the same fields at the same offsets: its alignment is its
/// largest field's (a C struct's), whatever the dtype's `align` flag.
fn dtype_layout(dtype: &Bound<'_, PyAny>, name: &str) -> PyResult<TypeLayout> {
    let names = dtype.getattr("names")?;
    if names.is_none() {
        return Err(PyValueError::new_err(
            "a typed ring's dtype is a structured dtype: np.dtype([('name', '<u8'), ...])",
        ));
    }
    let names: Vec<String> = names.extract()?;
    let fields = dtype.getattr("fields")?;
    let size: usize = dtype.getattr("itemsize")?.extract()?;
    let mut list = Vec::with_capacity(names.len());
    let mut align = 1u64;
    for field in &names {
        let entry = fields.get_item(field)?;
        let sub = entry.get_item(0)?;
        let offset: usize = entry.get_item(1)?.extract()?;
        let layout = field_layout(&sub)?;
        if offset as u64 % layout.align() != 0 {
            return Err(PyValueError::new_err(format!(
                "field {field} at offset {offset} is not aligned for its type ({layout}); a \
                 C or Rust struct would pad before it"
            )));
        }
        align = align.max(layout.align());
        list.push((offset, FieldLayout::new(field.clone(), offset, layout)));
    }
    if size as u64 % align != 0 {
        return Err(PyValueError::new_err(format!(
            "the dtype's size {size} is not a multiple of its alignment {align}; a C or Rust \
             struct would pad its end"
        )));
    }
    list.sort_by_key(|(offset, _)| *offset);
    Ok(TypeLayout::structure(
        name.to_owned(),
        size,
        align as usize,
        list.into_iter().map(|(_, f)| f).collect(),
    ))
}

/// The struct name a ring's header gives its payload (`Tick` of `Tick { … } (size …)`).
fn ring_type_name(ring: &str) -> PyResult<String> {
    let found = shmring::inspect::inspect(ring).map_err(|e| match e {
        shmring::inspect::InspectError::NotFound { .. } => NotFoundError::new_err(e.to_string()),
        e => ShmringError::new_err(e.to_string()),
    })?;
    let description = found.info.description;
    Ok(description
        .split([' ', '{', '('])
        .next()
        .unwrap_or_default()
        .to_owned())
}

/// The payload layout of a typed ring handle: the dtype with the struct name given, or (when
/// opening) the name the ring's header gives.
fn ring_layout(
    dtype: &Bound<'_, PyAny>,
    ring: &str,
    type_name: Option<&str>,
) -> PyResult<TypeLayout> {
    let dtype = numpy(dtype.py())?.call_method1("dtype", (dtype,))?;
    match type_name {
        Some(name) => dtype_layout(&dtype, name),
        None => dtype_layout(&dtype, &ring_type_name(ring)?),
    }
}

fn numpy(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    py.import("numpy")
}

// ---------------------------------------------------------------- typed rings

/// The receiving end of a typed ring: records of a numpy structured dtype.
#[pyclass(module = "shmring")]
struct Receiver {
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
        let descr = self.dtype.bind(py).cast::<PyArrayDescr>()?;
        // SAFETY: `scratch` holds one payload of the dtype's `itemsize` bytes (the ring's
        // payload size is the dtype's); with no base object numpy copies the bytes into the
        // new scalar, and it does not take over the descriptor reference passed.
        let scalar = unsafe {
            PY_ARRAY_API.PyArray_Scalar(
                py,
                scratch.as_mut_ptr().cast(),
                descr.as_dtype_ptr(),
                std::ptr::null_mut(),
            )
        };
        // SAFETY: a new reference or NULL with the Python error set.
        unsafe { Bound::from_owned_ptr_or_err(py, scalar) }
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
struct Sender {
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
        let array = numpy(py)?.call_method1("asarray", (record, self.dtype.bind(py)))?;
        if array.getattr("ndim")?.extract::<usize>()? != 0 {
            return Err(PyValueError::new_err(
                "send takes one record; send_many takes an array",
            ));
        }
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
        let array = numpy(py)?.call_method1("ascontiguousarray", (array, self.dtype.bind(py)))?;
        let bytes: Vec<u8> = array.call_method0("tobytes")?.extract()?;
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
        .map_err(|e| match e {
            shmring::SendTimeoutError::Timeout(()) => PyTimeoutError::new_err(format!(
                "{e}: {sent} of {} records sent",
                bytes.len() / size
            )),
            shmring::SendTimeoutError::Disconnected(()) => {
                DisconnectedError::new_err(e.to_string())
            }
            shmring::SendTimeoutError::Corrupted(()) => CorruptedError::new_err(e.to_string()),
        })?;
        Ok(())
    }

}
}

/// The description and fingerprint of a structured dtype as the Rust struct `type_name`:
/// what a ring's header would hold.
#[pyfunction]
fn describe(dtype: &Bound<'_, PyAny>, type_name: &str) -> PyResult<(String, u64)> {
    let layout = ring_layout(dtype, "", Some(type_name))?;
    Ok((layout.to_string(), layout.fingerprint()))
}

#[pymodule]
fn _shmring(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<ByteReceiver>()?;
    m.add_class::<ByteSender>()?;
    m.add_class::<Receiver>()?;
    m.add_class::<Sender>()?;
    m.add_class::<BroadcastSender>()?;
    m.add_class::<BroadcastReceiver>()?;
    m.add_function(wrap_pyfunction!(describe, m)?)?;
    m.add("ShmringError", py.get_type::<ShmringError>())?;
    m.add(
        "IncompatibleLayoutError",
        py.get_type::<IncompatibleLayoutError>(),
    )?;
    m.add("NotFoundError", py.get_type::<NotFoundError>())?;
    m.add("DisconnectedError", py.get_type::<DisconnectedError>())?;
    m.add("CorruptedError", py.get_type::<CorruptedError>())?;
    m.add("LaggedError", py.get_type::<LaggedError>())?;
    Ok(())
}
