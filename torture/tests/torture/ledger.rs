//! The ledger: what each process committed and received, recorded so that a loss, a duplicate
//! or a torn message is found after any kill.

#[allow(unused_imports)]
use super::*;

// ------------------------------------------------------------------------------ the ledger

/// Shared bookkeeping of one test: a sparse file in /dev/shm mapped by every process of
/// the test. Producers record how many messages each incarnation committed (after `send`
/// returned); consumers set one bit per message received, which finds duplicates at once
/// and losses at the end.
pub(super) struct Ledger {
    pub(super) map: memmap2::MmapRaw,
    pub(super) path: std::path::PathBuf,
    pub(super) owner: bool,
}

/// Word indices.
pub(super) const STOP_PRODUCERS: usize = 0;

pub(super) const STOP_CONSUMERS: usize = 1;

pub(super) const TORN: usize = 2;

pub(super) const DUPLICATED: usize = 3;

pub(super) const RECEIVED: usize = 4;

pub(super) const CORRUPTED: usize = 5;

pub(super) const GARBAGE: usize = 6;

pub(super) const HOSTILE_WRITES: usize = 7;

pub(super) const OUT_OF_ORDER: usize = 8;

/// Committed counts, one per producer incarnation.
pub(super) const COMMITTED: usize = 64;

/// Producer incarnations a ledger holds.
pub(super) const INCARNATIONS: usize = 4096;

/// Messages per incarnation it can account for.
pub(super) const PER_INCARNATION: u64 = 1 << 15;

pub(super) const BITMAP: usize = COMMITTED + INCARNATIONS;

pub(super) const WORDS: usize = BITMAP + INCARNATIONS * (PER_INCARNATION as usize / 64);

impl Ledger {
    pub(super) fn create() -> Ledger {
        let path = std::path::PathBuf::from(format!("/dev/shm/{}", unique_name("torture-ledger")));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        file.set_len((WORDS * 8) as u64).unwrap();
        let map = memmap2::MmapOptions::new().map_raw(&file).unwrap();
        Ledger {
            map,
            path,
            owner: true,
        }
    }

    pub(super) fn open(path: &str) -> Ledger {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap();
        Ledger {
            map: memmap2::MmapOptions::new().map_raw(&file).unwrap(),
            path: path.into(),
            owner: false,
        }
    }

    pub(super) fn from_env() -> Ledger {
        Ledger::open(&std::env::var(LEDGER_VAR).unwrap())
    }

    pub(super) fn word(&self, i: usize) -> &AtomicU64 {
        assert!(i < WORDS);
        // SAFETY: the mapping is WORDS u64s long, page aligned, shared and lives as long as
        // `self`; every access to it goes through atomics.
        unsafe { AtomicU64::from_ptr(self.map.as_mut_ptr().cast::<u64>().add(i)) }
    }

    pub(super) fn get(&self, i: usize) -> u64 {
        self.word(i).load(Ordering::Acquire)
    }

    pub(super) fn set(&self, i: usize, v: u64) {
        self.word(i).store(v, Ordering::Release);
    }

    pub(super) fn bump(&self, i: usize) {
        self.word(i).fetch_add(1, Ordering::AcqRel);
    }

    pub(super) fn commit(&self, p: u64, count: u64) {
        self.set(COMMITTED + p as usize, count);
    }

    /// Marks message (p, s) received; false if it was already.
    pub(super) fn mark(&self, p: u64, s: u64) -> bool {
        let idx = p as usize * PER_INCARNATION as usize + s as usize;
        let bit = 1u64 << (idx % 64);
        self.word(BITMAP + idx / 64).fetch_or(bit, Ordering::AcqRel) & bit == 0
    }

    /// Records a received message (p, s) that passed its check.
    pub(super) fn received(&self, p: u64, s: u64) {
        if p as usize >= INCARNATIONS || s >= PER_INCARNATION {
            self.bump(GARBAGE);
        } else if !self.mark(p, s) {
            self.bump(DUPLICATED);
        }
        self.bump(RECEIVED);
    }

    /// For incarnation p: (messages below its committed count that were received, received
    /// messages past it — one is a message sent but not yet recorded when its producer was
    /// killed, more would be phantoms).
    pub(super) fn tally(&self, p: u64) -> (u64, u64, u64) {
        let committed = self.get(COMMITTED + p as usize);
        let base = p as usize * PER_INCARNATION as usize;
        let (mut below, mut at, mut beyond) = (0, 0, 0);
        for w in 0..PER_INCARNATION as usize / 64 {
            let mut word = self.get(BITMAP + (base / 64) + w);
            while word != 0 {
                let s = (w * 64 + word.trailing_zeros() as usize) as u64;
                word &= word - 1;
                match s.cmp(&committed) {
                    std::cmp::Ordering::Less => below += 1,
                    std::cmp::Ordering::Equal => at += 1,
                    std::cmp::Ordering::Greater => beyond += 1,
                }
            }
        }
        (committed - below, at, beyond)
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        if self.owner {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
