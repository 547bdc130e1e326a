//! The pages behind the links of visitor emails: unsubscribing (one click from the mail client, RFC 8058, or a
//! button on the page) and the satisfaction survey's ratings. Not REST v1: the link's signature is the
//! authority, as nobody signs in to follow a link in an email.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use entities::{conversation, organization, visitor};
use minijinja::{AutoEscape, Environment, context};
use sea_orm::EntityTrait;

use crate::error::{ApiError, ApiResult};
use crate::service::conversations::feedback::{self, RateConversation};
use crate::service::conversations::visitors;
use crate::service::email_templates::{self, RATING_LABELS};
use crate::state::AppState;

/// The email links' routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/email/unsubscribe/{visitor}/{signature}",
            axum::routing::get(unsubscribe_page).post(unsubscribe),
        )
        .route(
            "/email/rate/{conversation}/{signature}",
            axum::routing::get(rate_from_link).post(rate_from_form),
        )
}

/// No script at all; the pages' own inline styles; forms post back here only.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{{ title }}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2933;background:#f5f7fa;margin:0;line-height:1.5}
main{max-width:480px;margin:48px auto;padding:24px;background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.4rem;margin:0 0 12px}
button{font:inherit;background:#2457c5;color:#fff;border:none;border-radius:6px;padding:10px 18px;cursor:pointer}
button:focus-visible,input:focus-visible,textarea:focus-visible{outline:3px solid #f0b429;outline-offset:2px}
fieldset{border:none;padding:0;margin:16px 0}
legend{font-weight:600;margin-bottom:8px}
.ratings{display:flex;flex-wrap:wrap;gap:8px}
.ratings label{display:flex;flex-direction:column;align-items:center;min-width:64px;padding:8px;border:1px solid #9aa5b1;border-radius:6px}
label.comment{display:block;font-weight:600;margin:16px 0 4px}
textarea{width:100%;box-sizing:border-box;font:inherit;min-height:90px;border:1px solid #7b8794;border-radius:6px;padding:8px}
.muted{color:#52606d}
</style></head>
<body><main>
<h1>{{ title }}</h1>
{% for p in paragraphs %}<p>{{ p }}</p>{% endfor %}
{% if unsubscribe %}<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>{% endif %}
{% if rating %}<form method="post">
<fieldset><legend>Your rating</legend><div class="ratings">
{% for r in ratings %}<label><input type="radio" name="rating" value="{{ r.value }}"{% if r.value == rating %} checked{% endif %}> <strong>{{ r.value }}</strong> <span>{{ r.label }}</span></label>{% endfor %}
</div></fieldset>
<label class="comment" for="comment">Anything to add? (optional)</label>
<textarea id="comment" name="comment" maxlength="2000">{{ comment or "" }}</textarea>
<p><button type="submit">Send</button></p>
</form>{% endif %}
</main></body></html>"#;

struct Page<'a> {
    status: StatusCode,
    title: &'a str,
    paragraphs: Vec<String>,
    unsubscribe: bool,
    rating: Option<i64>,
    comment: Option<String>,
}

impl Page<'_> {
    fn plain(status: StatusCode, title: &str, paragraph: String) -> Page<'_> {
        Page {
            status,
            title,
            paragraphs: vec![paragraph],
            unsubscribe: false,
            rating: None,
            comment: None,
        }
    }
}

impl IntoResponse for Page<'_> {
    fn into_response(self) -> Response {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        let ratings: Vec<_> = (1..=5)
            .map(|r| context! { value => r, label => RATING_LABELS[r as usize - 1] })
            .collect();
        let body = env.render_str(
            PAGE,
            context! {
                title => self.title,
                paragraphs => self.paragraphs,
                unsubscribe => self.unsubscribe,
                rating => self.rating,
                comment => self.comment,
                ratings => ratings,
            },
        );
        let Ok(body) = body else {
            return ApiError::internal_msg("the email page could not be rendered").into_response();
        };
        let mut response = (self.status, body).into_response();
        let h = response.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

fn invalid_link() -> Response {
    Page::plain(
        StatusCode::FORBIDDEN,
        "This link does not work",
        "It may have been copied incompletely. Use the link in the email as it is.".to_owned(),
    )
    .into_response()
}

fn failed(error: &ApiError) -> Response {
    let (status, said) = match error {
        ApiError::NotFound(_) => (
            StatusCode::NOT_FOUND,
            "What this link was about no longer exists.".to_owned(),
        ),
        ApiError::Validation { message, .. } => (StatusCode::UNPROCESSABLE_ENTITY, message.clone()),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on our side: please try again in a moment.".to_owned(),
        ),
    };
    Page::plain(status, "That did not work", said).into_response()
}

async fn organization_name(state: &AppState, id: &str) -> ApiResult<String> {
    Ok(organization::Entity::find_by_id(id.to_owned())
        .one(state.db.conn())
        .await?
        .map_or_else(String::new, |o| o.name))
}

/// The page of an unsubscribe link: who it unsubscribes from, and the button (following a link changes
/// nothing, so that a mail scanner that opens it does not unsubscribe anyone).
async fn unsubscribe_page(
    State(state): State<AppState>,
    Path((visitor_id, signature)): Path<(String, String)>,
) -> Response {
    if !email_templates::unsubscribe_holds(&state.sealer, &visitor_id, &signature) {
        return invalid_link();
    }
    let found = visitor::Entity::find_by_id(visitor_id.clone())
        .one(state.db.conn())
        .await
        .map_err(ApiError::from);
    let visitor = match found {
        Ok(Some(visitor)) => visitor,
        Ok(None) => return failed(&ApiError::not_found("visitor", &visitor_id)),
        Err(e) => return failed(&e),
    };
    let organization = match organization_name(&state, &visitor.organization_id).await {
        Ok(name) => name,
        Err(e) => return failed(&e),
    };
    if visitor.unsubscribed_at.is_some() {
        return Page::plain(
            StatusCode::OK,
            "You are unsubscribed",
            format!("{organization} sends you no more emails."),
        )
        .into_response();
    }
    Page {
        status: StatusCode::OK,
        title: "Unsubscribe",
        paragraphs: vec![format!(
            "Stop the emails {organization} sends you about your conversations (transcripts, follow-ups, surveys) and its newsletter?"
        )],
        unsubscribe: true,
        rating: None,
        comment: None,
    }
    .into_response()
}

/// Unsubscribes: the one-click POST of RFC 8058 from the mail client, or the page's button.
async fn unsubscribe(
    State(state): State<AppState>,
    Path((visitor_id, signature)): Path<(String, String)>,
) -> Response {
    if !email_templates::unsubscribe_holds(&state.sealer, &visitor_id, &signature) {
        return invalid_link();
    }
    match visitors::unsubscribe(&state.db, &visitor_id).await {
        Ok(visitor) => {
            let organization = organization_name(&state, &visitor.organization_id)
                .await
                .unwrap_or_default();
            Page::plain(
                StatusCode::OK,
                "You are unsubscribed",
                format!("{organization} sends you no more emails."),
            )
            .into_response()
        }
        Err(e) => failed(&e),
    }
}

/// Records the rating of a survey link (a later one replaces it), and offers to change it or add a comment.
async fn rate_from_link(
    State(state): State<AppState>,
    Path((conversation_id, signature)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let rating = query.get("rating").and_then(|r| r.parse::<i64>().ok());
    rate(&state, &conversation_id, &signature, rating, None).await
}

/// The page's form: the rating (changed or not) and a comment.
async fn rate_from_form(
    State(state): State<AppState>,
    Path((conversation_id, signature)): Path<(String, String)>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let rating = form.get("rating").and_then(|r| r.parse::<i64>().ok());
    let comment = form
        .get("comment")
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    rate(&state, &conversation_id, &signature, rating, comment).await
}

async fn rate(
    state: &AppState,
    conversation_id: &str,
    signature: &str,
    rating: Option<i64>,
    comment: Option<String>,
) -> Response {
    if !email_templates::rating_holds(&state.sealer, conversation_id, signature) {
        return invalid_link();
    }
    let Some(rating) = rating.filter(|r| (1..=5).contains(r)) else {
        return failed(&ApiError::validation(
            "rating",
            "choose a rating from 1 to 5",
        ));
    };
    let found = conversation::Entity::find_by_id(conversation_id.to_owned())
        .one(state.db.conn())
        .await
        .map_err(ApiError::from);
    let conversation = match found {
        Ok(Some(c)) => c,
        Ok(None) => return failed(&ApiError::not_found("conversation", conversation_id)),
        Err(e) => return failed(&e),
    };
    let had_comment = comment.is_some();
    let saved = feedback::rate_conversation_in(
        &state.db,
        &conversation.organization_id,
        None,
        conversation_id,
        RateConversation {
            rating,
            comment: comment.clone(),
        },
    )
    .await;
    if let Err(e) = saved {
        return failed(&e);
    }
    let organization = organization_name(state, &conversation.organization_id)
        .await
        .unwrap_or_default();
    Page {
        status: StatusCode::OK,
        title: "Thank you for your rating",
        paragraphs: vec![if had_comment {
            format!("{organization} has your rating and your comment.")
        } else {
            format!(
                "{organization} has your rating: {rating} of 5. You can change it or add a comment below."
            )
        }],
        unsubscribe: false,
        rating: Some(rating),
        comment,
    }
    .into_response()
}
