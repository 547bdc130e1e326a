//! DataLoaders: one per request, scoped to the caller, so a page of conversations costs a fixed number of statements.

use std::collections::{BTreeSet, HashMap};

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use async_graphql::{Context, Name, SelectionField, Value};
use entities::{assistant, conversation, knowledge_base_entry, message, user, visitor};

use crate::auth::Principal;
use crate::db::Db;
use crate::graphql::caller;
use crate::ids::Kind;
use crate::service::conversations::{self, messages, visitors};
use crate::service::identity::members;
use crate::service::{PageRequest, assistants, knowledge_base};

/// Loads related rows for the caller of one request.
pub struct Loaders {
    pub db: Db,
    pub principal: Principal,
}

/// Declares the key of one kind of row and its loader, which reads a batch of keys through `get_many`.
macro_rules! by_id {
    ($(#[$doc:meta])* $key:ident => $model:ty, $get_many:path) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct $key(pub String);

        impl Loader<$key> for Loaders {
            type Value = $model;
            type Error = async_graphql::Error;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Self::Value>, Self::Error> {
                let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
                let found = $get_many(&self.db, &self.principal, &ids).await?;
                Ok(found.into_iter().map(|(id, row)| ($key(id), row)).collect())
            }
        }
    };
}

by_id!(
    /// Key of a visitor.
    VisitorKey => visitor::Model, visitors::get_many
);
by_id!(
    /// Key of an assistant.
    AssistantKey => assistant::Model, assistants::get_many
);
by_id!(
    /// Key of a conversation.
    ConversationKey => conversation::Model, conversations::get_many
);
by_id!(
    /// Key of a message.
    MessageKey => message::Model, messages::get_many
);
by_id!(
    /// Key of a knowledge-base entry.
    EntryKey => knowledge_base_entry::Model, knowledge_base::get_many
);
by_id!(
    /// Key of a team member.
    MemberKey => user::Model, members::get_many
);

/// Key of a message's attachments.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AttachmentsKey(pub String);

impl Loader<AttachmentsKey> for Loaders {
    type Value = Vec<entities::message_attachment::Model>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[AttachmentsKey],
    ) -> Result<HashMap<AttachmentsKey, Self::Value>, Self::Error> {
        let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let found =
            crate::service::attachments::of_messages_for(&self.db, &self.principal, &ids).await?;
        Ok(ids
            .into_iter()
            .map(|id| {
                let rows = found.get(&id).cloned().unwrap_or_default();
                (AttachmentsKey(id), rows)
            })
            .collect())
    }
}

/// Key of how many messages a conversation holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MessageCountKey(pub String);

impl Loader<MessageCountKey> for Loaders {
    type Value = u64;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[MessageCountKey],
    ) -> Result<HashMap<MessageCountKey, Self::Value>, Self::Error> {
        let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let found = messages::count_for_conversations(&self.db, &self.principal, &ids).await?;
        Ok(ids
            .into_iter()
            .map(|id| {
                let n = found.get(&id).copied().unwrap_or(0);
                (MessageCountKey(id), n)
            })
            .collect())
    }
}

/// Key of a conversation's `n` latest messages.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LatestMessagesKey {
    pub conversation_id: String,
    pub n: u64,
}

impl Loader<LatestMessagesKey> for Loaders {
    type Value = Vec<message::Model>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[LatestMessagesKey],
    ) -> Result<HashMap<LatestMessagesKey, Self::Value>, Self::Error> {
        let mut by_n: HashMap<u64, Vec<String>> = HashMap::new();
        for key in keys {
            by_n.entry(key.n)
                .or_default()
                .push(key.conversation_id.clone());
        }
        let mut out = HashMap::new();
        for (n, ids) in by_n {
            let found =
                messages::latest_for_conversations(&self.db, &self.principal, &ids, n).await?;
            for id in ids {
                let rows = found.get(&id).cloned().unwrap_or_default();
                out.insert(
                    LatestMessagesKey {
                        conversation_id: id,
                        n,
                    },
                    rows,
                );
            }
        }
        Ok(out)
    }
}

/// The row behind a reference, through the request's loader, as `wrap` makes it an object; null when it is
/// gone or belongs to another organization.
pub async fn load<K, V, T>(
    ctx: &Context<'_>,
    key: K,
    wrap: impl FnOnce(V) -> T,
) -> async_graphql::Result<Option<T>>
where
    K: Send + Sync + Clone + Eq + std::hash::Hash + 'static,
    V: Send + Sync + Clone + 'static,
    Loaders: Loader<K, Value = V, Error = async_graphql::Error>,
{
    let loader = ctx.data::<RequestLoader>()?;
    Ok(loader.load_one(key).await?.map(wrap))
}

/// [`load`] for a reference that may be absent: null without an id.
pub async fn load_opt<K, V, T>(
    ctx: &Context<'_>,
    id: Option<&String>,
    key: impl FnOnce(String) -> K,
    wrap: impl FnOnce(V) -> T,
) -> async_graphql::Result<Option<T>>
where
    K: Send + Sync + Clone + Eq + std::hash::Hash + 'static,
    V: Send + Sync + Clone + 'static,
    Loaders: Loader<K, Value = V, Error = async_graphql::Error>,
{
    match id {
        Some(id) => load(ctx, key(id.clone()), wrap).await,
        None => Ok(None),
    }
}

/// The per-request loader, with a cache so that [`prefetch_for_conversations`] can feed it.
pub type RequestLoader = DataLoader<Loaders, HashMapCache>;

/// A new loader for one request of `principal`.
pub fn request_loader(db: Db, principal: Principal) -> RequestLoader {
    DataLoader::with_cache(
        Loaders { db, principal },
        tokio::spawn,
        HashMapCache::default(),
    )
}

/// Loads what a page of conversations' selection asks for (visitor, assistant, `messages(last: n)` with the
/// messages' attachments, their `totalCount`), through `edges { node }` or `nodes`, in one statement each, before the nodes
/// resolve; the cost of a page then does not depend on DataLoader timing.
pub async fn prefetch_for_conversations(
    ctx: &Context<'_>,
    conversations: &[conversation::Model],
) -> async_graphql::Result<()> {
    if conversations.is_empty() {
        return Ok(());
    }
    let (db, principal) = caller(ctx)?;
    let loader = ctx.data::<RequestLoader>()?;
    let look = ctx.look_ahead();
    let nodes = [look.field("edges").field("node"), look.field("nodes")];
    let asks = |name: &str| nodes.iter().any(|node| node.field(name).exists());
    if asks("visitor") {
        let ids = unique(conversations.iter().map(|c| &c.visitor_id));
        let found = visitors::get_many(db, principal, &ids).await?;
        loader
            .feed_many(found.into_iter().map(|(id, v)| (VisitorKey(id), v)))
            .await;
    }
    if asks("assistant") {
        let ids = unique(conversations.iter().map(|c| &c.assistant_id));
        let found = assistants::get_many(db, principal, &ids).await?;
        loader
            .feed_many(found.into_iter().map(|(id, a)| (AssistantKey(id), a)))
            .await;
    }
    let mut sizes = BTreeSet::new();
    let (mut totals, mut attachments) = (false, false);
    for field in nodes
        .iter()
        .flat_map(|node| node.field("messages").selection_fields())
    {
        if let Some(n) = latest_only(&field.arguments()?) {
            sizes.insert(PageRequest::new(Some(n), None, Kind::Message)?.limit);
        }
        for part in field.selection_set() {
            totals |= part.name() == "totalCount";
            let selects = |message: SelectionField<'_>| {
                message.selection_set().any(|f| f.name() == "attachments")
            };
            attachments |= match part.name() {
                "nodes" => selects(part),
                "edges" => part
                    .selection_set()
                    .any(|f| f.name() == "node" && selects(f)),
                _ => false,
            };
        }
    }
    let ids: Vec<String> = conversations.iter().map(|c| c.id.clone()).collect();
    let mut message_ids = Vec::new();
    for n in sizes {
        let mut found = messages::latest_for_conversations(db, principal, &ids, n).await?;
        if attachments {
            message_ids.extend(found.values().flatten().map(|m| m.id.clone()));
        }
        loader
            .feed_many(ids.iter().map(|id| {
                let key = LatestMessagesKey {
                    conversation_id: id.clone(),
                    n,
                };
                (key, found.remove(id).unwrap_or_default())
            }))
            .await;
    }
    if !message_ids.is_empty() {
        let message_ids = unique(message_ids.iter());
        let mut found =
            crate::service::attachments::of_messages_for(db, principal, &message_ids).await?;
        loader
            .feed_many(message_ids.into_iter().map(|id| {
                let rows = found.remove(&id).unwrap_or_default();
                (AttachmentsKey(id), rows)
            }))
            .await;
    }
    if totals {
        let found = messages::count_for_conversations(db, principal, &ids).await?;
        loader
            .feed_many(ids.iter().map(|id| {
                let n = found.get(id).copied().unwrap_or(0);
                (MessageCountKey(id.clone()), n)
            }))
            .await;
    }
    Ok(())
}

/// `Some(n)` when the arguments are exactly `last: n` (the batched shape).
fn latest_only(arguments: &[(Name, Value)]) -> Option<i64> {
    let mut last = None;
    for (name, value) in arguments {
        match (name.as_str(), value) {
            (_, Value::Null) => {}
            ("last", Value::Number(n)) => last = n.as_i64(),
            _ => return None,
        }
    }
    last
}

fn unique<'a>(ids: impl Iterator<Item = &'a String>) -> Vec<String> {
    let set: BTreeSet<&String> = ids.collect();
    set.into_iter().cloned().collect()
}
