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
        .mutate(
            "mutation($input: CreateSsoConnectionInput!) { createSsoConnection(input: $input) { ssoConnection { id callbackPath loginPath clientSecretSet domains } userErrors { field message code } } }",
            json!({"input": input}),
            "createSsoConnection",
        )
        .await;
    let connection = created["ssoConnection"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["ssoConnection"]["clientSecretSet"], true);
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

mod connections;
mod console;
mod oauth2;
mod oidc;
mod saml;
mod saml_crafted;
