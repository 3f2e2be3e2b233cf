"""Sends the imports of a JSON-lines file (one POST /api/v1/cases/import body a line, as
bench/case-bodies.py --import writes them), IN_FLIGHT requests at a time, and prints how long they
took and the cases a second.

Usage: python3 bench/imports.py URL TOKEN FILE [IN_FLIGHT]   (IN_FLIGHT: 2 by default)
"""

import json
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def send(url: str, token: str, body: bytes) -> tuple[int, int]:
    """One import: its HTTP status and how many cases it answered."""
    request = urllib.request.Request(
        f"{url}/api/v1/cases/import",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=600) as answer:
        return answer.status, len(json.load(answer)["cases"])


def main() -> None:
    url, token, path = sys.argv[1:4]
    in_flight = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    with open(path, "rb") as lines:
        bodies = [line for line in lines if line.strip()]
    started = time.perf_counter()
    with ThreadPoolExecutor(in_flight) as pool:
        results = list(pool.map(lambda body: send(url, token, body), bodies))
    elapsed = time.perf_counter() - started
    cases = sum(count for _, count in results)
    statuses = sorted({status for status, _ in results})
    print(f"{len(bodies)} imports, {cases} cases, {in_flight} in flight: {elapsed:.2f} s, "
          f"{cases / elapsed:,.0f} cases/s; statuses {statuses}")


if __name__ == "__main__":
    main()
