//! One side's membership of an spsc (or framed) ring: claiming the role, taking over from a
//! dead holder, the peer's liveness, closing, and the readiness bridge of its direction.

#[allow(unused_imports)]
use super::*;
use crate::liveness;
use crate::storage::MAX_POSITION;

impl<T: ShmType> End<T> {
    /// A handle end on a loom model area, attached as `role`.
    #[cfg(shmring_loom)]
    pub(crate) fn model(area: &Area<T>, role: Role) -> End<T> {
        let me = 1u64 << 40 | role as u64;
        area.owner(role).store(me, Ordering::Relaxed);
        area.state(role).store(STATE_ATTACHED, Ordering::Relaxed);
        End {
            area: area.clone(),
            role,
            me,
            // No spinning: every wait goes to sleep, so loom explores the futex protocol.
            waiter: Waiter::new(WaitStrategy::Blocking { spin: 0, yields: 0 }),
            light: false,
            dead_peer: 0,
            last_liveness: None,
            polls: 0,
            corrupted: false,
            name: "loom".into(),
            _segment: None,
        }
    }

    /// Claims `role` in `segment` for this process.
    #[cfg(not(shmring_loom))]
    pub(crate) fn attach(segment: Arc<Segment>, role: Role) -> Result<End<T>, OpenError> {
        End::attach_laid_out(segment, role, super::geometry::<T>())
    }

    /// [`attach`](End::attach) to slots laid out as `geometry` (the one the segment was
    /// opened or created with).
    #[cfg(not(shmring_loom))]
    pub(crate) fn attach_laid_out(
        segment: Arc<Segment>,
        role: Role,
        geometry: crate::storage::Geometry,
    ) -> Result<End<T>, OpenError> {
        let name = segment.name().to_owned();
        let base = segment.area_ptr();
        let (capacity, fenced) = (segment.info().capacity, segment.info().fence_every_send);
        // SAFETY: `open_ring_laid_out` (or our create) confirmed the area holds the control
        // block and `capacity` slots laid out as `geometry`; it is page aligned; `segment` is
        // kept alive in the End next to the Area.
        let area = unsafe { Area::<T>::with_geometry(base, capacity, geometry, fenced) };
        let me = liveness::identity(&name)?;
        let owner = area.owner(role);
        let mut claimed = false;
        for _ in 0..64 {
            let current = owner.load(Ordering::Acquire);
            if current != 0 {
                let ns = area.pid_ns(role).load(Ordering::Relaxed);
                if !liveness::dead(current, ns, || false) {
                    return Err(OpenError::RoleTaken {
                        name,
                        role: role.name(),
                        pid: (current >> 32) as u32,
                    });
                }
            }
            if owner
                .compare_exchange(current, me, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                claimed = true;
                break;
            }
        }
        if !claimed {
            return Err(OpenError::Io {
                name,
                op: "claim ring role",
                source: std::io::Error::other("the role record kept changing"),
            });
        }
        area.pid_ns(role)
            .store(liveness::pid_ns(), Ordering::Relaxed);
        // A predecessor that died asleep left its flag set; only this role sleeps there.
        area.waiting_flag(role).store(0, Ordering::Relaxed);
        area.state(role).store(STATE_ATTACHED, Ordering::Release);
        let light = liveness::light() && !area.fences_every_send();
        Ok(End {
            area,
            role,
            me,
            waiter: Waiter::new(WaitStrategy::default()),
            light,
            dead_peer: 0,
            last_liveness: None,
            polls: 0,
            corrupted: false,
            name,
            readiness: Default::default(),
            _segment: Some(segment),
        })
    }

    /// Claims `role` and reads the shared indices, which must satisfy
    /// `head <= tail <= head + capacity`: a successor continues exactly where the ring is.
    #[cfg(not(shmring_loom))]
    pub(super) fn attach_with_indices(
        segment: Arc<Segment>,
        role: Role,
        geometry: crate::storage::Geometry,
    ) -> Result<(End<T>, u64, u64), OpenError> {
        let end = End::attach_laid_out(segment, role, geometry)?;
        let head = end.area.head().load(Ordering::Acquire);
        let tail = end.area.tail().load(Ordering::Acquire);
        if head > tail || tail - head > end.area.capacity() || tail >= MAX_POSITION {
            return Err(OpenError::Corrupted {
                name: end.name.clone(),
                reason: HeaderError::BadField {
                    field: "ring indices (tail - head)",
                    value: tail.wrapping_sub(head),
                },
            });
        }
        Ok((end, head, tail))
    }

    /// The peer's state; `force` re-checks its process even if checked recently.
    pub(crate) fn peer(&mut self, force: bool) -> Peer {
        let peer = self.role.other();
        match self.area.state(peer).load(Ordering::Acquire) {
            STATE_NEVER => Peer::Present,
            STATE_CLOSED => Peer::Gone,
            STATE_ATTACHED => self.peer_process(force),
            _ => {
                self.corrupted = true;
                Peer::Corrupt
            }
        }
    }

    /// Whether the peer's process is gone (the spsc loom models have no dying peers: there
    /// the peer is always present).
    pub(super) fn peer_process(&mut self, force: bool) -> Peer {
        let peer = self.role.other();
        let owner = self.area.owner(peer).load(Ordering::Acquire);
        if owner == 0 {
            return Peer::Present; // between claim and release: not gone
        }
        if owner == self.dead_peer {
            return Peer::Gone;
        }
        // Unforced checks come from polling loops: read the clock only every 1024th time, so
        // an empty poll stays a few loads (blocking waits force a check after every sleep).
        self.polls = self.polls.wrapping_add(1);
        if !force && self.polls % 1024 != 0 {
            return Peer::Present;
        }
        let now = Instant::now();
        if !force
            && self
                .last_liveness
                .is_some_and(|t| now.duration_since(t) < crate::wait::LIVENESS_PERIOD)
        {
            return Peer::Present;
        }
        self.last_liveness = Some(now);
        let ns = self.area.pid_ns(peer).load(Ordering::Relaxed);
        if liveness::dead(owner, ns, || false) {
            self.dead_peer = owner;
            Peer::Gone
        } else {
            Peer::Present
        }
    }

    /// Whether the peer is present, checked now and without touching this end's caches (for
    /// `is_disconnected(&self)`): attached or never attached, and not proven dead.
    pub(crate) fn peer_present_now(&self) -> bool {
        let peer = self.role.other();
        match self.area.state(peer).load(Ordering::Acquire) {
            STATE_NEVER => true,
            STATE_ATTACHED => {
                let owner = self.area.owner(peer).load(Ordering::Acquire);
                if owner == 0 {
                    return true; // between claim and release: not gone
                }
                if owner == self.dead_peer {
                    return false;
                }
                let ns = self.area.pid_ns(peer).load(Ordering::Relaxed);
                !liveness::dead(owner, ns, || false)
            }
            _ => false, // closed, or a corrupt state: nothing more will come from it
        }
    }

    /// The segment this end's ring lives in (mapped builds always hold one).
    #[cfg(not(shmring_loom))]
    pub(crate) fn segment(&self) -> &Segment {
        self._segment
            .as_deref()
            .expect("a mapped ring always holds its segment")
    }

    /// The sender publishes its tail with one Release store and wakes the receiver if it
    /// sleeps (no system call otherwise).
    #[inline]
    pub(crate) fn publish_tail(&self, tail: u64) {
        self.area.tail().store(tail, Ordering::Release);
        // Whatever this handle's own strategy: a busy-polling side still wakes a peer that
        // sleeps (one load of a flag nobody writes while nobody sleeps).
        self.area.data_event().notify(&*self.area, self.light);
    }

    /// The receiver releases up to `head` with one Release store and wakes the sender if it
    /// sleeps.
    #[inline]
    pub(crate) fn publish_head(&self, head: u64) {
        self.area.head().store(head, Ordering::Release);
        // Whatever this handle's own strategy: a busy-polling side still wakes a peer that
        // sleeps (one load of a flag nobody writes while nobody sleeps).
        self.area.space_event().notify(&*self.area, self.light);
    }

    /// Whether the peer's role record says it closed (one shared load, for hot paths).
    #[inline]
    pub(crate) fn peer_closed(&self) -> bool {
        self.area.state(self.role.other()).load(Ordering::Relaxed) == STATE_CLOSED
    }
}

impl<T: ShmType> Drop for End<T> {
    fn drop(&mut self) {
        self.area
            .state(self.role)
            .store(STATE_CLOSED, Ordering::Release);
        let _ = self.area.owner(self.role).compare_exchange(
            self.me,
            0,
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
        // Wake the peer whichever way it sleeps, so it sees the closed state now.
        self.area.data_event().wake(&*self.area);
        self.area.space_event().wake(&*self.area);
    }
}

impl<T: ShmType> fmt::Debug for End<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("End")
            .field("ring", &self.name)
            .field("role", &self.role.name())
            .field("capacity", &self.area.capacity())
            .field("wait", &self.waiter.strategy())
            .field("corrupted", &self.corrupted)
            .finish()
    }
}

/// Readiness (an eventfd signalled by a helper thread that sleeps on the ring's futex in
/// the handle's place; docs/protocols.md, "Ring readiness"), shared by both handles: each
/// waits on its own direction's eventcount.
#[cfg(not(shmring_loom))]
impl<T: ShmType> End<T> {
    /// This handle's bridge, made on first use for the direction it waits on.
    pub(crate) fn bridge(&mut self) -> std::io::Result<Arc<crate::notify::Bridge>> {
        let segment = self._segment.clone();
        let event = match self.role {
            Role::Receiver => self.area.data_event(),
            Role::Sender => self.area.space_event(),
        };
        self.readiness.bridge(|| {
            let segment = segment.ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::Unsupported, "no mapped segment")
            })?;
            let crate::wait::Waiting::Flag(flag) = event.waiting else {
                unreachable!("an spsc ring has one waiting flag per direction")
            };
            crate::notify::Bridge::new(segment, event.seq, crate::notify::WaitWord::Flag(flag))
        })
    }
}

/// The [`crate::handle::Core`] of a handle built on an [`End`] (the spsc and framed
/// handles): everything comes from the end but `would_wait`, given as `|handle, need| expr`.
macro_rules! end_core {
    (impl[$($g:tt)*] $ty:ty; would_wait: |$h:ident, $need:ident| $would_wait:expr) => {
        #[cfg(not(shmring_loom))]
        impl<$($g)*> crate::handle::Core for $ty {
            fn held_segment(&self) -> &crate::Segment {
                self.end.segment()
            }

            fn ring_capacity(&self) -> usize {
                self.end.area.capacity() as usize
            }

            fn peers_gone(&self) -> bool {
                !self.end.peer_present_now()
            }

            fn readiness(&mut self) -> &mut crate::notify::Readiness {
                &mut self.end.readiness
            }

            fn bridge(&mut self) -> std::io::Result<std::sync::Arc<crate::notify::Bridge>> {
                self.end.bridge()
            }

            fn waiter(&self) -> crate::wait::Waiter {
                self.end.waiter
            }

            fn keep_waiter(&mut self, waiter: crate::wait::Waiter) {
                self.end.waiter = waiter;
            }

            fn would_wait(&mut self, $need: usize) -> bool {
                let $h = self;
                $would_wait
            }

            fn look_at_peers(&mut self) {
                let _ = self.end.peer(true);
            }
        }
    };
}

pub(crate) use end_core;
