#!/usr/bin/env bash
# Time from `pingan demo` starting to its health endpoint answering, on a warm (already built) binary.
# Usage: bench/demo-startup.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
cargo build --release --quiet
port=18099
times=()
for run in $(seq "$runs"); do
    dir=$(mktemp -d)
    start=$(date +%s.%N)
    ./target/release/pingan demo --data-dir "$dir" --listen "127.0.0.1:$port" >/dev/null 2>&1 &
    pid=$!
    until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.02; done
    end=$(date +%s.%N)
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -rf "$dir"
    t=$(echo "$end - $start" | bc -l)
    times+=("$t")
    printf 'run %d: serving after %.2f s\n' "$run" "$t"
done
printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "best %.2f s, median %.2f s over %d runs\n", a[1], a[int((NR+1)/2)], NR}'
