//! The deadline sweep: a case entering its warning time gets a note for its handler; a case past its
//! resolution deadline is escalated to the parent level's centre, or their parent centre is
//! notified, as the policy says. Each step is an action in the case's history by
//! `system:deadlines`, acting for the responsible centre. The sweep reads only the cases whose alert
//! instant has come (an indexed column the engine keeps), takes its time from the engine's clock,
//! and runs every minute in a server; tests call it directly.

use std::sync::Arc;
use std::time::Duration;

use pingan_core::Actor;
use pingan_core::calendar::DeadlineState;
use pingan_core::lifecycle::ActionKind;
use pingan_store::cases::CaseFilter;

use crate::AppError;
use crate::cases::{ActionRequest, CaseEngine};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverduePolicy {
    /// Record the overdue case for the parent level's centre to see; the case stays where it is.
    NotifyParent,
    /// Move the case up to the parent level's centre.
    Escalate,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Cases that entered their warning time and were noted.
    pub warned: usize,
    pub overdue: usize,
    pub escalated: usize,
    pub notified: usize,
    /// Cases another actor changed while the sweep looked at them; the next sweep sees them again.
    pub skipped: usize,
}

/// Cases handled per sweep at most: a backlog is worked off over several sweeps.
const SWEEP_LIMIT: u32 = 1000;

pub async fn sweep_overdue(engine: &CaseEngine, policy: OverduePolicy) -> Result<SweepReport, AppError> {
    let now = engine.context().timestamp();
    let filter = CaseFilter { alert_due: Some(now), limit: SWEEP_LIMIT, ..CaseFilter::default() };
    let mut report = SweepReport::default();
    for case in engine.context().store().list_cases(&filter).await? {
        let overdue = case.resolve_due.is_some_and(|due| now >= due);
        let warning = engine.resolution_state(&case) == Some(DeadlineState::Warning);
        if !overdue && !warning {
            // At the very boundary of its warning time by the working-time count: the next sweep
            // looks again.
            report.skipped += 1;
            continue;
        }
        if overdue {
            report.overdue += 1;
        }
        let number = case.number.as_ref().map(ToString::to_string).unwrap_or(case.id.clone());
        let escalate = overdue && policy == OverduePolicy::Escalate && case.division.parent().is_some();
        let action = if escalate { ActionKind::Escalate } else { ActionKind::Note };
        let request = ActionRequest {
            reason: Some(if overdue { "办理超期 overdue" } else { "即将超期 deadline near" }.into()),
            ..ActionRequest::new(case.id.clone(), Actor::DEADLINE_SWEEP, action, case.version)
        };
        match engine.act(request).await {
            Ok(_) if escalate => report.escalated += 1,
            Ok(_) if overdue => report.notified += 1,
            Ok(_) => report.warned += 1,
            Err(AppError::Store(pingan_store::StoreError::Conflict { .. })) => report.skipped += 1,
            Err(error) => {
                tracing::warn!(case = %number, %error, "the deadline sweep could not act on a case");
                report.skipped += 1;
            }
        }
    }
    Ok(report)
}

/// Runs the sweep every `interval` for as long as the server runs, taking up a new version of the
/// category book first when one was stored, and folding the indicator tallies' pending changes after.
pub async fn keep_sweeping(engine: Arc<CaseEngine>, policy: OverduePolicy, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match engine.refresh().await {
            Ok(true) => tracing::info!(version = engine.context().categories().version(), "new category book in force"),
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "could not read the category book"),
        }
        match sweep_overdue(&engine, policy).await {
            Ok(report) if report.overdue > 0 => tracing::info!(?report, "deadline sweep"),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "deadline sweep failed"),
        }
        if let Err(error) = engine.context().store().fold_tallies().await {
            tracing::warn!(%error, "could not fold the indicator tallies");
        }
    }
}
