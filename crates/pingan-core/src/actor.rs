//! Who did something to a case, as its history records it: the staff of a unit, a resident by
//! login, a reporter known by a channel's own name for them (a volunteer's number, a hotline, an
//! Open311 client), or one of Pingan's own jobs. Written `centre:CODE` and the other units,
//! `resident:LOGIN`, `system:JOB` or `CHANNEL:ID`; read and written here only.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::problem::Explain;
use crate::unit::Unit;

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Actor {
    /// The staff of a unit.
    Unit(Unit),
    /// A resident with an account, by login.
    Resident(String),
    /// A reporter known by the channel's name for them: `volunteer:1207`, `hotline:12345`.
    Reporter { channel: String, id: String },
    /// One of Pingan's own jobs.
    System(SystemJob),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SystemJob {
    /// The deadline sweep, which acts for the responsible centre.
    Deadlines,
}

impl SystemJob {
    pub fn as_str(self) -> &'static str {
        match self {
            SystemJob::Deadlines => "deadlines",
        }
    }
}

/// A text that names no actor.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is no actor: write a unit, resident:LOGIN, system:JOB or CHANNEL:ID")]
pub struct BadActor(pub String);

impl Explain for BadActor {
    fn code(&self) -> &'static str {
        "invalid_actor"
    }

    fn message_zh(&self) -> String {
        format!("“{}”不是操作者：应写作单位、resident:账号、system:任务 或 渠道:编号", self.0)
    }

    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// The kinds a unit is written with: a text of one of them that is no unit is no actor either.
const UNIT_KINDS: [&str; 5] = ["centre", "department", "provider", "grid", "leader"];

impl Actor {
    /// The deadline sweep.
    pub const DEADLINE_SWEEP: Actor = Actor::System(SystemJob::Deadlines);

    pub fn parse(text: &str) -> Result<Actor, BadActor> {
        let bad = || BadActor(text.to_owned());
        let (kind, rest) = text.split_once(':').ok_or_else(bad)?;
        if UNIT_KINDS.contains(&kind) {
            return Unit::parse(text).map(Actor::Unit).map_err(|_| bad());
        }
        let named = !rest.is_empty() && !rest.chars().any(char::is_control);
        let kind_fits =
            !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        match kind {
            _ if !named || !kind_fits => Err(bad()),
            "resident" => Ok(Actor::Resident(rest.to_owned())),
            "system" if rest == SystemJob::Deadlines.as_str() => Ok(Actor::DEADLINE_SWEEP),
            "system" => Err(bad()),
            channel => Ok(Actor::Reporter { channel: channel.to_owned(), id: rest.to_owned() }),
        }
    }

    /// The name a resident who reports without an account goes by, which no account may take.
    pub const ANONYMOUS: &str = "anonymous";

    /// A resident who reports without an account.
    pub fn anonymous_resident() -> Actor {
        Actor::Resident(Actor::ANONYMOUS.to_owned())
    }

    /// The unit whose staff acted, if a unit's staff did.
    pub fn unit(&self) -> Option<&Unit> {
        match self {
            Actor::Unit(unit) => Some(unit),
            _ => None,
        }
    }
}

impl From<Unit> for Actor {
    fn from(unit: Unit) -> Actor {
        Actor::Unit(unit)
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Unit(unit) => write!(f, "{unit}"),
            Actor::Resident(login) => write!(f, "resident:{login}"),
            Actor::Reporter { channel, id } => write!(f, "{channel}:{id}"),
            Actor::System(job) => write!(f, "system:{}", job.as_str()),
        }
    }
}

text_form!(Actor, BadActor);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_written_form_reads_back_as_itself() {
        for text in [
            "centre:360302",
            "department:360302:cg",
            "provider:3603:anju",
            "grid:360302008205001",
            "resident:zhang-san",
            "volunteer:1207",
            "hotline:12345",
            "open311:city-app",
            "system:deadlines",
        ] {
            let actor = Actor::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(actor.to_string(), text);
        }
        assert_eq!(Actor::parse("system:deadlines"), Ok(Actor::DEADLINE_SWEEP));
        assert_eq!(Actor::parse("centre:360302").unwrap().unit(), Some(&Unit::parse("centre:360302").unwrap()));
    }

    #[test]
    fn texts_that_name_no_actor_are_refused() {
        for text in [
            "",
            "nobody",
            "centre:9",
            "grid:123",
            "department:360302",
            "system:payroll",
            "resident:",
            ":7",
            "Hotline:1",
        ] {
            let error = Actor::parse(text).expect_err(text);
            assert_eq!(error.code(), "invalid_actor", "{text}");
        }
    }
}
