//! The case lifecycle: which action may be taken in which status, by whom, and where it leads.
//!
//! reported 上报 → accepted 受理 (or rejected 不予受理 / merged 合并) → dispatched 派单 → in progress
//! 办理 (claimed 签收) → resolved 处置完毕 → verified 核查 → called back 回访 → closed 办结 (归档);
//! with return 退回, re-dispatch 改派, escalation 上报上级, extension 延期, supervision 督办,
//! send-back, reopening 重办 after an unsatisfied call-back, and a grid worker's settlement on the
//! spot 自办结.
//!
//! Who may act is a matter of the actor's *capacity* towards the case, which the engine works out
//! from the actor's unit and the case (see [`Capacity`]); this module only applies the rules.

use serde::{Deserialize, Serialize};

use crate::Explain;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Reported,
    Accepted,
    Dispatched,
    InProgress,
    Resolved,
    Verified,
    CalledBack,
    Closed,
    Rejected,
    Merged,
}

impl Status {
    pub const ALL: [Status; 10] = [
        Status::Reported,
        Status::Accepted,
        Status::Dispatched,
        Status::InProgress,
        Status::Resolved,
        Status::Verified,
        Status::CalledBack,
        Status::Closed,
        Status::Rejected,
        Status::Merged,
    ];

    /// Statuses in which work on the case is still to be done (deadlines run, duplicates matter).
    pub const OPEN: [Status; 4] = [Status::Reported, Status::Accepted, Status::Dispatched, Status::InProgress];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Reported => "reported",
            Status::Accepted => "accepted",
            Status::Dispatched => "dispatched",
            Status::InProgress => "in_progress",
            Status::Resolved => "resolved",
            Status::Verified => "verified",
            Status::CalledBack => "called_back",
            Status::Closed => "closed",
            Status::Rejected => "rejected",
            Status::Merged => "merged",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Status::Reported => "已上报",
            Status::Accepted => "已受理",
            Status::Dispatched => "已派单",
            Status::InProgress => "办理中",
            Status::Resolved => "已处置",
            Status::Verified => "已核查",
            Status::CalledBack => "已回访",
            Status::Closed => "已办结",
            Status::Rejected => "不予受理",
            Status::Merged => "已合并",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Accept,
    Reject,
    Merge,
    Dispatch,
    Redispatch,
    Claim,
    Return,
    Escalate,
    RequestExtension,
    ApproveExtension,
    RefuseExtension,
    Supervise,
    Resolve,
    SettleOnSpot,
    Verify,
    SendBack,
    CallBack,
    Close,
    Note,
}

impl ActionKind {
    pub const ALL: [ActionKind; 19] = [
        ActionKind::Accept,
        ActionKind::Reject,
        ActionKind::Merge,
        ActionKind::Dispatch,
        ActionKind::Redispatch,
        ActionKind::Claim,
        ActionKind::Return,
        ActionKind::Escalate,
        ActionKind::RequestExtension,
        ActionKind::ApproveExtension,
        ActionKind::RefuseExtension,
        ActionKind::Supervise,
        ActionKind::Resolve,
        ActionKind::SettleOnSpot,
        ActionKind::Verify,
        ActionKind::SendBack,
        ActionKind::CallBack,
        ActionKind::Close,
        ActionKind::Note,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Accept => "accept",
            ActionKind::Reject => "reject",
            ActionKind::Merge => "merge",
            ActionKind::Dispatch => "dispatch",
            ActionKind::Redispatch => "redispatch",
            ActionKind::Claim => "claim",
            ActionKind::Return => "return",
            ActionKind::Escalate => "escalate",
            ActionKind::RequestExtension => "request_extension",
            ActionKind::ApproveExtension => "approve_extension",
            ActionKind::RefuseExtension => "refuse_extension",
            ActionKind::Supervise => "supervise",
            ActionKind::Resolve => "resolve",
            ActionKind::SettleOnSpot => "settle_on_spot",
            ActionKind::Verify => "verify",
            ActionKind::SendBack => "send_back",
            ActionKind::CallBack => "call_back",
            ActionKind::Close => "close",
            ActionKind::Note => "note",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            ActionKind::Accept => "受理",
            ActionKind::Reject => "不予受理",
            ActionKind::Merge => "合并",
            ActionKind::Dispatch => "派单",
            ActionKind::Redispatch => "改派",
            ActionKind::Claim => "签收",
            ActionKind::Return => "退回",
            ActionKind::Escalate => "上报上级",
            ActionKind::RequestExtension => "申请延期",
            ActionKind::ApproveExtension => "批准延期",
            ActionKind::RefuseExtension => "驳回延期",
            ActionKind::Supervise => "督办",
            // 办结 is reserved for closing, as the source counts 办结率 (closed ÷ reported).
            ActionKind::Resolve => "处置完毕",
            ActionKind::SettleOnSpot => "自办结",
            ActionKind::Verify => "核查通过",
            ActionKind::SendBack => "核查退回",
            ActionKind::CallBack => "回访",
            ActionKind::Close => "办结归档",
            ActionKind::Note => "备注",
        }
    }

    pub fn parse(text: &str) -> Option<ActionKind> {
        ActionKind::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// What the actor is to the case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capacity {
    /// The governance centre now responsible for the case: accepts, dispatches, verifies, calls back.
    Centre,
    /// The unit the case is dispatched to: claims, handles, returns, resolves.
    Handler,
    /// A governance centre above the responsible one: supervises.
    HigherCentre,
    /// A grid worker of the case's grid: may settle a fresh report on the spot.
    GridWorker,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Satisfaction {
    Satisfied,
    BasicallySatisfied,
    Unsatisfied,
}

impl Satisfaction {
    pub fn as_str(self) -> &'static str {
        match self {
            Satisfaction::Satisfied => "satisfied",
            Satisfaction::BasicallySatisfied => "basically_satisfied",
            Satisfaction::Unsatisfied => "unsatisfied",
        }
    }
}

/// The part of a case's state the rules look at besides its status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    pub extension_pending: bool,
}

/// Where an allowed action leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    pub flags: Flags,
    /// An unsatisfied call-back sends the case back to work (重办).
    pub reopened: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("{action} is not possible while the case is {status}; possible now: {}", list(.allowed))]
    InvalidTransition { action: ActionKind, status: Status, allowed: Vec<ActionKind> },
    #[error("{action} on a {status} case is for the {} of the case, not for this account", capacities(.needed))]
    Forbidden { action: ActionKind, status: Status, needed: Vec<Capacity> },
    #[error("a call-back must say whether the resident is satisfied")]
    MissingSatisfaction,
}

fn list(actions: &[ActionKind]) -> String {
    if actions.is_empty() {
        "nothing".into()
    } else {
        actions.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
    }
}

fn capacities(needed: &[Capacity]) -> String {
    needed
        .iter()
        .map(|c| match c {
            Capacity::Centre => "responsible centre",
            Capacity::Handler => "handling unit",
            Capacity::HigherCentre => "higher centre",
            Capacity::GridWorker => "grid worker",
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

impl std::fmt::Display for ActionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Explain for LifecycleError {
    fn code(&self) -> &'static str {
        match self {
            LifecycleError::InvalidTransition { .. } => "invalid_transition",
            LifecycleError::Forbidden { .. } => "action_forbidden",
            LifecycleError::MissingSatisfaction => "missing_satisfaction",
        }
    }

    fn message_zh(&self) -> String {
        match self {
            LifecycleError::InvalidTransition { action, status, allowed } => {
                let allowed: Vec<&str> = allowed.iter().map(|a| a.name_zh()).collect();
                let allowed = if allowed.is_empty() { "无".to_owned() } else { allowed.join("、") };
                format!("事件当前为“{}”，不能{}；当前可执行：{allowed}", status.name_zh(), action.name_zh())
            }
            LifecycleError::Forbidden { action, status, .. } => {
                format!("您无权对“{}”的事件执行“{}”", status.name_zh(), action.name_zh())
            }
            LifecycleError::MissingSatisfaction => "回访须填写满意度".into(),
        }
    }

    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// The rules: for each action, the statuses it may be taken in and the capacities that may take it.
fn rule(action: ActionKind) -> (&'static [Status], &'static [Capacity]) {
    use Capacity::*;
    use Status::*;
    match action {
        ActionKind::Accept | ActionKind::Reject => (&[Reported], &[Centre]),
        ActionKind::Merge => (&[Reported, Accepted], &[Centre]),
        ActionKind::Dispatch => (&[Accepted], &[Centre]),
        ActionKind::Redispatch => (&[Dispatched, InProgress], &[Centre]),
        ActionKind::Claim => (&[Dispatched], &[Handler]),
        ActionKind::Return => (&[Dispatched, InProgress], &[Handler]),
        ActionKind::Escalate => (&[Reported, Accepted, Dispatched, InProgress], &[Centre, Handler]),
        ActionKind::RequestExtension => (&[InProgress], &[Handler]),
        ActionKind::ApproveExtension | ActionKind::RefuseExtension => (&[InProgress], &[Centre]),
        ActionKind::Supervise => (&[Reported, Accepted, Dispatched, InProgress, Resolved], &[HigherCentre]),
        ActionKind::Resolve => (&[InProgress], &[Handler]),
        ActionKind::SettleOnSpot => (&[Reported], &[GridWorker]),
        ActionKind::Verify | ActionKind::SendBack => (&[Resolved], &[Centre]),
        ActionKind::CallBack => (&[Verified], &[Centre]),
        ActionKind::Close => (&[Verified, CalledBack], &[Centre]),
        ActionKind::Note => (&Status::ALL, &[Centre, Handler, HigherCentre, GridWorker]),
    }
}

/// The capacities that may take `action` (in the statuses it fits).
pub fn capacities_for(action: ActionKind) -> &'static [Capacity] {
    rule(action).1
}

/// Whether `action` fits the case's state, ignoring who asks (extension requests need none pending,
/// decisions need one).
fn fits(action: ActionKind, status: Status, flags: Flags) -> bool {
    let state_ok = match action {
        ActionKind::RequestExtension => !flags.extension_pending,
        ActionKind::ApproveExtension | ActionKind::RefuseExtension => flags.extension_pending,
        _ => true,
    };
    state_ok && rule(action).0.contains(&status)
}

/// The actions an actor with `held` capacities may take now.
pub fn allowed_actions(status: Status, flags: Flags, held: &[Capacity]) -> Vec<ActionKind> {
    ActionKind::ALL
        .into_iter()
        .filter(|&action| fits(action, status, flags) && rule(action).1.iter().any(|c| held.contains(c)))
        .collect()
}

/// Applies `action` to a case in `status` for an actor holding `held` capacities.
pub fn transition(
    status: Status,
    flags: Flags,
    action: ActionKind,
    satisfaction: Option<Satisfaction>,
    held: &[Capacity],
) -> Result<Outcome, LifecycleError> {
    if !fits(action, status, flags) {
        return Err(LifecycleError::InvalidTransition {
            action,
            status,
            allowed: allowed_actions(status, flags, held),
        });
    }
    let needed = rule(action).1;
    if !needed.iter().any(|c| held.contains(c)) {
        return Err(LifecycleError::Forbidden { action, status, needed: needed.to_vec() });
    }
    let same = Outcome { status, flags, reopened: false };
    let to = |status| Outcome { status, ..same };
    Ok(match action {
        ActionKind::Accept => to(Status::Accepted),
        ActionKind::Reject => to(Status::Rejected),
        ActionKind::Merge => to(Status::Merged),
        ActionKind::Dispatch | ActionKind::Redispatch => {
            Outcome { status: Status::Dispatched, flags: Flags::default(), reopened: false }
        }
        ActionKind::Claim => to(Status::InProgress),
        // Back to a centre's queue: the one that dispatched it, or the parent level's.
        ActionKind::Return | ActionKind::Escalate => {
            Outcome { status: Status::Accepted, flags: Flags::default(), reopened: false }
        }
        ActionKind::RequestExtension => Outcome { flags: Flags { extension_pending: true }, ..same },
        ActionKind::ApproveExtension | ActionKind::RefuseExtension => {
            Outcome { flags: Flags { extension_pending: false }, ..same }
        }
        ActionKind::Supervise | ActionKind::Note => same,
        ActionKind::Resolve | ActionKind::SettleOnSpot => to(Status::Resolved),
        ActionKind::Verify => to(Status::Verified),
        ActionKind::SendBack => to(Status::InProgress),
        ActionKind::CallBack => match satisfaction.ok_or(LifecycleError::MissingSatisfaction)? {
            Satisfaction::Satisfied | Satisfaction::BasicallySatisfied => to(Status::CalledBack),
            Satisfaction::Unsatisfied => {
                Outcome { status: Status::InProgress, flags: Flags::default(), reopened: true }
            }
        },
        ActionKind::Close => to(Status::Closed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ActionKind as A;
    use Capacity as C;
    use Status as S;

    /// The expected table: for each action, the statuses it is allowed in, the capacity that may
    /// take it, and the status it leads to (None: unchanged). Written out independently of `rule`.
    fn expected(action: ActionKind) -> (Vec<Status>, Capacity, Option<Status>) {
        let open = vec![S::Reported, S::Accepted, S::Dispatched, S::InProgress];
        match action {
            A::Accept => (vec![S::Reported], C::Centre, Some(S::Accepted)),
            A::Reject => (vec![S::Reported], C::Centre, Some(S::Rejected)),
            A::Merge => (vec![S::Reported, S::Accepted], C::Centre, Some(S::Merged)),
            A::Dispatch => (vec![S::Accepted], C::Centre, Some(S::Dispatched)),
            A::Redispatch => (vec![S::Dispatched, S::InProgress], C::Centre, Some(S::Dispatched)),
            A::Claim => (vec![S::Dispatched], C::Handler, Some(S::InProgress)),
            A::Return => (vec![S::Dispatched, S::InProgress], C::Handler, Some(S::Accepted)),
            A::Escalate => (open, C::Centre, Some(S::Accepted)),
            A::RequestExtension => (vec![S::InProgress], C::Handler, None),
            A::ApproveExtension | A::RefuseExtension => (vec![S::InProgress], C::Centre, None),
            A::Supervise => {
                (vec![S::Reported, S::Accepted, S::Dispatched, S::InProgress, S::Resolved], C::HigherCentre, None)
            }
            A::Resolve => (vec![S::InProgress], C::Handler, Some(S::Resolved)),
            A::SettleOnSpot => (vec![S::Reported], C::GridWorker, Some(S::Resolved)),
            A::Verify => (vec![S::Resolved], C::Centre, Some(S::Verified)),
            A::SendBack => (vec![S::Resolved], C::Centre, Some(S::InProgress)),
            A::CallBack => (vec![S::Verified], C::Centre, Some(S::CalledBack)),
            A::Close => (vec![S::Verified, S::CalledBack], C::Centre, Some(S::Closed)),
            A::Note => (S::ALL.to_vec(), C::Handler, None),
        }
    }

    fn flags_for(action: ActionKind) -> Flags {
        Flags { extension_pending: matches!(action, A::ApproveExtension | A::RefuseExtension) }
    }

    #[test]
    fn every_status_and_action() {
        let everyone = [C::Centre, C::Handler, C::HigherCentre, C::GridWorker];
        for action in ActionKind::ALL {
            let (allowed_in, capacity, leads_to) = expected(action);
            for status in Status::ALL {
                let flags = flags_for(action);
                let result = transition(status, flags, action, Some(Satisfaction::Satisfied), &[capacity]);
                if allowed_in.contains(&status) {
                    let outcome = result.unwrap_or_else(|e| panic!("{action} in {status}: {e}"));
                    assert_eq!(outcome.status, leads_to.unwrap_or(status), "{action} in {status}");
                    // Nobody else may take it, unless the rule names them too.
                    for other in everyone.iter().filter(|c| !rule(action).1.contains(c)) {
                        let refused = transition(status, flags, action, Some(Satisfaction::Satisfied), &[*other]);
                        assert!(
                            matches!(refused, Err(LifecycleError::Forbidden { .. })),
                            "{action} in {status} by {other:?}"
                        );
                    }
                } else {
                    let error = result.expect_err(&format!("{action} allowed in {status}"));
                    let LifecycleError::InvalidTransition { allowed, .. } = &error else { panic!("{error}") };
                    assert_eq!(*allowed, allowed_actions(status, flags, &[capacity]));
                    assert_eq!(error.code(), "invalid_transition");
                    assert!(error.message_zh().contains(status.name_zh()));
                }
            }
        }
    }

    #[test]
    fn extensions_one_at_a_time() {
        let pending = Flags { extension_pending: true };
        let requested = transition(S::InProgress, Flags::default(), A::RequestExtension, None, &[C::Handler]).unwrap();
        assert_eq!(requested.flags, pending);
        assert!(transition(S::InProgress, pending, A::RequestExtension, None, &[C::Handler]).is_err());
        assert!(transition(S::InProgress, Flags::default(), A::ApproveExtension, None, &[C::Centre]).is_err());
        let decided = transition(S::InProgress, pending, A::RefuseExtension, None, &[C::Centre]).unwrap();
        assert_eq!(decided.flags, Flags::default());
    }

    #[test]
    fn unsatisfied_call_back_reopens() {
        let outcome =
            transition(S::Verified, Flags::default(), A::CallBack, Some(Satisfaction::Unsatisfied), &[C::Centre])
                .unwrap();
        assert_eq!((outcome.status, outcome.reopened), (S::InProgress, true));
        let outcome = transition(
            S::Verified,
            Flags::default(),
            A::CallBack,
            Some(Satisfaction::BasicallySatisfied),
            &[C::Centre],
        )
        .unwrap();
        assert_eq!((outcome.status, outcome.reopened), (S::CalledBack, false));
        assert_eq!(
            transition(S::Verified, Flags::default(), A::CallBack, None, &[C::Centre]),
            Err(LifecycleError::MissingSatisfaction)
        );
    }

    #[test]
    fn names_round_trip() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
        for action in ActionKind::ALL {
            assert_eq!(ActionKind::parse(action.as_str()), Some(action));
        }
    }
}
