//! numpy structured dtypes as shmring payload layouts.

use super::*;

/// The layout of one field's numpy dtype: a primitive, or an array of one.
pub(crate) fn field_layout(dt: &Bound<'_, PyAny>) -> PyResult<TypeLayout> {
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
pub(crate) fn dtype_layout(dtype: &Bound<'_, PyAny>, name: &str) -> PyResult<TypeLayout> {
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
pub(crate) fn ring_type_name(ring: &str) -> PyResult<String> {
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
pub(crate) fn ring_layout(
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

pub(crate) fn numpy(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    py.import("numpy")
}

/// One record of `dtype` (its bytes in `payload`) as a numpy structured scalar.
pub(crate) fn record_scalar<'py>(
    dtype: &Bound<'py, PyAny>,
    payload: &mut [u8],
) -> PyResult<Bound<'py, PyAny>> {
    let py = dtype.py();
    let descr = dtype.cast::<PyArrayDescr>()?;
    // SAFETY: `payload` holds one record of the dtype's `itemsize` bytes (a ring's payload
    // size is its dtype's); with no base object numpy copies the bytes into the new scalar,
    // and it does not take over the descriptor reference passed.
    let scalar = unsafe {
        PY_ARRAY_API.PyArray_Scalar(
            py,
            payload.as_mut_ptr().cast(),
            descr.as_dtype_ptr(),
            std::ptr::null_mut(),
        )
    };
    // SAFETY: a new reference or NULL with the Python error set.
    unsafe { Bound::from_owned_ptr_or_err(py, scalar) }
}

/// `record` (a structured scalar, a tuple of field values…) as a 0-d array of `dtype`, or
/// `ValueError` if it is many records.
pub(crate) fn one_record<'py>(
    record: &Bound<'py, PyAny>,
    dtype: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let array = numpy(record.py())?.call_method1("asarray", (record, dtype))?;
    if array.getattr("ndim")?.extract::<usize>()? != 0 {
        return Err(PyValueError::new_err(
            "send takes one record; send_many takes an array",
        ));
    }
    Ok(array)
}

/// The bytes of `array`'s records converted to `dtype`, back to back.
pub(crate) fn records_bytes(
    array: &Bound<'_, PyAny>,
    dtype: &Bound<'_, PyAny>,
) -> PyResult<Vec<u8>> {
    let array = numpy(array.py())?.call_method1("ascontiguousarray", (array, dtype))?;
    array.call_method0("tobytes")?.extract()
}
