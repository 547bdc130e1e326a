//! API key queries and mutations: the secret is returned by `createApiKey` only.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use crate::auth::Role;
use crate::graphql::caller;
use crate::graphql::types::{ApiKey, Conn, Timestamp, connection};
use crate::ids::Kind;
use crate::service::PageRequest;
use crate::service::api_keys::{self, CreateApiKey};

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
        let rows = api_keys::list(db, principal, &page).await?;
        Ok(connection(rows, page.after.is_some(), 0, |k| &k.id, ApiKey))
    }
}

#[derive(InputObject)]
pub struct CreateApiKeyInput {
    pub name: String,
    /// Defaults to the caller's role; may not exceed it.
    pub role: Option<Role>,
    pub expires_at: Option<Timestamp>,
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
                role: input.role,
                expires_at: input.expires_at.map(|t| t.0),
            },
        )
        .await?;
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
