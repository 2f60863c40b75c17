//! Process identity and liveness: pid + start time, so a reused pid is not mistaken for the
//! process that wrote a record.
//!
//! A segment header records its creator as a [`ProcessId`]; later, any process can ask whether
//! that creator still runs. The start time (field 22 of `/proc/PID/stat`, in clock ticks since
//! boot) tells a live process apart from an unrelated one that got the same pid after a
//! restart. The pid namespace is recorded too: a pid from another namespace means nothing here,
//! so liveness is then [`Liveness::Unknown`] rather than a wrong "dead".
//!
//! ```
//! use shmring::process::{Liveness, ProcessId};
//!
//! let me = ProcessId::current().expect("procfs is mounted");
//! assert_eq!(me.liveness(), Liveness::Alive);
//! ```

use std::fs;
use std::io;

/// A process as recorded in shared memory: pid, start time and pid namespace.
///
/// ```
/// let me = shmring::process::ProcessId::current().unwrap();
/// assert_eq!(me.pid, std::process::id());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessId {
    /// The process id, in the namespace `pid_ns`.
    pub pid: u32,
    /// Start time in clock ticks since boot (`/proc/PID/stat` field 22).
    pub start_ticks: u64,
    /// Inode number of the pid namespace (`/proc/self/ns/pid`), 0 if unknown.
    pub pid_ns: u64,
}

/// Whether a recorded process still runs.
///
/// ```
/// use shmring::process::{Liveness, ProcessId};
///
/// let gone = ProcessId { pid: u32::MAX, start_ticks: 1, ..ProcessId::current().unwrap() };
/// assert_eq!(gone.liveness(), Liveness::Dead);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// The pid exists with the recorded start time.
    Alive,
    /// No such process, a different process under that pid, or a zombie: proven dead.
    Dead,
    /// Cannot be told from here (another pid namespace, or procfs unavailable).
    Unknown,
}

impl ProcessId {
    /// The calling process.
    ///
    /// # Errors
    ///
    /// Fails if `/proc/self/stat` cannot be read or parsed (procfs not mounted).
    ///
    /// ```
    /// assert!(shmring::process::ProcessId::current().is_ok());
    /// ```
    pub fn current() -> io::Result<ProcessId> {
        let pid = std::process::id();
        let stat = fs::read_to_string("/proc/self/stat")?;
        let (_, start_ticks) = parse_stat(&stat).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "unparsable /proc/self/stat")
        })?;
        Ok(ProcessId {
            pid,
            start_ticks,
            pid_ns: current_pid_ns(),
        })
    }

    /// Whether this process still runs, as far as this process can tell.
    ///
    /// ```
    /// use shmring::process::{Liveness, ProcessId};
    /// assert_eq!(ProcessId::current().unwrap().liveness(), Liveness::Alive);
    /// ```
    pub fn liveness(&self) -> Liveness {
        liveness_of(self.pid, self.pid_ns, |start| start == self.start_ticks)
    }
}

/// A process packed into one 64-bit word for compare-and-swap in shared memory: pid in the
/// high half, the low 32 bits of its start time in the low half. 0 means "nobody".
pub(crate) fn owner_word(p: &ProcessId) -> u64 {
    (u64::from(p.pid) << 32) | (p.start_ticks & 0xffff_ffff)
}

/// Liveness of a process packed in an owner word as the rings record it (pid in the high
/// half, the low 32 bits of its start time in the low half; docs/layout.md), recorded in pid
/// namespace `pid_ns` (0 if not recorded, taken as this namespace).
///
/// ```
/// use shmring::process::{owner_liveness, Liveness, ProcessId};
///
/// let me = ProcessId::current().unwrap();
/// let word = (u64::from(me.pid) << 32) | (me.start_ticks & 0xffff_ffff);
/// assert_eq!(owner_liveness(word, 0), Liveness::Alive);
/// assert_eq!(owner_liveness(0, 0), Liveness::Dead);
/// ```
pub fn owner_liveness(word: u64, pid_ns: u64) -> Liveness {
    liveness_of((word >> 32) as u32, pid_ns, |start| {
        start & 0xffff_ffff == word & 0xffff_ffff
    })
}

/// Whether `pid` (in namespace `pid_ns`, 0 = this one) runs with a start time that
/// `started_as` accepts.
fn liveness_of(pid: u32, pid_ns: u64, started_as: impl Fn(u64) -> bool) -> Liveness {
    if pid == 0 || pid > i32::MAX as u32 {
        return Liveness::Dead;
    }
    let here = current_pid_ns();
    if pid_ns != 0 && here != 0 && pid_ns != here {
        return Liveness::Unknown;
    }
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => match parse_stat(&stat) {
            Some((state, start)) if started_as(start) && state != 'Z' && state != 'X' => {
                Liveness::Alive
            }
            Some(_) => Liveness::Dead,
            None => Liveness::Unknown,
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Liveness::Dead,
        Err(_) => Liveness::Unknown,
    }
}

/// The pid namespace inode, from the `pid:[INODE]` link; 0 if unreadable.
pub(crate) fn current_pid_ns() -> u64 {
    fs::read_link("/proc/self/ns/pid")
        .ok()
        .and_then(|p| {
            let s = p.to_string_lossy().into_owned();
            s.strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok()
        })
        .unwrap_or(0)
}

/// State letter and start time from a `/proc/PID/stat` line. The command name (field 2) may
/// hold spaces and parentheses, so parsing starts after its last `)`.
fn parse_stat(stat: &str) -> Option<(char, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    // `rest` starts at field 3 (state); start time is field 22.
    let start = fields.nth(22 - 4)?.parse().ok()?;
    Some((state, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_command_names_with_parentheses() {
        let line = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1 2 3";
        assert_eq!(parse_stat(line), Some(('S', 987654)));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) R 1 2"), None);
    }

    #[test]
    fn pid_reuse_is_dead() {
        let mut me = ProcessId::current().unwrap();
        me.start_ticks += 1;
        assert_eq!(me.liveness(), Liveness::Dead);
    }

    #[test]
    fn other_namespace_is_unknown() {
        let mut me = ProcessId::current().unwrap();
        me.pid_ns ^= 1;
        assert_eq!(me.liveness(), Liveness::Unknown);
    }
}
