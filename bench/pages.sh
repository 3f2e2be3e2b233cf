#!/usr/bin/env bash
# Server time of every workbench page with about 1,000,000 cases stored, and the bytes over the
# wire of the maps. Everything runs on 127.0.0.1.
#
# Usage: bench/pages.sh [cases] [requests]      (defaults: 1000000 cases, 50 requests a page)
#   KEEP=DIR  reuse (or keep, if missing) the database in DIR instead of a fresh temporary one
#
# 1. `pingan demo` makes a fresh SQLite database (Jiangxi's divisions, 萍乡's grids, units, the
#    demo accounts) and plays its year of cases; it is stopped once the year is in.
# 2. `pingan simulate` adds cases over the same year (seed 7) until about `cases` are stored.
# 3. `pingan serve` serves that database; curl signs in through the login form as each page's
#    account and times each page: 5 warm-up requests, then `requests` timed ones, one at a time,
#    without Accept-Encoding. The time is curl's time_starttransfer (request sent to first byte
#    received: the server's time plus the loopback).
# 4. The maps' bytes over the wire, with and without `Accept-Encoding: gzip`.
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${1:-1000000}
requests=${2:-50}
port=18099
base="http://127.0.0.1:$port"
password=pingan-demo-2026

cargo build --release --quiet -p pingan --features bench
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
pingan="$target/release/pingan"

dir=${KEEP:-$(mktemp -d)}
mkdir -p "$dir"
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    if [ -z "${KEEP:-}" ]; then rm -rf "$dir"; fi
}
trap cleanup EXIT
db="$dir/demo.db"
stored() { sqlite3 "file:$db?mode=ro" 'SELECT count(*) FROM cases'; }

if [ ! -f "$db" ]; then
    echo "== the demo database: $db"
    "$pingan" demo --data-dir "$dir" --listen "127.0.0.1:$port" --plain-http >"$dir/demo.log" 2>&1 &
    pid=$!
    until grep -q "are in" "$dir/demo.log"; do
        kill -0 "$pid" 2>/dev/null || { cat "$dir/demo.log"; exit 1; }
        sleep 1
    done
    grep -v '^ ' "$dir/demo.log" | grep -v 'INFO\|WARN' || true
    kill -INT "$pid"; wait "$pid" 2>/dev/null || true; pid=
    more=$((cases - $(stored)))
    if [ "$more" -gt 0 ]; then
        echo "== pingan simulate --cases $more --seed 7"
        "$pingan" simulate --database "sqlite://$db" --data-dir "$dir" --cases "$more" --seed 7 2>"$dir/simulate.log" \
            || { tail -5 "$dir/simulate.log"; exit 1; }
    fi
fi
echo "== $(stored) cases stored; $(du -h "$db" | cut -f1) database"

"$pingan" serve --database "sqlite://$db" --data-dir "$dir" --listen "127.0.0.1:$port" --plain-http \
    >"$dir/serve.log" 2>&1 &
pid=$!
until curl -sf "$base/healthz" >/dev/null; do
    kill -0 "$pid" 2>/dev/null || { cat "$dir/serve.log"; exit 1; }
    sleep 0.5
done

# Signs in through the login form as $1, keeping the session in the cookie jar $dir/$1.jar.
login() {
    local jar="$dir/$1.jar" csrf
    rm -f "$jar"
    csrf=$(curl -sf -c "$jar" -b "$jar" "$base/login" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
    curl -sf -o /dev/null -c "$jar" -b "$jar" --data-urlencode "csrf=$csrf" --data-urlencode "login=$1" \
        --data-urlencode "password=$password" --data-urlencode "next=/work" "$base/login"
    curl -sf -b "$jar" "$base/login" | grep -q 'id="signed-in"' || { echo "could not sign in as $1"; exit 1; }
}
for account in county operator admin; do login "$account"; done

# A case of the county's queue, for the case page.
number=$(curl -sf -b "$dir/county.jar" "$base/work" | grep -o 'href="/work/cases/[^"?#]*"' | head -1 | cut -d/ -f4 | tr -d '"')

# time ACCOUNT PATH: min, median and p95 of `requests` times to first byte, in ms.
time_page() {
    local account=$1 path=$2 cookies=() status
    [ "$account" = - ] || cookies=(-b "$dir/$account.jar")
    status=$(curl -s -o /dev/null -w '%{http_code}' "${cookies[@]}" "$base$path")
    [ "$status" = 200 ] || { printf '%-40s %-9s HTTP %s\n' "$path" "$account" "$status"; return; }
    for _ in 1 2 3 4 5; do curl -s -o /dev/null "${cookies[@]}" "$base$path"; done
    for _ in $(seq "$requests"); do
        curl -s -o /dev/null -w '%{time_starttransfer}\n' "${cookies[@]}" "$base$path"
    done | sort -g | awk -v path="$path" -v account="$account" '
        { t[NR] = $1 * 1000 }
        END {
            p95 = int(NR * 0.95); if (p95 < NR * 0.95) p95++
            printf "%-40s %-9s %8.1f %8.1f %8.1f\n", path, account, t[1], t[int((NR + 1) / 2)], t[p95]
        }'
}

echo "== server time, ms (curl time_starttransfer; $requests requests a page after 5 warm-up)"
printf '%-40s %-9s %8s %8s %8s\n' page account min median p95
time_page county /work
time_page county '/work?status=all'
time_page county "/work?q=$(python3 -c 'import urllib.parse; print(urllib.parse.quote("漏水"))')"
time_page county '/work?category=livelihood'
time_page county '/work?deadline=overdue'
time_page county "/work/cases/$number"
time_page county /work/centre
time_page county '/work/centre?division=360302008'
time_page county /work/bulletin
time_page county /work/tokens
time_page operator /work/desk
time_page admin /work/admin/accounts
time_page admin /work/admin/access-log
time_page admin /work/admin/units
time_page - /

# bytes ACCOUNT PATH: the page's bytes over the wire, gzipped and not.
bytes() {
    local cookies=()
    [ "$1" = - ] || cookies=(-b "$dir/$1.jar")
    printf '%-40s %-9s %10s %10s\n' "$2" "$1" \
        "$(curl -s -o /dev/null -w '%{size_download}' "${cookies[@]}" -H 'Accept-Encoding: gzip' "$base$2")" \
        "$(curl -s -o /dev/null -w '%{size_download}' "${cookies[@]}" "$base$2")"
}
echo "== bytes over the wire (the body; the maps are inline SVG: the county's grids in /work/centre and /work/desk, the city's on /)"
printf '%-40s %-9s %10s %10s\n' page account gzip plain
bytes county /work/centre
bytes operator /work/desk
bytes - /
