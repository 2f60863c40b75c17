//! The stream codec of the `uds:`, `fifo:`, `pipe` and `tcp:` transports, as pure functions
//! (fuzzed in `fuzz/fuzz_targets/stream_decode.rs`).
//!
//! A connection is a byte stream carrying, in each direction, one [`Hello`] followed by
//! frames. A frame is a 4-byte little-endian payload length followed by the payload; the
//! length is at most the receiving side's maximum, announced in its hello (or, for the
//! one-way `fifo:` and `pipe`, agreed by configuration). Documented byte for byte in
//! `docs/protocols.md` ("The shmring-ipc stream codec") so a peer in another language can
//! speak it.
//!
//! ```
//! use shmring_ipc::codec::{self, Decoder};
//!
//! let mut wire = Vec::new();
//! codec::encode_frame(b"hello", &mut wire);
//! codec::encode_frame(b"", &mut wire);
//! let decoder = Decoder::new(1024);
//! assert_eq!(decoder.decode(&wire), Ok(Some((4..9, 9))));       // payload range, bytes used
//! assert_eq!(decoder.decode(&wire[9..]), Ok(Some((4..4, 4))));
//! assert_eq!(decoder.decode(&wire[..3]), Ok(None));               // incomplete: read more
//! ```

use std::fmt;
use std::ops::Range;

/// Bytes of a frame's length prefix.
pub const LENGTH_PREFIX: usize = 4;
/// The magic that opens every hello.
pub const MAGIC: [u8; 8] = *b"SHMRIPC\0";
/// The codec version this crate speaks.
pub const VERSION: u16 = 1;
/// The largest frame any endpoint may announce (1 GiB).
pub const MAX_FRAME_LIMIT: u32 = 1 << 30;
/// The longest layout description a hello may carry.
pub const MAX_DESCRIPTION: usize = 1024;
/// Fixed bytes of a hello before its description.
pub const HELLO_FIXED: usize = 8 + 2 + 2 + 4 + 8 + 2;
/// Hello flag of a subscriber (publish/subscribe over `uds:`/`tcp:`, [`crate::pubsub`]).
pub const FLAG_SUBSCRIBER: u16 = 1;
/// Hello flag of a publisher.
pub const FLAG_PUBLISHER: u16 = 2;
/// Hello flag of a publisher whose policy is overwrite (with [`FLAG_PUBLISHER`]).
pub const FLAG_OVERWRITE: u16 = 4;
/// The length prefix that marks a lag record instead of a frame (publisher to subscriber):
/// followed by 8 bytes, the number of messages the subscriber missed.
pub const LAG_MARK: u32 = u32::MAX;
/// Bytes of a lag record.
pub const LAG_RECORD: usize = LENGTH_PREFIX + 8;

/// Appends a lag record (`missed` messages dropped for this subscriber) to `out`.
///
/// ```
/// let mut out = Vec::new();
/// shmring_ipc::codec::encode_lag(3, &mut out);
/// assert_eq!(out, [0xff, 0xff, 0xff, 0xff, 3, 0, 0, 0, 0, 0, 0, 0]);
/// ```
pub fn encode_lag(missed: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(&LAG_MARK.to_le_bytes());
    out.extend_from_slice(&missed.to_le_bytes());
}

/// What a publisher's stream holds next (see [`decode_published`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Published {
    /// A message: its payload's range in the bytes, and the bytes it takes.
    Message(Range<usize>, usize),
    /// A lag record: the messages the subscriber missed (at least 1), and the bytes it takes.
    Lagged(u64, usize),
}

/// Looks for one frame or lag record at the start of `bytes` from a publisher: `Ok(None)`
/// when more bytes are needed.
///
/// # Errors
///
/// [`FrameError::TooLong`] for a frame over `max`; [`FrameError::BadHello`] naming `lag`
/// for a lag record of 0 messages.
///
/// ```
/// use shmring_ipc::codec::{Published, decode_published, encode_frame, encode_lag};
/// let mut wire = Vec::new();
/// encode_lag(2, &mut wire);
/// encode_frame(b"hi", &mut wire);
/// assert_eq!(decode_published(&wire, 16), Ok(Some(Published::Lagged(2, 12))));
/// assert_eq!(decode_published(&wire[12..], 16), Ok(Some(Published::Message(4..6, 6))));
/// assert_eq!(decode_published(&wire[..5], 16), Ok(None));
/// ```
pub fn decode_published(bytes: &[u8], max: u32) -> Result<Option<Published>, FrameError> {
    let Some(prefix) = bytes.first_chunk::<LENGTH_PREFIX>() else {
        return Ok(None);
    };
    if u32::from_le_bytes(*prefix) != LAG_MARK {
        return Ok(Decoder::new(max)
            .decode(bytes)?
            .map(|(payload, used)| Published::Message(payload, used)));
    }
    let Some(record) = bytes.first_chunk::<LAG_RECORD>() else {
        return Ok(None);
    };
    let missed = u64::from_le_bytes(record[LENGTH_PREFIX..].try_into().expect("8 bytes"));
    if missed == 0 {
        return Err(FrameError::BadHello {
            field: "lag",
            value: 0,
        });
    }
    Ok(Some(Published::Lagged(missed, LAG_RECORD)))
}

/// Appends the frame of `payload` (length prefix, payload) to `out`.
///
/// # Panics
///
/// If `payload` is longer than `u32::MAX` bytes (senders check their maximum first).
///
/// ```
/// let mut out = Vec::new();
/// shmring_ipc::codec::encode_frame(&[7, 8], &mut out);
/// assert_eq!(out, [2, 0, 0, 0, 7, 8]);
/// ```
pub fn encode_frame(payload: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).expect("frame longer than u32::MAX");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(payload);
}

/// Why bytes on a stream are not a valid frame or hello: the connection is closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// A frame's length exceeds the receiver's maximum.
    TooLong {
        /// The length the frame claims.
        len: u64,
        /// The maximum this side accepts.
        max: u32,
    },
    /// The stream does not start with the hello magic.
    BadMagic,
    /// The peer speaks another codec version.
    Version {
        /// The version the peer announced.
        version: u16,
    },
    /// The sender's messages are of another type than the receiver's (typed channels).
    Layout {
        /// The receiver's payload type.
        expected: String,
        /// The sender's.
        found: String,
    },
    /// A hello field is out of range.
    BadHello {
        /// Which field.
        field: &'static str,
        /// Its value.
        value: u64,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLong { len, max } => {
                write!(f, "frame of {len} bytes exceeds the maximum of {max} bytes")
            }
            FrameError::BadMagic => f.write_str("the peer does not speak the shmring-ipc codec"),
            FrameError::Version { version } => write!(
                f,
                "the peer speaks codec version {version}; this side speaks {VERSION}"
            ),
            FrameError::Layout { expected, found } => write!(
                f,
                "the sender sends {found}; this receiver expects {expected}"
            ),
            FrameError::BadHello { field, value } => {
                write!(f, "the peer's hello has an invalid {field} ({value})")
            }
        }
    }
}

impl std::error::Error for FrameError {}

/// An incremental frame decoder with a maximum frame length.
#[derive(Clone, Copy, Debug)]
pub struct Decoder {
    max: u32,
}

impl Decoder {
    /// A decoder accepting payloads of at most `max` bytes.
    ///
    /// ```
    /// let d = shmring_ipc::codec::Decoder::new(64);
    /// assert_eq!(d.max(), 64);
    /// ```
    pub fn new(max: u32) -> Decoder {
        Decoder { max }
    }

    /// The maximum payload length.
    ///
    /// ```
    /// assert_eq!(shmring_ipc::codec::Decoder::new(9).max(), 9);
    /// ```
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Looks for one frame at the start of `bytes`: `Ok(Some((payload, used)))` with the
    /// payload's range in `bytes` and the bytes the frame takes; `Ok(None)` when more bytes
    /// are needed (never more than one frame's worth); an error for a frame over the maximum
    /// (reported as soon as its length prefix arrives).
    ///
    /// # Errors
    ///
    /// [`FrameError::TooLong`].
    ///
    /// ```
    /// use shmring_ipc::codec::{Decoder, FrameError};
    /// let d = Decoder::new(4);
    /// assert_eq!(d.decode(&[5, 0, 0, 0]), Err(FrameError::TooLong { len: 5, max: 4 }));
    /// ```
    pub fn decode(&self, bytes: &[u8]) -> Result<Option<(Range<usize>, usize)>, FrameError> {
        let Some(prefix) = bytes.first_chunk::<LENGTH_PREFIX>() else {
            return Ok(None);
        };
        let len = u32::from_le_bytes(*prefix);
        if len > self.max {
            return Err(FrameError::TooLong {
                len: len.into(),
                max: self.max,
            });
        }
        let end = LENGTH_PREFIX + len as usize;
        if bytes.len() < end {
            return Ok(None);
        }
        Ok(Some((LENGTH_PREFIX..end, end)))
    }
}

/// What each side announces once, first thing on a connection.
///
/// | offset | size | field |
/// |---:|---:|---|
/// | 0 | 8 | magic `SHMRIPC\0` |
/// | 8 | 2 | codec version (1), little endian |
/// | 10 | 2 | flags (0; publish/subscribe: 1 subscriber, 2 publisher, 6 overwrite publisher) |
/// | 12 | 4 | largest payload this side accepts |
/// | 16 | 8 | payload layout fingerprint (0: untyped bytes) |
/// | 24 | 2 | description length (≤ 1024) |
/// | 26 | n | layout description, UTF-8 |
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The hello's flags: 0 on a one-way or duplex channel; [`FLAG_SUBSCRIBER`], or
    /// [`FLAG_PUBLISHER`] (with [`FLAG_OVERWRITE`] for that policy) on publish/subscribe.
    pub flags: u16,
    /// The largest payload this side accepts.
    pub max_frame: u32,
    /// The payload's layout fingerprint ([`shmring::TypeLayout::fingerprint`]), 0 for bytes.
    pub fingerprint: u64,
    /// The payload's layout description (empty for bytes).
    pub description: String,
}

impl Hello {
    /// Appends this hello's bytes to `out`.
    ///
    /// ```
    /// use shmring_ipc::codec::Hello;
    /// let hello = Hello { flags: 0, max_frame: 64, fingerprint: 0, description: String::new() };
    /// let mut out = Vec::new();
    /// hello.encode(&mut out);
    /// assert_eq!(Hello::decode(&out), Ok(Some((hello, out.len()))));
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) {
        let description =
            &self.description.as_bytes()[..self.description.len().min(MAX_DESCRIPTION)];
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&self.flags.to_le_bytes());
        out.extend_from_slice(&self.max_frame.to_le_bytes());
        out.extend_from_slice(&self.fingerprint.to_le_bytes());
        out.extend_from_slice(&(description.len() as u16).to_le_bytes());
        out.extend_from_slice(description);
    }

    /// Decodes a hello at the start of `bytes`: `Ok(Some((hello, used)))`, `Ok(None)` when
    /// more bytes are needed, or why the bytes are not a hello (checked as soon as the bytes
    /// that show it arrive).
    ///
    /// # Errors
    ///
    /// [`FrameError::BadMagic`], [`FrameError::Version`], [`FrameError::BadHello`].
    ///
    /// ```
    /// use shmring_ipc::codec::{FrameError, Hello};
    /// assert_eq!(Hello::decode(b"GET / HTTP/1.1"), Err(FrameError::BadMagic));
    /// assert_eq!(Hello::decode(b"SHMR"), Ok(None));
    /// ```
    pub fn decode(bytes: &[u8]) -> Result<Option<(Hello, usize)>, FrameError> {
        Hello::decode_allowing(bytes, |flags| flags == 0)
    }

    /// As [`decode`](Hello::decode), for publish/subscribe: the flags must be
    /// [`FLAG_SUBSCRIBER`], [`FLAG_PUBLISHER`] or `FLAG_PUBLISHER | FLAG_OVERWRITE` (a hello
    /// with flags 0 is a plain channel's: refused too).
    ///
    /// # Errors
    ///
    /// As [`decode`](Hello::decode).
    ///
    /// ```
    /// use shmring_ipc::codec::{FLAG_PUBLISHER, FLAG_SUBSCRIBER, FrameError, Hello};
    /// let mut out = Vec::new();
    /// Hello { flags: FLAG_SUBSCRIBER, max_frame: 8, fingerprint: 0, description: String::new() }
    ///     .encode(&mut out);
    /// assert_eq!(Hello::decode_pubsub(&out).unwrap().unwrap().0.flags, FLAG_SUBSCRIBER);
    /// assert!(matches!(Hello::decode(&out), Err(FrameError::BadHello { field: "flags", .. })));
    /// ```
    pub fn decode_pubsub(bytes: &[u8]) -> Result<Option<(Hello, usize)>, FrameError> {
        Hello::decode_allowing(bytes, |flags| {
            flags == FLAG_SUBSCRIBER
                || flags == FLAG_PUBLISHER
                || flags == FLAG_PUBLISHER | FLAG_OVERWRITE
        })
    }

    fn decode_allowing(
        bytes: &[u8],
        allowed: fn(u16) -> bool,
    ) -> Result<Option<(Hello, usize)>, FrameError> {
        let n = bytes.len().min(MAGIC.len());
        if bytes[..n] != MAGIC[..n] {
            return Err(FrameError::BadMagic);
        }
        let Some(fixed) = bytes.first_chunk::<HELLO_FIXED>() else {
            return Ok(None);
        };
        let u16_at = |at: usize| u16::from_le_bytes([fixed[at], fixed[at + 1]]);
        let version = u16_at(8);
        if version != VERSION {
            return Err(FrameError::Version { version });
        }
        let flags = u16_at(10);
        if !allowed(flags) {
            return Err(FrameError::BadHello {
                field: "flags",
                value: flags.into(),
            });
        }
        let max_frame = u32::from_le_bytes(fixed[12..16].try_into().expect("4 bytes"));
        if max_frame > MAX_FRAME_LIMIT {
            return Err(FrameError::BadHello {
                field: "max_frame",
                value: max_frame.into(),
            });
        }
        let fingerprint = u64::from_le_bytes(fixed[16..24].try_into().expect("8 bytes"));
        let len = usize::from(u16_at(24));
        if len > MAX_DESCRIPTION {
            return Err(FrameError::BadHello {
                field: "description length",
                value: len as u64,
            });
        }
        let Some(text) = bytes.get(HELLO_FIXED..HELLO_FIXED + len) else {
            return Ok(None);
        };
        let description = std::str::from_utf8(text)
            .map_err(|_| FrameError::BadHello {
                field: "description (not UTF-8)",
                value: len as u64,
            })?
            .to_owned();
        Ok(Some((
            Hello {
                flags,
                max_frame,
                fingerprint,
                description,
            },
            HELLO_FIXED + len,
        )))
    }
}
