//! The federation subgraph: the committed SDL matches what is served, and entities resolve by key.

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_committed_schema_graphql_matches_the_served_sdl() {
    let app = spawn_app().await;
    let data = app.graphql_ok("{ _service { sdl } }", json!({})).await;
    let served = data["_service"]["sdl"].as_str().unwrap();
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql exists at the repository root");
    assert!(
        committed == served,
        "schema.graphql is stale: run `cargo run -- schema --output schema.graphql`"
    );
    assert!(served.contains("@link(") && served.contains("https://specs.apollo.dev/federation/v2"));
    for entity in [
        "Organization",
        "Member",
        "Conversation",
        "Message",
        "KnowledgeBaseEntry",
        "Visitor",
        "Assistant",
    ] {
        assert!(
            served.contains(&format!(
                "type {entity} implements Node @key(fields: \"id\")"
            )),
            "{entity} is an entity and a Node"
        );
    }
}

#[tokio::test]
async fn entities_resolve_by_id_and_only_within_the_callers_organization() {
    let app = spawn_app().await;
    let conversation = app.create_conversation("hello").await;
    let query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Conversation { id status } ... on Visitor { id name } ... on Assistant { id name } } }";
    let representations = json!([
        {"__typename": "Conversation", "id": conversation["id"]},
        {"__typename": "Visitor", "id": conversation["visitor_id"]},
        {"__typename": "Assistant", "id": app.org.assistant.id},
    ]);
    let data = app.graphql_ok(query, json!({"r": representations})).await;
    assert_eq!(data["_entities"][0]["status"], "OPEN");
    assert_eq!(data["_entities"][1]["name"], "Ann");
    assert_eq!(data["_entities"][2]["id"], app.org.assistant.id.as_str());

    let other = app.other_organization("Globex").await;
    let reply = app
        .graphql_as(&other.secret, query, json!({"r": representations}))
        .await;
    assert_eq!(
        reply.body["data"]["_entities"],
        json!([null, null, null]),
        "{}",
        reply.text
    );
}
