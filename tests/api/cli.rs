//! The `concierge` binary: bootstrap prints a working owner key once, migrate applies, schema exports the SDL.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::fresh_settings;

fn concierge(settings: &api::config::Settings) -> Command {
    crate::helpers::concierge_command(settings)
}

#[tokio::test]
async fn bootstrap_prints_an_owner_key_once_that_the_server_accepts() {
    let (settings, _cleanup) = fresh_settings().await;
    let migrate = concierge(&settings).arg("migrate").output().unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );

    let output = concierge(&settings)
        .args([
            "bootstrap",
            "--org",
            "Acme",
            "--plan",
            "premium",
            "--email",
            "owner@acme.test",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let key = stdout
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("ck_"))
        .unwrap_or_default()
        .to_owned();
    let invitation = stdout
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("ci_"))
        .unwrap_or_default()
        .to_owned();
    assert!(invitation.len() == 46, "{stdout}");
    assert!(key.starts_with("ck_") && key.len() == 46, "{stdout}");
    assert!(stdout.contains("assistant-id  asst_"), "{stdout}");
    assert_eq!(
        stdout.matches(&key).count(),
        1,
        "the secret is printed once"
    );

    let server = crate::helpers::Server::start(settings.clone()).await;
    let port = server.port;
    let client = reqwest::Client::new();
    let reply = client
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .bearer_auth(&key)
        .json(
            &json!({"query": "{ me { role plan } organization { name plan } assistants { id } }"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let body: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(
        body["data"]["me"],
        json!({"role": "OWNER", "plan": "PREMIUM"})
    );
    assert_eq!(body["data"]["organization"]["name"], "Acme");
    assert_eq!(body["data"]["assistants"].as_array().unwrap().len(), 1);
    // The printed invitation lets the owner set a password and sign in.
    let accepted = client
        .post(format!(
            "http://127.0.0.1:{port}/api/v1/auth/accept-invitation"
        ))
        .json(&json!({"token": invitation, "password": "a long owner password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::OK);
    let login = client
        .post(format!("http://127.0.0.1:{port}/api/v1/auth/login"))
        .json(&json!({"email": "owner@acme.test", "password": "a long owner password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    drop(server);

    let bad = concierge(&settings)
        .args([
            "bootstrap",
            "--org",
            "X",
            "--plan",
            "gold",
            "--email",
            "x@y.test",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let bad = concierge(&settings)
        .args(["bootstrap", "--org", "X", "--email", "not-an-email"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("email"));
}

#[tokio::test]
async fn schema_prints_the_committed_sdl() {
    let (settings, _cleanup) = fresh_settings().await;
    let output = concierge(&settings).arg("schema").output().unwrap();
    assert!(output.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert!(
        String::from_utf8_lossy(&output.stdout) == committed,
        "run `make schema`"
    );
}
