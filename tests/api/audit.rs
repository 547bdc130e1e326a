//! The audit log: administrative actions are recorded with actor, origin and before/after, hash-chained so
//! that editing or deleting an entry is caught by `concierge audit verify`.

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn key_changes_are_recorded_with_actor_origin_and_before_after() {
    let app = spawn_app().await;
    let created = app
        .client
        .post(app.url("/api/v1/api-keys"))
        .bearer_auth(&app.key)
        .header("user-agent", "audit-test/1.0")
        .json(&json!({"name": "exporter", "role": "analyst"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let key: serde_json::Value = created.json().await.unwrap();
    let id = key["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/api/v1/api-keys/{id}")).await.status,
        StatusCode::OK
    );

    let log = app.get(&format!("/api/v1/audit-log?target_id={id}")).await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text);
    let entries = log.body["data"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{}", log.text);
    let (revoked, created) = (&entries[0], &entries[1]);
    assert_eq!(created["action"], "api_key.created");
    assert_eq!(created["actor_type"], "api_key");
    assert_eq!(created["actor_id"], app.org.api_key.id.as_str());
    assert_eq!(created["ip"], "127.0.0.1");
    assert_eq!(created["user_agent"], "audit-test/1.0");
    assert_eq!(created["before"], serde_json::Value::Null);
    assert_eq!(created["after"]["role"], "analyst");
    assert!(
        !log.text.contains(key["secret"].as_str().unwrap()),
        "no secret in the log"
    );
    assert_eq!(revoked["action"], "api_key.revoked");
    assert_eq!(revoked["before"]["revoked_at"], serde_json::Value::Null);
    assert!(revoked["after"]["revoked_at"].is_string());
    assert_eq!(
        revoked["prev_hash"], created["hash"],
        "each entry links to the one before"
    );

    // Bootstrap's own entries start the chain; GraphQL shows the same log.
    let data = app
        .graphql_ok(
            "{ auditLog(first: 10) { edges { node { seq action actorType hash prevHash } } } }",
            json!({}),
        )
        .await;
    let actions: Vec<&str> = data["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "API_KEY_REVOKED",
            "API_KEY_CREATED",
            "API_KEY_CREATED",
            "ORGANIZATION_CREATED"
        ]
    );
    assert_eq!(data["auditLog"]["edges"][3]["node"]["seq"], 1);
    assert_eq!(data["auditLog"]["edges"][3]["node"]["actorType"], "SYSTEM");
}

#[tokio::test]
async fn only_owners_and_admins_read_the_log_and_only_their_organizations() {
    let app = spawn_app().await;
    let viewer = app.key_with_role("viewer").await;
    let reply = app
        .send(Method::GET, "/api/v1/audit-log", Some(&viewer), None)
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = app
        .graphql_as(&viewer, "{ auditLog { edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(reply.body["errors"][0]["extensions"]["code"], "FORBIDDEN");

    let other = app.other_organization("Globex").await;
    let theirs = app
        .send(Method::GET, "/api/v1/audit-log", Some(&other.secret), None)
        .await;
    let ids: Vec<&str> = theirs.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target_id"].as_str().unwrap())
        .collect();
    assert!(!ids.contains(&app.org.organization.id.as_str()));
    assert!(ids.contains(&other.organization.id.as_str()));
}

async fn verify(app: &crate::helpers::TestApp) -> api::service::audit::VerifyReport {
    api::service::audit::verify(&app.db, &app.state.sealer, &[], "")
        .await
        .unwrap()
}

/// Asserts that one of the report's problems says `words`.
fn reports(report: &api::service::audit::VerifyReport, words: &str) {
    assert!(
        report.problems.iter().any(|p| p.contains(words)),
        "no problem says {words:?}: {:?}",
        report.problems
    );
}

/// Runs `concierge` with `args` on the database of `settings`.
fn concierge(settings: &api::config::Settings, args: &[&str]) -> std::process::Output {
    crate::helpers::concierge_command(settings)
        .args(args)
        .output()
        .unwrap()
}

async fn sql(app: &crate::helpers::TestApp, statement: &str) {
    app.db.execute_unprepared(statement).await.unwrap();
}

#[tokio::test]
async fn deleting_the_newest_entries_is_detected_by_the_head_and_by_signed_checkpoints_kept_elsewhere()
 {
    use api::service::audit::{read_anchors, stored_checkpoints, write_checkpoints};
    let app = spawn_app().await;
    for role in ["agent", "viewer", "analyst", "admin"] {
        app.key_with_role(role).await;
    }
    assert_eq!(
        write_checkpoints(&app.db, &app.state.sealer).await.unwrap(),
        1
    );
    assert_eq!(
        write_checkpoints(&app.db, &app.state.sealer).await.unwrap(),
        0,
        "unchanged"
    );
    let clean = verify(&app).await;
    assert!(clean.problems.is_empty(), "{:?}", clean.problems);
    assert_eq!((clean.entries, clean.checkpoints), (6, 1));
    // The copy an operator keeps elsewhere, as `concierge audit checkpoints` prints it.
    let kept: String = stored_checkpoints(&app.db)
        .await
        .unwrap()
        .iter()
        .map(|a| serde_json::to_string(a).unwrap() + "\n")
        .collect();
    let anchors = read_anchors(&kept);
    assert_eq!(anchors[0].seq, 6);

    // The newest two entries deleted: what is left is still an intact chain.
    sql(&app, "DELETE FROM audit_log WHERE seq >= 5").await;
    let report = verify(&app).await;
    reports(
        &report,
        "entries 5..6 are missing: the newest entries were deleted",
    );
    reports(&report, "names entry 6, but the log ends at entry 4");

    // The recorded head moved back as well: the signed checkpoint still tells.
    let org = &app.org.organization.id;
    sql(
        &app,
        &format!(
            "UPDATE audit_heads SET seq = 4, hash = \
             (SELECT hash FROM audit_log WHERE organization_id = '{org}' AND seq = 4) WHERE organization_id = '{org}'"
        ),
    )
    .await;
    let report = verify(&app).await;
    reports(&report, "the head was moved back");
    // The checkpoint rewritten to match: its signature is not this master key's.
    sql(
        &app,
        &format!(
            "UPDATE audit_checkpoints SET seq = 4, hash = \
             (SELECT hash FROM audit_log WHERE organization_id = '{org}' AND seq = 4)"
        ),
    )
    .await;
    let report = verify(&app).await;
    reports(&report, "not signed by this master key");
    // Every stored checkpoint deleted too: the database now agrees with itself, and only the copy kept
    // elsewhere tells.
    sql(&app, "DELETE FROM audit_checkpoints").await;
    assert!(verify(&app).await.problems.is_empty());
    let report = api::service::audit::verify(&app.db, &app.state.sealer, &anchors, "kept.jsonl")
        .await
        .unwrap();
    reports(
        &report,
        "in kept.jsonl (line 1) names entry 6, but the log ends at entry 4: the newest entries were deleted",
    );
    // A copy whose figures were changed is not this master key's either.
    let mut forged = anchors.clone();
    forged[0].seq = 4;
    let report = api::service::audit::verify(&app.db, &app.state.sealer, &forged, "kept.jsonl")
        .await
        .unwrap();
    reports(&report, "not signed by this master key");
}

#[tokio::test]
async fn an_entry_written_after_the_newest_were_deleted_follows_the_recorded_head() {
    let app = spawn_app().await;
    for role in ["agent", "viewer"] {
        app.key_with_role(role).await;
    }
    sql(&app, "DELETE FROM audit_log WHERE seq = 4").await;
    app.key_with_role("analyst").await;
    let report = verify(&app).await;
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(
        report.problems[0].contains("entries 4..4 are missing"),
        "{:?}",
        report.problems
    );
}

#[tokio::test]
async fn editing_or_deleting_an_entry_is_detected() {
    let app = spawn_app().await;
    for role in ["agent", "viewer", "analyst"] {
        app.key_with_role(role).await;
    }
    let clean = verify(&app).await;
    assert!(clean.problems.is_empty(), "{:?}", clean.problems);
    assert_eq!(clean.entries, 5);

    // Someone with database access quietly downgrades what a key was created with.
    let backend = app.db.backend();
    app.db
        .conn()
        .execute_raw(Statement::from_string(
            backend,
            "UPDATE audit_log SET action = 'api_key.rotated' WHERE seq = 3".to_owned(),
        ))
        .await
        .unwrap();
    let report = verify(&app).await;
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(
        report.problems[0].contains("entry 3"),
        "{:?}",
        report.problems
    );

    // Deleting an entry from the middle breaks the chain too.
    app.db
        .conn()
        .execute_raw(Statement::from_string(
            backend,
            "DELETE FROM audit_log WHERE seq = 4".to_owned(),
        ))
        .await
        .unwrap();
    let report = verify(&app).await;
    reports(&report, "missing");
}

#[tokio::test]
async fn the_verify_command_exits_non_zero_on_tampering() {
    let (settings, _cleanup) = crate::helpers::fresh_settings().await;
    let run = |args: &[&str]| concierge(&settings, args);
    let boot = run(&["bootstrap", "--org", "Acme", "--email", "o@acme.test"]);
    assert!(boot.status.success());
    let ok = run(&["audit", "verify"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("2 entries in 1 organization"));

    let db = api::db::Db::connect(&settings).await.unwrap();
    db.execute_unprepared("UPDATE audit_log SET ip = '10.0.0.1' WHERE seq = 2")
        .await
        .unwrap();
    let bad = run(&["audit", "verify"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stdout).contains("TAMPERED"));
}

#[tokio::test]
async fn the_verify_command_reads_checkpoints_kept_elsewhere() {
    let (settings, _cleanup) = crate::helpers::fresh_settings().await;
    let run = |args: &[&str]| concierge(&settings, args);
    assert!(
        run(&["bootstrap", "--org", "Acme", "--email", "o@acme.test"])
            .status
            .success()
    );
    let printed = run(&["audit", "checkpoints"]);
    assert!(
        printed.status.success(),
        "{}",
        String::from_utf8_lossy(&printed.stderr)
    );
    let kept = settings.data_dir.join("kept-checkpoints.jsonl");
    std::fs::write(&kept, &printed.stdout).unwrap();
    let lines = String::from_utf8_lossy(&printed.stdout).lines().count();
    assert_eq!(lines, 1, "one organization, one checkpoint today");
    let anchors = kept.display().to_string();
    let ok = run(&["audit", "verify", "--anchors", &anchors]);
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{out}");
    assert!(out.contains("2 signed checkpoint(s) matched"), "{out}");

    // The newest entry, the head and the stored checkpoints all removed with database access.
    let db = api::db::Db::connect(&settings).await.unwrap();
    for statement in [
        "DELETE FROM audit_log WHERE seq = 2",
        "UPDATE audit_heads SET seq = 1, hash = (SELECT hash FROM audit_log WHERE seq = 1)",
        "DELETE FROM audit_checkpoints",
    ] {
        db.execute_unprepared(statement).await.unwrap();
    }
    assert!(
        run(&["audit", "verify"]).status.success(),
        "the database alone agrees with itself"
    );
    let bad = run(&["audit", "verify", "--anchors", &anchors]);
    let out = String::from_utf8_lossy(&bad.stdout);
    assert!(!bad.status.success());
    assert!(
        out.contains("TAMPERED") && out.contains("the newest entries were deleted"),
        "{out}"
    );
    println!("{out}");
}

#[tokio::test]
async fn concurrent_administrative_actions_keep_one_unbroken_chain() {
    let app = spawn_app().await;
    let creations = (0..10).map(|i| {
        app.send(
            Method::POST,
            "/api/v1/api-keys",
            Some(&app.key),
            Some(json!({"name": format!("parallel {i}"), "role": "viewer"})),
        )
    });
    for reply in futures_util::future::join_all(creations).await {
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    }
    let report = verify(&app).await;
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.entries, 12);
}
