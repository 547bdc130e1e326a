//! Analytics: conversation and knowledge-base counts (the full analytics come with the assistant engine).

use std::collections::BTreeMap;

use entities::conversation;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;

use crate::auth::Principal;
use crate::authz::{Action, Resource, authorize};
use crate::db::Db;
use crate::error::ApiResult;
use crate::service::conversations::Status;
use crate::service::{knowledge_base, messages};

/// Conversation counts.
#[derive(Clone, Debug, Serialize)]
pub struct ConversationStats {
    pub total: u64,
    /// Every status, zero included.
    pub by_status: BTreeMap<String, u64>,
    pub messages: u64,
    pub average_messages_per_conversation: f64,
}

/// Knowledge-base counts.
#[derive(Clone, Debug, Serialize)]
pub struct KnowledgeBaseStats {
    pub total: u64,
    pub active: u64,
    pub inactive: u64,
    /// Entries per category; uncategorized entries count under `""`.
    pub by_category: BTreeMap<String, u64>,
}

/// Counts of the organization's conversations and messages.
pub async fn conversations(db: &Db, principal: &Principal) -> ApiResult<ConversationStats> {
    let grant = authorize(principal, Resource::Analytics, Action::Read).await?;
    let rows: Vec<(String, i64)> = conversation::Entity::find()
        .select_only()
        .column(conversation::Column::Status)
        .column_as(conversation::Column::Id.count(), "n")
        .filter(conversation::Column::OrganizationId.eq(grant.organization_id()))
        .group_by(conversation::Column::Status)
        .into_tuple()
        .all(db.conn())
        .await?;
    let mut by_status: BTreeMap<String, u64> = Status::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), 0))
        .collect();
    for (status, n) in rows {
        *by_status.entry(status).or_default() += n.max(0) as u64;
    }
    let total = by_status.values().sum();
    let messages = messages::count_all_unchecked(db, grant.organization_id()).await?;
    Ok(ConversationStats {
        total,
        by_status,
        messages,
        average_messages_per_conversation: if total == 0 {
            0.0
        } else {
            messages as f64 / total as f64
        },
    })
}

/// Counts of the organization's knowledge-base entries.
pub async fn knowledge_base(db: &Db, principal: &Principal) -> ApiResult<KnowledgeBaseStats> {
    let grant = authorize(principal, Resource::Analytics, Action::Read).await?;
    let rows = knowledge_base::counts_by_category(db, grant.organization_id()).await?;
    let mut stats = KnowledgeBaseStats {
        total: 0,
        active: 0,
        inactive: 0,
        by_category: BTreeMap::new(),
    };
    for (category, active, n) in rows {
        let n = n.max(0) as u64;
        stats.total += n;
        if active {
            stats.active += n;
        } else {
            stats.inactive += n;
        }
        *stats
            .by_category
            .entry(category.unwrap_or_default())
            .or_default() += n;
    }
    Ok(stats)
}
