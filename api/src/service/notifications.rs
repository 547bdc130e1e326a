//! Team notifications by email: the organization's rules (which events, to whom, for which conversations, and
//! how often), and which event is which kind of notification.

use entities::{event, notification_rule};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::authz::{Action, Resource, authorize};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::events::names;
use crate::ids::{self, Kind, new_id};
use crate::service::identity::organizations::validate_email;
use crate::service::now;
use crate::text_enum::text_enum;

text_enum! {
    /// What a notification is about.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum NotificationKind: "notification event" {
        /// A visitor started a conversation.
        NewConversation = "new_conversation",
        /// A conversation was handed to a person.
        Handoff = "handoff",
        /// The assistant could not answer a question (`knowledge_base.query_failed`).
        QueryFailed = "query_failed",
        /// A visitor's message read as clearly negative.
        NegativeSentiment = "negative_sentiment",
    }
}

text_enum! {
    /// Who a rule emails.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Recipients: "notification recipients" {
        /// The owners and admins.
        Admins = "admins",
        /// Every active member.
        Team = "team",
        /// The addresses the rule lists.
        Addresses = "addresses",
    }
}

/// A visitor message at or below this sentiment (VADER's compound score, -1 to 1) is a negative one.
pub const NEGATIVE_SENTIMENT: f64 = -0.5;

/// The notification an event is, if any.
pub fn kind_of(event: &event::Model) -> Option<NotificationKind> {
    match event.event.as_str() {
        names::CONVERSATION_CREATED => Some(NotificationKind::NewConversation),
        names::HANDOFF_REQUESTED => Some(NotificationKind::Handoff),
        names::KNOWLEDGE_BASE_QUERY_FAILED if event.conversation_id.is_some() => {
            Some(NotificationKind::QueryFailed)
        }
        names::MESSAGE_CREATED => {
            let visitor = event.data.get("author").and_then(Value::as_str) == Some("visitor");
            let score = event.data.get("sentiment").and_then(Value::as_f64);
            (visitor && score.is_some_and(|s| s <= NEGATIVE_SENTIMENT))
                .then_some(NotificationKind::NegativeSentiment)
        }
        _ => None,
    }
}

/// A rule as typed (create: what is absent takes its default; update: what is absent keeps its value).
#[derive(Clone, Debug, Default)]
pub struct RuleInput {
    pub name: Option<String>,
    pub events: Option<Vec<String>>,
    pub recipients: Option<String>,
    pub addresses: Option<Vec<String>>,
    /// `Some(None)` clears.
    pub assistant_id: Option<Option<String>>,
    pub page_path: Option<Option<String>>,
    pub intent: Option<Option<String>>,
    pub window_minutes: Option<i64>,
    pub enabled: Option<bool>,
}

/// The longest window: a day.
const WINDOW_MAX: i64 = 1440;

/// The rule's events, read back.
pub fn events_of(rule: &notification_rule::Model) -> Vec<NotificationKind> {
    serde_json::from_value::<Vec<String>>(rule.events.clone())
        .unwrap_or_default()
        .iter()
        .filter_map(|e| NotificationKind::named(e))
        .collect()
}

/// The rule's addresses, read back.
pub fn addresses_of(rule: &notification_rule::Model) -> Vec<String> {
    serde_json::from_value(rule.addresses.clone()).unwrap_or_default()
}

async fn apply(
    db: &Db,
    organization_id: &str,
    mut row: notification_rule::ActiveModel,
    input: RuleInput,
) -> ApiResult<notification_rule::ActiveModel> {
    if let Some(name) = input.name {
        row.name = Set(crate::service::required_text("name", &name, 100)?);
    }
    if let Some(events) = input.events {
        if events.is_empty() {
            return Err(ApiError::validation("events", "name at least one event"));
        }
        let mut kinds = Vec::new();
        for (at, name) in events.iter().enumerate() {
            let kind = NotificationKind::named(name.trim()).ok_or_else(|| {
                ApiError::validation(
                    &format!("events[{at}]"),
                    format!(
                        "unknown event {name:?}; expected one of {}",
                        NotificationKind::NAMES.join(", ")
                    ),
                )
            })?;
            if !kinds.contains(&kind.as_str()) {
                kinds.push(kind.as_str());
            }
        }
        row.events = Set(json!(kinds));
    }
    if let Some(recipients) = input.recipients {
        let parsed = Recipients::named(recipients.trim()).ok_or_else(|| {
            ApiError::validation("recipients", "must be admins, team or addresses")
        })?;
        row.recipients = Set(parsed.as_str().to_owned());
    }
    if let Some(addresses) = input.addresses {
        if addresses.len() > 20 {
            return Err(ApiError::validation(
                "addresses",
                "list at most 20 addresses",
            ));
        }
        let mut checked = Vec::new();
        for (at, address) in addresses.iter().enumerate() {
            let address = validate_email(&format!("addresses[{at}]"), address)?;
            if !checked.contains(&address) {
                checked.push(address);
            }
        }
        row.addresses = Set(json!(checked));
    }
    if let Some(assistant) = input.assistant_id {
        let assistant = match assistant {
            Some(id) => {
                let id = ids::parse(Kind::Assistant, "assistant_id", &id)?;
                crate::service::assistants::find(db.conn(), organization_id, &id)
                    .await
                    .map_err(|_| {
                        ApiError::validation("assistant_id", format!("no assistant {id}"))
                    })?;
                Some(id)
            }
            None => None,
        };
        row.assistant_id = Set(assistant);
    }
    if let Some(path) = input.page_path {
        let path = path.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty());
        if let Some(path) = &path
            && (!path.starts_with('/') || path.len() > 500 || path.chars().any(char::is_whitespace))
        {
            return Err(ApiError::validation(
                "page_path",
                "must be a path that starts with /, such as /pricing",
            ));
        }
        row.page_path = Set(path);
    }
    if let Some(intent) = input.intent {
        let intent = intent
            .map(|i| i.trim().to_owned())
            .filter(|i| !i.is_empty());
        if intent.as_ref().is_some_and(|i| i.len() > 100) {
            return Err(ApiError::validation(
                "intent",
                "must be at most 100 characters",
            ));
        }
        row.intent = Set(intent);
    }
    if let Some(window) = input.window_minutes {
        if !(1..=WINDOW_MAX).contains(&window) {
            return Err(ApiError::validation(
                "window_minutes",
                format!("must be 1 to {WINDOW_MAX} minutes"),
            ));
        }
        row.window_minutes = Set(i32::try_from(window).map_err(ApiError::internal)?);
    }
    if let Some(enabled) = input.enabled {
        row.enabled = Set(enabled);
    }
    // The rule as a whole: listed addresses need addresses.
    let recipients = match &row.recipients {
        sea_orm::ActiveValue::Set(r) | sea_orm::ActiveValue::Unchanged(r) => r.clone(),
        sea_orm::ActiveValue::NotSet => Recipients::Admins.as_str().to_owned(),
    };
    let addresses: Vec<String> = match &row.addresses {
        sea_orm::ActiveValue::Set(a) | sea_orm::ActiveValue::Unchanged(a) => {
            serde_json::from_value(a.clone()).unwrap_or_default()
        }
        sea_orm::ActiveValue::NotSet => Vec::new(),
    };
    if recipients == Recipients::Addresses.as_str() && addresses.is_empty() {
        return Err(ApiError::validation(
            "addresses",
            "list at least one address when the recipients are addresses",
        ));
    }
    Ok(row)
}

/// The organization's rules, oldest first.
pub async fn list(db: &Db, principal: &Principal) -> ApiResult<Vec<notification_rule::Model>> {
    let grant = authorize(principal, Resource::Integration, Action::Read).await?;
    Ok(notification_rule::Entity::find()
        .filter(notification_rule::Column::OrganizationId.eq(grant.organization_id()))
        .order_by_asc(notification_rule::Column::Id)
        .all(db.conn())
        .await?)
}

/// The organization's enabled rules (for the notification runs).
pub(crate) async fn enabled_in(
    conn: &impl sea_orm::ConnectionTrait,
    organization_id: &str,
) -> ApiResult<Vec<notification_rule::Model>> {
    Ok(notification_rule::Entity::find()
        .filter(notification_rule::Column::OrganizationId.eq(organization_id))
        .filter(notification_rule::Column::Enabled.eq(true))
        .order_by_asc(notification_rule::Column::Id)
        .all(conn)
        .await?)
}

/// Creates a rule: `name` and `events` are required; the admins, a 30-minute window and enabled by default.
pub async fn create(
    db: &Db,
    principal: &Principal,
    input: RuleInput,
) -> ApiResult<notification_rule::Model> {
    let grant = authorize(principal, Resource::Integration, Action::Write).await?;
    if input.name.is_none() {
        return Err(ApiError::validation("name", "is required"));
    }
    if input.events.is_none() {
        return Err(ApiError::validation("events", "name at least one event"));
    }
    let at = now();
    let row = notification_rule::ActiveModel {
        id: Set(new_id(Kind::NotificationRule)),
        organization_id: Set(grant.organization_id().to_owned()),
        name: Set(String::new()),
        events: Set(json!([])),
        recipients: Set(Recipients::Admins.as_str().to_owned()),
        addresses: Set(json!([])),
        assistant_id: Set(None),
        page_path: Set(None),
        intent: Set(None),
        window_minutes: Set(30),
        enabled: Set(true),
        created_at: Set(at),
        updated_at: Set(at),
    };
    let row = apply(db, grant.organization_id(), row, input).await?;
    let txn = db.begin_write().await?;
    let model = row.insert(&*txn).await?;
    txn.commit().await?;
    Ok(model)
}

async fn find(db: &Db, organization_id: &str, id: &str) -> ApiResult<notification_rule::Model> {
    let id = ids::lookup(Kind::NotificationRule, id)?;
    notification_rule::Entity::find_by_id(id.to_owned())
        .filter(notification_rule::Column::OrganizationId.eq(organization_id))
        .one(db.conn())
        .await?
        .ok_or_else(|| ApiError::not_found("notification rule", id))
}

/// Changes a rule: absent fields keep their value.
pub async fn update(
    db: &Db,
    principal: &Principal,
    id: &str,
    input: RuleInput,
) -> ApiResult<notification_rule::Model> {
    let grant = authorize(principal, Resource::Integration, Action::Write).await?;
    let current = find(db, grant.organization_id(), id).await?;
    let mut row = apply(db, grant.organization_id(), current.into(), input).await?;
    row.updated_at = Set(now());
    let txn = db.begin_write().await?;
    let model = row.update(&*txn).await?;
    txn.commit().await?;
    Ok(model)
}

/// Deletes a rule.
pub async fn delete(
    db: &Db,
    principal: &Principal,
    id: &str,
) -> ApiResult<notification_rule::Model> {
    let grant = authorize(principal, Resource::Integration, Action::Write).await?;
    let current = find(db, grant.organization_id(), id).await?;
    let txn = db.begin_write().await?;
    notification_rule::Entity::delete_by_id(current.id.clone())
        .exec(&*txn)
        .await?;
    txn.commit().await?;
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn event(name: &str, data: Value) -> event::Model {
        event::Model {
            id: "evt_1".to_owned(),
            organization_id: "org_1".to_owned(),
            event: name.to_owned(),
            conversation_id: Some("conv_1".to_owned()),
            sequence: 1,
            data,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn events_are_notifications_of_their_kind() {
        assert_eq!(
            kind_of(&event(names::CONVERSATION_CREATED, json!({}))),
            Some(NotificationKind::NewConversation)
        );
        assert_eq!(
            kind_of(&event(names::HANDOFF_REQUESTED, json!({}))),
            Some(NotificationKind::Handoff)
        );
        let unhappy = json!({"author": "visitor", "sentiment": -0.7});
        assert_eq!(
            kind_of(&event(names::MESSAGE_CREATED, unhappy)),
            Some(NotificationKind::NegativeSentiment)
        );
        let mild = json!({"author": "visitor", "sentiment": -0.2});
        assert_eq!(kind_of(&event(names::MESSAGE_CREATED, mild)), None);
        let agent = json!({"author": "agent", "sentiment": -0.9});
        assert_eq!(kind_of(&event(names::MESSAGE_CREATED, agent)), None);
    }
}
