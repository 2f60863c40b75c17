//! A live framed ring (sender and receiver on a sealed memfd) whose shared state — positions,
//! role records, record headers and payload bytes — is overwritten with fuzzer bytes between
//! operations. The handles must only ever return messages or clean errors: no panic, no
//! out-of-bounds access, no hang (every call here is non-blocking and bounded).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shmring::Location;
use shmring::framed;
use shmring_fuzz::{check_try_recv, check_try_send, memfd_descriptors, scribble};

const CAPACITY: u64 = 256;

fuzz_target!(|data: &[u8]| {
    let mut tx = framed::Sender::create(Location::memfd("fuzz-framed"), CAPACITY)
        .expect("create memfd ring");
    let (fd, file) = memfd_descriptors(tx.segment());
    let mut rx = framed::Receiver::open(Location::Fd(fd)).expect("open the receiver");
    let max = tx.max_message();
    let area_len = shmring::spsc::layout::CONTROL_SIZE + CAPACITY as usize;
    let mut buf = Vec::new();
    let mut bytes = data.iter().copied();
    while let Some(op) = bytes.next() {
        let arg = bytes.next().unwrap_or(0);
        match op % 5 {
            0 => check_try_send(tx.try_send(&vec![op; usize::from(arg) % (max + 2)])),
            1 => check_try_recv(rx.try_recv_into(&mut buf), &buf, max),
            // Scribble 8 fuzzer bytes at an 8-aligned offset of the area.
            2 => scribble(&file, &mut bytes, arg, area_len),
            3 => {
                if let Ok(mut r) = tx.try_reserve(usize::from(arg) % (max + 1)) {
                    let n = r.len() / 2;
                    r.write_at(n, &vec![arg; r.len() - n]);
                    r.commit();
                }
            }
            _ => {
                if let Ok(mut r) = tx.try_reserve(usize::from(arg) % (max + 1)) {
                    let n = r.len();
                    r.write_at(0, &vec![1; n]);
                    // dropped: never committed
                }
            }
        }
    }
});
