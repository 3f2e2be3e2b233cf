//! Simulated activity: played through the engine, deterministic for a seed, with intact histories.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use pingan_app::cases::CaseEngine;
use pingan_app::cases::audit::verify_histories;
use pingan_app::clock::SystemClock;
use pingan_app::demo::load_jiangxi;
use pingan_app::simulate::{Scenario, simulate};
use pingan_app::{AppError, Atlas, Silent, jiangxi};
use pingan_core::DivisionCode;
use pingan_store::Store;
use pingan_store_sqlite::SqliteStore;

async fn fresh() -> (Arc<dyn Store>, Arc<Atlas>, tempfile::TempDir) {
    let directory = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&directory.path().join("pingan.db")).unwrap());
    load_jiangxi(store.as_ref(), &DivisionCode::parse(jiangxi::PINGXIANG).unwrap(), &Silent).await.unwrap();
    let atlas = Arc::new(Atlas::load(store.as_ref()).await.unwrap());
    (store, atlas, directory)
}

/// Every case's id, status and last history hash, in id order.
async fn fingerprint(store: &dyn Store) -> Vec<(String, String, [u8; 32])> {
    let mut all = Vec::new();
    for id in store.case_ids(None, 100_000).await.unwrap() {
        let case = store.case_by_id(&id).await.unwrap().unwrap();
        let history = store.history(&id).await.unwrap();
        all.push((id, case.status.as_str().to_owned(), history.last().unwrap().hash));
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_season_is_deterministic_and_its_histories_hold() {
    let until = Utc.with_ymd_and_hms(2026, 10, 31, 16, 0, 0).unwrap();
    let scenario = Scenario { seed: 7, area: DivisionCode::parse("360313").unwrap(), until, days: 60, cases: 3000 };
    let mut fingerprints = Vec::new();
    for _ in 0..2 {
        let (store, atlas, _directory) = fresh().await;
        let engine = CaseEngine::standard(store.clone(), atlas.clone(), Arc::new(SystemClock)).unwrap();
        let summary = simulate(&engine, &atlas, &scenario, &Silent).await.unwrap();
        assert_eq!(summary.cases, 3000);
        let audit = verify_histories(store.as_ref(), &Silent).await.unwrap();
        assert_eq!(audit.cases, 3000);
        assert_eq!(audit.entries, summary.actions as u64);
        assert!(audit.first_break.is_none(), "a simulated history is broken: {:?}", audit.first_break);

        // Reports come from the county's grids only, from every channel, about a share each.
        let printed = fingerprint(store.as_ref()).await;
        let mut channels = BTreeMap::new();
        for (id, _, _) in printed.iter().take(500) {
            let case = store.case_by_id(id).await.unwrap().unwrap();
            assert!(case.grid.as_ref().unwrap().as_str().starts_with("360313"));
            *channels.entry(case.channel.as_str()).or_insert(0) += 1;
        }
        assert!((150..250).contains(&channels["volunteer"]), "volunteers: {channels:?}");
        assert!(channels.len() >= 6, "channels: {channels:?}");

        // Each channel files what it files in life: of the hotline's orders, 16 in every 461 are
        // safety matters (贵溪文坊镇's branch, "3.4%"); volunteers report 民生 matters most and no
        // petitions; petitions come to the reception desks.
        let filed = |channel: &str, family: &str| {
            summary.by_channel_and_family.get(&(channel, family.to_owned())).copied().unwrap_or(0)
        };
        let hotline: usize =
            summary.by_channel_and_family.iter().filter(|((c, _), _)| *c == "hotline").map(|(_, n)| n).sum();
        assert!(hotline > 200, "{:?}", summary.by_channel_and_family);
        let expected_safety = hotline * 16 / 461;
        assert_eq!(filed("hotline", "safety"), expected_safety, "{hotline} orders");
        let volunteer_families: BTreeMap<&str, usize> = summary
            .by_channel_and_family
            .iter()
            .filter(|((c, _), _)| *c == "volunteer")
            .map(|((_, f), n)| (f.as_str(), *n))
            .collect();
        let most = volunteer_families.iter().max_by_key(|(_, n)| **n).map(|(f, _)| *f);
        assert_eq!(most, Some("livelihood"), "{volunteer_families:?}");
        assert_eq!(filed("volunteer", "petition"), 0);
        assert!(filed("reception", "petition") > 0);

        // Most cases closed (60 days: the last two weeks are still being worked on); the life of a case shows every kind of step.
        let closed = summary.by_status.get("closed").copied().unwrap_or(0);
        assert!(closed > 2200, "closed: {:?}", summary.by_status);
        assert!(summary.by_status.keys().any(|s| *s == "in_progress" || *s == "dispatched"), "{:?}", summary.by_status);
        let mut actions = BTreeMap::new();
        for (id, _, _) in &printed {
            for entry in store.history(id).await.unwrap() {
                *actions.entry(entry.record.action).or_insert(0) += 1;
            }
        }
        for action in [
            "report",
            "accept",
            "dispatch",
            "claim",
            "return",
            "escalate",
            "request_extension",
            "approve_extension",
            "supervise",
            "note",
            "resolve",
            "settle_on_spot",
            "verify",
            "call_back",
            "close",
        ] {
            assert!(actions.contains_key(action), "no {action} in {actions:?}");
        }
        fingerprints.push(printed);
    }
    assert_eq!(fingerprints[0], fingerprints[1], "the same seed gave different cases");
}

#[tokio::test]
async fn simulating_an_area_without_grids_is_refused() {
    let (store, atlas, _directory) = fresh().await;
    let engine = CaseEngine::standard(store.clone(), atlas.clone(), Arc::new(SystemClock)).unwrap();
    let scenario =
        Scenario::year(DivisionCode::parse("3601").unwrap(), Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(), 100);
    let error = simulate(&engine, &atlas, &scenario, &Silent).await.unwrap_err();
    assert!(matches!(error, AppError::NoGridsUnder(ref code) if code == "3601"), "{error}");
    assert!(store.case_ids(None, 1).await.unwrap().is_empty());
}
