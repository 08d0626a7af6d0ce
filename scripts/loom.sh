#!/usr/bin/env bash
# Loom model checks of the ring index protocol (rings/tests/loom.rs). The real ring
# code is compiled with loom's atomics (--cfg loom); a separate target directory
# keeps this build from invalidating the normal one.
set -euo pipefail
cd "$(dirname "$0")/.."

export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
  cargo test -p rings --test loom --locked
