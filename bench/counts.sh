#!/usr/bin/env bash
# The city's counts and lists on a fresh demo database, first unloaded, then while wrk files
# reports and reads lists on the same two cores (the load a governance centre's morning brings).
# Usage: bench/counts.sh [samples]
set -euo pipefail
cd "$(dirname "$0")/.."
samples=${1:-30}
port=18098
base="http://127.0.0.1:$port"
cargo build --release --quiet
dir=$(mktemp -d)
./target/release/pingan demo --data-dir "$dir" --listen "127.0.0.1:$port" >"$dir/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
# The demo serves at once and plays its year of cases meanwhile: measure on the whole year.
until grep -q "are in" "$dir/log"; do sleep 1; done
token() {
    curl -sf -X POST "$base/api/v1/auth/tokens" -H 'content-type: application/json' \
        -d "{\"login\": \"$1\", \"password\": \"pingan-demo-2026\", \"label\": \"load\"}" | sed 's/.*"token":"\([^"]*\)".*/\1/'
}
echo "== unloaded"
bench/counts.py "$base" "$samples"
echo "== under load: wrk -t1 -c16 filing reports (hotline) and -t1 -c16 reading the county's open cases"
TOKEN=$(token hotline) wrk -t1 -c16 -d600s -s bench/wrk-post-case.lua "$base/api/v1/cases" >"$dir/post" 2>&1 &
posting=$!
TOKEN=$(token county) wrk -t1 -c16 -d600s -s bench/wrk-bearer.lua \
    "$base/api/v1/cases?status=reported,accepted,dispatched,in_progress&limit=50" >"$dir/read" 2>&1 &
reading=$!
sleep 3
bench/counts.py "$base" "$samples"
kill -INT $posting $reading; wait $posting $reading 2>/dev/null || true
echo "== the load's own figures"
cat "$dir/post" "$dir/read"
