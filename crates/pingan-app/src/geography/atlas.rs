//! The server's in-memory geography: the grid router and the names of every division, swapped
//! whole (one pointer) when grids change, so a lookup never sees half an update.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use pingan_core::{DivisionCode, Explain, GridCode, Level};
use pingan_geo::{FixedPoint, OutOfRange, Region, Router};
use pingan_store::Store;
use serde::Serialize;

use crate::AppError;
use crate::geography::{grid_entries, parse_stored_area};

/// Kilometres per degree of latitude, for telling distances to people.
const KM_PER_DEGREE: f64 = 111.32;

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct NamedDivision {
    pub code: String,
    pub name: String,
    pub level: Level,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct NamedGrid {
    pub code: String,
    pub name: String,
}

/// Where a point lies: its grid and the grid's divisions from the province down to the village.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Routed {
    pub grid: NamedGrid,
    pub chain: Vec<NamedDivision>,
}

/// The divisions below the province of every city with grids, with their names' forms.
fn address_names(division_names: &HashMap<String, String>, router: &Router) -> Vec<(DivisionCode, Vec<String>)> {
    let cities: std::collections::HashSet<&str> = router.entries().iter().map(|e| &e.code.as_str()[..4]).collect();
    division_names
        .iter()
        .filter(|(code, _)| code.len() >= 4 && cities.contains(&code[..4]))
        .filter_map(|(code, name)| Some((DivisionCode::parse(code).ok()?, address_forms(name))))
        .filter(|(_, forms)| !forms.is_empty())
        .collect()
}

/// How an address may write a division's name: as it is, and a village committee (上柳源村委会)
/// as its village (上柳源村), a residents' committee (凤凰山居委会) as its community (凤凰山社区).
/// Names of one character are too common to place anything.
fn address_forms(name: &str) -> Vec<String> {
    let mut forms = vec![name.to_owned()];
    if let Some(stem) = name.strip_suffix("村委会") {
        forms.push(format!("{stem}村"));
    }
    if let Some(stem) = name.strip_suffix("社区居委会").or_else(|| name.strip_suffix("居委会")) {
        forms.push(format!("{stem}社区"));
    }
    forms.retain(|form| form.chars().count() >= 2);
    forms
}

/// Why an address was not placed.
#[derive(Clone, Debug, PartialEq)]
pub enum Unplaced {
    /// It names no division of the served area.
    Nowhere,
    /// It fits these divisions (names) equally well.
    Ambiguous(Vec<String>),
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RouteError {
    #[error("{0}")]
    BadCoordinates(#[from] OutOfRange),
    #[error("lon={lon} lat={lat} lies in no grid{}", nearest_en(.nearest))]
    Outside { lon: f64, lat: f64, nearest: Option<Nearest> },
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Nearest {
    pub grid: NamedGrid,
    pub chain: Vec<NamedDivision>,
    pub distance_km: f64,
}

fn chain_names(chain: &[NamedDivision]) -> String {
    chain.iter().map(|d| d.name.as_str()).collect()
}

fn nearest_en(nearest: &Option<Nearest>) -> String {
    match nearest {
        Some(n) => format!("; the nearest is {} {} ({:.1} km away)", chain_names(&n.chain), n.grid.code, n.distance_km),
        None => "; no grids are loaded".into(),
    }
}

impl Explain for RouteError {
    fn code(&self) -> &'static str {
        match self {
            RouteError::BadCoordinates(e) => e.code(),
            RouteError::Outside { .. } => "outside_served_area",
        }
    }

    fn message_zh(&self) -> String {
        match self {
            RouteError::BadCoordinates(e) => e.message_zh(),
            RouteError::Outside { lon, lat, nearest: Some(n) } => format!(
                "坐标（经度 {lon}，纬度 {lat}）不在任何网格内；最近的是{}（网格 {}，约 {:.1} 公里）",
                chain_names(&n.chain),
                n.grid.code,
                n.distance_km
            ),
            RouteError::Outside { lon, lat, nearest: None } => {
                format!("坐标（经度 {lon}，纬度 {lat}）不在任何网格内；尚未载入网格")
            }
        }
    }

    fn message_en(&self) -> String {
        self.to_string()
    }
}

struct Snapshot {
    /// The store's geography revision this snapshot was built from.
    revision: i64,
    router: Router,
    grid_names: HashMap<GridCode, String>,
    division_names: HashMap<String, String>,
    /// The divisions below the province of every city with grids, each with the ways an address
    /// may write its name (see [`address_forms`]).
    address_names: Vec<(DivisionCode, Vec<String>)>,
    boundaries: Vec<(DivisionCode, Region)>,
}

pub struct Atlas {
    current: ArcSwap<Snapshot>,
}

impl Atlas {
    pub async fn load(store: &dyn Store) -> Result<Atlas, AppError> {
        Ok(Atlas { current: ArcSwap::from_pointee(Self::snapshot(store).await?) })
    }

    /// Rebuilds from the store and swaps the new geography in.
    pub async fn reload(&self, store: &dyn Store) -> Result<(), AppError> {
        self.current.store(Arc::new(Self::snapshot(store).await?));
        Ok(())
    }

    /// Reloads if the store's geography changed since the current snapshot was built; says whether it did.
    pub async fn refresh(&self, store: &dyn Store) -> Result<bool, AppError> {
        if store.geography_revision().await? == self.current().revision {
            return Ok(false);
        }
        self.reload(store).await?;
        Ok(true)
    }

    /// How often a server checks the store for changed grids or boundaries.
    pub const CHECK_INTERVAL: Duration = Duration::from_secs(5);

    /// Checks the store every `interval` and swaps in new geography when grids or boundaries change,
    /// whoever changed them (this server, an import in another process, another server).
    pub async fn keep_fresh(self: Arc<Self>, store: Arc<dyn Store>, interval: Duration) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match self.refresh(store.as_ref()).await {
                Ok(true) => tracing::info!(grids = self.grid_count(), "geography reloaded"),
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "geography reload failed; keeping the current one"),
            }
        }
    }

    async fn snapshot(store: &dyn Store) -> Result<Snapshot, AppError> {
        // Read the revision first: a change made while loading leaves the snapshot older than the
        // store, so the next refresh loads again.
        let revision = store.geography_revision().await?;
        let (grids, divisions, boundaries) =
            (store.grids("").await?, store.division_names().await?, store.boundaries("").await?);
        // Parsing the areas and building the index take seconds for a province: off the async
        // workers, which would otherwise answer nothing else meanwhile.
        tokio::task::spawn_blocking(move || Self::built(revision, grids, divisions, boundaries))
            .await
            .map_err(|error| AppError::Store(pingan_store::StoreError::Unavailable(error.to_string())))?
    }

    fn built(
        revision: i64,
        grids: Vec<pingan_store::GridRow>,
        divisions: Vec<pingan_store::Division>,
        boundaries: Vec<pingan_store::BoundaryRow>,
    ) -> Result<Snapshot, AppError> {
        let grids = grid_entries(grids)?;
        let division_names = divisions.into_iter().map(|d| (String::from(d.code), d.name)).collect();
        let grid_names = grids.iter().map(|(entry, name)| (entry.code.clone(), name.clone())).collect();
        let router = Router::build(grids.into_iter().map(|(entry, _)| entry).collect());
        let address_names = address_names(&division_names, &router);
        let boundaries = boundaries
            .into_iter()
            .map(|row| Ok((row.code.clone(), parse_stored_area(&row.geometry, &row.code)?)))
            .collect::<Result<_, AppError>>()?;
        Ok(Snapshot { revision, router, grid_names, division_names, address_names, boundaries })
    }

    fn current(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    pub fn grid_count(&self) -> usize {
        self.current().router.len()
    }

    pub fn division_name(&self, code: &str) -> Option<String> {
        self.current().division_names.get(code).cloned()
    }

    /// The division `code` names, if it is a valid code of a known division.
    pub fn known_division(&self, code: &str) -> Option<DivisionCode> {
        DivisionCode::parse(code).ok().filter(|c| self.current().division_names.contains_key(c.as_str()))
    }

    /// How many grids have a code starting with `prefix`.
    pub fn grid_count_under(&self, prefix: &str) -> usize {
        self.current().router.entries().iter().filter(|entry| entry.code.as_str().starts_with(prefix)).count()
    }

    /// The division an address names, for a report that gives no point: the deepest division of a
    /// served city (one with grids) whose name the address holds, preferring the one whose
    /// ancestors' names the address holds too ("安源区凤凰街街道" is the 凤凰街街道 of 安源区). A
    /// name is not taken where it is part of a longer name found (柳源村 in 上柳源村), nor a
    /// division that lies outside a shallower one named (a 上埠村 of another county than the one
    /// written). None when no name is found, or when several divisions fit equally well.
    pub fn place_address(&self, address: &str) -> Result<DivisionCode, Unplaced> {
        let snapshot = self.current();
        // Each division named, with the longest form of its name the address holds.
        let found: Vec<(&DivisionCode, &str)> = snapshot
            .address_names
            .iter()
            .filter_map(|(code, forms)| {
                let form = forms.iter().filter(|form| address.contains(form.as_str())).max_by_key(|f| f.len())?;
                Some((code, form.as_str()))
            })
            .collect();
        let named: Vec<&DivisionCode> = found
            .iter()
            .filter(|(_, form)| !found.iter().any(|(_, longer)| longer.len() > form.len() && longer.contains(form)))
            .map(|(code, _)| *code)
            .collect();
        let consistent: Vec<&DivisionCode> = named
            .iter()
            .filter(|code| named.iter().all(|other| other.level() >= code.level() || other.contains(code)))
            .copied()
            .collect();
        // How many of the named divisions are this one or its ancestors, then how deep it lies.
        let fit = |code: &DivisionCode| (named.iter().filter(|other| other.contains(code)).count(), code.level());
        let Some(best) = consistent.iter().map(|code| fit(code)).max() else { return Err(Unplaced::Nowhere) };
        let mut fitting: Vec<&DivisionCode> = consistent.into_iter().filter(|code| fit(code) == best).collect();
        fitting.sort();
        match fitting.as_slice() {
            [only] => Ok((*only).clone()),
            several => Err(Unplaced::Ambiguous(several.iter().take(5).map(|c| self.full_name(&snapshot, c)).collect())),
        }
    }

    /// Townships and villages under `prefix` whose name holds `text`, at most `limit`, each by its
    /// full name (which [`Atlas::place_address`] places back there): a desk's suggestions as an
    /// operator types a place.
    pub fn places_named(&self, prefix: &str, text: &str, limit: usize) -> Vec<(DivisionCode, String)> {
        let text = text.trim();
        if text.is_empty() {
            return Vec::new();
        }
        let snapshot = self.current();
        let mut found: Vec<DivisionCode> = snapshot
            .division_names
            .iter()
            .filter(|(code, name)| code.starts_with(prefix) && name.contains(text))
            .filter_map(|(code, _)| DivisionCode::parse(code).ok())
            .filter(|code| code.level() >= Level::Township)
            .collect();
        // Shallower first (a township before its villages), then by code.
        found.sort_by(|a, b| (a.level(), a.as_str()).cmp(&(b.level(), b.as_str())));
        found.truncate(limit);
        found.into_iter().map(|code| (code.clone(), self.full_name(&snapshot, &code))).collect()
    }

    /// A division's name after its county's and township's (上栗县赤山镇上埠村委会), to tell
    /// namesakes apart.
    fn full_name(&self, snapshot: &Snapshot, code: &DivisionCode) -> String {
        code.lineage()
            .iter()
            .filter(|d| d.level() >= Level::County)
            .filter_map(|d| snapshot.division_names.get(d.as_str()).cloned())
            .collect()
    }

    pub fn route(&self, lon: f64, lat: f64) -> Result<Routed, RouteError> {
        let point = FixedPoint::from_degrees(lon, lat)?;
        let snapshot = self.current();
        if let Some(entry) = snapshot.router.route(point) {
            return Ok(snapshot.describe(&entry.code));
        }
        let nearest = snapshot.router.nearest(point).map(|(entry, degrees)| {
            let Routed { grid, chain } = snapshot.describe(&entry.code);
            Nearest { grid, chain, distance_km: (degrees * KM_PER_DEGREE * 10.0).round() / 10.0 }
        });
        Err(RouteError::Outside { lon, lat, nearest })
    }

    /// A loaded grid and its division chain.
    pub fn grid(&self, code: &GridCode) -> Option<Routed> {
        let snapshot = self.current();
        snapshot.grid_names.contains_key(code).then(|| snapshot.describe(code))
    }

    /// The grids whose code starts with `prefix`, with their names, ordered by code.
    pub fn grids_in(&self, prefix: &str) -> Vec<(GridCode, String, Region)> {
        let snapshot = self.current();
        let mut grids: Vec<_> = snapshot
            .router
            .entries()
            .iter()
            .filter(|entry| entry.code.as_str().starts_with(prefix))
            .map(|entry| {
                let name = snapshot.grid_names.get(&entry.code).cloned().unwrap_or_default();
                (entry.code.clone(), name, entry.region.clone())
            })
            .collect();
        grids.sort_by(|a, b| a.0.cmp(&b.0));
        grids
    }

    /// Boundaries of the divisions whose code starts with `prefix`.
    pub fn boundaries_in(&self, prefix: &str) -> Vec<(DivisionCode, Region)> {
        self.current().boundaries.iter().filter(|(code, _)| code.as_str().starts_with(prefix)).cloned().collect()
    }

    /// The divisions one level below `code`, ordered by code.
    pub fn children(&self, code: &DivisionCode) -> Vec<DivisionCode> {
        let snapshot = self.current();
        let mut children: Vec<DivisionCode> = snapshot
            .division_names
            .keys()
            .filter(|child| child.len() > code.as_str().len() && child.starts_with(code.as_str()))
            .filter_map(|child| DivisionCode::parse(child).ok())
            .filter(|child| child.parent().as_ref() == Some(code))
            .collect();
        children.sort();
        children
    }

    /// The divisions whose code starts with `prefix` (including it), ordered by code.
    pub fn divisions_under(&self, prefix: &str) -> Vec<NamedDivision> {
        let snapshot = self.current();
        let mut divisions: Vec<NamedDivision> = snapshot
            .division_names
            .iter()
            .filter(|(code, _)| code.starts_with(prefix))
            .filter_map(|(code, name)| {
                let parsed = DivisionCode::parse(code).ok()?;
                Some(NamedDivision { code: code.clone(), name: name.clone(), level: parsed.level() })
            })
            .collect();
        divisions.sort_by(|a, b| a.code.cmp(&b.code));
        divisions
    }
}

impl Snapshot {
    fn describe(&self, grid: &GridCode) -> Routed {
        let chain = grid
            .village()
            .lineage()
            .into_iter()
            .map(|code: DivisionCode| NamedDivision {
                name: self.division_names.get(code.as_str()).cloned().unwrap_or_default(),
                level: code.level(),
                code: code.into(),
            })
            .collect();
        let name = self.grid_names.get(grid).cloned().unwrap_or_default();
        Routed { grid: NamedGrid { code: grid.to_string(), name }, chain }
    }
}
