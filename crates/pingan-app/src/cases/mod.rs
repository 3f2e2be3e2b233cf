//! The case engine: intake and every lifecycle action, each one transaction through the store.
//!
//! Actors are named by their unit until accounts exist: `centre:CODE` (the governance centre of a
//! division), `department:COUNTY:KIND` (a department of a county or city), `grid:CODE` (a grid
//! worker of a grid), `resident:…` and the like for reporters. What an actor may do to a case
//! follows from that name and the case (see [`capacities`]); the lifecycle rules do the rest.

pub mod audit;
mod counts;
pub mod deadlines;
pub mod desk;
pub mod photos;

use pingan_core::Reason;
use std::sync::Arc;

use tokio::sync::broadcast;

use chrono::{DateTime, Utc};
use pingan_core::calendar::china_standard_time;
use pingan_core::case::{ActionDetails, CaseNumber, Channel};
use pingan_core::category::{HandlingLevel, Priority};
use pingan_core::lifecycle::{self, ActionKind, Capacity, Flags, Satisfaction, Status};
use pingan_core::{Actor, DivisionCode, GridCode, Level, Timestamp, Unit};
use pingan_store::cases::{
    ActionRecord, Candidate, CaseBody, CaseFilter, CaseRow, Created, DuplicateSearch, NewCase, Reporter,
};
use pingan_store::{Store, StoreError};
use serde_json::json;

use crate::access::{Principal, Scope, is_public_category};
use crate::clock::Clock;
use crate::context::Context;
use crate::fields::{checked_unit, checked_url, printable, text};
use crate::geography::atlas::Unplaced;
use crate::targets::TargetPolicy;
use crate::units;
use crate::webhooks::Webhooks;
use crate::{AppError, Atlas};

const MAX_DESCRIPTION: usize = 4000;
/// The longest address a report may give.
const MAX_ADDRESS: usize = 500;
const MAX_REASON: usize = 1000;

#[derive(Clone, Copy, Debug)]
pub struct EngineSettings {
    /// Share of the allowed working time after which a case is in warning.
    pub warn_at: f64,
    /// A report of the same category this close to an open case of the same village is flagged as a
    /// possible duplicate …
    pub duplicate_radius_m: f64,
    /// … if that case was reported within this many hours.
    pub duplicate_window_hours: i64,
}

impl Default for EngineSettings {
    fn default() -> EngineSettings {
        EngineSettings { warn_at: 0.8, duplicate_radius_m: 200.0, duplicate_window_hours: 72 }
    }
}

pub struct CaseEngine {
    context: Arc<Context>,
    atlas: Arc<Atlas>,
    /// Every action on a case queues a delivery for each subscription it concerns.
    webhooks: Arc<Webhooks>,
    settings: EngineSettings,
    /// Every case written, as it is written, for live screens (best effort: a listener that
    /// falls behind is told how many it missed).
    events: broadcast::Sender<Arc<CaseEvent>>,
}

/// A case as an action left it.
#[derive(Clone, Debug)]
pub struct CaseEvent {
    /// `report` for a new case, else the action taken.
    pub action: String,
    pub at: Timestamp,
    pub case: CaseRow,
}

/// How many events a slow listener may fall behind before it misses some.
const EVENT_BACKLOG: usize = 4096;

impl Submission {
    /// What the report asks for, as a short digest: a retry with the same idempotency key must
    /// ask for the same. The reporter's contact is left out, so no digest of personal data is
    /// stored; so are the key itself and the follow token (new at each try).
    fn digest(&self) -> String {
        let content = json!([
            self.channel.as_str(),
            self.category,
            self.priority.as_str(),
            self.lon,
            self.lat,
            self.grid,
            self.address,
            self.description,
            self.settled_on_spot,
            self.photos,
            self.media_url,
        ]);
        let digest = <sha2::Sha256 as sha2::Digest>::digest(content.to_string().as_bytes());
        pingan_core::hex(&digest[..12])
    }
}

/// A report as it arrives from any channel.
#[derive(Clone, Debug)]
pub struct Submission {
    pub channel: Channel,
    /// Who files it, as the history records them.
    pub actor: Actor,
    pub category: String,
    pub priority: Priority,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    /// Where no point is given, the grid the matter lies in.
    pub grid: Option<String>,
    pub address: Option<String>,
    pub description: String,
    pub reporter: Option<Reporter>,
    /// A client-chosen key: a retried submission with the same key returns the same case.
    pub idempotency_key: Option<String>,
    /// A grid worker who settled the matter on the spot says how.
    pub settled_on_spot: Option<String>,
    /// Hashes of photos stored beforehand (see [`crate::cases::photos`]).
    pub photos: Vec<String>,
    /// The account filing it, if any: it may follow the case.
    pub reporter_account: Option<String>,
    /// SHA-256 (hex) of the secret that lets the reporter follow the case without an account.
    pub follow_token_hash: Option<String>,
    /// A link to media held elsewhere (an http or https URL).
    pub media_url: Option<String>,
    /// The area the filer files for (another system's API key serves one): a report placed
    /// outside it is refused.
    pub within: Option<DivisionCode>,
    /// The desk that takes the call dispatches it itself (接单派单): the rules do not dispatch it
    /// on filing, and it waits, accepted, in the desk's dispatch queue.
    pub held_for_dispatch: bool,
}

#[derive(Clone, Debug)]
pub struct Submitted {
    pub case: CaseRow,
    /// False when the idempotency key had been used: `case` is the earlier one.
    pub created: bool,
    /// Numbers of open cases of the same category nearby, reported recently.
    pub possible_duplicates: Vec<String>,
}

/// One lifecycle action on a case.
#[derive(Clone, Debug)]
pub struct ActionRequest {
    /// The case's id or number.
    pub case: String,
    pub actor: Actor,
    pub action: Option<ActionKind>,
    /// The version the actor saw; a case changed meanwhile is refused.
    pub expected_version: i64,
    pub reason: Option<String>,
    /// The unit to dispatch to.
    pub target: Option<String>,
    pub satisfaction: Option<Satisfaction>,
    /// Working minutes asked for by an extension request.
    pub extension_minutes: Option<i64>,
    pub result: Option<String>,
    /// The case a duplicate is merged into.
    pub master: Option<String>,
    /// Hashes of stored photos of a result.
    pub photos: Vec<String>,
    /// The person acting (their unit is `actor`): their roles narrow what the unit may do, and the
    /// case must be in their scope. None for the server's own actions (the deadline sweep).
    pub by: Option<Principal>,
}

impl ActionRequest {
    /// `action` on `case` (its id or number) by `actor`, who saw it at `expected_version`; the
    /// action's own fields empty.
    pub fn new(case: impl Into<String>, actor: Actor, action: ActionKind, expected_version: i64) -> ActionRequest {
        ActionRequest {
            case: case.into(),
            actor,
            action: Some(action),
            expected_version,
            reason: None,
            target: None,
            satisfaction: None,
            extension_minutes: None,
            result: None,
            master: None,
            photos: Vec::new(),
            by: None,
        }
    }
}

/// The reporter's contact trimmed and checked; None when every field is empty.
fn checked_reporter(reporter: &Reporter) -> Result<Option<Reporter>, AppError> {
    let field = |value: &Option<String>, name: &'static str, max: usize| -> Result<Option<String>, AppError> {
        let value = value.as_deref().map(str::trim).filter(|v| !v.is_empty());
        match value {
            Some(v) if v.chars().count() > max => Err(AppError::TooLong { field: name, max }),
            Some(v) => printable(v, name).map(|()| Some(v.to_owned())),
            None => Ok(None),
        }
    };
    let checked = Reporter {
        name: field(&reporter.name, "reporter_name", 50)?,
        phone: field(&reporter.phone, "reporter_phone", 20)?,
        id_number: field(&reporter.id_number, "reporter_id_number", 18)?,
    };
    if let Some(phone) = &checked.phone
        && !phone.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' '))
    {
        return Err(AppError::InvalidField {
            field: "reporter_phone",
            reason: Reason::new("只能包含数字、“+”、“-”和空格", "digits, '+', '-' and spaces only"),
        });
    }
    if let Some(id) = &checked.id_number
        && !(id.len() == 18
            && id.bytes().take(17).all(|b| b.is_ascii_digit())
            && id.bytes().last().is_some_and(|b| b.is_ascii_digit() || b == b'X'))
    {
        return Err(AppError::InvalidField {
            field: "reporter_id_number",
            reason: Reason::new("须为 18 位：17 位数字加 1 位数字或 X", "18 characters: 17 digits and a digit or X"),
        });
    }
    Ok((checked != Reporter::default()).then_some(checked))
}

/// Metres between two WGS-84 points (equirectangular; fine at the scale of a duplicate search).
fn metres_between(a: (f64, f64), b: (f64, f64)) -> f64 {
    let scale = ((a.1 + b.1) / 2.0).to_radians().cos();
    let (dx, dy) = ((a.0 - b.0) * scale, a.1 - b.1);
    (dx * dx + dy * dy).sqrt() * 111_320.0
}

impl CaseEngine {
    pub fn new(
        context: Arc<Context>,
        atlas: Arc<Atlas>,
        webhooks: Arc<Webhooks>,
        settings: EngineSettings,
    ) -> CaseEngine {
        CaseEngine { context, atlas, webhooks, settings, events: broadcast::channel(EVENT_BACKLOG).0 }
    }

    /// An engine over `store` with the shipped categories and calendar, no vault and webhooks
    /// only to public addresses.
    pub fn standard(store: Arc<dyn Store>, atlas: Arc<Atlas>, clock: Arc<dyn Clock>) -> Result<CaseEngine, AppError> {
        let context = Arc::new(Context::standard(store, clock)?);
        let webhooks = Arc::new(Webhooks::new(context.clone(), TargetPolicy::default()));
        Ok(CaseEngine::new(context, atlas, webhooks, EngineSettings::default()))
    }

    /// The events of every case written from now on.
    pub fn events(&self) -> broadcast::Receiver<Arc<CaseEvent>> {
        self.events.subscribe()
    }

    fn publish(&self, action: &str, case: &CaseRow) {
        if self.events.receiver_count() > 0 {
            let event = CaseEvent { action: action.to_owned(), at: self.context.timestamp(), case: case.clone() };
            // No listener left since the count: nobody to tell.
            let _ = self.events.send(Arc::new(event));
        }
    }

    pub fn context(&self) -> &Arc<Context> {
        &self.context
    }

    pub fn webhooks(&self) -> &Arc<Webhooks> {
        &self.webhooks
    }

    /// The reporter's contact of `case` (one `by` may see) in the clear, for someone whose role
    /// may read it and who says why (two characters at least): the reading is written to the
    /// access log first, and a failure to log refuses it.
    pub async fn reveal_reporter(
        &self,
        accounts: &crate::accounts::Accounts,
        by: &Principal,
        case: &CaseRow,
        reason: &str,
        address: Option<std::net::IpAddr>,
    ) -> Result<Option<Reporter>, AppError> {
        let reason = Self::check_reveal(by, reason)?;
        let who = Some(crate::accounts::Who::from(by));
        accounts.record(who, Some(&case.id), crate::accounts::AccessEvent::RevealReporter, reason, address).await?;
        self.open_reporter(case)
    }

    /// Refuses a reveal by someone whose roles may not read reporters' contacts, or without a
    /// reason (two characters at least), whatever the case: answers the reason trimmed.
    pub fn check_reveal<'a>(by: &Principal, reason: &'a str) -> Result<&'a str, AppError> {
        if !by.may_reveal() {
            let reason = Reason::new("查看报告人个人信息", "reading reporters' personal data");
            return Err(crate::access::AccessError::Forbidden(reason).into());
        }
        let reason = reason.trim();
        if reason.chars().count() < 2 {
            return Err(crate::access::AccessError::ReasonRequired.into());
        }
        Ok(reason)
    }

    /// A case's reporter contact in the clear: only for a reveal that access control allowed and
    /// logged.
    pub fn open_reporter(&self, case: &CaseRow) -> Result<Option<Reporter>, AppError> {
        let sealed = case.body.reporter_sealed.as_deref();
        sealed.map(|sealed| self.context.vault()?.open(sealed, &case.id)).transpose()
    }

    /// Reads the catalog and the webhook subscriptions again (see [`Context::refresh_catalog`]);
    /// says whether the category book's version changed.
    pub async fn refresh(&self) -> Result<bool, AppError> {
        let changed = self.context.refresh_catalog().await?;
        self.webhooks.reload().await?;
        Ok(changed)
    }

    /// The claim and resolution deadlines of a dispatch made at `at`.
    fn deadlines(
        &self,
        category: &str,
        priority: Priority,
        at: DateTime<Utc>,
    ) -> (Option<Timestamp>, Option<Timestamp>) {
        match self.context.categories().leaf(category).and_then(|c| c.deadlines(priority)) {
            Some(d) => (
                Some(Timestamp::of(self.context.work_clock().add(at, d.claim_minutes))),
                Some(Timestamp::of(self.context.work_clock().add(at, d.resolve_minutes))),
            ),
            None => (None, None),
        }
    }

    pub async fn submit(&self, submission: Submission) -> Result<Submitted, AppError> {
        crate::cases::photos::check_photos(self.context.store(), &submission.photos).await?;
        let now = self.context.now();
        let mut planned = self.plan_submission(&submission, now, true)?;
        if !submission.held_for_dispatch {
            self.dispatch_if_clear(&mut planned, now).await?;
        }
        let point = submission.lon.zip(submission.lat);
        let queued = !planned.notify.is_empty();
        let created = self.context.store().create_case(planned).await?;
        if queued {
            self.webhooks.queued();
        }
        match created {
            Created::New(case, similar) => {
                self.publish("report", &case);
                Ok(Submitted { case, created: true, possible_duplicates: self.near(point, similar) })
            }
            Created::Existing(case) => Ok(Submitted { case, created: false, possible_duplicates: Vec::new() }),
        }
    }

    /// Submits many reports at once (an import): all become cases, in one transaction, or none
    /// does; a bad report is named by its position.
    pub async fn submit_batch(&self, submissions: &[Submission]) -> Result<Vec<Submitted>, AppError> {
        let now = self.context.now();
        let mut planned = Vec::with_capacity(submissions.len());
        for (index, submission) in submissions.iter().enumerate() {
            let in_batch = |error| AppError::InBatch { index, error: Box::new(error) };
            crate::cases::photos::check_photos(self.context.store(), &submission.photos).await.map_err(in_batch)?;
            let mut new = self.plan_submission(submission, now, true).map_err(in_batch)?;
            if !submission.held_for_dispatch {
                self.dispatch_if_clear(&mut new, now).await.map_err(in_batch)?;
            }
            planned.push(new);
        }
        let queued = planned.iter().any(|new| !new.notify.is_empty());
        let created = self.context.store().create_cases(planned).await.map_err(|error| match error {
            // The report whose key was reused, by its position.
            StoreError::KeyReused(key) => {
                match submissions.iter().rposition(|s| s.idempotency_key.as_ref() == Some(&key)) {
                    Some(index) => AppError::InBatch { index, error: Box::new(StoreError::KeyReused(key).into()) },
                    None => StoreError::KeyReused(key).into(),
                }
            }
            other => other.into(),
        })?;
        if queued {
            self.webhooks.queued();
        }
        for created in &created {
            if let Created::New(case, _) = created {
                self.publish("report", case);
            }
        }
        Ok(created
            .into_iter()
            .zip(submissions)
            .map(|(created, submission)| match created {
                Created::New(case, similar) => Submitted {
                    case,
                    created: true,
                    possible_duplicates: self.near(submission.lon.zip(submission.lat), similar),
                },
                Created::Existing(case) => Submitted { case, created: false, possible_duplicates: Vec::new() },
            })
            .collect())
    }

    /// The new case a submission made at `now` becomes: routed, accepted and dispatched where the
    /// rules allow, with its first history entries; nothing is written. With `find_duplicates`, the
    /// store is asked to look for open cases like it in the same transaction.
    pub fn plan_submission(
        &self,
        submission: &Submission,
        now: DateTime<Utc>,
        find_duplicates: bool,
    ) -> Result<NewCase, AppError> {
        let category = self.context.category(&submission.category)?;
        let description = text(Some(&submission.description), "description", MAX_DESCRIPTION)?;
        let address = submission.address.as_deref().map(|a| text(Some(a), "address", MAX_ADDRESS)).transpose()?;
        // The grid, and the deepest division known: the grid's village, or what an address names.
        let (grid, place) = match (submission.lon, submission.lat, &submission.grid, &address) {
            (Some(lon), Some(lat), _, _) => Self::routed_grid(&self.atlas.route(lon, lat)?)?,
            (None, None, Some(grid), _) => {
                let code = GridCode::parse(grid).map_err(|_| AppError::UnknownGrid(grid.clone()))?;
                Self::routed_grid(&self.atlas.grid(&code).ok_or_else(|| AppError::UnknownGrid(grid.clone()))?)?
            }
            (Some(_), None, _, _) => return Err(AppError::MissingField("lat")),
            (None, Some(_), _, _) => return Err(AppError::MissingField("lon")),
            (None, None, None, Some(address)) => (None, self.placed(address)?),
            (None, None, None, None) => return Err(AppError::MissingLocation),
        };
        if let Some(area) = &submission.within
            && !area.contains(&place)
        {
            return Err(AppError::OutsideFilersArea { place: place.to_string(), area: area.to_string() });
        }
        // The category's level, or the place itself when an address named nothing that deep.
        let at_level = |level: Level| place.ancestor(level).unwrap_or_else(|| place.clone());
        let division = match category.level {
            HandlingLevel::Grid | HandlingLevel::Village => place.clone(),
            HandlingLevel::Township => at_level(Level::Township),
            HandlingLevel::County => at_level(Level::County),
            HandlingLevel::City => at_level(Level::City),
        };
        let city = at_level(Level::City);
        let reporter = submission.reporter.as_ref().map(checked_reporter).transpose()?.flatten();

        let at = Timestamp::of(now);
        let centre = Unit::Centre(division.clone()).to_string();
        let mut entries = vec![ActionRecord {
            at,
            actor: submission.actor.to_string(),
            action: "report".into(),
            status_after: Status::Reported,
            details: ActionDetails {
                channel: Some(submission.channel),
                grid: grid.as_ref().map(ToString::to_string),
                ..ActionDetails::default()
            }
            .to_json(),
        }];
        let (mut status, mut handler) = (Status::Reported, None);
        let id = uuid::Uuid::new_v7(uuid::Timestamp::from_unix_time(
            now.timestamp().max(0) as u64,
            now.timestamp_subsec_nanos(),
            0,
            0,
        ))
        .to_string();
        let mut body = CaseBody {
            category_version: self.context.categories().version(),
            lon: submission.lon,
            lat: submission.lat,
            address,
            description,
            reporter_sealed: reporter.as_ref().map(|r| self.context.vault()?.seal(r, &id)).transpose()?,
            reporter_masked: reporter.as_ref().map(crate::personal::masked),
            follow_token_hash: submission.follow_token_hash.clone(),
            media_url: submission.media_url.as_deref().map(|url| checked_url("media_url", url)).transpose()?,
            photos: submission.photos.clone(),
            request_digest: submission.idempotency_key.as_ref().map(|_| submission.digest()),
            ..CaseBody::default()
        };
        let staff_channel = matches!(submission.channel, Channel::GridPatrol | Channel::Hotline | Channel::Reception);
        if let Some(result) = &submission.settled_on_spot {
            // Only a grid worker of this grid, reporting from patrol, settles on the spot.
            let worker = grid.clone().map(|grid| Unit::Grid(grid).to_string()).unwrap_or_default();
            let by_worker = submission.actor.unit().is_some_and(|unit| unit.to_string() == worker);
            if submission.channel != Channel::GridPatrol || !by_worker {
                return Err(lifecycle::LifecycleError::Forbidden {
                    action: ActionKind::SettleOnSpot,
                    status: Status::Reported,
                    needed: vec![Capacity::GridWorker],
                }
                .into());
            }
            let result = text(Some(result), "result", MAX_DESCRIPTION)?;
            let details = ActionDetails { result: Some(result.clone()), ..ActionDetails::default() };
            entries.push(record(at, &worker, ActionKind::SettleOnSpot, Status::Resolved, &details));
            status = Status::Resolved;
            // The worker answers for it: a verification that sends it back sends it to them.
            handler = Some(worker);
            body.result = Some(result);
            body.resolved_at = Some(at);
        } else if staff_channel {
            // Staff have screened the report already; dispatch follows where a rule is clear.
            let details = ActionDetails { automatic: Some(true), ..ActionDetails::default() };
            entries.push(record(at, &centre, ActionKind::Accept, Status::Accepted, &details));
            status = Status::Accepted;
        }

        let point = submission.lon.zip(submission.lat);
        let similar = point.filter(|_| find_duplicates).map(|p| self.duplicate_search(&category.code, &place, at, p));
        let row = CaseRow {
            id,
            number: None,
            city,
            status,
            channel: submission.channel,
            category: category.code.clone(),
            priority: submission.priority,
            division,
            handler,
            grid,
            reported_at: at,
            claim_due: None,
            resolve_due: None,
            alert_at: None,
            version: 0,
            idempotency_key: submission.idempotency_key.clone(),
            reporter_account: submission.reporter_account.clone(),
            body,
        };
        let day = now.with_timezone(&china_standard_time()).date_naive();
        let notify = self.webhooks.concerned(None, &row);
        Ok(NewCase { row, day, entries, similar, notify })
    }

    /// The division an address (already checked) names, for a report without a point (see
    /// [`Atlas::place_address`]).
    fn placed(&self, address: &str) -> Result<DivisionCode, AppError> {
        self.atlas.place_address(address).map_err(|unplaced| AppError::AddressNotPlaced {
            address: address.to_owned(),
            candidates: match unplaced {
                Unplaced::Nowhere => Vec::new(),
                Unplaced::Ambiguous(names) => names,
            },
        })
    }

    /// A routed grid's code and village.
    fn routed_grid(routed: &crate::geography::atlas::Routed) -> Result<(Option<GridCode>, DivisionCode), AppError> {
        let grid = GridCode::parse(&routed.grid.code).map_err(|_| AppError::UnknownGrid(routed.grid.code.clone()))?;
        let village = grid.village();
        Ok((Some(grid), village))
    }

    /// The search for open cases of the same category in the same village, reported recently,
    /// within a box around `point` a little larger than the duplicate radius.
    fn duplicate_search(
        &self,
        category: &str,
        village: &DivisionCode,
        at: Timestamp,
        point: (f64, f64),
    ) -> DuplicateSearch {
        let lat_span = self.settings.duplicate_radius_m / 111_320.0 * 1.01;
        let lon_span = lat_span / point.1.to_radians().cos().max(0.01);
        DuplicateSearch {
            category: category.to_owned(),
            village: village.to_string(),
            reported_from: at.plus(chrono::Duration::hours(-self.settings.duplicate_window_hours)),
            west: point.0 - lon_span,
            east: point.0 + lon_span,
            south: point.1 - lat_span,
            north: point.1 + lat_span,
        }
    }

    /// Numbers of the `found` cases within the duplicate radius of `point`.
    fn near(&self, point: Option<(f64, f64)>, found: Vec<Candidate>) -> Vec<String> {
        let Some(point) = point else { return Vec::new() };
        found
            .into_iter()
            .filter(|c| metres_between(point, (c.lon, c.lat)) <= self.settings.duplicate_radius_m)
            .map(|c| c.number)
            .collect()
    }

    pub async fn find(&self, case: &str) -> Result<CaseRow, AppError> {
        let found = match CaseNumber::parse(case) {
            Ok(number) => self.context.store().case_by_number(&number).await?,
            Err(_) => self.context.store().case_by_id(case).await?,
        };
        found.ok_or_else(|| AppError::CaseNotFound(case.to_owned()))
    }

    /// The case `case` (id or number) if `by` may see it; a case outside their scope is "not
    /// found", so its existence does not leak.
    pub async fn find_for(&self, by: &Principal, case: &str) -> Result<CaseRow, AppError> {
        let found = self.find(case).await?;
        if Scope::of(by).allows(&found) { Ok(found) } else { Err(AppError::CaseNotFound(case.to_owned())) }
    }

    /// Those of `cases` (numbers, as a submission's possible duplicates) that `by` may see: a
    /// report must not tell its reporter the numbers of other people's cases. None of them for
    /// someone without an account.
    pub async fn seen_by(&self, by: Option<&Principal>, cases: Vec<String>) -> Result<Vec<String>, AppError> {
        let Some(by) = by else { return Ok(Vec::new()) };
        let scope = Scope::of(by);
        let mut seen = Vec::with_capacity(cases.len());
        for case in cases {
            if self.find(&case).await.is_ok_and(|row| scope.allows(&row)) {
                seen.push(case);
            }
        }
        Ok(seen)
    }

    /// The cases of `filter` that `by` may see: the filter is always narrowed to their scope,
    /// whatever it asks for.
    pub async fn list_for(&self, by: &Principal, filter: CaseFilter) -> Result<Vec<CaseRow>, AppError> {
        Ok(self.context.store().list_cases(&CaseFilter { visible: Some(Scope::of(by).visibility()), ..filter }).await?)
    }

    /// Cases of `filter` that anyone may read (public matters only: see
    /// [`is_public_category`]).
    pub async fn list_public(&self, filter: CaseFilter) -> Result<Vec<CaseRow>, AppError> {
        let book = self.context.categories();
        let public: Vec<String> =
            book.leaves().into_iter().map(|c| c.code.clone()).filter(|c| is_public_category(c)).collect();
        let categories: Vec<String> = if filter.categories.is_empty() {
            public
        } else {
            filter.categories.iter().filter(|c| public.contains(c)).cloned().collect()
        };
        if categories.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.context.store().list_cases(&CaseFilter { categories, visible: None, ..filter }).await?)
    }

    /// The case `case` if anyone may read it; any other is "not found".
    pub async fn find_public(&self, case: &str) -> Result<CaseRow, AppError> {
        let found = self.find(case).await?;
        if is_public_category(&found.category) { Ok(found) } else { Err(AppError::CaseNotFound(case.to_owned())) }
    }

    /// How many cases of `filter` `by` may see.
    pub async fn count_for(&self, by: &Principal, filter: CaseFilter) -> Result<u64, AppError> {
        let visible = Scope::of(by).visibility();
        if let Some(count) = crate::cases::counts::tallied_count(self.context.store(), &visible, &filter).await? {
            return Ok(count);
        }
        Ok(self.context.store().count_cases(&CaseFilter { visible: Some(visible), ..filter }).await?)
    }

    /// Applies one action; the case's row and history change together or not at all.
    pub async fn act(&self, mut request: ActionRequest) -> Result<CaseRow, AppError> {
        let case = match &request.by {
            Some(by) => self.find_for(by, &request.case).await?,
            None => self.find(&request.case).await?,
        };
        crate::cases::photos::check_photos(self.context.store(), &request.photos).await?;
        if matches!(request.action, Some(ActionKind::Dispatch | ActionKind::Redispatch)) {
            // No target: the dispatch rules choose one. A named target must exist.
            let target = match request.target.take() {
                Some(target) => target,
                None => self.suggested_target(&case)?.ok_or(AppError::NoDispatchTarget)?,
            };
            if !units::unit_exists(self.context.store(), &target).await? {
                return Err(AppError::UnknownUnit(target));
            }
            // A unit above the case's place (its county's department) or below it (a village's
            // grid), never one of another county.
            let place = pingan_core::unit::place_code_of(&target).unwrap_or_default();
            let case_place = case.division.as_str();
            if !(case_place.starts_with(&place) || place.starts_with(case_place)) {
                return Err(AppError::TargetElsewhere { target, division: case.division.to_string() });
            }
            request.target = Some(target);
        }
        let master = match (request.action, request.master.as_deref()) {
            (Some(ActionKind::Merge), Some(master)) => Some(match &request.by {
                Some(by) => self.find_for(by, master).await?,
                None => self.find(master).await?,
            }),
            _ => None,
        };
        let (entry, row) = self.plan_action(&case, &request, master.as_ref(), self.context.now())?;
        let action = entry.action.clone();
        let notify = self.webhooks.concerned(Some(&case), &row);
        let queued = !notify.is_empty();
        let updated = self.context.store().record_action(request.expected_version, entry, row, notify).await?;
        if queued {
            self.webhooks.queued();
        }
        self.publish(&action, &updated);
        Ok(updated)
    }

    /// The history entry and the updated row that `request` makes of `case` at `now` (`master` is
    /// the case a merge names); nothing is written.
    pub fn plan_action(
        &self,
        case: &CaseRow,
        request: &ActionRequest,
        master: Option<&CaseRow>,
        now: DateTime<Utc>,
    ) -> Result<(ActionRecord, CaseRow), AppError> {
        let action = request.action.ok_or(AppError::MissingField("action"))?;
        // An actor who saw an older version judged a state that is gone: say so first. The store
        // checks again when writing, so a change that lands in between is caught too.
        if case.version != request.expected_version {
            return Err(pingan_store::StoreError::Conflict {
                expected: request.expected_version,
                actual: case.version,
            }
            .into());
        }
        let held = match &request.by {
            Some(by) => by.capacities(case, action),
            None => crate::access::capacities(&request.actor, case),
        };
        let flags = Flags { extension_pending: case.body.extension_pending };
        let outcome = lifecycle::transition(case.status, flags, action, request.satisfaction, &held)?;
        let at = Timestamp::of(now);
        let mut row = case.clone();
        row.status = outcome.status;
        row.body.extension_pending = outcome.flags.extension_pending;
        let reason = |required: bool| -> Result<Option<String>, AppError> {
            match (request.reason.as_deref(), required) {
                (None, false) => Ok(None),
                (value, _) => text(value, "reason", MAX_REASON).map(Some),
            }
        };
        let mut details = ActionDetails::default();
        match action {
            ActionKind::Accept | ActionKind::Verify | ActionKind::Claim | ActionKind::Close | ActionKind::Note => {
                details.note = reason(action == ActionKind::Note)?;
                if action == ActionKind::Note && request.actor == Actor::DEADLINE_SWEEP {
                    // The sweep's notes: past the deadline, the parent level's centre is told;
                    // in warning, the handler is. An overdue case needs no warning any more.
                    if case.resolve_due.is_some_and(|due| at >= due) {
                        details.overdue = true;
                        details.notify = case.division.parent().map(|p| Unit::Centre(p).to_string());
                        row.body.overdue_noted = case.resolve_due;
                    } else {
                        details.warning = true;
                        details.notify = case.handler.clone();
                    }
                    row.body.warning_noted = case.resolve_due;
                }
                if action == ActionKind::Claim {
                    row.body.claimed_at = Some(at);
                }
                if action == ActionKind::Close {
                    row.body.closed_at = Some(at);
                }
            }
            ActionKind::Reject | ActionKind::SendBack => {
                details.reason = reason(true)?;
                if action == ActionKind::SendBack {
                    row.body.resolved_at = None;
                }
            }
            ActionKind::Merge => {
                let master = master.ok_or(AppError::MissingField("master"))?;
                if master.id == case.id {
                    return Err(AppError::MissingField("master (another case)"));
                }
                details.master = master.number.as_ref().map(ToString::to_string);
                row.body.master = Some(master.id.clone());
            }
            ActionKind::Dispatch | ActionKind::Redispatch => {
                let target = checked_unit(request.target.as_deref().ok_or(AppError::MissingField("target"))?)?;
                details.to = Some(target.clone());
                row.handler = Some(target);
                (row.claim_due, row.resolve_due) = self.deadlines(&case.category, case.priority, now);
                row.body.dispatched_at = Some(at);
                row.body.claimed_at = None;
            }
            ActionKind::Return => {
                details.reason = reason(true)?;
                row.handler = None;
                (row.claim_due, row.resolve_due) = (None, None);
                row.body.returns += 1;
            }
            ActionKind::Escalate => {
                details.reason = reason(true)?;
                details.automatic = Some(request.actor == Actor::DEADLINE_SWEEP);
                row.division = case.division.parent().ok_or(AppError::CannotEscalate)?;
                details.to = Some(Unit::Centre(row.division.clone()).to_string());
                row.handler = None;
                (row.claim_due, row.resolve_due) = (None, None);
                row.body.escalations += 1;
            }
            ActionKind::RequestExtension => {
                details.reason = reason(true)?;
                let minutes =
                    request.extension_minutes.filter(|m| *m > 0).ok_or(AppError::MissingField("extension_minutes"))?;
                details.minutes = Some(minutes);
                row.body.extension_requested = Some(minutes);
            }
            ActionKind::ApproveExtension => {
                let minutes = case.body.extension_requested.unwrap_or(0);
                details.minutes = Some(minutes);
                row.resolve_due =
                    case.resolve_due.map(|due| Timestamp::of(self.context.work_clock().add(due.instant(), minutes)));
                row.body.extension_requested = None;
                row.body.extensions += 1;
            }
            ActionKind::RefuseExtension => {
                details.reason = reason(true)?;
                row.body.extension_requested = None;
            }
            ActionKind::Supervise => {
                details.note = reason(true)?;
                row.body.supervisions += 1;
            }
            ActionKind::Resolve | ActionKind::SettleOnSpot => {
                let result = text(request.result.as_deref(), "result", MAX_DESCRIPTION)?;
                details.result = Some(result.clone());
                details.photos = request.photos.clone();
                row.body.result = Some(result);
                row.body.result_photos = request.photos.clone();
                row.body.resolved_at = Some(at);
            }
            ActionKind::CallBack => {
                details.satisfaction = request.satisfaction;
                details.note = reason(false)?;
                row.body.satisfaction = request.satisfaction;
                if outcome.reopened {
                    row.body.reopenings += 1;
                    row.body.resolved_at = None;
                    // Reopened work gets a fresh resolution deadline.
                    row.resolve_due = self.deadlines(&case.category, case.priority, now).1;
                }
            }
        }
        if let Some(by) = &request.by {
            details.by = Some(by.login.clone());
        }
        let entry = ActionRecord {
            at,
            actor: request.actor.to_string(),
            action: action.as_str().to_owned(),
            status_after: row.status,
            details: details.to_json(),
        };
        self.settle_alert(&mut row);
        Ok((entry, row))
    }

    /// Sets when the deadline sweep must next look at `row`: its warning instant until a warning
    /// was noted for this deadline, then the deadline itself until it was noted overdue.
    fn settle_alert(&self, row: &mut CaseRow) {
        row.alert_at = None;
        let (Some(due), Some(dispatched)) = (row.resolve_due, row.body.dispatched_at) else { return };
        if !matches!(row.status, Status::Dispatched | Status::InProgress) || row.body.overdue_noted == Some(due) {
            return;
        }
        row.alert_at = Some(if row.body.warning_noted == Some(due) {
            due
        } else {
            let allowed = self.context.work_clock().minutes_between(dispatched.instant(), due.instant());
            let warn_after = (allowed as f64 * self.settings.warn_at).ceil() as i64;
            Timestamp::of(self.context.work_clock().add(dispatched.instant(), warn_after)).min(due)
        });
    }

    /// The unit the dispatch rules send `case` to; None when no unit fits (the centre chooses).
    pub fn suggested_target(&self, case: &CaseRow) -> Result<Option<String>, AppError> {
        let category = self.context.category(&case.category)?;
        Ok(self.context.dispatch_book().choose(&category, &case.division, case.grid.as_ref()))
    }

    /// Dispatches a new, accepted case at once where the rules name its unit.
    async fn dispatch_if_clear(&self, new: &mut NewCase, now: DateTime<Utc>) -> Result<(), AppError> {
        if new.row.status == Status::Accepted
            && let Some(target) = self.suggested_target(&new.row)?
        {
            self.dispatch_new(new, target, now);
        }
        Ok(())
    }

    /// Appends the automatic dispatch of a new, accepted case to `target`.
    pub fn dispatch_new(&self, new: &mut NewCase, target: String, now: DateTime<Utc>) {
        let at = Timestamp::of(now);
        let centre = Unit::Centre(new.row.division.clone()).to_string();
        let details = ActionDetails { to: Some(target.clone()), automatic: Some(true), ..ActionDetails::default() };
        new.entries.push(record(at, &centre, ActionKind::Dispatch, Status::Dispatched, &details));
        new.row.status = Status::Dispatched;
        (new.row.claim_due, new.row.resolve_due) = self.deadlines(&new.row.category, new.row.priority, now);
        new.row.handler = Some(target);
        new.row.body.dispatched_at = Some(at);
        self.settle_alert(&mut new.row);
    }

    /// The history of a case its reader may see, each entry hashed onto the one before.
    pub async fn history(&self, case: &CaseRow) -> Result<Vec<pingan_store::cases::StoredAction>, AppError> {
        Ok(self.context.store().history(&case.id).await?)
    }

    /// Stores an uploaded photo (checked, and counted against an anonymous address's quota).
    pub async fn store_photo(
        &self,
        bytes: Vec<u8>,
        uploader: photos::Uploader<'_>,
    ) -> Result<photos::StoredPhoto, AppError> {
        photos::store_photo(self.context.store(), bytes, self.context.timestamp(), uploader).await
    }

    /// A photo of a case its reader may see, by hash, with its media type: None for a hash that
    /// is not one of the case's report or result photos.
    pub async fn photo(&self, case: &CaseRow, hash: &str) -> Result<Option<(String, Vec<u8>)>, AppError> {
        if !case.body.photos.iter().chain(&case.body.result_photos).any(|named| named == hash) {
            return Ok(None);
        }
        Ok(self.context.store().photo(hash).await?)
    }

    /// Removes the photos that no case named within a day of their upload; how many.
    pub async fn remove_unattached_photos(&self) -> Result<u64, AppError> {
        photos::remove_unattached(self.context.store(), self.context.timestamp()).await
    }

    /// The departments and providers cases may be dispatched to, of the divisions under `prefix`.
    pub async fn units(&self, prefix: &str) -> Result<Vec<pingan_store::units::UnitRow>, AppError> {
        Ok(self.context.store().units(prefix).await?)
    }

    /// The actions `by` may take on `case` now, as the rules stand (an action may still be refused
    /// for what it carries: a missing reason, a target elsewhere).
    pub fn actions_for(&self, by: &Principal, case: &CaseRow) -> Vec<ActionKind> {
        let flags = Flags { extension_pending: case.body.extension_pending };
        ActionKind::ALL
            .into_iter()
            .filter(|&action| {
                let held = by.capacities(case, action);
                // A call-back's outcome does not decide whether one may be made.
                let rated = (action == ActionKind::CallBack).then_some(Satisfaction::Satisfied);
                !held.is_empty() && lifecycle::transition(case.status, flags, action, rated, &held).is_ok()
            })
            .collect()
    }

    /// The working-time deadline state of an open case's resolution, if it has a deadline.
    pub fn resolution_state(&self, case: &CaseRow) -> Option<pingan_core::calendar::DeadlineState> {
        let (due, dispatched) = (case.resolve_due?, case.body.dispatched_at?);
        let allowed = self.context.work_clock().minutes_between(dispatched.instant(), due.instant());
        Some(self.context.work_clock().deadline_state(
            dispatched.instant(),
            allowed,
            self.settings.warn_at,
            self.context.now(),
        ))
    }
}

fn record(at: Timestamp, actor: &str, action: ActionKind, status: Status, details: &ActionDetails) -> ActionRecord {
    ActionRecord {
        at,
        actor: actor.to_owned(),
        action: action.as_str().to_owned(),
        status_after: status,
        details: details.to_json(),
    }
}
