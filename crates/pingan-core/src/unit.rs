//! Units: where staff work and where cases go. A unit is written `centre:CODE` (a division's
//! governance centre), `department:COUNTY:KIND` and `provider:COUNTY:NAME` (a county's or city's
//! department or contracted service provider: a kind or short name of lower-case letters, digits
//! and '-'), `grid:CODE` (a grid's workers), or `leader:CODE:POST` (an official's post: a
//! township's leader in charge, `in_charge`, or the township official who looks after a village,
//! `liaison`). That text is what is stored and sent; it is read and written here only.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::division::{DivisionCode, GridCode, Level};
use crate::problem::Explain;

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Unit {
    /// A division's governance centre (综治中心).
    Centre(DivisionCode),
    /// A department of a county's or city's government, by its kind (`cg`: 城市管理).
    Department { place: DivisionCode, kind: String },
    /// A service provider a county or city contracts, by its short name.
    Provider { place: DivisionCode, name: String },
    /// The workers of a grid.
    Grid(GridCode),
    /// An official's post: 分管领导 of a township, or 包村领导 of a village.
    Leader { place: DivisionCode, post: LeaderPost },
}

/// The posts of officials that matters go to, as the source's township hotline branch (贵溪文坊镇
/// 3651890 分厅) sends them: 民生 matters to the leader in charge, 平安 matters to the grid workers
/// and the village's liaison leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaderPost {
    /// 分管领导: a township's leader in charge (of livelihood matters).
    InCharge,
    /// 包村领导: the township official who looks after one village.
    Liaison,
}

impl LeaderPost {
    pub fn as_str(self) -> &'static str {
        match self {
            LeaderPost::InCharge => "in_charge",
            LeaderPost::Liaison => "liaison",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            LeaderPost::InCharge => "分管领导",
            LeaderPost::Liaison => "包村领导",
        }
    }

    /// The level of the division the post belongs to.
    pub fn level(self) -> Level {
        match self {
            LeaderPost::InCharge => Level::Township,
            LeaderPost::Liaison => Level::Village,
        }
    }

    fn parse(text: &str) -> Option<LeaderPost> {
        [LeaderPost::InCharge, LeaderPost::Liaison].into_iter().find(|post| post.as_str() == text)
    }
}

/// A text that names no unit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is no unit: write centre:CODE, department:COUNTY:KIND, provider:COUNTY:NAME, grid:CODE, leader:TOWNSHIP:in_charge or leader:VILLAGE:liaison"
)]
pub struct BadUnit(pub String);

impl Explain for BadUnit {
    fn code(&self) -> &'static str {
        "invalid_unit"
    }

    fn message_zh(&self) -> String {
        format!(
            "“{}”不是单位：应写作 centre:区划代码、department:县级代码:类别、provider:县级代码:名称、grid:网格代码、leader:乡镇代码:in_charge 或 leader:村代码:liaison",
            self.0
        )
    }

    fn message_en(&self) -> String {
        self.to_string()
    }
}

impl Unit {
    pub fn parse(text: &str) -> Result<Unit, BadUnit> {
        let bad = || BadUnit(text.to_owned());
        let (kind, rest) = text.split_once(':').ok_or_else(bad)?;
        let named = |rest: &str| -> Result<(DivisionCode, String), BadUnit> {
            let (place, name) = rest.split_once(':').ok_or_else(bad)?;
            let place = DivisionCode::parse(place).map_err(|_| bad())?;
            let fits = matches!(place.level(), Level::City | Level::County)
                && !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if fits { Ok((place, name.to_owned())) } else { Err(bad()) }
        };
        match kind {
            "centre" => DivisionCode::parse(rest).map(Unit::Centre).map_err(|_| bad()),
            "grid" => GridCode::parse(rest).map(Unit::Grid).map_err(|_| bad()),
            "department" => named(rest).map(|(place, kind)| Unit::Department { place, kind }),
            "provider" => named(rest).map(|(place, name)| Unit::Provider { place, name }),
            "leader" => {
                let (place, post) = rest.split_once(':').ok_or_else(bad)?;
                let (place, post) =
                    (DivisionCode::parse(place).map_err(|_| bad())?, LeaderPost::parse(post).ok_or_else(bad)?);
                if place.level() == post.level() { Ok(Unit::Leader { place, post }) } else { Err(bad()) }
            }
            _ => Err(bad()),
        }
    }

    /// The code a unit is filed under in the tree: a centre's division, a grid's own code (which
    /// begins with its village's), a department's or provider's county or city, a leader's
    /// township or village. Whoever's subtree holds this holds the unit.
    pub fn place_code(&self) -> &str {
        match self {
            Unit::Centre(code) => code.as_str(),
            Unit::Grid(grid) => grid.as_str(),
            Unit::Department { place, .. } | Unit::Provider { place, .. } | Unit::Leader { place, .. } => {
                place.as_str()
            }
        }
    }

    /// The division the unit works in: a grid's is its village.
    pub fn division(&self) -> DivisionCode {
        match self {
            Unit::Centre(code)
            | Unit::Department { place: code, .. }
            | Unit::Provider { place: code, .. }
            | Unit::Leader { place: code, .. } => code.clone(),
            Unit::Grid(grid) => grid.village(),
        }
    }
}

/// The place code ([`Unit::place_code`]) of the unit written `text`, if it names one.
pub fn place_code_of(text: &str) -> Option<String> {
    Unit::parse(text).ok().map(|unit| unit.place_code().to_owned())
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unit::Centre(code) => write!(f, "centre:{code}"),
            Unit::Department { place, kind } => write!(f, "department:{place}:{kind}"),
            Unit::Provider { place, name } => write!(f, "provider:{place}:{name}"),
            Unit::Grid(grid) => write!(f, "grid:{grid}"),
            Unit::Leader { place, post } => write!(f, "leader:{place}:{}", post.as_str()),
        }
    }
}

text_form!(Unit, BadUnit);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_as_written() {
        for text in [
            "centre:3603",
            "centre:360302008",
            "department:360313:cg",
            "provider:3603:anju",
            "grid:360302008205001",
            "leader:360302008:in_charge",
            "leader:360302008205:liaison",
        ] {
            let unit = Unit::parse(text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(unit.to_string(), text);
        }
        let grid = Unit::parse("grid:360302008205001").expect("grid");
        assert_eq!((grid.place_code(), grid.division().as_str()), ("360302008205001", "360302008205"));
        let department = Unit::parse("department:360313:cg").expect("department");
        assert_eq!((department.place_code(), department.division().as_str()), ("360313", "360313"));
    }

    #[test]
    fn what_names_no_unit_is_refused() {
        for text in [
            "",
            "centre",
            "centre:",
            "centre:36030",
            "grid:3603",
            "department:360313",
            "department:360313:",
            "department:x:cg",
            "provider:360313:a b",
            "department:360313:cg:extra",
            "department:360313001:cg",
            "department:360313:CG",
            "system:deadlines",
            "Centre:3603",
            "leader:360302008",
            "leader:360302008:mayor",
            "leader:360302008205:in_charge",
            "leader:360302008:liaison",
            "leader:360302:in_charge",
        ] {
            let refused = Unit::parse(text).expect_err(text);
            assert_eq!(refused.code(), "invalid_unit");
        }
    }
}
