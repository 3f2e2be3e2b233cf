//! Reconciling boundary data drawn for an older division tree with today's codes.
//!
//! A crosswalk row says what became of one source area: `renamed` (same area, new code),
//! `merged_into` (its area joins another current unit), or `carved_south_of` (the part of the source
//! area south of a latitude became a new unit and the rest stays with the source code). Rows apply
//! in file order. Afterwards every current unit must have an area and every area must belong to a
//! current unit: nothing is dropped silently.

use std::collections::BTreeMap;

use geo::{BooleanOps, MultiPolygon, Rect, coord};
use pingan_core::Explain;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relation {
    Renamed,
    MergedInto,
    CarvedSouthOf { latitude_micro_degrees: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrosswalkRow {
    pub source_code: String,
    pub relation: Relation,
    pub current_code: String,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrosswalkError {
    #[error("crosswalk line {line}: {reason}")]
    BadRow { line: usize, reason: String },
    #[error("crosswalk line {line}: source area {code} is not in the boundary data (or was already moved)")]
    UnknownSource { line: usize, code: String },
    #[error("no boundary for current unit(s) {}", .0.join(", "))]
    MissingBoundaries(Vec<String>),
    #[error("boundary data for {} matches no current unit and no crosswalk row", .0.join(", "))]
    UnmatchedBoundaries(Vec<String>),
}

impl Explain for CrosswalkError {
    fn code(&self) -> &'static str {
        match self {
            CrosswalkError::BadRow { .. } | CrosswalkError::UnknownSource { .. } => "invalid_crosswalk",
            CrosswalkError::MissingBoundaries(_) => "missing_boundaries",
            CrosswalkError::UnmatchedBoundaries(_) => "unmatched_boundaries",
        }
    }

    fn message_zh(&self) -> String {
        match self {
            CrosswalkError::BadRow { line, reason } => format!("对照表第 {line} 行有误：{reason}"),
            CrosswalkError::UnknownSource { line, code } => format!("对照表第 {line} 行：边界数据中没有区划 {code}"),
            CrosswalkError::MissingBoundaries(codes) => format!("以下现行区划没有边界：{}", codes.join("、")),
            CrosswalkError::UnmatchedBoundaries(codes) => {
                format!("以下边界既不对应现行区划，也不在对照表中：{}", codes.join("、"))
            }
        }
    }

    fn message_en(&self) -> String {
        self.to_string()
    }
}

pub fn parse_crosswalk(bytes: &[u8]) -> Result<Vec<CrosswalkRow>, CrosswalkError> {
    let mut reader = csv::Reader::from_reader(bytes);
    let headers = reader.headers().map_err(|e| CrosswalkError::BadRow { line: 1, reason: e.to_string() })?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| CrosswalkError::BadRow { line: 1, reason: format!("no column {name}") })
    };
    let (source, relation, current, latitude) =
        (column("source_code")?, column("relation")?, column("current_code")?, column("latitude")?);
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let record = record.map_err(|e| CrosswalkError::BadRow { line, reason: e.to_string() })?;
        let field = |i: usize| record.get(i).unwrap_or("").trim().to_owned();
        let relation = match field(relation).as_str() {
            "renamed" => Relation::Renamed,
            "merged_into" => Relation::MergedInto,
            "carved_south_of" => {
                let degrees: f64 = field(latitude)
                    .parse()
                    .map_err(|_| CrosswalkError::BadRow { line, reason: "carved_south_of needs a latitude".into() })?;
                Relation::CarvedSouthOf { latitude_micro_degrees: (degrees * 1e6).round() as i64 }
            }
            other => return Err(CrosswalkError::BadRow { line, reason: format!("unknown relation {other:?}") }),
        };
        rows.push(CrosswalkRow { source_code: field(source), relation, current_code: field(current), line });
    }
    Ok(rows)
}

/// Applies `rows` to `areas` (source code → area) and checks the result against `current_codes`.
pub fn reconcile(
    mut areas: BTreeMap<String, MultiPolygon<f64>>,
    rows: &[CrosswalkRow],
    current_codes: &[String],
) -> Result<BTreeMap<String, MultiPolygon<f64>>, CrosswalkError> {
    for row in rows {
        let unknown = || CrosswalkError::UnknownSource { line: row.line, code: row.source_code.clone() };
        match row.relation {
            Relation::Renamed => {
                let area = areas.remove(&row.source_code).ok_or_else(unknown)?;
                areas.insert(row.current_code.clone(), area);
            }
            Relation::MergedInto => {
                let area = areas.remove(&row.source_code).ok_or_else(unknown)?;
                let merged = match areas.get(&row.current_code) {
                    Some(existing) => existing.union(&area),
                    None => area,
                };
                areas.insert(row.current_code.clone(), merged);
            }
            Relation::CarvedSouthOf { latitude_micro_degrees } => {
                let area = areas.get(&row.source_code).ok_or_else(unknown)?;
                let latitude = latitude_micro_degrees as f64 / 1e6;
                let south = Rect::new(coord! { x: -180.0, y: -90.0 }, coord! { x: 180.0, y: latitude }).to_polygon();
                let carved = area.intersection(&south);
                let rest = area.difference(&south);
                areas.insert(row.source_code.clone(), rest);
                areas.insert(row.current_code.clone(), carved);
            }
        }
    }
    let missing: Vec<String> = current_codes.iter().filter(|c| !areas.contains_key(*c)).cloned().collect();
    if !missing.is_empty() {
        return Err(CrosswalkError::MissingBoundaries(missing));
    }
    let unmatched: Vec<String> = areas.keys().filter(|c| !current_codes.contains(c)).cloned().collect();
    if !unmatched.is_empty() {
        return Err(CrosswalkError::UnmatchedBoundaries(unmatched));
    }
    Ok(areas)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Area;

    fn square(x: f64, y: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![Rect::new(coord! { x: x, y: y }, coord! { x: x + 1.0, y: y + 1.0 }).to_polygon()])
    }

    fn codes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn renames_merges_and_carves() {
        let rows = parse_crosswalk(
            "source_code,source_name,relation,current_code,current_name,latitude,note\n\
             100001,a,renamed,100002,b,,\n\
             100003,c,carved_south_of,100004,d,10.25,\n\
             100005,e,merged_into,100003,c,,\n"
                .as_bytes(),
        )
        .unwrap();
        let areas = BTreeMap::from([
            ("100001".to_owned(), square(0.0, 0.0)),
            ("100003".to_owned(), square(0.0, 10.0)),
            ("100005".to_owned(), square(1.0, 10.0)),
        ]);
        let result = reconcile(areas, &rows, &codes(&["100002", "100003", "100004"])).unwrap();
        assert!((result["100002"].unsigned_area() - 1.0).abs() < 1e-9);
        assert!((result["100004"].unsigned_area() - 0.25).abs() < 1e-9);
        assert!((result["100003"].unsigned_area() - 1.75).abs() < 1e-9);
    }

    #[test]
    fn nothing_is_dropped_silently() {
        let areas = BTreeMap::from([("100001".to_owned(), square(0.0, 0.0))]);
        let error = reconcile(areas.clone(), &[], &codes(&["100001", "100009"])).unwrap_err();
        assert_eq!(error, CrosswalkError::MissingBoundaries(codes(&["100009"])));
        let error = reconcile(areas, &[], &codes(&[])).unwrap_err();
        assert_eq!(error, CrosswalkError::UnmatchedBoundaries(codes(&["100001"])));
        let bad = parse_crosswalk(b"source_code,relation,current_code,latitude\n1,teleported,2,\n").unwrap_err();
        assert_eq!(bad.code(), "invalid_crosswalk");
    }
}
