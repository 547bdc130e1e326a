//! Service keys: scopes narrower than a role, allowed networks, rotation with a grace period, usage per day.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};

async fn create_key(app: &TestApp, body: serde_json::Value) -> crate::helpers::Reply {
    app.post("/api/v1/api-keys", body).await
}

#[tokio::test]
async fn a_scoped_key_can_do_only_what_its_scopes_say() {
    let app = spawn_app().await;
    let reply = create_key(
        &app,
        json!({"name": "export", "role": "admin", "scopes": ["conversations:read"]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["scopes"], json!(["conversations:read"]));
    let key = reply.body["secret"].as_str().unwrap().to_owned();

    let list = app
        .send(Method::GET, "/api/v1/conversations", Some(&key), None)
        .await;
    assert_eq!(list.status, StatusCode::OK);
    let write = app
        .send(
            Method::POST,
            "/api/v1/conversations",
            Some(&key),
            Some(json!({"initial_message": "hi"})),
        )
        .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    assert!(write.text.contains("scopes"), "{}", write.text);
    let kb = app
        .send(Method::GET, "/api/v1/knowledge-base", Some(&key), None)
        .await;
    assert_eq!(kb.status, StatusCode::FORBIDDEN);
    let gql = app
        .graphql_as(&key, "{ analytics { conversations { total } } }", json!({}))
        .await;
    assert_eq!(gql.body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    assert_eq!(app.count_rows("conversations").await, 0);
}

#[tokio::test]
async fn bad_scopes_and_networks_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let before = app.count_rows("api_keys").await;
    for (body, status) in [
        (
            json!({"name": "x", "scopes": ["conversations:delete"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"name": "x", "scopes": []}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"name": "x", "role": "viewer", "scopes": ["knowledge_base:write"]}),
            StatusCode::FORBIDDEN,
        ),
        (
            json!({"name": "x", "allowed_cidrs": ["10.0.0.0/33"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"name": "x", "allowed_cidrs": ["not-a-network"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"name": "x", "allowed_cidrs": []}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"name": "x", "role": "emperor"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let reply = create_key(&app, body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text);
    }
    // A viewer cannot create keys at all, scoped or not.
    let viewer = app.key_with_role("viewer").await;
    let reply = app
        .send(
            Method::POST,
            "/api/v1/api-keys",
            Some(&viewer),
            Some(json!({"name": "x", "scopes": ["conversations:read"]})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.count_rows("api_keys").await,
        before + 1,
        "only the viewer key was created"
    );
}

#[tokio::test]
async fn a_key_restricted_to_networks_works_only_from_them() {
    let app = spawn_app().await;
    let elsewhere = create_key(
        &app,
        json!({"name": "office", "allowed_cidrs": ["203.0.113.0/24", "2001:db8::/32"]}),
    )
    .await;
    assert_eq!(elsewhere.status, StatusCode::CREATED, "{}", elsewhere.text);
    let key = elsewhere.body["secret"].as_str().unwrap();
    let reply = app
        .send(Method::GET, "/api/v1/conversations", Some(key), None)
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.text.contains("127.0.0.1"), "{}", reply.text);
    let reply = app.graphql_as(key, "{ me { role } }", json!({})).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);

    let local = create_key(
        &app,
        json!({"name": "local", "allowed_cidrs": ["127.0.0.1"]}),
    )
    .await;
    assert_eq!(local.body["allowed_cidrs"], json!(["127.0.0.1/32"]));
    let reply = app
        .send(
            Method::GET,
            "/api/v1/conversations",
            Some(local.body["secret"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn rotation_keeps_the_old_secret_for_the_grace_period_only() {
    let app = spawn_app().await;
    let created = create_key(&app, json!({"name": "ci", "role": "agent"})).await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let old = created.body["secret"].as_str().unwrap().to_owned();

    let rotated = app
        .post(
            &format!("/api/v1/api-keys/{id}/rotate"),
            json!({"grace_period_seconds": 3600}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    let new = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(rotated.body["previous_secret_expires_at"].is_string());
    for secret in [&old, &new] {
        let reply = app
            .send(Method::GET, "/api/v1/conversations", Some(secret), None)
            .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "both secrets work during the grace period"
        );
    }

    let rotate = "mutation($id: ID!, $grace: Int!) { rotateApiKey(id: $id, gracePeriodSeconds: $grace) { secret apiKey { id prefix } userErrors { field message code } } }";
    let data = app
        .mutate(rotate, json!({"id": id, "grace": 0}), "rotateApiKey")
        .await;
    assert_eq!(data["apiKey"]["id"], id.as_str());
    let newest = data["secret"].as_str().unwrap();
    let reply = app
        .send(Method::GET, "/api/v1/conversations", Some(&new), None)
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "no grace: the previous secret stops at once"
    );
    assert!(reply.text.contains("rotated"), "{}", reply.text);
    let reply = app
        .send(Method::GET, "/api/v1/conversations", Some(&old), None)
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "two rotations ago");
    let reply = app
        .send(Method::GET, "/api/v1/conversations", Some(newest), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);

    let too_long = app
        .post(
            &format!("/api/v1/api-keys/{id}/rotate"),
            json!({"grace_period_seconds": 700000}),
        )
        .await;
    assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
    let too_long = app
        .user_error(rotate, json!({"id": id, "grace": 700000}), "rotateApiKey")
        .await;
    assert_eq!(too_long["code"], "BAD_USER_INPUT", "{too_long}");
    assert_eq!(
        too_long["field"],
        json!(["gracePeriodSeconds"]),
        "{too_long}"
    );
    let reply = app
        .send(Method::GET, "/api/v1/conversations", Some(newest), None)
        .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "a refused rotation changes nothing"
    );
    app.delete(&format!("/api/v1/api-keys/{id}")).await;
    let revoked = app
        .post(&format!("/api/v1/api-keys/{id}/rotate"), json!({}))
        .await;
    assert_eq!(revoked.status, StatusCode::CONFLICT);
    let revoked = app
        .user_error(rotate, json!({"id": id, "grace": 0}), "rotateApiKey")
        .await;
    assert_eq!(revoked["code"], "CONFLICT", "{revoked}");
    assert_eq!(revoked["field"], serde_json::Value::Null, "{revoked}");
    let log = app.get("/api/v1/audit-log?action=api_key.rotated").await;
    assert_eq!(log.body["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn usage_counts_requests_per_key_per_day_and_last_use() {
    let app = spawn_app().await;
    let created = create_key(&app, json!({"name": "counted", "role": "viewer"})).await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        app.send(Method::GET, "/api/v1/knowledge-base", Some(&secret), None)
            .await;
    }
    app.state.usage.flush(&app.db).await.unwrap();
    app.send(Method::GET, "/api/v1/knowledge-base", Some(&secret), None)
        .await;
    app.state.usage.flush(&app.db).await.unwrap();

    let usage = app
        .get(&format!("/api/v1/api-keys/usage?api_key_id={id}"))
        .await;
    assert_eq!(usage.status, StatusCode::OK, "{}", usage.text);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        usage.body["data"],
        json!([{"api_key_id": id, "day": today, "requests": 4}])
    );

    let data = app
        .graphql_ok(
            "{ apiKeys { edges { node { id requestCount lastUsedAt } } } apiKeyUsage(days: 7) { apiKeyId day requests } }",
            json!({}),
        )
        .await;
    let node = data["apiKeys"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .find(|n| n["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(node["requestCount"], "4", "a BigInt is written as a string");
    assert!(node["lastUsedAt"].is_string());
    assert!(
        data["apiKeyUsage"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["apiKeyId"] == id.as_str() && d["requests"] == "4")
    );
    let bad = app.get("/api/v1/api-keys/usage?days=365").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}
