"""Writes N case reports as JSON lines, for load generators that take one body per line (oha -Z,
bench/wrk-post-bodies.lua).

By default the same reports as bench/wrk-post-case.lua files: hotline reports at varied points in
a 10 km box around 萍乡's centre, in varied categories (a dense stream: every duplicate search
finds many recent cases). Usage: python3 bench/case-bodies.py N SEED > bodies.jsonl

--spread URL puts each report at a random point of a random grid of 萍乡 (read from the server at
URL), as a city's reports spread; --import K makes each line an import (POST
/api/v1/cases/import) of K such reports through the batch_import channel:
python3 bench/case-bodies.py 10 7 --import 10000 --spread http://127.0.0.1:8080 > imports.jsonl
"""

import argparse
import json
import random
import urllib.request

CATEGORIES = ["livelihood.road_repair", "livelihood.sanitation", "hazard.fire", "dispute.neighbour",
              "livelihood.water_supply", "hazard.road"]


def inside(point: tuple, ring: list) -> bool:
    """Whether the point lies inside the ring (even-odd rule)."""
    x, y = point
    crossings = 0
    for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            crossings += 1
    return crossings % 2 == 1


def grid_polygons(url: str) -> list:
    """Every polygon of 萍乡's grids: its outer ring, then its holes."""
    with urllib.request.urlopen(f"{url}/api/v1/divisions/3603/geojson") as answer:
        collection = json.load(answer)
    polygons = []
    for feature in collection["features"]:
        geometry = feature["geometry"]
        polygons.extend(geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]])
    return polygons


def point_in(rng: random.Random, polygon: list) -> tuple:
    outer, holes = polygon[0], polygon[1:]
    xs, ys = [p[0] for p in outer], [p[1] for p in outer]
    while True:
        point = (rng.uniform(min(xs), max(xs)), rng.uniform(min(ys), max(ys)))
        if inside(point, outer) and not any(inside(point, hole) for hole in holes):
            return point


def report(channel: str, category: str, point: tuple, digits: int) -> dict:
    return {
        "channel": channel,
        "category": category,
        "lon": round(point[0], digits),
        "lat": round(point[1], digits),
        "description": "热线来电反映情况",
    }


def main() -> None:
    arguments = argparse.ArgumentParser()
    arguments.add_argument("count", type=int)
    arguments.add_argument("seed", type=int)
    arguments.add_argument("--spread", metavar="URL")
    arguments.add_argument("--import", dest="per_import", type=int, metavar="K")
    options = arguments.parse_args()
    rng = random.Random(options.seed)
    polygons = grid_polygons(options.spread) if options.spread else None

    def next_report(channel: str) -> dict:
        if polygons is None:
            category = rng.choice(CATEGORIES)
            point = (113.80 + rng.random() * 0.10, 27.58 + rng.random() * 0.08)
            return report(channel, category, point, 5)
        return report(channel, rng.choice(CATEGORIES), point_in(rng, rng.choice(polygons)), 7)

    for _ in range(options.count):
        if options.per_import is None:
            body = next_report("hotline")
        else:
            body = {"reports": [next_report("batch_import") for _ in range(options.per_import)]}
        print(json.dumps(body, ensure_ascii=False))


if __name__ == "__main__":
    main()
