//! The record format of the framed ring, as pure functions (fuzzed in
//! `fuzz/fuzz_targets/record_decode.rs`).
//!
//! A record starts at an 8-byte aligned offset of the data area with one 64-bit header word,
//! written last with a Release store (the commit): bits 0–31 the record length (header plus
//! payload, at least 8), bits 32–63 the tag. Type [`PADDING`] marks a padding
//! record, skipped by the reader: it fills the end of the area when the next record does not
//! fit before the wrap, and in the many-producer ring it also replaces a record its producer
//! abandoned (dropped uncommitted, or died). Type [`CLAIMED`] marks a record a producer of the
//! many-producer ring has claimed but not yet committed ("in progress"; its length field is
//! the whole claim, which may run past the wrap). A header of 0 means nothing is committed
//! there yet: the reader zeroes every byte it consumes, so stale bytes of an earlier lap never
//! look like a header.

use std::fmt;

/// Bytes of the record header.
pub const HEADER: usize = 8;
/// Records start at multiples of this.
pub const ALIGN: usize = 8;
/// Message type of a padding record (not available to users).
pub const PADDING: u32 = u32::MAX;
/// Message type of a claimed, uncommitted record of the many-producer ring (not available to
/// users).
pub const CLAIMED: u32 = u32::MAX - 1;
/// The largest payload of any ring: the length field is 32 bits, and a claim (the padding to
/// the wrap plus the record) must fit in it too.
pub const MAX_MESSAGE: usize = (1 << 31) - HEADER;

/// Whether `tag` is a tag users may send (not [`PADDING`] or [`CLAIMED`]).
///
/// ```
/// use shmring::framed::record;
/// assert!(record::user_kind(0));
/// assert!(!record::user_kind(record::PADDING));
/// ```
pub fn user_kind(tag: u32) -> bool {
    tag < CLAIMED
}

/// The header word of a record of `payload` bytes and tag `tag`.
///
/// ```
/// use shmring::framed::record;
/// let word = record::encode(5, 7);
/// assert_eq!(record::decode(word, 0, 64, 24), Ok(record::Record::Message { tag: 7, len: 5, span: 16 }));
/// ```
pub fn encode(payload: usize, tag: u32) -> u64 {
    (u64::from(tag) << 32) | (HEADER + payload) as u64
}

/// The header word of a padding record of `span` bytes.
pub fn encode_padding(span: usize) -> u64 {
    (u64::from(PADDING) << 32) | span as u64
}

/// The header word of a claim of `span` bytes (in progress).
pub fn encode_claimed(span: usize) -> u64 {
    (u64::from(CLAIMED) << 32) | span as u64
}

/// Bytes a record with `payload` bytes occupies (header, payload, alignment).
///
/// ```
/// assert_eq!(shmring::framed::record::span(0), 8);
/// assert_eq!(shmring::framed::record::span(1), 16);
/// ```
pub fn span(payload: usize) -> usize {
    (HEADER + payload).next_multiple_of(ALIGN)
}

/// What a header word says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    /// Nothing committed at this offset yet.
    Empty,
    /// A message of `len` payload bytes and tag `tag`; the next record starts `span` bytes
    /// further.
    Message {
        /// The user's tag.
        tag: u32,
        /// Payload bytes.
        len: usize,
        /// Bytes to the next record.
        span: usize,
    },
    /// Padding: `span` bytes to skip (at most to the end of the area).
    Padding {
        /// Bytes to the next record.
        span: usize,
    },
    /// A claim in progress (many-producer ring): `span` bytes, possibly past the wrap; not
    /// readable until its producer commits it (or the ring turns it into padding).
    Claimed {
        /// Bytes claimed from this offset.
        span: usize,
    },
}

/// Why a header word cannot be a record at its offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordError {
    /// The offset is not aligned or outside the area.
    BadOffset {
        /// The offset.
        offset: usize,
    },
    /// The length is shorter than a header.
    TooShort {
        /// The length field.
        length: u32,
    },
    /// The message is longer than the ring's maximum.
    TooLong {
        /// Payload bytes the header claims.
        len: usize,
        /// The ring's maximum.
        max: usize,
    },
    /// The record would run past the end of the area.
    PastTheEnd {
        /// The offset.
        offset: usize,
        /// The record's span.
        span: usize,
    },
    /// A padding record that runs past the end of the area, or a claim longer than any
    /// claim can be.
    BadPadding {
        /// The offset.
        offset: usize,
        /// The span it claims.
        span: usize,
    },
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RecordError::BadOffset { offset } => write!(f, "record offset {offset} is not valid"),
            RecordError::TooShort { length } => {
                write!(f, "record length {length} is shorter than its header")
            }
            RecordError::TooLong { len, max } => {
                write!(
                    f,
                    "record of {len} bytes exceeds the ring's maximum of {max}"
                )
            }
            RecordError::PastTheEnd { offset, span } => {
                write!(
                    f,
                    "record at {offset} of {span} bytes runs past the end of the ring"
                )
            }
            RecordError::BadPadding { offset, span } => write!(
                f,
                "padding or claim at {offset} of {span} bytes does not fit the ring"
            ),
        }
    }
}

impl std::error::Error for RecordError {}

/// Decodes and validates the header `word` found at `offset` of a data area of `capacity`
/// bytes whose messages are at most `max` bytes. Any word gives a record or an error.
///
/// ```
/// use shmring::framed::record::{self, Record, RecordError};
/// assert_eq!(record::decode(0, 8, 64, 24), Ok(Record::Empty));
/// assert_eq!(record::decode(record::encode_padding(16), 48, 64, 24), Ok(Record::Padding { span: 16 }));
/// assert!(matches!(record::decode(record::encode(40, 1), 0, 64, 24), Err(RecordError::TooLong { .. })));
/// assert!(matches!(record::decode(3, 0, 64, 24), Err(RecordError::TooShort { .. })));
/// ```
pub fn decode(
    word: u64,
    offset: usize,
    capacity: usize,
    max: usize,
) -> Result<Record, RecordError> {
    if offset % ALIGN != 0 || offset >= capacity {
        return Err(RecordError::BadOffset { offset });
    }
    if word == 0 {
        return Ok(Record::Empty);
    }
    let length = word as u32;
    let tag = (word >> 32) as u32;
    if (length as usize) < HEADER {
        return Err(RecordError::TooShort { length });
    }
    let room = capacity - offset;
    if tag == PADDING || tag == CLAIMED {
        let span = length as usize;
        // A padding record ends at the end of the area at the latest; a claim may also cover
        // the padding before a record that starts at offset 0 (at most `max` bytes of payload).
        let limit = if tag == PADDING {
            room
        } else {
            room + self::span(max)
        };
        if span > limit || span % ALIGN != 0 {
            return Err(RecordError::BadPadding { offset, span });
        }
        return Ok(if tag == PADDING {
            Record::Padding { span }
        } else {
            Record::Claimed { span }
        });
    }
    let len = length as usize - HEADER;
    if len > max {
        return Err(RecordError::TooLong { len, max });
    }
    let span = span(len);
    if span > room {
        return Err(RecordError::PastTheEnd { offset, span });
    }
    Ok(Record::Message { tag, len, span })
}

/// Walks the records of a whole data area image from offset 0, as a reader would after a
/// wrap, until an empty header, an error or `limit` records: the fuzz target's entry point.
///
/// ```
/// let mut area = vec![0u8; 64];
/// area[..8].copy_from_slice(&shmring::framed::record::encode(3, 9).to_ne_bytes());
/// let records = shmring::framed::record::walk(&area, 24, 16);
/// assert_eq!(records.len(), 2); // the message, then Empty
/// ```
pub fn walk(area: &[u8], max: usize, limit: usize) -> Vec<Result<Record, RecordError>> {
    let capacity = area.len() - area.len() % ALIGN;
    let mut out = Vec::new();
    let mut offset = 0;
    while out.len() < limit && offset < capacity {
        let word = u64::from_ne_bytes(area[offset..offset + 8].try_into().expect("8 bytes"));
        let record = decode(word, offset, capacity, max);
        out.push(record);
        match record {
            Ok(Record::Message { span, .. }) => offset += span,
            Ok(Record::Padding { span }) => offset += span,
            Ok(Record::Empty | Record::Claimed { .. }) | Err(_) => break,
        }
        if offset == 0 || offset >= capacity {
            break;
        }
    }
    out
}
