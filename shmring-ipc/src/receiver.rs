//! The receiving half of a one-way channel, over every transport.

#[allow(unused_imports)]
use super::*;

/// The receiving side, bound to an endpoint.
#[derive(Debug)]
pub struct Receiver {
    pub(crate) inner: ReceiverInner,
    pub(crate) endpoint: Endpoint,
    /// The descriptor registered with the tokio reactor, once an async call needed it.
    #[cfg(feature = "tokio")]
    pub(crate) registered: asyncio::Registered,
}

#[derive(Debug)]
pub(super) enum ReceiverInner {
    Shm(mpsc::Receiver),
    Stream(StreamReceiver),
    Mq(mq::MqReceiver),
    Sysv(crate::sysv::SysvReceiver),
    Auto(Box<auto::AutoReceiver>),
    #[cfg(feature = "zenoh")]
    Zenoh(Box<crate::zenoh_link::ZenohReceiver>),
}

/// One receive from a framed ring, in the shape of the stream receivers.
pub(super) fn ring_recv(
    rx: &mut mpsc::Receiver,
    buf: &mut Vec<u8>,
    wait: bool,
    deadline: Option<Instant>,
) -> Result<(), RecvTimeoutError> {
    let r = match (wait, deadline) {
        (false, _) => rx.try_recv_into(buf).map_err(RecvTimeoutError::from),
        (true, Some(d)) => rx.recv_into_deadline(buf, d),
        (true, None) => rx.recv_into(buf).map_err(|e| match e {
            RecvError::Disconnected => RecvTimeoutError::Disconnected,
            RecvError::Corrupted => RecvTimeoutError::Corrupted,
        }),
    };
    r.map(|_| ())
}

impl Receiver {
    /// Binds `endpoint` and receives from every sender that connects. `shm:` creates the
    /// ring (or takes it over from a dead receiver); `uds:` replaces a socket file nobody
    /// listens on; `fifo:` creates the FIFO (or reuses one); `mq:` and `sysv:` create the
    /// queue, replacing one a dead shmring receiver left.
    ///
    /// # Errors
    ///
    /// [`ConnectError::BadEndpoint`], `InUse` (a live receiver is bound there), `Open` (the
    /// ring: for example `RoleTaken`), `PeerRefused` (`mq:`/`sysv:`: a queue of that name or
    /// key that another program made, left untouched), `Limit`, `Io`.
    ///
    /// ```
    /// let name = format!("shm:shmring-ipc-doc-bind-{}", std::process::id());
    /// let rx = shmring_ipc::Receiver::bind(&name)?;
    /// assert!(rx.max_message() > 0);
    /// # drop(rx); shmring::Segment::unlink_name(&name[4..]).unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn bind(endpoint: &str) -> Result<Receiver, ConnectError> {
        Receiver::bind_with(endpoint, &Options::default())
    }

    /// [`bind`](Receiver::bind) with explicit [`Options`].
    ///
    /// # Errors
    ///
    /// As [`bind`](Receiver::bind).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("shmring-ipc-doc-bw-{}.sock", std::process::id()));
    /// let options = shmring_ipc::Options::default().max_message(64);
    /// let rx = shmring_ipc::Receiver::bind_with(&format!("uds:{}", path.display()), &options)?;
    /// assert_eq!(rx.max_message(), 64);
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn bind_with(endpoint: &str, options: &Options) -> Result<Receiver, ConnectError> {
        Receiver::open(endpoint, options, Expect::default())
    }

    /// Binds as a receiver of messages of the payload type `layout` — a type this process
    /// may know only as a [`TypeLayout::recorded`] (a bridge passing a typed channel on):
    /// senders are checked as for a [`typed::Receiver`](crate::typed::Receiver).
    ///
    /// # Errors
    ///
    /// As [`bind`](Receiver::bind), plus [`ConnectError::IncompatibleLayout`] naming both
    /// types when a `shm:` ring holds another.
    ///
    /// ```
    /// use shmring_ipc::{Options, Receiver, ShmType};
    /// let name = format!("shmring-ipc-doc-bindas-{}", std::process::id());
    /// let mut rx = Receiver::bind_as(&format!("shm:{name}"), &Options::default(), &u64::layout())?;
    /// assert_eq!(rx.peer_layout(), Some(shmring::TypeLayout::recorded(
    ///     &u64::layout().to_string(), u64::layout().fingerprint()).unwrap()));
    /// # drop(rx);
    /// # shmring::Segment::unlink_name(&name).ok();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn bind_as(
        endpoint: &str,
        options: &Options,
        layout: &TypeLayout,
    ) -> Result<Receiver, ConnectError> {
        Receiver::open(endpoint, options, Expect::of_layout(layout))
    }

    /// Binds, expecting senders of the payload type in `expect`.
    pub(crate) fn open(
        endpoint: &str,
        options: &Options,
        expect: Expect,
    ) -> Result<Receiver, ConnectError> {
        let mut endpoint = Endpoint::parse(endpoint)?;
        let inner = match &endpoint {
            Endpoint::Shm(name) => {
                let capacity = options.shm_capacity;
                let mut ring = mpsc::Receiver::options().mode(options.mode);
                if let Some(layout) = &expect.layout {
                    ring = ring.label(layout.clone());
                }
                let rx = ring.open_or_create(name.as_str(), capacity);
                ReceiverInner::Shm(rx?)
            }
            Endpoint::Uds(path) => {
                ReceiverInner::Stream(transport::bind_uds(&endpoint, path, options, expect)?)
            }
            Endpoint::Tcp(addr) => {
                let (rx, local) = transport::bind_tcp(&endpoint, addr, options, expect)?;
                endpoint = Endpoint::Tcp(local.to_string());
                ReceiverInner::Stream(rx)
            }
            Endpoint::Fifo(path) => {
                ReceiverInner::Stream(transport::bind_fifo(&endpoint, path, options, expect)?)
            }
            Endpoint::Mq(_) | Endpoint::Sysv(_) => kernel_queue(&endpoint, options, expect)?,
            Endpoint::Pipe => ReceiverInner::Stream(pipe::bind_inherited(options)?),
            Endpoint::Auto(_) if expect.fingerprint != 0 => return Err(typed_auto(&endpoint)),
            Endpoint::Auto(name) => {
                ReceiverInner::Auto(Box::new(auto::bind(&endpoint, name, options)?))
            }
            #[cfg(feature = "zenoh")]
            Endpoint::Zenoh(key) => zenoh(&endpoint, key, options, &expect)?,
            #[cfg(not(feature = "zenoh"))]
            Endpoint::Zenoh(_) => return Err(crate::no_zenoh(&endpoint)),
        };
        Ok(Receiver::from_parts(inner, endpoint))
    }

    pub(crate) fn from_parts(inner: ReceiverInner, endpoint: Endpoint) -> Receiver {
        Receiver {
            inner,
            endpoint,
            #[cfg(feature = "tokio")]
            registered: None,
        }
    }

    /// The endpoint this receiver is bound to (for `tcp:` with port 0, the port chosen).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("shmring-ipc-doc-ep-{}.sock", std::process::id()));
    /// let endpoint = format!("uds:{}", path.display());
    /// let rx = shmring_ipc::Receiver::bind(&endpoint)?;
    /// assert_eq!(rx.endpoint().to_string(), endpoint);
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The largest message this receiver accepts.
    ///
    /// ```
    /// let name = format!("shm:shmring-ipc-doc-max-{}", std::process::id());
    /// let options = shmring_ipc::Options::default().shm_capacity(4096);
    /// let rx = shmring_ipc::Receiver::bind_with(&name, &options)?;
    /// assert_eq!(rx.max_message(), 2040);
    /// # drop(rx); shmring::Segment::unlink_name(&name[4..]).unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn max_message(&self) -> usize {
        match &self.inner {
            ReceiverInner::Shm(rx) => rx.max_message(),
            ReceiverInner::Auto(rx) => rx.ring.max_message(),
            ReceiverInner::Stream(rx) => rx.max() as usize,
            ReceiverInner::Mq(rx) => rx.max(),
            ReceiverInner::Sysv(rx) => rx.max(),
            #[cfg(feature = "zenoh")]
            ReceiverInner::Zenoh(rx) => rx.max(),
        }
    }

    /// Why the last connection that broke the protocol was closed (after a receive returned
    /// `Corrupted`).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("shmring-ipc-doc-pe-{}.sock", std::process::id()));
    /// let rx = shmring_ipc::Receiver::bind(&format!("uds:{}", path.display()))?;
    /// assert!(rx.protocol_error().is_none());
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn protocol_error(&self) -> Option<&codec::FrameError> {
        match &self.inner {
            ReceiverInner::Shm(_) | ReceiverInner::Auto(_) => None,
            #[cfg(feature = "zenoh")]
            ReceiverInner::Zenoh(_) => None,
            ReceiverInner::Stream(rx) => rx.error.as_ref(),
            ReceiverInner::Mq(rx) => rx.senders.error.as_ref(),
            ReceiverInner::Sysv(rx) => rx.senders.error.as_ref(),
        }
    }

    /// Receives the next message, waiting as long as there is none.
    ///
    /// # Errors
    ///
    /// [`RecvError::Disconnected`] (every sender gone, everything received), `Corrupted` (a
    /// corrupted ring, or a sender that broke the protocol: its connection is closed).
    ///
    /// ```no_run
    /// let mut rx = shmring_ipc::Receiver::bind("shm:feed")?;
    /// while let Ok(msg) = rx.recv() { println!("{} bytes", msg.len()); }
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn recv(&mut self) -> Result<Vec<u8>, RecvError> {
        let mut buf = Vec::new();
        self.recv_into(&mut buf).map(|()| buf)
    }

    /// Receives the next message into `buf` (cleared first; its allocation is reused).
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv).
    ///
    /// ```no_run
    /// let mut rx = shmring_ipc::Receiver::bind("uds:/run/app.sock")?;
    /// let mut buf = Vec::with_capacity(4096);
    /// rx.recv_into(&mut buf).unwrap();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), RecvError> {
        match self.recv_until(buf, true, None) {
            Ok(()) => Ok(()),
            Err(RecvTimeoutError::Disconnected) => Err(RecvError::Disconnected),
            Err(_) => Err(RecvError::Corrupted),
        }
    }

    /// Receives a message if one is there now.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`], `Disconnected`, `Corrupted`.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("shmring-ipc-doc-try-{}.sock", std::process::id()));
    /// let mut rx = shmring_ipc::Receiver::bind(&format!("uds:{}", path.display()))?;
    /// assert_eq!(rx.try_recv(), Err(shmring_ipc::TryRecvError::Empty));
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn try_recv(&mut self) -> Result<Vec<u8>, TryRecvError> {
        let mut buf = Vec::new();
        self.try_recv_into(&mut buf).map(|()| buf)
    }

    /// [`try_recv`](Receiver::try_recv) into a reused buffer.
    ///
    /// # Errors
    ///
    /// As [`try_recv`](Receiver::try_recv).
    ///
    /// ```no_run
    /// let mut rx = shmring_ipc::Receiver::bind("shm:feed")?;
    /// let mut buf = Vec::new();
    /// let _ = rx.try_recv_into(&mut buf);
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), TryRecvError> {
        match self.recv_until(buf, false, None) {
            Ok(()) => Ok(()),
            Err(RecvTimeoutError::Timeout) => Err(TryRecvError::Empty),
            Err(RecvTimeoutError::Disconnected) => Err(TryRecvError::Disconnected),
            Err(RecvTimeoutError::Corrupted) => Err(TryRecvError::Corrupted),
        }
    }

    /// Receives, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`], `Disconnected`, `Corrupted`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let path = std::env::temp_dir().join(format!("shmring-ipc-doc-rt-{}.sock", std::process::id()));
    /// let mut rx = shmring_ipc::Receiver::bind(&format!("uds:{}", path.display()))?;
    /// assert_eq!(rx.recv_timeout(Duration::from_millis(5)), Err(shmring_ipc::RecvTimeoutError::Timeout));
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Vec<u8>, RecvTimeoutError> {
        let mut buf = Vec::new();
        let deadline = Instant::now().checked_add(timeout);
        self.recv_until(&mut buf, true, deadline).map(|()| buf)
    }

    /// Receives, waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`recv_timeout`](Receiver::recv_timeout).
    ///
    /// ```no_run
    /// use std::time::{Duration, Instant};
    /// let mut rx = shmring_ipc::Receiver::bind("shm:feed")?;
    /// let _ = rx.recv_deadline(Instant::now() + Duration::from_secs(1));
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn recv_deadline(&mut self, deadline: Instant) -> Result<Vec<u8>, RecvTimeoutError> {
        let mut buf = Vec::new();
        self.recv_until(&mut buf, true, Some(deadline))
            .map(|()| buf)
    }

    /// [`recv_deadline`](Receiver::recv_deadline) into a reused buffer.
    ///
    /// # Errors
    ///
    /// As [`recv_timeout`](Receiver::recv_timeout).
    ///
    /// ```no_run
    /// use std::time::{Duration, Instant};
    /// let mut rx = shmring_ipc::Receiver::bind("shm:feed")?;
    /// let mut buf = Vec::new();
    /// let _ = rx.recv_into_deadline(&mut buf, Instant::now() + Duration::from_secs(1));
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn recv_into_deadline(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: Instant,
    ) -> Result<(), RecvTimeoutError> {
        self.recv_until(buf, true, Some(deadline))
    }

    pub(super) fn recv_until(
        &mut self,
        buf: &mut Vec<u8>,
        wait: bool,
        deadline: Option<Instant>,
    ) -> Result<(), RecvTimeoutError> {
        match &mut self.inner {
            ReceiverInner::Shm(rx) => ring_recv(rx, buf, wait, deadline),
            ReceiverInner::Auto(rx) => ring_recv(&mut rx.ring, buf, wait, deadline),
            ReceiverInner::Stream(rx) => rx.recv(buf, wait, deadline),
            ReceiverInner::Mq(rx) => rx.recv(buf, wait, deadline),
            ReceiverInner::Sysv(rx) => rx.recv(buf, wait, deadline),
            #[cfg(feature = "zenoh")]
            ReceiverInner::Zenoh(rx) if !wait => rx.try_recv(buf).map_err(RecvTimeoutError::from),
            #[cfg(feature = "zenoh")]
            ReceiverInner::Zenoh(rx) => rx.recv(buf, deadline),
        }
    }

    /// Whether every sender that connected is gone (none connected yet: `false`).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("shmring-ipc-doc-dc-{}.sock", std::process::id()));
    /// let mut rx = shmring_ipc::Receiver::bind(&format!("uds:{}", path.display()))?;
    /// assert!(!rx.is_disconnected());
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn is_disconnected(&mut self) -> bool {
        match &mut self.inner {
            ReceiverInner::Shm(rx) => rx.is_disconnected(),
            ReceiverInner::Auto(rx) => rx.ring.is_disconnected(),
            ReceiverInner::Stream(rx) => rx.is_disconnected(),
            ReceiverInner::Mq(rx) => rx.is_disconnected(),
            ReceiverInner::Sysv(rx) => rx.is_disconnected(),
            #[cfg(feature = "zenoh")]
            ReceiverInner::Zenoh(rx) => rx.is_disconnected(),
        }
    }

    /// The payload type the senders' channel carries, where the transport records it: a
    /// `shm:` ring's label (its header), or the type a `zenoh:` sender announces. A process
    /// that forwards the messages (a bridge) connects its other side with
    /// [`Sender::connect_as`](crate::Sender::connect_as) of it, so the layout guard holds
    /// across. `None` for untyped channels and on the other transports (whose handshake names
    /// the type per connection).
    ///
    /// ```
    /// let name = format!("shmring-ipc-doc-layout-{}", std::process::id());
    /// let mut rx = shmring_ipc::Receiver::bind(&format!("shm:{name}"))?;
    /// assert_eq!(rx.peer_layout(), None); // untyped bytes
    /// # drop(rx);
    /// # shmring::Segment::unlink_name(&name).ok();
    /// # Ok::<(), shmring_ipc::ConnectError>(())
    /// ```
    pub fn peer_layout(&mut self) -> Option<TypeLayout> {
        match &mut self.inner {
            ReceiverInner::Shm(rx) => mpsc::label_of(rx.segment().info()),
            #[cfg(feature = "zenoh")]
            ReceiverInner::Zenoh(rx) => rx.peer_layout(),
            _ => None,
        }
    }

    /// A descriptor for `poll`/`epoll`/mio that reports readable when a
    /// [`try_recv`](Receiver::try_recv) may find a message or news (a sender connecting or
    /// leaving): on `uds:`/`tcp:`/`fifo:`/`pipe` an epoll set of the listener and every
    /// connection, kept up to date by this receiver; on `mq:` the queue. The descriptor stays
    /// owned by this receiver. `Ok(None)` on `shm:` and `auto:` (a shared-memory ring has no
    /// descriptor of its own) and on `sysv:` (nor has a System V queue: `recv_async` polls it
    /// with a backoff).
    ///
    /// Readiness is a hint, and frames already read into this receiver's buffer do not make
    /// the descriptor readable: always `try_recv` until `Empty` before waiting on it.
    ///
    /// # Errors
    ///
    /// Creating the epoll set failed (for example out of descriptors).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("shmring-ipc-doc-rfd-{}.sock", std::process::id()));
    /// let mut rx = shmring_ipc::Receiver::bind(&format!("uds:{}", path.display()))?;
    /// assert!(rx.readiness_fd()?.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn readiness_fd(&mut self) -> std::io::Result<Option<std::os::fd::BorrowedFd<'_>>> {
        match &mut self.inner {
            ReceiverInner::Shm(_) | ReceiverInner::Auto(_) | ReceiverInner::Sysv(_) => Ok(None),
            #[cfg(feature = "zenoh")]
            ReceiverInner::Zenoh(_) => Ok(None),
            ReceiverInner::Stream(rx) => rx.readiness().map(Some),
            ReceiverInner::Mq(rx) => Ok(Some(rx.readiness())),
        }
    }
}

/// The receiving end of a kernel queue (`mq:`, `sysv:`). Out of line, as [`zenoh`]: the
/// transports' handles are built in their own frames, so `open` stays small on the stack of
/// a thread that binds (a duplex server's accepting thread binds one per client).
#[inline(never)]
fn kernel_queue(
    endpoint: &Endpoint,
    options: &Options,
    expect: Expect,
) -> Result<ReceiverInner, ConnectError> {
    Ok(match endpoint {
        Endpoint::Mq(name) => ReceiverInner::Mq(mq::bind(endpoint, name, options, expect)?),
        Endpoint::Sysv(address) => {
            ReceiverInner::Sysv(crate::sysv::bind(endpoint, address, options, expect)?)
        }
        _ => unreachable!("called for mq: and sysv: only"),
    })
}

/// The receiving end of `zenoh:` (see [`kernel_queue`] for why out of line).
#[cfg(feature = "zenoh")]
#[inline(never)]
fn zenoh(
    endpoint: &Endpoint,
    key: &str,
    options: &Options,
    expect: &Expect,
) -> Result<ReceiverInner, ConnectError> {
    Ok(ReceiverInner::Zenoh(Box::new(
        crate::zenoh_link::ZenohReceiver::bind(endpoint, key, options, expect)?,
    )))
}
