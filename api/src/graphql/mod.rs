//! The GraphQL API: an Apollo Federation v2 subgraph merged from one query and mutation object per domain.

mod analytics;
mod api_keys;
mod audit;
mod context;
mod conversations;
pub mod engine;
pub mod enums;
pub(crate) mod events;
mod federation;
pub mod http;
mod knowledge_base;
pub mod loaders;
mod members;
mod organization;
mod sso;
mod subscriptions;
pub mod types;
mod webhooks;
pub mod ws;

use async_graphql::{Context, MergedObject, Schema};

use crate::auth::Principal;
use crate::config::Settings;
use crate::db::Db;
use crate::error::ApiError;

/// Every root query field, one object per domain.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    organization::OrganizationQuery,
    conversations::ConversationQuery,
    knowledge_base::KnowledgeBaseQuery,
    api_keys::ApiKeyQuery,
    audit::AuditQuery,
    members::MemberQuery,
    sso::SsoQuery,
    webhooks::WebhookQuery,
    events::EventQuery,
    federation::FederationQuery,
);

/// Every root mutation field, one object per domain.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    conversations::ConversationMutation,
    knowledge_base::KnowledgeBaseMutation,
    organization::OrganizationMutation,
    api_keys::ApiKeyMutation,
    members::MemberMutation,
    sso::SsoMutation,
    webhooks::WebhookMutation,
);

/// The schema type served at `/graphql`.
pub type AppSchema = Schema<QueryRoot, MutationRoot, subscriptions::SubscriptionRoot>;

/// Builds the schema; it holds no connection, so `concierge schema` needs no database.
pub fn build_schema(settings: &Settings) -> AppSchema {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        subscriptions::SubscriptionRoot,
    )
    .enable_federation()
    .enable_subscription_in_federation()
    .limit_depth(settings.graphql_max_depth)
    .limit_complexity(settings.graphql_max_complexity)
    .finish()
}

/// The federation SDL, exactly as `_service { sdl }` serves it.
pub async fn federation_sdl(schema: &AppSchema) -> anyhow::Result<String> {
    let response = schema.execute("{ _service { sdl } }").await;
    if let Some(error) = response.errors.first() {
        anyhow::bail!("exporting the SDL failed: {}", error.message);
    }
    let json = response.data.into_json()?;
    json.pointer("/_service/sdl")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no SDL in the _service answer"))
}

/// A piece of shared state that [`context::data`](crate::graphql::context::data) put in every context.
pub(crate) fn shared<'a, T: std::any::Any + Send + Sync>(
    ctx: &Context<'a>,
) -> Result<&'a T, ApiError> {
    ctx.data::<T>().map_err(|_| {
        ApiError::internal_msg(format!("no {} in context", std::any::type_name::<T>()))
    })
}

/// The outbound allow-list that overrides the SSRF guard (`CONCIERGE_EGRESS_ALLOW`).
pub(crate) fn egress_allow<'a>(ctx: &Context<'a>) -> Option<&'a str> {
    ctx.data::<std::sync::Arc<Settings>>()
        .ok()
        .and_then(|settings| settings.egress_allow.as_deref())
}

/// The sealer of secrets at rest.
pub(crate) fn sealer<'a>(ctx: &Context<'a>) -> Result<&'a crate::secrets::Sealer, ApiError> {
    shared::<std::sync::Arc<crate::secrets::Sealer>>(ctx).map(|sealer| &**sealer)
}

/// The assistant engine, with this instance's knowledge-base indexes.
pub(crate) fn engine<'a>(ctx: &Context<'a>) -> Result<&'a crate::assistant::Engine, ApiError> {
    shared(ctx)
}

/// The database and the caller of the current request.
pub(crate) fn caller<'a>(ctx: &Context<'a>) -> async_graphql::Result<(&'a Db, &'a Principal)> {
    let db = ctx
        .data::<Db>()
        .map_err(|_| ApiError::internal_msg("no database in context"))?;
    let principal = ctx
        .data::<Principal>()
        .map_err(|_| ApiError::Unauthenticated("missing credentials".to_owned()))?;
    Ok((db, principal))
}

/// An optional GraphQL input field as a patch: absent keeps the value, `null` clears it, a value sets it.
impl<T> From<async_graphql::MaybeUndefined<T>> for crate::service::Patch<T> {
    fn from(value: async_graphql::MaybeUndefined<T>) -> Self {
        match value {
            async_graphql::MaybeUndefined::Undefined => crate::service::Patch::Keep,
            async_graphql::MaybeUndefined::Null => crate::service::Patch::Clear,
            async_graphql::MaybeUndefined::Value(v) => crate::service::Patch::Set(v),
        }
    }
}
