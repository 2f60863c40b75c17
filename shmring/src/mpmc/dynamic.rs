//! mpmc rings whose payload type is known only at run time — a [`TypeLayout`] from a C field
//! table or a numpy dtype — for the language bindings. The ring is byte for byte the typed one
//! (`mpmc::Sender<Tick>` and a `DynReceiver` for `Tick::layout()` share it) and the layout
//! guard the same: a payload described with fields swapped is refused naming both layouts.

#[allow(unused_imports)]
use super::*;
use crate::TypeLayout;
use crate::dyn_payload::{self, Shape, check_len};
use crate::storage::Geometry;

/// The segment of a new ring for `layout`, or the existing one checked against it.
fn segment(
    location: Location,
    layout: &TypeLayout,
    create: Option<u64>,
) -> Result<(Arc<Segment>, Geometry), OpenError> {
    let shape = Shape::of(layout, &location)?;
    let geometry = Geometry::stamped_of(CONTROL_SIZE, shape.size, shape.align);
    let segment = match create {
        // As `create_options`: the smallest Vyukov ring has two slots.
        Some(capacity) => dyn_payload::create(
            RingKind::Mpmc,
            location,
            layout,
            capacity.max(2),
            geometry,
            |o| o,
        )?,
        None => dyn_payload::open(RingKind::Mpmc, location, layout, |_| geometry)?,
    };
    Ok((Arc::new(segment), geometry))
}

/// A sending end of an mpmc ring whose payload type is given at run time. `Clone` and `Sync`,
/// as [`Sender`].
///
/// ```
/// use shmring::ShmType;
/// use shmring::mpmc::{DynReceiver, DynSender};
/// let name = format!("shmring-doc-mpmcdyn-{}", std::process::id());
/// let tx = DynSender::create(name.as_str(), 8, u32::layout())?;
/// let rx = DynReceiver::open(name.as_str(), u32::layout())?;
/// tx.send(&7u32.to_ne_bytes()).unwrap();
/// let mut got = [0u8; 4];
/// rx.recv_into(&mut got).unwrap();
/// assert_eq!(u32::from_ne_bytes(got), 7);
/// // The typed handles share the ring; another type is refused.
/// assert!(shmring::mpmc::Receiver::<u32>::open(name.as_str()).is_ok());
/// let err = shmring::mpmc::Receiver::<i32>::open(name.as_str()).unwrap_err();
/// assert!(matches!(err, shmring::OpenError::IncompatibleLayout { .. }));
/// shmring::Segment::unlink_name(&name)?;
/// # Ok::<(), shmring::OpenError>(())
/// ```
#[derive(Clone, Debug)]
pub struct DynSender {
    tx: Sender<u8>,
    size: usize,
}

/// A receiving end of an mpmc ring whose payload type is given at run time. `Clone` and
/// `Sync`, as [`Receiver`].
///
/// ```
/// use shmring::ShmType;
/// let name = format!("shmring-doc-mpmcdynrx-{}", std::process::id());
/// let tx = shmring::mpmc::Sender::<u64>::create(name.as_str(), 8)?;
/// let rx = shmring::mpmc::DynReceiver::open(name.as_str(), u64::layout())?;
/// tx.send(9).unwrap();
/// let mut got = [0u8; 8];
/// rx.try_recv_into(&mut got).unwrap();
/// assert_eq!(u64::from_ne_bytes(got), 9);
/// shmring::Segment::unlink_name(&name)?;
/// # Ok::<(), shmring::OpenError>(())
/// ```
#[derive(Clone, Debug)]
pub struct DynReceiver {
    rx: Receiver<u8>,
    size: usize,
}

crate::dyn_payload::dyn_handle_methods!(DynSender.tx, "when the ring is full");
crate::dyn_payload::dyn_handle_methods!(DynReceiver.rx, "when the ring is empty", readiness);

impl DynSender {
    /// Creates the ring at `location` with room for `capacity` payloads laid out as `layout`
    /// (rounded up to a power of two, at least 2) and attaches as a sender.
    ///
    /// # Errors
    ///
    /// As [`Sender::create`], and `InvalidConfig` for a layout no slot can have.
    pub fn create(
        location: impl Into<Location>,
        capacity: u64,
        layout: TypeLayout,
    ) -> Result<DynSender, OpenError> {
        let (segment, geometry) = segment(location.into(), &layout, Some(capacity))?;
        DynSender::attach(segment, geometry, &layout)
    }

    /// Opens the ring at `location`, which must hold payloads laid out as `layout`, as one
    /// more sender.
    ///
    /// # Errors
    ///
    /// As [`Sender::open`]: `IncompatibleLayout` naming both layouts when the ring holds
    /// another type, `ParticipantsFull`.
    pub fn open(location: impl Into<Location>, layout: TypeLayout) -> Result<DynSender, OpenError> {
        let (segment, geometry) = segment(location.into(), &layout, None)?;
        DynSender::attach(segment, geometry, &layout)
    }

    fn attach(
        segment: Arc<Segment>,
        geometry: Geometry,
        layout: &TypeLayout,
    ) -> Result<DynSender, OpenError> {
        Ok(DynSender {
            tx: Sender::attach_laid_out(segment, geometry)?,
            size: layout.size() as usize,
        })
    }

    /// Sends one payload without waiting.
    ///
    /// # Errors
    ///
    /// As [`Sender::try_send_ref`].
    ///
    /// # Panics
    ///
    /// If `msg` is not [`payload_size`](DynSender::payload_size) bytes long.
    pub fn try_send(&self, msg: &[u8]) -> Result<(), TrySendError<()>> {
        check_len(msg.len(), self.size);
        self.tx.shared.try_send_ref::<true>(msg, false)
    }

    /// Sends one payload, waiting while the ring is full.
    ///
    /// # Errors
    ///
    /// As [`Sender::send_ref`].
    ///
    /// # Panics
    ///
    /// As [`try_send`](DynSender::try_send).
    pub fn send(&self, msg: &[u8]) -> Result<(), SendError<()>> {
        check_len(msg.len(), self.size);
        self.tx.send_ref_until(msg, None).map_err(without_timeout)
    }

    /// Sends one payload, waiting until `deadline` at most for room.
    ///
    /// # Errors
    ///
    /// As [`Sender::send_deadline`].
    ///
    /// # Panics
    ///
    /// As [`try_send`](DynSender::try_send).
    pub fn send_deadline(&self, msg: &[u8], deadline: Instant) -> Result<(), SendTimeoutError<()>> {
        check_len(msg.len(), self.size);
        self.tx.send_ref_until(msg, Some(deadline))
    }
}

impl DynReceiver {
    /// Creates the ring at `location` for `capacity` payloads laid out as `layout` and
    /// attaches as a receiver.
    ///
    /// # Errors
    ///
    /// As [`DynSender::create`].
    pub fn create(
        location: impl Into<Location>,
        capacity: u64,
        layout: TypeLayout,
    ) -> Result<DynReceiver, OpenError> {
        let (segment, geometry) = segment(location.into(), &layout, Some(capacity))?;
        DynReceiver::attach(segment, geometry, &layout)
    }

    /// Opens the ring at `location`, which must hold payloads laid out as `layout`, as one
    /// more receiver.
    ///
    /// # Errors
    ///
    /// As [`DynSender::open`].
    pub fn open(
        location: impl Into<Location>,
        layout: TypeLayout,
    ) -> Result<DynReceiver, OpenError> {
        let (segment, geometry) = segment(location.into(), &layout, None)?;
        DynReceiver::attach(segment, geometry, &layout)
    }

    fn attach(
        segment: Arc<Segment>,
        geometry: Geometry,
        layout: &TypeLayout,
    ) -> Result<DynReceiver, OpenError> {
        Ok(DynReceiver {
            rx: Receiver::attach_laid_out(segment, geometry)?,
            size: layout.size() as usize,
        })
    }

    /// Copies the next payload into `dst` without waiting.
    ///
    /// # Errors
    ///
    /// As [`Receiver::try_recv_into`].
    ///
    /// # Panics
    ///
    /// If `dst` is not [`payload_size`](DynReceiver::payload_size) bytes long.
    pub fn try_recv_into(&self, dst: &mut [u8]) -> Result<(), TryRecvError> {
        check_len(dst.len(), self.size);
        self.rx.shared.try_recv_into::<true>(dst, false)
    }

    /// Copies the next payload into `dst`, waiting for one.
    ///
    /// # Errors
    ///
    /// As [`Receiver::recv_into`].
    ///
    /// # Panics
    ///
    /// As [`try_recv_into`](DynReceiver::try_recv_into).
    pub fn recv_into(&self, dst: &mut [u8]) -> Result<(), RecvError> {
        check_len(dst.len(), self.size);
        self.rx
            .recv_into_until(dst, None)
            .map_err(recv_without_timeout)
    }

    /// Copies the next payload into `dst`, waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`Receiver::recv_into_deadline`].
    ///
    /// # Panics
    ///
    /// As [`try_recv_into`](DynReceiver::try_recv_into).
    pub fn recv_into_deadline(
        &self,
        dst: &mut [u8],
        deadline: Instant,
    ) -> Result<(), RecvTimeoutError> {
        check_len(dst.len(), self.size);
        self.rx.recv_into_until(dst, Some(deadline))
    }
}
