//! The knowledge base on REST and GraphQL, and the analytics counts.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn entries_are_created_updated_searched_and_deleted() {
    let app = spawn_app().await;
    let created = app
        .post(
            "/api/v1/knowledge-base",
            json!({"title": "Shipping times", "body": "Orders ship in 2 days.", "category": "shipping", "tags": ["orders", "delivery", "orders"]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("kb_"));
    assert_eq!(created.body["tags"], json!(["orders", "delivery"]));
    assert_eq!(created.body["active"], true);
    app.post(
        "/api/v1/knowledge-base",
        json!({"title": "Returns", "body": "30 day RETURNS policy", "category": "returns"}),
    )
    .await;

    let found = app.get("/api/v1/knowledge-base?search=returns").await;
    assert_eq!(
        found.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        found.text
    );
    let found = app.get("/api/v1/knowledge-base?search=SHIP").await;
    assert_eq!(found.body["data"][0]["id"], id.as_str());
    let found = app.get("/api/v1/knowledge-base?category=returns").await;
    assert_eq!(found.body["data"][0]["title"], "Returns");
    let none = app.get("/api/v1/knowledge-base?search=50%25").await;
    assert_eq!(
        none.body["data"].as_array().unwrap().len(),
        0,
        "% is matched literally"
    );

    let updated = app
        .put(
            &format!("/api/v1/knowledge-base/{id}"),
            json!({"active": false, "category": null}),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    assert_eq!(updated.body["active"], false);
    assert_eq!(updated.body["category"], serde_json::Value::Null);
    assert_eq!(updated.body["title"], "Shipping times");

    let data = app
        .graphql_ok(
            "query($id: ID!) { knowledgeBaseEntry(id: $id) { id title body category tags active createdAt updatedAt } }",
            json!({"id": id}),
        )
        .await;
    let entry = &data["knowledgeBaseEntry"];
    assert_eq!(entry["active"], false);
    assert_eq!(entry["updatedAt"], updated.body["updated_at"]);
    assert_eq!(entry["createdAt"], updated.body["created_at"]);

    let deleted = app.delete(&format!("/api/v1/knowledge-base/{id}")).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let again = app.delete(&format!("/api/v1/knowledge-base/{id}")).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(app.count_rows("knowledge_base_entries").await, 1);
}

#[tokio::test]
async fn graphql_mutations_manage_entries() {
    let app = spawn_app().await;
    let created = app
        .mutate(
            "mutation { createKnowledgeBaseEntry(input: {title: \"Hours\", body: \"9 to 5\", tags: [\"support\"]}) { knowledgeBaseEntry { id active tags } userErrors { field message code } } }",
            json!({}),
            "createKnowledgeBaseEntry",
        )
        .await;
    let id = created["knowledgeBaseEntry"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(created["knowledgeBaseEntry"]["active"], true);
    assert_eq!(created["knowledgeBaseEntry"]["tags"], json!(["support"]));
    let updated = app
        .mutate(
            "mutation($id: ID!) { updateKnowledgeBaseEntry(id: $id, input: {body: \"9 to 6\", category: \"hours\"}) { knowledgeBaseEntry { body category } userErrors { field message code } } }",
            json!({"id": id}),
            "updateKnowledgeBaseEntry",
        )
        .await;
    assert_eq!(updated["knowledgeBaseEntry"]["category"], "hours");
    let rest = app.get(&format!("/api/v1/knowledge-base/{id}")).await;
    assert_eq!(rest.body["body"], "9 to 6");
    let too_long = app
        .user_error(
            "mutation($id: ID!, $title: String!) { updateKnowledgeBaseEntry(id: $id, input: {title: $title}) { knowledgeBaseEntry { id } userErrors { field message code } } }",
            json!({"id": id, "title": "t".repeat(301)}),
            "updateKnowledgeBaseEntry",
        )
        .await;
    assert_eq!(too_long["code"], "BAD_USER_INPUT", "{too_long}");
    assert_eq!(too_long["field"], json!(["input", "title"]), "{too_long}");
    let delete = "mutation($id: ID!) { deleteKnowledgeBaseEntry(id: $id) { deletedKnowledgeBaseEntryId userErrors { field message code } } }";
    let deleted = app
        .mutate(delete, json!({"id": id}), "deleteKnowledgeBaseEntry")
        .await;
    assert_eq!(deleted["deletedKnowledgeBaseEntryId"], id.as_str());
    // Gone: the lookup answers null, and a second delete is a NOT_FOUND user error.
    let looked_up = app
        .graphql_ok(
            "query($id: ID!) { knowledgeBaseEntry(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(looked_up["knowledgeBaseEntry"], serde_json::Value::Null);
    let again = app
        .user_error(delete, json!({"id": id}), "deleteKnowledgeBaseEntry")
        .await;
    assert_eq!(again["code"], "NOT_FOUND", "{again}");
    assert_eq!(again["field"], serde_json::Value::Null, "{again}");
    let list = app
        .graphql_ok(
            "{ knowledgeBaseEntries { totalCount edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(list["knowledgeBaseEntries"]["totalCount"], 0);
}

#[tokio::test]
async fn analytics_count_conversations_messages_and_entries() {
    let app = spawn_app().await;
    let c = app.create_conversation("a").await;
    app.create_conversation("b").await;
    app.put(
        &format!("/api/v1/conversations/{}", c["id"].as_str().unwrap()),
        json!({"status": "resolved"}),
    )
    .await;
    app.post(
        "/api/v1/knowledge-base",
        json!({"title": "t1", "body": "b", "category": "faq"}),
    )
    .await;
    app.post(
        "/api/v1/knowledge-base",
        json!({"title": "t2", "body": "b", "active": false}),
    )
    .await;

    let stats = app.get("/api/v1/analytics/conversations").await;
    assert_eq!(stats.status, StatusCode::OK, "{}", stats.text);
    assert_eq!(stats.body["total"], 2);
    assert_eq!(stats.body["by_status"]["open"], 1);
    assert_eq!(stats.body["by_status"]["resolved"], 1);
    assert_eq!(stats.body["by_status"]["closed"], 0);
    // Each opening message and the assistant's answer to it.
    assert_eq!(stats.body["messages"], 4);

    let kb = app.get("/api/v1/analytics/knowledge-base").await;
    assert_eq!(kb.body["total"], 2);
    assert_eq!(kb.body["active"], 1);
    assert_eq!(kb.body["inactive"], 1);
    assert_eq!(kb.body["by_category"]["faq"], 1);

    let data = app
        .graphql_ok(
            "{ analytics { conversations { total messages } knowledgeBase { total active } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["analytics"]["conversations"]["total"], 2);
    assert_eq!(data["analytics"]["knowledgeBase"]["active"], 1);
}
