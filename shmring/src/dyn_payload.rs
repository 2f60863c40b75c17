//! What the rings typed at run time (`spsc::DynSender`, `mpmc::DynSender`,
//! `broadcast::DynSender` and their receivers — the language bindings' rings) share: the slot
//! shape of a [`TypeLayout`], making or opening their segment with the layout guard, and the
//! length checks of payload buffers.

use crate::header::HeaderInfo;
use crate::storage::Geometry;
use crate::{Location, OpenError, RingKind, Segment, SegmentOptions, TypeLayout};

/// Size and alignment of payloads laid out as a run-time layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shape {
    pub size: usize,
    pub align: usize,
}

impl Shape {
    /// The shape of `layout`, if a ring's slot can hold it (size a positive multiple of a
    /// power-of-two alignment up to 4096).
    pub(crate) fn of(layout: &TypeLayout, location: &Location) -> Result<Shape, OpenError> {
        let (size, align) = (layout.size(), layout.align());
        let invalid = |reason: String| OpenError::InvalidConfig {
            name: location.display_name(),
            reason,
        };
        if size == 0 || !align.is_power_of_two() || align > 4096 || size % align != 0 {
            return Err(invalid(format!(
                "payload {layout} cannot be a ring's slot (size a positive multiple of a \
                 power-of-two alignment up to 4096)"
            )));
        }
        let size = usize::try_from(size)
            .ok()
            .filter(|s| *s <= isize::MAX as usize / 2)
            .ok_or_else(|| invalid(format!("payload {layout} is too large")))?;
        Ok(Shape {
            size,
            align: align as usize,
        })
    }
}

/// A new ring segment of `kind` at `location` for `capacity` payloads laid out as `layout` in
/// slots of `geometry` (`adjust` sets what the kind records beyond that, e.g. a policy flag).
pub(crate) fn create(
    kind: RingKind,
    location: Location,
    layout: &TypeLayout,
    capacity: u64,
    geometry: Geometry,
    adjust: impl FnOnce(SegmentOptions) -> SegmentOptions,
) -> Result<Segment, OpenError> {
    let options =
        crate::storage::ring_options_as(kind, layout.clone(), capacity, geometry, &location)
            .map(adjust);
    crate::build::create_with(options, location, &crate::RingOptions::<()>::new())
}

/// The ring segment of `kind` at `location`, which must hold payloads laid out as `layout`
/// (else `IncompatibleLayout` naming both) in slots of `geometry` (given the header).
pub(crate) fn open(
    kind: RingKind,
    location: Location,
    layout: &TypeLayout,
    geometry: impl FnOnce(&HeaderInfo) -> Geometry,
) -> Result<Segment, OpenError> {
    crate::storage::open_ring_laid_out(kind, layout.clone(), location, geometry)
}

/// Panics unless `len` is the payload size (a caller's mistake, as `copy_from_slice`'s).
#[track_caller]
pub(crate) fn check_len(len: usize, size: usize) {
    assert_eq!(
        len, size,
        "a message of this ring is one payload of {size} bytes, not {len}"
    );
}

/// How many payloads of `size` bytes `len` bytes hold; panics unless a whole number.
#[track_caller]
pub(crate) fn whole_payloads(len: usize, size: usize) -> usize {
    assert_eq!(
        len % size,
        0,
        "messages of this ring are payloads of {size} bytes; {len} bytes are not a whole number"
    );
    len / size
}

/// The methods every run-time typed handle has, written once: its payload size, segment and
/// wait strategy over the typed handle in field `$field`; with `readiness`, also the
/// readiness descriptor calls of a receiving handle.
macro_rules! dyn_handle_methods {
    ($ty:ident . $field:ident, $waits:literal) => {
        impl $ty {
            /// Bytes in one message (the payload's size).
            pub fn payload_size(&self) -> usize {
                self.size
            }

            /// The ring's segment (its name, header and layout).
            pub fn segment(&self) -> &$crate::Segment {
                self.$field.segment()
            }

            #[doc = concat!("Sets how this handle waits ", $waits, ".")]
            pub fn with_wait_strategy(self, strategy: $crate::WaitStrategy) -> $ty {
                $ty {
                    $field: self.$field.with_wait_strategy(strategy),
                    ..self
                }
            }
        }
    };
    ($ty:ident . $field:ident, $waits:literal, readiness) => {
        $crate::dyn_payload::dyn_handle_methods!($ty.$field, $waits);

        impl $ty {
            /// The readiness descriptor (an eventfd for `poll`/`epoll`), as the typed
            /// receiver's `readiness_fd`: register with `register_readiness`, wait for it to
            /// be readable, `clear_readiness`, then receive with the try call.
            ///
            /// # Errors
            ///
            /// Making the eventfd or its helper failed.
            pub fn readiness_fd(&mut self) -> std::io::Result<std::os::fd::BorrowedFd<'_>> {
                self.$field.readiness_fd()
            }

            /// Asks for the readiness descriptor to be signalled when a message may be there:
            /// `Ok(true)` if the caller should wait for it, `Ok(false)` if one is there
            /// already.
            ///
            /// # Errors
            ///
            /// As `readiness_fd`.
            pub fn register_readiness(&mut self) -> std::io::Result<bool> {
                self.$field.register_readiness()
            }

            /// After the readiness descriptor was readable: resets it.
            pub fn clear_readiness(&mut self) {
                self.$field.clear_readiness();
            }
        }
    };
}
pub(crate) use dyn_handle_methods;
