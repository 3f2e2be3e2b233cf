//! The behaviour every storage engine must show. Each engine's tests call
//! [`conformance_tests!`](crate::conformance_tests) with a function that makes a fresh, empty store,
//! which turns every check below into one test.

use pingan_core::{DivisionCode, GridCode, Level};

use crate::{BoundaryRow, Division, GridRow, Store};

#[macro_export]
macro_rules! conformance_tests {
    ($fresh_store:path) => {
        $crate::conformance_tests!(@each $fresh_store,
            divisions_round_trip,
            renames_update_in_place,
            missing_parent_fails_whole_batch,
            grids_round_trip,
            grid_of_unknown_village_fails_whole_batch,
            boundaries_round_trip,
            geography_writes_bump_the_revision);
    };
    (@each $fresh_store:path, $($check:ident),*) => {
        $(
            #[tokio::test]
            async fn $check() {
                let (store, _guard) = $fresh_store().await;
                $crate::conformance::$check(&store).await;
            }
        )*
    };
}

fn division(code: &str, name: &str) -> Division {
    Division { code: DivisionCode::parse(code).expect("test code"), name: name.to_owned() }
}

fn code(text: &str) -> DivisionCode {
    DivisionCode::parse(text).expect("test code")
}

/// A small tree: 江西 › 萍乡 › 湘东区 › 两个镇 › 三个村. Rows are deliberately out of order.
fn sample_tree() -> Vec<Division> {
    vec![
        division("360313101201", "太和村委会"),
        division("360313", "湘东区"),
        division("36", "江西省"),
        division("360313101", "下埠镇"),
        division("3603", "萍乡市"),
        division("360313102", "排上镇"),
        division("360313101202", "桐梓村委会"),
        division("360313102201", "排上村委会"),
    ]
}

pub async fn divisions_round_trip(store: &dyn Store) {
    store.upsert_divisions(sample_tree()).await.expect("import");
    let town = store.division(&code("360313101")).await.expect("read").expect("present");
    assert_eq!(town.name, "下埠镇");
    assert_eq!(town.level(), Level::Township);
    assert_eq!(store.division(&code("360313103")).await.expect("read"), None);
    let villages: Vec<String> =
        store.children(&code("360313101")).await.expect("read").into_iter().map(|d| d.name).collect();
    assert_eq!(villages, ["太和村委会", "桐梓村委会"]);
    let towns: Vec<String> =
        store.children(&code("360313")).await.expect("read").into_iter().map(|d| d.code.to_string()).collect();
    assert_eq!(towns, ["360313101", "360313102"]);
    let counts = store.count_by_level().await.expect("count");
    assert_eq!(
        counts,
        [(Level::Province, 1), (Level::City, 1), (Level::County, 1), (Level::Township, 2), (Level::Village, 3)]
    );
    assert_eq!(store.division_names().await.expect("names").len(), 8);
}

pub async fn renames_update_in_place(store: &dyn Store) {
    store.upsert_divisions(sample_tree()).await.expect("import");
    store.upsert_divisions(vec![division("360313102", "排上镇（新）")]).await.expect("rename");
    let renamed = store.division(&code("360313102")).await.expect("read").expect("present");
    assert_eq!(renamed.name, "排上镇（新）");
    assert_eq!(store.division_names().await.expect("names").len(), 8);
}

pub async fn missing_parent_fails_whole_batch(store: &dyn Store) {
    store.upsert_divisions(sample_tree()[..5].to_vec()).await.expect("import");
    let before = store.division_names().await.expect("names");
    let batch = vec![division("360313101203", "新村"), division("360313999201", "无主村")];
    let error = store.upsert_divisions(batch).await.expect_err("orphan accepted");
    assert!(matches!(error, crate::StoreError::MissingDivision(_)), "{error}");
    assert_eq!(store.division_names().await.expect("names"), before, "a failed batch wrote something");
}

fn grid(code: &str, name: &str, geometry: &str) -> GridRow {
    GridRow { code: GridCode::parse(code).expect("test code"), name: name.to_owned(), geometry: geometry.to_owned() }
}

const SQUARE: &str =
    r#"{"type":"MultiPolygon","coordinates":[[[[113.8,27.6],[113.9,27.6],[113.9,27.7],[113.8,27.6]]]]}"#;

pub async fn grids_round_trip(store: &dyn Store) {
    store.upsert_divisions(sample_tree()).await.expect("import");
    store
        .put_grids(vec![
            grid("360313101202001", "桐梓村第1网格", SQUARE),
            grid("360313101201001", "太和村第1网格", SQUARE),
            grid("360313102201001", "排上村第1网格", SQUARE),
        ])
        .await
        .expect("grids");
    let in_town: Vec<String> =
        store.grids("360313101").await.expect("read").into_iter().map(|g| g.code.to_string()).collect();
    assert_eq!(in_town, ["360313101201001", "360313101202001"]);
    store.put_grids(vec![grid("360313101201001", "太和村一网格", SQUARE)]).await.expect("replace");
    let all = store.grids("").await.expect("read");
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].name, "太和村一网格");
    assert_eq!(all[0].geometry, SQUARE);
}

pub async fn grid_of_unknown_village_fails_whole_batch(store: &dyn Store) {
    store.upsert_divisions(sample_tree()).await.expect("import");
    let batch = vec![grid("360313101201001", "好网格", SQUARE), grid("360313101299001", "无村网格", SQUARE)];
    let error = store.put_grids(batch).await.expect_err("grid of a missing village accepted");
    assert!(matches!(error, crate::StoreError::MissingDivision(_)), "{error}");
    assert!(store.grids("").await.expect("read").is_empty(), "a failed batch wrote something");
}

pub async fn boundaries_round_trip(store: &dyn Store) {
    store.upsert_divisions(sample_tree()).await.expect("import");
    let row =
        |geometry: &str| BoundaryRow { code: code("360313"), geometry: geometry.to_owned(), source: "test".into() };
    store.put_boundaries(vec![row(SQUARE)]).await.expect("put");
    store.put_boundaries(vec![row(&SQUARE.replace("113.9", "113.95"))]).await.expect("replace");
    let stored = store.boundaries("3603").await.expect("read");
    assert_eq!(stored.len(), 1);
    assert!(stored[0].geometry.contains("113.95"));
    assert!(store.boundaries("3604").await.expect("read").is_empty());
    let orphan = BoundaryRow { code: code("360399"), geometry: SQUARE.into(), source: "test".into() };
    assert!(matches!(store.put_boundaries(vec![orphan]).await, Err(crate::StoreError::MissingDivision(_))));
}

pub async fn geography_writes_bump_the_revision(store: &dyn Store) {
    store.upsert_divisions(sample_tree()).await.expect("import");
    let start = store.geography_revision().await.expect("revision");
    store.put_grids(vec![grid("360313101201001", "太和村第1网格", SQUARE)]).await.expect("grids");
    let after_grids = store.geography_revision().await.expect("revision");
    assert!(after_grids > start);
    let boundary = BoundaryRow { code: code("360313"), geometry: SQUARE.into(), source: "test".into() };
    store.put_boundaries(vec![boundary]).await.expect("boundaries");
    assert!(store.geography_revision().await.expect("revision") > after_grids);
    let failed = store.put_grids(vec![grid("360313101299001", "无村网格", SQUARE)]).await;
    assert!(failed.is_err());
    assert_eq!(store.geography_revision().await.expect("revision"), after_grids + 1, "a failed write bumped it");
}
