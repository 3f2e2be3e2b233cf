//! The monthly ranking bulletin (排名通报): a centre ranks the units below it — its child divisions
//! (the townships of a county, the counties of a city, the villages of a township), its grids, or
//! a county's departments — by a composite score of their month's indicators, with weights its
//! administrator sets, and marks the laggards to summon (约谈), as 青云谱's 洪都街道 does with its
//! 119 grids each month.
//!
//! The score is the weighted mean, out of 100, of the closure rate, the on-time rate, the
//! satisfaction rate, the share not returned and the share not overdue, over the parts that are
//! defined (a unit that closed nothing has no on-time rate). A unit with no report in the month is
//! not ranked, and is a laggard: it did not report.

use pingan_core::{DivisionCode, Level, Month, Reason, Timestamp, Unit};
use pingan_store::indicators::{OverdueQuery, Scope, Tally, TallyQuery};
use pingan_store::rankings::RankingWeightsRow;
use pingan_store::units::UnitKind;
use serde::{Deserialize, Serialize};

use crate::AppError;
use crate::access::{AccessError, Principal};
use crate::context::Context;
use crate::indicators::{IndicatorRequest, Indicators, check_may_read, indicators};

/// How much each part counts, and who is a laggard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RankingWeights {
    /// 办结率.
    pub closure: u32,
    /// 按期办结率.
    pub on_time: u32,
    /// 满意率.
    pub satisfaction: u32,
    /// The share of accepted cases never returned by a handler.
    pub returns: u32,
    /// The share of reported cases not overdue now.
    pub overdue: u32,
    /// A score below this (0–100) marks a laggard.
    pub laggard_below: f64,
    /// The last this many ranked are laggards too, where at least twice as many are ranked.
    pub laggard_last: u32,
}

impl Default for RankingWeights {
    fn default() -> RankingWeights {
        RankingWeights {
            closure: 40,
            on_time: 20,
            satisfaction: 20,
            returns: 10,
            overdue: 10,
            laggard_below: 60.0,
            laggard_last: 3,
        }
    }
}

impl RankingWeights {
    fn check(&self) -> Result<(), AppError> {
        let parts = [self.closure, self.on_time, self.satisfaction, self.returns, self.overdue];
        let bad = |field: &'static str, zh: &'static str, en: &'static str| {
            Err(AppError::InvalidField { field, reason: Reason::new(zh, en) })
        };
        if parts.iter().any(|&w| w > 100) {
            return bad("weights", "每项权重为 0 到 100", "each weight is from 0 to 100");
        }
        if parts.iter().sum::<u32>() == 0 {
            return bad("weights", "权重不能全为 0", "the weights cannot all be 0");
        }
        if !(0.0..=100.0).contains(&self.laggard_below) {
            return bad("laggard_below", "约谈分数线为 0 到 100", "the laggards' line is from 0 to 100");
        }
        if self.laggard_last > 50 {
            return bad("laggard_last", "末位约谈至多 50 个", "at most the last 50");
        }
        Ok(())
    }

    /// The score of a unit's figures, out of 100; None for a unit with nothing reported.
    pub fn score(&self, figures: &Indicators) -> Option<f64> {
        if figures.reported == 0 {
            return None;
        }
        let not_overdue = 1.0 - figures.overdue as f64 / figures.reported as f64;
        let parts = [
            (self.closure, figures.closure_rate),
            (self.on_time, figures.on_time_rate),
            (self.satisfaction, figures.satisfaction_rate),
            (self.returns, figures.return_rate.map(|r| 1.0 - r)),
            (self.overdue, Some(not_overdue.max(0.0))),
        ];
        let (sum, weight) = parts
            .iter()
            .filter_map(|&(weight, value)| value.map(|v| (f64::from(weight) * v, f64::from(weight))))
            .fold((0.0, 0.0), |(s, w), (a, b)| (s + a, w + b));
        (weight > 0.0).then(|| (sum / weight * 10_000.0).round() / 100.0)
    }
}

/// What a bulletin ranks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Ranked {
    /// The child divisions.
    Divisions,
    /// The grids of the division (cases dispatched to each).
    Grids,
    /// A county's or city's departments (cases dispatched to each).
    Departments,
}

impl Ranked {
    pub fn parse(text: &str) -> Option<Ranked> {
        match text {
            "divisions" => Some(Ranked::Divisions),
            "grids" => Some(Ranked::Grids),
            "departments" => Some(Ranked::Departments),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Ranked::Divisions => "divisions",
            Ranked::Grids => "grids",
            Ranked::Departments => "departments",
        }
    }
}

/// One unit of a bulletin.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RankedEntry {
    /// 1 for the best; equal scores share a rank. None: nothing reported, not ranked.
    pub rank: Option<u32>,
    pub code: String,
    pub name: String,
    /// Out of 100.
    pub score: Option<f64>,
    /// To be summoned (约谈).
    pub laggard: bool,
    /// Why, in Chinese and in English.
    pub reasons_zh: Vec<String>,
    pub reasons_en: Vec<String>,
    pub figures: Indicators,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Bulletin {
    pub division: String,
    pub division_name: String,
    /// `YYYY-MM`.
    pub month: String,
    pub ranked: Ranked,
    pub weights: RankingWeights,
    /// The division whose administrator set the weights; None: the defaults.
    pub weights_set_at: Option<String>,
    /// Ranked first, best first; then those not ranked, by code.
    pub entries: Vec<RankedEntry>,
    /// When the figures were read (milliseconds since the Unix epoch).
    #[schema(value_type = i64)]
    pub as_of: Timestamp,
}

impl Bulletin {
    pub fn laggards(&self) -> impl Iterator<Item = &RankedEntry> {
        self.entries.iter().filter(|e| e.laggard)
    }
}

/// What is asked: a division (the asker's centre's when None), a month (`YYYY-MM`, this month
/// when None) and what to rank (`divisions` when None). An empty text is refused like any other
/// that names nothing.
#[derive(Clone, Debug, Default)]
pub struct BulletinRequest {
    pub division: Option<String>,
    pub month: Option<String>,
    pub ranked: Option<String>,
}

/// The division asked for, or the asker's centre's.
fn asked_division(by: &Principal, asked: Option<&str>) -> Result<DivisionCode, AppError> {
    match asked.map(str::trim) {
        Some(code) => DivisionCode::parse(code).map_err(|_| AppError::UnknownDivision(code.to_owned())),
        None => match by.unit.as_deref().map(Unit::parse) {
            Some(Ok(Unit::Centre(code))) => Ok(code),
            _ => Err(AccessError::Forbidden(Reason::new(
                "排名通报仅供综治中心人员使用",
                "bulletins are for centres' staff",
            ))
            .into()),
        },
    }
}

/// The weights in force for `division`: those set for it or the nearest division above it.
pub async fn weights_for(
    context: &Context,
    division: &DivisionCode,
) -> Result<(RankingWeights, Option<String>), AppError> {
    for code in division.lineage().into_iter().rev() {
        if let Some(row) = context.store().ranking_weights(&code).await? {
            let weights = serde_json::from_str(&row.weights)
                .map_err(|e| AppError::Store(pingan_store::StoreError::Corrupt(format!("ranking weights: {e}"))))?;
            return Ok((weights, Some(code.to_string())));
        }
    }
    Ok((RankingWeights::default(), None))
}

/// Sets the weights of `division`'s bulletins (and of the divisions below it that set none): an
/// administrator of a centre whose place holds it.
pub async fn set_weights(
    context: &Context,
    by: &Principal,
    division: Option<&str>,
    weights: RankingWeights,
) -> Result<RankingWeights, AppError> {
    let division = asked_division(by, division)?;
    let refused =
        || AccessError::Forbidden(Reason::new("设置该区划的排名权重", "setting the ranking weights of this place"));
    let covers = matches!(by.unit.as_deref().map(Unit::parse), Some(Ok(Unit::Centre(code))) if division.as_str().starts_with(code.as_str()));
    if !by.has(pingan_core::access::Role::Administrator) || !covers {
        return Err(refused().into());
    }
    weights.check()?;
    if context.store().division(&division).await?.is_none() {
        return Err(AppError::UnknownDivision(division.to_string()));
    }
    let row = RankingWeightsRow {
        division,
        weights: serde_json::to_string(&weights).unwrap_or_default(),
        set_by: by.login.clone(),
        set_at: context.timestamp(),
    };
    context.store().put_ranking_weights(row).await?;
    Ok(weights)
}

/// The bulletin asked for, read with the asker's rights (those of the indicators).
pub async fn bulletin(context: &Context, by: &Principal, request: BulletinRequest) -> Result<Bulletin, AppError> {
    let division = asked_division(by, request.division.as_deref())?;
    let month = match request.month.as_deref() {
        Some(text) => Month::parse(text).map_err(|_| AppError::InvalidField {
            field: "month",
            reason: Reason::new("月份须为 YYYY-MM", "a month as YYYY-MM"),
        })?,
        None => Month::of_instant(context.timestamp()),
    };
    let ranked = match request.ranked.as_deref() {
        Some(text) => Ranked::parse(text).ok_or(AppError::InvalidField {
            field: "of",
            reason: Reason::new("可排名：divisions、grids 或 departments", "rank divisions, grids or departments"),
        })?,
        None => Ranked::Divisions,
    };
    check_may_read(by, &division, None)?;
    let named =
        context.store().division(&division).await?.ok_or_else(|| AppError::UnknownDivision(division.to_string()))?;
    let (weights, weights_set_at) = weights_for(context, &division).await?;
    let units: Vec<(String, String, Indicators)> = match ranked {
        Ranked::Divisions => {
            let asked = IndicatorRequest {
                division: Some(division.to_string()),
                unit: None,
                from: Some(month.to_string()),
                to: Some(month.to_string()),
                without_children: false,
            };
            let report = indicators(context, by, asked).await?;
            report.children.into_iter().map(|c| (c.code, c.name, c.indicators)).collect()
        }
        Ranked::Grids => {
            let grids = context.store().grids(division.as_str()).await?;
            let named: Vec<(String, String)> =
                grids.into_iter().map(|g| (Unit::Grid(g.code.clone()).to_string(), g.name)).collect();
            unit_figures(context, &division, month, named).await?
        }
        Ranked::Departments => {
            let units = context.store().units(division.as_str()).await?;
            let named: Vec<(String, String)> = units
                .into_iter()
                .filter(|u| u.kind == UnitKind::Department && u.division == division)
                .map(|u| (u.id, u.name))
                .collect();
            unit_figures(context, &division, month, named).await?
        }
    };
    let mut entries: Vec<RankedEntry> = units
        .into_iter()
        .map(|(code, name, figures)| RankedEntry {
            rank: None,
            score: weights.score(&figures),
            code,
            name,
            laggard: false,
            reasons_zh: Vec::new(),
            reasons_en: Vec::new(),
            figures,
        })
        .collect();
    rank(&mut entries, &weights);
    Ok(Bulletin {
        division: division.to_string(),
        division_name: named.name,
        month: month.to_string(),
        ranked,
        weights,
        weights_set_at,
        entries,
        as_of: context.timestamp(),
    })
}

/// The month's figures of the units (id, name), from their tallies and the overdue cases of the
/// county (or city) they work in.
async fn unit_figures(
    context: &Context,
    division: &DivisionCode,
    month: Month,
    units: Vec<(String, String)>,
) -> Result<Vec<(String, String, Indicators)>, AppError> {
    let store = context.store();
    let scopes = units.iter().map(|(id, _)| Scope::Unit(id.clone())).collect();
    let query = TallyQuery { scopes: Some(scopes), own_under: None, facets_of: None, from: month, to: month };
    let tallies = store.tallies(&query).await?;
    let around = division.ancestor(Level::County).unwrap_or_else(|| division.clone());
    let overdue_query =
        OverdueQuery { subtree: Some(around), handler: None, from: month, to: month, now: context.timestamp() };
    let overdue = store.overdue_counts(&overdue_query).await?;
    Ok(units
        .into_iter()
        .map(|(id, name)| {
            let key = Scope::Unit(id.clone()).key();
            let mut tally = Tally::default();
            for row in tallies.iter().filter(|r| r.key.scope == key) {
                tally.add(&row.tally);
            }
            let late = overdue.iter().filter(|o| o.handler.as_deref() == Some(id.as_str())).map(|o| o.cases).sum();
            (id, name, Indicators::of(&tally, late))
        })
        .collect())
}

/// Orders the entries best first (equal scores share a rank, then the better closure rate and the
/// code decide the order), those not ranked last, and marks the laggards.
fn rank(entries: &mut [RankedEntry], weights: &RankingWeights) {
    entries.sort_by(|a, b| {
        let key = |e: &RankedEntry| (e.score.unwrap_or(-1.0), e.figures.closure_rate.unwrap_or(-1.0));
        let (ka, kb) = (key(a), key(b));
        kb.0.total_cmp(&ka.0).then(kb.1.total_cmp(&ka.1)).then_with(|| a.code.cmp(&b.code))
    });
    let ranked = entries.iter().filter(|e| e.score.is_some()).count();
    let last = weights.laggard_last as usize;
    let mut previous: Option<(f64, u32)> = None;
    for (position, entry) in entries.iter_mut().enumerate() {
        let Some(score) = entry.score else {
            entry.laggard = true;
            entry.reasons_zh.push("本月没有上报".into());
            entry.reasons_en.push("nothing reported this month".into());
            continue;
        };
        let rank = match previous {
            Some((before, shared)) if before == score => shared,
            _ => position as u32 + 1,
        };
        previous = Some((score, rank));
        entry.rank = Some(rank);
        if score < weights.laggard_below {
            entry.laggard = true;
            entry.reasons_zh.push(format!("综合得分 {score:.2} 低于 {:.0} 分", weights.laggard_below));
            entry.reasons_en.push(format!("score {score:.2} below {:.0}", weights.laggard_below));
        }
        if last > 0 && ranked >= 2 * last && position >= ranked - last {
            entry.laggard = true;
            entry.reasons_zh.push(format!("排名末 {last} 位"));
            entry.reasons_en.push(format!("among the last {last}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(code: &str, reported: i64, closed: i64) -> RankedEntry {
        let tally = Tally { reported, accepted: reported, closed, closed_on_time: closed, ..Tally::default() };
        let figures = Indicators::of(&tally, 0);
        RankedEntry {
            rank: None,
            score: RankingWeights::default().score(&figures),
            code: code.into(),
            name: code.into(),
            laggard: false,
            reasons_zh: Vec::new(),
            reasons_en: Vec::new(),
            figures,
        }
    }

    #[test]
    fn the_best_come_first_equal_scores_share_a_rank_and_laggards_are_marked() {
        let weights = RankingWeights { laggard_last: 2, ..RankingWeights::default() };
        let mut entries = vec![
            entry("a", 10, 10),
            entry("b", 10, 5),
            entry("c", 10, 10),
            entry("d", 0, 0),
            entry("e", 10, 9),
            entry("f", 10, 8),
        ];
        rank(&mut entries, &weights);
        let order: Vec<(&str, Option<u32>, bool)> =
            entries.iter().map(|e| (e.code.as_str(), e.rank, e.laggard)).collect();
        assert_eq!(
            order,
            [
                ("a", Some(1), false),
                ("c", Some(1), false),
                ("e", Some(3), false),
                ("f", Some(4), true),
                ("b", Some(5), true),
                ("d", None, true)
            ]
        );
        // Closed all on time, none returned or overdue, nobody called back: 100.
        assert_eq!(entries[0].score, Some(100.0));
        // Half closed: closure 0.5 (weight 40), on time 1 (20), returns 1 (10), not overdue 1 (10).
        assert_eq!(entries[4].score, Some(75.0));
        assert!(entries[5].reasons_zh.contains(&"本月没有上报".to_owned()));
    }

    #[test]
    fn weights_out_of_bounds_are_refused() {
        for weights in [
            RankingWeights { closure: 101, ..RankingWeights::default() },
            RankingWeights {
                closure: 0,
                on_time: 0,
                satisfaction: 0,
                returns: 0,
                overdue: 0,
                ..RankingWeights::default()
            },
            RankingWeights { laggard_below: 120.0, ..RankingWeights::default() },
            RankingWeights { laggard_last: 51, ..RankingWeights::default() },
        ] {
            assert!(matches!(weights.check(), Err(AppError::InvalidField { .. })), "{weights:?}");
        }
        assert!(RankingWeights::default().check().is_ok());
    }
}
