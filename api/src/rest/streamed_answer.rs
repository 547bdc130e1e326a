//! Posting a message with `Accept: text/event-stream`: the assistant's answer as server-sent events.

use std::future::Future;

use axum::http::HeaderMap;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::json;
use tokio::sync::mpsc;

use crate::error::{ApiError, ApiResult};
use crate::service::conversations::messages::PostedMessage;

/// Whether the caller asked for server-sent events.
fn wants_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .any(|t| t.trim().starts_with("text/event-stream"))
        })
}

/// Answers a posted message as the caller asked: `201` with the JSON of `shape`, or with
/// `Accept: text/event-stream` the answer streamed by [`stream_answer`]. `post` gets a channel for the answer's
/// pieces only when they are streamed.
pub async fn respond<T, S, F, Fut>(headers: &HeaderMap, shape: S, post: F) -> ApiResult<Response>
where
    T: Serialize + 'static,
    S: Fn(PostedMessage) -> T + Send + Sync + 'static,
    F: FnOnce(Option<mpsc::Sender<String>>) -> Fut,
    Fut: Future<Output = ApiResult<PostedMessage>> + Send + 'static,
{
    if !wants_event_stream(headers) {
        let posted = post(None).await?;
        return Ok((axum::http::StatusCode::CREATED, axum::Json(shape(posted))).into_response());
    }
    stream_answer(shape, |deltas| post(Some(deltas))).await
}

/// Runs `post` with a channel for the answer's pieces and streams them: `delta` events (`{"text": …}`) while
/// the answer is written (an AI provider's answer piece by piece, a knowledge-base answer in one piece), then
/// `message` (the posted message with its replies, shaped by `shape` as the JSON response would be), or `error`
/// (the JSON error body) if it failed after the first piece. A refusal before any piece keeps its status.
async fn stream_answer<T, S, F, Fut>(shape: S, post: F) -> ApiResult<Response>
where
    T: Serialize + 'static,
    S: Fn(PostedMessage) -> T + Send + Sync + 'static,
    F: FnOnce(mpsc::Sender<String>) -> Fut,
    Fut: Future<Output = ApiResult<PostedMessage>> + Send + 'static,
{
    let (deltas, mut pieces) = mpsc::channel::<String>(64);
    let (done_tx, done) = tokio::sync::oneshot::channel();
    let task = post(deltas);
    tokio::spawn(async move {
        // The task owns the sender: when it ends, the channel closes.
        let _ = done_tx.send(task.await);
    });
    let shape = std::sync::Arc::new(shape);
    let message =
        move |posted: PostedMessage| Event::default().event("message").json_data(shape(posted));
    let Some(first) = pieces.recv().await else {
        let posted = done
            .await
            .map_err(|_| ApiError::internal_msg("the message task ended early"))??;
        return Ok(Sse::new(futures_util::stream::iter([message(posted)])).into_response());
    };
    let delta = |text: String| {
        Event::default()
            .event("delta")
            .json_data(json!({"text": text}))
    };
    let head = futures_util::stream::iter([delta(first)]);
    let tail = futures_util::stream::unfold(Some((pieces, done)), move |state| {
        let message = message.clone();
        async move {
            let (mut pieces, done) = state?;
            if let Some(text) = pieces.recv().await {
                return Some((delta(text), Some((pieces, done))));
            }
            let last = match done.await {
                Ok(Ok(posted)) => message(posted),
                Ok(Err(err)) => Event::default().event("error").json_data(err.body()),
                Err(_) => Event::default()
                    .event("error")
                    .json_data(ApiError::internal_msg("the answer was interrupted").body()),
            };
            Some((last, None))
        }
    });
    Ok(Sse::new(head.chain(tail)).into_response())
}
