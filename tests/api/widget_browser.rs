//! The website widget in Debian's Chromium: a test site on a second loopback origin carries `/embed.js`, and
//! `tests/peers/widget-browser.mjs` (playwright-core) drives it while these tests check what the visitor saw
//! and what the server recorded.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::helpers::{TestApp, node_peer, screenshots, spawn_app};

const CHROMIUM: &str = "/usr/bin/chromium";

#[derive(Clone)]
struct Site {
    server: String,
    /// The site's own address (`http://localhost:<port>`).
    origin: String,
    assistant: String,
    /// An assistant that allows only another website.
    fenced: String,
    /// An assistant whose widget is turned off.
    off: String,
}

/// One page of the test site: the embed script with `attributes`, and `head` before it.
fn page(site: &Site, title: &str, assistant: &str, attributes: &str, head: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>{head}</head>\
         <body><main><h1>{title}</h1><p>Welcome to the shop.</p>\
         <nav><a href=\"/\">Home</a> <a href=\"/products/boots\">Boots</a> <a href=\"/contact\">Contact</a></nav>\
         </main><script src=\"{server}/embed.js\" data-assistant-id=\"{assistant}\" {attributes} defer></script>\
         </body></html>",
        server = site.server
    )
}

async fn shop(State(site): State<Site>, uri: axum::http::Uri) -> Response {
    let (title, attributes) = match uri.path() {
        "/products/boots" => (
            "Boots",
            "data-page-context=\"Waterproof leather boots, sizes 36 to 46, free shipping\"",
        ),
        "/contact" => ("Contact", ""),
        _ => ("Home", ""),
    };
    Html(page(&site, title, &site.assistant, attributes, "")).into_response()
}

async fn styled(State(site): State<Site>, Path(variant): Path<String>) -> Response {
    let attributes = match variant.as_str() {
        "corner" => {
            "data-position=\"top-left\" data-primary-color=\"#aa3300\" data-z-index=\"777\""
        }
        "mobile" => "data-hide-on-mobile=\"true\"",
        "invalid" => "data-position=\"middle\" data-primary-color=\"red\" data-width=\"5\"",
        "auto-open" => "data-auto-open=\"true\" data-auto-open-delay=\"600\"",
        "dark" => "data-theme=\"dark\"",
        "auto" => "data-theme=\"auto\"",
        "sized" => {
            "data-width=\"420\" data-height=\"520\" data-welcome-message=\"Moin! How can we help?\" \
                    data-show-avatar=\"true\" data-avatar-url=\"AVATAR\""
        }
        _ => "",
    };
    let attributes = attributes.replace("AVATAR", &format!("{}/avatar.png", site.origin));
    Html(page(&site, "Styled", &site.assistant, &attributes, "")).into_response()
}

/// A 1×1 PNG, the avatar of the sized page.
async fn avatar() -> Response {
    const PNG: &[u8] = &[
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f,
        0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8,
        0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00,
        0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ];
    ([(header::CONTENT_TYPE, "image/png")], PNG).into_response()
}

/// A page whose script names no assistant, or one that does not exist.
async fn nameless(State(site): State<Site>) -> Response {
    let html = page(&site, "Nameless", "", "", "").replace(" data-assistant-id=\"\"", "");
    Html(html).into_response()
}

async fn turned_off(State(site): State<Site>) -> Response {
    Html(page(&site, "Off", &site.off, "", "")).into_response()
}

async fn unknown(State(site): State<Site>) -> Response {
    Html(page(
        &site,
        "Unknown",
        "asst_01JD0000000000000000000000",
        "",
        "",
    ))
    .into_response()
}

/// A page whose policy allows scripts and connections to the server only: no inline script or style.
async fn strict(State(site): State<Site>) -> Response {
    let policy = format!(
        "default-src 'none'; script-src {s}; connect-src {s}; img-src {s} data:; style-src 'self'; \
         base-uri 'none'; form-action 'none'",
        s = site.server
    );
    (
        [(header::CONTENT_SECURITY_POLICY, policy)],
        Html(page(&site, "Strict", &site.assistant, "", "")),
    )
        .into_response()
}

/// A single-page site that hides the widget on its checkout, set before the script.
async fn spa(State(site): State<Site>) -> Response {
    let head = "<script>window.AIAssistantConfig = { hideOnPaths: [\"/checkout/*\"] };</script>";
    Html(page(&site, "Single page", &site.assistant, "", head)).into_response()
}

/// A page whose widget comes through the outage proxy (its address in the query).
async fn through(
    State(site): State<Site>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    let proxied = Site {
        server: q.get("server").cloned().unwrap_or_default(),
        ..site
    };
    Html(page(&proxied, "Through", &proxied.assistant, "", "")).into_response()
}

async fn fenced(State(site): State<Site>) -> Response {
    Html(page(&site, "Elsewhere", &site.fenced, "", "")).into_response()
}

/// The test site on 127.0.0.1:0, reached as `http://localhost:<port>`: another origin than the server's.
async fn start_site(app: &TestApp) -> String {
    let created = app
        .graphql(
            "mutation { createAssistant(input: {name: \"Fenced\", widget: {allowedOrigins: [\"https://shop.example.com\"]}}) { assistant { id } userErrors { message } } }",
            json!({}),
        )
        .await
        .payload("createAssistant");
    let off = app
        .graphql(
            "mutation { createAssistant(input: {name: \"Off\", widget: {enabled: false}}) { assistant { id } userErrors { message } } }",
            json!({}),
        )
        .await
        .payload("createAssistant");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let origin = format!("http://localhost:{port}");
    let site = Site {
        server: app.address.clone(),
        origin: origin.clone(),
        assistant: app.org.assistant.id.clone(),
        fenced: created["assistant"]["id"].as_str().unwrap().to_owned(),
        off: off["assistant"]["id"].as_str().unwrap().to_owned(),
    };
    let router = Router::new()
        .route("/", get(shop))
        .route("/products/boots", get(shop))
        .route("/contact", get(shop))
        .route("/styled/{variant}", get(styled))
        .route("/strict", get(strict))
        .route("/spa", get(spa))
        .route("/spa/{*rest}", get(spa))
        .route("/fenced", get(fenced))
        .route("/through", get(through))
        .route("/avatar.png", get(avatar))
        .route("/nameless", get(nameless))
        .route("/unknown", get(unknown))
        .route("/off", get(turned_off))
        .route(
            "/favicon.ico",
            get(|| async { axum::http::StatusCode::NO_CONTENT }),
        )
        .with_state(site);
    tokio::spawn(async move { axum::serve(listener, router).await });
    origin
}

/// Runs one scenario of the browser driver and answers its observations.
async fn drive(app: &TestApp, site: &str, mut job: Value) -> Value {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "Chromium is missing: `make test` installs it (make browser)"
    );
    job["chromium"] = json!(CHROMIUM);
    job["site"] = json!(site);
    if job.get("server").is_none() {
        job["server"] = json!(app.address);
    }
    job["out"] = json!(screenshots());
    job["apiKey"] = json!(app.key);
    let output = node_peer("widget-browser.mjs", &job).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the browser driver failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap()
}

/// Warnings and errors in the console, but for the browser's own line about each failed response (the
/// driver lists those under `failed`, with their addresses).
fn warnings(observed: &Value) -> Vec<String> {
    observed["console"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["type"] == "warning" || m["type"] == "error")
        .map(|m| m["text"].as_str().unwrap_or("").to_owned())
        .filter(|text| !text.starts_with("Failed to load resource"))
        .collect()
}

#[tokio::test]
async fn a_visitor_asks_across_pages_and_a_reload_gets_answers_streamed_rates_and_hears_a_person_live()
 {
    let app = spawn_app().await;
    app.create_entry(
        "How much does shipping cost?",
        "Shipping within Germany costs 4.90 EUR. Orders over 50 EUR ship free.",
    )
    .await;
    app.post(
        "/api/v1/knowledge-base",
        json!({"title": "Which sizes do the boots come in?", "body": "Our boots come in sizes 36 to 46.", "tags": ["boots", "sizes"]}),
    )
    .await;
    let site = start_site(&app).await;
    let seen = drive(
        &app,
        &site,
        json!({"scenario": "conversation", "question": "what does shipping cost", "secondQuestion": "which sizes are there?"}),
    )
    .await;

    // Nothing but the loader was fetched before the visitor clicked.
    let before: Vec<&str> = seen["beforeClick"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(before, ["GET /embed.js"], "{seen}");
    assert_eq!(seen["focusedInput"], true, "focus moves to the message box");
    assert_eq!(
        seen["first"]["text"],
        "Shipping within Germany costs 4.90 EUR. Orders over 50 EUR ship free."
    );
    assert_eq!(seen["second"]["text"], "Our boots come in sizes 36 to 46.");
    assert_eq!(seen["rated"], "true");

    // One conversation throughout: the history came back on the next page and after the reload.
    let conversations = app.get("/api/v1/conversations").await;
    assert_eq!(
        conversations.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        conversations.text
    );
    let conversation = &conversations.body["data"][0];
    assert_eq!(conversation["id"], seen["conversationId"]);
    assert_eq!(conversation["source_url"], format!("{site}/"));
    for key in ["onSecondPage", "afterReload"] {
        let shown: Vec<&str> = seen[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["author"].as_str().unwrap())
            .collect();
        assert!(
            shown.starts_with(&["visitor", "assistant"]),
            "{key}: {shown:?}"
        );
    }
    assert!(seen["afterReload"].as_array().unwrap().len() >= 4);
    // Both ratings reached the server: the answer's thumbs up and the conversation's four stars.
    assert_eq!(app.count_rows("feedback").await, 2);
    let analytics = app.get("/api/v1/analytics/conversations").await;
    assert_eq!(analytics.body["csat"]["count"], 1, "{}", analytics.text);
    assert_eq!(analytics.body["csat"]["average"], 4.0, "{}", analytics.text);
    // Each page's context went with the question asked on it.
    let bodies = seen["bodies"].as_array().unwrap();
    let started = bodies
        .iter()
        .find(|b| b["path"] == "/widget/v1/conversations")
        .unwrap_or_else(|| panic!("{bodies:?}"));
    assert_eq!(started["body"]["source_url"], format!("{site}/"));
    assert_eq!(started["body"]["page_title"], "Home");
    let on_boots = bodies
        .iter()
        .find(|b| b["body"]["body"] == "which sizes are there?")
        .unwrap_or_else(|| panic!("{bodies:?}"));
    assert_eq!(
        on_boots["body"]["page_url"],
        format!("{site}/products/boots")
    );
    assert_eq!(on_boots["body"]["page_title"], "Boots");
    assert_eq!(
        on_boots["body"]["page_context"],
        "Waterproof leather boots, sizes 36 to 46, free shipping"
    );
    // A person's reply arrived live.
    let live = seen["live"].as_array().unwrap();
    assert!(
        live.iter().any(|m| m["author"] == "agent"
            && m["text"]
                .as_str()
                .unwrap()
                .contains("I have checked your order")),
        "{live:?}"
    );
    assert_eq!(seen["focusBack"], true, "Escape gives the focus back");
    assert!(seen["errors"].as_array().unwrap().is_empty(), "{seen}");
    assert_eq!(seen["failed"], json!([]), "no request failed");
    assert!(warnings(&seen).is_empty(), "{:?}", warnings(&seen));
}

#[tokio::test]
async fn the_widget_is_accessible_in_light_and_dark_and_works_under_a_strict_content_security_policy()
 {
    let app = spawn_app().await;
    app.create_entry(
        "How do I return an item?",
        "You can return anything within 30 days.",
    )
    .await;
    let site = start_site(&app).await;
    let axe = drive(
        &app,
        &site,
        json!({"scenario": "axe", "path": "/", "darkPath": "/styled/dark", "question": "how do I return an item"}),
    )
    .await;
    for scheme in ["light", "dark"] {
        let serious: Vec<&Value> = axe[scheme]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["impact"] == "serious" || v["impact"] == "critical")
            .collect();
        assert!(serious.is_empty(), "{scheme}: {serious:?}");
    }
    assert!(screenshots().join("widget-dark-axe.png").exists());

    let strict = drive(
        &app,
        &site,
        json!({"scenario": "csp", "path": "/strict", "question": "how do I return an item"}),
    )
    .await;
    assert_eq!(
        strict["answer"]["text"],
        "You can return anything within 30 days."
    );
    assert_eq!(strict["csp"], json!([]), "nothing was blocked: {strict}");
    assert_eq!(strict["errors"], json!([]));
}

#[tokio::test]
async fn attributes_place_and_colour_the_launcher_and_bad_values_fall_back_with_one_warning() {
    let app = spawn_app().await;
    let site = start_site(&app).await;
    let phone = json!({"width": 390, "height": 844});
    let seen = drive(
        &app,
        &site,
        json!({"scenario": "appearance", "pages": [
            {"path": "/"},
            {"path": "/styled/corner"},
            {"path": "/styled/invalid"},
            {"path": "/styled/mobile"},
            {"path": "/styled/mobile", "viewport": phone, "isMobile": true},
            {"path": "/styled/auto-open", "early": 100, "wait": 1500},
        ]}),
    )
    .await;
    let pages = seen["pages"].as_array().unwrap();
    let corner = |p: &Value| {
        let b = &p["box"];
        let (x, y) = (b["x"].as_f64().unwrap(), b["y"].as_f64().unwrap());
        let (w, h) = (
            p["viewport"]["width"].as_f64().unwrap(),
            p["viewport"]["height"].as_f64().unwrap(),
        );
        (x < w / 2.0, y < h / 2.0)
    };
    // The default: bottom right, the default blue, above everything.
    assert_eq!(pages[0]["visible"], true, "{seen}");
    assert_eq!(corner(&pages[0]), (false, false));
    assert_eq!(pages[0]["background"], "rgb(0, 113, 227)");
    assert_eq!(pages[0]["label"], "Open chat");
    assert_eq!(pages[0]["requests"], json!(["GET /embed.js"]));
    // Attributes move it, colour it and set its stacking order.
    assert_eq!(corner(&pages[1]), (true, true));
    assert_eq!(pages[1]["background"], "rgb(170, 51, 0)");
    assert_eq!(pages[1]["zIndex"], "777");
    // Bad values: the defaults, and one warning for each attribute at fault.
    assert_eq!(corner(&pages[2]), (false, false));
    assert_eq!(pages[2]["background"], "rgb(0, 113, 227)");
    let warned = warnings(&pages[2]);
    for attribute in ["data-position", "data-primary-color", "data-width"] {
        assert_eq!(
            warned.iter().filter(|w| w.contains(attribute)).count(),
            1,
            "{attribute}: {warned:?}"
        );
    }
    assert!(pages[2]["errors"].as_array().unwrap().is_empty());
    // Hidden on a phone only.
    assert_eq!(pages[3]["visible"], true);
    assert_eq!(pages[4]["visible"], false);
    // Auto-open opens the panel after its delay (600 ms), not before, and only then talks to the server.
    assert_eq!(pages[5]["panelEarly"], false, "{}", pages[5]);
    assert_eq!(pages[5]["panelOpen"], true, "{}", pages[5]);
    assert!(
        pages[5]["requests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "POST /widget/v1/sessions")
    );
}

#[tokio::test]
async fn paths_hide_the_widget_as_a_single_page_site_navigates_and_an_unlisted_site_is_refused() {
    let app = spawn_app().await;
    let site = start_site(&app).await;
    let seen = drive(
        &app,
        &site,
        json!({"scenario": "spa", "path": "/spa", "navigate": ["/spa/products", "/checkout/payment", "back", "/spa/cart"], "then": "/spa/help"}),
    )
    .await;
    let steps: Vec<(String, bool)> = seen["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["path"].as_str().unwrap().to_owned(),
                s["visible"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("/spa/products".to_owned(), true),
            ("/checkout/payment".to_owned(), false),
            ("/spa/products".to_owned(), true),
            ("/spa/cart".to_owned(), true),
        ]
    );

    // The page a question is asked on is the site's current one, History API navigations included.
    let bodies = seen["bodies"].as_array().unwrap();
    let started = bodies
        .iter()
        .find(|b| b["path"] == "/widget/v1/conversations")
        .unwrap_or_else(|| panic!("{bodies:?}"));
    assert_eq!(started["body"]["source_url"], format!("{site}/spa/cart"));
    let moved = bodies
        .iter()
        .find(|b| b["body"]["body"] == "and now?")
        .unwrap_or_else(|| panic!("{bodies:?}"));
    assert_eq!(moved["body"]["page_url"], format!("{site}/spa/help"));

    // The fenced assistant allows only https://shop.example.com: the widget hides and says why, once.
    let refused = drive(
        &app,
        &site,
        json!({"scenario": "refused", "path": "/fenced"}),
    )
    .await;
    assert_eq!(refused["visible"], false, "{refused}");
    let failed: Vec<&str> = refused["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(
        failed.len(),
        1,
        "one refused attempt, no retry loop: {failed:?}"
    );
    assert!(failed[0].starts_with("403 POST") && failed[0].ends_with("/widget/v1/sessions"));
    assert_eq!(refused["errors"], json!([]));
    let warned = warnings(&refused);
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].contains("[concierge]"), "{warned:?}");
}

/// A proxy in front of the server that answers 503 to the visitor API while `down` holds, as a load balancer does
/// when the servers behind it are gone (or, `slow`, answers only after longer than the widget waits), and passes
/// everything through (streams included) otherwise.
async fn start_outage_proxy(
    app: &TestApp,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    slow: bool,
) -> String {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    let upstream = app.address.clone();
    let client = reqwest::Client::new();
    let handler = move |request: Request<Body>| {
        let (upstream, client, down) = (upstream.clone(), client.clone(), down.clone());
        async move {
            let path = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default();
            let unwell =
                down.load(std::sync::atomic::Ordering::SeqCst) && path.starts_with("/widget/v1");
            if unwell && slow {
                // A server that takes far longer than the widget waits (15 s), so that the widget gives up first
                // even on a loaded machine (a 17 s wait here answered before a late timer fired).
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            } else if unwell {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")],
                    "no server is available",
                )
                    .into_response();
            }
            let (parts, body) = request.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            let mut forwarded = client.request(parts.method.clone(), format!("{upstream}{path}"));
            for (name, value) in &parts.headers {
                if name != header::HOST && name != header::CONTENT_LENGTH {
                    forwarded = forwarded.header(name, value);
                }
            }
            let answer = forwarded.body(bytes.to_vec()).send().await.unwrap();
            let mut response = Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                if name != header::CONTENT_LENGTH && name != header::TRANSFER_ENCODING {
                    response = response.header(name, value);
                }
            }
            let chunks = futures_util::stream::unfold(answer, |mut answer| async move {
                match answer.chunk().await {
                    Ok(Some(chunk)) => Some((Ok::<_, std::io::Error>(chunk), answer)),
                    _ => None,
                }
            });
            response.body(Body::from_stream(chunks)).unwrap()
        }
    };
    let router = Router::new().fallback(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://127.0.0.1:{port}")
}

/// The outage scenario through a proxy that is unwell for the first four seconds.
async fn outage(slow: bool) {
    let app = spawn_app().await;
    app.create_entry(
        "How much does shipping cost?",
        "Shipping within Germany costs 4.90 EUR.",
    )
    .await;
    let site = start_site(&app).await;
    let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let proxy = start_outage_proxy(&app, down.clone(), slow).await;
    // Back after four seconds.
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(4)).await;
        down.store(false, std::sync::atomic::Ordering::SeqCst);
    });
    let seen = drive(
        &app,
        &site,
        // The slow server's status shows only after the widget's 15 s timeout, later on a loaded machine.
        json!({"scenario": "outage", "path": format!("/through?server={proxy}"), "server": proxy, "question": "how much is shipping",
            "statusTimeout": if slow { 45000 } else { 25000 }}),
    )
    .await;
    let told = seen["whileDown"].as_str().unwrap().to_lowercase();
    assert!(told.contains("reach") || told.contains("retry"), "{seen}");
    assert!(
        seen["sessionAttempts"].as_u64().unwrap() >= 2,
        "the widget tried again: {seen}"
    );
    assert_eq!(
        seen["answer"]["text"],
        "Shipping within Germany costs 4.90 EUR."
    );
    assert_eq!(
        seen["errors"],
        json!([]),
        "nothing was thrown into the page"
    );
}

#[tokio::test]
async fn when_the_server_is_unreachable_the_visitor_is_told_the_widget_retries_and_then_answers() {
    outage(false).await;
}

#[tokio::test]
async fn when_the_server_is_too_slow_the_widget_gives_up_waiting_says_so_and_retries() {
    outage(true).await;
}

#[tokio::test]
async fn size_welcome_avatar_and_theme_show_in_the_open_panel() {
    let app = spawn_app().await;
    let site = start_site(&app).await;
    let seen = drive(
        &app,
        &site,
        json!({"scenario": "panels", "pages": [
            {"path": "/styled/sized"},
            {"path": "/styled/dark"},
            {"path": "/styled/auto", "colorScheme": "dark"},
            {"path": "/styled/auto", "colorScheme": "light"},
        ]}),
    )
    .await;
    let pages = seen["pages"].as_array().unwrap();
    let sized = &pages[0];
    assert_eq!(
        sized["box"]["width"].as_f64().unwrap().round(),
        420.0,
        "{sized}"
    );
    assert_eq!(
        sized["box"]["height"].as_f64().unwrap().round(),
        520.0,
        "{sized}"
    );
    assert_eq!(sized["welcome"], "Moin! How can we help?");
    assert_eq!(sized["avatar"]["src"], format!("{site}/avatar.png"));
    assert_eq!(sized["avatar"]["visible"], true, "{sized}");
    assert_eq!(sized["avatar"]["loaded"], true, "{sized}");
    assert_eq!(sized["theme"], "light");
    assert_eq!(pages[1]["theme"], "dark");
    // `auto` follows the visitor's preference.
    assert_eq!(pages[2]["theme"], "dark");
    assert_eq!(pages[3]["theme"], "light");
    for page in pages {
        assert_eq!(page["errors"], json!([]), "{page}");
    }
}

#[tokio::test]
async fn the_sites_javascript_api_identifies_gives_context_opens_closes_and_forgets_and_refusals_are_shown()
 {
    let app = spawn_app().await;
    app.create_entry(
        "How much does shipping cost?",
        "Shipping within Germany costs 4.90 EUR.",
    )
    .await;
    let site = start_site(&app).await;
    let seen = drive(
        &app,
        &site,
        json!({
            "scenario": "api",
            "question": "how much is shipping",
            "oversized": app.settings.message_max_bytes + 1,
            "tokenKey": format!("concierge:{}:token", app.org.assistant.id),
        }),
    )
    .await;
    assert_eq!(
        seen["answer"]["text"],
        "Shipping within Germany costs 4.90 EUR."
    );
    // identify() and setPageContext() made before the chat loaded reached the server.
    let visitors = app.get("/api/v1/visitors").await;
    let visitor = visitors.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["email"] == "ann@example.com")
        .unwrap_or_else(|| panic!("identify reached the server: {}", visitors.text))
        .clone();
    assert_eq!(visitor["name"], "Ann Example");
    let conversations = app.get("/api/v1/conversations").await;
    let conversation = &conversations.body["data"][0];
    assert_eq!(
        conversation["page_title"], "Checkout help",
        "{}",
        conversations.text
    );
    assert_eq!(
        conversation["page_context"],
        "A cart with two pairs of boots"
    );
    assert_eq!(conversation["visitor_id"], visitor["id"]);
    // close() closed it; the events fired in order.
    assert_eq!(seen["closed"], false);
    let names: Vec<&str> = seen["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names.iter().filter(|n| **n == "ready").count(),
        1,
        "{names:?}"
    );
    assert!(
        names.contains(&"open") && names.contains(&"close"),
        "{names:?}"
    );
    let authors: Vec<&str> = seen["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "message")
        .map(|e| e["author"].as_str().unwrap_or(""))
        .collect();
    assert!(
        authors.starts_with(&["visitor", "assistant"]),
        "{authors:?}"
    );
    // The oversized message: the server's reason, shown to the visitor; nothing stored.
    let refusal = seen["refusal"].as_str().unwrap();
    assert!(
        refusal.contains("8192") || refusal.to_lowercase().contains("long"),
        "{seen}"
    );
    let stored = app
        .get(&format!(
            "/api/v1/conversations/{}/messages",
            conversation["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        stored.body["data"].as_array().unwrap().len(),
        2,
        "{}",
        stored.text
    );
    // shutdown() forgot the visitor: the token is gone from the page and the server no longer takes it.
    assert!(seen["token"].as_str().unwrap().starts_with("cw_"));
    assert_eq!(seen["tokenAfter"], Value::Null);
    let ended = app
        .client
        .get(app.url("/widget/v1/session"))
        .bearer_auth(seen["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), reqwest::StatusCode::UNAUTHORIZED);
    assert_eq!(seen["errors"], json!([]));
}

#[tokio::test]
async fn a_missing_unknown_or_turned_off_assistant_hides_the_widget_with_one_warning() {
    let app = spawn_app().await;
    let site = start_site(&app).await;
    let nameless = drive(
        &app,
        &site,
        json!({"scenario": "refused", "path": "/nameless"}),
    )
    .await;
    assert_eq!(nameless["visible"], false);
    let warned = warnings(&nameless);
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].contains("data-assistant-id"), "{warned:?}");
    assert_eq!(nameless["requests"], json!(["GET /embed.js"]));
    let unknown = drive(
        &app,
        &site,
        json!({"scenario": "refused", "path": "/unknown"}),
    )
    .await;
    assert_eq!(unknown["visible"], false, "{unknown}");
    let warned = warnings(&unknown);
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert_eq!(unknown["errors"], json!([]));
}

#[tokio::test]
async fn an_ai_providers_answer_streams_into_the_widget_as_it_is_written() {
    let fake = crate::fake_openai::FakeOpenAi::start().await;
    fake.set_mode(crate::fake_openai::Mode::Paced(
        std::time::Duration::from_millis(120),
    ));
    let app =
        crate::helpers::spawn_app_with(|s| s.egress_allow = Some("127.0.0.1/32".into())).await;
    app.create_entry(
        "How much does shipping cost?",
        "Shipping within Germany costs 4.90 EUR.",
    )
    .await;
    app.graphql(
        "mutation($id: ID!, $input: UpdateAssistantInput!) { updateAssistant(id: $id, input: $input) { assistant { providerKeySet } userErrors { message } } }",
        json!({"id": app.org.assistant.id, "input": {
            "engine": {"provider": {"baseUrl": fake.base_url, "standardModel": "small-model", "complexModel": "big-model"}},
            "providerApiKey": "sk-test-stream",
        }}),
    )
    .await
    .payload("updateAssistant");
    let site = start_site(&app).await;
    let seen = drive(
        &app,
        &site,
        json!({"scenario": "stream", "question": "how much is shipping"}),
    )
    .await;
    let full = seen["answer"]["text"].as_str().unwrap();
    assert!(full.starts_with("According to our help centre"), "{seen}");
    // The visitor saw it grow: several texts, each the beginning of the next, ending with the whole answer.
    let texts: Vec<&str> = seen["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let partial: Vec<&&str> = texts.iter().filter(|t| t.len() < full.len()).collect();
    assert!(
        partial.len() >= 3,
        "the answer arrived in pieces: {texts:?}"
    );
    for pair in texts.windows(2) {
        assert!(
            pair[1].starts_with(pair[0]) || pair[0].len() >= full.len(),
            "each text continues the one before: {texts:?}"
        );
    }
    assert_eq!(seen["errors"], json!([]));
}

#[tokio::test]
async fn a_visitor_leaves_their_details_in_the_widgets_contact_form_under_a_strict_policy() {
    let app = spawn_app().await;
    let site = start_site(&app).await;
    let seen = drive(
        &app,
        &site,
        json!({"scenario": "contactForm", "path": "/strict"}),
    )
    .await;
    assert_eq!(seen["errors"], json!([]), "{seen}");
    assert_eq!(seen["csp"], json!([]), "{seen}");
    assert!(warnings(&seen).is_empty(), "{seen}");
    for moment in ["axe", "axeAfter"] {
        let serious: Vec<&Value> = seen[moment]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["impact"] == "serious" || v["impact"] == "critical")
            .collect();
        assert!(serious.is_empty(), "{moment}: {serious:?}");
    }
    // The server's refusal is shown beside the field it names, which says so to assistive technology.
    assert!(
        seen["fieldError"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("email address or a phone number"),
        "{seen}"
    );
    assert_eq!(seen["fieldErrorFor"], "email", "{seen}");
    assert_eq!(seen["invalid"]["ariaInvalid"], "true", "{seen}");
    assert!(
        seen["confirmation"]
            .as_str()
            .unwrap()
            .contains("ann@example.test"),
        "{seen}"
    );
    assert_eq!(seen["formClosed"], true, "{seen}");
    assert_eq!(seen["escape"]["panelOpen"], true, "{seen}");
    // The team sees the details, and the conversation's stream says where they came from.
    let events = app.get("/api/v1/events?types=visitor.form_submitted").await;
    let submitted = &events.body["data"][0]["data"];
    assert_eq!(submitted["email"], "ann@example.test", "{}", events.text);
    assert_eq!(submitted["name"], "Ann Lee");
    assert_eq!(submitted["phone"], "+43 1 234 5678");
    assert!(screenshots().join("widget-contact-form-open.png").exists());
}

#[tokio::test]
async fn a_visitor_attaches_a_screenshot_in_chromium_and_it_comes_back_from_the_server() {
    let app = spawn_app().await;
    let site = start_site(&app).await;
    let seen = drive(
        &app,
        &site,
        json!({"scenario": "screenshot", "path": "/", "message": "Here is the problem"}),
    )
    .await;
    assert_eq!(seen["errors"], json!([]), "{seen}");
    assert_eq!(seen["csp"], json!([]), "{seen}");
    assert_eq!(seen["failed"], json!([]), "{seen}");
    for moment in ["axe", "axeAfter"] {
        let serious: Vec<&Value> = seen[moment]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["impact"] == "serious" || v["impact"] == "critical")
            .collect();
        assert!(serious.is_empty(), "{moment}: {serious:?}");
    }
    assert_eq!(seen["attachLabel"], "Attach a screenshot", "{seen}");
    // A text file named like a PNG is refused by its bytes, in an alert.
    assert_eq!(seen["errorRole"], "alert", "{seen}");
    assert!(
        seen["errorText"]
            .as_str()
            .unwrap()
            .contains("is not a PNG, JPEG or WebP image"),
        "{seen}"
    );
    assert_eq!(seen["pendingAfterInvalid"], 1, "{seen}");
    assert_eq!(seen["focusAfterRemove"], "Remove screenshot 1", "{seen}");
    // The message carried the upload; its image loaded from the server's signed URL, and again after a reload.
    assert_eq!(seen["loaded"], true, "{seen}");
    assert_eq!(seen["naturalWidths"], json!([200]), "{seen}");
    assert_eq!(seen["shown"][0]["alt"], "Screenshot 1 from you", "{seen}");
    assert_eq!(seen["shown"][0]["fitsBubble"], true, "{seen}");
    assert!(
        seen["shown"][0]["src"]
            .as_str()
            .unwrap()
            .contains("/attachments/file_"),
        "{seen}"
    );
    assert_eq!(seen["afterReload"]["naturalWidths"], json!([200]), "{seen}");
    assert_eq!(seen["pendingAfterSend"], 0, "{seen}");
    // What the server keeps: one message with the text and one PNG.
    let rows = app.count_rows("message_attachments").await;
    assert_eq!(rows, 1, "{seen}");
    let body = &seen["messageBodies"][0];
    assert_eq!(body["body"], "Here is the problem", "{seen}");
    assert_eq!(
        body["attachment_ids"].as_array().unwrap().len(),
        1,
        "{seen}"
    );
}

/// No serious or critical axe-core violation on the panel at `moment` of a scenario.
fn assert_axe_clean(seen: &Value, moment: &str) {
    let serious: Vec<&Value> = seen[moment]
        .as_array()
        .unwrap_or_else(|| panic!("axe did not run at {moment}: {seen}"))
        .iter()
        .filter(|v| v["impact"] == "serious" || v["impact"] == "critical")
        .collect();
    assert!(serious.is_empty(), "{moment}: {serious:?}");
}

#[tokio::test]
async fn the_contact_form_offers_the_mailing_list_consent_unticked_and_a_visitor_who_ticks_it_joins_mailchimp()
 {
    use crate::fake_mailchimp::{FakeMailchimp, NEWSLETTER};
    let mailchimp = FakeMailchimp::start().await;
    let app = crate::mailchimp::app_with(&mailchimp).await;
    let site = start_site(&app).await;
    let id = crate::mailchimp::connected(&app).await;

    // Connected, but no audience chosen yet: the form has no checkbox, and says nothing of consent.
    let before = drive(
        &app,
        &site,
        json!({"scenario": "consent", "name": "no-consent", "path": "/products/boots",
            "visitorName": "Lee Park", "visitorEmail": "lee@example.test"}),
    )
    .await;
    assert_eq!(before["errors"], json!([]), "{before}");
    assert_eq!(before["shown"], false, "{before}");
    assert_eq!(before["boxes"], 0, "{before}");
    let body = &before["contactBodies"][0]["body"];
    assert_eq!(body["email"], "lee@example.test", "{before}");
    assert!(body.get("marketing_consent").is_none(), "{before}");

    let label = "Send me Acme's newsletter";
    let chosen = app
        .put(
            &format!("/api/v1/integrations/{id}"),
            json!({"audience": {"audience_id": NEWSLETTER, "consent_label": label}}),
        )
        .await;
    assert_eq!(chosen.status, reqwest::StatusCode::OK, "{}", chosen.text);

    // Chosen: the checkbox shows with the organization's words, unticked; Tab reaches it and Space ticks it.
    let seen = drive(
        &app,
        &site,
        json!({"scenario": "consent", "name": "consent", "path": "/products/boots",
            "visitorName": "Ivy Lane", "visitorEmail": "ivy@example.test"}),
    )
    .await;
    assert_eq!(seen["errors"], json!([]), "{seen}");
    assert_eq!(seen["csp"], json!([]), "{seen}");
    assert!(warnings(&seen).is_empty(), "{seen}");
    assert_axe_clean(&seen, "axe");
    assert_axe_clean(&seen, "axeAfter");
    assert_eq!(seen["shown"], true, "{seen}");
    assert_eq!(seen["boxes"], 1, "{seen}");
    assert_eq!(seen["label"], label, "{seen}");
    assert_eq!(
        seen["checkedAtFirst"], false,
        "never ticked for the visitor: {seen}"
    );
    assert_eq!(
        seen["named"], 1,
        "the checkbox is named by its words: {seen}"
    );
    assert_eq!(seen["tabReaches"], true, "{seen}");
    assert_eq!(seen["checkedAfterSpace"], true, "{seen}");
    assert!(
        seen["confirmation"]
            .as_str()
            .unwrap()
            .contains("ivy@example.test"),
        "{seen}"
    );
    assert_eq!(seen["formClosed"], true, "{seen}");
    assert_eq!(seen["checkedOnReopen"], false, "{seen}");
    let body = &seen["contactBodies"][0]["body"];
    assert_eq!(
        *body,
        json!({"name": "Ivy Lane", "email": "ivy@example.test", "marketing_consent": true}),
        "{seen}"
    );
    for name in [
        "widget-consent-form.png",
        "widget-consent.png",
        "widget-no-consent-form.png",
    ] {
        assert!(screenshots().join(name).exists(), "{name}");
    }

    // The server recorded Ivy's consent (and not Lee's).
    let events = app
        .get("/api/v1/events?types=visitor.form_submitted&limit=10")
        .await;
    let submitted: Vec<&Value> = events.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["data"])
        .collect();
    let ivy = submitted
        .iter()
        .find(|d| d["email"] == "ivy@example.test")
        .unwrap_or_else(|| panic!("{}", events.text));
    assert_eq!(ivy["marketing_consent"], true, "{}", events.text);
    let lee = submitted
        .iter()
        .find(|d| d["email"] == "lee@example.test")
        .unwrap_or_else(|| panic!("{}", events.text));
    assert_eq!(lee["marketing_consent"], false, "{}", events.text);
    let visitor = app
        .get(&format!(
            "/api/v1/visitors/{}",
            ivy["visitor_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(visitor.body["marketing_consent"], true, "{}", visitor.text);
    assert!(
        visitor.body["marketing_consent_at"].is_string(),
        "{}",
        visitor.text
    );

    // Ivy joins the audience, pending her confirmation (double opt-in); Lee never does.
    let runs = crate::crm_sync::settled_runs(&app, &id, 1).await;
    assert_eq!(runs.len(), 1, "only Ivy's: {runs:#?}");
    assert_eq!(runs[0]["kind"], "audience_sync", "{:#}", runs[0]);
    assert_eq!(runs[0]["status"], "succeeded", "{:#}", runs[0]);
    let members = mailchimp.members(NEWSLETTER);
    let member = members
        .get("ivy@example.test")
        .unwrap_or_else(|| panic!("{members:?}"));
    assert_eq!(member["status"], "pending", "{member}");
    assert_eq!(
        member["merge_fields"],
        json!({"FNAME": "Ivy", "LNAME": "Lane"}),
        "{member}"
    );
    let tags: Vec<&str> = member["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(tags.contains(&"page:/products/boots"), "{tags:?}");
    assert!(!members.contains_key("lee@example.test"), "{members:?}");
}
