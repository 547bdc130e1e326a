//! A custom SMTP server as the organization's email, against aiosmtpd (tests/peers/smtp_server.py): STARTTLS and
//! implicit TLS with AUTH, plain text only to loopback, a refused password or an untrusted certificate changing
//! nothing, no downgrade from STARTTLS, and `testIntegration` sending a real message with the server's answer.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, free_port, root, spawn_app_with};

pub const USER: &str = "mailer";
pub const PASSWORD: &str = "s3cret-smtp";

/// aiosmtpd on its own port: what it received is in `out`, one JSON file per message.
pub struct SmtpPeer {
    child: Child,
    pub port: u16,
    pub out: PathBuf,
    /// The PEM of the certificate authority that signed its certificate (for TLS modes).
    pub ca: String,
    dir: PathBuf,
}

impl SmtpPeer {
    /// `mode`: plain, starttls or tls; `extra`: more arguments (`--reject-rcpt`, `--busy`).
    pub async fn start(mode: &str, auth: bool, extra: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!("concierge-smtp-{}", ulid::Ulid::new()));
        let out = dir.join("mail");
        std::fs::create_dir_all(&out).unwrap();
        // A certificate authority of the test's own, and the server's certificate signed by it (a CA used as
        // the server's own certificate is refused by the TLS library, rightly).
        let (ca_cert, ca_key) = (dir.join("ca.pem"), dir.join("ca-key.pem"));
        let (cert, key, csr) = (
            dir.join("cert.pem"),
            dir.join("key.pem"),
            dir.join("cert.csr"),
        );
        let ext = dir.join("ext.cnf");
        std::fs::write(
            &ext,
            "basicConstraints=critical,CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        let openssl = |args: Vec<&std::ffi::OsStr>| {
            let done = Command::new("openssl")
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("openssl is installed by `make system-deps`");
            assert!(done.success());
        };
        let os = |s: &'static str| std::ffi::OsStr::new(s);
        openssl(vec![
            os("req"),
            os("-x509"),
            os("-newkey"),
            os("rsa:2048"),
            os("-nodes"),
            os("-days"),
            os("1"),
            os("-subj"),
            os("/CN=Concierge test CA"),
            os("-keyout"),
            ca_key.as_os_str(),
            os("-out"),
            ca_cert.as_os_str(),
        ]);
        openssl(vec![
            os("req"),
            os("-newkey"),
            os("rsa:2048"),
            os("-nodes"),
            os("-subj"),
            os("/CN=127.0.0.1"),
            os("-keyout"),
            key.as_os_str(),
            os("-out"),
            csr.as_os_str(),
        ]);
        openssl(vec![
            os("x509"),
            os("-req"),
            os("-in"),
            csr.as_os_str(),
            os("-CA"),
            ca_cert.as_os_str(),
            os("-CAkey"),
            ca_key.as_os_str(),
            os("-CAcreateserial"),
            os("-days"),
            os("1"),
            os("-extfile"),
            ext.as_os_str(),
            os("-out"),
            cert.as_os_str(),
        ]);
        let port = free_port();
        let mut command = Command::new(root().join("tests/peers/.venv/bin/python"));
        command
            .arg(root().join("tests/peers/smtp_server.py"))
            .args(["--port", &port.to_string(), "--mode", mode])
            .arg("--out")
            .arg(&out)
            .arg("--cert")
            .arg(&cert)
            .arg("--key")
            .arg(&key)
            .args(extra);
        if auth {
            command.args(["--user", USER, "--password", PASSWORD]);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd is installed by `make python-peers`");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self {
            child,
            port,
            out,
            ca: std::fs::read_to_string(&ca_cert).unwrap(),
            dir,
        }
    }

    /// The messages received so far, oldest first.
    pub fn received(&self) -> Vec<Value> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }

    /// Waits until `n` messages arrived; they are answered.
    pub async fn wait_for(&self, n: usize) -> Vec<Value> {
        for _ in 0..150 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{n} messages did not arrive: {:?}", self.received());
    }
}

impl Drop for SmtpPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub async fn mail_app() -> TestApp {
    spawn_app_with(|settings| {
        settings.egress_allow = Some("127.0.0.1/32".to_owned());
        settings.integration_retry_schedule = "1,1,1".to_owned();
    })
    .await
}

const CONNECT: &str =
    "mutation($input: ConnectIntegrationInput!) { connectIntegration(input: $input) {
    integration { id status account { name value } } message userErrors { field message code } } }";

pub fn smtp_input(peer: &SmtpPeer, security: &str, password: Option<&str>, ca: bool) -> Value {
    let mut smtp = json!({"host": "127.0.0.1", "port": peer.port, "security": security,
        "fromAddress": "support@acme.test", "fromName": "Acme Support"});
    if let Some(password) = password {
        smtp["username"] = json!(USER);
        smtp["password"] = json!(password);
    }
    if ca {
        smtp["caCertificate"] = json!(peer.ca);
    }
    json!({"input": {"provider": "SMTP", "smtp": smtp}})
}

/// Connects the peer as the organization's SMTP server; the integration's id.
pub async fn connect(app: &TestApp, peer: &SmtpPeer, security: &str, auth: bool) -> String {
    let connected = app
        .mutate(
            CONNECT,
            smtp_input(peer, security, auth.then_some(PASSWORD), security != "NONE"),
            "connectIntegration",
        )
        .await;
    assert_eq!(
        connected["integration"]["status"], "CONNECTED",
        "{connected}"
    );
    connected["integration"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn starttls_with_auth_connects_and_the_test_message_reports_the_servers_answer() {
    let peer = SmtpPeer::start("starttls", true, &[]).await;
    let app = mail_app().await;

    // A wrong password, and a certificate nobody vouched for, are refused beside their fields; nothing is kept.
    let refused = app
        .user_error(
            CONNECT,
            smtp_input(&peer, "STARTTLS", Some("wrong"), true),
            "connectIntegration",
        )
        .await;
    assert_eq!(
        refused["field"],
        json!(["input", "smtp", "password"]),
        "{refused}"
    );
    assert!(
        refused["message"].as_str().unwrap().contains("535"),
        "{refused}"
    );
    let untrusted = app
        .user_error(
            CONNECT,
            smtp_input(&peer, "STARTTLS", Some(PASSWORD), false),
            "connectIntegration",
        )
        .await;
    assert_eq!(
        untrusted["field"],
        json!(["input", "smtp", "host"]),
        "{untrusted}"
    );
    assert!(
        untrusted["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("certificate"),
        "{untrusted}"
    );
    assert_eq!(app.count_rows("integrations").await, 0);

    let connected = app
        .mutate(
            CONNECT,
            smtp_input(&peer, "STARTTLS", Some(PASSWORD), true),
            "connectIntegration",
        )
        .await;
    assert_eq!(
        connected["message"],
        format!(
            "Connected to 127.0.0.1:{} with STARTTLS as {USER}",
            peer.port
        )
    );
    let id = connected["integration"]["id"].as_str().unwrap().to_owned();
    let shown = connected["integration"]["account"].to_string();
    assert!(
        !shown.contains(PASSWORD),
        "the password is never shown: {shown}"
    );

    // The test message (asked with an API key: to the sender's own address) goes over TLS, authenticated, with
    // both parts.
    let tested = app
        .post(&format!("/api/v1/integrations/{id}/test"), json!({}))
        .await;
    assert_eq!(tested.body["success"], true, "{}", tested.text);
    let message = tested.body["message"].as_str().unwrap();
    assert!(
        message.contains("the server answered: 250 2.0.0 Ok: queued as TEST0001"),
        "{message}"
    );
    let received = peer.wait_for(1).await;
    assert_eq!(received[0]["tls"], true);
    assert_eq!(received[0]["auth"], true);
    assert_eq!(received[0]["mail_from"], "support@acme.test");
    let data = received[0]["data"].as_str().unwrap();
    assert!(
        data.contains("From: \"Acme Support\" <support@acme.test>"),
        "{data}"
    );
    assert!(data.contains("Content-Type: text/plain"), "{data}");
    assert!(data.contains("Content-Type: text/html"), "{data}");
    assert!(
        data.contains("Subject: Concierge test message for"),
        "{data}"
    );

    // Reconnecting without the password keeps the stored one.
    let again = app
        .mutate(
            CONNECT,
            {
                let mut input = smtp_input(&peer, "STARTTLS", None, true);
                input["input"]["smtp"]["username"] = json!(USER);
                input
            },
            "connectIntegration",
        )
        .await;
    assert_eq!(again["integration"]["status"], "CONNECTED", "{again}");
}

#[tokio::test]
async fn implicit_tls_and_loopback_plain_text_work_and_nothing_is_downgraded() {
    let app = mail_app().await;
    let tls = SmtpPeer::start("tls", true, &[]).await;
    let id = connect(&app, &tls, "TLS", true).await;
    let tested = app
        .post(&format!("/api/v1/integrations/{id}/test"), json!({}))
        .await;
    assert_eq!(tested.body["success"], true, "{}", tested.text);
    assert_eq!(tls.wait_for(1).await[0]["tls"], true);

    // STARTTLS asked of a server that offers none fails rather than send in clear.
    let plain = SmtpPeer::start("plain", false, &[]).await;
    let downgraded = app
        .user_error(
            CONNECT,
            smtp_input(&plain, "STARTTLS", None, true),
            "connectIntegration",
        )
        .await;
    assert_eq!(
        downgraded["field"],
        json!(["input", "smtp", "host"]),
        "{downgraded}"
    );
    // Plain text is for this machine only.
    let remote = app
        .user_error(
            CONNECT,
            json!({"input": {"provider": "SMTP", "smtp": {"host": "smtp.example.com", "security": "NONE",
                "fromAddress": "support@acme.test"}}}),
            "connectIntegration",
        )
        .await;
    assert_eq!(
        remote["field"],
        json!(["input", "smtp", "security"]),
        "{remote}"
    );
    let id = connect(&app, &plain, "NONE", false).await;
    let tested = app
        .post(&format!("/api/v1/integrations/{id}/test"), json!({}))
        .await;
    assert_eq!(tested.body["success"], true, "{}", tested.text);
    assert_eq!(plain.wait_for(1).await[0]["tls"], false);
}
