//! `async` sending and receiving under tokio (feature `tokio`): try first, and only when
//! that would block, await the readiness of the transport's descriptor through
//! [`tokio::io::unix::AsyncFd`] — the socket, FIFO, pipe, queue, or the receiver's epoll set
//! of them ([`Receiver::readiness_fd`], [`Sender::readiness_fd`]).
//!
//! A handle's descriptor is registered with the reactor of the runtime it first awaits in;
//! keep using the handle in that runtime (a registration whose runtime has shut down is
//! replaced).
//!
//! On `shm:` and `auto:` a receive awaits the ring's own readiness eventfd (a helper thread
//! sleeps on the ring's futex for the receiver; see `shmring::framed::mpsc::Receiver::
//! recv_into_async`), and a send awaits the sender's (`shmring::framed::mpsc::Sender::
//! send_async`).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let path = std::env::temp_dir().join(format!("shmring-ipc-doc-async-{}.sock", std::process::id()));
//! let endpoint = format!("uds:{}", path.display());
//! let mut rx = shmring_ipc::Receiver::bind(&endpoint)?;
//! let mut tx = shmring_ipc::Sender::connect(&endpoint)?;
//! tx.send_async(b"hello").await?;
//! assert_eq!(rx.recv_async().await?, b"hello");
//! # Ok(()) }
//! ```

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::{
    Receiver, ReceiverInner, RecvError, Refusal, SendError, Sender, SenderInner, TryRecvError,
    TrySendError,
};

/// How long an await of readiness lasts before the peer's liveness is looked at again (a
/// queue's senders leaving wake nobody).
const RECHECK: Duration = Duration::from_millis(100);

/// A transport descriptor registered with the current runtime's reactor.
pub(crate) type Registered = Option<Arc<AsyncFd<OwnedFd>>>;

/// Registers a duplicate of `fd` with the current runtime for `interest`; `None` if that
/// fails (the caller then polls with a backoff).
fn register(fd: std::os::fd::BorrowedFd<'_>, interest: Interest) -> Registered {
    let owned = fd.try_clone_to_owned().ok()?;
    // SAFETY: `owned` is an open descriptor that the AsyncFd owns from here on; it is
    // closed only when the AsyncFd is dropped, so it names the same file description for
    // the AsyncFd's whole life.
    unsafe { AsyncFd::register_with_interest(owned, interest) }
        .ok()
        .map(Arc::new)
}

/// The fallback without a descriptor: a few yields, then 1 ms sleeps.
struct Backoff(u32);

impl Backoff {
    async fn wait(&mut self) {
        self.0 += 1;
        if self.0 <= 16 {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// What awaiting readiness gave.
enum Ready<'a> {
    /// Ready (a hint): try again, and clear the readiness if that would block.
    Guard(tokio::io::unix::AsyncFdReadyGuard<'a, OwnedFd>),
    /// [`RECHECK`] passed: look at the peer again.
    Recheck,
    /// The registration is unusable (its runtime is gone): register again.
    Stale,
}

/// Awaits readiness on `fd`, for at most [`RECHECK`].
async fn ready(fd: &AsyncFd<OwnedFd>, write: bool) -> Ready<'_> {
    let wait = async {
        if write {
            fd.writable().await
        } else {
            fd.readable().await
        }
    };
    match tokio::time::timeout(RECHECK, wait).await {
        Ok(Ok(guard)) => Ready::Guard(guard),
        Ok(Err(_)) => Ready::Stale,
        Err(_) => Ready::Recheck,
    }
}

impl Receiver {
    /// Receives the next message, awaiting one without blocking the thread.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a message is taken from the transport only in the poll that completes
    /// the future, so dropping it (in `select!`, on a timeout) loses nothing; the next call
    /// gets the message.
    ///
    /// # Errors
    ///
    /// As [`recv`](Receiver::recv): `Disconnected` once every sender is gone and everything
    /// sent was received, `Corrupted` on a protocol error.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut rx = shmring_ipc::Receiver::bind("uds:/run/feed.sock")?;
    /// while let Ok(msg) = rx.recv_async().await {
    ///     println!("{} bytes", msg.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn recv_async(&mut self) -> Result<Vec<u8>, RecvError> {
        let mut buf = Vec::new();
        self.recv_into_async(&mut buf).await.map(|()| buf)
    }

    /// [`recv_async`](Receiver::recv_async) into a reused buffer.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as `recv_async`; `buf` is only written when a message is returned.
    ///
    /// # Errors
    ///
    /// As [`recv_async`](Receiver::recv_async).
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut rx = shmring_ipc::Receiver::bind("mq:/feed")?;
    /// let mut buf = Vec::new();
    /// rx.recv_into_async(&mut buf).await?;
    /// # Ok(()) }
    /// ```
    pub async fn recv_into_async(&mut self, buf: &mut Vec<u8>) -> Result<(), RecvError> {
        // Shared memory: the ring's own readiness eventfd.
        match &mut self.inner {
            ReceiverInner::Shm(rx) => return rx.recv_into_async(buf).await.map(|_| ()),
            ReceiverInner::Auto(rx) => return rx.ring.recv_into_async(buf).await.map(|_| ()),
            ReceiverInner::Stream(_) | ReceiverInner::Mq(_) | ReceiverInner::Sysv(_) => {}
            #[cfg(feature = "zenoh")]
            ReceiverInner::Zenoh(_) => {}
        }
        let mut backoff = Backoff(0);
        loop {
            match self.try_recv_into(buf) {
                Ok(()) => return Ok(()),
                Err(TryRecvError::Disconnected) => return Err(RecvError::Disconnected),
                Err(TryRecvError::Corrupted) => return Err(RecvError::Corrupted),
                Err(TryRecvError::Empty) => {}
            }
            if self.registered.is_none() {
                self.registered = match self.readiness_fd() {
                    Ok(Some(fd)) => register(fd, Interest::READABLE),
                    _ => None,
                };
            }
            let Some(fd) = self.registered.clone() else {
                backoff.wait().await;
                continue;
            };
            match ready(&fd, false).await {
                Ready::Guard(mut guard) => match self.try_recv_into(buf) {
                    Ok(()) => return Ok(()),
                    Err(TryRecvError::Disconnected) => return Err(RecvError::Disconnected),
                    Err(TryRecvError::Corrupted) => return Err(RecvError::Corrupted),
                    Err(TryRecvError::Empty) => guard.clear_ready(),
                },
                Ready::Recheck => {}
                Ready::Stale => self.registered = None,
            }
        }
    }
}

impl Sender {
    /// Sends `msg`, awaiting room without blocking the thread.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: the message is committed only in the poll that completes the future
    /// (as by one [`try_send`](Sender::try_send)); dropping the future before that sends
    /// nothing of it. On the stream transports a committed frame may still be partly in
    /// this sender's buffer: later sends, [`flush_async`](Sender::flush_async) or drop
    /// complete it.
    ///
    /// # Errors
    ///
    /// [`SendError::TooLarge`], `Disconnected`, `Corrupted`.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut tx = shmring_ipc::Sender::connect("tcp:127.0.0.1:7000")?;
    /// tx.send_async(b"tick").await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_async(&mut self, msg: &[u8]) -> Result<(), SendError> {
        if let SenderInner::Shm(tx) = &mut self.inner {
            return tx.send_async(msg).await;
        }
        let mut backoff = Backoff(0);
        loop {
            match self.try_send(msg) {
                Err(TrySendError::Full) => {}
                Ok(()) => return Ok(()),
                Err(TrySendError::TooLarge { len, max }) => {
                    return Err(SendError::TooLarge { len, max });
                }
                Err(TrySendError::Disconnected) => return Err(SendError::Disconnected),
                Err(TrySendError::Corrupted) => return Err(SendError::Corrupted),
            }
            self.await_writable(&mut backoff).await;
        }
    }

    /// Writes every committed byte (stream transports), awaiting room without blocking the
    /// thread; returns at once on the other transports.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: what was written stays written; a later call continues.
    ///
    /// # Errors
    ///
    /// `Disconnected` if the receiver went away first.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut tx = shmring_ipc::Sender::connect("uds:/run/feed.sock")?;
    /// tx.send_async(b"last").await?;
    /// tx.flush_async().await?;
    /// # Ok(()) }
    /// ```
    pub async fn flush_async(&mut self) -> Result<(), SendError> {
        let mut backoff = Backoff(0);
        while !self.try_flush().map_err(Refusal::into_send)? {
            self.await_writable(&mut backoff).await;
        }
        Ok(())
    }

    async fn await_writable(&mut self, backoff: &mut Backoff) {
        if self.registered.is_none() {
            self.registered = self
                .readiness_fd()
                .and_then(|fd| register(fd, Interest::WRITABLE));
        }
        match self.registered.clone() {
            // Readiness is cleared before the next try, so an edge after it is never lost.
            Some(fd) => match ready(&fd, true).await {
                Ready::Guard(mut guard) => guard.clear_ready(),
                Ready::Recheck => {}
                Ready::Stale => self.registered = None,
            },
            None => backoff.wait().await,
        }
    }
}

/// A stream of messages (feature `stream`).
#[cfg(feature = "stream")]
impl Receiver {
    /// This receiver as a [`futures_core::Stream`] of `Result<Vec<u8>, RecvError>` over
    /// [`recv_async`](Receiver::recv_async): it ends once every sender is gone, and yields
    /// `Err(RecvError::Corrupted)` once before ending on a broken ring or stream (see
    /// `shmring::stream`).
    ///
    /// # Cancel safety
    ///
    /// Dropping the stream (or a `next()` future) loses no message.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use futures_core::Stream;
    /// let path = std::env::temp_dir().join(format!("shmring-ipc-doc-stream-{}.sock", std::process::id()));
    /// let endpoint = format!("uds:{}", path.display());
    /// let rx = shmring_ipc::Receiver::bind(&endpoint)?;
    /// let mut tx = shmring_ipc::Sender::connect(&endpoint)?;
    /// tx.send(b"one")?;
    /// drop(tx);
    /// let mut s = rx.into_stream();
    /// let first = std::future::poll_fn(|cx| std::pin::Pin::new(&mut s).poll_next(cx)).await;
    /// assert_eq!(first, Some(Ok(b"one".to_vec())));
    /// let end = std::future::poll_fn(|cx| std::pin::Pin::new(&mut s).poll_next(cx)).await;
    /// assert_eq!(end, None);
    /// # Ok(()) }
    /// ```
    pub fn into_stream(self) -> shmring::stream::RecvStream<Receiver, Vec<u8>> {
        shmring::stream::RecvStream::new(self, |mut rx| {
            Box::pin(async move {
                let r = rx.recv_async().await;
                (rx, r)
            })
        })
    }
}
