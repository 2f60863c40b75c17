//! A live framed ring (sender and receiver on a sealed memfd) whose shared state — positions,
//! role records, record headers and payload bytes — is overwritten with fuzzer bytes between
//! operations. The handles must only ever return messages or clean errors: no panic, no
//! out-of-bounds access, no hang (every call here is non-blocking and bounded).
#![no_main]

use std::os::unix::fs::FileExt;

use libfuzzer_sys::fuzz_target;
use shmring::framed::{self, TrySendError};
use shmring::header::HEADER_SIZE;
use shmring::{Location, TryRecvError};

const CAPACITY: u64 = 256;

fuzz_target!(|data: &[u8]| {
    let mut tx = framed::Sender::create(Location::memfd("fuzz-framed"), CAPACITY)
        .expect("create memfd ring");
    let fd = tx
        .segment()
        .as_fd()
        .expect("memfd")
        .try_clone_to_owned()
        .expect("dup");
    let file = std::fs::File::from(fd.try_clone().expect("dup"));
    let mut rx = framed::Receiver::open(Location::Fd(fd)).expect("open the receiver");
    let max = tx.max_message();
    let area_len = shmring::spsc::layout::CONTROL_SIZE + CAPACITY as usize;
    let mut buf = Vec::new();
    let mut bytes = data.iter().copied();
    while let Some(op) = bytes.next() {
        let arg = bytes.next().unwrap_or(0);
        match op % 5 {
            0 => match tx.try_send(&vec![op; usize::from(arg) % (max + 2)]) {
                Ok(())
                | Err(TrySendError::Full | TrySendError::Disconnected | TrySendError::Corrupted) => {
                }
                Err(TrySendError::TooLarge { len, max: m }) => assert!(len > m),
                Err(e) => panic!("unexpected {e:?}"),
            },
            1 => match rx.try_recv_into(&mut buf) {
                Ok(_) => assert!(buf.len() <= max),
                Err(TryRecvError::Empty | TryRecvError::Disconnected | TryRecvError::Corrupted) => {
                }
            },
            2 => {
                // Scribble 8 fuzzer bytes at an 8-aligned offset of the area.
                let offset = (usize::from(arg) * 8 + usize::from(bytes.next().unwrap_or(0)) * 2048)
                    % area_len
                    / 8
                    * 8;
                let value: Vec<u8> = bytes.by_ref().take(8).collect();
                file.write_all_at(&value, (HEADER_SIZE + offset) as u64)
                    .expect("scribble");
            }
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
