#!/usr/bin/env bash
# Unit, integration (including multi-process) and doc tests of the whole workspace, then one
# total line over every test binary.
set -euo pipefail
cd "$(dirname "$0")/.."
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# `shmring top`'s live view is tested in a tmux pane (a pseudo-terminal).
if ! command -v tmux >/dev/null; then
    (apt-get update -qq && apt-get install -y -qq tmux) >/dev/null 2>&1 ||
        echo "tmux could not be installed: the live-view test of shmring top is skipped"
fi
# shmring-ffi's tests compile C and C++ peers with the system compilers.
if ! command -v cc >/dev/null || ! command -v c++ >/dev/null; then
    (apt-get update -qq && apt-get install -y -qq gcc g++ libc6-dev) >/dev/null 2>&1 ||
        { echo "no C/C++ compiler and none could be installed (shmring-ffi's tests need cc and c++)"; exit 1; }
fi
# The torture suite runs on its own, with its figures: ./ci/torture.sh.
cargo test --workspace --all-features --locked --exclude shmring-torture 2>&1 | tee "$log"
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed/) p += $(i-1); if ($(i) ~ /^failed/) f += $(i-1); if ($(i) ~ /^ignored/) s += $(i-1) } }
     END { printf "workspace tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
