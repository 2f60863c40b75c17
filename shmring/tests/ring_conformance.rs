//! One conformance suite over every ring, as `shmring-ipc/tests/conformance.rs` is over the
//! transports: each behaviour — order across the wrap, disconnection both ways, timeouts and
//! deadlines, readiness, async cancel safety, a sender SIGKILLed and replaced — is written
//! once against [`Ring`] and run on spsc, mpmc, framed, framed::mpsc and broadcast (lossless:
//! a receiver is never overtaken, so `Lagged` fails the suite). Message `i` is the
//! `u64` `i` (typed rings) or its 8 little-endian bytes (byte rings). Needs feature `tokio`
//! (the async behaviour).
#![cfg(feature = "tokio")]

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use shmring::{OpenError, RecvError, RecvTimeoutError, TryRecvError};
use shmring_test_support as common;

/// How a send ended, the same words for every ring.
#[derive(Debug, PartialEq, Eq)]
enum Sent {
    Ok,
    Full,
    Timeout,
    Disconnected,
    Corrupted,
}

/// What the suite needs of a ring: its handles and their calls, with the ring's own types
/// mapped to the suite's words.
trait Ring {
    type Tx: Send + 'static;
    type Rx: Send + 'static;
    /// A capacity (in the ring's unit) that holds a handful of messages: full quickly.
    const SMALL: u64;
    /// Messages sent with no receiver attached wait for late joiners (broadcast), so a
    /// sender is never `Disconnected`.
    const KEEPS_HISTORY: bool = false;
    fn channel(capacity: u64) -> (Self::Tx, Self::Rx);
    fn create_rx(name: &str, capacity: u64) -> Self::Rx;
    fn open_tx(name: &str) -> Result<Self::Tx, OpenError>;
    fn send(tx: &mut Self::Tx, i: u64) -> Sent;
    fn try_send(tx: &mut Self::Tx, i: u64) -> Sent;
    fn send_timeout(tx: &mut Self::Tx, i: u64, timeout: Duration) -> Sent;
    fn recv(rx: &mut Self::Rx) -> Result<u64, RecvError>;
    fn try_recv(rx: &mut Self::Rx) -> Result<u64, TryRecvError>;
    fn recv_timeout(rx: &mut Self::Rx, timeout: Duration) -> Result<u64, RecvTimeoutError>;
    fn recv_deadline(rx: &mut Self::Rx, deadline: Instant) -> Result<u64, RecvTimeoutError>;
    fn register(rx: &mut Self::Rx) -> bool;
    fn readiness_fd(rx: &mut Self::Rx) -> i32;
    fn clear(rx: &mut Self::Rx);
    fn recv_async(
        rx: &mut Self::Rx,
    ) -> impl std::future::Future<Output = Result<u64, RecvError>> + Send;
}

fn bytes_of(msg: &[u8]) -> u64 {
    u64::from_le_bytes(msg.try_into().expect("an 8-byte message"))
}

fn typed<E>(r: Result<(), E>, classify: impl Fn(E) -> Sent) -> Sent {
    r.map_or_else(classify, |()| Sent::Ok)
}

/// A framed send's outcome in the suite's words, whichever of the three error types it has.
fn framed_sent<E: Into<shmring::framed::SendTimeoutError>>(r: Result<(), E>) -> Sent {
    use shmring::framed::SendTimeoutError as E;
    match r.map_err(Into::into) {
        Ok(()) => Sent::Ok,
        Err(E::Timeout) => Sent::Timeout,
        Err(E::Disconnected) => Sent::Disconnected,
        Err(E::Corrupted) => Sent::Corrupted,
        Err(e @ E::TooLarge { .. }) => panic!("an 8-byte message: {e}"),
    }
}

fn framed_try_sent(r: Result<(), shmring::framed::TrySendError>) -> Sent {
    use shmring::framed::TrySendError as E;
    match r {
        Ok(()) => Sent::Ok,
        Err(E::Full) => Sent::Full,
        Err(E::Disconnected) => Sent::Disconnected,
        Err(E::Corrupted) => Sent::Corrupted,
        Err(e @ E::TooLarge { .. }) => panic!("an 8-byte message: {e}"),
    }
}

/// The typed rings' three send error types, in the suite's words.
macro_rules! typed_send_errors {
    () => {
        fn send(tx: &mut Self::Tx, i: u64) -> Sent {
            typed(tx.send(i), |e| match e {
                shmring::SendError::Disconnected(_) => Sent::Disconnected,
                shmring::SendError::Corrupted(_) => Sent::Corrupted,
            })
        }

        fn try_send(tx: &mut Self::Tx, i: u64) -> Sent {
            typed(tx.try_send(i), |e| match e {
                shmring::TrySendError::Full(_) => Sent::Full,
                shmring::TrySendError::Disconnected(_) => Sent::Disconnected,
                shmring::TrySendError::Corrupted(_) => Sent::Corrupted,
            })
        }

        fn send_timeout(tx: &mut Self::Tx, i: u64, timeout: Duration) -> Sent {
            typed(tx.send_timeout(i, timeout), |e| match e {
                shmring::SendTimeoutError::Timeout(_) => Sent::Timeout,
                shmring::SendTimeoutError::Disconnected(_) => Sent::Disconnected,
                shmring::SendTimeoutError::Corrupted(_) => Sent::Corrupted,
            })
        }
    };
}

/// The calls every ring spells the same, for a typed (`typed`) or byte (`bytes`) payload.
macro_rules! common_calls {
    (typed) => {
        fn recv(rx: &mut Self::Rx) -> Result<u64, RecvError> {
            rx.recv()
        }
        fn try_recv(rx: &mut Self::Rx) -> Result<u64, TryRecvError> {
            rx.try_recv()
        }
        fn recv_timeout(rx: &mut Self::Rx, t: Duration) -> Result<u64, RecvTimeoutError> {
            rx.recv_timeout(t)
        }
        fn recv_deadline(rx: &mut Self::Rx, d: Instant) -> Result<u64, RecvTimeoutError> {
            rx.recv_deadline(d)
        }
        async fn recv_async(rx: &mut Self::Rx) -> Result<u64, RecvError> {
            rx.recv_async().await
        }
        common_calls!(readiness);
    };
    (bytes) => {
        fn recv(rx: &mut Self::Rx) -> Result<u64, RecvError> {
            rx.recv().map(|m| bytes_of(&m))
        }
        fn try_recv(rx: &mut Self::Rx) -> Result<u64, TryRecvError> {
            rx.try_recv().map(|m| bytes_of(&m))
        }
        fn recv_timeout(rx: &mut Self::Rx, t: Duration) -> Result<u64, RecvTimeoutError> {
            rx.recv_timeout(t).map(|m| bytes_of(&m))
        }
        fn recv_deadline(rx: &mut Self::Rx, d: Instant) -> Result<u64, RecvTimeoutError> {
            rx.recv_deadline(d).map(|m| bytes_of(&m))
        }
        async fn recv_async(rx: &mut Self::Rx) -> Result<u64, RecvError> {
            rx.recv_async().await.map(|m| bytes_of(&m))
        }
        fn send(tx: &mut Self::Tx, i: u64) -> Sent {
            framed_sent(tx.send(&i.to_le_bytes()))
        }
        fn try_send(tx: &mut Self::Tx, i: u64) -> Sent {
            framed_try_sent(tx.try_send(&i.to_le_bytes()))
        }
        fn send_timeout(tx: &mut Self::Tx, i: u64, timeout: Duration) -> Sent {
            framed_sent(tx.send_timeout(&i.to_le_bytes(), timeout))
        }
        common_calls!(readiness);
    };
    (readiness) => {
        fn register(rx: &mut Self::Rx) -> bool {
            rx.register_readiness().unwrap()
        }
        fn readiness_fd(rx: &mut Self::Rx) -> i32 {
            rx.readiness_fd().unwrap().as_raw_fd()
        }
        fn clear(rx: &mut Self::Rx) {
            rx.clear_readiness();
        }
    };
}

struct Spsc;
impl Ring for Spsc {
    type Tx = shmring::spsc::Sender<u64>;
    type Rx = shmring::spsc::Receiver<u64>;
    const SMALL: u64 = 4;
    fn channel(capacity: u64) -> (Self::Tx, Self::Rx) {
        shmring::spsc::channel(capacity).unwrap()
    }
    fn create_rx(name: &str, capacity: u64) -> Self::Rx {
        shmring::spsc::Receiver::create(name, capacity).unwrap()
    }
    fn open_tx(name: &str) -> Result<Self::Tx, OpenError> {
        shmring::spsc::Sender::open(name)
    }
    typed_send_errors!();
    common_calls!(typed);
}

struct Mpmc;
impl Ring for Mpmc {
    type Tx = shmring::mpmc::Sender<u64>;
    type Rx = shmring::mpmc::Receiver<u64>;
    const SMALL: u64 = 4;
    fn channel(capacity: u64) -> (Self::Tx, Self::Rx) {
        shmring::mpmc::channel(capacity).unwrap()
    }
    fn create_rx(name: &str, capacity: u64) -> Self::Rx {
        shmring::mpmc::Receiver::create(name, capacity).unwrap()
    }
    fn open_tx(name: &str) -> Result<Self::Tx, OpenError> {
        shmring::mpmc::Sender::open(name)
    }
    typed_send_errors!();
    common_calls!(typed);
}

struct Framed;
impl Ring for Framed {
    type Tx = shmring::framed::Sender;
    type Rx = shmring::framed::Receiver;
    const SMALL: u64 = 64; // four 16-byte records
    fn channel(capacity: u64) -> (Self::Tx, Self::Rx) {
        shmring::framed::channel(capacity).unwrap()
    }
    fn create_rx(name: &str, capacity: u64) -> Self::Rx {
        shmring::framed::Receiver::create(name, capacity).unwrap()
    }
    fn open_tx(name: &str) -> Result<Self::Tx, OpenError> {
        shmring::framed::Sender::open(name)
    }
    common_calls!(bytes);
}

struct FramedMpsc;
impl Ring for FramedMpsc {
    type Tx = shmring::framed::mpsc::Sender;
    type Rx = shmring::framed::mpsc::Receiver;
    const SMALL: u64 = 64;
    fn channel(capacity: u64) -> (Self::Tx, Self::Rx) {
        shmring::framed::mpsc::channel(capacity).unwrap()
    }
    fn create_rx(name: &str, capacity: u64) -> Self::Rx {
        shmring::framed::mpsc::Receiver::create(name, capacity).unwrap()
    }
    fn open_tx(name: &str) -> Result<Self::Tx, OpenError> {
        shmring::framed::mpsc::Sender::open(name)
    }
    common_calls!(bytes);
}

/// A lossless broadcast receiver's error in the suite's words (`Lagged` is a failure).
fn lossless<E: Into<shmring::broadcast::RecvTimeoutError>, V>(
    r: Result<V, E>,
) -> Result<V, RecvTimeoutError> {
    use shmring::broadcast::RecvTimeoutError as E;
    r.map_err(|e| match e.into() {
        E::Timeout => RecvTimeoutError::Timeout,
        E::Disconnected => RecvTimeoutError::Disconnected,
        E::Corrupted => RecvTimeoutError::Corrupted,
        E::Lagged(n) => panic!("a lossless receiver missed {n} messages"),
    })
}

/// As [`lossless`], for the calls without a timeout.
fn lossless_recv<V>(r: Result<V, shmring::broadcast::RecvError>) -> Result<V, RecvError> {
    lossless(r).map_err(|e| match e {
        RecvTimeoutError::Disconnected => RecvError::Disconnected,
        _ => RecvError::Corrupted,
    })
}

struct Broadcast;
impl Ring for Broadcast {
    type Tx = shmring::broadcast::Sender<u64>;
    type Rx = shmring::broadcast::Receiver<u64>;
    const SMALL: u64 = 4;
    const KEEPS_HISTORY: bool = true;
    fn channel(capacity: u64) -> (Self::Tx, Self::Rx) {
        shmring::broadcast::channel(capacity).unwrap()
    }
    fn create_rx(name: &str, capacity: u64) -> Self::Rx {
        shmring::broadcast::Receiver::create(name, capacity).unwrap()
    }
    fn open_tx(name: &str) -> Result<Self::Tx, OpenError> {
        shmring::broadcast::Sender::open(name)
    }
    typed_send_errors!();
    fn recv(rx: &mut Self::Rx) -> Result<u64, RecvError> {
        lossless_recv(rx.recv())
    }
    fn try_recv(rx: &mut Self::Rx) -> Result<u64, TryRecvError> {
        use shmring::broadcast::TryRecvError as E;
        rx.try_recv().map_err(|e| match e {
            E::Empty => TryRecvError::Empty,
            E::Disconnected => TryRecvError::Disconnected,
            E::Corrupted => TryRecvError::Corrupted,
            E::Lagged(n) => panic!("a lossless receiver missed {n} messages"),
        })
    }
    fn recv_timeout(rx: &mut Self::Rx, t: Duration) -> Result<u64, RecvTimeoutError> {
        lossless(rx.recv_timeout(t))
    }
    fn recv_deadline(rx: &mut Self::Rx, d: Instant) -> Result<u64, RecvTimeoutError> {
        lossless(rx.recv_deadline(d))
    }
    async fn recv_async(rx: &mut Self::Rx) -> Result<u64, RecvError> {
        lossless_recv(rx.recv_async().await)
    }
    common_calls!(readiness);
}

// ---------------------------------------------------------------------- the behaviours

/// 20 000 messages through a ring of a handful, from another thread: in order, across many
/// wraps, none lost or repeated.
fn order_across_the_wrap<R: Ring>() {
    let (mut tx, mut rx) = R::channel(R::SMALL);
    let producer = std::thread::spawn(move || {
        for i in 0..20_000 {
            assert_eq!(R::send(&mut tx, i), Sent::Ok, "message {i}");
        }
    });
    for i in 0..20_000 {
        assert_eq!(R::recv_timeout(&mut rx, common::WATCHDOG), Ok(i));
    }
    producer.join().unwrap();
    assert_eq!(R::recv(&mut rx), Err(RecvError::Disconnected));
}

/// The sender dropped: what it sent is received, then `Disconnected` from every receive call.
/// The receiver dropped: every send call says `Disconnected`.
fn disconnection_both_ways<R: Ring>() {
    let (mut tx, mut rx) = R::channel(R::SMALL);
    assert_eq!(R::send(&mut tx, 1), Sent::Ok);
    drop(tx);
    assert_eq!(R::try_recv(&mut rx), Ok(1));
    assert_eq!(R::try_recv(&mut rx), Err(TryRecvError::Disconnected));
    assert_eq!(R::recv(&mut rx), Err(RecvError::Disconnected));
    assert_eq!(
        R::recv_timeout(&mut rx, Duration::from_secs(1)),
        Err(RecvTimeoutError::Disconnected)
    );

    let (mut tx, rx) = R::channel(R::SMALL);
    drop(rx);
    let gone = if R::KEEPS_HISTORY {
        Sent::Ok
    } else {
        Sent::Disconnected
    };
    assert_eq!(R::send(&mut tx, 1), gone);
    assert_eq!(R::try_send(&mut tx, 2), gone);
    assert_eq!(R::send_timeout(&mut tx, 3, Duration::from_secs(1)), gone);
}

/// Timeouts and deadlines: an empty ring times out a receive after (at least) the time asked,
/// a deadline in the past at once; a full ring times out a send; neither loses anything.
fn timeouts_and_deadlines<R: Ring>() {
    let (mut tx, mut rx) = R::channel(R::SMALL);
    let start = Instant::now();
    assert_eq!(
        R::recv_timeout(&mut rx, Duration::from_millis(20)),
        Err(RecvTimeoutError::Timeout)
    );
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert_eq!(
        R::recv_deadline(&mut rx, Instant::now() - Duration::from_millis(1)),
        Err(RecvTimeoutError::Timeout)
    );
    let mut sent = 0;
    while R::try_send(&mut tx, sent) == Sent::Ok {
        sent += 1;
    }
    assert!(sent > 0);
    assert_eq!(R::try_send(&mut tx, sent), Sent::Full);
    assert_eq!(
        R::send_timeout(&mut tx, sent, Duration::from_millis(20)),
        Sent::Timeout
    );
    for i in 0..sent {
        assert_eq!(
            R::recv_deadline(&mut rx, Instant::now() + common::WATCHDOG),
            Ok(i)
        );
    }
    assert_eq!(R::try_recv(&mut rx), Err(TryRecvError::Empty));
}

/// Readiness: registered on an empty ring, the eventfd becomes readable when a message is
/// sent from another thread, and the message is then there; registering with a message
/// waiting says "go ahead".
fn readiness<R: Ring>() {
    let (mut tx, mut rx) = R::channel(R::SMALL);
    assert!(R::register(&mut rx), "empty: must wait");
    let fd = R::readiness_fd(&mut rx);
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(R::send(&mut tx, 7), Sent::Ok);
        tx
    });
    let mut poll = [nix::libc::pollfd {
        fd,
        events: nix::libc::POLLIN,
        revents: 0,
    }];
    let deadline = Instant::now() + common::WATCHDOG;
    loop {
        // SAFETY: one valid pollfd, for 100 ms.
        let n = unsafe { nix::libc::poll(poll.as_mut_ptr(), 1, 100) };
        if n == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the eventfd never became readable"
        );
    }
    R::clear(&mut rx);
    let mut tx = sender.join().unwrap();
    assert_eq!(R::try_recv(&mut rx), Ok(7));
    assert_eq!(R::send(&mut tx, 8), Sent::Ok);
    assert!(!R::register(&mut rx), "a message waits: go ahead");
    assert_eq!(R::try_recv(&mut rx), Ok(8));
}

/// Async cancel safety: `recv_async` futures dropped while the ring is empty (again and
/// again) take nothing; the messages sent afterwards all arrive, in order.
fn async_cancel_safety<R: Ring>() {
    let runtime = common::current_thread();
    let (mut tx, mut rx) = R::channel(R::SMALL);
    runtime.block_on(async {
        for _ in 0..20 {
            let r = tokio::time::timeout(Duration::from_micros(200), R::recv_async(&mut rx)).await;
            assert!(r.is_err(), "nothing was sent: {r:?}");
        }
        assert_eq!(R::send(&mut tx, 1), Sent::Ok);
        assert_eq!(R::send(&mut tx, 2), Sent::Ok);
        // Cancel a receive that could complete: the message it would have taken stays.
        drop(R::recv_async(&mut rx));
        assert_eq!(R::recv_async(&mut rx).await, Ok(1));
        assert_eq!(R::recv_async(&mut rx).await, Ok(2));
        drop(tx);
        assert_eq!(R::recv_async(&mut rx).await, Err(RecvError::Disconnected));
    });
}

/// A sender process SIGKILLed after sending 0..100 (and waiting): its messages are all
/// received, and a new sender process opening the ring (taking over the role of a ring with
/// one sender) sends 100..200 after them.
fn sender_killed_and_replaced<R: Ring>(entry: &str) {
    let name = common::unique_name("conformance-kill");
    let _unlink = common::Unlink(name.clone());
    let mut rx = R::create_rx(&name, 4096);
    let mut first = common::child(entry, "send-0-then-wait", &name)
        .spawn()
        .unwrap();
    for i in 0..100 {
        assert_eq!(R::recv_timeout(&mut rx, common::WATCHDOG), Ok(i));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let second = common::child(entry, "send-100", &name);
    let out = common::run(second);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for i in 100..200 {
        assert_eq!(R::recv_timeout(&mut rx, common::WATCHDOG), Ok(i));
    }
}

/// The child side of [`sender_killed_and_replaced`].
fn child_role<R: Ring>() {
    let Some((role, name)) = common::child_role() else {
        return;
    };
    let deadline = Instant::now() + common::WATCHDOG;
    let mut tx = loop {
        match R::open_tx(&name) {
            Ok(tx) => break tx,
            // The killed sender's record is freed once it is seen dead.
            Err(OpenError::RoleTaken { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("open: {e}"),
        }
    };
    let start = if role == "send-100" { 100 } else { 0 };
    for i in start..start + 100 {
        assert_eq!(R::send(&mut tx, i), Sent::Ok);
    }
    if role == "send-0-then-wait" {
        std::thread::sleep(common::WATCHDOG); // until killed
    }
}

/// Every behaviour on one ring.
macro_rules! conformance {
    ($module:ident, $ring:ty) => {
        mod $module {
            use super::*;

            #[test]
            fn order_across_the_wrap() {
                super::order_across_the_wrap::<$ring>();
            }

            #[test]
            fn disconnection_both_ways() {
                super::disconnection_both_ways::<$ring>();
            }

            #[test]
            fn timeouts_and_deadlines() {
                super::timeouts_and_deadlines::<$ring>();
            }

            #[test]
            fn readiness() {
                super::readiness::<$ring>();
            }

            #[test]
            fn async_cancel_safety() {
                super::async_cancel_safety::<$ring>();
            }

            #[test]
            fn sender_killed_and_replaced() {
                super::sender_killed_and_replaced::<$ring>(concat!(stringify!($module), "::child"));
            }

            #[test]
            fn child() {
                super::child_role::<$ring>();
            }
        }
    };
}

conformance!(spsc, Spsc);
conformance!(mpmc, Mpmc);
conformance!(framed, Framed);
conformance!(framed_mpsc, FramedMpsc);
conformance!(broadcast, Broadcast);
