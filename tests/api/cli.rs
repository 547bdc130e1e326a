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

#[tokio::test]
async fn start_up_errors_name_what_failed_and_the_setting_to_look_at_in_one_line() {
    let (settings, _cleanup) = fresh_settings().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    let refused_port = crate::helpers::free_port();
    let file = settings.data_dir.join("a-file");
    std::fs::create_dir_all(&settings.data_dir).unwrap();
    std::fs::write(&file, "not a folder").unwrap();
    // Each case: the environment that breaks the start, and what its error line says.
    type Case<'a> = (Vec<(&'a str, String)>, Vec<String>);
    let cases: Vec<Case> = vec![
        (
            vec![(
                "DATABASE_URL",
                format!("postgres://concierge:hunter2@127.0.0.1:{refused_port}/concierge"),
            )],
            vec![
                format!(
                    "cannot connect to the database at postgres://concierge:***@127.0.0.1:{refused_port}/concierge"
                ),
                "(DATABASE_URL)".into(),
            ],
        ),
        (
            vec![("DATABASE_URL", "mysql://root@127.0.0.1/concierge".into())],
            vec!["DATABASE_URL must be a postgres:// URL".into()],
        ),
        (
            vec![
                ("DATABASE_URL", String::new()),
                (
                    "CONCIERGE_DATA_DIR",
                    file.join("data").display().to_string(),
                ),
            ],
            vec![
                format!(
                    "cannot create the data folder {}",
                    file.join("data").display()
                ),
                "(CONCIERGE_DATA_DIR)".into(),
            ],
        ),
        (
            vec![("CONCIERGE_MASTER_KEY", "too-short".into())],
            vec!["CONCIERGE_MASTER_KEY is unusable".into()],
        ),
        (
            vec![("CONCIERGE_BIND", taken.clone())],
            vec![format!("cannot listen on {taken} (CONCIERGE_BIND)")],
        ),
        (
            vec![
                ("REDIS_URL", format!("redis://127.0.0.1:{refused_port}")),
                ("CONCIERGE_REDIS_REQUIRED", "true".into()),
            ],
            vec![
                format!("cannot reach Redis at 127.0.0.1:{refused_port}"),
                "REDIS_URL".into(),
            ],
        ),
        (
            vec![("REDIS_URL", "http://cache.internal".into())],
            vec!["REDIS_URL is not a Redis URL".into()],
        ),
    ];
    for (env, expected) in cases {
        let mut command = concierge(&settings);
        command.arg("serve").env("CONCIERGE_BIND", "127.0.0.1:0");
        for (name, value) in &env {
            command.env(name, value);
        }
        let output = command.output().unwrap();
        assert!(!output.status.success(), "{env:?} started");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .collect();
        assert_eq!(errors.len(), 1, "{env:?}: one error line in {stderr}");
        for part in &expected {
            assert!(
                errors[0].contains(part.as_str()),
                "{env:?}: {part:?} not in {}",
                errors[0]
            );
        }
        assert!(
            !errors[0].contains("hunter2"),
            "the password is never printed"
        );
        println!("{}", errors[0]);
    }
}
