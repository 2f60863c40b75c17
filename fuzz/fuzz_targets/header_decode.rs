//! The header validator over arbitrary bytes: it returns a header or an error, never panics,
//! and whatever it accepts re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shmring::header::{decode, encode};

fuzz_target!(|data: &[u8]| {
    // Raw bytes as they come (short inputs, foreign magic)...
    let _ = decode(data);
    // ...and shaped into mostly-valid headers.
    let bytes = shmring_fuzz::header_bytes(data);
    if let Ok(info) = decode(&bytes) {
        let again = encode(&info, info.state);
        assert_eq!(again, bytes, "an accepted header does not round-trip");
        assert_eq!(decode(&again).as_ref(), Ok(&info));
    }
});
