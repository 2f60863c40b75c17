//! spsc rings whose payload type is known only at run time — a [`TypeLayout`] built from a C
//! field table or a numpy dtype — for the language bindings. The ring is byte-for-byte the
//! typed one (`Sender<Tick>` and a `DynSender` for `Tick::layout()` share it), the layout guard
//! the same: the layout given is checked against the ring's header, so a payload described
//! with fields swapped is refused naming both layouts. Each message is one payload's bytes.

#[allow(unused_imports)]
use super::*;
use crate::TypeLayout;
use crate::dyn_payload::{self, Shape, check_len, whole_payloads};
use crate::storage::Geometry;

/// The segment of a new ring for `layout`, or the existing one checked against it.
fn segment(
    location: Location,
    layout: &TypeLayout,
    create: Option<u64>,
) -> Result<(Arc<Segment>, Geometry), OpenError> {
    let shape = Shape::of(layout, &location)?;
    let geometry = Geometry::packed_of(CONTROL_SIZE, shape.size, shape.align);
    let segment = match create {
        Some(capacity) => {
            dyn_payload::create(RingKind::Spsc, location, layout, capacity, geometry, |o| o)?
        }
        None => dyn_payload::open(RingKind::Spsc, location, layout, |_| geometry)?,
    };
    Ok((Arc::new(segment), geometry))
}

/// The sending end of an spsc ring whose payload type is given at run time.
///
/// ```
/// use shmring::ShmType;
/// use shmring::spsc::{DynReceiver, DynSender};
/// let name = format!("shmring-doc-dyn-{}", std::process::id());
/// let mut tx = DynSender::create(name.as_str(), 8, u32::layout())?;
/// let mut rx = DynReceiver::open(name.as_str(), u32::layout())?;
/// tx.send(&7u32.to_ne_bytes()).unwrap();
/// let mut got = [0u8; 4];
/// rx.recv_into(&mut got).unwrap();
/// assert_eq!(u32::from_ne_bytes(got), 7);
/// // The typed handles share the ring.
/// let err = shmring::spsc::Receiver::<u8>::open(name.as_str()).unwrap_err();
/// assert!(matches!(err, shmring::OpenError::IncompatibleLayout { .. }));
/// shmring::Segment::unlink_name(&name)?;
/// # Ok::<(), shmring::OpenError>(())
/// ```
#[derive(Debug)]
pub struct DynSender {
    tx: Sender<u8>,
    size: usize,
}

/// The receiving end of an spsc ring whose payload type is given at run time.
///
/// ```
/// use shmring::ShmType;
/// let name = format!("shmring-doc-dynrx-{}", std::process::id());
/// let mut tx = shmring::spsc::Sender::<u64>::create(name.as_str(), 8)?;
/// let mut rx = shmring::spsc::DynReceiver::open(name.as_str(), u64::layout())?;
/// tx.send(9).unwrap();
/// let mut got = [0u8; 8];
/// rx.try_recv_into(&mut got).unwrap();
/// assert_eq!(u64::from_ne_bytes(got), 9);
/// shmring::Segment::unlink_name(&name)?;
/// # Ok::<(), shmring::OpenError>(())
/// ```
#[derive(Debug)]
pub struct DynReceiver {
    rx: Receiver<u8>,
    size: usize,
}

crate::dyn_payload::dyn_handle_methods!(DynSender.tx, "when the ring is full");
crate::dyn_payload::dyn_handle_methods!(DynReceiver.rx, "when the ring is empty", readiness);

impl DynSender {
    /// Creates the ring at `location` with room for `capacity` payloads laid out as `layout`
    /// (rounded up to a power of two) and attaches as its sender.
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

    /// Opens the ring at `location`, which must hold payloads laid out as `layout`, as its
    /// sender.
    ///
    /// # Errors
    ///
    /// As [`Sender::open`]: `IncompatibleLayout` naming both layouts when the ring holds
    /// another type.
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
    pub fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError<()>> {
        check_len(msg.len(), self.size);
        self.tx.push_payload(msg, false)
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
    pub fn send(&mut self, msg: &[u8]) -> Result<(), SendError<()>> {
        self.send_until(msg, None).map_err(without_timeout)
    }

    /// Sends one payload, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// As [`Sender::send_timeout`].
    ///
    /// # Panics
    ///
    /// As [`try_send`](DynSender::try_send).
    pub fn send_timeout(
        &mut self,
        msg: &[u8],
        timeout: Duration,
    ) -> Result<(), SendTimeoutError<()>> {
        self.send_until(msg, Instant::now().checked_add(timeout))
    }

    /// Sends the payloads of `msgs` (whole payloads back to back) in order, as many at a time
    /// as there is room for — one publication per batch, not per payload — waiting for room
    /// until `deadline`: how many were sent (all of them unless the deadline came first).
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError::Disconnected`] or `Corrupted` (never `Timeout`: a deadline ends
    /// the call with the count so far).
    ///
    /// # Panics
    ///
    /// If `msgs` is not a whole number of payloads.
    ///
    /// ```
    /// use shmring::ShmType;
    /// let name = format!("shmring-doc-dynmany-{}", std::process::id());
    /// let mut tx = shmring::spsc::DynSender::create(name.as_str(), 4, u16::layout())?;
    /// let later = std::time::Instant::now() + std::time::Duration::from_millis(10);
    /// // Room for four of the five: the fifth waits until the deadline.
    /// assert_eq!(tx.send_many_deadline(&[0u8; 10], later), Ok(4));
    /// shmring::Segment::unlink_name(&name)?;
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn send_many_deadline(
        &mut self,
        msgs: &[u8],
        deadline: Instant,
    ) -> Result<usize, SendTimeoutError<()>> {
        let size = self.size;
        let total = whole_payloads(msgs.len(), size);
        let mut sent = 0;
        while sent < total {
            let rest = &msgs[sent * size..];
            match self.tx.push_payloads(rest, size, false) {
                Ok(n) => sent += n,
                Err(TrySendError::Full(())) => {
                    let mut batch = 0;
                    let waited = self.tx.wait_space(Some(deadline), |tx, force| {
                        tx.push_payloads(rest, size, force).map(|n| batch = n)
                    });
                    match waited {
                        Ok(()) => sent += batch,
                        Err(SendTimeoutError::Timeout(())) => return Ok(sent),
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(try_to_timeout(e)),
            }
        }
        Ok(sent)
    }

    fn send_until(
        &mut self,
        msg: &[u8],
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<()>> {
        check_len(msg.len(), self.size);
        match self.tx.push_payload(msg, false) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(())) => self
                .tx
                .wait_space(deadline, |tx, force| tx.push_payload(msg, force)),
            Err(e) => Err(try_to_timeout(e)),
        }
    }
}

impl DynReceiver {
    /// Creates the ring at `location` for `capacity` payloads laid out as `layout` and attaches
    /// as its receiver.
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

    /// Opens the ring at `location`, which must hold payloads laid out as `layout`, as its
    /// receiver.
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
    pub fn try_recv_into(&mut self, dst: &mut [u8]) -> Result<(), TryRecvError> {
        check_len(dst.len(), self.size);
        self.rx.pop_payload(dst, false)
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
    pub fn recv_into(&mut self, dst: &mut [u8]) -> Result<(), RecvError> {
        self.recv_until(dst, None).map_err(recv_without_timeout)
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
        &mut self,
        dst: &mut [u8],
        deadline: Instant,
    ) -> Result<(), RecvTimeoutError> {
        self.recv_until(dst, Some(deadline))
    }

    /// Copies as many published payloads as fit into `dst` (whole payloads back to back) without
    /// waiting, handing their slots back with one publication: how many.
    ///
    /// # Errors
    ///
    /// As [`try_recv_into`](DynReceiver::try_recv_into): `Empty` when none is there.
    ///
    /// # Panics
    ///
    /// If `dst` is not a whole number of payloads.
    ///
    /// ```
    /// use shmring::ShmType;
    /// let name = format!("shmring-doc-dynrxmany-{}", std::process::id());
    /// let mut tx = shmring::spsc::Sender::<u16>::create(name.as_str(), 8)?;
    /// let mut rx = shmring::spsc::DynReceiver::open(name.as_str(), u16::layout())?;
    /// for v in 0..3u16 { tx.send(v).unwrap(); }
    /// let mut buf = [0u8; 8];
    /// assert_eq!(rx.try_recv_many(&mut buf), Ok(3));
    /// assert_eq!(&buf[..6], &[0, 0, 1, 0, 2, 0]);
    /// shmring::Segment::unlink_name(&name)?;
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn try_recv_many(&mut self, dst: &mut [u8]) -> Result<usize, TryRecvError> {
        let size = self.size;
        whole_payloads(dst.len(), size);
        self.rx.pop_payloads(dst, size, false)
    }

    fn recv_until(
        &mut self,
        dst: &mut [u8],
        deadline: Option<Instant>,
    ) -> Result<(), RecvTimeoutError> {
        check_len(dst.len(), self.size);
        match self.rx.poll_quickly(|rx| rx.pop_payload(dst, false)) {
            Ok(()) => Ok(()),
            Err(TryRecvError::Empty) => self
                .rx
                .wait_data(deadline, |rx, force| rx.pop_payload(dst, force)),
            Err(e) => Err(RecvTimeoutError::from(e)),
        }
    }
}

impl Sender<u8> {
    /// One attempt: publish `bytes`, one whole payload of the ring's run-time type.
    fn push_payload(&mut self, bytes: &[u8], force: bool) -> Result<(), TrySendError<()>> {
        self.reserve(force)?;
        // SAFETY: `reserve` found the slot at `tail` free, this sender's until `publish`;
        // `bytes` is one payload (its length checked against the slot's by the caller).
        unsafe { self.end.area.write_payload(self.tail, bytes) };
        self.publish(self.tail + 1);
        Ok(())
    }

    /// One attempt: publish as many whole payloads of `msgs` (`size` bytes each) as there are
    /// free slots — at least one, or an error — with one publication.
    fn push_payloads(
        &mut self,
        msgs: &[u8],
        size: usize,
        force: bool,
    ) -> Result<usize, TrySendError<()>> {
        self.reserve(force)?;
        // `reserve` validated the head it holds: the slots from `tail` up to `head +
        // capacity` are free.
        let free = (self.end.area.capacity() - (self.tail - self.head)) as usize;
        let n = free.min(msgs.len() / size);
        for (i, msg) in msgs.chunks_exact(size).take(n).enumerate() {
            // SAFETY: slot `tail + i` is free (above) and this sender's until `publish`; `msg`
            // is one payload.
            unsafe { self.end.area.write_payload(self.tail + i as u64, msg) };
        }
        self.publish(self.tail + n as u64);
        Ok(n)
    }
}

impl Receiver<u8> {
    /// One attempt: copy as many published payloads as fit in `dst` (`size` bytes each) — at
    /// least one, or an error — and hand their slots back with one publication.
    fn pop_payloads(
        &mut self,
        dst: &mut [u8],
        size: usize,
        force: bool,
    ) -> Result<usize, TryRecvError> {
        self.ready(force)?;
        let want = (dst.len() / size) as u64;
        if self.tail - self.head < want && !self.refresh_tail() {
            return Err(TryRecvError::Corrupted);
        }
        // `ready` and `refresh_tail` validated the tail: head < tail <= head + capacity.
        let n = (self.tail - self.head).min(want) as usize;
        for (i, slot) in dst.chunks_exact_mut(size).take(n).enumerate() {
            // SAFETY: slot `head + i` is published (below the validated tail) and not rewritten
            // until `release`; `slot` is one payload long.
            unsafe { self.end.area.read_payload(self.head + i as u64, slot) };
        }
        self.release(self.head + n as u64);
        Ok(n)
    }

    /// One attempt: copy the next payload into `dst` if one is published.
    fn pop_payload(&mut self, dst: &mut [u8], force: bool) -> Result<(), TryRecvError> {
        self.ready(force)?;
        // SAFETY: `ready` found head < tail (validated): the slot at `head` is published and
        // not rewritten until `release`; `dst` is one payload long (checked by the caller).
        unsafe { self.end.area.read_payload(self.head, dst) };
        self.release(self.head + 1);
        Ok(())
    }
}
