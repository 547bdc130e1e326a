//! Webhook endpoint configuration: CRUD on both surfaces, sealed secrets, rotation, validation and plan downgrades.

use api::auth::Plan;
use api::events::webhooks::signing_secrets;
use api::service::identity::bootstrap::bootstrap;
use api::service::identity::organizations::set_plan_as_operator;
use base64::Engine;
use entities::webhook;
use reqwest::{Method, StatusCode};
use sea_orm::EntityTrait;
use secrecy::ExposeSecret;
use serde_json::json;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

async fn stored(app: &TestApp, id: &str) -> Option<webhook::Model> {
    webhook::Entity::find_by_id(id.to_owned())
        .one(app.db.conn())
        .await
        .unwrap()
}

async fn opened(app: &TestApp, id: &str) -> Vec<String> {
    let model = stored(app, id).await.unwrap();
    signing_secrets(&app.state.sealer, &model)
        .unwrap()
        .iter()
        .map(|s| s.expose_secret().to_owned())
        .collect()
}

fn hook() -> serde_json::Value {
    json!({
        "url": "https://hooks.example.com/concierge",
        "events": ["conversation.created", "message.created"],
        "description": "CRM sync"
    })
}

#[tokio::test]
async fn an_endpoint_is_created_read_changed_rotated_and_deleted_with_its_secret_sealed() {
    let app = spawn_app().await;
    let created = app.post("/api/v1/webhooks", hook()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("whk_"));
    assert_eq!(created.body["status"], "active");
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    let raw = secret.strip_prefix("whsec_").expect("whsec_ prefix");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .unwrap();
    assert!(bytes.len() >= 24, "{} random bytes", bytes.len());

    // Stored sealed: the column never holds the secret, and the master key opens it again.
    let model = stored(&app, &id).await.unwrap();
    assert!(!model.secret_sealed.contains(raw));
    assert_eq!(opened(&app, &id).await, vec![secret.clone()]);

    // Reads never show the secret; GraphQL and REST agree.
    let listed = app.get("/api/v1/webhooks").await;
    assert_eq!(listed.body["data"][0]["id"], id.as_str());
    assert!(!listed.text.contains(raw));
    let data = app
        .graphql_ok(
            "query($id: ID!) { webhook(id: $id) { url events description active status } webhooks { totalCount } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        data["webhook"]["url"],
        "https://hooks.example.com/concierge"
    );
    assert_eq!(
        data["webhook"]["events"],
        json!(["CONVERSATION_CREATED", "MESSAGE_CREATED"])
    );
    assert_eq!(data["webhook"]["status"], "ACTIVE");
    assert_eq!(data["webhooks"]["totalCount"], 1);

    let paused = app
        .put(
            &format!("/api/v1/webhooks/{id}"),
            json!({"active": false, "description": null}),
        )
        .await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.text);
    assert_eq!(paused.body["status"], "paused");
    assert_eq!(paused.body["description"], json!(null));

    // Rotation: a new secret, and the old one keeps signing for a day.
    let rotated = app
        .mutate(
            "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret webhook { id previousSecretExpiresAt } userErrors { field message code } } }",
            json!({"id": id}),
            "rotateWebhookSecret",
        )
        .await;
    assert_eq!(rotated["webhook"]["id"], id.as_str());
    let newer = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(newer, secret);
    assert_eq!(opened(&app, &id).await, vec![newer, secret.clone()]);
    let until = rotated["webhook"]["previousSecretExpiresAt"]
        .as_str()
        .unwrap();
    let until = chrono::DateTime::parse_from_rfc3339(until).unwrap();
    let hours =
        (until.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!((23.9..=24.0).contains(&hours), "{hours} hours");

    let deleted = app.delete(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    assert_eq!(
        app.get(&format!("/api/v1/webhooks/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    // On GraphQL the deleted endpoint reads as null, and deleting it again is a NOT_FOUND user error.
    let gone = app
        .graphql_ok(
            "query($id: ID!) { webhook(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(gone["webhook"], serde_json::Value::Null);
    let again = app
        .user_error(
            "mutation($id: ID!) { deleteWebhook(id: $id) { deletedWebhookId userErrors { field message code } } }",
            json!({"id": id}),
            "deleteWebhook",
        )
        .await;
    assert_eq!(again["code"], "NOT_FOUND", "{again}");
    assert_eq!(again["field"], serde_json::Value::Null, "{again}");

    let log = app.get(&format!("/api/v1/audit-log?target_id={id}")).await;
    let actions: Vec<&str> = log.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "webhook.deleted",
            "webhook.secret_rotated",
            "webhook.updated",
            "webhook.created"
        ]
    );
    assert!(
        !log.text.contains(raw),
        "the audit log never holds a secret"
    );
}

#[tokio::test]
async fn bad_endpoints_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let cases = [
        json!({"url": "ftp://hooks.example.com/x", "events": ["message.created"]}),
        json!({"url": "not a url", "events": ["message.created"]}),
        json!({"url": "http://127.0.0.1:9/hook", "events": ["message.created"]}),
        json!({"url": "http://[::1]/hook", "events": ["message.created"]}),
        json!({"url": "http://10.0.0.7/hook", "events": ["message.created"]}),
        json!({"url": "http://localhost/hook", "events": ["message.created"]}),
        json!({"url": "https://user:pw@hooks.example.com/x", "events": ["message.created"]}),
        json!({"url": "https://hooks.example.com/x", "events": []}),
        json!({"url": "https://hooks.example.com/x", "events": ["conversation.exploded"]}),
        json!({"url": "https://hooks.example.com/x", "events": ["message.created"], "description": "d".repeat(501)}),
        json!({"url": "https://hooks.example.com/x", "events": ["message.created"], "secret": "whsec_mine"}),
        json!({"events": ["message.created"]}),
    ];
    let audit = app.count_rows("audit_log").await;
    for body in cases {
        let reply = app.post("/api/v1/webhooks", body.clone()).await;
        assert!(
            reply.status == StatusCode::UNPROCESSABLE_ENTITY
                || reply.status == StatusCode::BAD_REQUEST,
            "{body}: {} {}",
            reply.status,
            reply.text
        );
        assert_eq!(reply.error_code(), "BAD_USER_INPUT", "{body}");
    }
    let create = "mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id } secret userErrors { field message code } } }";
    for (input, field) in [
        (
            json!({"url": "gopher://x", "events": ["MESSAGE_CREATED"]}),
            json!(["input", "url"]),
        ),
        (
            json!({"url": "http://10.0.0.7/hook", "events": ["MESSAGE_CREATED"]}),
            json!(["input", "url"]),
        ),
        (
            json!({"url": "https://hooks.example.com/x", "events": []}),
            json!(["input", "events"]),
        ),
        (
            json!({"url": "https://hooks.example.com/x", "events": ["MESSAGE_CREATED"], "description": "d".repeat(501)}),
            json!(["input", "description"]),
        ),
    ] {
        let error = app
            .user_error(create, json!({"input": input}), "createWebhook")
            .await;
        assert_eq!(error["code"], "BAD_USER_INPUT", "{input}: {error}");
        assert_eq!(error["field"], field, "{input}: {error}");
    }
    // An event that is not an `EventType` is refused by GraphQL itself, before the server looks at it.
    let reply = app
        .graphql(
            "mutation { createWebhook(input: {url: \"https://hooks.example.com/x\", events: [CONVERSATION_EXPLODED]}) { secret userErrors { code } } }",
            json!({}),
        )
        .await;
    assert!(reply.body["errors"].is_array(), "{}", reply.text);
    assert!(
        reply.body["data"]["createWebhook"].is_null(),
        "{}",
        reply.text
    );
    assert_eq!(app.count_rows("webhooks").await, 0);
    assert_eq!(app.count_rows("audit_log").await, audit);

    // A second endpoint for the same URL would deliver everything twice.
    let created = app.post("/api/v1/webhooks", hook()).await;
    let id = created.body["id"].as_str().unwrap();
    let twice = app.post("/api/v1/webhooks", hook()).await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.text);
    assert!(twice.text.contains(id), "{}", twice.text);
    let twice = app
        .user_error(
            create,
            json!({"input": {"url": "https://hooks.example.com/concierge", "events": ["MESSAGE_CREATED"]}}),
            "createWebhook",
        )
        .await;
    assert_eq!(twice["code"], "CONFLICT", "{twice}");
    // The URL is the field at fault.
    assert_eq!(twice["field"], json!(["input", "url"]), "{twice}");
    assert!(twice["message"].as_str().unwrap().contains(id), "{twice}");
    let other = app
        .post(
            "/api/v1/webhooks",
            json!({"url": "https://hooks.example.com/other", "events": ["message.created"]}),
        )
        .await;
    let other_id = other.body["id"].as_str().unwrap();
    let moved = app
        .put(
            &format!("/api/v1/webhooks/{other_id}"),
            json!({"url": "https://hooks.example.com/concierge"}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::CONFLICT, "{}", moved.text);
    let update = "mutation($id: ID!, $input: UpdateWebhookInput!) { updateWebhook(id: $id, input: $input) { webhook { id url } userErrors { field message code } } }";
    let moved = app
        .user_error(
            update,
            json!({"id": other_id, "input": {"url": "https://hooks.example.com/concierge"}}),
            "updateWebhook",
        )
        .await;
    assert_eq!(moved["code"], "CONFLICT", "{moved}");
    assert_eq!(moved["field"], json!(["input", "url"]), "{moved}");
    assert_eq!(app.count_rows("webhooks").await, 2);
    // An update with a bad field changes nothing either.
    let before = stored(&app, id).await.unwrap();
    for body in [
        json!({}),
        json!({"url": "http://192.168.1.1/"}),
        json!({"events": ["nope"]}),
    ] {
        let reply = app
            .put(&format!("/api/v1/webhooks/{id}"), body.clone())
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            reply.text
        );
    }
    for (input, field) in [
        (json!({}), json!(["input"])),
        (
            json!({"url": "http://192.168.1.1/"}),
            json!(["input", "url"]),
        ),
        (json!({"events": []}), json!(["input", "events"])),
    ] {
        let error = app
            .user_error(update, json!({"id": id, "input": input}), "updateWebhook")
            .await;
        assert_eq!(error["code"], "BAD_USER_INPUT", "{input}: {error}");
        assert_eq!(error["field"], field, "{input}: {error}");
    }
    assert_eq!(stored(&app, id).await.unwrap(), before);
}

#[tokio::test]
async fn the_egress_allow_list_admits_a_local_receiver() {
    let app =
        spawn_app_with(|s| s.egress_allow = Some("127.0.0.1/32, hooks.internal".into())).await;
    for url in ["http://127.0.0.1:9/hook", "http://hooks.internal/x"] {
        let reply = app
            .post(
                "/api/v1/webhooks",
                json!({"url": url, "events": ["message.created"]}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{url}: {}", reply.text);
    }
    let reply = app
        .post(
            "/api/v1/webhooks",
            json!({"url": "http://127.0.0.2/x", "events": ["message.created"]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_downgrade_keeps_endpoints_readable_but_inactive_and_an_upgrade_resumes_them() {
    let app = spawn_app().await;
    let shop = bootstrap(&app.db, "Shop", Plan::Standard, "o@shop.test")
        .await
        .unwrap();
    let key = shop.secret.as_str();
    let created = app
        .send(Method::POST, "/api/v1/webhooks", Some(key), Some(hook()))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let secret = created.body["secret"].as_str().unwrap().to_owned();

    set_plan_as_operator(&app.db, &shop.organization.id, Plan::Basic)
        .await
        .unwrap();
    let shown = app
        .send(
            Method::GET,
            &format!("/api/v1/webhooks/{id}"),
            Some(key),
            None,
        )
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text);
    assert_eq!(shown.body["status"], "plan_inactive");
    assert_eq!(
        shown.body["active"], true,
        "the organization's own setting is kept"
    );
    let before = stored(&app, &id).await.unwrap();
    for (method, path, body) in [
        (
            Method::PUT,
            format!("/api/v1/webhooks/{id}"),
            Some(json!({"active": false})),
        ),
        (
            Method::POST,
            format!("/api/v1/webhooks/{id}/rotate-secret"),
            None,
        ),
        (Method::DELETE, format!("/api/v1/webhooks/{id}"), None),
        (Method::POST, "/api/v1/webhooks".to_owned(), Some(hook())),
    ] {
        let reply = app.send(method.clone(), &path, Some(key), body).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            reply.text
        );
        assert_eq!(reply.error_code(), "PLAN_UPGRADE_REQUIRED");
    }
    assert_eq!(
        stored(&app, &id).await.unwrap(),
        before,
        "nothing was deleted or changed"
    );
    assert_eq!(app.count_rows("webhooks").await, 1);

    set_plan_as_operator(&app.db, &shop.organization.id, Plan::Standard)
        .await
        .unwrap();
    let shown = app
        .send(
            Method::GET,
            &format!("/api/v1/webhooks/{id}"),
            Some(key),
            None,
        )
        .await;
    assert_eq!(shown.body["status"], "active");
    assert_eq!(
        opened(&app, &id).await,
        vec![secret],
        "the same secret signs again"
    );
}
