//! Databases holding the demo data, copied from a template made once per test binary: loading the
//! division tree, the grids and the accounts takes far longer than copying them. SQLite's template
//! is a file; PostgreSQL's a database that `CREATE DATABASE … TEMPLATE` copies. A template is named
//! after the test binary (its path, size and time), so a rebuilt binary makes a fresh one; templates
//! and test databases a crashed run left behind are removed after a day.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

/// Left-behind templates and test databases older than this are removed.
const STALE_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The schema the PostgreSQL templates (and so their copies) keep Pingan's tables in.
pub(crate) const POSTGRES_SCHEMA: &str = "pingan";

/// Names this build of the test binary: a template made by another build may hold another schema.
fn build_key() -> String {
    let exe = std::env::current_exe().unwrap();
    let meta = std::fs::metadata(&exe).unwrap();
    let modified = meta.modified().unwrap().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let digest = Sha256::digest(format!("{}|{}|{modified}", exe.display(), meta.len()));
    pingan_core::hex(&digest[..8])
}

fn seconds_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The SQLite template's path, made first if this build has none: the demo data goes into a fresh
/// store; the result is written out whole (`VACUUM INTO`, the write-ahead log folded in)
/// and moved into place in one step, so a test never copies a half-made template.
pub(crate) fn sqlite_template(runtime: &tokio::runtime::Runtime) -> PathBuf {
    let directory = std::env::temp_dir().join("pingan-test-templates");
    std::fs::create_dir_all(&directory).unwrap();
    let template = directory.join(format!("{}.db", build_key()));
    if template.exists() {
        return template;
    }
    remove_stale_files(&directory);
    let building = tempfile::tempdir_in(&directory).unwrap();
    let store = pingan_store_sqlite::SqliteStore::open(&building.path().join("pingan.db")).unwrap();
    runtime.block_on(crate::fill_demo(Arc::new(store)));
    let whole = building.path().join("whole.db");
    let connection = rusqlite::Connection::open(building.path().join("pingan.db")).unwrap();
    connection.execute("VACUUM INTO ?1", [whole.to_str().unwrap()]).unwrap();
    // Two builders at once each move a whole template into place: the second replaces the first.
    std::fs::rename(&whole, &template).unwrap();
    template
}

fn remove_stale_files(directory: &Path) {
    for entry in std::fs::read_dir(directory).unwrap().flatten() {
        let old =
            entry.metadata().and_then(|m| m.modified()).is_ok_and(|at| at.elapsed().unwrap_or_default() > STALE_AFTER);
        if old {
            let _ = std::fs::remove_file(entry.path()).or_else(|_| std::fs::remove_dir_all(entry.path()));
        }
    }
}

/// A connection to the test server's maintenance database, for creating and dropping databases.
async fn admin() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&crate::postgres_url(), tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {} is needed for this test: {e}", crate::postgres_url()));
    tokio::spawn(connection);
    client
}

/// The test server's URL, naming database `database` instead.
pub(crate) fn url_of(database: &str) -> String {
    let mut url = url::Url::parse(&crate::postgres_url()).unwrap();
    url.set_path(database);
    url.to_string()
}

/// A new database copied from this build's PostgreSQL template (made first if there is none);
/// its name.
pub(crate) async fn postgres_copy() -> String {
    let admin = admin().await;
    let suffix = format!("_{}", build_key());
    let templates =
        admin.query("SELECT datname FROM pg_database WHERE datname LIKE 'pingan\\_template\\_%'", &[]).await.unwrap();
    let found = templates.iter().map(|row| row.get::<_, String>(0)).find(|name| name.ends_with(&suffix));
    let template = match found {
        Some(name) => name,
        None => {
            remove_stale_databases(&admin).await;
            make_postgres_template(&admin, &suffix).await
        }
    };
    let copy = format!("pingan_test_{}_{}_{}", seconds_now(), std::process::id(), fastrand::u32(..));
    // A template is copied only while nobody is connected to it: a builder's connections may
    // take a moment to close.
    let create = format!("CREATE DATABASE \"{copy}\" TEMPLATE \"{template}\"");
    retry_while_in_use(&admin, &create).await;
    copy
}

async fn make_postgres_template(admin: &tokio_postgres::Client, suffix: &str) -> String {
    let building = format!("pingan_building_{}_{}_{}", seconds_now(), std::process::id(), fastrand::u32(..));
    admin.batch_execute(&format!("CREATE DATABASE \"{building}\"")).await.unwrap();
    let store = pingan_store_postgres::PostgresStore::connect(&url_of(&building), Some(POSTGRES_SCHEMA)).await.unwrap();
    crate::fill_demo(Arc::new(store)).await;
    let template = format!("pingan_template_{}{suffix}", seconds_now());
    let rename = format!("ALTER DATABASE \"{building}\" RENAME TO \"{template}\"");
    retry_while_in_use(admin, &rename).await;
    template
}

/// Runs `statement`, again while PostgreSQL says a database it names is in use (for up to 10 s).
async fn retry_while_in_use(admin: &tokio_postgres::Client, statement: &str) {
    let started = std::time::Instant::now();
    loop {
        match admin.batch_execute(statement).await {
            Ok(()) => return,
            Err(error) if error.code() == Some(&tokio_postgres::error::SqlState::OBJECT_IN_USE) => {
                assert!(started.elapsed() < Duration::from_secs(10), "{statement}: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("{statement}: {error}"),
        }
    }
}

/// Drops templates and copies older than [`STALE_AFTER`] (each name carries its Unix time third).
async fn remove_stale_databases(admin: &tokio_postgres::Client) {
    let rows = admin
        .query("SELECT datname FROM pg_database WHERE datname ~ '^pingan_(template|test|building)_'", &[])
        .await
        .unwrap();
    for row in rows {
        let name: String = row.get(0);
        let made = name.split('_').nth(2).and_then(|part| part.parse::<u64>().ok());
        if made.is_some_and(|made| made + STALE_AFTER.as_secs() < seconds_now()) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
        }
    }
}

/// Drops a test's database, whoever is still connected.
pub(crate) async fn drop_database(name: &str) {
    admin().await.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await.unwrap();
}
