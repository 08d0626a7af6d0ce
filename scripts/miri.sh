#!/usr/bin/env bash
# The heap rings' tests under Miri (undefined behaviour, Stacked Borrows, leaks).
# Shared-memory and two-process tests are compiled out under Miri: it cannot map
# files or spawn processes. Needs the nightly toolchain's miri component; if it cannot
# be installed, this says so loudly and exits non-zero unless MIRI_OPTIONAL=1.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo +nightly miri --version >/dev/null 2>&1; then
  echo "installing Miri (nightly toolchain component)"
  if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal || true
  fi
  rustup component add --toolchain nightly miri rust-src || true
fi
if ! cargo +nightly miri --version >/dev/null 2>&1; then
  echo "!!! MIRI IS NOT AVAILABLE on this machine: the heap rings were NOT checked under Miri."
  echo "!!! loom models and the multi-threaded stress tests still ran (scripts/test.sh)."
  [ "${MIRI_OPTIONAL:-0}" = 1 ] && exit 0
  exit 1
fi
cargo +nightly miri setup >/dev/null
cargo +nightly miri test -p rings --lib --tests
