//! Where a segment lives: a name in /dev/shm, a sealed memfd, a file, or the heap.

#[allow(unused_imports)]
use super::*;

/// Where a segment lives.
///
/// A `&str` or `String` converts to [`Location::Shm`], so APIs that take
/// `impl Into<Location>` accept a plain name.
///
/// ```
/// use shmring::Location;
///
/// assert!(matches!(Location::from("ticks"), Location::Shm(n) if n == "ticks"));
/// assert!(matches!(Location::file("/tmp/ticks.ring"), Location::File(_)));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Location {
    /// Named POSIX shared memory, `/dev/shm/NAME` (a leading `/` is optional).
    Shm(String),
    /// A regular file: the segment survives reboots if the file system does.
    File(PathBuf),
    /// An anonymous memfd (create only; the name is for `/proc/PID/fd` listings). Share it by
    /// `fork` or by passing [`Segment::as_fd`] over a Unix socket; the receiver opens it with
    /// [`Location::Fd`].
    Memfd(String),
    /// A memfd received from another process (open only). It must be sealed against
    /// shrinking and growing, as [`Location::Memfd`] segments are.
    Fd(OwnedFd),
    /// Process-local heap memory (create only), for tests.
    Heap,
}

impl Location {
    /// Named POSIX shared memory.
    ///
    /// ```
    /// let _ = shmring::Location::shm("ticks");
    /// ```
    pub fn shm(name: impl Into<String>) -> Location {
        Location::Shm(name.into())
    }

    /// A regular file at `path`.
    ///
    /// ```
    /// let _ = shmring::Location::file("/var/tmp/ticks.ring");
    /// ```
    pub fn file(path: impl Into<PathBuf>) -> Location {
        Location::File(path.into())
    }

    /// A new anonymous memfd.
    ///
    /// ```
    /// let _ = shmring::Location::memfd("ticks");
    /// ```
    pub fn memfd(debug_name: impl Into<String>) -> Location {
        Location::Memfd(debug_name.into())
    }

    /// A copy of a named location (shm or file), which can be created or opened again.
    pub(super) fn reopenable(&self) -> Option<Location> {
        match self {
            Location::Shm(n) => Some(Location::Shm(n.clone())),
            Location::File(p) => Some(Location::File(p.clone())),
            _ => None,
        }
    }

    /// The name used in error messages (`heap` for [`Location::Heap`]).
    pub(crate) fn display_name(&self) -> String {
        match self {
            Location::Shm(n) => n.strip_prefix('/').unwrap_or(n).to_owned(),
            Location::File(p) => p.display().to_string(),
            Location::Memfd(n) => format!("memfd:{n}"),
            Location::Fd(_) => "memfd".to_owned(),
            Location::Heap => "heap".to_owned(),
        }
    }
}

impl From<&str> for Location {
    fn from(name: &str) -> Location {
        Location::Shm(name.to_owned())
    }
}

impl From<String> for Location {
    fn from(name: String) -> Location {
        Location::Shm(name)
    }
}

impl From<&String> for Location {
    fn from(name: &String) -> Location {
        Location::Shm(name.clone())
    }
}
