#!/usr/bin/env bash
# Everything CI checks, in order; the README's test command. Runs the same locally.
# SKIP_FUZZ=1 leaves out the fuzz smoke (it installs cargo-fuzz on first use).
set -euo pipefail
cd "$(dirname "$0")"
for component in rustfmt clippy; do
  rustup component list --installed | grep -q "^$component" || rustup component add "$component"
done
./fmt.sh
./clippy.sh
./doc.sh
./package.sh
./loom.sh
if [ "${SKIP_FUZZ:-0}" != 1 ]; then ./fuzz.sh; fi
./test.sh
./conformance.sh
./python.sh
./torture.sh
