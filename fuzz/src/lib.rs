//! Shared input shaping for the fuzz targets.

use shmring::header::{CHECKSUM_OFFSET, HEADER_SIZE, HeaderInfo, STATE_READY, checksum, encode};
use shmring::{RingKind, ShmType};

/// Turns fuzzer bytes into header bytes that get past the cheap checks often enough to reach
/// the deep ones: a valid header (16 `u64` slots) is overlaid with `data[1..]`, and when bit 0
/// of `data[0]` is set the checksum is recomputed so that field values, not the checksum,
/// decide. Longer inputs replace the whole header.
pub fn header_bytes(data: &[u8]) -> Vec<u8> {
    let mut bytes = encode(
        &HeaderInfo::new(RingKind::Raw, 16, &u64::layout(), 16 * 8),
        STATE_READY,
    );
    let Some((&mode, overlay)) = data.split_first() else {
        return bytes;
    };
    let n = overlay.len().min(HEADER_SIZE);
    bytes[..n].copy_from_slice(&overlay[..n]);
    if mode & 1 == 1 {
        let sum = checksum(&bytes);
        bytes[CHECKSUM_OFFSET..CHECKSUM_OFFSET + 8].copy_from_slice(&sum.to_ne_bytes());
    }
    bytes
}
