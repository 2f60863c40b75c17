#!/usr/bin/env bash
# Formatting: the workspace and the fuzz crate.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
cargo fmt --manifest-path fuzz/Cargo.toml --all --check
