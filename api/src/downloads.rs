//! `GET /attachments/{id}?expires=…&signature=…`: the bytes behind an attachment's signed URL. Not REST v1: the
//! URL's signature is the authority (so that an `<img>` in the console or the widget can show it), and it expires.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::error::ApiError;
use crate::service::attachments;
use crate::state::AppState;

/// The signed download route.
pub fn router() -> Router<AppState> {
    Router::new().route("/attachments/{id}", axum::routing::get(download))
}

#[derive(Debug, Deserialize)]
struct Signed {
    expires: Option<i64>,
    signature: Option<String>,
}

/// The image behind a signed URL: 403 when the signature does not hold or has expired, 404 when it is gone.
/// Served as the type its bytes showed, never sniffed again by the browser, inline, private to the viewer.
async fn download(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    Query(signed): Query<Signed>,
) -> Response {
    let (Some(expires), Some(signature)) = (signed.expires, signed.signature) else {
        return ApiError::Forbidden("the URL is not signed".to_owned()).into_response();
    };
    if !state.attachments.url_holds(&id, expires, &signature) {
        return ApiError::Forbidden(
            "the URL's signature does not hold or has expired: read the message again for a new one"
                .to_owned(),
        )
        .into_response();
    }
    let model = match attachments::find(&state.db, &id).await {
        Ok(model) => model,
        Err(err) => return err.into_response(),
    };
    match state.attachments.bytes(&model).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, model.content_type.clone()),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!(
                        "inline; filename=\"{}.{}\"",
                        model.id,
                        model.content_type.trim_start_matches("image/")
                    ),
                ),
                (header::CACHE_CONTROL, "private, max-age=300".to_owned()),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; sandbox".to_owned(),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(err) => err.into_response(),
    }
}
