//! The open cases the duplicate search looks through, held in memory by the writer instead of in
//! an index of the cases table.
//!
//! That index (the open cases by category and grid, with their points and numbers) was the
//! dearest of the table's: its entries land on random pages, and SQLite wrote the case rows alone
//! faster without it than without any other index (BENCHMARKS.md, section 4); each search was a
//! query in the writer besides. Open cases are few (about one in fifty of a simulated year's), so
//! the writer keeps them here, loaded when the store opens and changed by every write of a case in
//! step with its row. A write's changes are journalled, so that a write rolled back, or a group
//! whose commit failed, takes them back out; and a write to the file from elsewhere (another
//! process) makes the writer load them afresh before its next group.

use std::collections::HashMap;
use std::sync::Arc;

use pingan_core::lifecycle::Status;
use pingan_core::{GridCode, Timestamp};
use pingan_store::cases::{Candidate, CaseRow, DuplicateSearch, MAX_CANDIDATES, open_statuses};
use pingan_store::{StoreError, StoreResult};
use rusqlite::Connection;

use crate::database_error;

/// An open case as the search needs it.
#[derive(Clone, Debug, PartialEq)]
struct Entry {
    reported_at: Timestamp,
    id: String,
    number: String,
    lon: f64,
    lat: f64,
}

/// A category and village, as `category\nvillage`: the cases one search looks through.
type Bucket = Arc<str>;

/// How to take back one change. Changes are taken back newest first, so an entry's place in its
/// bucket is where the change left it.
enum Undo {
    Remove { bucket: Bucket, at: usize },
    Restore { bucket: Bucket, at: usize, entry: Entry },
}

/// The open cases with a grid, a point and a number, by category and village (what every search
/// names), each bucket in order of report time then id.
#[derive(Default)]
pub(crate) struct OpenCases {
    buckets: HashMap<Bucket, Vec<Entry>>,
    /// The changes not yet committed, oldest first.
    journal: Vec<Undo>,
    /// SQLite's count of commits made by other connections when these were loaded; None for a
    /// set made empty (for a database without cases), which starts counting at its first write.
    data_version: Option<i64>,
    /// Where a bucket's name is written to look it up: most writes find their bucket, and so
    /// allocate nothing for it.
    name: String,
}

/// A case's category and grid, if it is one a search can find.
fn place(case: &CaseRow) -> Option<(&str, &GridCode)> {
    let findable = Status::OPEN.contains(&case.status)
        && case.number.is_some()
        && case.body.lon.is_some()
        && case.body.lat.is_some();
    Some((case.category.as_str(), case.grid.as_ref()?)).filter(|_| findable)
}

/// Whether `before` and `after` are the same entry of the same bucket, or of none (most actions
/// leave a case so).
fn found_alike(before: &CaseRow, after: &CaseRow) -> bool {
    place(before) == place(after)
        && (before.reported_at, &before.id, &before.number) == (after.reported_at, &after.id, &after.number)
        && (before.body.lon, before.body.lat) == (after.body.lon, after.body.lat)
}

/// The entry of a case [`place`] finds a bucket for.
fn entry_of(case: &CaseRow) -> Entry {
    Entry {
        reported_at: case.reported_at,
        id: case.id.clone(),
        number: case.number.as_ref().map(ToString::to_string).unwrap_or_default(),
        lon: case.body.lon.unwrap_or_default(),
        lat: case.body.lat.unwrap_or_default(),
    }
}

fn data_version(connection: &Connection) -> StoreResult<i64> {
    connection.query_row("PRAGMA data_version", [], |row| row.get(0)).map_err(database_error)
}

impl OpenCases {
    /// Every open case stored that a search can find.
    pub(crate) fn load(connection: &Connection) -> StoreResult<OpenCases> {
        let mut statement = connection
            .prepare(&format!(
                "SELECT category, grid_code, reported_at, id, number, lon, lat FROM cases
                 WHERE status IN ({}) AND grid_code IS NOT NULL AND lon IS NOT NULL AND lat IS NOT NULL",
                open_statuses()
            ))
            .map_err(database_error)?;
        let rows = statement
            .query_map([], |row| {
                let place: (String, String) = (row.get(0)?, row.get(1)?);
                let entry = Entry {
                    reported_at: Timestamp::from_millis(row.get(2)?),
                    id: row.get(3)?,
                    number: row.get(4)?,
                    lon: row.get(5)?,
                    lat: row.get(6)?,
                };
                Ok((place, entry))
            })
            .map_err(database_error)?;
        let mut open_cases = OpenCases { data_version: Some(data_version(connection)?), ..OpenCases::default() };
        for row in rows {
            let ((category, grid), entry) = row.map_err(database_error)?;
            let grid = GridCode::parse(&grid).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let bucket = open_cases.bucket(&category, grid.village_code());
            open_cases.buckets.entry(bucket).or_default().push(entry);
        }
        for entries in open_cases.buckets.values_mut() {
            entries.sort_unstable_by(|a, b| (a.reported_at, &a.id).cmp(&(b.reported_at, &b.id)));
        }
        Ok(open_cases)
    }

    /// Loads them afresh if another connection has committed to the file since they were loaded.
    /// Called in a write transaction, which keeps others out until it ends.
    pub(crate) fn reload_if_written_elsewhere(&mut self, connection: &Connection) -> StoreResult<()> {
        let now = data_version(connection)?;
        match self.data_version {
            Some(loaded) if loaded != now => *self = OpenCases::load(connection)?,
            Some(_) => {}
            None => self.data_version = Some(now),
        }
        Ok(())
    }

    /// The bucket of `category` and `village`: the one held if there is one, else a new name.
    fn bucket(&mut self, category: &str, village: &str) -> Bucket {
        write_name(&mut self.name, category, village);
        match self.buckets.get_key_value(self.name.as_str()) {
            Some((bucket, _)) => bucket.clone(),
            None => Bucket::from(self.name.as_str()),
        }
    }

    /// The open cases `search` finds, newest first, as many as a search returns at most.
    pub(crate) fn search(&mut self, search: &DuplicateSearch) -> Vec<Candidate> {
        write_name(&mut self.name, &search.category, &search.village);
        let Some(entries) = self.buckets.get(self.name.as_str()) else {
            return Vec::new();
        };
        entries
            .iter()
            .rev()
            .take_while(|entry| entry.reported_at >= search.reported_from)
            .filter(|entry| search.holds_point(entry.lon, entry.lat))
            .take(MAX_CANDIDATES as usize)
            .map(|entry| Candidate {
                id: entry.id.clone(),
                number: entry.number.clone(),
                lon: entry.lon,
                lat: entry.lat,
            })
            .collect()
    }

    /// Follows a case's write: `before` as it was stored (None for a new case), `after` as written.
    pub(crate) fn follow(&mut self, before: Option<&CaseRow>, after: &CaseRow) {
        if let Some(before) = before {
            if found_alike(before, after) {
                return;
            }
            if let Some((category, grid)) = place(before) {
                let bucket = self.bucket(category, grid.village_code());
                self.remove(bucket, &before.id);
            }
        }
        if let Some((category, grid)) = place(after) {
            let bucket = self.bucket(category, grid.village_code());
            self.insert(bucket, entry_of(after));
        }
    }

    fn insert(&mut self, bucket: Bucket, entry: Entry) {
        let at = put(&mut self.buckets, bucket.clone(), entry);
        self.journal.push(Undo::Remove { bucket, at });
    }

    fn remove(&mut self, bucket: Bucket, id: &str) {
        if let Some((at, entry)) = take(&mut self.buckets, &bucket, id) {
            self.journal.push(Undo::Restore { bucket, at, entry });
        }
    }

    /// Where the journal stands: what a write about to run may have to be taken back to.
    pub(crate) fn mark(&self) -> usize {
        self.journal.len()
    }

    /// Takes back every change since `mark`, newest first.
    pub(crate) fn undo_to(&mut self, mark: usize) {
        while self.journal.len() > mark {
            match self.journal.pop() {
                Some(Undo::Remove { bucket, at }) => {
                    if let Some(entries) = self.buckets.get_mut(&bucket) {
                        entries.remove(at);
                        if entries.is_empty() {
                            self.buckets.remove(&bucket);
                        }
                    }
                }
                Some(Undo::Restore { bucket, at, entry }) => self.buckets.entry(bucket).or_default().insert(at, entry),
                None => break,
            }
        }
    }

    /// The group's changes are committed: there is nothing left to take back.
    pub(crate) fn committed(&mut self) {
        self.journal.clear();
    }
}

/// Writes the name of the bucket of `category` and `village` into `name`.
fn write_name(name: &mut String, category: &str, village: &str) {
    name.clear();
    name.extend([category, "\n", village]);
}

/// Puts `entry` in its place in `bucket`, and answers where.
fn put(buckets: &mut HashMap<Bucket, Vec<Entry>>, bucket: Bucket, entry: Entry) -> usize {
    let entries = buckets.entry(bucket).or_default();
    let at = entries.partition_point(|e| (e.reported_at, &e.id) < (entry.reported_at, &entry.id));
    entries.insert(at, entry);
    at
}

/// Takes the entry of case `id` out of `bucket`, if it is there, with where it was.
fn take(buckets: &mut HashMap<Bucket, Vec<Entry>>, bucket: &Bucket, id: &str) -> Option<(usize, Entry)> {
    let entries = buckets.get_mut(bucket)?;
    let at = entries.iter().position(|e| e.id == id)?;
    let entry = entries.remove(at);
    if entries.is_empty() {
        buckets.remove(bucket);
    }
    Some((at, entry))
}

#[cfg(test)]
mod tests {
    use pingan_core::DivisionCode;
    use pingan_core::case::CaseNumber;
    use pingan_store::conformance::report_near_113_80;

    use super::*;

    const GRID: &str = "360313101201001";

    /// A stored case near 113.80, 27.60 (in the box of `report_near_113_80`'s search), numbered.
    fn case(id: &str, grid: &str, reported_at: i64, category: &str, status: Status) -> CaseRow {
        let mut row = report_near_113_80(id, grid, reported_at, category, status).row;
        let city = DivisionCode::parse("3603").expect("city");
        let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).expect("date");
        let sequence = u32::try_from(reported_at).expect("small");
        row.number = Some(CaseNumber::new(&city, date, sequence).expect("number"));
        row
    }

    fn found(open_cases: &mut OpenCases, category: &str) -> Vec<String> {
        let search = report_near_113_80("search", GRID, 100, category, Status::Reported).similar.expect("search");
        open_cases.search(&search).into_iter().map(|candidate| candidate.id).collect()
    }

    #[test]
    fn a_search_finds_its_categorys_open_cases_in_its_village_box_and_time_newest_first() {
        let mut open_cases = OpenCases::default();
        let neighbour = "dispute.neighbour";
        let mut away = case("away", GRID, 40, neighbour, Status::Reported);
        away.body.lon = Some(113.9);
        let cases = [
            case("t10", GRID, 10, neighbour, Status::Reported),
            case("t30", "360313101201002", 30, neighbour, Status::InProgress),
            case("t20", GRID, 20, neighbour, Status::Dispatched),
            case("old", GRID, 4, neighbour, Status::Reported),
            case("closed", GRID, 50, neighbour, Status::Closed),
            case("family", GRID, 60, "dispute.family", Status::Reported),
            case("next-village", "360313101202001", 70, neighbour, Status::Reported),
            away,
        ];
        for case in &cases {
            open_cases.follow(None, case);
        }
        assert_eq!(found(&mut open_cases, neighbour), ["t30", "t20", "t10"]);
        assert_eq!(found(&mut open_cases, "dispute.family"), ["family"]);
    }

    #[test]
    fn a_search_returns_the_newest_of_many() {
        let mut open_cases = OpenCases::default();
        for at in 10..80 {
            open_cases.follow(None, &case(&format!("c{at}"), GRID, at, "dispute.neighbour", Status::Reported));
        }
        let newest: Vec<String> = (30..80).rev().map(|at| format!("c{at}")).collect();
        assert_eq!(found(&mut open_cases, "dispute.neighbour"), newest);
    }

    #[test]
    fn a_case_closed_or_recategorised_moves_and_taking_the_changes_back_restores_it() {
        let mut open_cases = OpenCases::default();
        let (first, second) = (
            case("first", GRID, 10, "dispute.neighbour", Status::Reported),
            case("second", GRID, 20, "dispute.neighbour", Status::Dispatched),
        );
        open_cases.follow(None, &first);
        open_cases.follow(None, &second);
        open_cases.committed();
        let mark = open_cases.mark();
        let closed = CaseRow { status: Status::Closed, ..first.clone() };
        open_cases.follow(Some(&first), &closed);
        let family = CaseRow { category: "dispute.family".into(), ..second.clone() };
        open_cases.follow(Some(&second), &family);
        assert!(found(&mut open_cases, "dispute.neighbour").is_empty());
        assert_eq!(found(&mut open_cases, "dispute.family"), ["second"]);
        open_cases.follow(None, &case("third", GRID, 30, "dispute.neighbour", Status::Reported));
        open_cases.undo_to(mark);
        assert_eq!(found(&mut open_cases, "dispute.neighbour"), ["second", "first"]);
        assert!(found(&mut open_cases, "dispute.family").is_empty());
        // Committed changes stay.
        open_cases.follow(Some(&first), &closed);
        open_cases.committed();
        open_cases.undo_to(0);
        assert_eq!(found(&mut open_cases, "dispute.neighbour"), ["second"]);
    }
}
