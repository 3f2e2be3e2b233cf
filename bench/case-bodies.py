"""Writes N case reports as JSON lines, for load generators that take one body per line (oha -Z).

The same reports as bench/wrk-post-case.lua files: hotline reports at varied points around
萍乡's centre, in varied categories. Usage: python3 bench/case-bodies.py N SEED > bodies.jsonl

With K and a server's URL, each line is instead an import (POST /api/v1/cases/import) of K
reports through the batch_import channel, at random points in random grids of 萍乡 (read from
the server), as an import spreads over a city:
python3 bench/case-bodies.py N SEED K http://127.0.0.1:8080 > imports.jsonl
"""

import json
import random
import sys
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
    count, seed = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    if len(sys.argv) > 4:
        per_import, polygons = int(sys.argv[3]), grid_polygons(sys.argv[4])
        for _ in range(count):
            reports = [report("batch_import", rng.choice(CATEGORIES), point_in(rng, rng.choice(polygons)), 7) for _ in range(per_import)]
            print(json.dumps({"reports": reports}, ensure_ascii=False))
        return
    for _ in range(count):
        category = rng.choice(CATEGORIES)
        point = (113.80 + rng.random() * 0.10, 27.58 + rng.random() * 0.08)
        print(json.dumps(report("hotline", category, point, 5), ensure_ascii=False))


if __name__ == "__main__":
    main()
