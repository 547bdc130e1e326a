//! SSO connections and enforcement: validation, owners and premium only, audit, sealed secrets, passwords off.

use super::*;

async fn login(app: &TestApp, password: &str) -> crate::helpers::Reply {
    app.send(
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"email": "pat@acme.test", "password": password})),
    )
    .await
}

#[tokio::test]
async fn when_sso_is_enforced_passwords_stop_working_and_api_keys_keep_working() {
    let (app, connection, port) = app_with_connection(json!({})).await;
    let callback = app.url(&format!("/sso/oidc/{connection}/callback"));
    let _idp = Idp::start(port, &callback, accounts(json!(["admins"]))).await;
    // A member with a password and a live password session.
    let invited = app
        .graphql_ok(
            "mutation { inviteMember(input: {email: \"pat@acme.test\", role: AGENT}) { id } }",
            json!({}),
        )
        .await;
    let id = invited["inviteMember"]["id"].as_str().unwrap();
    let token = app
        .graphql_ok(
            "mutation($id: ID!) { issueInvitation(memberId: $id) { token } }",
            json!({"id": id}),
        )
        .await["issueInvitation"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let password = "correct horse battery staple";
    let accepted = app
        .send(
            Method::POST,
            "/api/v1/auth/accept-invitation",
            None,
            Some(json!({"token": token, "password": password})),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text);
    let session = login(&app, password).await.body["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let enforced = app
        .graphql_ok(
            "mutation { setSsoEnforced(enforced: true) { ssoEnforced } }",
            json!({}),
        )
        .await;
    assert_eq!(enforced["setSsoEnforced"]["ssoEnforced"], true);
    let refused = login(&app, password).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert!(refused.text.contains("SSO only"), "{}", refused.text);
    let ended = app
        .send(Method::GET, "/api/v1/conversations", Some(&session), None)
        .await;
    assert_eq!(ended.status, StatusCode::UNAUTHORIZED);
    // Service keys keep working, and SSO sign-in works.
    assert_eq!(
        app.get("/api/v1/conversations").await.status,
        StatusCode::OK
    );
    let alice = browser();
    assert_eq!(
        sign_in(&app, &alice, &connection, "alice").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(me(&app, &alice).await["signInMethod"], "oidc");
    // The last enabled connection stays while enforced.
    let kept = app
        .graphql(
            "mutation($id: ID!) { deleteSsoConnection(id: $id) { id } }",
            json!({"id": connection}),
        )
        .await;
    assert_eq!(
        kept.body["errors"][0]["extensions"]["code"], "CONFLICT",
        "{}",
        kept.text
    );
    // Off again: passwords work again.
    app.graphql_ok(
        "mutation { setSsoEnforced(enforced: false) { ssoEnforced } }",
        json!({}),
    )
    .await;
    assert_eq!(login(&app, password).await.status, StatusCode::OK);
}

#[tokio::test]
async fn sso_connections_are_validated_owner_only_premium_only_audited_and_keep_their_secret_sealed()
 {
    let app = spawn_app_with(|_| {}).await;
    let create = |input: Value, key: String| {
        let app = &app;
        async move {
            app.graphql_as(
                &key,
                "mutation($input: SsoConnectionInput!) { createSsoConnection(input: $input) { id domains oidc { issuer scopes } clientSecretSet attributes { email groups } defaultRole jitProvisioning } }",
                json!({"input": input}),
            )
            .await
        }
    };
    let good = json!({
        "name": "Okta",
        "protocol": "OIDC",
        "domains": ["Acme.TEST"],
        "oidc": {"issuer": "https://acme.okta.example/oauth2/default", "clientId": "0oa1", "clientSecret": "s3cret-value"},
    });
    for (bad, field) in [
        (json!({"domains": []}), "domains"),
        (json!({"domains": ["not a domain"]}), "domains"),
        (
            json!({"oidc": {"issuer": "ftp://x.example", "clientId": "a", "clientSecret": "b"}}),
            "oidc.issuer",
        ),
        (
            json!({"oidc": {"issuer": "http://127.0.0.1:9", "clientId": "a", "clientSecret": "b"}}),
            "SSRF",
        ),
        (
            json!({"oidc": {"issuer": "https://x.example", "clientId": "a"}}),
            "oidc.client_secret",
        ),
        (
            json!({"oidc": {"issuer": "https://x.example", "clientId": "", "clientSecret": "b"}}),
            "oidc.client_id",
        ),
        (json!({"oidc": null}), "oidc"),
        (json!({"name": " "}), "name"),
        (
            json!({"roleRules": [{"value": "", "role": "ADMIN"}]}),
            "role_rules[0].value",
        ),
    ] {
        let mut input = good.clone();
        for (k, v) in bad.as_object().unwrap() {
            input[k] = v.clone();
        }
        let refused = create(input, app.key.clone()).await;
        assert_eq!(
            refused.body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{bad}: {}",
            refused.text
        );
        assert!(refused.text.contains(field), "{field}: {}", refused.text);
    }
    assert_eq!(app.count_rows("sso_connections").await, 0);

    let created = create(good.clone(), app.key.clone()).await;
    assert!(created.body.get("errors").is_none(), "{}", created.text);
    let connection = &created.body["data"]["createSsoConnection"];
    assert_eq!(connection["domains"], json!(["acme.test"]));
    assert_eq!(connection["oidc"]["scopes"], json!([]));
    assert_eq!(
        connection["attributes"],
        json!({"email": "email", "groups": "groups"})
    );
    assert_eq!(connection["defaultRole"], "VIEWER");
    assert_eq!(connection["jitProvisioning"], true);
    let id = connection["id"].as_str().unwrap().to_owned();
    // Sealed at rest; the audit log has no secret either.
    let stored = entities::sso_connection::Entity::find_by_id(id.clone())
        .one(app.db.conn())
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.secret_sealed.unwrap().contains("s3cret-value"));
    let log = app
        .get("/api/v1/audit-log?action=sso_connection.created")
        .await;
    assert_eq!(
        log.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        log.text
    );
    assert!(!log.text.contains("s3cret-value"));

    // Testing it reports, readably, that the provider cannot be reached (no network here).
    let tested = app
        .graphql_ok(
            "mutation($id: ID!) { testSsoConnection(id: $id) { ok checks { name ok detail } } }",
            json!({"id": id}),
        )
        .await;
    let checks = &tested["testSsoConnection"]["checks"];
    assert_eq!(tested["testSsoConnection"]["ok"], false);
    assert_eq!(checks[0]["name"], "discovery");
    assert_eq!(checks[0]["ok"], false);
    assert!(
        checks[0]["detail"]
            .as_str()
            .unwrap()
            .contains("discovery of https://acme.okta.example/oauth2/default failed"),
        "{checks}"
    );
    assert_eq!(checks[1]["name"], "client_secret");
    assert_eq!(checks[1]["ok"], true);

    // One domain, one connection: in this organization or another.
    let taken = create(good.clone(), app.key.clone()).await;
    assert_eq!(
        taken.body["errors"][0]["extensions"]["code"], "CONFLICT",
        "{}",
        taken.text
    );
    let other = app.other_organization("Globex").await;
    let theirs = create(good.clone(), other.secret.clone()).await;
    assert_eq!(theirs.body["errors"][0]["extensions"]["code"], "CONFLICT");
    assert!(
        theirs.text.contains("another organization"),
        "{}",
        theirs.text
    );
    // Another organization's connection is not found.
    let foreign = app
        .graphql_as(
            &other.secret,
            "query($id: ID!) { ssoConnection(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(foreign.body["errors"][0]["extensions"]["code"], "NOT_FOUND");

    // An update without a secret keeps it; the audit log records before and after.
    let mut changed = good.clone();
    changed["oidc"] =
        json!({"issuer": "https://acme.okta.example/oauth2/default", "clientId": "0oa2"});
    changed["domains"] = json!(["acme.test", "acme-corp.test"]);
    let updated = app
        .graphql_ok(
            "mutation($id: ID!, $input: SsoConnectionInput!) { updateSsoConnection(id: $id, input: $input) { clientSecretSet domains oidc { clientId } } }",
            json!({"id": id, "input": changed}),
        )
        .await;
    assert_eq!(updated["updateSsoConnection"]["clientSecretSet"], true);
    assert_eq!(updated["updateSsoConnection"]["oidc"]["clientId"], "0oa2");
    assert_eq!(
        updated["updateSsoConnection"]["domains"],
        json!(["acme-corp.test", "acme.test"])
    );

    // Owners only; the premium plan only.
    let admin = app.key_with_role("admin").await;
    let mut another = good.clone();
    another["domains"] = json!(["admin-made.test"]);
    let by_admin = create(another.clone(), admin.clone()).await;
    assert_eq!(
        by_admin.body["errors"][0]["extensions"]["code"],
        "FORBIDDEN"
    );
    let listed = app
        .graphql_as(&admin, "{ ssoConnections { id } }", json!({}))
        .await;
    assert_eq!(
        listed.body["data"]["ssoConnections"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let standard = api::service::identity::bootstrap::bootstrap(
        &app.db,
        "Standard Co",
        api::auth::Plan::Standard,
        "owner@standard.test",
    )
    .await
    .unwrap();
    let on_standard = create(another, standard.secret.clone()).await;
    assert_eq!(
        on_standard.body["errors"][0]["extensions"]["code"], "PLAN_UPGRADE_REQUIRED",
        "{}",
        on_standard.text
    );
    let without_connection = app
        .graphql_as(
            &other.secret,
            "mutation { setSsoEnforced(enforced: true) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(
        without_connection.body["errors"][0]["extensions"]["code"],
        "CONFLICT"
    );

    let deleted = app
        .graphql_ok(
            "mutation($id: ID!) { deleteSsoConnection(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(deleted["deleteSsoConnection"]["id"], id.as_str());
    assert_eq!(app.count_rows("sso_domains").await, 0);
}
