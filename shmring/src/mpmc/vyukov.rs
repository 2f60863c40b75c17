//! The bounded Vyukov queue over stamped slots: push and pop, waiting for a participant in
//! flight, and the try operations the handles build on.

#[allow(unused_imports)]
use super::*;
use crate::storage::{Sink, Source};

/// Whether the slot of position `pos`, stamped `stamp`, makes the ring full for a producer
/// at `pos`: the previous lap's message is still unconsumed (or being consumed), or its
/// producer has not published yet.
#[inline]
pub(super) fn full_at(stamp: u64, pos: u64, cap: u64) -> bool {
    (stamp & !TOMBSTONE).wrapping_add(cap) == pos + 1
        || (stamp.wrapping_add(cap) == pos && pos >= cap)
}

/// Whether the slot of position `pos`, stamped `stamp`, makes the ring empty for a consumer
/// at `pos`: not yet published, or the previous lap's consumer is still reading.
#[inline]
pub(super) fn empty_at(stamp: u64, pos: u64, cap: u64) -> bool {
    stamp == pos || (stamp & !TOMBSTONE).wrapping_add(cap) == pos + 1
}

impl<T: ShmType> Participant<T> {
    // ------------------------------------------------------------------ the Vyukov queue

    /// One enqueue: `Err(())` for corrupted shared state. With `exact`, [`Found::Nothing`]
    /// means full by the positions (`tail == head + capacity`) and a slot at `tail` still held
    /// by a consumer that claimed it (`head` is past it) is [`Found::InFlight`]; without,
    /// both are `Nothing` and `head` is not read (the waiting loops retry either way, and a
    /// load of the line the consumers write costs a round trip). A run of lost CAS races is
    /// `InFlight`.
    #[inline]
    pub(super) fn push<V: Source<T> + ?Sized>(&self, value: &V, exact: bool) -> Result<Found, ()> {
        let area = &self.area;
        let cap = area.capacity();
        let lane = self.lane();
        let mut pos = area.tail().load(Ordering::Relaxed);
        for _ in 0..RETRIES {
            if pos & TOMBSTONE != 0 {
                return Err(());
            }
            let stamp = area.load_stamp(pos, Ordering::Acquire);
            let bare = stamp & !TOMBSTONE;
            if stamp == pos {
                // Announce the position before claiming it, so that whoever reaps this
                // process after a crash finds the claim.
                lane.set(pos);
                match area.tail().compare_exchange(
                    pos,
                    pos + 1,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: the CAS made this process the only writer of the slot of
                        // `pos` until its stamp says published; consumers read it only then.
                        unsafe { value.put(area.storage(), pos) };
                        area.store_stamp(pos, pos + 1, Ordering::Release);
                        lane.set(IDLE);
                        drop(lane);
                        self.notify(Role::Receiver);
                        return Ok(Found::Done);
                    }
                    Err(current) => pos = current,
                }
            } else if full_at(stamp, pos, cap) {
                // Full only if no consumer has claimed the previous lap's message: `tail`
                // is at least `pos`, so `head + cap <= pos` means `tail - head >= cap` now.
                return Ok(
                    if !exact || area.head().load(Ordering::Acquire).saturating_add(cap) <= pos {
                        Found::Nothing
                    } else {
                        Found::InFlight
                    },
                );
            } else if bare > pos {
                // Another producer took `pos` already; our tail was stale.
                let tail = area.tail().load(Ordering::Acquire);
                if tail <= pos {
                    return Err(());
                }
                pos = tail;
            } else {
                return Err(());
            }
        }
        Ok(Found::InFlight)
    }

    /// One dequeue into `*dst` (tombstoned slots are skipped): `Err(())` for corrupted shared
    /// state. With `exact`, [`Found::Nothing`] means empty by the positions (`tail == head`)
    /// and a slot at `head` claimed by a producer that has not published it yet (`tail` is
    /// past it) is [`Found::InFlight`]; without, both are `Nothing` and `tail` is not read (as
    /// in [`push`](Participant::push)). A run of lost CAS races is `InFlight`.
    pub(super) fn pop<D: Sink<T> + ?Sized>(&self, dst: &mut D, exact: bool) -> Result<Found, ()> {
        let area = &self.area;
        let cap = area.capacity();
        let lane = self.lane();
        let mut pos = area.head().load(Ordering::Relaxed);
        for _ in 0..RETRIES {
            if pos & TOMBSTONE != 0 {
                return Err(());
            }
            let stamp = area.load_stamp(pos, Ordering::Acquire);
            let bare = stamp & !TOMBSTONE;
            if bare == pos + 1 {
                lane.set(pos);
                match area.head().compare_exchange(
                    pos,
                    pos + 1,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        let message = stamp & TOMBSTONE == 0;
                        if message {
                            // SAFETY: the slot is published (stamp pos + 1, Acquire) and the
                            // CAS made this process its only reader; no producer writes it
                            // until the stamp below releases it.
                            unsafe { dst.take(area.storage(), pos) };
                        }
                        area.store_stamp(pos, pos + cap, Ordering::Release);
                        lane.set(IDLE);
                        self.notify(Role::Sender);
                        if message {
                            return Ok(Found::Done);
                        }
                        pos += 1;
                    }
                    Err(current) => pos = current,
                }
            } else if empty_at(stamp, pos, cap) {
                // Empty only if no producer has claimed `pos`: `head` is at least `pos`, so
                // `tail <= pos` means `tail <= head` now.
                return Ok(if !exact || area.tail().load(Ordering::Acquire) <= pos {
                    Found::Nothing
                } else {
                    Found::InFlight
                });
            } else if bare > pos + 1 {
                let head = area.head().load(Ordering::Acquire);
                if head <= pos {
                    return Err(());
                }
                pos = head;
            } else {
                return Err(());
            }
        }
        Ok(Found::InFlight)
    }

    /// [`push`](Participant::push) or [`pop`](Participant::pop) through a non-blocking call:
    /// `patient`, an operation of another participant in flight at the position is waited
    /// out ([`crate::wait::patiently`]), settling dead participants' claims on the way; the
    /// outcome is `Done`, `Nothing` (the positions say full or empty) or, impatient or once
    /// the patience is spent, `InFlight`.
    #[inline]
    pub(super) fn patiently(
        &self,
        patient: bool,
        mut op: impl FnMut() -> Result<Found, ()>,
    ) -> Result<Found, ()> {
        let first = op();
        if patient && first == Ok(Found::InFlight) {
            return self.wait_in_flight(op);
        }
        first
    }

    /// The slow half of [`patiently`](Participant::patiently).
    #[cold]
    #[inline(never)]
    pub(super) fn wait_in_flight(
        &self,
        mut op: impl FnMut() -> Result<Found, ()>,
    ) -> Result<Found, ()> {
        crate::wait::patiently(|settle| {
            if settle {
                let pos = self.in_flight_position();
                if self.claimant(pos) == Claimant::Nobody {
                    // Nobody claimed it (or the claimer just finished): one last look. If
                    // other participants moved the position on meanwhile and the new one is
                    // in flight, that one is waited for like the first: only a position
                    // nobody claims ends the wait early.
                    let last = op();
                    return if last == Ok(Found::InFlight) && self.in_flight_position() != pos {
                        None
                    } else {
                        Some(last)
                    };
                }
                self.scan();
            }
            match op() {
                Ok(Found::InFlight) => None,
                other => Some(other),
            }
        })
        .unwrap_or(Ok(Found::InFlight))
    }

    /// The position a patient wait waits on: the slot at `head` a producer is writing, or
    /// the previous lap's slot at `tail` a consumer is reading.
    fn in_flight_position(&self) -> u64 {
        match self.role {
            Role::Receiver => self.area.head().load(Ordering::Acquire),
            Role::Sender => {
                (self.area.tail().load(Ordering::Acquire)).wrapping_sub(self.area.capacity())
            }
        }
    }

    /// A waiting call of a handle of this record that waits in `role`'s direction: one try,
    /// then the waiting loop ([`Waiter::until`]) on the record's event.
    pub(crate) fn wait_until<A: crate::wait::Attempt>(
        &self,
        role: Role,
        strategy: WaitStrategy,
        deadline: Option<Instant>,
        mut attempt: impl FnMut(bool) -> A,
    ) -> A::Outcome {
        let first = attempt(false);
        if !first.retry() {
            return first.done();
        }
        let mut waiter = Waiter::new(strategy);
        let event = self.area.event(role, self.index, &self.sleepers);
        waiter.until(self.area.storage(), event, deadline, attempt)
    }

    /// The readiness bridge of a handle of this record that waits in `role`'s direction,
    /// made on first use into `readiness` (the handle's own). With `counted` it counts among
    /// the record's sleepers in this process, as blocking waiters do
    /// (`notify::WaitWord::Counted`: handles that are `Clone`); without, the handle is its
    /// record's only waiter and owns the record's bit (`notify::WaitWord::Bit`).
    #[cfg(not(shmring_loom))]
    pub(crate) fn bridge(
        &self,
        role: Role,
        counted: bool,
        readiness: &mut crate::notify::Readiness,
    ) -> std::io::Result<Arc<crate::notify::Bridge>> {
        let event = self.area.event(role, self.index, &self.sleepers);
        readiness.bridge(|| {
            let segment = self._segment.clone().ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::Unsupported, "no mapped segment")
            })?;
            let (mask, bit) = (self.area.waiting(role), 1u64 << self.index);
            let word = if counted {
                crate::notify::WaitWord::Counted(mask, bit, self.sleepers.clone())
            } else {
                crate::notify::WaitWord::Bit(mask, bit)
            };
            crate::notify::Bridge::new(segment, event.seq, word)
        })
    }

    /// Whether this participant's next operation would find nothing to do now: an empty ring
    /// for a receiver, a full one for a sender (the conditions under which `pop` and `push`
    /// report so). The re-check after registering for readiness; anything unexpected counts
    /// as "go and try", so the attempt itself reports it.
    #[cfg(not(shmring_loom))]
    pub(crate) fn would_wait(&self) -> bool {
        if self.is_corrupted() {
            return false;
        }
        let area = &self.area;
        let cap = area.capacity();
        let pos = match self.role {
            Role::Sender => area.tail().load(Ordering::Acquire),
            Role::Receiver => area.head().load(Ordering::Acquire),
        };
        if pos & TOMBSTONE != 0 {
            return false;
        }
        let stamp = area.load_stamp(pos, Ordering::Acquire);
        match self.role {
            Role::Sender => full_at(stamp, pos, cap),
            Role::Receiver => empty_at(stamp, pos, cap),
        }
    }

    /// The first half of an operation: announce and claim the next position, if possible.
    #[cfg(shmring_loom)]
    pub(super) fn claim_only(&self) -> bool {
        let area = &self.area;
        let (index, ready) = match self.role {
            Role::Sender => (area.tail(), 0),
            Role::Receiver => (area.head(), 1),
        };
        let pos = index.load(Ordering::Relaxed);
        area.load_stamp(pos, Ordering::Acquire) == pos + ready && {
            area.lane(self.index, 0).store(pos, Ordering::Relaxed);
            index
                .compare_exchange(pos, pos + 1, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok()
        }
    }
}

impl<T: ShmType> Participant<T> {
    // ------------------------------------------------------------------ operations

    /// One send attempt. `PATIENT`: the public try calls, which wait out a consumer in the
    /// middle of taking the slot at `tail` and report `Full` only when the positions say so
    /// (the waiting loops and async sends retry on their own and pass `false`).
    pub(super) fn try_send_ref<const PATIENT: bool>(
        &self,
        value: &(impl Source<T> + ?Sized),
        force: bool,
    ) -> Result<(), TrySendError<()>> {
        if self.is_corrupted() {
            return Err(TrySendError::Corrupted(()));
        }
        if !self.peers_present(false, force) {
            return Err(TrySendError::Disconnected(()));
        }
        match self.patiently(PATIENT, || self.push(value, PATIENT)) {
            Ok(Found::Done) => Ok(()),
            Ok(Found::Nothing | Found::InFlight) => {
                if self.peers_present(true, false) {
                    Err(TrySendError::Full(()))
                } else {
                    Err(TrySendError::Disconnected(()))
                }
            }
            Err(()) => {
                self.corrupt();
                Err(TrySendError::Corrupted(()))
            }
        }
    }

    /// One receive attempt; `PATIENT` as for [`try_send_ref`](Participant::try_send_ref),
    /// waiting out a producer in the middle of writing the slot at `head`.
    pub(super) fn try_recv_into<const PATIENT: bool>(
        &self,
        dst: &mut (impl Sink<T> + ?Sized),
        force: bool,
    ) -> Result<(), TryRecvError> {
        if self.is_corrupted() {
            return Err(TryRecvError::Corrupted);
        }
        let corrupted = |p: &Self| {
            p.corrupt();
            Err(TryRecvError::Corrupted)
        };
        match self.patiently(PATIENT, || self.pop(dst, PATIENT)) {
            Ok(Found::Done) => return Ok(()),
            Ok(Found::Nothing | Found::InFlight) => {}
            Err(()) => return corrupted(self),
        }
        let epoch = self.area.epoch().load(Ordering::Acquire);
        if self.peers_present(true, force) {
            return Err(TryRecvError::Empty);
        }
        // No sender is left. Reaping settles a dead sender's claims before freeing its
        // record, so whatever is between head and tail now is published or tombstoned.
        match self.pop(dst, false) {
            Ok(Found::Done) => return Ok(()),
            Ok(Found::Nothing | Found::InFlight) => {}
            Err(()) => return corrupted(self),
        }
        let head = self.area.head().load(Ordering::Acquire);
        let tail = self.area.tail().load(Ordering::Acquire);
        if tail <= head {
            Err(TryRecvError::Disconnected)
        } else if !force
            || self.area.epoch().load(Ordering::Acquire) != epoch
            || self.scan().pending > 0
            || self.sender_may_live()
        {
            // A sender attached meanwhile, or one is between joining and announcing its role
            // or leaving (its record still held): its claims settle once it is done. Only a
            // forced look (after a sleep: fresh views of every record) calls it corruption.
            Err(TryRecvError::Empty)
        } else {
            corrupted(self) // claimed positions with no sender to own them
        }
    }

    /// Whether another record not proven dead may belong to a sender: announced as one, or
    /// with no role (joining, or leaving). Such a record counts as no sender in a scan, but its
    /// lanes keep dead senders' claims pending ([`held_by_live`](Participant::held_by_live)).
    pub(crate) fn sender_may_live(&self) -> bool {
        let mut verdicts = Vec::new();
        (0..PARTICIPANTS).any(|index| {
            let owner = self.area.owner(index).load(Ordering::Acquire);
            index != self.index
                && owner != 0
                && Role::from_code(self.area.role(index).load(Ordering::Acquire))
                    != Some(Role::Receiver)
                && !self.dead(index, owner, &mut verdicts)
        })
    }

    /// How many participants of `role` were found dead (killed, or crashed without closing)
    /// and reaped since the ring was created.
    pub(crate) fn reaped(&self, role: Role) -> u32 {
        self.area.reaped(role).load(Ordering::Acquire)
    }

    pub(super) fn len(&self) -> usize {
        let head = self.area.head().load(Ordering::Acquire);
        let tail = self.area.tail().load(Ordering::Acquire);
        tail.saturating_sub(head).min(self.area.capacity()) as usize
    }
}
