#!/usr/bin/env bash
# Formatting and lints for the whole workspace, warnings as errors.
set -euo pipefail
cd "$(dirname "$0")/.."

for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
    echo "installing rustup component $component"
    rustup component add "$component"
  fi
done

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
