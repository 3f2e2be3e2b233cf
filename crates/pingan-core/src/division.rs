//! Division codes of the national statistical code tree (统计用区划代码) and grid codes.
//!
//! A division is named by its short code, whose length gives its level: province 2 digits (36 = 江西),
//! city 4 (3603 = 萍乡), county 6, township 9, village 12. The parent of a division is the prefix of
//! the next shorter length. A grid code is a village code plus three digits.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Explain;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Province,
    City,
    County,
    Township,
    Village,
}

impl Level {
    pub const ALL: [Level; 5] = [Level::Province, Level::City, Level::County, Level::Township, Level::Village];

    pub fn code_len(self) -> usize {
        match self {
            Level::Province => 2,
            Level::City => 4,
            Level::County => 6,
            Level::Township => 9,
            Level::Village => 12,
        }
    }

    fn from_code_len(len: usize) -> Option<Level> {
        Level::ALL.into_iter().find(|level| level.code_len() == len)
    }

    pub fn parent(self) -> Option<Level> {
        match self {
            Level::Province => None,
            Level::City => Some(Level::Province),
            Level::County => Some(Level::City),
            Level::Township => Some(Level::County),
            Level::Village => Some(Level::Township),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Province => "province",
            Level::City => "city",
            Level::County => "county",
            Level::Township => "township",
            Level::Village => "village",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Level::Province => "省",
            Level::City => "市",
            Level::County => "县（区）",
            Level::Township => "乡镇（街道）",
            Level::Village => "村（社区）",
        }
    }

    pub fn from_db(value: i64) -> Option<Level> {
        Level::ALL.into_iter().find(|level| level.to_db() == value)
    }

    /// The level as stored: 1 (province) to 5 (village).
    pub fn to_db(self) -> i64 {
        match self {
            Level::Province => 1,
            Level::City => 2,
            Level::County => 3,
            Level::Township => 4,
            Level::Village => 5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("division code {0:?} must be 2, 4, 6, 9 or 12 digits")]
    BadDivisionCode(String),
    #[error("grid code {0:?} must be 15 digits: a village code and three more")]
    BadGridCode(String),
}

impl Explain for CodeError {
    fn code(&self) -> &'static str {
        match self {
            CodeError::BadDivisionCode(_) => "invalid_division_code",
            CodeError::BadGridCode(_) => "invalid_grid_code",
        }
    }

    fn message_zh(&self) -> String {
        match self {
            CodeError::BadDivisionCode(code) => format!("区划代码“{code}”无效：应为 2、4、6、9 或 12 位数字"),
            CodeError::BadGridCode(code) => format!("网格代码“{code}”无效：应为 15 位数字（村级代码加 3 位）"),
        }
    }

    fn message_en(&self) -> String {
        self.to_string()
    }
}

fn all_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// A division's short code; its length is its level.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DivisionCode(String);

impl DivisionCode {
    pub fn parse(text: &str) -> Result<DivisionCode, CodeError> {
        if all_digits(text) && Level::from_code_len(text.len()).is_some() {
            Ok(DivisionCode(text.to_owned()))
        } else {
            Err(CodeError::BadDivisionCode(text.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn level(&self) -> Level {
        // The constructor admits only lengths that name a level.
        Level::from_code_len(self.0.len()).unwrap_or(Level::Village)
    }

    pub fn parent(&self) -> Option<DivisionCode> {
        let parent_len = self.level().parent()?.code_len();
        Some(DivisionCode(self.0[..parent_len].to_owned()))
    }

    /// The division at `level` that contains this one (itself at its own level); None below it.
    pub fn ancestor(&self, level: Level) -> Option<DivisionCode> {
        let len = level.code_len();
        (len <= self.0.len()).then(|| DivisionCode(self.0[..len].to_owned()))
    }

    /// This code and every ancestor, from the province down.
    pub fn lineage(&self) -> Vec<DivisionCode> {
        Level::ALL
            .into_iter()
            .map(Level::code_len)
            .filter(|&len| len <= self.0.len())
            .map(|len| DivisionCode(self.0[..len].to_owned()))
            .collect()
    }

    /// Whether `other` is this division or lies inside it.
    pub fn contains(&self, other: &DivisionCode) -> bool {
        other.0.starts_with(&self.0)
    }

    /// The 12-digit form used in official statistics: the short code padded with zeros.
    pub fn statistical_code(&self) -> String {
        format!("{:0<12}", self.0)
    }
}

impl fmt::Display for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

text_form!(DivisionCode, CodeError, 0);

impl fmt::Debug for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DivisionCode({})", self.0)
    }
}

/// A grid's 15-digit code: the code of the village it lies in, then three digits.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GridCode(String);

impl GridCode {
    pub const LEN: usize = 15;

    pub fn parse(text: &str) -> Result<GridCode, CodeError> {
        if all_digits(text) && text.len() == Self::LEN {
            Ok(GridCode(text.to_owned()))
        } else {
            Err(CodeError::BadGridCode(text.to_owned()))
        }
    }

    pub fn new(village: &DivisionCode, number: u16) -> Result<GridCode, CodeError> {
        GridCode::parse(&format!("{}{:03}", village.as_str(), number))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn village(&self) -> DivisionCode {
        DivisionCode(self.village_code().to_owned())
    }

    /// The code of the grid's village: the grid code's first digits.
    pub fn village_code(&self) -> &str {
        &self.0[..Level::Village.code_len()]
    }
}

impl fmt::Display for GridCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

text_form!(GridCode, CodeError, 0);

impl fmt::Debug for GridCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GridCode({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_code_length() {
        let cases = [
            ("36", Level::Province, None),
            ("3603", Level::City, Some("36")),
            ("360313", Level::County, Some("3603")),
            ("360313100", Level::Township, Some("360313")),
            ("360313100201", Level::Village, Some("360313100")),
        ];
        for (code, level, parent) in cases {
            let code = DivisionCode::parse(code).unwrap();
            assert_eq!(code.level(), level, "{code}");
            assert_eq!(code.parent().as_ref().map(DivisionCode::as_str), parent, "{code}");
        }
    }

    #[test]
    fn malformed_codes_are_refused() {
        for bad in ["", "3", "360", "36031", "3603a1", "3603131002011", " 36", "３６"] {
            assert!(DivisionCode::parse(bad).is_err(), "{bad:?} was accepted");
        }
        for bad in ["36031310020100", "3603131002010011", "36031310020100x"] {
            assert!(GridCode::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn lineage_and_statistical_form() {
        let village = DivisionCode::parse("360313100201").unwrap();
        let lineage: Vec<String> = village.lineage().into_iter().map(String::from).collect();
        assert_eq!(lineage, ["36", "3603", "360313", "360313100", "360313100201"]);
        assert_eq!(DivisionCode::parse("3603").unwrap().statistical_code(), "360300000000");
        assert!(DivisionCode::parse("3603").unwrap().contains(&village));
        assert!(!DivisionCode::parse("3604").unwrap().contains(&village));
        assert_eq!(village.ancestor(Level::County).unwrap().as_str(), "360313");
        assert_eq!(village.ancestor(Level::Village), Some(village.clone()));
        assert_eq!(DivisionCode::parse("3603").unwrap().ancestor(Level::County), None);
    }

    #[test]
    fn grid_codes_name_their_village() {
        let village = DivisionCode::parse("360313100201").unwrap();
        let grid = GridCode::new(&village, 7).unwrap();
        assert_eq!(grid.as_str(), "360313100201007");
        assert_eq!(grid.village(), village);
    }
}
