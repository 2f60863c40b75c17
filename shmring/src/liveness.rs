//! The seam between the rings and the processes that hold them: who this process is, whether
//! the process behind an owner word is dead, and when a polling loop should look again.
//!
//! Normal builds ask the kernel ([`crate::process`]: `/proc`, the pid namespace, the clock).
//! Under `--cfg shmring_loom` a model stands in, as [`crate::storage`] fakes memory: every
//! participant is its own "process", named by its record (owner word `index + 1`); it "dies"
//! when a model-only word says so (the mpmc table's `MODEL_DEAD_OFFSET`), and loom, having no
//! time, lets a "liveness period" pass whenever that word changes. The rings reach processes
//! only through here, so the same membership code is model-checked and run.

pub(crate) use imp::*;

#[cfg(not(shmring_loom))]
mod imp {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
    use std::time::Instant;

    use crate::OpenError;
    use crate::process::{Liveness, ProcessId, owner_liveness, owner_word};

    /// The owner word this process claims roles and records with (never 0).
    pub(crate) fn identity(ring: &str) -> Result<u64, OpenError> {
        let me = ProcessId::current().map_err(|source| OpenError::Io {
            name: ring.to_owned(),
            op: "read /proc/self/stat",
            source,
        })?;
        Ok(owner_word(&me))
    }

    /// The word a participant claims record `index` with: its process's, `me`.
    pub(crate) fn record_owner(me: u64, _index: usize) -> u64 {
        me
    }

    /// This process's pid namespace, recorded next to its owner word.
    pub(crate) fn pid_ns() -> u64 {
        crate::process::current_pid_ns()
    }

    /// Whether this process registered the membarrier that lets senders skip a fence.
    pub(crate) fn light() -> bool {
        crate::futex::register_barrier()
    }

    /// Whether the process of owner word `owner` (recorded with pid namespace `ns`) is proven
    /// dead. `_model_dead` is the model's answer, asked only under loom.
    pub(crate) fn dead(owner: u64, ns: u64, _model_dead: impl FnOnce() -> bool) -> bool {
        owner_liveness(owner, ns) == Liveness::Dead
    }

    /// Nanoseconds on a process-local monotonic clock.
    pub(crate) fn now_ns() -> u64 {
        static BASE: OnceLock<Instant> = OnceLock::new();
        BASE.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }

    /// When a participant polling an empty or full ring should scan the table again: once
    /// per [`LIVENESS_PERIOD`](crate::wait::LIVENESS_PERIOD), the clock read on every 1024th
    /// poll only (so an empty poll stays a few loads). Shared by the handles of a record.
    #[derive(Debug)]
    pub(crate) struct Period {
        polls: AtomicU32,
        last: AtomicU64,
    }

    impl Period {
        pub(crate) fn new() -> Period {
            Period {
                polls: AtomicU32::new(0),
                last: AtomicU64::new(0),
            }
        }

        /// Whether a period passed since [`restart`](Self::restart). `_model_dead` is the
        /// model's dead mask, read only under loom.
        pub(crate) fn due(&self, _model_dead: impl FnOnce() -> u64) -> bool {
            // A load and a store, not a locked add: this runs on every empty or full poll,
            // and a count lost to a racing thread of the same record only delays a scan.
            let polls = self.polls.load(Ordering::Relaxed);
            self.polls.store(polls.wrapping_add(1), Ordering::Relaxed);
            if polls % 1024 != 0 {
                return false;
            }
            let last = self.last.load(Ordering::Relaxed);
            now_ns().saturating_sub(last) >= crate::wait::LIVENESS_PERIOD.as_nanos() as u64
        }

        /// A scan starts: the next period starts now.
        pub(crate) fn restart(&self) {
            self.last.store(now_ns(), Ordering::Relaxed);
        }
    }
}

#[cfg(shmring_loom)]
mod imp {
    // Process-local state, as in normal builds: not part of what loom explores.
    use std::sync::atomic::{AtomicU32, Ordering};

    use crate::OpenError;

    /// The model has no processes: the owner word comes from the record (see
    /// [`record_owner`]).
    pub(crate) fn identity(_ring: &str) -> Result<u64, OpenError> {
        Ok(0)
    }

    /// Every participant is its own "process", named by its record.
    pub(crate) fn record_owner(_me: u64, index: usize) -> u64 {
        index as u64 + 1
    }

    pub(crate) fn pid_ns() -> u64 {
        0
    }

    /// No membarrier in the model: senders fence (the protocol loom checks).
    pub(crate) fn light() -> bool {
        false
    }

    /// A participant is dead when the model says so.
    pub(crate) fn dead(_owner: u64, _ns: u64, model_dead: impl FnOnce() -> bool) -> bool {
        model_dead()
    }

    /// loom has no time: a "liveness period" passes whenever a participant died since this
    /// one last looked (the model's dead mask changed).
    #[derive(Debug)]
    pub(crate) struct Period {
        seen: AtomicU32,
    }

    impl Period {
        pub(crate) fn new() -> Period {
            Period {
                seen: AtomicU32::new(0),
            }
        }

        pub(crate) fn due(&self, model_dead: impl FnOnce() -> u64) -> bool {
            let dead = model_dead() as u32;
            self.seen.swap(dead, Ordering::Relaxed) != dead
        }

        pub(crate) fn restart(&self) {}
    }
}
