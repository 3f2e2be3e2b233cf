//! The command centre (指挥中心) of a governance centre: its subtree's indicators for a month and
//! for the year to that month, the trend of the twelve months before, its child divisions side by
//! side (sortable, each a link one level down), the breakdowns by category family and by channel,
//! a map of its grids (or, above a county, its counties) filled by the cases open in them, and a
//! live feed of case actions. Every figure is read through `pingan_app::indicators`, with the
//! person's rights: a division outside their centre's subtree is refused as the API refuses it.

use std::collections::HashMap;
use std::fmt::Write;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use pingan_app::AppError;
use pingan_app::access::AccessError;
use pingan_app::indicators::{IndicatorReport, IndicatorRequest, Indicators, PartIndicators, grid_workloads};
use pingan_core::{DivisionCode, Level, Month, Reason, Unit};
use serde::Deserialize;

use crate::ui::map::{Place, Workload, render_workload_svg};
use crate::ui::shell::{Shell, Signed, problem_page, render};
use crate::{ApiError, AppState};

#[derive(Deserialize, Default)]
pub struct CentreQuery {
    division: Option<String>,
    /// `YYYY-MM`; this month when absent.
    month: Option<String>,
    /// `month` (the default) or `year`: the span the child table and the breakdowns cover.
    span: Option<String>,
    /// The child table's column to sort by, and `asc` or `desc`.
    sort: Option<String>,
    dir: Option<String>,
}

/// A figure as the page prints it.
fn rate(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{:.2}%", v * 100.0))
}

fn hours(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{v:.1}"))
}

/// One of the key figures, for the month and for the year.
pub struct Card {
    pub id: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
    pub month: String,
    pub year: String,
}

/// The key figures, in the order the page shows them.
fn cards(month: &Indicators, year: &Indicators) -> Vec<Card> {
    type Figure = fn(&Indicators) -> String;
    let figures: [(&str, &str, &str, Figure); 8] = [
        ("reported", "上报", "Reported", |i| i.reported.to_string()),
        ("closed", "办结", "Closed", |i| i.closed.to_string()),
        ("closure-rate", "办结率", "Closure rate", |i| rate(i.closure_rate)),
        ("on-time-rate", "按期办结率", "Closed on time", |i| rate(i.on_time_rate)),
        ("satisfaction-rate", "满意率", "Satisfaction", |i| rate(i.satisfaction_rate)),
        ("open", "在办", "Open", |i| i.open.to_string()),
        ("overdue", "超期", "Overdue", |i| i.overdue.to_string()),
        ("hours-to-close", "平均办结时长（小时）", "Mean hours to close", |i| hours(i.mean_hours_to_close)),
    ];
    figures
        .into_iter()
        .map(|(id, zh, en, figure)| Card { id, zh, en, month: figure(month), year: figure(year) })
        .collect()
}

/// A sortable column of the child table: its key, its heading, and the value it sorts by.
struct Column {
    key: &'static str,
    zh: &'static str,
    en: &'static str,
    value: fn(&Indicators) -> f64,
}

const COLUMNS: [Column; 7] = [
    Column { key: "reported", zh: "上报", en: "Reported", value: |i| i.reported as f64 },
    Column { key: "closed", zh: "办结", en: "Closed", value: |i| i.closed as f64 },
    Column { key: "closure_rate", zh: "办结率", en: "Closure", value: |i| i.closure_rate.unwrap_or(-1.0) },
    Column { key: "on_time_rate", zh: "按期率", en: "On time", value: |i| i.on_time_rate.unwrap_or(-1.0) },
    Column {
        key: "satisfaction_rate",
        zh: "满意率",
        en: "Satisfaction",
        value: |i| i.satisfaction_rate.unwrap_or(-1.0),
    },
    Column { key: "open", zh: "在办", en: "Open", value: |i| i.open as f64 },
    Column { key: "overdue", zh: "超期", en: "Overdue", value: |i| i.overdue as f64 },
];

/// A heading of the child table, with the link that sorts by it.
pub struct Heading {
    pub zh: &'static str,
    pub en: &'static str,
    pub href: String,
    /// `ascending`, `descending` or `none`, for `aria-sort`.
    pub sorted: &'static str,
}

pub struct ChildRow {
    pub code: String,
    pub name: String,
    pub cells: Vec<String>,
}

/// A part of the figures (a family, a channel) with its share of the cases reported.
pub struct PartRow {
    pub code: String,
    pub name: String,
    pub reported: i64,
    pub closed: i64,
    pub closure_rate: String,
    pub overdue: i64,
    /// Of the span's cases, in per cent, rounded for the bar's width.
    pub share: u32,
}

fn part_rows(parts: &[PartIndicators], total: i64, shell: &Shell) -> Vec<PartRow> {
    parts
        .iter()
        .map(|part| PartRow {
            code: part.code.clone(),
            name: shell.t(&part.name_zh, &part.name_en).to_owned(),
            reported: part.indicators.reported,
            closed: part.indicators.closed,
            closure_rate: rate(part.indicators.closure_rate),
            overdue: part.indicators.overdue,
            share: if total > 0 { (part.indicators.reported * 100 / total).clamp(0, 100) as u32 } else { 0 },
        })
        .collect()
}

/// A month of the trend.
pub struct TrendRow {
    pub month: String,
    pub reported: i64,
    pub closed: i64,
    pub closure_rate: String,
}

/// The trend as bars: reported and closed, month by month.
fn trend_svg(rows: &[TrendRow], shell: &Shell) -> String {
    let (width, height, base) = (720.0_f64, 200.0_f64, 170.0_f64);
    let most = rows.iter().map(|r| r.reported.max(r.closed)).max().unwrap_or(0).max(1) as f64;
    let slot = width / rows.len().max(1) as f64;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" id="trend-chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="trend-title"><title id="trend-title">{}</title>"##,
        shell.t("近十二个月上报与办结", "Reported and closed over twelve months")
    );
    let _ = write!(svg, r##"<line x1="0" y1="{base}" x2="{width}" y2="{base}" stroke="#868e96"/>"##);
    for (index, row) in rows.iter().enumerate() {
        let x = index as f64 * slot;
        let bar = (slot - 12.0) / 2.0;
        for (offset, value, colour, what) in [
            (6.0, row.reported, "#1c7ed6", shell.t("上报", "reported")),
            (6.0 + bar, row.closed, "#2f9e44", shell.t("办结", "closed")),
        ] {
            let tall = value as f64 / most * (base - 20.0);
            let _ = write!(
                svg,
                r#"<rect x="{:.1}" y="{:.1}" width="{bar:.1}" height="{tall:.1}" fill="{colour}"><title>{} {what} {value}</title></rect>"#,
                x + offset,
                base - tall,
                row.month
            );
        }
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#495057">{}</text>"##,
            x + slot / 2.0,
            base + 16.0,
            &row.month[5..]
        );
    }
    svg.push_str("</svg>");
    svg
}

#[derive(Template)]
#[template(path = "work/centre.html")]
struct CentrePage {
    shell: Shell,
    division: String,
    division_name: String,
    /// From the person's own division down to this one, each a link.
    trail: Vec<(String, String)>,
    month: String,
    span: &'static str,
    cards: Vec<Card>,
    trend: Vec<TrendRow>,
    trend_svg: String,
    headings: Vec<Heading>,
    children: Vec<ChildRow>,
    families: Vec<PartRow>,
    channels: Vec<PartRow>,
    map_svg: String,
    /// The places of the map with open cases, busiest first, for the table beside it.
    busiest: Vec<(String, String, Workload)>,
    /// Whether the map's places are grids (else divisions).
    grid_map: bool,
}

/// `?division=…&month=…&span=…` with the sort asked for, the links of the page keep.
fn page_href(division: &str, month: &str, span: &str, sort: &str, dir: &str) -> String {
    format!("/work/centre?division={division}&month={month}&span={span}&sort={sort}&dir={dir}")
}

/// GET /work/centre — the command centre of the person's centre, or of a division below it.
pub async fn show(State(state): State<AppState>, signed: Signed, Query(query): Query<CentreQuery>) -> Response {
    let shell = signed.shell(&state, "/work/centre");
    match page(&state, &signed, shell, query).await {
        Ok(page) => render(&page, StatusCode::OK),
        Err(error) => problem_page(&signed.shell(&state, "/work/centre"), error),
    }
}

async fn page(state: &AppState, signed: &Signed, shell: Shell, query: CentreQuery) -> Result<CentrePage, ApiError> {
    let by = &signed.principal;
    let own = match by.unit.as_deref().map(Unit::parse) {
        Some(Ok(Unit::Centre(code))) => code,
        _ => {
            let reason =
                Reason::new("指挥中心仅供综治中心人员使用", "the command centre is for governance centres' staff");
            return Err(AppError::from(AccessError::Forbidden(reason)).into());
        }
    };
    let division = match query.division.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        Some(code) => DivisionCode::parse(code).map_err(|_| AppError::UnknownDivision(code.to_owned()))?,
        None => own.clone(),
    };
    let now = state.context.timestamp();
    let month = match query.month.as_deref().filter(|m| !m.is_empty()) {
        Some(text) => Month::parse(text).map_err(|_| ApiError::invalid_parameter("month", text))?,
        None => Month::of_instant(now),
    };
    let span = if query.span.as_deref() == Some("year") { "year" } else { "month" };
    let ask = |from: Month, children: bool| IndicatorRequest {
        division: Some(division.to_string()),
        unit: None,
        from: Some(from.to_string()),
        to: Some(month.to_string()),
        without_children: !children,
    };
    let context = &state.context;
    let january = Month::new(month.year(), 1).unwrap_or(month);
    let twelve_back = (0..11).fold(month, |m, _| m.previous());
    // The month's own figures are the trend's last month; the child table and the breakdowns come
    // from the span asked for.
    let trend_report = pingan_app::indicators::indicators(context, by, ask(twelve_back, false)).await?;
    let of_year = pingan_app::indicators::indicators(context, by, ask(january, span == "year")).await?;
    let of_month = match span {
        "year" => None,
        _ => Some(pingan_app::indicators::indicators(context, by, ask(month, true)).await?),
    };
    let spanned: &IndicatorReport = of_month.as_ref().unwrap_or(&of_year);
    let month_total = trend_report.months.last().map(|m| m.indicators.clone()).unwrap_or_default();

    let trend: Vec<TrendRow> = trend_report
        .months
        .iter()
        .map(|m| TrendRow {
            month: m.month.clone(),
            reported: m.indicators.reported,
            closed: m.indicators.closed,
            closure_rate: rate(m.indicators.closure_rate),
        })
        .collect();

    let (sort, descending) = match COLUMNS.iter().find(|c| Some(c.key) == query.sort.as_deref()) {
        Some(column) => (Some(column), query.dir.as_deref() != Some("asc")),
        None => (None, false),
    };
    let mut children: Vec<&pingan_app::indicators::DivisionIndicators> = spanned.children.iter().collect();
    if let Some(column) = sort {
        children.sort_by(|a, b| (column.value)(&a.indicators).total_cmp(&(column.value)(&b.indicators)));
        if descending {
            children.reverse();
        }
    }
    let month_text = month.to_string();
    let headings = COLUMNS
        .iter()
        .map(|column| {
            let this = sort.is_some_and(|s| s.key == column.key);
            let next_dir = if this && descending { "asc" } else { "desc" };
            Heading {
                zh: column.zh,
                en: column.en,
                href: page_href(division.as_str(), &month_text, span, column.key, next_dir),
                sorted: match (this, descending) {
                    (false, _) => "none",
                    (true, true) => "descending",
                    (true, false) => "ascending",
                },
            }
        })
        .collect();
    let children = children
        .into_iter()
        .map(|child| ChildRow {
            code: child.code.clone(),
            name: child.name.clone(),
            cells: COLUMNS
                .iter()
                .map(|column| match column.key {
                    "closure_rate" => rate(child.indicators.closure_rate),
                    "on_time_rate" => rate(child.indicators.on_time_rate),
                    "satisfaction_rate" => rate(child.indicators.satisfaction_rate),
                    _ => ((column.value)(&child.indicators) as i64).to_string(),
                })
                .collect(),
        })
        .collect();

    let total = spanned.total.reported;
    let families = part_rows(&spanned.families, total, &shell);
    let channels = part_rows(&spanned.channels, total, &shell);

    let workloads = grid_workloads(context, by, &division).await?;
    let (map_svg, busiest, grid_map) = workload_map(state, &shell, &division, &workloads);

    let mut trail = Vec::new();
    for code in division.lineage() {
        if code.as_str().starts_with(own.as_str()) {
            let name = state.atlas.division_name(code.as_str()).unwrap_or_else(|| code.to_string());
            trail.push((code.to_string(), name));
        }
    }
    Ok(CentrePage {
        division: division.to_string(),
        division_name: of_year.division_name.clone(),
        trail,
        month: month_text,
        span,
        cards: cards(&month_total, &of_year.total),
        trend_svg: trend_svg(&trend, &shell),
        trend,
        headings,
        children,
        families,
        channels,
        map_svg,
        busiest,
        grid_map,
        shell,
    })
}

/// The map of a county or a place below it is of its grids, each leading to the grid's open cases;
/// above a county, of its counties, each leading to the county's command centre.
fn workload_map(
    state: &AppState,
    shell: &Shell,
    division: &DivisionCode,
    workloads: &[pingan_store::indicators::GridWorkload],
) -> (String, Vec<(String, String, Workload)>, bool) {
    let by_grid: HashMap<&str, Workload> =
        workloads.iter().map(|w| (w.grid.as_str(), Workload { open: w.open, overdue: w.overdue })).collect();
    let label = |name: &str, workload: Workload| {
        format!(
            "{name}：{} {}，{} {}",
            shell.t("在办", "open"),
            workload.open,
            shell.t("超期", "overdue"),
            workload.overdue
        )
    };
    let grid_map = division.level() >= Level::County;
    let (svg, mut busiest) = if grid_map {
        let grids = state.atlas.grids_in(division.as_str());
        let outlines = state.atlas.boundaries_in(division.as_str());
        let places: Vec<Place> = grids
            .iter()
            .map(|(code, name, region)| {
                let workload = by_grid.get(code.as_str()).copied().unwrap_or_default();
                Place { label: label(name, workload), region, workload, href: format!("/work?grid={code}&status=open") }
            })
            .collect();
        let busiest: Vec<(String, String, Workload)> = grids
            .iter()
            .filter_map(|(code, name, _)| {
                let workload = by_grid.get(code.as_str()).copied()?;
                Some((format!("/work?grid={code}&status=open"), name.clone(), workload))
            })
            .collect();
        (render_workload_svg(&places, &outlines, shell.t("网格在办案件分布图", "Open cases by grid")), busiest)
    } else {
        let counties = state.atlas.boundaries_in(division.as_str());
        let mut by_county: HashMap<&str, Workload> = HashMap::new();
        for workload in workloads {
            let county = workload.grid.get(..6).unwrap_or_default();
            let sum = by_county.entry(county).or_default();
            sum.open += workload.open;
            sum.overdue += workload.overdue;
        }
        let place_of = |code: &DivisionCode| {
            let workload = by_county.get(code.as_str()).copied().unwrap_or_default();
            let name = state.atlas.division_name(code.as_str()).unwrap_or_else(|| code.to_string());
            (format!("/work/centre?division={code}"), name, workload)
        };
        let places: Vec<Place> = counties
            .iter()
            .map(|(code, region)| {
                let (href, name, workload) = place_of(code);
                Place { label: label(&name, workload), region, workload, href }
            })
            .collect();
        let busiest = counties.iter().map(|(code, _)| place_of(code)).filter(|(_, _, w)| w.open > 0).collect();
        (render_workload_svg(&places, &[], shell.t("各县在办案件分布图", "Open cases by county")), busiest)
    };
    busiest.sort_by(|a, b| (b.2.overdue, b.2.open).cmp(&(a.2.overdue, a.2.open)).then_with(|| a.1.cmp(&b.1)));
    busiest.truncate(20);
    (svg, busiest, grid_map)
}
