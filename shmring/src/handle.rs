//! The handle layer every ring shares: readiness (the eventfd bridge of [`crate::notify`]),
//! `async` operations through one drive loop, and streams.
//!
//! A ring provides, per handle, a small [`Core`]: its readiness state and bridge, its spin
//! state, whether it would wait now, and how to look at its peers. This module does the rest
//! once: [`readiness_fd`], [`register`], [`clear`], [`cancel`] and [`drive`], and the
//! [`readiness_methods!`](crate::readiness_methods) macro writes the documented public
//! methods of a handle from them (so every ring's readiness calls have the same signature
//! and the same meaning).

#![cfg_attr(shmring_loom, allow(dead_code, unused_imports, unused_macros))]

#[cfg(not(shmring_loom))]
use std::io;
#[cfg(not(shmring_loom))]
use std::os::fd::BorrowedFd;
#[cfg(not(shmring_loom))]
use std::sync::Arc;

#[cfg(not(shmring_loom))]
use crate::notify::{Bridge, Readiness};
#[cfg(not(shmring_loom))]
use crate::wait::Waiter;

#[cfg(not(shmring_loom))]
/// What the shared layer needs of one ring handle (one direction: a receiver waits for
/// messages, a sender for room).
pub(crate) trait Core {
    /// The segment the handle's ring lives in.
    fn held_segment(&self) -> &crate::Segment;
    /// The ring's capacity (slots of a typed ring, bytes of a framed one).
    fn ring_capacity(&self) -> usize;
    /// Whether the other side is gone (closed, or proven dead), checked now.
    fn peers_gone(&self) -> bool;
    /// The handle's readiness state (its bridge, once made, and its tokio registration).
    fn readiness(&mut self) -> &mut Readiness;
    /// The handle's bridge, made on first use for the direction it waits on.
    fn bridge(&mut self) -> io::Result<Arc<Bridge>>;
    /// The spin state an operation starts from (used by the async drive loop).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    fn waiter(&self) -> Waiter;
    /// Keeps the spin state an operation ended with (handles that adapt their spinning).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    fn keep_waiter(&mut self, _waiter: Waiter) {}
    /// Whether an operation would wait now (ring empty; for a sender, no room for `need`
    /// bytes or one slot) — `false` also when it would fail at once (the peer gone, a
    /// corrupted ring): the next attempt reports that.
    fn would_wait(&mut self, need: usize) -> bool;
    /// Looks at the peers now, so the next attempt reports one that died (after a helper's
    /// sleep ended without a wake-up).
    fn look_at_peers(&mut self);
}

#[cfg(not(shmring_loom))]
/// The handle's readiness eventfd, made on first use.
pub(crate) fn readiness_fd<H: Core>(h: &mut H) -> io::Result<BorrowedFd<'_>> {
    h.bridge()?;
    Ok(h.readiness().fd().expect("the bridge was just made"))
}

#[cfg(not(shmring_loom))]
/// Registers for readiness: `Ok(true)` if the handle would wait (the helper is armed and the
/// eventfd will be signalled), `Ok(false)` if it can go ahead now (nothing stays registered).
pub(crate) fn register<H: Core>(h: &mut H, need: usize) -> io::Result<bool> {
    // Made once; afterwards no reference count is touched on the way to the futex word.
    if !h.readiness().has_bridge() {
        h.bridge()?;
    }
    let key = h.readiness().register();
    let wait = h.would_wait(need);
    Ok(h.readiness().finish_register(key, wait))
}

#[cfg(not(shmring_loom))]
/// Reads the eventfd back to not-readable; looks at the peers if the helper's sleep ended
/// without a wake-up.
pub(crate) fn clear<H: Core>(h: &mut H) {
    if h.readiness().clear() {
        h.look_at_peers();
    }
}

#[cfg(not(shmring_loom))]
/// Stops waiting for readiness: the waiting flag (or bit) is withdrawn at once.
pub(crate) fn cancel<H: Core>(h: &mut H) {
    h.readiness().cancel();
}

/// The async wait loop of every ring, for receives and sends: `attempt(h, force)` makes one
/// non-blocking attempt (`None`: the handle must wait; `force`: look at the peers now). Try;
/// a few tight polls and an adaptive spin, as a blocking call makes; then register and await
/// the readiness eventfd; after a helper's slice that ended without a wake-up, the next try
/// looks at the peers. `need` is what [`Core::would_wait`] is asked about.
#[cfg(all(feature = "tokio", not(shmring_loom)))]
pub(crate) async fn drive<H: Core, R>(
    h: &mut H,
    need: usize,
    mut attempt: impl FnMut(&mut H, bool) -> Option<R>,
) -> R {
    use crate::wait::Step;
    let mut force = false;
    loop {
        // A few tight polls first: the peer is usually a moment away, and this is cheaper
        // than the spin's bookkeeping.
        let mut first = attempt(h, force);
        for _ in 0..8 {
            if first.is_some() {
                break;
            }
            std::hint::spin_loop();
            first = attempt(h, false);
        }
        let outcome = match first {
            None => {
                let mut waiter = h.waiter();
                let spun = waiter.spin(|| match attempt(h, false) {
                    None => Step::Retry,
                    Some(done) => Step::Done(done),
                });
                h.keep_waiter(waiter);
                spun
            }
            done => done,
        };
        if let Some(done) = outcome {
            return done;
        }
        let armed = register(h, need);
        force = h.readiness().wait(armed).await;
    }
}

/// A non-blocking receive's result as a [`drive`] outcome (`None`: wait).
#[cfg(all(feature = "tokio", not(shmring_loom)))]
pub(crate) fn received<T>(
    result: Result<T, crate::TryRecvError>,
) -> Option<Result<T, crate::RecvError>> {
    use crate::{RecvError, TryRecvError};
    match result {
        Ok(v) => Some(Ok(v)),
        Err(TryRecvError::Empty) => None,
        Err(TryRecvError::Disconnected) => Some(Err(RecvError::Disconnected)),
        Err(TryRecvError::Corrupted) => Some(Err(RecvError::Corrupted)),
    }
}

/// Writes the public calls every handle has over its [`Core`] — `name`, `segment`,
/// `readiness_fd`, `register_readiness`, `clear_readiness`, `cancel_readiness` — with their
/// documentation and examples. `channel` is the expression after `shmring::` that makes a `(tx, rx)` pair;
/// `var` names this handle in it; `proceeds` says what readiness means for it; `register`
/// is the example of `register_readiness`; a sender of byte messages adds `need: len`, the
/// length of the message it waits room for.
macro_rules! readiness_methods {
    (
        impl [$($g:tt)*] $ty:ty;
        channel: $channel:literal,
        var: $var:literal,
        proceeds: $proceeds:literal,
        register: $register:literal
        $(, need: $len:ident)?
    ) => {
        /// Readiness for epoll, mio and tokio users: a helper thread per handle sleeps on the
        /// ring's futex in its place and signals an eventfd (docs/protocols.md, "Ring
        /// readiness"); peers see an ordinary sleeper and pay nothing while nobody waits.
        #[cfg(not(shmring_loom))]
        impl<$($g)*> $ty {
            /// The ring's name: its name in /dev/shm, a file's path, or `heap` for a ring made
            /// by `channel` (the name of [`segment`](Self::segment)).
            ///
            /// ```
            #[doc = concat!("let (mut tx, mut rx) = shmring::", $channel, "?;")]
            #[doc = concat!("assert_eq!(", $var, ".name(), \"heap\");")]
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn name(&self) -> &str {
                self.segment().name()
            }

            /// The segment the ring lives in: its header ([`crate::Segment::info`]), or a
            /// memfd ring's descriptor to pass to another process
            /// ([`crate::Segment::as_fd`]).
            ///
            /// ```
            #[doc = concat!("let (mut tx, mut rx) = shmring::", $channel, "?;")]
            #[doc = concat!("assert!(", $var, ".segment().info().capacity >= 1);")]
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn segment(&self) -> &$crate::Segment {
                $crate::handle::Core::held_segment(self)
            }

            /// The ring's capacity: slots of a typed ring, bytes of a framed one (a power of
            /// two).
            ///
            /// ```
            #[doc = concat!("let (mut tx, mut rx) = shmring::", $channel, "?;")]
            #[doc = concat!("assert!(", $var, ".capacity().is_power_of_two());")]
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn capacity(&self) -> usize {
                $crate::handle::Core::ring_capacity(self)
            }

            /// Whether the other side is gone — closed, or its process proven dead — checked
            /// now (for a ring with many senders or receivers: all of them). A receiver may
            /// still have messages to take.
            ///
            /// ```
            #[doc = concat!("let (mut tx, mut rx) = shmring::", $channel, "?;")]
            #[doc = concat!("assert!(!", $var, ".is_disconnected());")]
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn is_disconnected(&self) -> bool {
                $crate::handle::Core::peers_gone(self)
            }

            /// The readiness eventfd: it becomes readable after `register_readiness` when
            #[doc = concat!($proceeds, ".")]
            /// Created on first use, with its helper thread; owned by this handle (each clone
            /// of a cloneable handle has its own).
            ///
            /// # Errors
            ///
            /// Creating the eventfd or its helper thread failed;
            /// [`std::io::ErrorKind::Unsupported`] for a ring not in a mapped segment.
            ///
            /// ```
            #[doc = concat!("let (mut tx, mut rx) = shmring::", $channel, "?;")]
            #[doc = concat!("let fd = ", $var, ".readiness_fd()?;")]
            /// # let _ = fd;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn readiness_fd(&mut self) -> std::io::Result<std::os::fd::BorrowedFd<'_>> {
                $crate::handle::readiness_fd(self)
            }

            /// Asks for the readiness eventfd to be signalled when this handle may proceed:
            /// `Ok(true)` if it would wait now (poll the eventfd, then `clear_readiness` and
            /// try again), `Ok(false)` if it can go ahead at once (nothing stays registered).
            ///
            /// # Errors
            ///
            /// As `readiness_fd`.
            ///
            /// ```
            #[doc = concat!("let (mut tx, mut rx) = shmring::", $channel, "?;")]
            #[doc = $register]
            #[doc = concat!($var, ".cancel_readiness();")]
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn register_readiness(&mut self $(, $len: usize)?) -> std::io::Result<bool> {
                $crate::handle::register(self, 0 $(+ $len)?)
            }

            /// After the readiness eventfd reported readable: reads it back to not-readable,
            /// and looks at the peers if the helper's sleep ended without a wake-up (so the
            /// next attempt reports a peer that died).
            ///
            /// ```
            #[doc = concat!("let (mut tx, mut rx) = shmring::", $channel, "?;")]
            #[doc = concat!($var, ".clear_readiness();")]
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn clear_readiness(&mut self) {
                $crate::handle::clear(self);
            }

            /// Stops waiting for readiness: the waiting flag (or this handle's share of its
            /// record's waiting bit) is withdrawn at once, so peers stop paying a wake-up for
            /// it.
            ///
            /// ```
            #[doc = concat!("let (mut tx, mut rx) = shmring::", $channel, "?;")]
            #[doc = concat!($var, ".cancel_readiness();")]
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn cancel_readiness(&mut self) {
                $crate::handle::cancel(self);
            }
        }
    };
}

/// Writes a receiver's `into_stream` (feature `stream`) over its `recv_async`.
macro_rules! stream_method {
    (
        impl [$($g:tt)*] $ty:ty => $item:ty $(, $err:ty)?;
        channel: $channel:literal,
        send: $send:literal,
        first: $first:literal
    ) => {
        /// A stream of messages (feature `stream`).
        #[cfg(all(feature = "stream", not(shmring_loom)))]
        impl<$($g)*> $ty {
            /// This receiver as a [`futures_core::Stream`] of `Result<message, RecvError>`
            /// over `recv_async`: it ends once every sender is gone and the ring is drained,
            /// and yields `Err(RecvError::Corrupted)` once before ending if the ring is
            /// corrupted (see [`crate::stream`]).
            ///
            /// # Cancel safety
            ///
            /// Dropping the stream (or a `next()` future) loses no message.
            ///
            /// ```
            /// # #[tokio::main(flavor = "current_thread")]
            /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// use futures_core::Stream;
            #[doc = concat!("let (mut tx, rx) = shmring::", $channel, "?;")]
            #[doc = $send]
            /// drop(tx);
            /// let mut s = rx.into_stream();
            /// let first = std::future::poll_fn(|cx| std::pin::Pin::new(&mut s).poll_next(cx)).await;
            #[doc = concat!("assert_eq!(first, Some(Ok(", $first, ")));")]
            /// let end = std::future::poll_fn(|cx| std::pin::Pin::new(&mut s).poll_next(cx)).await;
            /// assert_eq!(end, None);
            /// # Ok(()) }
            /// ```
            pub fn into_stream(self) -> $crate::stream::RecvStream<$ty, $item $(, $err)?> {
                $crate::stream::RecvStream::new(self, |mut rx| {
                    Box::pin(async move {
                        let r = rx.recv_async().await;
                        (rx, r)
                    })
                })
            }
        }
    };
}

/// `Core` for a handle that wraps another handle's core in its field `$field` (the byte
/// broadcast handles over the typed broadcast ring): every call forwards, but `would_wait`,
/// which the wrapper decides (`|h, need| …`).
macro_rules! wrapped_core {
    ($ty:ty, $field:ident, would_wait: |$h:ident, $need:ident| $would_wait:expr) => {
        #[cfg(not(shmring_loom))]
        impl $crate::handle::Core for $ty {
            fn held_segment(&self) -> &$crate::Segment {
                self.$field.held_segment()
            }

            fn ring_capacity(&self) -> usize {
                self.$field.ring_capacity()
            }

            fn peers_gone(&self) -> bool {
                self.$field.peers_gone()
            }

            fn readiness(&mut self) -> &mut $crate::notify::Readiness {
                self.$field.readiness()
            }

            fn bridge(&mut self) -> std::io::Result<std::sync::Arc<$crate::notify::Bridge>> {
                self.$field.bridge()
            }

            fn waiter(&self) -> $crate::wait::Waiter {
                self.$field.waiter()
            }

            fn would_wait(&mut self, $need: usize) -> bool {
                let $h = self;
                $would_wait
            }

            fn look_at_peers(&mut self) {
                self.$field.look_at_peers();
            }
        }
    };
}

pub(crate) use {readiness_methods, stream_method, wrapped_core};
