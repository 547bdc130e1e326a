//! Plain OAuth 2.0 sign-in through a userinfo endpoint (oidc-provider as an OAuth 2.0 server).

use super::*;

#[tokio::test]
async fn an_oauth2_provider_without_oidc_signs_members_in_through_its_userinfo_endpoint() {
    let app = spawn_app_with(|settings| settings.egress_allow = Some("127.0.0.1/32".into())).await;
    let port = free_port();
    let issuer = Idp::issuer(port);
    let created = app
        .mutate(
            "mutation($input: CreateSsoConnectionInput!) { createSsoConnection(input: $input) { ssoConnection { id protocol loginPath oauth2 { userinfoUrl } attributes { subject } } userErrors { field message code } } }",
            json!({"input": {
                "name": "Plain OAuth",
                "protocol": "OAUTH2",
                "domains": ["corp.test"],
                "oauth2": {
                    "authorizationUrl": format!("{issuer}/auth"),
                    "tokenUrl": format!("{issuer}/token"),
                    "userinfoUrl": format!("{issuer}/me"),
                    "clientId": "concierge",
                    "clientSecret": CLIENT_SECRET,
                    "scopes": ["openid", "email", "profile", "groups"],
                },
                "roleRules": [{"attribute": "groups", "value": "support", "role": "AGENT"}],
            }}),
            "createSsoConnection",
        )
        .await;
    let connection = created["ssoConnection"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["ssoConnection"]["protocol"], "OAUTH2");
    assert_eq!(
        created["ssoConnection"]["loginPath"],
        format!("/sso/oauth2/{connection}/login")
    );
    let callback = app.url(&format!("/sso/oauth2/{connection}/callback"));
    let _idp = Idp::start(port, &callback, accounts(json!(["support"]))).await;
    let tested = app
        .mutate(
            "mutation($id: ID!) { testSsoConnection(id: $id) { test { ok checks { name ok } } userErrors { field message code } } }",
            json!({"id": connection}),
            "testSsoConnection",
        )
        .await;
    assert_eq!(
        tested["test"],
        json!({"ok": true, "checks": [
            {"name": "authorization_url", "ok": true},
            {"name": "token_url", "ok": true},
            {"name": "userinfo_url", "ok": true},
            {"name": "client_secret", "ok": true},
        ]})
    );
    let lookup = app
        .send(Method::GET, "/sso/lookup?email=alice@corp.test", None, None)
        .await;
    assert_eq!(
        lookup.body["login_url"],
        app.url(&format!("/sso/oauth2/{connection}/login"))
    );

    let alice = browser();
    let started = alice
        .get(app.url(&format!("/sso/oauth2/{connection}/login?return_to=/inbox")))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let authorize = reqwest::Url::parse(&location(&started)).unwrap();
    let query: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(!query.contains_key("nonce"));
    let back = through_the_idp(&alice, authorize.as_str(), "alice", &app).await;
    let finished = alice.get(&back).send().await.unwrap();
    assert_eq!(
        finished.status(),
        StatusCode::SEE_OTHER,
        "{}",
        finished.text().await.unwrap()
    );
    let who = me(&app, &alice).await;
    assert_eq!(who["signInMethod"], "OAUTH2");
    assert_eq!(who["role"], "AGENT");
    assert_eq!(who["member"]["email"], "alice@corp.test");
    // The OIDC path does not take an OAuth 2.0 connection.
    let wrong = browser()
        .get(app.url(&format!("/sso/oidc/{connection}/login")))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::NOT_FOUND);
    // Bad OAuth 2.0 settings are refused by name.
    let refused = app
        .user_error(
            "mutation($input: CreateSsoConnectionInput!) { createSsoConnection(input: $input) { ssoConnection { id } userErrors { field message code } } }",
            json!({"input": {
                "name": "Broken",
                "protocol": "OAUTH2",
                "domains": ["broken.test"],
                "oauth2": {"authorizationUrl": "not a url", "tokenUrl": "https://x.example/t", "userinfoUrl": "https://x.example/u", "clientId": "c", "clientSecret": "s"},
            }}),
            "createSsoConnection",
        )
        .await;
    assert_eq!(refused["code"], "BAD_USER_INPUT", "{refused}");
    assert_eq!(
        refused["field"],
        json!(["input", "oauth2", "authorizationUrl"]),
        "{refused}"
    );
}
