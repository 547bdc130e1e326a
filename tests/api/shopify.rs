//! The Shopify theme app extension and the hand-install snippets of `plugins/shopify/`, rendered by a real
//! Liquid engine (liquidjs, `tests/peers/shopify-render.mjs`) with a product, served from a second origin and
//! loaded in Chromium (`tests/peers/shopify-browser.mjs`).

use axum::Router;
use axum::extract::Path;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use serde_json::{Value, json};

use crate::helpers::{TestApp, node_peer, root, spawn_app};

/// Runs a node peer with `job` on stdin and answers its stdout.
async fn node(script: &str, job: Value) -> String {
    let output = node_peer(script, &job).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

const TITLE: &str = "The \"Trail\" <Boots> & Co's";

/// A product page as Shopify renders it with `file` (the app embed, or a snippet), for this server.
async fn render(app: &TestApp, file: &str, site: &str) -> String {
    node(
        "shopify-render.mjs",
        json!({
            "file": file,
            "settings": {
                "server_url": app.address,
                "assistant_id": app.org.assistant.id,
                "position": "bottom-left",
                "theme": "dark",
                "primary_color": "#aa3300",
                "welcome_message": "Questions about our boots?",
                "auto_open": false,
                "hide_on_mobile": true,
            },
            "product": {
                "title": TITLE,
                "vendor": "Acme & Sons",
                "type": "Boots",
                "price": 12990,
                "available": true,
                "description": "<p>Waterproof leather, sizes 36 to 46.</p>",
                "url": "/products/trail-boots",
            },
            "shop": {"url": "https://shop.example", "money_format": "€{{amount_with_comma_separator}}"},
            "page_title": format!("{TITLE} – Shop"),
            "canonical_url": format!("{site}/products/trail-boots"),
            "template": "product",
            "blocks": [{"file": "extensions/ai-assistant/blocks/product-assistant.liquid", "settings": {}}],
        }),
    )
    .await
}

/// Serves rendered pages (`/page/{n}`) and the extension's assets, on another origin than the server's.
async fn start_site(pages: Vec<String>) -> String {
    let pages = std::sync::Arc::new(pages);
    let router = Router::new()
        .route(
            "/page/{n}",
            get(move |Path(n): Path<usize>| {
                let pages = pages.clone();
                async move { Html(pages[n].clone()).into_response() }
            }),
        )
        .route(
            "/assets/{file}",
            get(|Path(file): Path<String>| async move {
                let path = root()
                    .join("plugins/shopify/extensions/ai-assistant/assets")
                    .join(file.replace('/', ""));
                match std::fs::read(path) {
                    Ok(bytes) => {
                        ([(header::CONTENT_TYPE, "text/javascript")], bytes).into_response()
                    }
                    Err(_) => axum::http::StatusCode::NOT_FOUND.into_response(),
                }
            }),
        )
        .route(
            "/favicon.ico",
            get(|| async { axum::http::StatusCode::NO_CONTENT }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://localhost:{port}")
}

async fn browse(url: &str, extra: Value) -> Value {
    let mut job = json!({"chromium": "/usr/bin/chromium", "url": url});
    for (k, v) in extra.as_object().unwrap() {
        job[k] = v.clone();
    }
    serde_json::from_str(node("shopify-browser.mjs", job).await.trim()).unwrap()
}

#[tokio::test]
async fn the_app_embed_renders_escaped_and_puts_the_widget_on_a_product_page_with_its_context() {
    let app = spawn_app().await;
    app.create_entry(
        "Which sizes do the boots come in?",
        "Our boots come in sizes 36 to 46.",
    )
    .await;
    // The shop's canonical address is Shopify's, not the test site's: the page context names the shop.
    let placeholder = "https://shop.example";
    let embed = render(
        &app,
        "extensions/ai-assistant/blocks/app-embed.liquid",
        placeholder,
    )
    .await;
    let theme = render(&app, "snippets/theme-liquid.liquid", placeholder).await;
    let product = render(&app, "snippets/product-page.liquid", placeholder).await;
    // Escaped by Liquid: the title's quote and angle bracket cannot end the attribute or open a tag.
    for page in [&embed, &theme, &product] {
        assert!(
            page.contains(&format!("{}/embed.js", app.address)),
            "{page}"
        );
        assert!(page.contains(&format!("data-assistant-id=\"{}\"", app.org.assistant.id)));
        assert!(!page.contains("<Boots>"), "the title is escaped: {page}");
        assert!(page.contains("&lt;Boots&gt;"), "{page}");
    }
    assert!(
        embed.contains("data-position=\"bottom-left\"") && embed.contains("data-theme=\"dark\"")
    );
    let site = start_site(vec![embed, theme, product]).await;

    let seen = browse(
        &format!("{site}/page/0"),
        json!({"open": "button", "question": "which sizes do the boots come in?"}),
    )
    .await;
    assert_eq!(seen["launcher"]["visible"], true, "{seen}");
    assert_eq!(seen["theme"], "dark");
    assert_eq!(seen["position"], "bottom-left");
    let x = seen["launcher"]["box"]["x"].as_f64().unwrap();
    assert!(x < 640.0, "bottom left: {seen}");
    // The browser decoded the escaped title back to the product's own.
    assert_eq!(seen["pageContext"]["title"], format!("{TITLE} – Shop"));
    assert!(
        seen["pageContext"]["context"]
            .as_str()
            .unwrap()
            .contains("Acme & Sons")
    );
    assert_eq!(seen["productBlock"]["buttonVisible"], true);
    assert_eq!(seen["consoleErrors"], json!([]), "{seen}");
    assert_eq!(seen["pageErrors"], json!([]));
    // The question reached the server with the product as its context (the product block names it).
    let conversations = app.get("/api/v1/conversations").await;
    let conversation = &conversations.body["data"][0];
    assert_eq!(conversation["page_title"], TITLE, "{}", conversations.text);
    assert_eq!(
        conversation["source_url"],
        "https://shop.example/products/trail-boots"
    );
    assert!(
        conversation["page_context"]
            .as_str()
            .unwrap()
            .contains("Vendor: Acme & Sons")
    );
    let messages = app
        .get(&format!(
            "/api/v1/conversations/{}/messages",
            conversation["id"].as_str().unwrap()
        ))
        .await;
    let answers: Vec<&str> = messages.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["author"] == "assistant")
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert!(
        answers.contains(&"Our boots come in sizes 36 to 46."),
        "{answers:?}"
    );

    // The hand-install snippets: the widget shows, with the product as the page.
    for n in [1, 2] {
        let seen = browse(&format!("{site}/page/{n}"), json!({})).await;
        assert_eq!(seen["launcher"]["visible"], true, "snippet {n}: {seen}");
        assert_eq!(
            seen["pageContext"]["title"]
                .as_str()
                .map(|t| t.starts_with("The \"Trail\" <Boots>")),
            Some(true),
            "snippet {n}: {seen}"
        );
        assert_eq!(seen["consoleErrors"], json!([]), "snippet {n}: {seen}");
    }
    // Hidden on a phone, as the block's setting says.
    let phone = browse(
        &format!("{site}/page/0"),
        json!({"viewport": {"width": 390, "height": 844}, "isMobile": true}),
    )
    .await;
    assert_eq!(phone["launcher"]["visible"], false, "{phone}");
}
