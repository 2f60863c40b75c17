//! A live many-producer framed ring (two producers with their own participant records and a
//! receiver, on a sealed memfd) whose shared state — positions, the participant table with
//! its owner words and claim lanes, record headers and payload bytes — is overwritten with
//! fuzzer bytes between operations, including while reservations are open. The handles must
//! only ever return messages or clean errors: no panic, no out-of-bounds access, no hang
//! (every call here is non-blocking and bounded).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shmring::Location;
use shmring::framed::mpsc;
use shmring_fuzz::{check_try_recv, check_try_send, memfd_descriptors, scribble};

const CAPACITY: u64 = 256;

fuzz_target!(|data: &[u8]| {
    let tx = mpsc::Sender::create(Location::memfd("fuzz-framed-mpsc"), CAPACITY)
        .expect("create memfd ring");
    let (fd, file) = memfd_descriptors(tx.segment());
    let mut rx = mpsc::Receiver::open(Location::Fd(fd)).expect("open the receiver");
    let tx2 = tx.attach_sender().expect("second producer");
    let senders = [&tx, &tx2];
    let max = tx.max_message();
    let area_len = shmring::mpmc::layout::CONTROL_SIZE + CAPACITY as usize;
    let mut buf = Vec::new();
    let mut open = None;
    let mut bytes = data.iter().copied();
    while let Some(op) = bytes.next() {
        let arg = bytes.next().unwrap_or(0);
        let sender = senders[usize::from(op >> 7)];
        match op % 6 {
            0 => check_try_send(sender.try_send(&vec![op; usize::from(arg) % (max + 2)])),
            1 => check_try_recv(rx.try_recv_into(&mut buf), &buf, max),
            // Scribble 8 fuzzer bytes at an 8-aligned offset of the area.
            2 => scribble(&file, &mut bytes, arg, area_len),
            3 => {
                // Open a reservation and keep it across later operations.
                if open.is_none() {
                    if let Ok(mut r) = tx2.try_reserve(usize::from(arg) % (max + 1)) {
                        let n = r.len();
                        r.write_at(0, &vec![arg; n]);
                        open = Some(r);
                    }
                }
            }
            4 => {
                if let Some(r) = open.take() {
                    if arg % 2 == 0 {
                        r.commit();
                    }
                }
            }
            _ => {
                let _ = rx.is_disconnected();
                let _ = sender.is_disconnected();
            }
        }
    }
});
