//! Regions: mapped memory areas that segments and rings live in.
//!
//! A [`Region`] is a range of bytes that this process maps, possibly shared with other
//! processes: named POSIX shared memory (`/dev/shm/NAME`), an anonymous sealed memfd, a
//! regular file, or process-local heap memory for unit and loom tests. Segments are built on
//! regions through [`Location`](crate::Location); this module holds the system calls.
//!
//! Memory in a region may be written by another process at any time, so this crate never
//! forms a Rust reference to it: only raw pointers, atomics and copies.
//!
//! ```
//! use shmring::region::Region;
//!
//! let r = Region::heap(8192);
//! assert_eq!(r.len(), 8192);
//! assert_eq!(r.as_ptr().as_ptr() as usize % 4096, 0);
//! ```

use std::alloc::Layout;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::ptr::NonNull;

use memmap2::{MmapOptions, MmapRaw};
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, SealFlag, fcntl};
use nix::sys::mman::{shm_open, shm_unlink};
use nix::sys::stat::{Mode, fchmod, fstat};

use crate::OpenError;

/// Longest name accepted for a named segment, without the leading `/` (`NAME_MAX`).
pub const MAX_NAME_LEN: usize = 255;

/// A mapped memory area.
///
/// Dropping it unmaps (or frees) the memory; a named segment or file stays until unlinked.
///
/// ```
/// let r = shmring::region::Region::heap(100);
/// assert!(!r.is_empty());
/// assert!(r.as_fd().is_none());
/// ```
#[derive(Debug)]
pub struct Region {
    ptr: NonNull<u8>,
    len: usize,
    backing: Backing,
}

#[derive(Debug)]
enum Backing {
    Mapped { _map: MmapRaw, file: File },
    Heap { layout: Layout },
}

// SAFETY: a Region is an address range plus the handle that keeps it alive. It hands out raw
// pointers only; every access through them is an atomic or an explicit copy whose soundness
// is argued at the access, so moving or sharing the Region between threads adds no data race.
unsafe impl Send for Region {}
// SAFETY: as for Send: `&Region` exposes no references into the memory, only raw pointers.
unsafe impl Sync for Region {}

/// Mappings up to this size are populated when mapped (the pages are already allocated by the
/// creator's `posix_fallocate`; this fills the page tables — measured here 0.1 ms per MiB
/// for an opener, up to 0.5 ms per MiB for the creator's first mapping: 7–34 ms at this
/// limit). Larger ones fault their pages in as they are first touched, so a huge ring is
/// not slow to open.
///
/// ```
/// assert_eq!(shmring::region::POPULATE_LIMIT, 64 << 20);
/// ```
pub const POPULATE_LIMIT: usize = 64 << 20;

impl Region {
    /// Zeroed, page-aligned process-local memory of `len` bytes (at least 1).
    ///
    /// # Panics
    ///
    /// If the allocation fails or `len` overflows a layout.
    ///
    /// ```
    /// let r = shmring::region::Region::heap(64);
    /// // SAFETY: the region is 64 bytes long, zeroed and owned by this test.
    /// assert_eq!(unsafe { r.as_ptr().as_ptr().read() }, 0);
    /// ```
    pub fn heap(len: usize) -> Region {
        let layout = Layout::from_size_align(len.max(1), 4096).expect("region size overflows");
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { std::alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        Region {
            ptr,
            len: layout.size(),
            backing: Backing::Heap { layout },
        }
    }

    /// Maps `len` bytes of `file`, shared and writable. Up to [`POPULATE_LIMIT`] the page
    /// tables are filled now (`MAP_POPULATE`), so no message pays a page fault the first time
    /// it reaches a page: a 1 MiB ring's first lap of 64-byte messages used to fault once every
    /// ~50 messages in each process, 6–7 µs each (`shm:` round-trip p99 22× its p50).
    pub(crate) fn map(file: File, len: usize, name: &str) -> Result<Region, OpenError> {
        let mut options = MmapOptions::new();
        options.len(len);
        if len <= POPULATE_LIMIT {
            options.populate();
        }
        let map = options.map_raw(&file).map_err(|source| OpenError::Io {
            name: name.to_owned(),
            op: "mmap",
            source,
        })?;
        let ptr = NonNull::new(map.as_mut_ptr()).expect("mmap never returns null");
        Ok(Region {
            ptr,
            len,
            backing: Backing::Mapped { _map: map, file },
        })
    }

    /// The first byte. Valid for [`len`](Region::len) bytes while `self` lives; page-aligned.
    ///
    /// ```
    /// let r = shmring::region::Region::heap(16);
    /// assert!(!r.as_ptr().as_ptr().is_null());
    /// ```
    pub fn as_ptr(&self) -> NonNull<u8> {
        self.ptr
    }

    /// Length in bytes.
    ///
    /// ```
    /// assert_eq!(shmring::region::Region::heap(10).len(), 10);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region has no bytes (never true for regions this crate makes).
    ///
    /// ```
    /// assert!(!shmring::region::Region::heap(0).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The file descriptor behind a mapped region (to pass a memfd to another process), or
    /// `None` for heap memory.
    ///
    /// ```
    /// assert!(shmring::region::Region::heap(1).as_fd().is_none());
    /// ```
    pub fn as_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.backing {
            Backing::Mapped { file, .. } => Some(file.as_fd()),
            Backing::Heap { .. } => None,
        }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        if let Backing::Heap { layout } = self.backing {
            // SAFETY: `ptr` came from `alloc_zeroed(layout)` in `Region::heap` and is freed once.
            unsafe { std::alloc::dealloc(self.ptr.as_ptr(), layout) };
        }
    }
}

/// Checks a POSIX shared-memory name and returns it with its leading `/`.
///
/// Accepted: `ticks` or `/ticks`; 1 to [`MAX_NAME_LEN`] bytes after the optional leading `/`,
/// no other `/`, no NUL, not `.` or `..`.
///
/// # Errors
///
/// [`OpenError::InvalidName`] saying which rule the name breaks.
///
/// ```
/// use shmring::region::shm_name;
/// assert_eq!(shm_name("ticks").unwrap(), "/ticks");
/// assert_eq!(shm_name("/ticks").unwrap(), "/ticks");
/// assert!(shm_name("a/b").is_err());
/// assert!(shm_name("").is_err());
/// ```
pub fn shm_name(name: &str) -> Result<String, OpenError> {
    let invalid = |reason| {
        Err(OpenError::InvalidName {
            name: name.to_owned(),
            reason,
        })
    };
    let bare = name.strip_prefix('/').unwrap_or(name);
    if bare.is_empty() {
        return invalid("it is empty; give a name such as \"ticks\"");
    }
    if bare.contains('/') {
        return invalid("it contains '/' after the first character; use a flat name");
    }
    if bare.contains('\0') {
        return invalid("it contains a NUL byte");
    }
    if bare == "." || bare == ".." {
        return invalid("\".\" and \"..\" are not names");
    }
    if bare.len() > MAX_NAME_LEN {
        return invalid("it is longer than 255 bytes");
    }
    Ok(format!("/{bare}"))
}

/// Creates `/dev/shm/NAME` exclusively with exactly `mode` (not masked by the umask) and
/// reserves `len` bytes. On any failure after the name was taken, the name is removed again.
pub(crate) fn create_shm(shm: &str, len: u64, mode: u32) -> Result<File, OpenError> {
    let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR | OFlag::O_CLOEXEC;
    let fd = shm_open(shm, flags, Mode::from_bits_truncate(mode))
        .map_err(|e| OpenError::from_errno(display(shm), "shm_open", e))?;
    let file = File::from(fd);
    finish_create(&file, len, mode, display(shm)).inspect_err(|_| {
        let _ = shm_unlink(shm);
    })?;
    Ok(file)
}

/// Opens an existing `/dev/shm/NAME` for reading and writing.
pub(crate) fn open_shm(shm: &str) -> Result<File, OpenError> {
    let fd = shm_open(shm, OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| OpenError::from_errno(display(shm), "shm_open", e))?;
    Ok(File::from(fd))
}

/// Removes `/dev/shm/NAME`. Mappings that processes hold stay valid until they unmap.
pub(crate) fn unlink_shm(shm: &str) -> Result<(), OpenError> {
    shm_unlink(shm).map_err(|e| OpenError::from_errno(display(shm), "shm_unlink", e))
}

/// Creates a regular file exclusively with exactly `mode` and reserves `len` bytes.
pub(crate) fn create_file(path: &Path, len: u64, mode: u32) -> Result<File, OpenError> {
    let name = path.display().to_string();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| io_error(&name, "open", e))?;
    finish_create(&file, len, mode, &name).inspect_err(|_| {
        let _ = std::fs::remove_file(path);
    })?;
    Ok(file)
}

/// Opens an existing regular file for reading and writing.
pub(crate) fn open_file(path: &Path) -> Result<File, OpenError> {
    let name = path.display().to_string();
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| io_error(&name, "open", e))
}

/// Creates an anonymous memfd of `len` bytes, sealed so that nobody can shrink or grow it
/// (and no further seals can be added).
pub(crate) fn create_memfd(debug_name: &str, len: u64) -> Result<File, OpenError> {
    use nix::sys::memfd::{MFdFlags, memfd_create};
    let fd = memfd_create(
        debug_name,
        MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
    )
    .map_err(|e| OpenError::from_errno(debug_name, "memfd_create", e))?;
    let file = File::from(fd);
    reserve(&file, len, debug_name)?;
    let seals = SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_SEAL;
    fcntl(&file, FcntlArg::F_ADD_SEALS(seals))
        .map_err(|e| OpenError::from_errno(debug_name, "fcntl(F_ADD_SEALS)", e))?;
    Ok(file)
}

/// Accepts a memfd from a peer only if it is sealed against shrinking and growing.
pub(crate) fn adopt_memfd(fd: OwnedFd, name: &str) -> Result<File, OpenError> {
    let seals = fcntl(&fd, FcntlArg::F_GET_SEALS).map_err(|e| match e {
        Errno::EINVAL => OpenError::NotSealed {
            name: name.to_owned(),
        },
        e => OpenError::from_errno(name, "fcntl(F_GET_SEALS)", e),
    })?;
    let need = SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW;
    if SealFlag::from_bits_truncate(seals) & need != need {
        return Err(OpenError::NotSealed {
            name: name.to_owned(),
        });
    }
    Ok(File::from(fd))
}

/// The current size of the file behind `file`.
pub(crate) fn file_size(file: &File, name: &str) -> Result<u64, OpenError> {
    let st = fstat(file).map_err(|e| OpenError::from_errno(name, "fstat", e))?;
    Ok(u64::try_from(st.st_size).unwrap_or(0))
}

fn finish_create(file: &File, len: u64, mode: u32, name: &str) -> Result<(), OpenError> {
    fchmod(file, Mode::from_bits_truncate(mode))
        .map_err(|e| OpenError::from_errno(name, "fchmod", e))?;
    reserve(file, len, name)
}

/// Allocates every page now, so a full `/dev/shm` is an error here instead of a SIGBUS on
/// first touch later.
fn reserve(file: &File, len: u64, name: &str) -> Result<(), OpenError> {
    let no_space = |errno: Errno| OpenError::NoSpace {
        name: name.to_owned(),
        requested: len,
        source: errno.into(),
    };
    let off = libc::off_t::try_from(len).map_err(|_| no_space(Errno::EFBIG))?;
    nix::fcntl::posix_fallocate(file, 0, off).map_err(|e| match e {
        Errno::ENOSPC | Errno::EFBIG | Errno::ENOMEM => no_space(e),
        e => OpenError::from_errno(name, "posix_fallocate", e),
    })
}

fn io_error(name: &str, op: &'static str, e: std::io::Error) -> OpenError {
    match e.raw_os_error() {
        Some(errno) => OpenError::from_errno(name, op, Errno::from_raw(errno)),
        None => OpenError::Io {
            name: name.to_owned(),
            op,
            source: e,
        },
    }
}

/// `"/ticks"` → `"ticks"`, the name users gave.
fn display(shm: &str) -> &str {
    shm.strip_prefix('/').unwrap_or(shm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(shm_name(&"x".repeat(255)).is_ok());
        assert!(shm_name(&"x".repeat(256)).is_err());
        for bad in ["", "/", "//a", "a/", "..", ".", "a\0b"] {
            let err = shm_name(bad).unwrap_err();
            assert!(
                matches!(err, OpenError::InvalidName { .. }),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn memfd_is_sealed_and_adoptable() {
        let f = create_memfd("shmring-test", 8192).unwrap();
        assert_eq!(file_size(&f, "t").unwrap(), 8192);
        assert!(
            f.set_len(4096).is_err(),
            "shrink must be refused by the seal"
        );
        assert!(
            f.set_len(16384).is_err(),
            "grow must be refused by the seal"
        );
        let adopted = adopt_memfd(OwnedFd::from(f), "t").unwrap();
        let r = Region::map(adopted, 8192, "t").unwrap();
        assert_eq!(r.len(), 8192);
        assert!(r.as_fd().is_some());
    }

    #[test]
    fn unsealed_memfd_is_refused() {
        use nix::sys::memfd::{MFdFlags, memfd_create};
        let fd = memfd_create("plain", MFdFlags::MFD_CLOEXEC).unwrap();
        assert!(matches!(
            adopt_memfd(fd, "plain"),
            Err(OpenError::NotSealed { .. })
        ));
    }
}
