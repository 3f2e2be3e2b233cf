//! The shared conformance suite on a real SQLite file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use pingan_core::lifecycle::Status;
use pingan_store_sqlite::SqliteStore;

async fn fresh_store() -> (SqliteStore, tempfile::TempDir) {
    let directory = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(&directory.path().join("pingan.db")).expect("open");
    (store, directory)
}

pingan_store::conformance_tests!(fresh_store);

/// Reports of the same matter written at once each find every one written before them, even one
/// in the same group commit: each searches in its own part of the writer's transaction.
/// (PostgreSQL's concurrent transactions do not see each other's reports.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reports_each_find_every_similar_case_written_before_them() {
    use pingan_store::cases::CaseStore;
    use pingan_store::cases::Created;
    use pingan_store::conformance::{a_grid_to_report_in, report_near_113_80};
    use std::collections::BTreeSet;

    let (store, _directory) = fresh_store().await;
    a_grid_to_report_in(&store).await;
    let reports: Vec<_> = (0..40)
        .map(|n| {
            let store = store.clone();
            let report =
                report_near_113_80(&format!("c{n}"), "360313101201001", 20, "dispute.neighbour", Status::Reported);
            tokio::spawn(async move { store.create_case(report).await })
        })
        .collect();
    let mut written = Vec::new();
    for report in reports {
        match report.await.expect("task").expect("create") {
            Created::New(row, similar) => {
                let found: BTreeSet<String> = similar.into_iter().map(|c| c.id).collect();
                written.push((row.number.expect("numbered").to_string(), row.id, found));
            }
            Created::Existing(row) => panic!("{} existed", row.id),
        }
    }
    // Numbers are given in the order the writer wrote the cases.
    written.sort();
    for (index, (number, id, found)) in written.iter().enumerate() {
        let before: BTreeSet<String> = written[..index].iter().map(|(_, id, _)| id.clone()).collect();
        assert_eq!(found, &before, "{id} ({number}) found other than the cases written before it");
    }
}

/// The ids of the cases a new report near 113.80, 27.60 finds as similar.
async fn similar_to_a_new_report(store: &SqliteStore, id: &str, reported_at: i64) -> Vec<String> {
    use pingan_store::cases::{CaseStore, Created};
    let report = pingan_store::conformance::report_near_113_80(
        id,
        "360313101201001",
        reported_at,
        "dispute.neighbour",
        Status::Reported,
    );
    match store.create_case(report).await.expect("create") {
        Created::New(_, similar) => similar.into_iter().map(|candidate| candidate.id).collect(),
        Created::Existing(row) => panic!("{} existed", row.id),
    }
}

/// An import that fails leaves nothing behind, not even in what later searches look through.
#[tokio::test]
async fn a_failed_imports_reports_are_not_found_by_later_searches() {
    use pingan_store::cases::CaseStore;
    use pingan_store::conformance::{a_grid_to_report_in, report_near_113_80};

    let (store, _directory) = fresh_store().await;
    a_grid_to_report_in(&store).await;
    let good = report_near_113_80("good", "360313101201001", 10, "dispute.neighbour", Status::Reported);
    let mut bad = report_near_113_80("bad", "360313101201001", 11, "dispute.neighbour", Status::Reported);
    bad.row.division = pingan_core::DivisionCode::parse("360313999").expect("code");
    store.create_cases(vec![good, bad]).await.expect_err("a division that does not exist");
    assert!(similar_to_a_new_report(&store, "later", 20).await.is_empty());
}

/// A case written to the file by another connection (another process, say) is found by the
/// next search, and a store opened afresh finds every open case stored.
#[tokio::test]
async fn a_case_written_elsewhere_is_found_by_the_next_search() {
    let (store, directory) = fresh_store().await;
    pingan_store::conformance::a_grid_to_report_in(&store).await;
    let elsewhere = SqliteStore::open(&directory.path().join("pingan.db")).expect("second store");
    assert!(similar_to_a_new_report(&elsewhere, "first", 10).await.is_empty());
    assert_eq!(similar_to_a_new_report(&store, "second", 20).await, ["first"]);
    drop((store, elsewhere));
    let reopened = SqliteStore::open(&directory.path().join("pingan.db")).expect("reopen");
    assert_eq!(similar_to_a_new_report(&reopened, "third", 30).await, ["second", "first"]);
}

#[tokio::test]
async fn reopening_keeps_data_and_does_not_rerun_migrations() {
    let (store, directory) = fresh_store().await;
    pingan_store::conformance::divisions_round_trip(&store).await;
    drop(store);
    let reopened = SqliteStore::open(&directory.path().join("pingan.db")).expect("reopen");
    assert_eq!(pingan_store::DivisionStore::division_names(&reopened).await.expect("names").len(), 8);
}

/// Takes the database at `path` back to before a migration with `sql`, then opens it again,
/// which upgrades it.
fn downgrade_and_reopen(path: &std::path::Path, sql: &str) -> SqliteStore {
    rusqlite::Connection::open(path).expect("open").execute_batch(sql).expect("downgrade");
    SqliteStore::open(path).expect("reopen")
}

/// A database made before the text index: opening it enters every stored case in the index.
#[tokio::test]
async fn upgrading_enters_stored_cases_in_the_text_index() {
    let (store, directory) = fresh_store().await;
    pingan_store::conformance::cases_are_found_by_the_text_they_hold(&store).await;
    drop(store);
    let sql = "DROP TABLE case_text; DROP TABLE IF EXISTS case_text_content; \
               DELETE FROM schema_history WHERE id = '20261129121510_case_text';";
    let upgraded = downgrade_and_reopen(&directory.path().join("pingan.db"), sql);
    pingan_store::conformance::the_remade_text_index_holds_the_stored_cases(&upgraded).await;
}

/// A database made before the indicator tallies: opening it counts every stored case in.
#[tokio::test]
async fn upgrading_counts_stored_cases_into_the_tallies() {
    let (store, directory) = fresh_store().await;
    pingan_store::conformance::tallies_follow_every_write_and_equal_a_recount(&store).await;
    drop(store);
    let sql = "DROP TABLE case_tallies; DELETE FROM schema_history WHERE id = '20261129143417_case_tallies';";
    let upgraded = downgrade_and_reopen(&directory.path().join("pingan.db"), sql);
    pingan_store::conformance::the_remade_tallies_equal_a_recount(&upgraded).await;
}
