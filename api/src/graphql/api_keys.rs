//! API key queries and mutations: the secret is returned by `createApiKey` only.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use crate::graphql::caller;
use crate::graphql::enums::{Role, Scope};
use crate::graphql::types::{ApiKey, Conn, Timestamp, connection, wants_total};
use crate::ids::Kind;
use crate::service::PageRequest;
use crate::service::identity::api_keys::{self, CreateApiKey};

#[derive(Default)]
pub struct ApiKeyQuery;

#[Object]
impl ApiKeyQuery {
    /// The organization's API keys, newest first.
    async fn api_keys(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Conn<ApiKey>> {
        let (db, principal) = caller(ctx)?;
        let page = PageRequest::new(first.map(i64::from), after.as_deref(), Kind::ApiKey)?;
        let total = if wants_total(ctx) {
            api_keys::count(db, principal).await?
        } else {
            0
        };
        let rows = api_keys::list(db, principal, &page).await?;
        Ok(connection(
            rows,
            page.after.is_some(),
            total,
            |k| &k.id,
            ApiKey,
        ))
    }

    /// Requests per key per UTC day over the last `days` days, for one key or all.
    async fn api_key_usage(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 30)] days: u32,
        api_key_id: Option<ID>,
    ) -> async_graphql::Result<Vec<ApiKeyUsageDay>> {
        let (db, principal) = caller(ctx)?;
        let rows = api_keys::usage(
            db,
            principal,
            api_key_id.as_ref().map(|id| id.as_str()),
            days,
        )
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| ApiKeyUsageDay {
                api_key_id: ID(row.api_key_id),
                day: row.day,
                requests: row.requests,
            })
            .collect())
    }
}

#[derive(InputObject)]
pub struct CreateApiKeyInput {
    pub name: String,
    /// Defaults to the caller's role; may not exceed it.
    pub role: Option<Role>,
    /// Narrows the key below its role.
    pub scopes: Option<Vec<Scope>>,
    pub expires_at: Option<Timestamp>,
    /// Networks the key may be used from, e.g. `203.0.113.0/24`.
    pub allowed_cidrs: Option<Vec<String>>,
}

/// Requests made with one key on one UTC day.
#[derive(SimpleObject)]
pub struct ApiKeyUsageDay {
    pub api_key_id: ID,
    /// `YYYY-MM-DD`.
    pub day: String,
    pub requests: i64,
}

/// A new key and its secret, shown this once.
#[derive(SimpleObject)]
pub struct CreateApiKeyPayload {
    pub api_key: ApiKey,
    pub secret: String,
}

#[derive(Default)]
pub struct ApiKeyMutation;

#[Object]
impl ApiKeyMutation {
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateApiKeyInput,
    ) -> async_graphql::Result<CreateApiKeyPayload> {
        let (db, principal) = caller(ctx)?;
        let (key, secret) = api_keys::create(
            db,
            principal,
            CreateApiKey {
                name: input.name,
                role: input.role.map(Into::into),
                scopes: input
                    .scopes
                    .map(|scopes| scopes.into_iter().map(Into::into).collect()),
                expires_at: input.expires_at.map(|t| t.0),
                allowed_cidrs: input.allowed_cidrs,
            },
        )
        .await?;
        Ok(CreateApiKeyPayload {
            api_key: ApiKey(key),
            secret,
        })
    }

    /// Issues a new secret; the old one keeps working for the grace period (seconds, at most 7 days).
    async fn rotate_api_key(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default = 86400)] grace_period_seconds: u32,
    ) -> async_graphql::Result<CreateApiKeyPayload> {
        let (db, principal) = caller(ctx)?;
        let (key, secret) = api_keys::rotate(db, principal, &id, grace_period_seconds).await?;
        Ok(CreateApiKeyPayload {
            api_key: ApiKey(key),
            secret,
        })
    }

    /// Revokes a key at once.
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ApiKey> {
        let (db, principal) = caller(ctx)?;
        Ok(ApiKey(api_keys::revoke(db, principal, &id).await?))
    }
}
