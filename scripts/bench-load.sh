#!/usr/bin/env bash
# Load benchmark: builds release binaries, seeds 1k and 1M stores, runs the mixes against
# Tollgate and the HTTP floor, prints the table and writes BENCHMARKS.md.
#   scripts/bench-load.sh [--duration 10] [--connections 16] [--work DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk; else
    echo "wrk is missing: apt-get install wrk" >&2; exit 1; fi
fi
cargo build --release --locked --bin tollgate --example baseline --example loadgen
exec python3 scripts/bench_load.py "$@"
