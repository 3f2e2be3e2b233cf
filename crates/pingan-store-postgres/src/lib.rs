//! The PostgreSQL engine: a connection pool, the schema's history (`pingan_store::migrations`)
//! applied at connect, bulk writes as array parameters (`unnest`) so a large import is a few
//! statements, not one per row.

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use pingan_core::{DivisionCode, GridCode, Level, Timestamp};
use pingan_store::migrations::{self, Applied, Engine};
use pingan_store::{
    BoundaryRow, CategoryStore, DataKeyStore, Division, DivisionStore, GeographyStore, GridRow, NewPhoto, PhotoStore,
    Store, StoreError, StoreResult,
};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

mod cases;
mod indicators;
mod sql;
mod statements;
mod tls;

const BUMP_GEOGRAPHY_REVISION: &str = "UPDATE geography_revision SET revision = revision + 1";

/// Rows per statement in bulk writes.
const CHUNK: usize = 20_000;

#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
}

fn database_error(error: tokio_postgres::Error) -> StoreError {
    if error.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) {
        let detail = error.as_db_error().and_then(|e| e.detail()).unwrap_or("").to_owned();
        return StoreError::MissingDivision(detail);
    }
    StoreError::Database(error.to_string())
}

/// A connection that could not be had, with every cause: the reason a TLS handshake failed (an
/// untrusted certificate, one for another host) lies several sources down.
fn pool_error(error: impl std::error::Error) -> StoreError {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    StoreError::Unavailable(text)
}

/// A database made before the history had ids recorded its steps by number in `schema_migrations`:
/// they are recorded again by id, with the time each ran, and the numbered record goes.
async fn adopt_numbered_record(transaction: &tokio_postgres::Transaction<'_>) -> StoreResult<()> {
    let numbered = transaction
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await
        .map_err(database_error)?;
    if !numbered.get::<_, bool>(0) {
        return Ok(());
    }
    let rows: Vec<(i64, String)> = transaction
        .query("SELECT version::BIGINT, name FROM schema_migrations ORDER BY version", &[])
        .await
        .map_err(database_error)?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    for (applied, (version, _)) in migrations::adopt_numbered(Engine::Postgres, &rows)?.into_iter().zip(&rows) {
        transaction
            .execute(
                "INSERT INTO schema_history (id, checksum, applied_at)
                 SELECT $1, $2, applied_at FROM schema_migrations WHERE version = $3",
                &[&applied.id, &applied.checksum, &i32::try_from(*version).unwrap_or(i32::MAX)],
            )
            .await
            .map_err(database_error)?;
    }
    transaction.batch_execute("DROP TABLE schema_migrations").await.map_err(database_error)
}

impl PostgresStore {
    /// Connects to `url` (postgres://…, with TLS as its `sslmode` asks: see `tls`) and brings the
    /// schema up to date. With `schema`, every connection works in that schema (created if need
    /// be), which keeps test runs apart.
    pub async fn connect(url: &str, schema: Option<&str>) -> StoreResult<PostgresStore> {
        let (mut config, tls) = tls::connection(url)?;
        if let Some(schema) = schema {
            config.options(format!("-c search_path={schema}"));
        }
        let manager = Manager::from_config(config, tls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager).max_size(16).build().map_err(pool_error)?;
        let store = PostgresStore { pool };
        let mut client = store.pool.get().await.map_err(pool_error)?;
        if let Some(schema) = schema {
            client
                .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{}\"", schema.replace('"', "")))
                .await
                .map_err(database_error)?;
        }
        let transaction = client.transaction().await.map_err(database_error)?;
        // One migrator at a time, even when several servers start together.
        transaction.batch_execute("SELECT pg_advisory_xact_lock(7262616)").await.map_err(database_error)?;
        transaction
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_history (
                     id TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            )
            .await
            .map_err(database_error)?;
        adopt_numbered_record(&transaction).await?;
        let applied: Vec<Applied> = transaction
            .query("SELECT id, checksum FROM schema_history", &[])
            .await
            .map_err(database_error)?
            .iter()
            .map(|row| Applied { id: row.get(0), checksum: row.get(1) })
            .collect();
        for (id, script) in migrations::pending(Engine::Postgres, &applied)? {
            transaction.batch_execute(script).await.map_err(database_error)?;
            if id == migrations::CASE_TEXT {
                cases::fill_search_grams(&transaction).await?;
            }
            if migrations::RECOUNT_TALLIES.contains(&id) {
                indicators::fill_case_tallies(&transaction).await?;
            }
            transaction
                .execute(
                    "INSERT INTO schema_history (id, checksum) VALUES ($1, $2)",
                    &[&id, &migrations::checksum(script)],
                )
                .await
                .map_err(database_error)?;
        }
        transaction.commit().await.map_err(database_error)?;
        Ok(store)
    }

    /// Removes a scratch schema made by `connect(url, Some(schema))`, with everything in it.
    pub async fn drop_schema(url: &str, schema: &str) -> StoreResult<()> {
        let (config, tls) = tls::connection(url)?;
        let (client, connection) = config.connect(tls).await.map_err(database_error)?;
        let driver = tokio::spawn(connection);
        let dropped = client
            .batch_execute(&format!(
                "SET client_min_messages = warning; DROP SCHEMA IF EXISTS \"{}\" CASCADE",
                schema.replace('"', "")
            ))
            .await;
        drop(client);
        let _ = driver.await;
        dropped.map_err(database_error)
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(pool_error)
    }
}

fn division_from_row(row: &Row) -> StoreResult<Division> {
    let code: String = row.get(0);
    let code = DivisionCode::parse(&code).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Division { code, name: row.get(1) })
}

#[async_trait]
impl DivisionStore for PostgresStore {
    async fn upsert_divisions(&self, mut rows: Vec<Division>) -> StoreResult<()> {
        rows.sort_by_key(|row| row.code.as_str().len());
        let mut client = self.client().await?;
        let transaction = client.transaction().await.map_err(database_error)?;
        let statement = transaction
            .prepare(
                "INSERT INTO divisions (code, name, level, parent_code)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::smallint[], $4::text[])
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name WHERE divisions.name <> excluded.name",
            )
            .await
            .map_err(database_error)?;
        // Chunks never mix levels, so every parent is written before its children.
        for level_rows in rows.chunk_by(|a, b| a.code.as_str().len() == b.code.as_str().len()) {
            for chunk in level_rows.chunks(CHUNK) {
                let codes: Vec<&str> = chunk.iter().map(|r| r.code.as_str()).collect();
                let names: Vec<&str> = chunk.iter().map(|r| r.name.as_str()).collect();
                let levels: Vec<i16> = chunk.iter().map(|r| r.code.level().to_db() as i16).collect();
                let parents: Vec<Option<String>> = chunk.iter().map(|r| r.code.parent().map(String::from)).collect();
                transaction.execute(&statement, &[&codes, &names, &levels, &parents]).await.map_err(database_error)?;
            }
        }
        transaction.commit().await.map_err(database_error)
    }

    async fn division_names(&self) -> StoreResult<Vec<Division>> {
        let client = self.client().await?;
        let rows = client.query("SELECT code, name FROM divisions ORDER BY code", &[]).await.map_err(database_error)?;
        rows.iter().map(division_from_row).collect()
    }

    async fn division(&self, code: &DivisionCode) -> StoreResult<Option<Division>> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT code, name FROM divisions WHERE code = $1", &[&code.as_str()])
            .await
            .map_err(database_error)?;
        row.as_ref().map(division_from_row).transpose()
    }

    async fn children(&self, code: &DivisionCode) -> StoreResult<Vec<Division>> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT code, name FROM divisions WHERE parent_code = $1 ORDER BY code", &[&code.as_str()])
            .await
            .map_err(database_error)?;
        rows.iter().map(division_from_row).collect()
    }

    async fn count_by_level(&self) -> StoreResult<Vec<(Level, u64)>> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT level, count(*) FROM divisions GROUP BY level ORDER BY level", &[])
            .await
            .map_err(database_error)?;
        rows.iter()
            .map(|row| {
                let (level, count): (i16, i64) = (row.get(0), row.get(1));
                let level = Level::from_db(i64::from(level))
                    .ok_or_else(|| StoreError::Corrupt(format!("division level {level}")))?;
                Ok((level, count as u64))
            })
            .collect()
    }
}

#[async_trait]
impl GeographyStore for PostgresStore {
    async fn put_boundaries(&self, rows: Vec<BoundaryRow>) -> StoreResult<()> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await.map_err(database_error)?;
        for chunk in rows.chunks(CHUNK) {
            let codes: Vec<&str> = chunk.iter().map(|r| r.code.as_str()).collect();
            let geometries: Vec<&str> = chunk.iter().map(|r| r.geometry.as_str()).collect();
            let sources: Vec<&str> = chunk.iter().map(|r| r.source.as_str()).collect();
            transaction
                .execute(
                    "INSERT INTO boundaries (division_code, geometry, source)
                     SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
                     ON CONFLICT (division_code) DO UPDATE SET geometry = excluded.geometry, source = excluded.source",
                    &[&codes, &geometries, &sources],
                )
                .await
                .map_err(database_error)?;
        }
        transaction.execute(BUMP_GEOGRAPHY_REVISION, &[]).await.map_err(database_error)?;
        transaction.commit().await.map_err(database_error)
    }

    async fn boundaries(&self, prefix: &str) -> StoreResult<Vec<BoundaryRow>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT division_code, geometry, source FROM boundaries WHERE division_code LIKE $1 || '%' ORDER BY division_code",
                &[&prefix],
            )
            .await
            .map_err(database_error)?;
        rows.iter()
            .map(|row| {
                let code: String = row.get(0);
                let code = DivisionCode::parse(&code).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok(BoundaryRow { code, geometry: row.get(1), source: row.get(2) })
            })
            .collect()
    }

    async fn put_grids(&self, rows: Vec<GridRow>) -> StoreResult<()> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await.map_err(database_error)?;
        for chunk in rows.chunks(CHUNK) {
            let codes: Vec<&str> = chunk.iter().map(|r| r.code.as_str()).collect();
            let villages: Vec<String> = chunk.iter().map(|r| r.code.village().to_string()).collect();
            let names: Vec<&str> = chunk.iter().map(|r| r.name.as_str()).collect();
            let geometries: Vec<&str> = chunk.iter().map(|r| r.geometry.as_str()).collect();
            transaction
                .execute(
                    "INSERT INTO grids (code, village_code, name, geometry)
                     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
                     ON CONFLICT (code) DO UPDATE SET name = excluded.name, geometry = excluded.geometry",
                    &[&codes, &villages, &names, &geometries],
                )
                .await
                .map_err(database_error)?;
        }
        transaction.execute(BUMP_GEOGRAPHY_REVISION, &[]).await.map_err(database_error)?;
        transaction.commit().await.map_err(database_error)
    }

    async fn grids(&self, prefix: &str) -> StoreResult<Vec<GridRow>> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT code, name, geometry FROM grids WHERE code LIKE $1 || '%' ORDER BY code", &[&prefix])
            .await
            .map_err(database_error)?;
        rows.iter()
            .map(|row| {
                let code: String = row.get(0);
                let code = GridCode::parse(&code).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok(GridRow { code, name: row.get(1), geometry: row.get(2) })
            })
            .collect()
    }

    async fn geography_revision(&self) -> StoreResult<i64> {
        let client = self.client().await?;
        let row = client.query_one("SELECT revision FROM geography_revision", &[]).await.map_err(database_error)?;
        Ok(row.get(0))
    }
}

#[async_trait]
impl CategoryStore for PostgresStore {
    async fn add_category_version(&self, text: String, source: String, at: Timestamp) -> StoreResult<i64> {
        let at = at.millis();
        let mut client = self.client().await?;
        let transaction = client.transaction().await.map_err(database_error)?;
        // One writer at a time takes the next number.
        transaction
            .batch_execute("LOCK TABLE category_versions IN SHARE ROW EXCLUSIVE MODE")
            .await
            .map_err(database_error)?;
        let row = transaction
            .query_one(
                "INSERT INTO category_versions (version, created_at, source, categories)
                 SELECT coalesce(max(version), 0) + 1, $1, $2, $3 FROM category_versions RETURNING version",
                &[&at, &source, &text],
            )
            .await
            .map_err(database_error)?;
        transaction.commit().await.map_err(database_error)?;
        Ok(row.get(0))
    }

    async fn latest_categories(&self) -> StoreResult<Option<(i64, String)>> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT version, categories FROM category_versions ORDER BY version DESC LIMIT 1", &[])
            .await
            .map_err(database_error)?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }
}

#[async_trait]
impl DataKeyStore for PostgresStore {
    async fn data_key_probes(&self) -> StoreResult<Vec<(String, String)>> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT key_id, probe FROM data_key_probes ORDER BY key_id", &[])
            .await
            .map_err(database_error)?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    async fn add_data_key_probe(&self, key_id: &str, probe: &str, at: Timestamp) -> StoreResult<()> {
        let at = at.millis();
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO data_key_probes (key_id, probe, recorded_at) VALUES ($1, $2, $3)
                 ON CONFLICT (key_id) DO NOTHING",
                &[&key_id, &probe, &at],
            )
            .await
            .map(|_| ())
            .map_err(database_error)
    }

    async fn retire_data_key_probes(&self, kept: &[String]) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM data_key_probes WHERE NOT (key_id = ANY($1))", &[&kept])
            .await
            .map(|_| ())
            .map_err(database_error)
    }

    async fn sealed_samples(&self, limit: u32) -> StoreResult<Vec<(String, String)>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, body::jsonb ->> 'reporter_sealed' FROM cases WHERE body::jsonb ? 'reporter_sealed'
                 ORDER BY reported_at DESC LIMIT $1",
                &[&i64::from(limit)],
            )
            .await
            .map_err(database_error)?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }
}

#[async_trait]
impl PhotoStore for PostgresStore {
    async fn put_photo(&self, photo: NewPhoto) -> StoreResult<bool> {
        let client = self.client().await?;
        let NewPhoto { hash, mime, bytes, at, uploader } = photo;
        let inserted = client
            .execute(
                "INSERT INTO photos (hash, mime, size, created_at, bytes, uploader, attached)
                 VALUES ($1, $2, $3, $4, $5, $6, FALSE)
                 ON CONFLICT (hash) DO NOTHING",
                &[&hash, &mime, &(bytes.len() as i64), &at.millis(), &bytes, &uploader],
            )
            .await
            .map_err(database_error)?;
        Ok(inserted > 0)
    }

    async fn photo_bytes_since(&self, uploader: &str, since: Timestamp) -> StoreResult<u64> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT coalesce(sum(size), 0)::BIGINT FROM photos WHERE uploader = $1 AND created_at >= $2",
                &[&uploader, &since.millis()],
            )
            .await
            .map_err(database_error)?;
        Ok(row.get::<_, i64>(0).max(0) as u64)
    }

    async fn remove_unattached_photos(&self, before: Timestamp) -> StoreResult<u64> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM photos WHERE NOT attached AND created_at < $1", &[&before.millis()])
            .await
            .map_err(database_error)
    }

    async fn photo(&self, hash: &str) -> StoreResult<Option<(String, Vec<u8>)>> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT mime, bytes FROM photos WHERE hash = $1", &[&hash])
            .await
            .map_err(database_error)?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    async fn missing_photos(&self, hashes: &[String]) -> StoreResult<Vec<String>> {
        let client = self.client().await?;
        let rows =
            client.query("SELECT hash FROM photos WHERE hash = ANY($1)", &[&hashes]).await.map_err(database_error)?;
        let found: std::collections::HashSet<String> = rows.iter().map(|r| r.get(0)).collect();
        Ok(hashes.iter().filter(|h| !found.contains(*h)).cloned().collect())
    }
}

impl Store for PostgresStore {
    fn engine(&self) -> &'static str {
        "postgres"
    }
}
