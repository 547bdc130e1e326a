//! `/embed.js` and the widget's bundle as the server serves them, and the embed code a customer copies.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

async fn fetch(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app.client.get(app.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// The bundle the loader names (`widget-<hash>.js`), read from the loader itself.
fn bundle_in(loader: &str) -> String {
    let at = loader.find("widget-").expect("the loader names its bundle");
    let name: String = loader[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .collect();
    assert!(name.ends_with(".js"), "{name}");
    name
}

#[tokio::test]
async fn the_loader_is_served_small_cacheable_and_revalidated_and_the_bundle_is_immutable() {
    let app = spawn_app().await;
    let loader = fetch(&app, "/embed.js", &[]).await;
    assert_eq!(loader.status(), StatusCode::OK);
    let headers = loader.headers().clone();
    assert_eq!(headers["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(headers["cache-control"], "public, max-age=300");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cross-origin-resource-policy"], "cross-origin");
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert!(
        etag.starts_with('"') && !etag.starts_with("W/"),
        "a strong validator: {etag}"
    );
    let source = loader.text().await.unwrap();
    assert!(source.contains("data-assistant-id") || source.contains("assistantId"));

    // A browser that has it asks again with the ETag and gets 304 without a body.
    let again = fetch(&app, "/embed.js", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()["etag"], etag.as_str());
    assert!(again.bytes().await.unwrap().is_empty());
    let stale = fetch(
        &app,
        "/embed.js",
        &[("if-none-match", "\"something-else\"")],
    )
    .await;
    assert_eq!(stale.status(), StatusCode::OK);

    // Compressed as the browser accepts: what every page downloads is at most 10 KB.
    let gzip = fetch(&app, "/embed.js", &[("accept-encoding", "gzip")]).await;
    assert_eq!(gzip.headers()["content-encoding"], "gzip");
    assert_eq!(gzip.headers()["vary"], "accept-encoding");
    let compressed = gzip.bytes().await.unwrap().len();
    assert!(
        compressed <= 10 * 1024,
        "the loader is {compressed} bytes gzipped"
    );
    let brotli = fetch(&app, "/embed.js", &[("accept-encoding", "gzip, br")]).await;
    assert_eq!(brotli.headers()["content-encoding"], "br");
    let refused = fetch(&app, "/embed.js", &[("accept-encoding", "br;q=0, gzip")]).await;
    assert_eq!(refused.headers()["content-encoding"], "gzip");

    // The bulk is under a name of its content, cached for a year.
    let name = bundle_in(&source);
    let bundle = fetch(&app, &format!("/widget/assets/{name}"), &[]).await;
    assert_eq!(bundle.status(), StatusCode::OK);
    assert_eq!(
        bundle.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(
        bundle.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    for missing in [
        "/widget/assets/widget-000000000000.js",
        "/widget/assets/manifest.json",
        "/widget/assets/embed.js",
    ] {
        let reply = fetch(&app, missing, &[]).await;
        assert_eq!(reply.status(), StatusCode::NOT_FOUND, "{missing}");
    }
}

async fn snippet(app: &TestApp, key: &str, query: &str) -> (StatusCode, Value) {
    let reply = app
        .client
        .get(app.url(&format!(
            "/api/v1/assistants/{}/embed{query}",
            app.org.assistant.id
        )))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = reply.status();
    (status, reply.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_embed_code_carries_this_server_the_assistant_and_its_settings_for_each_platform() {
    let app = spawn_app().await;
    // The assistant's stored settings become the tag's attributes.
    app.graphql(
        "mutation($id: ID!) { updateAssistant(id: $id, input: {widget: {position: TOP_LEFT, primaryColor: \"#aa3300\", hideOnPaths: [\"/checkout/*\"]}}) { assistant { id } userErrors { message } } }",
        json!({"id": app.org.assistant.id}),
    )
    .await
    .payload("updateAssistant");
    let (status, html) = snippet(&app, &app.key, "").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(html["platform"], "html");
    let tag = html["snippet"].as_str().unwrap();
    assert_eq!(
        tag,
        format!(
            "<script src=\"{}/embed.js\" data-assistant-id=\"{}\" data-position=\"top-left\" \
             data-primary-color=\"#aa3300\" data-hide-on-paths=\"/checkout/*\" defer></script>",
            app.address, app.org.assistant.id
        )
    );
    assert!(!html["instructions"].as_array().unwrap().is_empty());
    for platform in ["wordpress", "shopify", "wix", "squarespace"] {
        let (status, body) = snippet(&app, &app.key, &format!("?platform={platform}")).await;
        assert_eq!(status, StatusCode::OK, "{platform}: {body}");
        assert_eq!(body["platform"], platform);
    }
    let (status, body) = snippet(&app, &app.key, "?platform=myspace").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // GraphQL answers the same code; an assistant of another organization is null.
    let data = app
        .graphql_ok(
            "query($id: ID!) { embedSnippet(assistantId: $id, platform: SHOPIFY) { platform snippet instructions } }",
            json!({"id": app.org.assistant.id}),
        )
        .await;
    assert_eq!(data["embedSnippet"]["platform"], "SHOPIFY");
    assert!(
        data["embedSnippet"]["snippet"]
            .as_str()
            .unwrap()
            .contains("{{ page_title | escape }}")
    );
    let other = app.other_organization("Globex").await;
    let data = app
        .graphql_ok(
            "query($id: ID!) { embedSnippet(assistantId: $id) { snippet } }",
            json!({"id": other.assistant.id}),
        )
        .await;
    assert_eq!(data["embedSnippet"], Value::Null);
}

#[tokio::test]
async fn site_builder_snippets_need_the_standard_plan_and_the_website_embed_is_on_every_plan() {
    let app = spawn_app().await;
    let basic = api::service::identity::bootstrap::bootstrap(
        &app.db,
        "Initech",
        api::auth::Plan::Basic,
        "owner@initech.test",
    )
    .await
    .unwrap();
    let on_basic = |platform: &'static str| {
        let app = &app;
        let basic = &basic;
        async move {
            let reply = app
                .client
                .get(app.url(&format!(
                    "/api/v1/assistants/{}/embed?platform={platform}",
                    basic.assistant.id
                )))
                .bearer_auth(&basic.secret)
                .send()
                .await
                .unwrap();
            let status = reply.status();
            (status, reply.json::<Value>().await.unwrap())
        }
    };
    for platform in ["html", "wordpress", "shopify"] {
        let (status, body) = on_basic(platform).await;
        assert_eq!(status, StatusCode::OK, "{platform}: {body}");
    }
    for platform in ["wix", "squarespace"] {
        let (status, body) = on_basic(platform).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{platform}: {body}");
        assert_eq!(body["error"]["code"], "PLAN_UPGRADE_REQUIRED");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("standard"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn the_wordpress_plugin_downloads_as_the_zip_wordpress_installs() {
    let app = spawn_app().await;
    // No credentials: the plugin holds no secret, and a site owner downloads it from the instructions.
    let reply = fetch(&app, "/api/v1/integrations/wordpress/plugin.zip", &[]).await;
    assert_eq!(reply.status(), StatusCode::OK);
    assert_eq!(reply.headers()["content-type"], "application/zip");
    assert_eq!(
        reply.headers()["content-disposition"],
        "attachment; filename=\"ai-assistant.zip\""
    );
    let zip = reply.bytes().await.unwrap();
    assert!(zip.starts_with(b"PK\x03\x04"), "a zip file");
    // Entry names are stored as they are: everything sits in the plugin's folder.
    let text = String::from_utf8_lossy(&zip);
    for entry in [
        "ai-assistant/ai-assistant.php",
        "ai-assistant/readme.txt",
        "ai-assistant/uninstall.php",
    ] {
        assert!(text.contains(entry), "the zip has {entry}");
    }
    // It is the plugin of this repository.
    let header = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/plugins/wordpress/ai-assistant/ai-assistant.php"
    ))
    .unwrap();
    assert!(header.contains("Plugin Name:"));
}
