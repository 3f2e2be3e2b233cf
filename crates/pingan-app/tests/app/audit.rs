//! Tampering with a stored history is found, and the report names the first broken entry; a
//! tally that differs from a recount of the cases is found too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use pingan_app::Silent;
use pingan_app::cases::audit::verify_histories;
use pingan_core::case::Channel;
use pingan_core::category::Priority;
use pingan_core::lifecycle::Status;
use pingan_core::{DivisionCode, Timestamp};
use pingan_store::Division;
use pingan_store::DivisionStore;
use pingan_store::cases::{ActionRecord, CaseBody, CaseRow, CaseStore, Created, NewCase};
use pingan_store_sqlite::SqliteStore;

fn record(at: i64, action: &str, status: Status) -> ActionRecord {
    ActionRecord {
        at: Timestamp::from_millis(at),
        actor: "centre:3603".into(),
        action: action.into(),
        status_after: status,
        details: "{}".into(),
    }
}

#[tokio::test]
async fn tampering_is_found() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("pingan.db");
    let store = SqliteStore::open(&path).unwrap();
    let code = |c: &str| DivisionCode::parse(c).unwrap();
    store
        .upsert_divisions(vec![
            Division { code: code("36"), name: "江西省".into() },
            Division { code: code("3603"), name: "萍乡市".into() },
        ])
        .await
        .unwrap();
    for id in ["c1", "c2", "c3"] {
        let row = CaseRow {
            id: id.into(),
            number: None,
            city: code("3603"),
            status: Status::Reported,
            channel: Channel::Hotline,
            category: "dispute.family".into(),
            priority: Priority::Normal,
            division: code("3603"),
            handler: None,
            grid: None,
            reported_at: Timestamp::from_millis(1),
            claim_due: None,
            resolve_due: None,
            alert_at: None,
            version: 0,
            idempotency_key: None,
            reporter_account: None,
            body: CaseBody::default(),
        };
        let new = NewCase {
            row,
            day: chrono::NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
            entries: vec![record(1, "report", Status::Reported)],
            similar: None,
            notify: Vec::new(),
        };
        let Created::New(row, _) = store.create_case(new).await.unwrap() else { panic!() };
        let accepted = CaseRow { status: Status::Accepted, ..row };
        store.record_action(1, record(2, "accept", Status::Accepted), accepted, Vec::new()).await.unwrap();
    }
    let report = verify_histories(&store, &Silent).await.unwrap();
    assert_eq!((report.cases, report.entries, report.first_break, report.tally_difference), (3, 6, None, None));

    // Someone adds a closed case to the indicators directly in the database.
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute("UPDATE case_tallies SET closed = closed + 1 WHERE scope = 'own:3603'", []).unwrap();
    let report = verify_histories(&store, &Silent).await.unwrap();
    let (key, recounted, stored) = report.tally_difference.expect("the tally edit went unnoticed");
    assert_eq!((key.scope.as_str(), key.month.yyyymm()), ("own:3603", 197001));
    assert_eq!((recounted.reported, recounted.accepted, recounted.closed, stored.closed), (3, 3, 0, 1));
    raw.execute("UPDATE case_tallies SET closed = closed - 1 WHERE scope = 'own:3603'", []).unwrap();
    assert_eq!(verify_histories(&store, &Silent).await.unwrap().tally_difference, None);

    // Someone edits c2's second entry directly in the database.
    raw.execute(
        "UPDATE case_actions SET details = '{\"reason\":\"edited\"}' WHERE case_id = 'c2' AND sequence = 2",
        [],
    )
    .unwrap();
    let broken = verify_histories(&store, &Silent).await.unwrap().first_break.expect("the edit went unnoticed");
    assert_eq!((broken.case_id.as_str(), broken.sequence), ("c2", 2));
    assert_eq!(broken.case_number, "3603-20261128-000002");

    // Deleting an entry is found too, and so is a row that no longer matches its history.
    raw.execute("UPDATE case_actions SET details = '{}' WHERE case_id = 'c2'", []).unwrap();
    raw.execute("DELETE FROM case_actions WHERE case_id = 'c3' AND sequence = 1", []).unwrap();
    let broken = verify_histories(&store, &Silent).await.unwrap().first_break.expect("the deletion went unnoticed");
    assert_eq!((broken.case_id.as_str(), broken.sequence), ("c3", 2));
    raw.execute("UPDATE cases SET status = 'closed' WHERE id = 'c1'", []).unwrap();
    let broken = verify_histories(&store, &Silent).await.unwrap().first_break.expect("the row edit went unnoticed");
    assert_eq!(broken.case_id, "c1");
}
