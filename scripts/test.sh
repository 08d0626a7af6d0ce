#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this). It installs what
# it needs (rustup components, Miri, nightly rust-src, cargo-fuzz; Debian's postgresql and
# fonts-dejavu-core packages if missing) and needs nothing but the Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step prints the seconds since the start, so a slow CI run shows where its time went.
step() { printf '\n== [%4d s] %s\n' "$SECONDS" "$*"; }
command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup first" >&2; exit 1; }

step "format and lints"
scripts/check.sh

step "a throwaway PostgreSQL cluster for the database tests (scripts/pg.sh)"
pg_env="$(scripts/pg.sh start)"
eval "$pg_env"
cleanup() {
  scripts/pg.sh stop
  if [[ -n "${smoke:-}" ]]; then rm -rf "$smoke"; fi
}
trap cleanup EXIT
echo "PostgreSQL on 127.0.0.1:$PGPORT in $ENGINE_PG_DIR"

step "a font for the latency lab's PNG plot (installs Debian's fonts-dejavu-core if there is none)"
font_found=""  # the paths engine/src/bench/png.rs looks in, read from its FONT_PATHS
for f in "${ENGINE_PLOT_FONT:-}" $(sed -n 's/^    "\(\/usr\/share\/fonts\/[^"]*\)",$/\1/p' engine/src/bench/png.rs); do
  if [[ -n "$f" && -r "$f" ]]; then font_found="$f"; break; fi
done
if [[ -z "$font_found" ]]; then
  if ! command -v apt-get >/dev/null; then
    echo "no font for the PNG plot test and no apt-get: install DejaVu Sans or set ENGINE_PLOT_FONT=FILE.ttf" >&2
    exit 1
  fi
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq fonts-dejavu-core
  font_found=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
fi
echo "font: $font_found"

step "unit, integration, two-process, database and benchmark-harness tests, then doc tests"
# --all-targets adds the criterion benches (one pass each, in test mode) to the same
# build as the tests, which includes the harness binaries benches/tests/harnesses.rs
# runs; doc tests cannot share that invocation.
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked

step "the README's main job (engine run on the simulator, journal by default), and its journal verified"
# The README builds it with --release; the same code, built here by the tests above.
bin="${CARGO_TARGET_DIR:-target}/debug"
smoke="$(mktemp -d)"
"$bin/engine" run --duration 3s --quiet --persist "journal:$smoke/journal"
"$bin/engine" journal verify "$smoke/journal"

step "loom models of the ring protocol"
scripts/loom.sh

step "Miri over the heap rings"
scripts/miri.sh
# ThreadSanitizer (scripts/tsan.sh) checks the same ring code as loom and Miri; its
# rebuild of the standard library took 2 of CI's 30 minutes, so it runs by hand.

step "cargo-fuzz: every decoder, the ws frame reader, the capture and journal readers, the shm header, the config loader and the venue answer decoder (5 s each)"
FUZZ_SECONDS=5 FUZZ_BUILD=dev scripts/fuzz.sh

step "all checks passed"
