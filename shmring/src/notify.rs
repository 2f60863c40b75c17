//! Readiness descriptors for ring handles: an eventfd that becomes readable when the handle
//! may proceed, for epoll, mio and tokio users.
//!
//! A futex cannot be polled, so a handle that is asked for readiness gets a *bridge*: an
//! eventfd and a helper thread of its own. To wait, the handle registers in the direction's
//! shared `waiting` word exactly as a blocking waiter does (read the eventcount key, set the
//! flag, full fence, re-check the ring) and hands the key to the helper, which sleeps on the
//! futex in its place and writes the eventfd when woken. The peer therefore sees an ordinary
//! sleeper: it notifies only when the flag is set — a peer pays nothing while nobody waits —
//! and nothing in shared memory or in the peer changes. The helper sleeps in slices of
//! [`LIVENESS_PERIOD`](crate::wait::LIVENESS_PERIOD) and signals at the end of each, so a peer
//! that dies without waking anyone is noticed by the next attempt (which then checks the
//! peer's liveness).
//!
//! Disarming (a dropped future, a dropped handle) wakes the helper through the eventcount,
//! so the flag is cleared at once and no later notify pays a system call for a waiter that
//! is gone.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use nix::sys::eventfd::{EfdFlags, EventFd};

use crate::Segment;
use crate::wait::LIVENESS_PERIOD;

/// What the helper is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Command {
    /// Nothing: wait for the next arm.
    Idle,
    /// The handle has set the waiting flag and is re-checking its condition (the helper
    /// must not clear the flag now).
    Registered,
    /// Sleep on the eventcount while its sequence still reads this key.
    Armed(u32),
    /// Leave.
    Stop,
}

/// How a waiter announces itself in the direction's shared waiting word.
#[derive(Clone)]
pub(crate) enum WaitWord<'a> {
    /// A 0/1 flag (spsc and framed rings: one waiter per direction).
    Flag(&'a AtomicU32),
    /// This handle's bit in a mask (the mpmc participant table: one bit per record; used
    /// for a handle that is its record's only waiter, such as a framed many-producer
    /// receiver).
    Bit(&'a AtomicU64, u64),
    /// This handle's record bit in a mask, shared with the other waiters of the record in
    /// this process (the mpmc handles and many-producer senders, which are `Clone` and
    /// `Sync`): `local` counts them, the first sets the bit and the last clears it, exactly
    /// as blocking waiters do (`wait::Waiting::Mask`).
    Counted(&'a AtomicU64, u64, Arc<Mutex<u32>>),
}

/// [`WaitWord`] as raw pointers into the mapping.
enum RawWord {
    Flag(*const AtomicU32),
    Bit(*const AtomicU64, u64),
    Counted(*const AtomicU64, u64, Arc<Mutex<u32>>),
}

/// State shared by a handle and its helper thread.
struct Shared {
    /// Keeps the mapping of `seq` and the waiting word alive.
    _segment: Arc<Segment>,
    seq: *const AtomicU32,
    word: RawWord,
    command: Mutex<Command>,
    changed: Condvar,
    eventfd: EventFd,
    /// The last signal ended a slice without a wake-up: check the peer's liveness.
    timed_out: AtomicBool,
    /// Whether this bridge counts among its record's waiters (`RawWord::Counted` only).
    entered: AtomicBool,
}

// SAFETY: `seq` and the waiting word point into the mapping `_segment` keeps alive for as
// long as this value exists, and are only used as atomics, which any thread may access.
unsafe impl Send for Shared {}
// SAFETY: as above; the rest is Sync.
unsafe impl Sync for Shared {}

impl Shared {
    fn seq(&self) -> &AtomicU32 {
        // SAFETY: valid while `_segment` keeps the mapping (see the Send impl).
        unsafe { &*self.seq }
    }

    /// Announces a waiter (idempotent).
    fn enter(&self) {
        match self.word {
            // SAFETY: as for `seq`.
            RawWord::Flag(flag) => unsafe { &*flag }.store(1, Ordering::Relaxed),
            RawWord::Bit(word, bit) => {
                // SAFETY: as for `seq`.
                unsafe { &*word }.fetch_or(bit, Ordering::Relaxed);
            }
            RawWord::Counted(word, bit, ref local) => {
                if !self.entered.swap(true, Ordering::Relaxed) {
                    let mut n = local.lock().unwrap_or_else(|e| e.into_inner());
                    if *n == 0 {
                        // SAFETY: as for `seq`.
                        unsafe { &*word }.fetch_or(bit, Ordering::Relaxed);
                    }
                    *n += 1;
                }
            }
        }
    }

    /// Withdraws the waiter (idempotent).
    fn leave(&self) {
        match self.word {
            // SAFETY: as for `seq`.
            RawWord::Flag(flag) => unsafe { &*flag }.store(0, Ordering::Relaxed),
            RawWord::Bit(word, bit) => {
                // SAFETY: as for `seq`.
                unsafe { &*word }.fetch_and(!bit, Ordering::Relaxed);
            }
            RawWord::Counted(word, bit, ref local) => {
                if self.entered.swap(false, Ordering::Relaxed) {
                    let mut n = local.lock().unwrap_or_else(|e| e.into_inner());
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        // SAFETY: as for `seq`.
                        unsafe { &*word }.fetch_and(!bit, Ordering::Relaxed);
                    }
                }
            }
        }
    }

    /// The command word, locked (a panic elsewhere cannot wedge it: the data is plain).
    fn command(&self) -> std::sync::MutexGuard<'_, Command> {
        self.command.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn signal(&self) {
        let _ = self.eventfd.write(1);
    }
}

/// An eventfd signalled by a helper thread that sleeps on one direction's eventcount.
pub(crate) struct Bridge {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge").finish_non_exhaustive()
    }
}

impl Bridge {
    /// A bridge for the eventcount whose sequence word is `seq` and whose waiting word is
    /// `word`, both inside `segment`'s mapping.
    pub(crate) fn new(
        segment: Arc<Segment>,
        seq: &AtomicU32,
        word: WaitWord<'_>,
    ) -> io::Result<Bridge> {
        let eventfd = EventFd::from_flags(EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC)?;
        let shared = Arc::new(Shared {
            _segment: segment,
            seq,
            word: match word {
                WaitWord::Flag(flag) => RawWord::Flag(flag),
                WaitWord::Bit(mask, bit) => RawWord::Bit(mask, bit),
                WaitWord::Counted(mask, bit, local) => RawWord::Counted(mask, bit, local),
            },
            command: Mutex::new(Command::Idle),
            changed: Condvar::new(),
            eventfd,
            timed_out: AtomicBool::new(false),
            entered: AtomicBool::new(false),
        });
        let helper = shared.clone();
        let thread = std::thread::Builder::new()
            .name("shmring-notify".into())
            .spawn(move || run(&helper))?;
        Ok(Bridge {
            shared,
            thread: Some(thread),
        })
    }

    /// The eventfd: readable after a wake-up (or a slice's end) since the last
    /// [`consume`](Bridge::consume).
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.shared.eventfd.as_fd()
    }

    /// Registers as a waiter: the sequence key, read before the waiter is announced. The caller
    /// must then re-check its condition and either [`arm`](Bridge::arm) or
    /// [`cancel`](Bridge::cancel).
    pub(crate) fn register(&self) -> u32 {
        let key = self.shared.seq().load(Ordering::Acquire);
        {
            let mut command = self.shared.command();
            if *command != Command::Stop {
                *command = Command::Registered;
            }
            self.shared.enter();
        }
        std::sync::atomic::fence(Ordering::SeqCst);
        if crate::futex::register_barrier() {
            crate::futex::heavy_barrier();
        }
        key
    }

    /// The condition held after all: leave the waiting flag as it was before.
    pub(crate) fn cancel(&self) {
        let mut command = self.shared.command();
        if *command == Command::Registered {
            *command = Command::Idle;
        }
        self.shared.leave();
    }

    /// Hands `key` to the helper, which sleeps until the eventcount moves past it.
    pub(crate) fn arm(&self, key: u32) {
        let mut command = self.shared.command();
        if *command != Command::Stop {
            *command = Command::Armed(key);
        }
        self.shared.changed.notify_one();
    }

    /// Stops waiting: the helper is woken, clears the flag and goes idle.
    pub(crate) fn disarm(&self) {
        let armed = {
            let mut command = self.shared.command();
            let armed = matches!(*command, Command::Armed(_));
            if matches!(*command, Command::Armed(_) | Command::Registered) {
                *command = Command::Idle;
            }
            // Cleared here, not left to the helper: it may not have taken the arm yet (then
            // nothing wakes it, and the flag would stay set). Found by tests/loom_notify.rs.
            self.shared.leave();
            armed
        };
        if armed {
            self.kick();
        }
    }

    /// Reads the eventfd back to not-readable; whether a slice ended without a wake-up since
    /// the last call (the caller should then check its peer's liveness).
    pub(crate) fn consume(&self) -> bool {
        let _ = self.shared.eventfd.read();
        self.shared.timed_out.swap(false, Ordering::Relaxed)
    }

    /// Wakes the helper's futex sleep (a spurious eventcount step: sleepers re-check).
    fn kick(&self) {
        self.shared.seq().fetch_add(1, Ordering::Release);
        crate::futex::wake_all(self.shared.seq());
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        *self.shared.command() = Command::Stop;
        self.shared.changed.notify_one();
        self.kick();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.shared.leave();
    }
}

/// The helper: sleeps on the eventcount for each arm, then clears the flag and signals.
fn run(shared: &Shared) {
    loop {
        let key = {
            let mut command = shared.command();
            loop {
                match *command {
                    Command::Idle | Command::Registered => {
                        command = shared
                            .changed
                            .wait(command)
                            .unwrap_or_else(|e| e.into_inner());
                    }
                    Command::Armed(key) => break key,
                    Command::Stop => return,
                }
            }
        };
        let slice = Instant::now() + LIVENESS_PERIOD;
        let woken = crate::futex::wait(shared.seq(), key, Some(slice));
        let timed_out =
            woken == crate::futex::Woken::TimedOut && shared.seq().load(Ordering::Acquire) == key;
        let mut command = shared.command();
        match *command {
            Command::Stop => return,
            Command::Armed(k) if k == key => {
                shared.leave();
                *command = Command::Idle;
                drop(command);
                if timed_out {
                    shared.timed_out.store(true, Ordering::Relaxed);
                }
                shared.signal();
            }
            // Re-armed with a newer key, or registering anew, while this sleep ended: the flag
            // stays set for that wait.
            Command::Armed(_) | Command::Registered => {}
            // Disarmed: the flag goes, nobody is told.
            Command::Idle => shared.leave(),
        }
    }
}

/// A handle's readiness state: its bridge (made on first use) and, for async calls, the
/// bridge's eventfd registered with the tokio reactor.
#[derive(Debug, Default)]
pub(crate) struct Readiness {
    bridge: Option<Arc<Bridge>>,
    #[cfg(feature = "tokio")]
    registered: Option<Arc<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>>>,
}

impl Readiness {
    /// The bridge, made by `make` on first use.
    pub(crate) fn bridge(
        &mut self,
        make: impl FnOnce() -> io::Result<Bridge>,
    ) -> io::Result<Arc<Bridge>> {
        if self.bridge.is_none() {
            self.bridge = Some(Arc::new(make()?));
        }
        Ok(self.bridge.clone().expect("just made"))
    }

    /// Whether the bridge is made.
    pub(crate) fn has_bridge(&self) -> bool {
        self.bridge.is_some()
    }

    /// Registration, step 1, on the bridge made already (see [`Bridge::register`]).
    pub(crate) fn register(&self) -> u32 {
        self.bridge
            .as_ref()
            .expect("the bridge is made before registering")
            .register()
    }

    /// The eventfd of a bridge made already.
    pub(crate) fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.bridge.as_ref().map(|b| b.fd())
    }

    /// Registration, step 2: arm the helper if the handle must `wait`, else take the
    /// registration back; returns `wait`.
    pub(crate) fn finish_register(&self, key: u32, wait: bool) -> bool {
        if let Some(bridge) = &self.bridge {
            if wait {
                bridge.arm(key);
            } else {
                bridge.cancel();
            }
        }
        wait
    }

    /// Reads the eventfd back; whether the peer's liveness should be checked.
    pub(crate) fn clear(&self) -> bool {
        self.bridge.as_ref().is_some_and(|b| b.consume())
    }

    pub(crate) fn cancel(&self) {
        if let Some(bridge) = &self.bridge {
            bridge.disarm();
        }
    }

    /// After a registration (`armed`: its result), awaits the eventfd; whether the peer's
    /// liveness should be checked (a slice ended without a wake-up). Without an eventfd or
    /// a reactor, sleeps a millisecond instead.
    #[cfg(feature = "tokio")]
    pub(crate) async fn wait(&mut self, armed: io::Result<bool>) -> bool {
        match armed {
            Ok(true) => {}
            Ok(false) => return false,
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                return true;
            }
        }
        let Some(bridge) = self.bridge.clone() else {
            return false;
        };
        if self.registered.is_none() {
            self.registered = bridge.fd().try_clone_to_owned().ok().and_then(|fd| {
                // SAFETY: `fd` is an open descriptor the AsyncFd owns and closes when dropped.
                unsafe {
                    tokio::io::unix::AsyncFd::register_with_interest(
                        fd,
                        tokio::io::Interest::READABLE,
                    )
                }
                .ok()
                .map(Arc::new)
            });
        }
        let Some(fd) = self.registered.clone() else {
            bridge.disarm();
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            return true;
        };
        /// Disarms the helper if the future is dropped while waiting.
        struct Disarm<'a>(&'a Bridge, bool);
        impl Drop for Disarm<'_> {
            fn drop(&mut self) {
                if self.1 {
                    self.0.disarm();
                }
            }
        }
        let mut disarm = Disarm(&bridge, true);
        match fd.readable().await {
            Ok(mut guard) => {
                disarm.1 = false;
                let force = bridge.consume();
                guard.clear_ready();
                force
            }
            Err(_) => {
                drop(disarm);
                self.registered = None; // the runtime is gone: register anew next time
                true
            }
        }
    }
}
