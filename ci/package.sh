#!/usr/bin/env bash
# The library crates as they would be published: each packaged and built from its packaged
# sources (shmring-ipc against the packaged shmring), README, metadata and all.
set -euo pipefail
cd "$(dirname "$0")/.."
# cargo unpacks the crates it packages from a local registry (target/package/tmp-registry)
# into ~/.cargo/registry/src/-<hash of that path>/ and reuses what it unpacked there before:
# an earlier run's sources would be built instead of this one's. Remove those first.
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/shmring-*
cargo package --locked --allow-dirty -p shmring-derive -p shmring -p shmring-ipc
