//! REST v1 at `/api/v1`: thin handlers over the same services as GraphQL.

pub mod analytics;
pub mod api_keys;
pub mod assistants;
pub mod attachments;
pub mod audit;
pub mod conversations;
pub mod email_templates;
pub mod events;
pub mod extract;
pub mod integration_callback;
pub mod integrations;
pub mod knowledge_base;
pub mod notifications;
pub mod openapi;
pub mod sessions;
pub mod sign_in;
pub mod sso;
pub mod streamed_answer;
pub mod visitors;
mod webhooks;
pub mod widget;

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::routing::MethodRouter;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;

use crate::service::Page;
use crate::state::AppState;

/// REST v1: the routes behind credentials, and the public ones (`GET /openapi.json`, the document the routes
/// declare, and `GET /docs`, its reference page).
pub struct Api {
    pub authenticated: Router<AppState>,
    pub public: Router<AppState>,
}

/// Every REST v1 route. Each is declared with `routes!` from its handler's `#[utoipa::path]`, so that no route
/// can be served without being in the OpenAPI document.
pub fn api(attachment_max_bytes: usize) -> Api {
    let (authenticated, paths) = OpenApiRouter::new()
        .merge(conversations::router())
        .merge(attachments::router(attachment_max_bytes))
        .merge(knowledge_base::router())
        .merge(analytics::router())
        .merge(api_keys::router())
        .merge(audit::router())
        .merge(webhooks::router())
        .merge(events::router())
        .merge(visitors::router())
        .merge(sessions::router())
        .merge(assistants::router())
        .merge(integrations::router())
        .merge(notifications::router())
        .merge(email_templates::router())
        .split_for_parts();
    let (sign_in, public_paths) = sign_in::router()
        .merge(integrations::public_router())
        .split_for_parts();
    let mut paths = paths;
    paths.merge(public_paths);
    // Written once here, served as they are.
    let document = serde_json::to_value(openapi::document(paths)).map_err(|e| e.to_string());
    let json = document
        .as_ref()
        .map(|d| Bytes::from(d.to_string()))
        .map_err(Clone::clone);
    let page = document.and_then(|d| openapi::reference_page(&d).map(Bytes::from));
    let public = sign_in
        .route("/openapi.json", prepared("application/json", json))
        .route("/docs", prepared("text/html; charset=utf-8", page));
    Api {
        authenticated,
        public,
    }
}

/// A route that serves `body`, made at start-up, as `content_type` (an internal error if it could not be made).
fn prepared(content_type: &'static str, body: Result<Bytes, String>) -> MethodRouter<AppState> {
    axum::routing::get(move || {
        let body = body.clone();
        async move {
            body.map(|bytes| ([(header::CONTENT_TYPE, content_type)], bytes))
                .map_err(|reason| {
                    crate::error::ApiError::internal_msg(format!(
                        "the REST reference did not render: {reason}"
                    ))
                })
        }
    })
}

/// A list response: `{"data": [...], "next_cursor": "…" | null}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListResponse<T> {
    /// The page's items.
    pub data: Vec<T>,
    /// The cursor of the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T> ListResponse<T> {
    /// Maps a service page into its JSON shape; `id` gives the cursor of a row.
    pub fn from_page<M>(page: Page<M>, id: impl Fn(&M) -> &str, shape: impl FnMut(M) -> T) -> Self {
        let next_cursor = page.next_cursor(id);
        Self {
            data: page.items.into_iter().map(shape).collect(),
            next_cursor,
        }
    }
}

/// `limit` and `cursor` of a plain list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// How many items to return: 1 to 100, 20 when omitted.
    pub limit: Option<i64>,
    /// Where the page starts: the `next_cursor` of the previous page.
    pub cursor: Option<String>,
}
