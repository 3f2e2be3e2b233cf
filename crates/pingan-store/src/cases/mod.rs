//! Rows and storage for cases and their history.

use async_trait::async_trait;
use chrono::NaiveDate;
use pingan_core::case::{CaseNumber, Channel};
use pingan_core::category::Priority;
use pingan_core::lifecycle::{Satisfaction, Status};
use pingan_core::{DivisionCode, GridCode, Timestamp};
use serde::{Deserialize, Serialize};

use crate::StoreResult;

mod query;
pub(crate) use query::Sql;
pub use query::{
    CASE_COLUMNS, CaseColumns, Dialect, SqlValue, newest_first, open_status_test, open_statuses, search_grams,
    searchable_text,
};

/// The most cases one list returns (an export's worth; the API's pages are smaller).
pub const MAX_LIST: u32 = 100_000;

/// A case's current state: the columns lists filter on, and the rest as a body.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseRow {
    /// Internal id (a time-ordered UUID, as text).
    pub id: String,
    /// Set by the store when the case is created.
    pub number: Option<CaseNumber>,
    pub city: DivisionCode,
    pub status: Status,
    pub channel: Channel,
    pub category: String,
    pub priority: Priority,
    /// The division whose governance centre is responsible now.
    pub division: DivisionCode,
    /// The unit the case is dispatched to, if any (e.g. `centre:360313101`, `department:360313:cg`).
    pub handler: Option<String>,
    pub grid: Option<GridCode>,
    pub reported_at: Timestamp,
    pub claim_due: Option<Timestamp>,
    pub resolve_due: Option<Timestamp>,
    /// When the deadline sweep must next look at the case (its warning or overdue instant); None
    /// when there is nothing to watch.
    pub alert_at: Option<Timestamp>,
    /// Grows by one with every action; a write naming an older version is refused.
    pub version: i64,
    pub idempotency_key: Option<String>,
    /// The account that filed the report, if it was filed by one (a resident follows its own).
    pub reporter_account: Option<String>,
    pub body: CaseBody,
}

/// Everything else about a case. Stored as JSON without what is empty (no value, zero, false, no
/// photos): most of a case's fields stay empty for most of its life, and rows less than half the
/// size put more on each page of the case table (fewer levels to walk, fewer pages to write).
/// Bodies stored whole by earlier versions read the same.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CaseBody {
    pub category_version: i64,
    /// The reported point (stored as columns of their own, for the duplicate search).
    #[serde(skip)]
    pub lon: Option<f64>,
    #[serde(skip)]
    pub lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub description: String,
    /// Reporter contact as given, sealed with the server's key (personal data: never stored in
    /// the clear); None for anonymous reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporter_sealed: Option<String>,
    /// A digest of the request that made the case, when it came with an idempotency key: a retry
    /// with the key must carry the same request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_digest: Option<String>,
    /// The same contact masked (张**, 138****5678), which everyone who sees the case may see.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporter_masked: Option<Reporter>,
    /// SHA-256 (hex) of the secret given to the reporter with the case number, with which they
    /// may follow the case without an account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_token_hash: Option<String>,
    /// Content hashes of the report's photos.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub photos: Vec<String>,
    /// Content hashes of the latest result's photos.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub result_photos: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub extension_pending: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub satisfaction: Option<Satisfaction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispatched_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "is_zero")]
    pub returns: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub escalations: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub supervisions: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub reopenings: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub extensions: u32,
    /// Working minutes asked for by a pending extension request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension_requested: Option<i64>,
    /// The resolution deadline for which the case was last recorded as overdue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overdue_noted: Option<Timestamp>,
    /// The resolution deadline for which the case was last recorded as in warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning_noted: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// A link to a photo or video held elsewhere, as another system filed it (Open311's
    /// `media_url`); never fetched by the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_url: Option<String>,
}

fn is_zero(count: &u32) -> bool {
    *count == 0
}

impl CaseBody {
    /// The body as the engines store it.
    pub fn to_json(&self) -> StoreResult<String> {
        serde_json::to_string(self).map_err(|e| crate::StoreError::Corrupt(e.to_string()))
    }

    /// A body as the engines stored it (without the point, which has columns of its own).
    pub fn from_json(stored: &str) -> StoreResult<CaseBody> {
        serde_json::from_str(stored).map_err(|e| crate::StoreError::Corrupt(format!("case body: {e}")))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reporter {
    pub name: Option<String>,
    pub phone: Option<String>,
    /// 居民身份证号码
    #[serde(default)]
    pub id_number: Option<String>,
}

/// One history entry as the engine writes it; the store adds the sequence number and the hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionRecord {
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub status_after: Status,
    /// The action's details (reason, target unit, satisfaction …) as JSON text.
    pub details: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAction {
    pub sequence: i64,
    pub record: ActionRecord,
    pub hash: [u8; 32],
}

/// A new case with its first history entries (a report, and what was done at once: an automatic
/// acceptance and dispatch, say); the store numbers it within `city` and `day`.
#[derive(Clone, Debug)]
pub struct NewCase {
    pub row: CaseRow,
    pub day: NaiveDate,
    /// At least one.
    pub entries: Vec<ActionRecord>,
    /// Possible duplicates to look for before this case is written. For a single report the search
    /// runs in the same transaction, and sees every case committed before this one, even one in
    /// the same group commit; for an import's report, it sees the cases stored before the import
    /// and the import's earlier reports.
    pub similar: Option<DuplicateSearch>,
    /// Webhook subscriptions to notify of each entry (see `pingan_store::webhooks`).
    pub notify: Vec<i64>,
}

/// Open cases of `category` in the village whose grid codes start with `village`, reported since
/// `reported_from`, whose point lies in the box (degrees).
#[derive(Clone, Debug, PartialEq)]
pub struct DuplicateSearch {
    pub category: String,
    pub village: String,
    pub reported_from: Timestamp,
    pub west: f64,
    pub south: f64,
    pub east: f64,
    pub north: f64,
}

/// A case a duplicate search found.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub id: String,
    pub number: String,
    pub lon: f64,
    pub lat: f64,
}

/// The most candidates a duplicate search returns.
pub const MAX_CANDIDATES: i64 = 50;

impl DuplicateSearch {
    /// `SELECT id, number, lon, lat FROM cases …` with `placeholder(n)` naming the n-th bound value.
    /// The open statuses and the limit are constants, written into the text. (PostgreSQL's search;
    /// SQLite's looks through the open cases its writer holds in memory.)
    ///
    /// The recent open cases of each of the village's grids are a range of the open cases' index
    /// by category and grid, which holds their points and numbers: the search reads no case row.
    /// (The village's grids as a range of grid codes would walk the category's whole history
    /// there, as the report time is no range after another range.) The range is written too, for
    /// PostgreSQL: without statistics it would otherwise walk the category's open cases everywhere.
    pub fn to_sql(&self, placeholder: impl Fn(usize) -> String) -> (String, Vec<SqlValue>) {
        let values = vec![
            SqlValue::Text(self.village.clone()),
            SqlValue::Text(self.category.clone()),
            SqlValue::Text(format!("{}:", self.village)),
            SqlValue::Integer(self.reported_from.millis()),
            SqlValue::Real(self.west),
            SqlValue::Real(self.east),
            SqlValue::Real(self.south),
            SqlValue::Real(self.north),
        ];
        let p = |n| placeholder(n);
        let sql = format!(
            "SELECT near.id, near.number, near.lon, near.lat FROM grids AS g CROSS JOIN cases AS near \
             WHERE g.village_code = {village} AND near.category = {} AND near.grid_code = g.code \
             AND near.grid_code >= {village} AND near.grid_code < {} \
             AND near.reported_at >= {} AND near.lon BETWEEN {} AND {} AND near.lat BETWEEN {} AND {} \
             AND near.status IN ({}) ORDER BY near.reported_at DESC LIMIT {MAX_CANDIDATES}",
            p(2),
            p(3),
            p(4),
            p(5),
            p(6),
            p(7),
            p(8),
            open_statuses(),
            village = p(1),
        );
        (sql, values)
    }

    /// Whether the point lies in the search's box: [`DuplicateSearch::to_sql`]'s condition on the
    /// point, for a store that looks through the open cases of the category and village itself.
    pub fn holds_point(&self, lon: f64, lat: f64) -> bool {
        (self.west..=self.east).contains(&lon) && (self.south..=self.north).contains(&lat)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Created {
    /// The new case, and the cases the `similar` search found.
    New(CaseRow, Vec<Candidate>),
    /// A case with the same idempotency key already exists: it is returned, nothing is written.
    Existing(CaseRow),
}

/// Filters for listing cases; every field narrows the list.
#[derive(Clone, Debug, Default)]
pub struct CaseFilter {
    /// Cases whose responsible division lies in this subtree.
    pub division: Option<DivisionCode>,
    pub handler: Option<String>,
    /// Cases whose grid code starts with this (a village code: the village's grids).
    pub grid_prefix: Option<String>,
    /// Cases whose responsible division lies outside this subtree.
    pub outside: Option<DivisionCode>,
    pub statuses: Vec<Status>,
    /// Cases of any of these categories (none: every category).
    pub categories: Vec<String>,
    pub channel: Option<Channel>,
    pub reported_from: Option<Timestamp>,
    pub reported_before: Option<Timestamp>,
    /// Open cases whose resolution deadline passed before this instant.
    pub overdue_at: Option<Timestamp>,
    /// Cases whose alert instant is at or before this one (the deadline sweep's work).
    pub alert_due: Option<Timestamp>,
    /// Cases whose description or address contains this (ASCII letters in any case); it must hold
    /// two letters or characters side by side (see [`search_grams`]).
    pub text: Option<String>,
    /// Only the cases a person may see: those matching any part of it.
    pub visible: Option<Visibility>,
    /// Continue after this (reported_at, id), newest first.
    pub after: Option<(Timestamp, String)>,
    pub limit: u32,
}

/// The cases visible to someone (made by the access scope of `pingan-app`): a case is visible if
/// it matches any part; with no part set, none is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Visibility {
    /// Cases whose responsible division lies in this subtree.
    pub subtree: Option<DivisionCode>,
    /// Cases of this grid.
    pub grid: Option<GridCode>,
    /// Cases dispatched to this unit.
    pub handler: Option<String>,
    /// Cases reported by this account.
    pub reporter: Option<String>,
}

#[async_trait]
pub trait CaseStore: Send + Sync {
    /// Numbers and stores a new case with its first entries, in one transaction (its version is the
    /// number of entries); with an idempotency key already used, returns that case instead.
    /// Numbers grow within a city and day; an engine may leave a gap where a write failed.
    async fn create_case(&self, new: NewCase) -> StoreResult<Created>;

    /// Creates every case of `batch` as [`create_case`](Self::create_case) would, all in one
    /// transaction: all of them or none. For imports and simulations.
    async fn create_cases(&self, batch: Vec<NewCase>) -> StoreResult<Vec<Created>>;

    /// Appends `record` to the history and replaces the row by `updated` (its version one more),
    /// with a delivery of the entry to each webhook of `notify`, in one transaction, provided the
    /// stored version is still `expected_version`.
    async fn record_action(
        &self,
        expected_version: i64,
        record: ActionRecord,
        updated: CaseRow,
        notify: Vec<i64>,
    ) -> StoreResult<CaseRow>;

    /// Replaces the body of case `id` without an action (what no action changes: the reporter's
    /// contact sealed again under a newer key), provided its version is still `expected_version`;
    /// the version stays.
    async fn replace_body(&self, id: &str, expected_version: i64, body: &CaseBody) -> StoreResult<()>;

    async fn case_by_id(&self, id: &str) -> StoreResult<Option<CaseRow>>;

    async fn case_by_number(&self, number: &CaseNumber) -> StoreResult<Option<CaseRow>>;

    /// The history in order, with the hashes as stored.
    async fn history(&self, case_id: &str) -> StoreResult<Vec<StoredAction>>;

    /// Cases matching `filter`, newest first.
    async fn list_cases(&self, filter: &CaseFilter) -> StoreResult<Vec<CaseRow>>;

    /// How many cases match `filter` (its `after` and `limit` play no part).
    async fn count_cases(&self, filter: &CaseFilter) -> StoreResult<u64>;

    /// Brings the query planner's statistics up to date after a bulk load (a simulation, an
    /// import), so lists keep choosing the right index.
    async fn refresh_statistics(&self) -> StoreResult<()>;

    /// Case ids in id order, after `after`, for walking every case (audits).
    async fn case_ids(&self, after: Option<&str>, limit: u32) -> StoreResult<Vec<String>>;
}

/// A new case as a store writes it: numbered within its city and day, its history hashed, its
/// version the number of entries.
pub struct Numbered {
    pub row: CaseRow,
    pub entries: Vec<ActionRecord>,
    pub hashes: Vec<[u8; 32]>,
    pub last_hash: [u8; 32],
    /// Webhook subscriptions to notify of its first entries.
    pub notify: Vec<i64>,
}

impl NewCase {
    /// The hashes of this case's first entries (they do not depend on its number).
    pub fn hashes(&self) -> Vec<[u8; 32]> {
        chain(&self.row.id, &self.entries)
    }

    /// This case as number `sequence` of its city and day, its entries' hashes being `hashes`.
    pub fn numbered(self, sequence: i64, hashes: Vec<[u8; 32]>) -> StoreResult<Numbered> {
        let corrupt = |reason: String| crate::StoreError::Corrupt(reason);
        let NewCase { mut row, day, entries, notify, .. } = self;
        row.number = Some(CaseNumber::new(&row.city, day, sequence as u32).map_err(|e| corrupt(e.to_string()))?);
        let last_hash = hashes.last().copied().ok_or_else(|| corrupt("a case needs an entry".into()))?;
        row.version = hashes.len() as i64;
        Ok(Numbered { row, entries, hashes, last_hash, notify })
    }
}

/// `existing`, the case a new case's idempotency key already names, unless the new one was asked
/// for by another request (their digests differ): then the key was reused, and the write fails
/// whole. Cases stored without a digest match any request.
pub fn same_request(existing: CaseRow, new: &CaseRow) -> StoreResult<CaseRow> {
    match (&existing.body.request_digest, &new.body.request_digest) {
        (Some(stored), Some(asked)) if stored != asked => {
            Err(crate::StoreError::KeyReused(new.idempotency_key.clone().unwrap_or_default()))
        }
        _ => Ok(existing),
    }
}

/// The photos `after` names that `before` (the case as it was, None for a new case) did not: a
/// write marks them attached, so that they are kept.
pub fn newly_named_photos<'a>(before: Option<&CaseRow>, after: &'a CaseRow) -> Vec<&'a str> {
    let named_before =
        |hash: &String| before.is_some_and(|b| b.body.photos.contains(hash) || b.body.result_photos.contains(hash));
    after.body.photos.iter().chain(&after.body.result_photos).filter(|h| !named_before(h)).map(String::as_str).collect()
}

/// Hashes `entries` as entries 1, 2 … of case `case_id`, chained from the genesis hash.
pub fn chain(case_id: &str, entries: &[ActionRecord]) -> Vec<[u8; 32]> {
    let mut previous = pingan_core::case::GENESIS;
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            previous = entry.hash(case_id, index as i64 + 1, &previous);
            previous
        })
        .collect()
}

impl ActionRecord {
    /// The hash of this record as entry `sequence` of case `case_id`, after `previous`.
    pub fn hash(&self, case_id: &str, sequence: i64, previous: &[u8; 32]) -> [u8; 32] {
        pingan_core::case::HistoryFields {
            case_id,
            sequence,
            at: self.at,
            actor: &self.actor,
            action: &self.action,
            status_after: self.status_after.as_str(),
            details: &self.details,
        }
        .hash(previous)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_stored_without_its_empty_fields_and_read_either_way() {
        let new = CaseBody { category_version: 3, description: "楼道堆物".into(), ..CaseBody::default() };
        assert_eq!(new.to_json().unwrap(), r#"{"category_version":3,"description":"楼道堆物"}"#);
        let closed = CaseBody {
            returns: 1,
            extension_pending: true,
            satisfaction: Some(Satisfaction::Satisfied),
            result_photos: vec!["ab12".into()],
            ..new.clone()
        };
        assert_eq!(CaseBody::from_json(&closed.to_json().unwrap()).unwrap(), closed);
        // As bodies were stored before: every field written out, empty or not.
        let whole = r#"{"category_version":3,"address":null,"description":"楼道堆物","reporter_sealed":null,
            "reporter_masked":null,"follow_token_hash":null,"photos":[],"result_photos":[],
            "extension_pending":false,"satisfaction":null,"master":null,"dispatched_at":null,
            "claimed_at":null,"resolved_at":null,"closed_at":null,"returns":0,"escalations":0,
            "supervisions":0,"reopenings":0,"extensions":0,"extension_requested":null,
            "overdue_noted":null,"warning_noted":null,"result":null}"#;
        assert_eq!(CaseBody::from_json(whole).unwrap(), new);
    }
}
