//! Waiting for a peer: adaptive spin → yield → park on an eventcount futex word.
//!
//! Each direction of a ring has an **eventcount**: a 32-bit futex word `seq` and a `waiting`
//! flag, both in shared memory. The protocol (proved by the loom models in
//! `tests/loom_spsc.rs`, described in `docs/protocols.md`):
//!
//! * a **waiter** reads `key = seq` (Acquire), sets `waiting = 1`, issues a SeqCst fence,
//!   re-checks its condition, and only then sleeps with `futex_wait(seq, key)`;
//! * a **notifier** publishes (Release store of its index), issues a SeqCst fence, and only if
//!   it sees `waiting != 0` bumps `seq` and calls `futex_wake`.
//!
//! The two fences order the flag and the index: either the waiter's re-check sees the new
//! index, or the notifier sees the flag. A fence on every send costs a full drain of the store
//! buffer, so where the kernel offers it the notifier's fence is made asymmetric: processes
//! register for `membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)`, notify after only a compiler
//! fence, and a waiter issues the membarrier (a full barrier on every CPU running a registered
//! process) right after its own fence, before it re-checks — the cost moves from every send
//! to every sleep. So a notifier makes **no system call when nobody
//! sleeps**, and a wake-up is never lost. Sleeps are cut into slices of [`LIVENESS_PERIOD`] so
//! that a peer that died without notifying is noticed within a bounded time.

use std::time::{Duration, Instant};

use crate::futex::Woken;
use crate::sync::{AtomicU32, AtomicU64, Mutex, Ordering, fence, spin_loop, yield_now};

/// Longest single sleep; a waiter re-checks its peer's liveness at least this often.
pub const LIVENESS_PERIOD: Duration = Duration::from_millis(10);
/// Default spin budget (iterations of the CPU spin hint) before yielding: about 50 µs on the
/// development machine (25 ns per hint), the same order as a cross-core futex wake-up there
/// (about 30 µs) — spinning longer than a wake-up costs does not pay.
pub const DEFAULT_SPIN: u32 = 1 << 11;
/// Default number of `sched_yield` calls between spinning and sleeping.
pub const DEFAULT_YIELDS: u32 = 4;
/// Spin hints a blocking waiter gives before it starts sharing its core: about 1.6 µs on the
/// development machine, longer than a round trip (0.12–0.5 µs), so a reply that is on its way
/// is caught by pure spinning.
const SHARE_AFTER: u32 = 64;
/// After [`SHARE_AFTER`], one spin hint in this many is a `sched_yield` instead: a waiter
/// whose peer needs the same core (more busy processes than cores — three processes of a
/// broadcast ring on two) hands it over within half a microsecond instead of spinning its
/// whole budget away while the peer cannot run; alone on its core the yield returns at once.
/// Measured: two broadcast receivers on two cores from 10 to 78 M messages/s each.
const SHARE_EVERY: u32 = 16;
/// The longest a non-blocking call (`try_recv`, `try_send`, …) of a ring with many producers
/// or consumers waits for another participant to finish an operation it is in the middle of
/// (a slot or record claimed and not yet published or released) before it reports `Empty` or
/// `Full` anyway. A participant proven dead is settled by the crash protocol well within it;
/// only a live one that stays stopped mid-operation (a debugger, `SIGSTOP`, a long
/// preemption on an overloaded machine) makes a try call give up — the message it holds up
/// arrives when it resumes. Ten liveness periods: on a two-core machine with three times as
/// many busy threads as cores, one period was measured to be too short for a preempted
/// claimer to be scheduled again (crossbeam's `linearizable` failed), ten never were.
pub const CLAIM_PATIENCE: Duration = Duration::from_millis(100);

/// How a handle waits when the ring is full (sender) or empty (receiver).
///
/// ```
/// use shmring::WaitStrategy;
///
/// let default = WaitStrategy::default();
/// assert!(matches!(default, WaitStrategy::Blocking { .. }));
/// let tight = WaitStrategy::Blocking { spin: 1000, yields: 0 };
/// let pinned = WaitStrategy::BusyPoll;
/// # let _ = (tight, pinned);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStrategy {
    /// Spin up to `spin` iterations (adapting down when spinning does not pay; past the
    /// first 64, one in 16 is a `sched_yield`, so a peer that needs this core runs), yield
    /// `yields` times, then sleep on the futex. The peer's sends or receives cost no system
    /// call unless this side is asleep.
    Blocking {
        /// Spin budget, in spin-hint iterations.
        spin: u32,
        /// `sched_yield` calls after spinning, before sleeping.
        yields: u32,
    },
    /// Never sleep: spin until the condition holds or the deadline passes. For processes
    /// pinned to their own cores. A busy-polling handle still wakes a peer that sleeps, so
    /// either side may use it whatever the other does.
    BusyPoll,
}

impl Default for WaitStrategy {
    fn default() -> Self {
        WaitStrategy::Blocking {
            spin: DEFAULT_SPIN,
            yields: DEFAULT_YIELDS,
        }
    }
}

/// The strategy of new handles of the participant-table rings (mpmc, framed::mpsc,
/// broadcast): the default; under loom no spinning, so that every wait goes to sleep and loom
/// explores the futex protocol instead of unrolling spin loops.
pub(crate) fn default_strategy() -> WaitStrategy {
    if cfg!(shmring_loom) {
        WaitStrategy::Blocking { spin: 0, yields: 0 }
    } else {
        WaitStrategy::default()
    }
}

/// Sleeping on and waking a futex word; the mapped implementation uses the real system call,
/// the loom one a model mutex and condition variable.
pub(crate) trait Futex {
    /// Sleeps while `*word == expected`, at most until `deadline`.
    fn futex_wait(&self, word: &AtomicU32, expected: u32, deadline: Option<Instant>) -> Woken;
    /// Wakes every sleeper on `word`.
    fn futex_wake(&self, word: &AtomicU32);
    /// A full barrier in every process that notifies with only a compiler fence (see
    /// [`EventCount::notify`]).
    fn heavy_barrier(&self);
    /// Before sleeping: [`heavy_barrier`](Futex::heavy_barrier), unless the ring's notifiers
    /// all fence after every send (`RingOptions::fence_every_send`).
    fn sleeper_barrier(&self);
}

/// One direction's eventcount: the futex word and who is (about to be) asleep on it.
#[derive(Clone, Copy)]
pub(crate) struct EventCount<'a> {
    pub seq: &'a AtomicU32,
    pub waiting: Waiting<'a>,
}

/// How sleepers announce themselves to notifiers.
#[derive(Clone, Copy)]
pub(crate) enum Waiting<'a> {
    /// At most one sleeper per direction (spsc): a 0/1 flag.
    Flag(&'a AtomicU32),
    /// Many sleepers (mpmc): one bit per participant record in a 64-bit mask, so a dead
    /// participant's bit can be cleared exactly by whoever reaps it. `local` counts this
    /// process's threads asleep under `bit` (the first sets it, the last clears it).
    Mask {
        word: &'a AtomicU64,
        bit: u64,
        local: &'a Mutex<u32>,
    },
}

impl Waiting<'_> {
    /// Whether anybody may be asleep (the notifier's one load).
    #[inline]
    pub fn any(&self) -> bool {
        match self {
            Waiting::Flag(flag) => flag.load(Ordering::Relaxed) != 0,
            Waiting::Mask { word, .. } => word.load(Ordering::Relaxed) != 0,
        }
    }

    fn enter(&self) {
        match self {
            Waiting::Flag(flag) => flag.store(1, Ordering::Relaxed),
            Waiting::Mask { word, bit, local } => {
                let mut n = local.lock().unwrap_or_else(|e| e.into_inner());
                if *n == 0 {
                    word.fetch_or(*bit, Ordering::Relaxed);
                }
                *n += 1;
            }
        }
    }

    fn leave(&self) {
        match self {
            Waiting::Flag(flag) => flag.store(0, Ordering::Relaxed),
            Waiting::Mask { word, bit, local } => {
                let mut n = local.lock().unwrap_or_else(|e| e.into_inner());
                *n -= 1;
                if *n == 0 {
                    word.fetch_and(!*bit, Ordering::Relaxed);
                }
            }
        }
    }
}

impl EventCount<'_> {
    /// Called after publishing: wakes a sleeping peer, and costs no system call otherwise.
    ///
    /// `light`: this process is registered for `membarrier`, so every waiter runs a heavy
    /// barrier on this process's CPU before it sleeps, and a compiler fence suffices here.
    /// Otherwise a full SeqCst fence orders the publishing store before the flag load.
    #[inline]
    pub fn notify(&self, futex: &impl Futex, light: bool) {
        if light {
            std::sync::atomic::compiler_fence(Ordering::SeqCst);
        } else {
            fence(Ordering::SeqCst);
        }
        if self.waiting.any() {
            self.wake(futex);
        }
    }

    /// Wakes unconditionally (used when a handle closes).
    pub fn wake(&self, futex: &impl Futex) {
        self.seq.fetch_add(1, Ordering::Release);
        futex.futex_wake(self.seq);
    }
}

/// The patience of a try call: [`CLAIM_PATIENCE`], or 100 µs in fuzzing builds
/// (`--cfg fuzzing`, set by cargo-fuzz), where the fuzzer's writes can make any position look
/// claimed by some record and executions per second are what the fuzzer lives on.
#[cfg(not(fuzzing))]
const TRY_PATIENCE: Duration = CLAIM_PATIENCE;
#[cfg(fuzzing)]
const TRY_PATIENCE: Duration = Duration::from_micros(100);

/// Spin rounds (each twice the hints of the one before, up to 64) before yielding.
const PATIENT_SPINS: u32 = 8;
/// How often a patient wait looks for a dead claimer while yielding.
#[cfg(not(shmring_loom))]
const SETTLE_PERIOD: Duration = Duration::from_millis(1);

/// Waits out another participant's operation in flight for a non-blocking call: runs
/// `attempt` until it gives an outcome (`Some`), spinning with exponential backoff, then
/// yielding; at most [`CLAIM_PATIENCE`] in all (`None` after that). `attempt(true)` asks the
/// caller to settle the claims of dead participants first (the crash protocol's scan): on the
/// first yield and then every millisecond. Under loom there is no time: every round yields
/// and settles, and the wait ends when the claimer finishes or is settled.
pub(crate) fn patiently<R>(mut attempt: impl FnMut(bool) -> Option<R>) -> Option<R> {
    let mut round: u32 = 0;
    #[cfg(not(shmring_loom))]
    let mut clock: Option<(Instant, Instant)> = None;
    loop {
        let settle = if cfg!(shmring_loom) {
            round > 0
        } else {
            round == PATIENT_SPINS
        };
        if let Some(r) = attempt(settle) {
            return Some(r);
        }
        if round < PATIENT_SPINS && !cfg!(shmring_loom) {
            for _ in 0..1u32 << round.min(6) {
                spin_loop();
            }
        } else {
            yield_now();
            #[cfg(not(shmring_loom))]
            {
                let now = Instant::now();
                let (start, settled) = clock.get_or_insert((now, now));
                if now.duration_since(*start) >= TRY_PATIENCE {
                    return None;
                }
                if now.duration_since(*settled) >= SETTLE_PERIOD {
                    *settled = now;
                    if let Some(r) = attempt(true) {
                        return Some(r);
                    }
                }
            }
        }
        round = round.saturating_add(1);
    }
}

/// What one attempt at the waited-for operation found.
pub(crate) enum Step<R> {
    /// Finished (with success or a final error).
    Done(R),
    /// Not possible yet; wait and try again.
    Retry,
}

/// A try-operation's result as the waiting loops of every ring see it: "not now" (an empty
/// ring for a receive, a full one for a send) means wait and retry; anything else ends the
/// wait, with the error a deadline-bounded call returns.
pub(crate) trait Attempt: Sized {
    /// What the waiting call returns.
    type Outcome;
    /// Whether this attempt found "not now" (wait and retry).
    fn retry(&self) -> bool;
    /// What the waiting call returns for this (finished) attempt.
    fn done(self) -> Self::Outcome;
    /// What the waiting call returns when its deadline passes.
    fn timed_out() -> Self::Outcome;

    /// This attempt as a step of the waiting loop.
    ///
    /// Not for the first try of a hot path: building the step moves the result through
    /// memory (measured: the framed ring's 64 B throughput fell to a third when its sends
    /// tried first through `step`). Test [`retry`](Self::retry), then [`done`](Self::done).
    #[inline]
    fn step(self) -> Step<Self::Outcome> {
        if self.retry() {
            Step::Retry
        } else {
            Step::Done(self.done())
        }
    }
}

impl<V> Attempt for Result<V, crate::TryRecvError> {
    type Outcome = Result<V, crate::RecvTimeoutError>;

    #[inline]
    fn retry(&self) -> bool {
        matches!(self, Err(crate::TryRecvError::Empty))
    }

    #[inline]
    fn done(self) -> Self::Outcome {
        self.map_err(crate::RecvTimeoutError::from)
    }

    fn timed_out() -> Self::Outcome {
        Err(crate::RecvTimeoutError::Timeout)
    }
}

impl<V> Attempt for Result<V, crate::TrySendError<()>> {
    type Outcome = Result<V, crate::SendTimeoutError<()>>;

    #[inline]
    fn retry(&self) -> bool {
        matches!(self, Err(crate::TrySendError::Full(())))
    }

    #[inline]
    fn done(self) -> Self::Outcome {
        self.map_err(crate::error::try_to_timeout)
    }

    fn timed_out() -> Self::Outcome {
        Err(crate::SendTimeoutError::Timeout(()))
    }
}

impl<V> Attempt for Result<V, crate::framed::Refusal> {
    type Outcome = Self;

    #[inline]
    fn retry(&self) -> bool {
        matches!(self, Err(crate::framed::Refusal::Full))
    }

    #[inline]
    fn done(self) -> Self {
        self
    }

    fn timed_out() -> Self {
        Err(crate::framed::Refusal::Timeout)
    }
}

/// The per-handle waiting state: the strategy and the adaptive spin budget.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Waiter {
    strategy: WaitStrategy,
    spin_now: u32,
}

impl Waiter {
    pub fn new(strategy: WaitStrategy) -> Waiter {
        let spin_now = match strategy {
            WaitStrategy::Blocking { spin, .. } => spin,
            WaitStrategy::BusyPoll => 0,
        };
        Waiter { strategy, spin_now }
    }

    pub fn strategy(&self) -> WaitStrategy {
        self.strategy
    }

    /// Runs `attempt` until it answers anything but "not now" (see [`Attempt`]) or `deadline`
    /// passes, as [`wait`](Self::wait) does: every ring's blocking, timeout and deadline calls
    /// come down to this.
    pub(crate) fn until<A: Attempt>(
        &mut self,
        futex: &impl Futex,
        event: EventCount<'_>,
        deadline: Option<Instant>,
        mut attempt: impl FnMut(bool) -> A,
    ) -> A::Outcome {
        self.wait(futex, event, deadline, |force| attempt(force).step())
            .unwrap_or_else(A::timed_out)
    }

    /// Runs `attempt` until it is done or `deadline` passes (`None` on timeout). Between
    /// attempts: spin (sharing the core with a yield now and then once the spin is long:
    /// [`SHARE_EVERY`]), then yield, then sleep on `event`. `attempt(true)` asks for a full
    /// liveness check of the peer (after every sleep and every [`LIVENESS_PERIOD`] of
    /// busy-polling); `attempt(false)` may use cached liveness.
    pub fn wait<R>(
        &mut self,
        futex: &impl Futex,
        event: EventCount<'_>,
        deadline: Option<Instant>,
        mut attempt: impl FnMut(bool) -> Step<R>,
    ) -> Option<R> {
        let (budget, yields) = match self.strategy {
            WaitStrategy::Blocking { spin, yields } => (spin, yields),
            WaitStrategy::BusyPoll => (u32::MAX, 0),
        };
        let mut spins: u32 = 0;
        // Busy-polling re-checks the peer's process once per period of continuous waiting.
        let mut last_liveness: Option<Instant> = None;
        loop {
            if let Step::Done(r) = attempt(false) {
                if spins < self.spin_now {
                    self.spin_now = self.spin_now.saturating_mul(2).clamp(1, budget.max(1));
                }
                return Some(r);
            }
            // The clock is read every 128 iterations, not on the first: a short wait costs none.
            if spins % 128 == 127 {
                let now = Instant::now();
                if deadline.is_some_and(|d| now >= d) {
                    return None;
                }
                if self.strategy == WaitStrategy::BusyPoll {
                    let since = *last_liveness.get_or_insert(now);
                    if now.duration_since(since) >= LIVENESS_PERIOD {
                        last_liveness = Some(now);
                        if let Step::Done(r) = attempt(true) {
                            return Some(r);
                        }
                    }
                }
            }
            if self.strategy == WaitStrategy::BusyPoll {
                spins = spins.wrapping_add(1);
                spin_loop();
                continue;
            }
            if spins < self.spin_now {
                spins += 1;
                if spins >= SHARE_AFTER && spins % SHARE_EVERY == 0 {
                    yield_now();
                } else {
                    spin_loop();
                }
                continue;
            }
            if spins < self.spin_now.saturating_add(yields) {
                spins += 1;
                yield_now();
                continue;
            }
            // Spinning did not pay this time: spin less next time (never below 1/16).
            self.spin_now = (self.spin_now / 2).max(budget / 16);
            if let Some(r) = self.park(futex, event, deadline, &mut attempt) {
                return r;
            }
        }
    }

    /// Spins (no yield, no sleep) up to the adaptive spin budget, calling `attempt` between
    /// hints: what an async waiter does before it registers, so that a reply that is about to
    /// come is caught without a wake-up. Adapts the budget as [`wait`](Waiter::wait) does.
    #[cfg(all(feature = "tokio", not(shmring_loom)))]
    pub fn spin<R>(&mut self, mut attempt: impl FnMut() -> Step<R>) -> Option<R> {
        let (budget, limit) = match self.strategy {
            WaitStrategy::Blocking { spin, .. } => (spin, self.spin_now),
            WaitStrategy::BusyPoll => (DEFAULT_SPIN, DEFAULT_SPIN),
        };
        for spins in 0..limit {
            if let Step::Done(r) = attempt() {
                if spins < self.spin_now {
                    self.spin_now = self.spin_now.saturating_mul(2).clamp(1, budget.max(1));
                }
                return Some(r);
            }
            spin_loop();
        }
        self.spin_now = (self.spin_now / 2).max(budget / 16);
        None
    }

    /// Registers as waiting, re-checks, and sleeps one slice. `Some(None)`: the deadline
    /// passed; `Some(Some(r))`: done; `None`: try again.
    fn park<R>(
        &mut self,
        futex: &impl Futex,
        event: EventCount<'_>,
        deadline: Option<Instant>,
        attempt: &mut impl FnMut(bool) -> Step<R>,
    ) -> Option<Option<R>> {
        let key = event.seq.load(Ordering::Acquire);
        event.waiting.enter();
        fence(Ordering::SeqCst);
        futex.sleeper_barrier();
        if let Step::Done(r) = attempt(false) {
            event.waiting.leave();
            return Some(Some(r));
        }
        let slice = slice_deadline(deadline);
        let woken = futex.futex_wait(event.seq, key, slice);
        event.waiting.leave();
        if let Step::Done(r) = attempt(true) {
            return Some(Some(r));
        }
        let timed_out = woken == Woken::TimedOut || slice.is_some_and(|s| Instant::now() >= s);
        if timed_out && deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(None);
        }
        None
    }
}

/// The end of the next sleep: the caller's deadline or one liveness period, whichever comes
/// first. Under loom there is no time: sleeps last until woken.
#[cfg(not(shmring_loom))]
fn slice_deadline(deadline: Option<Instant>) -> Option<Instant> {
    let slice = Instant::now() + LIVENESS_PERIOD;
    Some(deadline.map_or(slice, |d| d.min(slice)))
}

#[cfg(shmring_loom)]
fn slice_deadline(_deadline: Option<Instant>) -> Option<Instant> {
    None
}
