//! Imports through the use cases on a real SQLite file: bad input is refused with file, line or
//! feature and reason, and nothing is written; good input is imported once and only once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use pingan_app::geography::divisions::{DivisionFile, DivisionImportReport, import_divisions};
use pingan_app::geography::import_grids;
use pingan_app::{Silent, jiangxi};
use pingan_core::{DivisionCode, Explain, Level};
use pingan_store::{DivisionStore, GeographyStore};
use pingan_store_sqlite::SqliteStore;

fn fresh() -> (SqliteStore, tempfile::TempDir) {
    let directory = tempfile::tempdir().unwrap();
    (SqliteStore::open(&directory.path().join("pingan.db")).unwrap(), directory)
}

fn file(name: &str, level: Level, text: &str) -> DivisionFile {
    DivisionFile { name: name.into(), level, bytes: text.as_bytes().to_vec() }
}

fn small_tree() -> Vec<DivisionFile> {
    vec![
        file("provinces.csv", Level::Province, "code,name\n36,\"江西省\"\n"),
        file("cities.csv", Level::City, "code,name,provinceCode\n3603,\"萍乡市\",36\n"),
        file("areas.csv", Level::County, "code,name,cityCode,provinceCode\n360313,\"湘东区\",3603,36\n"),
        file(
            "streets.csv",
            Level::Township,
            "code,name,areaCode,provinceCode,cityCode\n360313101,\"下埠镇\",360313,36,3603\n",
        ),
        file(
            "villages.csv",
            Level::Village,
            "code,name,streetCode,provinceCode,cityCode,areaCode\n360313101201,\"太和村委会\",360313101,36,3603,360313\n",
        ),
    ]
}

#[tokio::test]
async fn import_is_idempotent_and_renames_in_place() {
    let (store, _dir) = fresh();
    let first = import_divisions(&store, &small_tree(), &Silent).await.unwrap();
    assert_eq!(first, DivisionImportReport { read: 5, inserted: 5, renamed: 0, unchanged: 0 });
    let again = import_divisions(&store, &small_tree(), &Silent).await.unwrap();
    assert_eq!(again, DivisionImportReport { read: 5, inserted: 0, renamed: 0, unchanged: 5 });
    let mut renamed = small_tree();
    renamed[3] = file(
        "streets.csv",
        Level::Township,
        "code,name,areaCode,provinceCode,cityCode\n360313101,\"下埠镇（更名）\",360313,36,3603\n",
    );
    let report = import_divisions(&store, &renamed, &Silent).await.unwrap();
    assert_eq!((report.renamed, report.unchanged), (1, 4));
    let town = store.division(&DivisionCode::parse("360313101").unwrap()).await.unwrap().unwrap();
    assert_eq!(town.name, "下埠镇（更名）");
}

#[tokio::test]
async fn bad_rows_are_refused_with_file_line_and_reason_and_nothing_is_written() {
    let villages_header = "code,name,streetCode,provinceCode,cityCode,areaCode\n";
    let cases = [
        ("36031310120,\"短码村\",360313101,36,3603,360313\n", "must be 2, 4, 6, 9 or 12 digits"),
        ("360313101,\"错级村\",360313101,36,3603,360313\n", "is a township code"),
        ("360313109201,\"孤村\",360313109,36,3603,360313\n", "neither in the import nor stored"),
        ("360313101202,\"错父村\",360313102,36,3603,360313\n", "names 360313102 as its township"),
        ("360313101203,\"\",360313101,36,3603,360313\n", "has no name"),
        ("360313101204,\"缺列村\"\n", "fields"),
    ];
    for (row, expected) in cases {
        let (store, _dir) = fresh();
        let mut files = small_tree();
        files[4] = file(
            "villages.csv",
            Level::Village,
            &format!("{villages_header}360313101201,\"太和村委会\",360313101,36,3603,360313\n{row}"),
        );
        let error = import_divisions(&store, &files, &Silent).await.expect_err(row);
        let message = error.to_string();
        assert!(message.starts_with("villages.csv, line 3: "), "{message}");
        assert!(message.contains(expected), "{message} does not say {expected:?}");
        assert_eq!(error.code(), "invalid_row");
        assert!(!error.message_zh().is_empty());
        assert!(store.division_names().await.unwrap().is_empty(), "{row}: something was written");
    }
}

#[tokio::test]
async fn shipped_jiangxi_tree_is_complete() {
    let (store, _dir) = fresh();
    let report = import_divisions(&store, &jiangxi::division_files(), &Silent).await.unwrap();
    assert_eq!(report.inserted, 1 + 11 + 100 + 1767 + 22_080);
    let counts = store.count_by_level().await.unwrap();
    assert_eq!(
        counts,
        [
            (Level::Province, 1),
            (Level::City, 11),
            (Level::County, 100),
            (Level::Township, 1767),
            (Level::Village, 22_080)
        ]
    );
    let chaisang = store.division(&DivisionCode::parse("360404").unwrap()).await.unwrap().unwrap();
    assert_eq!(chaisang.name, "柴桑区");
}

fn grid_feature(code: &str, ring: &str) -> String {
    format!(
        r#"{{"type":"Feature","properties":{{"code":"{code}","name":"网格{code}"}},"geometry":{{"type":"Polygon","coordinates":[{ring}]}}}}"#
    )
}

fn collection(features: &[String]) -> Vec<u8> {
    format!(r#"{{"type":"FeatureCollection","features":[{}]}}"#, features.join(",")).into_bytes()
}

const WEST: &str = "[[113.80,27.60],[113.81,27.60],[113.81,27.61],[113.80,27.61],[113.80,27.60]]";
const EAST: &str = "[[113.81,27.60],[113.82,27.60],[113.82,27.61],[113.81,27.61],[113.81,27.60]]";
const ACROSS: &str = "[[113.805,27.60],[113.815,27.60],[113.815,27.61],[113.805,27.61],[113.805,27.60]]";
const BOW_TIE: &str = "[[113.80,27.60],[113.81,27.61],[113.81,27.60],[113.80,27.61],[113.80,27.60]]";

#[tokio::test]
async fn grid_import_checks_codes_geometry_and_overlaps() {
    let (store, _dir) = fresh();
    import_divisions(&store, &small_tree(), &Silent).await.unwrap();
    let good = collection(&[grid_feature("360313101201001", WEST), grid_feature("360313101201002", EAST)]);
    let report = import_grids(&store, &good).await.unwrap();
    assert_eq!((report.grids, report.villages), (2, 1));

    let cases: Vec<(Vec<u8>, &str)> = vec![
        (collection(&[grid_feature("360313101201003", ACROSS)]), "overlapping_grids"),
        (collection(&[grid_feature("360313101299001", WEST)]), "invalid_feature"),
        (collection(&[grid_feature("36031310120100", WEST)]), "invalid_feature"),
        (collection(&[grid_feature("360313101201004", BOW_TIE)]), "invalid_geometry"),
        (b"{\"type\":\"FeatureCollection\",\"features\":[".to_vec(), "malformed_geojson"),
        (
            collection(&[grid_feature("360313101201005", EAST), grid_feature("360313101201005", WEST)]),
            "invalid_feature",
        ),
    ];
    for (input, expected) in cases {
        let error = import_grids(&store, &input).await.expect_err(expected);
        assert_eq!(error.code(), expected, "{error}");
        let stored: Vec<String> = store.grids("").await.unwrap().into_iter().map(|g| g.code.to_string()).collect();
        assert_eq!(stored, ["360313101201001", "360313101201002"], "{expected}: something was written");
    }
    // Replacing a grid by a reshaped one of the same code is not an overlap with its old self.
    let reshaped = collection(&[grid_feature(
        "360313101201001",
        "[[113.80,27.60],[113.81,27.60],[113.81,27.605],[113.80,27.605],[113.80,27.60]]",
    )]);
    import_grids(&store, &reshaped).await.unwrap();
}
