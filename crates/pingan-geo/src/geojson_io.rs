//! Reading area GeoJSON: a FeatureCollection whose features are Polygons or MultiPolygons, each
//! naming its division or grid by a `code` property (or, failing that, the feature's `id`).

use geo::{MultiPolygon, Polygon, Validation};
use geojson::{FeatureCollection, GeometryValue, feature::Id};
use pingan_core::Explain;

use crate::region::{Region, RegionError};

#[derive(Clone, Debug)]
pub struct CodedShape {
    pub code: String,
    pub name: Option<String>,
    pub shape: MultiPolygon<f64>,
    pub region: Region,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GeoJsonError {
    #[error("not a GeoJSON FeatureCollection: {0}")]
    Malformed(String),
    #[error("feature {feature}: no `code` property and no `id`")]
    MissingCode { feature: usize },
    #[error("feature {feature} ({code}): no geometry")]
    MissingGeometry { feature: usize, code: String },
    #[error("feature {feature} ({code}): a {kind} is not an area; use Polygon or MultiPolygon")]
    NotAnArea { feature: usize, code: String, kind: String },
    #[error("feature {feature} ({code}): invalid geometry: {reason}")]
    InvalidGeometry { feature: usize, code: String, reason: String },
}

impl Explain for GeoJsonError {
    fn code(&self) -> &'static str {
        match self {
            GeoJsonError::Malformed(_) => "malformed_geojson",
            GeoJsonError::MissingCode { .. } => "missing_code",
            GeoJsonError::MissingGeometry { .. } | GeoJsonError::NotAnArea { .. } => "not_an_area",
            GeoJsonError::InvalidGeometry { .. } => "invalid_geometry",
        }
    }

    fn message_zh(&self) -> String {
        match self {
            GeoJsonError::Malformed(reason) => format!("不是有效的 GeoJSON 要素集合：{reason}"),
            GeoJsonError::MissingCode { feature } => format!("第 {feature} 个要素缺少 code 属性或 id"),
            GeoJsonError::MissingGeometry { feature, code } => format!("第 {feature} 个要素（{code}）没有几何图形"),
            GeoJsonError::NotAnArea { feature, code, kind } => {
                format!("第 {feature} 个要素（{code}）的几何类型 {kind} 不是面，应为 Polygon 或 MultiPolygon")
            }
            GeoJsonError::InvalidGeometry { feature, code, reason } => {
                format!("第 {feature} 个要素（{code}）的几何图形无效：{reason}")
            }
        }
    }

    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// What to do with a self-intersecting or otherwise invalid area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvalidAreas {
    /// Refuse the whole input, naming the feature: for data a user hands in.
    Refuse,
    /// Keep it as it is: for the shipped source data, whose 1/1024° quantisation leaves every county
    /// border folding back on itself somewhere. Everything that reads areas (rasterising, the
    /// point-in-polygon test, boolean operations) uses the even-odd rule, under which such slivers
    /// are harmless.
    Accept,
}

/// Parses and validates every feature; the first problem found is returned and nothing is kept.
/// Features are numbered from 1 in messages.
pub fn read_areas(bytes: &[u8], invalid_areas: InvalidAreas) -> Result<Vec<CodedShape>, GeoJsonError> {
    let text = std::str::from_utf8(bytes).map_err(|e| GeoJsonError::Malformed(e.to_string()))?;
    let collection: FeatureCollection =
        text.parse().map_err(|e: geojson::Error| GeoJsonError::Malformed(e.to_string()))?;
    collection
        .features
        .iter()
        .enumerate()
        .map(|(index, feature)| {
            let number = index + 1;
            let property = |key: &str| feature.property(key).and_then(|v| v.as_str()).map(str::to_owned);
            let code = property("code")
                .or_else(|| match &feature.id {
                    Some(Id::String(id)) => Some(id.clone()),
                    Some(Id::Number(id)) => Some(id.to_string()),
                    None => None,
                })
                .ok_or(GeoJsonError::MissingCode { feature: number })?;
            let geometry = feature
                .geometry
                .as_ref()
                .ok_or_else(|| GeoJsonError::MissingGeometry { feature: number, code: code.clone() })?;
            let shape = match &geometry.value {
                GeometryValue::Polygon { .. } => {
                    Polygon::<f64>::try_from(&geometry.value).map(|p| MultiPolygon(vec![p]))
                }
                GeometryValue::MultiPolygon { .. } => MultiPolygon::<f64>::try_from(&geometry.value),
                other => {
                    return Err(GeoJsonError::NotAnArea { feature: number, code, kind: other.type_name().to_owned() });
                }
            }
            .map_err(|e| GeoJsonError::InvalidGeometry {
                feature: number,
                code: code.clone(),
                reason: e.to_string(),
            })?;
            let invalid =
                |reason: String| GeoJsonError::InvalidGeometry { feature: number, code: code.clone(), reason };
            if invalid_areas == InvalidAreas::Refuse
                && let Some(problem) = shape.validation_errors().first()
            {
                return Err(invalid(problem.to_string()));
            }
            let region = Region::from_geo(&shape).map_err(|e: RegionError| invalid(e.to_string()))?;
            Ok(CodedShape { code: code.clone(), name: property("name"), shape, region })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collection(features: &str) -> Vec<u8> {
        format!(r#"{{"type":"FeatureCollection","features":[{features}]}}"#).into_bytes()
    }

    const SQUARE: &str = r#"{"type":"Polygon","coordinates":[[[113,27],[114,27],[114,28],[113,28],[113,27]]]}"#;

    #[test]
    fn reads_codes_from_property_or_id() {
        let bytes = collection(&format!(
            r#"{{"type":"Feature","properties":{{"code":"360302","name":"安源区"}},"geometry":{SQUARE}}},
               {{"type":"Feature","id":"360313","properties":{{}},"geometry":{SQUARE}}}"#
        ));
        let shapes = read_areas(&bytes, InvalidAreas::Refuse).unwrap();
        assert_eq!(shapes[0].code, "360302");
        assert_eq!(shapes[0].name.as_deref(), Some("安源区"));
        assert_eq!(shapes[1].code, "360313");
    }

    #[test]
    fn bad_input_is_named() {
        let bow_tie = r#"{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}"#;
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"{not json".to_vec(), "malformed_geojson"),
            (br#"{"type":"Feature","properties":{},"geometry":null}"#.to_vec(), "malformed_geojson"),
            (collection(&format!(r#"{{"type":"Feature","properties":{{}},"geometry":{SQUARE}}}"#)), "missing_code"),
            (
                collection(
                    r#"{"type":"Feature","properties":{"code":"36"},"geometry":{"type":"Point","coordinates":[1,2]}}"#,
                ),
                "not_an_area",
            ),
            (collection(r#"{"type":"Feature","properties":{"code":"36"},"geometry":null}"#), "not_an_area"),
            (
                collection(&format!(r#"{{"type":"Feature","properties":{{"code":"36"}},"geometry":{bow_tie}}}"#)),
                "invalid_geometry",
            ),
            (
                collection(
                    r#"{"type":"Feature","properties":{"code":"36"},"geometry":{"type":"Polygon","coordinates":[[[200,0],[201,0],[201,1],[200,0]]]}}"#,
                ),
                "invalid_geometry",
            ),
        ];
        for (bytes, expected) in cases {
            let error = read_areas(&bytes, InvalidAreas::Refuse).expect_err(expected);
            assert_eq!(error.code(), expected, "{error}");
        }
    }
}
