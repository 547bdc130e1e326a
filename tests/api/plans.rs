//! API access by plan tier: basic keys get read-only REST, standard and premium keys get REST and GraphQL.

use api::auth::Plan;
use api::service::identity::bootstrap::bootstrap;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_basic_plan_key_reads_rest_but_writes_and_graphql_need_an_upgrade() {
    let app = spawn_app().await;
    let small = bootstrap(&app.db, "Small", Plan::Basic, "owner@small.test")
        .await
        .unwrap();
    let key = small.secret.as_str();

    let read = app
        .send(Method::GET, "/api/v1/conversations", Some(key), None)
        .await;
    assert_eq!(read.status, StatusCode::OK);
    let write = app
        .send(
            Method::POST,
            "/api/v1/knowledge-base",
            Some(key),
            Some(json!({"title": "t", "body": "b"})),
        )
        .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    assert_eq!(write.error_code(), "PLAN_UPGRADE_REQUIRED");
    let keys = app
        .send(
            Method::POST,
            "/api/v1/api-keys",
            Some(key),
            Some(json!({"name": "more"})),
        )
        .await;
    assert_eq!(keys.error_code(), "PLAN_UPGRADE_REQUIRED");

    let graphql = app.graphql_as(key, "{ me { role } }", json!({})).await;
    assert_eq!(graphql.status, StatusCode::FORBIDDEN);
    assert_eq!(
        graphql.body["errors"][0]["extensions"]["code"],
        "PLAN_UPGRADE_REQUIRED"
    );
    assert_eq!(app.count_rows("knowledge_base_entries").await, 0);
}

#[tokio::test]
async fn a_standard_plan_key_reads_and_writes_over_rest_and_graphql() {
    let app = spawn_app().await;
    let mid = bootstrap(&app.db, "Mid", Plan::Standard, "owner@mid.test")
        .await
        .unwrap();
    let key = mid.secret.as_str();
    let write = app
        .send(
            Method::POST,
            "/api/v1/knowledge-base",
            Some(key),
            Some(json!({"title": "t", "body": "b"})),
        )
        .await;
    assert_eq!(write.status, StatusCode::CREATED, "{}", write.text);
    let graphql = app.graphql_as(key, "{ me { plan } }", json!({})).await;
    assert_eq!(
        graphql.body["data"]["me"]["plan"], "STANDARD",
        "{}",
        graphql.text
    );
    assert_eq!(graphql.headers["ratelimit-limit"], "600");
}
