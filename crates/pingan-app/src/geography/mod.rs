//! Importing boundaries and grids from GeoJSON, and generating grids where no survey exists.

pub mod atlas;
pub mod divisions;
pub mod jiangxi;

use std::collections::{BTreeMap, HashMap, HashSet};

use geo::{Area, BooleanOps, BoundingRect, Intersects, MultiPolygon};
use pingan_core::{DivisionCode, GridCode, Level};
use pingan_geo::crosswalk::{parse_crosswalk, reconcile};
use pingan_geo::geojson_io::{CodedShape, InvalidAreas, read_areas};
use pingan_geo::tessellate::{CountyPlan, GeneratedGrid, Settings, VillagePlan, tessellate};
use pingan_geo::{Region, RouterEntry};
use pingan_store::{BoundaryRow, GridRow, Store};

use crate::{AppError, Progress};

/// Overlaps smaller than this (in square degrees, about 1 m²) are rounding, not overlapping grids.
const OVERLAP_TOLERANCE: f64 = 1e-10;

pub fn geometry_text(shape: &MultiPolygon<f64>) -> String {
    geojson::Geometry::new(geojson::GeometryValue::from(shape)).to_string()
}

fn bad_feature(shape: &CodedShape, index: usize, reason: String) -> AppError {
    AppError::BadFeature { feature: index + 1, code: shape.code.clone(), reason }
}

/// Imports division boundaries. With a crosswalk, features carry the codes of an older tree and
/// must reconcile with every stored division of their level in their provinces.
pub async fn import_boundaries(
    store: &dyn Store,
    geojson: &[u8],
    crosswalk: Option<&[u8]>,
    invalid_areas: InvalidAreas,
    source: &str,
) -> Result<usize, AppError> {
    let shapes = read_areas(geojson, invalid_areas)?;
    let stored: HashSet<String> = store.division_names().await?.into_iter().map(|d| String::from(d.code)).collect();
    let mut areas: BTreeMap<String, MultiPolygon<f64>> = BTreeMap::new();
    for (index, shape) in shapes.iter().enumerate() {
        DivisionCode::parse(&shape.code).map_err(|e| bad_feature(shape, index, e.to_string()))?;
        if crosswalk.is_none() && !stored.contains(&shape.code) {
            return Err(bad_feature(shape, index, "no such division is stored".into()));
        }
        if areas.insert(shape.code.clone(), shape.shape.clone()).is_some() {
            return Err(bad_feature(shape, index, "a second boundary for the same division".into()));
        }
    }
    if let Some(crosswalk) = crosswalk {
        let rows = parse_crosswalk(crosswalk)?;
        let lengths: HashSet<usize> = areas.keys().map(String::len).collect();
        let provinces: HashSet<&str> = areas.keys().map(|code| &code[..2]).collect();
        let mut current: Vec<String> = stored
            .iter()
            .filter(|code| lengths.contains(&code.len()) && provinces.contains(&code[..2]))
            .cloned()
            .collect();
        current.sort();
        areas = reconcile(areas, &rows, &current)?;
    }
    let count = areas.len();
    let rows = areas
        .into_iter()
        .map(|(code, shape)| {
            let code = DivisionCode::parse(&code).map_err(|e| AppError::BadFeature {
                feature: 0,
                code: code.clone(),
                reason: e.to_string(),
            })?;
            Ok(BoundaryRow { code, geometry: geometry_text(&shape), source: source.to_owned() })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    store.put_boundaries(rows).await?;
    Ok(count)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridImportReport {
    pub grids: usize,
    pub villages: usize,
}

/// Imports surveyed grids. Every grid must name a stored village by its code, have a valid area
/// and overlap no other grid of its village (in the file or already stored); otherwise nothing
/// is written.
pub async fn import_grids(store: &dyn Store, geojson: &[u8]) -> Result<GridImportReport, AppError> {
    let shapes = read_areas(geojson, InvalidAreas::Refuse)?;
    let stored_divisions: HashSet<String> =
        store.division_names().await?.into_iter().map(|d| String::from(d.code)).collect();
    let mut by_village: BTreeMap<DivisionCode, Vec<(GridCode, MultiPolygon<f64>)>> = BTreeMap::new();
    let mut rows = Vec::with_capacity(shapes.len());
    let mut codes = HashSet::new();
    for (index, shape) in shapes.iter().enumerate() {
        let code = GridCode::parse(&shape.code).map_err(|e| bad_feature(shape, index, e.to_string()))?;
        if !stored_divisions.contains(code.village().as_str()) {
            return Err(bad_feature(shape, index, format!("village {} is not stored", code.village())));
        }
        if !codes.insert(code.clone()) {
            return Err(bad_feature(shape, index, "the same grid code appears twice".into()));
        }
        by_village.entry(code.village()).or_default().push((code.clone(), shape.shape.clone()));
        rows.push(GridRow {
            name: shape.name.clone().unwrap_or_else(|| code.to_string()),
            code,
            geometry: geometry_text(&shape.shape),
        });
    }
    for (village, grids) in &mut by_village {
        for stored in store.grids(village.as_str()).await? {
            if !codes.contains(&stored.code) {
                let shape = parse_stored_area(&stored.geometry, &stored.code)?.to_geo();
                grids.push((stored.code, shape));
            }
        }
        check_no_overlap(village, grids)?;
    }
    let report = GridImportReport { grids: rows.len(), villages: by_village.len() };
    store.put_grids(rows).await?;
    Ok(report)
}

fn check_no_overlap(village: &DivisionCode, grids: &[(GridCode, MultiPolygon<f64>)]) -> Result<(), AppError> {
    let boxes: Vec<_> = grids.iter().map(|(_, shape)| shape.bounding_rect()).collect();
    for i in 0..grids.len() {
        for j in i + 1..grids.len() {
            let (Some(a), Some(b)) = (boxes[i], boxes[j]) else { continue };
            if a.intersects(&b) && grids[i].1.intersection(&grids[j].1).unsigned_area() > OVERLAP_TOLERANCE {
                return Err(AppError::OverlappingGrids {
                    village: village.to_string(),
                    first: grids[i].0.to_string(),
                    second: grids[j].0.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Reads back a stored GeoJSON area; `what` names it in the error.
pub(crate) fn parse_stored_area(text: &str, what: &dyn std::fmt::Display) -> Result<Region, AppError> {
    let corrupt = |reason: String| AppError::Store(pingan_store::StoreError::Corrupt(format!("{what}: {reason}")));
    let geometry: geojson::Geometry = text.parse().map_err(|e: geojson::Error| corrupt(e.to_string()))?;
    let shape = match &geometry.value {
        geojson::GeometryValue::Polygon { .. } => {
            geo::Polygon::<f64>::try_from(&geometry.value).map(|p| MultiPolygon(vec![p]))
        }
        _ => MultiPolygon::<f64>::try_from(&geometry.value),
    }
    .map_err(|e| corrupt(e.to_string()))?;
    Region::from_geo(&shape).map_err(|e| corrupt(e.to_string()))
}

/// The stored grids as router entries with their names.
pub async fn load_grids(store: &dyn Store, prefix: &str) -> Result<Vec<(RouterEntry, String)>, AppError> {
    grid_entries(store.grids(prefix).await?)
}

/// Stored grids as the router's entries, with their names.
pub(crate) fn grid_entries(rows: Vec<pingan_store::GridRow>) -> Result<Vec<(RouterEntry, String)>, AppError> {
    rows.into_iter()
        .map(|row| {
            let region = parse_stored_area(&row.geometry, &row.code)?;
            Ok((RouterEntry { code: row.code, region }, row.name))
        })
        .collect()
}

/// Draws grids for the villages among `divisions` inside the given counties.
pub fn tessellate_counties(
    counties: &[(DivisionCode, Region)],
    divisions: Vec<pingan_store::Division>,
    settings: Settings,
) -> Result<Vec<GeneratedGrid>, AppError> {
    let mut villages: HashMap<String, Vec<VillagePlan>> = HashMap::new();
    for division in divisions {
        if division.level() == Level::Village {
            let county = division.code.ancestor(Level::County).map(String::from).unwrap_or_default();
            villages.entry(county).or_default().push(VillagePlan { code: division.code, name: division.name });
        }
    }
    let plans: Vec<CountyPlan> = counties
        .iter()
        .map(|(code, region)| CountyPlan {
            code: code.clone(),
            boundary: region,
            villages: villages.remove(code.as_str()).unwrap_or_default(),
        })
        .collect();
    Ok(tessellate(&plans, settings)?)
}

/// Draws grids for every village under `prefix` (a city or county code) from the stored county
/// boundaries, and stores them (replacing generated grids of the same codes).
pub async fn generate_grids(
    store: &dyn Store,
    prefix: &DivisionCode,
    settings: Settings,
    progress: &dyn Progress,
) -> Result<usize, AppError> {
    progress.stage("drawing grids", 0);
    let counties = store
        .boundaries(prefix.as_str())
        .await?
        .into_iter()
        .filter(|b| b.code.level() == Level::County)
        .map(|b| Ok((b.code.clone(), parse_stored_area(&b.geometry, &b.code)?)))
        .collect::<Result<Vec<_>, AppError>>()?;
    let divisions = store.division_names().await?.into_iter().filter(|d| prefix.contains(&d.code)).collect();
    let grids = tessellate_counties(&counties, divisions, settings)?;
    progress.finish();
    let count = grids.len();
    let rows = grids
        .into_iter()
        .map(|grid| GridRow { geometry: grid.region.to_geojson().to_string(), code: grid.code, name: grid.name })
        .collect();
    progress.stage("storing grids", 0);
    store.put_grids(rows).await?;
    progress.finish();
    Ok(count)
}
