#!/usr/bin/env bash
# loom model checking of the ring algorithms and the wake-up protocol.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg shmring_loom ${RUSTFLAGS:-}"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
cargo test --release --locked -p shmring --test 'loom_*' --target-dir target/loom
