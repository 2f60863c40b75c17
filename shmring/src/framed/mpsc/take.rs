//! The attempt every receive makes: take the committed record at the head (skipping
//! padding), wait for a claim in flight, settle a dead producer's claim, hand space back.

#[allow(unused_imports)]
use super::*;

impl Receiver {
    /// One attempt: take the next message (skipping padding) into `buf`.
    pub(super) fn pop(&mut self, buf: &mut Vec<u8>, force: bool) -> Result<u32, TryRecvError> {
        if self.shared.is_corrupted() {
            return Err(TryRecvError::Corrupted);
        }
        match self.take(buf) {
            Some(result) => return result,
            None => self.hand_back(),
        }
        let shared = &self.shared;
        shared.local_head.store(self.cursor.head, Ordering::Relaxed);
        let epoch = shared.area.epoch().load(Ordering::Acquire);
        if shared.peers_present(true, force) {
            // A scan may just have turned a dead producer's claim into padding.
            return self.take(buf).unwrap_or(Err(TryRecvError::Empty));
        }
        // No producer is left. Reaping settled every dead producer's claims (committed or
        // padding) before freeing its record, so what lies between head and tail is readable.
        if let Some(result) = self.take(buf) {
            return result;
        }
        let tail = self.shared.area.tail().load(Ordering::Acquire);
        if tail <= self.cursor.head {
            return Err(TryRecvError::Disconnected);
        }
        // Still stuck behind a claim: a fresh scan settles what it can; a claim it must leave
        // pending (a producer not proven dead showed its position) is not corruption.
        let pending = force && self.shared.scan().pending > 0;
        if let Some(result) = self.take(buf) {
            return result;
        }
        if !force
            || pending
            || self.shared.area.epoch().load(Ordering::Acquire) != epoch
            || self.shared.sender_may_live()
        {
            // A producer attached meanwhile, or one is joining or leaving: its claims settle
            // once it is done. Only a forced look (after a sleep: fresh views of every record)
            // calls it corruption.
            Err(TryRecvError::Empty)
        } else {
            self.shared.corrupt(); // claimed bytes with no producer to own them
            Err(TryRecvError::Corrupted)
        }
    }

    /// After an attempt found nothing readable at the head: if a producer has claimed the
    /// record there (`tail` is past the head) and is still copying into it, waits for it
    /// ([`crate::wait::patiently`]; a dead producer's claim is settled on the way) and takes
    /// what follows. `None`: nothing is claimed any more, the claim is a reservation its user
    /// holds open (not waited for), or the patience is spent.
    pub(super) fn wait_in_flight(
        &mut self,
        buf: &mut Vec<u8>,
    ) -> Option<Result<u32, TryRecvError>> {
        crate::wait::patiently(|settle| {
            if settle {
                let shared = &self.shared;
                match shared.claimant(self.cursor.head) {
                    // Nobody claimed it (or the producer just committed): one last look. A
                    // reservation held open by its user is not waited for.
                    Claimant::Nobody | Claimant::HeldOpen => return Some(self.take(buf)),
                    Claimant::Working => {}
                }
                shared.local_head.store(self.cursor.head, Ordering::Relaxed);
                shared.scan();
            }
            match self.take(buf) {
                Some(result) => Some(Some(result)),
                None if self.shared.area.tail().load(Ordering::Acquire) <= self.cursor.head => {
                    Some(None)
                }
                None => None,
            }
        })
        .flatten()
    }

    /// The next message if one is committed (`None`: nothing readable at the head).
    pub(super) fn take(&mut self, buf: &mut Vec<u8>) -> Option<Result<u32, TryRecvError>> {
        match self.cursor.next(&self.shared.area, buf) {
            Next::Message(tag) => {
                if self.cursor.due(self.shared.area.capacity()) {
                    self.hand_back();
                }
                Some(Ok(tag))
            }
            Next::NotReady => None,
            Next::Corrupt => {
                self.shared.corrupt();
                Some(Err(TryRecvError::Corrupted))
            }
        }
    }

    /// Clears what was consumed and publishes the head, waking waiting producers.
    pub(super) fn hand_back(&mut self) {
        if let Some(head) = self.cursor.hand_back(&self.shared.area) {
            self.shared.area.head().store(head, Ordering::Release);
            self.shared.notify(Role::Sender);
        }
    }
}
