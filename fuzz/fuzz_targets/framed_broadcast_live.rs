//! A live framed broadcast ring (a writer and two receivers, one joined at the oldest message,
//! on a sealed memfd; the policy from the first input byte) whose shared state — the tail, the
//! participant table, cell stamps (an overwrite ring's), cell headers (index, count, length,
//! tag, sequence number) and payloads — is overwritten with fuzzer bytes between operations.
//! The handles must only ever return whole messages no longer than the ring allows, `Lagged` or
//! clean errors: no panic, no out-of-bounds access, no hang (every call here is non-blocking
//! and bounded).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shmring::Location;
use shmring::broadcast::Policy;
use shmring::framed::broadcast::{CELL, Receiver, Sender, TryRecvError};
use shmring_fuzz::{check_try_send, memfd_descriptors, scribble};

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
    let mut tx = Sender::options()
        .policy(policy)
        .create(Location::memfd("fuzz-framed-broadcast"), CAPACITY)
        .expect("create memfd ring");
    let max = tx.max_message();
    let (fd, file) = memfd_descriptors(tx.segment());
    let mut receivers = [
        Receiver::open(Location::Fd(fd.try_clone().expect("dup"))).ok(),
        Receiver::options()
            .from_oldest()
            .open(Location::Fd(fd))
            .ok(),
    ];
    // Cells are stamped (8 bytes before each) in an overwrite ring, bare in a lossless one.
    let stamp = if policy == Policy::Overwrite { 8 } else { 0 };
    let area_len = shmring::mpmc::layout::CONTROL_SIZE + CAPACITY as usize * (stamp + CELL);
    let mut bytes = data.iter().copied();
    let mut buf = Vec::new();
    while let Some(op) = bytes.next() {
        let arg = bytes.next().unwrap_or(0);
        let which = usize::from(op >> 7);
        match op % 5 {
            // Messages of 0 to 255 bytes: one to five cells, some too long for the ring.
            0 => check_try_send(tx.try_send(&vec![arg; usize::from(arg)])),
            1 => {
                if let Some(rx) = &mut receivers[which] {
                    match rx.try_recv_into(&mut buf) {
                        Ok(_) => assert!(buf.len() <= max, "{} > {max}", buf.len()),
                        Err(TryRecvError::Lagged(n)) => assert!(n > 0),
                        Err(
                            TryRecvError::Empty
                            | TryRecvError::Disconnected
                            | TryRecvError::Corrupted,
                        ) => {}
                    }
                    assert!(rx.backlog_cells() as u64 <= CAPACITY);
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
                    let _ = rx.is_empty();
                }
            }
        }
    }
});
