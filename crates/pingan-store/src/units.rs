//! Units that cases are dispatched to, the people of each grid, and the dispatch rules.
//!
//! Every division has a governance centre (`centre:CODE`) without a row of its own; departments of
//! a county or city (`department:COUNTY:KIND`) and service providers (`provider:COUNTY:NAME`) are
//! stored units.

use std::collections::HashMap;

use async_trait::async_trait;
use pingan_core::{DivisionCode, GridCode};

use crate::StoreResult;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitKind {
    Department,
    /// A company or organisation registered for life-service matters.
    Provider,
}

impl UnitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Department => "department",
            UnitKind::Provider => "provider",
        }
    }

    pub fn parse(text: &str) -> Option<UnitKind> {
        [UnitKind::Department, UnitKind::Provider].into_iter().find(|k| k.as_str() == text)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitRow {
    pub id: String,
    pub kind: UnitKind,
    /// The county or city it belongs to.
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

/// A stored unit's columns: (id, kind, division_code, name, department_kind, categories).
pub type UnitColumns = (String, String, String, String, Option<String>, String);

impl UnitRow {
    pub fn to_columns(&self) -> UnitColumns {
        (
            self.id.clone(),
            self.kind.as_str().to_owned(),
            self.division.to_string(),
            self.name.clone(),
            self.department_kind.clone(),
            self.categories.join(","),
        )
    }

    pub fn from_columns((id, kind, division, name, department_kind, categories): UnitColumns) -> StoreResult<UnitRow> {
        let corrupt = |what: &str| crate::StoreError::Corrupt(format!("unit {id}: {what}"));
        Ok(UnitRow {
            kind: UnitKind::parse(&kind).ok_or_else(|| corrupt("kind"))?,
            division: DivisionCode::parse(&division).map_err(|_| corrupt("division"))?,
            categories: categories.split(',').filter(|c| !c.is_empty()).map(str::to_owned).collect(),
            name,
            department_kind,
            id,
        })
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
