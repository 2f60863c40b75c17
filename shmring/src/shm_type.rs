//! The layout guard: a structural description of a payload type and its stable fingerprint.
//!
//! Two processes that share a ring must agree on the bytes of each slot. [`ShmType`] describes a
//! type by its structure — primitive names, sizes, alignments, struct field names, offsets and
//! types, array lengths — and [`TypeLayout::fingerprint`] hashes that description with a fixed
//! algorithm (64-bit FNV-1a over a canonical encoding). Nothing depends on `TypeId` or
//! `type_name`, so the same type compiled into two different binaries, or by two compiler
//! versions, gets the same fingerprint, while `i32` vs `u32`, reordered fields, a changed array
//! length or a changed field type all differ.
//!
//! ```
//! use shmring::{ShmType, TypeLayout};
//!
//! #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable, ShmType)]
//! #[repr(C)]
//! struct Tick { ts_ns: u64, price: f64, qty: i32, side: u32 }
//!
//! let layout: TypeLayout = Tick::layout();
//! assert_eq!(layout.size(), 24);
//! assert_eq!(
//!     layout.to_string(),
//!     "Tick { ts_ns: u64 @0, price: f64 @8, qty: i32 @16, side: u32 @20 } (size 24, align 8)"
//! );
//! assert_ne!(i32::layout().fingerprint(), u32::layout().fingerprint());
//! ```

use std::borrow::Cow;
use std::fmt;

/// A payload type that may live in a shmring segment, with a structural layout description.
///
/// Implemented for the integer and float primitives and for arrays of `ShmType`; derive it for
/// your own `#[repr(C)]` structs with `#[derive(ShmType)]` (the `derive` feature, on by
/// default). The supertrait [`bytemuck::Pod`] guarantees that every bit pattern is a valid
/// value, so bytes written by any peer can be copied out without undefined behaviour.
///
/// Implementing it by hand is allowed, but the description must match the type: the guard can
/// only refuse what the description tells apart.
///
/// # Example
///
/// ```
/// use shmring::ShmType;
///
/// assert_eq!(<[u16; 4]>::layout().to_string(), "[u16; 4] (size 8, align 2)");
/// assert_eq!(f64::layout().to_string(), "f64 (size 8, align 8)");
/// ```
pub trait ShmType: bytemuck::Pod {
    /// The structural description of `Self`.
    fn layout() -> TypeLayout;
}

/// The structural description of a payload type.
///
/// Its [`Display`](fmt::Display) form is what error messages and the segment header show, for
/// example `i32 (size 4, align 4)` or
/// `Tick { ts_ns: u64 @0, qty: i32 @8 } (size 16, align 8)` (`@` gives the field's offset).
///
/// ```
/// use shmring::TypeLayout;
///
/// let l = TypeLayout::primitive("u32", 4, 4);
/// assert_eq!((l.size(), l.align()), (4, 4));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeLayout {
    kind: Kind,
    size: u64,
    align: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Primitive(&'static str),
    Array {
        elem: Box<TypeLayout>,
        len: u64,
    },
    Struct {
        name: Cow<'static, str>,
        fields: Vec<FieldLayout>,
    },
    /// Known only by what a header or a peer recorded of it (its description and fingerprint):
    /// a type passed through by a process that does not have it (`shmring bridge`).
    Recorded {
        body: String,
        fingerprint: u64,
    },
}

/// One field of a struct's [`TypeLayout`]: its name, byte offset and type.
///
/// ```
/// use shmring::{FieldLayout, ShmType};
///
/// let f = FieldLayout::new("qty", 16, i32::layout());
/// assert_eq!(f.name(), "qty");
/// assert_eq!(f.offset(), 16);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldLayout {
    name: Cow<'static, str>,
    offset: u64,
    ty: TypeLayout,
}

impl FieldLayout {
    /// A field called `name` at byte `offset` within its struct.
    pub fn new(name: impl Into<Cow<'static, str>>, offset: usize, ty: TypeLayout) -> Self {
        FieldLayout {
            name: name.into(),
            offset: offset as u64,
            ty,
        }
    }

    /// The field's name (`"0"`, `"1"`, … for tuple structs).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The field's byte offset within its struct.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The field's type.
    pub fn ty(&self) -> &TypeLayout {
        &self.ty
    }
}

impl TypeLayout {
    /// A primitive (integer or float) type.
    ///
    /// ```
    /// let l = shmring::TypeLayout::primitive("u8", 1, 1);
    /// assert_eq!(l.to_string(), "u8 (size 1, align 1)");
    /// ```
    pub fn primitive(name: &'static str, size: usize, align: usize) -> Self {
        TypeLayout {
            kind: Kind::Primitive(name),
            size: size as u64,
            align: align as u64,
        }
    }

    /// An array of `len` elements of `elem`.
    ///
    /// ```
    /// use shmring::{ShmType, TypeLayout};
    ///
    /// let l = TypeLayout::array(u8::layout(), 16);
    /// assert_eq!(l, <[u8; 16]>::layout());
    /// ```
    pub fn array(elem: TypeLayout, len: usize) -> Self {
        let size = elem.size.saturating_mul(len as u64);
        let align = elem.align;
        TypeLayout {
            kind: Kind::Array {
                elem: Box::new(elem),
                len: len as u64,
            },
            size,
            align,
        }
    }

    /// A struct called `name` (its identifier, without module path) with the given size,
    /// alignment and fields. `#[derive(ShmType)]` calls this.
    ///
    /// ```
    /// use shmring::{FieldLayout, ShmType, TypeLayout};
    ///
    /// let l = TypeLayout::structure("Pair", 8, 4, vec![
    ///     FieldLayout::new("a", 0, u32::layout()),
    ///     FieldLayout::new("b", 4, f32::layout()),
    /// ]);
    /// assert_eq!(l.to_string(), "Pair { a: u32 @0, b: f32 @4 } (size 8, align 4)");
    /// ```
    pub fn structure(
        name: impl Into<Cow<'static, str>>,
        size: usize,
        align: usize,
        fields: Vec<FieldLayout>,
    ) -> Self {
        TypeLayout {
            kind: Kind::Struct {
                name: name.into(),
                fields,
            },
            size: size as u64,
            align: align as u64,
        }
    }

    /// A type known only by its recorded description (`Display` of a layout: `"Tick { ts_ns:
    /// u64 @0, … } (size 24, align 8)"`) and fingerprint — what a ring's header or a peer's
    /// handshake holds. It displays as that description and has that fingerprint, size and
    /// alignment, so a process that does not have the type (a bridge between transports) can
    /// open or announce a channel of it and pass the layout guard, which compares exactly
    /// those. `None` when the description does not end in `(size N, align M)`.
    ///
    /// ```
    /// use shmring::{ShmType, TypeLayout};
    /// let tick = <[u32; 4]>::layout();
    /// let seen = TypeLayout::recorded(&tick.to_string(), tick.fingerprint()).unwrap();
    /// assert_eq!(seen.to_string(), tick.to_string());
    /// assert_eq!((seen.fingerprint(), seen.size(), seen.align()), (tick.fingerprint(), 16, 4));
    /// assert!(TypeLayout::recorded("u32", 1).is_none());
    /// ```
    pub fn recorded(description: &str, fingerprint: u64) -> Option<TypeLayout> {
        let (body, suffix) = description.rsplit_once(" (size ")?;
        let (size, align) = suffix.strip_suffix(')')?.split_once(", align ")?;
        Some(TypeLayout {
            kind: Kind::Recorded {
                body: body.to_owned(),
                fingerprint,
            },
            size: size.parse().ok()?,
            align: align.parse().ok()?,
        })
    }

    /// Size of the type in bytes.
    ///
    /// ```
    /// # use shmring::ShmType;
    /// assert_eq!(u64::layout().size(), 8);
    /// ```
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Alignment of the type in bytes.
    ///
    /// ```
    /// # use shmring::ShmType;
    /// assert_eq!(u16::layout().align(), 2);
    /// ```
    pub fn align(&self) -> u64 {
        self.align
    }

    /// The stable 64-bit fingerprint of this description.
    ///
    /// It is FNV-1a over a canonical encoding that includes every name, size, alignment, offset
    /// and array length in the tree; it never changes between builds, binaries or compiler
    /// versions, and it is what a segment header stores and an opener compares.
    ///
    /// ```
    /// # use shmring::ShmType;
    /// assert_eq!(i32::layout().fingerprint(), i32::layout().fingerprint());
    /// assert_ne!(i32::layout().fingerprint(), u8::layout().fingerprint());
    /// ```
    pub fn fingerprint(&self) -> u64 {
        if let Kind::Recorded { fingerprint, .. } = &self.kind {
            return *fingerprint;
        }
        let mut h = Fnv1a::new();
        h.write(b"shmring-layout-v1\0");
        self.encode(&mut h);
        h.finish()
    }

    fn encode(&self, h: &mut Fnv1a) {
        match &self.kind {
            Kind::Primitive(name) => {
                h.write(b"P");
                h.write_str(name);
            }
            Kind::Array { elem, len } => {
                h.write(b"A");
                h.write_u64(*len);
                elem.encode(h);
            }
            Kind::Struct { name, fields } => {
                h.write(b"S");
                h.write_str(name);
                h.write_u64(fields.len() as u64);
                for f in fields {
                    h.write_str(&f.name);
                    h.write_u64(f.offset);
                    f.ty.encode(h);
                }
            }
            // Nested inside a struct only by a caller that built one around it: its recorded
            // fingerprint stands for the tree it describes.
            Kind::Recorded { fingerprint, .. } => {
                h.write(b"R");
                h.write_u64(*fingerprint);
            }
        }
        h.write_u64(self.size);
        h.write_u64(self.align);
    }

    /// Writes the type without its `(size, align)` suffix, as it appears inside a struct.
    fn fmt_body(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Primitive(name) => f.write_str(name),
            Kind::Array { elem, len } => {
                f.write_str("[")?;
                elem.fmt_body(f)?;
                write!(f, "; {len}]")
            }
            Kind::Struct { name, fields } => {
                write!(f, "{name} {{")?;
                for (i, field) in fields.iter().enumerate() {
                    f.write_str(if i == 0 { " " } else { ", " })?;
                    write!(f, "{}: ", field.name)?;
                    field.ty.fmt_body(f)?;
                    write!(f, " @{}", field.offset)?;
                }
                f.write_str(if fields.is_empty() { "}" } else { " }" })
            }
            Kind::Recorded { body, .. } => f.write_str(body),
        }
    }
}

impl fmt::Display for TypeLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_body(f)?;
        write!(f, " (size {}, align {})", self.size, self.align)
    }
}

/// 64-bit FNV-1a offset basis.
pub(crate) const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
/// 64-bit FNV prime.
pub(crate) const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// 64-bit FNV-1a: tiny, fixed forever, and good enough to tell layouts apart by accident (the
/// header also keeps the readable description, which an opener compares too).
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Self {
        Fnv1a(FNV_OFFSET_BASIS)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.write(&v.to_le_bytes());
    }

    fn write_str(&mut self, s: &str) {
        self.write_u64(s.len() as u64);
        self.write(s.as_bytes());
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

macro_rules! primitive {
    ($($t:ident)*) => {$(
        impl ShmType for $t {
            fn layout() -> TypeLayout {
                TypeLayout::primitive(stringify!($t), size_of::<$t>(), align_of::<$t>())
            }
        }
    )*};
}

primitive!(u8 u16 u32 u64 u128 usize i8 i16 i32 i64 i128 isize f32 f64);

impl<T: ShmType, const N: usize> ShmType for [T; N]
where
    [T; N]: bytemuck::Pod,
{
    fn layout() -> TypeLayout {
        TypeLayout::array(T::layout(), N)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_describe_themselves() {
        assert_eq!(i32::layout().to_string(), "i32 (size 4, align 4)");
        assert_eq!(u8::layout().to_string(), "u8 (size 1, align 1)");
        assert_eq!(
            <[[u8; 2]; 3]>::layout().to_string(),
            "[[u8; 2]; 3] (size 6, align 1)"
        );
    }

    #[test]
    fn fingerprints_separate_similar_types() {
        let all = [
            i32::layout(),
            u32::layout(),
            f32::layout(),
            u8::layout(),
            <[u8; 4]>::layout(),
            <[u8; 5]>::layout(),
            <[u16; 2]>::layout(),
            <[i32; 1]>::layout(),
        ];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a.fingerprint(), b.fingerprint(), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn fingerprint_is_fixed_forever() {
        // Changing this value breaks every segment in the field: bump the layout version instead.
        assert_eq!(
            u64::layout().fingerprint(),
            0x0fa9_1dd1_ab38_2022,
            "{:#x}",
            u64::layout().fingerprint()
        );
    }

    #[test]
    fn field_names_and_offsets_matter() {
        let a = TypeLayout::structure(
            "S",
            8,
            4,
            vec![
                FieldLayout::new("x", 0, u32::layout()),
                FieldLayout::new("y", 4, u32::layout()),
            ],
        );
        let swapped = TypeLayout::structure(
            "S",
            8,
            4,
            vec![
                FieldLayout::new("y", 0, u32::layout()),
                FieldLayout::new("x", 4, u32::layout()),
            ],
        );
        let renamed = TypeLayout::structure(
            "T",
            8,
            4,
            vec![
                FieldLayout::new("x", 0, u32::layout()),
                FieldLayout::new("y", 4, u32::layout()),
            ],
        );
        assert_ne!(a.fingerprint(), swapped.fingerprint());
        assert_ne!(a.fingerprint(), renamed.fingerprint());
        assert_eq!(a.fingerprint(), a.clone().fingerprint());
    }
}
