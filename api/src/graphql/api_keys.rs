//! API key queries and mutations: the secret is returned by `createApiKey` only.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use crate::graphql::caller;
use crate::graphql::enums::{Role, Scope};
use crate::graphql::payloads::{Args, payload, payload_type};
use crate::graphql::scalars::{BigInt, Timestamp};
use crate::graphql::types::{ApiKey, Conn, connection, wants_total};
use crate::ids::Kind;
use crate::service::PageRequest;
use crate::service::identity::api_keys::{self, CreateApiKey};

#[derive(Default)]
pub struct ApiKeyQuery;

#[Object]
impl ApiKeyQuery {
    /// The organization's API keys, newest first.
    #[graphql(complexity = "crate::graphql::cost::list(first, None, child_complexity)")]
    async fn api_keys(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many keys to return: 1 to 100, 20 when omitted.")] first: Option<i32>,
        #[graphql(
            desc = "Returns the keys after this cursor: the `endCursor` of the previous page."
        )]
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
        #[graphql(
            default = 30,
            desc = "How many days back to go, today included: 1 to 90."
        )]
        days: u32,
        #[graphql(desc = "Only this key; every key of the organization when omitted.")] api_key_id: Option<ID>,
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
                requests: BigInt(u64::try_from(row.requests).unwrap_or_default()),
            })
            .collect())
    }
}

/// A new API key.
#[derive(InputObject)]
pub struct CreateApiKeyInput {
    /// A name to recognise the key by, 1 to 100 characters.
    pub name: String,
    /// Defaults to the caller's role; may not exceed it.
    pub role: Option<Role>,
    /// Narrows the key below its role.
    pub scopes: Option<Vec<Scope>>,
    /// When the key stops working, in the future; it never expires when omitted.
    pub expires_at: Option<Timestamp>,
    /// Networks the key may be used from, e.g. `203.0.113.0/24`.
    pub allowed_cidrs: Option<Vec<String>>,
}

/// Requests made with one key on one UTC day.
#[derive(SimpleObject)]
pub struct ApiKeyUsageDay {
    /// The key's id.
    pub api_key_id: ID,
    /// `YYYY-MM-DD`.
    pub day: String,
    /// How many requests were made with the key that day.
    pub requests: BigInt,
}

payload_type! {
    /// The result of `createApiKey` and `rotateApiKey`: the key and its secret, shown this once.
    ApiKeySecretPayload {
        /// The key.
        api_key: Option<ApiKey>,
        /// The secret to send as `Authorization: Bearer …`; it cannot be read again.
        secret: Option<String>,
    }
}

payload_type! {
    /// The result of `revokeApiKey`.
    RevokeApiKeyPayload {
        /// The key, revoked.
        api_key: Option<ApiKey>,
    }
}

#[derive(Default)]
pub struct ApiKeyMutation;

#[Object]
impl ApiKeyMutation {
    /// Creates an API key for servers and scripts.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new key's name, role and limits.")] input: CreateApiKeyInput,
    ) -> async_graphql::Result<Option<ApiKeySecretPayload>> {
        let (db, principal) = caller(ctx)?;
        let result = api_keys::create(
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
        .await;
        payload(ctx, result, Args::Input, |(key, secret)| {
            ApiKeySecretPayload {
                api_key: Some(ApiKey(key)),
                secret: Some(secret),
                ..Default::default()
            }
        })
    }

    /// Issues a new secret; the old one keeps working for the grace period.
    async fn rotate_api_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The key to rotate.")] id: ID,
        #[graphql(
            default = 86400,
            desc = "How long the old secret keeps working, in seconds: 0 to 604800 (7 days)."
        )]
        grace_period_seconds: u32,
    ) -> async_graphql::Result<Option<ApiKeySecretPayload>> {
        let (db, principal) = caller(ctx)?;
        let result = api_keys::rotate(db, principal, &id, grace_period_seconds).await;
        payload(ctx, result, Args::Top, |(key, secret)| {
            ApiKeySecretPayload {
                api_key: Some(ApiKey(key)),
                secret: Some(secret),
                ..Default::default()
            }
        })
    }

    /// Revokes a key at once: requests made with it fail from now on.
    async fn revoke_api_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The key to revoke.")] id: ID,
    ) -> async_graphql::Result<Option<RevokeApiKeyPayload>> {
        let (db, principal) = caller(ctx)?;
        let result = api_keys::revoke(db, principal, &id).await;
        payload(ctx, result, Args::Top, |key| RevokeApiKeyPayload {
            api_key: Some(ApiKey(key)),
            ..Default::default()
        })
    }
}
