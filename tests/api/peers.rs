//! Real protocol peers from npm (tests/peers): the GraphQL-over-HTTP audit suite and an Apollo Federation gateway.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::helpers::spawn_app;

fn peers_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers");
    assert!(
        dir.join("node_modules").is_dir(),
        "tests/peers/node_modules is missing: `make test` installs it (npm ci --prefix tests/peers)"
    );
    dir
}

/// Runs a peer script with node and returns the JSON of its last stdout line.
pub(crate) async fn run_peer(script: &str, args: Vec<String>) -> Value {
    let dir = peers_dir();
    let script = dir.join(script);
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .args(args)
            .current_dir(dir)
            .output()
            .expect("node is installed (make test installs it)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "peer failed: {}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("peer printed no JSON ({e}): {stdout}"))
}

#[tokio::test]
async fn every_must_audit_of_the_graphql_over_http_suite_passes() {
    let app = spawn_app().await;
    let summary = run_peer(
        "graphql-http-audit.mjs",
        vec![app.url("/graphql"), app.key.clone()],
    )
    .await;
    println!(
        "graphql-http audits: MUST {}/{}, SHOULD {}/{}, MAY {}/{}",
        summary["must"]["passed"],
        summary["must"]["total"],
        summary["should"]["passed"],
        summary["should"]["total"],
        summary["may"]["passed"],
        summary["may"]["total"]
    );
    assert!(summary["must"]["total"].as_u64().unwrap() >= 10);
    assert_eq!(
        summary["must"]["passed"], summary["must"]["total"],
        "failures: {}",
        summary["failures"]
    );
    assert_eq!(
        summary["should"]["passed"], summary["should"]["total"],
        "failures: {}",
        summary["failures"]
    );
}

#[tokio::test]
async fn an_apollo_gateway_composes_us_with_a_partner_subgraph_and_runs_a_query_across_both() {
    let app = spawn_app().await;
    let conversation = app.create_conversation("hello").await;
    let query = "{ conversations(first: 5) { edges { node { id status visitor { id name crmContact { crmId lifecycleStage } } } } } }";
    let response = run_peer(
        "gateway.mjs",
        vec![app.url("/graphql"), app.key.clone(), query.to_owned()],
    )
    .await;
    assert!(response.get("errors").is_none(), "{response}");
    let node = &response["data"]["conversations"]["edges"][0]["node"];
    assert_eq!(node["id"], conversation["id"]);
    assert_eq!(node["status"], "OPEN");
    // `name` comes from Concierge, `crmContact` from the partner subgraph, joined on the Visitor key.
    assert_eq!(node["visitor"]["name"], "Ann");
    let visitor_id = conversation["visitor_id"].as_str().unwrap();
    assert_eq!(
        node["visitor"]["crmContact"],
        json!({"crmId": format!("crm-{visitor_id}"), "lifecycleStage": "lead"})
    );
}
