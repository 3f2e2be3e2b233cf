//! The shared conformance suite on a real SQLite file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use pingan_store_sqlite::SqliteStore;

async fn fresh_store() -> (SqliteStore, tempfile::TempDir) {
    let directory = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(&directory.path().join("pingan.db")).expect("open");
    (store, directory)
}

pingan_store::conformance_tests!(fresh_store);

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
               DELETE FROM schema_migrations WHERE version = 14;";
    let upgraded = downgrade_and_reopen(&directory.path().join("pingan.db"), sql);
    pingan_store::conformance::the_remade_text_index_holds_the_stored_cases(&upgraded).await;
}

/// A database made before the indicator tallies: opening it counts every stored case in.
#[tokio::test]
async fn upgrading_counts_stored_cases_into_the_tallies() {
    let (store, directory) = fresh_store().await;
    pingan_store::conformance::tallies_follow_every_write_and_equal_a_recount(&store).await;
    drop(store);
    let sql = "DROP TABLE case_tallies; DELETE FROM schema_migrations WHERE version = 15;";
    let upgraded = downgrade_and_reopen(&directory.path().join("pingan.db"), sql);
    pingan_store::conformance::the_remade_tallies_equal_a_recount(&upgraded).await;
}
