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
