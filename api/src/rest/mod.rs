//! REST v1 at `/api/v1`: thin handlers over the same services as GraphQL.

pub mod analytics;
pub mod api_keys;
pub mod audit;
pub mod conversations;
pub mod events;
pub mod extract;
pub mod knowledge_base;
pub mod sessions;
pub mod sign_in;
pub mod sso;
pub mod streamed_answer;
pub mod visitors;
mod webhooks;
pub mod widget;

use axum::Router;
use serde::{Deserialize, Serialize};

use crate::service::Page;
use crate::state::AppState;

/// Every REST v1 route.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(conversations::router())
        .merge(knowledge_base::router())
        .merge(analytics::router())
        .merge(api_keys::router())
        .merge(audit::router())
        .merge(webhooks::router())
        .merge(events::router())
        .merge(visitors::router())
        .merge(sessions::router())
}

/// A list response: `{"data": [...], "next_cursor": "…" | null}`.
#[derive(Debug, Serialize)]
pub struct ListResponse<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> ListResponse<T> {
    /// Maps a service page into its JSON shape; `id` gives the cursor of a row.
    pub fn from_page<M>(page: Page<M>, id: impl Fn(&M) -> &str, shape: impl Fn(M) -> T) -> Self {
        let next_cursor = page.next_cursor(id);
        Self {
            data: page.items.into_iter().map(shape).collect(),
            next_cursor,
        }
    }
}

/// `limit` and `cursor` of a plain list.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}
