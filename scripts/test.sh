#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this). It installs what
# it needs (rustup components, Miri, nightly rust-src) and needs nothing but the Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }
command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup first" >&2; exit 1; }

step "format and lints"
scripts/check.sh

step "unit, integration, two-process and doc tests"
cargo test --workspace --locked

step "benchmark harnesses: their tests, and one-round smoke runs of ring-bench and parse-bench"
cargo test --benches --locked -p benches
cargo run --release --locked -p benches --bin ring-bench -- --quick --rounds 1
cargo run --release --locked -p benches --bin parse-bench -- --quick --rounds 1

step "loom models of the ring protocol"
scripts/loom.sh

step "Miri over the heap rings"
scripts/miri.sh

step "ThreadSanitizer over the multi-threaded ring tests"
scripts/tsan.sh

step "all checks passed"
