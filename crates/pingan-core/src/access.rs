//! Roles: what a person may do, as opposed to where (their unit's place in the division tree).

use serde::{Deserialize, Serialize};

use crate::case::Channel;
use crate::lifecycle::{ActionKind, Capacity};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages accounts and reads the personal-data access log of its subtree.
    Administrator,
    /// 综治中心调度员: accepts, dispatches, verifies and closes the centre's cases.
    CentreDispatcher,
    /// 综治中心领导: what a dispatcher does, and supervises lower levels.
    CentreLeader,
    /// 部门承办人: handles the cases dispatched to its unit: a department, a service provider, or
    /// an official's post (分管领导, 包村领导).
    DepartmentHandler,
    /// 网格长
    GridLeader,
    /// 网格员
    GridWorker,
    /// 志愿者: reports.
    Volunteer,
    /// 热线话务员: takes calls and makes the satisfaction call-backs.
    HotlineOperator,
    /// 群众: reports and follows its own reports.
    Resident,
    /// 接口系统: another system (a 12345 hotline, an Open311 app) that files reports with an API key
    /// and follows the ones it filed.
    ApiClient,
}

impl Role {
    pub const ALL: [Role; 10] = [
        Role::Administrator,
        Role::CentreDispatcher,
        Role::CentreLeader,
        Role::DepartmentHandler,
        Role::GridLeader,
        Role::GridWorker,
        Role::Volunteer,
        Role::HotlineOperator,
        Role::Resident,
        Role::ApiClient,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::CentreDispatcher => "centre_dispatcher",
            Role::CentreLeader => "centre_leader",
            Role::DepartmentHandler => "department_handler",
            Role::GridLeader => "grid_leader",
            Role::GridWorker => "grid_worker",
            Role::Volunteer => "volunteer",
            Role::HotlineOperator => "hotline_operator",
            Role::Resident => "resident",
            Role::ApiClient => "api_client",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Role::Administrator => "系统管理员",
            Role::CentreDispatcher => "中心调度员",
            Role::CentreLeader => "中心领导",
            Role::DepartmentHandler => "部门承办人",
            Role::GridLeader => "网格长",
            Role::GridWorker => "网格员",
            Role::Volunteer => "志愿者",
            Role::HotlineOperator => "热线话务员",
            Role::Resident => "群众",
            Role::ApiClient => "接口系统",
        }
    }

    /// Whether a person in this role may act in `capacity` (which their unit gives them towards a
    /// case) to take `action`.
    pub fn may_act(self, capacity: Capacity, action: ActionKind) -> bool {
        use Role::*;
        match capacity {
            Capacity::Centre => match self {
                CentreDispatcher | CentreLeader => true,
                // A hotline desk takes and dispatches orders (接单派单, as Guixi's 3651890 does), and
                // calls back; verifying, closing and extensions stay with the dispatchers.
                HotlineOperator => matches!(
                    action,
                    ActionKind::Accept
                        | ActionKind::Reject
                        | ActionKind::Merge
                        | ActionKind::Dispatch
                        | ActionKind::Redispatch
                        | ActionKind::CallBack
                        | ActionKind::Note
                ),
                _ => false,
            },
            Capacity::HigherCentre => matches!(self, CentreDispatcher | CentreLeader),
            // Whoever works for the unit the case is dispatched to: a department, a provider, a
            // centre or a grid.
            Capacity::Handler => {
                matches!(self, DepartmentHandler | CentreDispatcher | CentreLeader | GridLeader | GridWorker)
            }
            Capacity::GridWorker => matches!(self, GridLeader | GridWorker),
        }
    }

    /// The channels through which this role files reports.
    pub fn channels(self) -> &'static [Channel] {
        use Channel::*;
        match self {
            Role::Administrator => &[BatchImport],
            Role::CentreDispatcher | Role::CentreLeader => &[Reception, Hotline, Survey, BatchImport],
            Role::DepartmentHandler => &[],
            Role::GridLeader | Role::GridWorker => &[GridPatrol, Reception, Survey],
            Role::Volunteer => &[Volunteer],
            Role::HotlineOperator => &[Hotline],
            Role::Resident => &[Resident],
            Role::ApiClient => &[Open311],
        }
    }

    /// The actions this role takes when its unit holds `capacity` towards a case.
    pub fn actions(self, capacity: Capacity) -> Vec<ActionKind> {
        ActionKind::ALL
            .into_iter()
            .filter(|&action| {
                crate::lifecycle::capacities_for(action).contains(&capacity) && self.may_act(capacity, action)
            })
            .collect()
    }

    /// Whether this role may see a reporter's contact details unmasked (one record at a time,
    /// with a reason, logged).
    pub fn may_reveal(self) -> bool {
        matches!(self, Role::CentreDispatcher | Role::CentreLeader | Role::DepartmentHandler | Role::HotlineOperator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn a_hotline_operator_takes_dispatches_and_calls_back_but_does_not_verify_or_close() {
        for action in [ActionKind::Accept, ActionKind::Dispatch, ActionKind::Redispatch, ActionKind::CallBack] {
            assert!(Role::HotlineOperator.may_act(Capacity::Centre, action), "{action:?}");
        }
        for action in [ActionKind::Verify, ActionKind::Close, ActionKind::ApproveExtension, ActionKind::Supervise] {
            assert!(!Role::HotlineOperator.may_act(Capacity::Centre, action), "{action:?}");
        }
        assert!(!Role::HotlineOperator.may_act(Capacity::HigherCentre, ActionKind::Supervise));
        assert!(!Role::Volunteer.may_act(Capacity::GridWorker, ActionKind::SettleOnSpot));
        assert!(Role::GridWorker.may_act(Capacity::GridWorker, ActionKind::SettleOnSpot));
        assert!(!Role::Administrator.may_act(Capacity::Centre, ActionKind::Close));
    }
}
