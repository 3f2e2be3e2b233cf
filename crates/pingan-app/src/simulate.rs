//! Realistic activity, played through the case engine: reports from every channel with the daily
//! and weekly rhythm of a county, and each case's life (acceptance, dispatch, claim, returns,
//! escalations, extensions, supervision, overdue notes, resolution, verification, call-back,
//! reopening, closure) up to the end of the period. Every step is planned by the engine's own rules
//! and deadlines; cases are written in batches, each with its whole history, hash chain included.
//!
//! Deterministic for a seed: case `i` draws from its own generator, so the same scenario gives
//! the same cases, histories and hashes whatever the batch size.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use pingan_core::calendar::china_standard_time;
use pingan_core::case::Channel;
use pingan_core::category::{Category, HandlingLevel, Priority};
use pingan_core::lifecycle::{ActionKind, Satisfaction, Status};
use pingan_core::{Actor, DivisionCode, GridCode, Level, Timestamp, Unit};
use pingan_store::cases::{ActionRecord, CaseRow, NewCase};

use crate::cases::{ActionRequest, CaseEngine, Submission};
use crate::units::DispatchBook;
use crate::{AppError, Atlas, Progress};

/// Reports' channels and their shares (per mille). Volunteers and grid workers find most matters;
/// the shares make a year of 萍乡 come out near its published volunteer figures.
const CHANNEL_SHARES: [(Channel, u32); 7] = [
    (Channel::Volunteer, 400),
    (Channel::GridPatrol, 260),
    (Channel::Resident, 130),
    (Channel::Hotline, 110),
    (Channel::Reception, 50),
    (Channel::Survey, 30),
    (Channel::Open311, 20),
];

/// What each channel reports, by category family (per mille): volunteers and grid workers find
/// 民生 matters and hazards, residents bring their daily needs and quarrels, reception desks
/// disputes and petitions. Families the category book lacks are skipped.
fn family_shares(channel: Channel) -> &'static [(&'static str, u32)] {
    match channel {
        Channel::Volunteer => &[("life", 200), ("livelihood", 450), ("safety", 200), ("dispute", 80), ("hazard", 70)],
        Channel::GridPatrol => {
            &[("life", 120), ("livelihood", 280), ("safety", 200), ("dispute", 150), ("hazard", 250)]
        }
        Channel::Reception => &[("life", 50), ("livelihood", 250), ("dispute", 400), ("petition", 300)],
        Channel::Hotline => &[("life", 450), ("livelihood", 400), ("dispute", 90), ("petition", 40), ("hazard", 20)],
        _ => &[("life", 300), ("livelihood", 300), ("safety", 60), ("dispute", 150), ("petition", 90), ("hazard", 100)],
    }
}

/// Of every 461 hotline orders, 16 are 平安 matters: 贵溪文坊镇's 3651890 branch took 461 orders, 16
/// of them safety services ("3.4%").
const HOTLINE_SAFETY: (u64, u64) = (16, 461);

/// Whether the hotline's order `n` (from 0) is a safety matter: spread evenly, so that of the
/// first `k` orders exactly ⌊k × 16 / 461⌋ are.
fn hotline_safety(n: u64) -> bool {
    let (safety, orders) = HOTLINE_SAFETY;
    (n + 1) * safety / orders > n * safety / orders
}

/// Relative reports per hour of the day (China Standard Time).
const HOURLY: [u32; 24] = [1, 1, 1, 1, 1, 2, 4, 8, 14, 16, 15, 12, 8, 9, 13, 15, 14, 11, 8, 7, 6, 4, 2, 1];

/// Cases planned and written per transaction.
const BATCH: usize = 4096;

#[derive(Clone, Debug)]
pub struct Scenario {
    pub seed: u64,
    /// Reports come from this division's grids.
    pub area: DivisionCode,
    /// The end of the period ("now"): later steps have not happened yet.
    pub until: DateTime<Utc>,
    pub days: i64,
    pub cases: usize,
}

impl Scenario {
    /// The twelve months before `until` in `area`, sized so that volunteers report about
    /// `volunteer_reports` matters (萍乡's published year: 36,676).
    pub fn year(area: DivisionCode, until: DateTime<Utc>, volunteer_reports: usize) -> Scenario {
        let cases = volunteer_reports * 1000 / CHANNEL_SHARES[0].1 as usize;
        Scenario { seed: 2021, area, until, days: 365, cases }
    }
}

/// Counts of what was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub cases: usize,
    pub actions: usize,
    /// Per channel: (reported, closed).
    pub by_channel: BTreeMap<&'static str, (usize, usize)>,
    /// Per channel, per category family: reported.
    pub by_channel_and_family: BTreeMap<(&'static str, String), usize>,
    /// Cases by their status at the end.
    pub by_status: BTreeMap<&'static str, usize>,
}

/// The rules' unit for `case`, or the responsible centre where none fits (the centre takes it on).
fn choose(dispatch: &DispatchBook, category: &Category, case: &CaseRow) -> String {
    dispatch
        .choose(category, &case.division, case.grid.as_ref())
        .unwrap_or_else(|| Unit::Centre(case.division.clone()).to_string())
}

/// One case being played.
struct Life<'a> {
    engine: &'a CaseEngine,
    dispatch: &'a DispatchBook,
    row: CaseRow,
    entries: Vec<ActionRecord>,
    at: DateTime<Utc>,
    until: DateTime<Utc>,
    rng: fastrand::Rng,
}

impl Life<'_> {
    /// Moves the clock on by `minutes` of working time (plus a random part of them); false when
    /// that is past the end of the period, so the step has not happened yet.
    fn wait(&mut self, minutes: i64) -> Result<bool, AppError> {
        let minutes = minutes.max(1);
        let drawn = minutes / 2 + self.rng.i64(0..=minutes);
        let then = self.engine.context().work_clock().add(self.at, drawn) + Duration::seconds(self.rng.i64(0..60));
        self.wait_until(then)
    }

    /// Moves the clock to `then` if that is later. The deadline sweep, which runs every minute,
    /// notes the warnings and overdue deadlines that fall on the way, as it would in a server.
    fn wait_until(&mut self, then: DateTime<Utc>) -> Result<bool, AppError> {
        while let Some(alert) = self.row.alert_at.map(Timestamp::instant)
            && alert < then.min(self.until)
        {
            self.at = self.at.max(alert + Duration::seconds(self.rng.i64(1..60)));
            self.act(&Actor::DEADLINE_SWEEP.to_string(), ActionKind::Note, |r| r.reason = Some("办理时限提醒".into()))?;
        }
        self.at = self.at.max(then);
        Ok(self.at <= self.until)
    }

    fn chance(&mut self, per_mille: u32) -> bool {
        self.rng.u32(0..1000) < per_mille
    }

    fn act(&mut self, actor: &str, action: ActionKind, fill: impl FnOnce(&mut ActionRequest)) -> Result<(), AppError> {
        let actor = Actor::parse(actor).map_err(|e| AppError::BadUnit(e.0))?;
        let mut request = ActionRequest::new(self.row.id.clone(), actor, action, self.row.version);
        fill(&mut request);
        let (entry, mut row) = self.engine.plan_action(&self.row, &request, None, self.at)?;
        row.version += 1;
        self.entries.push(entry);
        self.row = row;
        Ok(())
    }

    fn centre(&self) -> String {
        Unit::Centre(self.row.division.clone()).to_string()
    }

    fn handler(&self) -> String {
        self.row.handler.clone().unwrap_or_else(|| self.centre())
    }

    /// Working minutes from now to `due` (at least one).
    fn minutes_to(&self, due: Option<Timestamp>) -> i64 {
        due.map(Timestamp::instant)
            .map_or(480, |due| self.engine.context().work_clock().minutes_between(self.at, due).max(1))
    }

    /// Plays the rest of the case's life; stops at the first step beyond the end of the period.
    fn play(&mut self, category: &Category) -> Result<(), AppError> {
        loop {
            let step = match self.row.status {
                Status::Reported => self.intake()?,
                Status::Accepted => self.dispatch(category)?,
                Status::Dispatched => self.claim()?,
                Status::InProgress => self.work()?,
                Status::Resolved => self.verify()?,
                Status::Verified => self.call_back()?,
                Status::CalledBack => {
                    let centre = self.centre();
                    let closing = self.wait(60)?;
                    if closing {
                        self.act(&centre, ActionKind::Close, |_| ())?;
                    }
                    closing
                }
                Status::Closed | Status::Rejected | Status::Merged => false,
            };
            if !step {
                return Ok(());
            }
        }
    }

    fn intake(&mut self) -> Result<bool, AppError> {
        if !self.wait(45)? {
            return Ok(false);
        }
        let centre = self.centre();
        if self.chance(5) {
            self.act(&centre, ActionKind::Reject, |r| r.reason = Some("不属于受理范围".into()))?;
        } else {
            self.act(&centre, ActionKind::Accept, |_| ())?;
        }
        Ok(true)
    }

    fn dispatch(&mut self, category: &Category) -> Result<bool, AppError> {
        if !self.wait(30)? {
            return Ok(false);
        }
        let centre = self.centre();
        let target = choose(self.dispatch, category, &self.row);
        self.act(&centre, ActionKind::Dispatch, |r| r.target = Some(target))?;
        Ok(true)
    }

    fn claim(&mut self) -> Result<bool, AppError> {
        let allowed = self.minutes_to(self.row.claim_due);
        // A few handlers are late to claim.
        let delay = if self.chance(40) { allowed * 2 } else { allowed / 3 };
        if !self.wait(delay)? {
            return Ok(false);
        }
        let handler = self.handler();
        if self.row.body.returns == 0 && self.chance(30) {
            self.act(&handler, ActionKind::Return, |r| r.reason = Some("不属于本单位职责".into()))?;
        } else if self.row.body.escalations == 0 && self.row.division.level() != Level::City && self.chance(15) {
            self.act(&handler, ActionKind::Escalate, |r| r.reason = Some("超出本级处置能力".into()))?;
        } else {
            self.act(&handler, ActionKind::Claim, |_| ())?;
        }
        Ok(true)
    }

    fn work(&mut self) -> Result<bool, AppError> {
        let handler = self.handler();
        if self.row.body.supervisions == 0 && self.chance(30) {
            let allowed = self.minutes_to(self.row.resolve_due);
            if !self.wait(allowed / 2)? {
                return Ok(false);
            }
            if let Some(parent) = self.row.division.parent() {
                self.act(&Unit::Centre(parent).to_string(), ActionKind::Supervise, |r| {
                    r.reason = Some("请加快办理进度".into())
                })?;
            }
        }
        if self.row.body.extensions == 0 && !self.row.body.extension_pending && self.chance(40) {
            if !self.wait(self.minutes_to(self.row.resolve_due) / 2)? {
                return Ok(false);
            }
            let minutes = 480 * self.rng.i64(1..=5);
            self.act(&handler, ActionKind::RequestExtension, |r| {
                r.reason = Some("需协调多方".into());
                r.extension_minutes = Some(minutes);
            })?;
            if !self.wait(120)? {
                return Ok(false);
            }
            let centre = self.centre();
            if self.chance(750) {
                self.act(&centre, ActionKind::ApproveExtension, |_| ())?;
            } else {
                self.act(&centre, ActionKind::RefuseExtension, |r| r.reason = Some("理由不充分".into()))?;
            }
        }
        let allowed = self.minutes_to(self.row.resolve_due);
        // Most are resolved well within the deadline; some run over it.
        let late = self.chance(60);
        if !self.wait(if late { allowed * 3 / 2 } else { allowed / 3 })? {
            return Ok(false);
        }
        self.act(&handler, ActionKind::Resolve, |r| r.result = Some("已现场处置完毕".into()))?;
        Ok(true)
    }

    fn verify(&mut self) -> Result<bool, AppError> {
        if !self.wait(120)? {
            return Ok(false);
        }
        let centre = self.centre();
        if self.chance(20) {
            self.act(&centre, ActionKind::SendBack, |r| r.reason = Some("处置不到位".into()))?;
        } else {
            self.act(&centre, ActionKind::Verify, |_| ())?;
        }
        Ok(true)
    }

    fn call_back(&mut self) -> Result<bool, AppError> {
        if !self.wait(480)? {
            return Ok(false);
        }
        let centre = self.centre();
        let draw = self.rng.u32(0..1000);
        let satisfaction = if self.row.body.reopenings > 0 || draw < 920 {
            Satisfaction::Satisfied
        } else if draw < 975 {
            Satisfaction::BasicallySatisfied
        } else {
            Satisfaction::Unsatisfied
        };
        self.act(&centre, ActionKind::CallBack, |r| r.satisfaction = Some(satisfaction))?;
        Ok(true)
    }
}

/// The instants of `scenario.cases` reports over the period, in order: fewer at night, at weekends
/// and on public holidays.
fn report_instants(engine: &CaseEngine, scenario: &Scenario) -> Vec<DateTime<Utc>> {
    let mut rng = fastrand::Rng::with_seed(scenario.seed);
    let start = scenario.until - Duration::days(scenario.days);
    let span = (scenario.until - start).num_seconds().max(1);
    let peak = HOURLY.iter().copied().max().unwrap_or(1) * 10;
    let mut instants = Vec::with_capacity(scenario.cases);
    while instants.len() < scenario.cases {
        let instant = start + Duration::seconds(rng.i64(0..span));
        let local = instant.with_timezone(&china_standard_time());
        let working = engine.context().work_clock().calendar().is_working_day(local.date_naive());
        let day_weight = if working {
            10
        } else if local.weekday().number_from_monday() >= 6 {
            6
        } else {
            4
        };
        if rng.u32(0..peak) < HOURLY[local.hour() as usize] * day_weight {
            instants.push(instant);
        }
    }
    instants.sort();
    instants
}

/// What the simulated reports of each category say.
const DESCRIPTIONS: &str = include_str!("../../../data/demo/descriptions.csv");

/// The ways each category's matters are told, by category code (`data/demo/descriptions.csv`).
pub struct Tellings(HashMap<String, Vec<String>>);

impl Tellings {
    pub fn shipped() -> Result<Tellings, AppError> {
        let mut tellings: HashMap<String, Vec<String>> = HashMap::new();
        for row in pingan_core::csv_rows(DESCRIPTIONS, "category") {
            let bad = |line: usize, reason: String| AppError::BadFile {
                file: format!("data/demo/descriptions.csv, line {line}"),
                reason,
            };
            let (line, record) = row.map_err(|(line, reason)| bad(line, reason))?;
            match (record.get(0), record.get(1)) {
                (Some(category), Some(text)) if !text.is_empty() => {
                    tellings.entry(category.to_owned()).or_default().push(text.to_owned())
                }
                _ => return Err(bad(line, "expected category,description".into())),
            }
        }
        Ok(Tellings(tellings))
    }

    /// What report `index` of `category` from `village` says: one of the category's tellings,
    /// chosen by the index, so the simulation's draws stay as they are.
    fn tell(&self, category: &Category, village: &str, index: u64) -> String {
        let spread = index.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 33;
        match self.0.get(&category.code).filter(|ways| !ways.is_empty()) {
            Some(ways) => ways[(spread % ways.len() as u64) as usize]
                .replace("{village}", village)
                .replace("{n}", &(spread % 29 + 1).to_string()),
            None => format!("{}：{village}", category.name_zh),
        }
    }
}

fn pick<T: Copy>(rng: &mut fastrand::Rng, shares: &[(T, u32)]) -> T {
    let total: u32 = shares.iter().map(|(_, share)| share).sum();
    let mut draw = rng.u32(0..total.max(1));
    for (value, share) in shares {
        if draw < *share {
            return *value;
        }
        draw -= share;
    }
    shares[0].0
}

/// Plays `scenario` through `engine` and writes every case, in batches of whole histories.
pub async fn simulate(
    engine: &CaseEngine,
    atlas: &Atlas,
    scenario: &Scenario,
    progress: &dyn Progress,
) -> Result<Summary, AppError> {
    let grids = atlas.grids_in(scenario.area.as_str());
    if grids.is_empty() {
        return Err(AppError::NoGridsUnder(scenario.area.to_string()));
    }
    let book = engine.context().categories();
    let categories = book.leaves();
    let members = |family: &str| -> Vec<&Category> {
        categories.iter().copied().filter(|c| c.parent.as_deref() == Some(family)).collect()
    };
    let families: HashMap<&str, Vec<&Category>> = ["life", "livelihood", "safety", "dispute", "petition", "hazard"]
        .into_iter()
        .map(|f| (f, members(f)))
        .collect();
    engine.refresh().await?;
    let dispatch = engine.context().dispatch_book();
    let tellings = Tellings::shipped()?;
    let instants = report_instants(engine, scenario);
    progress.stage("simulated cases", instants.len() as u64);
    let mut summary = Summary::default();
    let mut hotline_orders = 0;
    for (chunk_index, chunk) in instants.chunks(BATCH).enumerate() {
        let mut batch = Vec::with_capacity(chunk.len());
        for (offset, reported) in chunk.iter().enumerate() {
            let index = (chunk_index * BATCH + offset) as u64;
            let mut rng = fastrand::Rng::with_seed(scenario.seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let (grid, _, region) = &grids[rng.usize(0..grids.len())];
            let channel = pick(&mut rng, &CHANNEL_SHARES);
            let shares: Vec<(&str, u32)> = family_shares(channel)
                .iter()
                .copied()
                .filter(|(family, _)| families.get(family).is_some_and(|m| !m.is_empty()))
                .collect();
            let drawn = (!shares.is_empty()).then(|| pick(&mut rng, &shares));
            let family = match channel {
                Channel::Hotline => {
                    hotline_orders += 1;
                    if hotline_safety(hotline_orders - 1) { Some("safety") } else { drawn }
                }
                _ => drawn,
            };
            let category = match family.and_then(|f| families.get(f)).filter(|m| !m.is_empty()) {
                Some(members) => members[rng.usize(0..members.len())],
                // A book without the shipped families: any of its categories.
                None => categories[rng.usize(0..categories.len())],
            };
            let village = atlas.division_name(grid.village().as_str()).unwrap_or_default();
            let description = tellings.tell(category, &village, index);
            let case = play_case(
                engine,
                &dispatch,
                scenario,
                &mut rng,
                *reported,
                (grid, region),
                (channel, category, description),
            )?;
            let family = category.parent.clone().unwrap_or_default();
            *summary.by_channel_and_family.entry((case.row.channel.as_str(), family)).or_default() += 1;
            let closed = case.row.status == Status::Closed;
            let counts = summary.by_channel.entry(case.row.channel.as_str()).or_default();
            counts.0 += 1;
            counts.1 += usize::from(closed);
            *summary.by_status.entry(case.row.status.as_str()).or_default() += 1;
            summary.actions += case.entries.len();
            batch.push(case);
        }
        summary.cases += batch.len();
        let written = batch.len() as u64;
        engine.context().store().create_cases(batch).await?;
        progress.advance(written);
    }
    engine.context().store().refresh_statistics().await?;
    progress.finish();
    Ok(summary)
}

fn play_case(
    engine: &CaseEngine,
    dispatch: &DispatchBook,
    scenario: &Scenario,
    rng: &mut fastrand::Rng,
    reported: DateTime<Utc>,
    (grid, region): (&GridCode, &pingan_geo::region::Region),
    (channel, category, description): (Channel, &Category, String),
) -> Result<NewCase, AppError> {
    let priority = pick(rng, &[(Priority::Normal, 850), (Priority::Urgent, 120), (Priority::Critical, 30)]);
    let point = region.random_point(rng).map(|p| (p.lon(), p.lat()));
    let reporter = |channel: Channel, id: String| Actor::Reporter { channel: channel.as_str().to_owned(), id };
    let actor = match channel {
        Channel::GridPatrol => Actor::Unit(Unit::Grid(grid.clone())),
        Channel::Volunteer => reporter(channel, rng.u32(1..=270_000).to_string()),
        Channel::Hotline => reporter(channel, "12345".to_owned()),
        other => reporter(other, rng.u32(1..=500_000).to_string()),
    };
    // Grid workers settle many small matters of their own grid on the spot.
    let small = matches!(category.level, HandlingLevel::Grid | HandlingLevel::Village) && category.department.is_none();
    let settled = channel == Channel::GridPatrol && small && rng.u32(0..100) < 40;
    let submission = Submission {
        channel,
        actor,
        category: category.code.clone(),
        priority,
        lon: point.map(|p| p.0),
        lat: point.map(|p| p.1),
        grid: point.is_none().then(|| grid.to_string()),
        address: None,
        description,
        reporter: None,
        idempotency_key: None,
        settled_on_spot: settled.then(|| "网格员现场调解处置".to_owned()),
        photos: Vec::new(),
        reporter_account: None,
        follow_token_hash: None,
        media_url: None,
        within: None,
        held_for_dispatch: false,
    };
    let mut new = engine.plan_submission(&submission, reported, false)?;
    if new.row.status == Status::Accepted {
        let target = choose(dispatch, category, &new.row);
        engine.dispatch_new(&mut new, target, reported);
    }
    // A deterministic id: the report's time and the case's own draws.
    let random: [u8; 10] = std::array::from_fn(|_| rng.u8(..));
    new.row.id =
        uuid::Builder::from_unix_timestamp_millis(reported.timestamp_millis() as u64, &random).into_uuid().to_string();
    new.row.version = new.entries.len() as i64;
    let mut life = Life {
        engine,
        dispatch,
        row: new.row,
        entries: new.entries,
        at: reported,
        until: scenario.until,
        rng: fastrand::Rng::with_seed(rng.u64(..)),
    };
    life.play(category)?;
    // A played year is history, not news: webhooks hear only of live actions.
    Ok(NewCase { row: life.row, day: new.day, entries: life.entries, similar: None, notify: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_category_is_told_in_words_with_its_place() {
        let tellings = Tellings::shipped().unwrap();
        let book = crate::categories::CategoryBook::shipped().unwrap();
        for category in book.leaves() {
            assert!(tellings.0.contains_key(&category.code), "{} has no telling", category.code);
            let told: Vec<String> = (0..8).map(|index| tellings.tell(category, "凤凰社区", index)).collect();
            assert!(
                told.iter().all(|text| text.contains("凤凰社区") && !text.contains('{')),
                "{}: {told:?}",
                category.code
            );
            assert!(told.iter().all(|text| !text.contains(&category.code)), "words, not codes: {told:?}");
        }
        let unknown: Vec<&String> = tellings.0.keys().filter(|code| book.leaf(code).is_none()).collect();
        assert!(unknown.is_empty(), "tellings of no category: {unknown:?}");
    }

    #[test]
    fn sixteen_of_every_461_hotline_orders_are_safety_matters() {
        let safety = |orders: u64| (0..orders).filter(|&n| hotline_safety(n)).count();
        assert_eq!(safety(461), 16, "the source's 16 of 461 (3.47%, printed as 3.4%)");
        assert_eq!(safety(922), 32);
        assert_eq!(safety(100), 3, "spread evenly, not bunched at the start");
    }
}
