"""Writes N case reports as JSON lines, for load generators that take one body per line (oha -Z).

The same reports as bench/wrk-post-case.lua files: hotline reports at varied points around
萍乡's centre, in varied categories. Usage: python3 bench/case-bodies.py N SEED > bodies.jsonl
"""

import json
import random
import sys

CATEGORIES = ["livelihood.road_repair", "livelihood.sanitation", "hazard.fire", "dispute.neighbour",
              "livelihood.water_supply", "hazard.road"]


def main() -> None:
    count, seed = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    for _ in range(count):
        body = {
            "channel": "hotline",
            "category": rng.choice(CATEGORIES),
            "lon": round(113.80 + rng.random() * 0.10, 5),
            "lat": round(27.58 + rng.random() * 0.08, 5),
            "description": "热线来电反映情况",
        }
        print(json.dumps(body, ensure_ascii=False))


if __name__ == "__main__":
    main()
