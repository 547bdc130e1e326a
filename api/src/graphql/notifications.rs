//! The team's notification rules in GraphQL: which events email whom, for which conversations, how often.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object};
use entities::notification_rule;

use crate::graphql::caller;
use crate::graphql::payloads::{Args, payload, payload_type};
use crate::graphql::scalars::Timestamp;
use crate::service::notifications::{self as svc, RuleInput};

/// What a notification is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::notifications::NotificationKind")]
pub enum NotificationEvent {
    /// A visitor started a conversation.
    NewConversation,
    /// A conversation was handed to a person.
    Handoff,
    /// The assistant could not answer a question (`knowledge_base.query_failed`).
    QueryFailed,
    /// A visitor's message read as clearly negative (sentiment -0.5 or lower).
    NegativeSentiment,
}

/// Who a rule emails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::notifications::Recipients")]
pub enum NotificationRecipients {
    /// The active owners and admins.
    Admins,
    /// Every active member.
    Team,
    /// The addresses the rule lists.
    Addresses,
}

/// A rule that emails the team about conversations, through the organization's email integration.
pub struct NotificationRule(pub notification_rule::Model);

/// A rule that emails the team about conversations, through the organization's email integration: at most one
/// email per conversation and event within its window.
#[Object]
impl NotificationRule {
    /// The rule's id.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// Its name, shown in the emails it sends.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The events it emails about.
    async fn events(&self) -> Vec<NotificationEvent> {
        svc::events_of(&self.0)
            .into_iter()
            .map(Into::into)
            .collect()
    }
    /// Who it emails.
    async fn recipients(&self) -> NotificationRecipients {
        svc::Recipients::named(&self.0.recipients)
            .unwrap_or(svc::Recipients::Admins)
            .into()
    }
    /// With `ADDRESSES`: the addresses.
    async fn addresses(&self) -> Vec<String> {
        svc::addresses_of(&self.0)
    }
    /// Only conversations with this assistant; null: any.
    async fn assistant_id(&self) -> Option<ID> {
        self.0.assistant_id.clone().map(ID)
    }
    /// Only conversations started on a page whose path begins with this; null: any.
    async fn page_path(&self) -> Option<&str> {
        self.0.page_path.as_deref()
    }
    /// Only conversations where a visitor message showed this intent; null: any.
    async fn intent(&self) -> Option<&str> {
        self.0.intent.as_deref()
    }
    /// At most one email per conversation and event within this many minutes.
    async fn window_minutes(&self) -> i32 {
        self.0.window_minutes
    }
    /// Whether it sends.
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    /// When it was made.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    /// When it last changed.
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}

/// A notification rule's fields: on creation `name` and `events` are required (the admins, a 30-minute window
/// and enabled by default); on a change, absent fields keep their value and `null` clears a filter.
#[derive(InputObject, Default)]
pub struct NotificationRuleInput {
    /// Its name, 1 to 100 characters.
    pub name: Option<String>,
    /// The events it emails about (at least one).
    pub events: Option<Vec<NotificationEvent>>,
    /// Who it emails.
    pub recipients: Option<NotificationRecipients>,
    /// With `ADDRESSES`: up to 20 addresses.
    pub addresses: Option<Vec<String>>,
    /// Only conversations with this assistant.
    pub assistant_id: MaybeUndefined<ID>,
    /// Only conversations started on a page whose path begins with this (`/pricing`).
    pub page_path: MaybeUndefined<String>,
    /// Only conversations where a visitor message showed this intent.
    pub intent: MaybeUndefined<String>,
    /// 1 to 1,440 minutes.
    pub window_minutes: Option<i32>,
    /// Whether it sends.
    pub enabled: Option<bool>,
}

fn patch<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

impl From<NotificationRuleInput> for RuleInput {
    fn from(input: NotificationRuleInput) -> Self {
        Self {
            name: input.name,
            events: input.events.map(|events| {
                events
                    .into_iter()
                    .map(|e| svc::NotificationKind::from(e).as_str().to_owned())
                    .collect()
            }),
            recipients: input
                .recipients
                .map(|r| svc::Recipients::from(r).as_str().to_owned()),
            addresses: input.addresses,
            assistant_id: patch(input.assistant_id).map(|id| id.map(|id| id.0)),
            page_path: patch(input.page_path),
            intent: patch(input.intent),
            window_minutes: input.window_minutes.map(i64::from),
            enabled: input.enabled,
        }
    }
}

payload_type! {
    /// The result of creating, changing or deleting a notification rule.
    NotificationRulePayload {
        /// The rule (as it was, when deleted).
        notification_rule: Option<NotificationRule>,
    }
}

#[derive(Default)]
pub struct NotificationQuery;

#[Object]
impl NotificationQuery {
    /// The organization's notification rules, oldest first.
    async fn notification_rules(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<NotificationRule>> {
        let (db, principal) = caller(ctx)?;
        Ok(svc::list(db, principal)
            .await?
            .into_iter()
            .map(NotificationRule)
            .collect())
    }
}

#[derive(Default)]
pub struct NotificationMutation;

#[Object]
impl NotificationMutation {
    /// Makes a notification rule.
    async fn create_notification_rule(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The rule.")] input: NotificationRuleInput,
    ) -> async_graphql::Result<Option<NotificationRulePayload>> {
        let (db, principal) = caller(ctx)?;
        let result = svc::create(db, principal, input.into()).await;
        payload(ctx, result, Args::Input, |rule| NotificationRulePayload {
            notification_rule: Some(NotificationRule(rule)),
            ..Default::default()
        })
    }

    /// Changes a notification rule.
    async fn update_notification_rule(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The rule to change.")] id: ID,
        #[graphql(desc = "What to change.")] input: NotificationRuleInput,
    ) -> async_graphql::Result<Option<NotificationRulePayload>> {
        let (db, principal) = caller(ctx)?;
        let result = svc::update(db, principal, &id, input.into()).await;
        payload(ctx, result, Args::Input, |rule| NotificationRulePayload {
            notification_rule: Some(NotificationRule(rule)),
            ..Default::default()
        })
    }

    /// Deletes a notification rule.
    async fn delete_notification_rule(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The rule to delete.")] id: ID,
    ) -> async_graphql::Result<Option<NotificationRulePayload>> {
        let (db, principal) = caller(ctx)?;
        let result = svc::delete(db, principal, &id).await;
        payload(ctx, result, Args::Top, |rule| NotificationRulePayload {
            notification_rule: Some(NotificationRule(rule)),
            ..Default::default()
        })
    }
}
