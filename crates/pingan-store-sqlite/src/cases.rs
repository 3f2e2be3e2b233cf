//! Cases on SQLite: every write runs on the group-commit writer thread.

use std::collections::HashMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::NaiveDate;
use pingan_core::Timestamp;
use pingan_core::case::{CaseNumber, number_day};
use pingan_core::lifecycle::Status;
use pingan_store::cases::{
    ActionRecord, CASE_COLUMNS, CaseBody, CaseColumns, CaseFilter, CaseRow, CaseStore, Created, Dialect,
    DuplicateSearch, NewCase, Numbered, StoredAction, newest_first, newly_named_photos, same_request, search_grams,
    searchable_text,
};
use pingan_store::indicators::{self, PendingChanges};
use pingan_store::sql::question_marks;
use pingan_store::webhooks::Outgoing;
use pingan_store::{StoreError, StoreResult};
use rusqlite::{CachedStatement, Connection, OptionalExtension, Statement, params, params_from_iter};

use crate::case_text::index_texts;
use crate::open_cases::OpenCases;
use crate::statements::{bound, columns};
use crate::writer::{Deferred, Written};
use crate::{SqliteStore, database_error, row_error};

fn case_where(connection: &Connection, condition: &str, value: &str) -> StoreResult<Option<CaseRow>> {
    let found = connection
        .prepare_cached(&format!("SELECT {CASE_COLUMNS} FROM cases WHERE {condition} = ?1"))
        .and_then(|mut statement| statement.query_row([value], columns).optional())
        .map_err(database_error)?;
    found.map(CaseRow::from_columns).transpose()
}

fn select_cases(connection: &Connection, filter: &CaseFilter) -> StoreResult<Vec<CaseRow>> {
    let (sql, values) = filter.to_sql(CASE_COLUMNS, Dialect::Sqlite);
    let mut found: Vec<CaseColumns> = connection
        .prepare_cached(&sql)
        .and_then(|mut statement| statement.query_map(params_from_iter(bound(values)), columns)?.collect())
        .map_err(database_error)?;
    newest_first(&mut found);
    found.into_iter().map(CaseRow::from_columns).collect()
}

fn hash_bytes(bytes: Vec<u8>) -> StoreResult<[u8; 32]> {
    bytes.try_into().map_err(|_| StoreError::Corrupt("a history hash is not 32 bytes".into()))
}

const INSERT_ACTION: &str =
    "INSERT INTO case_actions (case_id, sequence, at, actor, action, status_after, details, hash)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/// Inserts `record` as entry `sequence` of case `case_id` with `statement` ([`INSERT_ACTION`]).
fn insert_action(
    statement: &mut Statement<'_>,
    case_id: &str,
    sequence: i64,
    record: &ActionRecord,
    hash: &[u8; 32],
) -> StoreResult<()> {
    statement
        .execute(params![
            case_id,
            sequence,
            record.at.millis(),
            record.actor,
            record.action,
            record.status_after.as_str(),
            record.details,
            hash.as_slice()
        ])
        .map_err(database_error)?;
    Ok(())
}

/// A case's grams, as its entry in the text index holds them.
fn text_grams(body: &CaseBody) -> String {
    search_grams(&searchable_text(body)).join(" ")
}

/// Enters every stored case in the text index (once, when the index is made).
pub(crate) fn fill_case_text(connection: &Connection) -> StoreResult<()> {
    let mut cases = connection.prepare("SELECT id, body FROM cases").map_err(database_error)?;
    let rows =
        cases.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))).map_err(database_error)?;
    let mut entries = Vec::new();
    for row in rows {
        let (id, body) = row.map_err(database_error)?;
        entries.push((id, text_grams(&CaseBody::from_json(&body)?)));
    }
    index_texts(connection, &entries)
}

/// A new case with what does not depend on its number worked out on the submitter's thread, not
/// the writer's (which every submission waits on): its entries' hashes, its text grams and its
/// columns (all but the number and version, which numbering sets).
struct Unnumbered {
    new: NewCase,
    hashes: Vec<[u8; 32]>,
    grams: String,
    columns: CaseColumns,
}

impl Unnumbered {
    fn of(new: NewCase) -> StoreResult<Unnumbered> {
        Ok(Unnumbered { hashes: new.hashes(), grams: text_grams(&new.row.body), columns: new.row.to_columns()?, new })
    }
}

/// The case numbers one write gives out, per city and day. The first of a city's day takes its
/// number from `case_counters` in one statement; the rest count on in memory and are stored once
/// at the end ([`DailyNumbers::store`]), so a batch of a city's day costs two statements, not one
/// per case.
#[derive(Default)]
struct DailyNumbers {
    /// The last number given out, and whether `case_counters` is behind it.
    last: HashMap<(String, NaiveDate), (i64, bool)>,
}

impl DailyNumbers {
    fn next(&mut self, connection: &Connection, city: &str, day: NaiveDate) -> StoreResult<i64> {
        if let Some((last, behind)) = self.last.get_mut(&(city.to_owned(), day)) {
            *last += 1;
            *behind = true;
            return Ok(*last);
        }
        let first: i64 = connection
            .prepare_cached(
                "INSERT INTO case_counters (city_code, day, last) VALUES (?1, ?2, 1)
                 ON CONFLICT (city_code, day) DO UPDATE SET last = last + 1 RETURNING last",
            )
            .and_then(|mut statement| statement.query_row(params![city, number_day(day)], |row| row.get(0)))
            .map_err(database_error)?;
        self.last.insert((city.to_owned(), day), (first, false));
        Ok(first)
    }

    /// Takes back the number [`DailyNumbers::next`] just gave out for `city` and `day`, unused.
    fn give_back(&mut self, city: &str, day: NaiveDate) {
        if let Some((last, behind)) = self.last.get_mut(&(city.to_owned(), day)) {
            *last -= 1;
            *behind = true;
        }
    }

    fn store(&self, connection: &Connection) -> StoreResult<()> {
        for ((city, day), (last, behind)) in &self.last {
            if *behind {
                connection
                    .prepare_cached("UPDATE case_counters SET last = ?3 WHERE city_code = ?1 AND day = ?2")
                    .and_then(|mut statement| statement.execute(params![city, number_day(*day), last]))
                    .map_err(database_error)?;
            }
        }
        Ok(())
    }
}

/// Inserts `batch` inside the writer's open transaction, numbering each new case.
/// Their text-index entries are left in `deferred`, for the group to write, and a retry's share
/// of the tallies is taken back out of it.
fn create_all(
    connection: &Connection,
    open_cases: &mut OpenCases,
    batch: Vec<Unnumbered>,
    deferred: &mut Deferred,
) -> StoreResult<(Vec<Created>, Vec<Leftover>)> {
    // Prepared once for the batch: taking a statement from the cache and handing it back, each
    // time it ran, was a noticeable part of writing a case (BENCHMARKS.md, section 10).
    let mut statements = CaseStatements {
        insert_case: connection.prepare_cached(&insert_case_sql()).map_err(database_error)?,
        insert_action: connection.prepare_cached(INSERT_ACTION).map_err(database_error)?,
    };
    let mut numbers = DailyNumbers::default();
    let mut leftovers = Vec::with_capacity(batch.len());
    let mut created = Vec::with_capacity(batch.len());
    for unnumbered in batch {
        let (case, leftover) = create_one(connection, &mut statements, open_cases, unnumbered, &mut numbers, deferred)?;
        created.push(case);
        leftovers.push(leftover);
    }
    numbers.store(connection)?;
    Ok((created, leftovers))
}

/// What writing a new case leaves unused, handed back for the submitter to drop: freeing memory
/// that another thread allocated costs more, and the writer is what every submission waits on
/// (BENCHMARKS.md, section 10).
type Leftover = (CaseColumns, Vec<ActionRecord>, Vec<[u8; 32]>, Option<DuplicateSearch>);

/// The statements that write a new case and its history.
struct CaseStatements<'c> {
    insert_case: CachedStatement<'c>,
    insert_action: CachedStatement<'c>,
}

/// A report whose key is taken is a retry: nothing is written, and it is answered with the case
/// the key first made, found by the insert's own check of the key rather than a search before it.
fn insert_case_sql() -> String {
    format!(
        "INSERT INTO cases ({CASE_COLUMNS}, last_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)
         ON CONFLICT (idempotency_key) DO NOTHING"
    )
}

fn create_one(
    connection: &Connection,
    statements: &mut CaseStatements<'_>,
    open_cases: &mut OpenCases,
    Unnumbered { mut new, hashes, grams, columns: mut c }: Unnumbered,
    numbers: &mut DailyNumbers,
    deferred: &mut Deferred,
) -> StoreResult<(Created, Leftover)> {
    let search = new.similar.take();
    let similar = search.as_ref().map_or_else(Vec::new, |search| open_cases.search(search));
    let day = new.day;
    let sequence = numbers.next(connection, new.row.city.as_str(), day)?;
    let Numbered { row, entries, hashes, last_hash, notify } = new.numbered(sequence, hashes)?;
    let outgoing = pingan_store::webhooks::outgoing(&notify, &row, 1, &entries);
    (c.number, c.version) = (row.number.as_ref().map(ToString::to_string).unwrap_or_default(), row.version);
    let inserted = statements
        .insert_case
        .execute(params![
            c.id,
            c.number,
            c.city_code,
            c.status,
            c.channel,
            c.category,
            c.priority,
            c.division_code,
            c.handler,
            c.grid_code,
            c.reported_at,
            c.claim_due,
            c.resolve_due,
            c.version,
            c.idempotency_key,
            c.body,
            c.lon,
            c.lat,
            c.alert_at,
            c.reporter_account,
            last_hash.as_slice()
        ])
        .map_err(|e| row_error(e, &c.division_code))?;
    if inserted == 0 {
        numbers.give_back(&c.city_code, day);
        deferred.tallies.subtract(indicators::contributions(&row));
        let key = c.idempotency_key.as_deref().unwrap_or_default();
        let first = case_where(connection, "idempotency_key", key)?
            .ok_or_else(|| StoreError::Corrupt(format!("key {key} is taken by no case")))?;
        return Ok((Created::Existing(same_request(first, &row)?), (c, entries, hashes, search)));
    }
    deferred.texts.push((row.id.clone(), grams));
    for (index, (entry, hash)) in entries.iter().zip(&hashes).enumerate() {
        insert_action(&mut statements.insert_action, &row.id, index as i64 + 1, entry, hash)?;
    }
    queue_deliveries(connection, &outgoing)?;
    attach_photos(connection, &newly_named_photos(None, &row))?;
    open_cases.follow(None, &row);
    Ok((Created::New(row, similar), (c, entries, hashes, search)))
}

impl SqliteStore {
    /// Writes `batch` in one transaction: each report's duplicate search finds the open cases
    /// stored before it, the batch's earlier reports among them. What the batch adds to the
    /// indicator tallies is summed here, not on the writer; a retry's share is taken back there.
    async fn create_unnumbered(&self, batch: Vec<Unnumbered>) -> StoreResult<Vec<Created>> {
        let open_cases = self.open_cases.clone();
        let mut tallies = PendingChanges::default();
        for unnumbered in &batch {
            tallies.add(indicators::contributions(&unnumbered.new.row));
        }
        self.writer
            .write_deferring(move |connection| {
                let mut open_cases = open_cases.lock().map_err(|_| crate::poisoned())?;
                let mut deferred = Deferred { tallies, ..Deferred::default() };
                let value = create_all(connection, &mut open_cases, batch, &mut deferred)?;
                Ok(Written { value, deferred })
            })
            .await
            .map(|(created, _leftovers)| created)
    }
}

#[async_trait]
impl CaseStore for SqliteStore {
    async fn create_case(&self, new: NewCase) -> StoreResult<Created> {
        let mut created = self.create_unnumbered(vec![Unnumbered::of(new)?]).await?;
        created.pop().ok_or_else(|| StoreError::Corrupt("a write of one case gave back none".into()))
    }

    async fn create_cases(&self, batch: Vec<NewCase>) -> StoreResult<Vec<Created>> {
        self.create_unnumbered(batch.into_iter().map(Unnumbered::of).collect::<StoreResult<_>>()?).await
    }

    async fn record_action(
        &self,
        expected_version: i64,
        record: ActionRecord,
        updated: CaseRow,
        notify: Vec<i64>,
    ) -> StoreResult<CaseRow> {
        let open_cases = self.open_cases.clone();
        self.writer.write_deferring(move |connection| {
            let stored: Option<(CaseColumns, Vec<u8>)> = connection
                .prepare_cached(&format!("SELECT {CASE_COLUMNS}, last_hash FROM cases WHERE id = ?1"))
                .and_then(|mut statement| {
                    statement.query_row([&updated.id], |row| Ok((columns(row)?, row.get(20)?))).optional()
                })
                .map_err(database_error)?;
            let (before, last_hash) = stored.ok_or_else(|| StoreError::NoSuchCase(updated.id.clone()))?;
            let before = CaseRow::from_columns(before)?;
            let version = before.version;
            if version != expected_version {
                return Err(StoreError::Conflict { expected: expected_version, actual: version });
            }
            let sequence = version + 1;
            let hash = record.hash(&updated.id, sequence, &hash_bytes(last_hash)?);
            let mut insert = connection.prepare_cached(INSERT_ACTION).map_err(database_error)?;
            insert_action(&mut insert, &updated.id, sequence, &record, &hash)?;
            let mut row = updated;
            row.version = sequence;
            let c = row.to_columns()?;
            connection
                .execute(
                    "UPDATE cases SET status = ?2, category = ?3, priority = ?4, division_code = ?5, handler = ?6, grid_code = ?7,
                     claim_due = ?8, resolve_due = ?9, version = ?10, body = ?11, last_hash = ?12, alert_at = ?13 WHERE id = ?1",
                    params![
                        c.id, c.status, c.category, c.priority, c.division_code, c.handler, c.grid_code, c.claim_due,
                        c.resolve_due, c.version, c.body, hash.as_slice(), c.alert_at
                    ],
                )
                .map_err(|e| row_error(e, &c.division_code))?;
            let outgoing = pingan_store::webhooks::outgoing(&notify, &row, sequence, std::slice::from_ref(&record));
            queue_deliveries(connection, &outgoing)?;
            attach_photos(connection, &newly_named_photos(Some(&before), &row))?;
            open_cases.lock().map_err(|_| crate::poisoned())?.follow(Some(&before), &row);
            let mut deferred = Deferred::default();
            deferred.tallies.add(indicators::changes(Some(&before), &row));
            Ok(Written { value: row, deferred })
        })
        .await
    }

    async fn replace_body(&self, id: &str, expected_version: i64, body: &CaseBody) -> StoreResult<()> {
        let (id, body) = (id.to_owned(), body.to_json()?);
        self.write(move |connection| {
            let version: Option<i64> = connection
                .query_row("SELECT version FROM cases WHERE id = ?1", [&id], |row| row.get(0))
                .optional()
                .map_err(database_error)?;
            match version {
                None => Err(StoreError::NoSuchCase(id)),
                Some(actual) if actual != expected_version => {
                    Err(StoreError::Conflict { expected: expected_version, actual })
                }
                Some(_) => {
                    connection
                        .execute("UPDATE cases SET body = ?2 WHERE id = ?1", params![id, body])
                        .map_err(database_error)?;
                    Ok(())
                }
            }
        })
        .await
    }

    async fn case_by_id(&self, id: &str) -> StoreResult<Option<CaseRow>> {
        self.read_here(|connection| Ok(case_where(connection, "id", id))).await?
    }

    async fn case_by_number(&self, number: &CaseNumber) -> StoreResult<Option<CaseRow>> {
        let number = number.to_string();
        self.read_here(|connection| Ok(case_where(connection, "number", &number))).await?
    }

    async fn history(&self, case_id: &str) -> StoreResult<Vec<StoredAction>> {
        let case_id = case_id.to_owned();
        let rows: Vec<(i64, i64, String, String, String, String, Vec<u8>)> = self
            .read(move |connection| {
                let mut statement = connection.prepare_cached(
                    "SELECT sequence, at, actor, action, status_after, details, hash FROM case_actions WHERE case_id = ?1 ORDER BY sequence",
                )?;
                statement
                    .query_map([case_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)))?
                    .collect()
            })
            .await?;
        rows.into_iter()
            .map(|(sequence, at, actor, action, status_after, details, hash)| {
                let status_after = Status::parse(&status_after)
                    .ok_or_else(|| StoreError::Corrupt(format!("history status {status_after}")))?;
                Ok(StoredAction {
                    sequence,
                    record: ActionRecord { at: Timestamp::from_millis(at), actor, action, status_after, details },
                    hash: hash_bytes(hash)?,
                })
            })
            .collect()
    }

    async fn list_cases(&self, filter: &CaseFilter) -> StoreResult<Vec<CaseRow>> {
        // Handing a work queue's page to the blocking pool and back cost more than finding it.
        if filter.is_a_units_queue() {
            return self.read_here(|connection| Ok(select_cases(connection, filter))).await?;
        }
        let filter = filter.clone();
        self.read(move |connection| Ok(select_cases(connection, &filter))).await?
    }

    async fn count_cases(&self, filter: &CaseFilter) -> StoreResult<u64> {
        let (sql, values) = filter.to_count_sql(Dialect::Sqlite);
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(&sql)?;
            statement.query_row(params_from_iter(bound(values)), |row| row.get::<_, i64>(0))
        })
        .await
        .map(|count| count.unsigned_abs())
    }

    async fn refresh_statistics(&self) -> StoreResult<()> {
        self.write(|connection| connection.execute_batch(crate::OPTIMIZE).map_err(database_error)).await
    }

    async fn case_ids(&self, after: Option<&str>, limit: u32) -> StoreResult<Vec<String>> {
        let after = after.unwrap_or("").to_owned();
        self.read(move |connection| {
            let mut statement = connection.prepare("SELECT id FROM cases WHERE id > ?1 ORDER BY id LIMIT ?2")?;
            statement.query_map(params![after, i64::from(limit)], |row| row.get(0))?.collect()
        })
        .await
    }
}

/// Marks the photos a case's write names as attached; one no longer stored (removed while the
/// write was on its way) fails the write.
fn attach_photos(connection: &Connection, hashes: &[&str]) -> StoreResult<()> {
    if hashes.is_empty() {
        return Ok(());
    }
    let mut attach =
        connection.prepare_cached("UPDATE photos SET attached = 1 WHERE hash = ?1").map_err(database_error)?;
    for hash in hashes {
        if attach.execute([hash]).map_err(database_error)? == 0 {
            return Err(StoreError::MissingPhoto((*hash).to_owned()));
        }
    }
    Ok(())
}

/// Queues the webhook deliveries of a case write inside the writer's open transaction.
fn queue_deliveries(connection: &Connection, outgoing: &[Outgoing]) -> StoreResult<()> {
    if outgoing.is_empty() {
        return Ok(());
    }
    static QUEUE: LazyLock<String> = LazyLock::new(|| question_marks(pingan_store::webhooks::QUEUE));
    let mut statement = connection.prepare_cached(&QUEUE).map_err(database_error)?;
    for o in outgoing {
        statement
            .execute(params![o.webhook_id, o.case_id, o.sequence, o.event, o.created_at.millis()])
            .map_err(database_error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]

    use pingan_core::DivisionCode;
    use pingan_core::case::Channel;
    use pingan_core::lifecycle::Status;
    use pingan_store::cases::{SqlValue, Visibility};
    use rusqlite::types::Value;

    use super::*;

    /// A connection to a new database with Pingan's schema, and the folder that holds it.
    fn new_database() -> (Connection, tempfile::TempDir) {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("pingan.db");
        drop(SqliteStore::open(&path).expect("open"));
        (Connection::open(path).expect("connect"), directory)
    }

    /// The steps of the engine's plan for `sql` with `values` bound.
    fn plan(connection: &Connection, sql: &str, values: Vec<SqlValue>) -> Vec<String> {
        let mut explain = connection.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).expect("explain");
        explain
            .query_map(params_from_iter(bound(values)), |row| row.get(3))
            .expect("plan")
            .collect::<Result<_, _>>()
            .expect("steps")
    }

    /// A unit's open cases are found through the unit, even where the statistics would have the
    /// planner search the caller's whole area: they average each status over all cases, unaware that
    /// almost every case is closed. These are the statistics of a million simulated cases, where the
    /// area's search took far longer than the unit's. Nor through the caller's own reports, which
    /// the statistics said were none (no account had filed one when they were taken): a hotline
    /// operator who had filed 200,000 made the list slow so (BENCHMARKS.md, section 10).
    #[test]
    fn a_units_list_is_searched_through_the_unit_whatever_the_statistics_say() {
        let (connection, _directory) = new_database();
        connection
            .execute_batch(
                "ANALYZE; DELETE FROM sqlite_stat1 WHERE tbl = 'cases';
                 INSERT INTO sqlite_stat1 VALUES ('cases', 'cases', '1000000 1'),
                     ('cases', 'cases_by_status_and_division', '1000000 334 5 1'),
                     ('cases', 'cases_by_handler', '1000000 286 112 1 1 1 1'),
                     ('cases', 'cases_by_division', '1000000 1001 1'),
                     ('cases', 'cases_by_reported', '1000000 1'),
                     ('cases', 'cases_by_reporter_account', '0 0 0');
                 ANALYZE sqlite_schema;",
            )
            .expect("statistics");
        let city = DivisionCode::parse("3603").expect("code");
        let filter = CaseFilter {
            handler: Some("department:360302:cg".into()),
            statuses: vec![Status::Dispatched, Status::InProgress],
            visible: Some(Visibility {
                subtree: Some(city),
                handler: Some("centre:3603".into()),
                reporter: Some("operator".into()),
                ..Visibility::default()
            }),
            limit: 50,
            ..CaseFilter::default()
        };
        let (sql, values) = filter.to_sql(CASE_COLUMNS, Dialect::Sqlite);
        let plan = plan(&connection, &sql, values);
        // Every part's page is chosen from the index alone: it holds the division and the reporter
        // tested, and the id.
        let through_the_unit: Vec<&String> = plan.iter().filter(|step| step.contains("cases_by_handler")).collect();
        assert_eq!(through_the_unit.len(), 3, "{plan:?}");
        assert!(through_the_unit.iter().all(|step| step.contains("COVERING INDEX")), "{plan:?}");
        for other in ["cases_by_status_and_division", "cases_by_reporter_account"] {
            assert!(!plan.iter().any(|step| step.contains(other)), "{plan:?}");
        }
    }

    /// A city's or county's open cases, of some categories too, are walked newest first in the
    /// open cases' own index until a page is full; a township's, a handful beside them, are gathered
    /// from the status index; so are those of one channel, which the walk would read row by row.
    /// Writing a case decides whether its row belongs in the open cases' indexes without building
    /// a temporary table of the open statuses (as `status IN (…)` did, at every insert and update).
    #[test]
    fn writing_a_case_builds_no_temporary_table() {
        let (connection, _directory) = new_database();
        for index in ["open_cases_by_time", "open_cases_by_due"] {
            let sql: String = connection
                .query_row("SELECT sql FROM sqlite_master WHERE name = ?1", [index], |row| row.get(0))
                .expect("index");
            assert!(sql.ends_with(&format!("WHERE {}", pingan_store::cases::open_status_test())), "{sql}");
        }
        let placeholders = (1..=21).map(|n| format!("?{n}")).collect::<Vec<_>>().join(", ");
        for statement in [
            format!("INSERT INTO cases ({CASE_COLUMNS}, last_hash) VALUES ({placeholders})"),
            "UPDATE cases SET status = ?2, resolve_due = ?3, version = version + 1 WHERE id = ?1".into(),
        ] {
            let mut explain = connection.prepare(&format!("EXPLAIN {statement}")).expect("explain");
            let unbound = vec![Value::Null; explain.parameter_count()];
            let opcodes: Vec<String> = explain
                .query_map(params_from_iter(unbound), |row| row.get(1))
                .expect("program")
                .collect::<Result<_, _>>()
                .expect("steps");
            assert!(!opcodes.iter().any(|op| op == "OpenEphemeral"), "{statement}");
        }
    }

    #[test]
    fn a_large_areas_open_cases_are_walked_newest_first() {
        let (connection, _directory) = new_database();
        let plan_of = |division: &str, channel: Option<Channel>| {
            let filter = CaseFilter {
                division: Some(DivisionCode::parse(division).expect("code")),
                statuses: vec![Status::Dispatched, Status::InProgress],
                categories: vec!["hazard.fire".into()],
                channel,
                visible: Some(Visibility {
                    subtree: Some(DivisionCode::parse("3603").expect("code")),
                    ..Visibility::default()
                }),
                limit: 50,
                ..CaseFilter::default()
            };
            let (sql, values) = filter.to_sql(CASE_COLUMNS, Dialect::Sqlite);
            plan(&connection, &sql, values).join(" | ")
        };
        for large in ["3603", "360302"] {
            let plan = plan_of(large, None);
            assert!(plan.contains("COVERING INDEX open_cases_by_time"), "{plan}");
            assert!(!plan.contains("cases_by_status_and_division"), "{plan}");
        }
        let plan = plan_of("360302001", None);
        assert!(plan.contains("cases_by_status_and_division"), "{plan}");
        let plan = plan_of("360302", Some(Channel::Hotline));
        assert!(!plan.contains("open_cases_by_time"), "{plan}");
    }

    /// A county's overdue cases, few and old, are a range of the open cases by deadline.
    #[test]
    fn a_large_areas_overdue_cases_are_a_range_of_deadlines() {
        let (connection, _directory) = new_database();
        let filter = CaseFilter {
            division: Some(DivisionCode::parse("360302").expect("code")),
            overdue_at: Some(Timestamp::from_millis(1_800_000_000_000)),
            limit: 50,
            ..CaseFilter::default()
        };
        let (sql, values) = filter.to_sql(CASE_COLUMNS, Dialect::Sqlite);
        let plan = plan(&connection, &sql, values).join(" | ");
        assert!(plan.contains("COVERING INDEX open_cases_by_due (resolve_due<?)"), "{plan}");
    }
}
