#!/usr/bin/env bash
# The Python package (shmring-py: pyo3 + maturin): formatted, linted, built into a venv under
# target/ and tested with pytest beside Rust peers (the shmring crate's tick_peer example).
# Installs what it needs (python3-venv if missing, then maturin, numpy, pytest from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --manifest-path shmring-py/Cargo.toml --check
cargo clippy --manifest-path shmring-py/Cargo.toml --locked -- -D warnings
venv="$PWD/target/pyvenv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" 2>/dev/null || {
        (apt-get update -qq && apt-get install -y -qq python3-venv) >/dev/null 2>&1
        python3 -m venv "$venv"
    }
fi
"$venv/bin/pip" install -q --disable-pip-version-check "maturin>=1.7,<2" "numpy>=1.21" "pytest>=7"
cargo build --release --locked -p shmring --example tick_peer
(cd shmring-py && VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop --release --locked -q)
SHMRING_TICK_PEER="$PWD/target/release/examples/tick_peer" "$venv/bin/python" -m pytest -q shmring-py/tests
