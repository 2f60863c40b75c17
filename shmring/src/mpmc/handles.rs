//! What both mpmc handles have in common — construction, membership queries, wait strategy,
//! readiness — written once by a macro for `Sender` and `Receiver`.

#[allow(unused_imports)]
use super::*;

macro_rules! common_handle_methods {
    (
        $handle:ident,
        $role:expr,
        $var:literal,
        $example:literal,
        $proceeds:literal,
        $register:literal
    ) => {
        impl<T: ShmType> $handle<T> {
            pub(super) fn from_shared(shared: Participant<T>) -> $handle<T> {
                $handle {
                    shared: Arc::new(shared),
                    strategy: default_strategy(),
                    #[cfg(not(shmring_loom))]
                    readiness: Default::default(),
                }
            }

            #[cfg(not(shmring_loom))]
            pub(super) fn attach(segment: Arc<Segment>) -> Result<$handle<T>, OpenError> {
                $handle::attach_laid_out(segment, layout::geometry::<T>())
            }

            /// Attaches to `segment`, whose slots are laid out as `geometry` (the payload
            /// type is known at run time: [`DynSender`](super::DynSender)).
            #[cfg(not(shmring_loom))]
            pub(super) fn attach_laid_out(
                segment: Arc<Segment>,
                geometry: crate::storage::Geometry,
            ) -> Result<$handle<T>, OpenError> {
                Ok($handle::from_shared(attach(segment, $role, geometry)?))
            }


            /// Sets how this handle waits (clones made afterwards inherit it).
            ///
            /// ```
            /// let (tx, rx) = shmring::mpmc::channel::<u8>(2)?;
            #[doc = concat!("let h = ", $var, ".with_wait_strategy(shmring::WaitStrategy::BusyPoll);")]
            /// # let _ = (h,);
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn with_wait_strategy(mut self, strategy: WaitStrategy) -> $handle<T> {
                self.strategy = strategy;
                self
            }

            /// Attaches one more sender to the same ring as a separate participant (its own
            /// record, as another process would have).
            ///
            /// # Errors
            ///
            /// [`OpenError::ParticipantsFull`].
            #[doc(hidden)]
            pub fn attach_sender(&self) -> Result<Sender<T>, OpenError> {
                self.attach_as(Role::Sender).map(Sender::from_shared)
            }

            /// Attaches one more receiver as a separate participant.
            ///
            /// # Errors
            ///
            /// [`OpenError::ParticipantsFull`].
            #[doc(hidden)]
            pub fn attach_receiver(&self) -> Result<Receiver<T>, OpenError> {
                self.attach_as(Role::Receiver).map(Receiver::from_shared)
            }

            pub(super) fn attach_as(&self, role: Role) -> Result<Participant<T>, OpenError> {
                let s = &self.shared;
                Participant::join(
                    s.area.clone(),
                    Protocol::Slots,
                    role,
                    s.name.clone(),
                    s._segment.clone(),
                )
            }

            /// Messages in the ring now, by the positions: published, or claimed by a producer
            /// that is still writing (or a consumer still reading). `0` exactly when
            /// `try_recv` would report `Empty`.
            ///
            /// ```
            /// let (tx, rx) = shmring::mpmc::channel::<u8>(4)?;
            /// tx.send(1).unwrap();
            /// assert_eq!((tx.len(), rx.len()), (1, 1));
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn len(&self) -> usize {
                self.shared.len()
            }

            /// Whether the ring holds no message now (`len() == 0`): agrees with `try_recv`,
            /// which reports `Empty` only then.
            ///
            /// ```
            /// let (_tx, rx) = shmring::mpmc::channel::<u8>(4)?;
            /// assert!(rx.is_empty());
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// Whether every slot is taken now (`len() == capacity()`): agrees with
            /// `try_send`, which reports `Full` only then.
            ///
            /// ```
            /// let (tx, _rx) = shmring::mpmc::channel::<u8>(2)?;
            /// tx.send(1).unwrap();
            /// tx.send(2).unwrap();
            /// assert!(tx.is_full());
            /// # Ok::<(), shmring::OpenError>(())
            /// ```
            pub fn is_full(&self) -> bool {
                self.len() == self.shared.area.capacity() as usize
            }




            /// Claims the next position as an operation would (lane, then CAS), then dies before
            /// writing, reading or releasing it (loom models of the crash protocol). Returns
            /// whether a position was claimed.
            #[doc(hidden)]
            #[cfg(shmring_loom)]
            pub fn die_after_claim(self) -> bool {
                let claimed = self.shared.claim_only();
                self.die();
                claimed
            }

            /// (head, tail, logical stamps) for model debugging.
            #[doc(hidden)]
            #[cfg(shmring_loom)]
            pub fn debug_state(&self) -> (u64, u64, Vec<u64>) {
                let a = &self.shared.area;
                let h = a.head().load(Ordering::SeqCst);
                let t = a.tail().load(Ordering::SeqCst);
                (h, t, (0..a.capacity()).map(|i| a.load_stamp(i, Ordering::SeqCst)).collect())
            }

            /// Marks this participant dead without releasing anything, as a process killed
            /// at that point would leave it (tests and loom models of the crash protocol).
            #[doc(hidden)]
            #[cfg(shmring_loom)]
            pub fn die(self) {
                self.shared.die();
            }
        }

        crate::build::ring_options! {
            impl[T: ShmType] $handle<T>;
            example: $example,
            role: "one more participant",
            opens: "Any number of senders and receivers may attach (up to the participant table); a dead participant's record is reaped.",
            create_segment: |l: Location, capacity, o: &Self| {
                crate::build::create_with(create_options::<T>(capacity, &l), l, o)
            },
            open_segment: |l: Location, _: &Self| {
                open_ring::<T>(RingKind::Mpmc, l, layout::geometry::<T>())
            },
            attach: |s, _: &Self| $handle::attach(s)
        }

        // Each handle — each clone — has its own eventfd; the handles of one record count
        // together in the record's waiting bit, as blocking waiters do.
        super::table::participant_core! {
            impl[T: ShmType] $handle<T>;
            role: $role,
            counted: true,
            peers_gone: |h| !h.shared.peers_present(true, true),
            would_wait: |h, _need| h.shared.would_wait(),
            look_at_peers: |h| h.shared.peers_present(false, true)
        }

        crate::handle::readiness_methods! {
            impl[T: ShmType] $handle<T>;
            channel: "mpmc::channel::<u32>(2)",
            var: $var,
            proceeds: $proceeds,
            register: $register
        }

        impl<T: ShmType> Clone for $handle<T> {
            fn clone(&self) -> Self {
                $handle {
                    shared: self.shared.clone(),
                    strategy: self.strategy,
                    #[cfg(not(shmring_loom))]
                    readiness: Default::default(),
                }
            }
        }

        impl<T: ShmType> fmt::Debug for $handle<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($handle))
                    .field("ring", &self.shared.name)
                    .field("record", &self.shared.index)
                    .field("capacity", &self.shared.area.capacity())
                    .field("wait", &self.strategy)
                    .field("corrupted", &self.shared.is_corrupted())
                    .finish()
            }
        }
    };
}

common_handle_methods!(
    Sender,
    Role::Sender,
    "tx",
    "mpmc::Sender::<u64>",
    "a slot may have become free (or the receivers may be gone)",
    "assert!(!tx.register_readiness()?); // room: send at once"
);

common_handle_methods!(
    Receiver,
    Role::Receiver,
    "rx",
    "mpmc::Receiver::<u64>",
    "a message may have arrived (or the senders may be gone)",
    "assert!(rx.register_readiness()?); // empty: wait on rx.readiness_fd()"
);
