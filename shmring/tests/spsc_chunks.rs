//! The spsc chunk API as a user coming from rtrb meets it: a chunk's iterator releases what
//! it yielded when dropped (rtrb's `ReadChunkIntoIter`), a chunk read by `pop` releases
//! nothing without `commit`, and `slots()` sizes a chunk in the same expression.

use shmring::spsc;

#[test]
fn iterating_a_read_chunk_releases_what_it_yielded() {
    let (mut tx, mut rx) = spsc::channel::<u32>(8).unwrap();
    for i in 0..6 {
        tx.send(i).unwrap();
    }
    // A `for` loop over the whole chunk releases all of it.
    let mut seen = Vec::new();
    for v in rx.read_chunk(2).unwrap() {
        seen.push(v);
    }
    assert_eq!(seen, [0, 1]);
    assert_eq!(rx.len(), 4);
    // An iterator stopped early releases exactly what it yielded.
    let mut it = rx.read_chunk(3).unwrap().into_iter();
    assert_eq!(it.len(), 3);
    assert_eq!(it.next(), Some(2));
    drop(it);
    assert_eq!(rx.len(), 3);
    // `take` on the iterator: the same.
    let two: Vec<u32> = rx.read_chunk(3).unwrap().into_iter().take(2).collect();
    assert_eq!(two, [3, 4]);
    assert_eq!(rx.try_recv(), Ok(5));
    assert_eq!(tx.slots(), 8);
}

#[test]
fn a_chunk_read_by_pop_releases_nothing_without_commit() {
    let (mut tx, mut rx) = spsc::channel::<u32>(4).unwrap();
    tx.send(7).unwrap();
    let mut chunk = rx.read_chunk(1).unwrap();
    assert_eq!(chunk.pop(), Some(7));
    drop(chunk);
    assert_eq!(
        rx.try_recv(),
        Ok(7),
        "read again: the chunk was not committed"
    );
}

#[test]
fn slots_sizes_a_chunk_in_one_expression() {
    let (mut tx, mut rx) = spsc::channel::<u32>(4).unwrap();
    tx.send(1).unwrap();
    let mut w = tx.write_chunk(tx.slots()).unwrap();
    assert_eq!(w.len(), 3);
    w.fill_with(|| 9);
    assert_eq!(w.commit(), 3);
    assert_eq!(tx.slots(), 0);
    let r = rx.read_chunk(rx.slots()).unwrap();
    assert_eq!(r.len(), 4);
    assert_eq!(r.into_iter().collect::<Vec<_>>(), [1, 9, 9, 9]);
    assert_eq!((rx.slots(), tx.slots()), (0, 4));
}
