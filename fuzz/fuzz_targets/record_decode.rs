//! The framed ring's record decoder over arbitrary bytes: every header word at every offset
//! gives a record or a specific error, and a walk over a whole area image ends — never a
//! panic, an out-of-bounds access or a loop.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shmring::framed::record::{self, Record};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    // The first two bytes choose the ring's maximum message size.
    let max = usize::from(u16::from_le_bytes([data[0], data[1]]));
    let area = &data[2..];
    for (i, records) in [record::walk(area, max, 1024)].iter().enumerate() {
        assert!(records.len() <= 1024, "walk {i} ran past its limit");
    }
    let capacity = area.len() / 8 * 8;
    for offset in (0..capacity).step_by(8) {
        let word = u64::from_ne_bytes(area[offset..offset + 8].try_into().unwrap());
        if let Ok(Record::Message { len, span, .. }) = record::decode(word, offset, capacity, max) {
            assert!(len <= max && offset + span <= capacity && span % 8 == 0);
        }
        match record::decode(word, offset, capacity, max) {
            Ok(Record::Padding { span }) => {
                assert!(span >= 8 && span % 8 == 0 && offset + span <= capacity);
            }
            Ok(Record::Claimed { span }) => {
                assert!(
                    span >= 8 && span % 8 == 0 && offset + span <= capacity + record::span(max)
                );
            }
            _ => {}
        }
    }
});
