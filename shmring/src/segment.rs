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

/// Where a segment lives.
///
/// A `&str` or `String` converts to [`Location::Shm`], so APIs that take
/// `impl Into<Location>` accept a plain name.
///
/// ```
/// use shmring::Location;
///
/// assert!(matches!(Location::from("ticks"), Location::Shm(n) if n == "ticks"));
/// assert!(matches!(Location::file("/tmp/ticks.ring"), Location::File(_)));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Location {
    /// Named POSIX shared memory, `/dev/shm/NAME` (a leading `/` is optional).
    Shm(String),
    /// A regular file: the segment survives reboots if the file system does.
    File(PathBuf),
    /// An anonymous memfd (create only; the name is for `/proc/PID/fd` listings). Share it by
    /// `fork` or by passing [`Segment::as_fd`] over a Unix socket; the receiver opens it with
    /// [`Location::Fd`].
    Memfd(String),
    /// A memfd received from another process (open only). It must be sealed against
    /// shrinking and growing, as [`Location::Memfd`] segments are.
    Fd(OwnedFd),
    /// Process-local heap memory (create only), for tests.
    Heap,
}

impl Location {
    /// Named POSIX shared memory.
    ///
    /// ```
    /// let _ = shmring::Location::shm("ticks");
    /// ```
    pub fn shm(name: impl Into<String>) -> Location {
        Location::Shm(name.into())
    }

    /// A regular file at `path`.
    ///
    /// ```
    /// let _ = shmring::Location::file("/var/tmp/ticks.ring");
    /// ```
    pub fn file(path: impl Into<PathBuf>) -> Location {
        Location::File(path.into())
    }

    /// A new anonymous memfd.
    ///
    /// ```
    /// let _ = shmring::Location::memfd("ticks");
    /// ```
    pub fn memfd(debug_name: impl Into<String>) -> Location {
        Location::Memfd(debug_name.into())
    }

    /// A copy of a named location (shm or file), which can be created or opened again.
    fn reopenable(&self) -> Option<Location> {
        match self {
            Location::Shm(n) => Some(Location::Shm(n.clone())),
            Location::File(p) => Some(Location::File(p.clone())),
            _ => None,
        }
    }

    /// The name used in error messages (`heap` for [`Location::Heap`]).
    pub(crate) fn display_name(&self) -> String {
        match self {
            Location::Shm(n) => n.strip_prefix('/').unwrap_or(n).to_owned(),
            Location::File(p) => p.display().to_string(),
            Location::Memfd(n) => format!("memfd:{n}"),
            Location::Fd(_) => "memfd".to_owned(),
            Location::Heap => "heap".to_owned(),
        }
    }
}

impl From<&str> for Location {
    fn from(name: &str) -> Location {
        Location::Shm(name.to_owned())
    }
}

impl From<String> for Location {
    fn from(name: String) -> Location {
        Location::Shm(name)
    }
}

impl From<&String> for Location {
    fn from(name: &String) -> Location {
        Location::Shm(name.clone())
    }
}

/// How to create or open a [`Segment`].
///
/// ```
/// use std::time::Duration;
/// use shmring::{RingKind, SegmentOptions};
///
/// let seg = SegmentOptions::new(RingKind::Raw)
///     .payload::<[f64; 4]>()
///     .capacity(128)
///     .mode(0o640)
///     .init_timeout(Duration::from_millis(200))
///     .create(shmring::Location::Heap)?;
/// assert_eq!(seg.area_len(), 128 * 32);
/// # Ok::<(), shmring::OpenError>(())
/// ```
#[derive(Clone, Debug)]
pub struct SegmentOptions {
    kind: RingKind,
    payload: Option<TypeLayout>,
    capacity: Option<u64>,
    area_size: Option<u64>,
    mode: u32,
    init_timeout: Duration,
    before_ready: Option<fn()>,
}

impl SegmentOptions {
    /// Options for a segment of `kind`, with mode 0600 and a 2 s initialisation timeout.
    ///
    /// ```
    /// let opts = shmring::SegmentOptions::new(shmring::RingKind::Raw);
    /// ```
    pub fn new(kind: RingKind) -> SegmentOptions {
        SegmentOptions {
            kind,
            payload: None,
            capacity: None,
            area_size: None,
            mode: DEFAULT_MODE,
            init_timeout: DEFAULT_INIT_TIMEOUT,
            before_ready: None,
        }
    }

    /// The payload type: written to the header on create, required to match on open.
    ///
    /// Without it, `open` accepts any payload (for inspection tools); `create` needs it.
    ///
    /// ```
    /// let opts = shmring::SegmentOptions::new(shmring::RingKind::Raw).payload::<u64>();
    /// ```
    pub fn payload<T: ShmType>(self) -> SegmentOptions {
        self.payload_layout(T::layout())
    }

    /// The payload type, given by its layout description.
    ///
    /// ```
    /// use shmring::{RingKind, SegmentOptions, ShmType};
    /// let opts = SegmentOptions::new(RingKind::Raw).payload_layout(u64::layout());
    /// ```
    pub fn payload_layout(mut self, layout: TypeLayout) -> SegmentOptions {
        self.payload = Some(layout);
        self
    }

    /// Capacity in slots (bytes for framed rings): required on create; on open, the segment's
    /// capacity must equal it when given.
    ///
    /// ```
    /// let opts = shmring::SegmentOptions::new(shmring::RingKind::Raw).capacity(1024);
    /// ```
    pub fn capacity(mut self, capacity: u64) -> SegmentOptions {
        self.capacity = Some(capacity);
        self
    }

    /// Size of the area after the header in bytes. Defaults to capacity × slot size, which is
    /// what a [`RingKind::Raw`] segment needs; rings add their control blocks. On open, the
    /// segment's area size must equal it when given.
    ///
    /// ```
    /// let opts = shmring::SegmentOptions::new(shmring::RingKind::Raw).area_size(1 << 20);
    /// ```
    pub fn area_size(mut self, bytes: u64) -> SegmentOptions {
        self.area_size = Some(bytes);
        self
    }

    /// Permission bits for a created segment or file (default `0o600`, owner only). Applied
    /// exactly, whatever the process umask.
    ///
    /// ```
    /// let opts = shmring::SegmentOptions::new(shmring::RingKind::Raw).mode(0o660);
    /// ```
    pub fn mode(mut self, mode: u32) -> SegmentOptions {
        self.mode = mode & 0o7777;
        self
    }

    /// How long `open` waits for a creator that has not published the header yet (default
    /// 2 s). It fails sooner with the same error if the creator is proven dead.
    ///
    /// ```
    /// use std::time::Duration;
    /// let opts = shmring::SegmentOptions::new(shmring::RingKind::Raw)
    ///     .init_timeout(Duration::from_millis(50));
    /// ```
    pub fn init_timeout(mut self, timeout: Duration) -> SegmentOptions {
        self.init_timeout = timeout;
        self
    }

    /// Test hook: called by `create` after the header is written and before it is published.
    #[doc(hidden)]
    pub fn before_ready_hook(mut self, hook: fn()) -> SegmentOptions {
        self.before_ready = Some(hook);
        self
    }

    /// Creates a new segment at `location`; fails if one exists there.
    ///
    /// # Errors
    ///
    /// [`OpenError::InvalidConfig`] without payload or capacity or with impossible sizes,
    /// [`OpenError::InvalidName`], [`OpenError::AlreadyExists`],
    /// [`OpenError::PermissionDenied`], [`OpenError::NoSpace`], [`OpenError::Io`].
    ///
    /// ```
    /// use shmring::{Location, RingKind, SegmentOptions};
    /// let seg = SegmentOptions::new(RingKind::Raw).payload::<u8>().capacity(4096)
    ///     .create(Location::memfd("example"))?;
    /// assert!(seg.as_fd().is_some());
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn create(&self, location: impl Into<Location>) -> Result<Segment, OpenError> {
        let location = location.into();
        let name = location.display_name();
        let info = self.new_header(&name)?;
        let len = info.total_size;
        let (region, shm_name) = match location {
            Location::Shm(n) => {
                let shm = region::shm_name(&n)?;
                let file = region::create_shm(&shm, len, self.mode)?;
                let region = Region::map(file, len as usize, &name).inspect_err(|_| {
                    let _ = region::unlink_shm(&shm);
                })?;
                (region, Some(shm))
            }
            Location::File(path) => {
                let file = region::create_file(&path, len, self.mode)?;
                let region = Region::map(file, len as usize, &name).inspect_err(|_| {
                    let _ = std::fs::remove_file(&path);
                })?;
                (region, None)
            }
            Location::Memfd(n) => (
                Region::map(region::create_memfd(&n, len)?, len as usize, &name)?,
                None,
            ),
            Location::Heap => (Region::heap(len as usize), None),
            Location::Fd(_) => {
                return Err(OpenError::InvalidConfig {
                    name,
                    reason: "a received file descriptor can only be opened; create a memfd \
                             with Location::memfd"
                        .into(),
                });
            }
        };
        let segment = Segment {
            region,
            name,
            shm_name,
            info,
        };
        segment.publish(self.before_ready);
        Ok(segment)
    }

    /// Opens the existing segment at `location` and checks it against these options.
    ///
    /// # Errors
    ///
    /// [`OpenError::NotFound`], [`OpenError::PermissionDenied`],
    /// [`OpenError::InitTimeout`], [`OpenError::Truncated`], [`OpenError::NotASegment`],
    /// [`OpenError::VersionMismatch`], [`OpenError::Corrupted`], [`OpenError::Closed`],
    /// [`OpenError::KindMismatch`], [`OpenError::IncompatibleLayout`],
    /// [`OpenError::ConfigMismatch`], [`OpenError::NotSealed`], [`OpenError::InvalidName`],
    /// [`OpenError::Io`].
    ///
    /// ```
    /// use shmring::{OpenError, RingKind, SegmentOptions};
    /// let err = SegmentOptions::new(RingKind::Raw).open("no-such-ring-here").unwrap_err();
    /// assert!(matches!(err, OpenError::NotFound { .. }));
    /// ```
    pub fn open(&self, location: impl Into<Location>) -> Result<Segment, OpenError> {
        let location = location.into();
        let name = location.display_name();
        let (file, shm_name) = match location {
            Location::Shm(n) => {
                let shm = region::shm_name(&n)?;
                (region::open_shm(&shm)?, Some(shm))
            }
            Location::File(path) => (region::open_file(&path)?, None),
            Location::Fd(fd) => (region::adopt_memfd(fd, &name)?, None),
            Location::Memfd(_) | Location::Heap => {
                return Err(OpenError::InvalidConfig {
                    name,
                    reason: "memfd and heap segments have no name to open; share the memfd \
                             (Segment::as_fd) and open it with Location::Fd"
                        .into(),
                });
            }
        };
        let deadline = Instant::now() + self.init_timeout;
        let size = self.wait_for_size(&file, &name, deadline)?;
        let region = Region::map(file, size as usize, &name)?;
        let info = self.wait_for_header(&region, &name, deadline)?;
        if info.total_size > size {
            return Err(OpenError::Truncated {
                name,
                expected: info.total_size,
                actual: size,
            });
        }
        if info.state == STATE_CLOSED {
            return Err(OpenError::Closed { name });
        }
        self.check(&name, &info)?;
        Ok(Segment {
            region,
            name,
            shm_name,
            info,
        })
    }

    /// Opens the segment at `location`, creating it if it does not exist. Safe to race: of
    /// several processes calling it at once, exactly one creates and the others open.
    ///
    /// # Errors
    ///
    /// Those of [`create`](SegmentOptions::create) and [`open`](SegmentOptions::open); an
    /// existing segment that does not match these options is an error, never overwritten.
    ///
    /// ```
    /// use shmring::{RingKind, SegmentOptions};
    /// let name = format!("shmring-doc-ooc-{}", std::process::id());
    /// let opts = SegmentOptions::new(RingKind::Raw).payload::<u16>().capacity(8);
    /// let a = opts.open_or_create(name.as_str())?;
    /// let b = opts.open_or_create(name.as_str())?;
    /// assert_eq!(a.info().created_unix_ns, b.info().created_unix_ns);
    /// a.unlink()?;
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn open_or_create(&self, location: impl Into<Location>) -> Result<Segment, OpenError> {
        let location = location.into();
        let Some(name) = location.reopenable() else {
            return match location {
                Location::Fd(_) => self.open(location),
                other => self.create(other),
            };
        };
        for _ in 0..OPEN_OR_CREATE_ATTEMPTS {
            match self.create(name.reopenable().expect("named location")) {
                Err(OpenError::AlreadyExists { .. }) => {}
                other => return other,
            }
            match self.open(name.reopenable().expect("named location")) {
                Err(OpenError::NotFound { .. }) => {}
                other => return other,
            }
        }
        Err(OpenError::Io {
            name: name.display_name(),
            op: "open_or_create",
            source: std::io::Error::other("the segment kept appearing and vanishing"),
        })
    }

    /// The header a `create` with these options writes.
    fn new_header(&self, name: &str) -> Result<HeaderInfo, OpenError> {
        let invalid = |reason: String| OpenError::InvalidConfig {
            name: name.to_owned(),
            reason,
        };
        let payload = self.payload.as_ref().ok_or_else(|| {
            invalid("no payload type; call SegmentOptions::payload::<T>() before create".into())
        })?;
        let capacity = self
            .capacity
            .ok_or_else(|| invalid("no capacity; call SegmentOptions::capacity(n)".into()))?;
        if capacity == 0 {
            return Err(invalid("capacity is 0; it must be at least 1".into()));
        }
        if payload.size() == 0 {
            return Err(invalid(format!(
                "the payload {payload} has size 0; use a sized type"
            )));
        }
        if payload.size() > u64::from(u32::MAX) || payload.align() > u64::from(MAX_SLOT_ALIGN) {
            return Err(invalid(format!(
                "the payload {payload} is too large (at most 4 GiB, alignment at most \
                 {MAX_SLOT_ALIGN})"
            )));
        }
        let slots = payload.size().checked_mul(capacity);
        let area = match (self.area_size, slots) {
            (Some(area), _) => area,
            (None, Some(bytes)) => bytes,
            (None, None) => u64::MAX,
        };
        if area
            .checked_add(HEADER_SIZE as u64)
            .is_none_or(|total| total > MAX_TOTAL_SIZE)
        {
            return Err(invalid(format!(
                "{capacity} slots of {payload} need more than the 128 TiB limit"
            )));
        }
        if !self.kind.is_byte_ring() && slots.is_none_or(|bytes| bytes > area) {
            return Err(invalid(format!(
                "area of {area} bytes cannot hold {capacity} slots of {payload}"
            )));
        }
        if capacity > area {
            return Err(invalid(format!(
                "capacity {capacity} exceeds the {area}-byte area"
            )));
        }
        // The creator's identity, with the real cause when it cannot be read (no procfs, or
        // no descriptor left: EMFILE).
        let owner = crate::process::ProcessId::current().map_err(|source| OpenError::Io {
            name: name.to_owned(),
            op: "read /proc/self/stat (this process's identity)",
            source,
        })?;
        let mut info = HeaderInfo::new(self.kind, capacity, payload, area);
        info.owner = owner;
        Ok(info)
    }

    /// Waits while the file is empty (a creator between `shm_open` and reserving its pages).
    fn wait_for_size(&self, file: &File, name: &str, deadline: Instant) -> Result<u64, OpenError> {
        let mut backoff = Backoff::default();
        loop {
            let size = region::file_size(file, name)?;
            if size >= HEADER_SIZE as u64 {
                if size > MAX_TOTAL_SIZE {
                    return Err(OpenError::Corrupted {
                        name: name.to_owned(),
                        reason: HeaderError::BadField {
                            field: "total_size",
                            value: size,
                        },
                    });
                }
                return Ok(size);
            }
            if size > 0 {
                // Creators reserve the whole size in one call: a file shorter than a header
                // was never one (or something shrank it past recognition).
                return Err(OpenError::NotASegment {
                    name: name.to_owned(),
                    why: format!("{size} bytes, shorter than the {HEADER_SIZE}-byte header"),
                });
            }
            if !backoff.wait_until(deadline) {
                return Err(self.init_timeout_error(name, None));
            }
        }
    }

    /// Waits until the header is published, then validates it.
    fn wait_for_header(
        &self,
        region: &Region,
        name: &str,
        deadline: Instant,
    ) -> Result<HeaderInfo, OpenError> {
        let mut backoff = Backoff::default();
        loop {
            match read_header(region) {
                Ok(info) => return Ok(info),
                Err(HeaderError::NotReady) => {}
                Err(e) => return Err(corrupted(name, e)),
            }
            let creator = read_owner(region);
            if let Some(owner) = creator
                && owner.liveness() == Liveness::Dead
            {
                return Err(self.init_timeout_error(name, Some(owner)));
            }
            if !backoff.wait_until(deadline) {
                return Err(self.init_timeout_error(name, creator));
            }
        }
    }

    fn init_timeout_error(&self, name: &str, creator: Option<ProcessId>) -> OpenError {
        OpenError::InitTimeout {
            name: name.to_owned(),
            waited: self.init_timeout,
            creator: creator.map(|c| c.pid),
            creator_alive: creator.and_then(|c| match c.liveness() {
                Liveness::Alive => Some(true),
                Liveness::Dead => Some(false),
                Liveness::Unknown => None,
            }),
        }
    }

    /// Compares a validated header with what these options ask for.
    fn check(&self, name: &str, info: &HeaderInfo) -> Result<(), OpenError> {
        let name = name.to_owned();
        if info.kind != self.kind {
            return Err(OpenError::KindMismatch {
                name,
                found: info.kind,
                expected: self.kind,
            });
        }
        if let Some(payload) = &self.payload {
            let expected = payload.to_string();
            let same = info.fingerprint == payload.fingerprint()
                && u64::from(info.slot_size) == payload.size()
                && u64::from(info.slot_align) == payload.align()
                && (info.description_truncated || info.description == expected);
            if !same {
                let mut found = info.description.clone();
                if info.description_truncated {
                    found.push('…');
                }
                return Err(OpenError::IncompatibleLayout {
                    name,
                    found,
                    expected,
                });
            }
        }
        let wanted = [
            ("capacity", self.capacity, info.capacity),
            ("area size", self.area_size, info.area_size),
        ];
        for (what, want, found) in wanted {
            if let Some(expected) = want
                && expected != found
            {
                return Err(OpenError::ConfigMismatch {
                    name,
                    what,
                    found,
                    expected,
                });
            }
        }
        Ok(())
    }
}

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

/// Copies the header out (after an Acquire load of the state) and validates it.
fn read_header(region: &Region) -> Result<HeaderInfo, HeaderError> {
    if state_word(region).load(Ordering::Acquire) == STATE_INITIALISING {
        let magic0 = word(region, 0).load(Ordering::Relaxed);
        let magic1 = word(region, 4).load(Ordering::Relaxed);
        let ours = (read_u32(&header::MAGIC, 0), read_u32(&header::MAGIC, 4));
        if (magic0, magic1) == (0, 0) || (magic0, magic1) == ours {
            return Err(HeaderError::NotReady);
        }
    }
    let mut bytes = vec![0u8; HEADER_SIZE];
    for offset in (0..HEADER_SIZE).step_by(4) {
        let v = word(region, offset).load(Ordering::Relaxed);
        bytes[offset..offset + 4].copy_from_slice(&v.to_ne_bytes());
    }
    header::decode(&bytes)
}

/// The creator recorded in a header that is still being initialised, if it got that far.
fn read_owner(region: &Region) -> Option<ProcessId> {
    let pid = word(region, OWNER_PID_OFFSET).load(Ordering::Acquire);
    if pid == 0 {
        return None;
    }
    let u64_at = |offset: usize| {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&word(region, offset).load(Ordering::Relaxed).to_ne_bytes());
        b[4..].copy_from_slice(
            &word(region, offset + 4)
                .load(Ordering::Relaxed)
                .to_ne_bytes(),
        );
        u64::from_ne_bytes(b)
    };
    Some(ProcessId {
        pid,
        start_ticks: u64_at(std::mem::offset_of!(header::RawHeader, owner_start_ticks)),
        pid_ns: u64_at(std::mem::offset_of!(header::RawHeader, owner_pid_ns)),
    })
}

fn corrupted(name: &str, reason: HeaderError) -> OpenError {
    let name = name.to_owned();
    match reason {
        HeaderError::BadMagic => OpenError::NotASegment {
            name,
            why: "wrong magic bytes".into(),
        },
        HeaderError::UnsupportedVersion(found) => OpenError::VersionMismatch {
            name,
            found,
            supported: header::FORMAT_VERSION,
        },
        reason => OpenError::Corrupted { name, reason },
    }
}

fn read_u32(bytes: &[u8], offset: usize) -> u32 {
    u32::from_ne_bytes(bytes[offset..offset + 4].try_into().expect("4 bytes"))
}

/// The 32-bit header word at `offset`.
fn word(region: &Region, offset: usize) -> &AtomicU32 {
    assert!(offset % 4 == 0 && offset + 4 <= HEADER_SIZE.min(region.len()));
    // Header words are only ever accessed as AtomicU32, by every process, so there are no
    // mixed-size or non-atomic accesses to race with.
    // SAFETY: 4-aligned and inside the region (asserted; regions are page aligned), and the
    // region outlives the returned reference; all accesses to the word are atomic.
    unsafe { AtomicU32::from_ptr(region.as_ptr().as_ptr().add(offset).cast()) }
}

fn state_word(region: &Region) -> &AtomicU32 {
    word(region, STATE_OFFSET)
}

/// Waits for a peer: a few yields, then sleeps growing to 1 ms, never past the deadline.
#[derive(Default)]
struct Backoff {
    step: u32,
}

impl Backoff {
    /// Waits once; `false` when the deadline has passed.
    fn wait_until(&mut self, deadline: Instant) -> bool {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        if self.step < 8 {
            std::thread::yield_now();
        } else {
            let nap = Duration::from_micros(50u64 << (self.step - 8).min(4))
                .min(Duration::from_millis(1));
            std::thread::sleep(nap.min(deadline - now));
        }
        self.step += 1;
        true
    }
}
