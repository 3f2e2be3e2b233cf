//! Counts of cases taken from the indicator tallies where they hold the answer (see
//! [`pingan_store::indicators`]): a city's count read one row a month instead of every case.

use pingan_core::lifecycle::Status;
use pingan_core::{DivisionCode, Month, Timestamp};
use pingan_store::Store;
use pingan_store::cases::{CaseFilter, Visibility};
use pingan_store::indicators::{Scope, Tally, TallyQuery, keeps_subtree};

use crate::AppError;

/// How many cases of `filter` someone who sees `visible` may see, taken from the tallies where
/// they hold the answer: for someone who sees a subtree, when nothing but a place, whole months
/// of report and the statuses (all, the open ones, or closed) narrow the count. The few cases seen
/// beyond the subtree (dispatched to the person's unit, or reported by them) are counted. None:
/// the tallies do not hold it, count the cases.
pub(crate) async fn tallied_count(
    store: &dyn Store,
    visible: &Visibility,
    filter: &CaseFilter,
) -> Result<Option<u64>, AppError> {
    let Some(subtree) = &visible.subtree else { return Ok(None) };
    let (Some(counter), Some((from, to))) = (counter_of(&filter.statuses), whole_months(filter)) else {
        return Ok(None);
    };
    // Every field named, so that a condition added to lists must be weighed here too: a count that
    // ignored it would show more than the list.
    let CaseFilter {
        division: _,
        statuses: _,
        reported_from: _,
        reported_before: _,
        visible: _,
        limit: _,
        handler,
        grid_prefix,
        outside,
        categories,
        channel,
        overdue_at,
        alert_due,
        text,
        after,
    } = filter;
    let narrowed_otherwise = handler.is_some()
        || grid_prefix.is_some()
        || outside.is_some()
        || !categories.is_empty()
        || channel.is_some()
        || overdue_at.is_some()
        || alert_due.is_some()
        || text.is_some()
        || after.is_some();
    if narrowed_otherwise {
        return Ok(None);
    }
    let within = |inner: &DivisionCode, outer: &DivisionCode| inner.as_str().starts_with(outer.as_str());
    // A place inside the subtree is seen whole; one above it holds the subtree, and perhaps
    // cases seen beyond it.
    let (area, beyond) = match &filter.division {
        Some(division) if within(division, subtree) => (division, false),
        Some(division) if !within(subtree, division) => return Ok(None),
        _ => (subtree, true),
    };
    let query = match keeps_subtree(area.level()) {
        true => {
            TallyQuery { scopes: Some(vec![Scope::Subtree(area.clone())]), own_under: None, facets_of: None, from, to }
        }
        false => TallyQuery { scopes: Some(Vec::new()), own_under: Some(area.clone()), facets_of: None, from, to },
    };
    let tallied: i64 = store.tallies(&query).await?.iter().map(|row| counter(&row.tally)).sum();
    let mut count = u64::try_from(tallied).unwrap_or(0);
    if beyond {
        let rest = CaseFilter {
            visible: Some(Visibility { subtree: None, ..visible.clone() }),
            outside: Some(subtree.clone()),
            ..filter.clone()
        };
        count += store.count_cases(&rest).await?;
    }
    Ok(Some(count))
}

/// The tally counter of the cases of `statuses`: all of them, the open ones, or the closed.
fn counter_of(statuses: &[Status]) -> Option<fn(&Tally) -> i64> {
    let exactly = |set: &[Status]| statuses.iter().all(|s| set.contains(s)) && set.iter().all(|s| statuses.contains(s));
    if statuses.is_empty() {
        Some(|tally| tally.reported)
    } else if exactly(&Status::OPEN) {
        Some(|tally| tally.open)
    } else if exactly(&[Status::Closed]) {
        Some(|tally| tally.closed)
    } else {
        None
    }
}

/// The months `from..=to` of a filter's report times, when each bound is the start of a month.
fn whole_months(filter: &CaseFilter) -> Option<(Month, Month)> {
    let month_starting = |at: Timestamp| {
        let month = Month::of_instant(at);
        (month.start() == at).then_some(month)
    };
    let from = match filter.reported_from {
        None => TallyQuery::everything().from,
        Some(at) => month_starting(at)?,
    };
    let to = match filter.reported_before {
        None => TallyQuery::everything().to,
        Some(at) => month_starting(at)?.previous(),
    };
    Some((from, to))
}
