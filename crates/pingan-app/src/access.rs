//! Who may see and do what. [`Scope::of`] is the one place that decides which cases a person
//! sees: single reads check [`Scope::allows`], lists and counts carry [`Scope::visibility`] into
//! the store's filter, and both come from the same fields, so they cannot disagree.

use pingan_core::access::Role;
use pingan_core::case::Channel;
use pingan_core::lifecycle::{ActionKind, Capacity};
use pingan_core::{Actor, DivisionCode, Explain, Reason, Unit};
use pingan_store::accounts::AccountRow;
use pingan_store::cases::{CaseRow, Visibility};
use pingan_store::webhooks::WebhookRow;

/// A logged-in person, as every use case sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub account_id: String,
    pub login: String,
    pub name: String,
    pub unit: Option<String>,
    pub roles: Vec<Role>,
}

impl Principal {
    pub fn of(account: &AccountRow) -> Principal {
        Principal {
            account_id: account.id.clone(),
            login: account.login.clone(),
            name: account.name.clone(),
            unit: account.unit.clone(),
            roles: account.roles.clone(),
        }
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether one of the person's roles may read reporters' contact details in the clear.
    pub fn may_reveal(&self) -> bool {
        self.roles.iter().any(|r| r.may_reveal())
    }

    /// The division the person's unit belongs to.
    pub fn division(&self) -> Option<DivisionCode> {
        self.unit.as_deref().and_then(|unit| Unit::parse(unit).ok()).map(|unit| unit.division())
    }

    /// How the person appears in a case's history: their unit (the login is in the details), or
    /// for a resident their login.
    pub fn actor(&self) -> Actor {
        match self.unit.as_deref().map(Unit::parse) {
            Some(Ok(unit)) => Actor::Unit(unit),
            _ => Actor::Resident(self.login.clone()),
        }
    }

    /// The capacities towards `case` that the person's unit gives and a role lets them use for
    /// `action`.
    pub fn capacities(&self, case: &CaseRow, action: ActionKind) -> Vec<Capacity> {
        let Some(Ok(unit)) = self.unit.as_deref().map(Unit::parse) else { return Vec::new() };
        capacities(&Actor::Unit(unit), case)
            .into_iter()
            .filter(|&capacity| self.roles.iter().any(|role| role.may_act(capacity, action)))
            .collect()
    }

    /// Refuses a report through `channel` unless one of the person's roles files through it.
    pub fn check_channel(&self, channel: Channel) -> Result<(), AccessError> {
        if self.roles.iter().any(|r| r.channels().contains(&channel)) {
            Ok(())
        } else {
            Err(AccessError::ChannelNotAllowed(channel.as_str()))
        }
    }
}

/// Staff see their unit's place; volunteers, residents and other systems only what they reported.
pub(crate) fn works_for_unit(role: Role) -> bool {
    !matches!(role, Role::Volunteer | Role::Resident | Role::ApiClient)
}

/// The cases one person may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    visibility: Visibility,
}

impl Scope {
    /// A centre sees its division's subtree and what is dispatched to it; a department or
    /// provider what is dispatched to it; a grid's staff their grid's cases and what is dispatched
    /// to the grid; everyone the cases they reported themselves.
    pub fn of(principal: &Principal) -> Scope {
        let staff = principal.roles.iter().any(|&r| works_for_unit(r));
        let mut visibility = match (staff, &principal.unit) {
            (true, Some(unit)) => Scope::of_unit(unit).visibility,
            _ => Visibility::default(),
        };
        visibility.reporter = Some(principal.account_id.clone());
        Scope { visibility }
    }

    /// The cases a unit's staff see (what a webhook of the unit hears of).
    pub fn of_unit(unit: &str) -> Scope {
        let mut visibility = Visibility { handler: Some(unit.to_owned()), ..Visibility::default() };
        match Unit::parse(unit) {
            Ok(Unit::Centre(code)) => visibility.subtree = Some(code),
            Ok(Unit::Grid(grid)) => visibility.grid = Some(grid),
            _ => {}
        }
        Scope { visibility }
    }

    /// What a list or count must be narrowed to.
    pub fn visibility(&self) -> Visibility {
        self.visibility.clone()
    }

    pub fn allows(&self, case: &CaseRow) -> bool {
        let v = &self.visibility;
        v.subtree.as_ref().is_some_and(|s| case.division.as_str().starts_with(s.as_str()))
            || v.grid.as_ref().is_some_and(|g| case.grid.as_ref() == Some(g))
            || v.handler.as_ref().is_some_and(|h| case.handler.as_ref() == Some(h))
            || v.reporter.as_ref().is_some_and(|r| case.reporter_account.as_ref() == Some(r))
    }
}

/// Whether cases of `category` are public matters (a road, a water main, a hazard), which anyone
/// may read through Open311. Everything else concerns people — their households, disputes,
/// petitions, benefits — and is read only by those whose scope covers it.
pub fn is_public_category(category: &str) -> bool {
    const PUBLIC: [&str; 5] = [
        "livelihood.water_supply",
        "livelihood.power_supply",
        "livelihood.road_repair",
        "livelihood.sanitation",
        "livelihood.street_order",
    ];
    category.starts_with("hazard.") || PUBLIC.contains(&category)
}

/// What each role may see and do, as Markdown: `pingan admin roles` prints it, and
/// `docs/ROLES.md` is kept equal to it by a test.
pub fn roles_markdown() -> String {
    let mut text = String::from(
        "# Roles\n\n\
         Generated by `pingan admin roles` from the rules in the code; a test keeps this file equal to it.\n\n\
         Where a person works is their unit (a governance centre at some division, a department, a grid, a\n\
         service provider); what they may do there is their roles. The case's place decides the capacity the\n\
         unit holds towards it: the responsible centre, the handling unit it is dispatched to, a higher centre\n\
         above the responsible one, or a worker of the case's grid. A case outside a person's scope is\n\
         answered 404, as if it did not exist, and the attempt is written to the access log.\n",
    );
    let capacities = [
        (Capacity::Centre, "as the responsible centre"),
        (Capacity::Handler, "as the unit the case is dispatched to"),
        (Capacity::HigherCentre, "as a centre above the responsible one"),
        (Capacity::GridWorker, "as a worker of the case's grid"),
    ];
    for role in Role::ALL {
        text.push_str(&format!("\n## {} ({})\n\n", role.as_str(), role.label_zh()));
        let sees = if works_for_unit(role) {
            "its unit's cases (at a centre, its division's whole subtree; at a grid, that grid's), whatever is \
             dispatched to its unit, and its own reports"
        } else {
            "only the cases it reported itself"
        };
        text.push_str(&format!("- Sees: {sees}.\n"));
        let channels: Vec<&str> = role.channels().iter().map(|c| c.as_str()).collect();
        let channels = if channels.is_empty() { "none".to_owned() } else { channels.join(", ") };
        text.push_str(&format!("- Reports through: {channels}.\n"));
        let indicators = if works_for_unit(role) {
            "its unit's (at a centre: its division's subtree, each child division, and any unit within it)"
        } else {
            "none"
        };
        text.push_str(&format!("- Reads indicators (考核指标): {indicators}.\n"));
        let mut acts = Vec::new();
        for (capacity, label) in capacities {
            let actions: Vec<&str> = role.actions(capacity).into_iter().map(|a| a.as_str()).collect();
            if !actions.is_empty() {
                acts.push(format!("  - {label}: {}", actions.join(", ")));
            }
        }
        if acts.is_empty() {
            text.push_str("- Acts on cases: never.\n");
        } else {
            text.push_str(&format!("- Acts on cases:\n{}\n", acts.join("\n")));
        }
        let contact = if role.may_reveal() {
            "masked; may reveal one case's in the clear, or export them, with a reason (logged per case)"
        } else {
            "masked only; exports leave them out"
        };
        text.push_str(&format!("- Reporters' contact details: {contact}.\n"));
        if role == Role::Administrator {
            text.push_str(
                "- Administers the accounts of its subtree (creates them, resets passwords, disables and enables \
                 them) and reads and exports its subtree's access log; a province's administrator also sees \
                 requests made without an account. Imports the grid staff and dispatch rules of its subtree; at \
                 a city's or the province's centre, the category book and its deadlines (one for the whole \
                 server, which any administrator reads).\n",
            );
        }
    }
    text
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("log in first: send a bearer token or a session cookie")]
    NotAuthenticated,
    #[error("wrong login or password")]
    BadCredentials,
    #[error("too many failed logins on this account from here: wait {seconds} seconds before trying again")]
    LoginSlowed { seconds: i64 },
    #[error("too many failed logins from this address; try again in {minutes} minutes")]
    AddressThrottled { minutes: i64 },
    #[error("the account is disabled")]
    AccountDisabled,
    #[error("this password was set by an administrator: choose a new one before going on")]
    PasswordChangeRequired,
    #[error("this token or session was revoked")]
    CredentialRevoked,
    #[error("this token or session has expired; log in again")]
    CredentialExpired,
    #[error("the form's CSRF token is missing or wrong; reload the page and try again")]
    CsrfFailed,
    #[error(
        "your browser did not keep the secure cookie that signing in needs: browsers refuse it over plain HTTP \
         to any address but this computer's (or keep no cookies at all). Open Pingan over HTTPS, or ask its \
         operator to serve it over HTTPS or behind a TLS proxy"
    )]
    CookieRefused,
    #[error("your role does not allow this: {0}")]
    Forbidden(Reason),
    #[error("your roles do not file reports through the {0} channel")]
    ChannelNotAllowed(&'static str),
    #[error("the password is too weak: {0}")]
    WeakPassword(Reason),
    #[error("role {role} does not fit unit {unit:?}")]
    RoleDoesNotFitUnit { role: &'static str, unit: String },
    #[error("no account {0:?}")]
    NoSuchAccount(String),
    #[error("a login is 3 to 64 letters, digits, '.', '_' or '-'")]
    BadLogin,
    #[error("give a reason of at least 2 characters for reading personal data")]
    ReasonRequired,
}

impl Explain for AccessError {
    fn code(&self) -> &'static str {
        match self {
            AccessError::NotAuthenticated => "not_authenticated",
            AccessError::BadCredentials => "bad_credentials",
            AccessError::LoginSlowed { .. } => "login_slowed_down",
            AccessError::AddressThrottled { .. } => "too_many_attempts",
            AccessError::AccountDisabled => "account_disabled",
            AccessError::PasswordChangeRequired => "password_change_required",
            AccessError::CredentialRevoked => "credential_revoked",
            AccessError::CredentialExpired => "credential_expired",
            AccessError::CsrfFailed => "csrf_failed",
            AccessError::CookieRefused => "cookie_refused",
            AccessError::Forbidden(_) => "forbidden",
            AccessError::ChannelNotAllowed(_) => "channel_not_allowed",
            AccessError::WeakPassword(_) => "weak_password",
            AccessError::RoleDoesNotFitUnit { .. } => "role_unit_mismatch",
            AccessError::NoSuchAccount(_) => "account_not_found",
            AccessError::BadLogin => "invalid_login",
            AccessError::ReasonRequired => "reason_required",
        }
    }

    fn message_zh(&self) -> String {
        match self {
            AccessError::NotAuthenticated => "请先登录：请求须带令牌或会话".into(),
            AccessError::BadCredentials => "账号或密码错误".into(),
            AccessError::LoginSlowed { seconds } => format!("此处登录该账号失败次数过多，请等待 {seconds} 秒后再试"),
            AccessError::AddressThrottled { minutes } => format!("此地址登录失败次数过多，请 {minutes} 分钟后再试"),
            AccessError::AccountDisabled => "账号已停用".into(),
            AccessError::PasswordChangeRequired => "此密码由管理员设置，请先修改密码".into(),
            AccessError::CredentialRevoked => "此令牌或会话已被吊销".into(),
            AccessError::CredentialExpired => "此令牌或会话已过期，请重新登录".into(),
            AccessError::CsrfFailed => "表单校验码缺失或错误，请刷新页面后重试".into(),
            AccessError::CookieRefused => {
                "浏览器没有保存登录所需的安全 Cookie：通过普通 HTTP 访问本机以外的地址时，浏览器会拒绝它\
                （或浏览器禁用了 Cookie）。请通过 HTTPS 地址访问，或请管理员以 HTTPS 或经 TLS 反向代理提供服务"
                    .into()
            }
            AccessError::Forbidden(what) => format!("您的角色无权执行此操作：{}", what.zh),
            AccessError::ChannelNotAllowed(channel) => format!("您的角色不能通过 {channel} 渠道上报"),
            AccessError::WeakPassword(why) => format!("密码强度不足：{}", why.zh),
            AccessError::RoleDoesNotFitUnit { role, unit } => format!("角色 {role} 与单位“{unit}”不符"),
            AccessError::NoSuchAccount(login) => format!("没有账号“{login}”"),
            AccessError::BadLogin => "账号名须为 3 至 64 个字母、数字或 . _ -".into(),
            AccessError::ReasonRequired => "查看个人信息须填写事由（至少 2 个字）".into(),
        }
    }

    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// What `actor` is to `case`.
pub fn capacities(actor: &Actor, case: &CaseRow) -> Vec<Capacity> {
    let mut held = Vec::new();
    // The deadline sweep acts for the responsible centre.
    if *actor == Actor::DEADLINE_SWEEP {
        held.push(Capacity::Centre);
    }
    let unit = actor.unit();
    if let Some(Unit::Centre(division)) = unit {
        if *division == case.division {
            held.push(Capacity::Centre);
        } else if case.division.as_str().starts_with(division.as_str()) {
            held.push(Capacity::HigherCentre);
        }
    }
    if unit.is_some_and(|unit| case.handler.as_deref() == Some(unit.to_string().as_str())) {
        held.push(Capacity::Handler);
    }
    if let (Some(grid), Some(Unit::Grid(worker_grid))) = (&case.grid, unit)
        && grid == worker_grid
    {
        held.push(Capacity::GridWorker);
    }
    held
}

/// Whether subscription `webhook` hears of an action that left `case` as it is (or took it from there).
pub fn concerns(webhook: &WebhookRow, case: &CaseRow) -> bool {
    let category = &case.category;
    let wanted = webhook.categories.is_empty()
        || webhook.categories.iter().any(|c| {
            category == c || (category.starts_with(c.as_str()) && category.as_bytes().get(c.len()) == Some(&b'.'))
        });
    wanted && Scope::of_unit(&webhook.unit).allows(case)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pingan_core::case::Channel;
    use pingan_core::category::Priority;
    use pingan_core::lifecycle::Status;
    use pingan_core::{GridCode, Timestamp};
    use pingan_store::cases::CaseBody;

    fn person(unit: Option<&str>, roles: &[Role]) -> Principal {
        Principal {
            account_id: "acc-1".into(),
            login: "zhang".into(),
            name: "张三".into(),
            unit: unit.map(str::to_owned),
            roles: roles.to_vec(),
        }
    }

    fn case(division: &str, grid: Option<&str>, handler: Option<&str>, reporter: Option<&str>) -> CaseRow {
        CaseRow {
            id: "c".into(),
            number: None,
            city: DivisionCode::parse("3603").unwrap(),
            status: Status::Dispatched,
            channel: Channel::Resident,
            category: "dispute.family".into(),
            priority: Priority::Normal,
            division: DivisionCode::parse(division).unwrap(),
            handler: handler.map(str::to_owned),
            grid: grid.map(|g| GridCode::parse(g).unwrap()),
            reported_at: Timestamp::default(),
            claim_due: None,
            resolve_due: None,
            alert_at: None,
            version: 1,
            idempotency_key: None,
            reporter_account: reporter.map(str::to_owned),
            body: CaseBody::default(),
        }
    }

    #[test]
    fn scope_follows_the_tree_the_unit_and_the_reporter() {
        let township = Scope::of(&person(Some("centre:360313101"), &[Role::CentreDispatcher]));
        let grid = "360313101201001";
        assert!(township.allows(&case("360313101201", Some(grid), None, None)), "a village below");
        assert!(township.allows(&case("360313101", None, None, None)), "its own");
        assert!(!township.allows(&case("360313102", None, None, None)), "a sibling");
        assert!(!township.allows(&case("360313", None, None, None)), "its parent");
        assert!(township.allows(&case("360313", None, Some("centre:360313101"), None)), "dispatched to it");

        let department = Scope::of(&person(Some("department:360313:cg"), &[Role::DepartmentHandler]));
        assert!(department.allows(&case("360313101", None, Some("department:360313:cg"), None)));
        assert!(!department.allows(&case("360313101", None, Some("department:360313:zj"), None)), "re-dispatched away");
        assert!(!department.allows(&case("360313", None, None, None)), "its county, not dispatched to it");

        let worker = Scope::of(&person(Some(&format!("grid:{grid}")), &[Role::GridWorker]));
        assert!(worker.allows(&case("360313101201", Some(grid), None, None)));
        assert!(!worker.allows(&case("360313101201", Some("360313101201002"), None, None)), "the next grid");

        let resident = Scope::of(&person(None, &[Role::Resident]));
        assert!(resident.allows(&case("360313101", None, None, Some("acc-1"))));
        assert!(!resident.allows(&case("360313101", None, None, Some("acc-2"))));

        // A volunteer attached to a grid sees what it reported, not the grid.
        let volunteer = Scope::of(&person(Some(&format!("grid:{grid}")), &[Role::Volunteer]));
        assert!(!volunteer.allows(&case("360313101201", Some(grid), None, None)));
        assert!(volunteer.allows(&case("360313101201", Some(grid), None, Some("acc-1"))));
    }

    #[test]
    fn the_roles_document_says_what_the_code_does() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/ROLES.md");
        let written = std::fs::read_to_string(path).unwrap_or_default();
        assert!(written == roles_markdown(), "docs/ROLES.md is stale: run `pingan admin roles > docs/ROLES.md`");
    }

    #[test]
    fn roles_limit_what_a_unit_gives() {
        let reported = CaseRow { status: Status::Resolved, ..case("360313101", None, None, None) };
        let dispatcher = person(Some("centre:360313101"), &[Role::CentreDispatcher]);
        assert_eq!(dispatcher.capacities(&reported, ActionKind::Verify), [Capacity::Centre]);
        let administrator = person(Some("centre:360313101"), &[Role::Administrator]);
        assert!(administrator.capacities(&reported, ActionKind::Verify).is_empty());
        let operator = person(Some("centre:360313101"), &[Role::HotlineOperator]);
        assert!(operator.capacities(&reported, ActionKind::Verify).is_empty());
        assert_eq!(operator.capacities(&reported, ActionKind::CallBack), [Capacity::Centre]);
        assert!(operator.check_channel(Channel::Hotline).is_ok());
        assert!(matches!(operator.check_channel(Channel::GridPatrol), Err(AccessError::ChannelNotAllowed(_))));
    }
}
