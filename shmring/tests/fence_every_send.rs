//! `RingOptions::fence_every_send`: recorded in the header (`flags` bit 2) by the creator, seen
//! by every process that opens the ring whatever options it used, refused on a raw segment;
//! and on every ring kind a receiver asleep on an empty ring is woken by a send (the sleeper
//! skips the membarrier, the notifier fences). Each wake is bounded by a watchdog so a lost
//! wake-up fails instead of hanging; the futex slice (10 ms) would also end a lost one, so the
//! eventcount-level proof of the wake is in `wake_mixed.rs`.

use shmring_test_support as common;

use std::sync::mpsc;
use std::time::Duration;

use common::{Unlink, unique_name};
use shmring::header::{FLAG_FENCE_EVERY_SEND, HeaderError, HeaderInfo, checksum, decode, encode};
use shmring::{RingKind, ShmType};

/// How long a sleeping receiver may take to be woken before the test calls it lost.
const WATCHDOG: Duration = Duration::from_secs(10);

/// Runs `recv` on a thread until it sleeps (a pause far past every spin budget), then `send`;
/// the receiver must come back with what was sent.
fn woken<R: Send + PartialEq + std::fmt::Debug>(
    recv: impl FnOnce() -> R + Send,
    send: impl FnOnce(),
    expected: R,
) {
    let (done, result) = mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(move || done.send(recv()).unwrap());
        std::thread::sleep(Duration::from_millis(30));
        send();
        let got = result
            .recv_timeout(WATCHDOG)
            .expect("the sleeping receiver was never woken");
        assert_eq!(got, expected);
    });
}

/// The creator's option reaches the header; an opener with default options sees it; the
/// default leaves it clear.
macro_rules! fence_case {
    ($test:ident, $tx:ty, $rx:ty, $cap:expr, $msg:expr, $recv:expr) => {
        #[test]
        fn $test() {
            for fenced in [false, true] {
                let name = unique_name(stringify!($test));
                let _u = Unlink(name.clone());
                let options = <$tx>::options();
                let options = if fenced {
                    options.fence_every_send()
                } else {
                    options
                };
                #[allow(unused_mut)]
                let mut tx = options.create(name.as_str(), $cap).unwrap();
                #[allow(unused_mut)]
                let mut rx = <$rx>::open(name.as_str()).unwrap();
                assert_eq!(tx.segment().info().fence_every_send, fenced);
                assert_eq!(rx.segment().info().fence_every_send, fenced);
                let recv = $recv;
                woken(
                    move || recv(&mut rx),
                    || tx.send($msg).unwrap(),
                    $msg.to_owned(),
                );
            }
        }
    };
}

fence_case!(
    spsc,
    shmring::spsc::Sender<u64>,
    shmring::spsc::Receiver<u64>,
    8,
    7u64,
    |rx: &mut shmring::spsc::Receiver<u64>| rx.recv().unwrap()
);
fence_case!(
    mpmc,
    shmring::mpmc::Sender<u64>,
    shmring::mpmc::Receiver<u64>,
    8,
    7u64,
    |rx: &mut shmring::mpmc::Receiver<u64>| rx.recv().unwrap()
);
fence_case!(
    framed,
    shmring::framed::Sender,
    shmring::framed::Receiver,
    256,
    &b"fenced"[..],
    |rx: &mut shmring::framed::Receiver| rx.recv().unwrap()
);
fence_case!(
    framed_mpsc,
    shmring::framed::mpsc::Sender,
    shmring::framed::mpsc::Receiver,
    256,
    &b"fenced"[..],
    |rx: &mut shmring::framed::mpsc::Receiver| rx.recv().unwrap()
);
fence_case!(
    broadcast,
    shmring::broadcast::Sender<u64>,
    shmring::broadcast::Receiver<u64>,
    8,
    7u64,
    |rx: &mut shmring::broadcast::Receiver<u64>| rx.recv().unwrap()
);
fence_case!(
    framed_broadcast,
    shmring::framed::broadcast::Sender,
    shmring::framed::broadcast::Receiver,
    256,
    &b"fenced"[..],
    |rx: &mut shmring::framed::broadcast::Receiver| rx.recv().unwrap()
);

/// The flag in a header: accepted on every ring kind, refused on a raw segment (nothing
/// there notifies), and the bit after it still unknown.
#[test]
fn the_flag_is_checked_per_kind() {
    let with_flags = |kind: RingKind, flags: u32| {
        let mut bytes = encode(
            &HeaderInfo::new(kind, 64, &u64::layout(), 1 << 16),
            shmring::header::STATE_READY,
        );
        bytes[28..32].copy_from_slice(&flags.to_ne_bytes());
        let sum = checksum(&bytes);
        bytes[112..120].copy_from_slice(&sum.to_ne_bytes());
        decode(&bytes)
    };
    for kind in [
        RingKind::Spsc,
        RingKind::Mpmc,
        RingKind::Framed,
        RingKind::FramedMpsc,
        RingKind::Broadcast,
        RingKind::FramedBroadcast,
    ] {
        let info = with_flags(kind, FLAG_FENCE_EVERY_SEND).unwrap();
        assert!(info.fence_every_send, "{kind}");
        assert!(!with_flags(kind, 0).unwrap().fence_every_send, "{kind}");
        assert!(
            matches!(
                with_flags(kind, FLAG_FENCE_EVERY_SEND << 1),
                Err(HeaderError::BadField { field: "flags", .. })
            ),
            "{kind}"
        );
    }
    assert!(matches!(
        with_flags(RingKind::Raw, FLAG_FENCE_EVERY_SEND),
        Err(HeaderError::BadField { field: "flags", .. })
    ));
    let mut info = HeaderInfo::new(RingKind::Spsc, 64, &u64::layout(), 1 << 16);
    info.fence_every_send = true;
    let bytes = encode(&info, shmring::header::STATE_READY);
    assert!(decode(&bytes).unwrap().fence_every_send);
}
