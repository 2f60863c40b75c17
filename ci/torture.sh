#!/usr/bin/env bash
# The torture suite in its bounded CI mode (docs/reliability.md): real processes killed,
# hostile writers, a tiny /dev/shm, descriptor and queue limits, another user, a soak.
# Prints every figure line and the suite's duration. Long mode: ./ci/torture-long.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
cargo test --locked -p shmring-torture --test torture -- --nocapture 2>&1 | tee "$log" | grep -v '^TORTURE'
status=${PIPESTATUS[0]}
set -e
# cargo's own status decides (a child process's harness also prints "test result: ok").
if [ "$status" -ne 0 ] || grep -q '^test result: FAILED' "$log"; then
    echo "torture suite failed"
    grep -E 'panicked|^test .*FAILED' "$log" || true
    exit 1
fi
echo "== torture figures"
grep -A12 '^TORTURE' "$log" | grep -vE '^(test |running|$)' || true
echo "== torture suite: $(( $(date +%s) - start )) s"
