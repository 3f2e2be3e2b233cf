//! Units that cases are dispatched to, the people of each grid, and the dispatch rules.
//!
//! Every division has a governance centre (`centre:CODE`) without a row of its own; departments of
//! a county or city (`department:COUNTY:KIND`) and service providers (`provider:COUNTY:NAME`) are
//! stored units.

use std::collections::HashMap;

use async_trait::async_trait;
use pingan_core::{DivisionCode, GridCode};

use crate::sql::{SqlEngine, SqlRow, Statement, prefix_end, write_one};
use crate::{StoreError, StoreResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitKind {
    Department,
    /// A company or organisation registered for life-service matters.
    Provider,
    /// An official's post (分管领导 of a township, 包村领导 of a village).
    Leader,
}

impl UnitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Department => "department",
            UnitKind::Provider => "provider",
            UnitKind::Leader => "leader",
        }
    }

    pub fn parse(text: &str) -> Option<UnitKind> {
        [UnitKind::Department, UnitKind::Provider, UnitKind::Leader].into_iter().find(|k| k.as_str() == text)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitRow {
    pub id: String,
    pub kind: UnitKind,
    /// The county or city it belongs to (a leader's post: its township or village).
    pub division: DivisionCode,
    pub name: String,
    /// A department's kind (a code of the department kinds).
    pub department_kind: Option<String>,
    /// The categories a provider serves.
    pub categories: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GridRole {
    /// 网格长
    Leader,
    /// 网格员
    Member,
}

impl GridRole {
    pub fn as_str(self) -> &'static str {
        match self {
            GridRole::Leader => "leader",
            GridRole::Member => "member",
        }
    }

    pub fn parse(text: &str) -> Option<GridRole> {
        [GridRole::Leader, GridRole::Member].into_iter().find(|r| r.as_str() == text)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GridMember {
    pub grid: GridCode,
    pub name: String,
    pub role: GridRole,
}

/// Cases of `category` whose place lies under `division` go to `unit`; the most specific rule
/// (the longest division code) wins, so a county's rule overrides its city's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DispatchRule {
    pub category: String,
    pub division: DivisionCode,
    pub unit: String,
}

#[async_trait]
pub trait UnitStore: Send + Sync {
    /// Inserts or replaces units, all in one transaction.
    async fn put_units(&self, rows: Vec<UnitRow>) -> StoreResult<()>;

    /// Removes a unit (a department merged away, a provider gone); cases dispatched to it keep it
    /// as their handler until a centre re-dispatches them. Says whether it existed.
    async fn remove_unit(&self, id: &str) -> StoreResult<bool>;

    async fn unit(&self, id: &str) -> StoreResult<Option<UnitRow>>;

    /// Units of the divisions whose code starts with `prefix`, ordered by division and id.
    async fn units(&self, prefix: &str) -> StoreResult<Vec<UnitRow>>;

    /// Replaces the staff of every grid named in `staff` (keeping their order), in one transaction.
    async fn put_grid_staff(&self, staff: Vec<GridMember>) -> StoreResult<()>;

    /// Staff of the grids whose code starts with `prefix`, ordered by grid and position.
    async fn grid_staff(&self, prefix: &str) -> StoreResult<Vec<GridMember>>;

    /// Inserts or replaces rules (one per category and division), all in one transaction.
    async fn put_dispatch_rules(&self, rules: Vec<DispatchRule>) -> StoreResult<()>;

    /// The rules for `category`, ordered by division code.
    async fn dispatch_rules(&self, category: &str) -> StoreResult<Vec<DispatchRule>>;
}

const UNIT_COLUMNS: &str = "id, kind, division_code, name, department_kind, categories";

impl UnitRow {
    fn read(row: &SqlRow) -> StoreResult<UnitRow> {
        let id: String = row.get("id")?;
        let corrupt = |what: &str| StoreError::Corrupt(format!("unit {id}: {what}"));
        let (kind, division, categories): (String, String, String) =
            (row.get("kind")?, row.get("division_code")?, row.get("categories")?);
        Ok(UnitRow {
            kind: UnitKind::parse(&kind).ok_or_else(|| corrupt("kind"))?,
            division: DivisionCode::parse(&division).map_err(|_| corrupt("division"))?,
            categories: categories.split(',').filter(|c| !c.is_empty()).map(str::to_owned).collect(),
            name: row.get("name")?,
            department_kind: row.get("department_kind")?,
            id,
        })
    }
}

#[async_trait]
impl<E: SqlEngine> UnitStore for E {
    async fn put_units(&self, rows: Vec<UnitRow>) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO units ({UNIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, division_code = excluded.division_code,
             name = excluded.name, department_kind = excluded.department_kind, categories = excluded.categories"
        );
        let statements = rows
            .into_iter()
            .map(|row| {
                let values = vec![
                    row.id.into(),
                    row.kind.as_str().into(),
                    row.division.as_str().into(),
                    row.name.into(),
                    row.department_kind.into(),
                    row.categories.join(",").into(),
                ];
                Statement::new(sql.clone(), values).about(row.division.to_string())
            })
            .collect();
        self.write(statements).await?;
        Ok(())
    }

    async fn remove_unit(&self, id: &str) -> StoreResult<bool> {
        Ok(write_one(self, Statement::new("DELETE FROM units WHERE id = $1", vec![id.into()])).await?.changed > 0)
    }

    async fn unit(&self, id: &str) -> StoreResult<Option<UnitRow>> {
        let sql = format!("SELECT {UNIT_COLUMNS} FROM units WHERE id = $1");
        self.look_up(Statement::new(sql, vec![id.into()])).await?.as_ref().map(UnitRow::read).transpose()
    }

    async fn units(&self, prefix: &str) -> StoreResult<Vec<UnitRow>> {
        let sql = format!(
            "SELECT {UNIT_COLUMNS} FROM units WHERE division_code >= $1 AND division_code < $2
             ORDER BY division_code, id"
        );
        let rows = self.read(Statement::new(sql, vec![prefix.into(), prefix_end(prefix).into()])).await?;
        rows.iter().map(UnitRow::read).collect()
    }

    async fn put_grid_staff(&self, staff: Vec<GridMember>) -> StoreResult<()> {
        let mut statements = Vec::new();
        for (grid, members) in by_grid(&staff) {
            statements.push(Statement::new("DELETE FROM grid_staff WHERE grid_code = $1", vec![grid.as_str().into()]));
            for (position, member) in (0_i64..).zip(members) {
                let values = vec![
                    grid.as_str().into(),
                    position.into(),
                    member.name.as_str().into(),
                    member.role.as_str().into(),
                ];
                statements.push(
                    Statement::new(
                        "INSERT INTO grid_staff (grid_code, position, name, role) VALUES ($1, $2, $3, $4)",
                        values,
                    )
                    .about(grid.to_string()),
                );
            }
        }
        self.write(statements).await?;
        Ok(())
    }

    async fn grid_staff(&self, prefix: &str) -> StoreResult<Vec<GridMember>> {
        let sql = "SELECT grid_code, name, role FROM grid_staff WHERE grid_code >= $1 AND grid_code < $2
                   ORDER BY grid_code, position";
        let rows = self.read(Statement::new(sql, vec![prefix.into(), prefix_end(prefix).into()])).await?;
        rows.iter()
            .map(|row| {
                let (grid, role): (String, String) = (row.get("grid_code")?, row.get("role")?);
                Ok(GridMember {
                    grid: GridCode::parse(&grid).map_err(|_| StoreError::Corrupt(format!("grid staff of {grid}")))?,
                    role: GridRole::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("grid role {role}")))?,
                    name: row.get("name")?,
                })
            })
            .collect()
    }

    async fn put_dispatch_rules(&self, rules: Vec<DispatchRule>) -> StoreResult<()> {
        let sql = "INSERT INTO dispatch_rules (category, division_code, unit) VALUES ($1, $2, $3)
                   ON CONFLICT (category, division_code) DO UPDATE SET unit = excluded.unit";
        let statements = rules
            .into_iter()
            .map(|rule| {
                let subject = rule.division.to_string();
                Statement::new(sql, vec![rule.category.into(), rule.division.as_str().into(), rule.unit.into()])
                    .about(subject)
            })
            .collect();
        self.write(statements).await?;
        Ok(())
    }

    async fn dispatch_rules(&self, category: &str) -> StoreResult<Vec<DispatchRule>> {
        let sql = "SELECT category, division_code, unit FROM dispatch_rules WHERE category = $1 ORDER BY division_code";
        let rows = self.read(Statement::new(sql, vec![category.into()])).await?;
        rows.iter()
            .map(|row| {
                let division: String = row.get("division_code")?;
                Ok(DispatchRule {
                    category: row.get("category")?,
                    division: DivisionCode::parse(&division)
                        .map_err(|_| StoreError::Corrupt(format!("dispatch rule division {division}")))?,
                    unit: row.get("unit")?,
                })
            })
            .collect()
    }
}

/// `staff` grouped by grid, grids in first-mention order, members in their order.
pub fn by_grid(staff: &[GridMember]) -> Vec<(&GridCode, Vec<&GridMember>)> {
    let mut groups: Vec<(&GridCode, Vec<&GridMember>)> = Vec::new();
    // Where each grid's group is: a city's thousands of grids, looked for one by one, made
    // loading its staff quadratic.
    let mut group_of: HashMap<&GridCode, usize> = HashMap::new();
    for member in staff {
        let at = *group_of.entry(&member.grid).or_insert_with(|| {
            groups.push((&member.grid, Vec::new()));
            groups.len() - 1
        });
        groups[at].1.push(member);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_are_grouped_by_grid_in_first_mention_order() {
        let member = |grid: &str, name: &str| GridMember {
            grid: GridCode::parse(grid).expect("grid code"),
            name: name.into(),
            role: GridRole::Member,
        };
        let staff = [
            member("360302001001002", "甲"),
            member("360302001001001", "乙"),
            member("360302001001002", "丙"),
            member("360302001001003", "丁"),
            member("360302001001001", "戊"),
        ];
        let groups: Vec<(&str, Vec<&str>)> = by_grid(&staff)
            .into_iter()
            .map(|(grid, members)| (grid.as_str(), members.iter().map(|m| m.name.as_str()).collect()))
            .collect();
        assert_eq!(
            groups,
            [
                ("360302001001002", vec!["甲", "丙"]),
                ("360302001001001", vec!["乙", "戊"]),
                ("360302001001003", vec!["丁"]),
            ]
        );
    }
}
