//! The shared conformance suite on a real PostgreSQL server: PINGAN_TEST_POSTGRES_URL, or the local
//! server on 127.0.0.1:5432. Each test works in a schema of its own, dropped when it ends. A server
//! that cannot be reached fails these tests; they are never skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use pingan_store_postgres::PostgresStore;

pub fn test_url() -> String {
    std::env::var("PINGAN_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A store in a schema of its own, dropped when the test ends.
async fn fresh_store() -> (PostgresStore, pingan_test_support::PostgresSchema) {
    pingan_test_support::PostgresSchema::create().await
}

pingan_store::conformance_tests!(fresh_store);

/// A fresh store in a schema of its own, with the schema's name.
async fn store_in_new_schema() -> (PostgresStore, String) {
    let schema = format!("pingan_test_{}_{}", std::process::id(), fastrand::u64(..));
    (PostgresStore::connect(&test_url(), Some(&schema)).await.expect("connect"), schema)
}

/// A plain connection working in `schema`, beside the store's pool, for what the store does not
/// offer; its driver runs until the client is dropped.
async fn raw_client(schema: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&test_url(), tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(connection);
    client.batch_execute(&format!("SET search_path TO \"{schema}\"")).await.expect("search path");
    client
}

/// Takes `schema` back to before a migration with `sql`, then connects again, which upgrades it.
async fn downgrade_and_reconnect(schema: &str, sql: &str) -> PostgresStore {
    raw_client(schema).await.batch_execute(sql).await.expect("downgrade");
    PostgresStore::connect(&test_url(), Some(schema)).await.expect("reconnect")
}

/// A database made before the text index: connecting to it gives every stored case its grams.
#[tokio::test]
async fn upgrading_enters_stored_cases_in_the_text_index() {
    let (store, schema) = store_in_new_schema().await;
    pingan_store::conformance::cases_are_found_by_the_text_they_hold(&store).await;
    drop(store);
    let sql =
        "ALTER TABLE cases DROP COLUMN search_grams; DELETE FROM schema_history WHERE id = '20261129121510_case_text';";
    let upgraded = downgrade_and_reconnect(&schema, sql).await;
    pingan_store::conformance::the_remade_text_index_holds_the_stored_cases(&upgraded).await;
    PostgresStore::drop_schema(&test_url(), &schema).await.expect("drop");
}

/// A database made before the indicator tallies: connecting to it counts every stored case in.
#[tokio::test]
async fn upgrading_counts_stored_cases_into_the_tallies() {
    let (store, schema) = store_in_new_schema().await;
    pingan_store::conformance::tallies_follow_every_write_and_equal_a_recount(&store).await;
    drop(store);
    let sql = "DROP TABLE case_tallies, case_tally_changes; DELETE FROM schema_history WHERE id = '20261129143417_case_tallies';";
    let upgraded = downgrade_and_reconnect(&schema, sql).await;
    pingan_store::conformance::the_remade_tallies_equal_a_recount(&upgraded).await;
    PostgresStore::drop_schema(&test_url(), &schema).await.expect("drop");
}

/// The minute's fold moves every pending change into the tallies (the conformance check sees the
/// same figures before and after; here, that the changes really moved).
#[tokio::test]
async fn folding_moves_every_change_into_the_tallies() {
    let (store, schema) = store_in_new_schema().await;
    pingan_store::conformance::tallies_follow_every_write_and_equal_a_recount(&store).await;
    let client = raw_client(&schema).await;
    let count = async |table: &str| -> i64 {
        client.query_one(&format!("SELECT count(*) FROM {table}"), &[]).await.expect("count").get(0)
    };
    assert!(count("case_tally_changes").await > 0, "the last case's changes wait for the fold");
    pingan_store::indicators::IndicatorStore::fold_tallies(&store).await.expect("fold");
    assert_eq!(count("case_tally_changes").await, 0);
    assert!(count("case_tallies").await > 0);
    pingan_store::conformance::the_remade_tallies_equal_a_recount(&store).await;
    PostgresStore::drop_schema(&test_url(), &schema).await.expect("drop");
}

/// `test_url()` with more query parameters.
fn test_url_with(parameters: &str) -> String {
    let url = test_url();
    let joint = if url.contains('?') { '&' } else { '?' };
    format!("{url}{joint}{parameters}")
}

/// What the server says of the connections its clients named `name`: whether TLS covers each.
async fn encrypted(name: &str) -> Vec<bool> {
    let (client, connection) = tokio_postgres::connect(&test_url(), tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(connection);
    let rows = client
        .query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = $1",
            &[&name],
        )
        .await
        .expect("pg_stat_ssl");
    rows.iter().map(|row| row.get(0)).collect()
}

/// The server's own certificate file, which the tests trust as a root (the test server must offer TLS).
async fn server_certificate() -> String {
    let (client, connection) = tokio_postgres::connect(&test_url(), tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(connection);
    let ssl: String = client.query_one("SHOW ssl", &[]).await.expect("show ssl").get(0);
    assert_eq!(ssl, "on", "the test server must offer TLS (ssl = on in postgresql.conf)");
    client.query_one("SHOW ssl_cert_file", &[]).await.expect("show ssl_cert_file").get(0)
}

/// `sslmode` as libpq means it: the line is encrypted unless disabled, and the server's
/// certificate is checked against the roots only when asked (its host too with verify-full).
#[tokio::test]
async fn tls_is_used_and_checked_as_sslmode_asks() {
    let certificate = server_certificate().await;
    for (mode, expected) in [("disable", false), ("prefer", true), ("require", true)] {
        let schema = format!("pingan_test_tls_{}_{}", std::process::id(), fastrand::u64(..));
        let name = format!("pingan-tls-{mode}-{}", fastrand::u64(..));
        let store =
            PostgresStore::connect(&test_url_with(&format!("sslmode={mode}&application_name={name}")), Some(&schema))
                .await
                .unwrap_or_else(|e| panic!("sslmode={mode}: {e}"));
        let seen = encrypted(&name).await;
        assert!(!seen.is_empty() && seen.iter().all(|&tls| tls == expected), "sslmode={mode}: {seen:?}");
        drop(store);
        PostgresStore::drop_schema(&test_url(), &schema).await.expect("drop");
    }

    let name = format!("pingan-tls-verify-ca-{}", fastrand::u64(..));
    let schema = format!("pingan_test_tls_{}_{}", std::process::id(), fastrand::u64(..));
    let trusted = format!("sslmode=verify-ca&sslrootcert={certificate}&application_name={name}");
    let store = PostgresStore::connect(&test_url_with(&trusted), Some(&schema))
        .await
        .expect("verify-ca with the server's root");
    assert!(encrypted(&name).await.iter().all(|&tls| tls));
    drop(store);
    PostgresStore::drop_schema(&test_url(), &schema).await.expect("drop");

    // The test server's certificate does not name 127.0.0.1, and no public root issued it.
    for (parameters, why) in [
        (format!("sslmode=verify-full&sslrootcert={certificate}"), "certificate not valid for name \"127.0.0.1\""),
        ("sslmode=verify-full".to_owned(), "UnknownIssuer"),
        ("sslmode=verify-ca".to_owned(), "UnknownIssuer"),
    ] {
        let error = PostgresStore::connect(&test_url_with(&parameters), None).await.err().expect("refused");
        assert!(error.to_string().contains(why), "{parameters}: {error}");
    }
}
