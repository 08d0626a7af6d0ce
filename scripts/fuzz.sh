#!/usr/bin/env bash
# cargo-fuzz (libFuzzer) over everything that reads untrusted bytes: the five venue
# decoders, the WebSocket frame reader, the capture reader, the journal reader and its
# recovery, the shared-memory ring header, the `--config` loader and the venue answer
# decoder of order entry (targets in feeds/fuzz/fuzz_targets, seeds in
# feeds/fuzz/seeds). Builds every target, then runs each for FUZZ_SECONDS (default 10)
# from its seeds plus the corpus grown by earlier runs (feeds/fuzz/corpus, not kept
# in git). A crash stops the script non-zero; its input is saved under
# feeds/fuzz/artifacts/<target>/ and `cargo +nightly fuzz run <target> <file>`
# (from feeds/; add --dev after `run` for a FUZZ_BUILD=dev crash) replays it.
#
#   scripts/fuzz.sh                        # every target, 10 s each
#   FUZZ_SECONDS=3600 scripts/fuzz.sh decode_okx  # one target for an hour
#   FUZZ_BUILD=dev scripts/fuzz.sh         # a quicker build, fewer runs a second
#
# FUZZ_BUILD=release (the default) is cargo-fuzz's optimised build; FUZZ_BUILD=dev
# optimises only feeds, persist and rings (feeds/fuzz/Cargo.toml). The test command
# uses dev: on 2 cores its build took 2.5 to 4 min against 6.5 min, and in 10 s
# decode_binance ran 36,715 inputs against 203,713 (journal_reader 4,747 against
# 7,107). For a long hunt, use release.
#
# Needs the nightly toolchain and cargo-fuzz: installs them if missing; if that
# fails, says so loudly and exits non-zero unless FUZZ_OPTIONAL=1.
set -euo pipefail
cd "$(dirname "$0")/../feeds"

seconds="${FUZZ_SECONDS:-10}"
case "${FUZZ_BUILD:-release}" in
  release) build=() ;;
  dev) build=(--dev) ;;
  *) echo "FUZZ_BUILD=${FUZZ_BUILD}: expected release or dev" >&2; exit 2 ;;
esac
unavailable() {
  echo "!!! FUZZING IS NOT AVAILABLE on this machine ($1): the fuzz targets did NOT run."
  echo "!!! The decoders and readers still ran their proptests (feeds/tests/hostile_input.rs)."
  [ "${FUZZ_OPTIONAL:-0}" = 1 ] && exit 0
  exit 1
}
if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal || unavailable "no nightly toolchain"
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --version 0.13.2 || unavailable "cargo-fuzz did not install"
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  list="$(cargo +nightly fuzz list)"
  mapfile -t targets <<<"$list"
fi
cargo +nightly fuzz build "${build[@]}"
printf '%-16s %10s %8s %8s\n' target runs seconds corpus
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  log="$(mktemp)"
  # -timeout: an input that takes over 5 s (a reader that never ends) is a failure.
  if ! cargo +nightly fuzz run "${build[@]}" "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
      -max_total_time="$seconds" -timeout=5 -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    tail -40 "$log"
    if grep -q 'Test unit written to' "$log"; then
      echo "!!! $t FAILED on an input, saved under feeds/fuzz/artifacts/$t/ (replay with cargo +nightly fuzz run ${build[*]} $t FILE)" >&2
    else
      echo "!!! $t did not run (see above)" >&2
    fi
    rm -f "$log"
    exit 1
  fi
  runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
  printf '%-16s %10s %8s %8s\n' "$t" "$runs" "$seconds" "$(ls "fuzz/corpus/$t" | wc -l)"
  rm -f "$log"
done
