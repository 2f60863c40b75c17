//! A live broadcast ring (a writer and two receivers, one joined at the oldest message, on a
//! sealed memfd; the policy from the first input byte) whose shared state — the tail, the
//! participant table with the receivers' cursors, slot stamps (an overwrite ring's) and
//! payloads — is overwritten with fuzzer bytes between operations. The handles must only ever
//! return messages, `Lagged` or clean errors: no panic, no out-of-bounds access, no hang (every
//! call here is non-blocking and bounded).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shmring::Location;
use shmring::broadcast::{Policy, Receiver, Sender, TryRecvError};
use shmring_fuzz::{memfd_descriptors, scribble};

const CAPACITY: u64 = 8;

fuzz_target!(|data: &[u8]| {
    let Some((&first, data)) = data.split_first() else {
        return;
    };
    let policy = if first & 1 == 0 {
        Policy::Lossless
    } else {
        Policy::Overwrite
    };
    let mut tx = Sender::<[u64; 2]>::options()
        .policy(policy)
        .create(Location::memfd("fuzz-broadcast"), CAPACITY)
        .expect("create memfd ring");
    let (fd, file) = memfd_descriptors(tx.segment());
    let mut receivers = [
        Receiver::<[u64; 2]>::open(Location::Fd(fd.try_clone().expect("dup"))).ok(),
        Receiver::<[u64; 2]>::options()
            .from_oldest()
            .open(Location::Fd(fd))
            .ok(),
    ];
    // Slots are a stamp and the payload in an overwrite ring, the bare payload in a lossless
    // one.
    let stride = if policy == Policy::Overwrite { 24 } else { 16 };
    let area_len = shmring::mpmc::layout::CONTROL_SIZE + CAPACITY as usize * stride;
    let mut bytes = data.iter().copied();
    while let Some(op) = bytes.next() {
        let arg = bytes.next().unwrap_or(0);
        let which = usize::from(op >> 7);
        match op % 5 {
            0 => match tx.try_send([u64::from(arg); 2]) {
                Ok(()) => {}
                Err(e) => assert!(e.is_full() || !e.is_disconnected(), "{e:?}"),
            },
            1 => {
                if let Some(rx) = &mut receivers[which] {
                    let before = rx.position();
                    match rx.try_recv() {
                        Ok(_) => assert_eq!(rx.position(), before + 1),
                        Err(TryRecvError::Lagged(n)) => {
                            assert!(n > 0);
                            assert_eq!(rx.position(), before + n);
                        }
                        Err(TryRecvError::Empty | TryRecvError::Disconnected) => {}
                        Err(TryRecvError::Corrupted) => {}
                    }
                    assert!(rx.len() as u64 <= CAPACITY);
                }
            }
            // Scribble 8 fuzzer bytes at an 8-aligned offset of the area.
            2 => scribble(&file, &mut bytes, arg, area_len),
            3 => {
                // A receiver leaves, or joins again.
                receivers[which] = match receivers[which].take() {
                    Some(_) => None,
                    None => tx.subscribe().ok(),
                };
            }
            _ => {
                let _ = tx.is_disconnected();
                let _ = tx.receiver_count();
                if let Some(rx) = &receivers[which] {
                    let _ = rx.is_disconnected();
                }
            }
        }
    }
});
