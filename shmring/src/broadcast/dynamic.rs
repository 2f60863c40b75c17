//! Broadcast rings whose payload type is known only at run time — a [`TypeLayout`] from a C
//! field table or a numpy dtype — for the language bindings. The ring is byte for byte the
//! typed one (a `broadcast::Sender<Tick>` feeds `DynReceiver`s for `Tick::layout()`), with the
//! same layout guard, policies and lag reports.

#[allow(unused_imports)]
use super::*;
use crate::dyn_payload::{self, Shape, check_len};
use crate::error::without_timeout as send_without_timeout;
use crate::{SendError, SendTimeoutError, TrySendError, TypeLayout};

/// The segment of a new ring for `layout`, or the existing one checked against it, and the
/// slot geometry its policy gives.
fn segment(
    location: Location,
    layout: &TypeLayout,
    create: Option<(u64, Policy)>,
) -> Result<(Arc<Segment>, Geometry), OpenError> {
    let shape = Shape::of(layout, &location)?;
    let geometry = |overwrite| slot_geometry_of(overwrite, shape.size, shape.align);
    let segment = match create {
        Some((capacity, policy)) => {
            let overwrite = policy == Policy::Overwrite;
            dyn_payload::create(
                RingKind::Broadcast,
                location,
                layout,
                capacity.max(2),
                geometry(overwrite),
                |o| o.overwrite(overwrite),
            )?
        }
        None => dyn_payload::open(RingKind::Broadcast, location, layout, |info| {
            geometry(info.overwrite)
        })?,
    };
    let geometry = geometry(segment.info().overwrite);
    Ok((Arc::new(segment), geometry))
}

/// The writer of a broadcast ring whose payload type is given at run time.
///
/// ```
/// use shmring::ShmType;
/// use shmring::broadcast::{DynReceiver, DynSender, Policy};
/// let name = format!("shmring-doc-bcdyn-{}", std::process::id());
/// let mut tx = DynSender::create(name.as_str(), 8, u32::layout(), Policy::Lossless)?;
/// let mut a = DynReceiver::open(name.as_str(), u32::layout())?;
/// let mut b = shmring::broadcast::Receiver::<u32>::open(name.as_str())?; // typed, same ring
/// tx.send(&7u32.to_ne_bytes()).unwrap();
/// let mut got = [0u8; 4];
/// a.recv_into(&mut got).unwrap();
/// assert_eq!((u32::from_ne_bytes(got), b.recv()), (7, Ok(7)));
/// shmring::Segment::unlink_name(&name)?;
/// # Ok::<(), shmring::OpenError>(())
/// ```
#[derive(Debug)]
pub struct DynSender {
    tx: Sender<u8>,
    size: usize,
}

/// A receiver of a broadcast ring whose payload type is given at run time.
///
/// ```
/// use shmring::ShmType;
/// let name = format!("shmring-doc-bcdynrx-{}", std::process::id());
/// let mut tx = shmring::broadcast::Sender::<u64>::create(name.as_str(), 8)?;
/// let mut rx = shmring::broadcast::DynReceiver::open(name.as_str(), u64::layout())?;
/// tx.send(9).unwrap();
/// let mut got = [0u8; 8];
/// rx.try_recv_into(&mut got).unwrap();
/// assert_eq!(u64::from_ne_bytes(got), 9);
/// // Another layout is refused, naming both.
/// let err = shmring::broadcast::DynReceiver::open(name.as_str(), i64::layout()).unwrap_err();
/// assert!(err.to_string().contains("u64") && err.to_string().contains("i64"));
/// shmring::Segment::unlink_name(&name)?;
/// # Ok::<(), shmring::OpenError>(())
/// ```
#[derive(Debug)]
pub struct DynReceiver {
    rx: Receiver<u8>,
    size: usize,
}

crate::dyn_payload::dyn_handle_methods!(DynSender.tx, "when a lossless ring is full");
crate::dyn_payload::dyn_handle_methods!(DynReceiver.rx, "when there is nothing new", readiness);

impl DynSender {
    /// Creates the ring at `location` with room for `capacity` payloads laid out as `layout`
    /// (rounded up to a power of two, at least 2) under `policy`, and attaches as its writer.
    ///
    /// # Errors
    ///
    /// As [`Sender::create`], and `InvalidConfig` for a layout no slot can have.
    pub fn create(
        location: impl Into<Location>,
        capacity: u64,
        layout: TypeLayout,
        policy: Policy,
    ) -> Result<DynSender, OpenError> {
        let (segment, geometry) = segment(location.into(), &layout, Some((capacity, policy)))?;
        DynSender::attach(segment, geometry, &layout)
    }

    /// Opens the ring at `location`, which must hold payloads laid out as `layout`, as its
    /// writer (taking over from one whose process died).
    ///
    /// # Errors
    ///
    /// As [`Sender::open`]: `IncompatibleLayout` naming both layouts, `RoleTaken` while
    /// another writer lives.
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

    /// The ring's policy.
    pub fn policy(&self) -> Policy {
        self.tx.policy()
    }

    /// Receivers attached now and not proven dead.
    pub fn receiver_count(&self) -> usize {
        self.tx.receiver_count()
    }

    /// One more receiver of this ring in this process, at the next message.
    ///
    /// # Errors
    ///
    /// [`OpenError::ParticipantsFull`].
    pub fn subscribe(&self) -> Result<DynReceiver, OpenError> {
        Ok(DynReceiver {
            rx: self.tx.subscribe()?,
            size: self.size,
        })
    }

    /// Sends one payload without waiting.
    ///
    /// # Errors
    ///
    /// As [`Sender::try_send`]: `Full` when a lossless ring's slowest receiver is a ring
    /// behind.
    ///
    /// # Panics
    ///
    /// If `msg` is not [`payload_size`](DynSender::payload_size) bytes long.
    pub fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError<()>> {
        check_len(msg.len(), self.size);
        self.tx.push(msg, false)
    }

    /// Sends one payload, waiting (lossless rings) while the slowest receiver is a ring
    /// behind.
    ///
    /// # Errors
    ///
    /// As [`Sender::send`].
    ///
    /// # Panics
    ///
    /// As [`try_send`](DynSender::try_send).
    pub fn send(&mut self, msg: &[u8]) -> Result<(), SendError<()>> {
        check_len(msg.len(), self.size);
        self.tx.send_until(msg, None).map_err(send_without_timeout)
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
    pub fn send_deadline(
        &mut self,
        msg: &[u8],
        deadline: Instant,
    ) -> Result<(), SendTimeoutError<()>> {
        check_len(msg.len(), self.size);
        self.tx.send_until(msg, Some(deadline))
    }
}

impl DynReceiver {
    /// Opens the ring at `location`, which must hold payloads laid out as `layout`, as one
    /// more receiver starting at the next message.
    ///
    /// # Errors
    ///
    /// As [`Receiver::open`]: `IncompatibleLayout` naming both layouts, `ParticipantsFull`.
    pub fn open(
        location: impl Into<Location>,
        layout: TypeLayout,
    ) -> Result<DynReceiver, OpenError> {
        DynReceiver::open_at(location.into(), layout, false)
    }

    /// As [`open`](DynReceiver::open), starting at the oldest message the ring still holds
    /// (up to `capacity − 1` messages of history).
    ///
    /// # Errors
    ///
    /// As [`open`](DynReceiver::open).
    pub fn open_from_oldest(
        location: impl Into<Location>,
        layout: TypeLayout,
    ) -> Result<DynReceiver, OpenError> {
        DynReceiver::open_at(location.into(), layout, true)
    }

    fn open_at(
        location: Location,
        layout: TypeLayout,
        from_oldest: bool,
    ) -> Result<DynReceiver, OpenError> {
        let (segment, geometry) = segment(location, &layout, None)?;
        Ok(DynReceiver {
            rx: Receiver::attach_laid_out(segment, from_oldest, geometry)?,
            size: layout.size() as usize,
        })
    }

    /// The ring's policy.
    pub fn policy(&self) -> Policy {
        self.rx.policy()
    }

    /// Copies the next message into `dst` without waiting.
    ///
    /// # Errors
    ///
    /// As [`Receiver::try_recv_into`]: `Lagged(n)` when the writer overtook this receiver
    /// (it goes on from the oldest message held).
    ///
    /// # Panics
    ///
    /// If `dst` is not [`payload_size`](DynReceiver::payload_size) bytes long.
    pub fn try_recv_into(&mut self, dst: &mut [u8]) -> Result<(), TryRecvError> {
        check_len(dst.len(), self.size);
        self.rx.pop(dst, false)
    }

    /// Copies the next message into `dst`, waiting for one.
    ///
    /// # Errors
    ///
    /// As [`Receiver::recv_into`].
    ///
    /// # Panics
    ///
    /// As [`try_recv_into`](DynReceiver::try_recv_into).
    pub fn recv_into(&mut self, dst: &mut [u8]) -> Result<(), RecvError> {
        check_len(dst.len(), self.size);
        self.rx
            .recv_into_until(dst, None)
            .map_err(error::without_timeout)
    }

    /// Copies the next message into `dst`, waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`Receiver::recv_into_deadline`].
    ///
    /// # Panics
    ///
    /// As [`try_recv_into`](DynReceiver::try_recv_into).
    pub fn recv_into_deadline(
        &mut self,
        dst: &mut [u8],
        deadline: Instant,
    ) -> Result<(), RecvTimeoutError> {
        check_len(dst.len(), self.size);
        self.rx.recv_into_until(dst, Some(deadline))
    }
}
