//! The front ends built from web/ and embedded in the binary: the widget (`/embed.js`, `/widget/assets/`) and
//! the team console (`/console`, where `/` leads).

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

mod files {
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

/// How long browsers keep the loader before asking again (with its ETag): its URL never changes, so an update
/// reaches a site within this time.
const LOADER_CACHE: &str = "public, max-age=300";
/// The bundle's URL names its content, so it never changes.
const BUNDLE_CACHE: &str = "public, max-age=31536000, immutable";

/// One servable file, with the compressed variants `make web` made of it.
struct Asset {
    content_type: &'static str,
    identity: Bytes,
    gzip: Option<Bytes>,
    brotli: Option<Bytes>,
    /// A strong validator: the SHA-256 of the content.
    etag: HeaderValue,
}

/// The files of web/dist by name; `.gz` and `.br` files are the encodings of the file they extend.
static ASSETS: LazyLock<HashMap<&'static str, Asset>> = LazyLock::new(|| {
    let encoded = |name: &str, suffix: &str| {
        files::FILES
            .iter()
            .find(|(n, _)| n.strip_suffix(suffix) == Some(name))
            .map(|(_, bytes)| Bytes::from_static(bytes))
    };
    files::FILES
        .iter()
        .filter(|(name, _)| !name.ends_with(".gz") && !name.ends_with(".br"))
        .map(|(name, bytes)| {
            let digest = hex::encode(&Sha256::digest(bytes)[..16]);
            let asset = Asset {
                content_type: content_type(name),
                identity: Bytes::from_static(bytes),
                gzip: encoded(name, ".gz"),
                brotli: encoded(name, ".br"),
                etag: HeaderValue::from_str(&format!("\"{digest}\""))
                    .unwrap_or(HeaderValue::from_static("\"0\"")),
            };
            (*name, asset)
        })
        .collect()
});

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("html") => "text/html; charset=utf-8",
        Some("zip") => "application/zip",
        Some("woff2") => "font/woff2",
        Some("ttf") => "font/ttf",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

/// The name of the widget's bundle, as the loader asks for it (`widget-<hash>.js`).
pub fn bundle_name() -> Option<&'static str> {
    ASSETS
        .keys()
        .copied()
        .find(|name| name.starts_with("widget-") && name.ends_with(".js"))
}

/// `/embed.js`, `/widget/assets/{file}`, the console's pages and files, and `/` (to the console); without
/// credentials: the console signs in through the API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/embed.js",
            get(|headers: HeaderMap| async move {
                cross_origin(serve("embed.js", LOADER_CACHE, &headers))
            }),
        )
        .route(
            "/widget/assets/{file}",
            get(|Path(file): Path<String>, headers: HeaderMap| async move {
                // Only the bundle is served from here: not the loader, not the manifest.
                if bundle_name() != Some(file.as_str()) {
                    return ApiError::NotFound(format!("no widget asset {file:?}")).into_response();
                }
                cross_origin(serve(&file, BUNDLE_CACHE, &headers))
            }),
        )
        .route("/", get(|| async { Redirect::temporary(CONSOLE) }))
        .route("/console", get(console_page))
        .route("/console/", get(console_page))
        .route("/console/assets/{file}", get(console_asset))
        .route("/console/{*page}", get(console_page))
}

/// Where the console lives, and where `/` sends a browser.
pub const CONSOLE: &str = "/console/";

/// The console's policy: its own scripts and styles only, framed by no other site (its own pages frame the
/// widget's preview), the API on this origin (WebSocket included); images may come from elsewhere (an
/// assistant's avatar URL).
const CONSOLE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; \
     connect-src 'self'; font-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'self'";

/// Any page of the single-page console is its `index.html` (the app routes in the browser), never cached so
/// that a new build is picked up at once; it names its hashed files.
async fn console_page(headers: HeaderMap) -> Response {
    let mut response = serve("console/index.html", "no-cache", &headers);
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONSOLE_CSP),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// The GraphQL explorer's policy: as the console's, but Monaco (GraphiQL's editor) writes style elements and
/// attributes at run time, and GraphiQL's stylesheet carries its fonts as `data:` URLs.
const GRAPHIQL_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// GraphiQL, built with the console (`web/console/graphiql.html`) and served from here: nothing from a CDN.
pub fn graphiql_page(headers: &HeaderMap) -> Response {
    let mut response = serve("console/graphiql.html", "no-cache", headers);
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(GRAPHIQL_CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// A file of the console's build: its name names its content, so it is cached for good.
async fn console_asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let name = format!("console/assets/{file}");
    if file.contains('/') || !ASSETS.contains_key(name.as_str()) {
        return ApiError::NotFound(format!("no console asset {file:?}")).into_response();
    }
    serve(&name, BUNDLE_CACHE, &headers)
}

/// The widget's files load on any site, including one that isolates itself with Cross-Origin-Embedder-Policy.
fn cross_origin(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("cross-origin"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// Answers a file: 304 when the browser's copy is current, else the best encoding the browser accepts.
fn serve(name: &str, cache: &'static str, headers: &HeaderMap) -> Response {
    let Some(asset) = ASSETS.get(name) else {
        return ApiError::internal_msg(format!("the web build has no {name}")).into_response();
    };
    let mut response = if matches(headers, &asset.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let (encoding, body) = match accepted(headers) {
            Accepted::Brotli if asset.brotli.is_some() => (Some("br"), asset.brotli.clone()),
            Accepted::Brotli | Accepted::Gzip if asset.gzip.is_some() => {
                (Some("gzip"), asset.gzip.clone())
            }
            _ => (None, None),
        };
        let mut response = body
            .unwrap_or_else(|| asset.identity.clone())
            .into_response();
        let h = response.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        if let Some(encoding) = encoding {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        response
    };
    let h = response.headers_mut();
    h.insert(header::ETAG, asset.etag.clone());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Whether `If-None-Match` names the current ETag (or `*`).
fn matches(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Ok(current) = etag.to_str() else {
        return false;
    };
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == current || tag == "*")
}

enum Accepted {
    Brotli,
    Gzip,
    Identity,
}

/// The best encoding `Accept-Encoding` allows (a `q=0` refuses one).
fn accepted(headers: &HeaderMap) -> Accepted {
    let mut brotli = false;
    let mut gzip = false;
    for part in headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let mut fields = part.split(';');
        let coding = fields.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = fields.any(|f| {
            f.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        if refused {
            continue;
        }
        match coding.as_str() {
            "br" => brotli = true,
            "gzip" => gzip = true,
            _ => {}
        }
    }
    if brotli {
        Accepted::Brotli
    } else if gzip {
        Accepted::Gzip
    } else {
        Accepted::Identity
    }
}

/// The bytes of a built file, for tests and benchmarks of the build itself.
pub fn file(name: &str) -> Option<Bytes> {
    ASSETS.get(name).map(|asset| asset.identity.clone())
}
