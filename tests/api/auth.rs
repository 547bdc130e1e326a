//! API keys: bearer authentication, creation, listing and revocation on both surfaces.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Server, redis_url, spawn_app, spawn_app_with};

#[tokio::test]
async fn missing_malformed_and_unknown_keys_get_401_json_on_rest_and_graphql() {
    let app = spawn_app().await;
    let unknown = format!("ck_{}", "A".repeat(43));
    for key in [
        None,
        Some("not-a-key"),
        Some("ck_short"),
        Some(unknown.as_str()),
    ] {
        let reply = app
            .send(Method::GET, "/api/v1/conversations", key, None)
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{key:?}: {}",
            reply.text
        );
        assert_eq!(reply.error_code(), "UNAUTHENTICATED");
        let reply = app
            .send(
                Method::POST,
                "/graphql",
                key,
                Some(json!({"query": "{ me { role } }"})),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{key:?}: {}",
            reply.text
        );
        assert_eq!(
            reply.body["errors"][0]["extensions"]["code"],
            "UNAUTHENTICATED"
        );
        assert!(reply.body.get("data").is_none());
    }
    let reply = app
        .client
        .get(app.url("/api/v1/conversations"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_created_key_shows_its_secret_once_and_works() {
    let app = spawn_app().await;
    let reply = app
        .post(
            "/api/v1/api-keys",
            json!({"name": "CI export", "role": "analyst"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let secret = reply.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with(reply.body["prefix"].as_str().unwrap()));
    assert!(reply.body["id"].as_str().unwrap().starts_with("key_"));

    let listed = app.get("/api/v1/api-keys").await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(!listed.text.contains(&secret), "the secret is never listed");
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 2);

    let me = app
        .graphql_as(
            &secret,
            "{ me { role plan actorType signInMethod } }",
            json!({}),
        )
        .await;
    assert_eq!(me.body["data"]["me"]["role"], "ANALYST", "{}", me.text);
    assert_eq!(me.body["data"]["me"]["actorType"], "API_KEY", "{}", me.text);
    assert_eq!(
        me.body["data"]["me"]["signInMethod"], "API_KEY",
        "{}",
        me.text
    );
}

#[tokio::test]
async fn a_revoked_key_is_refused_at_once() {
    let app = spawn_app().await;
    let created = app
        .mutate(
            "mutation { createApiKey(input: {name: \"temp\", role: AGENT}) { secret apiKey { id role } userErrors { field message code } } }",
            json!({}),
            "createApiKey",
        )
        .await;
    assert_eq!(created["apiKey"]["role"], "AGENT");
    let secret = created["secret"].as_str().unwrap().to_owned();
    let id = created["apiKey"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.send(Method::GET, "/api/v1/conversations", Some(&secret), None)
            .await
            .status,
        StatusCode::OK
    );

    let revoked = app.delete(&format!("/api/v1/api-keys/{id}")).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    assert!(revoked.body["revoked_at"].is_string());

    let reply = app
        .send(Method::GET, "/api/v1/conversations", Some(&secret), None)
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.text.contains("revoked"), "{}", reply.text);
}

/// `GET /api/v1/conversations` with `key` at `address`: the status.
async fn status_at(app: &crate::helpers::TestApp, address: &str, key: &str) -> StatusCode {
    app.client
        .get(format!("{address}/api/v1/conversations"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
}

/// Asks with `key` at `address` every 10 ms until it is refused (401), failing past `limit`; how long it took.
async fn refused_within(
    app: &crate::helpers::TestApp,
    address: &str,
    key: &str,
    limit: Duration,
) -> Duration {
    let started = std::time::Instant::now();
    while status_at(app, address, key).await != StatusCode::UNAUTHORIZED {
        assert!(
            started.elapsed() < limit,
            "still accepted at {address} after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

/// A new agent key over REST: its secret and id.
async fn agent_key(app: &crate::helpers::TestApp) -> (String, String) {
    let created = app
        .post("/api/v1/api-keys", json!({"name": "temp", "role": "agent"}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    (
        created.body["secret"].as_str().unwrap().to_owned(),
        created.body["id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn a_key_read_once_authenticates_again_without_sql_until_its_organizations_access_changes() {
    let app = spawn_app().await;
    let secret = app.key_with_role("agent").await;
    let typename = |key: String| {
        let client = app.client.clone();
        let url = format!("{}/graphql", app.address);
        async move {
            client
                .post(url)
                .bearer_auth(key)
                .json(&json!({"query": "{ __typename }"}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(typename(secret.clone()).await, StatusCode::OK);
    let before = app.db.statement_count();
    for _ in 0..3 {
        assert_eq!(typename(secret.clone()).await, StatusCode::OK);
    }
    assert_eq!(
        app.db.statement_count(),
        before,
        "no statement to authenticate a key read a moment ago"
    );
    // A change in the organization's access (here another key revoked) makes it read the key again.
    let other = app
        .post(
            "/api/v1/api-keys",
            json!({"name": "other", "role": "viewer"}),
        )
        .await;
    let other_id = other.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.delete(&format!("/api/v1/api-keys/{other_id}"))
            .await
            .status,
        StatusCode::OK
    );
    let before = app.db.statement_count();
    assert_eq!(typename(secret.clone()).await, StatusCode::OK);
    assert_eq!(
        app.db.statement_count() - before,
        2,
        "the key and its organization's plan"
    );
}

#[tokio::test]
async fn a_key_revoked_on_one_instance_is_refused_at_once_on_another_through_redis() {
    let app = spawn_app_with(|settings| {
        settings.redis_url = Some(secrecy::SecretString::from(redis_url()));
    })
    .await;
    let other = Server::start(app.settings.clone()).await;
    let (secret, id) = agent_key(&app).await;
    // The other instance has read the key: it would serve it from memory for a few seconds.
    assert_eq!(
        status_at(&app, &other.address, &secret).await,
        StatusCode::OK
    );
    assert_eq!(
        status_at(&app, &other.address, &secret).await,
        StatusCode::OK
    );

    let revoked = app.delete(&format!("/api/v1/api-keys/{id}")).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    assert_eq!(
        status_at(&app, &app.address, &secret).await,
        StatusCode::UNAUTHORIZED,
        "on the instance that revoked it, at once"
    );
    // On the other, as soon as the notice has crossed Redis (milliseconds), well before the cache's 5 s.
    let took = refused_within(&app, &other.address, &secret, Duration::from_secs(1)).await;
    println!(
        "revocation reached the other instance in {} ms",
        took.as_millis()
    );
}

#[tokio::test]
async fn without_redis_another_instance_refuses_a_revoked_key_within_the_caches_few_seconds() {
    let app = spawn_app().await;
    let other = Server::start(app.settings.clone()).await;
    let (secret, id) = agent_key(&app).await;
    assert_eq!(
        status_at(&app, &other.address, &secret).await,
        StatusCode::OK
    );
    assert_eq!(
        app.delete(&format!("/api/v1/api-keys/{id}")).await.status,
        StatusCode::OK
    );
    refused_within(
        &app,
        &other.address,
        &secret,
        api::auth::key_cache::TTL + Duration::from_secs(1),
    )
    .await;
}

#[tokio::test]
async fn an_expired_key_is_refused() {
    use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
    let app = spawn_app().await;
    let secret = app.key_with_role("viewer").await;
    // Age the key past its expiry directly in the database.
    let keys = entities::api_key::Entity::find()
        .all(app.db.conn())
        .await
        .unwrap();
    let key = keys
        .into_iter()
        .find(|k| secret.starts_with(&k.prefix))
        .unwrap();
    let mut active = key.into_active_model();
    active.expires_at = Set(Some(chrono::Utc::now() - chrono::Duration::seconds(1)));
    active.update(app.db.conn()).await.unwrap();

    let reply = app
        .send(Method::GET, "/api/v1/knowledge-base", Some(&secret), None)
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.text.contains("expired"), "{}", reply.text);
}

#[tokio::test]
async fn keys_cannot_be_created_above_the_callers_role_or_by_viewers() {
    let app = spawn_app().await;
    let admin = app.key_with_role("admin").await;
    let reply = app
        .send(
            Method::POST,
            "/api/v1/api-keys",
            Some(&admin),
            Some(json!({"name": "x", "role": "owner"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    assert_eq!(reply.error_code(), "FORBIDDEN");

    let viewer = app.key_with_role("viewer").await;
    let reply = app
        .send(
            Method::POST,
            "/api/v1/api-keys",
            Some(&viewer),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = app
        .send(
            Method::POST,
            "/api/v1/knowledge-base",
            Some(&viewer),
            Some(json!({"title": "t", "body": "b"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(app.count_rows("knowledge_base_entries").await, 0);
}

#[tokio::test]
async fn keys_are_stored_only_as_hashes() {
    let app = spawn_app().await;
    let secret = app.key_with_role("agent").await;
    let keys = {
        use sea_orm::EntityTrait;
        entities::api_key::Entity::find()
            .all(app.db.conn())
            .await
            .unwrap()
    };
    assert!(
        keys.iter()
            .all(|k| k.secret_hash.len() == 64 && !k.secret_hash.contains(&secret))
    );
    assert!(keys.iter().all(|k| !secret.contains(&k.secret_hash)));
}
