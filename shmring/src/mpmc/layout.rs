//! The byte layout of the mpmc ring area (docs/layout.md, "mpmc area"): every offset and
//! constant a program in another language needs, const-asserted below.
//!
//! Offsets are relative to the start of the area (segment offset 4096).

use crate::storage::{Geometry, Storage};
use crate::sync::{AtomicU32, AtomicU64, Mutex, Ordering};
use crate::wait::{EventCount, Waiting};

/// Next position to enqueue (`u64`, monotonic), alone in its 128-byte block.
pub const TAIL_OFFSET: usize = 0;
/// Next position to dequeue (`u64`, monotonic), alone in its 128-byte block.
pub const HEAD_OFFSET: usize = 128;
/// "Data available" eventcount word (`u32`, futex); receivers sleep on it.
pub const DATA_SEQ_OFFSET: usize = 256;
/// Receivers asleep on the data word (`u64`, bit i = participant record i).
pub const DATA_WAITING_OFFSET: usize = 264;
/// "Space available" eventcount word (`u32`, futex); senders sleep on it.
pub const SPACE_SEQ_OFFSET: usize = 384;
/// Senders asleep on the space word (`u64`, bit i = participant record i).
pub const SPACE_WAITING_OFFSET: usize = 392;
/// Membership epoch (`u64`): bumped whenever a participant attaches, leaves or is reaped.
pub const EPOCH_OFFSET: usize = 512;
/// Non-zero once a sender has ever attached (`u32`).
pub const SENDERS_EVER_OFFSET: usize = 520;
/// Non-zero once a receiver has ever attached (`u32`).
pub const RECEIVERS_EVER_OFFSET: usize = 524;
/// Loom models only: bit i set = the "process" of record i is dead.
#[cfg(shmring_loom)]
pub const MODEL_DEAD_OFFSET: usize = 528;
/// Senders found dead (killed or crashed without closing) and reaped (`u32`, counts up):
/// bumped by a reaper just before its CAS frees the record (and taken back if the CAS
/// fails), so whoever sees the record free sees it counted.
pub const SENDERS_REAPED_OFFSET: usize = 536;
/// Receivers found dead and reaped (`u32`, counts up), as [`SENDERS_REAPED_OFFSET`].
pub const RECEIVERS_REAPED_OFFSET: usize = 540;
/// The participant table: [`PARTICIPANTS`] records of [`RECORD_SIZE`] bytes.
pub const TABLE_OFFSET: usize = 1024;
/// Records in the participant table (one per attached process and role); the loom build
/// models a table of 4 to keep the state space small.
pub const PARTICIPANTS: usize = if cfg!(shmring_loom) { 4 } else { 64 };
/// Bytes per participant record.
pub const RECORD_SIZE: usize = 128;
/// Within a record: owner word (`u64`: pid << 32 | low 32 bits of its start time; 0 = free).
pub const RECORD_OWNER: usize = 0;
/// Within a record: the owner's pid namespace inode (`u64`).
pub const RECORD_PID_NS: usize = 8;
/// Within a record: role (`u32`: 0 none yet, 1 sender, 2 receiver).
pub const RECORD_ROLE: usize = 16;
/// Within a record: in-flight lanes, [`LANES`] `u64` positions ([`IDLE`] when unused), on
/// their own cache line.
pub const RECORD_LANES: usize = 64;
/// In-flight lanes per record: operations one process can have in flight at once (2 in the
/// loom build).
pub const LANES: usize = if cfg!(shmring_loom) { 2 } else { 8 };
/// A lane that holds no position.
pub const IDLE: u64 = u64::MAX;
/// Bytes before the first slot (more if the payload's alignment asks for it).
pub const CONTROL_SIZE: usize = TABLE_OFFSET + PARTICIPANTS * RECORD_SIZE;
/// Stamp bit marking a slot whose producer died before publishing: consumers skip it.
pub const TOMBSTONE: u64 = 1 << 63;
/// Bit of a framed lane's length word (many-producer framed ring): the claim is a
/// reservation handed to its user, who may hold it open as long as they like — not a copy in
/// progress. A receiver's `try_recv` waits for a claim in progress, not for one held open.
/// Recovery masks it off.
pub const HELD_OPEN: u64 = 1 << 63;

// What docs/layout.md promises about this area, checked when the crate compiles (nothing
// checked before, for instance, that a record's lanes fit in it).
const _: () = {
    assert!(TAIL_OFFSET == 0 && HEAD_OFFSET == 128);
    assert!(DATA_SEQ_OFFSET == 256 && DATA_WAITING_OFFSET == 264);
    assert!(SPACE_SEQ_OFFSET == 384 && SPACE_WAITING_OFFSET == 392);
    assert!(EPOCH_OFFSET == 512 && SENDERS_EVER_OFFSET == EPOCH_OFFSET + 8);
    assert!(RECEIVERS_EVER_OFFSET == SENDERS_EVER_OFFSET + 4);
    assert!(SENDERS_REAPED_OFFSET >= RECEIVERS_EVER_OFFSET + 4 + 8); // the loom word between
    assert!(RECEIVERS_REAPED_OFFSET == SENDERS_REAPED_OFFSET + 4);
    assert!(crate::framed::mpsc::CONSUMED_OFFSET >= RECEIVERS_REAPED_OFFSET + 4);
    assert!(crate::framed::mpsc::CONSUMED_OFFSET + 8 <= TABLE_OFFSET);
    // A record: owner, pid namespace, role, then the lanes on their own cache line, all inside.
    assert!(RECORD_OWNER + 8 <= RECORD_PID_NS && RECORD_PID_NS + 8 <= RECORD_ROLE);
    assert!(RECORD_ROLE + 4 <= RECORD_LANES && RECORD_LANES % 64 == 0);
    assert!(RECORD_LANES + 8 * LANES <= RECORD_SIZE);
    // Framed many-producer lanes are pairs (position, length); waiting masks have 64 bits.
    assert!(LANES % 2 == 0 && PARTICIPANTS <= 64);
    assert!(CONTROL_SIZE == TABLE_OFFSET + PARTICIPANTS * RECORD_SIZE);
};

/// The two sides of the ring, as stored in a record's role word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Sender = 1,
    Receiver = 2,
}

impl Role {
    pub fn other(self) -> Role {
        match self {
            Role::Sender => Role::Receiver,
            Role::Receiver => Role::Sender,
        }
    }

    pub fn from_code(code: u32) -> Option<Role> {
        match code {
            1 => Some(Role::Sender),
            2 => Some(Role::Receiver),
            _ => None,
        }
    }
}

/// The geometry of an mpmc ring of `T`: stamped slots after the control block.
pub(crate) const fn geometry<T>() -> Geometry {
    Geometry::stamped::<T>(CONTROL_SIZE)
}

/// The MPMC ring area over its storage.
pub(crate) struct Area<T>(Storage<T>);

impl<T> std::ops::Deref for Area<T> {
    type Target = Storage<T>;

    fn deref(&self) -> &Storage<T> {
        &self.0
    }
}

impl<T> Clone for Area<T> {
    fn clone(&self) -> Self {
        Area(self.0.clone())
    }
}

impl<T: Copy> Area<T> {
    /// The control block and table of this layout over slots laid out as `geometry`
    /// ([`geometry::<T>()`](geometry) for typed rings; bytes for the many-producer framed ring;
    /// a run-time payload's for `DynSender`).
    ///
    /// # Safety
    ///
    /// As for [`Storage::new`].
    #[cfg(not(shmring_loom))]
    pub unsafe fn with_geometry(
        base: std::ptr::NonNull<u8>,
        capacity: u64,
        geometry: Geometry,
        fence_every_send: bool,
    ) -> Area<T> {
        // SAFETY: forwarded contract.
        Area(unsafe { Storage::new(base, capacity, geometry, fence_every_send) })
    }

    #[cfg(shmring_loom)]
    pub fn new_model(capacity: u64) -> Area<T>
    where
        T: bytemuck::Zeroable,
    {
        Area::model_with_geometry(capacity, geometry::<T>())
    }

    #[cfg(shmring_loom)]
    pub fn model_with_geometry(capacity: u64, geometry: Geometry) -> Area<T>
    where
        T: bytemuck::Zeroable,
    {
        Area(Storage::new_model(capacity, geometry))
    }

    pub fn storage(&self) -> &Storage<T> {
        &self.0
    }

    pub fn capacity(&self) -> u64 {
        self.0.mask + 1
    }

    pub fn tail(&self) -> &AtomicU64 {
        self.0.u64_at(TAIL_OFFSET)
    }

    pub fn head(&self) -> &AtomicU64 {
        self.0.u64_at(HEAD_OFFSET)
    }

    pub fn epoch(&self) -> &AtomicU64 {
        self.0.u64_at(EPOCH_OFFSET)
    }

    pub fn ever(&self, role: Role) -> &AtomicU32 {
        self.0.u32_at(match role {
            Role::Sender => SENDERS_EVER_OFFSET,
            Role::Receiver => RECEIVERS_EVER_OFFSET,
        })
    }

    /// How many participants of `role` were found dead and reaped.
    pub fn reaped(&self, role: Role) -> &AtomicU32 {
        self.0.u32_at(match role {
            Role::Sender => SENDERS_REAPED_OFFSET,
            Role::Receiver => RECEIVERS_REAPED_OFFSET,
        })
    }

    fn record(index: usize, field: usize) -> usize {
        debug_assert!(index < PARTICIPANTS);
        TABLE_OFFSET + index * RECORD_SIZE + field
    }

    pub fn owner(&self, index: usize) -> &AtomicU64 {
        self.0.u64_at(Self::record(index, RECORD_OWNER))
    }

    pub fn pid_ns(&self, index: usize) -> &AtomicU64 {
        self.0.u64_at(Self::record(index, RECORD_PID_NS))
    }

    pub fn role(&self, index: usize) -> &AtomicU32 {
        self.0.u32_at(Self::record(index, RECORD_ROLE))
    }

    pub fn lane(&self, index: usize, lane: usize) -> &AtomicU64 {
        debug_assert!(lane < LANES);
        self.0.u64_at(Self::record(index, RECORD_LANES + 8 * lane))
    }

    /// The waiting mask of the direction `role` sleeps on.
    pub fn waiting(&self, role: Role) -> &AtomicU64 {
        self.0.u64_at(match role {
            Role::Sender => SPACE_WAITING_OFFSET,
            Role::Receiver => DATA_WAITING_OFFSET,
        })
    }

    /// The eventcount `role` sleeps on, as participant `index` whose process-local sleeper
    /// count is `local`.
    #[inline]
    pub fn event<'a>(&'a self, role: Role, index: usize, local: &'a Mutex<u32>) -> EventCount<'a> {
        EventCount {
            seq: self.0.u32_at(match role {
                Role::Sender => SPACE_SEQ_OFFSET,
                Role::Receiver => DATA_SEQ_OFFSET,
            }),
            waiting: Waiting::Mask {
                word: self.waiting(role),
                bit: 1 << index,
                local,
            },
        }
    }

    /// The logical stamp of the slot of `pos`. Stored stamps are offset by the slot index, so
    /// a zero-filled area is a fresh ring (slot i expects position i).
    #[inline]
    pub fn load_stamp(&self, pos: u64, order: Ordering) -> u64 {
        self.0
            .stamp(pos)
            .load(order)
            .wrapping_add(pos & self.0.mask)
    }

    #[inline]
    pub fn store_stamp(&self, pos: u64, stamp: u64, order: Ordering) {
        self.0
            .stamp(pos)
            .store(stamp.wrapping_sub(pos & self.0.mask), order);
    }

    /// Replaces the stamp of `pos` if it still is `current` (recovery).
    pub fn swap_stamp(&self, pos: u64, current: u64, new: u64) -> bool {
        let index = pos & self.0.mask;
        self.0
            .stamp(pos)
            .compare_exchange(
                current.wrapping_sub(index),
                new.wrapping_sub(index),
                Ordering::SeqCst,
                Ordering::Relaxed,
            )
            .is_ok()
    }
}
