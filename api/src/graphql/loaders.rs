//! DataLoaders: one per request, scoped to the caller, so a page of conversations costs a fixed number of statements.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use entities::{assistant, message, visitor};

use crate::auth::Principal;
use crate::db::Db;
use crate::service::{assistants, messages, visitors};

/// Loads related rows for the caller of one request.
pub struct Loaders {
    pub db: Db,
    pub principal: Principal,
}

/// Key of a visitor.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VisitorKey(pub String);

/// Key of an assistant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AssistantKey(pub String);

/// Key of a conversation's `n` latest messages.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LatestMessagesKey {
    pub conversation_id: String,
    pub n: u64,
}

impl Loader<VisitorKey> for Loaders {
    type Value = visitor::Model;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[VisitorKey],
    ) -> Result<HashMap<VisitorKey, Self::Value>, Self::Error> {
        let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let found = visitors::get_many(&self.db, &self.principal, &ids).await?;
        Ok(found
            .into_iter()
            .map(|(id, v)| (VisitorKey(id), v))
            .collect())
    }
}

impl Loader<AssistantKey> for Loaders {
    type Value = assistant::Model;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[AssistantKey],
    ) -> Result<HashMap<AssistantKey, Self::Value>, Self::Error> {
        let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let found = assistants::get_many(&self.db, &self.principal, &ids).await?;
        Ok(found
            .into_iter()
            .map(|(id, a)| (AssistantKey(id), a))
            .collect())
    }
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
