//! `POST /conversations/{id}/attachments`: an image for a message to carry, and how REST v1 shows attachments.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use entities::message_attachment;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::rest::extract::{ApiPath, Caller};
use crate::service::attachments::{self, Attachments, Shown};
use crate::state::AppState;

/// The upload route, with a body limit of the largest attachment (the server's default limit is smaller).
pub fn router(max_bytes: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload))
        .layer(DefaultBodyLimit::max(max_bytes.saturating_add(1)))
}

/// An image a message carries, as REST v1 shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AttachmentJson {
    /// The attachment's id (`file_…`).
    pub id: String,
    /// `image/png`, `image/jpeg` or `image/webp`, read from its bytes.
    pub content_type: String,
    /// Its size in bytes.
    pub byte_size: i64,
    /// Where to fetch it: a signed URL that works until `url_expires_at` (a few minutes; each read gives a new
    /// one).
    pub url: String,
    /// When `url` stops working.
    pub url_expires_at: DateTime<Utc>,
    /// When it was uploaded.
    pub created_at: DateTime<Utc>,
}

impl From<Shown> for AttachmentJson {
    fn from(shown: Shown) -> Self {
        Self {
            id: shown.model.id,
            content_type: shown.model.content_type,
            byte_size: shown.model.byte_size,
            url: shown.url,
            url_expires_at: shown.url_expires_at,
            created_at: shown.model.created_at,
        }
    }
}

/// The attachments as shown, each with a fresh signed URL.
pub fn shown(files: &Attachments, models: Vec<message_attachment::Model>) -> Vec<AttachmentJson> {
    models
        .into_iter()
        .map(|m| AttachmentJson::from(files.shown(m)))
        .collect()
}

/// The attachments a `message.created` event names (its data lists them), with fresh signed URLs: what a live
/// stream shows without reading the database.
pub fn of_event(files: &Attachments, event: &entities::event::Model) -> Vec<AttachmentJson> {
    event
        .data
        .get("attachments")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| {
            let id = a.get("id")?.as_str()?.to_owned();
            let (url, url_expires_at) = files.signed_url(&id, files.url_secs());
            Some(AttachmentJson {
                content_type: a.get("content_type")?.as_str()?.to_owned(),
                byte_size: a.get("byte_size")?.as_i64()?,
                url,
                url_expires_at,
                created_at: event.created_at,
                id,
            })
        })
        .collect()
}

/// The attachments of each message, with fresh signed URLs, read in one statement.
pub async fn of_messages(
    state: &AppState,
    message_ids: &[String],
) -> Result<HashMap<String, Vec<AttachmentJson>>, ApiError> {
    let found = attachments::of_messages(state.db.conn(), message_ids).await?;
    Ok(found
        .into_iter()
        .map(|(id, models)| (id, shown(&state.attachments, models)))
        .collect())
}

/// Uploads an image (PNG, JPEG or WebP, judged by its bytes: the declared type and any name are not trusted)
/// for a message of the conversation to carry: send its bytes as the body, then name the returned id in the
/// message's `attachment_ids`. Larger than the server's limit (5 MiB unless configured) answers 413; not such
/// an image, 415. An upload no message claims within a day is deleted.
#[utoipa::path(post, operation_id = "uploadAttachment", path = "/conversations/{id}/attachments", tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id.")),
    request_body(content = Vec<u8>, content_type = "image/png", description = "The image's bytes."),
    responses(
        (status = 201, description = "The upload, for a message to name.", body = AttachmentJson),
        (status = 413, description = "Over the size limit.", body = crate::rest::openapi::ErrorBody),
        (status = 415, description = "Not a PNG, JPEG or WebP image.", body = crate::rest::openapi::ErrorBody),
    ))]
async fn upload(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<AttachmentJson>), ApiError> {
    let model = state
        .attachments
        .upload_as(&state.db, &principal, &id, body)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(state.attachments.shown(model).into()),
    ))
}
