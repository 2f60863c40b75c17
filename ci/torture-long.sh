#!/usr/bin/env bash
# The torture suite's long mode (docs/reliability.md): every timed phase longer (kills 120 s
# per ring, hostile peers 60 s per ring, soak 600 s), then the hostile-peer tests again with
# the honest processes built with AddressSanitizer (nightly). Takes about 20 minutes on two
# cores; not part of CI (CI runs the bounded mode inside ./ci/test.sh).
# SHMRING_TORTURE_SECS=N overrides every phase's duration.
set -euo pipefail
cd "$(dirname "$0")/.."
export SHMRING_TORTURE=long
start=$(date +%s)
cargo test --release -p shmring-torture --test torture -- --nocapture 2>&1 | tee target/torture-long.log
echo "== hostile peers under AddressSanitizer (nightly)"
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
# --target keeps the sanitizer off the proc macros; ASan's leak checker is off (the suite's
# children are killed on purpose).
RUSTFLAGS="-Zsanitizer=address" ASAN_OPTIONS=detect_leaks=0 \
  cargo +nightly test --release -p shmring-torture --test torture \
  --target x86_64-unknown-linux-gnu --target-dir target/asan -- --nocapture hostile \
  2>&1 | tee target/torture-long-asan.log
grep -q "ERROR: AddressSanitizer" target/torture-long-asan.log && { echo "AddressSanitizer reported an error"; exit 1; }
echo "== torture long mode: $(( $(date +%s) - start )) s; figures: grep ^TORTURE target/torture-long*.log"
