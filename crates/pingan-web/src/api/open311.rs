//! Open311 GeoReport v2 at `/open311/v2/`, with its discovery document at
//! `/open311/discovery.{json,xml}`. Services are Pingan's categories; service requests are cases.
//!
//! The format is the path's extension, `.xml` (the specification's own) or `.json`, whose shape
//! follows the specification's convention: lists and single requests are arrays, a service
//! definition and the discovery document objects. Errors are `errors/error` with a code and a
//! description, answered 404 for what does not exist, 403 for a missing or wrong `api_key`, 400
//! for anything else.
//!
//! Anyone may read requests, so only public matters are shown (roads, water, sanitation, hazards:
//! `is_public_category`); a request in any other category is "not found" here, though its filer
//! follows it through the native API. Filing needs an API key: the token of an `api_client`
//! account (`pingan admin create-api-key`), which files for its centre's area.

use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Form, Path, Query, State};
use axum::http::header::{CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Duration, FixedOffset};
use pingan_app::AppError;
use pingan_app::access::is_public_category;
use pingan_app::cases::Submission;
use pingan_core::Actor;
use pingan_core::Timestamp;
use pingan_core::calendar::china_standard_time;
use pingan_core::case::Channel;
use pingan_core::category::Priority;
use pingan_core::lifecycle::Status;
use pingan_core::{DivisionCode, Explain};
use pingan_store::accounts::CredentialKind;
use pingan_store::cases::{CaseFilter, CaseRow, Reporter};

use crate::AppState;
use crate::api::accounts::auth::ClientAddress;

/// The specification's name for itself, as discovery documents give it.
const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";

/// The widest span of report dates one query may cover, and its default, per the specification.
const MAX_SPAN_DAYS: i64 = 90;

/// The most requests one query answers, per the specification.
const MAX_REQUESTS: u32 = 1000;

/// The longest description the specification allows.
const MAX_DESCRIPTION: usize = 4000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/open311/{file}", get(discovery))
        .route("/open311/v2/{file}", get(list).post(create))
        .route("/open311/v2/services/{file}", get(service_definition))
        .route("/open311/v2/requests/{file}", get(request))
        .route("/open311/v2/tokens/{file}", get(token))
        .layer(DefaultBodyLimit::max(crate::MAX_JSON_BODY))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Xml,
}

/// `services.json` → (`services`, JSON).
fn split(file: &str) -> Option<(&str, Format)> {
    let (stem, extension) = file.rsplit_once('.')?;
    let format = match extension {
        "json" => Format::Json,
        "xml" => Format::Xml,
        _ => return None,
    };
    Some((stem, format))
}

/// A value of an answer, rendered as JSON or XML from the same tree.
enum Node {
    Text(Option<String>),
    Integer(i64),
    Number(f64),
    Bool(bool),
    /// A repeated element (`service`, `request` …) and its items.
    List(&'static str, Vec<Node>),
    Object(Vec<(&'static str, Node)>),
}

fn text(value: impl Into<String>) -> Node {
    Node::Text(Some(value.into()))
}

impl Node {
    fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Node::Text(None) => Value::Null,
            Node::Text(Some(text)) => Value::from(text.as_str()),
            Node::Integer(number) => Value::from(*number),
            Node::Number(number) => serde_json::Number::from_f64(*number).map_or(Value::Null, Value::Number),
            Node::Bool(flag) => Value::Bool(*flag),
            Node::List(_, items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Node::Object(fields) => {
                Value::Object(fields.iter().map(|(name, node)| ((*name).to_owned(), node.to_json())).collect())
            }
        }
    }

    /// The element's content.
    fn write_xml(&self, out: &mut String) {
        match self {
            Node::Text(None) => {}
            Node::Text(Some(text)) => escape_into(text, out),
            Node::Integer(number) => out.push_str(&number.to_string()),
            Node::Number(number) => out.push_str(&number.to_string()),
            Node::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
            Node::List(item, items) => {
                for node in items {
                    element(item, node, out);
                }
            }
            Node::Object(fields) => {
                for (name, node) in fields {
                    element(name, node, out);
                }
            }
        }
    }
}

fn element(name: &str, node: &Node, out: &mut String) {
    if let Node::Text(None) = node {
        out.push_str(&format!("<{name}/>"));
        return;
    }
    out.push_str(&format!("<{name}>"));
    node.write_xml(out);
    out.push_str(&format!("</{name}>"));
}

/// Escapes markup, and leaves out the characters XML 1.0 cannot carry at all.
fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
}

/// An answer: `root` names the XML document element; JSON drops it, per the specification.
fn answer(format: Format, status: StatusCode, root: &str, node: Node) -> Response {
    match format {
        Format::Json => {
            let body = node.to_json().to_string();
            (status, [(CONTENT_TYPE, "application/json; charset=utf-8")], body).into_response()
        }
        Format::Xml => {
            let mut body = String::from(r#"<?xml version="1.0" encoding="utf-8"?>"#);
            element(root, &node, &mut body);
            (status, [(CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
        }
    }
}

/// A refusal in the specification's shape, with Pingan's own code in the description.
struct Refusal {
    status: StatusCode,
    description: String,
}

impl Refusal {
    fn new(status: StatusCode, description: impl Into<String>) -> Refusal {
        Refusal { status, description: description.into() }
    }

    fn render(self, format: Format) -> Response {
        let error = Node::Object(vec![
            ("code", Node::Integer(i64::from(self.status.as_u16()))),
            ("description", text(self.description)),
        ]);
        answer(format, self.status, "errors", Node::List("error", vec![error]))
    }
}

impl From<AppError> for Refusal {
    fn from(error: AppError) -> Refusal {
        let status = match &error {
            AppError::CaseNotFound(_) | AppError::UnknownCategory(_) => StatusCode::NOT_FOUND,
            AppError::OutsideFilersArea { .. } => StatusCode::FORBIDDEN,
            AppError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        if status.is_server_error() {
            tracing::error!(%error, "an Open311 request failed");
        }
        Refusal::new(status, format!("{}: {} / {}", error.code(), error.message_en(), error.message_zh()))
    }
}

/// Runs `work` for a file name's format; an unknown extension is answered in XML, the
/// specification's own format.
async fn in_format<F>(file: &str, expected: &str, work: impl FnOnce(Format) -> F) -> Response
where
    F: Future<Output = Result<Response, Refusal>>,
{
    let Some((_, format)) = split(file).filter(|(stem, _)| expected.is_empty() || *stem == expected) else {
        return Refusal::new(StatusCode::NOT_FOUND, "no such resource: use .xml or .json").render(Format::Xml);
    };
    work(format).await.unwrap_or_else(|refusal| refusal.render(format))
}

/// The query string's parameters; an empty value counts as absent, per the specification.
type Pairs = Vec<(String, String)>;

fn parameter<'a>(pairs: &'a Pairs, name: &str) -> Option<&'a str> {
    pairs.iter().rev().find(|(n, v)| n == name && !v.is_empty()).map(|(_, v)| v.as_str())
}

fn query(parsed: Result<Query<Pairs>, QueryRejection>) -> Result<Pairs, Refusal> {
    parsed.map(|Query(pairs)| pairs).map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, e.body_text()))
}

/// The division a `jurisdiction_id` names (a division code), if given; an unknown one is 404.
fn jurisdiction(state: &AppState, pairs: &Pairs) -> Result<Option<DivisionCode>, Refusal> {
    let Some(code) = parameter(pairs, "jurisdiction_id") else { return Ok(None) };
    state
        .atlas
        .known_division(code)
        .map(Some)
        .ok_or_else(|| Refusal::new(StatusCode::NOT_FOUND, format!("no jurisdiction {code:?}: use a division code")))
}

/// Whether `case` lies in the jurisdiction asked for (any, when none was).
fn in_jurisdiction(within: Option<&DivisionCode>, case: &CaseRow) -> bool {
    within.is_none_or(|code| case.division.as_str().starts_with(code.as_str()))
}

/// GET /open311/discovery.{json,xml}
async fn discovery(headers: HeaderMap, Path(file): Path<String>) -> Response {
    // The endpoint's address as the client reached it (a reverse proxy says whether over HTTPS).
    let host = headers.get(HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost").to_owned();
    let https = headers.get("x-forwarded-proto").is_some_and(|p| p.as_bytes() == b"https");
    let url = format!("{}://{host}/open311/v2", if https { "https" } else { "http" });
    in_format(&file, "discovery", |format| async move {
        let endpoint = Node::Object(vec![
            ("specification", text(SPECIFICATION)),
            ("url", text(url)),
            ("changeset", text(env!("CARGO_PKG_VERSION"))),
            ("type", text("production")),
            ("formats", Node::List("format", vec![text("text/xml"), text("application/json")])),
        ]);
        let document = Node::Object(vec![
            ("changeset", text(env!("CARGO_PKG_VERSION"))),
            ("contact", text("平安 Pingan: the governance centre that runs this server")),
            ("key_service", text("API keys are issued by the governance centre's administrator")),
            ("endpoints", Node::List("endpoint", vec![endpoint])),
        ]);
        Ok(answer(format, StatusCode::OK, "discovery", document))
    })
    .await
}

/// GET /open311/v2/services.{json,xml} and GET /open311/v2/requests.{json,xml}
async fn list(
    State(state): State<AppState>,
    Path(file): Path<String>,
    parsed: Result<Query<Pairs>, QueryRejection>,
) -> Response {
    let resource = split(&file).map(|(stem, _)| stem.to_owned()).unwrap_or_default();
    in_format(&file, "", |format| async move {
        let pairs = query(parsed)?;
        match resource.as_str() {
            "services" => services(&state, &pairs, format),
            "requests" => requests(&state, &pairs, format).await,
            _ => Err(Refusal::new(StatusCode::NOT_FOUND, format!("no resource {resource:?}"))),
        }
    })
    .await
}

fn services(state: &AppState, pairs: &Pairs, format: Format) -> Result<Response, Refusal> {
    jurisdiction(state, pairs)?;
    let book = state.context.categories();
    let services = book
        .leaves()
        .into_iter()
        .map(|category| {
            Node::Object(vec![
                ("service_code", text(&category.code)),
                ("service_name", text(&category.name_zh)),
                ("description", text(&category.name_en)),
                ("metadata", Node::Bool(false)),
                ("type", text("realtime")),
                ("keywords", text(format!("{}, {}", category.name_zh, category.name_en))),
                ("group", Node::Text(book.family_name(category).map(str::to_owned))),
            ])
        })
        .collect();
    Ok(answer(format, StatusCode::OK, "services", Node::List("service", services)))
}

/// GET /open311/v2/services/{code}.{json,xml} — no service asks for more than the report itself.
async fn service_definition(
    State(state): State<AppState>,
    Path(file): Path<String>,
    parsed: Result<Query<Pairs>, QueryRejection>,
) -> Response {
    let code = split(&file).map(|(stem, _)| stem.to_owned()).unwrap_or_default();
    in_format(&file, "", |format| async move {
        jurisdiction(&state, &query(parsed)?)?;
        if state.context.categories().leaf(&code).is_none() {
            return Err(Refusal::new(StatusCode::NOT_FOUND, format!("no service {code:?}")));
        }
        let definition =
            Node::Object(vec![("service_code", text(code)), ("attributes", Node::List("attribute", vec![]))]);
        Ok(answer(format, StatusCode::OK, "service_definition", definition))
    })
    .await
}

/// Open (being handled) or closed (handled, refused or merged), as the specification counts.
fn open311_status(status: Status) -> &'static str {
    match status {
        Status::Reported | Status::Accepted | Status::Dispatched | Status::InProgress | Status::Resolved => "open",
        Status::Verified | Status::CalledBack | Status::Closed | Status::Rejected | Status::Merged => "closed",
    }
}

fn w3c(at: Timestamp) -> Option<String> {
    let time: DateTime<FixedOffset> =
        DateTime::from_timestamp_millis(at.millis())?.with_timezone(&china_standard_time());
    Some(time.to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
}

fn request_node(state: &AppState, case: CaseRow) -> Node {
    let book = state.context.categories();
    let service_name = book.leaf(&case.category).map(|c| c.name_zh.clone());
    let body = &case.body;
    let updated = [Some(case.reported_at), body.dispatched_at, body.claimed_at, body.resolved_at, body.closed_at]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(case.reported_at);
    let number = |value: Option<f64>| value.map_or(Node::Text(None), Node::Number);
    Node::Object(vec![
        ("service_request_id", text(case.number.map(|n| n.to_string()).unwrap_or(case.id))),
        ("status", text(open311_status(case.status))),
        ("status_notes", Node::Text(body.result.clone())),
        ("service_name", Node::Text(service_name)),
        ("service_code", text(case.category)),
        ("description", text(body.description.clone())),
        ("agency_responsible", Node::Text(case.handler.as_deref().and_then(|h| state.unit_name(h)))),
        ("service_notice", Node::Text(None)),
        ("requested_datetime", Node::Text(w3c(case.reported_at))),
        ("updated_datetime", Node::Text(w3c(updated))),
        ("expected_datetime", Node::Text(case.resolve_due.and_then(w3c))),
        ("address", Node::Text(body.address.clone())),
        ("address_id", Node::Text(None)),
        ("zipcode", Node::Text(None)),
        ("lat", number(body.lat)),
        ("long", number(body.lon)),
        ("media_url", Node::Text(body.media_url.clone())),
    ])
}

fn parse_w3c(name: &str, value: &str) -> Result<i64, Refusal> {
    DateTime::parse_from_rfc3339(value).map(|t| t.timestamp_millis()).map_err(|_| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            format!("{name} must be a W3C date-time with a zone: 2010-01-01T00:00:00Z"),
        )
    })
}

async fn requests(state: &AppState, pairs: &Pairs, format: Format) -> Result<Response, Refusal> {
    let within = jurisdiction(state, pairs)?;
    let found = if let Some(ids) = parameter(pairs, "service_request_id") {
        // Named requests: every other parameter is ignored, per the specification.
        let mut found = Vec::new();
        for id in ids.split(',').map(str::trim).filter(|id| !id.is_empty()).take(MAX_REQUESTS as usize) {
            match state.engine.find_public(id).await {
                Ok(case) if in_jurisdiction(within.as_ref(), &case) => found.push(case),
                Ok(_) | Err(AppError::CaseNotFound(_)) => {}
                Err(error) => return Err(error.into()),
            }
        }
        found
    } else {
        let now = state.context.timestamp().millis();
        let end = parameter(pairs, "end_date").map(|v| parse_w3c("end_date", v)).transpose()?;
        let start = parameter(pairs, "start_date").map(|v| parse_w3c("start_date", v)).transpose()?;
        let span = Duration::days(MAX_SPAN_DAYS).num_milliseconds();
        let (start, end) = match (start, end) {
            (Some(start), Some(end)) => (start, end),
            (Some(start), None) => (start, start + span),
            (None, Some(end)) => (end - span, end),
            (None, None) => (now - span, now),
        };
        if end < start || end - start > span {
            let why = format!("start_date to end_date must be a span of at most {MAX_SPAN_DAYS} days");
            return Err(Refusal::new(StatusCode::BAD_REQUEST, why));
        }
        let mut filter = CaseFilter {
            division: within.clone(),
            reported_from: Some(Timestamp::from_millis(start)),
            reported_before: Some(Timestamp::from_millis(end.saturating_add(1))),
            limit: MAX_REQUESTS,
            ..CaseFilter::default()
        };
        if let Some(codes) = parameter(pairs, "service_code") {
            filter.categories = codes.split(',').map(|c| c.trim().to_owned()).collect();
        }
        if let Some(statuses) = parameter(pairs, "status") {
            for wanted in statuses.split(',').map(str::trim) {
                if wanted != "open" && wanted != "closed" {
                    return Err(Refusal::new(StatusCode::BAD_REQUEST, format!("status {wanted:?}: open or closed")));
                }
                filter.statuses.extend(Status::ALL.into_iter().filter(|s| open311_status(*s) == wanted));
            }
        }
        state.engine.list_public(filter).await?
    };
    let requests = found.into_iter().map(|case| request_node(state, case)).collect();
    Ok(answer(format, StatusCode::OK, "service_requests", Node::List("request", requests)))
}

/// GET /open311/v2/requests/{id}.{json,xml} — an array of one, per the specification.
async fn request(
    State(state): State<AppState>,
    Path(file): Path<String>,
    parsed: Result<Query<Pairs>, QueryRejection>,
) -> Response {
    let id = split(&file).map(|(stem, _)| stem.to_owned()).unwrap_or_default();
    in_format(&file, "", |format| async move {
        let within = jurisdiction(&state, &query(parsed)?)?;
        let case = state.engine.find_public(&id).await?;
        if !in_jurisdiction(within.as_ref(), &case) {
            return Err(AppError::CaseNotFound(id).into());
        }
        Ok(answer(format, StatusCode::OK, "service_requests", Node::List("request", vec![request_node(&state, case)])))
    })
    .await
}

/// GET /open311/v2/tokens/{token}.{json,xml} — requests here get their id at once, so no token
/// is ever given out, and none is found.
async fn token(Path(file): Path<String>) -> Response {
    in_format(&file, "", |_format| async move {
        Err(Refusal::new(StatusCode::NOT_FOUND, "no such token: requests get their id when they are filed"))
    })
    .await
}

/// POST /open311/v2/requests.{json,xml} — a form-encoded report, filed with an API key.
async fn create(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    Path(file): Path<String>,
    form: Result<Form<Pairs>, FormRejection>,
) -> Response {
    in_format(&file, "requests", |format| async move {
        let Form(pairs) = form.map_err(|e| {
            let status = match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::BAD_REQUEST,
            };
            Refusal::new(status, e.body_text())
        })?;
        let forbidden = |why: &str| Refusal::new(StatusCode::FORBIDDEN, why);
        let key = parameter(&pairs, "api_key").ok_or_else(|| forbidden("api_key is missing"))?;
        let (client, _) = state
            .accounts
            .authenticate(key, CredentialKind::Token, address)
            .await
            .map_err(|_| forbidden("api_key is not valid"))?;
        client.check_channel(Channel::Open311).map_err(|_| forbidden("this key does not file Open311 requests"))?;
        let area = client.division().ok_or_else(|| forbidden("this key serves no area"))?;
        if let Some(within) = jurisdiction(&state, &pairs)?
            && !area.contains(&within)
        {
            return Err(forbidden("this key does not file requests for that jurisdiction"));
        }
        let service_code = parameter(&pairs, "service_code")
            .ok_or_else(|| Refusal::new(StatusCode::BAD_REQUEST, "service_code is missing"))?;
        if state.context.categories().leaf(service_code).is_none() {
            return Err(Refusal::new(StatusCode::NOT_FOUND, format!("no service {service_code:?}")));
        }
        let coordinate = |name: &str| {
            parameter(&pairs, name)
                .map(|v| {
                    v.parse::<f64>()
                        .map_err(|_| Refusal::new(StatusCode::BAD_REQUEST, format!("{name} is not a number")))
                })
                .transpose()
        };
        let address_string = parameter(&pairs, "address_string");
        // A point, or else an address that names its place (the specification's location rule).
        let point = match (coordinate("lat")?, coordinate("long")?, address_string) {
            (Some(lat), Some(lon), _) => Some((lon, lat)),
            (None, None, Some(_)) => None,
            (Some(_), None, _) | (None, Some(_), _) => {
                return Err(Refusal::new(StatusCode::BAD_REQUEST, "lat and long go together: give both"));
            }
            (None, None, None) => {
                let why = "a location is required: lat and long, or address_string";
                return Err(Refusal::new(StatusCode::BAD_REQUEST, why));
            }
        };
        let description = parameter(&pairs, "description").unwrap_or_default();
        if description.chars().count() > MAX_DESCRIPTION {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                format!("description is longer than {MAX_DESCRIPTION} characters"),
            ));
        }
        let name: String =
            [parameter(&pairs, "last_name"), parameter(&pairs, "first_name")].into_iter().flatten().collect();
        let reporter = Reporter {
            name: Some(name).filter(|n| !n.is_empty()),
            phone: parameter(&pairs, "phone").map(str::to_owned),
            id_number: None,
        };
        let submitted = state
            .engine
            .submit(Submission {
                channel: Channel::Open311,
                actor: Actor::Reporter { channel: Channel::Open311.as_str().to_owned(), id: client.login.clone() },
                category: service_code.to_owned(),
                priority: Priority::Normal,
                lon: point.map(|(lon, _)| lon),
                lat: point.map(|(_, lat)| lat),
                grid: None,
                address: address_string.map(str::to_owned),
                description: description.to_owned(),
                reporter: Some(reporter),
                idempotency_key: None,
                settled_on_spot: None,
                photos: Vec::new(),
                reporter_account: Some(client.account_id.clone()),
                follow_token_hash: None,
                media_url: parameter(&pairs, "media_url").map(str::to_owned),
                within: Some(area),
                held_for_dispatch: false,
            })
            .await?;
        let case = submitted.case;
        let notice = is_public_category(&case.category)
            .then_some("可通过本接口查询办理进度 · follow it here")
            .map(str::to_owned);
        let filed = Node::Object(vec![
            ("service_request_id", text(case.number.map(|n| n.to_string()).unwrap_or(case.id))),
            ("service_notice", Node::Text(notice)),
            ("account_id", Node::Text(None)),
        ]);
        Ok(answer(format, StatusCode::OK, "service_requests", Node::List("request", vec![filed])))
    })
    .await
}
