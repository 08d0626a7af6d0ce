#!/usr/bin/env bash
# The soak test (issue 9): the engine for minutes against the exchange simulator over
# a loopback WebSocket at 500,000 messages/s offered, with faults all the way
# through: the simulator skips, repeats, reorders and damages updates, crosses the
# book and prints off-market trades at random moments a few seconds apart on average
# (--fault-timing random), and this script
# kills the simulator at random moments (every 10 to 40 s) and starts it again on the
# same port, so the feed drops and reconnects. It samples the engine's resident
# memory every 5 s and reports, at the end: the offered and achieved rates, the
# tick-to-order percentiles, every fault injected and every recovery counted, the
# journal's verification, and whether memory stayed flat: the last sample within 1%
# of the one at 30 s. The engine runs with --mlock, as a production host would:
# every page it has allocated is resident from the start, so memory that was only
# reserved (histograms, the record backlog, receive buffers) cannot pass for
# growth, and any growth is a real allocation.
#
#   scripts/soak.sh                         # 5 minutes
#   SOAK_SECONDS=1800 scripts/soak.sh       # half an hour
#   SOAK_RATE=200000 scripts/soak.sh        # another offered rate
#   scripts/soak.sh --json soak.json        # the report as JSON too
#
# The journal takes about 1.2 GB a minute at 500k msgs/s (in a temporary directory,
# deleted at the end; on a failure the logs are kept, the journal only with
# SOAK_KEEP_JOURNAL=1). Not part of scripts/test.sh (it takes minutes). Exit 0 only if the engine exited 0,
# its journal verifies, and memory stayed flat. On a 2-vCPU host the simulator
# shares the engine's cold CPU, so the achieved rate is below the offered one: the
# report says both.
set -euo pipefail
cd "$(dirname "$0")/.."

json=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --json) json="${2:?--json needs a path}"; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "soak.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
seconds="${SOAK_SECONDS:-300}"
rate="${SOAK_RATE:-500000}"
(( seconds >= 60 )) || { echo "soak.sh: SOAK_SECONDS must be at least 60 (warm-up is 30 s)" >&2; exit 2; }

cargo build --release --locked -q -p engine
bin="$PWD/target/release/engine"
dir="$(mktemp -d)"
sim_pid=""
engine_pid=""
cleanup() {
  [[ -n "$sim_pid" ]] && kill "$sim_pid" 2>/dev/null || true
  [[ -n "$engine_pid" ]] && kill "$engine_pid" 2>/dev/null || true
}
trap cleanup EXIT

# Faults a few seconds apart on average at this rate, each at random moments.
sim_args=(--rate "$rate" --symbols BTCUSDT,ETHUSDT --snapshot-every 200ms --fault-timing random
  --gap-every 1000003 --duplicate-every 700001 --reorder-every 1500007
  --malformed-every 2000003 --crossed-every 2500009 --absurd-price-every 300007)

start_sim() { # port (0: any); prints nothing, sets sim_pid and url
  local port=$1 out="$dir/sim.$RANDOM.out"
  "$bin" sim --port "$port" --seed "$RANDOM" "${sim_args[@]}" >"$out" 2>>"$dir/sim.stderr" &
  sim_pid=$!
  for _ in $(seq 100); do
    if grep -q "listening on" "$out" 2>/dev/null; then break; fi
    sleep 0.05
  done
  url="$(sed -n 's/^listening on //p' "$out")"
  [[ -n "$url" ]] || { echo "soak.sh: the simulator did not start (port $port)" >&2; exit 1; }
}

start_sim 0
port="${url##*:}"; port="${port%%/*}"
echo "soak: ${seconds}s at ${rate} msgs/s offered from $url; engine journal in $dir/journal" >&2
"$bin" run --feed "$url" --symbols BTCUSDT,ETHUSDT --duration "${seconds}s" --quiet \
  --json "$dir/run.json" --persist "journal:$dir/journal" --feed-stale-after 2s --mlock \
  >"$dir/engine.stdout" 2>"$dir/engine.stderr" &
engine_pid=$!

drops=0
next_drop=$(( SECONDS + 10 + RANDOM % 30 ))
: >"$dir/rss"
start=$SECONDS
while kill -0 "$engine_pid" 2>/dev/null; do
  sleep 5
  rss="$(awk '/^VmRSS/ {print $2}' "/proc/$engine_pid/status" 2>/dev/null || true)"
  [[ -n "$rss" ]] && echo "$(( SECONDS - start )) $rss" >>"$dir/rss"
  if (( SECONDS >= next_drop && SECONDS - start < seconds - 15 )); then
    kill "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
    sleep 1
    start_sim "$port"
    drops=$(( drops + 1 ))
    next_drop=$(( SECONDS + 10 + RANDOM % 30 ))
  fi
done
set +e
wait "$engine_pid"
engine_exit=$?
set -e
engine_pid=""
kill "$sim_pid" 2>/dev/null || true
wait "$sim_pid" 2>/dev/null || true
sim_pid=""

summary="$(tr -d ' \n' <"$dir/run.json" 2>/dev/null || echo '{}')"
num() { grep -o "\"$1\":[0-9.]*" <<<"$summary" | head -1 | cut -d: -f2; }
t2o="$(grep -o '"tick_to_order_ns":{[^}]*}' <<<"$summary" || true)"
pct() { grep -o "\"$1\":[0-9]*" <<<"$t2o" | cut -d: -f2; }
# Per connection, its last line (the final count, or the running tally of one
# whose simulator was killed); summed over connections.
injected() {
  grep -E "^sim: faults (injected|so far) on " "$dir/sim.stderr" \
    | awk -v k="$1" '{ for (i = 1; i <= NF; i++) if ($i == "on") peer = $(i + 1)
                       for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) last[peer] = substr($i, length(k) + 2) }
                     END { for (p in last) s += last[p]; print s + 0 }'
}
if "$bin" journal verify "$dir/journal" >"$dir/verify" 2>&1; then verify=ok; else verify=FAILED; fi

# Memory: the sample at 30 s, at half time, the last, and the largest.
read -r warm half last peak < <(awk -v h=$(( seconds / 2 )) '
  $1 >= 30 && !w { w = $2 }  $1 >= h && !m { m = $2 }  { l = $2; if ($2 > p) p = $2 }
  END { print w+0, m+0, l+0, p+0 }' "$dir/rss")
flat=yes
if (( warm == 0 )) || (( (last - warm) * 100 > warm )); then flat=no; fi
if grep -q "mlockall refused" "$dir/engine.stderr"; then
  echo "soak.sh: warning: mlockall was refused here, so reserved memory shows up as growth" >&2
fi

# Rates in frames: what the simulator sent while a connection was up (its kills are
# outages this script injects), and what the engine received, over the whole run and
# over the connected time alone.
frames="$(num frames)"; secs="$(num seconds)"
sent="$(injected sent)"; connected_ms="$(injected connected_ms)"
achieved="$(awk -v f="${frames:-0}" -v s="${secs:-1}" 'BEGIN { printf "%.0f", f / s }')"
sent_rate="$(awk -v n="$sent" -v ms="$connected_ms" 'BEGIN { printf "%.0f", (ms > 0 ? n * 1000 / ms : 0) }')"
connected_rate="$(awk -v f="${frames:-0}" -v ms="$connected_ms" 'BEGIN { printf "%.0f", (ms > 0 ? f * 1000 / ms : 0) }')"
printf '\n| soak | value |\n|---|---|\n'
printf '| duration | %ss |\n' "$seconds"
printf '| offered / achieved | %s msgs/s / %s frames/s |\n' "$rate" "$achieved"
printf '| while connected (%s s of %s s) | simulator sent %s/s; engine received %s frames/s |\n' \
  "$(( connected_ms / 1000 ))" "$seconds" "$sent_rate" "$connected_rate"
printf '| tick-to-order p50 / p99 / p99.9 / max | %s / %s / %s / %s ns (%s orders) |\n' \
  "$(pct p50)" "$(pct p99)" "$(pct p999)" "$(pct max)" "$(pct count)"
printf '| faults injected | feed drops %s, gaps %s, duplicates %s (+%s trades), reorders %s, malformed %s, crossed %s, off-market prints %s |\n' \
  "$drops" "$(injected gap)" "$(injected duplicate)" "$(injected duplicate_trade)" "$(injected reorder)" \
  "$(injected malformed)" "$(injected crossed)" "$(injected absurd_price)"
printf '| recoveries counted | disconnects %s, resyncs %s, gaps %s, stale updates %s, repeated trades %s, decode errors %s, refused book updates %s, off-market trades %s |\n' \
  "$(num disconnects)" "$(num resyncs)" "$(num gaps)" "$(num stale_updates)" "$(num duplicate_trades)" \
  "$(num decode_errors)" "$(num book_errors)" "$(num off_market_trades)"
printf '| memory (RSS, mlocked) | %s KiB at 30 s, %s KiB at half time, %s KiB at the end, %s KiB peak: flat %s |\n' \
  "$warm" "$half" "$last" "$peak" "$flat"
printf '| engine exit / journal | %s / %s (%s records) |\n' "$engine_exit" "$verify" "$(num journaled)"

t2o_json="${t2o#*:}"
[[ -z "$t2o" ]] && t2o_json=null
if [[ -n "$json" ]]; then
  printf '{"seconds": %s, "offered": %s, "achieved": %s, "connected_s": %s, "sent_per_s_connected": %s, "received_per_s_connected": %s, "tick_to_order_ns": %s, "feed_drops": %s, "rss_kib": {"warm": %s, "half": %s, "last": %s, "peak": %s}, "memory_flat": %s, "engine_exit": %s, "journal": "%s"}\n' \
    "$seconds" "$rate" "$achieved" "$(( connected_ms / 1000 ))" "$sent_rate" "$connected_rate" "$t2o_json" "$drops" "$warm" "$half" "$last" "$peak" \
    "$([[ $flat == yes ]] && echo true || echo false)" "$engine_exit" "$verify" >"$json"
  echo "wrote $json" >&2
fi
if [[ $engine_exit -ne 0 || $verify != ok || $flat != yes ]]; then
  [[ "${SOAK_KEEP_JOURNAL:-0}" == 1 ]] || rm -rf "$dir/journal"
  echo "soak.sh: FAILED (logs in $dir)" >&2
  exit 1
fi
rm -rf "$dir"
