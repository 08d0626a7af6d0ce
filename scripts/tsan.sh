#!/usr/bin/env bash
# ThreadSanitizer over the rings' multi-threaded tests (heap spsc/broadcast stress,
# conformance). Needs nightly with rust-src (the standard library is rebuilt with the
# sanitizer); installs it if missing, and says so loudly if it cannot.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^rust-src'; then
  rustup component add --toolchain nightly rust-src || true
fi
if ! rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^rust-src'; then
  echo "!!! ThreadSanitizer NOT RUN: nightly rust-src is not available on this machine."
  [ "${TSAN_OPTIONAL:-0}" = 1 ] && exit 0
  exit 1
fi
target="$(rustc -vV | sed -n 's/^host: //p')"
RUSTFLAGS="-Zsanitizer=thread" RUSTDOCFLAGS="-Zsanitizer=thread" CARGO_TARGET_DIR=target/tsan \
  TSAN_OPTIONS="halt_on_error=1" \
  cargo +nightly test -Zbuild-std --target "$target" -p rings --test stress --test conformance
