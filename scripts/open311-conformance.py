#!/usr/bin/env python3
"""Checks Pingan's Open311 GeoReport v2 JSON answers against the community's published JSON Schemas
(scripts/open311-schemas/, from the open311/schema-validation repository, schema/georeport-v2):
the services list, every service definition, a request filed with an API key read back alone and
in a list. Usage: open311-conformance.py BASE_URL API_KEY. Exits non-zero on the first violation."""

import json
import pathlib
import sys
import urllib.parse
import urllib.request

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

SCHEMAS = pathlib.Path(__file__).parent / "open311-schemas"
REGISTRY = Registry().with_resources(
    (path.name, Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT7))
    for path in SCHEMAS.glob("*.json")
)


def check(name, answer):
    schema = json.loads((SCHEMAS / name).read_text())
    validator = Draft202012Validator(schema, registry=REGISTRY, format_checker=FormatChecker())
    errors = sorted(validator.iter_errors(answer), key=lambda e: list(e.path))
    if errors:
        sys.exit(f"{name}: {errors[0].message} at {list(errors[0].path)}")


def fetch(url, form=None):
    data = urllib.parse.urlencode(form).encode() if form else None
    with urllib.request.urlopen(urllib.request.Request(url, data=data)) as response:
        assert response.headers["content-type"].startswith("application/json"), response.headers["content-type"]
        return json.load(response)


def main(base, key):
    v2 = f"{base}/open311/v2"
    services = fetch(f"{v2}/services.json")
    check("services.json", services)
    for service in services:
        check("service-definition.json", fetch(f"{v2}/services/{service['service_code']}.json"))
    filed = fetch(f"{v2}/requests.json", {
        "api_key": key, "service_code": "livelihood.road_repair", "lat": "27.6229", "long": "113.8543",
        "address_string": "光丰街道上柳源", "description": "路面塌陷，约两米见方",
    })
    request_id = filed[0]["service_request_id"]
    one = fetch(f"{v2}/requests/{request_id}.json")
    check("requests.json", one)
    assert len(one) == 1 and one[0]["service_request_id"] == request_id, one
    # A request placed by its address alone (no lat and long) conforms too.
    by_address = fetch(f"{v2}/requests.json", {
        "api_key": key, "service_code": "livelihood.road_repair",
        "address_string": "安源区光丰街道上柳源村", "description": "路面塌陷，约一米见方",
    })
    placed = fetch(f"{v2}/requests/{by_address[0]['service_request_id']}.json")
    check("requests.json", placed)
    assert placed[0]["address"] == "安源区光丰街道上柳源村", placed
    listed = fetch(f"{v2}/requests.json?status=open,closed")
    check("requests.json", listed)
    assert any(r["service_request_id"] == request_id for r in listed), "the new request is listed"
    print(f"Open311: {len(services)} services and their definitions, filed requests (one by its address) alone and among "
          f"{len(listed)} conform to the GeoReport v2 schemas")


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"), sys.argv[2])
