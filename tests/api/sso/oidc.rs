//! OpenID Connect sign-in against oidc-provider: provisioning, role mapping, refusals, token verification.

use super::*;

#[tokio::test]
async fn oidc_sign_in_provisions_the_member_maps_the_role_and_reapplies_it_at_every_sign_in() {
    let (app, connection, port) = app_with_connection(json!({})).await;
    let callback = app.url(&format!("/sso/oidc/{connection}/callback"));
    let mut idp = Idp::start(port, &callback, accounts(json!(["admins"]))).await;

    // The configuration checks out against the provider.
    let tested = app
        .mutate(
            "mutation($id: ID!) { testSsoConnection(id: $id) { test { ok checks { name ok detail } } userErrors { field message code } } }",
            json!({"id": connection}),
            "testSsoConnection",
        )
        .await;
    assert_eq!(tested["test"]["ok"], true, "{tested}");
    let names: Vec<&str> = tested["test"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["discovery", "signing_keys", "endpoints", "client_secret"]
    );

    // The discovery helper points the email's domain at its connection.
    let lookup = app
        .send(Method::GET, "/sso/lookup?email=alice@corp.test", None, None)
        .await;
    assert_eq!(lookup.status, StatusCode::OK, "{}", lookup.text);
    assert_eq!(
        lookup.body["login_url"],
        app.url(&format!("/sso/oidc/{connection}/login"))
    );
    let unknown = app
        .send(
            Method::GET,
            "/sso/lookup?email=bob@nowhere.test",
            None,
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // The login redirect: authorization code with PKCE S256, state and nonce, bound to the browser.
    let alice = browser();
    let started = alice
        .get(app.url(&format!("/sso/oidc/{connection}/login?return_to=/inbox")))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let sso_cookie = started.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(sso_cookie.starts_with("concierge_sso="), "{sso_cookie}");
    assert!(sso_cookie.contains("HttpOnly"), "{sso_cookie}");
    let authorize = reqwest::Url::parse(&location(&started)).unwrap();
    let query: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["redirect_uri"], callback);
    for present in ["state", "nonce", "code_challenge"] {
        assert!(query[present].len() >= 20, "{present}");
    }
    let back = through_the_idp(&alice, authorize.as_str(), "alice", &app).await;
    let finished = alice.get(&back).send().await.unwrap();
    assert_eq!(finished.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&finished), "/inbox");
    let cookies: Vec<String> = finished
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("concierge_session=cs_") && c.contains("HttpOnly")),
        "{cookies:?}"
    );
    let who = me(&app, &alice).await;
    assert_eq!(who["role"], "ADMIN", "{who}");
    assert_eq!(who["signInMethod"], "OIDC");
    assert_eq!(who["member"]["email"], "alice@corp.test");
    assert_eq!(who["member"]["name"], "Alice Liddell");

    // The callback works once: replayed, it is refused with a page, and no session is made.
    let sessions_before = app.count_rows("sessions").await;
    let replay = alice.get(&back).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    let page = replay.text().await.unwrap();
    assert!(page.contains("Sign-in failed"), "{page}");
    assert_eq!(app.count_rows("sessions").await, sessions_before);

    // Moved from admins to support at the provider: agent at the next sign-in, and the audit log says so.
    idp.set_accounts(accounts(json!(["support", "everyone"])));
    let next = browser();
    assert_eq!(
        sign_in(&app, &next, &connection, "alice").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(me(&app, &next).await["role"], "AGENT");
    // In no mapped group: the default role.
    idp.set_accounts(accounts(json!(["everyone"])));
    let third = browser();
    sign_in(&app, &third, &connection, "alice").await;
    assert_eq!(me(&app, &third).await["role"], "VIEWER");
    let entries = audit_actions(&app).await;
    let action = |name: &str| entries.iter().filter(|e| e["action"] == name).count();
    assert_eq!(action("member.provisioned"), 1);
    assert_eq!(action("member.role_changed"), 2);
    let changed = entries
        .iter()
        .find(|e| e["action"] == "member.role_changed" && e["after"]["role"] == "agent")
        .unwrap();
    assert_eq!(changed["before"]["role"], "admin");
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "member.login" && e["after"]["method"] == "oidc"),
        "{entries:?}"
    );
    // Still one member: later sign-ins found it by email.
    let members = app
        .graphql_ok(
            "{ members(first: 50) { edges { node { email role } } } }",
            json!({}),
        )
        .await;
    let alices: Vec<&Value> = members["members"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["email"] == "alice@corp.test")
        .collect();
    assert_eq!(alices.len(), 1);
    assert_eq!(alices[0]["node"]["role"], "VIEWER");

    // The provider rotates its signing key: the next sign-in verifies against the new key.
    idp.restart().await;
    let after_rotation = browser();
    assert_eq!(
        sign_in(&app, &after_rotation, &connection, "alice")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(me(&app, &after_rotation).await["signInMethod"], "OIDC");
}

#[tokio::test]
async fn refused_oidc_sign_ins_show_an_error_page_are_audited_and_make_no_session() {
    let (app, connection, port) = app_with_connection(json!({"denyUnmatched": true})).await;
    let callback = app.url(&format!("/sso/oidc/{connection}/callback"));
    let _idp = Idp::start(port, &callback, accounts(json!(["nobody"]))).await;
    let sessions = app.count_rows("sessions").await;
    let members = app.count_rows("users").await;

    // A state that this browser did not start: login CSRF.
    let victim = browser();
    let started = victim
        .get(app.url(&format!("/sso/oidc/{connection}/login")))
        .send()
        .await
        .unwrap();
    let back = through_the_idp(&victim, &location(&started), "alice", &app).await;
    let attacker = browser();
    let forged = attacker.get(&back).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    assert!(
        forged
            .text()
            .await
            .unwrap()
            .contains("not started in this browser")
    );

    // No rule matches and the connection refuses unmatched members.
    let unmatched = victim.get(&back).send().await.unwrap();
    assert_eq!(unmatched.status(), StatusCode::FORBIDDEN);
    let page = unmatched.text().await.unwrap();
    assert!(page.contains("no role rule"), "{page}");

    // An email outside the connection's domains.
    let outsider = browser();
    let response = sign_in(&app, &outsider, &connection, "mallory").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.unwrap().contains("not in a domain"));

    // The provider's own refusal comes back as an error.
    let denied = browser()
        .get(app.url(&format!(
            "/sso/oidc/{connection}/callback?error=access_denied&error_description=nope"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
    assert!(denied.text().await.unwrap().contains("access_denied"));

    // A return path to another site is refused before anything starts.
    let offsite = browser()
        .get(app.url(&format!(
            "/sso/oidc/{connection}/login?return_to=https://evil.test/"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(offsite.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(offsite.text().await.unwrap().contains("return_to"));
    let protocol_relative = browser()
        .get(app.url(&format!(
            "/sso/oidc/{connection}/login?return_to=//evil.test/"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(protocol_relative.status(), StatusCode::UNPROCESSABLE_ENTITY);

    assert_eq!(app.count_rows("sessions").await, sessions);
    assert_eq!(app.count_rows("users").await, members);
    let failures: Vec<Value> = audit_actions(&app)
        .await
        .into_iter()
        .filter(|e| e["action"] == "member.sso_failed")
        .collect();
    assert!(failures.len() >= 4, "{failures:?}");
    assert!(
        failures
            .iter()
            .all(|e| e["actor_type"] == "anonymous" && e["target_id"] == connection.as_str())
    );
}

#[tokio::test]
async fn without_just_in_time_provisioning_only_existing_members_sign_in() {
    let (app, connection, port) = app_with_connection(json!({"jitProvisioning": false})).await;
    let callback = app.url(&format!("/sso/oidc/{connection}/callback"));
    let _idp = Idp::start(port, &callback, accounts(json!(["admins"]))).await;
    let refused = sign_in(&app, &browser(), &connection, "alice").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("ask an admin to invite you")
    );
    // Invited first, the member signs in, with the role the provider maps.
    app.mutate(
        "mutation { inviteMember(input: {email: \"alice@corp.test\", role: VIEWER}) { member { id } userErrors { field message code } } }",
        json!({}),
        "inviteMember",
    )
    .await;
    let alice = browser();
    assert_eq!(
        sign_in(&app, &alice, &connection, "alice").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(me(&app, &alice).await["role"], "ADMIN");
}

#[tokio::test]
async fn id_tokens_that_fail_verification_are_refused_and_a_valid_one_is_accepted() {
    let (app, connection, port) = app_with_connection(json!({})).await;
    let rogue = RogueOp::start(port).await;
    let sessions = app.count_rows("sessions").await;
    for (mode, reason) in [
        ("alg_none", "No signature found"),
        ("other_issuer", "Invalid issuer"),
        ("wrong_audience", "Invalid audiences"),
        ("expired", "Expired"),
        ("bad_nonce", "nonce mismatch"),
        ("bad_signature", "bad signature"),
    ] {
        rogue.set_mode(mode).await;
        let refused = sign_in_at_once(&app, &browser(), &connection).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{mode}");
        let page = refused.text().await.unwrap();
        assert!(page.contains(reason), "{mode}: {page}");
        assert_eq!(app.count_rows("sessions").await, sessions, "{mode}");
    }
    let entries = audit_actions(&app).await;
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["action"] == "member.sso_failed")
            .count(),
        6
    );
    // The same provider minting a sound token: the sign-in goes through (so the refusals were the defects).
    rogue.set_mode("none").await;
    let alice = browser();
    let accepted = sign_in_at_once(&app, &alice, &connection).await;
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    assert_eq!(me(&app, &alice).await["role"], "ADMIN");
}

/// Signs in through a provider that answers the authorization request at once (no pages).
async fn sign_in_at_once(
    app: &TestApp,
    browser: &reqwest::Client,
    connection: &str,
) -> reqwest::Response {
    let started = browser
        .get(app.url(&format!("/sso/oidc/{connection}/login")))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let at_idp = browser.get(location(&started)).send().await.unwrap();
    assert_eq!(at_idp.status(), StatusCode::FOUND);
    browser.get(location(&at_idp)).send().await.unwrap()
}
