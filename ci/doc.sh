#!/usr/bin/env bash
# Rustdoc: broken links and missing docs are errors.
set -euo pipefail
cd "$(dirname "$0")/.."
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --locked
