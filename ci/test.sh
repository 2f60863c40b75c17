#!/usr/bin/env bash
# Unit, integration (including multi-process) and doc tests of the whole workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-features --locked
