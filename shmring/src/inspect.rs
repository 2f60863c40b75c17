//! Looking at segments from the outside: what a ring's header and control block say, who is
//! attached and whether they live, and whether the values are consistent — without attaching,
//! mapping or writing anything.
//!
//! An inspection reads a copy of the segment's first bytes (header and control block) with
//! ordinary file reads, so a corrupt or hostile segment can make it report problems but never
//! crash it; fields written concurrently by live peers may be a moment apart from each other.
//! This is what the `shmring` command's `ls`, `inspect` and `gc` print.
//!
//! ```
//! use shmring::inspect::{inspect, Health};
//!
//! let name = format!("doc-inspect-{}", std::process::id());
//! let tx = shmring::spsc::Sender::<u64>::create(&name, 8)?;
//! let report = inspect(&name)?;
//! assert_eq!(report.info.kind, shmring::RingKind::Spsc);
//! assert_eq!(report.health, Health::Ok);
//! assert!(report.participants.iter().any(|p| p.pid == std::process::id()));
//! drop(tx);
//! shmring::Segment::unlink_name(&name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::RingKind;
use crate::event::board as event;
use crate::header::{self, HEADER_SIZE, HeaderError, HeaderInfo, MAGIC};
use crate::mpmc::layout as mpmc;
use crate::process::{Liveness, owner_liveness};
use crate::spsc::layout as spsc;

/// Where named segments live.
pub const SHM_DIR: &str = "/dev/shm";

/// Why a segment could not be inspected at all.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// Not a segment name: empty, `.`, `..`, or containing `/` after a leading one.
    #[error("{name:?} is not a segment name (a file name in {SHM_DIR}, no '/')")]
    InvalidName {
        /// The name given.
        name: String,
    },
    /// No such segment.
    #[error("no segment named {name:?} in {SHM_DIR}")]
    NotFound {
        /// The name asked for.
        name: String,
    },
    /// The segment exists but this user may not read it.
    #[error("permission denied reading {path}")]
    PermissionDenied {
        /// The file.
        path: PathBuf,
    },
    /// The file is not a shmring segment, or its header is damaged.
    #[error("{path} is not a readable shmring ring: {source}")]
    Header {
        /// The file.
        path: PathBuf,
        /// What is wrong with the header.
        source: HeaderError,
    },
    /// The entry is not a regular file — a symbolic link, FIFO, socket, device or directory:
    /// not a shmring segment. It is neither followed nor read (opening a FIFO would block).
    #[error("{path} is not a shmring ring: it is a {what}, not a regular file")]
    NotAFile {
        /// The entry.
        path: PathBuf,
        /// What it is instead.
        what: &'static str,
    },
    /// Any other I/O error.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

/// The overall verdict of an inspection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// Header and control block are consistent.
    Ok,
    /// Something is inconsistent (listed in [`Inspection::problems`]).
    Corrupt,
}

/// One attached (or once attached) process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Participant {
    /// `"sender"`, `"receiver"` or `"unannounced"` (an mpmc record claimed before its role).
    pub role: &'static str,
    /// Its pid (in its pid namespace).
    pub pid: u32,
    /// The low 32 bits of its start time in clock ticks since boot (what the record keeps).
    pub start_ticks_low: u32,
    /// Whether it still runs, as far as this process can tell.
    pub liveness: Liveness,
    /// spsc and framed rings: the slot's state (`"attached"`, `"closed"`, `"never"`).
    pub state: Option<&'static str>,
    /// mpmc rings: ring positions of its operations in flight.
    pub in_flight: Vec<u64>,
    /// Broadcast receivers: the next position it reads (its lag is the tail minus this).
    pub position: Option<u64>,
}

/// What a ring's control block says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Control {
    /// Published position of the senders (messages; bytes for framed kinds).
    pub tail: u64,
    /// Released position of the receivers (messages; bytes for framed kinds).
    pub head: u64,
    /// `tail − head`, saturating: messages (bytes for framed kinds) waiting.
    pub fill: u64,
    /// A receiver is (about to be) asleep waiting for data.
    pub receiver_waiting: bool,
    /// A sender is (about to be) asleep waiting for room.
    pub sender_waiting: bool,
    /// mpmc kinds: the membership epoch.
    pub epoch: Option<u64>,
    /// Framed kinds: the receiver's exact consumed position.
    pub consumed: Option<u64>,
    /// mpmc kinds: senders found dead (killed or crashed without closing) and reaped.
    pub dead_senders: Option<u32>,
    /// mpmc kinds: receivers found dead and reaped.
    pub dead_receivers: Option<u32>,
}

/// Everything an inspection found.
#[derive(Clone, Debug)]
pub struct Inspection {
    /// The segment's name (without `/dev/shm/`).
    pub name: String,
    /// The decoded header.
    pub info: HeaderInfo,
    /// The file's length in bytes.
    pub file_len: u64,
    /// Whether the creator still runs.
    pub creator: Liveness,
    /// The control block (`None` for raw segments, or when the file is too short).
    pub control: Option<Control>,
    /// Attached and once-attached processes.
    pub participants: Vec<Participant>,
    /// Inconsistencies found.
    pub problems: Vec<String>,
    /// [`Health::Corrupt`] when there are problems.
    pub health: Health,
}

impl Inspection {
    /// Whether any recorded process — creator or participant — may still use the segment
    /// (alive, or its liveness cannot be told). A segment for which this is false is
    /// abandoned: removing it cannot hurt anyone.
    ///
    /// ```
    /// let name = format!("doc-inspect-used-{}", std::process::id());
    /// let tx = shmring::spsc::Sender::<u8>::create(&name, 8)?;
    /// assert!(shmring::inspect::inspect(&name)?.in_use());
    /// # drop(tx); shmring::Segment::unlink_name(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn in_use(&self) -> bool {
        let live = |l: Liveness| l != Liveness::Dead;
        live(self.creator) || self.participants.iter().any(|p| live(p.liveness))
    }
}

/// The file of the segment `name`.
///
/// ```
/// assert_eq!(shmring::inspect::path_of("ticks"), std::path::Path::new("/dev/shm/ticks"));
/// ```
pub fn path_of(name: &str) -> PathBuf {
    Path::new(SHM_DIR).join(name.trim_start_matches('/'))
}

/// Inspects the segment `name` in `/dev/shm`.
///
/// # Errors
///
/// [`InspectError::InvalidName`], [`InspectError::NotFound`],
/// [`InspectError::PermissionDenied`], [`InspectError::Header`] (not a shmring segment, or a
/// damaged header), [`InspectError::Io`].
///
/// ```
/// use shmring::inspect::{inspect, InspectError};
/// assert!(matches!(inspect("never-created-ring"), Err(InspectError::NotFound { .. })));
/// assert!(matches!(inspect("../etc/passwd"), Err(InspectError::InvalidName { .. })));
/// ```
pub fn inspect(name: &str) -> Result<Inspection, InspectError> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    if bare.is_empty() || bare == "." || bare == ".." || bare.contains('/') {
        return Err(InspectError::InvalidName {
            name: name.to_owned(),
        });
    }
    let path = path_of(name);
    let (mut file, file_len) = open_entry(&path).map_err(|e| match e {
        Entry::NotAFile(what) => InspectError::NotAFile {
            path: path.clone(),
            what,
        },
        Entry::Io(e) if e.kind() == io::ErrorKind::NotFound => InspectError::NotFound {
            name: name.to_owned(),
        },
        Entry::Io(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            InspectError::PermissionDenied { path: path.clone() }
        }
        Entry::Io(source) => InspectError::Io {
            path: path.clone(),
            source,
        },
    })?;
    let io_err = |source| InspectError::Io {
        path: path.clone(),
        source,
    };
    let want = HEADER_SIZE + CONTROL_READ;
    let mut bytes = Vec::with_capacity(want);
    file.by_ref()
        .take(want as u64)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    inspect_bytes(name, &bytes, file_len).map_err(|source| InspectError::Header { path, source })
}

/// Why an entry of the shared-memory directory was not opened.
enum Entry {
    /// Not a regular file: what it is.
    NotAFile(&'static str),
    /// Opening or examining it failed.
    Io(io::Error),
}

/// Opens an entry of the shared-memory directory for reading without following a symbolic
/// link (`O_NOFOLLOW`) and without blocking (`O_NONBLOCK`: a FIFO would block `open` until a
/// writer came), and refuses anything but a regular file. Returns the file and its length.
fn open_entry(path: &Path) -> Result<(File, u64), Entry> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                Entry::NotAFile("symbolic link")
            } else {
                Entry::Io(e)
            }
        })?;
    let meta = file.metadata().map_err(Entry::Io)?;
    let t = meta.file_type();
    if !t.is_file() {
        return Err(Entry::NotAFile(if t.is_fifo() {
            "FIFO"
        } else if t.is_socket() {
            "socket"
        } else if t.is_dir() {
            "directory"
        } else if t.is_char_device() || t.is_block_device() {
            "device"
        } else {
            "special file"
        }));
    }
    Ok((file, meta.len()))
}

/// Bytes of the area an inspection reads: the largest control block (mpmc's, or an event
/// segment's listener table) and the framed rings' consumed words.
const CONTROL_READ: usize = if mpmc::CONTROL_SIZE > event::BITMAPS_OFFSET {
    mpmc::CONTROL_SIZE
} else {
    event::BITMAPS_OFFSET
};

/// Inspects a copy of a segment's first bytes (`bytes`: the header, then as much of the area
/// as there is, up to the mpmc control block's size); `file_len` is the file's length.
///
/// # Errors
///
/// The header's [`HeaderError`]: not a shmring segment, or damaged.
///
/// ```
/// let err = shmring::inspect::inspect_bytes("x", b"not a ring", 10).unwrap_err();
/// assert!(matches!(err, shmring::header::HeaderError::Short { .. }));
/// ```
pub fn inspect_bytes(name: &str, bytes: &[u8], file_len: u64) -> Result<Inspection, HeaderError> {
    let info = header::decode(bytes)?;
    let mut problems = Vec::new();
    if file_len < info.total_size {
        problems.push(format!(
            "the file holds {file_len} bytes, the header says {}",
            info.total_size
        ));
    }
    let area = bytes.get(info.area_offset as usize..).unwrap_or_default();
    let word = |offset: usize| -> Option<u64> {
        Some(u64::from_ne_bytes(*area.get(offset..)?.first_chunk::<8>()?))
    };
    let half = |offset: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(*area.get(offset..)?.first_chunk::<4>()?))
    };
    let mut participants = Vec::new();
    let control = match info.kind {
        RingKind::Raw => None,
        // An event segment: its listeners, each sleeping or not.
        RingKind::Event => (|| {
            let live = word(event::LIVE_OFFSET)?;
            let mut any_waiting = false;
            for i in 0..event::LISTENERS {
                let at = event::TABLE_OFFSET + i * event::RECORD_SIZE;
                let owner = word(at + event::RECORD_OWNER)?;
                let is_live = live & (1 << i) != 0;
                if owner <= event::RESERVED {
                    if is_live {
                        problems.push(format!("listener record {i} is live but has no owner"));
                    }
                    continue;
                }
                let waiting = half(at + event::RECORD_WAITING)? != 0;
                any_waiting |= waiting && is_live;
                let signal = half(at + event::RECORD_SIGNAL)?;
                if signal != 0 && !(32..=64).contains(&signal) {
                    problems.push(format!("listener record {i} asks for signal {signal}"));
                }
                participants.push(Participant {
                    role: "listener",
                    pid: (owner >> 32) as u32,
                    start_ticks_low: owner as u32,
                    liveness: owner_liveness(owner, word(at + event::RECORD_PID_NS)?),
                    state: Some(match (is_live, waiting, signal != 0) {
                        (false, _, _) => "leaving",
                        (true, true, _) => "sleeping",
                        (true, false, true) => "signal-woken",
                        (true, false, false) => "awake",
                    }),
                    in_flight: Vec::new(),
                    position: None,
                });
            }
            Some(Control {
                receiver_waiting: any_waiting,
                ..Control::default()
            })
        })(),
        RingKind::Spsc | RingKind::Framed => (|| {
            let tail = word(spsc::TAIL_OFFSET)?;
            let head = word(spsc::HEAD_OFFSET)?;
            for (role, at) in [
                ("sender", spsc::SENDER_RECORD_OFFSET),
                ("receiver", spsc::RECEIVER_RECORD_OFFSET),
            ] {
                let owner = word(at + spsc::RECORD_OWNER)?;
                let state = half(at + spsc::RECORD_STATE)?;
                let pid_ns = word(at + spsc::RECORD_PID_NS)?;
                let state = match state {
                    spsc::STATE_NEVER => "never",
                    spsc::STATE_ATTACHED => "attached",
                    spsc::STATE_CLOSED => "closed",
                    other => {
                        problems.push(format!("{role} slot state {other} is not 0, 1 or 2"));
                        "invalid"
                    }
                };
                if owner != 0 {
                    participants.push(Participant {
                        role,
                        pid: (owner >> 32) as u32,
                        start_ticks_low: owner as u32,
                        liveness: owner_liveness(owner, pid_ns),
                        state: Some(state),
                        in_flight: Vec::new(),
                        position: None,
                    });
                }
            }
            Some(Control {
                tail,
                head,
                fill: tail.saturating_sub(head),
                receiver_waiting: half(spsc::DATA_WAITING_OFFSET)? != 0,
                sender_waiting: half(spsc::SPACE_WAITING_OFFSET)? != 0,
                epoch: None,
                dead_senders: None,
                dead_receivers: None,
                consumed: (info.kind == RingKind::Framed)
                    .then(|| word(crate::framed::CONSUMED_OFFSET))
                    .flatten(),
            })
        })(),
        RingKind::Mpmc | RingKind::FramedMpsc | RingKind::Broadcast | RingKind::FramedBroadcast => {
            (|| {
                let tail = word(mpmc::TAIL_OFFSET)?;
                let head = word(mpmc::HEAD_OFFSET)?;
                for i in 0..mpmc::PARTICIPANTS {
                    let at = mpmc::TABLE_OFFSET + i * mpmc::RECORD_SIZE;
                    let owner = word(at + mpmc::RECORD_OWNER)?;
                    if owner == 0 {
                        continue;
                    }
                    let role = match half(at + mpmc::RECORD_ROLE)? {
                        0 => "unannounced",
                        1 => "sender",
                        2 => "receiver",
                        other => {
                            problems.push(format!("participant {i} has role {other}"));
                            "invalid"
                        }
                    };
                    let mut in_flight = Vec::new();
                    let mut position = None;
                    match info.kind {
                        // A broadcast receiver's lane 0 is its read cursor.
                        RingKind::Broadcast | RingKind::FramedBroadcast => {
                            let cursor = word(at + mpmc::RECORD_LANES)?;
                            if role == "receiver" && cursor != mpmc::IDLE {
                                position = Some(cursor);
                            }
                        }
                        kind => {
                            let step = if kind == RingKind::FramedMpsc { 2 } else { 1 };
                            for lane in (0..mpmc::LANES).step_by(step) {
                                let pos = word(at + mpmc::RECORD_LANES + 8 * lane)?;
                                if pos != mpmc::IDLE && pos != mpmc::TOMBSTONE {
                                    in_flight.push(pos);
                                }
                            }
                        }
                    }
                    participants.push(Participant {
                        role,
                        pid: (owner >> 32) as u32,
                        start_ticks_low: owner as u32,
                        liveness: owner_liveness(owner, word(at + mpmc::RECORD_PID_NS)?),
                        state: None,
                        in_flight,
                        position,
                    });
                }
                // A broadcast ring's "head" is its slowest receiver's position (the tail when no
                // receiver is attached): what the writer may not overwrite in lossless mode.
                let head = if info.kind.is_broadcast() {
                    participants
                        .iter()
                        .filter_map(|p| p.position)
                        .min()
                        .unwrap_or(tail)
                        .max(tail.saturating_sub(info.capacity))
                } else {
                    head
                };
                Some(Control {
                    tail,
                    head,
                    fill: tail.saturating_sub(head),
                    receiver_waiting: word(mpmc::DATA_WAITING_OFFSET)? != 0,
                    sender_waiting: word(mpmc::SPACE_WAITING_OFFSET)? != 0,
                    epoch: word(mpmc::EPOCH_OFFSET),
                    dead_senders: Some(half(mpmc::SENDERS_REAPED_OFFSET)?),
                    dead_receivers: Some(half(mpmc::RECEIVERS_REAPED_OFFSET)?),
                    consumed: (info.kind == RingKind::FramedMpsc)
                        .then(|| word(crate::framed::mpsc::CONSUMED_OFFSET))
                        .flatten(),
                })
            })()
        }
    };
    if info.kind != RingKind::Raw && control.is_none() {
        problems.push("the file ends inside the control block".into());
    }
    if let Some(c) = &control {
        if c.head > c.tail {
            problems.push(format!(
                "head {} is ahead of tail {} (a receiver cannot release what was never sent)",
                c.head, c.tail
            ));
        } else if c.fill > info.capacity {
            problems.push(format!(
                "{} waiting but the capacity is {}",
                c.fill, info.capacity
            ));
        }
        if info.kind.is_byte_ring() {
            if c.head % 8 != 0 {
                problems.push(format!("byte position head {} is not 8-aligned", c.head));
            }
            if let Some(consumed) = c.consumed {
                if consumed < c.head || consumed > c.tail || consumed % 8 != 0 {
                    problems.push(format!(
                        "consumed position {consumed} is outside head {}..=tail {} or unaligned",
                        c.head, c.tail
                    ));
                }
            }
        }
    }
    let health = if problems.is_empty() {
        Health::Ok
    } else {
        Health::Corrupt
    };
    Ok(Inspection {
        name: name.to_owned(),
        creator: info.owner.liveness(),
        info,
        file_len,
        control,
        participants,
        problems,
        health,
    })
}

/// Names of the shmring segments in `/dev/shm` (files that start with the magic bytes),
/// sorted. Files this user cannot read are left out.
///
/// ```
/// let name = format!("doc-list-{}", std::process::id());
/// let tx = shmring::spsc::Sender::<u8>::create(&name, 8)?;
/// assert!(shmring::inspect::list().contains(&name));
/// # drop(tx); shmring::Segment::unlink_name(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn list() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(SHM_DIR)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| {
            let mut magic = [0u8; 8];
            open_entry(&e.path()).is_ok_and(|(mut f, _)| f.read_exact(&mut magic).is_ok())
                && magic == MAGIC
        })
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}
