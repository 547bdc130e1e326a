//! Cross-origin access to `/api/v1` and `/graphql` for the browser pages of the origins an operator lists (`CONCIERGE_CORS_ORIGINS`), off by default and never with credentials.
//!
//! A listed origin's page may call with an API key in `Authorization` and read the answer and its rate-limit
//! headers. Cookies never count cross-origin: no `Access-Control-Allow-Credentials` is ever sent, so a browser
//! sends no session cookie to these routes from another origin (and the session's own CSRF rule still applies).
//! The widget's routes have CORS of their own (any page; each assistant's allowed origins are checked per
//! request).

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use tower::{Layer, ServiceExt};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// How long a browser may keep a preflight's answer.
const MAX_AGE: Duration = Duration::from_secs(600);

/// The CORS layer of `CONCIERGE_CORS_ORIGINS` (comma-separated origins such as `https://partner.example`), or
/// none when unset or empty; refuses an entry that is not an origin.
pub fn layer(origins: Option<&str>) -> anyhow::Result<Option<CorsLayer>> {
    let origins = parse(origins.unwrap_or_default())?;
    if origins.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                HeaderName::from_static("idempotency-key"),
                HeaderName::from_static("x-request-id"),
            ])
            .expose_headers([
                HeaderName::from_static("ratelimit-limit"),
                HeaderName::from_static("ratelimit-remaining"),
                HeaderName::from_static("ratelimit-reset"),
                header::RETRY_AFTER,
                header::LOCATION,
                header::LINK,
                HeaderName::from_static("x-request-id"),
            ])
            .max_age(MAX_AGE),
    ))
}

/// Applies `cors` to `/api/v1` and `/graphql` (the widget's routes and the pages have policies of their own).
pub async fn apply(State(cors): State<CorsLayer>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path == "/graphql" || path == "/api/v1" || path.starts_with("/api/v1/") {
        match cors.layer(next).oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    } else {
        next.run(request).await
    }
}

/// The origins of the setting, as browsers send them (`scheme://host[:port]`, lower case, default port left out).
fn parse(setting: &str) -> anyhow::Result<Vec<HeaderValue>> {
    let mut origins = Vec::new();
    for entry in setting.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let refused = || {
            anyhow::anyhow!(
                "CONCIERGE_CORS_ORIGINS: {entry:?} is not an origin such as https://partner.example (a scheme and a host, an optional port, no path)"
            )
        };
        let url = url::Url::parse(entry).map_err(|_| refused())?;
        let bare = url.path() == "/" && !entry.ends_with('/');
        if !matches!(url.scheme(), "http" | "https")
            || url.host_str().is_none()
            || !bare
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
        {
            return Err(refused());
        }
        let origin = url.origin().ascii_serialization();
        origins.push(HeaderValue::from_str(&origin).map_err(|_| refused())?);
    }
    Ok(origins)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalized_and_anything_else_is_refused() {
        let parsed =
            parse(" https://Partner.Example , http://127.0.0.1:8080,https://a.test:443").unwrap();
        assert_eq!(
            parsed,
            [
                "https://partner.example",
                "http://127.0.0.1:8080",
                "https://a.test"
            ]
        );
        assert!(parse("").unwrap().is_empty());
        for bad in [
            "*",
            "partner.example",
            "https://partner.example/",
            "https://partner.example/app",
            "https://partner.example?x=1",
            "ftp://partner.example",
            "https://user@partner.example",
        ] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains("CONCIERGE_CORS_ORIGINS"), "{bad}: {err}");
        }
    }
}
