//! Fixed-point WGS-84 coordinates.

use pingan_core::Explain;

/// Units per degree: one unit is 1e-7 degree, about 1.1 cm of latitude.
pub const UNITS_PER_DEGREE: f64 = 1e7;

/// A longitude/latitude pair in 1e-7 degree units. `x` is longitude, `y` latitude.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FixedPoint {
    pub x: i32,
    pub y: i32,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("coordinates lon={lon} lat={lat} are not a valid WGS-84 position")]
pub struct OutOfRange {
    pub lon: f64,
    pub lat: f64,
}

impl Explain for OutOfRange {
    fn code(&self) -> &'static str {
        "invalid_coordinates"
    }
    fn message_zh(&self) -> String {
        format!("坐标无效：经度 {}、纬度 {} 不是有效的 WGS-84 位置", self.lon, self.lat)
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

impl FixedPoint {
    pub fn new(x: i32, y: i32) -> FixedPoint {
        FixedPoint { x, y }
    }

    /// Rounds a WGS-84 position to the nearest unit; refuses NaN and positions off the globe.
    pub fn from_degrees(lon: f64, lat: f64) -> Result<FixedPoint, OutOfRange> {
        if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
            return Err(OutOfRange { lon, lat });
        }
        // In range, so both products fit an i32 (180e7 < 2^31).
        Ok(FixedPoint { x: (lon * UNITS_PER_DEGREE).round() as i32, y: (lat * UNITS_PER_DEGREE).round() as i32 })
    }

    pub fn lon(self) -> f64 {
        f64::from(self.x) / UNITS_PER_DEGREE
    }

    pub fn lat(self) -> f64 {
        f64::from(self.y) / UNITS_PER_DEGREE
    }
}

/// An axis-aligned box, inclusive on all sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bbox {
    pub min: FixedPoint,
    pub max: FixedPoint,
}

impl Bbox {
    pub fn of_points(points: impl IntoIterator<Item = FixedPoint>) -> Option<Bbox> {
        let mut points = points.into_iter();
        let first = points.next()?;
        let mut bbox = Bbox { min: first, max: first };
        for p in points {
            bbox.extend(p);
        }
        Some(bbox)
    }

    pub fn extend(&mut self, p: FixedPoint) {
        self.min.x = self.min.x.min(p.x);
        self.min.y = self.min.y.min(p.y);
        self.max.x = self.max.x.max(p.x);
        self.max.y = self.max.y.max(p.y);
    }

    pub fn union(self, other: Bbox) -> Bbox {
        let mut bbox = self;
        bbox.extend(other.min);
        bbox.extend(other.max);
        bbox
    }

    pub fn contains(&self, p: FixedPoint) -> bool {
        self.min.x <= p.x && p.x <= self.max.x && self.min.y <= p.y && p.y <= self.max.y
    }

    pub fn width(&self) -> i64 {
        i64::from(self.max.x) - i64::from(self.min.x)
    }

    pub fn height(&self) -> i64 {
        i64::from(self.max.y) - i64::from(self.min.y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degrees_round_trip_to_the_unit() {
        let p = FixedPoint::from_degrees(113.8543211, 27.6229876).unwrap();
        assert_eq!(p, FixedPoint::new(1_138_543_211, 276_229_876));
        assert_eq!(p.lon(), 113.8543211);
    }

    #[test]
    fn off_the_globe_is_refused() {
        for (lon, lat) in [(181.0, 0.0), (0.0, -90.5), (f64::NAN, 1.0), (1.0, f64::INFINITY)] {
            assert!(FixedPoint::from_degrees(lon, lat).is_err(), "{lon},{lat}");
        }
    }
}
