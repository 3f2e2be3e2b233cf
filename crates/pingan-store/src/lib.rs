//! Storage at the level of Pingan's use cases. One implementation per engine (`pingan-store-sqlite`,
//! `pingan-store-postgres`); both must pass [`conformance`]. Rows here are plain data: no engine
//! type, no SQL and no JSON crosses this boundary.

pub mod accounts;
pub mod cases;
pub mod conformance;
pub mod idempotency;
pub mod indicators;
pub mod migrations;
pub mod rankings;
pub mod sql;
pub mod units;
pub mod webhooks;

use async_trait::async_trait;
use pingan_core::{DivisionCode, Explain, GridCode, Level, Timestamp};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Division {
    pub code: DivisionCode,
    pub name: String,
}

impl Division {
    pub fn level(&self) -> Level {
        self.code.level()
    }
}

/// A grid with its area as a GeoJSON geometry object (text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GridRow {
    pub code: GridCode,
    pub name: String,
    pub geometry: String,
}

/// A division's boundary as a GeoJSON geometry object (text), with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundaryRow {
    pub code: DivisionCode,
    pub geometry: String,
    pub source: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("{0} refers to a division that does not exist")]
    MissingDivision(String),
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the case changed meanwhile: it is at version {actual}, not {expected}; reload it and try again")]
    Conflict { expected: i64, actual: i64 },
    #[error("no case {0}")]
    NoSuchCase(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("no photo {0:?}: upload it again")]
    MissingPhoto(String),
    /// Holds the key as stored.
    #[error("this idempotency key was used for another request: choose a new one")]
    KeyReused(String),
    /// Holds the step's id.
    #[error(
        "the database's schema step {0} differs from this build's: a migration was changed after it ran; restore the migration as it was, or the database from a backup"
    )]
    SchemaDrift(String),
    /// Holds the step's id.
    #[error(
        "the database has schema step {0}, which this build does not know: it was upgraded by a newer Pingan; run that version"
    )]
    SchemaFromNewerBuild(String),
}

impl Explain for StoreError {
    fn code(&self) -> &'static str {
        match self {
            StoreError::Unavailable(_) => "database_unavailable",
            StoreError::Database(_) => "database_error",
            StoreError::MissingDivision(_) => "unknown_division",
            StoreError::UnsupportedUrl(_) => "unsupported_database_url",
            StoreError::Corrupt(_) => "corrupt_data",
            StoreError::Conflict { .. } => "version_conflict",
            StoreError::NoSuchCase(_) => "case_not_found",
            StoreError::AlreadyExists(_) => "already_exists",
            StoreError::KeyReused(_) => "idempotency_key_reused",
            StoreError::MissingPhoto(_) => "unknown_photo",
            StoreError::SchemaDrift(_) => "schema_drift",
            StoreError::SchemaFromNewerBuild(_) => "schema_from_newer_build",
        }
    }

    fn message_zh(&self) -> String {
        match self {
            StoreError::Unavailable(e) => format!("数据库不可用：{e}"),
            StoreError::Database(e) => format!("数据库错误：{e}"),
            StoreError::MissingDivision(code) => format!("{code} 所属的区划不存在"),
            StoreError::UnsupportedUrl(url) => {
                format!("不支持的数据库地址“{url}”：请使用 sqlite://路径 或 postgres://…")
            }
            StoreError::Corrupt(e) => format!("存储的数据已损坏：{e}"),
            StoreError::Conflict { expected, actual } => {
                format!("事件已被他人更新：当前版本为 {actual}，而非 {expected}；请刷新后重试")
            }
            StoreError::NoSuchCase(id) => format!("没有事件 {id}"),
            StoreError::AlreadyExists(what) => format!("{what} 已存在"),
            StoreError::MissingPhoto(hash) => format!("没有照片“{hash}”：请重新上传"),
            StoreError::KeyReused(_) => "该 Idempotency-Key 已用于另一个请求，请换一个".into(),
            StoreError::SchemaDrift(id) => {
                format!(
                    "数据库的结构步骤 {id} 与本版本不一致：该迁移在执行后被改动；请恢复该迁移原文，或从备份恢复数据库"
                )
            }
            StoreError::SchemaFromNewerBuild(id) => {
                format!("数据库含有本版本不认识的结构步骤 {id}：它已被更新版本的平安升级；请运行该版本")
            }
        }
    }

    fn message_en(&self) -> String {
        self.to_string()
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait DivisionStore: Send + Sync {
    /// Inserts new divisions and renames existing ones, all in one transaction. Rows may come in
    /// any order; a row whose parent is neither stored nor in the batch fails the whole batch.
    async fn upsert_divisions(&self, rows: Vec<Division>) -> StoreResult<()>;

    /// Every stored division's name, by code.
    async fn division_names(&self) -> StoreResult<Vec<Division>>;

    async fn division(&self, code: &DivisionCode) -> StoreResult<Option<Division>>;

    /// The direct children of `code`, ordered by code.
    async fn children(&self, code: &DivisionCode) -> StoreResult<Vec<Division>>;

    /// How many divisions each level holds.
    async fn count_by_level(&self) -> StoreResult<Vec<(Level, u64)>>;
}

#[async_trait]
pub trait GeographyStore: Send + Sync {
    /// Replaces the boundaries of the given divisions, all in one transaction.
    async fn put_boundaries(&self, rows: Vec<BoundaryRow>) -> StoreResult<()>;

    /// Boundaries of the divisions whose code starts with `prefix`, ordered by code.
    async fn boundaries(&self, prefix: &str) -> StoreResult<Vec<BoundaryRow>>;

    /// Inserts or replaces grids, all in one transaction.
    async fn put_grids(&self, rows: Vec<GridRow>) -> StoreResult<()>;

    /// Grids whose code starts with `prefix` (empty: all), ordered by code.
    async fn grids(&self, prefix: &str) -> StoreResult<Vec<GridRow>>;

    /// A number that grows with every committed write of boundaries or grids.
    async fn geography_revision(&self) -> StoreResult<i64>;
}

/// The category book's versions: each is the whole book as text (the categories CSV), never changed
/// once written; cases keep the version they were filed under.
#[async_trait]
pub trait CategoryStore: Send + Sync {
    /// Stores `text` as the next version and returns its number (1 for the first).
    async fn add_category_version(&self, text: String, source: String, at: Timestamp) -> StoreResult<i64>;

    /// The latest version and its text, if any was stored.
    async fn latest_categories(&self) -> StoreResult<Option<(i64, String)>>;
}

/// A photo to store.
#[derive(Clone, Debug)]
pub struct NewPhoto {
    /// The SHA-256 of the bytes (lower-case hex).
    pub hash: String,
    pub mime: String,
    pub bytes: Vec<u8>,
    pub at: Timestamp,
    /// Who sent it: `account:ID`, or `address:IP` without an account.
    pub uploader: String,
}

/// Photos, stored once each under the SHA-256 of their bytes (lower-case hex). A new photo is
/// unattached until a case's write names it (in the same transaction: a case never names a photo
/// that is not stored).
#[async_trait]
pub trait PhotoStore: Send + Sync {
    /// Stores a photo unless one with this hash is there; says whether it was new.
    async fn put_photo(&self, photo: NewPhoto) -> StoreResult<bool>;

    /// The bytes of the photos `uploader` stored at or after `since` (milliseconds).
    async fn photo_bytes_since(&self, uploader: &str, since: Timestamp) -> StoreResult<u64>;

    /// Removes the photos stored before `before` that no case names; how many.
    async fn remove_unattached_photos(&self, before: Timestamp) -> StoreResult<u64>;

    /// The photo's media type and bytes.
    async fn photo(&self, hash: &str) -> StoreResult<Option<(String, Vec<u8>)>>;

    /// Which of `hashes` are not stored.
    async fn missing_photos(&self, hashes: &[String]) -> StoreResult<Vec<String>>;
}

/// The keys personal data in the database is sealed under, each with a known value sealed under
/// it (a probe): a server opens the probes at start to tell whether its key file holds the same
/// keys, before it seals or opens anything.
#[async_trait]
pub trait DataKeyStore: Send + Sync {
    /// Every key's probe, as (key id, sealed probe), by key id.
    async fn data_key_probes(&self) -> StoreResult<Vec<(String, String)>>;

    /// Records a key's probe, unless the key has one.
    async fn add_data_key_probe(&self, key_id: &str, probe: &str, at: Timestamp) -> StoreResult<()>;

    /// Forgets the probes of keys other than `kept` (no record is sealed under them any more).
    async fn retire_data_key_probes(&self, kept: &[String]) -> StoreResult<()>;

    /// Up to `limit` reporters' sealed contacts of the newest cases, with their case ids: what a
    /// database made before probes were kept is checked by.
    async fn sealed_samples(&self, limit: u32) -> StoreResult<Vec<(String, String)>>;
}

/// Everything a Pingan server needs from its database.
pub trait Store:
    DivisionStore
    + GeographyStore
    + CategoryStore
    + PhotoStore
    + cases::CaseStore
    + units::UnitStore
    + accounts::AccountStore
    + webhooks::WebhookStore
    + idempotency::IdempotencyStore
    + indicators::IndicatorStore
    + rankings::RankingStore
    + DataKeyStore
{
    /// `sqlite` or `postgres`, for logs and the health endpoint.
    fn engine(&self) -> &'static str;
}
