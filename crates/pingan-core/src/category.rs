//! Case categories: a two-level tree (a family, then its categories). Each category names the level
//! where its cases start, the kind of department that handles them once they leave the governance
//! centres, and its deadlines per priority in working minutes.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::Explain;
use crate::unit::LeaderPost;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Normal,
    Urgent,
    Critical,
}

impl Priority {
    pub const ALL: [Priority; 3] = [Priority::Normal, Priority::Urgent, Priority::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Normal => "normal",
            Priority::Urgent => "urgent",
            Priority::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| p.as_str() == text)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Priority::Normal => "一般",
            Priority::Urgent => "紧急",
            Priority::Critical => "特急",
        }
    }
}

/// Where a case of a category starts: "small matters stay in the village, big ones in the township".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HandlingLevel {
    Grid,
    Village,
    Township,
    County,
    City,
}

impl HandlingLevel {
    pub const ALL: [HandlingLevel; 5] = [
        HandlingLevel::Grid,
        HandlingLevel::Village,
        HandlingLevel::Township,
        HandlingLevel::County,
        HandlingLevel::City,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HandlingLevel::Grid => "grid",
            HandlingLevel::Village => "village",
            HandlingLevel::Township => "township",
            HandlingLevel::County => "county",
            HandlingLevel::City => "city",
        }
    }

    pub fn parse(text: &str) -> Option<HandlingLevel> {
        HandlingLevel::ALL.into_iter().find(|l| l.as_str() == text)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Deadlines {
    /// Working minutes from dispatch to claim.
    pub claim_minutes: i64,
    /// Working minutes from dispatch to resolution.
    pub resolve_minutes: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub code: String,
    /// The family; None for a family itself.
    pub parent: Option<String>,
    pub name_zh: String,
    pub name_en: String,
    pub level: HandlingLevel,
    /// The kind of department that handles it (a code of departments.csv); None: the centres do.
    pub department: Option<String>,
    /// Per priority (normal, urgent, critical); families have none.
    pub deadlines: Option<[Deadlines; 3]>,
    /// The official's post that serves the category's matters handled at township level or below,
    /// where the place has one; a category takes its family's unless it names its own.
    pub served_by: Option<LeaderPost>,
}

impl Category {
    pub fn deadlines(&self, priority: Priority) -> Option<Deadlines> {
        let index = Priority::ALL.iter().position(|p| *p == priority)?;
        self.deadlines.map(|all| all[index])
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("categories line {line}: {reason}")]
pub struct CategoryError {
    pub line: usize,
    pub reason: String,
}

impl Explain for CategoryError {
    fn code(&self) -> &'static str {
        "invalid_category"
    }
    fn message_zh(&self) -> String {
        format!("事项分类第 {} 行有误：{}", self.line, self.reason)
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// Reads a category table (see data/categories/default.csv) and checks it as a whole: unique codes,
/// families before their categories, a known department kind, deadlines on every category and a
/// claim deadline no later than the resolution deadline.
pub fn parse_categories(text: &str, department_kinds: &HashSet<String>) -> Result<Vec<Category>, CategoryError> {
    let mut categories: Vec<Category> = Vec::new();
    let mut seen: HashMap<String, bool> = HashMap::new(); // code → is a family
    for row in crate::csv_rows(text, "code") {
        let (line, record) = row.map_err(|(line, reason)| CategoryError { line, reason })?;
        let bad = |reason: String| CategoryError { line, reason };
        let fields: Vec<&str> = record.iter().collect();
        // The twelfth column onwards: a book written before `served_by` has none.
        if !(12..=13).contains(&fields.len()) {
            return Err(bad(format!("has {} fields, not 13", fields.len())));
        }
        let code = fields[0].to_owned();
        let valid_code = !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.');
        if !valid_code {
            return Err(bad(format!("code {code:?} must be lower-case letters, '_' and '.'")));
        }
        let parent = (!fields[1].is_empty()).then(|| fields[1].to_owned());
        if let Some(parent) = &parent
            && seen.get(parent) != Some(&true)
        {
            return Err(bad(format!("family {parent} is not defined above")));
        }
        let level = HandlingLevel::parse(fields[4]).ok_or_else(|| bad(format!("level {:?} is unknown", fields[4])))?;
        let department = (!fields[5].is_empty()).then(|| fields[5].to_owned());
        if let Some(kind) = &department
            && !department_kinds.contains(kind)
        {
            return Err(bad(format!("department kind {kind} is unknown")));
        }
        let hours: Vec<&str> = fields[6..12].to_vec();
        let deadlines = if parent.is_none() {
            if hours.iter().any(|h| !h.is_empty()) {
                return Err(bad("a family has no deadlines of its own".into()));
            }
            None
        } else {
            let mut values = [0i64; 6];
            for (slot, text) in values.iter_mut().zip(&hours) {
                *slot = text
                    .parse::<i64>()
                    .ok()
                    .filter(|h| *h > 0)
                    .ok_or_else(|| bad(format!("deadline {text:?} is not a positive number of hours")))?
                    * 60;
            }
            let per_priority =
                [0, 1, 2].map(|p| Deadlines { claim_minutes: values[2 * p], resolve_minutes: values[2 * p + 1] });
            if per_priority.iter().any(|d| d.claim_minutes > d.resolve_minutes) {
                return Err(bad("a claim deadline is later than its resolution deadline".into()));
            }
            Some(per_priority)
        };
        let served_by = match fields.get(12).copied().unwrap_or_default() {
            "" => parent.as_ref().and_then(|p| categories.iter().find(|c| &c.code == p)).and_then(|f| f.served_by),
            "in_charge" => Some(LeaderPost::InCharge),
            "liaison" => Some(LeaderPost::Liaison),
            other => return Err(bad(format!("served_by {other:?} is neither in_charge nor liaison"))),
        };
        if seen.insert(code.clone(), parent.is_none()).is_some() {
            return Err(bad(format!("code {code} appears twice")));
        }
        categories.push(Category {
            code,
            parent,
            name_zh: fields[2].to_owned(),
            name_en: fields[3].to_owned(),
            level,
            department,
            deadlines,
            served_by,
        });
    }
    Ok(categories)
}

/// Reads `kind,name_zh,name_en` rows (see data/categories/departments.csv) into the set of kinds.
pub fn parse_department_kinds(text: &str) -> HashSet<String> {
    crate::csv_rows(text, "kind")
        .into_iter()
        .filter_map(|row| row.ok().and_then(|(_, record)| record.get(0).map(str::to_owned)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: &str = include_str!("../../../data/categories/default.csv");
    const DEPARTMENTS: &str = include_str!("../../../data/categories/departments.csv");

    #[test]
    fn the_default_taxonomy_is_complete() {
        let categories = parse_categories(DEFAULT, &parse_department_kinds(DEPARTMENTS)).unwrap();
        let families: Vec<&str> =
            categories.iter().filter(|c| c.parent.is_none()).map(|c| c.name_zh.as_str()).collect();
        assert_eq!(families, ["生活服务", "民生服务", "平安服务", "矛盾纠纷", "信访", "安全隐患"]);
        let fire = categories.iter().find(|c| c.code == "hazard.fire").unwrap();
        assert_eq!(fire.department.as_deref(), Some("xfj"));
        assert_eq!(fire.deadlines(Priority::Critical), Some(Deadlines { claim_minutes: 60, resolve_minutes: 240 }));
        let neighbour = categories.iter().find(|c| c.code == "dispute.neighbour").unwrap();
        assert_eq!(neighbour.level, HandlingLevel::Village);
        for kind in ["neighbour", "family", "land", "labour", "property"] {
            assert!(categories.iter().any(|c| c.code == format!("dispute.{kind}")), "{kind}");
        }
        // The source's families: 民生 to the leader in charge, 平安 to the village's liaison leader,
        // each category taking its family's post.
        let served = |code: &str| categories.iter().find(|c| c.code == code).unwrap().served_by;
        assert_eq!(served("livelihood.sanitation"), Some(LeaderPost::InCharge));
        assert_eq!(served("safety.patrol"), Some(LeaderPost::Liaison));
        assert_eq!((served("life.repair"), served("dispute.neighbour")), (None, None));
    }

    #[test]
    fn a_category_may_name_its_own_post_and_a_book_without_the_column_still_reads() {
        let kinds: HashSet<String> = HashSet::new();
        let text = "f,,家,Family,village,,,,,,,,liaison\nf.a,f,甲,A,village,,1,2,1,2,1,2,\nf.b,f,乙,B,village,,1,2,1,2,1,2,in_charge\n";
        let posts: Vec<Option<LeaderPost>> =
            parse_categories(text, &kinds).unwrap().iter().map(|c| c.served_by).collect();
        assert_eq!(posts, [Some(LeaderPost::Liaison), Some(LeaderPost::Liaison), Some(LeaderPost::InCharge)]);
        let old = "f,,家,Family,village,,,,,,,\nf.a,f,甲,A,village,,1,2,1,2,1,2\n";
        assert!(parse_categories(old, &kinds).unwrap().iter().all(|c| c.served_by.is_none()));
        let error = parse_categories("f,,家,Family,village,,,,,,,,mayor\n", &kinds).unwrap_err();
        assert!(error.to_string().contains("served_by"), "{error}");
    }

    #[test]
    fn tables_are_read_as_csv_with_quotes_comments_and_line_numbers() {
        let kinds: HashSet<String> = ["cg".to_owned()].into();
        let text = "# a comment, with a comma\ncode,parent,name_zh,name_en,level,department,a,b,c,d,e,f\n\
                    f,,家,\"Family, homes\",village,,,,,,,\n\
                    f.a,f,\"维修，安装\",\"Repair, fitting\",village,cg,1,2,1,2,1,2\n";
        let categories = parse_categories(text, &kinds).unwrap();
        assert_eq!(categories[1].name_en, "Repair, fitting");
        assert_eq!(categories[0].name_en, "Family, homes");
        let error = parse_categories(&format!("{text}f.b,f,乙,B,village,,1,2,1,2,1\n"), &kinds).unwrap_err();
        assert_eq!((error.line, error.reason.contains("fields")), (5, true), "{error}");
    }

    #[test]
    fn bad_tables_are_refused() {
        let kinds: HashSet<String> = ["cg".to_owned()].into();
        let family = "f,,家,Family,village,,,,,,,";
        let cases = [
            ("f.a,f,甲,A,village,,1,2,1,2,1,2", "not defined above"),
            (&format!("{family}\nf.a,f,甲,A,moon,,1,2,1,2,1,2") as &str, "level"),
            (&format!("{family}\nf.a,f,甲,A,village,zz,1,2,1,2,1,2"), "department kind zz"),
            (&format!("{family}\nf.a,f,甲,A,village,,3,2,1,2,1,2"), "later than"),
            (&format!("{family}\nf.a,f,甲,A,village,,1,2,1,2,1"), "fields"),
            (&format!("{family}\nf.a,f,甲,A,village,,1,two,1,2,1,2"), "positive number"),
            (&format!("{family}\n{family}"), "twice"),
            ("F,,家,Family,village,,,,,,,", "lower-case"),
            ("f,,家,Family,village,,1,,,,,", "no deadlines"),
        ];
        for (text, expected) in cases {
            let error = parse_categories(text, &kinds).unwrap_err();
            assert!(error.to_string().contains(expected), "{text}: {error}");
        }
    }
}
