//! The system calls behind waiting: the two futex operations shmring needs, on 32-bit words
//! that may live in memory shared between processes (so never `FUTEX_PRIVATE_FLAG`), and
//! `membarrier` for the asymmetric fence of the wake-up protocol. nix has neither; this is
//! the one small audited `libc::syscall` module.

use std::sync::atomic::AtomicU32;
use std::time::Instant;

/// Why [`wait`] returned. Callers re-check their condition in every case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Woken {
    /// Woken by [`wake`], by a signal (`EINTR`), or spuriously.
    Maybe,
    /// The word no longer held the expected value when the kernel looked (`EAGAIN`).
    Changed,
    /// The deadline passed.
    TimedOut,
}

/// Sleeps while `*word == expected`, until `deadline` (absolute, `CLOCK_MONOTONIC`, the clock
/// behind `Instant`) if one is given.
pub(crate) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Instant>) -> Woken {
    let timeout = deadline.map(monotonic_timespec);
    let timeout_ptr = timeout
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a live, aligned 32-bit atomic for the duration of the call; the
    // kernel only reads it. FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC timeout (or
    // null for none) that outlives the call, and ignores uaddr2.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT_BITSET,
            expected,
            timeout_ptr,
            std::ptr::null::<u32>(),
            libc::FUTEX_BITSET_MATCH_ANY,
        )
    };
    if rc == 0 {
        return Woken::Maybe;
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::ETIMEDOUT) => Woken::TimedOut,
        Some(libc::EAGAIN) => Woken::Changed,
        // EINTR, and anything unexpected: report a possible wake-up; callers re-check.
        _ => Woken::Maybe,
    }
}

/// Wakes every process sleeping on `word`.
pub(crate) fn wake_all(word: &AtomicU32) {
    // SAFETY: `word` is a live, aligned 32-bit atomic; FUTEX_WAKE only uses its address.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX);
    }
}

/// `Instant` and `clock_gettime(CLOCK_MONOTONIC)` share a clock on Linux; convert through the
/// distance from now.
fn monotonic_timespec(deadline: Instant) -> libc::timespec {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid out-pointer for clock_gettime.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    let left = deadline.saturating_duration_since(Instant::now());
    let mut sec = now.tv_sec.saturating_add(left.as_secs() as libc::time_t);
    let mut nsec = now.tv_nsec + libc::c_long::from(left.subsec_nanos() as i32);
    if nsec >= 1_000_000_000 {
        sec = sec.saturating_add(1);
        nsec -= 1_000_000_000;
    }
    libc::timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    }
}

const MEMBARRIER_CMD_QUERY: libc::c_int = 0;
const MEMBARRIER_CMD_GLOBAL_EXPEDITED: libc::c_int = 1 << 1;
const MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED: libc::c_int = 1 << 2;

/// Registers this process for expedited global memory barriers (once; cached).
///
/// Returns whether it worked. When it did, this process may notify sleeping peers after only a
/// compiler fence, because every peer about to sleep calls [`heavy_barrier`], which makes the
/// kernel run a full memory barrier on every CPU currently running a registered process.
/// That moves the cost of the store→load barrier from every send to every sleep.
pub(crate) fn register_barrier() -> bool {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *REGISTERED.get_or_init(|| {
        // SAFETY: membarrier takes no pointers; unknown commands fail with EINVAL.
        let supported = unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0) };
        let needed = (MEMBARRIER_CMD_GLOBAL_EXPEDITED | MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED)
            as libc::c_long;
        if supported < 0 || supported & needed != needed {
            return false;
        }
        // SAFETY: as above.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_membarrier,
                MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED,
                0,
                0,
            )
        };
        rc == 0
    })
}

/// A full memory barrier on every CPU running a process registered with
/// [`register_barrier`]; returns whether the kernel did it.
pub(crate) fn heavy_barrier() -> bool {
    // SAFETY: membarrier takes no pointers.
    unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) == 0 }
}
