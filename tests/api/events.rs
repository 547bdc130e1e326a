//! The event stream read back: stream order, `since` by id or time, type filters, role filtering, retention.

use entities::event;
use reqwest::{Method, StatusCode};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

async fn events(app: &TestApp, query: &str) -> Vec<Value> {
    let reply = app.get(&format!("/api/v1/events{query}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["data"].as_array().unwrap().clone()
}

fn names(list: &[Value]) -> Vec<&str> {
    list.iter().map(|e| e["event"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn events_read_back_in_stream_order_from_an_id_or_a_time_by_type_and_page() {
    let app = spawn_app().await;
    let started = chrono::Utc::now() - chrono::Duration::seconds(1);
    let conversation = app.create_conversation("hello").await;
    let path = format!(
        "/api/v1/conversations/{}/messages",
        conversation["id"].as_str().unwrap()
    );
    for n in 0..2 {
        app.post(
            &path,
            json!({"author": "agent", "body": format!("reply {n}")}),
        )
        .await;
    }
    app.post("/api/v1/knowledge-base", json!({"title": "t", "body": "b"}))
        .await;

    let all = events(&app, "").await;
    assert_eq!(
        names(&all),
        [
            "conversation.created",
            "message.created",
            "message.created",
            "knowledge_base.query_failed",
            "message.created",
            "message.created",
            "knowledge_base.entry_created"
        ]
    );
    let sequences: Vec<i64> = all[..6]
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert!(
        sequences.windows(2).all(|w| w[1] == w[0] + 1),
        "{sequences:?}"
    );
    assert_eq!(all[0]["data"]["conversation_id"], conversation["id"]);
    assert_eq!(all[0]["organization_id"], app.org.organization.id.as_str());

    let after_second = events(&app, &format!("?since={}", all[1]["id"].as_str().unwrap())).await;
    assert_eq!(after_second.len(), 5);
    assert_eq!(after_second[0]["id"], all[2]["id"]);
    let since_time = events(
        &app,
        &format!("?since={}", started.to_rfc3339().replace('+', "%2B")),
    )
    .await;
    assert_eq!(since_time.len(), 7);
    let messages = events(&app, "?types=message.created").await;
    assert_eq!(messages.len(), 4);

    // Paging: the cursor continues where the page ended.
    let first = app.get("/api/v1/events?limit=2").await;
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app
        .get(&format!("/api/v1/events?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(second.body["data"][0]["id"], all[2]["id"]);

    // GraphQL reads the same stream.
    let data = app
        .graphql_ok(
            "query($since: String) { events(since: $since, types: [MESSAGE_CREATED], first: 10) { edges { node { id type sequence data } } } eventRetentionDays }",
            json!({"since": all[0]["id"]}),
        )
        .await;
    let ids: Vec<&Value> = data["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"]["id"])
        .collect();
    assert_eq!(ids, messages.iter().map(|e| &e["id"]).collect::<Vec<_>>());
    for edge in data["events"]["edges"].as_array().unwrap() {
        assert_eq!(edge["node"]["type"], "MESSAGE_CREATED", "{edge}");
    }
    assert_eq!(data["eventRetentionDays"], 30);
    // Event types are variables too, by their enum names.
    let data = app
        .graphql_ok(
            "query($types: [EventType!]) { events(types: $types, first: 10) { edges { node { id type } } } }",
            json!({"types": ["CONVERSATION_CREATED", "KNOWLEDGE_BASE_ENTRY_CREATED"]}),
        )
        .await;
    let types: Vec<&Value> = data["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"]["type"])
        .collect();
    assert_eq!(
        types,
        [
            &json!("CONVERSATION_CREATED"),
            &json!("KNOWLEDGE_BASE_ENTRY_CREATED")
        ]
    );
}

#[tokio::test]
async fn a_role_reads_only_the_events_of_what_it_may_read() {
    let app = spawn_app().await;
    app.create_conversation("hello").await;
    app.post("/api/v1/knowledge-base", json!({"title": "t", "body": "b"}))
        .await;
    let analyst = app.key_with_role("analyst").await;
    let list = app
        .send(Method::GET, "/api/v1/events", Some(&analyst), None)
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let seen = names(list.body["data"].as_array().unwrap());
    assert!(seen.contains(&"conversation.created"));
    assert!(
        !seen.iter().any(|n| n.starts_with("knowledge_base.")),
        "analysts do not read the knowledge base: {seen:?}"
    );
    let refused = app
        .send(
            Method::GET,
            "/api/v1/events?types=knowledge_base.entry_created",
            Some(&analyst),
            None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.error_code(), "FORBIDDEN");
}

#[tokio::test]
async fn bad_event_queries_get_clear_errors() {
    let app = spawn_app().await;
    for query in [
        "?since=yesterday",
        "?since=evt_nope",
        "?types=conversation.exploded",
        "?limit=0",
        "?cursor=%%%",
        "?colour=red",
    ] {
        let reply = app.get(&format!("/api/v1/events{query}")).await;
        assert!(reply.status.is_client_error(), "{query}: {}", reply.text);
        assert_eq!(
            reply.error_code(),
            "BAD_USER_INPUT",
            "{query}: {}",
            reply.text
        );
    }
    let reply = app
        .graphql(
            "{ events(since: \"last week\") { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        reply.body["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    // An unknown event type is not an `EventType`: GraphQL refuses the document.
    let reply = app
        .graphql(
            "{ events(types: [CONVERSATION_EXPLODED]) { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert!(reply.body["errors"].is_array(), "{}", reply.text);
    assert!(reply.body["data"]["events"].is_null(), "{}", reply.text);
}

#[tokio::test]
async fn events_past_the_retention_window_are_neither_served_nor_kept() {
    let app = spawn_app().await;
    app.create_conversation("recent").await;
    let old = event::ActiveModel {
        id: Set(api::ids::new_id(api::ids::Kind::Event)),
        organization_id: Set(app.org.organization.id.clone()),
        event: Set("conversation.updated".into()),
        conversation_id: Set(None),
        sequence: Set(0),
        data: Set(json!({})),
        created_at: Set(chrono::Utc::now() - chrono::Duration::days(40)),
    }
    .insert(app.db.conn())
    .await
    .unwrap();
    let listed = events(&app, "").await;
    assert!(
        listed.iter().all(|e| e["id"] != old.id.as_str()),
        "older than 30 days is not served"
    );
    let pruned = api::events::feed::prune(&app.db, 30).await.unwrap();
    assert_eq!(pruned, 1);
    assert_eq!(
        app.count_rows(&format!("events WHERE id = '{}'", old.id))
            .await,
        0
    );
    assert_eq!(
        events(&app, "").await.len(),
        listed.len(),
        "recent events stay"
    );
}

#[tokio::test]
async fn resolving_a_conversation_and_editing_a_visitor_emit_their_events() {
    let app = spawn_app().await;
    let conversation = app.create_conversation("my parcel is late").await;
    let id = conversation["id"].as_str().unwrap();
    let visitor = conversation["visitor_id"].as_str().unwrap();

    let resolved = app
        .put(
            &format!("/api/v1/conversations/{id}"),
            json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(resolved.status, StatusCode::OK, "{}", resolved.text);
    let all = events(&app, "").await;
    assert_eq!(
        names(&all),
        [
            "conversation.created",
            "message.created",
            "message.created",
            "knowledge_base.query_failed",
            "conversation.updated",
            "conversation.resolved"
        ]
    );
    let done = &all[5];
    assert_eq!(done["data"]["conversation_id"], id);
    assert_eq!(done["data"]["previous_status"], "open");
    assert!(
        done["data"]["resolved_by"]
            .as_str()
            .unwrap()
            .starts_with("key_")
    );
    assert_eq!(
        done["sequence"].as_i64().unwrap(),
        all[4]["sequence"].as_i64().unwrap() + 1,
        "the resolution is next in the conversation's sequence"
    );
    // Resolving a resolved conversation again is not a second resolution.
    app.put(
        &format!("/api/v1/conversations/{id}"),
        json!({"status": "resolved"}),
    )
    .await;
    let again = events(&app, "?types=conversation.resolved").await;
    assert_eq!(again.len(), 1);

    let path = format!("/api/v1/visitors/{visitor}");
    let updated = app
        .put(&path, json!({"email": "ann@new.example", "phone": null}))
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    assert_eq!(updated.body["email"], "ann@new.example");
    let changed = events(&app, "?types=visitor.updated").await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["data"]["visitor_id"], visitor);
    assert_eq!(
        changed[0]["data"]["changes"]["email"],
        json!({"from": "ann@example.test", "to": "ann@new.example"})
    );
    assert!(
        changed[0]["data"]["changes"].get("phone").is_none(),
        "an absent phone stays absent: no change"
    );

    // The same details again change nothing and emit nothing; bad details are refused and change nothing.
    let same = app.put(&path, json!({"email": "ann@new.example"})).await;
    assert_eq!(same.status, StatusCode::OK);
    for (body, field) in [
        (json!({"email": "not an email"}), "email"),
        (json!({"phone": "call me maybe"}), "phone"),
        (json!({}), "nothing to update"),
    ] {
        let refused = app.put(&path, body.clone()).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(refused.text.contains(field), "{}", refused.text);
    }
    let unknown = app.put(&path, json!({"nickname": "A"})).await;
    assert!(unknown.status.is_client_error());
    assert_eq!(events(&app, "?types=visitor.updated").await.len(), 1);
    let shown = app.get(&path).await;
    assert_eq!(shown.body["email"], "ann@new.example");
    assert_eq!(shown.body["name"], "Ann");

    let through_graphql = app
        .mutate(
            "mutation($id: ID!) { updateVisitor(id: $id, input: {name: \"Ann B.\"}) { visitor { name email } userErrors { field message code } } }",
            json!({"id": visitor}),
            "updateVisitor",
        )
        .await;
    assert_eq!(through_graphql["visitor"]["name"], "Ann B.");
    assert_eq!(through_graphql["visitor"]["email"], "ann@new.example");
    // Bad details over GraphQL are user errors naming the field, and change nothing either.
    let refused = app
        .user_error(
            "mutation($id: ID!) { updateVisitor(id: $id, input: {email: \"not an email\"}) { visitor { name } userErrors { field message code } } }",
            json!({"id": visitor}),
            "updateVisitor",
        )
        .await;
    assert_eq!(refused["code"], "BAD_USER_INPUT", "{refused}");
    assert_eq!(refused["field"], json!(["input", "email"]), "{refused}");
    assert_eq!(events(&app, "?types=visitor.updated").await.len(), 2);
}

#[tokio::test]
async fn handing_a_conversation_off_emits_handoff_requested() {
    let app = spawn_app().await;
    let conversation = app.create_conversation("I want a person").await;
    let id = conversation["id"].as_str().unwrap();
    let handed = app
        .mutate(
            "mutation($id: ID!) { handOffConversation(id: $id) { conversation { status handoffReason } userErrors { field message code } } }",
            json!({"id": id}),
            "handOffConversation",
        )
        .await;
    assert_eq!(handed["conversation"]["status"], "HANDED_OFF");
    assert_eq!(handed["conversation"]["handoffReason"], "REQUESTED");
    let requested = events(&app, "?types=handoff.requested").await;
    assert_eq!(requested.len(), 1);
    let data = &requested[0]["data"];
    assert_eq!(data["conversation_id"], id);
    assert_eq!(data["reason"], "requested");
    assert_eq!(data["previous_status"], "open");
    assert!(data["requested_by"].as_str().unwrap().starts_with("key_"));
    // Already handed off: no second request.
    app.put(
        &format!("/api/v1/conversations/{id}"),
        json!({"status": "handed_off", "subject": "Person wanted"}),
    )
    .await;
    assert_eq!(events(&app, "?types=handoff.requested").await.len(), 1);
}
