#!/usr/bin/env bash
# Routing benchmark, Pingan and its peers in one run on the same grids and points:
#   1. `pingan bench routing --export bench/out`: generates the Jiangxi grids, writes them and the
#      random points, and measures Pingan's cell index and the two R-tree baselines;
#   2. bench/routing_peers.py on those files: shapely 2.x STRtree and PostGIS (scratch database
#      `pingan_bench`, dropped afterwards).
#
# Usage: bench/routing.sh [POINTS] [RUNS]      (defaults 2000000 and 5; run from anywhere)
# Environment: PINGAN_BENCH_DSN (default postgresql://postgres@127.0.0.1:5432/postgres).
set -euo pipefail

POINTS="${1:-2000000}"
RUNS="${2:-5}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out"
VENV="$ROOT/bench/.venv"
PINGAN="$ROOT/target/release/pingan"
DSN="${PINGAN_BENCH_DSN:-postgresql://postgres@127.0.0.1:5432/postgres}"
cd "$ROOT"

# `pingan bench` is in the binary built with the bench feature only.
cargo build --release -p pingan --features bench
if [[ ! -x "$VENV/bin/python" ]]; then
    python3.11 -m venv "$VENV"
    "$VENV/bin/pip" install -q -r "$ROOT/bench/requirements.txt"
fi
# PostGIS from Debian, on the local cluster with trust auth for postgres over 127.0.0.1.
if [[ ! -f /usr/share/postgresql/15/extension/postgis.control ]]; then
    echo "PostGIS missing: installing Debian's postgresql-15-postgis-3" >&2
    apt-get update -qq && apt-get install -y -qq postgresql-15-postgis-3 >/dev/null
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    pg_ctlcluster 15 main start
fi

date -u '+date: %Y-%m-%dT%H:%M:%SZ'
echo "machine: $(nproc) cores, $(uname -srm), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "== pingan bench routing --points $POINTS --runs $RUNS --export $OUT"
"$PINGAN" bench routing --points "$POINTS" --runs "$RUNS" --export "$OUT"
echo "== bench/routing_peers.py $OUT --runs $RUNS"
"$VENV/bin/python" "$ROOT/bench/routing_peers.py" "$OUT" --runs "$RUNS" --dsn "$DSN"
