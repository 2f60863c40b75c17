#!/usr/bin/env bash
# The torture suite in its bounded CI mode (docs/reliability.md): real processes killed,
# hostile writers, a tiny /dev/shm, descriptor and queue limits, another user, a soak.
# Prints every figure line and the suite's duration. Long mode: ./ci/torture-long.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --locked -p shmring-torture --test torture -- --nocapture 2>&1 | tee "$log" | grep -v '^TORTURE' || true
grep -q '^test result: ok' "$log" || { echo "torture suite failed"; grep -E 'panicked|^test .*FAILED' "$log"; exit 1; }
echo "== torture figures"
grep -A12 '^TORTURE' "$log" | grep -vE '^(test |running|$)' || true
echo "== torture suite: $(( $(date +%s) - start )) s"
