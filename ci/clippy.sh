#!/usr/bin/env bash
# Lints: every target of every workspace crate, warnings are errors.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo clippy --workspace --all-targets --locked -- -D warnings
# And with the optional features (tokio, tracing) turned on.
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
