//! Units and dispatch: departments for every county and city, grid staff, service providers,
//! dispatch rules, and the choice of the unit a case goes to.

use std::collections::{HashMap, HashSet};

use pingan_core::category::{Category, HandlingLevel};
use pingan_core::{DivisionCode, GridCode, LeaderPost, Level, Unit};
use pingan_store::Store;
use pingan_store::units::{DispatchRule, GridMember, GridRole, UnitKind, UnitRow};
use serde::Deserialize;

use crate::AppError;
use crate::categories::{CategoryBook, DEPARTMENT_KINDS};

#[derive(Clone, Debug, Deserialize)]
pub struct DepartmentKind {
    pub kind: String,
    pub name_zh: String,
    pub name_en: String,
}

fn csv_rows<T: for<'de> Deserialize<'de>>(text: &str, file: &str) -> Result<Vec<T>, AppError> {
    let mut reader = csv::ReaderBuilder::new().comment(Some(b'#')).trim(csv::Trim::All).from_reader(text.as_bytes());
    reader
        .deserialize()
        .map(|row| {
            row.map_err(|e| AppError::BadRow {
                file: file.to_owned(),
                line: e.position().map_or(0, |p| p.line()),
                reason: e.to_string(),
            })
        })
        .collect()
}

pub fn shipped_department_kinds() -> Result<Vec<DepartmentKind>, AppError> {
    csv_rows(DEPARTMENT_KINDS, "data/categories/departments.csv")
}

/// Sets up a department of every kind for every county and city under `under` (名称 = the
/// division's name + the kind's name); existing ones are renamed, nothing else changes.
pub async fn create_departments(
    store: &dyn Store,
    under: &DivisionCode,
    kinds: &[DepartmentKind],
) -> Result<usize, AppError> {
    let divisions = store.division_names().await?;
    let units: Vec<UnitRow> = divisions
        .iter()
        .filter(|d| d.code.as_str().starts_with(under.as_str()) && matches!(d.level(), Level::City | Level::County))
        .flat_map(|d| {
            kinds.iter().map(move |k| UnitRow {
                id: Unit::Department { place: d.code.clone(), kind: k.kind.clone() }.to_string(),
                kind: UnitKind::Department,
                division: d.code.clone(),
                name: format!("{}{}", d.name, k.name_zh),
                department_kind: Some(k.kind.clone()),
                categories: Vec::new(),
            })
        })
        .collect();
    let count = units.len();
    store.put_units(units).await?;
    Ok(count)
}

const SURNAMES: [&str; 20] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗",
    "彭",
];
const GIVEN: [&str; 20] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超", "秀英", "华", "平",
    "刚",
];

/// Staff for the grids under `under` that have none: a leader and one or two members each, with
/// made-up names (deterministic), so a demo has people to show.
pub async fn staff_grids(store: &dyn Store, under: &DivisionCode) -> Result<usize, AppError> {
    let staffed: HashSet<GridCode> =
        store.grid_staff(under.as_str()).await?.into_iter().map(|member| member.grid).collect();
    let mut staff = Vec::new();
    for grid in store.grids(under.as_str()).await?.into_iter().filter(|g| !staffed.contains(&g.code)) {
        // Grid codes are digits: the code itself seeds the names.
        let mut rng = fastrand::Rng::with_seed(grid.code.as_str().parse().unwrap_or(0));
        let members = rng.usize(1..=2);
        let mut name = || format!("{}{}", SURNAMES[rng.usize(..SURNAMES.len())], GIVEN[rng.usize(..GIVEN.len())]);
        staff.push(GridMember { grid: grid.code.clone(), name: name(), role: GridRole::Leader });
        for _ in 0..members {
            staff.push(GridMember { grid: grid.code.clone(), name: name(), role: GridRole::Member });
        }
    }
    let count = staff.len();
    store.put_grid_staff(staff).await?;
    Ok(count)
}

#[derive(Deserialize)]
struct UnitLine {
    id: String,
    name: String,
    #[serde(default)]
    categories: String,
}

/// Sets up the posts the source's township hotline branch sends matters to, for every township
/// (分管领导, `leader:TOWNSHIP:in_charge`) and village (包村领导, `leader:VILLAGE:liaison`) under
/// `under`; existing ones are renamed, nothing else changes.
pub async fn create_leader_posts(store: &dyn Store, under: &DivisionCode) -> Result<usize, AppError> {
    let divisions = store.division_names().await?;
    let units: Vec<UnitRow> = divisions
        .iter()
        .filter(|d| d.code.as_str().starts_with(under.as_str()))
        .filter_map(|d| {
            let post = [LeaderPost::InCharge, LeaderPost::Liaison].into_iter().find(|p| p.level() == d.level())?;
            Some(UnitRow {
                id: Unit::Leader { place: d.code.clone(), post }.to_string(),
                kind: UnitKind::Leader,
                division: d.code.clone(),
                name: format!("{}{}", d.name, post.name_zh()),
                department_kind: None,
                categories: Vec::new(),
            })
        })
        .collect();
    let count = units.len();
    store.put_units(units).await?;
    Ok(count)
}

/// Imports departments, service providers and leaders' posts from CSV (`id,name,categories`): ids
/// are `department:COUNTY:KIND`, `provider:COUNTY:NAME`, `leader:TOWNSHIP:in_charge` or
/// `leader:VILLAGE:liaison`; a provider lists the categories it serves, separated by spaces. Every
/// row is checked before anything is written.
pub async fn import_units(
    store: &dyn Store,
    text: &str,
    file: &str,
    book: &CategoryBook,
    kinds: &[DepartmentKind],
) -> Result<usize, AppError> {
    let lines: Vec<UnitLine> = csv_rows(text, file)?;
    let mut units = Vec::with_capacity(lines.len());
    for (index, line) in lines.into_iter().enumerate() {
        let bad = |reason: String| AppError::BadRow { file: file.to_owned(), line: index as u64 + 2, reason };
        let (kind, division, tail) = match Unit::parse(&line.id) {
            Ok(Unit::Department { place, kind }) => (UnitKind::Department, place, kind),
            Ok(Unit::Provider { place, name }) => (UnitKind::Provider, place, name),
            Ok(Unit::Leader { place, post }) => (UnitKind::Leader, place, post.as_str().to_owned()),
            _ => {
                return Err(bad(format!(
                    "{:?}: use department:COUNTY:KIND, provider:COUNTY:NAME (a city's or county's code; lower-case letters, digits and '-'), leader:TOWNSHIP:in_charge or leader:VILLAGE:liaison",
                    line.id
                )));
            }
        };
        if store.division(&division).await?.is_none() {
            return Err(bad(format!("no division {division}")));
        }
        if kind == UnitKind::Department && !kinds.iter().any(|k| k.kind == tail) {
            return Err(bad(format!("no department kind {tail:?}")));
        }
        let categories: Vec<String> = line.categories.split_whitespace().map(str::to_owned).collect();
        if let Some(unknown) = categories.iter().find(|c| book.leaf(c).is_none()) {
            return Err(bad(format!("no category {unknown:?}")));
        }
        if line.name.is_empty() {
            return Err(bad("the name is empty".into()));
        }
        units.push(UnitRow {
            department_kind: (kind == UnitKind::Department).then(|| tail.to_owned()),
            id: line.id,
            kind,
            division,
            name: line.name,
            categories,
        });
    }
    let count = units.len();
    store.put_units(units).await?;
    Ok(count)
}

#[derive(Deserialize)]
struct StaffLine {
    grid: String,
    role: String,
    name: String,
}

/// Imports grid staff from CSV (`grid,role,name`, role `leader` or `member`): the staff of every
/// grid named replace what it had. Every row is checked before anything is written.
pub async fn import_grid_staff(store: &dyn Store, text: &str, file: &str) -> Result<usize, AppError> {
    import_grid_staff_within(store, text, file, "").await
}

/// [`import_grid_staff`] for the grids of the division `within` only (an administrator's area;
/// empty: anywhere): a line naming a grid elsewhere refuses the file.
pub async fn import_grid_staff_within(
    store: &dyn Store,
    text: &str,
    file: &str,
    within: &str,
) -> Result<usize, AppError> {
    let lines: Vec<StaffLine> = csv_rows(text, file)?;
    let mut staff = Vec::with_capacity(lines.len());
    for (index, line) in lines.into_iter().enumerate() {
        let bad = |reason: String| AppError::BadRow { file: file.to_owned(), line: index as u64 + 2, reason };
        let grid = GridCode::parse(&line.grid).map_err(|e| bad(e.to_string()))?;
        if !grid.as_str().starts_with(within) {
            return Err(bad(format!("grid {grid} lies outside division {within}")));
        }
        if store.grids(grid.as_str()).await?.is_empty() {
            return Err(bad(format!("no grid {grid}")));
        }
        let role = GridRole::parse(&line.role).ok_or_else(|| bad(format!("{:?}: use leader or member", line.role)))?;
        if line.name.is_empty() {
            return Err(bad("the name is empty".into()));
        }
        staff.push(GridMember { grid, role, name: line.name });
    }
    let count = staff.len();
    store.put_grid_staff(staff).await?;
    Ok(count)
}

#[derive(Deserialize)]
struct RuleLine {
    category: String,
    division: String,
    unit: String,
}

/// Imports dispatch rules from CSV (`category,division,unit`): a city's rule holds for its
/// counties unless a county has its own. Every rule is checked before anything is written.
pub async fn import_dispatch_rules(
    store: &dyn Store,
    text: &str,
    file: &str,
    book: &CategoryBook,
) -> Result<usize, AppError> {
    import_dispatch_rules_within(store, text, file, book, "").await
}

/// [`import_dispatch_rules`] for the divisions under `within` only (an administrator's area;
/// empty: anywhere): a rule for a division elsewhere refuses the file.
pub async fn import_dispatch_rules_within(
    store: &dyn Store,
    text: &str,
    file: &str,
    book: &CategoryBook,
    within: &str,
) -> Result<usize, AppError> {
    let lines: Vec<RuleLine> = csv_rows(text, file)?;
    let mut rules = Vec::with_capacity(lines.len());
    for (index, line) in lines.into_iter().enumerate() {
        let bad = |reason: String| AppError::BadRow { file: file.to_owned(), line: index as u64 + 2, reason };
        if book.leaf(&line.category).is_none() {
            return Err(bad(format!("no category {:?}", line.category)));
        }
        let division = DivisionCode::parse(&line.division).map_err(|e| bad(e.to_string()))?;
        if !division.as_str().starts_with(within) {
            return Err(bad(format!("division {division} lies outside division {within}")));
        }
        if store.division(&division).await?.is_none() {
            return Err(bad(format!("no division {division}")));
        }
        if !unit_exists(store, &line.unit).await? {
            return Err(bad(format!("no unit {:?}", line.unit)));
        }
        rules.push(DispatchRule { category: line.category, division, unit: line.unit });
    }
    let count = rules.len();
    store.put_dispatch_rules(rules).await?;
    Ok(count)
}

/// Whether `name` is a unit cases can go to: a stored division's centre, a stored department or
/// provider, or a stored grid.
pub async fn unit_exists(store: &dyn Store, name: &str) -> Result<bool, AppError> {
    Ok(match Unit::parse(name) {
        Ok(Unit::Centre(code)) => store.division(&code).await?.is_some(),
        Ok(Unit::Department { .. } | Unit::Provider { .. } | Unit::Leader { .. }) => store.unit(name).await?.is_some(),
        Ok(Unit::Grid(grid)) => !store.grids(grid.as_str()).await?.is_empty(),
        Err(_) => false,
    })
}

/// The dispatch rules, the stored departments and the service providers, read at once so
/// dispatching a case reads nothing; a server reads them again every minute (with the category
/// book).
#[derive(Default)]
pub struct DispatchBook {
    rules: HashMap<String, Vec<DispatchRule>>,
    departments: HashSet<String>,
    /// Providers by the county (or city) they serve and the category.
    providers: HashMap<(String, String), Vec<String>>,
    /// The leaders' posts set up.
    leaders: HashSet<String>,
    /// Departments' and providers' names by id.
    names: HashMap<String, String>,
}

impl DispatchBook {
    pub async fn load(store: &dyn Store, book: &CategoryBook) -> Result<DispatchBook, AppError> {
        let mut rules = HashMap::new();
        for category in book.leaves() {
            let found = store.dispatch_rules(&category.code).await?;
            if !found.is_empty() {
                rules.insert(category.code.clone(), found);
            }
        }
        let (mut departments, mut providers) = (HashSet::new(), HashMap::<_, Vec<String>>::new());
        let mut leaders = HashSet::new();
        let mut names = HashMap::new();
        for unit in store.units("").await? {
            names.insert(unit.id.clone(), unit.name.clone());
            match unit.kind {
                UnitKind::Department => {
                    departments.insert(unit.id);
                }
                UnitKind::Leader => {
                    leaders.insert(unit.id);
                }
                UnitKind::Provider => {
                    for category in &unit.categories {
                        providers
                            .entry((unit.division.to_string(), category.clone()))
                            .or_default()
                            .push(unit.id.clone());
                    }
                }
            }
        }
        Ok(DispatchBook { rules, departments, providers, leaders, names })
    }

    /// A department's or provider's name.
    pub fn unit_name(&self, id: &str) -> Option<&str> {
        self.names.get(id).map(String::as_str)
    }

    /// Where a case of `category` at this place goes: the most specific dispatch rule for its place;
    /// else, for a matter handled at township level or below whose category names a post
    /// (`served_by`), that post of its township or village where one is set up; else the
    /// department of the category's kind of its county (or else its city); else, for a matter no
    /// department handles, the one service provider of its county (or else its city) registered
    /// for the category, its grid (grid-level matters) or the responsible centre. None: no unit
    /// fits, or several providers do, and the case waits in the centre's dispatch queue.
    pub fn choose(&self, category: &Category, division: &DivisionCode, grid: Option<&GridCode>) -> Option<String> {
        let place = grid.map_or_else(|| division.clone(), GridCode::village);
        let rule = self
            .rules
            .get(&category.code)
            .into_iter()
            .flatten()
            .filter(|r| place.as_str().starts_with(r.division.as_str()))
            .max_by_key(|r| r.division.as_str().len());
        if let Some(rule) = rule {
            return Some(rule.unit.clone());
        }
        if let Some(post) = category.served_by.filter(|_| category.level <= HandlingLevel::Township)
            && let Some(place) = place.ancestor(post.level())
        {
            let leader = Unit::Leader { place, post }.to_string();
            if self.leaders.contains(&leader) {
                return Some(leader);
            }
        }
        let county_then_city = || [Level::County, Level::City].into_iter().filter_map(|level| place.ancestor(level));
        if let Some(kind) = &category.department {
            return county_then_city()
                .map(|place| Unit::Department { place, kind: kind.clone() }.to_string())
                .find(|id| self.departments.contains(id));
        }
        let serving =
            county_then_city().find_map(|code| self.providers.get(&(code.to_string(), category.code.clone())));
        match (serving.map(Vec::as_slice), grid) {
            (Some([only]), _) => Some(only.clone()),
            (Some(_), _) => None,
            (None, Some(grid)) if category.level == HandlingLevel::Grid => Some(Unit::Grid(grid.clone()).to_string()),
            (None, _) => Some(Unit::Centre(division.clone()).to_string()),
        }
    }

    /// The units a desk may dispatch a case of `category` at this place to, what the rules choose
    /// first: its grid, the centres below the responsible one, the village's 包村领导 and the
    /// township's 分管领导 where set up, its county's (or city's) departments, and the providers
    /// of its county (or city) registered for the category.
    pub fn targets(&self, category: &Category, division: &DivisionCode, grid: Option<&GridCode>) -> Vec<String> {
        let place = grid.map_or_else(|| division.clone(), GridCode::village);
        let mut targets: Vec<String> = self.choose(category, division, grid).into_iter().collect();
        targets.extend(grid.map(|grid| Unit::Grid(grid.clone()).to_string()));
        for level in [Level::Village, Level::Township] {
            if let Some(below) = place.ancestor(level).filter(|below| below != division && division.contains(below)) {
                targets.push(Unit::Centre(below).to_string());
            }
        }
        for post in [LeaderPost::Liaison, LeaderPost::InCharge] {
            if let Some(place) = place.ancestor(post.level()) {
                targets.push(Unit::Leader { place, post }.to_string());
            }
        }
        targets.retain(|unit| !unit.starts_with("leader:") || self.leaders.contains(unit));
        let places: Vec<String> = [Level::County, Level::City]
            .into_iter()
            .filter_map(|level| place.ancestor(level))
            .map(String::from)
            .collect();
        let mut departments: Vec<&String> = self
            .departments
            .iter()
            .filter(|id| pingan_core::unit::place_code_of(id).is_some_and(|at| places.contains(&at)))
            .collect();
        departments.sort();
        targets.extend(departments.into_iter().cloned());
        for place in &places {
            targets.extend(self.providers.get(&(place.clone(), category.code.clone())).into_iter().flatten().cloned());
        }
        let mut seen = HashSet::new();
        targets.retain(|unit| seen.insert(unit.clone()));
        targets
    }
}
