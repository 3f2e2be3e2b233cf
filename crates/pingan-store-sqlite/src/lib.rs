//! The embedded engine: one SQLite file, WAL journal, fully synchronous commits, the schema's
//! history (`pingan_store::migrations`) applied at open. Writes go through one writer thread that commits concurrent
//! writes together (see `writer`); reads use a small pool of their own connections, which WAL lets
//! run beside a write.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use pingan_core::{DivisionCode, GridCode, Level, Timestamp};
use pingan_store::migrations::{self, Applied, Engine};
use pingan_store::sql::prefix_end;
use pingan_store::{
    BoundaryRow, CategoryStore, DataKeyStore, Division, DivisionStore, GeographyStore, GridRow, NewPhoto, PhotoStore,
    Store, StoreError, StoreResult,
};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

mod case_text;
mod cases;
mod indicators;
mod open_cases;
mod sql;
mod statements;
mod writer;

use open_cases::OpenCases;
use writer::GroupWriter;

/// SQLite's own upkeep of planner statistics (sampled, so it stays quick on large tables): without
/// them it reached a county's open cases of one category through the category index and read every
/// case of that category.
const OPTIMIZE: &str = "PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002;";

const BUMP_GEOGRAPHY_REVISION: &str = "UPDATE geography_revision SET revision = revision + 1";

/// The most reads that run at once, each on a connection (and a file descriptor) of its own; a
/// read beyond waits for a turn. Without a bound, a burst of slow lists took a blocking thread and
/// a connection each, hundreds of them, on two cores that could run two.
const MAX_READERS: usize = 32;

/// Connections for reading, and the turns to use them.
struct Readers {
    idle: Mutex<Vec<Connection>>,
    turns: Arc<tokio::sync::Semaphore>,
}

impl Readers {
    async fn turn(&self) -> StoreResult<tokio::sync::OwnedSemaphorePermit> {
        self.turns.clone().acquire_owned().await.map_err(|_| StoreError::Unavailable("the store is closed".into()))
    }
}

#[derive(Clone)]
pub struct SqliteStore {
    path: PathBuf,
    writer: GroupWriter,
    readers: Arc<Readers>,
    /// What the duplicate search looks through; only the writer's jobs touch it.
    open_cases: Arc<Mutex<OpenCases>>,
}

fn database_error(error: rusqlite::Error) -> StoreError {
    StoreError::Database(error.to_string())
}

/// A failed write of the row `code`: a broken foreign key means it names a division that does not exist.
fn row_error(error: rusqlite::Error, code: &dyn std::fmt::Display) -> StoreError {
    let foreign_key = matches!(&error, rusqlite::Error::SqliteFailure(e, _) if e.code == ErrorCode::ConstraintViolation
        && e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY);
    if foreign_key { StoreError::MissingDivision(code.to_string()) } else { database_error(error) }
}

/// The page size of a database file made here; a file keeps the size it was made with. Twice
/// SQLite's default: a case's row and its ten index entries land on fewer, fuller pages, so an
/// import's transaction writes and copies back fewer of them: batches gain more than single
/// reports lose (BENCHMARKS.md, section 4).
pub(crate) const PAGE_SIZE: u32 = 8192;

fn open_connection(path: &Path) -> StoreResult<Connection> {
    let connection =
        Connection::open(path).map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
    // The page size first: it can no longer change once the file is in WAL mode. WAL lets readers
    // run beside the writer; FULL syncs the WAL at every commit, so a commit that returned is on disk.
    connection
        .execute_batch(&format!(
            "PRAGMA page_size = {PAGE_SIZE};
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON;
             PRAGMA busy_timeout = 10000;
             PRAGMA journal_size_limit = {};",
            i64::from(writer::LOG_LIMIT_PAGES) * i64::from(PAGE_SIZE)
        ))
        .map_err(|e| StoreError::Unavailable(format!("cannot configure {}: {e}", path.display())))?;
    // One plan per statement, whatever its bound values: otherwise every query on `cases` is
    // compiled again at each run (its parameters are compared with the partial alert index's
    // condition), which took a large share of the writer's time (BENCHMARKS.md, section 4).
    connection
        .set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(|e| StoreError::Unavailable(format!("cannot configure {}: {e}", path.display())))?;
    Ok(connection)
}

/// Runs the steps of the schema's history that the database has not recorded, each in its own
/// transaction, after checking that the ones it recorded are this build's.
fn migrate(connection: &mut Connection) -> StoreResult<()> {
    let transaction = connection.transaction().map_err(database_error)?;
    transaction
        .execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_history (
                 id TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )
        .map_err(database_error)?;
    adopt_numbered_record(&transaction)?;
    let applied: Vec<Applied> = transaction
        .prepare("SELECT id, checksum FROM schema_history")
        .and_then(|mut statement| {
            statement.query_map([], |row| Ok(Applied { id: row.get(0)?, checksum: row.get(1)? }))?.collect()
        })
        .map_err(database_error)?;
    transaction.commit().map_err(database_error)?;
    for (id, script) in migrations::pending(Engine::Sqlite, &applied)? {
        let transaction = connection.transaction().map_err(database_error)?;
        transaction.execute_batch(script).map_err(database_error)?;
        if id == migrations::CASE_TEXT {
            cases::fill_case_text(&transaction)?;
        }
        if migrations::RECOUNT_TALLIES.contains(&id) {
            indicators::fill_case_tallies(&transaction)?;
        }
        transaction
            .execute(
                "INSERT INTO schema_history (id, checksum, applied_at) VALUES (?1, ?2, datetime('now'))",
                params![id, migrations::checksum(script)],
            )
            .map_err(database_error)?;
        transaction.commit().map_err(database_error)?;
    }
    Ok(())
}

/// A database made before the history had ids recorded its steps by number in `schema_migrations`:
/// they are recorded again by id, with the time each ran, and the numbered record goes.
fn adopt_numbered_record(transaction: &rusqlite::Transaction) -> StoreResult<()> {
    let numbered: bool = transaction
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |row| row.get(0),
        )
        .map_err(database_error)?;
    if !numbered {
        return Ok(());
    }
    let rows: Vec<(i64, String)> = transaction
        .prepare("SELECT version, name FROM schema_migrations ORDER BY version")
        .and_then(|mut statement| statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?.collect())
        .map_err(database_error)?;
    for (applied, (version, _)) in migrations::adopt_numbered(Engine::Sqlite, &rows)?.into_iter().zip(&rows) {
        transaction
            .execute(
                "INSERT INTO schema_history (id, checksum, applied_at)
                 SELECT ?1, ?2, applied_at FROM schema_migrations WHERE version = ?3",
                params![applied.id, applied.checksum, version],
            )
            .map_err(database_error)?;
    }
    transaction.execute_batch("DROP TABLE schema_migrations").map_err(database_error)
}

impl SqliteStore {
    /// Opens (creating if need be) the database file at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", parent.display())))?;
        }
        let mut writer = open_connection(path)?;
        // The writer walks every index of every table it writes: a larger page cache keeps their
        // upper levels in memory across commits (readers keep the default).
        writer.execute_batch("PRAGMA cache_size = -131072").map_err(database_error)?;
        // Every write runs in a savepoint of its group's transaction, which keeps the original of
        // each page it changes in a sub-journal. In a temporary file (the default) that was a
        // system call per page, a sizeable share of the writer's time under POST; in memory it is
        // a copy (BENCHMARKS.md, section 7).
        writer.execute_batch("PRAGMA temp_store = MEMORY").map_err(database_error)?;
        migrate(&mut writer)?;
        writer.execute_batch(OPTIMIZE).map_err(database_error)?;
        // A migration that builds an index leaves its pages in the log, where every reader would
        // look for them until a later commit's checkpoint: copied back now, readers read the file.
        writer.execute_batch("PRAGMA wal_checkpoint(PASSIVE)").map_err(database_error)?;
        let open_cases = Arc::new(Mutex::new(OpenCases::load(&writer)?));
        Ok(SqliteStore {
            path: path.to_owned(),
            writer: GroupWriter::start(writer, open_cases.clone())?,
            readers: Arc::new(Readers {
                idle: Mutex::new(Vec::new()),
                turns: Arc::new(tokio::sync::Semaphore::new(MAX_READERS)),
            }),
            open_cases,
        })
    }

    async fn read<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        let turn = self.readers.turn().await?;
        let store = self.clone();
        run_blocking(move || {
            let _turn = turn;
            store.on_a_connection(query)
        })
        .await
    }

    /// Runs `query` on the calling thread once it has a turn, for a lookup by key that takes
    /// microseconds: handing it to the blocking pool and back would cost two thread switches,
    /// more than the lookup itself.
    async fn read_here<T>(&self, query: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let _turn = self.readers.turn().await?;
        self.on_a_connection(query)
    }

    /// Runs `query` on an idle connection, or a new one; the caller holds a turn.
    fn on_a_connection<T>(&self, query: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let pooled = self.readers.idle.lock().map_err(|_| poisoned())?.pop();
        let connection = match pooled {
            Some(connection) => connection,
            None => open_connection(&self.path)?,
        };
        let result = query(&connection).map_err(database_error);
        self.readers.idle.lock().map_err(|_| poisoned())?.push(connection);
        result
    }

    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.writer.write(work).await
    }
}

fn poisoned() -> StoreError {
    StoreError::Unavailable("a database connection was poisoned by an earlier panic".into())
}

async fn run_blocking<T: Send + 'static>(work: impl FnOnce() -> StoreResult<T> + Send + 'static) -> StoreResult<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| StoreError::Unavailable(e.to_string()))?
}

fn division_from_row(code: String, name: String) -> rusqlite::Result<Division> {
    let code = DivisionCode::parse(&code)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))?;
    Ok(Division { code, name })
}

#[async_trait]
impl DivisionStore for SqliteStore {
    async fn upsert_divisions(&self, mut rows: Vec<Division>) -> StoreResult<()> {
        // Parents before children, so each row's parent is already there when it is written.
        rows.sort_by_key(|row| row.code.as_str().len());
        self.write(move |connection| {
            let mut statement = connection
                .prepare(
                    "INSERT INTO divisions (code, name, level, parent_code) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (code) DO UPDATE SET name = excluded.name WHERE name <> excluded.name",
                )
                .map_err(database_error)?;
            for row in &rows {
                let parent = row.code.parent().map(String::from);
                statement
                    .execute(params![row.code.as_str(), row.name, row.code.level().to_db(), parent])
                    .map_err(|e| row_error(e, &row.code))?;
            }
            Ok(())
        })
        .await
    }

    async fn division_names(&self) -> StoreResult<Vec<Division>> {
        self.read(|connection| {
            let mut statement = connection.prepare("SELECT code, name FROM divisions ORDER BY code")?;
            statement.query_map([], |row| division_from_row(row.get(0)?, row.get(1)?))?.collect()
        })
        .await
    }

    async fn division(&self, code: &DivisionCode) -> StoreResult<Option<Division>> {
        let code = code.to_string();
        self.read(move |connection| {
            connection
                .query_row("SELECT code, name FROM divisions WHERE code = ?1", [code], |row| {
                    division_from_row(row.get(0)?, row.get(1)?)
                })
                .optional()
        })
        .await
    }

    async fn children(&self, code: &DivisionCode) -> StoreResult<Vec<Division>> {
        let code = code.to_string();
        self.read(move |connection| {
            let mut statement =
                connection.prepare("SELECT code, name FROM divisions WHERE parent_code = ?1 ORDER BY code")?;
            statement.query_map([code], |row| division_from_row(row.get(0)?, row.get(1)?))?.collect()
        })
        .await
    }

    async fn count_by_level(&self) -> StoreResult<Vec<(Level, u64)>> {
        let counts: Vec<(i64, i64)> = self
            .read(|connection| {
                let mut statement =
                    connection.prepare("SELECT level, count(*) FROM divisions GROUP BY level ORDER BY level")?;
                statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?.collect()
            })
            .await?;
        counts
            .into_iter()
            .map(|(level, count)| {
                let level =
                    Level::from_db(level).ok_or_else(|| StoreError::Corrupt(format!("division level {level}")))?;
                Ok((level, count as u64))
            })
            .collect()
    }
}

#[async_trait]
impl GeographyStore for SqliteStore {
    async fn put_boundaries(&self, rows: Vec<BoundaryRow>) -> StoreResult<()> {
        self.write(move |connection| {
            let mut statement = connection
                .prepare(
                    "INSERT INTO boundaries (division_code, geometry, source) VALUES (?1, ?2, ?3)
                     ON CONFLICT (division_code) DO UPDATE SET geometry = excluded.geometry, source = excluded.source",
                )
                .map_err(database_error)?;
            for row in &rows {
                statement
                    .execute(params![row.code.as_str(), row.geometry, row.source])
                    .map_err(|e| row_error(e, &row.code))?;
            }
            connection.execute(BUMP_GEOGRAPHY_REVISION, []).map_err(database_error)?;
            Ok(())
        })
        .await
    }

    async fn boundaries(&self, prefix: &str) -> StoreResult<Vec<BoundaryRow>> {
        let (start, end) = (prefix.to_owned(), prefix_end(prefix));
        let rows: Vec<(String, String, String)> = self
            .read(move |connection| {
                let mut statement = connection.prepare(
                    "SELECT division_code, geometry, source FROM boundaries
                     WHERE division_code >= ?1 AND division_code < ?2 ORDER BY division_code",
                )?;
                statement.query_map([start, end], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?.collect()
            })
            .await?;
        rows.into_iter()
            .map(|(code, geometry, source)| {
                let code = DivisionCode::parse(&code).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok(BoundaryRow { code, geometry, source })
            })
            .collect()
    }

    async fn put_grids(&self, rows: Vec<GridRow>) -> StoreResult<()> {
        self.write(move |connection| {
            let mut statement = connection
                .prepare(
                    "INSERT INTO grids (code, village_code, name, geometry) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (code) DO UPDATE SET name = excluded.name, geometry = excluded.geometry",
                )
                .map_err(database_error)?;
            for row in &rows {
                statement
                    .execute(params![row.code.as_str(), row.code.village().as_str(), row.name, row.geometry])
                    .map_err(|e| row_error(e, &row.code))?;
            }
            connection.execute(BUMP_GEOGRAPHY_REVISION, []).map_err(database_error)?;
            Ok(())
        })
        .await
    }

    async fn grids(&self, prefix: &str) -> StoreResult<Vec<GridRow>> {
        let (start, end) = (prefix.to_owned(), prefix_end(prefix));
        let rows: Vec<(String, String, String)> = self
            .read(move |connection| {
                let mut statement = connection
                    .prepare("SELECT code, name, geometry FROM grids WHERE code >= ?1 AND code < ?2 ORDER BY code")?;
                statement.query_map([start, end], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?.collect()
            })
            .await?;
        rows.into_iter()
            .map(|(code, name, geometry)| {
                let code = GridCode::parse(&code).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok(GridRow { code, name, geometry })
            })
            .collect()
    }

    async fn geography_revision(&self) -> StoreResult<i64> {
        self.read(|connection| connection.query_row("SELECT revision FROM geography_revision", [], |row| row.get(0)))
            .await
    }
}

#[async_trait]
impl CategoryStore for SqliteStore {
    async fn add_category_version(&self, text: String, source: String, at: Timestamp) -> StoreResult<i64> {
        let at = at.millis();
        self.write(move |connection| {
            connection
                .query_row(
                    "INSERT INTO category_versions (version, created_at, source, categories)
                     SELECT coalesce(max(version), 0) + 1, ?1, ?2, ?3 FROM category_versions RETURNING version",
                    params![at, source, text],
                    |row| row.get(0),
                )
                .map_err(database_error)
        })
        .await
    }

    async fn latest_categories(&self) -> StoreResult<Option<(i64, String)>> {
        self.read(|connection| {
            connection
                .query_row(
                    "SELECT version, categories FROM category_versions ORDER BY version DESC LIMIT 1",
                    [],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
        })
        .await
    }
}

#[async_trait]
impl DataKeyStore for SqliteStore {
    async fn data_key_probes(&self) -> StoreResult<Vec<(String, String)>> {
        self.read(|connection| {
            let mut statement = connection.prepare("SELECT key_id, probe FROM data_key_probes ORDER BY key_id")?;
            let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            rows.collect()
        })
        .await
    }

    async fn add_data_key_probe(&self, key_id: &str, probe: &str, at: Timestamp) -> StoreResult<()> {
        let at = at.millis();
        let (key_id, probe) = (key_id.to_owned(), probe.to_owned());
        self.write(move |connection| {
            connection
                .execute(
                    "INSERT INTO data_key_probes (key_id, probe, recorded_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (key_id) DO NOTHING",
                    params![key_id, probe, at],
                )
                .map(|_| ())
                .map_err(database_error)
        })
        .await
    }

    async fn retire_data_key_probes(&self, kept: &[String]) -> StoreResult<()> {
        let kept = kept.to_vec();
        self.write(move |connection| {
            let stored: Vec<String> = connection
                .prepare("SELECT key_id FROM data_key_probes")
                .and_then(|mut statement| statement.query_map([], |row| row.get(0))?.collect())
                .map_err(database_error)?;
            for key_id in stored.iter().filter(|id| !kept.contains(id)) {
                connection
                    .execute("DELETE FROM data_key_probes WHERE key_id = ?1", [key_id])
                    .map_err(database_error)?;
            }
            Ok(())
        })
        .await
    }

    async fn sealed_samples(&self, limit: u32) -> StoreResult<Vec<(String, String)>> {
        self.read(move |connection| {
            let mut statement = connection.prepare(
                "SELECT id, json_extract(body, '$.reporter_sealed') FROM cases
                 WHERE json_extract(body, '$.reporter_sealed') IS NOT NULL ORDER BY reported_at DESC LIMIT ?1",
            )?;
            let rows = statement.query_map([limit], |row| Ok((row.get(0)?, row.get(1)?)))?;
            rows.collect()
        })
        .await
    }
}

#[async_trait]
impl PhotoStore for SqliteStore {
    async fn put_photo(&self, photo: NewPhoto) -> StoreResult<bool> {
        self.write(move |connection| {
            let NewPhoto { hash, mime, bytes, at, uploader } = photo;
            let inserted = connection
                .execute(
                    "INSERT INTO photos (hash, mime, size, created_at, bytes, uploader, attached)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)
                     ON CONFLICT (hash) DO NOTHING",
                    params![hash, mime, bytes.len() as i64, at.millis(), bytes, uploader],
                )
                .map_err(database_error)?;
            Ok(inserted > 0)
        })
        .await
    }

    async fn photo_bytes_since(&self, uploader: &str, since: Timestamp) -> StoreResult<u64> {
        let uploader = uploader.to_owned();
        self.read(move |connection| {
            connection.query_row(
                "SELECT coalesce(sum(size), 0) FROM photos WHERE uploader = ?1 AND created_at >= ?2",
                params![uploader, since.millis()],
                |row| row.get::<_, i64>(0),
            )
        })
        .await
        .map(|bytes| bytes.max(0) as u64)
    }

    async fn remove_unattached_photos(&self, before: Timestamp) -> StoreResult<u64> {
        self.write(move |connection| {
            connection
                .execute("DELETE FROM photos WHERE attached = 0 AND created_at < ?1", [before.millis()])
                .map(|removed| removed as u64)
                .map_err(database_error)
        })
        .await
    }

    async fn photo(&self, hash: &str) -> StoreResult<Option<(String, Vec<u8>)>> {
        let hash = hash.to_owned();
        self.read(move |connection| {
            connection
                .query_row("SELECT mime, bytes FROM photos WHERE hash = ?1", [hash], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()
        })
        .await
    }

    async fn missing_photos(&self, hashes: &[String]) -> StoreResult<Vec<String>> {
        let hashes = hashes.to_vec();
        self.read(move |connection| {
            let mut statement = connection.prepare_cached("SELECT 1 FROM photos WHERE hash = ?1")?;
            let mut missing = Vec::new();
            for hash in hashes {
                if !statement.exists([&hash])? {
                    missing.push(hash);
                }
            }
            Ok(missing)
        })
        .await
    }
}

impl Store for SqliteStore {
    fn engine(&self) -> &'static str {
        "sqlite"
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]

    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A burst of slow reads takes turns: never more than [`MAX_READERS`] at once, never more
    /// connections than that, and every read is answered.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_take_turns_on_a_bounded_set_of_connections() {
        let directory = tempfile::tempdir().expect("directory");
        let store = SqliteStore::open(&directory.path().join("readers.db")).expect("store");
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let reads: Vec<_> = (0..4 * MAX_READERS)
            .map(|n| {
                let (store, running, most) = (store.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    let read = move |connection: &Connection| {
                        most.fetch_max(running.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                        connection.query_row("SELECT ?1", [n as i64], |row| row.get::<_, i64>(0))
                    };
                    if n % 2 == 0 { store.read(read).await } else { store.read_here(read).await }
                })
            })
            .collect();
        let mut answers = Vec::new();
        for read in reads {
            answers.push(read.await.expect("task").expect("read"));
        }
        assert_eq!(answers, (0..4 * MAX_READERS as i64).collect::<Vec<_>>());
        let most = most.load(Ordering::SeqCst);
        assert!(most <= MAX_READERS && most > 2, "{most} reads at once");
        assert!(store.readers.idle.lock().expect("idle").len() <= MAX_READERS, "connections kept");
    }
}
