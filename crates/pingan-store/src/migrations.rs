//! The schema's one history: every step in order, each named by when it was written and what it
//! does, with its script for each engine. A step for one engine only is tuning that engine needs
//! (an index the other engine's planner does without) and is declared so below. An engine records
//! each step it applies with the checksum of its script, and refuses to start on a database whose
//! record disagrees with this build: a step changed after it was applied, or a step this build
//! does not know (the database was upgraded by a newer build).

use pingan_core::hex;
use sha2::{Digest, Sha256};

use crate::{StoreError, StoreResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

pub struct Migration {
    /// `YYYYMMDDhhmmss_what_it_does`; the timestamps keep the order.
    pub id: &'static str,
    pub sqlite: Option<&'static str>,
    pub postgres: Option<&'static str>,
}

impl Migration {
    pub fn script(&self, engine: Engine) -> Option<&'static str> {
        match engine {
            Engine::Sqlite => self.sqlite,
            Engine::Postgres => self.postgres,
        }
    }
}

macro_rules! migration {
    ($id:literal, both) => {
        Migration { id: $id, sqlite: Some(script!($id, "sqlite")), postgres: Some(script!($id, "postgres")) }
    };
    ($id:literal, sqlite_only) => {
        Migration { id: $id, sqlite: Some(script!($id, "sqlite")), postgres: None }
    };
    ($id:literal, postgres_only) => {
        Migration { id: $id, sqlite: None, postgres: Some(script!($id, "postgres")) }
    };
}

macro_rules! script {
    ($id:literal, $engine:literal) => {
        include_str!(concat!("../migrations/", $id, "/", $engine, ".sql"))
    };
}

/// The step that adds the text index; the engine then enters the cases already stored in it.
pub const CASE_TEXT: &str = "20261129121510_case_text";

/// The steps that make or empty the indicator tallies; the engine then counts the cases already
/// stored in.
pub const RECOUNT_TALLIES: [&str; 2] =
    ["20261129143417_case_tallies", "20261207213000_tallies_by_channel_and_category"];

pub const HISTORY: &[Migration] = &[
    migration!("20261128233527_divisions_and_grids", both),
    migration!("20261128235727_geography_revision", both),
    migration!("20261129001603_cases", both),
    migration!("20261129004825_cases_by_place", both),
    migration!("20261129022700_case_points", both),
    migration!("20261129024602_units", both),
    migration!("20261129030023_category_versions", both),
    migration!("20261129030554_photos", both),
    migration!("20261129031349_case_alerts", both),
    migration!("20261129031941_open_cases_by_division", both),
    migration!("20261129054636_accounts", both),
    migration!("20261129112453_webhooks", both),
    migration!("20261129115637_idempotency_keys", both),
    migration!("20261129121510_case_text", both),
    migration!("20261129143417_case_tallies", both),
    migration!("20261129181508_duplicate_search_points", both),
    migration!("20261129185449_unit_lists_from_the_index", postgres_only),
    migration!("20261129213315_open_cases_by_time", sqlite_only),
    migration!("20261129222851_open_cases_by_due", sqlite_only),
    migration!("20261130003440_open_cases_by_category_and_grid", both),
    migration!("20261130031549_cases_by_handler_covering", sqlite_only),
    migration!("20261130083413_open_cases_in_memory", sqlite_only),
    migration!("20261130093940_cases_by_handler_with_reporter", sqlite_only),
    migration!("20261130115705_open_cases_tested_without_a_list", sqlite_only),
    migration!("20261207130512_data_key_probes", both),
    migration!("20261207130513_photo_uploaders", both),
    migration!("20261207130514_login_slowdown", both),
    migration!("20261207213000_tallies_by_channel_and_category", both),
    migration!("20261207221500_leader_posts", both),
    migration!("20261207230000_ranking_weights", both),
];

/// The steps an engine runs, in order.
pub fn steps(engine: Engine) -> impl Iterator<Item = (&'static str, &'static str)> {
    HISTORY.iter().filter_map(move |m| Some((m.id, m.script(engine)?)))
}

/// What an engine records of a script: SHA-256 of its text, line ends as written on Unix (so a
/// checkout that turns them into CRLF is not taken for a change).
pub fn checksum(script: &str) -> String {
    hex(&Sha256::digest(script.replace("\r\n", "\n").as_bytes()))
}

/// A step as a database records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub id: String,
    pub checksum: String,
}

/// The steps still to run on a database that recorded `applied`, in order; refused when the record
/// disagrees with this build's history.
pub fn pending(engine: Engine, applied: &[Applied]) -> StoreResult<Vec<(&'static str, &'static str)>> {
    for record in applied {
        let Some((_, script)) = steps(engine).find(|(id, _)| *id == record.id) else {
            return Err(StoreError::SchemaFromNewerBuild(record.id.clone()));
        };
        if checksum(script) != record.checksum {
            return Err(StoreError::SchemaDrift(record.id.clone()));
        }
    }
    Ok(steps(engine).filter(|(id, _)| !applied.iter().any(|a| a.id == *id)).collect())
}

/// The steps that a database made before the history had ids recorded as `(version, name)` rows
/// (the engine's own numbering, 1, 2, … in the order of its steps), as they are recorded now.
/// A row whose number or name does not match the step of that place is refused as drift.
pub fn adopt_numbered(engine: Engine, numbered: &[(i64, String)]) -> StoreResult<Vec<Applied>> {
    let steps: Vec<_> = steps(engine).collect();
    numbered
        .iter()
        .map(|(version, name)| {
            let step = usize::try_from(*version).ok().and_then(|v| v.checked_sub(1)).and_then(|i| steps.get(i));
            let named = |id: &str| id.split_once('_').is_some_and(|(_, what)| what == name.replace(' ', "_"));
            match step {
                Some((id, script)) if named(id) => Ok(Applied { id: (*id).to_owned(), checksum: checksum(script) }),
                _ => Err(StoreError::SchemaDrift(format!("{version} {name}"))),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(engine: Engine, count: usize) -> Vec<Applied> {
        steps(engine).take(count).map(|(id, sql)| Applied { id: id.into(), checksum: checksum(sql) }).collect()
    }

    #[test]
    fn ids_are_unique_in_time_order_and_every_step_has_a_script() {
        let ids: Vec<&str> = HISTORY.iter().map(|m| m.id).collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "ids out of order or repeated: {ids:?}");
        for migration in HISTORY {
            let (stamp, what) = migration.id.split_once('_').expect("an id is TIMESTAMP_what");
            assert!(stamp.len() == 14 && stamp.bytes().all(|b| b.is_ascii_digit()), "{}", migration.id);
            assert!(!what.is_empty(), "{}", migration.id);
            assert!(migration.sqlite.or(migration.postgres).is_some_and(|sql| !sql.trim().is_empty()));
        }
    }

    #[test]
    fn a_fresh_database_runs_every_step_of_its_engine_in_order() {
        for engine in [Engine::Sqlite, Engine::Postgres] {
            let all: Vec<_> = steps(engine).collect();
            assert_eq!(pending(engine, &[]).unwrap(), all);
        }
        assert_eq!(steps(Engine::Sqlite).count(), 29);
        assert_eq!(steps(Engine::Postgres).count(), 24);
    }

    #[test]
    fn only_the_steps_not_recorded_run() {
        let done = applied(Engine::Postgres, 5);
        let rest = pending(Engine::Postgres, &done).unwrap();
        assert_eq!(rest, steps(Engine::Postgres).skip(5).collect::<Vec<_>>());
    }

    #[test]
    fn a_changed_script_or_an_unknown_step_is_refused() {
        let mut done = applied(Engine::Sqlite, 3);
        done[1].checksum = checksum("CREATE TABLE something_else (x INTEGER);");
        let error = pending(Engine::Sqlite, &done).unwrap_err();
        assert!(matches!(&error, StoreError::SchemaDrift(id) if id == HISTORY[1].id), "{error}");

        let mut done = applied(Engine::Sqlite, 3);
        done.push(Applied { id: "20991231000000_from_the_future".into(), checksum: "00".into() });
        let error = pending(Engine::Sqlite, &done).unwrap_err();
        assert!(matches!(&error, StoreError::SchemaFromNewerBuild(id) if id.contains("future")), "{error}");

        // A step of the other engine only is unknown to this one.
        let sqlite_only = HISTORY.iter().find(|m| m.postgres.is_none()).unwrap();
        let done = vec![Applied { id: sqlite_only.id.into(), checksum: checksum(sqlite_only.sqlite.unwrap()) }];
        assert!(matches!(pending(Engine::Postgres, &done), Err(StoreError::SchemaFromNewerBuild(_))));
    }

    /// Every script as it ran on databases already running: a change to one (which such a
    /// database would refuse at start) shows here first. A new step adds a line.
    #[test]
    fn applied_scripts_are_never_changed() {
        for (engine, name) in [(Engine::Sqlite, "sqlite"), (Engine::Postgres, "postgres")] {
            let record: Vec<String> = steps(engine).map(|(id, script)| format!("{id} {}", checksum(script))).collect();
            insta::assert_snapshot!(format!("history_{name}"), record.join("\n"));
        }
    }

    #[test]
    fn checksums_ignore_carriage_returns_and_nothing_else() {
        assert_eq!(checksum("CREATE TABLE t (x INTEGER);\n"), checksum("CREATE TABLE t (x INTEGER);\r\n"));
        assert_ne!(checksum("CREATE TABLE t (x INTEGER);\n"), checksum("CREATE TABLE t (x  INTEGER);\n"));
    }

    #[test]
    fn numbered_records_are_adopted_by_place_and_name() {
        // As the PostgreSQL engine numbered them: its 17th step is its own index, its 18th shared.
        let numbered = vec![
            (1, "divisions_and_grids".into()),
            (13, "idempotency keys".into()),
            (17, "unit_lists_from_the_index".into()),
            (18, "open_cases_by_category_and_grid".into()),
        ];
        let adopted = adopt_numbered(Engine::Postgres, &numbered).unwrap();
        let ids: Vec<&str> = adopted.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "20261128233527_divisions_and_grids",
                "20261129115637_idempotency_keys",
                "20261129185449_unit_lists_from_the_index",
                "20261130003440_open_cases_by_category_and_grid"
            ]
        );
        // The same number means another step on SQLite.
        let sqlite = adopt_numbered(Engine::Sqlite, &[(17, "open_cases_by_time".into())]).unwrap();
        assert_eq!(sqlite[0].id, "20261129213315_open_cases_by_time");
        for wrong in [(17, "unit_lists_from_the_index"), (0, "divisions_and_grids"), (99, "later")] {
            let error = adopt_numbered(Engine::Sqlite, &[(wrong.0, wrong.1.into())]).unwrap_err();
            assert!(matches!(error, StoreError::SchemaDrift(_)), "{wrong:?}");
        }
    }
}
