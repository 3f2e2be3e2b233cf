//! The shared conformance suite on a real PostgreSQL server: PINGAN_TEST_POSTGRES_URL, or the local
//! server on 127.0.0.1:5432. Each test works in a schema of its own. A server that cannot be
//! reached fails these tests; they are never skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use pingan_store_postgres::PostgresStore;

pub fn test_url() -> String {
    std::env::var("PINGAN_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn fresh_store() -> (PostgresStore, ()) {
    let schema = format!("pingan_test_{}_{}", std::process::id(), fastrand::u64(..));
    let store = PostgresStore::connect(&test_url(), Some(&schema))
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {} is needed for these tests: {e}", test_url()));
    (store, ())
}

pingan_store::conformance_tests!(fresh_store);
