//! Units, grid staff and dispatch rules on SQLite.

use async_trait::async_trait;
use pingan_core::GridCode;
use pingan_store::units::{DispatchRule, GridMember, GridRole, UnitColumns, UnitRow, UnitStore, by_grid};
use pingan_store::{StoreError, StoreResult};
use rusqlite::{OptionalExtension, params};

use crate::{SqliteStore, database_error, prefix_end, row_error};

const UNIT_COLUMNS: &str = "id, kind, division_code, name, department_kind, categories";

fn unit_columns(row: &rusqlite::Row<'_>) -> rusqlite::Result<UnitColumns> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?))
}

fn corrupt(what: String) -> StoreError {
    StoreError::Corrupt(what)
}

#[async_trait]
impl UnitStore for SqliteStore {
    async fn put_units(&self, rows: Vec<UnitRow>) -> StoreResult<()> {
        self.write(move |connection| {
            let mut statement = connection
                .prepare(&format!(
                    "INSERT INTO units ({UNIT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, division_code = excluded.division_code,
                     name = excluded.name, department_kind = excluded.department_kind, categories = excluded.categories"
                ))
                .map_err(database_error)?;
            for row in &rows {
                let (id, kind, division, name, department_kind, categories) = row.to_columns();
                statement
                    .execute(params![id, kind, division, name, department_kind, categories])
                    .map_err(|e| row_error(e, &row.division))?;
            }
            Ok(())
        })
        .await
    }

    async fn remove_unit(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_owned();
        self.write(move |connection| {
            Ok(connection.execute("DELETE FROM units WHERE id = ?1", [id]).map_err(database_error)? > 0)
        })
        .await
    }

    async fn unit(&self, id: &str) -> StoreResult<Option<UnitRow>> {
        let id = id.to_owned();
        self.read(move |connection| {
            connection
                .prepare_cached(&format!("SELECT {UNIT_COLUMNS} FROM units WHERE id = ?1"))?
                .query_row([id], unit_columns)
                .optional()
        })
        .await?
        .map(UnitRow::from_columns)
        .transpose()
    }

    async fn units(&self, prefix: &str) -> StoreResult<Vec<UnitRow>> {
        let (start, end) = (prefix.to_owned(), prefix_end(prefix));
        let rows: Vec<UnitColumns> = self
            .read(move |connection| {
                connection
                    .prepare(&format!(
                        "SELECT {UNIT_COLUMNS} FROM units WHERE division_code >= ?1 AND division_code < ?2
                         ORDER BY division_code, id"
                    ))?
                    .query_map([start, end], unit_columns)?
                    .collect()
            })
            .await?;
        rows.into_iter().map(UnitRow::from_columns).collect()
    }

    async fn put_grid_staff(&self, staff: Vec<GridMember>) -> StoreResult<()> {
        self.write(move |connection| {
            let mut clear =
                connection.prepare("DELETE FROM grid_staff WHERE grid_code = ?1").map_err(database_error)?;
            let mut insert = connection
                .prepare("INSERT INTO grid_staff (grid_code, position, name, role) VALUES (?1, ?2, ?3, ?4)")
                .map_err(database_error)?;
            for (grid, members) in by_grid(&staff) {
                clear.execute([grid.as_str()]).map_err(database_error)?;
                for (position, member) in members.iter().enumerate() {
                    insert
                        .execute(params![grid.as_str(), position as i64, member.name, member.role.as_str()])
                        .map_err(|e| row_error(e, grid))?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn grid_staff(&self, prefix: &str) -> StoreResult<Vec<GridMember>> {
        let (start, end) = (prefix.to_owned(), prefix_end(prefix));
        let rows: Vec<(String, String, String)> = self
            .read(move |connection| {
                connection
                    .prepare(
                        "SELECT grid_code, name, role FROM grid_staff WHERE grid_code >= ?1 AND grid_code < ?2
                         ORDER BY grid_code, position",
                    )?
                    .query_map([start, end], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                    .collect()
            })
            .await?;
        rows.into_iter()
            .map(|(grid, name, role)| {
                Ok(GridMember {
                    grid: GridCode::parse(&grid).map_err(|_| corrupt(format!("grid staff of {grid}")))?,
                    role: GridRole::parse(&role).ok_or_else(|| corrupt(format!("grid role {role}")))?,
                    name,
                })
            })
            .collect()
    }

    async fn put_dispatch_rules(&self, rules: Vec<DispatchRule>) -> StoreResult<()> {
        self.write(move |connection| {
            let mut statement = connection
                .prepare(
                    "INSERT INTO dispatch_rules (category, division_code, unit) VALUES (?1, ?2, ?3)
                     ON CONFLICT (category, division_code) DO UPDATE SET unit = excluded.unit",
                )
                .map_err(database_error)?;
            for rule in &rules {
                statement
                    .execute(params![rule.category, rule.division.as_str(), rule.unit])
                    .map_err(|e| row_error(e, &rule.division))?;
            }
            Ok(())
        })
        .await
    }

    async fn dispatch_rules(&self, category: &str) -> StoreResult<Vec<DispatchRule>> {
        let category = category.to_owned();
        let rows: Vec<(String, String, String)> = self
            .read(move |connection| {
                connection
                    .prepare_cached(
                        "SELECT category, division_code, unit FROM dispatch_rules WHERE category = ?1
                         ORDER BY division_code",
                    )?
                    .query_map([category], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                    .collect()
            })
            .await?;
        rows.into_iter()
            .map(|(category, division, unit)| {
                Ok(DispatchRule {
                    division: pingan_core::DivisionCode::parse(&division)
                        .map_err(|_| corrupt(format!("dispatch rule division {division}")))?,
                    category,
                    unit,
                })
            })
            .collect()
    }
}
