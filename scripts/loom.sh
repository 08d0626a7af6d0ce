#!/usr/bin/env bash
# Loom model checks of the ring index protocol (rings/tests/loom.rs). The real ring
# code is compiled with loom's atomics (the `loom` feature of rings); only rings and
# loom are built for it, beside the normal build's artifacts.
set -euo pipefail
cd "$(dirname "$0")/.."

export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
cargo test -p rings --features loom --test loom --locked
