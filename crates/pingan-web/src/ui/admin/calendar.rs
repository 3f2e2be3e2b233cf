//! The official calendar in force (`/work/admin/calendar`): the days off and make-up working days
//! (调休) the State Council's notices list for this year and the next, and the office hours within
//! which working time — and so every deadline — runs. Read-only: the calendar is the shipped data.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Datelike;
use pingan_core::calendar::{DayKind, china_standard_time};

use super::{Tab, administrator, tabs};
use crate::AppState;
use crate::ui::shell::{Shell, Signed, render};

const PATH: &str = "/work/admin/calendar";

pub struct DayLine {
    pub date: String,
    pub weekday_zh: &'static str,
    pub weekday_en: &'static str,
    /// `rest` or `work`.
    pub kind: &'static str,
    pub holiday_zh: String,
    pub holiday_en: String,
}

pub struct Year {
    pub year: i32,
    /// Whether the year's notice is known (otherwise only weekends are days off).
    pub covered: bool,
    pub days: Vec<DayLine>,
}

#[derive(Template)]
#[template(path = "work/admin/calendar.html")]
struct CalendarPage {
    shell: Shell,
    tabs: Vec<Tab>,
    years: Vec<Year>,
    /// Office hours: (start, end), as HH:MM.
    hours: Vec<(String, String)>,
}

const WEEKDAYS_ZH: [&str; 7] = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];
const WEEKDAYS_EN: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// GET /work/admin/calendar
pub async fn show(State(state): State<AppState>, signed: Signed) -> Response {
    let shell = match administrator(&state, &signed, PATH) {
        Ok(shell) => shell,
        Err(refused) => return *refused,
    };
    let clock = state.context.work_clock();
    let this_year = state.context.now().with_timezone(&china_standard_time()).year();
    let years = [this_year, this_year + 1]
        .into_iter()
        .map(|year| Year {
            year,
            covered: clock.calendar().covers(year),
            days: clock
                .calendar()
                .listed(year)
                .into_iter()
                .map(|day| DayLine {
                    date: day.date.format("%Y-%m-%d").to_string(),
                    weekday_zh: WEEKDAYS_ZH[day.date.weekday().num_days_from_monday() as usize],
                    weekday_en: WEEKDAYS_EN[day.date.weekday().num_days_from_monday() as usize],
                    kind: if day.kind == DayKind::Rest { "rest" } else { "work" },
                    holiday_zh: day.holiday_zh,
                    holiday_en: day.holiday_en,
                })
                .collect(),
        })
        .collect();
    let hours = clock
        .hours()
        .periods()
        .iter()
        .map(|(start, end)| (start.format("%H:%M").to_string(), end.format("%H:%M").to_string()))
        .collect();
    let page = CalendarPage { tabs: tabs(PATH), years, hours, shell };
    render(&page, StatusCode::OK)
}
