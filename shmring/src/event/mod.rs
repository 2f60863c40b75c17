//! Events without data: any number of notifiers and listeners across processes, on a named
//! event segment. A notifier says *which* thing happened — an id below the segment's
//! `max_ids` (up to [`MAX_IDS`]) — and every live listener's next wait returns the set of ids
//! notified since its last one, each once however often it was notified (coalesced).
//!
//! ```
//! use shmring::event::{Listener, Notifier};
//!
//! let name = format!("shmring-doc-event-{}", std::process::id());
//! let mut listener = Listener::create(name.as_str(), 4096)?;   // ids 0..4096
//! let notifier = Notifier::open(name.as_str())?;               // normally another process
//! notifier.notify(7)?;
//! notifier.notify(3)?;
//! notifier.notify(7)?;                                         // coalesced
//! assert_eq!(listener.wait()?.as_slice(), [3, 7]);
//! assert!(listener.try_wait().is_err());                       // nothing new
//! shmring::Segment::unlink_name(&name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Costs and wake-ups
//!
//! `notify` sets one bit in each live listener's bitmap (a load and, when the id was not
//! already pending, one locked instruction) and loads the listener's waiting flag: **no
//! system call when no listener sleeps**. A listener spins adaptively, then registers and
//! sleeps on its own futex word, which a notifier wakes only when the flag says it sleeps.
//! A listener can also be woken by a realtime signal instead
//! ([`RingOptions::signal`](crate::RingOptions::signal)), for processes that already run a
//! signal-driven loop; and it has a readiness descriptor and `wait_async` like every ring
//! handle.
//!
//! # Crashes and hostile peers
//!
//! A notifier never waits, so a listener killed (or stopped) never blocks one; its record is
//! freed when a notifier finds its process dead while waking it, or when a new listener
//! needs a record. A notifier killed in the middle of `notify` leaves at worst its own id
//! half-delivered: every notifier re-checks the summary bit of the id it sets and the waiting
//! flag, so another notifier's notification is never lost. Every word read back is validated:
//! bits no notifier can set are [`TryWaitError::Corrupted`] for the listener, never an id out
//! of range, a panic or a hang.

pub(crate) mod board;
#[cfg(not(shmring_loom))]
mod signal;

pub use board::MAX_IDS;

/// The event area's byte layout (docs/layout.md, "Event area"): offsets from the start of
/// the area (after the segment header), for tools and clients in other languages.
pub mod layout {
    pub use super::board::{
        BITMAPS_OFFSET, CONTROL_SIZE, LISTENERS, LIVE_OFFSET, RECORD_OWNER, RECORD_PID_NS,
        RECORD_SEQ, RECORD_SIGNAL, RECORD_SIZE, RECORD_WAITING, TABLE_OFFSET, bitmap_stride,
    };
}
#[cfg(not(shmring_loom))]
pub use signal::realtime_signals;

use std::sync::Arc;
#[cfg(not(shmring_loom))]
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use crate::wait::{EventCount, Waiter, Waiting};
use crate::{OpenError, WaitStrategy};
use board::{Board, Shape};

/// The ids a listener's wait returned: ascending, each once.
///
/// ```
/// let (notifier, mut listener) = shmring::event::channel(64)?;
/// notifier.notify(9)?;
/// notifier.notify(2)?;
/// let set = listener.wait()?;
/// assert_eq!(set.len(), 2);
/// assert!(set.contains(9));
/// assert_eq!(set.iter().collect::<Vec<_>>(), [2, 9]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct EventSet {
    ids: Vec<u32>,
}

impl EventSet {
    /// How many ids.
    ///
    /// ```
    /// assert_eq!(shmring::event::EventSet::default().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether it holds no id.
    ///
    /// ```
    /// assert!(shmring::event::EventSet::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Whether `id` is in it.
    ///
    /// ```
    /// assert!(!shmring::event::EventSet::default().contains(1));
    /// ```
    pub fn contains(&self, id: u32) -> bool {
        self.ids.binary_search(&id).is_ok()
    }

    /// The ids, ascending.
    ///
    /// ```
    /// assert!(shmring::event::EventSet::default().iter().next().is_none());
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.ids.iter().copied()
    }

    /// The ids, ascending, as a slice.
    ///
    /// ```
    /// assert_eq!(shmring::event::EventSet::default().as_slice(), &[] as &[u32]);
    /// ```
    pub fn as_slice(&self) -> &[u32] {
        &self.ids
    }
}

impl IntoIterator for EventSet {
    type Item = u32;
    type IntoIter = std::vec::IntoIter<u32>;

    fn into_iter(self) -> Self::IntoIter {
        self.ids.into_iter()
    }
}

impl<'a> IntoIterator for &'a EventSet {
    type Item = u32;
    type IntoIter = std::iter::Copied<std::slice::Iter<'a, u32>>;

    fn into_iter(self) -> Self::IntoIter {
        self.ids.iter().copied()
    }
}

/// Why [`Notifier::notify`] failed. The id is recorded for every live listener in every case
/// but `OutOfRange`: the signal errors say only that one listener's wake-up signal could not
/// be queued (its next wait still returns the id).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// The id is not below the segment's `max_ids`.
    #[error("event id {id} is out of range: this event segment has ids 0..{max_ids}")]
    OutOfRange {
        /// The id given.
        id: u32,
        /// The segment's number of ids.
        max_ids: u32,
    },
    /// The listener's process has as many signals queued as its `RLIMIT_SIGPENDING` allows
    /// (the kernel counts the signals pending for all processes of its real user).
    #[error(
        "the realtime signal queue of listener pid {pid} is full (signal {signal} not queued; \
         RLIMIT_SIGPENDING): the id is recorded and its next wait returns it, but it was not \
         woken — it must drain its signals, or raise the limit"
    )]
    SignalQueueFull {
        /// The listener's process.
        pid: u32,
        /// The signal it asked for.
        signal: i32,
    },
    /// Queuing the listener's signal failed otherwise.
    #[error("queuing signal {signal} to listener pid {pid} failed: {source}")]
    Signal {
        /// The listener's process.
        pid: u32,
        /// The signal it asked for.
        signal: i32,
        /// What the system said.
        source: std::io::Error,
    },
    /// A listener record holds values no listener writes (a hostile or broken peer).
    #[error("the event segment is corrupted: {reason}")]
    Corrupted {
        /// What was found.
        reason: String,
    },
}

/// Why [`Listener::try_wait`] returned no ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TryWaitError {
    /// Nothing was notified since the last wait.
    #[error("no event notified since the last wait")]
    Empty,
    /// The listener's bitmap held bits no notifier can set: a peer wrote garbage. The
    /// listener reports this from then on.
    #[error("the event segment is corrupted: a listener bitmap holds bits out of range")]
    Corrupted,
}

/// Why a blocking or bounded wait returned no ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WaitError {
    /// The deadline passed (never from [`Listener::wait`], which waits as long as it takes).
    #[error("no event notified before the deadline")]
    Timeout,
    /// As [`TryWaitError::Corrupted`].
    #[error("the event segment is corrupted: a listener bitmap holds bits out of range")]
    Corrupted,
}

impl crate::wait::Attempt for Result<EventSet, TryWaitError> {
    type Outcome = Result<EventSet, WaitError>;

    fn retry(&self) -> bool {
        matches!(self, Err(TryWaitError::Empty))
    }

    fn done(self) -> Self::Outcome {
        self.map_err(|_| WaitError::Corrupted)
    }

    fn timed_out() -> Self::Outcome {
        Err(WaitError::Timeout)
    }
}

/// Says what happened: any number per segment, across processes and threads (`Clone`,
/// `Sync`: `notify` takes `&self`).
///
/// ```
/// let (notifier, mut listener) = shmring::event::channel(16)?;
/// let other = notifier.clone();
/// std::thread::spawn(move || other.notify(5).unwrap()).join().unwrap();
/// assert_eq!(listener.wait()?.as_slice(), [5]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Notifier {
    board: Arc<Board>,
    #[cfg(not(shmring_loom))]
    local: Arc<NotifierLocal>,
}

/// What the clones of a notifier share in this process.
#[cfg(not(shmring_loom))]
#[derive(Debug, Default)]
struct NotifierLocal {
    /// Pidfds of signal-woken listeners.
    targets: signal::Targets,
    /// When this notifier last looked for dead listeners (ns on the process clock).
    reaped_at: AtomicU64,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("event::Notifier")
            .field("board", &self.board)
            .finish()
    }
}

impl Notifier {
    /// Records `id` for every live listener and wakes those that sleep (no system call when
    /// none does); a listener that asked for a signal gets one when the id was not already
    /// pending for it. Never waits.
    ///
    /// # Errors
    ///
    /// [`NotifyError::OutOfRange`] for an id not below [`max_ids`](Self::max_ids) (nothing
    /// recorded); the signal errors and `Corrupted` for one listener (the id is recorded
    /// for all, and the others are woken).
    ///
    /// ```
    /// use shmring::event::NotifyError;
    /// let (notifier, _listener) = shmring::event::channel(8)?;
    /// notifier.notify(7)?;
    /// assert!(matches!(notifier.notify(8), Err(NotifyError::OutOfRange { id: 8, max_ids: 8 })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn notify(&self, id: u32) -> Result<(), NotifyError> {
        if id >= self.board.shape.max_ids {
            return Err(NotifyError::OutOfRange {
                id,
                max_ids: self.board.shape.max_ids,
            });
        }
        let mut live = self.board.live();
        let mut result = Ok(());
        while live != 0 {
            let record = live.trailing_zeros() as usize;
            live &= live - 1;
            let (newly, waiting) = self.board.deliver(record, id);
            if waiting {
                self.wake(record);
            }
            if newly && let Err(e) = self.signal(record, id) {
                result = Err(e);
            }
        }
        result
    }

    /// Queues the signal a listener asked for, if it asked for one (`id` newly pending).
    #[cfg(not(shmring_loom))]
    #[inline]
    fn signal(&self, record: usize, id: u32) -> Result<(), NotifyError> {
        match self.board.signal(record) {
            0 => Ok(()),
            signal => self.local.targets.send(&self.board, record, signal, id),
        }
    }

    #[cfg(shmring_loom)]
    fn signal(&self, _record: usize, _id: u32) -> Result<(), NotifyError> {
        Ok(())
    }

    /// Wakes a sleeping listener; at most once a liveness period, also frees the records of
    /// listeners found dead (a killed listener may have left its waiting flag set, which
    /// would cost every notify a system call).
    #[cold]
    fn wake(&self, record: usize) {
        self.board.wake(record);
        #[cfg(not(shmring_loom))]
        {
            use std::sync::atomic::Ordering;
            let now = crate::liveness::now_ns();
            let last = self.local.reaped_at.load(Ordering::Relaxed);
            if now.saturating_sub(last) >= crate::wait::LIVENESS_PERIOD.as_nanos() as u64 {
                self.local.reaped_at.store(now, Ordering::Relaxed);
                self.board.reap_dead();
            }
        }
    }

    /// The segment's number of ids: ids are `0..max_ids`.
    ///
    /// ```
    /// let (notifier, _listener) = shmring::event::channel(100)?;
    /// assert_eq!(notifier.max_ids(), 100);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn max_ids(&self) -> u32 {
        self.board.shape.max_ids
    }

    /// How many listeners are attached now (including any killed one not yet found dead).
    ///
    /// ```
    /// let (notifier, listener) = shmring::event::channel(8)?;
    /// assert_eq!(notifier.listeners(), 1);
    /// drop(listener);
    /// assert_eq!(notifier.listeners(), 0);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn listeners(&self) -> usize {
        self.board.live().count_ones() as usize
    }
}

/// Waits for ids: any number per segment (up to 64 attached at once), each with its own
/// set of pending ids. Waits take `&mut self`; send the listener to the thread that waits.
///
/// ```
/// let (notifier, mut listener) = shmring::event::channel(16)?;
/// notifier.notify(1)?;
/// assert_eq!(listener.try_wait()?.as_slice(), [1]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Listener {
    board: Arc<Board>,
    record: usize,
    waiter: Waiter,
    corrupted: bool,
    /// The realtime signal notifiers wake it with, if it asked for one.
    signal: Option<i32>,
    #[cfg(not(shmring_loom))]
    readiness: crate::notify::Readiness,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("event::Listener")
            .field("board", &self.board)
            .field("record", &self.record)
            .field("signal", &self.signal)
            .finish()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // The readiness helper (sleeping on this record's futex) stops before the record
        // can go to another listener.
        #[cfg(not(shmring_loom))]
        drop(std::mem::take(&mut self.readiness));
        self.board.release(self.record);
    }
}

impl Listener {
    /// Joins `board` as a listener (woken by `signal` if given).
    fn join(board: Arc<Board>, me: u64, signal: Option<i32>) -> Result<Listener, OpenError> {
        let pid_ns = crate::liveness::pid_ns();
        let sig = signal.map_or(0, |s| s as u32);
        let record = match board.claim(me, pid_ns, sig) {
            Some(record) => record,
            None => {
                board.reap_dead();
                board
                    .claim(me, pid_ns, sig)
                    .ok_or_else(|| OpenError::ParticipantsFull {
                        name: board_name(&board),
                        max: board::LISTENERS,
                    })?
            }
        };
        Ok(Listener {
            board,
            record,
            waiter: Waiter::new(crate::wait::default_strategy()),
            corrupted: false,
            signal,
            #[cfg(not(shmring_loom))]
            readiness: crate::notify::Readiness::default(),
        })
    }

    /// Takes the ids notified since the last wait, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryWaitError::Empty`] when there are none; [`TryWaitError::Corrupted`] when the
    /// bitmap held bits no notifier can set (from then on).
    ///
    /// ```
    /// use shmring::event::TryWaitError;
    /// let (notifier, mut listener) = shmring::event::channel(16)?;
    /// assert_eq!(listener.try_wait(), Err(TryWaitError::Empty));
    /// notifier.notify(4)?;
    /// assert_eq!(listener.try_wait()?.as_slice(), [4]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_wait(&mut self) -> Result<EventSet, TryWaitError> {
        if self.corrupted {
            return Err(TryWaitError::Corrupted);
        }
        let mut ids = Vec::new();
        if self.board.take(self.record, &mut ids).is_err() {
            self.corrupted = true;
            return Err(TryWaitError::Corrupted);
        }
        if ids.is_empty() {
            Err(TryWaitError::Empty)
        } else {
            Ok(EventSet { ids })
        }
    }

    /// Waits as long as it takes for ids, then takes every id notified since the last wait.
    ///
    /// # Errors
    ///
    /// [`WaitError::Corrupted`] as `try_wait`.
    ///
    /// ```
    /// let (notifier, mut listener) = shmring::event::channel(16)?;
    /// let t = std::thread::spawn(move || notifier.notify(3).unwrap());
    /// assert_eq!(listener.wait()?.as_slice(), [3]);
    /// t.join().unwrap();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(&mut self) -> Result<EventSet, WaitError> {
        self.wait_until(None)
    }

    /// As [`wait`](Self::wait), for at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`], [`WaitError::Corrupted`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let (_notifier, mut listener) = shmring::event::channel(16)?;
    /// let r = listener.wait_timeout(Duration::from_millis(1));
    /// assert_eq!(r, Err(shmring::event::WaitError::Timeout));
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<EventSet, WaitError> {
        self.wait_until(Some(Instant::now() + timeout))
    }

    /// As [`wait`](Self::wait), until `deadline`.
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`], [`WaitError::Corrupted`].
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (notifier, mut listener) = shmring::event::channel(16)?;
    /// notifier.notify(0)?;
    /// let set = listener.wait_deadline(Instant::now() + Duration::from_secs(1))?;
    /// assert_eq!(set.as_slice(), [0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_deadline(&mut self, deadline: Instant) -> Result<EventSet, WaitError> {
        self.wait_until(Some(deadline))
    }

    fn wait_until(&mut self, deadline: Option<Instant>) -> Result<EventSet, WaitError> {
        let board = self.board.clone();
        let event = EventCount {
            seq: board.seq(self.record),
            waiting: Waiting::Flag(board.waiting(self.record)),
        };
        let mut waiter = self.waiter;
        let outcome = waiter.wait(&*board, event, deadline, |_| {
            use crate::wait::Attempt;
            self.try_wait().step()
        });
        self.waiter = waiter;
        outcome.unwrap_or(Err(WaitError::Timeout))
    }

    /// The segment's number of ids: ids are `0..max_ids`.
    ///
    /// ```
    /// let (_notifier, listener) = shmring::event::channel(100)?;
    /// assert_eq!(listener.max_ids(), 100);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn max_ids(&self) -> u32 {
        self.board.shape.max_ids
    }

    /// The realtime signal notifiers wake this listener with, if it asked for one
    /// ([`RingOptions::signal`](crate::RingOptions::signal)).
    ///
    /// ```
    /// let (_notifier, listener) = shmring::event::channel(8)?;
    /// assert_eq!(listener.signal(), None);
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn signal(&self) -> Option<i32> {
        self.signal
    }

    /// This listener waiting with `strategy` (see [`WaitStrategy`]).
    ///
    /// ```
    /// let (_notifier, listener) = shmring::event::channel(8)?;
    /// let listener = listener.with_wait_strategy(shmring::WaitStrategy::BusyPoll);
    /// # let _ = listener;
    /// # Ok::<(), shmring::OpenError>(())
    /// ```
    pub fn with_wait_strategy(mut self, strategy: WaitStrategy) -> Listener {
        self.waiter = Waiter::new(strategy);
        self
    }
}

/// The name a board's errors use.
#[cfg(not(shmring_loom))]
fn board_name(board: &Board) -> String {
    board.segment().name().to_owned()
}

#[cfg(shmring_loom)]
fn board_name(_board: &Board) -> String {
    "model".to_owned()
}

/// A notifier and a listener on a new event segment on this process's heap, with ids
/// `0..max_ids` (for threads; more listeners with [`Notifier::subscribe`]).
///
/// # Errors
///
/// [`OpenError::InvalidConfig`] for `max_ids` out of `1..=MAX_IDS`.
///
/// ```
/// let (notifier, mut listener) = shmring::event::channel(32)?;
/// notifier.notify(31)?;
/// assert_eq!(listener.wait()?.as_slice(), [31]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn channel(max_ids: u32) -> Result<(Notifier, Listener), OpenError> {
    #[cfg(not(shmring_loom))]
    {
        let segment = create_segment(
            crate::Location::Heap,
            u64::from(max_ids),
            crate::DEFAULT_MODE,
        )?;
        let board = Arc::new(attach(Arc::new(segment))?);
        let listener = Listener::join(board.clone(), identity(&board)?, None)?;
        Ok((Notifier::on(board), listener))
    }
    #[cfg(shmring_loom)]
    {
        let shape = shape_of(max_ids as u64, "model")?;
        let board = Arc::new(Board::model(shape));
        let listener = Listener::join(board.clone(), 0, None)?;
        Ok((Notifier { board }, listener))
    }
}

impl Notifier {
    #[cfg(not(shmring_loom))]
    fn on(board: Arc<Board>) -> Notifier {
        Notifier {
            board,
            local: Arc::default(),
        }
    }

    /// A new listener on this notifier's segment (from the ids notified after it joins).
    ///
    /// # Errors
    ///
    /// [`OpenError::ParticipantsFull`] when 64 live listeners are attached.
    ///
    /// ```
    /// let (notifier, mut a) = shmring::event::channel(8)?;
    /// let mut b = notifier.subscribe()?;
    /// notifier.notify(1)?;
    /// assert_eq!((a.wait()?.as_slice(), b.wait()?.as_slice()), (&[1][..], &[1][..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn subscribe(&self) -> Result<Listener, OpenError> {
        #[cfg(not(shmring_loom))]
        let me = identity(&self.board)?;
        #[cfg(shmring_loom)]
        let me = 0;
        Listener::join(self.board.clone(), me, None)
    }
}

/// The shape for a requested `max_ids`, or the error naming the range.
fn shape_of(max_ids: u64, name: &str) -> Result<Shape, OpenError> {
    u32::try_from(max_ids)
        .ok()
        .and_then(Shape::of)
        .ok_or_else(|| OpenError::InvalidConfig {
            name: name.to_owned(),
            reason: format!(
                "max_ids {max_ids} is out of range: an event segment has 1..={MAX_IDS} ids"
            ),
        })
}

#[cfg(not(shmring_loom))]
fn identity(board: &Board) -> Result<u64, OpenError> {
    crate::liveness::identity(board.segment().name())
}

/// A new event segment at `location` with ids `0..max_ids`.
#[cfg(not(shmring_loom))]
fn create_segment(
    location: crate::Location,
    max_ids: u64,
    mode: u32,
) -> Result<crate::Segment, OpenError> {
    let shape = shape_of(max_ids, &location.display_name())?;
    crate::SegmentOptions::new(crate::RingKind::Event)
        .payload::<u64>()
        .capacity(max_ids)
        .area_size(shape.area_size() as u64)
        .mode(mode)
        .create(location)
}

/// The event segment at `location`, its area checked against its `max_ids`.
#[cfg(not(shmring_loom))]
fn open_segment(location: crate::Location) -> Result<crate::Segment, OpenError> {
    crate::SegmentOptions::new(crate::RingKind::Event)
        .payload::<u64>()
        .open(location)
}

/// The board of an event segment (opened or created), after checking its area's size.
#[cfg(not(shmring_loom))]
fn attach(segment: Arc<crate::Segment>) -> Result<Board, OpenError> {
    let info = segment.info();
    let bad = |field, value| OpenError::Corrupted {
        name: segment.name().to_owned(),
        reason: crate::header::HeaderError::BadField { field, value },
    };
    let shape = u32::try_from(info.capacity)
        .ok()
        .and_then(Shape::of)
        .ok_or_else(|| bad("capacity", info.capacity))?;
    if info.area_size != shape.area_size() as u64 || segment.area_len() < shape.area_size() {
        return Err(bad("area_size", info.area_size));
    }
    Ok(Board::mapped(segment, shape))
}

#[cfg(not(shmring_loom))]
mod handles;
