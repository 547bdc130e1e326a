//! Who a caller is, as authorization reads it: the team role, the plan tier, what authenticated the caller and from
//! where.

use serde::{Deserialize, Serialize};

use crate::text_enum::text_enum;

text_enum! {
    /// A team role, from most to least privileged.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Role: "role" {
        Owner = "owner",
        Admin = "admin",
        Agent = "agent",
        Analyst = "analyst",
        Viewer = "viewer",
    }
}

impl Role {
    /// A role read back from the database; an unknown value there is an internal error, not bad input.
    pub fn stored(value: &str) -> Result<Self, crate::error::ApiError> {
        value.parse().map_err(crate::error::ApiError::internal_msg)
    }
}

text_enum! {
    /// A plan tier: basic, standard or premium.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Plan: "plan" {
        Basic = "basic",
        Standard = "standard",
        Premium = "premium",
    }
}

impl Plan {
    /// A plan read back from the database; an unknown value there is an internal error, not bad input.
    pub fn stored(value: &str) -> Result<Self, crate::error::ApiError> {
        value.parse().map_err(crate::error::ApiError::internal_msg)
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
