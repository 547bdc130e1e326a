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
        .mutate(
            "mutation { inviteMember(input: {email: \"pat@acme.test\", role: AGENT}) { member { id } userErrors { field message code } } }",
            json!({}),
            "inviteMember",
        )
        .await;
    let id = invited["member"]["id"].as_str().unwrap();
    let token = app
        .mutate(
            "mutation($id: ID!) { issueInvitation(id: $id) { token userErrors { field message code } } }",
            json!({"id": id}),
            "issueInvitation",
        )
        .await["token"]
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
        .mutate(
            "mutation { setSsoEnforced(enforced: true) { organization { ssoEnforced } userErrors { field message code } } }",
            json!({}),
            "setSsoEnforced",
        )
        .await;
    assert_eq!(enforced["organization"]["ssoEnforced"], true);
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
    assert_eq!(me(&app, &alice).await["signInMethod"], "OIDC");
    // The last enabled connection stays while enforced.
    let kept = app
        .user_error(
            "mutation($id: ID!) { deleteSsoConnection(id: $id) { deletedSsoConnectionId userErrors { field message code } } }",
            json!({"id": connection}),
            "deleteSsoConnection",
        )
        .await;
    assert_eq!(kept["code"], "CONFLICT", "{kept}");
    assert_eq!(kept["field"], Value::Null, "{kept}");
    assert_eq!(app.count_rows("sso_connections").await, 1);
    // Nor can it be switched off, which would leave nobody but API keys able to sign in.
    let still_on = app
        .user_error(
            "mutation($id: ID!) { updateSsoConnection(id: $id, input: {enabled: false}) { ssoConnection { id } userErrors { field message code } } }",
            json!({"id": connection}),
            "updateSsoConnection",
        )
        .await;
    assert_eq!(still_on["code"], "CONFLICT", "{still_on}");
    assert_eq!(
        sign_in(&app, &browser(), &connection, "alice")
            .await
            .status(),
        StatusCode::SEE_OTHER,
        "the connection still signs members in"
    );
    // Off again: passwords work again.
    let relaxed = app
        .mutate(
            "mutation { setSsoEnforced(enforced: false) { organization { ssoEnforced } userErrors { field message code } } }",
            json!({}),
            "setSsoEnforced",
        )
        .await;
    assert_eq!(relaxed["organization"]["ssoEnforced"], false);
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
                "mutation($input: CreateSsoConnectionInput!) { createSsoConnection(input: $input) { ssoConnection { id domains oidc { issuer scopes } clientSecretSet attributes { email groups } defaultRole jitProvisioning } userErrors { field message code } } }",
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
    // Each mistake is a user error at the path of the field at fault.
    for (bad, field, said) in [
        (json!({"domains": []}), json!(["input", "domains"]), ""),
        (
            json!({"domains": ["not a domain"]}),
            json!(["input", "domains"]),
            "not a domain",
        ),
        (
            json!({"oidc": {"issuer": "ftp://x.example", "clientId": "a", "clientSecret": "b"}}),
            json!(["input", "oidc", "issuer"]),
            "",
        ),
        (
            json!({"oidc": {"issuer": "http://127.0.0.1:9", "clientId": "a", "clientSecret": "b"}}),
            json!(["input", "oidc", "issuer"]),
            "SSRF",
        ),
        (
            json!({"oidc": {"issuer": "https://x.example", "clientId": "a"}}),
            json!(["input", "oidc", "clientSecret"]),
            "",
        ),
        (
            json!({"oidc": {"issuer": "https://x.example", "clientId": "", "clientSecret": "b"}}),
            json!(["input", "oidc", "clientId"]),
            "",
        ),
        (json!({"oidc": null}), json!(["input", "oidc"]), ""),
        (json!({"name": " "}), json!(["input", "name"]), ""),
        (
            json!({"roleRules": [{"value": "", "role": "ADMIN"}]}),
            json!(["input", "roleRules", "0", "value"]),
            "",
        ),
    ] {
        let mut input = good.clone();
        for (k, v) in bad.as_object().unwrap() {
            input[k] = v.clone();
        }
        let refused = create(input, app.key.clone())
            .await
            .user_error("createSsoConnection");
        assert_eq!(refused["code"], "BAD_USER_INPUT", "{bad}: {refused}");
        assert_eq!(refused["field"], field, "{bad}: {refused}");
        let message = refused["message"].as_str().unwrap();
        assert!(
            !message.is_empty() && message.contains(said),
            "{said}: {refused}"
        );
    }
    assert_eq!(app.count_rows("sso_connections").await, 0);

    let created = create(good.clone(), app.key.clone())
        .await
        .payload("createSsoConnection");
    let connection = &created["ssoConnection"];
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
        .mutate(
            "mutation($id: ID!) { testSsoConnection(id: $id) { test { ok checks { name ok detail } } userErrors { field message code } } }",
            json!({"id": id}),
            "testSsoConnection",
        )
        .await;
    let checks = &tested["test"]["checks"];
    assert_eq!(tested["test"]["ok"], false);
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
    let taken = create(good.clone(), app.key.clone())
        .await
        .user_error("createSsoConnection");
    assert_eq!(taken["code"], "CONFLICT", "{taken}");
    assert_eq!(taken["field"], json!(["input", "domains"]), "{taken}");
    let other = app.other_organization("Globex").await;
    let theirs = create(good.clone(), other.secret.clone())
        .await
        .user_error("createSsoConnection");
    assert_eq!(theirs["code"], "CONFLICT", "{theirs}");
    assert!(
        theirs["message"]
            .as_str()
            .unwrap()
            .contains("another organization"),
        "{theirs}"
    );
    assert_eq!(app.count_rows("sso_connections").await, 1);
    // Another organization's connection is not there: null, without an error.
    let foreign = app
        .graphql_as(
            &other.secret,
            "query($id: ID!) { ssoConnection(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    assert!(foreign.body.get("errors").is_none(), "{}", foreign.text);
    assert_eq!(
        foreign.body["data"]["ssoConnection"],
        Value::Null,
        "{}",
        foreign.text
    );

    // An update without a secret keeps it; the audit log records before and after.
    let mut changed = good.clone();
    changed["oidc"] =
        json!({"issuer": "https://acme.okta.example/oauth2/default", "clientId": "0oa2"});
    changed["domains"] = json!(["acme.test", "acme-corp.test"]);
    let update = "mutation($id: ID!, $input: UpdateSsoConnectionInput!) { updateSsoConnection(id: $id, input: $input) { ssoConnection { name clientSecretSet domains oidc { issuer clientId } defaultRole } userErrors { field message code } } }";
    let updated = app
        .mutate(
            update,
            json!({"id": id, "input": changed}),
            "updateSsoConnection",
        )
        .await;
    let connection = &updated["ssoConnection"];
    assert_eq!(connection["clientSecretSet"], true);
    assert_eq!(connection["oidc"]["clientId"], "0oa2");
    assert_eq!(
        connection["domains"],
        json!(["acme-corp.test", "acme.test"])
    );
    // An update is partial: what it leaves out keeps its value.
    let renamed = app
        .mutate(
            update,
            json!({"id": id, "input": {"name": "Okta EU"}}),
            "updateSsoConnection",
        )
        .await;
    let connection = &renamed["ssoConnection"];
    assert_eq!(connection["name"], "Okta EU");
    assert_eq!(connection["clientSecretSet"], true);
    assert_eq!(connection["oidc"]["clientId"], "0oa2");
    assert_eq!(
        connection["oidc"]["issuer"],
        "https://acme.okta.example/oauth2/default"
    );
    assert_eq!(
        connection["domains"],
        json!(["acme-corp.test", "acme.test"])
    );
    assert_eq!(connection["defaultRole"], "VIEWER");
    let refused = app
        .user_error(
            update,
            json!({"id": id, "input": {"domains": ["acme.test", "not a domain"]}}),
            "updateSsoConnection",
        )
        .await;
    assert_eq!(refused["code"], "BAD_USER_INPUT", "{refused}");
    assert_eq!(refused["field"][0], "input", "{refused}");
    assert_eq!(refused["field"][1], "domains", "{refused}");

    // Owners only; the premium plan only.
    let admin = app.key_with_role("admin").await;
    let mut another = good.clone();
    another["domains"] = json!(["admin-made.test"]);
    let by_admin = create(another.clone(), admin.clone()).await;
    assert_eq!(by_admin.graphql_code(), "FORBIDDEN", "{}", by_admin.text);
    assert!(
        by_admin.body["data"]["createSsoConnection"].is_null(),
        "{}",
        by_admin.text
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
        on_standard.graphql_code(),
        "PLAN_UPGRADE_REQUIRED",
        "{}",
        on_standard.text
    );
    assert!(
        on_standard.body["data"]["createSsoConnection"].is_null(),
        "{}",
        on_standard.text
    );
    let without_connection = app
        .user_error_as(
            &other.secret,
            "mutation { setSsoEnforced(enforced: true) { organization { id ssoEnforced } userErrors { field message code } } }",
            json!({}),
            "setSsoEnforced",
        )
        .await;
    assert_eq!(
        without_connection["code"], "CONFLICT",
        "{without_connection}"
    );

    let delete = "mutation($id: ID!) { deleteSsoConnection(id: $id) { deletedSsoConnectionId userErrors { field message code } } }";
    let deleted = app
        .mutate(delete, json!({"id": id}), "deleteSsoConnection")
        .await;
    assert_eq!(deleted["deletedSsoConnectionId"], id.as_str());
    assert_eq!(app.count_rows("sso_domains").await, 0);
    // Gone: a lookup answers null, and a second delete is a NOT_FOUND user error.
    let gone = app
        .graphql_ok(
            "query($id: ID!) { ssoConnection(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(gone["ssoConnection"], Value::Null);
    let again = app
        .user_error(delete, json!({"id": id}), "deleteSsoConnection")
        .await;
    assert_eq!(again["code"], "NOT_FOUND", "{again}");
}
