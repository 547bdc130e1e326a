//! Per-key rate limits by plan tier, with `RateLimit-*` headers on every response and 429 + `Retry-After`.

use api::auth::Plan;
use api::service::identity::bootstrap::bootstrap;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{retry_after, spawn_app};

#[tokio::test]
async fn a_basic_plan_key_gets_60_requests_a_minute_then_429_on_both_surfaces() {
    let app = spawn_app().await;
    let small = bootstrap(&app.db, "Small", Plan::Basic, "owner@small.test")
        .await
        .unwrap();
    let key = small.secret.as_str();
    for i in 0..60u32 {
        let reply = app
            .send(Method::GET, "/api/v1/knowledge-base", Some(key), None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "request {i}: {}", reply.text);
        assert_eq!(reply.headers["ratelimit-limit"], "60");
        assert_eq!(
            reply.headers["ratelimit-remaining"],
            (59 - i).to_string().as_str()
        );
        assert!(reply.headers.contains_key("ratelimit-reset"));
    }
    let refused = app
        .send(Method::GET, "/api/v1/knowledge-base", Some(key), None)
        .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.error_code(), "RATE_LIMITED");
    let retry = retry_after(&refused.headers);
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(refused.headers["ratelimit-remaining"], "0");

    let graphql = app.graphql_as(key, "{ me { role } }", json!({})).await;
    assert_eq!(graphql.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        graphql.body["errors"][0]["extensions"]["code"],
        "RATE_LIMITED"
    );
    assert!(graphql.headers.contains_key("retry-after"));

    // The budget is per key: the premium organization's key is unaffected and has its own tier.
    let reply = app.get("/api/v1/knowledge-base").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["ratelimit-limit"], "6000");
}

#[tokio::test]
async fn unauthenticated_and_public_requests_carry_no_rate_limit_headers() {
    let app = spawn_app().await;
    let reply = app
        .send(Method::GET, "/api/v1/conversations", None, None)
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(!reply.headers.contains_key("ratelimit-limit"));
    let reply = app.send(Method::GET, "/healthz", None, None).await;
    assert!(!reply.headers.contains_key("ratelimit-limit"));
}

#[tokio::test]
async fn operators_can_turn_rate_limits_off() {
    let app = crate::helpers::spawn_app_with(|settings| settings.rate_limits = false).await;
    let small = bootstrap(&app.db, "Small", Plan::Basic, "owner@small.test")
        .await
        .unwrap();
    for _ in 0..65 {
        let reply = app
            .send(
                Method::GET,
                "/api/v1/knowledge-base",
                Some(&small.secret),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(!reply.headers.contains_key("ratelimit-limit"));
    }
}

#[tokio::test]
async fn two_instances_on_redis_share_one_budget() {
    let app = crate::helpers::spawn_app_with(|settings| {
        settings.redis_url = Some(secrecy::SecretString::from(crate::helpers::redis_url()));
    })
    .await;
    let instance = crate::helpers::Server::start(app.settings.clone()).await;
    let second = instance.address.clone();
    let small = bootstrap(&app.db, "Small", Plan::Basic, "owner@small.test")
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let get = |base: String| {
        client
            .get(format!("{base}/api/v1/knowledge-base"))
            .bearer_auth(&small.secret)
            .send()
    };
    for i in 0..60u32 {
        let base = if i % 3 == 0 {
            second.clone()
        } else {
            app.address.clone()
        };
        let reply = get(base).await.unwrap();
        assert_eq!(reply.status(), StatusCode::OK, "request {i}");
        assert_eq!(
            reply.headers()["ratelimit-remaining"],
            (59 - i).to_string().as_str()
        );
    }
    for base in [app.address.clone(), second.clone()] {
        let reply = get(base).await.unwrap();
        assert_eq!(
            reply.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "one budget across both instances"
        );
        assert!((1..=60).contains(&retry_after(reply.headers())));
    }
}
