//! The event handles on the shared handle layer: construction (`create`, `open`,
//! `open_or_create`, `options()`), the signal option, and a listener's readiness and
//! `wait_async`.

use std::sync::Arc;

use super::{Listener, Notifier, attach, create_segment, identity, open_segment};
use crate::{Location, OpenError, RingOptions, WaitStrategy};

crate::build::ring_options! {
    impl[] Notifier;
    example: "event::Notifier",
    role: "a notifier (`capacity` is the number of event ids, `max_ids`, up to `event::MAX_IDS`)",
    opens: "Any number of notifiers may attach.",
    create_segment: |l: Location, capacity, o: &Self| create_segment(l, capacity, o.mode),
    open_segment: |l: Location, _: &Self| open_segment(l),
    attach: |s, _: &Self| Ok::<_, OpenError>(Notifier::on(Arc::new(attach(s)?)))
}

crate::build::ring_options! {
    impl[] Listener;
    example: "event::Listener",
    role: "a listener (`capacity` is the number of event ids, `max_ids`, up to `event::MAX_IDS`)",
    opens: "Up to 64 listeners may attach at once, each from the ids notified after it joins; a dead listener's record is reaped.",
    create_segment: |l: Location, capacity, o: &Self| create_segment(l, capacity, o.mode),
    open_segment: |l: Location, _: &Self| open_segment(l),
    attach: |s: Arc<crate::Segment>, o: &Self| {
        if let Some(reason) = o.signal.and_then(super::signal::unusable) {
            return Err(OpenError::InvalidConfig { name: s.name().to_owned(), reason });
        }
        let board = Arc::new(attach(s)?);
        let me = identity(&board)?;
        Listener::join(board, me, o.signal)
    }
}

impl RingOptions<Listener> {
    /// Be woken by realtime signal `signal` (one of
    /// [`realtime_signals`](super::realtime_signals)) instead of only the futex: a notifier
    /// that sets an id not already pending for this listener queues `signal` to its process
    /// with the id as the signal's value (`si_value.sival_int`), for programs that already
    /// run a signal-driven loop; the handler or `sigwaitinfo` loop then calls
    /// [`Listener::try_wait`] to take the ids (until it does, that id sends no more signals).
    /// Blocking waits, readiness and `wait_async` still work.
    ///
    /// Limits: one integer of payload; at most `max_ids` signals queued per listener (one per
    /// pending id), within the listener process's `RLIMIT_SIGPENDING`, which the kernel
    /// checks against the signals pending for *every* process of that process's real user —
    /// a notifier that finds the queue full gets [`NotifyError::SignalQueueFull`](super::NotifyError::SignalQueueFull)
    /// (the id is still recorded); a signal handler may only call async-signal-safe
    /// functions, and `try_wait` allocates, so take the ids outside the handler (a flag, a
    /// self-pipe, `sigwaitinfo` or a signalfd).
    ///
    /// # Errors
    ///
    /// `open`/`create` give [`OpenError::InvalidConfig`] when `signal` is not a realtime
    /// signal, or when delivering it would terminate this process (no handler installed and
    /// not blocked in the calling thread).
    ///
    /// ```
    /// let name = format!("shmring-doc-event-signal-{}", std::process::id());
    /// let sig = libc::SIGRTMIN() + 2;
    /// // No handler and not blocked: the signal would kill this process, so it is refused.
    /// let err = shmring::event::Listener::options().signal(sig).create(name.as_str(), 8);
    /// assert!(matches!(err, Err(shmring::OpenError::InvalidConfig { .. })));
    /// # let _ = shmring::Segment::unlink_name(&name);
    /// ```
    pub fn signal(mut self, signal: i32) -> Self {
        self.signal = Some(signal);
        self
    }
}

impl Notifier {
    /// Notifiers never wait: kept for the construction pattern every handle shares.
    fn with_wait_strategy(self, _strategy: WaitStrategy) -> Notifier {
        self
    }

    /// The segment's name: its name in /dev/shm, a file's path, or `heap` for one made by
    /// [`channel`](super::channel).
    ///
    /// ```
    /// let (notifier, _listener) = shmring::event::channel(8)?;
    /// assert_eq!(notifier.name(), "heap");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn name(&self) -> &str {
        self.board.segment().name()
    }

    /// The segment the events live in (its header: [`crate::Segment::info`]).
    ///
    /// ```
    /// let (notifier, _listener) = shmring::event::channel(8)?;
    /// assert_eq!(notifier.segment().info().kind, shmring::RingKind::Event);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn segment(&self) -> &crate::Segment {
        self.board.segment()
    }
}

impl crate::handle::Core for Listener {
    fn held_segment(&self) -> &crate::Segment {
        self.board.segment()
    }

    fn ring_capacity(&self) -> usize {
        self.board.shape.max_ids as usize
    }

    fn peers_gone(&self) -> bool {
        false
    }

    fn readiness(&mut self) -> &mut crate::notify::Readiness {
        &mut self.readiness
    }

    fn bridge(&mut self) -> std::io::Result<Arc<crate::notify::Bridge>> {
        let board = self.board.clone();
        let record = self.record;
        self.readiness.bridge(|| {
            crate::notify::Bridge::new(
                board.segment().clone(),
                board.seq(record),
                crate::notify::WaitWord::Flag(board.waiting(record)),
            )
        })
    }

    fn waiter(&self) -> crate::wait::Waiter {
        self.waiter
    }

    fn keep_waiter(&mut self, waiter: crate::wait::Waiter) {
        self.waiter = waiter;
    }

    fn would_wait(&mut self, _need: usize) -> bool {
        !self.corrupted && !self.board.pending(self.record)
    }

    fn look_at_peers(&mut self) {}
}

impl Listener {
    /// The segment's name: its name in /dev/shm, a file's path, or `heap` for one made by
    /// [`channel`](super::channel).
    ///
    /// ```
    /// let (_notifier, listener) = shmring::event::channel(8)?;
    /// assert_eq!(listener.name(), "heap");
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn name(&self) -> &str {
        self.board.segment().name()
    }

    /// The segment the events live in (its header: [`crate::Segment::info`]).
    ///
    /// ```
    /// let (_notifier, listener) = shmring::event::channel(8)?;
    /// assert_eq!(listener.segment().info().capacity, 8);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn segment(&self) -> &crate::Segment {
        self.board.segment()
    }

    /// The readiness eventfd: it becomes readable after `register_readiness` when an id is
    /// notified. A helper thread sleeps on the listener's futex in its place, so notifiers
    /// see an ordinary sleeper (docs/protocols.md, "Ring readiness").
    ///
    /// # Errors
    ///
    /// Creating the eventfd or its helper thread failed.
    ///
    /// ```
    /// let (_notifier, mut listener) = shmring::event::channel(8)?;
    /// let fd = listener.readiness_fd()?;
    /// # let _ = fd;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn readiness_fd(&mut self) -> std::io::Result<std::os::fd::BorrowedFd<'_>> {
        crate::handle::readiness_fd(self)
    }

    /// Asks for the readiness eventfd to be signalled when an id is notified: `Ok(true)` if
    /// nothing is pending now (poll the eventfd, then `clear_readiness` and `try_wait`),
    /// `Ok(false)` if ids are pending already (nothing stays registered).
    ///
    /// # Errors
    ///
    /// As `readiness_fd`.
    ///
    /// ```
    /// let (notifier, mut listener) = shmring::event::channel(8)?;
    /// assert!(listener.register_readiness()?);
    /// notifier.notify(1)?;
    /// listener.clear_readiness();
    /// assert_eq!(listener.try_wait()?.as_slice(), [1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn register_readiness(&mut self) -> std::io::Result<bool> {
        crate::handle::register(self, 0)
    }

    /// After the readiness eventfd reported readable: reads it back to not-readable.
    ///
    /// ```
    /// let (_notifier, mut listener) = shmring::event::channel(8)?;
    /// listener.clear_readiness();
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn clear_readiness(&mut self) {
        crate::handle::clear(self);
    }

    /// Stops waiting for readiness: the waiting flag is withdrawn at once, so notifiers stop
    /// paying a wake-up for it.
    ///
    /// ```
    /// let (_notifier, mut listener) = shmring::event::channel(8)?;
    /// listener.cancel_readiness();
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn cancel_readiness(&mut self) {
        crate::handle::cancel(self);
    }

    /// Waits for ids without blocking the thread (feature `tokio`): spins briefly, then awaits
    /// the readiness eventfd through tokio's reactor.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future loses no id: ids are taken only by the poll that completes it.
    ///
    /// # Errors
    ///
    /// [`WaitError::Corrupted`](super::WaitError::Corrupted) as
    /// [`try_wait`](Listener::try_wait).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (notifier, mut listener) = shmring::event::channel(8)?;
    /// notifier.notify(6)?;
    /// assert_eq!(listener.wait_async().await?.as_slice(), [6]);
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "tokio")]
    pub async fn wait_async(&mut self) -> Result<super::EventSet, super::WaitError> {
        crate::handle::drive(self, 0, |l, _force| match l.try_wait() {
            Ok(set) => Some(Ok(set)),
            Err(super::TryWaitError::Empty) => None,
            Err(_) => Some(Err(super::WaitError::Corrupted)),
        })
        .await
    }
}
