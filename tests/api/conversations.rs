//! Conversations and messages on REST and GraphQL: one service behind both, scoped to the caller's organization.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::spawn_app;

const CONVERSATION_FIELDS: &str = "id assistantId visitorId status subject sourceUrl pageContext pageTitle browser device sentiment failedResponses failedResponsesTotal handoffReason handedOffAt resolvedAt firstResponseAt humanInvolved createdAt updatedAt";

/// The REST shape of a GraphQL conversation, to compare both surfaces field by field.
fn graphql_to_rest(node: &Value) -> Value {
    json!({
        "id": node["id"],
        "assistant_id": node["assistantId"],
        "visitor_id": node["visitorId"],
        "status": node["status"].as_str().unwrap().to_lowercase(),
        "subject": node["subject"],
        "source_url": node["sourceUrl"],
        "page_context": node["pageContext"],
        "page_title": node["pageTitle"],
        "browser": node["browser"],
        "device": node["device"],
        "sentiment": node["sentiment"],
        "failed_responses": node["failedResponses"],
        "failed_responses_total": node["failedResponsesTotal"],
        // An enum on GraphQL (`FAILED_RESPONSES`), its lower-case wire name on REST.
        "handoff_reason": node["handoffReason"].as_str().map(str::to_lowercase),
        "handed_off_at": node["handedOffAt"],
        "resolved_at": node["resolvedAt"],
        "first_response_at": node["firstResponseAt"],
        "human_involved": node["humanInvolved"],
        "created_at": node["createdAt"],
        "updated_at": node["updatedAt"],
    })
}

#[tokio::test]
async fn a_conversation_created_over_rest_reads_back_identically_over_graphql() {
    let app = spawn_app().await;
    let created = app
        .post(
            "/api/v1/conversations",
            json!({
                "visitor": {"name": "Ann", "email": "Ann@Example.test", "phone": "+1 555 0100"},
                "initial_message": "Where is my order?",
                "subject": "Order status",
                "source_url": "https://shop.example/orders/42",
                "page_context": "order page",
                "page_title": "Order #42",
                "browser": "Firefox 140",
                "device": "desktop"
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap();
    assert!(id.starts_with("conv_"));
    assert!(
        created.body["visitor_id"]
            .as_str()
            .unwrap()
            .starts_with("vis_")
    );
    assert_eq!(created.body["assistant_id"], app.org.assistant.id.as_str());
    assert_eq!(created.body["initial_message"]["author"], "visitor");

    let rest = app.get(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(rest.status, StatusCode::OK);
    let data = app
        .graphql_ok(
            &format!("query($id: ID!) {{ conversation(id: $id) {{ {CONVERSATION_FIELDS} visitor {{ name email phone }} }} }}"),
            json!({"id": id}),
        )
        .await;
    assert_eq!(graphql_to_rest(&data["conversation"]), rest.body);
    let mut created_without_message = created.body.clone();
    created_without_message
        .as_object_mut()
        .unwrap()
        .remove("initial_message");
    created_without_message
        .as_object_mut()
        .unwrap()
        .remove("replies");
    assert_eq!(created_without_message, rest.body);
    assert_eq!(data["conversation"]["visitor"]["email"], "ann@example.test");
}

#[tokio::test]
async fn a_conversation_created_over_graphql_reads_back_identically_over_rest() {
    let app = spawn_app().await;
    let created = app
        .mutate(
            &format!(
                "mutation($input: CreateConversationInput!) {{ createConversation(input: $input) {{ conversation {{ {CONVERSATION_FIELDS} }} initialMessage {{ id author body }} replies {{ id replyToId }} userErrors {{ field message code }} }} }}"
            ),
            json!({"input": {"visitor": {"name": "Bo"}, "initialMessage": "Hi", "browser": "Safari", "device": "mobile"}}),
            "createConversation",
        )
        .await;
    let node = &created["conversation"];
    let rest = app
        .get(&format!(
            "/api/v1/conversations/{}",
            node["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(graphql_to_rest(node), rest.body);
    let messages = app
        .get(&format!(
            "/api/v1/conversations/{}/messages",
            node["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        messages.body["data"][0]["id"],
        created["initialMessage"]["id"]
    );
    assert_eq!(messages.body["data"][0]["body"], "Hi");
    // The assistant's answer to the opening message comes back in the payload.
    assert_eq!(
        created["replies"][0]["replyToId"],
        created["initialMessage"]["id"]
    );
    assert_eq!(messages.body["data"][1]["id"], created["replies"][0]["id"]);
}

#[tokio::test]
async fn messages_are_added_and_listed_oldest_first_and_closed_conversations_refuse_them() {
    let app = spawn_app().await;
    let conversation = app.create_conversation("first").await;
    let id = conversation["id"].as_str().unwrap();
    let path = format!("/api/v1/conversations/{id}/messages");
    let reply = app
        .post(
            &path,
            json!({"author": "assistant", "body": "second", "confidence": 0.9}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["confidence"], 0.9);
    let send = "mutation($id: ID!, $body: String!) { sendMessage(input: {conversationId: $id, author: AGENT, body: $body}) { message { author body } replies { id } userErrors { field message code } } }";
    let reply = app
        .mutate(send, json!({"id": id, "body": "third"}), "sendMessage")
        .await;
    assert_eq!(reply["message"]["author"], "AGENT");
    assert_eq!(reply["message"]["body"], "third");
    assert_eq!(
        reply["replies"],
        json!([]),
        "agents' messages get no answer"
    );

    let listed = app.get(&path).await;
    let bodies: Vec<&str> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    let fallback = assistants_default_fallback();
    assert_eq!(bodies, ["first", fallback.as_str(), "second", "third"]);

    let closed = app
        .put(
            &format!("/api/v1/conversations/{id}"),
            json!({"status": "closed"}),
        )
        .await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.text);
    assert_eq!(closed.body["status"], "closed");
    let refused = app
        .post(&path, json!({"author": "visitor", "body": "hello?"}))
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.error_code(), "CONFLICT");
    let refused = app
        .user_error(send, json!({"id": id, "body": "fourth"}), "sendMessage")
        .await;
    assert_eq!(refused["code"], "CONFLICT", "{refused}");
    assert_eq!(refused["field"], Value::Null, "{refused}");
    assert_eq!(
        app.get(&path).await.body["data"].as_array().unwrap().len(),
        4
    );
}

#[tokio::test]
async fn updates_change_status_subject_and_sentiment_and_null_clears() {
    let app = spawn_app().await;
    let conversation = app.create_conversation("help").await;
    let path = format!(
        "/api/v1/conversations/{}",
        conversation["id"].as_str().unwrap()
    );
    let reply = app
        .put(
            &path,
            json!({"status": "handed_off", "subject": "Refund", "sentiment": -0.5}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["status"], "handed_off");
    assert_eq!(reply.body["subject"], "Refund");
    assert_eq!(reply.body["sentiment"], -0.5);
    let reply = app.put(&path, json!({"subject": null})).await;
    assert_eq!(reply.body["subject"], Value::Null);
    assert_eq!(reply.body["status"], "handed_off");
    // On GraphQL each status change is its own mutation; `updateConversation` keeps subject and sentiment.
    let read = app
        .graphql_ok(
            "query($id: ID!) { conversation(id: $id) { status handoffReason } }",
            json!({"id": conversation["id"]}),
        )
        .await;
    assert_eq!(read["conversation"]["status"], "HANDED_OFF");
    assert_eq!(read["conversation"]["handoffReason"], "REQUESTED");
    for (mutation, status) in [
        ("resolveConversation", "RESOLVED"),
        ("reopenConversation", "OPEN"),
        ("handOffConversation", "HANDED_OFF"),
        ("closeConversation", "CLOSED"),
    ] {
        let payload = app
            .mutate(
                &format!(
                    "mutation($id: ID!) {{ {mutation}(id: $id) {{ conversation {{ id status handoffReason subject }} userErrors {{ field message code }} }} }}"
                ),
                json!({"id": conversation["id"]}),
                mutation,
            )
            .await;
        assert_eq!(payload["conversation"]["id"], conversation["id"]);
        assert_eq!(payload["conversation"]["status"], status, "{mutation}");
        assert_eq!(
            payload["conversation"]["subject"],
            Value::Null,
            "{mutation}"
        );
        if mutation == "handOffConversation" {
            assert_eq!(payload["conversation"]["handoffReason"], "REQUESTED");
        }
        assert_eq!(
            app.get(&path).await.body["status"],
            status.to_lowercase(),
            "{mutation}"
        );
    }
    let update = "mutation($id: ID!, $input: UpdateConversationInput!) { updateConversation(id: $id, input: $input) { conversation { status subject sentiment } userErrors { field message code } } }";
    let updated = app
        .mutate(
            update,
            json!({"id": conversation["id"], "input": {"subject": "Refund", "sentiment": null}}),
            "updateConversation",
        )
        .await;
    assert_eq!(updated["conversation"]["subject"], "Refund");
    assert_eq!(updated["conversation"]["sentiment"], Value::Null);
    assert_eq!(updated["conversation"]["status"], "CLOSED");
    // Nothing to change is a mistake of the input as a whole.
    let nothing = app
        .user_error(
            update,
            json!({"id": conversation["id"], "input": {}}),
            "updateConversation",
        )
        .await;
    assert_eq!(nothing["code"], "BAD_USER_INPUT", "{nothing}");
    assert_eq!(nothing["field"], json!(["input"]), "{nothing}");
}

#[tokio::test]
async fn rest_pagination_walks_every_conversation_once_newest_first() {
    let app = spawn_app().await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(
            app.create_conversation(&format!("m{i}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/conversations?limit=2&cursor={c}"),
            None => "/api/v1/conversations?limit=2".to_owned(),
        };
        let page = app.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        for c in page.body["data"].as_array().unwrap() {
            seen.push(c["id"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    created.reverse();
    assert_eq!(seen, created);
}

#[tokio::test]
async fn graphql_connections_page_with_cursors_and_count_in_total() {
    let app = spawn_app().await;
    for i in 0..3 {
        app.create_conversation(&format!("m{i}")).await;
    }
    let first = app
        .graphql_ok(
            "{ conversations(first: 2) { totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(first["conversations"]["totalCount"], 3);
    assert_eq!(first["conversations"]["pageInfo"]["hasNextPage"], true);
    let after = first["conversations"]["pageInfo"]["endCursor"].clone();
    let second = app
        .graphql_ok(
            "query($after: String) { conversations(first: 2, after: $after) { pageInfo { hasNextPage hasPreviousPage } edges { node { id } } } }",
            json!({"after": after}),
        )
        .await;
    assert_eq!(
        second["conversations"]["edges"].as_array().unwrap().len(),
        1
    );
    assert_eq!(second["conversations"]["pageInfo"]["hasNextPage"], false);
    assert_eq!(second["conversations"]["pageInfo"]["hasPreviousPage"], true);

    let filtered = app
        .graphql_ok(
            "{ conversations(status: CLOSED) { totalCount edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(filtered["conversations"]["totalCount"], 0);
}

#[tokio::test]
async fn another_organizations_conversation_is_not_found_on_both_surfaces() {
    let app = spawn_app().await;
    let mine = app.create_conversation("private").await;
    let id = mine["id"].as_str().unwrap();
    let other = app.other_organization("Globex").await;
    let key = other.secret.as_str();

    for (method, path, body) in [
        (Method::GET, format!("/api/v1/conversations/{id}"), None),
        (
            Method::PUT,
            format!("/api/v1/conversations/{id}"),
            Some(json!({"status": "closed"})),
        ),
        (
            Method::GET,
            format!("/api/v1/conversations/{id}/messages"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{id}/messages"),
            Some(json!({"author": "agent", "body": "hi"})),
        ),
    ] {
        let reply = app.send(method.clone(), &path, Some(key), body).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            reply.text
        );
        assert_eq!(reply.error_code(), "NOT_FOUND");
    }
    let listed = app
        .send(Method::GET, "/api/v1/conversations", Some(key), None)
        .await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 0);

    // On GraphQL the lookup answers null, without an error, and a mutation a NOT_FOUND user error.
    let reply = app
        .graphql_as(
            key,
            "query($id: ID!) { conversation(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    assert!(reply.body.get("errors").is_none(), "{}", reply.text);
    assert_eq!(
        reply.body["data"]["conversation"],
        Value::Null,
        "{}",
        reply.text
    );
    let error = app
        .user_error_as(
            key,
            "mutation($id: ID!) { sendMessage(input: {conversationId: $id, author: AGENT, body: \"x\"}) { message { id } userErrors { field message code } } }",
            json!({"id": id}),
            "sendMessage",
        )
        .await;
    assert_eq!(error["code"], "NOT_FOUND", "{error}");
    assert_eq!(error["field"], Value::Null, "{error}");
    for mutation in [
        "handOffConversation",
        "resolveConversation",
        "reopenConversation",
        "closeConversation",
    ] {
        let error = app
            .user_error_as(
                key,
                &format!(
                    "mutation($id: ID!) {{ {mutation}(id: $id) {{ conversation {{ id }} userErrors {{ field message code }} }} }}"
                ),
                json!({"id": id}),
                mutation,
            )
            .await;
        assert_eq!(error["code"], "NOT_FOUND", "{mutation}: {error}");
    }
    // The other organization's reply changed nothing: the visitor's message and the assistant's answer remain.
    assert_eq!(
        app.get(&format!("/api/v1/conversations/{id}")).await.body["status"],
        "open"
    );
    assert_eq!(app.count_rows("messages").await, 2);
}

#[tokio::test]
async fn each_change_writes_its_event_in_order_per_conversation() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let app = spawn_app().await;
    let conversation = app.create_conversation("hello").await;
    let id = conversation["id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/conversations/{id}/messages"),
        json!({"author": "assistant", "body": "hi"}),
    )
    .await;
    app.put(
        &format!("/api/v1/conversations/{id}"),
        json!({"status": "resolved"}),
    )
    .await;

    let events = entities::event::Entity::find()
        .filter(entities::event::Column::ConversationId.eq(id))
        .order_by_asc(entities::event::Column::Sequence)
        .all(app.db.conn())
        .await
        .unwrap();
    let names: Vec<(&str, i64)> = events
        .iter()
        .map(|e| (e.event.as_str(), e.sequence))
        .collect();
    assert_eq!(
        names,
        [
            ("conversation.created", 1),
            ("message.created", 2),
            ("message.created", 3),
            ("knowledge_base.query_failed", 4),
            ("message.created", 5),
            ("conversation.updated", 6),
            ("conversation.resolved", 7)
        ]
    );
    let created = &events[0].data;
    assert_eq!(created["conversation_id"], id);
    assert_eq!(created["visitor_id"], conversation["visitor_id"]);
    assert_eq!(created["initial_message"], "hello");
    assert_eq!(events[2].data["author"], "assistant");
    assert_eq!(events[2].data["reply_source"], "fallback");
    assert_eq!(events[5].data["changes"]["status"]["to"], "resolved");
}

#[tokio::test]
async fn an_existing_visitor_can_start_another_conversation() {
    let app = spawn_app().await;
    let first = app.create_conversation("one").await;
    let reply = app
        .post(
            "/api/v1/conversations",
            json!({"visitor_id": first["visitor_id"], "initial_message": "two"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["visitor_id"], first["visitor_id"]);
    let filtered = app
        .get(&format!(
            "/api/v1/conversations?visitor_id={}",
            first["visitor_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(filtered.body["data"].as_array().unwrap().len(), 2);
}

/// The default assistant's fallback message (its knowledge base is empty in these tests).
fn assistants_default_fallback() -> String {
    api::assistant::settings::EngineSettings::default().fallback_message
}
