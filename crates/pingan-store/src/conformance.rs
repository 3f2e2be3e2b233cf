//! The behaviour every storage engine must show. Each engine's tests call
//! [`conformance_tests!`](crate::conformance_tests) with a function that makes a fresh, empty store,
//! which turns every check below into one test.

use pingan_core::{DivisionCode, GridCode, Level, Month, Timestamp};

use crate::accounts::{AccessEntry, AccessQuery, AccountRow, CredentialKind, CredentialRow};
use crate::cases::{ActionRecord, CaseBody, CaseFilter, CaseRow, Created, DuplicateSearch, NewCase, Visibility};
use crate::idempotency::KeptAnswer;
use crate::indicators::{
    Facet, GridWorkloadQuery, OverdueCount, OverdueQuery, Scope, Tally, TallyKey, TallyQuery, TallyRow, contributions,
};
use crate::webhooks::{Attempt, DeliveryState, NewWebhook};
use crate::{BoundaryRow, Division, GridRow, NewPhoto, Store, StoreError};
use pingan_core::access::Role;
use pingan_core::case::{CaseNumber, Channel, GENESIS};
use pingan_core::category::Priority;
use pingan_core::lifecycle::Status;

/// An instant of a test's own clock.
fn ms(millis: i64) -> Timestamp {
    Timestamp::from_millis(millis)
}

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
            geography_writes_bump_the_revision,
            cases_are_numbered_per_city_and_day,
            idempotency_keys_return_the_first_case,
            a_key_reused_for_another_request_is_refused_whole,
            actions_chain_their_hashes_and_check_versions,
            a_body_is_replaced_only_at_its_version,
            case_lists_filter_and_page,
            a_failed_case_write_leaves_nothing,
            a_new_case_finds_similar_cases_written_before_it,
            an_imports_reports_find_similar_cases_stored_before_and_earlier_in_it,
            a_batch_of_cases_is_written_whole_or_not_at_all,
            units_staff_and_rules_round_trip,
            category_versions_are_numbered_and_kept,
            photos_are_stored_once_by_hash,
            photos_no_case_names_are_removed_and_counted_per_uploader,
            visibility_lists_only_what_a_scope_may_see,
            accounts_round_trip_and_logins_are_unique,
            credentials_are_found_by_secret_and_revoked,
            the_access_log_is_read_by_subtree,
            webhook_deliveries_are_written_with_their_actions,
            idempotency_keys_are_claimed_answered_and_forgotten,
            a_key_given_up_during_a_claim_is_claimed_again,
            cases_are_found_by_the_text_they_hold,
            tallies_follow_every_write_and_equal_a_recount);
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

fn new_case(id: &str, division: &str, reported_at: i64, key: Option<&str>) -> NewCase {
    let division = code(division);
    let city = DivisionCode::parse(&division.as_str()[..4]).expect("city");
    NewCase {
        row: CaseRow {
            id: id.to_owned(),
            number: None,
            city,
            status: Status::Reported,
            channel: Channel::Resident,
            category: "dispute.neighbour".into(),
            priority: Priority::Normal,
            division,
            handler: None,
            grid: None,
            reported_at: ms(reported_at),
            claim_due: None,
            resolve_due: Some(ms(reported_at + 1000)),
            alert_at: Some(ms(reported_at + 800)),
            version: 0,
            idempotency_key: key.map(str::to_owned),
            reporter_account: None,
            body: CaseBody { description: format!("案件 {id}"), ..CaseBody::default() },
        },
        day: chrono::NaiveDate::from_ymd_opt(2026, 11, 28).expect("date"),
        similar: None,
        notify: Vec::new(),
        entries: vec![ActionRecord {
            at: ms(reported_at),
            actor: "resident:1".into(),
            action: "report".into(),
            status_after: Status::Reported,
            details: "{}".into(),
        }],
    }
}

fn created(outcome: Created) -> CaseRow {
    match outcome {
        Created::New(row, _) => row,
        Created::Existing(row) => panic!("case {} already existed", row.id),
    }
}

async fn tree_with_two_cities(store: &dyn Store) {
    let mut tree = sample_tree();
    tree.extend([division("3601", "南昌市"), division("360102", "东湖区")]);
    store.upsert_divisions(tree).await.expect("import");
}

pub async fn cases_are_numbered_per_city_and_day(store: &dyn Store) {
    tree_with_two_cities(store).await;
    let first = created(store.create_case(new_case("a1", "360313101", 1, None)).await.expect("create"));
    let second = created(store.create_case(new_case("a2", "360313", 2, None)).await.expect("create"));
    let other_city = created(store.create_case(new_case("a3", "360102", 3, None)).await.expect("create"));
    let number = |row: &CaseRow| row.number.as_ref().expect("numbered").to_string();
    assert_eq!(number(&first), "3603-20261128-000001");
    assert_eq!(number(&second), "3603-20261128-000002");
    assert_eq!(number(&other_city), "3601-20261128-000001");
    assert_eq!(first.version, 1);
    let by_number =
        store.case_by_number(&CaseNumber::parse("3603-20261128-000002").expect("number")).await.expect("read");
    assert_eq!(by_number.as_ref(), Some(&second));
    assert_eq!(store.case_by_id("a1").await.expect("read"), Some(first));
    assert_eq!(store.case_by_id("zz").await.expect("read"), None);
}

pub async fn idempotency_keys_return_the_first_case(store: &dyn Store) {
    tree_with_two_cities(store).await;
    let first = created(store.create_case(new_case("k1", "360313", 1, Some("client-42"))).await.expect("create"));
    let retry = store.create_case(new_case("k2", "360313", 2, Some("client-42"))).await.expect("retry");
    assert_eq!(retry, Created::Existing(first.clone()));
    assert_eq!(store.case_by_id("k2").await.expect("read"), None, "a twin was written");
    let next = created(store.create_case(new_case("k3", "360313", 3, None)).await.expect("create"));
    assert_eq!(next.number.expect("numbered").to_string(), "3603-20261128-000002", "the retry used a number");
}

/// A new case with key `key` made from the request whose digest is `digest`.
fn keyed_case(id: &str, reported_at: i64, key: &str, digest: &str) -> NewCase {
    let mut new = new_case(id, "360313", reported_at, Some(key));
    new.row.body.request_digest = Some(digest.to_owned());
    new
}

pub async fn a_key_reused_for_another_request_is_refused_whole(store: &dyn Store) {
    tree_with_two_cities(store).await;
    let first = created(store.create_case(keyed_case("r1", 1, "client-7", "aaaa")).await.expect("create"));
    let retry = store.create_case(keyed_case("r2", 2, "client-7", "aaaa")).await.expect("the same request again");
    assert_eq!(retry, Created::Existing(first.clone()));
    let reused = store.create_case(keyed_case("r3", 3, "client-7", "bbbb")).await;
    assert!(matches!(&reused, Err(StoreError::KeyReused(key)) if key == "client-7"), "{reused:?}");
    // In a batch: the whole batch is refused, whether the key was used before it or in it.
    let batches = [
        vec![keyed_case("r4", 4, "client-8", "cccc"), keyed_case("r5", 5, "client-7", "bbbb")],
        vec![keyed_case("r6", 6, "client-9", "dddd"), keyed_case("r7", 7, "client-9", "eeee")],
    ];
    for batch in batches {
        let refused = store.create_cases(batch).await;
        assert!(matches!(refused, Err(StoreError::KeyReused(_))), "{refused:?}");
    }
    for id in ["r3", "r4", "r5", "r6", "r7"] {
        assert_eq!(store.case_by_id(id).await.expect("read"), None, "{id} was written");
    }
    let next = created(store.create_case(new_case("r8", "360313", 8, None)).await.expect("create"));
    assert_eq!(next.number.expect("numbered").to_string(), "3603-20261128-000002", "a refused case kept a number");
}

pub async fn actions_chain_their_hashes_and_check_versions(store: &dyn Store) {
    tree_with_two_cities(store).await;
    let mut new = new_case("h1", "360313101", 10, None);
    let accept = ActionRecord {
        at: ms(11),
        actor: "centre:360313101".into(),
        action: "accept".into(),
        status_after: Status::Accepted,
        details: "{}".into(),
    };
    new.entries.push(accept);
    new.row.status = Status::Accepted;
    let case = created(store.create_case(new).await.expect("create"));
    assert_eq!(case.version, 2, "one version per entry");
    let dispatch = ActionRecord {
        at: ms(20),
        actor: "centre:360313101".into(),
        action: "dispatch".into(),
        status_after: Status::Dispatched,
        details: r#"{"to":"centre:360313101"}"#.into(),
    };
    let dispatched = CaseRow { status: Status::Dispatched, alert_at: Some(ms(4242)), ..case.clone() };
    let after = store.record_action(2, dispatch.clone(), dispatched.clone(), Vec::new()).await.expect("dispatch");
    assert_eq!(after.version, 3);
    assert_eq!(store.case_by_id("h1").await.expect("read"), Some(after.clone()));
    // A second operator still holding version 2 loses.
    let stale = store.record_action(2, dispatch.clone(), dispatched, Vec::new()).await;
    assert!(matches!(stale, Err(StoreError::Conflict { expected: 2, actual: 3 })), "{stale:?}");
    let missing = store.record_action(3, dispatch, CaseRow { id: "nope".into(), ..case }, Vec::new()).await;
    assert!(matches!(missing, Err(StoreError::NoSuchCase(_))));
    let history = store.history("h1").await.expect("history");
    assert_eq!(history.iter().map(|h| h.sequence).collect::<Vec<_>>(), [1, 2, 3]);
    let mut previous = GENESIS;
    for entry in &history {
        assert_eq!(entry.record.hash("h1", entry.sequence, &previous), entry.hash, "entry {}", entry.sequence);
        previous = entry.hash;
    }
    assert_eq!(history[2].record.status_after, Status::Dispatched);
    assert_eq!(history[2].record.details, r#"{"to":"centre:360313101"}"#);
}

pub async fn a_body_is_replaced_only_at_its_version(store: &dyn Store) {
    tree_with_two_cities(store).await;
    let case = created(store.create_case(new_case("b1", "360313101", 10, None)).await.expect("create"));
    let body = CaseBody { reporter_sealed: Some("k2.sealed-again".into()), ..case.body.clone() };
    store.replace_body("b1", case.version, &body).await.expect("replace");
    let read = store.case_by_id("b1").await.expect("read").expect("the case");
    assert_eq!((read.body, read.version), (body.clone(), case.version), "the body changed, the version did not");
    let stale = store.replace_body("b1", case.version + 1, &CaseBody::default()).await;
    assert!(matches!(stale, Err(StoreError::Conflict { .. })), "{stale:?}");
    let missing = store.replace_body("nowhere", 1, &body).await;
    assert!(matches!(missing, Err(StoreError::NoSuchCase(_))), "{missing:?}");
    assert_eq!(store.history("b1").await.expect("history").len() as i64, case.version, "no history entry");
}

pub async fn case_lists_filter_and_page(store: &dyn Store) {
    tree_with_two_cities(store).await;
    for (i, division) in ["360313101", "360313102", "360313101", "360102", "360313"].iter().enumerate() {
        created(store.create_case(new_case(&format!("l{i}"), division, 100 + i as i64, None)).await.expect("create"));
    }
    let ids = |rows: Vec<CaseRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let township = CaseFilter { division: Some(code("360313101")), limit: 10, ..CaseFilter::default() };
    assert_eq!(ids(store.list_cases(&township).await.expect("list")), ["l2", "l0"]);
    let county = CaseFilter { division: Some(code("360313")), limit: 10, ..CaseFilter::default() };
    assert_eq!(ids(store.list_cases(&county).await.expect("list")), ["l4", "l2", "l1", "l0"]);
    let page = CaseFilter { limit: 2, ..county.clone() };
    let first_page = store.list_cases(&page).await.expect("list");
    let last = first_page.last().expect("a page");
    let next = CaseFilter { after: Some((last.reported_at, last.id.clone())), ..page };
    assert_eq!(ids(first_page.clone()), ["l4", "l2"]);
    assert_eq!(ids(store.list_cases(&next).await.expect("list")), ["l1", "l0"]);
    assert_eq!(store.count_cases(&next).await.expect("count"), 4, "a count ignores the page");
    assert_eq!(store.count_cases(&township).await.expect("count"), 2);
    let open = CaseFilter {
        statuses: vec![Status::Reported, Status::Dispatched],
        categories: vec!["dispute.neighbour".into()],
        limit: 3,
        ..county.clone()
    };
    let first_open = store.list_cases(&open).await.expect("list");
    assert_eq!(ids(first_open.clone()), ["l4", "l2", "l1"]);
    let last = first_open.last().expect("a page");
    let rest = CaseFilter { after: Some((last.reported_at, last.id.clone())), ..open };
    assert_eq!(ids(store.list_cases(&rest).await.expect("list")), ["l0"]);
    let closed = CaseFilter { statuses: vec![Status::Closed], limit: 10, ..CaseFilter::default() };
    assert!(store.list_cases(&closed).await.expect("list").is_empty());
    let hotline = CaseFilter { channel: Some(Channel::Hotline), limit: 10, ..CaseFilter::default() };
    assert!(store.list_cases(&hotline).await.expect("list").is_empty());
    let resident = CaseFilter { channel: Some(Channel::Resident), ..hotline };
    assert_eq!(store.count_cases(&resident).await.expect("count"), 5);
    // resolve_due is reported_at + 1000: at 1102 the first three are overdue.
    let overdue = CaseFilter { overdue_at: Some(ms(1102)), limit: 10, ..CaseFilter::default() };
    assert_eq!(ids(store.list_cases(&overdue).await.expect("list")), ["l1", "l0"]);
    // alert_at is reported_at + 800: at 902 the first three are due for the sweep.
    let alerts = CaseFilter { alert_due: Some(ms(902)), limit: 10, ..CaseFilter::default() };
    assert_eq!(ids(store.list_cases(&alerts).await.expect("list")), ["l2", "l1", "l0"]);
    let window =
        CaseFilter { reported_from: Some(ms(101)), reported_before: Some(ms(103)), limit: 10, ..CaseFilter::default() };
    assert_eq!(ids(store.list_cases(&window).await.expect("list")), ["l2", "l1"]);
    assert_eq!(store.case_ids(None, 2).await.expect("ids"), ["l0", "l1"]);
    assert_eq!(store.case_ids(Some("l3"), 10).await.expect("ids"), ["l4"]);
}

pub async fn a_failed_case_write_leaves_nothing(store: &dyn Store) {
    tree_with_two_cities(store).await;
    // 360399 is not a stored division: the whole write fails, the day's counter included.
    let error = store.create_case(new_case("f1", "360399", 1, None)).await.expect_err("orphan case");
    assert!(matches!(error, StoreError::MissingDivision(_) | StoreError::Database(_)), "{error}");
    assert_eq!(store.case_by_id("f1").await.expect("read"), None);
    let next = created(store.create_case(new_case("f2", "360313", 2, None)).await.expect("create"));
    assert_eq!(next.number.expect("numbered").to_string(), "3603-20261128-000001");
}

/// A search for open cases of `category` in village 360313101201, reported since 5, around
/// (113.80, 27.60).
fn search_near_113_80(category: &str) -> DuplicateSearch {
    DuplicateSearch {
        category: category.to_owned(),
        village: "360313101201".into(),
        reported_from: ms(5),
        west: 113.79,
        east: 113.81,
        south: 27.59,
        north: 27.61,
    }
}

pub async fn a_new_case_finds_similar_cases_written_before_it(store: &dyn Store) {
    tree_with_two_cities(store).await;
    let grids = ["360313101201001", "360313101201002", "360313101202001"];
    store.put_grids(grids.iter().map(|code| grid(code, "网格", SQUARE)).collect()).await.expect("grids");
    let in_grid = |id: &str, grid: &str, reported_at: i64, lon: f64, category: &str| {
        let mut new = new_case(id, "360313101", reported_at, None);
        new.row.grid = Some(GridCode::parse(grid).expect("grid"));
        (new.row.body.lon, new.row.body.lat) = (Some(lon), Some(27.6));
        new.row.category = category.to_owned();
        new
    };
    let located =
        |id: &str, reported_at: i64, lon: f64, category: &str| in_grid(id, grids[0], reported_at, lon, category);
    let first = created(store.create_case(located("s1", 10, 113.80, "dispute.neighbour")).await.expect("create"));
    assert_eq!((first.body.lon, first.body.lat), (Some(113.80), Some(27.6)), "the point did not round-trip");
    store.create_case(located("s0", 1, 113.80, "dispute.neighbour")).await.expect("too early");
    store.create_case(located("s3", 11, 113.90, "dispute.neighbour")).await.expect("too far");
    store.create_case(located("s4", 12, 113.80, "dispute.family")).await.expect("other category");
    let mut closed = located("s5", 13, 113.80, "dispute.neighbour");
    closed.row.status = Status::Closed;
    store.create_case(closed).await.expect("closed");
    store.create_case(in_grid("s6", grids[2], 14, 113.80, "dispute.neighbour")).await.expect("other village");
    let beside = created(
        store.create_case(in_grid("s7", grids[1], 15, 113.8002, "dispute.neighbour")).await.expect("next grid"),
    );
    let mut second = located("s2", 20, 113.8001, "dispute.neighbour");
    second.similar = Some(search_near_113_80("dispute.neighbour"));
    let Created::New(row, similar) = store.create_case(second).await.expect("create") else {
        panic!("an existing case")
    };
    let found: Vec<&str> = similar.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        found,
        ["s7", "s1"],
        "open cases of the category in the village's grids, newest first; the search runs before the new case is \
         written, and only in its window"
    );
    assert_eq!(similar[0].number, beside.number.expect("numbered").to_string());
    assert_eq!((similar[1].lon, similar[1].lat), (113.80, 27.6));
    assert_eq!(similar[1].number, first.number.expect("numbered").to_string());
    assert_eq!(row.id, "s2");
}

/// A report at (113.80, 27.60) in `grid` of village 360313101201, searching for its duplicates.
pub fn report_near_113_80(id: &str, grid: &str, reported_at: i64, category: &str, status: Status) -> NewCase {
    let mut new = new_case(id, "360313101", reported_at, None);
    new.row.grid = Some(GridCode::parse(grid).expect("grid"));
    (new.row.body.lon, new.row.body.lat) = (Some(113.80), Some(27.6));
    new.row.category = category.to_owned();
    new.row.status = status;
    new.similar = Some(search_near_113_80(category));
    new
}

/// The divisions and the grid (360313101201001) that [`report_near_113_80`]'s reports lie in.
pub async fn a_grid_to_report_in(store: &dyn Store) {
    tree_with_two_cities(store).await;
    store.put_grids(vec![grid("360313101201001", "网格", SQUARE)]).await.expect("grids");
}

/// An import's report finds the similar open cases stored before the import and those earlier in
/// the import, newest first; not a later report of the import, a closed one or another category.
pub async fn an_imports_reports_find_similar_cases_stored_before_and_earlier_in_it(store: &dyn Store) {
    tree_with_two_cities(store).await;
    let grids = ["360313101201001", "360313101201002"];
    store.put_grids(grids.iter().map(|code| grid(code, "网格", SQUARE)).collect()).await.expect("grids");
    let open = Status::Reported;
    store.create_case(report_near_113_80("s1", grids[0], 10, "dispute.neighbour", open)).await.expect("stored before");
    let import = vec![
        report_near_113_80("i1", grids[0], 21, "dispute.neighbour", open),
        report_near_113_80("i2", grids[0], 22, "dispute.family", open),
        report_near_113_80("i3", grids[1], 23, "dispute.neighbour", open),
        report_near_113_80("i4", grids[0], 24, "dispute.neighbour", Status::Closed),
        report_near_113_80("i5", grids[1], 25, "dispute.neighbour", open),
    ];
    let found: Vec<Vec<String>> = store
        .create_cases(import)
        .await
        .expect("import")
        .into_iter()
        .map(|made| match made {
            Created::New(_, similar) => similar.into_iter().map(|c| c.id).collect(),
            Created::Existing(row) => panic!("{} existed", row.id),
        })
        .collect();
    assert_eq!(found, [vec!["s1"], vec![], vec!["i1", "s1"], vec!["i3", "i1", "s1"], vec!["i3", "i1", "s1"]]);
}

pub async fn a_batch_of_cases_is_written_whole_or_not_at_all(store: &dyn Store) {
    tree_with_two_cities(store).await;
    let mut bad = vec![new_case("b1", "360313", 1, None), new_case("b2", "360102", 2, None)];
    bad.push(new_case("b3", "360399", 3, None));
    assert!(store.create_cases(bad).await.is_err(), "a batch with an unknown division was accepted");
    assert_eq!(store.case_by_id("b1").await.expect("read"), None, "part of a failed batch was kept");
    assert!(store.history("b1").await.expect("history").is_empty());

    let good = vec![
        new_case("b4", "360313", 4, Some("import-1")),
        new_case("b5", "360102", 5, None),
        new_case("b6", "360313101", 6, None),
        new_case("b7", "360313", 7, Some("import-1")),
    ];
    let outcome = store.create_cases(good).await.expect("batch");
    let numbers: Vec<String> = outcome
        .iter()
        .map(|c| match c {
            Created::New(row, _) | Created::Existing(row) => row.number.as_ref().expect("numbered").to_string(),
        })
        .collect();
    assert_eq!(
        numbers,
        ["3603-20261128-000001", "3601-20261128-000001", "3603-20261128-000002", "3603-20261128-000001"]
    );
    assert!(matches!(&outcome[3], Created::Existing(row) if row.id == "b4"), "a repeated key made a twin");
    assert_eq!(store.history("b6").await.expect("history").len(), 1);
    let after = created(store.create_case(new_case("b8", "360313", 8, None)).await.expect("create"));
    assert_eq!(after.number.expect("numbered").to_string(), "3603-20261128-000003", "the batch's numbers were lost");
}

pub async fn units_staff_and_rules_round_trip(store: &dyn Store) {
    use crate::units::{DispatchRule, GridMember, GridRole, UnitKind, UnitRow};
    tree_with_two_cities(store).await;
    let unit = |id: &str, division: &str, name: &str| UnitRow {
        id: id.to_owned(),
        kind: if id.starts_with("provider") { UnitKind::Provider } else { UnitKind::Department },
        division: code(division),
        name: name.to_owned(),
        department_kind: id.starts_with("department").then(|| "cg".to_owned()),
        categories: if id.starts_with("provider") { vec!["life.repair".into(), "life.moving".into()] } else { vec![] },
    };
    let cg = unit("department:360313:cg", "360313", "湘东区城市管理局");
    let provider = unit("provider:360313:anju", "360313", "安居家政");
    store.put_units(vec![cg.clone(), provider.clone()]).await.expect("units");
    assert_eq!(store.unit("department:360313:cg").await.expect("read"), Some(cg.clone()));
    assert_eq!(store.unit("department:360313:zz").await.expect("read"), None);
    let renamed = UnitRow { name: "湘东区城管局".into(), ..cg.clone() };
    store.put_units(vec![renamed.clone()]).await.expect("rename");
    assert_eq!(store.units("3603").await.expect("list"), [renamed, provider]);
    assert!(store.units("3601").await.expect("list").is_empty());
    let orphan = unit("department:360399:cg", "360399", "无此县");
    assert!(store.put_units(vec![unit("department:360102:cg", "360102", "东湖"), orphan]).await.is_err());
    assert!(store.units("3601").await.expect("list").is_empty(), "part of a failed batch was kept");
    assert!(store.remove_unit("provider:360313:anju").await.expect("remove"));
    assert!(!store.remove_unit("provider:360313:anju").await.expect("remove again"));
    assert_eq!(store.units("3603").await.expect("list").len(), 1);

    let grid = GridCode::parse("360313101201001").expect("grid");
    store
        .put_grids(vec![GridRow { code: grid.clone(), name: "一网格".into(), geometry: "{}".into() }])
        .await
        .expect("grid");
    let member = |name: &str, role| GridMember { grid: grid.clone(), name: name.to_owned(), role };
    store
        .put_grid_staff(vec![member("张三", GridRole::Leader), member("李四", GridRole::Member)])
        .await
        .expect("staff");
    store.put_grid_staff(vec![member("王五", GridRole::Leader)]).await.expect("replace");
    assert_eq!(store.grid_staff("360313").await.expect("staff"), [member("王五", GridRole::Leader)]);
    let missing = GridCode::parse("360313101202001").expect("grid");
    let stranger = GridMember { grid: missing, name: "赵六".into(), role: GridRole::Member };
    assert!(store.put_grid_staff(vec![member("钱七", GridRole::Member), stranger]).await.is_err());
    assert_eq!(store.grid_staff("360313").await.expect("staff"), [member("王五", GridRole::Leader)], "half a batch");

    let rule = |division: &str, unit: &str| DispatchRule {
        category: "hazard.road".into(),
        division: code(division),
        unit: unit.to_owned(),
    };
    store
        .put_dispatch_rules(vec![rule("3603", "department:3603:jt"), rule("360313", "department:360313:cg")])
        .await
        .expect("rules");
    store.put_dispatch_rules(vec![rule("360313", "department:360313:jt")]).await.expect("override");
    assert_eq!(
        store.dispatch_rules("hazard.road").await.expect("rules"),
        [rule("3603", "department:3603:jt"), rule("360313", "department:360313:jt")]
    );
    assert!(store.dispatch_rules("hazard.fire").await.expect("rules").is_empty());
}

pub async fn category_versions_are_numbered_and_kept(store: &dyn Store) {
    assert_eq!(store.latest_categories().await.expect("read"), None);
    assert_eq!(store.add_category_version("a,b\n".into(), "shipped".into(), ms(1)).await.expect("add"), 1);
    assert_eq!(store.add_category_version("a,c\n".into(), "edit.csv".into(), ms(2)).await.expect("add"), 2);
    assert_eq!(store.latest_categories().await.expect("read"), Some((2, "a,c\n".to_owned())));
}

fn photo(hash: &str, bytes: &[u8], at: i64, uploader: &str) -> NewPhoto {
    NewPhoto {
        hash: hash.into(),
        mime: "image/jpeg".into(),
        bytes: bytes.to_vec(),
        at: ms(at),
        uploader: uploader.into(),
    }
}

pub async fn photos_are_stored_once_by_hash(store: &dyn Store) {
    let bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
    assert!(store.put_photo(photo("ab12", &bytes, 1, "address:192.0.2.1")).await.expect("put"));
    assert!(!store.put_photo(photo("ab12", &bytes, 2, "address:192.0.2.2")).await.expect("again"));
    assert_eq!(store.photo("ab12").await.expect("read"), Some(("image/jpeg".to_owned(), bytes)));
    assert_eq!(store.photo("cd34").await.expect("read"), None);
    let asked = vec!["ab12".to_owned(), "cd34".to_owned()];
    assert_eq!(store.missing_photos(&asked).await.expect("missing"), ["cd34"]);
}

pub async fn photos_no_case_names_are_removed_and_counted_per_uploader(store: &dyn Store) {
    tree_with_two_cities(store).await;
    let anonymous = "address:192.0.2.7";
    for (hash, at) in [("p1", 10), ("p2", 20), ("p3", 30), ("p4", 40)] {
        assert!(store.put_photo(photo(hash, &[0xFF; 100], at, anonymous)).await.expect("put"));
    }
    store.put_photo(photo("p5", &[0xFF; 50], 50, "account:a1")).await.expect("put");
    assert_eq!(store.photo_bytes_since(anonymous, ms(0)).await.expect("sum"), 400);
    assert_eq!(store.photo_bytes_since(anonymous, ms(25)).await.expect("sum"), 200);
    assert_eq!(store.photo_bytes_since("address:192.0.2.8", ms(0)).await.expect("sum"), 0);

    // A report names p1; its result names p2.
    let mut new = new_case("ph", "360313", 1, None);
    new.row.body.photos = vec!["p1".into()];
    let case = created(store.create_case(new).await.expect("create"));
    let record = |at| ActionRecord {
        at: ms(at),
        actor: "centre:360313".into(),
        action: "note".into(),
        status_after: Status::Reported,
        details: "{}".into(),
    };
    let mut resolved = case.clone();
    resolved.body.result_photos = vec!["p2".into()];
    let resolved = store.record_action(1, record(2), resolved, Vec::new()).await.expect("act");
    // A report naming a photo removed meanwhile fails whole; so does an action.
    let mut orphan = new_case("ph2", "360313", 3, None);
    orphan.row.body.photos = vec!["p9".into()];
    assert!(matches!(store.create_case(orphan).await, Err(StoreError::MissingPhoto(h)) if h == "p9"));
    assert_eq!(store.case_by_id("ph2").await.expect("read"), None);
    let mut bad = resolved.clone();
    bad.body.result_photos.push("p9".into());
    assert!(matches!(store.record_action(2, record(4), bad, Vec::new()).await, Err(StoreError::MissingPhoto(_))));
    assert_eq!(store.case_by_id("ph").await.expect("read").expect("case").version, 2);

    // Photos stored before 35 and never named go; named ones and newer ones stay.
    assert_eq!(store.remove_unattached_photos(ms(35)).await.expect("remove"), 1, "p3");
    let all: Vec<String> = ["p1", "p2", "p3", "p4", "p5"].map(String::from).into();
    assert_eq!(store.missing_photos(&all).await.expect("missing"), ["p3"]);
    assert_eq!(store.remove_unattached_photos(ms(1000)).await.expect("remove"), 2, "p4 and p5");
    assert_eq!(store.missing_photos(&all).await.expect("missing"), ["p3", "p4", "p5"]);
}

pub async fn visibility_lists_only_what_a_scope_may_see(store: &dyn Store) {
    tree_with_two_cities(store).await;
    let grid = GridCode::parse("360313101201001").expect("grid");
    let cases = [
        ("v0", "360313101", None, None, None),
        ("v1", "360313102", Some("department:360313:cg"), None, None),
        ("v2", "360102", None, None, Some("account-7")),
        ("v3", "360313101201", None, Some(grid.clone()), None),
        ("v4", "360102", Some("department:360313:cg"), None, None),
    ];
    for (i, (id, division, handler, grid, reporter)) in cases.into_iter().enumerate() {
        let mut new = new_case(id, division, 100 + i as i64, None);
        new.row.handler = handler.map(str::to_owned);
        new.row.grid = grid;
        new.row.reporter_account = reporter.map(str::to_owned);
        created(store.create_case(new).await.expect("create"));
    }
    let ids = |rows: Vec<CaseRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let seen = |visible: Visibility| CaseFilter { visible: Some(visible), limit: 10, ..CaseFilter::default() };
    let township = Visibility { subtree: Some(code("360313101")), ..Visibility::default() };
    assert_eq!(ids(store.list_cases(&seen(township.clone())).await.expect("list")), ["v3", "v0"]);
    let department = Visibility { handler: Some("department:360313:cg".into()), ..Visibility::default() };
    assert_eq!(ids(store.list_cases(&seen(department.clone())).await.expect("list")), ["v4", "v1"]);
    let grid_worker =
        Visibility { grid: Some(grid), handler: Some("grid:360313101201001".into()), ..Visibility::default() };
    assert_eq!(ids(store.list_cases(&seen(grid_worker)).await.expect("list")), ["v3"]);
    let resident = Visibility { reporter: Some("account-7".into()), ..Visibility::default() };
    let found = store.list_cases(&seen(resident)).await.expect("list");
    assert_eq!(found.iter().map(|r| r.reporter_account.as_deref()).collect::<Vec<_>>(), [Some("account-7")]);
    let both = Visibility {
        subtree: Some(code("360102")),
        handler: Some("department:360313:cg".into()),
        ..Visibility::default()
    };
    assert_eq!(ids(store.list_cases(&seen(both.clone())).await.expect("list")), ["v4", "v2", "v1"]);
    assert_eq!(store.count_cases(&seen(both.clone())).await.expect("count"), 3);
    // A place inside the visible subtree: the subtree covers it all.
    let own_area = CaseFilter { division: Some(code("360313101")), ..seen(township.clone()) };
    assert_eq!(ids(store.list_cases(&own_area).await.expect("list")), ["v3", "v0"]);
    // A place outside it: only what another part shows (v1, dispatched to the department).
    let elsewhere = CaseFilter { division: Some(code("360313102")), ..seen(department.clone()) };
    assert_eq!(ids(store.list_cases(&elsewhere).await.expect("list")), ["v1"]);
    let outside = CaseFilter { division: Some(code("360102")), ..seen(township) };
    assert!(store.list_cases(&outside).await.expect("list").is_empty());
    assert_eq!(store.count_cases(&outside).await.expect("count"), 0);
    assert_eq!(store.count_cases(&seen(Visibility::default())).await.expect("count"), 0);
    assert!(
        store.list_cases(&seen(Visibility::default())).await.expect("list").is_empty(),
        "an empty scope sees nothing"
    );
    let narrowed = CaseFilter { division: Some(code("360313")), ..seen(Visibility::default()) };
    assert!(store.list_cases(&narrowed).await.expect("list").is_empty(), "nor with a place to narrow it");
    assert_eq!(store.count_cases(&narrowed).await.expect("count"), 0);
}

fn account(id: &str, login: &str, unit: Option<&str>) -> AccountRow {
    AccountRow {
        id: id.to_owned(),
        login: login.to_owned(),
        name: format!("用户 {login}"),
        unit: unit.map(str::to_owned),
        roles: vec![Role::CentreDispatcher, Role::HotlineOperator],
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        must_change_password: true,
        failed_logins: 0,
        slowed_until: None,
        disabled: false,
        created_at: ms(1_700_000_000_000),
    }
}

pub async fn accounts_round_trip_and_logins_are_unique(store: &dyn Store) {
    let centre = account("a1", "zhang", Some("centre:360313"));
    store.create_account(centre.clone()).await.expect("create");
    store.create_account(account("a2", "li", Some("department:360313:cg"))).await.expect("create");
    store.create_account(account("a3", "wang", Some("centre:3601"))).await.expect("create");
    store
        .create_account(AccountRow { roles: vec![Role::Resident], ..account("a4", "resident", None) })
        .await
        .expect("create");
    assert_eq!(store.account("a1").await.expect("read"), Some(centre.clone()));
    assert_eq!(store.account_by_login("zhang").await.expect("read"), Some(centre));
    assert_eq!(store.account_by_login("nobody").await.expect("read"), None);
    let twin = store.create_account(account("a5", "zhang", None)).await;
    assert!(matches!(twin, Err(StoreError::AlreadyExists(_))), "{twin:?}");
    assert_eq!(store.account("a5").await.expect("read"), None, "the refused account left nothing");
    let logins = |rows: Vec<AccountRow>| rows.into_iter().map(|r| r.login).collect::<Vec<_>>();
    assert_eq!(logins(store.accounts("360313").await.expect("list")), ["li", "zhang"]);
    assert_eq!(logins(store.accounts("").await.expect("list")), ["li", "resident", "wang", "zhang"]);
    let slowed = |row: Option<AccountRow>| row.map(|a| (a.failed_logins, a.slowed_until));
    assert_eq!(store.count_failed_login("a1", 3, ms(99)).await.expect("count"), Some(1));
    assert_eq!(store.count_failed_login("a1", 3, ms(99)).await.expect("count"), Some(2));
    assert_eq!(slowed(store.account("a1").await.expect("read")), Some((2, None)), "two failures slow nothing");
    assert_eq!(store.count_failed_login("a1", 3, ms(99)).await.expect("count"), Some(3));
    assert_eq!(slowed(store.account("a1").await.expect("read")), Some((3, Some(ms(99)))), "the third slows");
    assert_eq!(store.count_failed_login("a1", 3, ms(50)).await.expect("count"), Some(4));
    assert_eq!(slowed(store.account("a1").await.expect("read")), Some((4, Some(ms(99)))), "never shortened");
    assert_eq!(store.count_failed_login("nobody", 3, ms(99)).await.expect("count"), None);
    assert!(store.set_login_state("a1", 0, None).await.is_ok());
    assert_eq!(slowed(store.account("a1").await.expect("read")), Some((0, None)));
    store.count_failed_login("a1", 1, ms(42)).await.expect("count");
    assert!(store.set_password("a1", "$argon2id$new".into(), false).await.expect("set"));
    let changed = store.account("a1").await.expect("read").expect("there");
    assert_eq!((changed.password_hash.as_str(), changed.must_change_password), ("$argon2id$new", false));
    assert_eq!((changed.failed_logins, changed.slowed_until), (0, None), "a new password ends the slowdown");
    assert!(!store.set_password("nobody", "x".into(), false).await.expect("set"));
    assert!(store.set_disabled("a2", true).await.expect("disable"));
    assert!(store.account("a2").await.expect("read").expect("there").disabled);
    assert!(store.set_disabled("a2", false).await.expect("enable"));
    assert!(!store.account("a2").await.expect("read").expect("there").disabled);
    assert!(!store.set_disabled("nobody", true).await.expect("disable"));
}

fn token(id: &str, secret: u8, created_at: i64) -> CredentialRow {
    CredentialRow {
        id: id.to_owned(),
        secret_hash: vec![secret; 32],
        account_id: "a1".into(),
        kind: CredentialKind::Token,
        label: format!("token {id}"),
        csrf: None,
        created_at: ms(created_at),
        expires_at: ms(created_at + 1000),
        revoked_at: None,
    }
}

pub async fn credentials_are_found_by_secret_and_revoked(store: &dyn Store) {
    store.create_account(account("a1", "zhang", Some("centre:360313"))).await.expect("create");
    store.put_credential(token("t1", 1, 10)).await.expect("put");
    store.put_credential(token("t2", 2, 20)).await.expect("put");
    let session = CredentialRow { kind: CredentialKind::Session, csrf: Some("csrf".into()), ..token("s1", 3, 30) };
    store.put_credential(session.clone()).await.expect("put");
    assert_eq!(store.credential(&[3; 32]).await.expect("read"), Some(session));
    assert_eq!(store.credential(&[9; 32]).await.expect("read"), None);
    let ids = |rows: Vec<CredentialRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(store.credentials("a1", CredentialKind::Token).await.expect("list")), ["t2", "t1"]);
    assert!(store.revoke_credential("a1", "t1", ms(50)).await.expect("revoke"));
    assert!(!store.revoke_credential("a1", "t1", ms(60)).await.expect("revoke"), "already revoked");
    assert!(!store.revoke_credential("a2", "t2", ms(60)).await.expect("revoke"), "not this account's");
    assert_eq!(store.credential(&[1; 32]).await.expect("read").and_then(|c| c.revoked_at), Some(ms(50)));
    assert_eq!(store.revoke_all_credentials("a1", ms(70)).await.expect("revoke"), 2);
    assert_eq!(store.credential(&[3; 32]).await.expect("read").and_then(|c| c.revoked_at), Some(ms(70)));
    let twin = store.put_credential(token("t1", 4, 80)).await;
    assert!(matches!(twin, Err(StoreError::AlreadyExists(_))), "{twin:?}");
}

pub async fn the_access_log_is_read_by_subtree(store: &dyn Store) {
    let entry = |at: i64, unit: Option<&str>, event: &str| AccessEntry {
        at: ms(at),
        account_id: unit.map(|_| "a1".to_owned()),
        unit: unit.map(str::to_owned),
        event: event.to_owned(),
        case_id: Some("c1".into()),
        reason: "回访核实".into(),
        address: Some("127.0.0.1".into()),
    };
    let batch =
        vec![entry(10, Some("centre:360313101"), "reveal_reporter"), entry(20, Some("department:360313:cg"), "export")];
    store.log_access(batch).await.expect("log");
    store.log_access(vec![entry(30, Some("centre:3601"), "reveal_reporter")]).await.expect("log");
    store.log_access(vec![entry(40, None, "refused_token")]).await.expect("log");
    let events = |rows: Vec<AccessEntry>| rows.into_iter().map(|e| e.at.millis()).collect::<Vec<_>>();
    assert_eq!(events(store.access_log("360313", ms(0), 10).await.expect("log")), [10, 20]);
    assert_eq!(events(store.access_log("", ms(0), 10).await.expect("log")), [10, 20, 30, 40]);
    assert_eq!(events(store.access_log("", ms(15), 2).await.expect("log")), [20, 30]);
    assert_eq!(
        store.access_log("3601", ms(0), 10).await.expect("log"),
        [entry(30, Some("centre:3601"), "reveal_reporter")]
    );
    // Pages of it, newest first, narrowed by time, account, event and case.
    let page = |query: AccessQuery| async move { events(store.access_log_page("", &query).await.expect("log")) };
    assert_eq!(page(AccessQuery { limit: 10, ..AccessQuery::default() }).await, [40, 30, 20, 10]);
    assert_eq!(page(AccessQuery { limit: 2, offset: 1, ..AccessQuery::default() }).await, [30, 20]);
    let window = AccessQuery { from: Some(ms(20)), until: Some(ms(40)), limit: 10, ..AccessQuery::default() };
    assert_eq!(page(window).await, [30, 20]);
    let reveals = AccessQuery { event: Some("reveal_reporter".into()), limit: 10, ..AccessQuery::default() };
    assert_eq!(page(reveals).await, [30, 10]);
    let mine =
        AccessQuery { account_id: Some("a1".into()), case_id: Some("c1".into()), limit: 10, ..AccessQuery::default() };
    assert_eq!(page(mine).await, [30, 20, 10]);
    let nobody = AccessQuery { case_id: Some("c2".into()), limit: 10, ..AccessQuery::default() };
    assert_eq!(page(nobody).await, Vec::<i64>::new());
    let subtree = AccessQuery { limit: 10, ..AccessQuery::default() };
    assert_eq!(events(store.access_log_page("360313", &subtree).await.expect("log")), [20, 10]);
}

pub async fn webhook_deliveries_are_written_with_their_actions(store: &dyn Store) {
    tree_with_two_cities(store).await;
    let subscribe = |unit: &str, categories: Vec<String>| NewWebhook {
        unit: unit.into(),
        url: "http://127.0.0.1:9/hook".into(),
        secret: "whsec_x".into(),
        categories,
        created_by: "admin".into(),
        created_at: ms(1),
    };
    let county = store.create_webhook(subscribe("centre:360313", vec!["dispute".into()])).await.expect("create");
    let other = store.create_webhook(subscribe("centre:360102", Vec::new())).await.expect("create");
    assert_eq!(store.webhooks().await.expect("list"), vec![county.clone(), other.clone()]);
    assert_eq!(county.categories, ["dispute"]);

    let mut new = new_case("w1", "360313101", 100, None);
    new.notify = vec![county.id];
    let case = created(store.create_case(new).await.expect("create"));
    let dispatch = ActionRecord {
        at: ms(200),
        actor: "centre:360313101".into(),
        action: "dispatch".into(),
        status_after: Status::Dispatched,
        details: r#"{"to":"grid:360313101001001"}"#.into(),
    };
    let dispatched = CaseRow { status: Status::Dispatched, ..case.clone() };
    store.record_action(1, dispatch.clone(), dispatched.clone(), vec![county.id]).await.expect("dispatch");
    // A refused write queues nothing.
    let stale = store.record_action(1, dispatch, dispatched, vec![county.id, other.id]).await;
    assert!(matches!(stale, Err(StoreError::Conflict { .. })), "{stale:?}");
    assert!(store.deliveries(other.id, 10).await.expect("read").is_empty());

    let due = store.due_deliveries(county.id, ms(200), 10).await.expect("due");
    assert_eq!(due.iter().map(|d| (d.sequence, d.created_at.millis())).collect::<Vec<_>>(), [(1, 100), (2, 200)]);
    assert!(due.iter().all(|d| d.state == DeliveryState::Pending && d.attempts == 0 && d.case_id == "w1"));
    let event: serde_json::Value = serde_json::from_str(&due[1].event).expect("JSON");
    assert_eq!(event["event_id"], "w1:2");
    assert_eq!(event["action"], "dispatch");
    assert_eq!(event["status"], "dispatched");
    assert_eq!(event["details"]["to"], "grid:360313101001001");
    assert_eq!(event["case"]["number"], "3603-20261128-000001");
    assert_eq!(event["case"]["description"], "案件 w1");
    assert!(store.due_deliveries(county.id, ms(150), 10).await.expect("due").len() == 1, "the second is not due yet");

    let failed = Attempt {
        at: ms(300),
        status: Some(503),
        error: Some("busy".into()),
        state: DeliveryState::Pending,
        next_attempt_at: ms(1300),
    };
    store.record_attempt(due[0].id, failed).await.expect("attempt");
    let sent = Attempt {
        at: ms(310),
        status: Some(204),
        error: None,
        state: DeliveryState::Delivered,
        next_attempt_at: ms(310),
    };
    store.record_attempt(due[1].id, sent).await.expect("attempt");
    assert!(store.due_deliveries(county.id, ms(1299), 10).await.expect("due").is_empty(), "waiting for its retry");
    let retried = store.due_deliveries(county.id, ms(1300), 10).await.expect("due");
    assert_eq!((retried.len(), retried[0].attempts, retried[0].last_status), (1, 1, Some(503)));
    let latest = store.deliveries(county.id, 10).await.expect("read");
    assert_eq!(latest[0].state, DeliveryState::Delivered);
    assert_eq!((latest[0].attempts, latest[0].delivered_at), (1, Some(ms(310))));

    assert!(store.remove_webhook(county.id).await.expect("remove"));
    assert!(!store.remove_webhook(county.id).await.expect("remove"), "already removed");
    assert!(!store.webhooks().await.expect("list")[0].active);
}

pub async fn idempotency_keys_are_claimed_answered_and_forgotten(store: &dyn Store) {
    // (account, key, fingerprint, now): abandoned before 50, expired before 10.
    let claim = |account: &'static str, key: &'static str, fingerprint: &'static str, now: i64| async move {
        store.claim_key(account, key, fingerprint, ms(now), ms(50), ms(10)).await.expect("claim")
    };
    assert_eq!(claim("a1", "k", "POST /x #1", 100).await, None, "a new key is claimed");
    let in_flight = claim("a1", "k", "POST /x #1", 101).await.expect("held");
    assert_eq!((in_flight.fingerprint.as_str(), in_flight.created_at, in_flight.answer), ("POST /x #1", ms(100), None));
    assert_eq!(claim("a2", "k", "POST /x #1", 102).await, None, "keys are per account");

    let answer = KeptAnswer { status: 201, sealed_body: "k1.sealed".into() };
    store.keep_answer("a1", "k", answer.clone()).await.expect("keep");
    let kept = claim("a1", "k", "POST /y", 103).await.expect("answered");
    assert_eq!((kept.fingerprint.as_str(), kept.answer), ("POST /x #1", Some(answer.clone())), "the first request's");
    store.release_key("a1", "k").await.expect("release");
    assert!(claim("a1", "k", "POST /x #1", 104).await.is_some(), "an answered key is not released");

    // A claim never answered is abandoned after a while; any key expires.
    store.claim_key("a1", "old", "POST /z", ms(5), ms(0), ms(0)).await.expect("claim");
    store.claim_key("a1", "slow", "POST /z", ms(40), ms(0), ms(0)).await.expect("claim");
    assert_eq!(claim("a1", "slow", "POST /z2", 105).await, None, "taken over from an abandoned claim");
    store.keep_answer("a1", "old", answer.clone()).await.expect("keep");
    assert_eq!(claim("a1", "old", "POST /z2", 106).await, None, "an expired answer is forgotten");
    store.release_key("a2", "k").await.expect("release");
    assert_eq!(claim("a2", "k", "POST /x #2", 107).await, None, "a released claim is free again");

    assert_eq!(store.forget_keys(ms(105)).await.expect("forget"), 1, "only a1/k, made at 100");
    assert_eq!(claim("a1", "k", "POST /x #3", 108).await, None, "forgotten");
}

/// Many requests with one key at once, each giving it up when it got it: a request that finds the
/// key given up while it looks at its holder claims it, and none fails.
pub async fn a_key_given_up_during_a_claim_is_claimed_again(store: &dyn Store) {
    let request = |n: i64| async move {
        for round in 0..25 {
            match store.claim_key("a1", "contended", "POST /x", ms(1000 + round), ms(0), ms(0)).await {
                Ok(None) => store.release_key("a1", "contended").await.expect("release"),
                Ok(Some(holder)) => assert_eq!(holder.fingerprint, "POST /x"),
                Err(error) => panic!("request {n}, round {round}: {error}"),
            }
        }
    };
    futures_util::future::join_all((0..8).map(request)).await;
}

/// After [`cases_are_found_by_the_text_they_hold`] and the engine's text index taken away and made
/// again (an upgrade from before it): the stored cases are found as before.
pub async fn the_remade_text_index_holds_the_stored_cases(store: &dyn Store) {
    let filter = CaseFilter { text: Some("楼道堆物".into()), limit: 10, ..CaseFilter::default() };
    let found = store.list_cases(&filter).await.expect("list");
    assert_eq!(found.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["t3", "t0"]);
}

pub async fn cases_are_found_by_the_text_they_hold(store: &dyn Store) {
    tree_with_two_cities(store).await;
    let texts = [
        ("t0", "360313101", "三号楼楼道堆物，影响通行", None),
        ("t1", "360313102", "自来水管漏水两天了", Some("排上镇 Main Street 3号")),
        ("t2", "360313101", "水管漏了", None),
        ("t3", "360102", "楼道堆物", None),
        ("t4", "360313101", "Water PIPE burst near the school", None),
    ];
    for (i, (id, division, description, address)) in texts.iter().enumerate() {
        let mut new = new_case(id, division, 100 + i as i64, None);
        new.row.body.description = (*description).into();
        new.row.body.address = address.map(str::to_owned);
        created(store.create_case(new).await.expect("create"));
    }
    let ids = |rows: Vec<CaseRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let search = |text: &str| CaseFilter { text: Some(text.into()), limit: 10, ..CaseFilter::default() };
    assert_eq!(ids(store.list_cases(&search("楼道堆物")).await.expect("list")), ["t3", "t0"]);
    assert_eq!(ids(store.list_cases(&search("漏水")).await.expect("list")), ["t1"], "a word of two characters");
    assert_eq!(ids(store.list_cases(&search("水管")).await.expect("list")), ["t2", "t1"]);
    assert!(store.list_cases(&search("水管漏水管")).await.expect("list").is_empty(), "every gram, but not the text");
    assert_eq!(ids(store.list_cases(&search("main street")).await.expect("list")), ["t1"], "the address, any case");
    assert_eq!(ids(store.list_cases(&search("pipe bur")).await.expect("list")), ["t4"]);
    let here = CaseFilter { division: Some(code("360313")), ..search("楼道堆物") };
    assert_eq!(ids(store.list_cases(&here).await.expect("list")), ["t0"], "with the other filters");
    assert_eq!(store.count_cases(&here).await.expect("count"), 1);
    let visible = Visibility { subtree: Some(code("3601")), reporter: Some("nobody".into()), ..Visibility::default() };
    let seen = CaseFilter { visible: Some(visible), ..search("楼道堆物") };
    assert_eq!(ids(store.list_cases(&seen).await.expect("list")), ["t3"], "and the visibility");
    assert_eq!(store.count_cases(&seen).await.expect("count"), 1);
}

/// 2026-11, the month the tallies' tests report in.
fn the_month() -> Month {
    Month::from_yyyymm(202611).expect("a month")
}

/// The tallies of every month, by key, with the changes an engine keeps apart folded in or not.
async fn every_tally(store: &dyn Store) -> std::collections::BTreeMap<TallyKey, Tally> {
    let rows: Vec<TallyRow> = store.tallies(&TallyQuery::everything()).await.expect("tallies");
    rows.into_iter().filter(|r| !r.tally.is_zero()).map(|r| (r.key, r.tally)).collect()
}

/// What the stored cases add up to, counted one by one.
async fn recount(store: &dyn Store) -> std::collections::BTreeMap<TallyKey, Tally> {
    let mut counted = std::collections::BTreeMap::<TallyKey, Tally>::new();
    for case in store.list_cases(&CaseFilter { limit: 1000, ..CaseFilter::default() }).await.expect("list") {
        for (key, tally) in contributions(&case) {
            counted.entry(key).or_default().add(&tally);
        }
    }
    counted
}

/// After [`tallies_follow_every_write_and_equal_a_recount`] and the engine's tallies taken away
/// and made again (an upgrade from before them): they equal a recount again.
pub async fn the_remade_tallies_equal_a_recount(store: &dyn Store) {
    let counted = recount(store).await;
    assert_eq!(counted[&TallyKey { scope: "subtree:36".into(), month: the_month() }].reported, 3);
    assert_eq!(counted[&TallyKey { scope: "subtree:36".into(), month: the_month().previous() }].reported, 2);
    assert_eq!(every_tally(store).await, counted);
}

/// The tallies of `scopes` for November 2026, by scope.
async fn november(store: &dyn Store, scopes: &[Scope]) -> Vec<Tally> {
    let query = TallyQuery {
        scopes: Some(scopes.to_vec()),
        own_under: None,
        facets_of: None,
        from: the_month(),
        to: the_month(),
    };
    let rows = store.tallies(&query).await.expect("tallies");
    scopes
        .iter()
        .map(|scope| rows.iter().find(|r| r.key.scope == scope.key()).map(|r| r.tally).unwrap_or_default())
        .collect()
}

pub async fn tallies_follow_every_write_and_equal_a_recount(store: &dyn Store) {
    tree_with_two_cities(store).await;
    // 2026-11-10 00:00 and 2026-10-31 17:00 UTC: the second is already November in Beijing.
    let (november_10, first_of_november) = (1_794_268_800_000_i64, 1_793_466_000_000_i64);
    let october = first_of_november - 3 * 3_600_000;
    let village =
        created(store.create_case(new_case("y1", "360313101", november_10, Some("tally-1"))).await.expect("create"));
    // Retries of y1, in a batch and alone, count for nothing.
    let batch = vec![
        new_case("y2", "360313101", first_of_november, None),
        new_case("y3", "360313102", october, None),
        new_case("y5", "360313101", november_10, Some("tally-1")),
        new_case("y4", "360102", november_10, None),
    ];
    store.create_cases(batch).await.expect("batch");
    store.create_case(new_case("y6", "360313101", november_10, Some("tally-1"))).await.expect("retry");
    let (county, province) = (Scope::Subtree(code("360313")), Scope::Subtree(code("36")));
    let counted = november(store, &[county.clone(), province.clone(), Scope::Own(code("360313101"))]).await;
    let reported: Vec<i64> = counted.iter().map(|t| t.reported).collect();
    assert_eq!(reported, [2, 3, 2], "y1 and y2 in the county and the village, not October's y3");
    assert_eq!(every_tally(store).await, recount(store).await);

    // Accepted, dispatched to a village centre, claimed, resolved late, closed after a call-back.
    let step = |row: &CaseRow, at: i64, action: &str, status: Status| {
        let record = ActionRecord {
            at: ms(at),
            actor: "centre:360313101".into(),
            action: action.into(),
            status_after: status,
            details: "{}".into(),
        };
        (record, CaseRow { status, ..row.clone() })
    };
    let mut case = village;
    let handler = "centre:360313101".to_owned();
    for (at, action, status) in [
        (november_10 + 10, "accept", Status::Accepted),
        (november_10 + 20, "dispatch", Status::Dispatched),
        (november_10 + 30, "claim", Status::InProgress),
        (november_10 + 2000, "resolve", Status::Resolved),
        (november_10 + 2100, "close", Status::Closed),
    ] {
        let (record, mut row) = step(&case, at, action, status);
        row.handler = Some(handler.clone());
        match action {
            "dispatch" => row.body.dispatched_at = Some(ms(at)),
            "claim" => row.body.claimed_at = Some(ms(at)),
            "resolve" => row.body.resolved_at = Some(ms(at)),
            "close" => {
                row.body.closed_at = Some(ms(at));
                row.body.satisfaction = Some(pingan_core::lifecycle::Satisfaction::BasicallySatisfied);
            }
            _ => {}
        }
        case = store.record_action(case.version, record, row, Vec::new()).await.expect(action);
        assert_eq!(every_tally(store).await, recount(store).await, "after {action}");
    }
    let t = november(store, &[Scope::Unit(handler.clone())]).await[0];
    assert_eq!((t.reported, t.accepted, t.open, t.closed, t.closed_on_time), (1, 1, 0, 1, 0), "resolved after its due");
    assert_eq!((t.called_back, t.basically_satisfied, t.claimed, t.claim_ms, t.close_ms), (1, 1, 1, 10, 2100));
    let t = november(store, std::slice::from_ref(&province)).await[0];
    assert_eq!((t.reported, t.accepted, t.closed), (3, 1, 1), "the province counts what the village does");

    // Escalated to the county: it leaves the village's tallies, stays in the county's, and counts
    // at the county's own level; a stale write moves nothing.
    let y2 = store.case_by_id("y2").await.expect("read").expect("y2");
    let (record, escalated) = step(&y2, november_10, "escalate", Status::Reported);
    let escalated = CaseRow { division: code("360313"), ..escalated };
    store.record_action(y2.version, record.clone(), escalated.clone(), Vec::new()).await.expect("escalate");
    let before = every_tally(store).await;
    let stale =
        store.record_action(y2.version, record, CaseRow { division: code("360313102"), ..escalated }, Vec::new());
    assert!(matches!(stale.await, Err(StoreError::Conflict { .. })));
    assert_eq!(every_tally(store).await, before, "a refused write changed a tally");
    assert_eq!(before, recount(store).await);
    let scopes = [county.clone(), Scope::Own(code("360313")), Scope::Own(code("360313101"))];
    let reported: Vec<i64> = november(store, &scopes).await.iter().map(|t| t.reported).collect();
    assert_eq!(reported, [2, 1, 1]);
    // Below a county, a subtree is the sum of its divisions' own levels.
    let own_under = |code: DivisionCode| TallyQuery {
        scopes: Some(Vec::new()),
        own_under: Some(code),
        facets_of: None,
        from: the_month(),
        to: the_month(),
    };
    let rows = store.tallies(&own_under(code("360313"))).await.expect("tallies");
    let mut scopes: Vec<&str> = rows.iter().map(|r| r.key.scope.as_str()).collect();
    scopes.sort();
    assert_eq!(scopes, ["own:360313", "own:360313101"]);
    assert!(store.tallies(&own_under(code("360313102"))).await.expect("tallies").is_empty(), "y3 is October's");

    // The breakdowns by channel and category: of a county's subtree tally, and below a county of
    // its divisions' own levels; never the scopes' own rows.
    let facets_of = |code: DivisionCode| TallyQuery {
        scopes: Some(Vec::new()),
        own_under: None,
        facets_of: Some(code),
        from: the_month(),
        to: the_month(),
    };
    let facet_rows = |rows: Vec<TallyRow>| {
        let mut found: Vec<(String, Facet, i64)> = rows
            .iter()
            .map(|r| {
                let (scope, facet) = Facet::of_key(&r.key.scope).expect("a facet's key");
                (scope.to_owned(), facet, r.tally.reported)
            })
            .collect();
        found.sort();
        found
    };
    let county_facets = facet_rows(store.tallies(&facets_of(code("360313"))).await.expect("tallies"));
    let neighbour = Facet::Category("dispute.neighbour".into());
    assert_eq!(
        county_facets,
        [
            ("subtree:360313".to_owned(), Facet::Channel(Channel::Resident), 2),
            ("subtree:360313".to_owned(), neighbour.clone(), 2),
        ]
    );
    let village_facets = facet_rows(store.tallies(&facets_of(code("360313101"))).await.expect("tallies"));
    assert_eq!(village_facets.iter().map(|f| f.2).collect::<Vec<_>>(), [1, 1], "y1, now that y2 is the county's");
    assert!(village_facets.iter().all(|f| f.0 == "own:360313101"));

    // Folding the changes an engine keeps apart changes no figure.
    store.fold_tallies().await.expect("fold");
    assert_eq!(every_tally(store).await, before);

    // Overdue: open and past the resolution deadline (new cases are due 1000 ms after their report).
    let overdue = |now: i64| OverdueQuery {
        subtree: Some(code("360313")),
        handler: None,
        from: the_month(),
        to: the_month(),
        now: ms(now),
    };
    let late = store.overdue_counts(&overdue(november_10 + 5000)).await.expect("overdue");
    let y2_overdue = OverdueCount {
        division: "360313".into(),
        month: the_month(),
        channel: Channel::Resident,
        category: "dispute.neighbour".into(),
        handler: None,
        cases: 1,
    };
    assert_eq!(late, std::slice::from_ref(&y2_overdue), "y2 only: y1 is closed, y3 of October");
    // Over several months, each count says its month: y3 is October's.
    let two_months = OverdueQuery { from: the_month().previous(), ..overdue(november_10 + 5000) };
    let mut both = store.overdue_counts(&two_months).await.expect("overdue");
    both.sort_by(|a, b| a.division.cmp(&b.division));
    let y3_overdue = OverdueCount { division: "360313102".into(), month: the_month().previous(), ..y2_overdue.clone() };
    assert_eq!(both, [y2_overdue, y3_overdue]);
    let early = store.overdue_counts(&overdue(first_of_november + 500)).await.expect("overdue");
    assert!(early.is_empty(), "nothing is due yet: {early:?}");
    let handled = OverdueQuery { subtree: None, handler: Some(handler), ..overdue(november_10 + 5000) };
    assert!(store.overdue_counts(&handled).await.expect("overdue").is_empty(), "y1 is closed");

    // The open cases by grid: y2 (now the county's) and y3, once a note places each in a grid;
    // y1 is closed.
    for (id, grid) in [("y2", "360313101001001"), ("y3", "360313102001001")] {
        let case = store.case_by_id(id).await.expect("read").expect("stored");
        let (record, mut row) = step(&case, november_10 + 4000, "note", case.status);
        row.grid = Some(GridCode::parse(grid).expect("grid"));
        store.record_action(case.version, record, row, Vec::new()).await.expect("note");
    }
    assert_eq!(every_tally(store).await, before, "where a case lies is not in the tallies");
    let workloads = |now: i64| GridWorkloadQuery { subtree: code("360313"), now: ms(now) };
    let mut found = store.grid_workloads(&workloads(november_10 + 5000)).await.expect("workloads");
    found.sort_by(|a, b| a.grid.cmp(&b.grid));
    let grids: Vec<(&str, u64, u64)> = found.iter().map(|w| (w.grid.as_str(), w.open, w.overdue)).collect();
    assert_eq!(grids, [("360313101001001", 1, 1), ("360313102001001", 1, 1)], "both open and past their due");
    let early = store.grid_workloads(&workloads(october - 1)).await.expect("workloads");
    assert!(early.iter().all(|w| w.overdue == 0) && early.iter().map(|w| w.open).sum::<u64>() == 2, "{early:?}");
    let elsewhere = GridWorkloadQuery { subtree: code("360102"), now: ms(november_10) };
    assert!(store.grid_workloads(&elsewhere).await.expect("workloads").is_empty(), "y4 lies in no grid");

    // One more case makes two in October, for the upgrade check.
    created(store.create_case(new_case("y5", "360102", october, None)).await.expect("create"));
}
