//! The shipped Jiangxi data loaded as the demo loads it, and points routed through the atlas.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use pingan_app::demo::load_jiangxi;
use pingan_app::geography::atlas::{RouteError, Unplaced};
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

    // Addresses: the deepest division named, its ancestors' names deciding between namesakes.
    let placed = |address: &str| atlas.place_address(address).map(|code| code.to_string());
    assert_eq!(placed("萍乡市安源区光丰街道上柳源村3组"), Ok("360302008205".into()), "a village as 村");
    assert_eq!(placed("光丰街道上柳源村委会旁"), Ok("360302008205".into()), "as the committee's name");
    assert_eq!(placed("安源区凤凰街街道某小区"), Ok("360302002".into()), "a township");
    assert_eq!(placed("安源区某路12号"), Ok("360302".into()), "a county");
    // 上埠村委会 is in 上栗县 and in 芦溪县: the county decides, and without it nothing does.
    assert_eq!(placed("芦溪县上埠村"), Ok("360323103202".into()));
    assert_eq!(placed("上栗县上埠村"), Ok("360322202210".into()));
    let Err(Unplaced::Ambiguous(names)) = placed("上埠村") else { panic!("placed") };
    assert_eq!(names, ["上栗县东源乡上埠村委会", "芦溪县上埠镇上埠村委会"]);
    // 江口村 (湘东区) is part of the name 三江口村 (芦溪县), and is not taken from it.
    assert_eq!(placed("三江口村"), Ok("360323202205".into()));
    // 西顺 lies in 上栗县: written under 芦溪县, only the county written is sure.
    assert_eq!(placed("芦溪县西顺社区"), Ok("360323".into()));
    assert_eq!(placed("上栗县西顺社区"), Ok("360322101002".into()));
    assert_eq!(placed("江西省"), Err(Unplaced::Nowhere), "the province is no place to send a report");
    assert_eq!(placed("南昌市东湖区"), Err(Unplaced::Nowhere), "a city without grids");
    assert_eq!(placed("楼下"), Err(Unplaced::Nowhere));
}
