#!/usr/bin/env python3
"""Latency of the city dispatcher's counts and lists on a running Pingan (the demo's `city`
account): each request asked SAMPLES times in turn, the best and the median in milliseconds.

Counts the indicator tallies answer (a place, whole months, all/open/closed cases) are asked
beside the same counts with `from=1`, which no tally answers, so that they are counted from the
cases (the same cases: none is reported before 1970).

Usage: bench/counts.py BASE_URL [SAMPLES]   (standard library only)
"""
import json
import statistics
import sys
import time
import urllib.request

OPEN = "status=reported,accepted,dispatched,in_progress"
REQUESTS = [
    ("count: the whole city (tallies)", "/api/v1/cases/count"),
    ("count: the whole city (counted)", "/api/v1/cases/count?from=1"),
    ("count: the city's open cases (tallies)", f"/api/v1/cases/count?{OPEN}"),
    ("count: the city's open cases (counted)", f"/api/v1/cases/count?{OPEN}&from=1"),
    ("count: a county's closed cases (tallies)", "/api/v1/cases/count?division=360302&status=closed"),
    ("count: a county's closed cases (counted)", "/api/v1/cases/count?division=360302&status=closed&from=1"),
    ("list: the city's newest 50 of one category", "/api/v1/cases?category=dispute.neighbour&limit=50"),
]


def token(base):
    body = json.dumps({"login": "city", "password": "pingan-demo-2026", "label": "bench"}).encode()
    request = urllib.request.Request(f"{base}/api/v1/auth/tokens", body, {"content-type": "application/json"})
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)["token"]


def main():
    base = sys.argv[1].rstrip("/")
    samples = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    headers = {"authorization": f"Bearer {token(base)}"}
    print(f"{'request':<48} {'best ms':>9} {'median ms':>10}  answer")
    for name, path in REQUESTS:
        times, answer = [], None
        for _ in range(samples):
            started = time.perf_counter()
            with urllib.request.urlopen(urllib.request.Request(base + path, headers=headers)) as response:
                body = response.read()
            times.append((time.perf_counter() - started) * 1000)
            answer = json.loads(body)
        shown = answer.get("count", f"{len(answer.get('cases', []))} cases")
        print(f"{name:<48} {min(times):>9.1f} {statistics.median(times):>10.1f}  {shown}")


if __name__ == "__main__":
    main()
