"""Indicators of a place over a span of months: the API's answer from its tallies, beside the same
figures recounted from the cases with one SQL aggregate (the straight scan the tallies spare), in
the same run, on the same database.

Usage: python3 bench/indicators.py DB BASE TOKEN DIVISION FROM TO [RUNS]
  DB     the server's SQLite file, or its PostgreSQL URL (postgres://…; the recount runs in one
         psql session and is timed by the server), read here only, by the recount
  BASE   the server, e.g. http://127.0.0.1:7878
  TOKEN  a bearer token of a centre whose subtree holds DIVISION
  FROM, TO  months as YYYY-MM
Prints min and median milliseconds of each, and checks that both give the same totals.
"""

import datetime
import json
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.request

CST = datetime.timezone(datetime.timedelta(hours=8))


def month_start(month: str) -> int:
    year, number = (int(part) for part in month.split("-"))
    return int(datetime.datetime(year, number, 1, tzinfo=CST).timestamp() * 1000)


def month_after(month: str) -> str:
    year, number = (int(part) for part in month.split("-"))
    return f"{year + number // 12}-{number % 12 + 1:02d}"


# The body is JSON text in both engines.
SATISFACTION = {"sqlite": "json_extract(body, '$.satisfaction')", "postgres": "(body::jsonb ->> 'satisfaction')"}
RETURNS = {"sqlite": "json_extract(body, '$.returns')", "postgres": "(body::jsonb ->> 'returns')::int"}

RECOUNT = """
SELECT substr(division_code, 1, {child}) AS child,
       count(*),
       sum(CASE WHEN status NOT IN ('reported', 'rejected', 'merged') THEN 1 ELSE 0 END),
       sum(CASE WHEN status IN ('reported', 'accepted', 'dispatched', 'in_progress') THEN 1 ELSE 0 END),
       sum(CASE WHEN status = 'closed' THEN 1 ELSE 0 END),
       sum(CASE WHEN {satisfaction} IS NOT NULL THEN 1 ELSE 0 END),
       sum(CASE WHEN {returns} > 0 THEN 1 ELSE 0 END)
  FROM cases
 WHERE division_code >= '{division}' AND division_code < '{division}:'
   AND reported_at >= {start} AND reported_at < {end}
 GROUP BY child
"""


def recount_sqlite(path: str, sql: str, runs: int) -> tuple[list[float], list[tuple]]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        rows = connection.execute(sql).fetchall()
        times.append((time.perf_counter() - began) * 1000)
    return times, rows


def recount_postgres(url: str, sql: str, runs: int) -> tuple[list[float], list[tuple]]:
    script = "\\timing on\n" + (sql.strip() + ";\n") * runs
    out = subprocess.run(["psql", url, "-At", "-F", ",", "-c", "\\timing on", "-f", "-"], input=script,
                         capture_output=True, text=True, check=True).stdout
    times = [float(line.split()[1]) for line in out.splitlines() if line.startswith("Time:")]
    rows = [tuple(int(v) if i else v for i, v in enumerate(line.split(",")))
            for line in out.splitlines() if line and not line.startswith(("Time:", "Timing"))]
    return times, rows[: len(rows) // runs]


def main() -> None:
    db, base, token, division, first, last = sys.argv[1:7]
    runs = int(sys.argv[7]) if len(sys.argv) > 7 else 10
    engine = "postgres" if db.startswith("postgres") else "sqlite"
    child = {2: 4, 4: 6, 6: 9, 9: 12}[len(division)]
    sql = RECOUNT.format(child=child, division=division, start=month_start(first),
                         end=month_start(month_after(last)),
                         satisfaction=SATISFACTION[engine], returns=RETURNS[engine])
    url = f"{base}/api/v1/indicators?division={division}&from={first}&to={last}"
    request = urllib.request.Request(url, headers={"authorization": f"Bearer {token}"})

    api_times = []
    for _ in range(runs):
        began = time.perf_counter()
        with urllib.request.urlopen(request) as response:
            answer = json.load(response)
        api_times.append((time.perf_counter() - began) * 1000)
    scan_times, rows = (recount_postgres if engine == "postgres" else recount_sqlite)(db, sql, runs)

    total = answer["total"]
    recounted = [sum(row[i] for row in rows) for i in range(1, 7)]
    from_api = [total[k] for k in ("reported", "accepted", "open", "closed", "called_back", "returned")]
    assert recounted == from_api, f"the recount {recounted} differs from the API's {from_api}"
    print(f"{total['reported']} cases of {division}, {first} to {last}, {len(answer['children'])} children; {runs} runs")
    for name, times in (("API (tallies, over HTTP)", api_times), (f"{engine} recount (one aggregate)", scan_times)):
        print(f"  {name:32} min {min(times):8.2f} ms   median {statistics.median(times):8.2f} ms")
    print(f"  ratio of medians: {statistics.median(scan_times) / statistics.median(api_times):.1f}x")


if __name__ == "__main__":
    main()
