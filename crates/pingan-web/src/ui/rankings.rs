//! The monthly ranking bulletin (排名通报) on the workbench: the sub-units of a centre ranked by
//! their score, with a chart of the scores, the laggards to summon, the weights in force (which an
//! administrator may change here), the XLSX workbook to download, and a print layout.

use std::fmt::Write;

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use pingan_app::rankings::{Bulletin, BulletinRequest, Ranked, RankingWeights};
use pingan_core::access::Role;
use serde::Deserialize;

use crate::api::accounts::auth::same_secret;
use crate::ui::shell::{Shell, Signed, problem_page, render};
use crate::{ApiError, AppState};

#[derive(Deserialize, Default)]
pub struct BulletinQuery {
    division: Option<String>,
    month: Option<String>,
    of: Option<String>,
    /// `weights`: the weights were just set.
    done: Option<String>,
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".to_owned(), |r| format!("{:.2}%", r * 100.0))
}

/// The scores as horizontal bars, best first.
fn score_chart(bulletin: &Bulletin, shell: &Shell) -> String {
    let ranked: Vec<_> = bulletin.entries.iter().filter(|e| e.score.is_some()).collect();
    let (row, width, label) = (18.0_f64, 720.0_f64, 200.0_f64);
    let height = row * ranked.len().max(1) as f64 + 4.0;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" id="score-chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="score-title"><title id="score-title">{}</title>"#,
        shell.t("综合得分", "Scores")
    );
    let line = width - label - 60.0;
    for (index, entry) in ranked.iter().enumerate() {
        let y = index as f64 * row + 2.0;
        let score = entry.score.unwrap_or(0.0);
        let colour = if entry.laggard { "#e03131" } else { "#1c7ed6" };
        let name: String = entry.name.chars().take(14).collect();
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="end" fill="#212529">{}</text><rect x="{label}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{colour}"/><text x="{:.1}" y="{:.1}" font-size="12" fill="#212529">{score:.2}</text>"##,
            label - 6.0,
            y + 12.0,
            crate::ui::map::escape(&name),
            line * score / 100.0,
            row - 4.0,
            label + line * score / 100.0 + 4.0,
            y + 12.0
        );
    }
    svg.push_str("</svg>");
    svg
}

pub struct EntryRow {
    pub rank: String,
    pub code: String,
    pub name: String,
    pub score: String,
    pub reported: i64,
    pub closed: i64,
    pub closure: String,
    pub on_time: String,
    pub satisfaction: String,
    pub overdue: i64,
    pub laggard: bool,
    pub reasons: String,
}

#[derive(Template)]
#[template(path = "work/bulletin.html")]
struct BulletinPage {
    shell: Shell,
    bulletin: Bulletin,
    ranked: &'static str,
    rows: Vec<EntryRow>,
    chart: String,
    xlsx: String,
    may_set_weights: bool,
    weights_saved: bool,
}

/// GET /work/bulletin — a centre's monthly ranking bulletin.
pub async fn show(State(state): State<AppState>, signed: Signed, Query(query): Query<BulletinQuery>) -> Response {
    let shell = signed.shell(&state, "/work/bulletin");
    // A form's empty field asks for the default.
    let given = |field: &Option<String>| field.clone().filter(|text| !text.trim().is_empty());
    let request =
        BulletinRequest { division: given(&query.division), month: given(&query.month), ranked: given(&query.of) };
    let bulletin = match pingan_app::rankings::bulletin(&state.context, &signed.principal, request).await {
        Ok(bulletin) => bulletin,
        Err(error) => return problem_page(&shell, ApiError::from(error)),
    };
    let may_set_weights = signed.principal.has(Role::Administrator);
    let page = bulletin_page(bulletin, shell, may_set_weights, query.done.as_deref() == Some("weights"));
    render(&page, StatusCode::OK)
}

fn bulletin_page(bulletin: Bulletin, shell: Shell, may_set_weights: bool, weights_saved: bool) -> BulletinPage {
    let rows = bulletin
        .entries
        .iter()
        .map(|e| EntryRow {
            rank: e.rank.map(|r| r.to_string()).unwrap_or_else(|| "—".into()),
            code: e.code.clone(),
            name: e.name.clone(),
            score: e.score.map_or_else(|| "—".into(), |s| format!("{s:.2}")),
            reported: e.figures.reported,
            closed: e.figures.closed,
            closure: percent(e.figures.closure_rate),
            on_time: percent(e.figures.on_time_rate),
            satisfaction: percent(e.figures.satisfaction_rate),
            overdue: e.figures.overdue,
            laggard: e.laggard,
            reasons: shell.t(&e.reasons_zh.join("；"), &e.reasons_en.join("; ")).to_owned(),
        })
        .collect();
    let ranked = bulletin.ranked.as_str();
    let xlsx =
        format!("/api/v1/rankings?division={}&month={}&of={ranked}&format=xlsx", bulletin.division, bulletin.month);
    BulletinPage {
        chart: score_chart(&bulletin, &shell),
        may_set_weights,
        weights_saved,
        ranked,
        rows,
        xlsx,
        bulletin,
        shell,
    }
}

/// The bulletin as a page to print, in Chinese, outside any session (what `pingan report
/// bulletin` writes beside the workbook).
pub fn printable(bulletin: Bulletin) -> Result<String, askama::Error> {
    bulletin_page(bulletin, Shell::anonymous(crate::ui::shell::Lang::Zh), false, false).render()
}

#[derive(Deserialize)]
pub struct WeightsForm {
    csrf: String,
    division: String,
    month: String,
    of: String,
    closure: u32,
    on_time: u32,
    satisfaction: u32,
    returns: u32,
    overdue: u32,
    laggard_below: f64,
    laggard_last: u32,
}

/// POST /work/bulletin/weights — an administrator sets the weights, then sees the bulletin again.
pub async fn set_weights(
    State(state): State<AppState>,
    signed: Signed,
    form: Result<Form<WeightsForm>, FormRejection>,
) -> Response {
    let shell = signed.shell(&state, "/work/bulletin");
    let Ok(Form(form)) = form else {
        return problem_page(&shell, ApiError::invalid_parameter("weights", "the form is incomplete or not numbers"));
    };
    if !same_secret(&signed.csrf, &form.csrf) {
        return problem_page(
            &shell,
            ApiError::from(pingan_app::AppError::from(pingan_app::access::AccessError::CsrfFailed)),
        );
    }
    let weights = RankingWeights {
        closure: form.closure,
        on_time: form.on_time,
        satisfaction: form.satisfaction,
        returns: form.returns,
        overdue: form.overdue,
        laggard_below: form.laggard_below,
        laggard_last: form.laggard_last,
    };
    let set = pingan_app::rankings::set_weights(&state.context, &signed.principal, Some(&form.division), weights);
    match set.await {
        Ok(_) => {
            let of = Ranked::parse(&form.of).unwrap_or(Ranked::Divisions).as_str();
            let location = format!(
                "/work/bulletin?division={}&month={}&of={of}&done=weights",
                url_part(&form.division),
                url_part(&form.month)
            );
            (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response()
        }
        Err(error) => problem_page(&shell, ApiError::from(error)),
    }
}

fn url_part(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
