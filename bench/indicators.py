"""Indicators of a whole city over twelve months: the API's answer from its tallies, beside the
same figures recounted from the cases with one SQL aggregate in SQLite (the straight scan the
tallies spare), in the same run, on the same database file.

Usage: python3 bench/indicators.py DB BASE TOKEN DIVISION FROM TO [RUNS]
  DB     the server's SQLite file (read here only, by the recount)
  BASE   the server, e.g. http://127.0.0.1:7878
  TOKEN  a bearer token of a centre whose subtree holds DIVISION
  FROM, TO  months as YYYY-MM
Prints min and median milliseconds of each, and checks that both give the same totals.
"""

import datetime
import json
import sqlite3
import statistics
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


RECOUNT = """
SELECT substr(division_code, 1, :child) AS child,
       count(*),
       sum(status NOT IN ('reported', 'rejected', 'merged')),
       sum(status IN ('reported', 'accepted', 'dispatched', 'in_progress')),
       sum(status = 'closed'),
       sum(json_extract(body, '$.satisfaction') IS NOT NULL),
       sum(json_extract(body, '$.returns') > 0)
  FROM cases
 WHERE division_code >= :division AND division_code < :division || ':'
   AND reported_at >= :start AND reported_at < :end
 GROUP BY child
"""


def main() -> None:
    db, base, token, division, first, last = sys.argv[1:7]
    runs = int(sys.argv[7]) if len(sys.argv) > 7 else 10
    child = {2: 4, 4: 6, 6: 9, 9: 12}[len(division)]
    start, end = month_start(first), month_start(month_after(last))
    url = f"{base}/api/v1/indicators?division={division}&from={first}&to={last}"
    request = urllib.request.Request(url, headers={"authorization": f"Bearer {token}"})
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)

    api_times, scan_times = [], []
    for _ in range(runs):
        began = time.perf_counter()
        with urllib.request.urlopen(request) as response:
            answer = json.load(response)
        api_times.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        rows = connection.execute(
            RECOUNT, {"child": child, "division": division, "start": start, "end": end}
        ).fetchall()
        scan_times.append((time.perf_counter() - began) * 1000)

    total = answer["total"]
    recounted = [sum(row[i] for row in rows) for i in range(1, 7)]
    from_api = [total[k] for k in ("reported", "accepted", "open", "closed", "called_back", "returned")]
    assert recounted == from_api, f"the recount {recounted} differs from the API's {from_api}"
    print(f"{total['reported']} cases of {division}, {first} to {last}, {len(answer['children'])} children; {runs} runs")
    for name, times in (("API (tallies, over HTTP)", api_times), ("SQLite recount (one aggregate)", scan_times)):
        print(f"  {name:32} min {min(times):8.2f} ms   median {statistics.median(times):8.2f} ms")
    print(f"  ratio of medians: {statistics.median(scan_times) / statistics.median(api_times):.1f}x")


if __name__ == "__main__":
    main()
