//! The only crate that knows HTTP, JSON bodies and HTML. Handlers are thin: parse the request,
//! call a use case, render the answer or the error.
//!
//! Laid out by layer, then domain: `api/<domain>` the JSON API's handlers (and Open311), `ui/<domain>`
//! the server-rendered pages; beside them the HTTP plumbing every domain shares (connections,
//! errors, CSV).

pub mod api;
mod connections;
mod csv_export;
mod error;
pub mod tls;
mod ui;
pub mod xlsx_export;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use pingan_app::accounts::Accounts;
use pingan_app::cases::CaseEngine;
use pingan_app::context::Context;
use pingan_app::idempotency::IdempotencyKeys;
use pingan_app::webhooks::Webhooks;
use pingan_app::{Atlas, Routed};
use pingan_core::DivisionCode;
use serde::{Deserialize, Serialize};

pub use api::openapi;
pub use connections::ConnectionLimits;
pub use error::ApiError;
use error::ErrorBody;
pub use ui::rankings::printable as printable_bulletin;

/// What every handler can reach: the use cases, never the store itself.
#[derive(Clone)]
pub struct AppState {
    pub atlas: Arc<Atlas>,
    /// The store, the clock, the catalog and the vault, for every domain's use cases.
    pub context: Arc<Context>,
    pub engine: Arc<CaseEngine>,
    pub webhooks: Arc<Webhooks>,
    pub accounts: Arc<Accounts>,
    pub idempotency: Arc<IdempotencyKeys>,
    /// Reports and photos sent without an account, and refused reads of cases (each one writes a
    /// line of the access log), counted per address.
    pub public_writes: Arc<pingan_app::address_windows::AddressWindows>,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<Vec<std::net::IpAddr>>,
    /// The city the home page shows.
    pub home_city: DivisionCode,
    /// How sign-in cookies are marked: for HTTPS unless the operator chose plain HTTP.
    pub cookies: api::accounts::cookies::Cookies,
}

impl AppState {
    /// A server's state for `engine`'s cases, with its context and webhooks, `accounts` of the
    /// same store, and `X-Forwarded-For` believed only from `trusted_proxies`.
    pub fn new(
        atlas: Arc<Atlas>,
        engine: Arc<CaseEngine>,
        accounts: Arc<Accounts>,
        trusted_proxies: Vec<std::net::IpAddr>,
        home_city: DivisionCode,
    ) -> AppState {
        let context = engine.context().clone();
        AppState {
            atlas,
            idempotency: Arc::new(IdempotencyKeys::new(context.clone())),
            webhooks: engine.webhooks().clone(),
            context,
            engine,
            accounts,
            // 100 per address in 10 minutes: a report with its photos is a few requests.
            public_writes: Arc::new(pingan_app::address_windows::AddressWindows::new(100, 10 * 60 * 1000)),
            trusted_proxies: Arc::new(trusted_proxies),
            home_city,
            cookies: api::accounts::cookies::Cookies::default(),
        }
    }

    /// A unit by name: a centre as its division's 综治中心, a grid by its name, a department or
    /// provider as the dispatch book names it.
    pub fn unit_name(&self, unit: &str) -> Option<String> {
        match pingan_core::Unit::parse(unit) {
            Ok(pingan_core::Unit::Centre(code)) => {
                self.atlas.division_name(code.as_str()).map(|name| format!("{name}综治中心"))
            }
            Ok(pingan_core::Unit::Grid(grid)) => self.atlas.grid(&grid).map(|routed| routed.grid.name),
            _ => self.context.dispatch_book().unit_name(unit).map(str::to_owned),
        }
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .fallback(ui::shell::no_such_path)
        .route("/", get(ui::geography::home))
        .route("/healthz", get(health))
        .route("/api/docs", get(api::docs::show))
        .route("/login", get(ui::accounts::page).post(ui::accounts::submit))
        .route("/logout", post(ui::accounts::logout))
        .route("/password", get(ui::accounts::password_page).post(ui::accounts::change_password))
        .route("/lang", get(ui::shell::switch_lang))
        .route("/assets/{file}", get(ui::assets::serve))
        .route("/work", get(ui::cases::queue))
        .route("/work/centre", get(ui::centre::show))
        .route("/work/desk", get(ui::desk::show).post(ui::desk::take))
        .route("/work/desk/similar", get(ui::desk::similar))
        .route("/work/desk/places", get(ui::desk::places))
        .route("/work/bulletin", get(ui::rankings::show))
        .route("/work/bulletin/weights", post(ui::rankings::set_weights))
        .route("/work/cases/{case}", get(ui::cases::show))
        .route(
            "/work/cases/{case}/act",
            post(ui::cases::act).layer(axum::extract::DefaultBodyLimit::max(ui::cases::MAX_ACT_BODY)),
        )
        .route("/work/cases/{case}/reveal", post(ui::cases::reveal))
        .route("/work/tokens", get(ui::tokens::show).post(ui::tokens::issue))
        .route("/work/tokens/{id}/revoke", post(ui::tokens::revoke))
        .route("/work/admin", get(|| async { ui::admin::see_other("/work/admin/accounts") }))
        .route("/work/admin/accounts", get(ui::admin::accounts::show).post(ui::admin::accounts::create))
        .route("/work/admin/accounts/{login}/reset", post(ui::admin::accounts::reset))
        .route("/work/admin/accounts/{login}/lock", post(ui::admin::accounts::lock))
        .route("/work/admin/accounts/{login}/unlock", post(ui::admin::accounts::unlock))
        .route("/work/admin/units", get(ui::admin::tables::units))
        .route(
            "/work/admin/grid-staff",
            get(ui::admin::tables::grid_staff).post(ui::admin::tables::upload_grid_staff).layer(uploads()),
        )
        .route("/work/admin/grid-staff.csv", get(ui::admin::tables::grid_staff_csv))
        .route(
            "/work/admin/dispatch-rules",
            get(ui::admin::tables::dispatch_rules).post(ui::admin::tables::upload_dispatch_rules).layer(uploads()),
        )
        .route("/work/admin/dispatch-rules.csv", get(ui::admin::tables::dispatch_rules_csv))
        .route(
            "/work/admin/categories",
            get(ui::admin::tables::categories).post(ui::admin::tables::upload_categories).layer(uploads()),
        )
        .route("/work/admin/categories.csv", get(ui::admin::tables::categories_csv))
        .route("/work/admin/calendar", get(ui::admin::calendar::show))
        .route("/work/admin/access-log", get(ui::admin::access_log::show))
        .route("/work/admin/access-log.csv", get(ui::admin::access_log::export))
        .merge(api::routes().0.layer(axum::middleware::from_fn_with_state(state.clone(), api::idempotency::keyed)))
        .merge(api::open311::routes())
        // A workbench form posted after its session ended comes back filled after logging in.
        .layer(axum::middleware::from_fn_with_state(state.clone(), ui::kept::keep_typed_forms))
        .layer(axum::middleware::map_response(security_headers))
        // Pages, maps and JSON go out gzipped to clients that accept it (the event stream, which
        // must flow as written, never is).
        .layer(tower_http::compression::CompressionLayer::new().quality(tower_http::CompressionLevel::Fastest))
        .with_state(state)
}

/// The body an administrator's CSV upload may have.
fn uploads() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(ui::admin::tables::MAX_UPLOAD)
}

/// Headers every answer carries: no sniffing, no framing, no referrer, script only from the files
/// the binary serves (never inline), and only this origin's resources (the pages inline their own
/// style).
async fn security_headers(mut response: axum::response::Response) -> axum::response::Response {
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-opener-policy", "same-origin"),
        (
            "content-security-policy",
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data: blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    ] {
        headers.insert(name, axum::http::HeaderValue::from_static(value));
    }
    response
}

/// The largest JSON body accepted: a report's text fields are a few kilobytes at most.
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// Serves until the process is told to stop (Ctrl-C or SIGTERM). The caller keeps the atlas fresh
/// (`Atlas::keep_fresh`).
/// With `tls`, every connection is HTTPS.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: ConnectionLimits,
    tls: Option<tls::TlsAcceptor>,
) {
    tokio::spawn(keep_tidy(state.clone()));
    let exempt = state.trusted_proxies.clone();
    connections::serve(listener, router(state), limits, exempt, tls, shutdown_signal()).await
}

/// Binds `address` and serves in the background; returns the bound address (for tests: port 0).
pub async fn spawn(
    address: SocketAddr,
    state: AppState,
    limits: ConnectionLimits,
    tls: Option<tls::TlsAcceptor>,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(keep_tidy(state.clone()));
    let exempt = state.trusted_proxies.clone();
    tokio::spawn(connections::serve(listener, router(state), limits, exempt, tls, std::future::pending()));
    Ok(bound)
}

/// Hourly housekeeping: answers kept for retries past their day are forgotten, and photos that no
/// case named within a day are removed.
async fn keep_tidy(state: AppState) {
    let mut hourly = tokio::time::interval(Duration::from_secs(3600));
    loop {
        hourly.tick().await;
        api::idempotency::forget_expired(&state).await;
        match state.engine.remove_unattached_photos().await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "photos that no case named were removed"),
            Err(error) => tracing::warn!(%error, "photos that no case named were not removed"),
        }
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        // If the handler cannot be installed, the server runs until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    engine: &'static str,
    grids: usize,
}

async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health { status: "ok", engine: state.context.store_engine(), grids: state.atlas.grid_count() })
}

/// Raw query parameters: parsed by hand so that a missing or malformed value gets our own error.
#[derive(Deserialize)]
struct PointQuery {
    lon: Option<String>,
    lat: Option<String>,
}

pub(crate) fn parse_coordinate(name: &'static str, value: Option<&str>) -> Result<f64, ApiError> {
    let value = value.map(str::trim).filter(|v| !v.is_empty()).ok_or_else(|| ApiError::missing_parameter(name))?;
    value.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| ApiError::invalid_parameter(name, value))
}

#[utoipa::path(get, operation_id = "route_point", path = "/api/v1/route", tag = "geography",
    params(("lon" = f64, Query, description = "WGS-84 longitude", minimum = -180, maximum = 180),
        ("lat" = f64, Query, description = "WGS-84 latitude", minimum = -90, maximum = 90)),
    responses((status = 200, body = Routed), (status = 400, description = "A missing or malformed coordinate", body = ErrorBody),
        (status = 404, description = "The point lies in no grid: the nearest one is named", body = ErrorBody)))]
/// The grid at a WGS-84 point and its whole division chain.
pub(crate) async fn route_point(
    State(state): State<AppState>,
    query: Result<Query<PointQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Routed>, ApiError> {
    let query = error::query_params(query)?;
    let lon = parse_coordinate("lon", query.lon.as_deref())?;
    let lat = parse_coordinate("lat", query.lat.as_deref())?;
    Ok(Json(state.atlas.route(lon, lat)?))
}
