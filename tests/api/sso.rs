//! Single sign-on against a real OpenID Provider (the certified npm `oidc-provider`, started from tests/peers):
//! the whole browser flow over HTTP with a cookie jar, role mapping and just-in-time provisioning, roles
//! re-applied at every sign-in, key rotation, the refusals, SSO enforcement, and the connection settings.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use reqwest::{Method, StatusCode};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::helpers::{TestApp, free_port, spawn_app_with};

const CLIENT_SECRET: &str = "concierge-test-secret-0123456789";

/// The OpenID Provider, killed by PID when dropped.
struct Idp {
    child: Child,
    port: u16,
    redirect_uri: String,
    accounts: PathBuf,
    _dir: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Idp {
    fn issuer(port: u16) -> String {
        format!("http://127.0.0.1:{port}")
    }

    /// Starts the provider on `port` for a client whose redirect URI is `redirect_uri`.
    async fn start(port: u16, redirect_uri: &str, accounts: Value) -> Idp {
        let dir = std::env::temp_dir().join(format!("concierge-idp-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&dir).unwrap();
        let accounts_file = dir.join("accounts.json");
        std::fs::write(&accounts_file, accounts.to_string()).unwrap();
        let mut idp = Idp {
            child: spawn(port, redirect_uri, &accounts_file),
            port,
            redirect_uri: redirect_uri.to_owned(),
            accounts: accounts_file,
            _dir: TempDir(dir),
        };
        idp.wait_ready().await;
        idp
    }

    async fn wait_ready(&mut self) {
        let url = format!(
            "{}/.well-known/openid-configuration",
            Idp::issuer(self.port)
        );
        for _ in 0..200 {
            if let Ok(response) = reqwest::get(&url).await
                && response.status().is_success()
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the OpenID Provider exited: {status}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the OpenID Provider did not start");
    }

    /// Stops the provider and starts it again on the same port: it signs with a new key from then on.
    async fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(self.port, &self.redirect_uri, &self.accounts);
        self.wait_ready().await;
    }

    fn set_accounts(&self, accounts: Value) {
        std::fs::write(&self.accounts, accounts.to_string()).unwrap();
    }
}

fn spawn(port: u16, redirect_uri: &str, accounts: &std::path::Path) -> Child {
    node(&[
        "oidc-provider.mjs",
        &port.to_string(),
        redirect_uri,
        &accounts.display().to_string(),
    ])
}

/// Runs a peer script of tests/peers with node.
fn node(args: &[&str]) -> Child {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers");
    assert!(
        dir.join("node_modules/oidc-provider").is_dir(),
        "tests/peers/node_modules is missing: `make test` installs it (npm ci --prefix tests/peers)"
    );
    Command::new("node")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("node is installed (make test installs it)")
}

/// Waits until the provider on `port` serves its discovery document.
async fn wait_for(port: u16, child: &mut Child) {
    let url = format!("{}/.well-known/openid-configuration", Idp::issuer(port));
    for _ in 0..200 {
        if let Ok(response) = reqwest::get(&url).await
            && response.status().is_success()
        {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the OpenID Provider exited: {status}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the OpenID Provider did not start");
}

/// The misbehaving provider of tests/peers/rogue-op.mjs, killed by PID when dropped.
struct RogueOp {
    child: Child,
    port: u16,
}

impl Drop for RogueOp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RogueOp {
    async fn start(port: u16) -> RogueOp {
        let mut child = node(&[
            "rogue-op.mjs",
            &port.to_string(),
            "concierge",
            CLIENT_SECRET,
        ]);
        wait_for(port, &mut child).await;
        RogueOp { child, port }
    }

    /// The defect of the next id_tokens.
    async fn set_mode(&self, mode: &str) {
        let response = reqwest::Client::new()
            .post(format!("{}/mode", Idp::issuer(self.port)))
            .body(mode.to_owned())
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
}

/// A browser: a cookie jar, no automatic redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// The value of `name="…" value="…"` style attributes in an HTML page.
fn attribute<'a>(html: &'a str, tag_start: &str, attribute: &str) -> Option<&'a str> {
    let at = html.find(tag_start)?;
    let rest = &html[at..];
    let end = rest.find('>')?;
    let tag = &rest[..end];
    let key = format!("{attribute}=\"");
    let start = tag.find(&key)? + key.len();
    let value = &tag[start..];
    Some(&value[..value.find('"')?])
}

/// Follows the provider's pages from `url` (its login form with `login`, then its consent form) until it sends
/// the browser back to us; answers the callback URL, not yet visited.
async fn through_the_idp(
    browser: &reqwest::Client,
    url: &str,
    login: &str,
    app: &TestApp,
) -> String {
    let mut url = url.to_owned();
    for _ in 0..12 {
        if url.starts_with(&app.address) {
            return url;
        }
        let response = browser.get(&url).send().await.unwrap();
        if response.status().is_redirection() {
            url = absolute(&url, &location(&response));
            continue;
        }
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        let page = response.text().await.unwrap();
        let action = attribute(&page, "<form", "action")
            .expect("a form")
            .to_owned();
        let prompt = attribute(&page, "name=\"prompt\"", "value").unwrap_or("login");
        let form: Vec<(&str, &str)> = if prompt == "login" {
            vec![
                ("prompt", "login"),
                ("login", login),
                ("password", "any password"),
            ]
        } else {
            vec![("prompt", prompt)]
        };
        let response = browser.post(&action).form(&form).send().await.unwrap();
        assert!(response.status().is_redirection(), "{}", response.status());
        url = absolute(&action, &location(&response));
    }
    panic!("the provider never sent the browser back");
}

fn absolute(base: &str, location: &str) -> String {
    reqwest::Url::parse(base)
        .unwrap()
        .join(location)
        .unwrap()
        .to_string()
}

/// Signs `login` in through the connection's login URL; answers the callback's response.
async fn sign_in(
    app: &TestApp,
    browser: &reqwest::Client,
    connection: &str,
    login: &str,
) -> reqwest::Response {
    let started = browser
        .get(app.url(&format!("/sso/oidc/{connection}/login?return_to=/inbox")))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let callback = through_the_idp(browser, &location(&started), login, app).await;
    browser.get(&callback).send().await.unwrap()
}

/// `me` through the browser's session cookie.
async fn me(app: &TestApp, browser: &reqwest::Client) -> Value {
    let response = browser
        .post(app.url("/graphql"))
        .header("accept", "application/json")
        .header("origin", &app.address)
        .json(&json!({"query": "{ me { role signInMethod sessionId member { email name } } }"}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    body["data"]["me"].clone()
}

/// An app that may reach the loopback provider, with an OIDC connection for corp.test; answers (app, connection
/// id, provider port).
async fn app_with_connection(extra: Value) -> (TestApp, String, u16) {
    let app = spawn_app_with(|settings| settings.egress_allow = Some("127.0.0.1/32".into())).await;
    let port = free_port();
    let mut input = json!({
        "name": "Corp IdP",
        "protocol": "OIDC",
        "domains": ["corp.test"],
        "oidc": {"issuer": Idp::issuer(port), "clientId": "concierge", "clientSecret": CLIENT_SECRET},
        "roleRules": [
            {"value": "admins", "role": "ADMIN"},
            {"value": "support", "role": "AGENT"},
        ],
        "defaultRole": "VIEWER",
    });
    if let (Some(input), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            input.insert(k.clone(), v.clone());
        }
    }
    let created = app
        .graphql_ok(
            "mutation($input: SsoConnectionInput!) { createSsoConnection(input: $input) { id callbackPath loginPath clientSecretSet domains } }",
            json!({"input": input}),
        )
        .await;
    let connection = created["createSsoConnection"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(created["createSsoConnection"]["clientSecretSet"], true);
    (app, connection, port)
}

fn accounts(groups: Value) -> Value {
    json!({
        "alice": {"email": "alice@corp.test", "name": "Alice Liddell", "groups": groups},
        "mallory": {"email": "mallory@elsewhere.test", "name": "Mallory", "groups": ["admins"]},
    })
}

async fn audit_actions(app: &TestApp) -> Vec<Value> {
    app.get("/api/v1/audit-log?limit=100").await.body["data"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn oidc_sign_in_provisions_the_member_maps_the_role_and_reapplies_it_at_every_sign_in() {
    let (app, connection, port) = app_with_connection(json!({})).await;
    let callback = app.url(&format!("/sso/oidc/{connection}/callback"));
    let mut idp = Idp::start(port, &callback, accounts(json!(["admins"]))).await;

    // The configuration checks out against the provider.
    let tested = app
        .graphql_ok(
            "mutation($id: ID!) { testSsoConnection(id: $id) { ok checks { name ok detail } } }",
            json!({"id": connection}),
        )
        .await;
    assert_eq!(tested["testSsoConnection"]["ok"], true, "{tested}");
    let names: Vec<&str> = tested["testSsoConnection"]["checks"]
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
    assert_eq!(who["signInMethod"], "oidc");
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
    assert_eq!(me(&app, &after_rotation).await["signInMethod"], "oidc");
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
    app.graphql_ok(
        "mutation { inviteMember(input: {email: \"alice@corp.test\", role: VIEWER}) { id } }",
        json!({}),
    )
    .await;
    let alice = browser();
    assert_eq!(
        sign_in(&app, &alice, &connection, "alice").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(me(&app, &alice).await["role"], "ADMIN");
}

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

#[tokio::test]
async fn an_oauth2_provider_without_oidc_signs_members_in_through_its_userinfo_endpoint() {
    let app = spawn_app_with(|settings| settings.egress_allow = Some("127.0.0.1/32".into())).await;
    let port = free_port();
    let issuer = Idp::issuer(port);
    let created = app
        .graphql_ok(
            "mutation($input: SsoConnectionInput!) { createSsoConnection(input: $input) { id protocol loginPath oauth2 { userinfoUrl } attributes { subject } } }",
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
        )
        .await;
    let connection = created["createSsoConnection"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(created["createSsoConnection"]["protocol"], "OAUTH2");
    assert_eq!(
        created["createSsoConnection"]["loginPath"],
        format!("/sso/oauth2/{connection}/login")
    );
    let callback = app.url(&format!("/sso/oauth2/{connection}/callback"));
    let _idp = Idp::start(port, &callback, accounts(json!(["support"]))).await;
    let tested = app
        .graphql_ok(
            "mutation($id: ID!) { testSsoConnection(id: $id) { ok checks { name ok } } }",
            json!({"id": connection}),
        )
        .await;
    assert_eq!(
        tested["testSsoConnection"],
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
    assert_eq!(who["signInMethod"], "oauth2");
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
        .graphql(
            "mutation($input: SsoConnectionInput!) { createSsoConnection(input: $input) { id } }",
            json!({"input": {
                "name": "Broken",
                "protocol": "OAUTH2",
                "domains": ["broken.test"],
                "oauth2": {"authorizationUrl": "not a url", "tokenUrl": "https://x.example/t", "userinfoUrl": "https://x.example/u", "clientId": "c", "clientSecret": "s"},
            }}),
        )
        .await;
    assert!(
        refused.text.contains("oauth2.authorization_url"),
        "{}",
        refused.text
    );
}

/// Debian's SimpleSAMLphp (unpacked by `make test` into tests/peers/.cache), run with `php -S` on loopback as
/// the SAML IdP; killed by PID when dropped.
struct SimpleSaml {
    child: Child,
    port: u16,
    dir: TempDir,
    certificate: String,
}

impl Drop for SimpleSaml {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SimpleSaml {
    fn www() -> PathBuf {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/peers/.cache/simplesamlphp/usr/share/simplesamlphp");
        assert!(
            root.join("www").is_dir(),
            "SimpleSAMLphp is missing: `make test` unpacks Debian's package into tests/peers/.cache"
        );
        root.join("www")
    }

    /// Prepares the IdP's key, certificate and users (its port is chosen now, so the SP can be configured
    /// before it starts).
    fn prepare(users: Value) -> SimpleSaml {
        let dir = std::env::temp_dir().join(format!("concierge-ssp-{}", ulid::Ulid::new()));
        for sub in ["cert", "log", "data", "tmp", "sessions"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let status = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
            ])
            .args(["-subj", "/CN=concierge-test-idp"])
            .arg("-keyout")
            .arg(dir.join("cert/idp.key"))
            .arg("-out")
            .arg(dir.join("cert/idp.crt"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl is installed");
        assert!(status.success());
        std::fs::write(dir.join("users.json"), users.to_string()).unwrap();
        let certificate = std::fs::read_to_string(dir.join("cert/idp.crt")).unwrap();
        SimpleSaml {
            // A placeholder until `start`.
            child: Command::new("true").spawn().unwrap(),
            port: free_port(),
            dir: TempDir(dir),
            certificate,
        }
    }

    /// A new key and certificate (a rollover); takes effect at the next start.
    fn new_key(&mut self) {
        let status = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
            ])
            .args(["-subj", "/CN=concierge-test-idp-2"])
            .arg("-keyout")
            .arg(self.dir.0.join("cert/idp.key"))
            .arg("-out")
            .arg(self.dir.0.join("cert/idp.crt"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl is installed");
        assert!(status.success());
        self.certificate = std::fs::read_to_string(self.dir.0.join("cert/idp.crt")).unwrap();
    }

    fn entity_id(&self) -> String {
        format!("http://127.0.0.1:{}/saml2/idp/metadata.php", self.port)
    }

    fn sso_url(&self) -> String {
        format!("http://127.0.0.1:{}/saml2/idp/SSOService.php", self.port)
    }

    fn set_users(&self, users: Value) {
        std::fs::write(self.dir.0.join("users.json"), users.to_string()).unwrap();
    }

    /// Starts it for the SP with this entity id and ACS.
    async fn start(&mut self, sp_entity_id: &str, acs_url: &str) {
        let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/simplesamlphp");
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = Command::new("php")
            .arg("-S")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("-t")
            .arg(SimpleSaml::www())
            .env("SIMPLESAMLPHP_CONFIG_DIR", &config)
            .env("SSP_PORT", self.port.to_string())
            .env("SSP_DIR", &self.dir.0)
            .env("SP_ENTITY_ID", sp_entity_id)
            .env("SP_ACS_URL", acs_url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("php is installed (make test installs php-cli, php-xml and php-mbstring)");
        for _ in 0..200 {
            if let Ok(response) = reqwest::get(self.entity_id()).await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("SimpleSAMLphp did not start");
    }
}

/// Decodes the character references of an HTML attribute value.
fn html_unescape(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The fields of the first form of a page: its action and its inputs' names and values.
fn form_of(page: &str, base: &str) -> (String, Vec<(String, String)>) {
    let action = attribute(page, "<form", "action").expect("a form");
    let action = absolute(base, &html_unescape(action));
    let mut fields = Vec::new();
    let mut rest = page;
    while let Some(at) = rest.find("<input") {
        let tag_end = rest[at..].find('>').map_or(rest.len(), |e| at + e + 1);
        let tag = &rest[at..tag_end];
        if let Some(name) = attribute(tag, "<input", "name") {
            let value = attribute(tag, "<input", "value").unwrap_or("");
            fields.push((
                name.to_owned(),
                value.replace("&#x3D;", "=").replace("&amp;", "&"),
            ));
        }
        rest = &rest[tag_end..];
    }
    (action, fields)
}

fn saml_users(groups: Value) -> Value {
    json!({
        "alice": {"password": "alice-password", "email": "alice@corp.test", "name": "Alice Liddell", "groups": groups},
        "mallory": {"password": "mallory-password", "email": "mallory@elsewhere.test", "name": "Mallory", "groups": ["admins"]},
    })
}

/// Through SimpleSAMLphp's login form as `login`; answers the form it posts back to the ACS (action, fields).
async fn saml_login(
    app: &TestApp,
    browser: &reqwest::Client,
    connection: &str,
    login: &str,
) -> (String, Vec<(String, String)>) {
    let started = browser
        .get(app.url(&format!("/sso/saml/{connection}/login?return_to=/inbox")))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let mut url = location(&started);
    for _ in 0..10 {
        let response = browser.get(&url).send().await.unwrap();
        if response.status().is_redirection() {
            url = absolute(&url, &location(&response));
            continue;
        }
        let page = response.text().await.unwrap();
        let (action, mut fields) = form_of(&page, &url);
        if fields.iter().any(|(name, _)| name == "SAMLResponse") {
            return (action, fields);
        }
        // The login form.
        let password = format!("{login}-password");
        for (name, value) in fields.iter_mut() {
            match name.as_str() {
                "username" => *value = login.to_owned(),
                "password" => *value = password.clone(),
                _ => {}
            }
        }
        if !fields.iter().any(|(n, _)| n == "username") {
            fields.push(("username".to_owned(), login.to_owned()));
            fields.push(("password".to_owned(), password));
        }
        let posted = browser.post(&action).form(&fields).send().await.unwrap();
        if posted.status().is_redirection() {
            url = absolute(&action, &location(&posted));
            continue;
        }
        let page = posted.text().await.unwrap();
        let (action, fields) = form_of(&page, &action);
        assert!(
            fields.iter().any(|(name, _)| name == "SAMLResponse"),
            "no SAMLResponse form: {page}"
        );
        return (action, fields);
    }
    panic!("SimpleSAMLphp never answered with a SAMLResponse");
}

#[tokio::test]
async fn saml_sign_in_through_simplesamlphp_maps_the_role_and_refuses_tampered_unsigned_and_replayed_responses()
 {
    let app = spawn_app_with(|settings| settings.egress_allow = Some("127.0.0.1/32".into())).await;
    let mut idp = SimpleSaml::prepare(saml_users(json!(["admins", "everyone"])));
    let created = app
        .graphql_ok(
            "mutation($input: SsoConnectionInput!) { createSsoConnection(input: $input) { id metadataPath saml { idpEntityId ssoUrl certificates clockSkewSeconds allowIdpInitiated } } }",
            json!({"input": {
                "name": "SimpleSAMLphp",
                "protocol": "SAML",
                "domains": ["corp.test"],
                "saml": {"entityId": idp.entity_id(), "ssoUrl": idp.sso_url(), "certificates": [idp.certificate]},
                "roleRules": [{"value": "admins", "role": "ADMIN"}, {"value": "support", "role": "AGENT"}],
            }}),
        )
        .await;
    let connection = created["createSsoConnection"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let saml = &created["createSsoConnection"]["saml"];
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
    assert_eq!(who["signInMethod"], "saml", "{who}");
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
        .graphql_ok(
            "mutation($id: ID!, $input: SsoConnectionInput!) { updateSsoConnection(id: $id, input: $input) { saml { metadataUrl metadataFetchedAt idpEntityId } } }",
            json!({"id": connection, "input": {
                "name": "SimpleSAMLphp",
                "protocol": "SAML",
                "domains": ["corp.test"],
                "saml": {"metadataUrl": idp.entity_id()},
            }}),
        )
        .await;
    assert_eq!(
        updated["updateSsoConnection"]["saml"]["idpEntityId"],
        idp.entity_id()
    );
    assert!(updated["updateSsoConnection"]["saml"]["metadataFetchedAt"].is_string());
    let tested = app
        .graphql_ok(
            "mutation($id: ID!) { testSsoConnection(id: $id) { ok checks { name ok detail } } }",
            json!({"id": connection}),
        )
        .await;
    assert_eq!(tested["testSsoConnection"]["ok"], true, "{tested}");
    let checks = tested["testSsoConnection"]["checks"].to_string();
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
            app.graphql(
                "mutation($input: SsoConnectionInput!) { createSsoConnection(input: $input) { id } }",
                json!({"input": {"name": "IdP", "protocol": "SAML", "domains": ["corp.test"], "saml": saml}}),
            )
            .await
        }
    };
    let without_keys = "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"https://idp.example/\"><md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\"><md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"https://idp.example/sso\"/></md:IDPSSODescriptor></md:EntityDescriptor>";
    for (saml, field) in [
        (
            json!({"metadataXml": without_keys}),
            "no signing certificate",
        ),
        (
            json!({"metadataXml": "<not-metadata/>"}),
            "saml.metadata_xml",
        ),
        (
            json!({"entityId": "https://idp.example/", "ssoUrl": "https://idp.example/sso"}),
            "saml.certificates",
        ),
        (
            json!({"entityId": "https://idp.example/", "ssoUrl": "https://idp.example/sso", "certificates": ["not a certificate"]}),
            "saml.certificates[0]",
        ),
        (json!({}), "metadataXml, metadataUrl, or entityId"),
        (
            json!({"metadataUrl": "http://127.0.0.1:1/metadata"}),
            "SSRF",
        ),
    ] {
        let refused = create(saml.clone()).await;
        assert_eq!(
            refused.body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{saml}: {}",
            refused.text
        );
        assert!(refused.text.contains(field), "{field}: {}", refused.text);
    }
    assert_eq!(app.count_rows("sso_connections").await, 0);
}

/// A SAML connection for `idp`'s key, without running SimpleSAMLphp (its responses are crafted instead).
async fn crafted_saml_app() -> (TestApp, SimpleSaml, String) {
    let app = spawn_app_with(|_| {}).await;
    let idp = SimpleSaml::prepare(saml_users(json!([])));
    let created = app
        .graphql_ok(
            "mutation($input: SsoConnectionInput!) { createSsoConnection(input: $input) { id } }",
            json!({"input": {
                "name": "Crafted",
                "protocol": "SAML",
                "domains": ["corp.test"],
                "saml": {"entityId": idp.entity_id(), "ssoUrl": idp.sso_url(), "certificates": [idp.certificate]},
                "roleRules": [{"value": "admins", "role": "ADMIN"}],
            }}),
        )
        .await;
    let connection = created["createSsoConnection"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
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
    app.graphql_ok(
        "mutation($id: ID!, $input: SsoConnectionInput!) { updateSsoConnection(id: $id, input: $input) { id } }",
        json!({"id": connection, "input": {
            "name": "Crafted",
            "protocol": "SAML",
            "domains": ["corp.test"],
            "saml": {"entityId": idp.entity_id(), "ssoUrl": idp.sso_url(), "certificates": [idp.certificate], "allowIdpInitiated": true},
            "roleRules": [{"value": "admins", "role": "ADMIN"}],
        }}),
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
    assert_eq!(me(&app, &alice).await["signInMethod"], "saml");
    // The same response again: its assertion id is remembered, so the replay is refused.
    let sessions = app.count_rows("sessions").await;
    let (replayed, _) = post_saml(&app.url(&format!("/sso/saml/{connection}/acs")), &encoded).await;
    assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED);
    assert!(replayed.text().await.unwrap().contains("replay"));
    assert_eq!(app.count_rows("sessions").await, sessions);
}
