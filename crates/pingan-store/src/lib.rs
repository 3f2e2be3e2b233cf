//! Storage at the level of Pingan's use cases. One implementation per engine (`pingan-store-sqlite`,
//! `pingan-store-postgres`); both must pass [`conformance`]. Rows here are plain data: no engine
//! type, no SQL and no JSON crosses this boundary.

pub mod accounts;
pub mod cases;
pub mod conformance;
pub mod idempotency;
pub mod indicators;
pub mod units;
pub mod webhooks;

use async_trait::async_trait;
use pingan_core::{DivisionCode, Explain, GridCode, Level};

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
    async fn add_category_version(&self, text: String, source: String, at: i64) -> StoreResult<i64>;

    /// The latest version and its text, if any was stored.
    async fn latest_categories(&self) -> StoreResult<Option<(i64, String)>>;
}

/// Photos, stored once each under the SHA-256 of their bytes (lower-case hex).
#[async_trait]
pub trait PhotoStore: Send + Sync {
    /// Stores a photo unless one with this hash is there; says whether it was new.
    async fn put_photo(&self, hash: String, mime: String, bytes: Vec<u8>, at: i64) -> StoreResult<bool>;

    /// The photo's media type and bytes.
    async fn photo(&self, hash: &str) -> StoreResult<Option<(String, Vec<u8>)>>;

    /// Which of `hashes` are not stored.
    async fn missing_photos(&self, hashes: &[String]) -> StoreResult<Vec<String>>;
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
{
    /// `sqlite` or `postgres`, for logs and the health endpoint.
    fn engine(&self) -> &'static str;
}
