#!/usr/bin/env python3
"""Peer measurements for `pingan bench routing`: the same grids and points, other engines.

Reads the files written by `pingan bench routing --export DIR`:
  DIR/grids.wkt.csv  tab-separated, header `code<TAB>wkt`, one MULTIPOLYGON per grid
  DIR/points.csv     `lon,lat`, the very points the Rust bench routes

and measures point -> grid lookups with
  * shapely 2.x STRtree, one batch `tree.query(points, predicate="within")` over all points;
  * PostGIS (GiST indexes), one batch join `ST_Contains(g.geom, p.geom)` over all points, in the
    planner's own point-major plan (each point probes the grids' index) and grid-major (each grid
    probes an index on the points), then one prepared single-point query per point over a sample,
    from one client over TCP, with the bare round trip (`SELECT $1::int`) measured beside it.

Every method prints one line in the Rust bench's format (best and median of several runs).
Index builds, file parsing and point construction are not timed, as in the Rust bench.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import shapely


def report(name: str, points: int, times: list[float], found: int | None) -> None:
    """One line in the Rust bench's format (rates under 0.1 M/s get four decimals, not 0.00)."""
    if not times:
        return
    best, median = min(times), sorted(times)[len(times) // 2]  # as the Rust bench

    def rate(seconds: float) -> str:
        value = points / seconds / 1e6
        return f"{value:>6.2f}" if value >= 0.1 else f"{value:>6.4f}"

    what = f"{found} of {points} points in a grid" if found is not None else f"{points} round trips, no lookup"
    print(f"{name:<44} best {rate(best)} M/s  median {rate(median)} M/s  ({best * 1e9 / points:.1f} ns/lookup, {what})", flush=True)


def load(directory: Path) -> tuple[list[str], list[str], np.ndarray]:
    codes, wkts = [], []
    with open(directory / "grids.wkt.csv", encoding="utf-8") as f:
        header = next(f)
        assert header.startswith("code\twkt"), header
        for line in f:
            code, wkt = line.rstrip("\n").split("\t")
            codes.append(code)
            wkts.append(wkt)
    xy = np.loadtxt(directory / "points.csv", delimiter=",", skiprows=1, dtype=np.float64)
    return codes, wkts, xy


def bench_shapely(wkts: list[str], xy: np.ndarray, runs: int) -> None:
    started = time.perf_counter()
    geoms = shapely.from_wkt(np.array(wkts, dtype=object))
    tree = shapely.STRtree(geoms)
    tree.query(shapely.points(xy[:1]))  # the tree is built lazily: force it here
    shapely.prepare(geoms)
    points = shapely.points(xy)
    print(
        f"shapely {shapely.__version__} (GEOS {shapely.geos_version_string}): {len(geoms)} grids parsed, "
        f"STRtree built and {len(points)} points made in {time.perf_counter() - started:.2f}s",
        flush=True,
    )
    times, found = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        pairs = tree.query(points, predicate="within")
        times.append(time.perf_counter() - started)
        found = len(np.unique(pairs[0]))
    report('  shapely STRtree query(predicate="within")', len(points), times, found)


def bench_postgis(dsn: str, database: str, directory: Path, xy: np.ndarray, runs: int, sample: int, sample_runs: int, keep: bool) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
        admin.execute(f'CREATE DATABASE "{database}"')
    target = psycopg.conninfo.make_conninfo(dsn, dbname=database)
    try:
        with psycopg.connect(target, autocommit=True) as conn:
            _postgis(conn, directory, xy, runs, sample, sample_runs)
    finally:
        if not keep:
            with psycopg.connect(dsn, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}"')


def _postgis(conn, directory: Path, xy: np.ndarray, runs: int, sample: int, sample_runs: int) -> None:
    conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    # One core, like the other measurements (the batch join would otherwise use parallel workers).
    conn.execute("SET max_parallel_workers_per_gather = 0")
    # PostGIS functions are costed so high that JIT compiles every batch query, which only adds time.
    conn.execute("SET jit = off")
    versions = conn.execute("SELECT current_setting('server_version'), postgis_full_version()").fetchone()
    started = time.perf_counter()
    conn.execute("CREATE UNLOGGED TABLE grids_wkt (code text, wkt text)")
    with conn.cursor().copy("COPY grids_wkt (code, wkt) FROM STDIN") as copy, open(directory / "grids.wkt.csv", "rb") as f:
        next(f)
        while block := f.read(1 << 20):
            copy.write(block)
    conn.execute(
        "CREATE TABLE grids AS SELECT code, ST_Multi(ST_GeomFromText(wkt, 4326))::geometry(MultiPolygon, 4326) AS geom FROM grids_wkt"
    )
    conn.execute("DROP TABLE grids_wkt")
    conn.execute("CREATE INDEX grids_geom ON grids USING gist (geom)")
    conn.execute("CREATE UNLOGGED TABLE points_xy (id serial, lon float8, lat float8)")
    with conn.cursor().copy("COPY points_xy (lon, lat) FROM STDIN WITH (FORMAT csv, HEADER true)") as copy, open(directory / "points.csv", "rb") as f:
        while block := f.read(1 << 20):
            copy.write(block)
    conn.execute("CREATE TABLE points AS SELECT id, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geometry(Point, 4326) AS geom FROM points_xy ORDER BY id")
    conn.execute("DROP TABLE points_xy")
    conn.execute("VACUUM ANALYZE grids")
    conn.execute("VACUUM ANALYZE points")
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    conn.execute("CREATE INDEX points_geom ON points USING gist (geom)")
    conn.execute("VACUUM ANALYZE points")
    points_index = time.perf_counter() - started
    grids, invalid = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE NOT (ST_IsValidDetail(geom)).valid) FROM grids"
    ).fetchone()
    (points,) = conn.execute("SELECT count(*) FROM points").fetchone()
    print(
        f"PostgreSQL {versions[0]}, {versions[1].split(' ')[0]} {versions[1].split(' ')[1]}: {grids} grids ({invalid} invalid) "
        f"with a GiST index and {points} points loaded in {loaded:.2f}s; GiST index on the points built in {points_index:.2f}s",
        flush=True,
    )
    batches = [
        ("  PostGIS join, point-major (planner's plan)", "SELECT count(*) FROM points p JOIN grids g ON ST_Contains(g.geom, p.geom)"),
        (
            "  PostGIS join, grid-major (+ points GiST)",
            "SELECT count(*) FROM grids g CROSS JOIN LATERAL (SELECT 1 FROM points p WHERE ST_Contains(g.geom, p.geom) OFFSET 0) x",
        ),
    ]
    for label, batch in batches:
        plan = [row[0] for row in conn.execute("EXPLAIN " + batch).fetchall()]
        print(f"{label.strip()}: {batch}\n    plan: " + " | ".join(line.strip() for line in plan), flush=True)
        times, found = [], 0
        for _ in range(runs):
            started = time.perf_counter()
            (found,) = conn.execute(batch).fetchone()
            times.append(time.perf_counter() - started)
        report(label, points, times, found)

    single = "SELECT code FROM grids WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326)) LIMIT 1"
    sample_xy = [(float(x), float(y)) for x, y in xy[:sample]]
    times, found = [], 0
    with conn.cursor() as cur:
        for _ in range(sample_runs):
            found = 0
            started = time.perf_counter()
            for x, y in sample_xy:
                cur.execute(single, (x, y), prepare=True)
                if cur.fetchone() is not None:
                    found += 1
            times.append(time.perf_counter() - started)
    report("  PostGIS one prepared query per point", len(sample_xy), times, found)
    # The floor under any one-query-per-point client: the same round trip doing no work.
    times = []
    with conn.cursor() as cur:
        for _ in range(sample_runs):
            started = time.perf_counter()
            for i in range(len(sample_xy)):
                cur.execute("SELECT %s::int", (i,), prepare=True)
                cur.fetchone()
            times.append(time.perf_counter() - started)
    report("  (bare round trip: prepared SELECT $1::int)", len(sample_xy), times, None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", type=Path, nargs="?", default=Path(__file__).parent / "out")
    parser.add_argument("--runs", type=int, default=5, help="runs of the shapely batch (default 5)")
    parser.add_argument("--pg-runs", type=int, default=3, help="runs of the PostGIS batch join (default 3)")
    parser.add_argument("--sample", type=int, default=20_000, help="points for one-query-per-point (default 20000)")
    parser.add_argument("--sample-runs", type=int, default=3)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="pingan_bench", help="scratch database, dropped and recreated")
    parser.add_argument("--keep-db", action="store_true", help="leave the scratch database behind")
    parser.add_argument("--skip", action="append", default=[], choices=["shapely", "postgis"])
    args = parser.parse_args()

    started = time.perf_counter()
    codes, wkts, xy = load(args.directory)
    print(f"loaded {len(codes)} grids and {len(xy)} points from {args.directory} in {time.perf_counter() - started:.2f}s", flush=True)
    if "shapely" not in args.skip:
        bench_shapely(wkts, xy, args.runs)
    if "postgis" not in args.skip:
        bench_postgis(args.dsn, args.database, args.directory, xy, args.pg_runs, args.sample, args.sample_runs, args.keep_db)
    return 0


if __name__ == "__main__":
    sys.exit(main())
