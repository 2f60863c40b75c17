#!/usr/bin/env bash
# Fuzz smoke: every cargo-fuzz target for FUZZ_SECONDS (default 20) on nightly.
# Installs cargo-fuzz when it is missing. Longer local hunts: FUZZ_SECONDS=600 ci/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-20}"
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
cd fuzz
cargo +nightly fuzz build
log="$(mktemp)"
for target in $(cargo +nightly fuzz list); do
  echo "== fuzz smoke: $target for ${seconds}s"
  if ! cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -rss_limit_mb=4096 >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz target $target failed; the crashing input is under fuzz/artifacts/$target/"
    exit 1
  fi
  grep -E '^Done [0-9]+ runs' "$log"
done
rm -f "$log"
