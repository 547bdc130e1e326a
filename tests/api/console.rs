//! The console as HTTP serves it: `/` leads to it, every page is its index.html under a strict policy, its
//! files are cached for good; and the API it stands on: the current session's anti-CSRF token, the caller's
//! permissions, the invitation link, where an email signs in.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::console_browser::member_with_password;
use crate::helpers::{TestApp, spawn_app};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_root_leads_to_the_console_whose_pages_are_its_index_under_a_strict_policy() {
    let app = spawn_app().await;
    let root = client().get(app.url("/")).send().await.unwrap();
    assert_eq!(root.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(root.headers()["location"], "/console/");

    let mut script = None;
    for path in [
        "/console",
        "/console/",
        "/console/inbox",
        "/console/inbox/cnv_123",
        "/console/sign-in?next=%2Finbox",
    ] {
        let page = client().get(app.url(path)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        let h = page.headers().clone();
        assert_eq!(h["content-type"], "text/html; charset=utf-8", "{path}");
        assert_eq!(h["cache-control"], "no-cache", "{path}");
        // Framed by no other site (its own pages frame the widget's preview).
        assert_eq!(h["x-frame-options"], "SAMEORIGIN");
        assert_eq!(h["x-content-type-options"], "nosniff");
        let csp = h["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'self'",
            "object-src 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(directive), "{csp} lacks {directive}");
        }
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        let html = page.text().await.unwrap();
        assert!(!html.contains("<script>"), "no inline script: {html}");
        assert!(!html.contains("https://"), "nothing from elsewhere: {html}");
        let src = html
            .split("src=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("{html}"))
            .to_owned();
        assert!(
            src.starts_with("/console/assets/index-") && src.ends_with(".js"),
            "{src}"
        );
        script = Some(src);
    }

    // The files name their content: a year, immutable; compressed when the browser accepts it; 304 when current.
    let script = script.unwrap();
    let file = client()
        .get(app.url(&script))
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    assert_eq!(
        file.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(
        file.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(file.headers()["content-encoding"], "br");
    let etag = file.headers()["etag"].clone();
    let again = client()
        .get(app.url(&script))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    // Unlike the widget's files, the console's are not for other sites.
    assert!(file.headers().get("access-control-allow-origin").is_none());

    for missing in [
        "/console/assets/index-0000.js",
        "/console/assets/..%2Fmanifest.json",
    ] {
        let response = client().get(app.url(missing)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{missing}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "NOT_FOUND");
    }
}

async fn login(app: &TestApp, email: &str) -> Value {
    let login = app
        .send(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": email, "password": "a long and private passphrase"})),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    login.body
}

#[tokio::test]
async fn the_session_cookie_tells_its_own_anti_csrf_token_and_an_api_key_has_none() {
    let app = spawn_app().await;
    member_with_password(&app, "carla@acme.test", "AGENT").await;
    let signed_in = login(&app, "carla@acme.test").await;
    let token = signed_in["token"].as_str().unwrap();
    let cookie = format!("concierge_session={token}");

    let current = client()
        .get(app.url("/api/v1/auth/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(current.status(), StatusCode::OK);
    let body: Value = current.json().await.unwrap();
    assert_eq!(body["csrf_token"], signed_in["csrf_token"]);
    assert_eq!(body["session"]["id"], signed_in["session_id"]);
    assert_eq!(body["session"]["current"], true);
    assert_eq!(body["session"]["method"], "password");

    // The token it gives lets a cross-site write through; without it the write is refused.
    let query = json!({"query": "mutation { handOffConversation(id: \"cnv_0\") { userErrors { message } } }"});
    let refused = client()
        .post(app.url("/graphql"))
        .header("cookie", &cookie)
        .header("origin", "https://elsewhere.example")
        .json(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let allowed = client()
        .post(app.url("/graphql"))
        .header("cookie", &cookie)
        .header("origin", "https://elsewhere.example")
        .header("x-csrf-token", body["csrf_token"].as_str().unwrap())
        .json(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);

    let key = app.get("/api/v1/auth/session").await;
    assert_eq!(key.status, StatusCode::FORBIDDEN, "{}", key.text);
    assert_eq!(key.error_code(), "FORBIDDEN");
    let nobody = client()
        .get(app.url("/api/v1/auth/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(nobody.status(), StatusCode::UNAUTHORIZED);

    // Signed out, the cookie tells nothing.
    let out = client()
        .post(app.url("/api/v1/auth/logout"))
        .header("cookie", &cookie)
        .header("x-csrf-token", body["csrf_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let ended = client()
        .get(app.url("/api/v1/auth/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::UNAUTHORIZED);
}

/// `me.permissions` as a map from "RESOURCE ACTION" to (allowed, requiredPlan).
async fn permissions(
    app: &TestApp,
    bearer: &str,
) -> std::collections::HashMap<String, (bool, Value)> {
    let reply = app
        .graphql_as(
            bearer,
            "{ me { permissions { resource action allowed requiredPlan } } }",
            json!({}),
        )
        .await;
    reply.body["data"]["me"]["permissions"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", reply.text))
        .iter()
        .map(|p| {
            (
                format!(
                    "{} {}",
                    p["resource"].as_str().unwrap(),
                    p["action"].as_str().unwrap()
                ),
                (p["allowed"].as_bool().unwrap(), p["requiredPlan"].clone()),
            )
        })
        .collect()
}

#[tokio::test]
async fn permissions_say_what_the_role_and_plan_allow_and_which_plan_has_the_rest() {
    let app = spawn_app().await;
    member_with_password(&app, "agnes@acme.test", "AGENT").await;
    member_with_password(&app, "adam@acme.test", "ADMIN").await;
    member_with_password(&app, "olga@acme.test", "OWNER").await;
    let owner = login(&app, "olga@acme.test").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let agent = login(&app, "agnes@acme.test").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin = login(&app, "adam@acme.test").await["token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Premium: the admin has webhooks and SSO reading; the agent replies but has no settings.
    let p = permissions(&app, &admin).await;
    assert_eq!(p["WEBHOOKS WRITE"], (true, Value::Null));
    assert_eq!(p["KNOWLEDGE_BASE DELETE"], (true, Value::Null));
    let p = permissions(&app, &agent).await;
    assert_eq!(p["CONVERSATIONS WRITE"], (true, Value::Null));
    assert_eq!(p["MESSAGES WRITE"], (true, Value::Null));
    assert_eq!(
        p["WEBHOOKS READ"],
        (false, Value::Null),
        "no plan gives an agent webhooks"
    );
    assert_eq!(p["API_KEYS WRITE"], (false, Value::Null));
    assert!(
        !p.contains_key("ANALYTICS DELETE"),
        "only pairs the policy names: {p:?}"
    );

    // What each plan includes, from the policy: each adds to the one below it.
    let plans = app
        .graphql_as(
            &agent,
            "{ plans { plan current features adds } }",
            json!({}),
        )
        .await;
    let plans = plans.body["data"]["plans"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", plans.text))
        .clone();
    let names: Vec<&str> = plans.iter().map(|p| p["plan"].as_str().unwrap()).collect();
    assert_eq!(names, ["BASIC", "STANDARD", "PREMIUM"]);
    assert_eq!(plans[2]["current"], true);
    assert_eq!(plans[0]["current"], false);
    assert_eq!(
        plans[0]["adds"],
        json!(["CORE", "INTEGRATIONS_BASIC", "EMBED"])
    );
    assert_eq!(
        plans[2]["adds"],
        json!([
            "INTEGRATIONS_CRM_ADVANCED",
            "API_SUBSCRIPTIONS",
            "API_ANALYTICS_EXPORT",
            "SSO"
        ])
    );
    let all = |i: usize| plans[i]["features"].as_array().unwrap().len();
    assert_eq!(
        (all(0), all(1), all(2)),
        (3, 9, 13),
        "every feature of the policy is named: {plans:?}"
    );

    // On the basic plan, what the plan lacks names the plan that has it.
    app.mutate(
        "mutation { setOrganizationPlan(plan: BASIC) { organization { plan } userErrors { message } } }",
        json!({}),
        "setOrganizationPlan",
    )
    .await;
    let p = permissions(&app, &admin).await;
    assert_eq!(p["WEBHOOKS WRITE"], (false, json!("STANDARD")));
    assert_eq!(p["CONVERSATIONS READ"], (true, Value::Null));
    let p = permissions(&app, &owner).await;
    assert_eq!(p["SSO WRITE"], (false, json!("PREMIUM")));
    assert_eq!(p["ANALYTICS EXPORT"], (false, json!("PREMIUM")));
    assert_eq!(p["PLAN WRITE"], (true, Value::Null));

    // On the standard plan, a key scoped to the knowledge base is told it may not touch conversations.
    app.mutate_as(
        &owner,
        "mutation { setOrganizationPlan(plan: STANDARD) { organization { plan } userErrors { message } } }",
        json!({}),
        "setOrganizationPlan",
    )
    .await;
    let scoped = app
        .mutate(
            "mutation { createApiKey(input: {name: \"kb\", role: ADMIN, scopes: [KNOWLEDGE_BASE_WRITE]}) { secret userErrors { field message } } }",
            json!({}),
            "createApiKey",
        )
        .await;
    let p = permissions(&app, scoped["secret"].as_str().unwrap()).await;
    assert_eq!(p["KNOWLEDGE_BASE WRITE"], (true, Value::Null));
    assert_eq!(p["CONVERSATIONS READ"], (false, Value::Null));
}

#[tokio::test]
async fn the_sign_in_lookup_says_whether_the_organization_enforces_sso() {
    let app = spawn_app().await;
    let created = app
        .mutate(
            "mutation($input: CreateSsoConnectionInput!) { createSsoConnection(input: $input) { ssoConnection { id } userErrors { field message code } } }",
            json!({"input": {
                "name": "Corp", "protocol": "OAUTH2", "domains": ["corp.test"],
                "oauth2": {
                    "authorizationUrl": "https://idp.example.com/authorize",
                    "tokenUrl": "https://idp.example.com/token",
                    "userinfoUrl": "https://idp.example.com/userinfo",
                    "clientId": "concierge", "clientSecret": "a-secret-of-enough-length-123",
                },
            }}),
            "createSsoConnection",
        )
        .await;
    let id = created["ssoConnection"]["id"].as_str().unwrap();
    let lookup = app
        .send(Method::GET, "/sso/lookup?email=ann@corp.test", None, None)
        .await;
    assert_eq!(lookup.status, StatusCode::OK, "{}", lookup.text);
    assert_eq!(lookup.body["enforced"], false);
    assert_eq!(lookup.body["connection_id"], id);
    app.mutate(
        "mutation { setSsoEnforced(enforced: true) { organization { ssoEnforced } userErrors { message } } }",
        json!({}),
        "setSsoEnforced",
    )
    .await;
    let lookup = app
        .send(Method::GET, "/sso/lookup?email=ann@corp.test", None, None)
        .await;
    assert_eq!(lookup.body["enforced"], true, "{}", lookup.text);
}

#[tokio::test]
async fn the_consoles_own_origin_may_preview_any_assistants_widget_and_other_sites_only_as_allowed()
{
    let app = spawn_app().await;
    app.mutate(
        "mutation($id: ID!) { updateAssistant(id: $id, input: {widget: {allowedOrigins: [\"https://shop.example.com\"]}}) { assistant { id } userErrors { field message } } }",
        json!({"id": app.org.assistant.id}),
        "updateAssistant",
    )
    .await;
    let start = |origin: String| {
        let app = &app;
        async move {
            client()
                .post(app.url("/widget/v1/sessions"))
                .header("origin", origin)
                .json(&json!({"assistant_id": app.org.assistant.id}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // The console's preview runs on the server's own origin.
    assert_eq!(start(app.address.clone()).await, StatusCode::CREATED);
    assert_eq!(
        start("https://shop.example.com".into()).await,
        StatusCode::CREATED
    );
    assert_eq!(
        start("https://elsewhere.example".into()).await,
        StatusCode::FORBIDDEN
    );
    // A look-alike of the server's origin on another port is another site.
    let other_port = app
        .address
        .rsplit_once(':')
        .map(|(host, _)| format!("{host}:1"))
        .unwrap();
    assert_eq!(start(other_port).await, StatusCode::FORBIDDEN);
}
