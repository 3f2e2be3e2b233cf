//! Verifying the case histories: every entry's hash must follow from its fields and its
//! predecessor's hash, sequences must run 1, 2, 3 …, and each case's row must agree with its last
//! entry. The first break found is reported with its case and entry. Then the indicator tallies
//! must equal a recount of the cases (run it on a quiet database: a case written during the check
//! shows as a difference).

use std::collections::HashMap;

use pingan_core::case::GENESIS;
use pingan_store::Store;
use pingan_store::indicators::{Tally, TallyKey, TallyQuery, TallyRow, contributions};

use crate::{AppError, Progress};

/// Cases read per batch.
const BATCH: u32 = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub case_id: String,
    pub case_number: String,
    pub sequence: i64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditReport {
    pub cases: u64,
    pub entries: u64,
    pub first_break: Option<Break>,
    /// The first tally that differs from the recount: its key, the recount, the stored tally.
    pub tally_difference: Option<(TallyKey, Tally, Tally)>,
}

pub async fn verify_histories(store: &dyn Store, progress: &dyn Progress) -> Result<AuditReport, AppError> {
    let mut report = AuditReport::default();
    let mut after: Option<String> = None;
    let mut recount: HashMap<TallyKey, Tally> = HashMap::new();
    progress.stage("verifying", 0);
    loop {
        let ids = store.case_ids(after.as_deref(), BATCH).await?;
        let Some(last) = ids.last().cloned() else { break };
        for id in ids {
            let row = store.case_by_id(&id).await?;
            let history = store.history(&id).await?;
            report.cases += 1;
            report.entries += history.len() as u64;
            let number = row.as_ref().and_then(|r| r.number.as_ref()).map(ToString::to_string).unwrap_or_default();
            let broken = |sequence: i64, reason: String| Break {
                case_id: id.clone(),
                case_number: number.clone(),
                sequence,
                reason,
            };
            let mut previous = GENESIS;
            for (position, entry) in history.iter().enumerate() {
                if entry.sequence != position as i64 + 1 {
                    report.first_break = Some(broken(entry.sequence, format!("entry {} is missing", position + 1)));
                    break;
                }
                if entry.record.hash(&id, entry.sequence, &previous) != entry.hash {
                    report.first_break = Some(broken(entry.sequence, "its hash does not match its content".into()));
                    break;
                }
                previous = entry.hash;
            }
            if report.first_break.is_none()
                && let Some(row) = &row
            {
                let last = history.last();
                if last.map(|e| e.sequence) != Some(row.version) {
                    report.first_break = Some(broken(
                        row.version,
                        format!("the case is at version {} but has {} entries", row.version, history.len()),
                    ));
                } else if last.map(|e| e.record.status_after) != Some(row.status) {
                    report.first_break =
                        Some(broken(row.version, "the case's status differs from its last entry".into()));
                }
            }
            if report.first_break.is_some() {
                progress.finish();
                return Ok(report);
            }
            if let Some(row) = &row {
                for (key, tally) in contributions(row) {
                    recount.entry(key).or_default().add(&tally);
                }
            }
        }
        progress.advance(u64::from(BATCH));
        after = Some(last);
    }
    progress.finish();
    report.tally_difference = first_difference(&recount, &store.tallies(&TallyQuery::everything()).await?);
    Ok(report)
}

/// The first key (in order) whose recounted and stored tallies differ.
fn first_difference(recounted: &HashMap<TallyKey, Tally>, stored: &[TallyRow]) -> Option<(TallyKey, Tally, Tally)> {
    let stored: HashMap<&TallyKey, Tally> =
        stored.iter().filter(|r| !r.tally.is_zero()).map(|r| (&r.key, r.tally)).collect();
    let mut keys: Vec<&TallyKey> = recounted.keys().chain(stored.keys().copied()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter().find_map(|key| {
        let recounted = recounted.get(key).copied().unwrap_or_default();
        let kept = stored.get(key).copied().unwrap_or_default();
        (recounted != kept).then(|| (key.clone(), recounted, kept))
    })
}
