//! Bad input on REST: each case gets a clear 4xx JSON error and leaves the database unchanged; random bodies never 5xx.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// A request (method, path, content type, body) and the status it must get.
type Case<'a> = (Method, String, Option<&'a str>, Vec<u8>, StatusCode);

async fn snapshot(app: &TestApp) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in [
        "conversations",
        "messages",
        "visitors",
        "knowledge_base_entries",
        "events",
        "api_keys",
    ] {
        counts.push(app.count_rows(table).await);
    }
    counts
}

#[tokio::test]
async fn malformed_requests_get_clear_4xx_errors_and_change_nothing() {
    let app = spawn_app().await;
    let conversation = app.create_conversation("hi").await;
    let id = conversation["id"].as_str().unwrap().to_owned();
    let before = snapshot(&app).await;
    let json_ct = Some("application/json");

    let cases: Vec<Case> = vec![
        (
            Method::POST,
            "/api/v1/conversations".into(),
            json_ct,
            b"{\"initial_message\": ".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/api/v1/conversations".into(),
            Some("text/plain"),
            b"{}".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            Method::POST,
            "/api/v1/conversations".into(),
            None,
            b"{}".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            Method::POST,
            "/api/v1/conversations".into(),
            json_ct,
            b"{\"surprise\": 1}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/conversations".into(),
            json_ct,
            b"{\"initial_message\": \"\xff\xfe\"}".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/api/v1/conversations".into(),
            json_ct,
            b"[1,2,3]".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/conversations".into(),
            json_ct,
            br#"{"visitor_id": "kb_01JD0000000000000000000000"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/conversations".into(),
            json_ct,
            br#"{"assistant_id": "asst_01JD0000000000000000000000"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/conversations".into(),
            json_ct,
            br#"{"source_url": "javascript:alert(1)"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/conversations".into(),
            json_ct,
            br#"{"visitor": {"email": "not an email"}}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/conversations".into(),
            json_ct,
            br#"{"initial_message": "nul\u0000byte"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::PUT,
            format!("/api/v1/conversations/{id}"),
            json_ct,
            br#"{"status": "archived"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::PUT,
            format!("/api/v1/conversations/{id}"),
            json_ct,
            br#"{}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::PUT,
            "/api/v1/conversations/kb_01JD0000000000000000000000".into(),
            json_ct,
            br#"{"status": "closed"}"#.to_vec(),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{id}/messages"),
            json_ct,
            br#"{"author": "visitor", "body": ""}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{id}/messages"),
            json_ct,
            br#"{"author": "robot", "body": "x"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{id}/messages"),
            json_ct,
            br#"{"author": "agent", "body": "x", "confidence": 7}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/knowledge-base".into(),
            json_ct,
            br#"{"title": "t"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/knowledge-base".into(),
            json_ct,
            format!(r#"{{"title": "{}", "body": "b"}}"#, "t".repeat(301)).into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/api/v1/knowledge-base".into(),
            json_ct,
            vec![b' '; 2 * 1024 * 1024],
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            Method::DELETE,
            "/api/v1/knowledge-base/conv_01JD0000000000000000000000".into(),
            None,
            vec![],
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            "/api/v1/conversations?limit=-1".into(),
            None,
            vec![],
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/conversations?limit=0".into(),
            None,
            vec![],
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/conversations?limit=100000000000000000000".into(),
            None,
            vec![],
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/conversations?limit=ten".into(),
            None,
            vec![],
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/conversations?cursor=%%%".into(),
            None,
            vec![],
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/conversations?cursor=a2JfMDFKRDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA".into(),
            None,
            vec![],
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/conversations?status=sleeping".into(),
            None,
            vec![],
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/conversations?colour=blue".into(),
            None,
            vec![],
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/knowledge-base?active=maybe".into(),
            None,
            vec![],
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/conversations/%FF%FE".into(),
            None,
            vec![],
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::PUT,
            "/api/v1/knowledge-base/%C3%28".into(),
            json_ct,
            br#"{"title": "x"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (method, path, content_type, body, expected) in cases {
        let reply = app
            .send_raw(method.clone(), &path, content_type, body)
            .await;
        assert_eq!(reply.status, expected, "{method} {path}: {}", reply.text);
        assert!(
            !reply.error_code().is_empty(),
            "{method} {path}: JSON error body, got {}",
            reply.text
        );
        assert!(!reply.body["error"]["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(snapshot(&app).await, before, "bad input changed nothing");
}

/// A random JSON value, biased toward the shapes the endpoints take.
fn random_value(rng: &mut StdRng, depth: u32) -> Value {
    let keys = [
        "title",
        "body",
        "author",
        "status",
        "visitor",
        "visitor_id",
        "assistant_id",
        "initial_message",
        "subject",
        "tags",
        "active",
        "category",
        "confidence",
        "sentiment",
        "source_url",
        "name",
        "role",
        "expires_at",
        "email",
        "phone",
    ];
    match rng.random_range(0..if depth > 2 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.random()),
        2 => json!(rng.random_range(-1e12..1e12)),
        3 => json!(rng.random::<i64>()),
        4 => {
            let len = rng.random_range(0..40);
            let s: String = (0..len)
                .map(|_| match rng.random_range(0..6) {
                    0 => char::from_u32(rng.random_range(0..0x2FFFF)).unwrap_or('?'),
                    1 => ['\0', '\u{202e}', '"', '\\', '%', '_'][rng.random_range(0..6)],
                    _ => rng.random_range(b'a'..=b'z') as char,
                })
                .collect();
            Value::String(s)
        }
        5 => Value::String(
            [
                "open",
                "closed",
                "visitor",
                "agent",
                "owner",
                "conv_",
                "kb_01JD0000000000000000000000",
                "https://x.test",
                "2030-01-01T00:00:00Z",
            ][rng.random_range(0..9)]
            .to_owned(),
        ),
        6 => Value::Array(
            (0..rng.random_range(0..4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let mut map = serde_json::Map::new();
            for _ in 0..rng.random_range(0..5) {
                map.insert(
                    keys[rng.random_range(0..keys.len())].to_owned(),
                    random_value(rng, depth + 1),
                );
            }
            Value::Object(map)
        }
    }
}

#[tokio::test]
async fn random_bodies_to_every_rest_endpoint_never_get_a_5xx() {
    let app = spawn_app().await;
    let conversation = app.create_conversation("seed").await;
    let cid = conversation["id"].as_str().unwrap().to_owned();
    let entry = app
        .post("/api/v1/knowledge-base", json!({"title": "t", "body": "b"}))
        .await;
    let kid = entry.body["id"].as_str().unwrap().to_owned();
    let hook = app
        .post(
            "/api/v1/webhooks",
            json!({"url": "https://hooks.example.com/x", "events": ["message.created"]}),
        )
        .await;
    let wid = hook.body["id"].as_str().unwrap().to_owned();
    let endpoints: Vec<(Method, String)> = vec![
        (Method::POST, "/api/v1/conversations".into()),
        (Method::PUT, format!("/api/v1/conversations/{cid}")),
        (
            Method::POST,
            format!("/api/v1/conversations/{cid}/messages"),
        ),
        (Method::POST, "/api/v1/knowledge-base".into()),
        (Method::PUT, format!("/api/v1/knowledge-base/{kid}")),
        (Method::POST, "/api/v1/api-keys".into()),
        (Method::POST, "/api/v1/webhooks".into()),
        (Method::PUT, format!("/api/v1/webhooks/{wid}")),
        (Method::POST, "/api/v1/auth/login".into()),
        (Method::POST, "/api/v1/auth/accept-invitation".into()),
        (Method::POST, "/graphql".into()),
    ];
    let seed = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0xC0FFEE_u64);
    let mut rng = StdRng::seed_from_u64(seed);
    for i in 0..400 {
        let (method, path) = &endpoints[i % endpoints.len()];
        let body: Vec<u8> = match rng.random_range(0..4) {
            0 => (0..rng.random_range(0..64)).map(|_| rng.random()).collect(),
            _ => serde_json::to_vec(&random_value(&mut rng, 0)).unwrap(),
        };
        let content_type = [
            "application/json",
            "application/json; charset=utf-8",
            "text/plain",
        ][rng.random_range(0..3)];
        let reply = app
            .send_raw(method.clone(), path, Some(content_type), body.clone())
            .await;
        assert!(
            reply.status.as_u16() < 500,
            "seed {seed}, request {i}: {method} {path} with {:?} answered {}: {}",
            String::from_utf8_lossy(&body),
            reply.status,
            reply.text
        );
    }
    // Random path ids and query strings too.
    for i in 0..100 {
        let junk: String = (0..rng.random_range(1..30))
            .map(|_| rng.random_range(b'!'..=b'~') as char)
            .filter(|c| !"#?/".contains(*c))
            .collect();
        let encoded: String = url_encode(&junk);
        for (method, path) in [
            (Method::GET, format!("/api/v1/conversations/{encoded}")),
            (
                Method::GET,
                format!("/api/v1/conversations/{encoded}/messages?limit={encoded}"),
            ),
            (
                Method::GET,
                format!("/api/v1/conversations?status={encoded}&cursor={encoded}"),
            ),
            (
                Method::GET,
                format!("/api/v1/knowledge-base?search={encoded}&cursor={encoded}"),
            ),
            (Method::GET, format!("/api/v1/knowledge-base/{encoded}")),
            (Method::DELETE, format!("/api/v1/knowledge-base/{encoded}")),
            (Method::DELETE, format!("/api/v1/api-keys/{encoded}")),
            (Method::GET, format!("/api/v1/api-keys?limit={encoded}")),
            (
                Method::GET,
                format!("/api/v1/analytics/conversations?{encoded}"),
            ),
        ] {
            let reply = app.send(method.clone(), &path, Some(&app.key), None).await;
            assert!(
                reply.status.as_u16() < 500,
                "request {i}: {method} {path} answered {}: {}",
                reply.status,
                reply.text
            );
            assert!(
                reply.status.is_success() || !reply.error_code().is_empty(),
                "{method} {path}: {}",
                reply.text
            );
        }
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
