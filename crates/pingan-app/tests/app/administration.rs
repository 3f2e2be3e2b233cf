//! An administrator's tables over a real SQLite file: only administrators read or change them,
//! each within its area; a bad line refuses the whole file and nothing changes; the category book
//! is changed from a city's or the province's centre only, and takes effect at once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use pingan_app::access::Principal;
use pingan_app::administration;
use pingan_app::categories::DEFAULT_CATEGORIES;
use pingan_app::clock::SystemClock;
use pingan_app::context::Context;
use pingan_core::access::Role;
use pingan_core::{DivisionCode, Explain, GridCode};
use pingan_store::{Division, GridRow, Store};
use pingan_store_sqlite::SqliteStore;

const SQUARE: &str = r#"{"type":"Polygon","coordinates":[[[113.85,27.62],[113.86,27.62],[113.86,27.63],[113.85,27.63],[113.85,27.62]]]}"#;

async fn world() -> (Context, tempfile::TempDir) {
    let directory = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&directory.path().join("pingan.db")).unwrap());
    let divisions = [
        ("36", "江西省"),
        ("3603", "萍乡市"),
        ("360302", "安源区"),
        ("360302008", "光丰街道"),
        ("360302008205", "上柳源村"),
        ("360313", "湘东区"),
        ("360313101", "下埠镇"),
        ("360313101201", "太和村"),
    ];
    let rows = divisions.iter().map(|(c, n)| Division { code: DivisionCode::parse(c).unwrap(), name: (*n).into() });
    store.upsert_divisions(rows.collect()).await.unwrap();
    let grid = |code: &str, name: &str| GridRow {
        code: GridCode::parse(code).unwrap(),
        name: name.into(),
        geometry: SQUARE.into(),
    };
    store
        .put_grids(vec![grid("360302008205001", "上柳源一网格"), grid("360313101201001", "太和一网格")])
        .await
        .unwrap();
    let context = Context::standard(store, Arc::new(SystemClock)).unwrap();
    context.refresh_catalog().await.unwrap();
    (context, directory)
}

fn person(login: &str, unit: &str, roles: &[Role]) -> Principal {
    Principal {
        account_id: login.into(),
        login: login.into(),
        name: login.into(),
        unit: Some(unit.into()),
        roles: roles.to_vec(),
    }
}

#[tokio::test]
async fn grid_staff_and_dispatch_rules_are_replaced_within_the_area_or_not_at_all() {
    let (context, _directory) = world().await;
    let county = person("county-admin", "centre:360302", &[Role::Administrator]);
    let dispatcher = person("dispatcher", "centre:360302", &[Role::CentreDispatcher]);

    let refused = administration::grid_staff(&context, &dispatcher, "").await.unwrap_err();
    assert_eq!(refused.code(), "forbidden");
    let refused = administration::import_grid_staff(&context, &dispatcher, "grid,role,name\n", "x.csv").await;
    assert_eq!(refused.unwrap_err().code(), "forbidden");

    // A line outside the county refuses the file, naming the line; the good line before it is
    // not written either.
    let text = "\u{feff}grid,role,name\n360302008205001,leader,王伟\n360313101201001,member,李娜\n";
    let error = administration::import_grid_staff(&context, &county, text, "staff.csv").await.unwrap_err();
    assert_eq!(error.code(), "invalid_row");
    assert!(error.message_zh().contains("第 3 行"), "{}", error.message_zh());
    assert!(administration::grid_staff(&context, &county, "").await.unwrap().is_empty());

    let text = "\u{feff}grid,role,name\n360302008205001,leader,王伟\n360302008205001,member,李娜\n";
    assert_eq!(administration::import_grid_staff(&context, &county, text, "staff.csv").await.unwrap(), 2);
    let staff = administration::grid_staff(&context, &county, "360302008").await.unwrap();
    assert_eq!(staff.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["王伟", "李娜"]);
    assert_eq!(administration::grid_staff(&context, &county, "360313").await.unwrap_err().code(), "forbidden");

    // A rule takes effect at once: the dispatch book in force sends the category there.
    let rules = "category,division,unit\ndispute.neighbour,360313,centre:360313\n";
    let error = administration::import_dispatch_rules(&context, &county, rules, "rules.csv").await.unwrap_err();
    assert!(error.to_string().contains("line 2"), "{error}");
    let rules = "category,division,unit\ndispute.neighbour,360302008,centre:360302\n";
    assert_eq!(administration::import_dispatch_rules(&context, &county, rules, "rules.csv").await.unwrap(), 1);
    let listed = administration::dispatch_rules(&context, &county).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].category.as_str(), listed[0].unit.as_str()), ("dispute.neighbour", "centre:360302"));
    let category = context.category("dispute.neighbour").unwrap();
    let place = DivisionCode::parse("360302008205").unwrap();
    assert_eq!(context.dispatch_book().choose(&category, &place, None).as_deref(), Some("centre:360302"));
    let other = person("xiangdong-admin", "centre:360313", &[Role::Administrator]);
    assert!(administration::dispatch_rules(&context, &other).await.unwrap().is_empty(), "another county's rules");
}

#[tokio::test]
async fn the_category_book_is_changed_from_a_city_or_the_province_and_takes_effect_at_once() {
    let (context, _directory) = world().await;
    let county = person("county-admin", "centre:360302", &[Role::Administrator]);
    let city = person("city-admin", "centre:3603", &[Role::Administrator]);
    let (version, text) = administration::category_book(&context, &county).await.unwrap();
    assert_eq!((version, text.as_str()), (1, DEFAULT_CATEGORIES));

    let longer = DEFAULT_CATEGORIES.replace(
        "life.repair,life,家电维修,Appliance repair,village,,8,40",
        "life.repair,life,家电维修,Appliance repair,village,,8,48",
    );
    assert_ne!(longer, DEFAULT_CATEGORIES);
    let refused = administration::import_categories(&context, &county, &longer, "book.csv").await.unwrap_err();
    assert_eq!(refused.code(), "forbidden");

    // A book that leaves out a category in use is refused whole.
    let dropped: String =
        DEFAULT_CATEGORIES.lines().filter(|l| !l.starts_with("life.errand,")).map(|l| format!("{l}\n")).collect();
    let refused = administration::import_categories(&context, &city, &dropped, "book.csv").await.unwrap_err();
    assert_eq!(refused.code(), "category_dropped");
    assert_eq!(context.categories().version(), 1);

    let version =
        administration::import_categories(&context, &city, &format!("\u{feff}{longer}"), "book.csv").await.unwrap();
    assert_eq!(version, 2);
    assert_eq!(context.categories().version(), 2, "in force at once");
    let repair = context.category("life.repair").unwrap();
    assert_eq!(repair.deadlines.unwrap()[0].resolve_minutes, 48 * 60);
    assert_eq!(administration::category_book(&context, &county).await.unwrap(), (2, longer));
}
