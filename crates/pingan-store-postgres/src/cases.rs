//! Cases on PostgreSQL. Each write is one transaction; the row is locked (`FOR UPDATE`) while its
//! version is checked and its history extended, so concurrent actions on one case serialise.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use futures_util::future::try_join_all;
use pingan_core::Timestamp;
use pingan_core::case::{CaseNumber, number_day};
use pingan_core::lifecycle::Status;
use pingan_store::cases::{
    ActionRecord, CASE_COLUMNS, Candidate, CaseBody, CaseColumns, CaseFilter, CaseRow, CaseStore, Created, Dialect,
    DuplicateSearch, NewCase, Numbered, StoredAction, newest_first, newly_named_photos, same_request, search_grams,
    searchable_text,
};
use pingan_store::indicators::{self, PendingChanges};
use pingan_store::webhooks::Outgoing;
use pingan_store::{StoreError, StoreResult};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use crate::statements::{bound, columns, parameters, query};
use crate::{PostgresStore, database_error};

async fn case_where(client: &impl GenericClient, condition: &str, value: &str) -> StoreResult<Option<CaseRow>> {
    let statement = client
        .prepare_cached(&format!("SELECT {CASE_COLUMNS} FROM cases WHERE {condition} = $1"))
        .await
        .map_err(database_error)?;
    let row = client.query_opt(&statement, &[&value]).await.map_err(database_error)?;
    row.map(|r| CaseRow::from_columns(columns(&r))).transpose()
}

/// Whether a case filter's query may keep its plan. One with a text search may not: a statement
/// kept for reuse gets a generic plan after a few runs, which cannot tell a rare text from a common
/// one and walked every case of a county by report time for a text none held (a second instead of
/// milliseconds).
fn reuses_plan(filter: &CaseFilter) -> bool {
    filter.text.is_none()
}

async fn select_cases(client: &impl GenericClient, filter: &CaseFilter) -> StoreResult<Vec<CaseRow>> {
    let (sql, values) = filter.to_sql(CASE_COLUMNS, Dialect::Postgres);
    let rows = query(client, &sql, values, reuses_plan(filter)).await?;
    let mut found: Vec<CaseColumns> = rows.iter().map(columns).collect();
    newest_first(&mut found);
    found.into_iter().map(CaseRow::from_columns).collect()
}

async fn find_candidates(client: &impl GenericClient, search: &DuplicateSearch) -> StoreResult<Vec<Candidate>> {
    let (sql, values) = search.to_sql(|n| format!("${n}"));
    let rows = query(client, &sql, values, true).await?;
    Ok(rows.iter().map(|r| Candidate { id: r.get(0), number: r.get(1), lon: r.get(2), lat: r.get(3) }).collect())
}

fn hash_bytes(bytes: Vec<u8>) -> StoreResult<[u8; 32]> {
    bytes.try_into().map_err(|_| StoreError::Corrupt("a history hash is not 32 bytes".into()))
}

async fn insert_action(
    client: &impl GenericClient,
    case_id: &str,
    sequence: i64,
    record: &ActionRecord,
    hash: &[u8; 32],
) -> StoreResult<()> {
    let statement = client.prepare_cached(INSERT_ACTION).await.map_err(database_error)?;
    client
        .execute(
            &statement,
            &[
                &case_id,
                &sequence,
                &record.at.millis(),
                &record.actor,
                &record.action,
                &record.status_after.as_str(),
                &record.details,
                &hash.as_slice(),
            ],
        )
        .await
        .map_err(database_error)?;
    Ok(())
}

/// What becomes of a case of a batch.
enum Fate {
    /// Its idempotency key was used before the batch.
    Existing(Box<CaseRow>),
    /// Its key was used by an earlier case of the batch.
    SameAs(usize),
    New,
}

/// One statement of a pipelined batch; a search answers its rows.
type Step<'a> = Pin<Box<dyn Future<Output = Result<Option<Vec<Row>>, tokio_postgres::Error>> + Send + 'a>>;

/// A new case of a batch, numbered and hashed, ready to bind.
struct Prepared {
    row: CaseRow,
    columns: CaseColumns,
    entries: Vec<ActionRecord>,
    hashes: Vec<[u8; 32]>,
    last_hash: Vec<u8>,
    search: Option<Vec<Box<dyn ToSql + Sync + Send>>>,
    outgoing: Vec<Outgoing>,
    grams: Vec<String>,
}

impl Prepared {
    fn new(new: &NewCase, sequence: i64) -> StoreResult<Prepared> {
        let search = new.similar.as_ref().map(|search| bound(search.to_sql(|n| format!("${n}")).1));
        let Numbered { row, entries, hashes, last_hash, notify } = new.clone().numbered(sequence, new.hashes())?;
        let outgoing = pingan_store::webhooks::outgoing(&notify, &row, 1, &entries);
        let columns = row.to_columns()?;
        let grams = grams_of(&row.body);
        Ok(Prepared { row, columns, entries, hashes, last_hash: last_hash.to_vec(), search, outgoing, grams })
    }
}

fn candidate(row: &Row) -> Candidate {
    Candidate { id: row.get(0), number: row.get(1), lon: row.get(2), lat: row.get(3) }
}

fn insert_case_sql() -> String {
    format!(
        "INSERT INTO cases ({CASE_COLUMNS}, last_hash, search_grams)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)"
    )
}

/// The grams a case is found by (see [`search_grams`]).
fn grams_of(body: &CaseBody) -> Vec<String> {
    search_grams(&searchable_text(body))
}

/// Gives every stored case its grams (once, when the column is made).
pub(crate) async fn fill_search_grams(client: &impl GenericClient) -> StoreResult<()> {
    let update = client.prepare("UPDATE cases SET search_grams = $2 WHERE id = $1").await.map_err(database_error)?;
    for row in client.query("SELECT id, body FROM cases", &[]).await.map_err(database_error)? {
        let (id, body): (String, String) = (row.get(0), row.get(1));
        client.execute(&update, &[&id, &grams_of(&CaseBody::from_json(&body)?)]).await.map_err(database_error)?;
    }
    Ok(())
}

/// Takes the next case number of a city and day.
const NEXT_NUMBER: &str = "INSERT INTO case_counters (city_code, day, last) VALUES ($1, $2, 1)
     ON CONFLICT (city_code, day) DO UPDATE SET last = case_counters.last + 1 RETURNING last";

const INSERT_ACTION: &str =
    "INSERT INTO case_actions (case_id, sequence, at, actor, action, status_after, details, hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// The values of [`insert_case_sql`], in order.
fn case_parameters<'a>(
    c: &'a CaseColumns,
    last_hash: &'a Vec<u8>,
    grams: &'a Vec<String>,
) -> [&'a (dyn ToSql + Sync); 22] {
    [
        &c.id,
        &c.number,
        &c.city_code,
        &c.status,
        &c.channel,
        &c.category,
        &c.priority,
        &c.division_code,
        &c.handler,
        &c.grid_code,
        &c.reported_at,
        &c.claim_due,
        &c.resolve_due,
        &c.version,
        &c.idempotency_key,
        &c.body,
        &c.lon,
        &c.lat,
        &c.alert_at,
        &c.reporter_account,
        last_hash,
        grams,
    ]
}

/// Why [`insert_case`] wrote nothing.
enum Refused {
    Store(StoreError),
    /// The idempotency key was taken meanwhile.
    KeyTaken(String, tokio_postgres::Error),
}

/// Inserts a new case numbered `sequence` with its history, inside `transaction`, after running
/// its duplicate search there.
async fn insert_case(
    transaction: &deadpool_postgres::Transaction<'_>,
    new: NewCase,
    sequence: i64,
) -> Result<Created, Refused> {
    let similar = match &new.similar {
        Some(search) => find_candidates(transaction, search).await.map_err(Refused::Store)?,
        None => Vec::new(),
    };
    let hashes = new.hashes();
    let Numbered { row, entries, hashes, last_hash, notify } =
        new.numbered(sequence, hashes).map_err(Refused::Store)?;
    let outgoing = pingan_store::webhooks::outgoing(&notify, &row, 1, &entries);
    let c = row.to_columns().map_err(Refused::Store)?;
    let insert = transaction.prepare_cached(&insert_case_sql()).await.map_err(|e| Refused::Store(database_error(e)))?;
    let last_hash = last_hash.to_vec();
    let grams = grams_of(&row.body);
    let inserted = transaction.execute(&insert, &case_parameters(&c, &last_hash, &grams)).await;
    if let Err(error) = inserted {
        return Err(match (error.code(), &c.idempotency_key) {
            (Some(&SqlState::UNIQUE_VIOLATION), Some(key)) => Refused::KeyTaken(key.clone(), error),
            (Some(&SqlState::FOREIGN_KEY_VIOLATION), _) => {
                Refused::Store(StoreError::MissingDivision(c.division_code.clone()))
            }
            _ => Refused::Store(database_error(error)),
        });
    }
    for (index, (entry, hash)) in entries.iter().zip(&hashes).enumerate() {
        insert_action(transaction, &row.id, index as i64 + 1, entry, hash).await.map_err(Refused::Store)?;
    }
    queue_deliveries(transaction, &outgoing).await.map_err(Refused::Store)?;
    attach_photos(transaction, &newly_named_photos(None, &row)).await.map_err(Refused::Store)?;
    crate::indicators::append_changes(transaction, &indicators::changes(None, &row)).await.map_err(Refused::Store)?;
    Ok(Created::New(row, similar))
}

/// Marks the photos a write names as attached; one no longer stored (removed while the write was
/// on its way) fails the write.
async fn attach_photos(client: &impl GenericClient, hashes: &[&str]) -> StoreResult<()> {
    if hashes.is_empty() {
        return Ok(());
    }
    let rows = client
        .query("UPDATE photos SET attached = TRUE WHERE hash = ANY($1) RETURNING hash", &[&hashes])
        .await
        .map_err(database_error)?;
    let attached: HashSet<String> = rows.iter().map(|row| row.get(0)).collect();
    match hashes.iter().find(|hash| !attached.contains(**hash)) {
        Some(missing) => Err(StoreError::MissingPhoto((*missing).to_owned())),
        None => Ok(()),
    }
}

#[async_trait]
impl CaseStore for PostgresStore {
    async fn create_case(&self, new: NewCase) -> StoreResult<Created> {
        let mut client = self.client().await?;
        if let Some(key) = &new.row.idempotency_key
            && let Some(existing) = case_where(&client, "idempotency_key", key).await?
        {
            return Ok(Created::Existing(same_request(existing, &new.row)?));
        }
        let asked = new.row.clone();
        // A case naming no stored division is refused before it takes a number.
        let known = client.prepare_cached("SELECT 1 FROM divisions WHERE code = $1").await.map_err(database_error)?;
        let division_known = client.query_opt(&known, &[&new.row.division.as_str()]).await.map_err(database_error)?;
        if division_known.is_none() {
            return Err(StoreError::MissingDivision(new.row.division.to_string()));
        }
        // The number comes from its own short transaction, committed without waiting for the flush,
        // so the city's counter row is not held while each case's commit is flushed (which made
        // submissions queue on it). Safe: the case's own commit comes later in the write-ahead
        // log, so a case that is durable has a durable number; a failed case leaves a gap.
        let day = number_day(new.day);
        let counter = client.transaction().await.map_err(database_error)?;
        counter.batch_execute("SET LOCAL synchronous_commit = off").await.map_err(database_error)?;
        let next = counter.prepare_cached(NEXT_NUMBER).await.map_err(database_error)?;
        let sequence: i64 =
            counter.query_one(&next, &[&new.row.city.as_str(), &day]).await.map_err(database_error)?.get(0);
        counter.commit().await.map_err(database_error)?;
        let transaction = client.transaction().await.map_err(database_error)?;
        match insert_case(&transaction, new, sequence).await {
            Ok(created) => {
                transaction.commit().await.map_err(database_error)?;
                Ok(created)
            }
            Err(Refused::Store(error)) => Err(error),
            // Another submission with the same key won the race: answer with its case.
            Err(Refused::KeyTaken(key, error)) => {
                drop(transaction);
                let existing = case_where(&client, "idempotency_key", &key).await?;
                Ok(Created::Existing(same_request(existing.ok_or_else(|| database_error(error))?, &asked)?))
            }
        }
    }

    async fn create_cases(&self, batch: Vec<NewCase>) -> StoreResult<Vec<Created>> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await.map_err(database_error)?;
        // What becomes of each case: a key used before the batch, or earlier in it, returns that case.
        let keys: Vec<&str> = batch.iter().filter_map(|n| n.row.idempotency_key.as_deref()).collect();
        let mut stored: HashMap<String, CaseRow> = HashMap::new();
        if !keys.is_empty() {
            let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE idempotency_key = ANY($1)");
            for row in transaction.query(&sql, &[&keys]).await.map_err(database_error)? {
                let case = CaseRow::from_columns(columns(&row))?;
                stored.insert(case.idempotency_key.clone().unwrap_or_default(), case);
            }
        }
        let mut first_with_key: HashMap<&str, usize> = HashMap::new();
        let fates: Vec<Fate> = batch
            .iter()
            .enumerate()
            .map(|(index, new)| match new.row.idempotency_key.as_deref() {
                Some(key) if stored.contains_key(key) => {
                    Ok(Fate::Existing(Box::new(same_request(stored[key].clone(), &new.row)?)))
                }
                Some(key) => match first_with_key.get(key) {
                    Some(&first) => same_request(batch[first].row.clone(), &new.row).map(|_| Fate::SameAs(first)),
                    None => {
                        first_with_key.insert(key, index);
                        Ok(Fate::New)
                    }
                },
                None => Ok(Fate::New),
            })
            .collect::<StoreResult<_>>()?;
        let news: Vec<&NewCase> =
            batch.iter().zip(&fates).filter(|(_, fate)| matches!(fate, Fate::New)).map(|(new, _)| new).collect();

        // Numbers, then every case's search, row and history: each sent without waiting for the
        // answer to the one before (pipelined, in order), so a batch costs a few round trips.
        let next = transaction.prepare_cached(NEXT_NUMBER).await.map_err(database_error)?;
        let days: Vec<String> = news.iter().map(|n| number_day(n.day)).collect();
        let transaction_ref = &transaction;
        let numbered = try_join_all(news.iter().zip(&days).map(|(new, day)| {
            let next = &next;
            async move { transaction_ref.query_one(next, &[&new.row.city.as_str(), day]).await }
        }))
        .await
        .map_err(database_error)?;
        let mut prepared = Vec::with_capacity(news.len());
        for (new, number) in news.iter().zip(&numbered) {
            prepared.push(Prepared::new(new, number.get(0))?);
        }
        let insert = transaction.prepare_cached(&insert_case_sql()).await.map_err(database_error)?;
        let action = transaction.prepare_cached(INSERT_ACTION).await.map_err(database_error)?;
        let queue = transaction.prepare_cached(pingan_store::webhooks::QUEUE).await.map_err(database_error)?;
        let tally = transaction.prepare_cached(&crate::indicators::append_sql()).await.map_err(database_error)?;
        let search = match news.iter().find_map(|n| n.similar.as_ref()) {
            Some(search) => {
                Some(transaction.prepare_cached(&search.to_sql(|n| format!("${n}")).0).await.map_err(database_error)?)
            }
            None => None,
        };
        // One change per tally for the whole batch.
        let mut tallies = PendingChanges::default();
        for case in &prepared {
            tallies.add(indicators::contributions(&case.row));
        }
        let tally_values: Vec<_> = tallies.into_changes().iter().map(crate::indicators::change_values).collect();
        let mut steps: Vec<Step<'_>> = Vec::new();
        let transaction_ref = &transaction;
        for case in &prepared {
            if let (Some(values), Some(search)) = (&case.search, &search) {
                steps.push(Box::pin(async move {
                    let parameters = parameters(values);
                    transaction_ref.query(search, &parameters).await.map(Some)
                }));
            }
            let (insert, c, hash, grams) = (&insert, &case.columns, &case.last_hash, &case.grams);
            steps.push(Box::pin(async move {
                transaction_ref.execute(insert, &case_parameters(c, hash, grams)).await.map(|_| None)
            }));
            for (index, (entry, hash)) in case.entries.iter().zip(&case.hashes).enumerate() {
                let (action, id) = (&action, &case.row.id);
                steps.push(Box::pin(async move {
                    let sequence = index as i64 + 1;
                    let status = entry.status_after.as_str();
                    let parameters: [&(dyn ToSql + Sync); 8] = [
                        id,
                        &sequence,
                        &entry.at.millis(),
                        &entry.actor,
                        &entry.action,
                        &status,
                        &entry.details,
                        &hash.as_slice(),
                    ];
                    transaction_ref.execute(action, &parameters).await.map(|_| None)
                }));
            }
            for o in &case.outgoing {
                let queue = &queue;
                steps.push(Box::pin(async move {
                    let parameters: [&(dyn ToSql + Sync); 5] =
                        [&o.webhook_id, &o.case_id, &o.sequence, &o.event, &o.created_at.millis()];
                    transaction_ref.execute(queue, &parameters).await.map(|_| None)
                }));
            }
        }
        for values in &tally_values {
            let tally = &tally;
            steps.push(Box::pin(async move {
                let parameters = parameters(values);
                transaction_ref.execute(tally, &parameters).await.map(|_| None)
            }));
        }
        let mut answers = try_join_all(steps).await.map_err(|error| {
            if error.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) {
                StoreError::MissingDivision(error.as_db_error().and_then(|e| e.detail()).unwrap_or("").to_owned())
            } else {
                database_error(error)
            }
        })?;
        let named: Vec<&str> = prepared.iter().flat_map(|case| newly_named_photos(None, &case.row)).collect();
        attach_photos(&transaction, &named).await?;
        transaction.commit().await.map_err(database_error)?;

        let mut found = answers.drain(..).flatten();
        let mut made: Vec<Created> = Vec::with_capacity(batch.len());
        let mut fresh = prepared.into_iter();
        for fate in fates {
            made.push(match fate {
                Fate::Existing(case) => Created::Existing(*case),
                Fate::SameAs(first) => match &made[first] {
                    Created::New(case, _) | Created::Existing(case) => Created::Existing(case.clone()),
                },
                Fate::New => {
                    let case = fresh.next().ok_or_else(|| StoreError::Corrupt("a batch lost a case".into()))?;
                    let similar = match case.search {
                        Some(_) => found.next().unwrap_or_default().iter().map(candidate).collect(),
                        None => Vec::new(),
                    };
                    Created::New(case.row, similar)
                }
            });
        }
        Ok(made)
    }

    async fn record_action(
        &self,
        expected_version: i64,
        record: ActionRecord,
        updated: CaseRow,
        notify: Vec<i64>,
    ) -> StoreResult<CaseRow> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await.map_err(database_error)?;
        let lock = transaction
            .prepare_cached(&format!("SELECT {CASE_COLUMNS}, last_hash FROM cases WHERE id = $1 FOR UPDATE"))
            .await
            .map_err(database_error)?;
        let stored = transaction
            .query_opt(&lock, &[&updated.id])
            .await
            .map_err(database_error)?
            .ok_or_else(|| StoreError::NoSuchCase(updated.id.clone()))?;
        let last_hash: Vec<u8> = stored.get(20);
        let before = CaseRow::from_columns(columns(&stored))?;
        let version = before.version;
        if version != expected_version {
            return Err(StoreError::Conflict { expected: expected_version, actual: version });
        }
        let sequence = version + 1;
        let hash = record.hash(&updated.id, sequence, &hash_bytes(last_hash)?);
        insert_action(&transaction, &updated.id, sequence, &record, &hash).await?;
        let mut row = updated;
        row.version = sequence;
        let c = row.to_columns()?;
        transaction
            .execute(
                "UPDATE cases SET status = $2, category = $3, priority = $4, division_code = $5, handler = $6, grid_code = $7,
                 claim_due = $8, resolve_due = $9, version = $10, body = $11, last_hash = $12, alert_at = $13 WHERE id = $1",
                &[
                    &c.id, &c.status, &c.category, &c.priority, &c.division_code, &c.handler, &c.grid_code, &c.claim_due,
                    &c.resolve_due, &c.version, &c.body, &hash.as_slice(), &c.alert_at,
                ],
            )
            .await
            .map_err(database_error)?;
        let outgoing = pingan_store::webhooks::outgoing(&notify, &row, sequence, std::slice::from_ref(&record));
        queue_deliveries(&transaction, &outgoing).await?;
        attach_photos(&transaction, &newly_named_photos(Some(&before), &row)).await?;
        crate::indicators::append_changes(&transaction, &indicators::changes(Some(&before), &row)).await?;
        transaction.commit().await.map_err(database_error)?;
        Ok(row)
    }

    async fn replace_body(&self, id: &str, expected_version: i64, body: &CaseBody) -> StoreResult<()> {
        let body = body.to_json()?;
        let mut client = self.client().await?;
        let transaction = client.transaction().await.map_err(database_error)?;
        let version = transaction
            .query_opt("SELECT version FROM cases WHERE id = $1 FOR UPDATE", &[&id])
            .await
            .map_err(database_error)?
            .map(|row| row.get::<_, i64>(0));
        match version {
            None => return Err(StoreError::NoSuchCase(id.to_owned())),
            Some(actual) if actual != expected_version => {
                return Err(StoreError::Conflict { expected: expected_version, actual });
            }
            Some(_) => {}
        }
        transaction.execute("UPDATE cases SET body = $2 WHERE id = $1", &[&id, &body]).await.map_err(database_error)?;
        transaction.commit().await.map_err(database_error)
    }

    async fn case_by_id(&self, id: &str) -> StoreResult<Option<CaseRow>> {
        let client = self.client().await?;
        case_where(&client, "id", id).await
    }

    async fn case_by_number(&self, number: &CaseNumber) -> StoreResult<Option<CaseRow>> {
        let client = self.client().await?;
        case_where(&client, "number", number.as_str()).await
    }

    async fn history(&self, case_id: &str) -> StoreResult<Vec<StoredAction>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT sequence, at, actor, action, status_after, details, hash FROM case_actions WHERE case_id = $1 ORDER BY sequence",
                &[&case_id],
            )
            .await
            .map_err(database_error)?;
        rows.into_iter()
            .map(|r| {
                let status_after: String = r.get(4);
                let status_after = Status::parse(&status_after)
                    .ok_or_else(|| StoreError::Corrupt(format!("history status {status_after}")))?;
                let record = ActionRecord {
                    at: Timestamp::from_millis(r.get(1)),
                    actor: r.get(2),
                    action: r.get(3),
                    status_after,
                    details: r.get(5),
                };
                Ok(StoredAction { sequence: r.get(0), record, hash: hash_bytes(r.get(6))? })
            })
            .collect()
    }

    async fn list_cases(&self, filter: &CaseFilter) -> StoreResult<Vec<CaseRow>> {
        let client = self.client().await?;
        select_cases(&client, filter).await
    }

    async fn count_cases(&self, filter: &CaseFilter) -> StoreResult<u64> {
        let client = self.client().await?;
        let (sql, values) = filter.to_count_sql(Dialect::Postgres);
        let rows = query(&client, &sql, values, reuses_plan(filter)).await?;
        let count: i64 = rows.first().map(|row| row.get(0)).unwrap_or(0);
        Ok(count.unsigned_abs())
    }

    async fn refresh_statistics(&self) -> StoreResult<()> {
        let client = self.client().await?;
        client.batch_execute("ANALYZE cases, case_actions").await.map_err(database_error)
    }

    async fn case_ids(&self, after: Option<&str>, limit: u32) -> StoreResult<Vec<String>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id FROM cases WHERE id > $1 ORDER BY id LIMIT $2",
                &[&after.unwrap_or(""), &i64::from(limit)],
            )
            .await
            .map_err(database_error)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }
}

/// Queues the webhook deliveries of a case write inside the caller's transaction.
async fn queue_deliveries(client: &impl GenericClient, outgoing: &[Outgoing]) -> StoreResult<()> {
    if outgoing.is_empty() {
        return Ok(());
    }
    let statement = client.prepare_cached(pingan_store::webhooks::QUEUE).await.map_err(database_error)?;
    for o in outgoing {
        client
            .execute(&statement, &[&o.webhook_id, &o.case_id, &o.sequence, &o.event, &o.created_at.millis()])
            .await
            .map_err(database_error)?;
    }
    Ok(())
}
