//! The embed widget's visitor endpoints (`/widget/v1`): sessions, a visitor's own conversations, answers (JSON and
//! streamed), ratings, allowed origins with CORS, per-address limits, and bad input.

use reqwest::{Method, StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::fake_openai::FakeOpenAi;
use crate::helpers::{Reply, TestApp, parse_sse, spawn_app, spawn_app_with};

const SHIPPING: &str =
    "Standard shipping takes 3 to 5 business days. Orders placed before 2 pm ship the same day.";
const RETURNS: &str =
    "You can return any item within 30 days for a full refund, unworn and with its labels.";
const SHOP: &str = "https://shop.example.com";

/// Two entries; returns (shipping id, returns id).
async fn seed(app: &TestApp) -> (String, String) {
    let mut ids = Vec::new();
    for (title, body) in [
        ("How long does shipping take?", SHIPPING),
        ("How do I return an item?", RETURNS),
    ] {
        let created = app
            .post(
                "/api/v1/knowledge-base",
                json!({"title": title, "body": body}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        ids.push(created.body["id"].as_str().unwrap().to_owned());
    }
    (ids[0].clone(), ids[1].clone())
}

/// A widget request from a page of `origin` (none: no `Origin` header), with a widget token or none.
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    origin: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut request = app.client.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    Reply::read(request.send().await.unwrap()).await
}

/// A visitor's browser on the shop's pages.
pub struct Browser<'a> {
    app: &'a TestApp,
    token: String,
    pub visitor_id: String,
}

impl<'a> Browser<'a> {
    /// Starts a widget session for the seeded assistant.
    pub async fn start(app: &'a TestApp, visitor: Value) -> Browser<'a> {
        let reply = call(
            app,
            Method::POST,
            "/widget/v1/sessions",
            None,
            Some(SHOP),
            Some(json!({"assistant_id": app.org.assistant.id, "visitor": visitor})),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        Browser {
            app,
            token: reply.body["token"].as_str().unwrap().to_owned(),
            visitor_id: reply.body["visitor"]["id"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        call(
            self.app,
            Method::GET,
            path,
            Some(&self.token),
            Some(SHOP),
            None,
        )
        .await
    }

    async fn send(&self, method: Method, path: &str, body: Value) -> Reply {
        call(
            self.app,
            method,
            path,
            Some(&self.token),
            Some(SHOP),
            Some(body),
        )
        .await
    }

    /// Uploads raw bytes (a screenshot) to one of the visitor's conversations.
    pub async fn upload(&self, conversation: &str, bytes: Vec<u8>) -> Reply {
        let request = self
            .app
            .client
            .post(self.app.url(&format!(
                "/widget/v1/conversations/{conversation}/attachments"
            )))
            .bearer_auth(&self.token)
            .header("origin", SHOP)
            .header("content-type", "application/octet-stream")
            .body(bytes);
        Reply::read(request.send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, body).await
    }

    /// Starts a conversation with a first message and returns the answer.
    pub async fn open(&self, message: &str) -> Value {
        let reply = self
            .post(
                "/widget/v1/conversations",
                json!({"initial_message": message, "source_url": "https://shop.example.com/products/boots", "page_title": "Boots"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.body
    }
}

#[tokio::test]
async fn a_visitor_talks_to_the_assistant_through_the_widget_across_pages_and_rates_it() {
    let app = spawn_app().await;
    let (shipping, returns) = seed(&app).await;

    let started = call(
        &app,
        Method::POST,
        "/widget/v1/sessions",
        None,
        Some(SHOP),
        Some(json!({"assistant_id": app.org.assistant.id, "visitor": {"name": "Vera"}})),
    )
    .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text);
    let token = started.body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("cw_"), "{token}");
    assert_eq!(started.body["visitor"]["name"], "Vera");
    assert_eq!(
        started.body["assistant"]["id"],
        app.org.assistant.id.as_str()
    );
    assert_eq!(
        started.body["assistant"]["widget"]["welcome_message"],
        "Hi! How can we help you today?"
    );
    // The token is stored only as its hash.
    let stored = entities::widget_session::Entity::find()
        .all(app.db.conn())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].token_hash, token);
    assert!(!stored[0].token_hash.contains(&token[3..]));
    assert_eq!(stored[0].origin.as_deref(), Some(SHOP));

    let browser = Browser {
        app: &app,
        visitor_id: started.body["visitor"]["id"].as_str().unwrap().to_owned(),
        token,
    };
    let fresh = browser.get("/widget/v1/session").await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.text);
    assert_eq!(fresh.body["conversation"], Value::Null);

    // First page: a question answered from the knowledge base, as the visitor sees it.
    let opened = browser.open("How long does shipping take?").await;
    let conversation = opened["id"].as_str().unwrap().to_owned();
    assert_eq!(opened["status"], "open");
    assert_eq!(opened["initial_message"]["author"], "visitor");
    let answer = &opened["replies"][0];
    assert_eq!(answer["author"], "assistant");
    assert_eq!(answer["body"], SHIPPING);
    assert_eq!(answer["source_entry_id"], shipping.as_str());
    for internal in ["confidence", "sentiment", "intent", "reply_source"] {
        assert!(answer.get(internal).is_none(), "{internal} shown: {answer}");
        assert!(opened["initial_message"].get(internal).is_none());
    }
    assert!(opened.get("handoff_reason").is_none());

    // Another page: the session resumes the same conversation.
    let resumed = browser.get("/widget/v1/session").await;
    assert_eq!(resumed.body["conversation"]["id"], conversation.as_str());
    assert_eq!(resumed.body["visitor"]["id"], browser.visitor_id.as_str());
    let first_answer = answer["id"].as_str().unwrap().to_owned();
    let posted = browser
        .post(
            &format!("/widget/v1/conversations/{conversation}/messages"),
            json!({"body": "And how do I return an item?"}),
        )
        .await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.text);
    assert_eq!(posted.body["author"], "visitor");
    assert_eq!(
        posted.body["replies"][0]["source_entry_id"],
        returns.as_str()
    );
    assert_eq!(posted.body["replies"][0]["body"], RETURNS);

    // The transcript, and polling after the last shown message brings only what is new.
    let transcript = browser
        .get(&format!("/widget/v1/conversations/{conversation}/messages"))
        .await;
    assert_eq!(transcript.status, StatusCode::OK, "{}", transcript.text);
    let bodies: Vec<&str> = transcript.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        [
            "How long does shipping take?",
            SHIPPING,
            "And how do I return an item?",
            RETURNS
        ]
    );
    let newer = browser
        .get(&format!(
            "/widget/v1/conversations/{conversation}/messages?after={first_answer}"
        ))
        .await;
    assert_eq!(newer.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        newer.body["data"][0]["body"],
        "And how do I return an item?"
    );

    // An agent's reply reaches the widget the same way.
    let agent = app
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            json!({"author": "agent", "body": "Anything else I can help with?"}),
        )
        .await;
    assert_eq!(agent.status, StatusCode::CREATED, "{}", agent.text);
    let last_shown = transcript.body["data"][3]["id"].as_str().unwrap();
    let polled = browser
        .get(&format!(
            "/widget/v1/conversations/{conversation}/messages?after={last_shown}"
        ))
        .await;
    assert_eq!(polled.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(polled.body["data"][0]["author"], "agent");

    // The visitor leaves an email; the team sees it, and the conversation, under the same visitor.
    let updated = browser
        .send(
            Method::PATCH,
            "/widget/v1/visitor",
            json!({"email": "vera@example.test"}),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    let team_view = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(team_view.body["visitor_id"], browser.visitor_id.as_str());
    assert_eq!(
        team_view.body["source_url"],
        "https://shop.example.com/products/boots"
    );
    let visitor = app
        .get(&format!("/api/v1/visitors/{}", browser.visitor_id))
        .await;
    assert_eq!(visitor.body["email"], "vera@example.test");
    assert_eq!(visitor.body["name"], "Vera");

    // Ratings, each emitting feedback.received.
    let helpful = browser
        .post(
            &format!("/widget/v1/messages/{first_answer}/feedback"),
            json!({"helpful": true}),
        )
        .await;
    assert_eq!(helpful.status, StatusCode::OK, "{}", helpful.text);
    assert_eq!(helpful.body["entry_id"], shipping.as_str());
    let csat = browser
        .post(
            &format!("/widget/v1/conversations/{conversation}/feedback"),
            json!({"rating": 5, "comment": "quick"}),
        )
        .await;
    assert_eq!(csat.status, StatusCode::OK, "{}", csat.text);
    let events = entities::event::Entity::find()
        .filter(entities::event::Column::ConversationId.eq(&conversation))
        .all(app.db.conn())
        .await
        .unwrap();
    let count = |name: &str| events.iter().filter(|e| e.event == name).count();
    assert_eq!(count("conversation.created"), 1);
    assert_eq!(count("message.created"), 5);
    assert_eq!(count("feedback.received"), 2);

    // Asking for a person hands off: the widget shows the status, and the assistant stays quiet.
    let handoff = browser
        .post(
            &format!("/widget/v1/conversations/{conversation}/messages"),
            json!({"body": "I want to talk to a human"}),
        )
        .await;
    assert_eq!(handoff.status, StatusCode::CREATED, "{}", handoff.text);
    assert_eq!(handoff.body["replies"].as_array().unwrap().len(), 1);
    let shown = browser
        .get(&format!("/widget/v1/conversations/{conversation}"))
        .await;
    assert_eq!(shown.body["status"], "handed_off");
    let quiet = browser
        .post(
            &format!("/widget/v1/conversations/{conversation}/messages"),
            json!({"body": "hello?"}),
        )
        .await;
    assert_eq!(quiet.status, StatusCode::CREATED, "{}", quiet.text);
    assert_eq!(quiet.body["replies"], json!([]));

    let listed = browser.get("/widget/v1/conversations").await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);

    // Ending the session forgets the token at once.
    let ended = call(
        &app,
        Method::DELETE,
        "/widget/v1/session",
        Some(&browser.token),
        Some(SHOP),
        None,
    )
    .await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT, "{}", ended.text);
    let gone = browser.get("/widget/v1/session").await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);
    assert_eq!(gone.error_code(), "UNAUTHENTICATED");
}

#[tokio::test]
async fn a_visitor_reaches_only_their_own_conversations_and_only_the_widget_endpoints() {
    let app = spawn_app().await;
    seed(&app).await;
    let ann = Browser::start(&app, json!({"name": "Ann"})).await;
    let bob = Browser::start(&app, json!({})).await;
    let opened = ann.open("How long does shipping take?").await;
    let conversation = opened["id"].as_str().unwrap();
    let answer = opened["replies"][0]["id"].as_str().unwrap();
    let team = app.create_conversation("a question by email").await;
    let team_conversation = team["id"].as_str().unwrap();
    let messages_before = app.count_rows("messages").await;
    let feedback_before = app.count_rows("feedback").await;

    for id in [conversation, team_conversation] {
        let shown = bob.get(&format!("/widget/v1/conversations/{id}")).await;
        assert_eq!(shown.status, StatusCode::NOT_FOUND, "{}", shown.text);
        assert_eq!(shown.error_code(), "NOT_FOUND");
        let listed = bob
            .get(&format!("/widget/v1/conversations/{id}/messages"))
            .await;
        assert_eq!(listed.status, StatusCode::NOT_FOUND);
        let posted = bob
            .post(
                &format!("/widget/v1/conversations/{id}/messages"),
                json!({"body": "hi"}),
            )
            .await;
        assert_eq!(posted.status, StatusCode::NOT_FOUND, "{}", posted.text);
        let rated = bob
            .post(
                &format!("/widget/v1/conversations/{id}/feedback"),
                json!({"rating": 1}),
            )
            .await;
        assert_eq!(rated.status, StatusCode::NOT_FOUND);
    }
    let rated = bob
        .post(
            &format!("/widget/v1/messages/{answer}/feedback"),
            json!({"helpful": false}),
        )
        .await;
    assert_eq!(rated.status, StatusCode::NOT_FOUND, "{}", rated.text);
    // Ann does not see the team's conversation either, and Bob lists nothing.
    let ann_view = ann
        .get(&format!("/widget/v1/conversations/{team_conversation}"))
        .await;
    assert_eq!(ann_view.status, StatusCode::NOT_FOUND);
    let bob_list = bob.get("/widget/v1/conversations").await;
    assert_eq!(bob_list.body["data"], json!([]));
    assert_eq!(app.count_rows("messages").await, messages_before);
    assert_eq!(app.count_rows("feedback").await, feedback_before);

    // A widget token opens nothing of the team's API, and an API key is not a widget token.
    for path in ["/api/v1/conversations", "/api/v1/visitors"] {
        let refused = app.send(Method::GET, path, Some(&ann.token), None).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let graphql = app
        .graphql_as(
            &ann.token,
            "{ conversations(first: 5) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(graphql.status, StatusCode::UNAUTHORIZED, "{}", graphql.text);
    let key_as_token = call(
        &app,
        Method::GET,
        "/widget/v1/session",
        Some(&app.key),
        Some(SHOP),
        None,
    )
    .await;
    assert_eq!(key_as_token.status, StatusCode::UNAUTHORIZED);
    assert!(
        key_as_token.text.contains("widget token"),
        "{}",
        key_as_token.text
    );

    // Another organization's assistant starts its own visitors, who see nothing of Acme's.
    let other = app.other_organization("Globex").await;
    let started = call(
        &app,
        Method::POST,
        "/widget/v1/sessions",
        None,
        Some(SHOP),
        Some(json!({"assistant_id": other.assistant.id})),
    )
    .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text);
    let outsider = started.body["token"].as_str().unwrap();
    let peek = call(
        &app,
        Method::GET,
        &format!("/widget/v1/conversations/{conversation}"),
        Some(outsider),
        Some(SHOP),
        None,
    )
    .await;
    assert_eq!(peek.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_widget_runs_only_on_the_assistants_allowed_origins_with_cors_for_them() {
    // More sessions from this one address than the default budget allows.
    let app = spawn_app_with(|settings| settings.widget_sessions_per_minute = 100).await;
    let set_origins = |origins: Value| {
        let app = &app;
        async move {
            app.graphql(
                "mutation($id: ID!, $input: UpdateAssistantInput!) { updateAssistant(id: $id, input: $input) { assistant { widget { allowedOrigins } } userErrors { field message code } } }",
                json!({"id": app.org.assistant.id, "input": {"widget": {"allowedOrigins": origins}}}),
            )
            .await
        }
    };
    for bad in [
        "https://shop.example.com/checkout",
        "ftp://shop.example.com",
        "https://Shop.Example.com",
        "https://shop.example.com:443",
        "shop.example.com",
        "https://*",
        "https://*.com",
    ] {
        let refused = set_origins(json!([bad]))
            .await
            .user_error("updateAssistant");
        assert_eq!(refused["code"], "BAD_USER_INPUT", "{bad}: {refused}");
        assert_eq!(
            refused["field"],
            json!(["input", "widget", "allowedOrigins"]),
            "{bad}: {refused}"
        );
    }
    let saved = set_origins(json!([
        SHOP,
        "https://*.example.org",
        "http://localhost:3000"
    ]))
    .await;
    assert_eq!(
        saved.payload("updateAssistant")["assistant"]["widget"]["allowedOrigins"],
        json!([SHOP, "https://*.example.org", "http://localhost:3000"])
    );

    let start = |origin: Option<&'static str>| {
        let app = &app;
        async move {
            call(
                app,
                Method::POST,
                "/widget/v1/sessions",
                None,
                origin,
                Some(json!({"assistant_id": app.org.assistant.id})),
            )
            .await
        }
    };
    let visitors_before = app.count_rows("visitors").await;
    for refused_origin in [
        Some("https://evil.test"),
        Some("https://example.org"),
        Some("http://shop.example.com"),
        Some("http://localhost:3001"),
        None,
    ] {
        let refused = start(refused_origin).await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{refused_origin:?}: {}",
            refused.text
        );
        assert_eq!(refused.error_code(), "FORBIDDEN");
    }
    assert_eq!(app.count_rows("visitors").await, visitors_before);
    for allowed in [SHOP, "https://help.example.org", "http://localhost:3000"] {
        let started = start(Some(allowed)).await;
        assert_eq!(
            started.status,
            StatusCode::CREATED,
            "{allowed}: {}",
            started.text
        );
        assert_eq!(started.headers["access-control-allow-origin"], allowed);
    }
    assert_eq!(app.count_rows("visitors").await, visitors_before + 3);

    // A token from an allowed page does not work from another site.
    let browser = Browser::start(&app, json!({})).await;
    let elsewhere = call(
        &app,
        Method::GET,
        "/widget/v1/session",
        Some(&browser.token),
        Some("https://evil.test"),
        None,
    )
    .await;
    assert_eq!(
        elsewhere.status,
        StatusCode::FORBIDDEN,
        "{}",
        elsewhere.text
    );
    assert!(browser.get("/widget/v1/session").await.status.is_success());

    // The browser's preflight is answered for the widget's methods and headers.
    let preflight = app
        .client
        .request(Method::OPTIONS, app.url("/widget/v1/conversations"))
        .header("origin", SHOP)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let headers = preflight.headers();
    assert_eq!(headers["access-control-allow-origin"], SHOP);
    let allowed_headers = headers["access-control-allow-headers"].to_str().unwrap();
    assert!(
        allowed_headers.contains("authorization"),
        "{allowed_headers}"
    );
    assert!(
        headers["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );

    // With no allowed origins listed, any page may run the widget.
    let cleared = set_origins(json!([])).await;
    assert!(cleared.body.get("errors").is_none(), "{}", cleared.text);
    assert_eq!(
        start(Some("https://anywhere.test")).await.status,
        StatusCode::CREATED
    );
    assert_eq!(start(None).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn widget_requests_are_limited_per_client_address() {
    let app = spawn_app_with(|settings| {
        settings.widget_sessions_per_minute = 3;
        settings.widget_requests_per_minute = 5;
    })
    .await;
    let start = || {
        call(
            &app,
            Method::POST,
            "/widget/v1/sessions",
            None,
            Some(SHOP),
            Some(json!({"assistant_id": app.org.assistant.id})),
        )
    };
    let mut token = String::new();
    for i in 0..3 {
        let started = start().await;
        assert_eq!(
            started.status,
            StatusCode::CREATED,
            "session {i}: {}",
            started.text
        );
        assert_eq!(started.headers["ratelimit-limit"], "3");
        token = started.body["token"].as_str().unwrap().to_owned();
    }
    let refused = start().await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.text
    );
    assert_eq!(refused.error_code(), "RATE_LIMITED");
    assert!(refused.headers.contains_key("retry-after"));
    // CORS headers stay on the refusal, so the widget can read it.
    assert_eq!(refused.headers["access-control-allow-origin"], SHOP);
    assert_eq!(app.count_rows("visitors").await, 3);

    // Other widget requests have their own budget.
    for i in 0..5 {
        let shown = call(
            &app,
            Method::GET,
            "/widget/v1/session",
            Some(&token),
            Some(SHOP),
            None,
        )
        .await;
        assert_eq!(shown.status, StatusCode::OK, "request {i}: {}", shown.text);
    }
    let limited = call(
        &app,
        Method::GET,
        "/widget/v1/session",
        Some(&token),
        Some(SHOP),
        None,
    )
    .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    // The team's API is not counted against the widget's budget.
    assert_eq!(
        app.get("/api/v1/conversations").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn bad_widget_input_gets_clear_errors_and_writes_nothing() {
    let app = spawn_app().await;
    seed(&app).await;
    let browser = Browser::start(&app, json!({})).await;
    let opened = browser.open("How long does shipping take?").await;
    let conversation = opened["id"].as_str().unwrap().to_owned();
    let tables = [
        "visitors",
        "widget_sessions",
        "conversations",
        "messages",
        "feedback",
        "events",
    ];
    let mut before = Vec::new();
    for table in tables {
        before.push(app.count_rows(table).await);
    }

    let start = |body: Value| {
        call(
            &app,
            Method::POST,
            "/widget/v1/sessions",
            None,
            Some(SHOP),
            Some(body),
        )
    };
    let unknown = start(json!({"assistant_id": "asst_01JD0000000000000000000000"})).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text);
    let malformed = start(json!({"assistant_id": "nope"})).await;
    assert_eq!(
        malformed.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        malformed.text
    );
    assert!(malformed.text.contains("assistant_id"));
    let email =
        start(json!({"assistant_id": app.org.assistant.id, "visitor": {"email": "not-an-email"}}))
            .await;
    assert_eq!(
        email.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        email.text
    );
    assert!(email.text.contains("visitor.email"));
    let extra = start(json!({"assistant_id": app.org.assistant.id, "role": "owner"})).await;
    assert_eq!(
        extra.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        extra.text
    );
    let syntax = app
        .client
        .post(app.url("/widget/v1/sessions"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(syntax.status(), StatusCode::BAD_REQUEST);

    let messages = format!("/widget/v1/conversations/{conversation}/messages");
    for (body, field) in [
        (json!({"body": ""}), "body"),
        (json!({"body": "   "}), "body"),
        (json!({"body": "x".repeat(8 * 1024 + 1)}), "8192"),
        (json!({"body": "hi", "author": "agent"}), "author"),
    ] {
        let refused = browser.post(&messages, body).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.text
        );
        assert!(refused.text.contains(field), "{field}: {}", refused.text);
    }
    let rating = browser
        .post(
            &format!("/widget/v1/conversations/{conversation}/feedback"),
            json!({"rating": 6}),
        )
        .await;
    assert_eq!(rating.status, StatusCode::UNPROCESSABLE_ENTITY);
    let visitor_message = opened["initial_message"]["id"].as_str().unwrap();
    let not_an_answer = browser
        .post(
            &format!("/widget/v1/messages/{visitor_message}/feedback"),
            json!({"helpful": true}),
        )
        .await;
    assert_eq!(not_an_answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let both = browser
        .get(&format!("{messages}?after={visitor_message}&cursor=abc"))
        .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
    let bad_after = browser.get(&format!("{messages}?after=conv_x")).await;
    assert_eq!(
        bad_after.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        bad_after.text
    );
    let clear_nothing = browser
        .send(Method::PATCH, "/widget/v1/visitor", json!({}))
        .await;
    assert_eq!(clear_nothing.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Credentials: none, malformed, unknown, expired.
    for token in [
        None,
        Some("cw_short"),
        Some("cw_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    ] {
        let refused = call(
            &app,
            Method::GET,
            "/widget/v1/session",
            token,
            Some(SHOP),
            None,
        )
        .await;
        assert_eq!(
            refused.status,
            StatusCode::UNAUTHORIZED,
            "{token:?}: {}",
            refused.text
        );
        assert_eq!(refused.error_code(), "UNAUTHENTICATED");
    }

    for (table, count) in tables.iter().zip(&before) {
        assert_eq!(app.count_rows(table).await, *count, "{table}");
    }

    // A closed conversation takes no more messages; an expired session no more requests.
    let closed = app
        .put(
            &format!("/api/v1/conversations/{conversation}"),
            json!({"status": "closed"}),
        )
        .await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.text);
    let late = browser
        .post(&messages, json!({"body": "one more thing"}))
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.text);
    let resume = browser.get("/widget/v1/session").await;
    assert_eq!(
        resume.body["conversation"],
        Value::Null,
        "closed conversations are not resumed"
    );
    entities::widget_session::Entity::update_many()
        .col_expr(
            entities::widget_session::Column::ExpiresAt,
            sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)),
        )
        .exec(app.db.conn())
        .await
        .unwrap();
    let expired = browser.get("/widget/v1/session").await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert!(expired.text.contains("expired"), "{}", expired.text);
}

#[tokio::test]
async fn an_ai_answer_streams_to_the_widget_as_server_sent_events() {
    let fake = FakeOpenAi::start().await;
    let app = spawn_app_with(|settings| settings.egress_allow = Some("127.0.0.1/32".into())).await;
    let (shipping, _) = seed(&app).await;
    let configured = app
        .mutate(
            "mutation($id: ID!, $input: UpdateAssistantInput!) { updateAssistant(id: $id, input: $input) { assistant { id providerKeySet } userErrors { field message code } } }",
            json!({"id": app.org.assistant.id, "input": {"engine": {"provider": {"baseUrl": fake.base_url, "standardModel": "small-model"}}, "providerApiKey": "sk-test-123"}}),
            "updateAssistant",
        )
        .await;
    assert_eq!(configured["assistant"]["providerKeySet"], true);
    let browser = Browser::start(&app, json!({})).await;
    let opened = browser
        .post("/widget/v1/conversations", json!({"subject": "shipping"}))
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.text);
    let conversation = opened.body["id"].as_str().unwrap();
    let response = app
        .client
        .post(app.url(&format!("/widget/v1/conversations/{conversation}/messages")))
        .bearer_auth(&browser.token)
        .header("origin", SHOP)
        .header("accept", "text/event-stream")
        .json(&json!({"body": "how long does shipping take?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["access-control-allow-origin"], SHOP);
    let text = response.text().await.unwrap();
    let events = parse_sse(&text);
    let deltas: String = events
        .iter()
        .filter(|(e, _)| e == "delta")
        .map(|(_, d)| d["text"].as_str().unwrap())
        .collect();
    assert!(
        events.iter().filter(|(e, _)| e == "delta").count() > 1,
        "{text}"
    );
    let (last, posted) = events.last().unwrap();
    assert_eq!(last, "message");
    let reply = &posted["replies"][0];
    assert_eq!(reply["author"], "assistant");
    assert_eq!(reply["body"].as_str().unwrap(), deltas);
    assert!(reply.get("reply_source").is_none());
    assert_eq!(reply["citations"], json!([shipping]));
    assert_eq!(fake.seen().len(), 1);
}

#[tokio::test]
async fn the_answer_follows_the_page_the_visitor_asks_from() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for (title, body) in [
        (
            "How do I return headphones or other electronics?",
            "Electronics can be returned within 14 days in their original packaging with all accessories.",
        ),
        (
            "How do I return a dress or other clothing?",
            "Clothing can be returned within 30 days, unworn and with its labels attached.",
        ),
    ] {
        let created = app
            .post(
                "/api/v1/knowledge-base",
                json!({"title": title, "body": body, "category": "returns"}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        ids.push(created.body["id"].as_str().unwrap().to_owned());
    }
    let browser = Browser::start(&app, json!({})).await;
    let opened = browser
        .post(
            "/widget/v1/conversations",
            json!({"page_title": "Wireless headphones | Electronics", "source_url": "https://shop.example.com/electronics/headphones-x1"}),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.text);
    let messages = format!(
        "/widget/v1/conversations/{}/messages",
        opened.body["id"].as_str().unwrap()
    );
    let question = "how do I return it?";
    let on_headphones = browser.post(&messages, json!({"body": question})).await;
    assert_eq!(
        on_headphones.status,
        StatusCode::CREATED,
        "{}",
        on_headphones.text
    );
    assert_eq!(
        on_headphones.body["replies"][0]["source_entry_id"], ids[0],
        "{}",
        on_headphones.text
    );
    // The visitor moved to a dress: the same question is answered for that page.
    let on_a_dress = browser
        .post(
            &messages,
            json!({"body": question, "page_title": "Summer dress", "page_url": "https://shop.example.com/clothing/summer-dress", "page_context": "clothing"}),
        )
        .await;
    assert_eq!(
        on_a_dress.status,
        StatusCode::CREATED,
        "{}",
        on_a_dress.text
    );
    assert_eq!(
        on_a_dress.body["replies"][0]["source_entry_id"], ids[1],
        "{}",
        on_a_dress.text
    );
    let bad_page = browser
        .post(
            &messages,
            json!({"body": question, "page_url": "javascript:alert(1)"}),
        )
        .await;
    assert_eq!(bad_page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad_page.text.contains("page_url"), "{}", bad_page.text);
}

/// Reads server-sent events from a streaming response until `count` events (keep-alive comments aside) came.
async fn next_events(
    response: &mut reqwest::Response,
    count: usize,
) -> Vec<(String, Value, String)> {
    let mut buffer = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while events.len() < count {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .expect("events within 10 s")
            .unwrap()
            .expect("the stream stays open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let (mut name, mut data, mut id) = (String::new(), String::new(), String::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                } else if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().to_owned();
                }
            }
            if !name.is_empty() {
                events.push((name, serde_json::from_str(&data).unwrap(), id));
            }
        }
    }
    events
}

#[tokio::test]
async fn the_widget_follows_its_conversation_live_and_resumes_after_the_last_event() {
    let app = spawn_app().await;
    seed(&app).await;
    let browser = Browser::start(&app, json!({})).await;
    let opened = browser.open("How long does shipping take?").await;
    let conversation = opened["id"].as_str().unwrap().to_owned();
    let follow = |last: Option<String>| {
        let mut request = app
            .client
            .get(app.url(&format!("/widget/v1/conversations/{conversation}/events")))
            .bearer_auth(&browser.token)
            .header("origin", SHOP)
            .header("accept", "text/event-stream");
        if let Some(last) = last {
            request = request.header("last-event-id", last);
        }
        request.send()
    };
    let mut live = follow(None).await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    assert_eq!(live.headers()["access-control-allow-origin"], SHOP);

    // An agent takes over: the visitor sees the handoff and the agent's reply as they happen.
    let handed = app
        .put(
            &format!("/api/v1/conversations/{conversation}"),
            json!({"status": "handed_off"}),
        )
        .await;
    assert_eq!(handed.status, StatusCode::OK, "{}", handed.text);
    // The agent's reply carries a screenshot: the live event shows it with a signed URL.
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let shot = app
        .send_raw(
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/attachments"),
            Some("image/png"),
            png.clone(),
        )
        .await;
    assert_eq!(shot.status, StatusCode::CREATED, "{}", shot.text);
    let reply = app
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            json!({"author": "agent", "body": "Hi, I'm Sam from support.", "attachment_ids": [shot.body["id"]]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    // The handoff is two status events (conversation.updated, handoff.requested), then the message.
    let events = next_events(&mut live, 3).await;
    let names: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        names,
        ["conversation", "conversation", "message"],
        "{events:?}"
    );
    assert!(events[..2].iter().all(|e| e.1["status"] == "handed_off"));
    let (_, agent_message, first_id) = events.iter().find(|e| e.0 == "message").unwrap().clone();
    assert_eq!(agent_message["author"], "agent");
    assert_eq!(agent_message["body"], "Hi, I'm Sam from support.");
    assert!(agent_message.get("sentiment").is_none());
    assert!(first_id.starts_with("evt_"));
    assert_eq!(agent_message["attachments"][0]["content_type"], "image/png");
    let image = reqwest::get(agent_message["attachments"][0]["url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(image.bytes().await.unwrap().to_vec(), png);
    drop(live);

    // Reconnecting after the last event seen brings what came meanwhile, and nothing twice.
    let resolved = app
        .put(
            &format!("/api/v1/conversations/{conversation}"),
            json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(resolved.status, StatusCode::OK, "{}", resolved.text);
    let mut resumed = follow(Some(first_id.clone())).await.unwrap();
    let after = next_events(&mut resumed, 1).await;
    assert_eq!(after[0].0, "conversation", "{after:?}");
    assert_eq!(after[0].1["status"], "resolved");
    assert!(after[0].2 > first_id);

    // Another visitor cannot follow it.
    let other = Browser::start(&app, json!({})).await;
    let refused = app
        .client
        .get(app.url(&format!("/widget/v1/conversations/{conversation}/events")))
        .bearer_auth(&other.token)
        .header("origin", SHOP)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_address_has_its_own_budget_and_spoofing_does_not_help()
{
    let start = |app: &TestApp, forwarded: &'static str| {
        let request = app
            .client
            .post(app.url("/widget/v1/sessions"))
            .header("origin", SHOP)
            .header("x-forwarded-for", forwarded)
            .json(&json!({"assistant_id": app.org.assistant.id}));
        async move { request.send().await.unwrap().status() }
    };
    // The server sits behind a load balancer on loopback: X-Forwarded-For names the client.
    let app = spawn_app_with(|settings| {
        settings.widget_sessions_per_minute = 2;
        settings.trusted_proxies = Some("127.0.0.1/32".to_owned());
    })
    .await;
    assert_eq!(start(&app, "203.0.113.7").await, StatusCode::CREATED);
    assert_eq!(start(&app, "203.0.113.7").await, StatusCode::CREATED);
    assert_eq!(
        start(&app, "203.0.113.7").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client behind the same proxy is not held back by the first.
    assert_eq!(start(&app, "198.51.100.9").await, StatusCode::CREATED);
    // What a client writes on the left of the header is not believed: the proxy appended the real address.
    assert_eq!(
        start(&app, "192.0.2.55, 203.0.113.7").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Nor can garbage written there make the proxy the client (and so spend everyone's budget).
    assert_eq!(
        start(&app, "not-an-address, 203.0.113.7").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The audit log records the client's address too (here, a failed sign-in).
    let failed = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", "198.51.100.20")
        .json(&json!({"email": "owner@acme.test", "password": "not the password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    let log = app
        .get("/api/v1/audit-log?action=member.login_failed")
        .await;
    assert_eq!(log.body["data"][0]["ip"], "198.51.100.20", "{}", log.text);

    // Without trusted proxies the header is ignored: everyone on this peer shares one budget.
    let direct = spawn_app_with(|settings| settings.widget_sessions_per_minute = 2).await;
    assert_eq!(start(&direct, "203.0.113.7").await, StatusCode::CREATED);
    assert_eq!(start(&direct, "198.51.100.9").await, StatusCode::CREATED);
    assert_eq!(
        start(&direct, "192.0.2.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_widget_turned_off_refuses_new_and_open_sessions_until_it_is_on_again() {
    let app = spawn_app().await;
    let visitor = Browser::start(&app, json!({})).await;
    let turn = |enabled: bool| {
        let app = &app;
        async move {
            let payload = app
                .graphql(
                    "mutation($id: ID!, $on: Boolean!) { updateAssistant(id: $id, input: {widget: {enabled: $on}}) { assistant { widget { enabled position } } userErrors { message } } }",
                    json!({"id": app.org.assistant.id, "on": enabled}),
                )
                .await
                .payload("updateAssistant");
            assert_eq!(payload["assistant"]["widget"]["enabled"], enabled);
            // The rest of the widget's settings stay as they were.
            assert_eq!(payload["assistant"]["widget"]["position"], "BOTTOM_RIGHT");
        }
    };
    turn(false).await;
    let started = call(
        &app,
        Method::POST,
        "/widget/v1/sessions",
        None,
        Some(SHOP),
        Some(json!({"assistant_id": app.org.assistant.id})),
    )
    .await;
    assert_eq!(started.status, StatusCode::FORBIDDEN, "{}", started.text);
    assert!(started.text.contains("turned off"), "{}", started.text);
    let open = visitor.get("/widget/v1/session").await;
    assert_eq!(open.status, StatusCode::FORBIDDEN, "{}", open.text);
    let visitors_before = app.count_rows("visitors").await;
    turn(true).await;
    assert_eq!(
        visitor.get("/widget/v1/session").await.status,
        StatusCode::OK
    );
    Browser::start(&app, json!({})).await;
    assert_eq!(app.count_rows("visitors").await, visitors_before + 1);
}

#[tokio::test]
async fn the_contact_form_saves_the_visitors_details_in_their_conversation() {
    let app = spawn_app().await;
    let browser = Browser::start(&app, json!({"name": "Vera"})).await;
    let opened = browser.open("Do you ship to Austria?").await;
    let conversation = opened["id"].as_str().unwrap().to_owned();
    let path = format!("/widget/v1/conversations/{conversation}/contact");

    // A form that leaves no way to reach the visitor is refused, and records nothing.
    let events_before = app.count_rows("events").await;
    let empty = browser
        .post(&path, json!({"name": "Vera Lind", "email": " "}))
        .await;
    assert_eq!(
        empty.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        empty.text
    );
    assert!(
        empty
            .text
            .contains("email: give an email address or a phone number"),
        "{}",
        empty.text
    );
    let bad = browser
        .post(&path, json!({"email": "not an address"}))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    assert!(
        bad.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("email"),
        "{}",
        bad.text
    );
    let unknown = browser
        .post(&path, json!({"email": "v@example.test", "fax": "1"}))
        .await;
    assert_eq!(
        unknown.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        unknown.text
    );
    // Another visitor's conversation is not found.
    let other = Browser::start(&app, json!({})).await;
    let theirs = other
        .post(&path, json!({"email": "intruder@example.test"}))
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.text);
    assert_eq!(app.count_rows("events").await, events_before);

    let saved = browser
        .post(
            &path,
            json!({"name": "Vera Lind", "email": "Vera@Example.test", "phone": "+43 1 234 5678"}),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    assert_eq!(saved.body["visitor"]["email"], "vera@example.test");
    assert_eq!(saved.body["visitor"]["name"], "Vera Lind");
    let team = app
        .get(&format!("/api/v1/visitors/{}", browser.visitor_id))
        .await;
    assert_eq!(team.body["phone"], "+43 1 234 5678");
    // The change and the submission, in the conversation's stream; sending the same again is a submission only.
    browser
        .post(&path, json!({"email": "vera@example.test"}))
        .await;
    let events = app
        .get("/api/v1/events?types=visitor.updated,visitor.form_submitted")
        .await;
    let kinds: Vec<&str> = events.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "visitor.updated",
            "visitor.form_submitted",
            "visitor.form_submitted"
        ]
    );
    let submitted = &events.body["data"][1]["data"];
    assert_eq!(submitted["conversation_id"], conversation.as_str());
    assert_eq!(submitted["email"], "vera@example.test");
}
