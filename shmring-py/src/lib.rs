//! The `shmring` Python package's extension module (`shmring._shmring`): byte rings (any number
//! of senders, one receiver), byte and typed broadcast rings, and typed spsc rings whose payload
//! is a numpy structured dtype,
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

mod broadcast;
mod bytes;
mod dtype;
mod errors;
mod typed;
mod typed_broadcast;

use broadcast::*;
use bytes::*;
use dtype::*;
use errors::*;
use typed::*;
use typed_broadcast::*;

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
    m.add_class::<TypedBroadcastSender>()?;
    m.add_class::<TypedBroadcastReceiver>()?;
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
