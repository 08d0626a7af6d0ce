#!/usr/bin/env bash
# Scheduling latency and context switches of a running process's threads: did anything
# preempt the hot threads? Uses perf sched (scheduler tracepoints).
#   scripts/perf-sched.sh PID [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."

pid="${1:?usage: scripts/perf-sched.sh PID [SECONDS]}"
seconds="${2:-5}"
if ! command -v perf >/dev/null; then
  echo "perf is not installed: apt-get install linux-perf (Debian) or linux-tools-\$(uname -r) (Ubuntu)" >&2
  exit 2
fi
if [ ! -d /sys/kernel/tracing/events/sched ] && [ ! -d /sys/kernel/debug/tracing/events/sched ]; then
  echo "scheduler tracepoints are not visible: mount tracefs first (as root: mount -t tracefs nodev /sys/kernel/tracing)" >&2
  exit 2
fi
out="${PERF_OUT:-bench-out/perf}"
mkdir -p "$out"
perf sched record -o "$out/sched.data" -p "$pid" -- sleep "$seconds"
perf sched latency -i "$out/sched.data" --sort max | head -30
echo "per-thread context switches (voluntary / involuntary):"
for task in /proc/"$pid"/task/*; do
  printf '%-20s %s / %s\n' "$(cat "$task/comm")" \
    "$(awk '/^voluntary_ctxt_switches/ {print $2}' "$task/status")" \
    "$(awk '/^nonvoluntary_ctxt_switches/ {print $2}' "$task/status")"
done
