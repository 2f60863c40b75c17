#!/usr/bin/env bash
# Everything CI checks, in order; the README's test command. Runs the same locally.
# SKIP_FUZZ=1 leaves out the fuzz smoke (it installs cargo-fuzz on first use).
set -euo pipefail
cd "$(dirname "$0")"
for component in rustfmt clippy; do
  rustup component list --installed | grep -q "^$component" || rustup component add "$component"
done
# Each step says how long it took, so a slow run shows where its time went.
step() {
  local start=$SECONDS
  "$@"
  echo "== step $1: $((SECONDS - start)) s (total $SECONDS s)"
}
step ./fmt.sh
step ./clippy.sh
step ./doc.sh
step ./package.sh
step ./loom.sh
if [ "${SKIP_FUZZ:-0}" != 1 ]; then step ./fuzz.sh; fi
step ./test.sh
step ./conformance.sh
step ./python.sh
step ./torture.sh
