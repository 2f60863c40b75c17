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
pub type Next<H, T> = Pin<Box<dyn Future<Output = (H, Result<T, RecvError>)> + Send>>;

/// A receiver as a stream: made by `into_stream()` on the receiving handles (and by
/// `shmring_ipc::Receiver::into_stream`).
///
/// Cancel safety: dropping the stream drops the receive in progress, which is cancel-safe
/// (no message is lost; the handle's readiness registration is withdrawn).
pub struct RecvStream<H, T> {
    /// The receive in progress; `None` once the stream has ended.
    next: Option<Next<H, T>>,
    /// Starts a receive on the handle.
    start: fn(H) -> Next<H, T>,
}

impl<H, T> RecvStream<H, T> {
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
    pub fn new(handle: H, start: fn(H) -> Next<H, T>) -> RecvStream<H, T> {
        RecvStream {
            next: Some(start(handle)),
            start,
        }
    }
}

impl<H, T> Stream for RecvStream<H, T> {
    type Item = Result<T, RecvError>;

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
            Err(RecvError::Disconnected) => Poll::Ready(None),
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }
}

impl<H, T> fmt::Debug for RecvStream<H, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvStream")
            .field("ended", &self.next.is_none())
            .finish_non_exhaustive()
    }
}
