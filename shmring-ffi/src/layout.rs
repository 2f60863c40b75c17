//! Payload layouts from C: a field table per struct ([`shmring_type`]) turned into the
//! [`TypeLayout`] `#[derive(ShmType)]` builds for the equivalent `#[repr(C)]` Rust struct — same
//! description, same fingerprint — and checked against a ring's header.

use std::ffi::c_char;

use shmring::{FieldLayout, ShmType, TypeLayout};

use crate::error::{Failure, call, non_null, text};

/// What a field holds: one of the primitive types, or (with [`shmring_field::nested`]) a struct.
/// Stored in [`shmring_field::kind`] as a `uint32_t`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum shmring_kind {
    /// `uint8_t` (Rust `u8`)
    SHMRING_U8 = 1,
    /// `uint16_t` (`u16`)
    SHMRING_U16 = 2,
    /// `uint32_t` (`u32`)
    SHMRING_U32 = 3,
    /// `uint64_t` (`u64`)
    SHMRING_U64 = 4,
    /// `int8_t` (`i8`)
    SHMRING_I8 = 5,
    /// `int16_t` (`i16`)
    SHMRING_I16 = 6,
    /// `int32_t` (`i32`)
    SHMRING_I32 = 7,
    /// `int64_t` (`i64`)
    SHMRING_I64 = 8,
    /// `float` (`f32`)
    SHMRING_F32 = 9,
    /// `double` (`f64`)
    SHMRING_F64 = 10,
    /// A struct described by its own [`shmring_type`] ([`shmring_field::nested`]).
    SHMRING_STRUCT = 11,
}

/// One field of a C struct: what `SHMRING_FIELD`, `SHMRING_ARRAY` and `SHMRING_STRUCT_FIELD`
/// fill in from `offsetof` and `sizeof`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct shmring_field {
    /// The field's name, as the Rust struct names it (NUL-terminated UTF-8).
    pub name: *const c_char,
    /// `offsetof(struct, field)`.
    pub offset: usize,
    /// `sizeof(field)`: checked against the kind and the array length.
    pub size: usize,
    /// A [`shmring_kind`] value.
    pub kind: u32,
    /// 0 for a single value; `n` ≥ 1 for an array of `n` (Rust `[T; n]`).
    pub count: usize,
    /// For `SHMRING_STRUCT`: the nested struct's table; otherwise `NULL`.
    pub nested: *const shmring_type,
}

/// A C struct's layout: its Rust name, size, alignment and field table. The struct's name is
/// part of the fingerprint, as for Rust types: give the name the Rust side's type has.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct shmring_type {
    /// The struct's name (the Rust type's identifier, e.g. `"Tick"`).
    pub name: *const c_char,
    /// `sizeof(struct)`.
    pub size: usize,
    /// `_Alignof(struct)`.
    pub align: usize,
    /// The fields, in any order (they are sorted by offset, as Rust lays them out).
    pub fields: *const shmring_field,
    /// How many.
    pub field_count: usize,
}

/// How deep structs may nest in a table (a cycle of `nested` pointers is refused, not followed
/// forever).
const MAX_DEPTH: usize = 16;

/// The primitive layout of `kind` (`None` for a struct or an unknown value).
fn primitive(kind: u32) -> Option<TypeLayout> {
    use shmring_kind::*;
    let table: [(shmring_kind, fn() -> TypeLayout); 10] = [
        (SHMRING_U8, u8::layout),
        (SHMRING_U16, u16::layout),
        (SHMRING_U32, u32::layout),
        (SHMRING_U64, u64::layout),
        (SHMRING_I8, i8::layout),
        (SHMRING_I16, i16::layout),
        (SHMRING_I32, i32::layout),
        (SHMRING_I64, i64::layout),
        (SHMRING_F32, f32::layout),
        (SHMRING_F64, f64::layout),
    ];
    table
        .iter()
        .find(|(k, _)| *k as u32 == kind)
        .map(|(_, layout)| layout())
}

/// The [`TypeLayout`] a field table describes, every entry checked.
///
/// # Safety
///
/// `ty` is NULL or points to a `shmring_type` whose pointers (name, fields, field names,
/// nested tables) are NULL or valid for the call.
pub(crate) unsafe fn type_layout(ty: *const shmring_type) -> Result<TypeLayout, Failure> {
    // SAFETY: forwarded.
    unsafe { layout_at(ty, 0) }
}

/// # Safety
///
/// As [`type_layout`].
unsafe fn layout_at(ty: *const shmring_type, depth: usize) -> Result<TypeLayout, Failure> {
    if depth > MAX_DEPTH {
        return Err(Failure::invalid(format!(
            "layout table nests structs more than {MAX_DEPTH} deep (a cycle?)"
        )));
    }
    // SAFETY: non-null (checked) and valid for the call (the caller's contract).
    let ty = unsafe { &*non_null(ty, "the layout table")? };
    // SAFETY: the contract covers the name.
    let name = unsafe { text(ty.name, "the struct's name")? };
    let bad = |why: String| Failure::invalid(format!("layout of {name}: {why}"));
    if name.is_empty() {
        return Err(Failure::invalid("layout table: the struct's name is empty"));
    }
    if !ty.align.is_power_of_two() || ty.align > 4096 {
        return Err(bad(format!(
            "alignment {} is not a power of two up to 4096",
            ty.align
        )));
    }
    if ty.size == 0 || ty.size % ty.align != 0 {
        return Err(bad(format!(
            "size {} is not a positive multiple of its alignment {}",
            ty.size, ty.align
        )));
    }
    if ty.field_count == 0 || ty.field_count > 4096 {
        return Err(bad(format!(
            "{} fields (1 to 4096 allowed)",
            ty.field_count
        )));
    }
    non_null(ty.fields, "the field table")?;
    // SAFETY: `fields` is non-null and, by the contract, valid for `field_count` entries.
    let table = unsafe { std::slice::from_raw_parts(ty.fields, ty.field_count) };
    let mut fields = Vec::with_capacity(table.len());
    for f in table {
        // SAFETY: the contract covers every field's name.
        let field = unsafe { text(f.name, "a field's name")? };
        let elem = match primitive(f.kind) {
            Some(p) => p,
            None if f.kind == shmring_kind::SHMRING_STRUCT as u32 => {
                if f.nested.is_null() {
                    return Err(bad(format!(
                        "field {field} is a struct but names no nested table"
                    )));
                }
                // SAFETY: the contract covers nested tables.
                unsafe { layout_at(f.nested, depth + 1)? }
            }
            None => return Err(bad(format!("field {field} has unknown kind {}", f.kind))),
        };
        let elem_size = elem.size() as usize;
        let elem_align = elem.align() as usize;
        let layout = if f.count == 0 {
            elem
        } else {
            TypeLayout::array(elem, f.count)
        };
        let expected = elem_size.checked_mul(f.count.max(1));
        if expected != Some(f.size) {
            return Err(bad(format!(
                "field {field} is {} bytes, but {} of {elem_size} bytes make {}",
                f.size,
                f.count.max(1),
                expected.map_or("more than fits".to_owned(), |e| e.to_string())
            )));
        }
        if f.offset % elem_align != 0 || f.offset.checked_add(f.size).is_none_or(|e| e > ty.size) {
            return Err(bad(format!(
                "field {field} at offset {} (size {}, align {elem_align}) does not fit in {} \
                 bytes aligned",
                f.offset, f.size, ty.size
            )));
        }
        fields.push((
            f.offset,
            f.size,
            FieldLayout::new(field.to_owned(), f.offset, layout),
        ));
    }
    fields.sort_by_key(|(offset, _, _)| *offset);
    for pair in fields.windows(2) {
        let ((a, a_len, fa), (b, _, fb)) = (&pair[0], &pair[1]);
        if a + a_len > *b {
            return Err(bad(format!(
                "fields {} (offset {a}) and {} (offset {b}) overlap",
                fa.name(),
                fb.name()
            )));
        }
    }
    Ok(TypeLayout::structure(
        name.to_owned(),
        ty.size,
        ty.align,
        fields.into_iter().map(|(_, _, f)| f).collect(),
    ))
}

/// The layout fingerprint of `type` into `*out`: the value `#[derive(ShmType)]` computes for
/// the equivalent `#[repr(C)]` Rust struct (`TypeLayout::fingerprint`).
///
/// # Safety
///
/// `type` is NULL or a valid table (every pointer in it NULL or valid); `out` is NULL or
/// writable.
///
/// ```
/// use shmring::ShmType;
/// use shmring_ffi::*;
/// #[derive(Clone, Copy, shmring::ShmType, bytemuck::Pod, bytemuck::Zeroable)]
/// # #[derive(Debug)]
/// #[repr(C)]
/// struct Pair { a: u32, b: f32 }
/// let fields = [
///     shmring_field { name: c"a".as_ptr(), offset: 0, size: 4, kind: shmring_kind::SHMRING_U32 as u32, count: 0, nested: std::ptr::null() },
///     shmring_field { name: c"b".as_ptr(), offset: 4, size: 4, kind: shmring_kind::SHMRING_F32 as u32, count: 0, nested: std::ptr::null() },
/// ];
/// let ty = shmring_type { name: c"Pair".as_ptr(), size: 8, align: 4, fields: fields.as_ptr(), field_count: 2 };
/// let mut fp = 0;
/// // SAFETY: the table's pointers outlive the call; `fp` is writable.
/// assert_eq!(unsafe { shmring_type_fingerprint(&ty, &mut fp) }, shmring_status::SHMRING_OK);
/// assert_eq!(fp, Pair::layout().fingerprint());
/// ```
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_type_fingerprint(
    r#type: *const shmring_type,
    out: *mut u64,
) -> crate::shmring_status {
    call(|| {
        non_null(out, "out")?;
        // SAFETY: the caller's contract.
        let layout = unsafe { type_layout(r#type)? };
        // SAFETY: non-null and writable (the caller's contract).
        unsafe { out.write(layout.fingerprint()) };
        Ok(())
    })
}

/// Writes the readable description of `type` — the text a ring's header and every layout
/// error show, e.g. `Tick { ts_ns: u64 @0, price: f64 @8 } (size 16, align 8)` — into `buf`
/// (`cap` bytes, NUL-terminated) and its length without the NUL into `*len`. A `cap` too small
/// gives `SHMRING_TOO_LARGE` with `*len` set to what is needed.
///
/// # Safety
///
/// `type` as for [`shmring_type_fingerprint`]; `buf` is NULL or writable for `cap` bytes;
/// `len` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_type_describe(
    r#type: *const shmring_type,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> crate::shmring_status {
    call(|| {
        non_null(len, "len")?;
        // SAFETY: the caller's contract.
        let text = unsafe { type_layout(r#type)? }.to_string();
        // SAFETY: non-null and writable.
        unsafe { len.write(text.len()) };
        if buf.is_null() || cap <= text.len() {
            return Err(Failure::new(
                crate::shmring_status::SHMRING_TOO_LARGE,
                format!(
                    "the description needs {} bytes with its NUL; the buffer has {cap}",
                    text.len() + 1
                ),
            ));
        }
        // SAFETY: `buf` is writable for `cap` > text.len() bytes (the caller's contract).
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
            buf.add(text.len()).write(0);
        }
        Ok(())
    })
}

/// Whether the ring `name` holds payloads of `type`: `SHMRING_OK`, or
/// `SHMRING_INCOMPATIBLE_LAYOUT` with the message a Rust process would get, naming the ring's
/// layout and this one. Reads the header only; attaches to nothing.
///
/// # Safety
///
/// `name` is NULL or NUL-terminated; `type` as for [`shmring_type_fingerprint`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmring_ring_check_type(
    name: *const c_char,
    r#type: *const shmring_type,
) -> crate::shmring_status {
    call(|| {
        // SAFETY: the caller's contract.
        let name = unsafe { text(name, "name")? };
        // SAFETY: the caller's contract.
        let layout = unsafe { type_layout(r#type)? };
        let found = shmring::inspect::inspect(name).map_err(|e| {
            let status = match &e {
                shmring::inspect::InspectError::NotFound { .. } => {
                    crate::shmring_status::SHMRING_NOT_FOUND
                }
                _ => crate::shmring_status::SHMRING_OPEN_FAILED,
            };
            Failure::new(status, e.to_string())
        })?;
        let info = &found.info;
        if info.fingerprint != layout.fingerprint() {
            return Err(shmring::OpenError::IncompatibleLayout {
                name: name.to_owned(),
                found: info.description.clone(),
                expected: layout.to_string(),
            }
            .into());
        }
        Ok(())
    })
}
