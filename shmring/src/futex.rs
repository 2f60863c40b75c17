//! The two futex operations shmring needs, on 32-bit words that may live in memory shared
//! between processes (so never `FUTEX_PRIVATE_FLAG`). nix has no futex; this is the one small
//! audited `libc::syscall` module.

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
