//! The GraphQL API: an Apollo Federation v2 subgraph merged from one query and mutation object per domain.

mod analytics;
mod api_keys;
mod audit;
mod context;
mod conversations;
pub mod cost;
mod email_templates;
pub mod engine;
pub mod enums;
pub(crate) mod events;
pub mod fanout;
mod federation;
pub mod http;
pub(crate) mod integrations;
mod knowledge_base;
pub mod loaders;
mod members;
pub mod messages;
pub(crate) mod node;
mod notifications;
mod organization;
pub(crate) mod payloads;
pub mod scalars;
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
use crate::graphql::types::Conn;

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
    integrations::IntegrationQuery,
    notifications::NotificationQuery,
    email_templates::EmailTemplateQuery,
    events::EventQuery,
    federation::FederationQuery,
    node::NodeQuery,
    cost::CostQuery,
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
    integrations::IntegrationMutation,
    notifications::NotificationMutation,
    email_templates::EmailTemplateMutation,
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
    .override_output_type_description::<Conn<types::ApiKey>>("A page of API keys.")
    .override_output_type_description::<Conn<audit::AuditEntry>>("A page of the audit log.")
    .override_output_type_description::<Conn<types::Conversation>>("A page of conversations.")
    .override_output_type_description::<Conn<events::Event>>("A page of the organization's events.")
    .override_output_type_description::<Conn<types::KnowledgeBaseEntry>>(
        "A page of knowledge-base entries.",
    )
    .override_output_type_description::<Conn<members::Member>>("A page of team members.")
    .override_output_type_description::<Conn<messages::Message>>(
        "A page of a conversation's messages.",
    )
    .override_output_type_description::<Conn<types::Visitor>>("A page of visitors.")
    .override_output_type_description::<Conn<webhooks::Webhook>>("A page of webhook endpoints.")
    .override_output_type_description::<Conn<webhooks::WebhookDelivery>>(
        "A page of an endpoint's deliveries.",
    )
    .override_output_type_description::<Conn<integrations::IntegrationRun>>(
        "A page of an integration's runs.",
    )
    .enable_federation()
    .enable_subscription_in_federation()
    .limit_depth(settings.graphql_max_depth)
    .extension(cost::Cost {
        max_per_request: settings.graphql_max_complexity,
    })
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

/// A single-object lookup: a missing object answers `null`, so one stale id does not fail a whole response;
/// any other error is reported with the field `null` too.
pub(crate) fn found<T>(
    ctx: &Context<'_>,
    result: crate::error::ApiResult<T>,
) -> async_graphql::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(ApiError::NotFound(_)) => Ok(None),
        Err(err) => Ok(null_with_error(ctx, err)),
    }
}

/// Records `err` against the current field, with its code and path, and answers `None` so that the field is
/// `null`: returned as an error instead, async-graphql would leave the field out of `data` altogether.
pub(crate) fn null_with_error<T>(ctx: &Context<'_>, err: ApiError) -> Option<T> {
    let error = async_graphql::Error::from(err).into_server_error(ctx.item.pos);
    ctx.add_error(ctx.set_error_path(error));
    None
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

#[cfg(test)]
mod tests {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

    /// Every type, field, argument and enum value of the served schema that has no description, and every
    /// description that speaks of the code instead of the product.
    fn undescribed(sdl: &str) -> Vec<String> {
        let document = async_graphql::parser::parse_schema(sdl).expect("the SDL parses");
        let mut missing = Vec::new();
        let mut check = |what: String, description: Option<&str>| match description {
            None => missing.push(format!("{what}: no description")),
            Some(text) => {
                for leak in [
                    "DESIGN.md",
                    "`None`",
                    "samael",
                    "sea-orm",
                    "async-graphql",
                    "Rust ",
                ] {
                    if text.contains(leak) {
                        missing.push(format!("{what}: mentions {leak:?}"));
                    }
                }
            }
        };
        for definition in &document.definitions {
            let TypeSystemDefinition::Type(ty) = definition else {
                continue;
            };
            let ty = &ty.node;
            let name = ty.name.node.as_str();
            if name.starts_with('_') || name.starts_with("link__") || name == "FieldSet" {
                continue;
            }
            check(
                name.to_owned(),
                ty.description.as_ref().map(|d| d.node.as_str()),
            );
            match &ty.kind {
                TypeKind::Object(object) => {
                    for field in &object.fields {
                        let field = &field.node;
                        let path = format!("{name}.{}", field.name.node);
                        if field.name.node.starts_with('_') {
                            continue;
                        }
                        check(
                            path.clone(),
                            field.description.as_ref().map(|d| d.node.as_str()),
                        );
                        for arg in &field.arguments {
                            let arg = &arg.node;
                            check(
                                format!("{path}({})", arg.name.node),
                                arg.description.as_ref().map(|d| d.node.as_str()),
                            );
                        }
                    }
                }
                TypeKind::Interface(interface) => {
                    for field in &interface.fields {
                        let field = &field.node;
                        check(
                            format!("{name}.{}", field.name.node),
                            field.description.as_ref().map(|d| d.node.as_str()),
                        );
                    }
                }
                TypeKind::InputObject(input) => {
                    for field in &input.fields {
                        let field = &field.node;
                        check(
                            format!("{name}.{}", field.name.node),
                            field.description.as_ref().map(|d| d.node.as_str()),
                        );
                    }
                }
                TypeKind::Enum(values) => {
                    for value in &values.values {
                        let value = &value.node;
                        check(
                            format!("{name}.{}", value.value.node),
                            value.description.as_ref().map(|d| d.node.as_str()),
                        );
                    }
                }
                TypeKind::Scalar | TypeKind::Union(_) => {}
            }
        }
        missing
    }

    #[test]
    fn every_type_field_argument_and_enum_value_is_described_for_the_product() {
        let schema = super::build_schema(&crate::config::Settings::default());
        let missing = undescribed(&schema.sdl());
        assert!(
            missing.is_empty(),
            "{} undescribed:\n{}",
            missing.len(),
            missing.join("\n")
        );
    }
}
