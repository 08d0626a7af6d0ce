#!/usr/bin/env bash
# The ring comparison (issue 2). Pass --quick for a short run; extra flags go to
# ring-bench (see --help). Results land in benches/results/<date>-<host>/ with the
# host description needed to compare runs.
set -euo pipefail
cd "$(dirname "$0")/.."

out="benches/results/$(date -u +%Y-%m-%d)-$(hostname -s)"
mkdir -p "$out"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "rustc: $(rustc --version)"
  echo "kernel: $(uname -r)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "cpus: $(nproc)"
  echo "governor: $(cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor 2>/dev/null || echo n/a)"
  echo "isolcpus: $(cat /sys/devices/system/cpu/isolated 2>/dev/null || echo n/a)"
  echo "hypervisor: $(grep -qw hypervisor /proc/cpuinfo && echo yes || echo no)"
} > "$out/host.txt"
cargo run --release --locked -p benches --bin ring-bench -- --json "$out/ring.json" "$@" | tee "$out/ring.txt"
echo "results in $out"
