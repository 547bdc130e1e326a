//! Which subscriptions can be shared, and the shape that identifies them: operation, variables, audience.

use std::sync::Arc;

use async_graphql::parser::types::{OperationType, Selection, VariableDefinition};
use async_graphql::{Pos, Positioned, Request, Response, Value, Variables};

use crate::auth::Principal;

/// The subscription fields whose streams follow the event stream (and so can be resumed after an event).
const FOLLOWING: [&str; 3] = ["conversationEvents", "organizationEvents", "messageAdded"];

/// Fields whose answer depends on who asks, not only on what they may see: an operation that names one is
/// shared only among the subscriptions of one member or key.
const PERSONAL: [&str; 1] = ["sessions"];

/// What identifies a shape.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct Key {
    audience: String,
    query: String,
    operation_name: Option<String>,
    variables: String,
}

/// A subscription operation that can be shared, with what its subscribers need to leave the shape.
pub struct Operation {
    pub(super) key: Arc<Key>,
    /// Whether it names a [`PERSONAL`] field, so that its audience is one member's or key's.
    personal: bool,
    variables: Variables,
    /// The root field's position and response key, for the errors of one subscriber.
    pos: Pos,
    field: String,
}

impl Operation {
    /// The operation of `request` when it can be shared: a subscription of one following field without
    /// `after` (a replay is the subscriber's own), no directive on it and no request extension.
    pub fn of(request: &Request, principal: &Principal) -> Option<Operation> {
        if !request.extensions.0.is_empty() || !request.uploads.is_empty() {
            return None;
        }
        let document = async_graphql::parser::parse_query(&request.query).ok()?;
        let mut operations = document.operations.iter();
        let operation = match &request.operation_name {
            Some(name) => operations
                .find(|(n, _)| n.is_some_and(|n| n.as_str() == name))
                .map(|(_, operation)| operation)?,
            None => match (operations.next(), operations.next()) {
                (Some((_, operation)), None) => operation,
                _ => return None,
            },
        };
        let operation = &operation.node;
        if operation.ty != OperationType::Subscription || !operation.directives.is_empty() {
            return None;
        }
        let [item] = operation.selection_set.node.items.as_slice() else {
            return None;
        };
        let Selection::Field(field) = &item.node else {
            return None;
        };
        let field_node = &field.node;
        if !field_node.directives.is_empty() || !FOLLOWING.contains(&field_node.name.node.as_str())
        {
            return None;
        }
        let after = field_node
            .arguments
            .iter()
            .find(|(name, _)| name.node == "after")
            .map(|(_, value)| &value.node);
        let replays = after.is_some_and(|value| {
            let resolved = value.clone().into_const_with(|name| {
                let given = request.variables.get(&name);
                let default = default_of(&operation.variable_definitions, name.as_str());
                Ok::<_, ()>(given.or(default).cloned().unwrap_or(Value::Null))
            });
            !matches!(resolved, Ok(Value::Null))
        });
        if replays {
            return None;
        }
        let personal = PERSONAL.iter().any(|name| request.query.contains(name));
        Some(Operation {
            personal,
            key: Arc::new(Key {
                audience: audience(principal, personal),
                query: request.query.clone(),
                operation_name: request.operation_name.clone(),
                variables: serde_json::to_string(&request.variables).ok()?,
            }),
            variables: request.variables.clone(),
            pos: field.pos,
            field: field_node.response_key().node.to_string(),
        })
    }

    /// Whether `principal` would see this operation's answers as its shape's subscribers do.
    pub fn audience_of(&self, principal: &Principal) -> bool {
        self.key.audience == audience(principal, self.personal)
    }

    /// A new request for this operation.
    pub fn request(&self) -> Request {
        let mut request = Request::new(self.key.query.clone()).variables(self.variables.clone());
        if let Some(name) = &self.key.operation_name {
            request = request.operation_name(name.clone());
        }
        request
    }

    /// The response that ends one subscriber's stream with `error`, as the execution would have put it.
    pub fn refusal(&self, error: async_graphql::Error) -> Response {
        Response::from_errors(vec![
            error
                .into_server_error(self.pos)
                .with_path(vec![async_graphql::PathSegment::Field(self.field.clone())]),
        ])
    }
}

/// Who a shape's answers are for: `principal`'s audience, and for a personal operation the caller itself.
fn audience(principal: &Principal, personal: bool) -> String {
    let mut audience = principal.audience();
    if personal {
        audience.push('|');
        audience.push_str(principal.actor_id());
    }
    audience
}

fn default_of<'a>(
    definitions: &'a [Positioned<VariableDefinition>],
    name: &str,
) -> Option<&'a Value> {
    definitions
        .iter()
        .find(|d| d.node.name.node == name)
        .and_then(|d| d.node.default_value.as_ref())
        .map(|v| &v.node)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str, variables: serde_json::Value) -> Request {
        Request::new(query).variables(Variables::from_json(variables))
    }

    #[tokio::test]
    async fn only_live_following_subscriptions_are_shared() {
        let principal = Principal {
            organization: crate::authz::Tenant::new("org_test".to_owned()),
            plan: crate::auth::Plan::Premium,
            role: crate::auth::Role::Admin,
            actor: crate::auth::Actor::ApiKey {
                id: "key_test".to_owned(),
            },
            origin: crate::auth::Origin::default(),
            scopes: None,
            authz: crate::authz::Authz::detached().await.unwrap(),
        };
        let shared = |query: &str, variables| Operation::of(&request(query, variables), &principal);
        assert!(
            shared(
                "subscription { organizationEvents { id } }",
                serde_json::json!({})
            )
            .is_some()
        );
        assert!(
            shared(
                "subscription S($id: ID!, $after: ID) { messageAdded(conversationId: $id, after: $after) { id } }",
                serde_json::json!({"id": "conv_1"})
            )
            .is_some()
        );
        // A replay is the subscriber's own.
        assert!(
            shared(
                "subscription S($after: ID) { organizationEvents(after: $after) { id } }",
                serde_json::json!({"after": "evt_1"})
            )
            .is_none()
        );
        assert!(
            shared(
                "subscription S($after: ID = \"evt_1\") { organizationEvents(after: $after) { id } }",
                serde_json::json!({})
            )
            .is_none()
        );
        assert!(
            shared(
                "subscription { organizationEvents(after: \"evt_1\") { id } }",
                serde_json::json!({})
            )
            .is_none()
        );
        // Not a subscription, or not one field.
        assert!(shared("{ __typename }", serde_json::json!({})).is_none());
        assert!(
            shared(
                "subscription { ...F } fragment F on Subscription { organizationEvents { id } }",
                serde_json::json!({})
            )
            .is_none()
        );
        assert!(shared("subscription {", serde_json::json!({})).is_none());
    }
}
