//! Crafted SAML responses (xml-crypto): wrong audience, destination, recipient, issuer, time or algorithm,
//! signature wrapping, unsolicited and IdP-initiated responses.

use super::*;

/// A SAML connection for `idp`'s key, without running SimpleSAMLphp (its responses are crafted instead).
async fn crafted_saml_app() -> (TestApp, SimpleSaml, String) {
    let app = spawn_app_with(|_| {}).await;
    let idp = SimpleSaml::prepare(saml_users(json!([])));
    let created = app
        .mutate(
            "mutation($input: CreateSsoConnectionInput!) { createSsoConnection(input: $input) { ssoConnection { id } userErrors { field message code } } }",
            json!({"input": {
                "name": "Crafted",
                "protocol": "SAML",
                "domains": ["corp.test"],
                "saml": {"entityId": idp.entity_id(), "ssoUrl": idp.sso_url(), "certificates": [idp.certificate]},
                "roleRules": [{"value": "admins", "role": "ADMIN"}],
            }}),
            "createSsoConnection",
        )
        .await;
    let connection = created["ssoConnection"]["id"].as_str().unwrap().to_owned();
    (app, idp, connection)
}

/// Starts a sign-in in `browser`; answers the AuthnRequest id it waits for and its RelayState.
async fn pending_request(
    app: &TestApp,
    browser: &reqwest::Client,
    connection: &str,
) -> (String, String) {
    use sea_orm::QueryOrder;
    let started = browser
        .get(app.url(&format!("/sso/saml/{connection}/login")))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let redirect = reqwest::Url::parse(&location(&started)).unwrap();
    let relay_state = redirect
        .query_pairs()
        .find(|(k, _)| k == "RelayState")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let request_id = entities::sso_request::Entity::find()
        .order_by_desc(entities::sso_request::Column::CreatedAt)
        .one(app.db.conn())
        .await
        .unwrap()
        .unwrap()
        .nonce
        .unwrap();
    (request_id, relay_state)
}

/// A response crafted by tests/peers/craft-saml.mjs: by default a sound one for alice in admins answering
/// `request_id`, the assertion signed with RSA-SHA256; `changes` override any option. Answers its base64.
async fn craft(
    app: &TestApp,
    idp: &SimpleSaml,
    connection: &str,
    request_id: &str,
    changes: Value,
) -> String {
    let acs = app.url(&format!("/sso/saml/{connection}/acs"));
    let mut options = json!({
        "key": std::fs::read_to_string(idp.dir.0.join("cert/idp.key")).unwrap(),
        "cert": idp.certificate,
        "issuer": idp.entity_id(),
        "destination": acs,
        "recipient": acs,
        "audience": app.url(&format!("/sso/saml/{connection}/metadata")),
        "inResponseTo": request_id,
        "email": "alice@corp.test",
        "groups": ["admins"],
        "algorithm": "sha256",
        "sign": "assertion",
        "wrap": null,
    });
    for (k, v) in changes.as_object().unwrap() {
        options[k] = v.clone();
    }
    let crafted = crate::peers::run_peer("craft-saml.mjs", vec![options.to_string()]).await;
    crafted["response"].as_str().unwrap().to_owned()
}

/// Posts a response crafted by tests/peers/craft-saml.mjs (by default a sound one for alice in admins, the
/// assertion signed with RSA-SHA256) with `changes` applied; answers the ACS's response and the browser.
async fn post_crafted(
    app: &TestApp,
    idp: &SimpleSaml,
    connection: &str,
    changes: Value,
) -> (reqwest::Response, reqwest::Client) {
    let browser = browser();
    let (request_id, relay_state) = pending_request(app, &browser, connection).await;
    let acs = app.url(&format!("/sso/saml/{connection}/acs"));
    let encoded = craft(app, idp, connection, &request_id, changes).await;
    let response = browser
        .post(&acs)
        .form(&[
            ("SAMLResponse", encoded.as_str()),
            ("RelayState", relay_state.as_str()),
        ])
        .send()
        .await
        .unwrap();
    (response, browser)
}

#[tokio::test]
async fn crafted_saml_responses_with_a_wrong_audience_destination_recipient_issuer_time_or_algorithm_are_refused()
 {
    let (app, idp, connection) = crafted_saml_app().await;
    // The crafting itself is sound: unchanged, the response signs alice in (as admin).
    let (accepted, alice) = post_crafted(&app, &idp, &connection, json!({})).await;
    assert_eq!(
        accepted.status(),
        StatusCode::SEE_OTHER,
        "{}",
        accepted.text().await.unwrap()
    );
    assert_eq!(me(&app, &alice).await["role"], "ADMIN");
    let signed_response = post_crafted(&app, &idp, &connection, json!({"sign": "response"}))
        .await
        .0;
    assert_eq!(signed_response.status(), StatusCode::SEE_OTHER);

    // A sound response posted from a browser that did not start the sign-in (no state cookie): login CSRF.
    {
        let starter = browser();
        let (request_id, relay_state) = pending_request(&app, &starter, &connection).await;
        let acs = app.url(&format!("/sso/saml/{connection}/acs"));
        let encoded = craft(&app, &idp, &connection, &request_id, json!({})).await;
        let forged = browser()
            .post(&acs)
            .form(&[
                ("SAMLResponse", encoded.as_str()),
                ("RelayState", relay_state.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
        assert!(
            forged
                .text()
                .await
                .unwrap()
                .contains("not started in this browser")
        );
    }

    let sessions = app.count_rows("sessions").await;
    let other_key = {
        let other = SimpleSaml::prepare(saml_users(json!([])));
        std::fs::read_to_string(other.dir.0.join("cert/idp.key")).unwrap()
    };
    for (case, changes) in [
        (
            "wrong audience",
            json!({"audience": "https://other-sp.example/metadata"}),
        ),
        (
            "wrong destination",
            json!({"destination": "https://other-sp.example/acs"}),
        ),
        (
            "wrong recipient",
            json!({"recipient": "https://other-sp.example/acs"}),
        ),
        (
            "wrong issuer",
            json!({"issuer": "https://evil-idp.example/"}),
        ),
        ("expired", json!({"notOnOrAfterSkew": -120})),
        ("not yet valid", json!({"notBeforeSkew": 600})),
        ("sha1", json!({"algorithm": "sha1"})),
        ("unsigned", json!({"sign": "none"})),
        ("another key", json!({"key": other_key})),
        (
            "another request",
            json!({"inResponseTo": "_not-the-request"}),
        ),
    ] {
        let (refused, _) = post_crafted(&app, &idp, &connection, changes).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{case}");
        let page = refused.text().await.unwrap();
        assert!(page.contains("not valid"), "{case}: {page}");
    }
    assert_eq!(app.count_rows("sessions").await, sessions);
    assert_eq!(
        audit_actions(&app)
            .await
            .iter()
            .filter(|e| e["action"] == "member.sso_failed")
            .count(),
        11
    );
}

#[tokio::test]
async fn signature_wrapping_never_signs_in_the_unsigned_identity() {
    let (app, idp, connection) = crafted_saml_app().await;
    // mallory holds a genuinely signed assertion (of a domain this connection does not serve) and wraps it
    // around an unsigned one that claims alice in admins.
    for wrap in ["evil_first", "evil_in_extensions"] {
        let (response, browser) = post_crafted(
            &app,
            &idp,
            &connection,
            json!({
                "email": "mallory@elsewhere.test",
                "groups": [],
                "wrap": wrap,
                "evilEmail": "alice@corp.test",
                "evilGroups": ["admins"],
            }),
        )
        .await;
        assert_ne!(response.status(), StatusCode::SEE_OTHER, "{wrap}");
        let who = me(&app, &browser).await;
        assert_eq!(who, Value::Null, "{wrap}: {who}");
    }
    let members = app
        .graphql_ok(
            "{ members(first: 50) { edges { node { email } } } }",
            json!({}),
        )
        .await;
    assert!(
        !members.to_string().contains("alice@corp.test"),
        "{members}"
    );
}

/// Posts a crafted response nobody asked for (no RelayState, no InResponseTo).
async fn post_unsolicited(
    app: &TestApp,
    idp: &SimpleSaml,
    connection: &str,
) -> (reqwest::Response, reqwest::Client, String) {
    let acs = app.url(&format!("/sso/saml/{connection}/acs"));
    let encoded = craft(app, idp, connection, "", json!({})).await;
    let (response, browser) = post_saml(&acs, &encoded).await;
    (response, browser, encoded)
}

/// Posts a SAMLResponse (no RelayState) to the ACS from a new browser.
async fn post_saml(acs: &str, encoded: &str) -> (reqwest::Response, reqwest::Client) {
    let browser = browser();
    let response = browser
        .post(acs)
        .form(&[("SAMLResponse", encoded)])
        .send()
        .await
        .unwrap();
    (response, browser)
}

#[tokio::test]
async fn idp_initiated_sign_in_works_only_when_the_connection_allows_it() {
    let (app, idp, connection) = crafted_saml_app().await;
    let (refused, _, _) = post_unsolicited(&app, &idp, &connection).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.text().await.unwrap().contains("IdP-initiated"));
    app.mutate(
        "mutation($id: ID!, $input: UpdateSsoConnectionInput!) { updateSsoConnection(id: $id, input: $input) { ssoConnection { id } userErrors { field message code } } }",
        json!({"id": connection, "input": {
            "name": "Crafted",
            "protocol": "SAML",
            "domains": ["corp.test"],
            "saml": {"entityId": idp.entity_id(), "ssoUrl": idp.sso_url(), "certificates": [idp.certificate], "allowIdpInitiated": true},
            "roleRules": [{"value": "admins", "role": "ADMIN"}],
        }}),
        "updateSsoConnection",
    )
    .await;
    let (accepted, alice, encoded) = post_unsolicited(&app, &idp, &connection).await;
    assert_eq!(
        accepted.status(),
        StatusCode::SEE_OTHER,
        "{}",
        accepted.text().await.unwrap()
    );
    assert_eq!(location(&accepted), "/");
    assert_eq!(me(&app, &alice).await["signInMethod"], "SAML");
    // The same response again: its assertion id is remembered, so the replay is refused.
    let sessions = app.count_rows("sessions").await;
    let (replayed, _) = post_saml(&app.url(&format!("/sso/saml/{connection}/acs")), &encoded).await;
    assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED);
    assert!(replayed.text().await.unwrap().contains("replay"));
    assert_eq!(app.count_rows("sessions").await, sessions);
}

#[tokio::test]
async fn a_response_with_more_than_one_assertion_or_one_outside_the_signed_element_is_refused_around_a_sound_one()
 {
    let (app, idp, connection) = crafted_saml_app().await;
    let sessions = app.count_rows("sessions").await;
    // Each carries alice's sound, signed assertion (which alone signs her in: see above), and something more.
    for (case, changes, reason) in [
        (
            "an unsigned copy after it",
            json!({"wrap": "unsigned_copy"}),
            "carries 2 assertions",
        ),
        (
            "an unsigned copy in a signed Response",
            json!({"wrap": "unsigned_copy", "sign": "response"}),
            "carries 2 assertions",
        ),
        (
            "another identity before it",
            json!({"wrap": "evil_first", "evilEmail": "mallory@corp.test", "evilGroups": ["admins"]}),
            "carries 2 assertions",
        ),
        (
            "moved into Extensions",
            json!({"wrap": "only_in_extensions"}),
            "its assertion is not a child of the Response",
        ),
        (
            "unsigned beside a signed Extensions",
            json!({"sign": "none", "signExtensions": true}),
            "its assertion is outside the signed element",
        ),
    ] {
        let (refused, browser) = post_crafted(&app, &idp, &connection, changes).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{case}");
        let page = refused.text().await.unwrap();
        assert!(page.contains(reason), "{case}: {page}");
        assert_eq!(me(&app, &browser).await, Value::Null, "{case}");
    }
    assert_eq!(
        app.count_rows("sessions").await,
        sessions,
        "no one signed in"
    );
    let refusals: Vec<String> = audit_actions(&app)
        .await
        .iter()
        .filter(|e| e["action"] == "member.sso_failed")
        .map(|e| e["after"]["reason"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(refusals.len(), 5, "{refusals:?}");
    assert_eq!(
        refusals
            .iter()
            .filter(|r| r.contains("carries 2 assertions"))
            .count(),
        3,
        "{refusals:?}"
    );
    assert!(
        refusals
            .iter()
            .any(|r| r.contains("outside the signed element")),
        "{refusals:?}"
    );
}
