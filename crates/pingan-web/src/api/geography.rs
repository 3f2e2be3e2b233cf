//! Divisions, grids (as GeoJSON), categories and units: what a client needs to show the map and
//! fill a report form. Divisions, grids and categories are public, like the map; units need an
//! account.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use pingan_app::AppError;
use pingan_app::geography::atlas::NamedDivision;
use pingan_core::category::{Deadlines, HandlingLevel, Priority};
use pingan_core::{DivisionCode, GridCode, Level};
use pingan_geo::Region;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use crate::api::accounts::auth::Caller;
use crate::error::{ErrorBody, query_params};
use crate::{ApiError, AppState};

/// A division's GeoJSON holds at most this many grids: a county's, not a province's.
const MAX_GRIDS_IN_GEOJSON: usize = 20_000;

#[derive(Serialize, ToSchema)]
pub struct DivisionView {
    code: String,
    name: String,
    level: Level,
    /// From the province down to the parent.
    ancestors: Vec<NamedDivision>,
    children: Vec<NamedDivision>,
    /// Grids in the division's subtree.
    grids: usize,
}

fn named(state: &AppState, code: &DivisionCode) -> NamedDivision {
    NamedDivision {
        code: code.to_string(),
        name: state.atlas.division_name(code.as_str()).unwrap_or_default(),
        level: code.level(),
    }
}

/// The division `code` names; an unknown one is a bad parameter (400), or, where it names the
/// resource itself (`path`), a resource that does not exist (404).
fn known_division(state: &AppState, code: &str, path: bool) -> Result<DivisionCode, ApiError> {
    state.atlas.known_division(code).ok_or_else(|| {
        let error = ApiError::from(AppError::UnknownDivision(code.to_owned()));
        if path { ApiError { status: StatusCode::NOT_FOUND, ..error } } else { error }
    })
}

#[utoipa::path(get, operation_id = "get_division", path = "/api/v1/divisions/{code}", tag = "geography",
    params(("code" = String, Path, description = "A division code: 36 (a province) down to 360302008205 (a village)")),
    responses((status = 200, body = DivisionView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
/// A division, its ancestors and its children.
pub async fn division(State(state): State<AppState>, Path(code): Path<String>) -> Result<Json<DivisionView>, ApiError> {
    let code = known_division(&state, &code, true)?;
    let children = state.atlas.children(&code);
    let ancestors = Level::ALL
        .into_iter()
        .filter(|level| *level < code.level())
        .filter_map(|level| code.ancestor(level))
        .map(|ancestor| named(&state, &ancestor))
        .collect();
    Ok(Json(DivisionView {
        name: state.atlas.division_name(code.as_str()).unwrap_or_default(),
        level: code.level(),
        ancestors,
        children: children.iter().map(|c| named(&state, c)).collect(),
        grids: state.atlas.grid_count_under(code.as_str()),
        code: code.to_string(),
    }))
}

/// A region as GeoJSON MultiPolygon coordinates, every ring closed.
fn coordinates(region: &Region) -> Value {
    let polygons: Vec<Value> = region
        .polygons()
        .iter()
        .map(|polygon| {
            let rings: Vec<Value> = polygon
                .iter()
                .map(|ring| {
                    let mut points: Vec<Value> = ring.iter().map(|p| json!([p.lon(), p.lat()])).collect();
                    if let Some(first) = points.first().cloned() {
                        points.push(first);
                    }
                    Value::Array(points)
                })
                .collect();
            Value::Array(rings)
        })
        .collect();
    json!({ "type": "MultiPolygon", "coordinates": polygons })
}

#[utoipa::path(get, operation_id = "get_division_geojson", path = "/api/v1/divisions/{code}/geojson", tag = "geography",
    params(("code" = String, Path, description = "A division code")),
    responses((status = 200, description = "A GeoJSON FeatureCollection: the division's boundary if known, and its grids", content_type = "application/geo+json", body = Object),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, description = "More grids than one answer holds: ask for a smaller division", body = ErrorBody)))]
/// A division's boundary and grids, as GeoJSON.
pub async fn division_geojson(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<([(axum::http::HeaderName, &'static str); 1], Json<Value>), ApiError> {
    let code = known_division(&state, &code, true)?;
    let count = state.atlas.grid_count_under(code.as_str());
    if count > MAX_GRIDS_IN_GEOJSON {
        return Err(ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "too_many_grids",
            message_zh: format!("该区划有 {count} 个网格，请按县区或乡镇查询"),
            message_en: format!("{count} grids: ask for a county or a township"),
            details: None,
        });
    }
    let mut features: Vec<Value> = state
        .atlas
        .boundaries_in(code.as_str())
        .into_iter()
        .filter(|(boundary, _)| *boundary == code)
        .map(|(boundary, region)| {
            json!({ "type": "Feature", "geometry": coordinates(&region),
                    "properties": { "kind": "division", "code": boundary.to_string(), "name": named(&state, &boundary).name } })
        })
        .collect();
    features.extend(state.atlas.grids_in(code.as_str()).into_iter().map(|(grid, name, region)| {
        json!({ "type": "Feature", "geometry": coordinates(&region),
                "properties": { "kind": "grid", "code": grid.to_string(), "name": name } })
    }));
    let collection = json!({ "type": "FeatureCollection", "features": features });
    Ok(([(axum::http::header::CONTENT_TYPE, "application/geo+json")], Json(collection)))
}

#[utoipa::path(get, operation_id = "get_grid", path = "/api/v1/grids/{code}", tag = "geography",
    params(("code" = String, Path, description = "A grid code (15 digits)")),
    responses((status = 200, description = "A GeoJSON Feature: the grid's area, its name and its division chain", content_type = "application/geo+json", body = Object),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
/// A grid as a GeoJSON Feature.
pub async fn grid(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<([(axum::http::HeaderName, &'static str); 1], Json<Value>), ApiError> {
    let unknown = || ApiError { status: StatusCode::NOT_FOUND, ..AppError::UnknownGrid(code.clone()).into() };
    let grid = GridCode::parse(&code).map_err(|_| ApiError::invalid_parameter("code", &code))?;
    let routed = state.atlas.grid(&grid).ok_or_else(unknown)?;
    let (_, _, region) =
        state.atlas.grids_in(grid.as_str()).into_iter().find(|(g, _, _)| *g == grid).ok_or_else(unknown)?;
    let feature = json!({ "type": "Feature", "geometry": coordinates(&region),
        "properties": { "code": routed.grid.code, "name": routed.grid.name, "chain": routed.chain } });
    Ok(([(axum::http::header::CONTENT_TYPE, "application/geo+json")], Json(feature)))
}

#[derive(Serialize, ToSchema)]
pub struct CategoryView {
    code: String,
    /// The family's code (`dispute`), none for a family.
    family: Option<String>,
    name_zh: String,
    name_en: String,
    /// Where a case starts.
    level: HandlingLevel,
    /// The kind of department that handles it, if any (a code of the department kinds).
    department: Option<String>,
    /// Working-time deadlines by priority: normal, urgent, critical.
    deadlines: Vec<DeadlineView>,
}

#[derive(Serialize, ToSchema)]
pub struct DeadlineView {
    priority: Priority,
    #[serde(flatten)]
    minutes: Deadlines,
}

#[derive(Serialize, ToSchema)]
pub struct CategoryBookView {
    /// The book's version: a case keeps the version it was filed under.
    version: i64,
    categories: Vec<CategoryView>,
}

#[utoipa::path(get, operation_id = "list_categories", path = "/api/v1/categories", tag = "geography",
    responses((status = 200, body = CategoryBookView)))]
/// The categories cases are filed under, in force now.
pub async fn categories(State(state): State<AppState>) -> Json<CategoryBookView> {
    let book = state.context.categories();
    let categories = book
        .leaves()
        .into_iter()
        .map(|c| CategoryView {
            code: c.code.clone(),
            family: c.parent.clone(),
            name_zh: c.name_zh.clone(),
            name_en: c.name_en.clone(),
            level: c.level,
            department: c.department.clone(),
            deadlines: Priority::ALL
                .into_iter()
                .filter_map(|priority| c.deadlines(priority).map(|minutes| DeadlineView { priority, minutes }))
                .collect(),
        })
        .collect();
    Json(CategoryBookView { version: book.version(), categories })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UnitQuery {
    /// Units of this county or city (and below); default: all.
    division: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UnitView {
    /// What a dispatch names: `department:360302:cg`, `provider:360302:…`.
    id: String,
    kind: &'static str,
    division: String,
    name: String,
    department_kind: Option<String>,
    /// The categories a provider serves.
    categories: Vec<String>,
}

#[utoipa::path(get, operation_id = "list_units", path = "/api/v1/units", tag = "geography", params(UnitQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<UnitView>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
/// The departments and service providers cases may be dispatched to.
pub async fn units(
    State(state): State<AppState>,
    _caller: Caller,
    query: Result<Query<UnitQuery>, QueryRejection>,
) -> Result<Json<Vec<UnitView>>, ApiError> {
    let query = query_params(query)?;
    let prefix = match &query.division {
        Some(code) => known_division(&state, code, false)?.to_string(),
        None => String::new(),
    };
    let units = state.engine.units(&prefix).await?;
    Ok(Json(
        units
            .into_iter()
            .map(|u| UnitView {
                id: u.id,
                kind: u.kind.as_str(),
                division: u.division.to_string(),
                name: u.name,
                department_kind: u.department_kind,
                categories: u.categories,
            })
            .collect(),
    ))
}
