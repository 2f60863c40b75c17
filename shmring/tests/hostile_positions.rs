//! A hostile peer sets a ring's stored positions to values near the end of the 64-bit range:
//! whoever attaches or goes on using the ring gets `Corrupted` or garbage — never an
//! arithmetic overflow (a panic in debug builds, wrapped positions in release) or a hang.
//! Found by the hostile torture: a framed sender taking over a ring whose head a scribbler
//! had set near `u64::MAX` overflowed computing the free space.

use shmring_test_support as common;

use std::os::unix::fs::FileExt;

use common::{Unlink, shm_path, unique_name};
use shmring::header::HEADER_SIZE;
use shmring::spsc::layout::{HEAD_OFFSET, TAIL_OFFSET};

/// Positions a hostile peer might store (all 8-byte aligned, so they pass the framed rings'
/// alignment check and reach the arithmetic), and a small honest-looking one.
const POSITIONS: [u64; 6] = [
    24,
    !7, // u64::MAX rounded down to a multiple of 8
    !7 - 64,
    !7 - 4096,
    1 << 63,
    (1 << 62) - 8,
];

/// Writes `head` and `tail` into the ring `name` (every ring kind below keeps its tail at
/// offset 0 and its head at 128 of its area, docs/layout.md).
fn scribble(name: &str, head: u64, tail: u64) {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(shm_path(name))
        .unwrap();
    let area = HEADER_SIZE as u64;
    file.write_all_at(&head.to_ne_bytes(), area + HEAD_OFFSET as u64)
        .unwrap();
    file.write_all_at(&tail.to_ne_bytes(), area + TAIL_OFFSET as u64)
        .unwrap();
}

/// For every pair of hostile positions: a ring with a little traffic, its sender gone (so the
/// next one takes over), the positions overwritten while the receiver stays; then a new
/// sender and a new receiver attach (either may be refused) and every handle present tries a
/// bounded number of sends and receives. Nothing may panic or block.
/// A bounded number of sends and receives on every handle present.
macro_rules! exercise {
    ($senders:ident, $receivers:ident, $msg:expr) => {
        for _ in 0..600 {
            for tx in &mut $senders {
                let _ = tx.try_send($msg);
            }
            for rx in &mut $receivers {
                let _ = rx.try_recv();
            }
        }
    };
}

macro_rules! hostile_positions {
    ($test:ident, $tx:ty, $rx:ty, $msg:expr) => {
        #[test]
        #[allow(unused_mut)] // the mpmc handles send and receive through `&self`
        fn $test() {
            for head in POSITIONS {
                for tail in POSITIONS {
                    let name = unique_name(stringify!($test));
                    let _g = Unlink(name.clone());
                    let mut tx = <$tx>::create(name.as_str(), 256).unwrap();
                    let mut rx = <$rx>::open(name.as_str()).unwrap();
                    for _ in 0..3 {
                        tx.try_send($msg).unwrap();
                    }
                    let _ = rx.try_recv();
                    drop(tx);
                    scribble(&name, head, tail);
                    let mut senders: Vec<$tx> = <$tx>::open(name.as_str()).into_iter().collect();
                    let mut receivers = vec![rx];
                    exercise!(senders, receivers, $msg);
                    // A receiver of its own taking over the scribbled ring.
                    receivers.clear();
                    receivers.extend(<$rx>::open(name.as_str()));
                    exercise!(senders, receivers, $msg);
                    // The scribbled positions again, now under live handles.
                    scribble(&name, head, tail);
                    exercise!(senders, receivers, $msg);
                }
            }
        }
    };
}

hostile_positions!(
    spsc_positions,
    shmring::spsc::Sender<u64>,
    shmring::spsc::Receiver<u64>,
    7u64
);
hostile_positions!(
    mpmc_positions,
    shmring::mpmc::Sender<u64>,
    shmring::mpmc::Receiver<u64>,
    7u64
);
hostile_positions!(
    framed_positions,
    shmring::framed::Sender,
    shmring::framed::Receiver,
    &[7u8; 20][..]
);
hostile_positions!(
    framed_mpsc_positions,
    shmring::framed::mpsc::Sender,
    shmring::framed::mpsc::Receiver,
    &[7u8; 20][..]
);
