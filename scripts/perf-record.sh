#!/usr/bin/env bash
# Profile the engine (or any command) with perf and summarise per thread. Hot threads
# are named after their stage, so the per-thread table is a per-stage table.
#   scripts/perf-record.sh -p PID [SECONDS]      attach to a running process (default 10 s)
#   scripts/perf-record.sh -- COMMAND [ARGS...]  launch and record a command
# Output: perf.data in $PERF_OUT (default bench-out/perf), plus summary.txt beside it.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v perf >/dev/null; then
  echo "perf is not installed: apt-get install linux-perf (Debian) or linux-tools-\$(uname -r) (Ubuntu)" >&2
  exit 2
fi
paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo 2)
if [ "$(id -u)" != 0 ] && [ "$paranoid" -gt 1 ]; then
  echo "kernel.perf_event_paranoid is $paranoid: run as root or: sysctl kernel.perf_event_paranoid=1" >&2
  exit 2
fi
# Hardware counters are missing in many VMs; cpu-clock sampling works everywhere.
event=cycles
perf stat -e cycles true >/dev/null 2>&1 || event=cpu-clock
if perf stat -e cycles true 2>&1 | grep -q "not supported"; then event=cpu-clock; fi

out="${PERF_OUT:-bench-out/perf}"
mkdir -p "$out"
case "${1:-}" in
  -p)
    pid="${2:?usage: perf-record.sh -p PID [SECONDS]}"
    seconds="${3:-10}"
    perf record -e "$event" -F 999 --call-graph dwarf,16384 -o "$out/perf.data" -p "$pid" -- sleep "$seconds"
    ;;
  --)
    shift
    perf record -e "$event" -F 999 --call-graph dwarf,16384 -o "$out/perf.data" -- "$@"
    ;;
  *)
    echo "usage: scripts/perf-record.sh -p PID [SECONDS] | -- COMMAND [ARGS...]" >&2
    exit 2
    ;;
esac
{
  echo "event: $event"
  echo
  echo "== samples per thread (stage)"
  perf report -i "$out/perf.data" --no-children --sort comm --stdio -g none 2>/dev/null | grep -v '^#' | sed '/^$/d' | head -20
  echo
  echo "== top symbols per thread"
  perf report -i "$out/perf.data" --no-children --sort comm,sym --stdio -g none 2>/dev/null | grep -v '^#' | sed '/^$/d' | head -40
} | tee "$out/summary.txt"
echo "full data: perf report -i $out/perf.data"
