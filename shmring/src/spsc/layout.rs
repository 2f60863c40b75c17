//! The byte layout of the spsc ring area (docs/layout.md, "spsc area"), const-asserted below,
//! and the storage abstraction the algorithm runs on.
//!
//! In normal builds an `Area` reinterprets the mapped segment (atomics through
//! `AtomicU64::from_ptr`, slots through raw pointers); under `--cfg shmring_loom` it owns
//! heap-allocated loom atomics, loom cells and a model futex, so the same ring code is
//! model-checked. Offsets are relative to the start of the area (segment offset 4096) and are
//! documented in `docs/layout.md`.

use crate::storage::{Geometry, Storage};
use crate::sync::{AtomicU32, AtomicU64};
use crate::wait::{EventCount, Waiting};

/// Producer index (`u64`, monotonic), alone in its 128-byte block.
pub const TAIL_OFFSET: usize = 0;
/// Consumer index (`u64`, monotonic), alone in its 128-byte block.
pub const HEAD_OFFSET: usize = 128;
/// "Data available" eventcount word (`u32`, futex); the receiver sleeps on it.
pub const DATA_SEQ_OFFSET: usize = 256;
/// The receiver is (about to be) asleep on the data word (`u32` flag).
pub const DATA_WAITING_OFFSET: usize = 260;
/// "Space available" eventcount word (`u32`, futex); the sender sleeps on it.
pub const SPACE_SEQ_OFFSET: usize = 384;
/// The sender is (about to be) asleep on the space word (`u32` flag).
pub const SPACE_WAITING_OFFSET: usize = 388;
/// The sender's attachment record.
pub const SENDER_RECORD_OFFSET: usize = 512;
/// The receiver's attachment record.
pub const RECEIVER_RECORD_OFFSET: usize = 640;
/// Within a record: owner word (`u64`: pid << 32 | low 32 bits of its start time; 0 = none).
pub const RECORD_OWNER: usize = 0;
/// Within a record: attachment state (`u32`: 0 never attached, 1 attached, 2 closed).
pub const RECORD_STATE: usize = 8;
/// Within a record: the owner's pid namespace inode (`u64`).
pub const RECORD_PID_NS: usize = 16;
/// Bytes before the first slot (more if the payload's alignment asks for it).
pub const CONTROL_SIZE: usize = 768;

/// Attachment state: nobody has attached to this role yet.
pub const STATE_NEVER: u32 = 0;
/// Attachment state: a process holds the role (check its liveness).
pub const STATE_ATTACHED: u32 = 1;
/// Attachment state: the last holder closed it.
pub const STATE_CLOSED: u32 = 2;

// What docs/layout.md promises about this area, checked when the crate compiles: the two
// positions each alone in their 128-byte block, the eventcount words and both role records
// inside their own blocks, the framed ring's consumed word in the receiver's record block,
// and the control block a whole number of blocks.
const _: () = {
    assert!(TAIL_OFFSET == 0 && HEAD_OFFSET == 128);
    assert!(DATA_SEQ_OFFSET == 256 && DATA_WAITING_OFFSET == DATA_SEQ_OFFSET + 4);
    assert!(SPACE_SEQ_OFFSET == 384 && SPACE_WAITING_OFFSET == SPACE_SEQ_OFFSET + 4);
    assert!(SENDER_RECORD_OFFSET == 512 && RECEIVER_RECORD_OFFSET == SENDER_RECORD_OFFSET + 128);
    assert!(RECORD_OWNER + 8 <= RECORD_STATE && RECORD_STATE + 4 <= RECORD_PID_NS);
    assert!(RECORD_PID_NS + 8 <= 64);
    assert!(crate::framed::CONSUMED_OFFSET >= RECEIVER_RECORD_OFFSET + 64);
    assert!(crate::framed::CONSUMED_OFFSET + 8 <= CONTROL_SIZE);
    assert!(CONTROL_SIZE == RECEIVER_RECORD_OFFSET + 128 && CONTROL_SIZE % 128 == 0);
};

/// Offset of the waiting flag of the direction `role` sleeps on.
fn waiting_offset(role: Role) -> usize {
    match role {
        Role::Sender => SPACE_WAITING_OFFSET,
        Role::Receiver => DATA_WAITING_OFFSET,
    }
}

/// Offset of slot 0 for a payload of alignment `align`.
pub fn slots_offset(align: usize) -> usize {
    CONTROL_SIZE.next_multiple_of(align.max(1))
}

/// The geometry of an spsc ring of `T`: packed slots after the control block.
pub(crate) const fn geometry<T>() -> Geometry {
    Geometry::packed::<T>(CONTROL_SIZE)
}

/// The two ends of the ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Sender,
    Receiver,
}

impl Role {
    pub fn other(self) -> Role {
        match self {
            Role::Sender => Role::Receiver,
            Role::Receiver => Role::Sender,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Sender => "sender",
            Role::Receiver => "receiver",
        }
    }

    fn record(self) -> usize {
        match self {
            Role::Sender => SENDER_RECORD_OFFSET,
            Role::Receiver => RECEIVER_RECORD_OFFSET,
        }
    }
}

/// The spsc ring area: control words at the offsets above, then packed slots of `T`.
pub(crate) struct Area<T>(Storage<T>);

impl<T> Clone for Area<T> {
    fn clone(&self) -> Self {
        Area(self.0.clone())
    }
}

impl<T> std::ops::Deref for Area<T> {
    type Target = Storage<T>;

    fn deref(&self) -> &Storage<T> {
        &self.0
    }
}

impl<T: Copy> Area<T> {
    /// The spsc control block over slots laid out as `geometry` (a payload known only at
    /// run time: [`super::DynSender`]).
    ///
    /// # Safety
    ///
    /// As for [`Storage::new`]: `base` is 128-byte aligned and valid for
    /// `geometry.area_size(capacity)` bytes while in use.
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
        Area(Storage::new_model(
            capacity,
            Geometry::packed::<T>(CONTROL_SIZE),
        ))
    }
}

/// Accessors shared by both storage implementations.
impl<T: Copy> Area<T> {
    pub fn tail(&self) -> &AtomicU64 {
        self.u64_at(TAIL_OFFSET)
    }

    pub fn head(&self) -> &AtomicU64 {
        self.u64_at(HEAD_OFFSET)
    }

    pub fn owner(&self, role: Role) -> &AtomicU64 {
        self.u64_at(role.record() + RECORD_OWNER)
    }

    pub fn state(&self, role: Role) -> &AtomicU32 {
        self.u32_at(role.record() + RECORD_STATE)
    }

    pub fn pid_ns(&self, role: Role) -> &AtomicU64 {
        self.u64_at(role.record() + RECORD_PID_NS)
    }

    /// The eventcount the receiver sleeps on (notified by the sender).
    pub fn data_event(&self) -> EventCount<'_> {
        EventCount {
            seq: self.u32_at(DATA_SEQ_OFFSET),
            waiting: Waiting::Flag(self.u32_at(DATA_WAITING_OFFSET)),
        }
    }

    /// The eventcount the sender sleeps on (notified by the receiver).
    pub fn space_event(&self) -> EventCount<'_> {
        EventCount {
            seq: self.u32_at(SPACE_SEQ_OFFSET),
            waiting: Waiting::Flag(self.u32_at(SPACE_WAITING_OFFSET)),
        }
    }

    /// The waiting flag of the direction `role` sleeps on.
    pub fn waiting_flag(&self, role: Role) -> &AtomicU32 {
        self.u32_at(waiting_offset(role))
    }

    pub fn capacity(&self) -> u64 {
        self.mask + 1
    }
}
