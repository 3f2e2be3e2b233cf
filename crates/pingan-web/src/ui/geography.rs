//! Server-rendered pages, in Chinese with English alongside; no script, no CDN.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use pingan_app::Routed;
use pingan_core::Level;
use serde::Deserialize;

use crate::ui::map::{MapLayers, render_svg};
use crate::{ApiError, AppState, parse_coordinate};

pub struct VillageView {
    pub code: String,
    pub name: String,
    pub grids: usize,
}

pub struct TownshipView {
    pub code: String,
    pub name: String,
    pub villages: Vec<VillageView>,
}

pub struct CountyView {
    pub code: String,
    pub name: String,
    pub townships: Vec<TownshipView>,
}

/// An error as a page shows it.
pub struct Problem {
    pub code: &'static str,
    pub message_zh: String,
    pub message_en: String,
}

impl From<ApiError> for Problem {
    fn from(e: ApiError) -> Problem {
        Problem { code: e.code, message_zh: e.message_zh, message_en: e.message_en }
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    city_code: String,
    city_name: String,
    counties: Vec<CountyView>,
    grid_count: usize,
    village_count: usize,
    map_svg: String,
    lon: String,
    lat: String,
    routed: Option<Routed>,
    problem: Option<Problem>,
}

#[derive(Deserialize)]
pub struct HomeQuery {
    lon: Option<String>,
    lat: Option<String>,
}

/// GET / — the home city's division tree and grid map, and a form that routes a point.
pub async fn home(State(state): State<AppState>, Query(query): Query<HomeQuery>) -> Response {
    let city = state.home_city.as_str();
    let grids = state.atlas.grids_in(city);
    let boundaries = state.atlas.boundaries_in(city);
    let mut grids_per_village: HashMap<String, usize> = HashMap::new();
    for (code, _, _) in &grids {
        *grids_per_village.entry(code.village().to_string()).or_default() += 1;
    }

    let mut counties: Vec<CountyView> = Vec::new();
    for division in state.atlas.divisions_under(city) {
        match division.level {
            Level::County => {
                counties.push(CountyView { code: division.code, name: division.name, townships: Vec::new() })
            }
            Level::Township => {
                if let Some(county) = counties.last_mut() {
                    county.townships.push(TownshipView {
                        code: division.code,
                        name: division.name,
                        villages: Vec::new(),
                    });
                }
            }
            Level::Village => {
                if let Some(township) = counties.last_mut().and_then(|c| c.townships.last_mut()) {
                    let grids = grids_per_village.get(&division.code).copied().unwrap_or(0);
                    township.villages.push(VillageView { code: division.code, name: division.name, grids });
                }
            }
            Level::Province | Level::City => {}
        }
    }

    let asked = query.lon.is_some() || query.lat.is_some();
    let (mut routed, mut problem, mut marker) = (None, None, None);
    if asked {
        let outcome = parse_coordinate("lon", query.lon.as_deref())
            .and_then(|lon| Ok((lon, parse_coordinate("lat", query.lat.as_deref())?)))
            .map_err(Problem::from)
            .and_then(|(lon, lat)| {
                marker = Some((lon, lat));
                state.atlas.route(lon, lat).map_err(|e| Problem::from(ApiError::from(e)))
            });
        match outcome {
            Ok(found) => routed = Some(found),
            Err(found) => problem = Some(found),
        }
    }
    let highlight = routed.as_ref().map(|r| r.grid.code.clone());
    let map_svg =
        render_svg(&MapLayers { grids: &grids, boundaries: &boundaries, marker, highlight: highlight.as_deref() });
    let page = HomePage {
        city_code: city.to_owned(),
        city_name: state.atlas.division_name(city).unwrap_or_default(),
        village_count: grids_per_village.len(),
        grid_count: grids.len(),
        counties,
        map_svg,
        lon: query.lon.unwrap_or_default(),
        lat: query.lat.unwrap_or_default(),
        routed,
        problem,
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "home page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "页面生成失败 · the page failed to render").into_response()
        }
    }
}
