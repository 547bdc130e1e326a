//! The OpenAPI 3.1 document of REST v1: served without credentials, generated from the handlers, and true to the routes.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn document(app: &TestApp) -> Value {
    let reply = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    reply.json().await.unwrap()
}

/// `METHOD /path` of every operation of the document.
fn operations(document: &Value) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(method).is_some() {
                found.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    found
}

/// The REST v1 router files: every one but the widget's API and the browser's SSO and connect flows, which are
/// not REST v1.
fn router_sources() -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir("api/src/rest")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .filter(|p| {
            !p.ends_with("sso.rs")
                && !p.ends_with("integration_callback.rs")
                && !p.ends_with("mod.rs")
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let source = std::fs::read_to_string(&p).unwrap();
            (p.display().to_string(), source)
        })
        .collect()
}

#[tokio::test]
async fn the_document_is_served_without_credentials_and_every_route_is_in_it() {
    let app = spawn_app().await;
    let document = document(&app).await;
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["servers"][0]["url"], "/api/v1");
    assert_eq!(
        document["components"]["securitySchemes"]["apiKey"]["scheme"],
        "bearer"
    );

    // A route added with a bare `.route(…)` would be served and missing from the document.
    let mut declared = BTreeSet::new();
    for (file, source) in router_sources() {
        assert!(
            !source.contains(".route("),
            "{file} adds a route outside `routes!`, so the OpenAPI document would not show it"
        );
        for chunk in source.split("#[utoipa::path(").skip(1) {
            let method = chunk.split(',').next().unwrap().trim().to_uppercase();
            let path = chunk
                .split_once("path = \"")
                .and_then(|(_, rest)| rest.split('"').next())
                .unwrap();
            declared.insert(format!("{method} {path}"));
        }
    }
    assert_eq!(operations(&document), declared);
    assert!(declared.len() >= 30, "{declared:?}");
}

#[tokio::test]
async fn every_documented_operation_is_a_route_with_a_summary_and_described_fields() {
    let app = spawn_app().await;
    let document = document(&app).await;
    let mut ids = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let id = operation["operationId"].as_str().unwrap().to_owned();
            assert!(ids.insert(id.clone()), "operationId {id} is used twice");
            assert!(
                operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path} has no summary"
            );
            // The route exists: with a made-up id, it may answer 404, but not the fallback's "no such route"
            // or 405.
            let concrete = path.replace('{', "x").replace('}', "");
            let reply = app
                .send(
                    Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                    &format!("/api/v1{concrete}"),
                    Some(&app.key),
                    None,
                )
                .await;
            assert_ne!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            assert!(
                !reply.text.contains("no such route"),
                "{method} {path} is documented but not routed: {}",
                reply.text
            );
        }
    }
    for (name, schema) in document["components"]["schemas"].as_object().unwrap() {
        for (field, property) in schema["properties"].as_object().into_iter().flatten() {
            let described = property.get("description").is_some()
                || property.get("$ref").is_some()
                || property["allOf"].is_array()
                || property["oneOf"].is_array();
            assert!(described, "{name}.{field} has no description");
        }
    }
}

/// Runs schemathesis with an owner key over the operations `filter` selects; answers whether it passed, and
/// its report.
async fn schemathesis(app: &TestApp, filter: &[&str]) -> (bool, String) {
    let binary = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/peers/.venv/bin/schemathesis"
    );
    assert!(
        std::path::Path::new(binary).exists(),
        "schemathesis is missing: `make test` installs it (make python-peers)"
    );
    let mut args: Vec<String> = [
        "run",
        &app.url("/api/v1/openapi.json"),
        "--url",
        &app.url("/api/v1"),
        "--header",
        &format!("Authorization: Bearer {}", app.key),
        "--checks",
        "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "15",
        "--seed",
        "1",
        "--workers",
        "1",
        "--no-color",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect();
    args.extend(filter.iter().map(|a| (*a).to_owned()));
    // Schemathesis keeps a cache in its working directory: the test's own, not the checkout.
    let work = app.settings.data_dir.clone();
    std::fs::create_dir_all(&work).unwrap();
    // The server runs on this test's runtime: schemathesis waits on another thread.
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(binary)
            .args(args)
            .current_dir(work)
            .env("SCHEMATHESIS_TELEMETRY", "false")
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for line in report
        .lines()
        .filter(|l| l.contains("Tested:") || l.contains("generated,"))
    {
        println!("schemathesis: {}", line.trim());
    }
    (output.status.success(), report)
}

/// Schemathesis (installed by `make test` from tests/peers/requirements.txt) over every operation of the
/// document with an owner key: no 5xx, and every status, content type and body as the document says.
#[tokio::test]
async fn schemathesis_finds_every_operation_true_to_the_document() {
    let app = crate::helpers::spawn_app_with(|s| s.rate_limits = false).await;
    // Revoking or rotating (with no grace) the owner's own key would leave the rest unauthenticated: they run
    // on their own, last.
    let ending = ["revokeApiKey", "rotateApiKey"];
    let mut skip = Vec::new();
    for id in ending {
        skip.extend(["--exclude-operation-id", id]);
    }
    let all = operations(&document(&app).await).len();
    let (passed, report) = schemathesis(&app, &skip).await;
    assert!(passed, "schemathesis found failures:\n{report}");
    // Every operation but the two that end the key.
    assert!(
        report.contains(&format!("Tested: {}", all - ending.len())),
        "{report}"
    );
    // Nothing it sent took the owner's key away.
    assert_eq!(
        app.get("/api/v1/conversations").await.status,
        StatusCode::OK
    );
    let mut only = Vec::new();
    for id in ending {
        only.extend(["--include-operation-id", id]);
    }
    let (passed, report) = schemathesis(&app, &only).await;
    assert!(passed, "schemathesis found failures:\n{report}");
    assert!(report.contains("Tested: 2"), "{report}");
}

#[tokio::test]
async fn the_reference_page_shows_every_operation_and_schema_with_nothing_from_elsewhere() {
    let app = spawn_app().await;
    let document = document(&app).await;
    let reply = app
        .client
        .get(app.url("/api/v1/docs"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    assert!(
        reply.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = reply.text().await.unwrap();
    std::fs::write("/tmp/reference.html", &page).ok();
    assert!(page.starts_with("<!doctype html>\n<html lang=\"en\">"));
    for (_, item) in document["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                let id = operation["operationId"].as_str().unwrap();
                assert!(
                    page.contains(&format!("id=\"{id}\"")),
                    "{id} is on the page"
                );
            }
        }
    }
    for name in document["components"]["schemas"]
        .as_object()
        .unwrap()
        .keys()
    {
        assert!(
            page.contains(&format!("id=\"schema-{name}\"")),
            "{name} is on the page"
        );
    }
    // Everything the page needs comes with it: no script, no stylesheet or image from elsewhere.
    assert!(!page.contains("<script"));
    for attribute in [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "@import",
    ] {
        assert!(!page.contains(attribute), "{attribute} on the page");
    }
    // Text from the handlers is escaped, never markup.
    assert!(page.contains("`{&quot;data&quot;: [...]") || page.contains("&quot;data&quot;"));
}
