#!/usr/bin/env bash
# The foreign-language conformance client (ci/conformance.py, Python 3 standard library only,
# written from docs/layout.md and docs/protocols.md): fails when the docs and the bytes
# disagree.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked -p shmring-cli
cargo build --locked -p shmring-ipc --example echo --example peer
python3 ci/conformance.py target/debug/shmring target/debug/examples/echo target/debug/examples/peer
