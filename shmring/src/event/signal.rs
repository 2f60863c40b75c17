//! Realtime signals as a listener's wake-up (docs/protocols.md, "Events"): a notifier that
//! newly sets an id for a listener that asked for signal `S` queues `S` to its process with
//! the id as the signal's value, through a pidfd, so a signal can never reach another process
//! that reused the pid of a listener that died.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Mutex;

use super::NotifyError;
use super::board::Board;
use crate::process::{Liveness, owner_liveness};

/// The realtime signal numbers of this system (`SIGRTMIN..=SIGRTMAX`, as the C library
/// reserves them).
///
/// ```
/// let range = shmring::event::realtime_signals();
/// assert!(range.contains(&(libc::SIGRTMIN() + 1)));
/// ```
pub fn realtime_signals() -> std::ops::RangeInclusive<i32> {
    libc::SIGRTMIN()..=libc::SIGRTMAX()
}

/// Why signal `signal` cannot be a listener's wake-up in this process (`None`: it can).
/// It must be a realtime signal, and delivering it must not terminate the process: a handler
/// is installed, or it is blocked in the calling thread (to be taken with `sigwaitinfo` or a
/// signalfd; block it in every thread, before starting them).
pub(crate) fn unusable(signal: i32) -> Option<String> {
    if !realtime_signals().contains(&signal) {
        return Some(format!(
            "signal {signal} is not a realtime signal (SIGRTMIN {} ..= SIGRTMAX {})",
            libc::SIGRTMIN(),
            libc::SIGRTMAX()
        ));
    }
    // SAFETY: both calls only write the out-parameters given, which are valid and sized for
    // them; a null new action / new mask only queries.
    let (handled, blocked) = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        let handled = libc::sigaction(signal, std::ptr::null(), &mut action) == 0
            && action.sa_sigaction != libc::SIG_DFL;
        let mut mask: libc::sigset_t = std::mem::zeroed();
        let blocked = libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut mask) == 0
            && libc::sigismember(&mask, signal) == 1;
        (handled, blocked)
    };
    (!handled && !blocked).then(|| {
        format!(
            "signal {signal} would terminate this process when a notifier sends it: install a \
             handler for it, or block it in every thread (e.g. to read it from a signalfd) \
             before opening the listener"
        )
    })
}

/// `siginfo_t` as `rt_sigqueueinfo` and `pidfd_send_signal` read it for `SI_QUEUE` on
/// 64-bit Linux: the common head, then the sender's pid and uid and the value.
#[repr(C)]
struct QueuedInfo {
    signo: i32,
    errno: i32,
    code: i32,
    _pad: i32,
    pid: i32,
    uid: u32,
    value: usize,
    _rest: [u8; 128 - 32],
}

const _: () = assert!(std::mem::size_of::<QueuedInfo>() == std::mem::size_of::<libc::siginfo_t>());

/// A notifier's pidfds of signal-woken listeners, by record (with the owner word each was
/// opened for).
#[derive(Debug, Default)]
pub(crate) struct Targets {
    fds: Mutex<HashMap<usize, (u64, OwnedFd)>>,
}

impl Targets {
    /// Queues `signal` with value `id` to the listener of `record`. A listener whose process
    /// is gone has its record freed.
    #[cold]
    pub(crate) fn send(
        &self,
        board: &Board,
        record: usize,
        signal: u32,
        id: u32,
    ) -> Result<(), NotifyError> {
        let owner = board.owner(record).load(crate::sync::Ordering::Acquire);
        let pid = (owner >> 32) as u32;
        let signal = signal as i32;
        // The kernel's realtime range (a listener in another language may use 32 or 33,
        // which the C library keeps for itself here).
        if !(32..=64).contains(&signal) || pid == 0 || pid > i32::MAX as u32 {
            return Err(NotifyError::Corrupted {
                reason: format!("listener record {record} asks for signal {signal} to pid {pid}"),
            });
        }
        let mut fds = self.fds.lock().unwrap_or_else(|e| e.into_inner());
        let fd = match fds.get(&record) {
            Some((o, fd)) if *o == owner => fd,
            _ => {
                fds.remove(&record);
                match open_pidfd(pid, owner, board.pid_ns(record)) {
                    Ok(fd) => &fds.entry(record).insert_entry((owner, fd)).into_mut().1,
                    Err(Liveness::Dead) => {
                        board.reap(record, owner);
                        return Ok(());
                    }
                    Err(_) => {
                        return Err(NotifyError::Signal {
                            pid,
                            signal,
                            source: io::Error::other(
                                "the listener's process is in another pid namespace",
                            ),
                        });
                    }
                }
            }
        };
        let info = QueuedInfo {
            signo: signal,
            errno: 0,
            code: libc::SI_QUEUE,
            _pad: 0,
            pid: std::process::id() as i32,
            // SAFETY: getuid cannot fail and takes no arguments.
            uid: unsafe { libc::getuid() },
            value: id as usize,
            _rest: [0; 128 - 32],
        };
        // SAFETY: `fd` is an open pidfd; `info` is a valid, fully initialised siginfo of the
        // kernel's size for the call's duration; flags 0.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd.as_raw_fd(),
                signal,
                &info as *const QueuedInfo,
                0,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EAGAIN) => Err(NotifyError::SignalQueueFull { pid, signal }),
            Some(libc::ESRCH) => {
                fds.remove(&record);
                board.reap(record, owner);
                Ok(())
            }
            _ => Err(NotifyError::Signal {
                pid,
                signal,
                source: err,
            }),
        }
    }
}

/// A pidfd for the process of owner word `owner`, if that process still runs (its start time
/// checked after the pidfd is open, so the pidfd is of that very process); else whether it is
/// dead or cannot be told (another pid namespace).
fn open_pidfd(pid: u32, owner: u64, pid_ns: u64) -> Result<OwnedFd, Liveness> {
    // SAFETY: pidfd_open takes a pid and flags, no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(if owner_liveness(owner, pid_ns) == Liveness::Unknown {
            Liveness::Unknown
        } else {
            Liveness::Dead
        });
    }
    // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    match owner_liveness(owner, pid_ns) {
        Liveness::Alive => Ok(fd),
        other => Err(other),
    }
}
