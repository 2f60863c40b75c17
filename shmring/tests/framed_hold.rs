//! `framed::mpsc::Receiver::hold`/`commit`/`rewind`: messages taken while holding are consumed
//! only at a commit — a rewind takes them again, and so does the next receiver after this one
//! is dropped or killed — and holding a ring's worth never misreads the held records (a
//! receiver that had taken a whole ring without handing it back read the held first record's
//! header a lap later as a new one and reported `Corrupted`; found by `shmring recv`).
#![cfg(not(shmring_loom))]

use shmring_test_support as common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{Unlink, child, unique_name, wait_for_line, wait_with_watchdog};
use shmring::framed::mpsc;
use shmring::{RecvTimeoutError, TryRecvError};

/// Message `i`: its number, then filler of a pseudo-random length.
fn message(i: u32, x: &mut u64) -> Vec<u8> {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    let mut m = vec![(i % 251) as u8; 4 + (*x % 2000) as usize];
    m[..4].copy_from_slice(&i.to_le_bytes());
    m
}

fn number(m: &[u8]) -> u32 {
    u32::from_le_bytes(m[..4].try_into().unwrap())
}

/// A producer streams 20 000 messages of up to 2 KB through a 64 KiB ring; the receiver holds
/// and commits only when the ring looks empty or a ring's worth is held: every message arrives
/// once, in order.
#[test]
fn holding_a_ring_s_worth_delivers_every_message_in_order() {
    let (tx, mut rx) = mpsc::channel(65536).unwrap();
    let producer = std::thread::spawn(move || {
        let mut x = 12345;
        for i in 0..20_000 {
            tx.send(&message(i, &mut x)).unwrap();
        }
    });
    rx.hold();
    let (mut buf, mut next, mut held) = (Vec::new(), 0u32, 0usize);
    let deadline = Instant::now() + common::WATCHDOG;
    while next < 20_000 {
        match rx.try_recv_into(&mut buf) {
            Ok(_) => {}
            Err(TryRecvError::Empty) => {
                rx.commit();
                held = 0;
                match rx.recv_into_deadline(&mut buf, Instant::now() + Duration::from_millis(50)) {
                    Ok(_) => {}
                    Err(RecvTimeoutError::Timeout) if Instant::now() < deadline => continue,
                    Err(e) => panic!("{e:?} after {next}"),
                }
            }
            Err(e) => panic!("{e:?} after {next}"),
        }
        assert_eq!(number(&buf), next);
        next += 1;
        held += buf.len() + 8;
        if held > 65536 {
            rx.commit();
            held = 0;
        }
    }
    producer.join().unwrap();
}

/// `rewind` takes again exactly what was not committed.
#[test]
fn rewind_takes_again_what_was_not_committed() {
    let (tx, mut rx) = mpsc::channel(4096).unwrap();
    for i in 0..6u32 {
        tx.send(&i.to_le_bytes()).unwrap();
    }
    rx.hold();
    let take = |rx: &mut mpsc::Receiver, n: usize| -> Vec<u32> {
        (0..n).map(|_| number(&rx.try_recv().unwrap())).collect()
    };
    assert_eq!(take(&mut rx, 2), [0, 1]);
    rx.commit();
    assert_eq!(take(&mut rx, 3), [2, 3, 4]);
    rx.rewind();
    assert_eq!(take(&mut rx, 4), [2, 3, 4, 5]);
    rx.unhold();
    rx.rewind();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn child_entry() {
    let Some((role, name)) = common::child_role() else {
        return;
    };
    if role == "holder" {
        // Takes three messages, commits the first, takes two more and waits to be killed.
        let mut rx = mpsc::Receiver::open(name.as_str()).unwrap();
        rx.hold();
        rx.recv().unwrap();
        rx.commit();
        rx.recv().unwrap();
        rx.recv().unwrap();
        println!("READY");
        std::io::stdout().flush().unwrap();
        std::thread::sleep(common::WATCHDOG);
    }
}

/// The next receiver gets what a held receiver took but did not commit: after the holder is
/// dropped, and after it is killed.
#[test]
fn the_next_receiver_gets_what_was_not_committed() {
    // Dropped.
    let name = unique_name("hold-drop");
    let _unlink = Unlink(name.clone());
    let tx = mpsc::Sender::create(name.as_str(), 4096).unwrap();
    for i in 0..5u32 {
        tx.send(&i.to_le_bytes()).unwrap();
    }
    let mut rx = mpsc::Receiver::open(name.as_str()).unwrap();
    rx.hold();
    rx.recv().unwrap();
    rx.commit();
    rx.recv().unwrap();
    drop(rx);
    let mut rx = mpsc::Receiver::open(name.as_str()).unwrap();
    let rest: Vec<u32> = rx.try_iter().map(|m| number(&m)).collect();
    assert_eq!(rest, [1, 2, 3, 4]);
    drop(rx);

    // Killed.
    let name = unique_name("hold-kill");
    let _unlink = Unlink(name.clone());
    let tx = mpsc::Sender::create(name.as_str(), 4096).unwrap();
    for i in 0..5u32 {
        tx.send(&i.to_le_bytes()).unwrap();
    }
    let mut holder = child("child_entry", "holder", &name).spawn().unwrap();
    wait_for_line(&mut holder, "READY");
    holder.kill().unwrap();
    let _ = wait_with_watchdog(holder);
    let mut rx = mpsc::Receiver::open(name.as_str()).unwrap();
    let rest: Vec<u32> = rx.try_iter().map(|m| number(&m)).collect();
    assert_eq!(rest, [1, 2, 3, 4]);
}
