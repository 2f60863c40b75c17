//! `SegmentOptions`: the creator and opener protocols (docs/protocols.md, "Creating and
//! opening a segment") — exclusive creation, reserving pages, writing and publishing the header,
//! waiting for a creator, validating what is found.

#[allow(unused_imports)]
use super::*;

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
    overwrite: bool,
    fence_every_send: bool,
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
            overwrite: false,
            fence_every_send: false,
        }
    }

    /// A broadcast ring's policy for slow receivers, recorded in the header's flags (see
    /// [`crate::header::FLAG_OVERWRITE`]).
    pub(crate) fn overwrite(mut self, overwrite: bool) -> SegmentOptions {
        self.overwrite = overwrite;
        self
    }

    /// Whether the ring's notifiers fence after every send instead of its sleepers issuing
    /// `membarrier`, recorded in the header's flags (see
    /// [`crate::header::FLAG_FENCE_EVERY_SEND`]; `RingOptions::fence_every_send`).
    pub(crate) fn fence_every_send(mut self, on: bool) -> SegmentOptions {
        self.fence_every_send = on;
        self
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
        create_or_open(location.into(), |l| self.create(l), |l| self.open(l))
    }

    /// The header a `create` with these options writes.
    pub(super) fn new_header(&self, name: &str) -> Result<HeaderInfo, OpenError> {
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
        info.overwrite = self.overwrite;
        info.fence_every_send = self.fence_every_send;
        Ok(info)
    }

    /// Waits while the file is empty (a creator between `shm_open` and reserving its pages).
    pub(super) fn wait_for_size(
        &self,
        file: &File,
        name: &str,
        deadline: Instant,
    ) -> Result<u64, OpenError> {
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
    pub(super) fn wait_for_header(
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

    pub(super) fn init_timeout_error(&self, name: &str, creator: Option<ProcessId>) -> OpenError {
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
    pub(super) fn check(&self, name: &str, info: &HeaderInfo) -> Result<(), OpenError> {
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

/// The open-or-create loop (docs/protocols.md, "open_or_create"), for segments and ring
/// handles alike: try to create; on `AlreadyExists` try to open; on `NotFound` (removed in
/// between) go round again, at most 16 times. A memfd can only be opened, a heap segment only
/// created.
pub(crate) fn create_or_open<R>(
    location: Location,
    create: impl Fn(Location) -> Result<R, OpenError>,
    open: impl Fn(Location) -> Result<R, OpenError>,
) -> Result<R, OpenError> {
    let Some(name) = location.reopenable() else {
        return match location {
            Location::Fd(_) => open(location),
            other => create(other),
        };
    };
    for _ in 0..OPEN_OR_CREATE_ATTEMPTS {
        match create(name.reopenable().expect("named location")) {
            Err(OpenError::AlreadyExists { .. }) => {}
            other => return other,
        }
        match open(name.reopenable().expect("named location")) {
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
