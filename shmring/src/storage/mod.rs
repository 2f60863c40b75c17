//! The storage every ring runs on: control words at fixed offsets, then an array of slots.
//!
//! In normal builds a [`Storage`] reinterprets a mapped segment's area (atomics through
//! `AtomicU64::from_ptr`, payloads through raw pointers; never a Rust reference to a payload
//! another process can write). Under `--cfg shmring_loom` it owns heap-allocated loom atomics,
//! loom cells and a model futex, so the same ring code is model-checked. Each ring gives the
//! offsets of its control words (`spsc::area`, `mpmc::area`); this module only knows the
//! [`Geometry`].

use std::time::Instant;

use crate::futex::Woken;
use crate::header::HeaderError;
use crate::sync::{AtomicU32, AtomicU64};
use crate::wait::Futex;
use crate::{Location, OpenError, RingKind, Segment, SegmentOptions, ShmType};

/// Where the slots start and how they are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// Bytes of control words before the slots (before rounding up to the slot alignment).
    pub control: usize,
    /// Offset of the payload inside a slot: 0 for bare payloads, 8 after a `u64` stamp.
    pub value_offset: usize,
    /// Bytes from one slot to the next.
    pub stride: usize,
    /// Alignment of a slot.
    pub align: usize,
}

impl Geometry {
    /// Slots that are just the payload (spsc).
    pub const fn packed<T>(control: usize) -> Geometry {
        Geometry::packed_of(control, size_of::<T>(), align_of::<T>())
    }

    /// Bare payload slots of `size` bytes aligned to `align`: a payload type known only at
    /// run time (`spsc::DynSender`).
    pub const fn packed_of(control: usize, size: usize, align: usize) -> Geometry {
        Geometry {
            control,
            value_offset: 0,
            stride: size,
            align,
        }
    }

    /// Slots that start with a 64-bit stamp (mpmc): `[stamp u64][payload][padding]`.
    pub const fn stamped<T>(control: usize) -> Geometry {
        Geometry::stamped_of(control, size_of::<T>(), align_of::<T>())
    }

    /// Stamped slots for payloads of `size` bytes aligned to `align` (a type known at run
    /// time).
    pub const fn stamped_of(control: usize, size: usize, align: usize) -> Geometry {
        let align = if align > 8 { align } else { 8 };
        Geometry {
            control,
            value_offset: align,
            stride: (align + size).next_multiple_of(align),
            align,
        }
    }

    /// Offset of slot 0 from the start of the area.
    pub const fn slots_offset(&self) -> usize {
        self.control.next_multiple_of(self.align)
    }

    /// Area size for `capacity` slots, if it fits in a `u64`.
    pub fn area_size(&self, capacity: u64) -> Option<u64> {
        capacity
            .checked_mul(self.stride as u64)?
            .checked_add(self.slots_offset() as u64)
    }
}

/// Segment options for a new ring of `T` with `capacity` slots (rounded up to a power of two)
/// laid out as `geometry`.
pub(crate) fn ring_options<T: ShmType>(
    kind: RingKind,
    capacity: u64,
    geometry: Geometry,
    location: &Location,
) -> Result<SegmentOptions, OpenError> {
    ring_options_as(kind, T::layout(), capacity, geometry, location)
}

/// [`ring_options`] for a payload given by its layout (a type known at run time).
pub(crate) fn ring_options_as(
    kind: RingKind,
    layout: crate::TypeLayout,
    capacity: u64,
    geometry: Geometry,
    location: &Location,
) -> Result<SegmentOptions, OpenError> {
    let invalid = |reason: String| OpenError::InvalidConfig {
        name: location.display_name(),
        reason,
    };
    if capacity == 0 {
        return Err(invalid(format!(
            "capacity is 0; an {kind} ring needs at least 1 slot"
        )));
    }
    let rounded = capacity
        .checked_next_power_of_two()
        .filter(|c| *c <= MAX_CAPACITY)
        .ok_or_else(|| {
            invalid(format!(
                "capacity {capacity} is too large (at most {MAX_CAPACITY} slots, or bytes for a framed ring)"
            ))
        })?;
    let area = geometry.area_size(rounded).ok_or_else(|| {
        invalid(format!(
            "{rounded} slots of {} bytes overflow",
            geometry.stride
        ))
    })?;
    Ok(SegmentOptions::new(kind)
        .payload_layout(layout)
        .capacity(rounded)
        .area_size(area))
}

/// Opens a ring of `kind` holding `T` and checks that its capacity and area size match
/// `geometry`, so every slot index the ring computes stays inside the mapping.
pub(crate) fn open_ring<T: ShmType>(
    kind: RingKind,
    location: impl Into<Location>,
    geometry: Geometry,
) -> Result<Segment, OpenError> {
    open_ring_as(kind, T::layout(), location, geometry)
}

/// [`open_ring`] for a payload named by its layout (byte rings labelled with the type their
/// messages carry).
pub(crate) fn open_ring_as(
    kind: RingKind,
    layout: crate::TypeLayout,
    location: impl Into<Location>,
    geometry: Geometry,
) -> Result<Segment, OpenError> {
    open_ring_laid_out(kind, layout, location, |_| geometry)
}

/// [`open_ring_as`] for a ring whose slot layout depends on its header (the broadcast
/// policy): `geometry` is asked once the header is validated.
pub(crate) fn open_ring_laid_out(
    kind: RingKind,
    layout: crate::TypeLayout,
    location: impl Into<Location>,
    geometry: impl FnOnce(&crate::header::HeaderInfo) -> Geometry,
) -> Result<Segment, OpenError> {
    let segment = SegmentOptions::new(kind)
        .payload_layout(layout)
        .open(location)?;
    let info = segment.info();
    let geometry = geometry(info);
    let bad = |field, value| OpenError::Corrupted {
        name: segment.name().to_owned(),
        reason: HeaderError::BadField { field, value },
    };
    if !info.capacity.is_power_of_two() || info.capacity > MAX_CAPACITY {
        return Err(bad("capacity", info.capacity));
    }
    if geometry.area_size(info.capacity) != Some(info.area_size) {
        return Err(bad("area_size", info.area_size));
    }
    Ok(segment)
}

/// Largest ring capacity: slots of a typed ring, bytes of a framed one (positions stay far
/// below the stamp flag bit).
///
/// ```
/// assert_eq!(shmring::MAX_CAPACITY, 1 << 40);
/// ```
pub const MAX_CAPACITY: u64 = 1 << 40;

/// Every ring position (messages of a typed ring, bytes of a framed one) stays below 2^62: one
/// read from shared memory at or past it is `Corrupted`. So a hostile position can never make
/// `position + capacity` (or a record's span, or a broadcast stamp `2·pos + 2`) overflow,
/// while an honest ring would need decades at full speed to get there (docs/layout.md).
pub(crate) const MAX_POSITION: u64 = 1 << 62;

#[cfg(not(shmring_loom))]
pub(crate) use mapped::Storage;

#[cfg(shmring_loom)]
pub(crate) use model::Storage;

pub(crate) use payload::{Sink, Source};

#[cfg(not(shmring_loom))]
mod mapped;
#[cfg(shmring_loom)]
mod model;
mod payload;
