//! The participant table: joining and leaving, liveness, in-flight lanes, membership scans,
//! and the reaping of dead participants (their claims tombstoned or released; docs/protocols.md,
//! "Crash recovery").

#[allow(unused_imports)]
use super::*;
use crate::liveness;

#[cfg(not(shmring_loom))]
pub(super) fn attach<T: ShmType>(
    segment: Arc<Segment>,
    role: Role,
    geometry: crate::storage::Geometry,
) -> Result<Participant<T>, OpenError> {
    // SAFETY: `open_ring` (or our own create) checked that the area holds the control block
    // and `capacity` stamped slots laid out as `geometry`; the area is page aligned; the
    // segment is kept alive in the participant next to the area.
    let capacity = segment.info().capacity;
    if capacity < 2 {
        return Err(OpenError::Corrupted {
            name: segment.name().to_owned(),
            reason: HeaderError::BadField {
                field: "capacity",
                value: capacity,
            },
        });
    }
    let fenced = segment.info().fence_every_send;
    // SAFETY: see above; the capacity was checked to be a power of two by `open_ring`.
    let area = unsafe { Area::<T>::with_geometry(segment.area_ptr(), capacity, geometry, fenced) };
    let head = area.head().load(Ordering::Acquire);
    let tail = area.tail().load(Ordering::Acquire);
    if head > tail || tail - head > area.capacity() || tail & TOMBSTONE != 0 {
        return Err(OpenError::Corrupted {
            name: segment.name().to_owned(),
            reason: HeaderError::BadField {
                field: "ring positions (tail - head)",
                value: tail.wrapping_sub(head),
            },
        });
    }
    Participant::join(
        area,
        Protocol::Slots,
        role,
        segment.name().to_owned(),
        Some(segment),
    )
}

impl<T: ShmType> Participant<T> {
    /// Claims a free record of the table for `role`.
    pub(crate) fn join(
        area: Area<T>,
        protocol: Protocol<T>,
        role: Role,
        name: String,
        segment: Option<Arc<Segment>>,
    ) -> Result<Participant<T>, OpenError> {
        let me = liveness::identity(&name)?;
        let light = liveness::light() && !area.fences_every_send();
        let mut participant = Participant {
            area,
            protocol,
            role,
            index: 0,
            me,
            busy: std::array::from_fn(|_| AtomicBool::new(false)),
            sleepers: Arc::new(Mutex::new(0)),
            local_head: AtomicU64::new(u64::MAX),
            light,
            corrupted: AtomicBool::new(false),
            abandoned: AtomicBool::new(true),
            seen_epoch: AtomicU64::new(u64::MAX),
            peers: AtomicBool::new(true),
            period: liveness::Period::new(),
            name,
            _segment: segment,
        };
        // Two passes: the second after reaping whatever dead participants hold records.
        for pass in 0..2 {
            for index in 0..PARTICIPANTS {
                let me = liveness::record_owner(participant.me, index);
                let owner = participant.area.owner(index);
                if owner
                    .compare_exchange(0, me, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                {
                    participant.index = index;
                    participant.me = me;
                    participant.abandoned.store(false, Ordering::Relaxed);
                    participant.enter(role);
                    return Ok(participant);
                }
            }
            if pass == 0 {
                participant.scan();
            }
        }
        Err(OpenError::ParticipantsFull {
            name: participant.name.clone(),
            max: PARTICIPANTS,
        })
    }

    /// Fills a freshly claimed record and announces it.
    pub(super) fn enter(&self, role: Role) {
        let area = &self.area;
        area.pid_ns(self.index)
            .store(liveness::pid_ns(), Ordering::Relaxed);
        for lane in 0..LANES {
            area.lane(self.index, lane).store(IDLE, Ordering::Relaxed);
        }
        // A predecessor in this record that died asleep left its waiting bits set.
        let bit = 1u64 << self.index;
        area.waiting(Role::Sender)
            .fetch_and(!bit, Ordering::Relaxed);
        area.waiting(Role::Receiver)
            .fetch_and(!bit, Ordering::Relaxed);
        area.role(self.index).store(role as u32, Ordering::Release);
        area.ever(role).store(1, Ordering::Release);
        area.epoch().fetch_add(1, Ordering::AcqRel);
        // Peers blocked on "nobody attached yet" re-check now.
        self.wake_all();
    }

    /// Whether the process owning record `index` (owner word `owner`) is proven dead; each
    /// owner's verdict is asked once per scan (`verdicts`).
    pub(super) fn dead(&self, index: usize, owner: u64, verdicts: &mut Vec<(u64, bool)>) -> bool {
        if owner == self.me {
            return false;
        }
        if let Some(&(_, dead)) = verdicts.iter().find(|(o, _)| *o == owner) {
            return dead;
        }
        let ns = self.area.pid_ns(index).load(Ordering::Relaxed);
        let dead = liveness::dead(owner, ns, || {
            owner == index as u64 + 1 && self.model_dead() & (1 << index) != 0
        });
        verdicts.push((owner, dead));
        dead
    }

    /// The model's dead mask: bit i set = the "process" of record i is dead (loom models
    /// only, see [`liveness`]; always 0 otherwise).
    fn model_dead(&self) -> u64 {
        #[cfg(shmring_loom)]
        return self
            .area
            .storage()
            .u64_at(layout::MODEL_DEAD_OFFSET)
            .load(Ordering::SeqCst);
        #[cfg(not(shmring_loom))]
        0
    }

    /// Marks this participant dead without releasing anything, as a process killed at that
    /// point would leave it (loom models of the crash protocol).
    #[cfg(shmring_loom)]
    pub(crate) fn die(&self) {
        self.area
            .storage()
            .u64_at(layout::MODEL_DEAD_OFFSET)
            .fetch_or(1 << self.index, Ordering::SeqCst);
        self.abandoned.store(true, Ordering::Relaxed);
        // Survivors asleep would notice within a liveness period; loom has no time.
        self.wake_all();
    }

    /// Whether dropping this participant releases nothing (see [`die`](Self::die)).
    pub(crate) fn abandoned(&self) -> bool {
        self.abandoned.load(Ordering::Relaxed)
    }

    pub(crate) fn corrupt(&self) {
        self.corrupted.store(true, Ordering::Relaxed);
    }

    pub(crate) fn is_corrupted(&self) -> bool {
        self.corrupted.load(Ordering::Relaxed)
    }

    /// The side this participant is on.
    pub(crate) fn role(&self) -> Role {
        self.role
    }

    /// The pid of another participant of `role` not proven dead, if there is one.
    pub(crate) fn other_live(&self, role: Role) -> Option<u32> {
        let mut verdicts = Vec::new();
        (0..PARTICIPANTS).find_map(|index| {
            let owner = self.area.owner(index).load(Ordering::Acquire);
            let live = index != self.index
                && owner != 0
                && Role::from_code(self.area.role(index).load(Ordering::Acquire)) == Some(role)
                && !self.dead(index, owner, &mut verdicts);
            live.then_some((owner >> 32) as u32)
        })
    }

    /// The records of the live participants of `role` other than this one (the broadcast
    /// writer's receivers, whose lane 0 is their read cursor), into `out`. Records not yet
    /// announced are passed over.
    pub(crate) fn members(&self, role: Role, out: &mut Vec<usize>) {
        let mut verdicts = Vec::new();
        out.clear();
        out.extend((0..PARTICIPANTS).filter(|&index| {
            let owner = self.area.owner(index).load(Ordering::Acquire);
            index != self.index
                && owner != 0
                && Role::from_code(self.area.role(index).load(Ordering::Acquire)) == Some(role)
                && !self.dead(index, owner, &mut verdicts)
        }));
    }

    /// Lanes per record under this participant's protocol.
    pub(super) fn lanes(&self) -> usize {
        LANES / self.protocol.stride()
    }

    /// Takes one of the record's lanes for an operation.
    pub(crate) fn lane(&self) -> LaneGuard<'_, T> {
        loop {
            if let Some(lane) = self.try_lane() {
                return lane;
            }
            // More threads of this process mid-operation than lanes: wait for one.
            yield_now();
        }
    }

    /// Takes a free lane of the record, if there is one.
    pub(crate) fn try_lane(&self) -> Option<LaneGuard<'_, T>> {
        let (i, _) = self.busy[..self.lanes()]
            .iter()
            .enumerate()
            .find(|(_, busy)| {
                !busy.load(Ordering::Relaxed) && !busy.swap(true, Ordering::Acquire)
            })?;
        Some(LaneGuard {
            participant: self,
            lane: i,
            armed: std::cell::Cell::new(false),
        })
    }

    pub(crate) fn wake_all(&self) {
        let area = &self.area;
        area.event(Role::Sender, self.index, &self.sleepers)
            .wake(area.storage());
        area.event(Role::Receiver, self.index, &self.sleepers)
            .wake(area.storage());
    }

    #[inline]
    pub(crate) fn notify(&self, role: Role) {
        let area = &self.area;
        area.event(role, self.index, &self.sleepers)
            .notify(area.storage(), self.light);
    }
}

impl<T: ShmType> Participant<T> {
    // ------------------------------------------------------------------ membership, recovery

    /// Whether the other side is present (attached, or never attached yet). Cheap unless the
    /// membership changed or a rescan is due: `slow` polls (empty/full) rescan every
    /// [`LIVENESS_PERIOD`](crate::wait::LIVENESS_PERIOD), `force` at once.
    pub(crate) fn peers_present(&self, slow: bool, force: bool) -> bool {
        let epoch = self.area.epoch().load(Ordering::Acquire);
        if force
            || epoch != self.seen_epoch.load(Ordering::Relaxed)
            || (slow && self.period.due(|| self.model_dead()))
        {
            // Read "ever attached" before the scan: a peer that sets it has already claimed
            // and announced its record, so the scan sees it (reading it after the scan could
            // miss a peer that attached in between and call the ring disconnected).
            let other = self.role.other();
            let never = self.area.ever(other).load(Ordering::Acquire) == 0;
            let members = self.scan();
            self.peers
                .store(never || members.of(other) > 0, Ordering::Relaxed);
            self.seen_epoch.store(epoch, Ordering::Relaxed);
        }
        self.peers.load(Ordering::Relaxed)
    }

    /// Scans the table: counts live participants and reaps dead ones.
    pub(crate) fn scan(&self) -> Members {
        self.period.restart();
        let mut members = Members::default();
        let mut verdicts = Vec::new();
        for index in 0..PARTICIPANTS {
            let owner = self.area.owner(index).load(Ordering::Acquire);
            if owner == 0 {
                continue;
            }
            if self.dead(index, owner, &mut verdicts) {
                if !self.reap(index, owner, &mut verdicts) {
                    members.pending += 1;
                }
                continue;
            }
            match Role::from_code(self.area.role(index).load(Ordering::Acquire)) {
                Some(Role::Sender) => members.senders += 1,
                Some(Role::Receiver) => members.receivers += 1,
                None => {}
            }
        }
        members
    }

    /// Recovers what the dead owner of record `index` left in flight, then frees the record.
    /// Returns whether the record was settled (freed, or free already).
    pub(super) fn reap(&self, index: usize, owner: u64, verdicts: &mut Vec<(u64, bool)>) -> bool {
        let area = &self.area;
        let mut settled = true;
        let role = Role::from_code(area.role(index).load(Ordering::Acquire));
        if let Some(role) = role {
            let stride = self.protocol.stride();
            for lane in 0..LANES / stride {
                let pos = area.lane(index, lane * stride).load(Ordering::Acquire);
                if pos == IDLE {
                    continue;
                }
                let resolution = match self.protocol {
                    Protocol::Cursors => Resolution::Settled,
                    Protocol::Slots => self.resolve(role, pos, verdicts),
                    Protocol::Records(recover) => {
                        let span = area.lane(index, lane * stride + 1).load(Ordering::Acquire)
                            & !HELD_OPEN;
                        recover(self, role, pos, span, verdicts)
                    }
                };
                if resolution == Resolution::Pending {
                    settled = false;
                }
            }
        }
        if !settled {
            return false;
        }
        let bit = 1u64 << index;
        area.waiting(Role::Sender)
            .fetch_and(!bit, Ordering::Relaxed);
        area.waiting(Role::Receiver)
            .fetch_and(!bit, Ordering::Relaxed);
        // Counted before the record is freed, so whoever sees it free sees it counted; a
        // reaper that loses the race takes its count back.
        if let Some(role) = role {
            area.reaped(role).fetch_add(1, Ordering::AcqRel);
        }
        let freed = area
            .owner(index)
            .compare_exchange(owner, 0, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok();
        if let (false, Some(role)) = (freed, role) {
            area.reaped(role).fetch_sub(1, Ordering::AcqRel);
        }
        if freed {
            area.epoch().fetch_add(1, Ordering::AcqRel);
            self.wake_all();
        }
        true
    }

    /// Settles position `pos` that a dead participant of `role` had in flight.
    pub(super) fn resolve(
        &self,
        role: Role,
        pos: u64,
        verdicts: &mut Vec<(u64, bool)>,
    ) -> Resolution {
        let area = &self.area;
        if pos & TOMBSTONE != 0 {
            return Resolution::Settled; // not a position: garbage in a dead record
        }
        match role {
            Role::Sender => {
                // Claimed (tail past it) but never published (stamp still `pos`)?
                if area.load_stamp(pos, Ordering::Acquire) != pos
                    || area.tail().load(Ordering::Acquire) <= pos
                {
                    return Resolution::Settled;
                }
                if self.held_by_live(Role::Sender, pos, verdicts) {
                    return Resolution::Pending;
                }
                if area.swap_stamp(pos, pos, (pos + 1) | TOMBSTONE) {
                    self.notify_all(Role::Receiver);
                }
                Resolution::Settled
            }
            Role::Receiver => {
                // Claimed (head past it) but never released (stamp still `pos + 1`)?
                let stamp = area.load_stamp(pos, Ordering::Acquire);
                if stamp & !TOMBSTONE != pos + 1 || area.head().load(Ordering::Acquire) <= pos {
                    return Resolution::Settled;
                }
                if self.held_by_live(Role::Receiver, pos, verdicts) {
                    return Resolution::Pending;
                }
                if area.swap_stamp(pos, stamp, pos + area.capacity()) {
                    self.notify_all(Role::Sender);
                }
                Resolution::Settled
            }
        }
    }

    /// Wakes every sleeper of `role`'s direction (after a recovery made progress possible).
    pub(super) fn notify_all(&self, role: Role) {
        self.area
            .event(role, self.index, &self.sleepers)
            .wake(self.area.storage());
    }

    /// Whether a participant not proven dead (of `role`, or not yet announced) has `pos` in
    /// one of its lanes. Read after the position that shows `pos` claimed, so a live claimer's
    /// announcement (written before its claiming CAS) is visible here.
    pub(crate) fn held_by_live(
        &self,
        role: Role,
        pos: u64,
        verdicts: &mut Vec<(u64, bool)>,
    ) -> bool {
        (0..PARTICIPANTS).any(|index| {
            let owner = self.area.owner(index).load(Ordering::Acquire);
            if owner == 0 || self.dead(index, owner, verdicts) {
                return false;
            }
            let code = self.area.role(index).load(Ordering::Acquire);
            if code != 0 && Role::from_code(code) != Some(role) {
                return false;
            }
            (0..LANES)
                .step_by(self.protocol.stride())
                .any(|word| self.area.lane(index, word).load(Ordering::Acquire) == pos)
        })
    }

    /// Calls `f(record, position, span)` for every in-flight claim in the lanes of every
    /// record whose owner is proven dead (framed records only).
    pub(crate) fn dead_claims(
        &self,
        verdicts: &mut Vec<(u64, bool)>,
        mut f: impl FnMut(usize, u64, u64),
    ) {
        for index in 0..PARTICIPANTS {
            let owner = self.area.owner(index).load(Ordering::Acquire);
            if owner == 0 || !self.dead(index, owner, verdicts) {
                continue;
            }
            for lane in 0..LANES / 2 {
                let pos = self.area.lane(index, 2 * lane).load(Ordering::Acquire);
                if pos != IDLE {
                    f(
                        index,
                        pos,
                        self.area.lane(index, 2 * lane + 1).load(Ordering::Acquire) & !HELD_OPEN,
                    );
                }
            }
        }
    }

    /// Who holds the claim at position `pos`, by the lanes of every held record: a claimer
    /// announces its position before its claiming CAS and idles the lane after publishing,
    /// so a position in flight that no lane shows was claimed by nobody (a hostile write) —
    /// or its claimer has just finished.
    pub(crate) fn claimant(&self, pos: u64) -> Claimant {
        let stride = self.protocol.stride();
        let mut found = Claimant::Nobody;
        for index in 0..PARTICIPANTS {
            if self.area.owner(index).load(Ordering::Acquire) == 0 {
                continue;
            }
            for word in (0..LANES).step_by(stride) {
                if self.area.lane(index, word).load(Ordering::Acquire) != pos {
                    continue;
                }
                if stride == 2
                    && self.area.lane(index, word + 1).load(Ordering::Acquire) & HELD_OPEN != 0
                {
                    return Claimant::HeldOpen;
                }
                found = Claimant::Working;
            }
        }
        found
    }
}

impl<T: ShmType> Drop for Participant<T> {
    fn drop(&mut self) {
        if self.abandoned.load(Ordering::Relaxed) {
            return;
        }
        let area = &self.area;
        area.role(self.index).store(0, Ordering::Relaxed);
        let _ = area.owner(self.index).compare_exchange(
            self.me,
            0,
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
        area.epoch().fetch_add(1, Ordering::AcqRel);
        self.wake_all();
    }
}

/// A lane of this process's record, held for one operation.
pub(crate) struct LaneGuard<'a, T: ShmType> {
    participant: &'a Participant<T>,
    lane: usize,
    /// The lane shows a position: dropping the guard makes it idle again (an operation that
    /// gave up after a lost CAS must not leave a stale announcement, which would make the
    /// recovery of a dead participant's claim at that position wait for this live one).
    armed: std::cell::Cell<bool>,
}

impl<T: ShmType> LaneGuard<'_, T> {
    /// Announces `pos` (or [`IDLE`], with Release: everything this operation wrote to the
    /// ring is visible to whoever sees the lane idle).
    #[inline]
    pub(crate) fn set(&self, pos: u64) {
        let order = if pos == IDLE {
            Ordering::Release
        } else {
            Ordering::Relaxed
        };
        let p = self.participant;
        p.area
            .lane(p.index, self.lane * p.protocol.stride())
            .store(pos, order);
        self.armed.set(pos != IDLE);
    }

    /// Announces a framed claim: its length first, then its position (both before the
    /// claiming CAS, which publishes them).
    #[inline]
    pub(crate) fn set_claim(&self, pos: u64, span: u64) {
        let p = self.participant;
        debug_assert_eq!(p.protocol.stride(), 2);
        p.area
            .lane(p.index, 2 * self.lane + 1)
            .store(span, Ordering::Relaxed);
        p.area
            .lane(p.index, 2 * self.lane)
            .store(pos, Ordering::Relaxed);
        self.armed.set(true);
    }

    /// Marks this lane's framed claim as a reservation handed to its user ([`HELD_OPEN`]).
    pub(crate) fn hold_open(&self) {
        let p = self.participant;
        debug_assert_eq!(p.protocol.stride(), 2);
        let word = p.area.lane(p.index, 2 * self.lane + 1);
        word.store(word.load(Ordering::Relaxed) | HELD_OPEN, Ordering::Release);
    }
}

impl<T: ShmType> Drop for LaneGuard<'_, T> {
    fn drop(&mut self) {
        if self.armed.get() {
            self.set(IDLE);
        }
        self.participant.busy[self.lane].store(false, Ordering::Release);
    }
}

/// The [`crate::handle::Core`] of a handle built on a [`Participant`] (field `shared`, with
/// `readiness` and `strategy` beside it: the mpmc handles and the framed many-producer
/// ones). Given: the direction it waits in (`role`), whether its bridge is `counted` (see
/// [`Participant::bridge`]), and as `|handle, ..| expr` whether its peers are all gone,
/// whether its next operation would wait, and what looking at its peers does.
macro_rules! participant_core {
    (
        impl[$($g:tt)*] $ty:ty;
        role: $role:expr,
        counted: $counted:expr,
        peers_gone: |$p:ident| $peers_gone:expr,
        would_wait: |$h:ident, $need:ident| $would_wait:expr,
        look_at_peers: |$l:ident| $look:expr
    ) => {
        #[cfg(not(shmring_loom))]
        impl<$($g)*> crate::handle::Core for $ty {
            fn ring_capacity(&self) -> usize {
                self.shared.area.capacity() as usize
            }

            fn peers_gone(&self) -> bool {
                let $p = self;
                $peers_gone
            }

            fn held_segment(&self) -> &crate::Segment {
                self.shared._segment.as_deref().expect("a mapped ring")
            }

            fn readiness(&mut self) -> &mut crate::notify::Readiness {
                &mut self.readiness
            }

            fn bridge(&mut self) -> std::io::Result<std::sync::Arc<crate::notify::Bridge>> {
                self.shared.bridge($role, $counted, &mut self.readiness)
            }

            fn waiter(&self) -> crate::wait::Waiter {
                crate::wait::Waiter::new(self.strategy)
            }

            fn would_wait(&mut self, $need: usize) -> bool {
                let $h = self;
                $would_wait
            }

            fn look_at_peers(&mut self) {
                let $l = self;
                $look;
            }
        }
    };
}

pub(crate) use participant_core;
