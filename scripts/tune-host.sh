#!/usr/bin/env bash
# Deployment wrapper around `engine tune`: audit the host for the given hot cores,
# optionally apply the runtime fixes, then audit again with --strict so the script's
# exit status says whether the host is ready.
#   scripts/tune-host.sh 2,3            # audit only; exit 1 if a check fails
#   scripts/tune-host.sh 2,3 --apply    # apply runtime fixes (as root), then audit
#   scripts/tune-host.sh 2,3 --dry-run  # print the commands apply would run
set -euo pipefail
cd "$(dirname "$0")/.."

cores="${1:?usage: scripts/tune-host.sh CORES [--apply|--dry-run]}"
mode="${2:-}"
cargo build --release --locked -q -p engine
engine=target/release/engine
case "$mode" in
  --apply) "$engine" tune apply --cores "$cores" ;;
  --dry-run) exec "$engine" tune apply --dry-run --cores "$cores" ;;
  "") ;;
  *) echo "unknown option $mode (use --apply or --dry-run)" >&2; exit 2 ;;
esac
exec "$engine" tune check --cores "$cores" --strict
