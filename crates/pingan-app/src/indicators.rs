//! Indicators (考核指标) for a division's subtree or one handling unit, over a span of months:
//! reported, accepted, closed, the closure, on-time, satisfaction, return and reopen rates,
//! overdue cases and the mean times to claim and to close, with the same figures for each child
//! division, so a level can compare (and rank) the levels below it.
//!
//! A division's figures also come month by month, by channel, by category and by category family.
//!
//! Every figure concerns the cases reported in the months asked for (China Standard Time), as
//! they stand now: a case reported in March and closed in April counts as closed for March. The
//! figures come from the store's tallies (see [`pingan_store::indicators`]); only the overdue
//! count, which depends on the hour, is counted from the open cases.

use std::collections::BTreeMap;

use pingan_core::Reason;
use pingan_core::case::Channel;
use pingan_core::{DivisionCode, Month, Timestamp, Unit};
use pingan_store::indicators::{
    Facet, GridWorkload, GridWorkloadQuery, OverdueCount, OverdueQuery, Scope, Tally, TallyQuery, TallyRow,
    keeps_subtree,
};

use crate::AppError;
use crate::access::{AccessError, Principal};
use crate::context::Context;

/// The longest span one question may cover.
const MAX_MONTHS: i32 = 120;

/// What is asked: a division's subtree or a unit (at most one; neither: the asker's own), and
/// the months `from..=to` as `YYYY-MM` (neither: this month).
#[derive(Clone, Debug, Default)]
pub struct IndicatorRequest {
    pub division: Option<String>,
    pub unit: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Leaves the child divisions' figures out (a page that shows none spares reading them).
    pub without_children: bool,
}

/// The figures of one set of cases.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Indicators {
    pub reported: i64,
    /// Accepted (受理) and not since rejected or merged into another case.
    pub accepted: i64,
    pub open: i64,
    /// Open and past the resolution deadline now.
    pub overdue: i64,
    pub closed: i64,
    /// Closed, resolved within the deadline in force.
    pub closed_on_time: i64,
    pub called_back: i64,
    pub satisfied: i64,
    pub basically_satisfied: i64,
    pub unsatisfied: i64,
    /// Cases returned by a handler at least once.
    pub returned: i64,
    /// Cases reopened after an unsatisfied call-back at least once.
    pub reopened: i64,
    /// 办结率: closed / reported, as the source counts it (35,591 of 36,676 reported: 97.04%).
    /// Every definition: docs/INDICATORS.md.
    pub closure_rate: Option<f64>,
    /// 按期办结率: closed on time / closed.
    pub on_time_rate: Option<f64>,
    /// 满意率: (satisfied + basically satisfied) / called back.
    pub satisfaction_rate: Option<f64>,
    /// returned / accepted.
    pub return_rate: Option<f64>,
    /// reopened / accepted.
    pub reopen_rate: Option<f64>,
    /// Mean hours from dispatch to claim, over the claimed cases.
    pub mean_hours_to_claim: Option<f64>,
    /// Mean hours from report to close, over the closed cases.
    pub mean_hours_to_close: Option<f64>,
}

impl Indicators {
    pub fn of(tally: &Tally, overdue: u64) -> Indicators {
        let t = tally;
        let ratio =
            |part: i64, whole: i64| (whole > 0).then(|| (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0);
        let hours = |ms: i64, count: i64| (count > 0).then(|| (ms as f64 / count as f64 / 360_000.0).round() / 10.0);
        Indicators {
            reported: t.reported,
            accepted: t.accepted,
            open: t.open,
            overdue: i64::try_from(overdue).unwrap_or(i64::MAX),
            closed: t.closed,
            closed_on_time: t.closed_on_time,
            called_back: t.called_back,
            satisfied: t.satisfied,
            basically_satisfied: t.basically_satisfied,
            unsatisfied: t.unsatisfied,
            returned: t.returned,
            reopened: t.reopened,
            closure_rate: ratio(t.closed, t.reported),
            on_time_rate: ratio(t.closed_on_time, t.closed),
            satisfaction_rate: ratio(t.satisfied + t.basically_satisfied, t.called_back),
            return_rate: ratio(t.returned, t.accepted),
            reopen_rate: ratio(t.reopened, t.accepted),
            mean_hours_to_claim: hours(t.claim_ms, t.claimed),
            mean_hours_to_close: hours(t.close_ms, t.closed),
        }
    }
}

/// A division with its figures.
#[derive(Clone, Debug, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct DivisionIndicators {
    pub code: String,
    pub name: String,
    #[serde(flatten)]
    pub indicators: Indicators,
}

/// The figures of one month.
#[derive(Clone, Debug, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct MonthIndicators {
    /// `YYYY-MM`.
    pub month: String,
    #[serde(flatten)]
    pub indicators: Indicators,
}

/// The figures of the cases of one channel, category or category family.
#[derive(Clone, Debug, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct PartIndicators {
    /// The channel's or the category's code.
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    #[serde(flatten)]
    pub indicators: Indicators,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct IndicatorReport {
    /// The division asked for (a unit's division when a unit was asked for).
    pub division: String,
    pub division_name: String,
    /// The handling unit asked for, if one was.
    pub unit: Option<String>,
    /// First and last month covered, `YYYY-MM`.
    pub from: String,
    pub to: String,
    /// When the overdue cases were counted (milliseconds since the Unix epoch).
    #[schema(value_type = i64)]
    pub as_of: Timestamp,
    pub total: Indicators,
    /// The cases the division's own centre is responsible for (none for a unit).
    pub own_level: Option<Indicators>,
    /// Each child division's subtree, by code (none for a unit).
    pub children: Vec<DivisionIndicators>,
    /// The total month by month, from the first month to the last.
    pub months: Vec<MonthIndicators>,
    /// The total by the channel the cases came in through, for the channels that brought any (none
    /// for a unit).
    pub channels: Vec<PartIndicators>,
    /// The total by category family, in the category book's order (none for a unit); a category
    /// the book no longer holds is a family of its own.
    pub families: Vec<PartIndicators>,
    /// The total by category, by code (none for a unit).
    pub categories: Vec<PartIndicators>,
}

/// Staff see the figures of their centre's subtree and of the units in it, or of their own unit;
/// residents, volunteers and other systems see none.
pub(crate) fn check_may_read(by: &Principal, division: &DivisionCode, unit: Option<&str>) -> Result<(), AppError> {
    let refused = || {
        AppError::from(AccessError::Forbidden(Reason::new(
            "查看该区划或单位的考核指标",
            "reading the indicators of this place or unit",
        )))
    };
    let staff = by.roles.iter().any(|&r| crate::access::works_for_unit(r));
    let Some(own_unit) = by.unit.as_deref().filter(|_| staff) else { return Err(refused()) };
    if unit.is_some_and(|u| u == own_unit) {
        return Ok(());
    }
    match Unit::parse(own_unit) {
        Ok(Unit::Centre(code)) if division.as_str().starts_with(code.as_str()) => Ok(()),
        _ => Err(refused()),
    }
}

/// `YYYY-MM`, of the years Pingan's indicators cover.
fn parse_month(field: &'static str, text: &str) -> Result<Month, AppError> {
    Month::parse(text).ok().filter(|month| (2000..=2099).contains(&month.year())).ok_or(AppError::InvalidField {
        field,
        reason: Reason::new("月份须为 YYYY-MM，自 2000-01 至 2099-12", "a month as YYYY-MM, from 2000-01 to 2099-12"),
    })
}

/// The division a unit works in (a grid's village).
fn unit_place(unit: &str) -> Option<DivisionCode> {
    Unit::parse(unit).ok().map(|unit| unit.division())
}

pub async fn indicators(
    context: &Context,
    by: &Principal,
    request: IndicatorRequest,
) -> Result<IndicatorReport, AppError> {
    let now = context.timestamp();
    let this_month = Month::of_instant(now);
    let from = request.from.as_deref().map(|m| parse_month("from", m)).transpose()?;
    let to = request.to.as_deref().map(|m| parse_month("to", m)).transpose()?;
    let (from, to) = match (from, to) {
        (None, None) => (this_month, this_month),
        (Some(from), None) => (from, this_month.max(from)),
        (None, Some(to)) => (to, to),
        (Some(from), Some(to)) => (from, to),
    };
    if to < from {
        return Err(AppError::InvalidField {
            field: "to",
            reason: Reason::new("结束月份早于开始月份", "the last month comes before the first"),
        });
    }
    if from.months_through(to) > MAX_MONTHS {
        return Err(AppError::InvalidField {
            field: "to",
            reason: Reason::new("一次最多 120 个月", "at most 120 months at once"),
        });
    }

    let unit = match (&request.division, &request.unit) {
        (Some(_), Some(_)) => {
            return Err(AppError::InvalidField {
                field: "unit",
                reason: Reason::new("请指定区划或单位之一，不能同时指定", "ask for a division or a unit, not both"),
            });
        }
        (_, Some(unit)) => Some(crate::fields::checked_unit(unit.trim())?),
        // A centre's staff start from their division; anyone else from their unit.
        (None, None) => by.unit.clone().filter(|u| !matches!(Unit::parse(u), Ok(Unit::Centre(_)))),
        (Some(_), None) => None,
    };
    let division = match (&request.division, &unit, &by.unit) {
        (Some(code), _, _) => DivisionCode::parse(code.trim()).map_err(|_| AppError::UnknownDivision(code.clone()))?,
        (None, Some(unit), _) | (None, None, Some(unit)) => {
            unit_place(unit).ok_or_else(|| AppError::UnknownUnit(unit.clone()))?
        }
        (None, None, None) => {
            return Err(AccessError::Forbidden(Reason::new("查看考核指标", "reading indicators")).into());
        }
    };
    check_may_read(by, &division, unit.as_deref())?;
    let store = context.store();
    let named = store.division(&division).await?.ok_or_else(|| AppError::UnknownDivision(division.to_string()))?;
    if let Some(unit) = &unit
        && !crate::units::unit_exists(store, unit).await?
    {
        return Err(AppError::UnknownUnit(unit.clone()));
    }

    let children = match unit {
        Some(_) => Vec::new(),
        None if request.without_children => Vec::new(),
        None => store.children(&division).await?,
    };
    // A province's, city's or county's figures are one tally; a township's or village's, the sum
    // of their divisions' own levels.
    let place = |code: &DivisionCode| match keeps_subtree(code.level()) {
        true => Scope::Subtree(code.clone()),
        false => Scope::Own(code.clone()),
    };
    let query = match &unit {
        Some(unit) => {
            TallyQuery { scopes: Some(vec![Scope::Unit(unit.clone())]), own_under: None, facets_of: None, from, to }
        }
        None => {
            let mut scopes = vec![place(&division), Scope::Own(division.clone())];
            scopes.extend(children.iter().map(|child| place(&child.code)));
            let below_county =
                !keeps_subtree(division.level()) || children.iter().any(|c| !keeps_subtree(c.code.level()));
            let own_under = below_county.then(|| division.clone());
            TallyQuery { scopes: Some(scopes), own_under, facets_of: Some(division.clone()), from, to }
        }
    };
    let tallies = store.tallies(&query).await?;
    let overdue_query =
        OverdueQuery { subtree: unit.is_none().then(|| division.clone()), handler: unit.clone(), from, to, now };
    let overdue = store.overdue_counts(&overdue_query).await?;
    // The figures of the tallies `counts` takes and of the overdue cases `late` takes.
    let figures = |counts: &dyn Fn(&TallyRow) -> bool, late: &dyn Fn(&OverdueCount) -> bool| {
        let mut tally = Tally::default();
        for row in tallies.iter().filter(|r| counts(r)) {
            tally.add(&row.tally);
        }
        Indicators::of(&tally, overdue.iter().filter(|o| late(o)).map(|o| o.cases).sum())
    };
    // The rows that make up the subtree of `code`: its own tally, or its divisions' own levels
    // (the rows whose scope starts with its own level's).
    let subtree_rows = |code: &DivisionCode| {
        let (key, exact) = (place(code).key(), keeps_subtree(code.level()));
        move |row: &TallyRow| if exact { row.key.scope == key } else { row.key.scope.starts_with(&key) }
    };
    let total_rows: Box<dyn Fn(&TallyRow) -> bool> = match &unit {
        Some(unit) => {
            let key = Scope::Unit(unit.clone()).key();
            Box::new(move |row: &TallyRow| row.key.scope == key)
        }
        None => Box::new(subtree_rows(&division)),
    };
    let months = std::iter::successors(Some(from), |m| (*m < to).then(|| m.next()))
        .map(|month| MonthIndicators {
            month: month.to_string(),
            indicators: figures(&|row| row.key.month == month && total_rows(row), &|o| o.month == month),
        })
        .collect();
    let mut report = IndicatorReport {
        division: division.to_string(),
        division_name: named.name,
        unit: unit.clone(),
        from: from.to_string(),
        to: to.to_string(),
        as_of: now,
        total: figures(&total_rows, &|_| true),
        own_level: None,
        children: Vec::new(),
        months,
        channels: Vec::new(),
        families: Vec::new(),
        categories: Vec::new(),
    };
    if unit.is_none() {
        let own = Scope::Own(division.clone()).key();
        report.own_level = Some(figures(&|row| row.key.scope == own, &|o| o.division == division.as_str()));
        for child in children {
            let inside = |o: &OverdueCount| o.division.starts_with(child.code.as_str());
            let indicators = figures(&subtree_rows(&child.code), &inside);
            report.children.push(DivisionIndicators { code: child.code.to_string(), name: child.name, indicators });
        }
        // Each facet's tally, summed once over its rows.
        let mut by_facet: BTreeMap<Facet, Tally> = BTreeMap::new();
        for row in &tallies {
            if let Some((_, facet)) = Facet::of_key(&row.key.scope) {
                by_facet.entry(facet).or_default().add(&row.tally);
            }
        }
        let late = |keep: &dyn Fn(&OverdueCount) -> bool| overdue.iter().filter(|o| keep(o)).map(|o| o.cases).sum();
        for channel in Channel::ALL {
            let tally = by_facet.get(&Facet::Channel(channel)).copied().unwrap_or_default();
            let indicators = Indicators::of(&tally, late(&|o| o.channel == channel));
            if indicators.reported > 0 || indicators.overdue > 0 {
                let (code, name_zh, name_en) =
                    (channel.as_str().into(), channel.name_zh().into(), channel.name_en().into());
                report.channels.push(PartIndicators { code, name_zh, name_en, indicators });
            }
        }
        let book = context.categories();
        let mut codes: Vec<String> = by_facet
            .keys()
            .filter_map(|facet| match facet {
                Facet::Category(code) => Some(code.clone()),
                Facet::Channel(_) => None,
            })
            .chain(overdue.iter().map(|o| o.category.clone()))
            .collect();
        codes.sort();
        codes.dedup();
        let of_categories = |members: &[&String]| {
            let mut tally = Tally::default();
            for code in members {
                if let Some(part) = by_facet.get(&Facet::Category((*code).clone())) {
                    tally.add(part);
                }
            }
            Indicators::of(&tally, late(&|o| members.contains(&&o.category)))
        };
        for code in &codes {
            let (name_zh, name_en) = match book.leaf(code) {
                Some(leaf) => (leaf.name_zh.clone(), leaf.name_en.clone()),
                None => (code.clone(), code.clone()),
            };
            report.categories.push(PartIndicators {
                code: code.clone(),
                name_zh,
                name_en,
                indicators: of_categories(&[code]),
            });
        }
        // A category's family as (code, Chinese, English): itself for a code the book lacks.
        let family_of = |code: &str| match book.family_of(code) {
            Some(family) => (family.code.clone(), family.name_zh.clone(), family.name_en.clone()),
            None => (code.to_owned(), code.to_owned(), code.to_owned()),
        };
        let order: Vec<String> = book.grouped().iter().map(|c| c.code.clone()).collect();
        let mut families: Vec<(String, String, String)> = codes.iter().map(|code| family_of(code)).collect();
        families.sort_by_key(|(code, _, _)| (order.iter().position(|c| c == code).unwrap_or(usize::MAX), code.clone()));
        families.dedup();
        for (code, name_zh, name_en) in families {
            let members: Vec<&String> = codes.iter().filter(|c| family_of(c).0 == code).collect();
            let indicators = of_categories(&members);
            report.families.push(PartIndicators { code, name_zh, name_en, indicators });
        }
    }
    Ok(report)
}

/// The open cases of a division's subtree by the grid they lie in, with how many are overdue now:
/// what its command centre's map shows. Read as the indicators are (the responsible division in
/// the subtree), by the staff who may read its indicators.
pub async fn grid_workloads(
    context: &Context,
    by: &Principal,
    division: &DivisionCode,
) -> Result<Vec<GridWorkload>, AppError> {
    check_may_read(by, division, None)?;
    let query = GridWorkloadQuery { subtree: division.clone(), now: context.timestamp() };
    Ok(context.store().grid_workloads(&query).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The source's own figures: 萍乡's volunteers reported 36,676 matters in 2021 and 35,591 were
    /// closed, "97.04%".
    #[test]
    fn the_closure_rate_is_closed_over_reported_as_the_source_counts_it() {
        let tally = Tally { reported: 36_676, accepted: 36_000, closed: 35_591, ..Tally::default() };
        assert_eq!(Indicators::of(&tally, 0).closure_rate, Some(0.9704));
        assert_eq!(Indicators::of(&Tally::default(), 0).closure_rate, None, "nothing reported, no rate");
    }
}
