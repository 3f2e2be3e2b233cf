//! The SQL both engines run for the case hot paths, written once with their differences named
//! (`Dialect`): the stored row's columns, and lists and counts of cases by filter, planned for the
//! indexes each engine keeps (reasons and timings: BENCHMARKS.md). The contract (`super`) holds
//! no SQL.

use pingan_core::case::{CaseNumber, Channel};
use pingan_core::category::Priority;
use pingan_core::lifecycle::Status;
use pingan_core::{DivisionCode, GridCode, Level, Timestamp};

use super::{CaseBody, CaseFilter, CaseRow, MAX_LIST, Visibility};
use crate::StoreResult;

/// A case row as the engines store it: text, integers and the body as JSON. Both engines convert
/// through this, so a row reads back the same from either.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseColumns {
    pub id: String,
    pub number: String,
    pub city_code: String,
    pub status: String,
    pub channel: String,
    pub category: String,
    pub priority: String,
    pub division_code: String,
    pub handler: Option<String>,
    pub grid_code: Option<String>,
    pub reported_at: i64,
    pub claim_due: Option<i64>,
    pub resolve_due: Option<i64>,
    pub alert_at: Option<i64>,
    pub version: i64,
    pub idempotency_key: Option<String>,
    pub body: String,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub reporter_account: Option<String>,
}

/// Puts a list's rows in its order: newest first, then by id (descending), as pages are cut.
/// Ids compare byte by byte, as both engines compare them (PostgreSQL's column is `COLLATE "C"`).
pub fn newest_first(rows: &mut [CaseColumns]) {
    rows.sort_unstable_by(|a, b| (b.reported_at, &b.id).cmp(&(a.reported_at, &a.id)));
}

/// The column list, in `CaseColumns` order, for SELECTs.
pub const CASE_COLUMNS: &str = "id, number, city_code, status, channel, category, priority, division_code, handler, \
     grid_code, reported_at, claim_due, resolve_due, version, idempotency_key, body, lon, lat, alert_at, reporter_account";

impl CaseRow {
    pub fn to_columns(&self) -> StoreResult<CaseColumns> {
        Ok(CaseColumns {
            id: self.id.clone(),
            number: self.number.as_ref().map(|n| n.to_string()).unwrap_or_default(),
            city_code: self.city.to_string(),
            status: self.status.as_str().to_owned(),
            channel: self.channel.as_str().to_owned(),
            category: self.category.clone(),
            priority: self.priority.as_str().to_owned(),
            division_code: self.division.to_string(),
            handler: self.handler.clone(),
            grid_code: self.grid.as_ref().map(|g| g.to_string()),
            reported_at: self.reported_at.millis(),
            claim_due: self.claim_due.map(Timestamp::millis),
            resolve_due: self.resolve_due.map(Timestamp::millis),
            alert_at: self.alert_at.map(Timestamp::millis),
            version: self.version,
            idempotency_key: self.idempotency_key.clone(),
            body: self.body.to_json()?,
            lon: self.body.lon,
            lat: self.body.lat,
            reporter_account: self.reporter_account.clone(),
        })
    }

    pub fn from_columns(columns: CaseColumns) -> StoreResult<CaseRow> {
        let corrupt = |what: &str| crate::StoreError::Corrupt(format!("case {}: {what}", columns.id));
        Ok(CaseRow {
            number: Some(CaseNumber::parse(&columns.number).map_err(|_| corrupt("number"))?),
            city: DivisionCode::parse(&columns.city_code).map_err(|_| corrupt("city"))?,
            status: Status::parse(&columns.status).ok_or_else(|| corrupt("status"))?,
            channel: Channel::parse(&columns.channel).ok_or_else(|| corrupt("channel"))?,
            priority: Priority::parse(&columns.priority).ok_or_else(|| corrupt("priority"))?,
            division: DivisionCode::parse(&columns.division_code).map_err(|_| corrupt("division"))?,
            grid: columns.grid_code.as_deref().map(GridCode::parse).transpose().map_err(|_| corrupt("grid"))?,
            body: CaseBody { lon: columns.lon, lat: columns.lat, ..CaseBody::from_json(&columns.body)? },
            category: columns.category,
            handler: columns.handler,
            reported_at: Timestamp::from_millis(columns.reported_at),
            claim_due: columns.claim_due.map(Timestamp::from_millis),
            resolve_due: columns.resolve_due.map(Timestamp::from_millis),
            alert_at: columns.alert_at.map(Timestamp::from_millis),
            version: columns.version,
            idempotency_key: columns.idempotency_key,
            reporter_account: columns.reporter_account,
            id: columns.id,
        })
    }
}

/// A value bound to a filter's placeholder.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    Text(String),
    Integer(i64),
    Real(f64),
}

impl CaseFilter {
    /// Whether this is a unit's work queue: its open cases (of some statuses, without a text
    /// search). A unit holds at most a few thousand open cases, and its index hands them over in
    /// order, so the page is found in well under a millisecond, whatever the other conditions.
    pub fn is_a_units_queue(&self) -> bool {
        self.handler.is_some()
            && self.text.is_none()
            && !self.statuses.is_empty()
            && self.statuses.iter().all(|status| Status::OPEN.contains(status))
    }

    /// `SELECT columns FROM cases …` in the engine's SQL, and the values to bind: the page's rows,
    /// to be put in order with [`newest_first`].
    ///
    /// The page is chosen by id first and its rows read after: sorting whole rows (their bodies)
    /// to keep fifty cost many times more than sorting ids (BENCHMARKS.md, section 7), and even the
    /// page's own rows are sorted for less outside the engine, which would copy each whole row into
    /// a temporary tree. A visibility of several parts is a union of one such query per part, each
    /// taking at most a page in order (then the engine keeps the page): an OR of them would make the
    /// engine gather and sort every visible case (a whole city's, for its centre) for each page.
    pub fn to_sql(&self, columns: &str, dialect: Dialect) -> (String, Vec<SqlValue>) {
        let mut sql = Sql::new(dialect);
        let limit = i64::from(self.limit.clamp(1, MAX_LIST));
        let order = "ORDER BY reported_at DESC, id DESC";
        // SQLite finds a unit's queue through the unit in every part, whatever its statistics say
        // of the part's other conditions (they may have been taken when no account had reported).
        let source = if dialect == Dialect::Sqlite && self.is_a_units_queue() {
            "cases INDEXED BY cases_by_handler"
        } else {
            "cases"
        };
        let parts = self.visible_parts();
        let statement = match parts.as_deref() {
            Some(many @ [_, _, ..]) => {
                let parts = many.iter().enumerate().map(|(i, part)| {
                    let conditions = self.where_clause(&mut sql, Seen::Part(part));
                    let limit = sql.bind(SqlValue::Integer(limit));
                    format!(
                        "SELECT id FROM (SELECT id FROM {source} WHERE {conditions} {order} LIMIT {limit}) AS part{i}"
                    )
                });
                let union = parts.collect::<Vec<_>>().join(" UNION ");
                let limit = sql.bind(SqlValue::Integer(limit));
                format!("SELECT {columns} FROM cases WHERE id IN ({union}) {order} LIMIT {limit}")
            }
            one => {
                let seen = match one {
                    None => Seen::Everything,
                    Some([part]) => Seen::Part(part),
                    Some(_) => Seen::Nothing,
                };
                let open_index = if dialect == Dialect::Sqlite { self.open_cases_index(&seen) } else { None };
                let mut conditions = self.where_clause(&mut sql, seen);
                let source = match open_index {
                    Some(index) => {
                        conditions.push_str(&format!(" AND {}", open_status_test()));
                        format!("cases INDEXED BY {index}")
                    }
                    None => source.to_owned(),
                };
                let limit = sql.bind(SqlValue::Integer(limit));
                let page = format!("SELECT id FROM {source} WHERE {conditions} {order} LIMIT {limit}");
                format!("SELECT {columns} FROM cases WHERE id IN ({page})")
            }
        };
        (statement, sql.values)
    }

    /// `SELECT count(*) FROM cases …` for every case the filter matches (its `after` and `limit`
    /// play no part).
    pub fn to_count_sql(&self, dialect: Dialect) -> (String, Vec<SqlValue>) {
        let filter = CaseFilter { after: None, ..self.clone() };
        let mut sql = Sql::new(dialect);
        let parts = self.visible_parts();
        let seen = match parts.as_deref() {
            None => Seen::Everything,
            Some([]) => Seen::Nothing,
            Some(parts) => Seen::AnyOf(parts),
        };
        (format!("SELECT count(*) FROM cases WHERE {}", filter.where_clause(&mut sql, seen)), sql.values)
    }

    /// The parts of the visibility that still narrow the filter: none to add (None) when the
    /// filter's responsible division already lies in the visible subtree, as when a centre lists
    /// its own area. Only the responsible division counts: a case's grid may lie in the subtree
    /// while the case is handled above it (escalated, or dispatched to a county), out of sight.
    fn visible_parts(&self) -> Option<Vec<VisiblePart>> {
        let visible = self.visible.as_ref()?;
        let covered = visible
            .subtree
            .as_ref()
            .zip(self.division.as_ref())
            .is_some_and(|(subtree, division)| division.as_str().starts_with(subtree.as_str()));
        if covered { None } else { Some(visible.parts()) }
    }

    /// SQLite's index of the open cases that finds a page of this list soonest, testing status,
    /// place, deadline and category in the index: for open cases of a county or more, which the
    /// status index would gather whole, reading each row for its category or deadline, and sort to
    /// keep a page (slow at ten million cases for a county's open cases of one category).
    /// Overdue cases are gathered from `open_cases_by_due` (they are few, and old: walking the open
    /// cases newest first passed every recent one before them); the others are walked newest first
    /// in `open_cases_by_time` until the page is full (each timed in BENCHMARKS.md, section 6). A
    /// smaller place, a named unit, or a condition neither index holds: None, the other indexes
    /// serve.
    fn open_cases_index(&self, seen: &Seen<'_>) -> Option<&'static str> {
        if !self.held_by_open_cases(seen) {
            None
        } else if self.overdue_at.is_some() {
            Some("open_cases_by_due")
        } else {
            Some("open_cases_by_time")
        }
    }

    /// Whether every condition of this list is one the open cases' indexes hold: open statuses
    /// only, a county or larger area, the report time, the deadline, the category.
    fn held_by_open_cases(&self, seen: &Seen<'_>) -> bool {
        let large = |code: &DivisionCode| code.level() <= Level::County;
        let open_only = if self.statuses.is_empty() {
            self.overdue_at.is_some()
        } else {
            self.statuses.iter().all(|status| Status::OPEN.contains(status))
        };
        let place_held = self.division.as_ref().is_none_or(large)
            && match seen {
                Seen::Everything => true,
                Seen::Part(VisiblePart::Subtree(code)) => large(code),
                _ => false,
            };
        open_only
            && place_held
            && self.channel.is_none()
            && self.handler.is_none()
            && self.grid_prefix.is_none()
            && self.outside.is_none()
            && self.alert_due.is_none()
            && self.text.is_none()
    }

    /// Whether only the place and the report time narrow the list.
    fn by_time_only(&self) -> bool {
        self.statuses.is_empty()
            && self.categories.is_empty()
            && self.channel.is_none()
            && self.handler.is_none()
            && self.grid_prefix.is_none()
            && self.overdue_at.is_none()
            && self.alert_due.is_none()
            && self.text.is_none()
    }

    /// The filter's conditions and the visibility's, joined (TRUE when there are none).
    fn where_clause(&self, sql: &mut Sql, seen: Seen<'_>) -> String {
        let mut conditions: Vec<String> = Vec::new();
        let handler_named = self.handler.is_some() || matches!(seen, Seen::Part(VisiblePart::Handler(_)));
        let place_search = if handler_named {
            PlaceSearch::Tested
        } else if self.by_time_only() {
            PlaceSearch::ByTime
        } else {
            PlaceSearch::Indexed
        };
        if let Some(division) = &self.division {
            conditions.push(in_subtree(division, place_search, sql));
        }
        if let Some(prefix) = &self.grid_prefix {
            let (from, to) = sql.bind_prefix(prefix);
            conditions.push(format!("grid_code >= {from} AND grid_code < {to}"));
        }
        if let Some(code) = &self.outside {
            let (from, to) = sql.bind_prefix(code.as_str());
            conditions.push(format!("NOT (division_code >= {from} AND division_code < {to})"));
        }
        if let Some(handler) = &self.handler {
            conditions.push(format!("handler = {}", sql.bind(SqlValue::Text(handler.clone()))));
        }
        if !self.statuses.is_empty() {
            let list: Vec<String> =
                self.statuses.iter().map(|s| sql.bind(SqlValue::Text(s.as_str().to_owned()))).collect();
            conditions.push(format!("status IN ({})", list.join(", ")));
        }
        if !self.categories.is_empty() {
            let list: Vec<String> = self.categories.iter().map(|c| sql.bind(SqlValue::Text(c.clone()))).collect();
            conditions.push(format!("category IN ({})", list.join(", ")));
        }
        if let Some(channel) = self.channel {
            conditions.push(format!("channel = {}", sql.bind(SqlValue::Text(channel.as_str().to_owned()))));
        }
        if let Some(from) = self.reported_from {
            conditions.push(format!("reported_at >= {}", sql.bind(SqlValue::Integer(from.millis()))));
        }
        if let Some(before) = self.reported_before {
            conditions.push(format!("reported_at < {}", sql.bind(SqlValue::Integer(before.millis()))));
        }
        if let Some(at) = self.overdue_at {
            let open: Vec<String> =
                Status::OPEN.iter().map(|s| sql.bind(SqlValue::Text(s.as_str().to_owned()))).collect();
            let at = sql.bind(SqlValue::Integer(at.millis()));
            conditions.push(format!("resolve_due < {at} AND status IN ({})", open.join(", ")));
        }
        if let Some(at) = self.alert_due {
            conditions.push(format!("alert_at <= {}", sql.bind(SqlValue::Integer(at.millis()))));
        }
        if let Some(text) = &self.text {
            let dialect = sql.dialect;
            conditions.push(dialect.text_condition(text, sql));
        }
        match seen {
            Seen::Everything => {}
            Seen::Nothing => conditions.push("1 = 0".into()),
            Seen::Part(part) => conditions.push(part.condition(place_search, sql)),
            Seen::AnyOf(parts) => {
                let any: Vec<String> = parts.iter().map(|part| part.condition(PlaceSearch::Indexed, sql)).collect();
                conditions.push(format!("({})", any.join(" OR ")));
            }
        }
        if let Some((reported_at, id)) = &self.after {
            let first = sql.bind(SqlValue::Integer(reported_at.millis()));
            let second = sql.bind(SqlValue::Integer(reported_at.millis()));
            let id = sql.bind(SqlValue::Text(id.clone()));
            conditions.push(format!("(reported_at < {first} OR (reported_at = {second} AND id < {id}))"));
        }
        if conditions.is_empty() { "1 = 1".into() } else { conditions.join(" AND ") }
    }
}

/// The open statuses as SQL literals, as PostgreSQL's partial index of the open cases
/// (`open_cases_by_category_and_grid`, the duplicate search's) is limited to them.
pub fn open_statuses() -> String {
    Status::OPEN.iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(", ")
}

/// Whether a case is open, as SQLite's partial indexes of the open cases (`open_cases_by_time`,
/// `open_cases_by_due`) are limited and as a query must write it to use them: a chain of
/// equalities, where `status IN (…)` of more than two values has SQLite build a temporary table
/// each time a statement that writes a case runs.
pub fn open_status_test() -> String {
    let each: Vec<String> = Status::OPEN.iter().map(|s| format!("status = '{}'", s.as_str())).collect();
    format!("({})", each.join(" OR "))
}

/// Which of the cases a visibility allows a query keeps.
enum Seen<'a> {
    /// No visibility: every case.
    Everything,
    /// A visibility without parts.
    Nothing,
    Part(&'a VisiblePart),
    /// Those matching any of the parts (counts; lists take a union of parts instead).
    AnyOf(&'a [VisiblePart]),
}

/// Whether a condition on the responsible division may be searched in a division index. Where
/// it may not, its column is written so that no engine does, and each row the other conditions
/// find is tested instead.
#[derive(Clone, Copy)]
enum PlaceSearch {
    /// The engine's planner chooses.
    Indexed,
    /// Nothing but the place and the time narrows a list: a county or anything larger holds so
    /// many cases that its newest are found soonest by walking the report-time index (searching
    /// the division index would read and sort the whole area to keep a page).
    ByTime,
    /// A handling unit is named: its cases are few beside an area's, and a planner that cannot
    /// tell how skewed the statuses are (almost every case is closed) would otherwise take a whole
    /// area's open cases to find one unit's.
    Tested,
}

/// Cases whose responsible division lies in `code`'s subtree.
fn in_subtree(code: &DivisionCode, search: PlaceSearch, sql: &mut Sql) -> String {
    let (from, to) = sql.bind_prefix(code.as_str());
    let searched = match search {
        PlaceSearch::Indexed => true,
        PlaceSearch::ByTime => code.level() > Level::County,
        PlaceSearch::Tested => false,
    };
    let column = if searched { "division_code".to_owned() } else { sql.dialect.unindexed("division_code") };
    format!("{column} >= {from} AND {column} < {to}")
}

/// Where the engines' SQL differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// `column` written so that no index may serve a condition on it, for a condition the engine is
    /// to test on what another index found.
    fn unindexed(self, column: &str) -> String {
        match self {
            // SQLite's idiom; unlike a concatenation, it costs nothing per row.
            Dialect::Sqlite => format!("+{column}"),
            Dialect::Postgres => format!("{column} || ''"),
        }
    }

    /// The n-th bound value (1-based).
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }

    /// Cases whose search index holds every gram of `text`, and whose description or address
    /// holds `text` itself. SQLite keeps the grams in the full-text table `case_text`, PostgreSQL
    /// in the array column `search_grams` (a GIN index). A text that is one gram (a Chinese word
    /// of two characters) is found by the index alone: holding the gram is holding the text.
    fn text_condition(self, text: &str, sql: &mut Sql) -> String {
        let grams = search_grams(text);
        // The index's condition, the searched text, and the function that finds one text in another.
        let (indexed, searched, position) = match self {
            Dialect::Sqlite => {
                let query: Vec<String> = grams.iter().map(|gram| format!("\"{gram}\"")).collect();
                let matched = sql.bind(SqlValue::Text(query.join(" ")));
                (
                    format!("id IN (SELECT case_id FROM case_text WHERE case_text MATCH {matched})"),
                    "coalesce(json_extract(body, '$.description'), '') || ' ' || coalesce(json_extract(body, '$.address'), '')",
                    "instr",
                )
            }
            Dialect::Postgres => (
                format!("search_grams @> string_to_array({}, ' ')", sql.bind(SqlValue::Text(grams.join(" ")))),
                "coalesce(body::jsonb ->> 'description', '') || ' ' || coalesce(body::jsonb ->> 'address', '')",
                "strpos",
            ),
        };
        if text.chars().count() == 2 && grams.len() == 1 {
            return indexed;
        }
        let phrase = sql.bind(SqlValue::Text(text.to_ascii_lowercase()));
        format!("{indexed} AND {position}(lower({searched}), {phrase}) > 0")
    }
}

/// The grams a case is found by: every two letters or characters side by side in its description
/// and address (`楼道堆物` gives 楼道, 道堆, 堆物), ASCII letters in lower case, each written as the hex
/// of its UTF-8 bytes so that no engine's tokenizer splits or folds it. A search for a text looks
/// for cases holding all of its grams, then checks the text itself: a Chinese word of two
/// characters is found through the index, with no word list to keep.
pub fn search_grams(text: &str) -> Vec<String> {
    let mut grams: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut previous: Option<char> = None;
    for c in text.chars().map(|c| c.to_ascii_lowercase()) {
        if !c.is_alphanumeric() {
            previous = None;
            continue;
        }
        if let Some(first) = previous
            && seen.insert((first, c))
        {
            grams.push(pingan_core::hex([first, c].iter().collect::<String>().as_bytes()));
        }
        previous = Some(c);
    }
    grams
}

/// What a case is searched by.
pub fn searchable_text(body: &CaseBody) -> String {
    format!("{} {}", body.description, body.address.as_deref().unwrap_or(""))
}

/// A statement's bound values, as its text is written in the engine's SQL.
pub(crate) struct Sql {
    pub(crate) values: Vec<SqlValue>,
    dialect: Dialect,
}

impl Sql {
    pub(crate) fn new(dialect: Dialect) -> Sql {
        Sql { values: Vec::new(), dialect }
    }

    /// Binds `value`; answers its placeholder.
    pub(crate) fn bind(&mut self, value: SqlValue) -> String {
        self.values.push(value);
        self.dialect.placeholder(self.values.len())
    }

    /// Binds the bounds of the texts that are `prefix` followed by digits (codes under a code):
    /// `prefix` itself and just past it, as ':' sorts right after '9' byte by byte. Answers the
    /// two placeholders, for `column >= first AND column < past`.
    pub(crate) fn bind_prefix(&mut self, prefix: &str) -> (String, String) {
        (self.bind(SqlValue::Text(prefix.to_owned())), self.bind(SqlValue::Text(format!("{prefix}:"))))
    }

    /// Binds the bounds of every text that starts with `prefix`, whatever follows: `prefix` itself
    /// and `prefix` with its last character's successor, for `column >= first AND column < past`.
    pub(crate) fn bind_text_prefix(&mut self, prefix: &str) -> (String, String) {
        let mut past: Vec<char> = prefix.chars().collect();
        let successor = past.pop().and_then(|last| char::from_u32(u32::from(last) + 1));
        let past: String = past.into_iter().chain(successor).collect();
        (self.bind(SqlValue::Text(prefix.to_owned())), self.bind(SqlValue::Text(past)))
    }
}

/// One part of a [`Visibility`].
enum VisiblePart {
    Subtree(DivisionCode),
    Grid(GridCode),
    Handler(String),
    Reporter(String),
}

impl VisiblePart {
    fn condition(&self, place_search: PlaceSearch, sql: &mut Sql) -> String {
        match self {
            VisiblePart::Subtree(code) => format!("({})", in_subtree(code, place_search, sql)),
            VisiblePart::Grid(grid) => format!("grid_code = {}", sql.bind(SqlValue::Text(grid.to_string()))),
            VisiblePart::Handler(unit) => format!("handler = {}", sql.bind(SqlValue::Text(unit.clone()))),
            // An account's own reports are found through the account, unless the list names a
            // unit: a hotline operator's account files tens of thousands, every one of which the
            // engine would read to find the unit's few among them.
            VisiblePart::Reporter(account) => {
                let column = match place_search {
                    PlaceSearch::Tested => sql.dialect.unindexed("reporter_account"),
                    _ => "reporter_account".to_owned(),
                };
                format!("{column} = {}", sql.bind(SqlValue::Text(account.clone())))
            }
        }
    }
}

impl Visibility {
    fn parts(&self) -> Vec<VisiblePart> {
        let mut parts = Vec::new();
        parts.extend(self.subtree.clone().map(VisiblePart::Subtree));
        parts.extend(self.grid.clone().map(VisiblePart::Grid));
        parts.extend(self.handler.clone().map(VisiblePart::Handler));
        parts.extend(self.reporter.clone().map(VisiblePart::Reporter));
        parts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(grams: Vec<String>) -> Vec<String> {
        grams
            .iter()
            .map(|hex| {
                let bytes: Vec<u8> =
                    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect();
                String::from_utf8(bytes).expect("UTF-8")
            })
            .collect()
    }

    #[test]
    fn only_a_responsible_division_inside_the_subtree_drops_the_visibility_test() {
        let division = |code: &str| DivisionCode::parse(code).expect("code");
        let visible = Visibility {
            subtree: Some(division("360302008")),
            handler: Some("centre:360302008".into()),
            ..Visibility::default()
        };
        let filter = CaseFilter { visible: Some(visible), ..CaseFilter::default() };
        // A case of a grid in the township may be handled by the county: the grid says nothing of
        // who handles it.
        for grid in ["360302008205001", "360302008205"] {
            let by_grid = CaseFilter { grid_prefix: Some(grid.into()), ..filter.clone() };
            assert!(by_grid.visible_parts().is_some_and(|parts| parts.len() == 2), "grid={grid}");
            let (count, _) = by_grid.to_count_sql(Dialect::Sqlite);
            assert!(count.contains(" OR "), "{count}");
        }
        let inside = CaseFilter { division: Some(division("360302008205")), ..filter.clone() };
        assert!(inside.visible_parts().is_none());
        let outside = CaseFilter { division: Some(division("360302")), ..filter };
        assert!(outside.visible_parts().is_some());
    }

    #[test]
    fn a_units_queue_is_its_open_cases_without_a_text_search() {
        let queue = CaseFilter {
            handler: Some("department:360302:cg".into()),
            statuses: vec![Status::Dispatched, Status::InProgress],
            categories: vec!["hazard.fire".into()],
            ..CaseFilter::default()
        };
        assert!(queue.is_a_units_queue());
        let not_queues = [
            CaseFilter { handler: None, ..queue.clone() },
            CaseFilter { statuses: Vec::new(), ..queue.clone() },
            CaseFilter { statuses: vec![Status::Dispatched, Status::Closed], ..queue.clone() },
            CaseFilter { text: Some("漏水".into()), ..queue.clone() },
        ];
        for filter in not_queues {
            assert!(!filter.is_a_units_queue(), "{filter:?}");
        }
    }

    #[test]
    fn grams_are_neighbouring_pairs_within_words() {
        assert_eq!(decoded(search_grams("楼道堆物")), ["楼道", "道堆", "堆物"]);
        assert_eq!(decoded(search_grams("漏水，急！3号楼")), ["漏水", "3号", "号楼"], "punctuation parts words");
        assert_eq!(decoded(search_grams("Main  ST")), ["ma", "ai", "in", "st"], "ASCII in lower case");
        assert_eq!(decoded(search_grams("水水水")), ["水水"], "each gram once");
        assert!(search_grams("水 。a").is_empty(), "no two side by side");
        assert!(search_grams("楼道").iter().all(|g| g.bytes().all(|b| b.is_ascii_hexdigit())));
    }
}
