//! `GET /integrations/wordpress/plugin.zip`: the WordPress plugin, as WordPress installs it (no credentials).

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::state::AppState;

/// The routes anyone may call: the plugin has no secret in it.
pub fn public_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(wordpress_plugin))
}

/// Downloads the WordPress plugin "AI Assistant by Concierge": upload it under Plugins → Add New Plugin →
/// Upload Plugin, then set the server URL, an API key and the assistant under Settings → AI Assistant.
#[utoipa::path(get, operation_id = "downloadWordpressPlugin", path = "/integrations/wordpress/plugin.zip",
    tag = "integrations", security(()),
    responses((status = 200, description = "The plugin's zip file, `ai-assistant/` inside.", content_type = "application/zip", body = Vec<u8>)))]
async fn wordpress_plugin() -> Result<Response, ApiError> {
    let zip = crate::web::file("ai-assistant-wordpress.zip")
        .ok_or_else(|| ApiError::internal_msg("the web build has no WordPress plugin"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"ai-assistant.zip\"",
            ),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        zip,
    )
        .into_response())
}
