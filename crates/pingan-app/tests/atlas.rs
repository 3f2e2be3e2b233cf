//! The shipped Jiangxi data loaded as the demo loads it, and points routed through the atlas.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use pingan_app::atlas::RouteError;
use pingan_app::demo::load_jiangxi;
use pingan_app::{Atlas, Silent, jiangxi};
use pingan_core::{DivisionCode, Explain, Level};
use pingan_store::DivisionStore;
use pingan_store_sqlite::SqliteStore;

#[tokio::test]
async fn demo_data_routes_points_to_real_villages() {
    let directory = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&directory.path().join("pingan.db")).unwrap();
    let load = load_jiangxi(&store, &DivisionCode::parse(jiangxi::PINGXIANG).unwrap(), &Silent).await.unwrap();
    assert_eq!(load.boundaries, 100, "every current county has a boundary");
    let pingxiang_villages = store
        .division_names()
        .await
        .unwrap()
        .iter()
        .filter(|d| d.level() == Level::Village && d.code.as_str().starts_with("3603"))
        .count();
    assert!(load.grids >= 2 * pingxiang_villages, "{} grids for {pingxiang_villages} villages", load.grids);

    let atlas = Atlas::load(&store).await.unwrap();
    assert_eq!(atlas.grid_count(), load.grids);
    // 萍乡 city centre, in 安源区.
    let routed = atlas.route(113.8543, 27.6229).unwrap();
    let names: Vec<&str> = routed.chain.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(&names[..2], ["江西省", "萍乡市"]);
    assert_eq!(routed.chain[2].code, "360302", "{names:?}");
    assert_eq!(routed.chain.len(), 5);
    assert_eq!(routed.chain[4].level, Level::Village);
    assert!(routed.grid.code.starts_with(&routed.chain[4].code));
    assert!(routed.grid.name.contains("网格"));

    // 南昌 is in Jiangxi but not gridded in the demo: the error names the nearest grid's divisions.
    let error = atlas.route(115.8582, 28.6820).unwrap_err();
    assert_eq!(error.code(), "outside_served_area");
    let RouteError::Outside { nearest: Some(nearest), .. } = &error else { panic!("{error}") };
    assert_eq!(nearest.chain[1].name, "萍乡市");
    assert!(nearest.distance_km > 100.0, "{error}");
    assert!(error.message_zh().contains("萍乡市"));
    assert_eq!(atlas.route(200.0, 27.0).unwrap_err().code(), "invalid_coordinates");
}
