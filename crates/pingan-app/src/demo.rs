//! Loading the shipped Jiangxi data into a store: the whole division tree, every county boundary
//! reconciled to today's codes, a department of every kind for every county and city, and for one
//! city generated grids with made-up staff, service providers for the 生活 matters, and the posts
//! of the townships' leaders in charge and the villages' liaison leaders.

use pingan_core::{DivisionCode, GridCode, Level, Unit};
use pingan_geo::geojson_io::InvalidAreas;
use pingan_geo::tessellate::Settings;
use pingan_store::Store;

use crate::geography::divisions::{DivisionImportReport, import_divisions};
use crate::geography::{generate_grids, import_boundaries};
use crate::units::{create_departments, create_leader_posts, shipped_department_kinds, staff_grids};
use crate::{AppError, Progress, jiangxi};

#[derive(Debug, Clone, Copy)]
pub struct JiangxiLoad {
    pub divisions: DivisionImportReport,
    pub boundaries: usize,
    pub departments: usize,
    pub grids: usize,
    pub grid_staff: usize,
    pub providers: usize,
    pub leader_posts: usize,
}

pub async fn load_jiangxi(
    store: &dyn Store,
    gridded: &DivisionCode,
    progress: &dyn Progress,
) -> Result<JiangxiLoad, AppError> {
    let divisions = import_divisions(store, &jiangxi::division_files(), progress).await?;
    progress.stage("county boundaries", 0);
    let boundaries = import_boundaries(
        store,
        jiangxi::COUNTY_BOUNDARIES,
        Some(jiangxi::COUNTY_CROSSWALK),
        InvalidAreas::Accept,
        jiangxi::BOUNDARY_SOURCE,
    )
    .await?;
    progress.finish();
    let province = gridded.ancestor(Level::Province).unwrap_or_else(|| gridded.clone());
    let departments = create_departments(store, &province, &shipped_department_kinds()?).await?;
    let grids = generate_grids(store, gridded, Settings::default(), progress).await?;
    let grid_staff = staff_grids(store, gridded).await?;
    let providers = create_demo_providers(store, gridded).await?;
    let leader_posts = create_leader_posts(store, gridded).await?;
    Ok(JiangxiLoad { divisions, boundaries, departments, grids, grid_staff, providers, leader_posts })
}

/// The merchants and skilled people (商家、技能服务型人才) that serve 生活 matters: for every
/// county under `under`, one provider for each life-service category.
const DEMO_PROVIDERS: [(&str, &str, &str); 4] = [
    ("repair", "安居家电维修部", "life.repair life.plumbing"),
    ("housekeeping", "好帮手家政服务社", "life.housekeeping"),
    ("elderly-care", "夕阳红助老服务队", "life.elderly_care"),
    ("errand", "邻里跑腿服务站", "life.errand"),
];

async fn create_demo_providers(store: &dyn Store, under: &DivisionCode) -> Result<usize, AppError> {
    let counties = store
        .division_names()
        .await?
        .into_iter()
        .filter(|d| d.level() == Level::County && d.code.as_str().starts_with(under.as_str()));
    let mut lines = String::from("id,name,categories\n");
    for county in counties {
        for (name, title, categories) in DEMO_PROVIDERS {
            lines.push_str(&format!("provider:{}:{name},{}{title},{categories}\n", county.code, county.name));
        }
    }
    let book = crate::categories::CategoryBook::shipped()?;
    crate::units::import_units(store, &lines, "demo providers", &book, &shipped_department_kinds()?).await
}

/// The password of every demo account: a demo is for trying things, not for real data.
pub const DEMO_PASSWORD: &str = "pingan-demo-2026";

/// One account of each kind of user over 萍乡's demo data (their password is [`DEMO_PASSWORD`]).
/// Returns (login, what it is) for the banner.
pub async fn create_demo_accounts(
    store: &dyn Store,
    accounts: &crate::accounts::Accounts,
) -> Result<Vec<(String, String)>, AppError> {
    use pingan_core::access::Role;
    // 安源区 and one of its departments, 光丰街道, and the grid at the city centre.
    let department = store
        .units(DEMO_COUNTY)
        .await?
        .into_iter()
        .find(|u| u.kind == pingan_store::units::UnitKind::Department)
        .ok_or_else(|| AppError::UnknownUnit(format!("department:{DEMO_COUNTY}:…")))?;
    let grid = GridCode::parse(DEMO_GRID).ok().map(|grid| Unit::Grid(grid).to_string());
    let people: [(&str, &str, Option<String>, &[Role]); 15] = [
        ("admin", "萍乡市系统管理员", centre(jiangxi::PINGXIANG), &[Role::Administrator]),
        ("city", "萍乡市综治中心", centre(jiangxi::PINGXIANG), &[Role::CentreDispatcher, Role::CentreLeader]),
        ("hotline", "12345 热线话务员", centre(jiangxi::PINGXIANG), &[Role::HotlineOperator]),
        // A district's own hotline desk takes and dispatches its calls (接单派单).
        ("operator", "安源区热线接单派单员", centre(DEMO_COUNTY), &[Role::HotlineOperator]),
        ("county", "安源区综治中心调度员", centre(DEMO_COUNTY), &[Role::CentreDispatcher]),
        ("township", "光丰街道综治中心调度员", centre(DEMO_TOWNSHIP), &[Role::CentreDispatcher]),
        ("village", "上柳源村综治中心调度员", centre(DEMO_VILLAGE), &[Role::CentreDispatcher]),
        ("department", &department.name, Some(department.id.clone()), &[Role::DepartmentHandler]),
        (
            "provider",
            "安源区安居家电维修部",
            Some(format!("provider:{DEMO_COUNTY}:repair")),
            &[Role::DepartmentHandler],
        ),
        ("deputy", "光丰街道分管领导", Some(format!("leader:{DEMO_TOWNSHIP}:in_charge")), &[Role::DepartmentHandler]),
        ("liaison", "上柳源村包村领导", Some(format!("leader:{DEMO_VILLAGE}:liaison")), &[Role::DepartmentHandler]),
        ("gridleader", "上柳源村网格长", grid.clone(), &[Role::GridLeader]),
        ("grid", "上柳源村网格员", grid.clone(), &[Role::GridWorker]),
        ("volunteer", "上柳源村平安志愿者", grid, &[Role::Volunteer]),
        ("resident", "居民", None, &[Role::Resident]),
    ];
    let mut created = Vec::new();
    for (login, name, unit, roles) in people {
        let new = crate::accounts::NewAccount {
            login: login.to_owned(),
            name: name.to_owned(),
            unit: unit.clone(),
            roles: roles.to_vec(),
            password: Some(DEMO_PASSWORD.to_owned()),
            password_is_own: true,
        };
        accounts.create(new).await?;
        let roles: Vec<&str> = roles.iter().map(|r| r.label_zh()).collect();
        let place = unit.map(|u| format!(" ({u})")).unwrap_or_default();
        created.push((login.to_owned(), format!("{}{place}", roles.join("、"))));
    }
    Ok(created)
}

/// 安源区, the demo's county, with 光丰街道 and its 上柳源村.
const DEMO_COUNTY: &str = "360302";
const DEMO_TOWNSHIP: &str = "360302008";
const DEMO_VILLAGE: &str = "360302008205";

/// The unit of the centre of division `code` (one of the constants above).
fn centre(code: &str) -> Option<String> {
    DivisionCode::parse(code).ok().map(|code| Unit::Centre(code).to_string())
}
/// The grid at 萍乡's city centre (上柳源村委会, 光丰街道).
const DEMO_GRID: &str = "360302008205001";
