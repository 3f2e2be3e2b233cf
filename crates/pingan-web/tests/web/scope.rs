//! The scope invariant, over real HTTP on both engines: for accounts of every position in the
//! division tree and many random filter combinations (every list parameter alone, then several
//! together), a list, a count and an export hold exactly the matching cases that the account may
//! read one by one — no more (a shortcut that drops the visibility test), no fewer — and the count
//! equals the list's length. The cases are a simulated season of a district, with escalations and
//! dispatches up and down the tree, and reports of residents, volunteers and staff. Counts the
//! indicator tallies can answer (no filter, open or closed cases, a place, whole months) are asked
//! too, so that they are held to the same invariant.
//!
//! The seed is printed; `PINGAN_TEST_SEED=N` replays one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use pingan_core::Timestamp;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use pingan_app::access::{Principal, Scope};
use pingan_app::accounts::NewAccount;
use pingan_app::cases::CaseEngine;
use pingan_app::clock::{Clock, SystemClock};
use pingan_app::demo::DEMO_PASSWORD;
use pingan_app::simulate::{Scenario, simulate};
use pingan_app::{Atlas, Silent};
use pingan_core::access::Role;
use pingan_core::case::Channel;
use pingan_core::lifecycle::Status;
use pingan_core::{DivisionCode, Level, Month};
use pingan_store::cases::{CaseFilter, CaseRow, MAX_LIST};
use pingan_test_support::*;

/// The district whose season is simulated.
const DISTRICT: &str = "360302";

/// One list query: the parameters as sent, and what each means for a case.
#[derive(Clone, Debug, Default)]
struct Query {
    statuses: Vec<Status>,
    category: Option<String>,
    channel: Option<Channel>,
    division: Option<String>,
    grid: Option<String>,
    handler: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
    overdue: bool,
    q: Option<String>,
}

/// Every parameter that narrows a list.
const PARAMETERS: [&str; 10] =
    ["status", "category", "channel", "division", "grid", "handler", "from", "to", "overdue", "q"];

fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Query {
    fn query_string(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if !self.statuses.is_empty() {
            pairs.push(("status", self.statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")));
        }
        pairs.extend(self.category.clone().map(|c| ("category", c)));
        pairs.extend(self.channel.map(|c| ("channel", c.as_str().to_owned())));
        pairs.extend(self.division.clone().map(|d| ("division", d)));
        pairs.extend(self.grid.clone().map(|g| ("grid", g)));
        pairs.extend(self.handler.clone().map(|h| ("handler", h)));
        pairs.extend(self.from.map(|t| ("from", t.to_string())));
        pairs.extend(self.to.map(|t| ("to", t.to_string())));
        if self.overdue {
            pairs.push(("overdue", "true".into()));
        }
        pairs.extend(self.q.clone().map(|q| ("q", q)));
        pairs.iter().map(|(name, value)| format!("{name}={}", percent_encoded(value))).collect::<Vec<_>>().join("&")
    }

    /// Whether `case` matches, the overdue test made at `now`.
    fn matches(&self, case: &CaseRow, now: i64) -> bool {
        let text =
            format!("{} {}", case.body.description, case.body.address.as_deref().unwrap_or("")).to_ascii_lowercase();
        (self.statuses.is_empty() || self.statuses.contains(&case.status))
            && self.category.as_ref().is_none_or(|c| &case.category == c)
            && self.channel.is_none_or(|c| case.channel == c)
            && self.division.as_ref().is_none_or(|d| case.division.as_str().starts_with(d.as_str()))
            && self
                .grid
                .as_ref()
                .is_none_or(|g| case.grid.as_ref().is_some_and(|own| own.as_str().starts_with(g.as_str())))
            && self.handler.as_ref().is_none_or(|h| case.handler.as_ref() == Some(h))
            && self.from.is_none_or(|t| case.reported_at.millis() >= t)
            && self.to.is_none_or(|t| case.reported_at.millis() < t)
            && (!self.overdue
                || (Status::OPEN.contains(&case.status) && case.resolve_due.is_some_and(|due| due.millis() < now)))
            && self.q.as_ref().is_none_or(|q| text.contains(&q.to_ascii_lowercase()))
    }
}

/// Values to draw parameters from: those the cases hold, their ancestors, and some of no case.
struct Choices {
    categories: Vec<String>,
    divisions: Vec<String>,
    grids: Vec<String>,
    handlers: Vec<String>,
    times: Vec<i64>,
    texts: Vec<String>,
}

impl Choices {
    fn of(cases: &[CaseRow]) -> Choices {
        let mut categories = BTreeSet::new();
        let mut divisions = BTreeSet::from(["3603".to_owned(), "360313".to_owned()]);
        let mut grids = BTreeSet::new();
        let mut handlers = BTreeSet::from(["centre:360313".to_owned()]);
        let mut texts = BTreeSet::new();
        for case in cases {
            categories.insert(case.category.clone());
            let code = case.division.as_str();
            for length in [4, 6, 9, 12] {
                if code.len() >= length {
                    divisions.insert(code[..length].to_owned());
                }
            }
            if let Some(grid) = &case.grid {
                grids.insert(grid.to_string());
                grids.insert(grid.as_str()[..12].to_owned());
            }
            handlers.extend(case.handler.clone());
            let characters: Vec<char> = case.body.description.chars().collect();
            if characters.len() >= 3 {
                let at = (case.reported_at.millis() as usize) % (characters.len() - 2);
                texts.insert(characters[at..at + 2].iter().collect::<String>());
                texts.insert(characters[at..at + 3].iter().collect::<String>());
            }
        }
        texts.retain(|t| !pingan_store::cases::search_grams(t).is_empty() && t.trim() == t);
        Choices {
            categories: categories.into_iter().collect(),
            divisions: divisions.into_iter().collect(),
            grids: grids.into_iter().collect(),
            handlers: handlers.into_iter().collect(),
            times: cases.iter().map(|c| c.reported_at.millis()).collect(),
            texts: texts.into_iter().collect(),
        }
    }

    fn pick<T: Clone>(rng: &mut fastrand::Rng, from: &[T]) -> T {
        from[rng.usize(0..from.len())].clone()
    }

    /// Sets parameter `name` of `query` to a random value.
    fn set(&self, rng: &mut fastrand::Rng, query: &mut Query, name: &str) {
        match name {
            "status" => {
                let mut statuses: Vec<Status> = Status::ALL.into_iter().filter(|_| rng.u8(..4) == 0).collect();
                if statuses.is_empty() {
                    statuses.push(Self::pick(rng, &Status::ALL));
                }
                query.statuses = statuses;
            }
            "category" => query.category = Some(Self::pick(rng, &self.categories)),
            "channel" => query.channel = Some(Self::pick(rng, &Channel::ALL)),
            "division" => query.division = Some(Self::pick(rng, &self.divisions)),
            "grid" => query.grid = Some(Self::pick(rng, &self.grids)),
            "handler" => query.handler = Some(Self::pick(rng, &self.handlers)),
            "from" => query.from = Some(Self::pick(rng, &self.times)),
            "to" => query.to = Some(Self::pick(rng, &self.times)),
            "overdue" => query.overdue = true,
            "q" => query.q = Some(Self::pick(rng, &self.texts)),
            other => unreachable!("no parameter {other}"),
        }
    }
}

/// Sets parameter `name` of `query` to what matches `case`: a filter pointed at that case (at a
/// case the account may not read, it must find nothing of it).
fn aim(rng: &mut fastrand::Rng, query: &mut Query, name: &str, case: &CaseRow) {
    match name {
        "status" => query.statuses = vec![case.status],
        "category" => query.category = Some(case.category.clone()),
        "channel" => query.channel = Some(case.channel),
        // The case's own division, or one above it.
        "division" => {
            let code = case.division.as_str();
            let lengths: Vec<usize> = [4, 6, 9, 12].into_iter().filter(|&l| l <= code.len()).collect();
            query.division = Some(code[..Choices::pick(rng, &lengths)].to_owned());
        }
        // Its grid, or its grid's village.
        "grid" => {
            query.grid =
                case.grid.as_ref().map(|g| if rng.bool() { g.to_string() } else { g.as_str()[..12].to_owned() })
        }
        "handler" => query.handler = case.handler.clone(),
        "from" => query.from = Some(case.reported_at.millis()),
        "to" => query.to = Some(case.reported_at.millis() + 1),
        "overdue" => query.overdue = true,
        "q" => {
            let characters: Vec<char> = case.body.description.chars().collect();
            query.q = (0..characters.len().saturating_sub(1))
                .map(|at| characters[at..at + 2].iter().collect::<String>())
                .find(|pair| pair.chars().all(char::is_alphanumeric));
        }
        other => unreachable!("no parameter {other}"),
    }
}

/// The cases `scope` hides that lie nearest the account's own place (`place`: its unit's
/// division, or its grid): the ones a shortcut would let slip.
fn hidden_near<'a>(cases: &'a [CaseRow], scope: &Scope, place: &str) -> Vec<&'a CaseRow> {
    let shared = |case: &CaseRow| {
        let grid = case.grid.as_ref().map(|g| g.to_string()).unwrap_or_default();
        [case.division.as_str(), grid.as_str()]
            .iter()
            .map(|code| code.chars().zip(place.chars()).take_while(|(a, b)| a == b).count())
            .max()
            .unwrap_or(0)
    };
    let hidden: Vec<&CaseRow> = cases.iter().filter(|c| !scope.allows(c)).collect();
    let nearest = hidden.iter().map(|c| shared(c)).max().unwrap_or(0);
    hidden.into_iter().filter(|c| shared(c) == nearest).collect()
}

/// An account of one position in the tree.
struct Account {
    login: String,
    unit: Option<String>,
    roles: Vec<Role>,
}

impl Account {
    fn new(login: impl Into<String>, unit: Option<String>, roles: &[Role]) -> Account {
        Account { login: login.into(), unit, roles: roles.to_vec() }
    }
}

/// Accounts at every position: the city, the district and another county, townships and villages
/// holding cases, grids, departments and providers the cases went to, the hotline, an
/// administrator, residents and a volunteer who reported, one who did not, and another system.
fn accounts(cases: &[CaseRow], rng: &mut fastrand::Rng) -> Vec<Account> {
    // Grids with a case their village handles, so that each village account has one to see.
    let mut grids: Vec<String> = cases
        .iter()
        .filter(|c| c.division.level() == Level::Village)
        .filter_map(|c| c.grid.as_ref().map(|g| g.to_string()))
        .collect();
    grids.sort();
    grids.dedup();
    rng.shuffle(&mut grids);
    let mut handlers: Vec<String> = cases
        .iter()
        .filter_map(|c| c.handler.clone())
        .filter(|h| h.starts_with("department:") || h.starts_with("provider:"))
        .collect();
    handlers.sort();
    handlers.dedup();
    rng.shuffle(&mut handlers);
    let mut list = vec![
        Account::new("s-city", Some("centre:3603".into()), &[Role::CentreDispatcher]),
        Account::new("s-district", Some(format!("centre:{DISTRICT}")), &[Role::CentreLeader]),
        Account::new("s-other-county", Some("centre:360313".into()), &[Role::CentreDispatcher]),
        Account::new("s-hotline", Some("centre:3603".into()), &[Role::HotlineOperator]),
        Account::new("s-admin", Some(format!("centre:{DISTRICT}")), &[Role::Administrator]),
        Account::new("s-api", Some(format!("centre:{DISTRICT}")), &[Role::ApiClient]),
        Account::new("s-resident-none", None, &[Role::Resident]),
    ];
    for (i, grid) in grids.iter().take(3).enumerate() {
        list.push(Account::new(
            format!("s-township-{i}"),
            Some(format!("centre:{}", &grid[..9])),
            &[Role::CentreDispatcher],
        ));
        list.push(Account::new(
            format!("s-village-{i}"),
            Some(format!("centre:{}", &grid[..12])),
            &[Role::CentreDispatcher],
        ));
        let role = if i == 0 { Role::GridLeader } else { Role::GridWorker };
        list.push(Account::new(format!("s-grid-{i}"), Some(format!("grid:{grid}")), &[role]));
    }
    for (i, handler) in handlers.iter().take(4).enumerate() {
        list.push(Account::new(format!("s-unit-{i}"), Some(handler.clone()), &[Role::DepartmentHandler]));
    }
    list
}

/// Accounts that report cases of their own before the lists are tried.
fn reporters() -> Vec<(Account, Channel)> {
    vec![
        (Account::new("s-resident-a", None, &[Role::Resident]), Channel::Resident),
        (Account::new("s-resident-b", None, &[Role::Resident]), Channel::Resident),
        (Account::new("s-volunteer", Some("grid:360302008205001".into()), &[Role::Volunteer]), Channel::Volunteer),
    ]
}

fn create(served: &Served, account: &Account) {
    let new = NewAccount {
        login: account.login.clone(),
        name: account.login.clone(),
        unit: account.unit.clone(),
        roles: account.roles.clone(),
        password: Some(DEMO_PASSWORD.into()),
        password_is_own: true,
    };
    served.runtime.block_on(served.accounts.create(new)).unwrap_or_else(|e| panic!("{}: {e}", account.login));
}

fn now_ms() -> i64 {
    SystemClock.now().timestamp_millis()
}

/// Every case, read past any scope.
fn all_cases(served: &Served) -> Vec<CaseRow> {
    let filter = CaseFilter { limit: MAX_LIST, ..CaseFilter::default() };
    served.runtime.block_on(served.store.list_cases(&filter)).unwrap()
}

/// The numbers a list returns, page after page.
fn listed(served: &Served, auth: &[(&str, &str)], query: &str) -> Vec<String> {
    let mut numbers = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let (status, answer) = get_json_with(served, &format!("/api/v1/cases?{query}&limit=1000{page}"), auth);
        assert_eq!(status, 200, "list ?{query}: {answer}");
        numbers.extend(answer["cases"].as_array().unwrap().iter().map(|c| c["number"].as_str().unwrap().to_owned()));
        match answer["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return numbers,
        }
    }
}

/// The numbers of an export's rows, with the reporters' contact details where the account may
/// read them.
fn exported(served: &Served, auth: &[(&str, &str)], query: &str, personal: bool) -> Vec<String> {
    let options = if personal { "&personal=true&reason=%E6%A0%B8%E6%9F%A5" } else { "" };
    let (status, _, body) = get_with(served, &format!("/api/v1/cases/export?{query}{options}"), auth);
    assert_eq!(status, 200, "export ?{query}: {body}");
    let mut reader = csv::Reader::from_reader(body.trim_start_matches('\u{feff}').as_bytes());
    reader.records().map(|r| r.unwrap()[0].to_owned()).collect()
}

/// A web session of `login` (its cookie), if the account may open one.
fn session(served: &Served, login: &str) -> Option<String> {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let body = serde_json::json!({ "login": login, "password": DEMO_PASSWORD }).to_string();
    let response = agent
        .post(&format!("{}/api/v1/auth/login", served.base))
        .header("content-type", "application/json")
        .send(&body)
        .unwrap();
    (response.status().as_u16() == 200).then(|| {
        let cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap();
        cookie.split(';').next().unwrap().to_owned()
    })
}

/// The numbers the workbench's queue at `path` shows, page after page.
fn queued(served: &Served, cookie: &str, path: &str) -> Vec<String> {
    let mut numbers = Vec::new();
    let mut next = Some(path.to_owned());
    while let Some(path) = next {
        let (status, _, page) = get_with(served, &path, &[("cookie", cookie)]);
        assert_eq!(status, 200, "{path}: {page}");
        numbers.extend(page.split("<tr data-case=\"").skip(1).map(|row| row.split('"').next().unwrap().to_owned()));
        next = page
            .split_once(r#"id="next-page" href=""#)
            .map(|(_, rest)| rest.split('"').next().unwrap().replace("&amp;", "&"));
    }
    numbers
}

fn check_scope_invariant(served: &Served) {
    let seed = std::env::var("PINGAN_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
    println!("PINGAN_TEST_SEED={seed}");
    let mut rng = fastrand::Rng::with_seed(seed);

    // A season of the district, played through the engine up to now.
    served.runtime.block_on(async {
        let atlas = Arc::new(Atlas::load(served.store.as_ref()).await.unwrap());
        let engine = CaseEngine::standard(served.store.clone(), atlas.clone(), Arc::new(SystemClock)).unwrap();
        let scenario = Scenario {
            seed,
            area: DivisionCode::parse(DISTRICT).unwrap(),
            until: SystemClock.now(),
            days: 60,
            cases: 1500,
        };
        simulate(&engine, &atlas, &scenario, &Silent).await.unwrap();
    });
    // Reports of people's own, one of them by an account that has a unit.
    for (account, channel) in reporters() {
        create(served, &account);
        let auth = token(served, &account.login);
        for (lon, lat) in [(113.8543, 27.6229), (113.8467, 27.6283)] {
            let report = serde_json::json!({
                "channel": channel.as_str(), "category": "livelihood.road_repair", "lon": lon, "lat": lat,
                "description": format!("路面破损 {}", account.login), "reporter_phone": "13912345678"
            });
            let (status, answer) =
                post(served, "/api/v1/cases", &[JSON, ("authorization", &auth)], &report.to_string());
            assert_eq!(status, 201, "{answer}");
        }
    }
    let cases = all_cases(served);
    // Cases whose grid lies in a township while the county or the city handles them: a township
    // centre sees the grid, never the case.
    let handled_above = cases.iter().filter(|c| c.grid.is_some() && c.division.as_str().len() <= 6).count();
    assert!(handled_above > 50, "cases handled above their grid's township: {handled_above}");
    let choices = Choices::of(&cases);

    let mut positions = accounts(&cases, &mut rng);
    for account in &positions {
        create(served, account);
    }
    positions.extend(reporters().into_iter().map(|(account, _)| account));

    let (mut tried, mut queues) = (0, 0);
    for account in &positions {
        let row = served.runtime.block_on(served.store.account_by_login(&account.login)).unwrap().unwrap();
        let scope = Scope::of(&Principal::of(&row));
        let may_reveal = Principal::of(&row).may_reveal();
        let bearer = token(served, &account.login);
        let auth = [("authorization", bearer.as_str())];
        let visible: Vec<&CaseRow> = cases.iter().filter(|c| scope.allows(c)).collect();
        // What single reads answer, asked once per case and account.
        let mut reads: HashMap<String, u16> = HashMap::new();
        let mut read = |number: &str| -> u16 {
            *reads
                .entry(number.to_owned())
                .or_insert_with(|| get_json_with(served, &format!("/api/v1/cases/{number}"), &auth).0)
        };

        // Every parameter alone, pointed at a hidden case near the account and at random; then
        // combinations of two to five parameters, each pointed at one hidden case (the whole
        // filter matches it), at one visible case, or random.
        let place = account.unit.as_deref().and_then(pingan_core::unit::place_code_of).unwrap_or_default();
        let hidden = hidden_near(&cases, &scope, &place);
        let mut queries = Vec::new();
        for parameter in PARAMETERS {
            if let Some(target) = hidden.get(rng.usize(0..hidden.len().max(1))) {
                let mut query = Query::default();
                aim(&mut rng, &mut query, parameter, target);
                queries.push(query);
            }
            let mut query = Query::default();
            choices.set(&mut rng, &mut query, parameter);
            queries.push(query);
        }
        // Counts the indicator tallies answer: of every case, the open or the closed ones, of a
        // place, over whole months.
        let this_month = Month::of_instant(Timestamp::from_millis(now_ms()));
        let month_starts = [None, Some(this_month.previous().start().millis()), Some(this_month.start().millis())];
        let month_ends = [None, Some(this_month.start().millis()), Some(this_month.next().start().millis())];
        for statuses in [Vec::new(), Status::OPEN.to_vec(), vec![Status::Closed]] {
            let places = [
                None,
                DivisionCode::parse(&place).ok().map(|d| d.to_string()),
                Some(Choices::pick(&mut rng, &choices.divisions)),
            ];
            for division in places {
                queries.push(Query {
                    statuses: statuses.clone(),
                    division,
                    from: Choices::pick(&mut rng, &month_starts),
                    to: Choices::pick(&mut rng, &month_ends),
                    ..Query::default()
                });
            }
        }
        for round in 0..30 {
            let mut query = Query::default();
            let target = match round % 3 {
                0 => hidden.get(rng.usize(0..hidden.len().max(1))).copied(),
                1 => visible.get(rng.usize(0..visible.len().max(1))).copied(),
                _ => None,
            };
            for _ in 0..2 + rng.usize(0..4) {
                let parameter = PARAMETERS[rng.usize(0..PARAMETERS.len())];
                match target {
                    Some(case) => aim(&mut rng, &mut query, parameter, case),
                    None => choices.set(&mut rng, &mut query, parameter),
                }
            }
            queries.push(query);
        }
        for query in queries {
            let text = query.query_string();
            let before = now_ms();
            let list = listed(served, &auth, &text);
            let (status, counted) = get_json_with(served, &format!("/api/v1/cases/count?{text}"), &auth);
            assert_eq!(status, 200, "count ?{text}: {counted}");
            let export = exported(served, &auth, &text, may_reveal && rng.bool());
            let after = now_ms();

            let what = format!("{} (seed {seed}) ?{text}", account.login);
            assert_eq!(counted["count"].as_u64(), Some(list.len() as u64), "the count is the list's length: {what}");
            let listed_set: BTreeSet<&String> = list.iter().collect();
            assert_eq!(listed_set.len(), list.len(), "a case listed twice: {what}");
            assert_eq!(export.iter().collect::<BTreeSet<_>>(), listed_set, "the export is the list: {what}");
            // The cases that match and are visible; those whose deadline passed while the
            // requests ran may go either way.
            let number = |c: &CaseRow| c.number.as_ref().unwrap().to_string();
            let surely: BTreeSet<String> =
                visible.iter().filter(|c| query.matches(c, before)).map(|c| number(c)).collect();
            let maybe: BTreeSet<String> =
                visible.iter().filter(|c| query.matches(c, after + 1)).map(|c| number(c)).collect();
            for n in &surely {
                assert!(listed_set.contains(n), "{n} matches, is visible, and is not listed: {what}");
            }
            for n in &list {
                assert!(maybe.contains(n), "{n} is listed but is not a visible match: {what}");
                assert_eq!(read(n), 200, "{n} is listed, yet a single read refuses it: {what}");
            }
            tried += 1;
        }
        // The workbench's queue, all of it and its open cases, shows what the API's list shows.
        if let Some(cookie) = session(served, &account.login) {
            let all = listed(served, &auth, "");
            assert_eq!(queued(served, &cookie, "/work?status=all"), all, "{}: the whole queue", account.login);
            let open = listed(served, &auth, "status=reported,accepted,dispatched,in_progress");
            assert_eq!(queued(served, &cookie, "/work"), open, "{}: the open cases", account.login);
            queues += 1;
        }
        // The scope function agrees with single reads: a sample of the cases it hides are refused.
        for case in cases.iter().filter(|c| !scope.allows(c)).take(20) {
            let n = case.number.as_ref().unwrap().to_string();
            assert_eq!(read(&n), 404, "{} may read {n}, which its scope hides", account.login);
        }
        assert!(
            !visible.is_empty()
                || account.login.starts_with("s-other")
                || account.login.ends_with("-none")
                || account.login == "s-api",
            "{} sees nothing: the test would prove little",
            account.login
        );
    }
    assert!(tried >= 500, "{tried} queries");
    assert!(queues >= 10, "the workbench's queue of {queues} accounts compared");
}

#[test]
fn lists_counts_and_exports_show_what_single_reads_show_on_sqlite() {
    let served = served(Engine::Sqlite);
    check_scope_invariant(&served);
}

#[test]
fn lists_counts_and_exports_show_what_single_reads_show_on_postgres() {
    let served = served(Engine::Postgres);
    check_scope_invariant(&served);
}
