#!/usr/bin/env bash
# The library crates as they would be published: each packaged and built from its packaged
# sources (shmring-ipc against the packaged shmring), README, metadata and all.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo package --locked --allow-dirty -p shmring-derive -p shmring -p shmring-ipc
