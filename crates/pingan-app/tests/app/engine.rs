//! The case engine on the demo data (萍乡 gridded) in a real SQLite file, with a clock the tests move.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use pingan_app::cases::audit::verify_histories;
use pingan_app::cases::{ActionRequest, CaseEngine, EngineSettings, Submission};
use pingan_app::categories::CategoryBook;
use pingan_app::clock::ManualClock;
use pingan_app::context::Context;
use pingan_app::demo::load_jiangxi;
use pingan_app::personal::{Resealed, Vault, check_keys, reseal};
use pingan_app::targets::TargetPolicy;
use pingan_app::webhooks::Webhooks;
use pingan_app::{Atlas, Silent, jiangxi};
use pingan_core::calendar::{OfficeHours, OfficialCalendar, WorkClock, china_standard_time};
use pingan_core::case::Channel;
use pingan_core::category::Priority;
use pingan_core::lifecycle::{ActionKind, Satisfaction, Status};
use pingan_core::{Actor, DivisionCode, Explain, Timestamp};
use pingan_store::Store;
use pingan_store::cases::{CaseFilter, CaseRow, Reporter};
use pingan_store_sqlite::SqliteStore;

/// 萍乡 city centre: grid 360302008205001 of 上柳源村委会, 光丰街道, 安源区.
const LON: f64 = 113.8543;
const LAT: f64 = 27.6229;
const VILLAGE: &str = "360302008205";
const TOWNSHIP: &str = "360302008";

fn local(text: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
    china_standard_time().from_local_datetime(&naive).unwrap().with_timezone(&Utc)
}

struct World {
    engine: CaseEngine,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    _directory: tempfile::TempDir,
}

async fn world(start: &str) -> World {
    world_sealing(start, None).await
}

/// A world whose engine seals personal data with `vault`.
async fn world_sealing(start: &str, vault: Option<Vault>) -> World {
    let directory = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&directory.path().join("pingan.db")).unwrap());
    load_jiangxi(store.as_ref(), &DivisionCode::parse(jiangxi::PINGXIANG).unwrap(), &Silent).await.unwrap();
    let atlas = Arc::new(Atlas::load(store.as_ref()).await.unwrap());
    let calendar = OfficialCalendar::parse(pingan_app::context::SHIPPED_CALENDAR).unwrap();
    let clock = Arc::new(ManualClock::new(local(start)));
    let work = WorkClock::new(calendar, OfficeHours::default());
    let mut context = Context::new(store.clone(), clock.clone(), CategoryBook::shipped().unwrap(), work);
    if let Some(vault) = vault {
        context = context.with_vault(Arc::new(vault));
    }
    let context = Arc::new(context);
    let webhooks = Arc::new(Webhooks::new(context.clone(), TargetPolicy::default()));
    let engine = CaseEngine::new(context, atlas, webhooks, EngineSettings::default());
    engine.refresh().await.unwrap();
    World { engine, store, clock, _directory: directory }
}

fn report(channel: Channel, actor: &str, category: &str) -> Submission {
    Submission {
        channel,
        actor: Actor::parse(actor).unwrap(),
        category: category.into(),
        priority: Priority::Normal,
        lon: Some(LON),
        lat: Some(LAT),
        grid: None,
        address: Some("光丰街道上柳源".into()),
        description: "楼上漏水，协商未果".into(),
        reporter: None,
        idempotency_key: None,
        settled_on_spot: None,
        photos: Vec::new(),
        reporter_account: None,
        follow_token_hash: None,
        media_url: None,
        within: None,
        held_for_dispatch: false,
    }
}

fn code(division: &str) -> DivisionCode {
    DivisionCode::parse(division).unwrap()
}

fn act(case: &CaseRow, actor: &str, action: ActionKind) -> ActionRequest {
    ActionRequest::new(case.number.as_ref().unwrap().to_string(), Actor::parse(actor).unwrap(), action, case.version)
}

fn centre(code: &str) -> String {
    format!("centre:{code}")
}

async fn case_count(store: &dyn Store) -> usize {
    store.list_cases(&CaseFilter { limit: 1000, ..CaseFilter::default() }).await.unwrap().len()
}

#[tokio::test]
async fn a_resident_report_walks_the_whole_lifecycle() {
    let w = world("2025-03-10 09:00").await;
    let village = centre(VILLAGE);
    let submitted =
        w.engine.submit(report(Channel::Resident, "resident:13800000000", "dispute.neighbour")).await.unwrap();
    let case = submitted.case;
    assert!(submitted.created);
    assert_eq!(case.number.as_ref().unwrap().to_string(), "3603-20250310-000001");
    assert_eq!((case.status, case.division.as_str(), case.version), (Status::Reported, VILLAGE, 1));

    let case = w.engine.act(act(&case, &village, ActionKind::Accept)).await.unwrap();
    let case = w
        .engine
        .act(ActionRequest { target: Some(village.clone()), ..act(&case, &village, ActionKind::Dispatch) })
        .await
        .unwrap();
    assert_eq!(case.status, Status::Dispatched);
    // 8 working hours to claim from 09:00 Monday: 3 h to noon, 3.5 h in the afternoon, 1.5 h on Tuesday.
    assert_eq!(case.claim_due, Some(Timestamp::of(local("2025-03-11 10:00"))));
    w.clock.set(local("2025-03-10 10:00"));
    let case = w.engine.act(act(&case, &village, ActionKind::Claim)).await.unwrap();
    let case = w
        .engine
        .act(ActionRequest { result: Some("协调维修完毕".into()), ..act(&case, &village, ActionKind::Resolve) })
        .await
        .unwrap();
    let case = w.engine.act(act(&case, &village, ActionKind::Verify)).await.unwrap();
    let case = w
        .engine
        .act(ActionRequest {
            satisfaction: Some(Satisfaction::Unsatisfied),
            ..act(&case, &village, ActionKind::CallBack)
        })
        .await
        .unwrap();
    assert_eq!((case.status, case.body.reopenings), (Status::InProgress, 1), "an unsatisfied call-back reopens");
    let case = w
        .engine
        .act(ActionRequest { result: Some("更换管道".into()), ..act(&case, &village, ActionKind::Resolve) })
        .await
        .unwrap();
    let case = w.engine.act(act(&case, &village, ActionKind::Verify)).await.unwrap();
    let case = w
        .engine
        .act(ActionRequest {
            satisfaction: Some(Satisfaction::Satisfied),
            ..act(&case, &village, ActionKind::CallBack)
        })
        .await
        .unwrap();
    let case = w.engine.act(act(&case, &village, ActionKind::Close)).await.unwrap();
    assert_eq!((case.status, case.version), (Status::Closed, 11));
    assert_eq!(case.body.satisfaction, Some(Satisfaction::Satisfied));

    let history = w.store.history(&case.id).await.unwrap();
    let actions: Vec<&str> = history.iter().map(|h| h.record.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "report",
            "accept",
            "dispatch",
            "claim",
            "resolve",
            "verify",
            "call_back",
            "resolve",
            "verify",
            "call_back",
            "close"
        ]
    );
    let report = verify_histories(w.store.as_ref(), &Silent).await.unwrap();
    assert_eq!((report.cases, report.first_break), (1, None));
}

#[tokio::test]
async fn refusals_name_the_state_and_write_nothing() {
    let w = world("2025-03-10 09:00").await;
    let case = w.engine.submit(report(Channel::Resident, "resident:1", "dispute.neighbour")).await.unwrap().case;

    // A centre that is not responsible, and a wrong step, and a stale version.
    let other = w.engine.act(act(&case, &centre("360302008201"), ActionKind::Accept)).await.unwrap_err();
    assert_eq!(other.code(), "action_forbidden", "{other}");
    let early = w.engine.act(act(&case, &centre(VILLAGE), ActionKind::Claim)).await.unwrap_err();
    assert_eq!(early.code(), "invalid_transition");
    assert!(early.to_string().contains("accept"), "the error lists what is possible: {early}");
    assert!(early.message_zh().contains("已上报"));
    // A higher centre may supervise.
    let supervised = w
        .engine
        .act(ActionRequest {
            reason: Some("请加快办理".into()),
            ..act(&case, &centre(TOWNSHIP), ActionKind::Supervise)
        })
        .await
        .unwrap();
    assert_eq!((supervised.status, supervised.body.supervisions), (Status::Reported, 1));
    let stale = w.engine.act(act(&case, &centre(VILLAGE), ActionKind::Accept)).await.unwrap_err();
    assert_eq!(stale.code(), "version_conflict");
    let accepted = w.engine.act(act(&supervised, &centre(VILLAGE), ActionKind::Accept)).await.unwrap();
    let bad_target = w
        .engine
        .act(ActionRequest {
            target: Some("somewhere".into()),
            ..act(&accepted, &centre(VILLAGE), ActionKind::Dispatch)
        })
        .await
        .unwrap_err();
    assert_eq!(bad_target.code(), "unknown_unit");
    let no_reason = w.engine.act(act(&accepted, &centre(VILLAGE), ActionKind::Escalate)).await.unwrap_err();
    assert_eq!(no_reason.code(), "missing_field");
    assert_eq!(w.store.history(&case.id).await.unwrap().len(), 3, "refused actions wrote nothing");

    let bad_reports = [
        (
            Submission { category: "dispute.aliens".into(), ..report(Channel::Resident, "resident:r", "x") },
            "unknown_category",
        ),
        (Submission { category: "dispute".into(), ..report(Channel::Resident, "resident:r", "x") }, "unknown_category"),
        (
            Submission {
                lon: Some(115.85),
                lat: Some(28.68),
                ..report(Channel::Resident, "resident:r", "dispute.family")
            },
            "outside_served_area",
        ),
        (
            Submission { lon: Some(181.0), ..report(Channel::Resident, "resident:r", "dispute.family") },
            "invalid_coordinates",
        ),
        (
            Submission { description: "  ".into(), ..report(Channel::Resident, "resident:r", "dispute.family") },
            "missing_field",
        ),
        (
            Submission { description: "长".repeat(4001), ..report(Channel::Resident, "resident:r", "dispute.family") },
            "too_long",
        ),
        (
            Submission {
                lon: None,
                lat: None,
                address: None,
                ..report(Channel::Resident, "resident:r", "dispute.family")
            },
            "missing_location",
        ),
        (
            Submission {
                lon: None,
                lat: None,
                address: Some("上埠村东头".into()),
                ..report(Channel::Resident, "resident:r", "dispute.family")
            },
            "address_not_placed",
        ),
        (
            Submission {
                lon: None,
                lat: None,
                address: Some(format!("安源区光丰街道上柳源村{}", "东".repeat(500))),
                ..report(Channel::Resident, "resident:r", "dispute.family")
            },
            "too_long",
        ),
        (
            Submission {
                lon: None,
                lat: None,
                grid: Some("360302008205999".into()),
                ..report(Channel::Resident, "resident:r", "dispute.family")
            },
            "unknown_grid",
        ),
        (
            Submission {
                settled_on_spot: Some("已处理".into()),
                ..report(Channel::Resident, "resident:r", "dispute.family")
            },
            "action_forbidden",
        ),
        // A filer serving another county (another system's API key): by its point, or its address.
        (
            Submission { within: Some(code("360313")), ..report(Channel::Open311, "open311:r", "dispute.family") },
            "outside_filers_area",
        ),
        (
            Submission {
                lon: None,
                lat: None,
                address: Some("安源区光丰街道".into()),
                within: Some(code("360313")),
                ..report(Channel::Open311, "open311:r", "dispute.family")
            },
            "outside_filers_area",
        ),
    ];
    for (submission, expected) in bad_reports {
        let error = w.engine.submit(submission).await.unwrap_err();
        assert_eq!(error.code(), expected, "{error}");
    }
    assert_eq!(case_count(w.store.as_ref()).await, 1, "a refused report wrote a case");
    // A filer's own area takes its report, however deep inside it the place lies.
    let within = Submission { within: Some(code("360302")), ..report(Channel::Open311, "open311:r", "dispute.family") };
    assert_eq!(w.engine.submit(within).await.unwrap().case.division.as_str(), VILLAGE);
}

#[tokio::test]
async fn a_report_without_a_point_is_placed_by_its_address() {
    let w = world("2025-03-10 09:00").await;
    let without_point = |address: &str, category: &str| Submission {
        lon: None,
        lat: None,
        address: Some(address.into()),
        ..report(Channel::Hotline, "hotline:7", category)
    };
    // The village named: its centre takes a village matter, with no grid known.
    let family = w.engine.submit(without_point("光丰街道上柳源村3组", "dispute.family")).await.unwrap().case;
    assert_eq!((family.division.as_str(), family.grid.as_ref()), (VILLAGE, None));
    assert_eq!((family.status, family.handler.as_deref()), (Status::Dispatched, Some(centre(VILLAGE).as_str())));
    assert_eq!((family.body.lon, family.body.address.as_deref()), (None, Some("光丰街道上柳源村3组")));
    // Only the district named: the village matter waits at the district's centre for dispatch
    // further down; a county matter is where it belongs.
    let vague = w.engine.submit(without_point("安源区某路12号", "dispute.family")).await.unwrap().case;
    assert_eq!(vague.division.as_str(), "360302");
    let fire = w.engine.submit(without_point("安源区光丰街道", "hazard.fire")).await.unwrap().case;
    assert_eq!((fire.division.as_str(), fire.handler.as_deref()), ("360302", Some("department:360302:xfj")));
    // No grid, so no worker of it settles on the spot.
    let settled = Submission {
        settled_on_spot: Some("已处理".into()),
        ..without_point("光丰街道上柳源村", "livelihood.street_order")
    };
    let settled =
        Submission { channel: Channel::GridPatrol, actor: Actor::parse("grid:360302008205001").unwrap(), ..settled };
    assert_eq!(w.engine.submit(settled).await.unwrap_err().code(), "action_forbidden");
}

#[tokio::test]
async fn staff_channels_accept_and_dispatch_at_once() {
    let w = world("2025-03-10 09:00").await;
    let family = w.engine.submit(report(Channel::Hotline, "hotline:7", "dispute.family")).await.unwrap().case;
    assert_eq!(family.status, Status::Dispatched);
    assert_eq!(family.handler.as_deref(), Some(centre(VILLAGE).as_str()));
    assert_eq!(w.store.history(&family.id).await.unwrap().len(), 3);

    // A fire hazard is the county's and its fire brigade's: the county has one, so it goes there.
    let fire = w.engine.submit(report(Channel::Hotline, "hotline:7", "hazard.fire")).await.unwrap().case;
    assert_eq!((fire.status, fire.division.as_str()), (Status::Dispatched, "360302"));
    assert_eq!(fire.handler.as_deref(), Some("department:360302:xfj"));
    let claimed = w.engine.act(act(&fire, "department:360302:xfj", ActionKind::Claim)).await.unwrap();
    assert_eq!(claimed.status, Status::InProgress);

    let grid = "grid:360302008205001";
    let settled = w
        .engine
        .submit(Submission {
            settled_on_spot: Some("已劝离占道摊贩".into()),
            ..report(Channel::GridPatrol, grid, "livelihood.street_order")
        })
        .await
        .unwrap()
        .case;
    assert_eq!((settled.status, settled.body.result.as_deref()), (Status::Resolved, Some("已劝离占道摊贩")));
    let elsewhere = Submission {
        settled_on_spot: Some("已处理".into()),
        ..report(Channel::GridPatrol, "grid:360302008205002", "livelihood.street_order")
    };
    assert_eq!(w.engine.submit(elsewhere).await.unwrap_err().code(), "action_forbidden");
}

#[tokio::test]
async fn dispatch_rules_choose_the_unit_and_counties_override_their_city() {
    use pingan_store::units::DispatchRule;
    let w = world("2025-03-10 09:00").await;
    let rule = |division: &str, unit: &str| DispatchRule {
        category: "hazard.road".into(),
        division: DivisionCode::parse(division).unwrap(),
        unit: unit.into(),
    };
    // The city sends road hazards to its own transport bureau; 安源区 (360302) keeps them.
    w.store.put_dispatch_rules(vec![rule("3603", "department:3603:jt")]).await.unwrap();
    w.engine.refresh().await.unwrap();
    let road = w.engine.submit(report(Channel::Hotline, "hotline:7", "hazard.road")).await.unwrap().case;
    assert_eq!(road.handler.as_deref(), Some("department:3603:jt"));
    w.store.put_dispatch_rules(vec![rule("360302", "department:360302:jt")]).await.unwrap();
    w.engine.refresh().await.unwrap();
    let road = w.engine.submit(report(Channel::Hotline, "hotline:7", "hazard.road")).await.unwrap().case;
    assert_eq!(road.handler.as_deref(), Some("department:360302:jt"));

    // Without the county's and the city's fire brigades no unit fits: the report waits in the
    // county centre's dispatch queue, and a dispatch must name its unit.
    for brigade in ["department:360302:xfj", "department:3603:xfj"] {
        assert!(w.store.remove_unit(brigade).await.unwrap());
    }
    w.engine.refresh().await.unwrap();
    let fire = w.engine.submit(report(Channel::Hotline, "hotline:7", "hazard.fire")).await.unwrap().case;
    assert_eq!((fire.status, fire.handler.as_deref()), (Status::Accepted, None));
    let county = centre("360302");
    let error = w.engine.act(act(&fire, &county, ActionKind::Dispatch)).await.unwrap_err();
    assert_eq!(error.code(), "no_dispatch_target", "{error}");
    let nowhere =
        ActionRequest { target: Some("department:360302:nope".into()), ..act(&fire, &county, ActionKind::Dispatch) };
    assert_eq!(w.engine.act(nowhere).await.unwrap_err().code(), "unknown_unit");
    let unknown_centre =
        ActionRequest { target: Some("centre:360399".into()), ..act(&fire, &county, ActionKind::Dispatch) };
    assert_eq!(w.engine.act(unknown_centre).await.unwrap_err().code(), "unknown_unit");
    let named =
        ActionRequest { target: Some("department:360302:yj".into()), ..act(&fire, &county, ActionKind::Dispatch) };
    let dispatched = w.engine.act(named).await.unwrap();
    assert_eq!(dispatched.handler.as_deref(), Some("department:360302:yj"));
    assert_eq!(w.store.history(&fire.id).await.unwrap().len(), 3, "refused dispatches were recorded");

    // Life services go to the one provider registered for them in the county (the demo's
    // merchants and skilled people); with two, the centre chooses; with none, the village centre
    // handles it.
    let home = w.engine.submit(report(Channel::Hotline, "hotline:7", "life.housekeeping")).await.unwrap().case;
    assert_eq!(home.handler.as_deref(), Some("provider:360302:housekeeping"));
    let provider = |id: &str| pingan_store::units::UnitRow {
        id: id.into(),
        kind: pingan_store::units::UnitKind::Provider,
        division: DivisionCode::parse("360302").unwrap(),
        name: "家政服务公司".into(),
        department_kind: None,
        categories: vec!["life.housekeeping".into()],
    };
    w.store.put_units(vec![provider("provider:360302:anju")]).await.unwrap();
    w.engine.refresh().await.unwrap();
    let home = w.engine.submit(report(Channel::Hotline, "hotline:7", "life.housekeeping")).await.unwrap().case;
    assert_eq!((home.status, home.handler.as_deref()), (Status::Accepted, None));
    assert!(w.store.remove_unit("provider:360302:repair").await.unwrap());
    w.engine.refresh().await.unwrap();
    let repair = w.engine.submit(report(Channel::Hotline, "hotline:7", "life.repair")).await.unwrap().case;
    assert_eq!(repair.handler, Some(centre(VILLAGE)), "no provider: the village centre handles it");

    // The source's other two families: 民生 matters of the township go to its leader in charge,
    // 平安 matters to the village's liaison leader; a county-level matter stays with the county's
    // department, and where no post is set up the department takes it.
    let sanitation =
        w.engine.submit(report(Channel::Hotline, "hotline:7", "livelihood.sanitation")).await.unwrap().case;
    assert_eq!(sanitation.handler, Some(format!("leader:{TOWNSHIP}:in_charge")));
    let patrol = w.engine.submit(report(Channel::Hotline, "hotline:7", "safety.patrol")).await.unwrap().case;
    assert_eq!(patrol.handler, Some(format!("leader:{VILLAGE}:liaison")));
    let drugs = w.engine.submit(report(Channel::Hotline, "hotline:7", "safety.drugs")).await.unwrap().case;
    assert_eq!(drugs.handler.as_deref(), Some("department:360302:ga"));
    assert!(w.store.remove_unit(&format!("leader:{VILLAGE}:liaison")).await.unwrap());
    w.engine.refresh().await.unwrap();
    let patrol = w.engine.submit(report(Channel::Hotline, "hotline:7", "safety.patrol")).await.unwrap().case;
    assert_eq!(patrol.handler.as_deref(), Some("department:360302:ga"));

    // A dispatch that names no unit follows the rules.
    let road = w.engine.submit(report(Channel::Resident, "resident:1", "hazard.road")).await.unwrap().case;
    let accepted = w.engine.act(act(&road, &county, ActionKind::Accept)).await.unwrap();
    let dispatched = w.engine.act(act(&accepted, &county, ActionKind::Dispatch)).await.unwrap();
    assert_eq!(dispatched.handler.as_deref(), Some("department:360302:jt"));
}

#[tokio::test]
async fn retries_return_the_same_case_and_near_reports_are_flagged() {
    let w = world("2025-03-10 09:00").await;
    let keyed = Submission {
        idempotency_key: Some("app-7f3a".into()),
        ..report(Channel::Resident, "resident:1", "hazard.road")
    };
    let first = w.engine.submit(keyed.clone()).await.unwrap();
    let retry = w.engine.submit(keyed).await.unwrap();
    assert!(first.created && !retry.created);
    assert_eq!(first.case.id, retry.case.id);
    assert!(first.possible_duplicates.is_empty());
    w.clock.set(local("2025-03-10 11:00"));
    let near = Submission { lon: Some(LON + 0.0005), ..report(Channel::Resident, "resident:2", "hazard.road") };
    let near = w.engine.submit(near).await.unwrap();
    assert_eq!(near.possible_duplicates, [first.case.number.as_ref().unwrap().to_string()]);
    let other_kind = w.engine.submit(report(Channel::Resident, "resident:3", "dispute.family")).await.unwrap();
    assert!(other_kind.possible_duplicates.is_empty());
    // The duplicate can be merged into the first report.
    let accepted_near = &near.case;
    let merged = w
        .engine
        .act(ActionRequest {
            master: Some(first.case.number.as_ref().unwrap().to_string()),
            ..act(accepted_near, &centre("360302"), ActionKind::Merge)
        })
        .await
        .unwrap();
    assert_eq!((merged.status, merged.body.master.as_deref()), (Status::Merged, Some(first.case.id.as_str())));
    assert_eq!(case_count(w.store.as_ref()).await, 3);
}

#[tokio::test]
async fn escalation_and_extension_move_the_case_and_its_deadline() {
    let w = world("2025-03-10 09:00").await;
    let case = w.engine.submit(report(Channel::Hotline, "hotline:1", "dispute.neighbour")).await.unwrap().case;
    let village = centre(VILLAGE);
    let claimed = w.engine.act(act(&case, &village, ActionKind::Claim)).await.unwrap();
    let asked = w
        .engine
        .act(ActionRequest {
            reason: Some("需等待鉴定".into()),
            extension_minutes: Some(420),
            ..act(&claimed, &village, ActionKind::RequestExtension)
        })
        .await
        .unwrap();
    let again = w
        .engine
        .act(ActionRequest {
            reason: Some("再延".into()),
            extension_minutes: Some(60),
            ..act(&asked, &village, ActionKind::RequestExtension)
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), "invalid_transition", "one request at a time");
    let approved = w.engine.act(act(&asked, &village, ActionKind::ApproveExtension)).await.unwrap();
    // 70 working hours (dispute.neighbour, normal) plus one working day (7 h).
    let before = claimed.resolve_due.unwrap();
    assert!(approved.resolve_due.unwrap() > before);
    assert_eq!(approved.body.extensions, 1);
    let escalated = w
        .engine
        .act(ActionRequest {
            reason: Some("涉及多村，需镇里协调".into()),
            ..act(&approved, &village, ActionKind::Escalate)
        })
        .await
        .unwrap();
    assert_eq!(
        (escalated.status, escalated.division.as_str(), escalated.handler.as_deref()),
        (Status::Accepted, TOWNSHIP, None)
    );
    assert_eq!(escalated.body.escalations, 1);
    let now_the_townships = w.engine.act(act(&escalated, &village, ActionKind::Dispatch)).await.unwrap_err();
    assert_eq!(now_the_townships.code(), "action_forbidden");
}

#[tokio::test]
async fn deadlines_count_working_time_across_the_spring_festival() {
    // Friday 24 January 2025, 16:00: 1.5 h that day, then Sunday 26 January is a make-up working day.
    let w = world("2025-01-24 16:00").await;
    let case = w.engine.submit(report(Channel::Hotline, "hotline:1", "dispute.family")).await.unwrap().case;
    assert_eq!(case.claim_due, Some(Timestamp::of(local("2025-01-26 17:00"))));
    // Resolution: 70 h. After the 26th (7 h) the festival runs 28 January to 4 February.
    assert!(case.resolve_due.unwrap() > Timestamp::of(local("2025-02-05 08:30")));
    w.clock.set(local("2025-01-26 16:30"));
    assert_eq!(w.engine.resolution_state(&case), Some(pingan_core::calendar::DeadlineState::OnTime));
}

#[tokio::test]
async fn the_deadline_sweep_notifies_once_or_escalates() {
    use pingan_app::cases::deadlines::{OverduePolicy, SweepReport, sweep_overdue};

    let w = world("2025-03-10 09:00").await;
    let noted = w.engine.submit(report(Channel::Hotline, "hotline:1", "dispute.family")).await.unwrap().case;
    let moved = w.engine.submit(report(Channel::Hotline, "hotline:2", "dispute.neighbour")).await.unwrap().case;
    let quiet = SweepReport::default();
    assert_eq!(sweep_overdue(&w.engine, OverduePolicy::NotifyParent).await.unwrap(), quiet, "nothing is overdue yet");

    // Both have 70 working hours: ten working days. Eight of them are used on the 20th of March:
    // the handler is warned, once.
    w.clock.set(local("2025-03-19 17:00"));
    assert_eq!(sweep_overdue(&w.engine, OverduePolicy::NotifyParent).await.unwrap(), quiet, "warned too early");
    w.clock.set(local("2025-03-21 10:00"));
    let warned = sweep_overdue(&w.engine, OverduePolicy::NotifyParent).await.unwrap();
    assert_eq!((warned.warned, warned.overdue), (2, 0), "{warned:?}");
    assert_eq!(sweep_overdue(&w.engine, OverduePolicy::NotifyParent).await.unwrap(), quiet, "warned twice");
    let warning = w.store.history(&noted.id).await.unwrap().pop().unwrap();
    assert!(warning.record.details.contains("\"warning\":true"), "{}", warning.record.details);
    assert!(warning.record.details.contains(&centre(VILLAGE)), "the handler is not told: {}", warning.record.details);

    // On the 25th of March both are overdue.
    w.clock.set(local("2025-03-25 09:00"));
    assert!(noted.resolve_due.unwrap() < Timestamp::of(local("2025-03-25 09:00")));
    let first = sweep_overdue(&w.engine, OverduePolicy::NotifyParent).await.unwrap();
    assert_eq!((first.overdue, first.notified, first.escalated), (2, 2, 0));
    let again = sweep_overdue(&w.engine, OverduePolicy::NotifyParent).await.unwrap();
    assert_eq!(again, quiet, "an overdue case is recorded once per deadline");
    let history = w.store.history(&noted.id).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!((last.record.action.as_str(), last.record.actor.as_str()), ("note", "system:deadlines"));
    assert!(last.record.details.contains(&format!("centre:{TOWNSHIP}")), "{}", last.record.details);

    let escalated = sweep_overdue(&w.engine, OverduePolicy::Escalate).await.unwrap();
    assert_eq!(escalated.escalated, 0, "already recorded for this deadline");
    // A case with a new deadline that passes is escalated under the escalation policy.
    let current = w.engine.find(&moved.id).await.unwrap();
    let redispatched = w
        .engine
        .act(ActionRequest { target: Some(centre(VILLAGE)), ..act(&current, &centre(VILLAGE), ActionKind::Redispatch) })
        .await
        .unwrap();
    w.clock.set(local("2025-04-25 09:00"));
    let report = sweep_overdue(&w.engine, OverduePolicy::Escalate).await.unwrap();
    assert_eq!(report.escalated, 1, "{report:?}");
    let after = w.engine.find(&redispatched.id).await.unwrap();
    assert_eq!((after.status, after.division.as_str()), (Status::Accepted, TOWNSHIP));
    let last = w.store.history(&after.id).await.unwrap().pop().unwrap();
    assert_eq!(last.record.action, "escalate");
    assert!(last.record.details.contains("\"automatic\":true"));
    assert_eq!(verify_histories(w.store.as_ref(), &Silent).await.unwrap().first_break, None);
}

#[tokio::test]
async fn a_new_category_version_applies_to_new_cases_only() {
    use pingan_app::categories::{DEFAULT_CATEGORIES, import_categories};
    let w = world("2025-03-10 09:00").await;
    assert!(!w.engine.refresh().await.unwrap(), "the shipped book is version 1, already in force");
    assert_eq!(w.store.latest_categories().await.unwrap().map(|(v, _)| v), Some(1), "the shipped book was not stored");
    let before = w.engine.submit(report(Channel::Hotline, "hotline:7", "hazard.fire")).await.unwrap().case;

    // Version 2 gives fire hazards twice the working time.
    let slower = DEFAULT_CATEGORIES.replace(
        "hazard.fire,hazard,消防隐患,Fire hazard,county,xfj,2,24,",
        "hazard.fire,hazard,消防隐患,Fire hazard,county,xfj,2,48,",
    );
    assert_ne!(slower, DEFAULT_CATEGORIES);
    assert_eq!(import_categories(w.store.as_ref(), &slower, "slower.csv", Timestamp::default()).await.unwrap(), 2);
    assert!(w.engine.refresh().await.unwrap());
    assert!(!w.engine.refresh().await.unwrap(), "an unchanged book counted as new");
    let after = w.engine.submit(report(Channel::Hotline, "hotline:7", "hazard.fire")).await.unwrap().case;
    assert_eq!((before.body.category_version, after.body.category_version), (1, 2));
    assert!(after.resolve_due.unwrap() > before.resolve_due.unwrap());
    let kept = w.store.case_by_id(&before.id).await.unwrap().unwrap();
    assert_eq!(kept.resolve_due, before.resolve_due, "a dispatched case's deadline was rewritten");

    // Dropping a category in use, or a malformed line, is refused whole.
    let dropped: String = slower.lines().filter(|l| !l.starts_with("hazard.fire,")).map(|l| format!("{l}\n")).collect();
    let error = import_categories(w.store.as_ref(), &dropped, "dropped.csv", Timestamp::default()).await.unwrap_err();
    assert_eq!(error.code(), "category_dropped", "{error}");
    let malformed = format!("{slower}hazard.odd,hazard,怪,Odd,galaxy,,1,2,1,2,1,2\n");
    let error =
        import_categories(w.store.as_ref(), &malformed, "malformed.csv", Timestamp::default()).await.unwrap_err();
    assert_eq!(error.code(), "invalid_category", "{error}");
    assert_eq!(w.store.latest_categories().await.unwrap().unwrap().0, 2);
}

#[tokio::test]
async fn resealing_under_a_new_key_retires_the_old_one() {
    let (first, second) = (Vault::generate("k1"), Vault::generate("k2"));
    let World { engine, store, _directory, .. } =
        world_sealing("2026-03-02 09:00", Some(Vault::parse(&first).unwrap())).await;
    let reporter = Reporter { name: Some("张三丰".into()), phone: Some("13812345678".into()), id_number: None };
    let with_contact = Submission {
        reporter: Some(reporter.clone()),
        ..report(Channel::Resident, "resident:anonymous", "dispute.neighbour")
    };
    let case = engine.submit(with_contact).await.unwrap().case;
    engine.submit(report(Channel::Resident, "resident:anonymous", "dispute.family")).await.unwrap();

    // The new key goes on top; the old one stays until every record is sealed again.
    let rotated = Vault::parse(&format!("{second}{first}")).unwrap();
    let done = reseal(store.as_ref(), &rotated, &Silent).await.unwrap();
    assert_eq!(done, Resealed { cases: 2, resealed: 1, left: 0 });
    let stored = store.case_by_id(&case.id).await.unwrap().unwrap();
    let sealed = stored.body.reporter_sealed.as_deref().unwrap();
    assert_eq!(Vault::key_of(sealed), "k2");
    assert_eq!(stored.version, case.version, "resealing is not an action");
    assert_eq!(Vault::parse(&second).unwrap().open(sealed, &case.id).unwrap(), reporter, "the new key alone opens it");
    assert!(Vault::parse(&first).unwrap().open(sealed, &case.id).is_err());
    let again = reseal(store.as_ref(), &rotated, &Silent).await.unwrap();
    assert_eq!(again, Resealed { cases: 2, resealed: 0, left: 0 }, "nothing left to do");
}

/// A server refuses to start with a key file that does not open the database's personal data:
/// another file with a key of the same name (made afresh in another directory), or one that lacks
/// a key in use. The key that seals is recorded; once resealing leaves nothing under an older key,
/// that key may go.
#[tokio::test]
async fn a_key_file_that_does_not_open_the_database_is_refused_at_start() {
    let first = Vault::generate("k1");
    let vault = Vault::parse(&first).unwrap();
    // A database made before keys were recorded: its newest sealed contacts are tried instead.
    let World { engine, store, _directory, .. } =
        world_sealing("2026-03-02 09:00", Some(Vault::parse(&first).unwrap())).await;
    let with_contact = Submission {
        reporter: Some(Reporter { name: None, phone: Some("13812345678".into()), id_number: None }),
        ..report(Channel::Resident, "resident:anonymous", "dispute.neighbour")
    };
    engine.submit(with_contact).await.unwrap();
    let stray = Vault::parse(&Vault::generate("k1")).unwrap();
    let refused = check_keys(store.as_ref(), &stray, Timestamp::default()).await.unwrap_err();
    assert_eq!(refused.code(), "data_keys_missing");
    assert!(refused.message_en().contains("key k1 in the key file is not the one"), "{}", refused.message_en());
    assert!(store.data_key_probes().await.unwrap().is_empty(), "a refused start recorded a key");

    check_keys(store.as_ref(), &vault, Timestamp::default()).await.unwrap();
    assert_eq!(store.data_key_probes().await.unwrap().len(), 1);
    for wrong in [stray, Vault::parse(&Vault::generate("k7")).unwrap()] {
        let refused = check_keys(store.as_ref(), &wrong, Timestamp::default()).await.unwrap_err();
        assert_eq!(refused.code(), "data_keys_missing", "{wrong:?}");
        assert!(refused.message_zh().contains("k1"), "{}", refused.message_zh());
    }

    // Rotated: both keys are needed until every record is sealed again under the new one.
    let second = Vault::generate(&Vault::new_key_id());
    let rotated = Vault::parse(&format!("{second}{first}")).unwrap();
    check_keys(store.as_ref(), &rotated, Timestamp::default()).await.unwrap();
    assert_eq!(store.data_key_probes().await.unwrap().len(), 2);
    let newest_only = Vault::parse(&second).unwrap();
    assert!(check_keys(store.as_ref(), &newest_only, Timestamp::default()).await.is_err(), "k1 still seals a record");
    reseal(store.as_ref(), &rotated, &Silent).await.unwrap();
    check_keys(store.as_ref(), &newest_only, Timestamp::default()).await.unwrap();
    assert_eq!(store.data_key_probes().await.unwrap().len(), 1);
    assert!(newest_only.current_key().starts_with("k-") && newest_only.current_key().len() == 10);
}

/// Someone without an account stores at most a day's quota of new photos from one address (then
/// 429 `photo_quota_reached`, nothing stored); a photo already stored, another address, an account
/// and the next day are not held back.
#[tokio::test]
async fn anonymous_photos_have_a_daily_quota_per_address() {
    use pingan_app::cases::photos::{ANONYMOUS_DAILY_BYTES, MAX_PHOTO_BYTES, Uploader, store_photo};
    use pingan_store::PhotoStore;
    use sha2::Digest;
    let directory = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&directory.path().join("pingan.db")).unwrap();
    let photo = |n: u32| {
        let mut bytes = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
        bytes.extend(n.to_be_bytes());
        bytes.resize(MAX_PHOTO_BYTES, 7);
        bytes
    };
    let (one, other) =
        (Uploader::Anonymous(Some([127, 0, 0, 1].into())), Uploader::Anonymous(Some([127, 0, 0, 2].into())));
    let now = Timestamp::from_millis(1_790_000_000_000);
    let fits = u32::try_from(ANONYMOUS_DAILY_BYTES / MAX_PHOTO_BYTES as u64).unwrap();
    for n in 0..fits {
        store_photo(&store, photo(n), now, one).await.unwrap();
    }
    let refused = store_photo(&store, photo(fits), now, one).await.unwrap_err();
    assert_eq!(refused.code(), "photo_quota_reached");
    let stored = store.missing_photos(&[pingan_core::hex(&sha2::Sha256::digest(photo(fits)))]).await.unwrap();
    assert_eq!(stored.len(), 1, "the refused photo is not stored");
    assert!(!store_photo(&store, photo(0), now, one).await.unwrap().new, "a photo already stored is no new bytes");
    store_photo(&store, photo(fits), now, other).await.unwrap();
    store_photo(&store, photo(fits + 1), now, Uploader::Account("a-1")).await.unwrap();
    store_photo(&store, photo(fits + 2), now.plus(chrono::Duration::milliseconds(24 * 3600 * 1000 + 1)), one)
        .await
        .unwrap();
}
