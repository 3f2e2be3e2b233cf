//! The router against a brute-force scan: on random points, on vertices and on points of shared
//! edges, the router's answer must equal the one region the scan finds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use pingan_core::{DivisionCode, GridCode};
use pingan_geo::geojson_io::{InvalidAreas, read_areas};
use pingan_geo::tessellate::{CountyPlan, Settings, VillagePlan, tessellate};
use pingan_geo::{FixedPoint, Region, Router, RouterEntry};

fn brute_force(router: &Router, p: FixedPoint) -> Vec<usize> {
    router.entries().iter().enumerate().filter(|(_, e)| e.region.contains(p)).map(|(i, _)| i).collect()
}

fn routed_index(router: &Router, p: FixedPoint) -> Option<usize> {
    let code = &router.route(p)?.code;
    router.entries().iter().position(|e| &e.code == code)
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a.abs() } else { gcd(b, a % b) }
}

/// Points with integer coordinates on edge a→b: its ends and up to three inner lattice points.
fn points_on_edge(a: FixedPoint, b: FixedPoint) -> Vec<FixedPoint> {
    let (dx, dy) = (i64::from(b.x - a.x), i64::from(b.y - a.y));
    let steps = gcd(dx, dy).max(1);
    [0, steps / 3, steps / 2, steps - 1]
        .into_iter()
        .map(|k| FixedPoint::new((i64::from(a.x) + dx / steps * k) as i32, (i64::from(a.y) + dy / steps * k) as i32))
        .collect()
}

/// Checks the router on `samples` random points in the extent and on points of every `edge_stride`-th
/// edge; where a point has covered points on every side, it must have exactly one owner.
fn check_router(router: &Router, samples: usize, edge_stride: usize) {
    let extent = router.entries().iter().map(|e| e.region.bbox()).reduce(|a, b| a.union(b)).unwrap();
    let mut rng = fastrand::Rng::with_seed(7);
    let mut points: Vec<FixedPoint> = (0..samples)
        .map(|_| {
            FixedPoint::new(
                rng.i32(extent.min.x - 1000..=extent.max.x + 1000),
                rng.i32(extent.min.y - 1000..=extent.max.y + 1000),
            )
        })
        .collect();
    for entry in router.entries() {
        for (a, b) in entry.region.edges().step_by(edge_stride) {
            points.extend(points_on_edge(a, b));
        }
    }
    let mut interior_edge_points = 0;
    for p in points {
        let owners = brute_force(router, p);
        assert!(owners.len() <= 1, "{p:?} lies in {} regions", owners.len());
        assert_eq!(routed_index(router, p), owners.first().copied(), "router and scan disagree at {p:?}");
        assert_eq!(router.route_by_rtree(p).map(|e| &e.code), owners.first().map(|&i| &router.entries()[i].code));
        let surrounded = [(-1, -1), (1, -1), (-1, 1), (1, 1)]
            .iter()
            .all(|(dx, dy)| brute_force(router, FixedPoint::new(p.x + dx, p.y + dy)).len() == 1);
        if surrounded {
            interior_edge_points += 1;
            assert_eq!(owners.len(), 1, "{p:?} is surrounded by grids but has no owner");
        }
    }
    assert!(interior_edge_points > samples / 10, "too few points tested inside the covered area");
}

/// A partition of a rectangle into quadrilaterals with jittered, shared corners: slanted edges that
/// the cell index cannot align with.
fn jittered_quads(columns: i32, rows: i32, side: i32) -> Vec<RouterEntry> {
    let mut rng = fastrand::Rng::with_seed(42);
    let corner: Vec<Vec<FixedPoint>> = (0..=columns)
        .map(|i| {
            (0..=rows)
                .map(|j| {
                    let mut jitter = |edge: bool| if edge { 0 } else { rng.i32(-side / 3..=side / 3) };
                    let (jx, jy) = (jitter(i == 0 || i == columns), jitter(j == 0 || j == rows));
                    FixedPoint::new(1_130_000_000 + i * side + jx, 270_000_000 + j * side + jy)
                })
                .collect()
        })
        .collect();
    let village = DivisionCode::parse("360302001001").unwrap();
    let mut entries = Vec::new();
    for i in 0..columns as usize {
        for j in 0..rows as usize {
            let ring = vec![corner[i][j], corner[i + 1][j], corner[i + 1][j + 1], corner[i][j + 1]];
            let number = (i * rows as usize + j + 1) as u16;
            entries.push(RouterEntry {
                code: GridCode::new(&village, number % 1000).unwrap(),
                region: Region::new(vec![vec![ring]]).unwrap(),
            });
        }
    }
    entries.truncate(999);
    entries
}

#[test]
fn slanted_partition_routes_like_a_scan() {
    let router = Router::build(jittered_quads(30, 30, 20_000));
    check_router(&router, 20_000, 1);
}

#[test]
fn empty_router_routes_nothing() {
    let router = Router::build(Vec::new());
    assert!(router.route(FixedPoint::new(0, 0)).is_none());
    assert!(router.nearest(FixedPoint::new(0, 0)).is_none());
}

fn repo_file(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn pingxiang_grids() -> Vec<RouterEntry> {
    let counties: BTreeMap<String, Region> =
        read_areas(&repo_file("data/boundaries/jiangxi-counties-2017.geojson"), InvalidAreas::Accept)
            .unwrap()
            .into_iter()
            .filter(|shape| shape.code.starts_with("3603"))
            .map(|shape| (shape.code, shape.region))
            .collect();
    let villages_csv = repo_file("data/divisions/jiangxi/villages.csv");
    let mut reader = csv::Reader::from_reader(villages_csv.as_slice());
    let mut villages: BTreeMap<String, Vec<VillagePlan>> = BTreeMap::new();
    for record in reader.records() {
        let record = record.unwrap();
        let code = DivisionCode::parse(&record[0]).unwrap();
        villages
            .entry(code.as_str()[..6].to_owned())
            .or_default()
            .push(VillagePlan { code, name: record[1].to_owned() });
    }
    let plans: Vec<CountyPlan> = counties
        .iter()
        .map(|(code, region)| CountyPlan {
            code: DivisionCode::parse(code).unwrap(),
            boundary: region,
            villages: villages.remove(code).unwrap(),
        })
        .collect();
    let village_count: usize = plans.iter().map(|p| p.villages.len()).sum();
    let grids = tessellate(&plans, Settings::default()).unwrap();
    let mut villages_with_grids: Vec<DivisionCode> = grids.iter().map(|g| g.code.village()).collect();
    villages_with_grids.dedup();
    assert_eq!(villages_with_grids.len(), village_count, "every village gets grids");
    assert!(grids.len() >= 2 * village_count);
    for grid in &grids {
        let problems = geo::Validation::validation_errors(&grid.region.to_geo());
        assert!(problems.is_empty(), "grid {} is not a valid polygon: {problems:?}", grid.code);
    }
    grids.into_iter().map(|g| RouterEntry { code: g.code, region: g.region }).collect()
}

#[test]
fn generated_pingxiang_grids_route_like_a_scan() {
    let grids = pingxiang_grids();
    // Deterministic: the same seed draws the same grids.
    assert_eq!(
        pingxiang_grids().iter().map(|g| g.region.clone()).collect::<Vec<_>>(),
        grids.iter().map(|g| g.region.clone()).collect::<Vec<_>>()
    );
    let router = Router::build(grids);
    check_router(&router, 3_000, 40);
}
