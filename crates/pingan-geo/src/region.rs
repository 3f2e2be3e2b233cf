//! An area (a grid, a county) as polygons with holes in fixed-point coordinates, with an exact
//! point-in-polygon test.
//!
//! The test counts crossings of a ray towards +x with a half-open rule: an edge counts when exactly
//! one of its ends lies strictly above the point and the crossing lies strictly right of it. Under
//! that rule a region owns the points of its lower and left edges but not of its upper and right
//! ones, so regions that tile the plane with identical shared edges give every point exactly one owner.

use geo::{Coord, LineString, MultiPolygon, Polygon};
use serde_json::{Value, json};

use crate::fixed::{Bbox, FixedPoint};

/// The largest width or height a region may have, so that the crossing test's products fit an i64.
pub const MAX_EXTENT: i64 = 1 << 30;

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RegionError {
    #[error("a ring has fewer than three distinct points")]
    DegenerateRing,
    #[error("the region has no polygon")]
    Empty,
    #[error("coordinates lie outside WGS-84 (lon {lon}, lat {lat})")]
    OutOfRange { lon: f64, lat: f64 },
    #[error("the region spans more than 100 degrees")]
    TooLarge,
}

/// Polygons, each an exterior ring followed by its holes. Rings are stored open (the first point
/// is not repeated at the end).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    polygons: Vec<Vec<Vec<FixedPoint>>>,
    bbox: Bbox,
}

impl Region {
    pub fn new(polygons: Vec<Vec<Vec<FixedPoint>>>) -> Result<Region, RegionError> {
        let mut cleaned = Vec::with_capacity(polygons.len());
        for polygon in polygons {
            let mut rings = Vec::with_capacity(polygon.len());
            for ring in polygon {
                rings.push(clean_ring(ring)?);
            }
            if !rings.is_empty() {
                cleaned.push(rings);
            }
        }
        let bbox = Bbox::of_points(cleaned.iter().flatten().flatten().copied()).ok_or(RegionError::Empty)?;
        if bbox.width() >= MAX_EXTENT || bbox.height() >= MAX_EXTENT {
            return Err(RegionError::TooLarge);
        }
        Ok(Region { polygons: cleaned, bbox })
    }

    /// Rounds a floating-point multipolygon to fixed point.
    pub fn from_geo(shape: &MultiPolygon<f64>) -> Result<Region, RegionError> {
        let to_fixed = |ring: &LineString<f64>| -> Result<Vec<FixedPoint>, RegionError> {
            ring.0
                .iter()
                .map(|c| {
                    FixedPoint::from_degrees(c.x, c.y).map_err(|e| RegionError::OutOfRange { lon: e.lon, lat: e.lat })
                })
                .collect()
        };
        let mut polygons = Vec::with_capacity(shape.0.len());
        for polygon in &shape.0 {
            let mut rings = vec![to_fixed(polygon.exterior())?];
            for hole in polygon.interiors() {
                rings.push(to_fixed(hole)?);
            }
            polygons.push(rings);
        }
        Region::new(polygons)
    }

    pub fn to_geo(&self) -> MultiPolygon<f64> {
        let line = |ring: &Vec<FixedPoint>| -> LineString<f64> {
            LineString::from(ring.iter().map(|p| Coord { x: p.lon(), y: p.lat() }).collect::<Vec<_>>())
        };
        MultiPolygon(
            self.polygons
                .iter()
                .map(|rings| Polygon::new(line(&rings[0]), rings[1..].iter().map(line).collect()))
                .collect(),
        )
    }

    /// The GeoJSON geometry object (a MultiPolygon, rings closed, coordinates in degrees).
    pub fn to_geojson(&self) -> Value {
        let ring = |ring: &Vec<FixedPoint>| -> Value {
            let closing = ring.first().copied();
            Value::Array(ring.iter().copied().chain(closing).map(|p| json!([p.lon(), p.lat()])).collect())
        };
        let polygons: Vec<Value> =
            self.polygons.iter().map(|rings| Value::Array(rings.iter().map(ring).collect())).collect();
        json!({ "type": "MultiPolygon", "coordinates": polygons })
    }

    pub fn bbox(&self) -> Bbox {
        self.bbox
    }

    /// A point of the region drawn uniformly from its bounding box (None if 64 draws all miss).
    pub fn random_point(&self, rng: &mut fastrand::Rng) -> Option<FixedPoint> {
        let bbox = self.bbox();
        (0..64).find_map(|_| {
            let point = FixedPoint::new(rng.i32(bbox.min.x..=bbox.max.x), rng.i32(bbox.min.y..=bbox.max.y));
            self.contains(point).then_some(point)
        })
    }

    pub fn polygons(&self) -> &[Vec<Vec<FixedPoint>>] {
        &self.polygons
    }

    /// Every edge of every ring, as (start, end).
    pub fn edges(&self) -> impl Iterator<Item = (FixedPoint, FixedPoint)> + '_ {
        self.polygons
            .iter()
            .flatten()
            .flat_map(|ring| ring.iter().copied().zip(ring.iter().copied().cycle().skip(1)).take(ring.len()))
    }

    /// Exact, half-open point-in-polygon test (see the module comment).
    pub fn contains(&self, p: FixedPoint) -> bool {
        if !self.bbox.contains(p) {
            return false;
        }
        let mut inside = false;
        for ring in self.polygons.iter().flatten() {
            let mut a = ring[ring.len() - 1];
            for &b in ring {
                if crosses_ray(p, a, b) {
                    inside = !inside;
                }
                a = b;
            }
        }
        inside
    }

    /// Distance in degrees (longitude scaled by the cosine of the latitude) from `p` to the region;
    /// zero inside it.
    pub fn distance_degrees(&self, p: FixedPoint) -> f64 {
        if self.contains(p) {
            return 0.0;
        }
        let scale = p.lat().to_radians().cos();
        let (px, py) = (p.lon() * scale, p.lat());
        self.edges()
            .map(|(a, b)| {
                let (ax, ay, bx, by) = (a.lon() * scale, a.lat(), b.lon() * scale, b.lat());
                let (dx, dy) = (bx - ax, by - ay);
                let len2 = dx * dx + dy * dy;
                let t = if len2 == 0.0 { 0.0 } else { (((px - ax) * dx + (py - ay) * dy) / len2).clamp(0.0, 1.0) };
                let (cx, cy) = (ax + t * dx - px, ay + t * dy - py);
                (cx * cx + cy * cy).sqrt()
            })
            .fold(f64::INFINITY, f64::min)
    }
}

/// Whether edge a→b crosses the ray from `p` towards +x, under the half-open rule. The caller
/// guarantees `p` lies within the bounding box of the edge's region, so every product fits an i64.
#[inline]
pub(crate) fn crosses_ray(p: FixedPoint, a: FixedPoint, b: FixedPoint) -> bool {
    if (a.y > p.y) == (b.y > p.y) {
        return false;
    }
    let dy = i64::from(b.y) - i64::from(a.y);
    let lhs = (i64::from(p.x) - i64::from(a.x)) * dy;
    let rhs = (i64::from(p.y) - i64::from(a.y)) * (i64::from(b.x) - i64::from(a.x));
    if dy > 0 { lhs < rhs } else { lhs > rhs }
}

fn clean_ring(mut ring: Vec<FixedPoint>) -> Result<Vec<FixedPoint>, RegionError> {
    ring.dedup();
    while ring.len() > 1 && ring.first() == ring.last() {
        ring.pop();
    }
    if ring.len() < 3 {
        return Err(RegionError::DegenerateRing);
    }
    Ok(ring)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x0: i32, y0: i32, size: i32) -> Vec<FixedPoint> {
        vec![
            FixedPoint::new(x0, y0),
            FixedPoint::new(x0 + size, y0),
            FixedPoint::new(x0 + size, y0 + size),
            FixedPoint::new(x0, y0 + size),
        ]
    }

    #[test]
    fn half_open_rule_owns_lower_and_left_edges() {
        let region = Region::new(vec![vec![square(0, 0, 10)]]).unwrap();
        let check = |x, y, expected| assert_eq!(region.contains(FixedPoint::new(x, y)), expected, "({x},{y})");
        check(5, 5, true);
        check(0, 5, true); // left edge
        check(5, 0, true); // lower edge
        check(0, 0, true); // lower-left corner
        check(10, 5, false); // right edge
        check(5, 10, false); // upper edge
        check(10, 10, false);
        check(-1, 5, false);
    }

    #[test]
    fn holes_are_outside() {
        let region = Region::new(vec![vec![square(0, 0, 30), square(10, 10, 10)]]).unwrap();
        assert!(region.contains(FixedPoint::new(5, 5)));
        assert!(!region.contains(FixedPoint::new(15, 15)));
        assert!(region.contains(FixedPoint::new(20, 15)), "the hole's right edge belongs to the region");
    }

    #[test]
    fn degenerate_rings_are_refused() {
        let ring = vec![FixedPoint::new(0, 0), FixedPoint::new(1, 1), FixedPoint::new(0, 0)];
        assert_eq!(Region::new(vec![vec![ring]]), Err(RegionError::DegenerateRing));
        assert_eq!(Region::new(vec![]), Err(RegionError::Empty));
    }

    #[test]
    fn geojson_rings_are_closed() {
        let region = Region::new(vec![vec![square(1_000_000_000, 270_000_000, 10_000)]]).unwrap();
        let json = region.to_geojson();
        let ring = &json["coordinates"][0][0];
        assert_eq!(ring.as_array().unwrap().len(), 5);
        assert_eq!(ring[0], ring[4]);
        assert_eq!(ring[1][0].as_f64().unwrap(), 100.001);
    }
}
