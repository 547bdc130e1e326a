//! `GET /assistants/{id}/embed`: the embed code of an assistant for a website or a site builder.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::rest::extract::{ApiPath, ApiQuery, Caller};
use crate::service::embed::{self, Platform};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(embed_snippet))
}

/// Where the widget goes.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EmbedPlatform {
    /// Any website: the script tag before `</body>`.
    #[default]
    Html,
    /// WordPress: the plugin and its shortcode.
    Wordpress,
    /// Shopify: the theme app embed, or the tag in `theme.liquid` with the page's product.
    Shopify,
    /// Wix: Custom Code in the site's settings (standard plan and above).
    Wix,
    /// Squarespace: Code Injection, or a Code block on one page (standard plan and above).
    Squarespace,
}

impl From<EmbedPlatform> for Platform {
    fn from(platform: EmbedPlatform) -> Self {
        match platform {
            EmbedPlatform::Html => Platform::Html,
            EmbedPlatform::Wordpress => Platform::Wordpress,
            EmbedPlatform::Shopify => Platform::Shopify,
            EmbedPlatform::Wix => Platform::Wix,
            EmbedPlatform::Squarespace => Platform::Squarespace,
        }
    }
}

/// Which platform's embed code to answer.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EmbedParams {
    /// `html` (the default), `wordpress`, `shopify`, `wix` or `squarespace`.
    #[serde(default)]
    #[param(inline)]
    platform: EmbedPlatform,
}

/// The embed code of an assistant and how to install it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmbedSnippetJson {
    /// The platform the code is for: `html`, `wordpress`, `shopify`, `wix` or `squarespace`.
    pub platform: String,
    /// What to paste: the script tag with this server's address and the assistant's settings as attributes
    /// (for WordPress, the shortcode).
    pub snippet: String,
    /// The steps that put it on the site, in order.
    pub instructions: Vec<String>,
}

impl From<embed::Snippet> for EmbedSnippetJson {
    fn from(s: embed::Snippet) -> Self {
        Self {
            platform: s.platform.as_str().to_owned(),
            snippet: s.snippet,
            instructions: s.instructions,
        }
    }
}

/// The code that puts the assistant on a website, for a platform, with this server's address and the
/// assistant's widget settings filled in. Wix and Squarespace need the standard plan or above.
#[utoipa::path(get, operation_id = "getEmbedSnippet", path = "/assistants/{id}/embed", tag = "assistants",
    params(("id" = String, Path, description = "The assistant's id (`asst_…`)."), EmbedParams),
    responses((status = 200, description = "The embed code and its instructions.", body = EmbedSnippetJson)))]
async fn embed_snippet(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<EmbedParams>,
) -> Result<Json<EmbedSnippetJson>, ApiError> {
    let snippet = embed::snippet(
        &state.db,
        &principal,
        &id,
        params.platform.into(),
        &state.public_url,
    )
    .await?;
    Ok(Json(snippet.into()))
}
