//! Who a caller is, as authorization reads it: the team role, the plan tier, what authenticated the caller and from
//! where.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A team role, from most to least privileged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Agent,
    Analyst,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Owner,
        Role::Admin,
        Role::Agent,
        Role::Analyst,
        Role::Viewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Agent => "agent",
            Role::Analyst => "analyst",
            Role::Viewer => "viewer",
        }
    }
}

impl Role {
    /// A role read back from the database; an unknown value there is an internal error, not bad input.
    pub fn stored(value: &str) -> Result<Self, crate::error::ApiError> {
        value.parse().map_err(crate::error::ApiError::internal_msg)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role {s:?}; expected one of owner, admin, agent, analyst, viewer")
            })
    }
}

/// A plan tier of DESIGN.md's plan table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    Basic,
    Standard,
    Premium,
}

impl Plan {
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Basic => "basic",
            Plan::Standard => "standard",
            Plan::Premium => "premium",
        }
    }
}

impl Plan {
    /// A plan read back from the database; an unknown value there is an internal error, not bad input.
    pub fn stored(value: &str) -> Result<Self, crate::error::ApiError> {
        value.parse().map_err(crate::error::ApiError::internal_msg)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Plan {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "basic" => Ok(Plan::Basic),
            "standard" => Ok(Plan::Standard),
            "premium" => Ok(Plan::Premium),
            other => Err(format!(
                "unknown plan {other:?}; expected one of basic, standard, premium"
            )),
        }
    }
}

/// What authenticated the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    ApiKey {
        id: String,
    },
    /// A member signed in through a session.
    User {
        id: String,
        session_id: String,
        /// How the member signed in: `password`, `saml`, `oidc` or `oauth2`.
        method: String,
    },
    /// A website visitor holding a widget session: it may act only on its own conversations with `assistant_id`.
    Visitor {
        id: String,
        session_id: String,
        assistant_id: String,
    },
}

impl Actor {
    /// `api_key`, `user` or `visitor`, as the audit log and `me` show it.
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::ApiKey { .. } => "api_key",
            Actor::User { .. } => "user",
            Actor::Visitor { .. } => "visitor",
        }
    }
}

/// Where a request came from, as the audit log records it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// The peer address of the connection.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}
