#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this). It installs what
# it needs (rustup components, Miri, nightly rust-src, cargo-fuzz; Debian's postgresql and
# fonts-dejavu-core packages if missing) and needs nothing but the Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }
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

step "unit, integration, two-process, database and doc tests"
cargo test --workspace --locked

step "benchmark harnesses: their tests, and one-round smoke runs of ring-bench, parse-bench, persist-cost, ingest-bench, risk-bench, order-bench and kill-bench"
cargo test --benches --locked -p benches
# One build of every binary in the dev profile, whose dependencies the tests above
# already built: these runs check that each harness works and agrees with its peers,
# not its numbers. Seven fat-LTO links took a quarter of the CI run; a build in a
# profile of their own (release without LTO) still took 4 min, this one about 1.
cargo build --locked -p benches --bins -p engine
bin="${CARGO_TARGET_DIR:-target}/debug"
"$bin/ring-bench" --quick --rounds 1
"$bin/parse-bench" --quick --rounds 1
"$bin/persist-cost" --rounds 1 --seconds 1
"$bin/ingest-bench" --quick --rounds 1
"$bin/risk-bench" --quick
"$bin/order-bench" --quick
"$bin/kill-bench" --quick

step "the README's main job (engine run on the simulator, journal by default), and its journal verified"
# The README builds it with --release; the same code, dev-built here to keep CI short.
smoke="$(mktemp -d)"
"$bin/engine" run --duration 3s --quiet --persist "journal:$smoke/journal"
"$bin/engine" journal verify "$smoke/journal"

step "loom models of the ring protocol"
scripts/loom.sh

step "Miri over the heap rings"
scripts/miri.sh

step "ThreadSanitizer over the multi-threaded ring tests"
scripts/tsan.sh

step "cargo-fuzz: every decoder, the ws frame reader, the capture and journal readers, the shm header, the config loader and the venue answer decoder (10 s each)"
FUZZ_SECONDS=10 FUZZ_BUILD=dev scripts/fuzz.sh

step "all checks passed"
