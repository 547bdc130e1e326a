//! SAML 2.0 sign-in through SimpleSAMLphp, and crafted responses that must be refused.

use super::*;

/// Debian's SimpleSAMLphp (unpacked by `make test` into tests/peers/.cache), run with `php -S` on loopback as
/// the SAML IdP; killed by PID when dropped.
#[tokio::test]
async fn saml_sign_in_through_simplesamlphp_maps_the_role_and_refuses_tampered_unsigned_and_replayed_responses()
 {
    let app = spawn_app_with(|settings| settings.egress_allow = Some("127.0.0.1/32".into())).await;
    let mut idp = SimpleSaml::prepare(saml_users(json!(["admins", "everyone"])));
    let created = app
        .mutate(
            "mutation($input: CreateSsoConnectionInput!) { createSsoConnection(input: $input) { ssoConnection { id metadataPath callbackPath saml { idpEntityId ssoUrl certificates clockSkewSeconds allowIdpInitiated } } userErrors { field message code } } }",
            json!({"input": {
                "name": "SimpleSAMLphp",
                "protocol": "SAML",
                "domains": ["corp.test"],
                "saml": {"entityId": idp.entity_id(), "ssoUrl": idp.sso_url(), "certificates": [idp.certificate]},
                "roleRules": [{"value": "admins", "role": "ADMIN"}, {"value": "support", "role": "AGENT"}],
            }}),
            "createSsoConnection",
        )
        .await;
    let connection = created["ssoConnection"]["id"].as_str().unwrap().to_owned();
    // Where the IdP posts its answer is the ACS, which the metadata names too.
    assert_eq!(
        created["ssoConnection"]["callbackPath"],
        format!("/sso/saml/{connection}/acs")
    );
    let saml = &created["ssoConnection"]["saml"];
    assert_eq!(saml["idpEntityId"], idp.entity_id());
    assert_eq!(saml["clockSkewSeconds"], 60);
    assert_eq!(saml["allowIdpInitiated"], false);
    assert_eq!(saml["certificates"].as_array().unwrap().len(), 1);

    // The SP metadata: entity id and ACS for the IdP's administrator.
    let metadata = app
        .client
        .get(app.url(&format!("/sso/saml/{connection}/metadata")))
        .send()
        .await
        .unwrap();
    assert_eq!(metadata.status(), StatusCode::OK);
    let xml = metadata.text().await.unwrap();
    let entity_id = app.url(&format!("/sso/saml/{connection}/metadata"));
    let acs = app.url(&format!("/sso/saml/{connection}/acs"));
    assert!(xml.contains(&format!("entityID=\"{entity_id}\"")), "{xml}");
    assert!(xml.contains(&acs), "{xml}");
    idp.start(&entity_id, &acs).await;

    // The whole browser flow: login URL, the IdP's form, the POST to the ACS, a session.
    let alice = browser();
    let (action, fields) = saml_login(&app, &alice, &connection, "alice").await;
    assert_eq!(action, acs);
    let finished = alice.post(&action).form(&fields).send().await.unwrap();
    assert_eq!(
        finished.status(),
        StatusCode::SEE_OTHER,
        "{}",
        finished.text().await.unwrap()
    );
    assert_eq!(location(&finished), "/inbox");
    let who = me(&app, &alice).await;
    assert_eq!(who["signInMethod"], "SAML", "{who}");
    assert_eq!(who["role"], "ADMIN");
    assert_eq!(who["member"]["email"], "alice@corp.test");
    assert_eq!(who["member"]["name"], "Alice Liddell");

    // The same response again: refused (the request was used, and the assertion id is remembered).
    let sessions = app.count_rows("sessions").await;
    let replayed = alice.post(&action).form(&fields).send().await.unwrap();
    assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.count_rows("sessions").await, sessions);

    // Moved to support at the IdP: agent at the next sign-in.
    idp.set_users(saml_users(json!(["support"])));
    let next = browser();
    let (action, fields) = saml_login(&app, &next, &connection, "alice").await;
    assert_eq!(
        next.post(&action)
            .form(&fields)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(me(&app, &next).await["role"], "AGENT");

    // A tampered attribute breaks the signature; a response stripped of its signatures is unsigned.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    for (case, change) in [
        (
            "tampered",
            Box::new(|xml: String| xml.replace("support", "admins"))
                as Box<dyn Fn(String) -> String>,
        ),
        (
            "unsigned",
            Box::new(|xml: String| {
                let mut out = xml;
                while let (Some(start), Some(end)) =
                    (out.find("<ds:Signature"), out.find("</ds:Signature>"))
                {
                    out.replace_range(start..end + "</ds:Signature>".len(), "");
                }
                out
            }),
        ),
    ] {
        let browser = browser();
        let (action, mut fields) = saml_login(&app, &browser, &connection, "alice").await;
        for (name, value) in fields.iter_mut() {
            if name == "SAMLResponse" {
                let xml = String::from_utf8(b64.decode(value.as_bytes()).unwrap()).unwrap();
                let changed = change(xml.clone());
                assert_ne!(changed, xml, "{case}");
                *value = b64.encode(changed);
            }
        }
        let refused = browser.post(&action).form(&fields).send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{case}");
        let page = refused.text().await.unwrap();
        assert!(page.contains("not valid"), "{case}: {page}");
    }
    assert_eq!(
        audit_actions(&app)
            .await
            .iter()
            .filter(|e| e["action"] == "member.sso_failed")
            .count(),
        3
    );

    // IdP-initiated responses (no RelayState) are off by default.
    let unsolicited = browser()
        .post(&acs)
        .form(&[("SAMLResponse", "PHNhbWxwOlJlc3BvbnNlLz4=")])
        .send()
        .await
        .unwrap();
    assert_eq!(unsolicited.status(), StatusCode::UNAUTHORIZED);
    assert!(unsolicited.text().await.unwrap().contains("IdP-initiated"));

    // Configured by metadata URL instead: fetched now, with the same certificate.
    let updated = app
        .mutate(
            "mutation($id: ID!, $input: UpdateSsoConnectionInput!) { updateSsoConnection(id: $id, input: $input) { ssoConnection { saml { metadataUrl metadataFetchedAt idpEntityId } } userErrors { field message code } } }",
            json!({"id": connection, "input": {
                "name": "SimpleSAMLphp",
                "protocol": "SAML",
                "domains": ["corp.test"],
                "saml": {"metadataUrl": idp.entity_id()},
            }}),
            "updateSsoConnection",
        )
        .await;
    assert_eq!(
        updated["ssoConnection"]["saml"]["idpEntityId"],
        idp.entity_id()
    );
    assert_eq!(
        updated["ssoConnection"]["saml"]["metadataUrl"],
        idp.entity_id()
    );
    assert!(updated["ssoConnection"]["saml"]["metadataFetchedAt"].is_string());
    let tested = app
        .mutate(
            "mutation($id: ID!) { testSsoConnection(id: $id) { test { ok checks { name ok detail } } userErrors { field message code } } }",
            json!({"id": connection}),
            "testSsoConnection",
        )
        .await;
    assert_eq!(tested["test"]["ok"], true, "{tested}");
    let checks = tested["test"]["checks"].to_string();
    assert!(
        checks.contains("concierge-test-idp: valid from"),
        "{checks}"
    );

    // The IdP rolls its key over: the hourly refresh reads the new certificate from the metadata URL, and
    // sign-ins signed with the new key go through.
    let before = idp.certificate.clone();
    idp.new_key();
    idp.start(&entity_id, &acs).await;
    assert_eq!(
        api::service::identity::sso::saml::refresh_metadata(&app.db, &app.state.idp)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        api::service::identity::sso::saml::refresh_metadata(&app.db, &app.state.idp)
            .await
            .unwrap(),
        0,
        "nothing changed since"
    );
    let refreshed = app
        .graphql_ok(
            "query($id: ID!) { ssoConnection(id: $id) { saml { certificates } } }",
            json!({"id": connection}),
        )
        .await;
    let certificates = refreshed["ssoConnection"]["saml"]["certificates"].to_string();
    let pem_body = |pem: &str| -> String {
        pem.lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>()
    };
    assert!(
        certificates.contains(&pem_body(&idp.certificate)),
        "{certificates}"
    );
    assert!(!certificates.contains(&pem_body(&before)));
    let rolled = browser();
    let (action, fields) = saml_login(&app, &rolled, &connection, "alice").await;
    assert_eq!(
        rolled
            .post(&action)
            .form(&fields)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_saml_connection_without_a_signing_certificate_is_refused() {
    let app = spawn_app_with(|_| {}).await;
    let create = |saml: Value| {
        let app = &app;
        async move {
            app.user_error(
                "mutation($input: CreateSsoConnectionInput!) { createSsoConnection(input: $input) { ssoConnection { id } userErrors { field message code } } }",
                json!({"input": {"name": "IdP", "protocol": "SAML", "domains": ["corp.test"], "saml": saml}}),
                "createSsoConnection",
            )
            .await
        }
    };
    let without_keys = "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"https://idp.example/\"><md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\"><md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"https://idp.example/sso\"/></md:IDPSSODescriptor></md:EntityDescriptor>";
    for (saml, field, said) in [
        (
            json!({"metadataXml": without_keys}),
            json!(["input", "saml", "certificates"]),
            "no signing certificate",
        ),
        (
            json!({"metadataXml": "<not-metadata/>"}),
            json!(["input", "saml", "metadataXml"]),
            "names no entityID",
        ),
        (
            json!({"entityId": "https://idp.example/", "ssoUrl": "https://idp.example/sso"}),
            json!(["input", "saml", "certificates"]),
            "certificate",
        ),
        (
            json!({"entityId": "https://idp.example/", "ssoUrl": "https://idp.example/sso", "certificates": ["not a certificate"]}),
            json!(["input", "saml", "certificates", "0"]),
            "certificate",
        ),
        (
            json!({}),
            json!(["input", "saml"]),
            "metadataXml, metadataUrl, or entityId",
        ),
        (
            json!({"metadataUrl": "http://127.0.0.1:1/metadata"}),
            json!(["input", "saml", "metadataUrl"]),
            "SSRF",
        ),
    ] {
        let refused = create(saml.clone()).await;
        assert_eq!(refused["code"], "BAD_USER_INPUT", "{saml}: {refused}");
        assert_eq!(refused["field"], field, "{saml}: {refused}");
        assert!(
            refused["message"].as_str().unwrap().contains(said),
            "{said}: {refused}"
        );
    }
    assert_eq!(app.count_rows("sso_connections").await, 0);
}
