#!/usr/bin/env bash
# Loom model checks of the ring index protocol (rings/tests/loom.rs). The real ring
# code is compiled with loom's atomics (the `loom` feature of rings). Unlike
# RUSTFLAGS="--cfg loom", a feature leaves the other dependencies' flags alone, so
# most of what the test build made is reused: this builds rings, loom and loom's
# own dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
cargo test -p rings --features loom --test loom --locked
