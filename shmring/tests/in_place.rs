//! Writing and reading messages in place: spsc chunks as slices of the ring (across the
//! wrap), framed reservations as the record's bytes (committed, or dropped and cleared), a
//! received message copied once into a reused buffer, and the framed capacity for a largest
//! message.

use shmring::framed;

/// A write chunk's slices cover the reservation across the end of the ring; a read chunk's
/// slices show the messages in place, in order, before they are released.
#[test]
fn spsc_chunks_write_and_read_in_place_across_the_wrap() {
    let (mut tx, mut rx) = shmring::spsc::channel::<u64>(8).unwrap();
    let mut next = 0u64;
    let mut expect = 0u64;
    for round in 0..20 {
        let want = 1 + round % 7;
        let mut c = tx.write_chunk(want).unwrap();
        c.push(next).unwrap();
        next += 1;
        let (a, b) = c.as_mut_slices();
        assert_eq!(a.len() + b.len(), want - 1);
        for slot in a.iter_mut().chain(b.iter_mut()) {
            *slot = next;
            next += 1;
        }
        assert_eq!(c.commit_all(), want);
        let mut r = rx.read_chunk(want).unwrap();
        assert_eq!(r.pop(), Some(expect));
        expect += 1;
        let (a, b) = r.as_slices();
        for v in a.iter().chain(b) {
            assert_eq!(*v, expect);
            expect += 1;
        }
        assert_eq!(r.commit_all(), want);
    }
    assert!(rx.try_recv().is_err());
}

/// A read chunk not committed after `as_slices` leaves its messages in the ring.
#[test]
fn spsc_read_in_place_without_commit_releases_nothing() {
    let (mut tx, mut rx) = shmring::spsc::channel::<u32>(4).unwrap();
    tx.send(5).unwrap();
    let c = rx.read_chunk(1).unwrap();
    assert_eq!(c.as_slices(), (&[5][..], &[][..]));
    drop(c);
    assert_eq!(rx.try_recv(), Ok(5));
}

/// A reservation written through its bytes is received as written; one dropped after
/// writing leaves nothing behind (the next message is whole, its unwritten bytes zero).
#[test]
fn framed_reservations_write_in_place() {
    let (mut tx, mut rx) = framed::channel(256).unwrap();
    for len in [0usize, 1, 7, 8, 9, 100] {
        let mut r = tx.reserve(len).unwrap();
        assert!(r.as_mut_bytes().iter().all(|b| *b == 0), "starts zeroed");
        for (i, b) in r.as_mut_bytes().iter_mut().enumerate() {
            *b = i as u8 ^ 0x5a;
        }
        r.commit();
        let got = rx.recv().unwrap();
        assert_eq!(got.len(), len);
        assert!(got.iter().enumerate().all(|(i, b)| *b == i as u8 ^ 0x5a));
    }
    let mut r = tx.reserve(50).unwrap();
    r.as_mut_bytes().fill(0xff);
    drop(r);
    let mut r = tx.reserve(50).unwrap();
    r.as_mut_bytes()[..3].copy_from_slice(b"abc");
    r.commit();
    let got = rx.recv().unwrap();
    assert_eq!(&got[..3], b"abc");
    assert!(got[3..].iter().all(|b| *b == 0), "{got:?}");

    let (tx, mut rx) = framed::mpsc::channel(256).unwrap();
    let mut r = tx.reserve(4).unwrap();
    r.as_mut_bytes().copy_from_slice(b"mpsc");
    r.commit();
    assert_eq!(rx.recv().unwrap(), b"mpsc");
}

/// `recv_into` reuses the buffer without zero-filling it first: a shorter message after a
/// longer one leaves no stale byte in what it returns.
#[test]
fn framed_recv_into_reuses_the_buffer() {
    let (mut tx, mut rx) = framed::channel(1024).unwrap();
    let mut buf = Vec::new();
    for msg in [&[9u8; 300][..], b"short", b"", &[1, 2, 3]] {
        tx.send(msg).unwrap();
        rx.recv_into(&mut buf).unwrap();
        assert_eq!(buf, msg);
    }
}

/// The capacity for a largest message is the smallest power of two that carries it.
#[test]
fn framed_capacity_for_is_the_smallest_that_carries_the_message() {
    for largest in (0..5000).chain([65535, 65536, 65537, 1 << 20]) {
        let capacity = framed::capacity_for(largest).unwrap();
        assert!(capacity.is_power_of_two());
        assert!(framed::max_message(capacity) >= largest, "{largest}");
        if capacity > framed::MIN_CAPACITY {
            assert!(framed::max_message(capacity / 2) < largest, "{largest}");
        }
    }
    assert_eq!(framed::capacity_for(65536), Some(1 << 18));
    assert!(framed::capacity_for(usize::MAX).is_none());
}
