//! Segments: a region that starts with a validated header.
//!
//! A [`Segment`] is what rings are built on: [`HEADER_SIZE`] bytes of header (kind, capacity,
//! payload layout, creator, lifecycle state; see `docs/layout.md`) followed by the ring's area.
//! [`SegmentOptions`] creates or opens one at a [`Location`]:
//!
//! * **create** takes the name exclusively (`O_EXCL`), sets the mode (0600 unless asked
//!   otherwise, not masked by the umask), reserves every page (so a full `/dev/shm` is
//!   [`OpenError::NoSpace`] now rather than SIGBUS later), writes the header and publishes it
//!   with a Release store of the `ready` state.
//! * **open** checks the real size with `fstat` before mapping, waits up to
//!   [`SegmentOptions::init_timeout`] for a creator that is still initialising (failing early
//!   if that creator is proven dead), validates every header field, and then compares the ring
//!   kind, the payload layout and any configured capacity. A mismatch is an error before a
//!   single byte of the area is read.
//!
//! ```
//! use shmring::{Location, OpenError, RingKind, SegmentOptions};
//!
//! let name = format!("shmring-doc-segment-{}", std::process::id());
//! let created = SegmentOptions::new(RingKind::Raw)
//!     .payload::<i32>()
//!     .capacity(16)
//!     .create(name.as_str())?;
//! assert_eq!(created.info().capacity, 16);
//!
//! // Another process (here the same one) opens it with the same type...
//! let opened = SegmentOptions::new(RingKind::Raw).payload::<i32>().open(name.as_str())?;
//! assert_eq!(opened.info().description, "i32 (size 4, align 4)");
//!
//! // ...and with another type it is refused, naming both layouts.
//! let err = SegmentOptions::new(RingKind::Raw).payload::<u8>().open(name.as_str()).unwrap_err();
//! assert!(matches!(err, OpenError::IncompatibleLayout { .. }));
//! assert!(err.to_string().contains("holds i32 (size 4, align 4); this process expects u8 (size 1, align 1)"));
//!
//! created.unlink()?;
//! # Ok::<(), OpenError>(())
//! ```

use std::fs::File;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::header::{
    self, HEADER_SIZE, HeaderError, HeaderInfo, MAX_SLOT_ALIGN, MAX_TOTAL_SIZE, OWNER_PID_OFFSET,
    STATE_CLOSED, STATE_INITIALISING, STATE_OFFSET, STATE_READY,
};
use crate::process::{Liveness, ProcessId};
use crate::region::{self, Region};
use crate::{OpenError, RingKind, ShmType, TypeLayout};

/// Default for [`SegmentOptions::init_timeout`].
pub const DEFAULT_INIT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default for [`SegmentOptions::mode`]: read and write for the owner only.
pub const DEFAULT_MODE: u32 = 0o600;
/// How many times `open_or_create` retries when the segment appears or vanishes under it.
const OPEN_OR_CREATE_ATTEMPTS: usize = 16;
mod location;
mod options;
mod words;
pub use location::Location;
pub use options::SegmentOptions;
pub(crate) use options::create_or_open;
use words::{Backoff, corrupted, read_header, read_owner, read_u32, state_word, word};

/// A mapped segment with a validated header: the base that rings are built on.
///
/// Dropping it unmaps the memory; the segment itself stays until [`unlink`](Segment::unlink)ed
/// (named shm and files) or until the last process holding it exits (memfd, heap).
///
/// ```
/// use shmring::{Location, RingKind, SegmentOptions};
/// let seg = SegmentOptions::new(RingKind::Raw).payload::<u32>().capacity(4).create(Location::Heap)?;
/// assert_eq!(seg.name(), "heap");
/// assert_eq!(seg.info().kind, RingKind::Raw);
/// # Ok::<(), shmring::OpenError>(())
/// ```
#[derive(Debug)]
pub struct Segment {
    region: Region,
    name: String,
    shm_name: Option<String>,
    info: HeaderInfo,
}

impl Segment {
    /// Removes the named segment `name` from `/dev/shm`. Processes that have it mapped keep
    /// using it; new opens fail with [`OpenError::NotFound`].
    ///
    /// # Errors
    ///
    /// [`OpenError::InvalidName`], [`OpenError::NotFound`], [`OpenError::PermissionDenied`].
    ///
    /// ```
    /// let err = shmring::Segment::unlink_name("never-created-ring").unwrap_err();
    /// assert!(matches!(err, shmring::OpenError::NotFound { .. }));
    /// ```
    pub fn unlink_name(name: &str) -> Result<(), OpenError> {
        region::unlink_shm(&region::shm_name(name)?)
    }

    /// Removes this segment's name (named shm only; a no-op for other locations).
    ///
    /// # Errors
    ///
    /// As [`Segment::unlink_name`]; `NotFound` if someone removed it already.
    ///
    /// ```
    /// use shmring::{RingKind, SegmentOptions};
    /// let name = format!("shmring-doc-unlink-{}", std::process::id());
    /// let seg = SegmentOptions::new(RingKind::Raw).payload::<u8>().capacity(1).create(name.as_str())?;
    /// seg.unlink()?;
    /// assert!(SegmentOptions::new(RingKind::Raw).open(name.as_str()).is_err());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn unlink(&self) -> Result<(), OpenError> {
        match &self.shm_name {
            Some(shm) => region::unlink_shm(shm),
            None => Ok(()),
        }
    }

    /// The validated header, as read when the segment was created or opened.
    ///
    /// ```
    /// # use shmring::{Location, RingKind, SegmentOptions};
    /// let seg = SegmentOptions::new(RingKind::Raw).payload::<u8>().capacity(3).create(Location::Heap)?;
    /// assert_eq!(seg.info().capacity, 3);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn info(&self) -> &HeaderInfo {
        &self.info
    }

    /// The name used in messages (`ticks`, a file path, `memfd:NAME`, `heap`).
    ///
    /// ```
    /// # use shmring::{Location, RingKind, SegmentOptions};
    /// let seg = SegmentOptions::new(RingKind::Raw).payload::<u8>().capacity(1)
    ///     .create(Location::memfd("m"))?;
    /// assert_eq!(seg.name(), "memfd:m");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The first byte of the area after the header, aligned to 4096.
    ///
    /// Other processes may write this memory at any time: reach it through atomics or copies,
    /// never through a Rust reference, and validate what you read.
    ///
    /// ```
    /// # use shmring::{Location, RingKind, SegmentOptions};
    /// let seg = SegmentOptions::new(RingKind::Raw).payload::<u64>().capacity(2).create(Location::Heap)?;
    /// let p = seg.area_ptr().as_ptr().cast::<u64>();
    /// // SAFETY: the area holds 2 u64 slots and nothing else touches this heap segment.
    /// unsafe { p.add(1).write(7) };
    /// // SAFETY: as above.
    /// assert_eq!(unsafe { p.add(1).read() }, 7);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn area_ptr(&self) -> NonNull<u8> {
        // SAFETY: a validated header has area_offset == HEADER_SIZE and total_size <= the
        // mapped length (checked at open), so the offset stays inside the region.
        unsafe { self.region.as_ptr().add(HEADER_SIZE) }
    }

    /// Length of the area in bytes.
    ///
    /// ```
    /// # use shmring::{Location, RingKind, SegmentOptions};
    /// let seg = SegmentOptions::new(RingKind::Raw).payload::<u16>().capacity(5).create(Location::Heap)?;
    /// assert_eq!(seg.area_len(), 10);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn area_len(&self) -> usize {
        self.info.area_size as usize
    }

    /// The whole mapped region, header included.
    ///
    /// ```
    /// # use shmring::{Location, RingKind, SegmentOptions};
    /// let seg = SegmentOptions::new(RingKind::Raw).payload::<u8>().capacity(1).create(Location::Heap)?;
    /// assert!(seg.region().len() >= 4097);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn region(&self) -> &Region {
        &self.region
    }

    /// The memfd (or shm/file descriptor) behind the segment, to pass to another process.
    ///
    /// ```
    /// # use shmring::{Location, RingKind, SegmentOptions};
    /// let seg = SegmentOptions::new(RingKind::Raw).payload::<u8>().capacity(1).create(Location::Heap)?;
    /// assert!(seg.as_fd().is_none());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn as_fd(&self) -> Option<BorrowedFd<'_>> {
        self.region.as_fd()
    }

    /// The lifecycle state word as it is now ([`STATE_READY`] or [`STATE_CLOSED`] unless a
    /// peer scribbled on it).
    ///
    /// ```
    /// # use shmring::{Location, RingKind, SegmentOptions};
    /// let seg = SegmentOptions::new(RingKind::Raw).payload::<u8>().capacity(1).create(Location::Heap)?;
    /// assert_eq!(seg.state(), shmring::header::STATE_READY);
    /// seg.close();
    /// assert_eq!(seg.state(), shmring::header::STATE_CLOSED);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn state(&self) -> u32 {
        state_word(&self.region).load(Ordering::Acquire)
    }

    /// Marks the segment closed: later opens fail with [`OpenError::Closed`]. Processes that
    /// have it open are not affected.
    ///
    /// ```
    /// # use shmring::{Location, RingKind, SegmentOptions};
    /// let seg = SegmentOptions::new(RingKind::Raw).payload::<u8>().capacity(1).create(Location::Heap)?;
    /// seg.close();
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn close(&self) {
        state_word(&self.region).store(STATE_CLOSED, Ordering::Release);
    }

    /// Writes the header and publishes it: owner first (so waiting openers can check the
    /// creator's liveness), then every other field, then `ready` with a Release store.
    fn publish(&self, before_ready: Option<fn()>) {
        let bytes = header::encode(&self.info, STATE_INITIALISING);
        debug_assert_eq!(
            header::decode(&header::encode(&self.info, STATE_READY)),
            Ok(self.info.clone())
        );
        let store = |offset: usize| {
            word(&self.region, offset).store(read_u32(&bytes, offset), Ordering::Relaxed);
        };
        // The owner's start time and pid namespace, then its pid with Release, so an opener
        // that Acquire-loads a non-zero pid sees a complete identity.
        let identity = OWNER_PID_OFFSET + 4..OWNER_PID_OFFSET + 20;
        identity.clone().step_by(4).for_each(store);
        word(&self.region, OWNER_PID_OFFSET).store(self.info.owner.pid, Ordering::Release);
        (0..HEADER_SIZE)
            .step_by(4)
            .filter(|o| *o != STATE_OFFSET && *o != OWNER_PID_OFFSET && !identity.contains(o))
            .for_each(store);
        if let Some(hook) = before_ready {
            hook();
        }
        state_word(&self.region).store(STATE_READY, Ordering::Release);
    }
}
