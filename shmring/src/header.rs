//! The segment header (format version 1): byte layout, encoding and validation.
//!
//! The first [`HEADER_SIZE`] bytes of every segment. `docs/layout.md` gives every offset; the
//! `const` assertions below hold the private `RawHeader` struct to that document. The header is never accessed
//! through a Rust reference: the creator encodes it in a local buffer and copies it in with
//! 32-bit atomic stores, then publishes [`STATE_READY`] with a Release store; an opener
//! Acquire-loads the state and copies the header out with 32-bit atomic loads into a local
//! buffer, which [`decode`] validates field by field. [`decode`] is a pure function over bytes,
//! so it is what the header fuzz target drives.
//!
//! ```
//! use shmring::header::{decode, HeaderError, HEADER_SIZE};
//!
//! assert_eq!(decode(&[0xAB; HEADER_SIZE]).unwrap_err(), HeaderError::BadMagic);
//! assert_eq!(decode(&[0; 16]).unwrap_err(), HeaderError::Short { len: 16 });
//! ```

use std::fmt;

use crate::process::ProcessId;
use crate::shm_type::{FNV_OFFSET_BASIS, FNV_PRIME};

/// Size of the header in bytes: one page. The ring area starts right after it.
pub const HEADER_SIZE: usize = 4096;
/// The magic bytes at offset 0.
pub const MAGIC: [u8; 8] = *b"SHMRING\0";
/// The header format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Written in native byte order; a reader of the other endianness sees it swapped.
pub const ENDIAN_MARK: u32 = 0x0102_0304;
/// `state`: the creator is still writing the header (a fresh, zeroed segment reads as this).
pub const STATE_INITIALISING: u32 = 0;
/// `state`: the header is complete and valid.
pub const STATE_READY: u32 = 1;
/// `state`: the owner retired the segment; openers refuse it.
pub const STATE_CLOSED: u32 = 2;
/// `flags` bit 0: the description was cut to fit [`DESCRIPTION_CAPACITY`].
pub const FLAG_DESCRIPTION_TRUNCATED: u32 = 1;
/// `flags` bit 1 (broadcast rings only): the ring overwrites what slow receivers have not
/// read ([`crate::broadcast::Policy::Overwrite`]) instead of waiting for them.
pub const FLAG_OVERWRITE: u32 = 2;
/// `flags` bit 2 (every kind but raw): every notifier on this ring issues a full fence after
/// each publication, and a waiter about to sleep skips the `membarrier` it otherwise issues
/// (`RingOptions::fence_every_send`; docs/protocols.md, "Wake-ups"). Chosen at creation: every
/// process on the ring must agree, and one that does not know the bit refuses the ring.
pub const FLAG_FENCE_EVERY_SEND: u32 = 4;
/// Bytes available for the payload's readable description.
pub const DESCRIPTION_CAPACITY: usize = 3840;
/// Largest segment accepted (128 TiB): keeps every size computation far from overflow.
pub const MAX_TOTAL_SIZE: u64 = 1 << 47;
/// Largest slot alignment accepted.
pub const MAX_SLOT_ALIGN: u32 = 4096;

/// Byte offset of the `state` word, the only header field written after creation.
pub const STATE_OFFSET: usize = std::mem::offset_of!(RawHeader, state);
/// Byte offset of the creator's pid, written (Release) before the rest of the header.
pub const OWNER_PID_OFFSET: usize = std::mem::offset_of!(RawHeader, owner_pid);
/// Byte offset of the checksum.
pub const CHECKSUM_OFFSET: usize = std::mem::offset_of!(RawHeader, checksum);

/// What the area after the header holds.
///
/// ```
/// use shmring::RingKind;
/// assert_eq!(RingKind::Spsc.to_string(), "spsc");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RingKind {
    /// An area the application manages itself (typed slots, no ring protocol).
    Raw,
    /// Single-producer single-consumer typed ring.
    Spsc,
    /// Multi-producer multi-consumer typed ring.
    Mpmc,
    /// Variable-length message ring.
    Framed,
    /// Variable-length message ring with many producers.
    FramedMpsc,
    /// One writer, many receivers each seeing every message (typed slots).
    Broadcast,
    /// One writer, many receivers each seeing every message (byte messages in 64-byte
    /// cells: [`crate::framed::broadcast`]).
    FramedBroadcast,
    /// Events without data: notifiers set ids, listeners take them ([`crate::event`]).
    Event,
}

impl RingKind {
    /// The value stored in the header's `kind` field.
    ///
    /// ```
    /// assert_eq!(shmring::RingKind::Raw.code(), 1);
    /// ```
    pub fn code(self) -> u32 {
        match self {
            RingKind::Raw => 1,
            RingKind::Spsc => 2,
            RingKind::Mpmc => 3,
            RingKind::Framed => 4,
            RingKind::FramedMpsc => 5,
            RingKind::Broadcast => 6,
            RingKind::FramedBroadcast => 7,
            RingKind::Event => 8,
        }
    }

    /// Whether the ring's capacity counts bytes of a byte area (the framed rings) rather than
    /// slots.
    ///
    /// ```
    /// assert!(shmring::RingKind::FramedMpsc.is_byte_ring());
    /// assert!(!shmring::RingKind::Spsc.is_byte_ring());
    /// ```
    pub fn is_byte_ring(self) -> bool {
        matches!(self, RingKind::Framed | RingKind::FramedMpsc)
    }

    /// Whether the ring is one writer to many receivers (a broadcast ring, typed or of byte
    /// messages): receivers have cursors, and a policy for slow ones.
    ///
    /// ```
    /// assert!(shmring::RingKind::FramedBroadcast.is_broadcast());
    /// assert!(!shmring::RingKind::Mpmc.is_broadcast());
    /// ```
    pub fn is_broadcast(self) -> bool {
        matches!(self, RingKind::Broadcast | RingKind::FramedBroadcast)
    }

    /// The kind stored as `code`, if any.
    ///
    /// ```
    /// use shmring::RingKind;
    /// assert_eq!(RingKind::from_code(3), Some(RingKind::Mpmc));
    /// assert_eq!(RingKind::from_code(0), None);
    /// ```
    pub fn from_code(code: u32) -> Option<RingKind> {
        Some(match code {
            1 => RingKind::Raw,
            2 => RingKind::Spsc,
            3 => RingKind::Mpmc,
            4 => RingKind::Framed,
            5 => RingKind::FramedMpsc,
            6 => RingKind::Broadcast,
            7 => RingKind::FramedBroadcast,
            8 => RingKind::Event,
            _ => return None,
        })
    }
}

impl fmt::Display for RingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RingKind::Raw => "raw",
            RingKind::Spsc => "spsc",
            RingKind::Mpmc => "mpmc",
            RingKind::Framed => "framed",
            RingKind::FramedMpsc => "framed-mpsc",
            RingKind::Broadcast => "broadcast",
            RingKind::FramedBroadcast => "framed-broadcast",
            RingKind::Event => "event",
        })
    }
}

/// The header's byte layout. Only ever built in local memory and copied in or out; see the
/// module documentation. Every field is little or big endian as the host, as `endian` records.
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub(crate) struct RawHeader {
    pub magic: [u8; 8],
    pub version: u32,
    pub endian: u32,
    pub state: u32,
    pub kind: u32,
    pub header_size: u32,
    pub flags: u32,
    pub total_size: u64,
    pub area_offset: u64,
    pub area_size: u64,
    pub capacity: u64,
    pub slot_size: u32,
    pub slot_align: u32,
    pub fingerprint: u64,
    pub description_len: u32,
    pub owner_pid: u32,
    pub owner_start_ticks: u64,
    pub owner_pid_ns: u64,
    pub created_unix_ns: u64,
    pub checksum: u64,
    pub reserved: [u8; 136],
    pub description: [u8; DESCRIPTION_CAPACITY],
}

// The promises of docs/layout.md. Changing any of these is a new format version.
const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<RawHeader>() == HEADER_SIZE);
    assert!(align_of::<RawHeader>() == 8);
    assert!(offset_of!(RawHeader, magic) == 0);
    assert!(offset_of!(RawHeader, version) == 8);
    assert!(offset_of!(RawHeader, endian) == 12);
    assert!(offset_of!(RawHeader, state) == 16);
    assert!(offset_of!(RawHeader, kind) == 20);
    assert!(offset_of!(RawHeader, header_size) == 24);
    assert!(offset_of!(RawHeader, flags) == 28);
    assert!(offset_of!(RawHeader, total_size) == 32);
    assert!(offset_of!(RawHeader, area_offset) == 40);
    assert!(offset_of!(RawHeader, area_size) == 48);
    assert!(offset_of!(RawHeader, capacity) == 56);
    assert!(offset_of!(RawHeader, slot_size) == 64);
    assert!(offset_of!(RawHeader, slot_align) == 68);
    assert!(offset_of!(RawHeader, fingerprint) == 72);
    assert!(offset_of!(RawHeader, description_len) == 80);
    assert!(offset_of!(RawHeader, owner_pid) == 84);
    assert!(offset_of!(RawHeader, owner_start_ticks) == 88);
    assert!(offset_of!(RawHeader, owner_pid_ns) == 96);
    assert!(offset_of!(RawHeader, created_unix_ns) == 104);
    assert!(offset_of!(RawHeader, checksum) == 112);
    assert!(offset_of!(RawHeader, reserved) == 120);
    assert!(offset_of!(RawHeader, description) == 256);
    assert!(256 + DESCRIPTION_CAPACITY == HEADER_SIZE);
};

/// A validated header, as read from (or to be written to) a segment.
///
/// ```
/// use shmring::header::{decode, encode, HeaderInfo, STATE_READY};
/// use shmring::{RingKind, ShmType};
///
/// let info = HeaderInfo::new(RingKind::Raw, 8, &u64::layout(), 64);
/// let bytes = encode(&info, STATE_READY);
/// assert_eq!(decode(&bytes).unwrap(), info);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderInfo {
    /// Format version (always [`FORMAT_VERSION`] once validated).
    pub version: u32,
    /// Lifecycle state: [`STATE_READY`] or [`STATE_CLOSED`] once validated.
    pub state: u32,
    /// What the area holds.
    pub kind: RingKind,
    /// Total segment size in bytes (header + area).
    pub total_size: u64,
    /// Offset of the area (always [`HEADER_SIZE`]).
    pub area_offset: u64,
    /// Size of the area in bytes.
    pub area_size: u64,
    /// Capacity in slots (typed rings) or bytes (framed rings).
    pub capacity: u64,
    /// Payload slot size in bytes.
    pub slot_size: u32,
    /// Payload slot alignment in bytes.
    pub slot_align: u32,
    /// Fingerprint of the payload type ([`crate::TypeLayout::fingerprint`]).
    pub fingerprint: u64,
    /// Readable payload description (possibly cut, see `description_truncated`).
    pub description: String,
    /// The description was too long for the header and was cut at a character boundary.
    pub description_truncated: bool,
    /// Broadcast rings: slow receivers are overtaken ([`FLAG_OVERWRITE`]); `false` for every
    /// other kind.
    pub overwrite: bool,
    /// Notifiers fence after every send and sleepers skip `membarrier`
    /// ([`FLAG_FENCE_EVERY_SEND`]).
    pub fence_every_send: bool,
    /// The process that created the segment.
    pub owner: ProcessId,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_unix_ns: u64,
}

impl HeaderInfo {
    /// A header for a new segment created by the calling process now, with an area of
    /// `area_size` bytes.
    ///
    /// ```
    /// use shmring::{header::HeaderInfo, RingKind, ShmType};
    /// let h = HeaderInfo::new(RingKind::Spsc, 1024, &u32::layout(), 4096 + 128);
    /// assert_eq!(h.total_size, 4096 + 4096 + 128);
    /// ```
    pub fn new(
        kind: RingKind,
        capacity: u64,
        payload: &crate::TypeLayout,
        area_size: u64,
    ) -> HeaderInfo {
        let full = payload.to_string();
        let mut cut = full.len().min(DESCRIPTION_CAPACITY);
        while !full.is_char_boundary(cut) {
            cut -= 1;
        }
        let owner = ProcessId::current().unwrap_or(ProcessId {
            pid: 0,
            start_ticks: 0,
            pid_ns: 0,
        });
        let created_unix_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        HeaderInfo {
            version: FORMAT_VERSION,
            state: STATE_READY,
            kind,
            total_size: HEADER_SIZE as u64 + area_size,
            area_offset: HEADER_SIZE as u64,
            area_size,
            capacity,
            slot_size: u32::try_from(payload.size()).unwrap_or(u32::MAX),
            slot_align: u32::try_from(payload.align()).unwrap_or(u32::MAX),
            fingerprint: payload.fingerprint(),
            description_truncated: cut < full.len(),
            overwrite: false,
            fence_every_send: false,
            description: full[..cut].to_owned(),
            owner,
            created_unix_ns,
        }
    }
}

/// Why a header failed validation.
///
/// ```
/// use shmring::header::HeaderError;
/// assert!(HeaderError::BadMagic.to_string().contains("not a shmring segment"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// Fewer than [`HEADER_SIZE`] bytes.
    #[error("only {len} bytes, a header needs {HEADER_SIZE}")]
    Short {
        /// Bytes available.
        len: usize,
    },
    /// The creator has not published the header yet (state 0, magic absent or complete).
    #[error("the creator has not finished initialising it")]
    NotReady,
    /// The magic bytes are wrong: this is not a shmring segment.
    #[error("not a shmring segment (wrong magic bytes)")]
    BadMagic,
    /// Written by a machine of the other byte order.
    #[error("written with the other byte order")]
    WrongEndianness,
    /// A format version this build does not read.
    #[error("format version {0}, this build reads version {FORMAT_VERSION}")]
    UnsupportedVersion(u32),
    /// A lifecycle state outside the defined values.
    #[error("unknown lifecycle state {0}")]
    BadState(u32),
    /// A ring kind outside the defined values.
    #[error("unknown ring kind {0}")]
    UnknownKind(u32),
    /// A field whose value is impossible.
    #[error("field `{field}` has impossible value {value}")]
    BadField {
        /// The field's name in docs/layout.md.
        field: &'static str,
        /// The value found.
        value: u64,
    },
    /// The description is not UTF-8.
    #[error("the payload description is not UTF-8")]
    BadDescription,
    /// The checksum over the immutable fields does not match.
    #[error("checksum mismatch (stored {stored:#018x}, computed {computed:#018x})")]
    Checksum {
        /// Stored value.
        stored: u64,
        /// Value computed over the header bytes.
        computed: u64,
    },
}

/// Encodes `info` into header bytes with the given lifecycle `state` and a fresh checksum.
///
/// ```
/// use shmring::header::{encode, HeaderInfo, STATE_READY, HEADER_SIZE};
/// use shmring::{RingKind, ShmType};
/// let bytes = encode(&HeaderInfo::new(RingKind::Raw, 1, &u8::layout(), 1), STATE_READY);
/// assert_eq!(bytes.len(), HEADER_SIZE);
/// assert_eq!(&bytes[..8], b"SHMRING\0");
/// ```
pub fn encode(info: &HeaderInfo, state: u32) -> Vec<u8> {
    let mut raw: RawHeader = bytemuck::Zeroable::zeroed();
    raw.magic = MAGIC;
    raw.version = info.version;
    raw.endian = ENDIAN_MARK;
    raw.state = state;
    raw.kind = info.kind.code();
    raw.header_size = HEADER_SIZE as u32;
    raw.flags = if info.description_truncated {
        FLAG_DESCRIPTION_TRUNCATED
    } else {
        0
    } | if info.overwrite { FLAG_OVERWRITE } else { 0 }
        | if info.fence_every_send {
            FLAG_FENCE_EVERY_SEND
        } else {
            0
        };
    raw.total_size = info.total_size;
    raw.area_offset = info.area_offset;
    raw.area_size = info.area_size;
    raw.capacity = info.capacity;
    raw.slot_size = info.slot_size;
    raw.slot_align = info.slot_align;
    raw.fingerprint = info.fingerprint;
    let desc = info.description.as_bytes();
    let n = desc.len().min(DESCRIPTION_CAPACITY);
    raw.description[..n].copy_from_slice(&desc[..n]);
    raw.description_len = n as u32;
    raw.owner_pid = info.owner.pid;
    raw.owner_start_ticks = info.owner.start_ticks;
    raw.owner_pid_ns = info.owner.pid_ns;
    raw.created_unix_ns = info.created_unix_ns;
    let mut bytes = bytemuck::bytes_of(&raw).to_vec();
    let sum = checksum(&bytes);
    bytes[CHECKSUM_OFFSET..CHECKSUM_OFFSET + 8].copy_from_slice(&sum.to_ne_bytes());
    bytes
}

/// The header checksum: FNV-1a taken over 64-bit little-endian words instead of bytes, over
/// all [`HEADER_SIZE`] bytes with the mutable `state` word and the checksum itself read as
/// zero. A change to any one word always changes the result (each step is a bijection).
///
/// # Panics
///
/// If `bytes` is shorter than [`HEADER_SIZE`].
///
/// ```
/// use shmring::header::{checksum, HEADER_SIZE};
/// let mut h = vec![0u8; HEADER_SIZE];
/// let a = checksum(&h);
/// h[16] = 1; // the state word does not count
/// assert_eq!(checksum(&h), a);
/// h[24] = 1;
/// assert_ne!(checksum(&h), a);
/// ```
pub fn checksum(bytes: &[u8]) -> u64 {
    const _: () = assert!(STATE_OFFSET % 8 == 0 && CHECKSUM_OFFSET % 8 == 0);
    let mut h = FNV_OFFSET_BASIS;
    for (i, chunk) in bytes[..HEADER_SIZE].chunks_exact(8).enumerate() {
        let mut w = u64::from_le_bytes(chunk.try_into().expect("8-byte chunk"));
        match i * 8 {
            STATE_OFFSET => w &= !0xffff_ffff, // `state` is the low half of its word
            CHECKSUM_OFFSET => w = 0,
            _ => {}
        }
        h = (h ^ w).wrapping_mul(FNV_PRIME);
    }
    h
}

/// Validates header bytes copied out of a segment. Never panics, whatever the bytes.
///
/// Checks, in order: length, readiness, magic, byte order, version, state, every field's range
/// and the relations between fields, the description's encoding, and the checksum.
///
/// # Errors
///
/// The first [`HeaderError`] found; [`HeaderError::NotReady`] for a segment whose creator has
/// not published it yet.
///
/// ```
/// use shmring::header::{decode, HeaderError, HEADER_SIZE};
/// assert_eq!(decode(&[0; HEADER_SIZE]).unwrap_err(), HeaderError::NotReady);
/// ```
pub fn decode(bytes: &[u8]) -> Result<HeaderInfo, HeaderError> {
    if bytes.len() < HEADER_SIZE {
        return Err(HeaderError::Short { len: bytes.len() });
    }
    let raw: RawHeader = bytemuck::pod_read_unaligned(&bytes[..HEADER_SIZE]);
    if raw.state == STATE_INITIALISING && (raw.magic == [0; 8] || raw.magic == MAGIC) {
        return Err(HeaderError::NotReady);
    }
    if raw.magic != MAGIC {
        return Err(HeaderError::BadMagic);
    }
    if raw.endian != ENDIAN_MARK {
        return Err(HeaderError::WrongEndianness);
    }
    if raw.version != FORMAT_VERSION {
        return Err(HeaderError::UnsupportedVersion(raw.version));
    }
    if raw.state != STATE_READY && raw.state != STATE_CLOSED {
        return Err(HeaderError::BadState(raw.state));
    }
    let kind = RingKind::from_code(raw.kind).ok_or(HeaderError::UnknownKind(raw.kind))?;
    let bad = |field, value: u64| Err(HeaderError::BadField { field, value });
    if raw.header_size as usize != HEADER_SIZE {
        return bad("header_size", raw.header_size.into());
    }
    let allowed = match kind {
        RingKind::Broadcast | RingKind::FramedBroadcast => {
            FLAG_DESCRIPTION_TRUNCATED | FLAG_OVERWRITE | FLAG_FENCE_EVERY_SEND
        }
        RingKind::Raw | RingKind::Event => FLAG_DESCRIPTION_TRUNCATED,
        _ => FLAG_DESCRIPTION_TRUNCATED | FLAG_FENCE_EVERY_SEND,
    };
    if raw.flags & !allowed != 0 {
        return bad("flags", raw.flags.into());
    }
    if raw.area_offset != HEADER_SIZE as u64 {
        return bad("area_offset", raw.area_offset);
    }
    if raw.total_size > MAX_TOTAL_SIZE {
        return bad("total_size", raw.total_size);
    }
    if raw.area_size == 0 || raw.area_offset.checked_add(raw.area_size) != Some(raw.total_size) {
        return bad("area_size", raw.area_size);
    }
    if raw.capacity == 0 || raw.capacity > raw.area_size {
        return bad("capacity", raw.capacity);
    }
    if raw.slot_align == 0 || !raw.slot_align.is_power_of_two() || raw.slot_align > MAX_SLOT_ALIGN {
        return bad("slot_align", raw.slot_align.into());
    }
    if raw.slot_size == 0 || raw.slot_size % raw.slot_align != 0 {
        return bad("slot_size", raw.slot_size.into());
    }
    if !kind.is_byte_ring()
        && u64::from(raw.slot_size)
            .checked_mul(raw.capacity)
            .is_none_or(|n| n > raw.area_size)
    {
        return bad("capacity", raw.capacity);
    }
    if raw.description_len as usize > DESCRIPTION_CAPACITY {
        return bad("description_len", raw.description_len.into());
    }
    if raw.owner_pid == 0 || raw.owner_pid > i32::MAX as u32 {
        return bad("owner_pid", raw.owner_pid.into());
    }
    let description = std::str::from_utf8(&raw.description[..raw.description_len as usize])
        .map_err(|_| HeaderError::BadDescription)?
        .to_owned();
    let computed = checksum(bytes);
    if computed != raw.checksum {
        return Err(HeaderError::Checksum {
            stored: raw.checksum,
            computed,
        });
    }
    Ok(HeaderInfo {
        version: raw.version,
        state: raw.state,
        kind,
        total_size: raw.total_size,
        area_offset: raw.area_offset,
        area_size: raw.area_size,
        capacity: raw.capacity,
        slot_size: raw.slot_size,
        slot_align: raw.slot_align,
        fingerprint: raw.fingerprint,
        description,
        description_truncated: raw.flags & FLAG_DESCRIPTION_TRUNCATED != 0,
        overwrite: raw.flags & FLAG_OVERWRITE != 0,
        fence_every_send: raw.flags & FLAG_FENCE_EVERY_SEND != 0,
        owner: ProcessId {
            pid: raw.owner_pid,
            start_ticks: raw.owner_start_ticks,
            pid_ns: raw.owner_pid_ns,
        },
        created_unix_ns: raw.created_unix_ns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ShmType;

    fn sample() -> HeaderInfo {
        HeaderInfo::new(RingKind::Raw, 16, &<[u32; 3]>::layout(), 16 * 12)
    }

    #[test]
    fn round_trips() {
        let info = sample();
        assert_eq!(decode(&encode(&info, STATE_READY)).unwrap(), info);
        let closed = decode(&encode(&info, STATE_CLOSED)).unwrap();
        assert_eq!(closed.state, STATE_CLOSED);
    }

    #[test]
    fn initialising_is_not_ready() {
        let mut bytes = encode(&sample(), STATE_INITIALISING);
        assert_eq!(decode(&bytes), Err(HeaderError::NotReady));
        bytes[..8].copy_from_slice(b"NOTOURS!");
        assert_eq!(decode(&bytes), Err(HeaderError::BadMagic));
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let bytes = encode(&sample(), STATE_READY);
        for i in (0..HEADER_SIZE).filter(|&i| !(STATE_OFFSET..STATE_OFFSET + 4).contains(&i)) {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert!(decode(&b).is_err(), "flip at byte {i} went unnoticed");
        }
    }

    #[test]
    fn long_descriptions_are_cut_at_a_char_boundary() {
        let fields = (0..400)
            .map(|i| crate::FieldLayout::new(format!("fé{i}"), i * 4, u32::layout()))
            .collect();
        let big = crate::TypeLayout::structure("Big", 1600, 4, fields);
        let info = HeaderInfo::new(RingKind::Raw, 1, &big, 1600);
        assert!(info.description_truncated);
        assert!(info.description.len() <= DESCRIPTION_CAPACITY);
        assert_eq!(decode(&encode(&info, STATE_READY)).unwrap(), info);
    }
}
