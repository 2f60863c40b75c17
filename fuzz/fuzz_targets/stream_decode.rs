//! The shmring-ipc stream codec over arbitrary bytes: a hello, then frames, decoded the way a
//! receiver does (from a buffer that grows as bytes arrive in arbitrary chunks). Every input
//! gives frames or a specific error — never a panic, a read out of bounds or a frame over the
//! maximum — and decoding in chunks gives exactly what decoding the whole input gives. With
//! the third byte's bit 1 the stream is a publisher's (publish/subscribe): a pub/sub hello,
//! then frames and lag records.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shmring_ipc::codec::{Decoder, FrameError, Hello, Published, decode_published};

/// What the stream carried after the hello.
#[derive(Debug, PartialEq)]
enum Item {
    Frame(Vec<u8>),
    Lagged(u64),
}

/// Decodes `bytes` given in chunks of the sizes `cuts` (cycled): the hello (if `hello`), then
/// frames; returns the payloads and the error that stopped it, if any.
fn decode(
    bytes: &[u8],
    cuts: &[u8],
    max: u32,
    hello: bool,
    published: bool,
) -> (Option<Hello>, Vec<Item>, Option<FrameError>) {
    let decoder = Decoder::new(max);
    let mut buf: Vec<u8> = Vec::new();
    let (mut fed, mut start, mut k) = (0, 0, 0);
    let mut got_hello = None;
    let mut frames = Vec::new();
    loop {
        // Decode everything the buffer holds.
        loop {
            if hello && got_hello.is_none() {
                let decoded = if published {
                    Hello::decode_pubsub(&buf[start..])
                } else {
                    Hello::decode(&buf[start..])
                };
                match decoded {
                    Ok(Some((h, used))) => {
                        assert!(used <= buf.len() - start);
                        assert!(h.description.len() <= shmring_ipc::codec::MAX_DESCRIPTION);
                        start += used;
                        got_hello = Some(h);
                    }
                    Ok(None) => break,
                    Err(e) => return (got_hello, frames, Some(e)),
                }
            }
            let next = if published {
                decode_published(&buf[start..], max)
            } else {
                decoder
                    .decode(&buf[start..])
                    .map(|f| f.map(|(payload, used)| Published::Message(payload, used)))
            };
            match next {
                Ok(Some(Published::Message(payload, used))) => {
                    assert!(payload.end <= used && used <= buf.len() - start);
                    assert!(payload.len() <= max as usize);
                    frames.push(Item::Frame(
                        buf[start + payload.start..start + payload.end].to_vec(),
                    ));
                    start += used;
                }
                Ok(Some(Published::Lagged(missed, used))) => {
                    assert!(published && missed > 0 && used <= buf.len() - start);
                    frames.push(Item::Lagged(missed));
                    start += used;
                }
                Ok(None) => break,
                Err(e) => return (got_hello, frames, Some(e)),
            }
        }
        if fed == bytes.len() {
            return (got_hello, frames, None);
        }
        let cut = usize::from(cuts.get(k % cuts.len().max(1)).copied().unwrap_or(255)).max(1);
        k += 1;
        let end = (fed + cut).min(bytes.len());
        buf.extend_from_slice(&bytes[fed..end]);
        fed = end;
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let max = u32::from(u16::from_le_bytes([data[0], data[1]]));
    let hello = data[2] & 1 == 1;
    let published = data[2] & 2 == 2;
    let ncuts = usize::from(data[3] % 16);
    let (cuts, bytes) = data[4..].split_at(ncuts.min(data.len() - 4));
    let whole = decode(bytes, &[255], max, hello, published);
    let chunked = decode(bytes, cuts, max, hello, published);
    assert_eq!(whole, chunked, "chunking changed the result");
});
