#!/usr/bin/env bash
# The library crates as they would be published: each packaged and built from its packaged
# sources (shmring-ipc against the packaged shmring), README, metadata and all.
set -euo pipefail
cd "$(dirname "$0")/.."
# cargo takes a packaged crate for immutable, as registry crates are: it reuses what it
# unpacked from an earlier packaging (~/.cargo/registry/src/-<hash of the local registry's
# path>/) and what it compiled from it (in the target directory). Either would build an
# earlier run's sources, so both start empty.
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/shmring-*
target=target/package-check
rm -rf "$target"
CARGO_TARGET_DIR="$target" cargo package --locked --allow-dirty \
    -p shmring-derive -p shmring -p shmring-ipc
