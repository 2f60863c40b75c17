//! The torture suite of shmring lives in `tests/torture.rs` (`cargo test -p shmring-torture
//! --test torture`); this library is empty. What it checks, how to run its long mode, and the
//! figures of the last long run: `docs/reliability.md`.
