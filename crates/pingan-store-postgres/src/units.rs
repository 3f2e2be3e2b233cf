//! Units, grid staff and dispatch rules on PostgreSQL.

use async_trait::async_trait;
use pingan_core::{DivisionCode, GridCode};
use pingan_store::units::{DispatchRule, GridMember, GridRole, UnitRow, UnitStore, by_grid};
use pingan_store::{StoreError, StoreResult};
use tokio_postgres::Row;

use crate::{PostgresStore, database_error};

const UNIT_COLUMNS: &str = "id, kind, division_code, name, department_kind, categories";

fn unit(row: &Row) -> StoreResult<UnitRow> {
    UnitRow::from_columns((row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5)))
}

fn corrupt(what: String) -> StoreError {
    StoreError::Corrupt(what)
}

#[async_trait]
impl UnitStore for PostgresStore {
    async fn put_units(&self, rows: Vec<UnitRow>) -> StoreResult<()> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await.map_err(database_error)?;
        let statement = transaction
            .prepare(&format!(
                "INSERT INTO units ({UNIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, division_code = excluded.division_code,
                 name = excluded.name, department_kind = excluded.department_kind, categories = excluded.categories"
            ))
            .await
            .map_err(database_error)?;
        for row in &rows {
            let (id, kind, division, name, department_kind, categories) = row.to_columns();
            transaction
                .execute(&statement, &[&id, &kind, &division, &name, &department_kind, &categories])
                .await
                .map_err(database_error)?;
        }
        transaction.commit().await.map_err(database_error)
    }

    async fn remove_unit(&self, id: &str) -> StoreResult<bool> {
        let client = self.client().await?;
        Ok(client.execute("DELETE FROM units WHERE id = $1", &[&id]).await.map_err(database_error)? > 0)
    }

    async fn unit(&self, id: &str) -> StoreResult<Option<UnitRow>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!("SELECT {UNIT_COLUMNS} FROM units WHERE id = $1"))
            .await
            .map_err(database_error)?;
        client.query_opt(&statement, &[&id]).await.map_err(database_error)?.as_ref().map(unit).transpose()
    }

    async fn units(&self, prefix: &str) -> StoreResult<Vec<UnitRow>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {UNIT_COLUMNS} FROM units WHERE division_code LIKE $1 || '%' ORDER BY division_code, id"
                ),
                &[&prefix],
            )
            .await
            .map_err(database_error)?;
        rows.iter().map(unit).collect()
    }

    async fn put_grid_staff(&self, staff: Vec<GridMember>) -> StoreResult<()> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await.map_err(database_error)?;
        for (grid, members) in by_grid(&staff) {
            transaction
                .execute("DELETE FROM grid_staff WHERE grid_code = $1", &[&grid.as_str()])
                .await
                .map_err(database_error)?;
            for (position, member) in members.iter().enumerate() {
                transaction
                    .execute(
                        "INSERT INTO grid_staff (grid_code, position, name, role) VALUES ($1, $2, $3, $4)",
                        &[&grid.as_str(), &(position as i32), &member.name, &member.role.as_str()],
                    )
                    .await
                    .map_err(database_error)?;
            }
        }
        transaction.commit().await.map_err(database_error)
    }

    async fn grid_staff(&self, prefix: &str) -> StoreResult<Vec<GridMember>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT grid_code, name, role FROM grid_staff WHERE grid_code LIKE $1 || '%' ORDER BY grid_code, position",
                &[&prefix],
            )
            .await
            .map_err(database_error)?;
        rows.iter()
            .map(|row| {
                let (grid, role): (String, String) = (row.get(0), row.get(2));
                Ok(GridMember {
                    grid: GridCode::parse(&grid).map_err(|_| corrupt(format!("grid staff of {grid}")))?,
                    role: GridRole::parse(&role).ok_or_else(|| corrupt(format!("grid role {role}")))?,
                    name: row.get(1),
                })
            })
            .collect()
    }

    async fn put_dispatch_rules(&self, rules: Vec<DispatchRule>) -> StoreResult<()> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await.map_err(database_error)?;
        for rule in &rules {
            transaction
                .execute(
                    "INSERT INTO dispatch_rules (category, division_code, unit) VALUES ($1, $2, $3)
                     ON CONFLICT (category, division_code) DO UPDATE SET unit = excluded.unit",
                    &[&rule.category, &rule.division.as_str(), &rule.unit],
                )
                .await
                .map_err(database_error)?;
        }
        transaction.commit().await.map_err(database_error)
    }

    async fn dispatch_rules(&self, category: &str) -> StoreResult<Vec<DispatchRule>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT category, division_code, unit FROM dispatch_rules WHERE category = $1 ORDER BY division_code",
            )
            .await
            .map_err(database_error)?;
        let rows = client.query(&statement, &[&category]).await.map_err(database_error)?;
        rows.iter()
            .map(|row| {
                let division: String = row.get(1);
                Ok(DispatchRule {
                    category: row.get(0),
                    division: DivisionCode::parse(&division)
                        .map_err(|_| corrupt(format!("dispatch rule division {division}")))?,
                    unit: row.get(2),
                })
            })
            .collect()
    }
}
