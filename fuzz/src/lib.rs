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

/// Checks what a `try_send` of a live, scribbled-on framed ring returned: a message, or a
/// clean refusal; `TooLarge` only for a message longer than the limit it names.
pub fn check_try_send(result: Result<(), shmring::framed::TrySendError>) {
    use shmring::framed::TrySendError;
    match result {
        Ok(()) | Err(TrySendError::Full | TrySendError::Disconnected | TrySendError::Corrupted) => {
        }
        Err(TrySendError::TooLarge { len, max }) => assert!(len > max),
    }
}

/// Checks what a `try_recv_into` of a live, scribbled-on framed ring returned: a message no
/// longer than `max`, or a clean error.
pub fn check_try_recv(result: Result<u32, shmring::TryRecvError>, buf: &[u8], max: usize) {
    use shmring::TryRecvError;
    match result {
        Ok(_) => assert!(buf.len() <= max),
        Err(TryRecvError::Empty | TryRecvError::Disconnected | TryRecvError::Corrupted) => {}
    }
}

/// Overwrites 8 fuzzer bytes (taken from `bytes`) at an 8-aligned offset of a ring's area
/// (`area_len` bytes after the header) in `file`, the offset chosen by `arg` and the next byte.
pub fn scribble(
    file: &std::fs::File,
    bytes: &mut impl Iterator<Item = u8>,
    arg: u8,
    area_len: usize,
) {
    use std::os::unix::fs::FileExt;
    let offset =
        (usize::from(arg) * 8 + usize::from(bytes.next().unwrap_or(0)) * 2048) % area_len / 8 * 8;
    let value: Vec<u8> = bytes.by_ref().take(8).collect();
    file.write_all_at(&value, (HEADER_SIZE + offset) as u64)
        .expect("scribble");
}

/// Two descriptors of a memfd ring's segment: one to open the other end with
/// (`Location::Fd`), and a file to scribble on.
pub fn memfd_descriptors(segment: &shmring::Segment) -> (std::os::fd::OwnedFd, std::fs::File) {
    let fd = segment
        .as_fd()
        .expect("memfd")
        .try_clone_to_owned()
        .expect("dup");
    let file = std::fs::File::from(fd.try_clone().expect("dup"));
    (fd, file)
}
