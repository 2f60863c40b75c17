//! One way to construct every ring handle: `Handle::options()` gives a [`RingOptions`] to set
//! the segment's permission bits, the handle's wait strategy and (many-producer framed rings)
//! a payload label, then `create`, `open` or `open_or_create`. `Handle::create(location,
//! capacity)` and `Handle::open(location)` are the same calls with the defaults.

use std::marker::PhantomData;
#[cfg(not(shmring_loom))]
use std::sync::Arc;

#[cfg(not(shmring_loom))]
use crate::{Location, OpenError, Segment, SegmentOptions};
use crate::{TypeLayout, WaitStrategy};

/// A new segment at `location` from a ring's segment options, with the permission bits asked
/// for: what a typed ring's `create_segment` is.
#[cfg(not(shmring_loom))]
pub(crate) fn create_with<H>(
    options: Result<SegmentOptions, OpenError>,
    location: Location,
    ring: &RingOptions<H>,
) -> Result<Segment, OpenError> {
    ring.segment(options?).create(location)
}

/// A ring's `channel`: both ends attached to `segment` (made on the process heap), the
/// receiver first.
#[cfg(not(shmring_loom))]
pub(crate) fn heap_channel<S, R>(
    segment: Result<Segment, OpenError>,
    attach_sender: impl FnOnce(Arc<Segment>) -> Result<S, OpenError>,
    attach_receiver: impl FnOnce(Arc<Segment>) -> Result<R, OpenError>,
) -> Result<(S, R), OpenError> {
    let segment = Arc::new(segment?);
    let rx = attach_receiver(segment.clone())?;
    Ok((attach_sender(segment)?, rx))
}

/// How a ring handle is made: the options shared by every ring, then `create(location,
/// capacity)`, `open(location)` or `open_or_create(location, capacity)` (written for each
/// handle type). Made by `options()` on the handle, e.g. `spsc::Sender::<u64>::options()`.
///
/// ```
/// use std::os::unix::fs::PermissionsExt;
/// let name = format!("shmring-doc-options-{}", std::process::id());
/// let tx = shmring::spsc::Sender::<u64>::options()
///     .mode(0o660)
///     .wait_strategy(shmring::WaitStrategy::BusyPoll)
///     .open_or_create(name.as_str(), 4096)?;
/// let meta = std::fs::metadata(format!("/dev/shm/{name}"))?;
/// assert_eq!(meta.permissions().mode() & 0o777, 0o660);
/// shmring::Segment::unlink_name(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RingOptions<H> {
    pub(crate) mode: u32,
    pub(crate) strategy: Option<WaitStrategy>,
    pub(crate) label: Option<TypeLayout>,
    /// Broadcast rings: the policy a created ring records.
    pub(crate) policy: crate::broadcast::Policy,
    /// Broadcast receivers: start at the oldest message held, not the next one.
    pub(crate) from_oldest: bool,
    /// A created ring's notifiers fence after every send (header flag).
    pub(crate) fence_every_send: bool,
    /// Event listeners: the realtime signal to be woken by.
    pub(crate) signal: Option<i32>,
    _handle: PhantomData<fn() -> H>,
}

impl<H> Clone for RingOptions<H> {
    fn clone(&self) -> Self {
        RingOptions {
            mode: self.mode,
            strategy: self.strategy,
            label: self.label.clone(),
            policy: self.policy,
            from_oldest: self.from_oldest,
            fence_every_send: self.fence_every_send,
            signal: self.signal,
            _handle: PhantomData,
        }
    }
}

impl<H> std::fmt::Debug for RingOptions<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingOptions")
            .field("handle", &std::any::type_name::<H>())
            .field("mode", &format_args!("{:#o}", self.mode))
            .field("strategy", &self.strategy)
            .field("label", &self.label)
            .field("policy", &self.policy)
            .field("from_oldest", &self.from_oldest)
            .field("fence_every_send", &self.fence_every_send)
            .field("signal", &self.signal)
            .finish()
    }
}

impl<H> RingOptions<H> {
    /// The defaults: mode `0o600` (owner only), the handle's default wait strategy, no label.
    pub(crate) fn new() -> Self {
        RingOptions {
            mode: crate::DEFAULT_MODE,
            strategy: None,
            label: None,
            policy: crate::broadcast::Policy::Lossless,
            from_oldest: false,
            fence_every_send: false,
            signal: None,
            _handle: PhantomData,
        }
    }

    /// The permission bits of a segment `create` makes (default `0o600`: the owner only;
    /// `0o660` lets the owner's group attach too), applied exactly, whatever the umask.
    /// Opening ignores it.
    ///
    /// ```
    /// let opts = shmring::mpmc::Sender::<u32>::options().mode(0o660);
    /// # let _ = opts;
    /// ```
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// How the handle waits when it must (see [`WaitStrategy`]); the same as calling
    /// `with_wait_strategy` on the handle made.
    ///
    /// ```
    /// let opts = shmring::framed::Receiver::options()
    ///     .wait_strategy(shmring::WaitStrategy::BusyPoll);
    /// # let _ = opts;
    /// ```
    pub fn wait_strategy(mut self, strategy: WaitStrategy) -> Self {
        self.strategy = Some(strategy);
        self
    }

    /// Makes a created ring wake its sleepers the other way: **every send pays a full fence**
    /// (a few ns alone, ~25 ns in a send loop whose store buffer is full) and a waiter going to
    /// sleep skips the `membarrier(GLOBAL_EXPEDITED)` it otherwise issues — a barrier that
    /// interrupts every core running a shmring process (5–11 µs of theirs in a VM, 1–2 µs on
    /// bare metal). Choose it for rings whose receivers sleep between most messages (a message
    /// every millisecond or so) on hosts with many cores running shmring processes; keep the
    /// default for streaming rings, whose receivers rarely sleep
    /// (docs/benchmarks.md, "The sleep path at scale", has the model and the crossover).
    ///
    /// Recorded in the ring's header (`flags` bit 2), so every process on the ring follows
    /// it whichever options it opened with; opening ignores this setting.
    ///
    /// ```
    /// let name = format!("shmring-doc-fence-{}", std::process::id());
    /// let tx = shmring::spsc::Sender::<u64>::options()
    ///     .fence_every_send()
    ///     .create(name.as_str(), 64)?;
    /// let rx = shmring::spsc::Receiver::<u64>::open(name.as_str())?;
    /// assert!(rx.segment().info().fence_every_send);
    /// # drop(tx);
    /// shmring::Segment::unlink_name(&name)?;
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn fence_every_send(mut self) -> Self {
        self.fence_every_send = true;
        self
    }

    /// `options` with what these options ask of a created segment: the permission bits and
    /// the fence flag.
    #[cfg(not(shmring_loom))]
    pub(crate) fn segment(&self, options: SegmentOptions) -> SegmentOptions {
        options
            .mode(self.mode)
            .fence_every_send(self.fence_every_send)
    }
}

/// Writes a handle's constructors once: `Handle::create(location, capacity)`,
/// `Handle::open(location)`, `Handle::options()`, and `create`/`open`/`open_or_create` on
/// [`RingOptions<Handle>`], from three functions of the ring, each given the options —
/// `create_segment(location, capacity, &options)` and `open_segment(location, &options)`
/// make the segment, `attach(segment, &options)` joins it as this handle. `example` names the handle in the examples,
/// `role` is what it attaches as, `opens` says what opening does for it.
macro_rules! ring_options {
    (
        impl[$($g:tt)*] $ty:ty;
        example: $example:literal,
        role: $role:literal,
        opens: $opens:literal,
        create_segment: $create:expr,
        open_segment: $open:expr,
        attach: $attach:expr
    ) => {
        #[cfg(not(shmring_loom))]
        impl<$($g)*> $ty {
            /// Creates a ring with room for at least `capacity` (messages for typed rings,
            /// bytes for framed rings; rounded up to a power of two) at `location` (a name
            #[doc = concat!("means `/dev/shm/NAME`) and attaches as ", $role, ".")]
            /// The same as `options().create(location, capacity)`.
            ///
            /// # Errors
            ///
            /// As [`SegmentOptions::create`](crate::SegmentOptions::create):
            /// [`OpenError::AlreadyExists`](crate::OpenError::AlreadyExists) when the name is
            /// taken, [`OpenError::InvalidConfig`](crate::OpenError::InvalidConfig) for a
            /// capacity out of range, and the rest.
            ///
            /// ```
            /// let name = format!("shmring-doc-create-{}-{}", std::process::id(), line!());
            #[doc = concat!("let h = shmring::", $example, "::create(name.as_str(), 100)?;")]
            /// assert_eq!(h.name(), name);
            /// shmring::Segment::unlink_name(&name)?;
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn create(
                location: impl Into<$crate::Location>,
                capacity: u64,
            ) -> Result<Self, $crate::OpenError> {
                Self::options().create(location, capacity)
            }

            #[doc = concat!("Opens the ring at `location` and attaches as ", $role, ". ", $opens)]
            /// The same as `options().open(location)`.
            ///
            /// # Errors
            ///
            /// As [`SegmentOptions::open`](crate::SegmentOptions::open):
            /// [`OpenError::NotFound`](crate::OpenError::NotFound), another kind or payload
            /// (`KindMismatch`, `IncompatibleLayout`), and the ring's own (`RoleTaken` while
            /// a live process holds a single role, `ParticipantsFull`, `Corrupted` for
            /// impossible positions).
            ///
            /// ```
            #[doc = concat!("let err = shmring::", $example, "::open(\"shmring-doc-nowhere\").unwrap_err();")]
            /// assert!(matches!(err, shmring::OpenError::NotFound { .. }));
            /// ```
            pub fn open(location: impl Into<$crate::Location>) -> Result<Self, $crate::OpenError> {
                Self::options().open(location)
            }

            /// The options to make this handle with (permission bits, wait strategy), then
            /// `create`, `open` or `open_or_create`.
            ///
            /// ```
            /// let name = format!("shmring-doc-opts-{}-{}", std::process::id(), line!());
            #[doc = concat!("let h = shmring::", $example, "::options().mode(0o640).create(name.as_str(), 64)?;")]
            /// shmring::Segment::unlink_name(&name)?;
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn options() -> $crate::RingOptions<Self> {
                $crate::RingOptions::new()
            }
        }

        #[cfg(not(shmring_loom))]
        impl<$($g)*> $crate::RingOptions<$ty> {
            /// Creates the ring at `location` with room for `capacity` (messages for typed
            /// rings, bytes for framed rings; rounded up to a power of two) and attaches.
            ///
            /// # Errors
            ///
            /// As the handle's `create`.
            ///
            /// ```
            /// let name = format!("shmring-doc-optcreate-{}-{}", std::process::id(), line!());
            #[doc = concat!("let h = shmring::", $example, "::options().create(name.as_str(), 64)?;")]
            /// assert_eq!(h.name(), name);
            /// shmring::Segment::unlink_name(&name)?;
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn create(
                &self,
                location: impl Into<$crate::Location>,
                capacity: u64,
            ) -> Result<$ty, $crate::OpenError> {
                let segment = $create(location.into(), capacity, self)?;
                self.finish($attach(std::sync::Arc::new(segment), self)?)
            }

            /// Opens the ring at `location` and attaches.
            ///
            /// # Errors
            ///
            /// As the handle's `open`.
            ///
            /// ```
            #[doc = concat!("let err = shmring::", $example, "::options().open(\"shmring-doc-nowhere\").unwrap_err();")]
            /// assert!(matches!(err, shmring::OpenError::NotFound { .. }));
            /// ```
            pub fn open(
                &self,
                location: impl Into<$crate::Location>,
            ) -> Result<$ty, $crate::OpenError> {
                let segment = $open(location.into(), self)?;
                self.finish($attach(std::sync::Arc::new(segment), self)?)
            }

            /// Opens the ring at `location` if it exists, else creates it (exactly one of
            /// several racing processes creates; docs/protocols.md, "open_or_create"). An
            /// existing ring of another kind or payload is an error, never overwritten.
            ///
            /// # Errors
            ///
            /// As [`create`](Self::create) and [`open`](Self::open).
            ///
            /// ```
            /// let name = format!("shmring-doc-optooc-{}-{}", std::process::id(), line!());
            #[doc = concat!("let h = shmring::", $example, "::options().open_or_create(name.as_str(), 64)?;")]
            /// assert_eq!(h.name(), name);
            /// shmring::Segment::unlink_name(&name)?;
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn open_or_create(
                &self,
                location: impl Into<$crate::Location>,
                capacity: u64,
            ) -> Result<$ty, $crate::OpenError> {
                $crate::segment::create_or_open(
                    location.into(),
                    |l| self.create(l, capacity),
                    |l| self.open(l),
                )
            }

            /// The handle made, with the wait strategy asked for.
            fn finish(&self, handle: $ty) -> Result<$ty, $crate::OpenError> {
                Ok(match self.strategy {
                    Some(strategy) => handle.with_wait_strategy(strategy),
                    None => handle,
                })
            }
        }
    };
}

pub(crate) use ring_options;
