//! The header as the protocols read it while others may write it: 32-bit atomic words, the
//! state word, the creator's identity, and the backoff of an opener that waits.

#[allow(unused_imports)]
use super::*;

/// Copies the header out (after an Acquire load of the state) and validates it.
pub(super) fn read_header(region: &Region) -> Result<HeaderInfo, HeaderError> {
    if state_word(region).load(Ordering::Acquire) == STATE_INITIALISING {
        let magic0 = word(region, 0).load(Ordering::Relaxed);
        let magic1 = word(region, 4).load(Ordering::Relaxed);
        let ours = (read_u32(&header::MAGIC, 0), read_u32(&header::MAGIC, 4));
        if (magic0, magic1) == (0, 0) || (magic0, magic1) == ours {
            return Err(HeaderError::NotReady);
        }
    }
    let mut bytes = vec![0u8; HEADER_SIZE];
    for offset in (0..HEADER_SIZE).step_by(4) {
        let v = word(region, offset).load(Ordering::Relaxed);
        bytes[offset..offset + 4].copy_from_slice(&v.to_ne_bytes());
    }
    header::decode(&bytes)
}

/// The creator recorded in a header that is still being initialised, if it got that far.
pub(super) fn read_owner(region: &Region) -> Option<ProcessId> {
    let pid = word(region, OWNER_PID_OFFSET).load(Ordering::Acquire);
    if pid == 0 {
        return None;
    }
    let u64_at = |offset: usize| {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&word(region, offset).load(Ordering::Relaxed).to_ne_bytes());
        b[4..].copy_from_slice(
            &word(region, offset + 4)
                .load(Ordering::Relaxed)
                .to_ne_bytes(),
        );
        u64::from_ne_bytes(b)
    };
    Some(ProcessId {
        pid,
        start_ticks: u64_at(std::mem::offset_of!(header::RawHeader, owner_start_ticks)),
        pid_ns: u64_at(std::mem::offset_of!(header::RawHeader, owner_pid_ns)),
    })
}

pub(super) fn corrupted(name: &str, reason: HeaderError) -> OpenError {
    let name = name.to_owned();
    match reason {
        HeaderError::BadMagic => OpenError::NotASegment {
            name,
            why: "wrong magic bytes".into(),
        },
        HeaderError::UnsupportedVersion(found) => OpenError::VersionMismatch {
            name,
            found,
            supported: header::FORMAT_VERSION,
        },
        reason => OpenError::Corrupted { name, reason },
    }
}

pub(super) fn read_u32(bytes: &[u8], offset: usize) -> u32 {
    u32::from_ne_bytes(bytes[offset..offset + 4].try_into().expect("4 bytes"))
}

/// The 32-bit header word at `offset`.
pub(super) fn word(region: &Region, offset: usize) -> &AtomicU32 {
    assert!(offset % 4 == 0 && offset + 4 <= HEADER_SIZE.min(region.len()));
    // Header words are only ever accessed as AtomicU32, by every process, so there are no
    // mixed-size or non-atomic accesses to race with.
    // SAFETY: 4-aligned and inside the region (asserted; regions are page aligned), and the
    // region outlives the returned reference; all accesses to the word are atomic.
    unsafe { AtomicU32::from_ptr(region.as_ptr().as_ptr().add(offset).cast()) }
}

pub(super) fn state_word(region: &Region) -> &AtomicU32 {
    word(region, STATE_OFFSET)
}

/// Waits for a peer: a few yields, then sleeps growing to 1 ms, never past the deadline.
#[derive(Default)]
pub(super) struct Backoff {
    step: u32,
}

impl Backoff {
    /// Waits once; `false` when the deadline has passed.
    pub(super) fn wait_until(&mut self, deadline: Instant) -> bool {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        if self.step < 8 {
            std::thread::yield_now();
        } else {
            let nap = Duration::from_micros(50u64 << (self.step - 8).min(4))
                .min(Duration::from_millis(1));
            std::thread::sleep(nap.min(deadline - now));
        }
        self.step += 1;
        true
    }
}
