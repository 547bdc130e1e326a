//! Cross-origin calls to `/api/v1` and `/graphql`: refused by default, allowed for listed origins with an API key, never with cookies, tried both on the wire and in Chromium from a page of another origin.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, free_port, node_peer, spawn_app, spawn_app_with};

const PARTNER: &str = "https://partner.example";

/// A preflight from `origin` for a POST with a key and JSON, as a browser sends it.
async fn preflight(app: &TestApp, path: &str, origin: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap()
}

/// A GET with the key from `origin`.
async fn get_from(app: &TestApp, path: &str, origin: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(&app.key)
        .header("origin", origin)
        .send()
        .await
        .unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn without_the_setting_no_origin_is_allowed() {
    let app = spawn_app().await;
    for path in ["/api/v1/conversations", "/graphql"] {
        let pre = preflight(&app, path, PARTNER).await;
        assert_eq!(header(&pre, "access-control-allow-origin"), None, "{path}");
        let got = get_from(&app, path, PARTNER).await;
        assert_eq!(header(&got, "access-control-allow-origin"), None, "{path}");
    }
}

#[tokio::test]
async fn listed_origins_may_call_with_a_key_and_read_the_limits_but_never_with_credentials() {
    let app = spawn_app_with(|s| {
        s.cors_origins = Some(format!("{PARTNER}, http://127.0.0.1:9"));
    })
    .await;
    let before = app.count_rows("conversations").await;
    for path in [
        "/api/v1/conversations",
        "/graphql",
        "/api/v1/knowledge-base/search",
        "/api/v1/openapi.json",
    ] {
        // The preflight is answered without a key, before authentication.
        let pre = preflight(&app, path, PARTNER).await;
        assert!(pre.status().is_success(), "{path}: {}", pre.status());
        assert_eq!(header(&pre, "access-control-allow-origin"), Some(PARTNER));
        let methods = header(&pre, "access-control-allow-methods").unwrap_or_default();
        assert!(methods.contains("POST"), "{path}: {methods}");
        let headers = header(&pre, "access-control-allow-headers")
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(headers.contains("authorization") && headers.contains("content-type"));
        assert_eq!(header(&pre, "access-control-allow-credentials"), None);
        assert_eq!(header(&pre, "access-control-max-age"), Some("600"));
        // Another origin gets nothing to go on.
        let other = preflight(&app, path, "https://evil.example").await;
        assert_eq!(
            header(&other, "access-control-allow-origin"),
            None,
            "{path}"
        );
    }
    let got = get_from(&app, "/api/v1/conversations", PARTNER).await;
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(header(&got, "access-control-allow-origin"), Some(PARTNER));
    let exposed = header(&got, "access-control-expose-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(exposed.contains("ratelimit-remaining") && exposed.contains("retry-after"));
    assert_eq!(header(&got, "access-control-allow-credentials"), None);
    let refused = get_from(&app, "/api/v1/conversations", "https://evil.example").await;
    assert_eq!(header(&refused, "access-control-allow-origin"), None);
    // A preflight changes nothing.
    assert_eq!(app.count_rows("conversations").await, before);
}

#[tokio::test]
async fn a_setting_that_is_no_origin_stops_the_start_with_its_name() {
    let (mut settings, _cleanup) = crate::helpers::fresh_settings().await;
    settings.cors_origins = Some("https://partner.example/app".to_owned());
    let db = api::db::Db::connect(&settings).await.unwrap();
    db.migrate().await.unwrap();
    let err = api::startup::Application::build_with_db(settings, db)
        .await
        .err()
        .expect("the start is refused")
        .to_string();
    assert!(
        err.contains("CONCIERGE_CORS_ORIGINS") && err.contains("partner.example/app"),
        "{err}"
    );
}

/// Calls from a Chromium page served at `http://127.0.0.1:<page_port>`.
async fn from_browser(page_port: u16, calls: Vec<Value>) -> Value {
    let output = node_peer(
        "cors-browser.mjs",
        &json!({"chromium": "/usr/bin/chromium", "pagePort": page_port, "calls": calls}),
    )
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

#[tokio::test]
async fn a_partner_page_in_chromium_calls_both_apis_and_an_unlisted_page_cannot() {
    let (listed, unlisted) = (free_port(), free_port());
    let app = spawn_app_with(|s| s.cors_origins = Some(format!("http://127.0.0.1:{listed}"))).await;
    let bearer = format!("Bearer {}", app.key);
    let calls = || {
        vec![
            json!({"url": app.url("/graphql"), "method": "POST",
                   "headers": {"authorization": bearer, "content-type": "application/json"},
                   "body": json!({"query": "{ organization { name } }"}).to_string()}),
            json!({"url": app.url("/api/v1/conversations"), "method": "POST",
                   "headers": {"authorization": bearer, "content-type": "application/json"},
                   "body": json!({"visitor": {"name": "From a partner"}}).to_string()}),
            // With credentials asked for, the browser refuses: no origin is ever allowed them.
            json!({"url": app.url("/api/v1/conversations"), "method": "GET",
                   "headers": {"authorization": bearer}, "credentials": "include"}),
        ]
    };
    let before = app.count_rows("conversations").await;
    let partner = from_browser(listed, calls()).await;
    let results = partner["results"].as_array().unwrap();
    assert!(results[0]["ok"].as_bool().unwrap(), "{partner}");
    let graphql: Value = serde_json::from_str(results[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(graphql["data"]["organization"]["name"], "Acme");
    assert_eq!(results[1]["status"], 201, "{partner}");
    assert!(
        results[1]["remaining"].as_str().is_some(),
        "the page reads the limits: {partner}"
    );
    assert!(results[2]["error"].as_str().is_some(), "{partner}");
    assert_eq!(app.count_rows("conversations").await, before + 1);

    let stranger = from_browser(unlisted, calls()).await;
    for result in stranger["results"].as_array().unwrap() {
        assert!(
            result["error"]
                .as_str()
                .is_some_and(|e| e.contains("Failed to fetch")),
            "{stranger}"
        );
    }
    // The preflight stopped the unlisted page's write before it reached the server.
    assert_eq!(app.count_rows("conversations").await, before + 1);
    println!(
        "from {}: GraphQL and REST answered, credentials refused; from {}: every call refused by the browser",
        partner["origin"], stranger["origin"]
    );
}
