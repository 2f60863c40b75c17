//! [`RecvStream`]: a receiver as a [`futures_core::Stream`] (feature `stream`).
//!
//! Every receiving handle with `recv_async` has `into_stream()`, which turns it into a
//! stream of `Result<message, RecvError>`: it yields each message, ends (`None`) once every
//! sender is gone and the ring is drained, and yields `Err(RecvError::Corrupted)` once before
//! ending if the ring's shared state turns out corrupted.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::future::poll_fn;
//! use std::pin::Pin;
//! use futures_core::Stream;
//!
//! let (mut tx, rx) = shmring::spsc::channel::<u32>(4)?;
//! tx.send(1).unwrap();
//! tx.send(2).unwrap();
//! drop(tx);
//! let mut stream = rx.into_stream();
//! let mut got = Vec::new();
//! while let Some(v) = poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
//!     got.push(v?);
//! }
//! assert_eq!(got, [1, 2]);
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::RecvError;

/// One pending receive: the handle comes back with the message, so the stream can start the
/// next.
pub type Next<H, T, E = RecvError> = Pin<Box<dyn Future<Output = (H, Result<T, E>)> + Send>>;

/// How a stream treats a receive error: the end of the stream (`Disconnected`: every sender
/// gone, everything received), an item after which it goes on (a broadcast receiver's
/// `Lagged`), or — anything else — a last item before it ends (`Corrupted`).
///
/// ```
/// use shmring::stream::StreamError;
/// assert!(shmring::RecvError::Disconnected.ends_stream());
/// assert!(shmring::broadcast::RecvError::Lagged(2).goes_on());
/// ```
pub trait StreamError {
    /// The stream ends here, without this error as an item.
    fn ends_stream(&self) -> bool;
    /// The stream yields this error and goes on receiving.
    fn goes_on(&self) -> bool {
        false
    }
}

impl StreamError for RecvError {
    fn ends_stream(&self) -> bool {
        matches!(self, RecvError::Disconnected)
    }
}

impl StreamError for crate::broadcast::RecvError {
    fn ends_stream(&self) -> bool {
        matches!(self, crate::broadcast::RecvError::Disconnected)
    }

    fn goes_on(&self) -> bool {
        matches!(self, crate::broadcast::RecvError::Lagged(_))
    }
}

/// A receiver as a stream: made by `into_stream()` on the receiving handles (and by
/// `shmring_ipc::Receiver::into_stream`).
///
/// Cancel safety: dropping the stream drops the receive in progress, which is cancel-safe
/// (no message is lost; the handle's readiness registration is withdrawn).
pub struct RecvStream<H, T, E = RecvError> {
    /// The receive in progress; `None` once the stream has ended.
    next: Option<Next<H, T, E>>,
    /// Starts a receive on the handle.
    start: fn(H) -> Next<H, T, E>,
}

impl<H, T, E> RecvStream<H, T, E> {
    /// A stream over `handle`, receiving with `start` (a function that moves the handle into
    /// one boxed `recv_async` and hands it back with the result).
    ///
    /// ```
    /// let (_tx, rx) = shmring::spsc::channel::<u8>(2)?;
    /// let stream = shmring::stream::RecvStream::new(rx, |mut rx| {
    ///     Box::pin(async move {
    ///         let r = rx.recv_async().await;
    ///         (rx, r)
    ///     })
    /// });
    /// # drop(stream);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn new(handle: H, start: fn(H) -> Next<H, T, E>) -> RecvStream<H, T, E> {
        RecvStream {
            next: Some(start(handle)),
            start,
        }
    }
}

impl<H, T, E: StreamError> Stream for RecvStream<H, T, E> {
    type Item = Result<T, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let Some(next) = this.next.as_mut() else {
            return Poll::Ready(None);
        };
        let (handle, result) = match next.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(done) => done,
        };
        this.next = None;
        match result {
            Ok(v) => {
                this.next = Some((this.start)(handle));
                Poll::Ready(Some(Ok(v)))
            }
            Err(e) if e.ends_stream() => Poll::Ready(None),
            Err(e) => {
                if e.goes_on() {
                    this.next = Some((this.start)(handle));
                }
                Poll::Ready(Some(Err(e)))
            }
        }
    }
}

impl<H, T, E> fmt::Debug for RecvStream<H, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvStream")
            .field("ended", &self.next.is_none())
            .finish_non_exhaustive()
    }
}
