//! The GraphQL conventions: payloads with `userErrors`, top-level errors only for what a user cannot fix, nullable lookups, one mutation per intent.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

/// The `userErrors` of a mutation field, after checking that the response has no top-level errors.
fn user_errors(body: &Value, field: &str) -> Vec<Value> {
    assert!(body.get("errors").is_none(), "unexpected errors: {body}");
    body["data"][field]["userErrors"]
        .as_array()
        .unwrap_or_else(|| panic!("no userErrors on {field}: {body}"))
        .clone()
}

#[tokio::test]
async fn a_mistake_in_the_input_is_a_user_error_with_its_path_and_changes_nothing() {
    let app = spawn_app().await;
    let before = app.count_rows("webhooks").await;

    let reply = app
        .graphql(
            "mutation { createWebhook(input: {url: \"ftp://hooks.example.com/in\", events: [CONVERSATION_CREATED]}) { webhook { id } secret userErrors { field message code } } }",
            json!({}),
        )
        .await;

    let errors = user_errors(&reply.body, "createWebhook");
    assert_eq!(errors.len(), 1, "{}", reply.text);
    assert_eq!(errors[0]["field"], json!(["input", "url"]));
    assert_eq!(errors[0]["code"], "BAD_USER_INPUT");
    assert_eq!(errors[0]["message"], "must be http or https");
    assert!(reply.body["data"]["createWebhook"]["webhook"].is_null());
    assert!(reply.body["data"]["createWebhook"]["secret"].is_null());
    assert_eq!(app.count_rows("webhooks").await, before);
}

#[tokio::test]
async fn one_failed_mutation_does_not_null_the_results_of_the_others() {
    let app = spawn_app().await;

    let reply = app
        .graphql(
            "mutation {
                made: createKnowledgeBaseEntry(input: {title: \"Returns\", body: \"Within 30 days.\"}) { knowledgeBaseEntry { id title } userErrors { code } }
                missing: updateKnowledgeBaseEntry(id: \"kb_01JDZ8Q4V2M3N4P5Q6R7S8T9VW\", input: {title: \"Late\"}) { knowledgeBaseEntry { id } userErrors { field code message } }
            }",
            json!({}),
        )
        .await;

    assert!(
        user_errors(&reply.body, "made").is_empty(),
        "{}",
        reply.text
    );
    assert_eq!(
        reply.body["data"]["made"]["knowledgeBaseEntry"]["title"],
        "Returns"
    );
    let missing = user_errors(&reply.body, "missing");
    assert_eq!(missing.len(), 1, "{}", reply.text);
    assert_eq!(missing[0]["code"], "NOT_FOUND");
    assert!(missing[0]["field"].is_null());
    assert!(reply.body["data"]["missing"]["knowledgeBaseEntry"].is_null());
    assert_eq!(app.count_rows("knowledge_base_entries").await, 1);
}

#[tokio::test]
async fn what_a_user_cannot_fix_stays_a_top_level_error_and_nulls_only_its_field() {
    let app = spawn_app().await;
    let viewer = app.key_with_role("viewer").await;

    let reply = app
        .graphql_as(
            &viewer,
            "mutation { createKnowledgeBaseEntry(input: {title: \"Returns\", body: \"Within 30 days.\"}) { knowledgeBaseEntry { id } userErrors { code } } }",
            json!({}),
        )
        .await;

    assert_eq!(
        reply.body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{}",
        reply.text
    );
    assert_eq!(
        reply.body["errors"][0]["path"],
        json!(["createKnowledgeBaseEntry"])
    );
    assert!(reply.body["data"].is_object(), "{}", reply.text);
    assert!(reply.body["data"]["createKnowledgeBaseEntry"].is_null());
    assert_eq!(app.count_rows("knowledge_base_entries").await, 0);
}

#[tokio::test]
async fn a_lookup_of_an_object_that_is_not_there_answers_null() {
    let app = spawn_app().await;
    let conversation = app.create_conversation("Where is my order?").await;

    let data = app
        .graphql_ok(
            "query($id: ID!) {
                found: conversation(id: $id) { id }
                gone: conversation(id: \"conv_01JDZ8Q4V2M3N4P5Q6R7S8T9VW\") { id }
                wrongKind: conversation(id: \"kb_01JDZ8Q4V2M3N4P5Q6R7S8T9VW\") { id }
                webhook(id: \"whk_01JDZ8Q4V2M3N4P5Q6R7S8T9VW\") { id }
                visitor(id: \"vis_01JDZ8Q4V2M3N4P5Q6R7S8T9VW\") { id }
            }",
            json!({"id": conversation["id"]}),
        )
        .await;

    assert_eq!(data["found"]["id"], conversation["id"]);
    assert!(data["gone"].is_null());
    assert!(data["wrongKind"].is_null());
    assert!(data["webhook"].is_null());
    assert!(data["visitor"].is_null());
}

#[tokio::test]
async fn each_status_change_of_a_conversation_is_its_own_mutation() {
    let app = spawn_app().await;
    let conversation = app
        .create_conversation("What are your opening hours?")
        .await;
    let id = conversation["id"].clone();

    let mut seen = Vec::new();
    for mutation in [
        "handOffConversation",
        "resolveConversation",
        "reopenConversation",
        "closeConversation",
    ] {
        let reply = app
            .graphql(
                &format!(
                    "mutation($id: ID!) {{ {mutation}(id: $id) {{ conversation {{ id status handoffReason }} userErrors {{ code }} }} }}"
                ),
                json!({"id": id}),
            )
            .await;
        assert!(
            user_errors(&reply.body, mutation).is_empty(),
            "{}",
            reply.text
        );
        let changed = &reply.body["data"][mutation]["conversation"];
        assert_eq!(changed["id"], id);
        seen.push((
            changed["status"].as_str().unwrap().to_owned(),
            changed["handoffReason"].clone(),
        ));
    }

    assert_eq!(
        seen,
        [
            ("HANDED_OFF".to_owned(), json!("REQUESTED")),
            ("RESOLVED".to_owned(), json!("REQUESTED")),
            ("OPEN".to_owned(), json!("REQUESTED")),
            ("CLOSED".to_owned(), json!("REQUESTED")),
        ]
    );
    let events = app
        .graphql_ok(
            "query { events(types: [CONVERSATION_UPDATED]) { nodes { type data } } }",
            json!({}),
        )
        .await;
    let statuses: Vec<Value> = events["events"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["type"], "CONVERSATION_UPDATED");
            e["data"]["changes"]["status"]["to"].clone()
        })
        .collect();
    assert_eq!(
        statuses,
        [
            json!("handed_off"),
            json!("resolved"),
            json!("open"),
            json!("closed")
        ]
    );
}

#[tokio::test]
async fn a_missing_object_named_in_the_input_is_a_not_found_user_error() {
    let app = spawn_app().await;

    let reply = app
        .graphql(
            "mutation { sendMessage(input: {conversationId: \"conv_01JDZ8Q4V2M3N4P5Q6R7S8T9VW\", author: AGENT, body: \"Hello\"}) { message { id } replies { id } userErrors { field code } } }",
            json!({}),
        )
        .await;

    let errors = user_errors(&reply.body, "sendMessage");
    assert_eq!(errors.len(), 1, "{}", reply.text);
    assert_eq!(errors[0]["code"], "NOT_FOUND");
    assert!(reply.body["data"]["sendMessage"]["message"].is_null());
    assert_eq!(reply.body["data"]["sendMessage"]["replies"], json!([]));
    assert_eq!(app.count_rows("messages").await, 0);
}

#[tokio::test]
async fn an_sso_update_changes_only_what_it_names() {
    let app = spawn_app().await;
    let fields = "ssoConnection { id name enabled domains denyUnmatched defaultRole clientSecretSet oidc { issuer clientId } roleRules { value role } } userErrors { field code message }";
    let created = app
        .graphql(
            &format!("mutation($input: CreateSsoConnectionInput!) {{ createSsoConnection(input: $input) {{ {fields} }} }}"),
            json!({"input": {
                "name": "Okta",
                "protocol": "OIDC",
                "domains": ["acme.test"],
                "enabled": false,
                "oidc": {"issuer": "https://acme.okta.example/oauth2/default", "clientId": "0oa1", "clientSecret": "s3cret-value"},
                "roleRules": [{"value": "support-admins", "role": "ADMIN"}],
                "defaultRole": "AGENT",
                "denyUnmatched": true,
            }}),
        )
        .await;
    assert!(
        user_errors(&created.body, "createSsoConnection").is_empty(),
        "{}",
        created.text
    );
    let before = created.body["data"]["createSsoConnection"]["ssoConnection"].clone();
    let update = format!(
        "mutation($id: ID!, $input: UpdateSsoConnectionInput!) {{ updateSsoConnection(id: $id, input: $input) {{ {fields} }} }}"
    );

    // Renaming keeps the rules, the refusal of unmatched users, the switched-off state and the secret.
    let renamed = app
        .graphql(
            &update,
            json!({"id": before["id"], "input": {"name": "Okta EU"}}),
        )
        .await;
    assert!(
        user_errors(&renamed.body, "updateSsoConnection").is_empty(),
        "{}",
        renamed.text
    );
    let after = &renamed.body["data"]["updateSsoConnection"]["ssoConnection"];
    assert_eq!(after["name"], "Okta EU");
    let mut expected = before.clone();
    expected["name"] = json!("Okta EU");
    assert_eq!(after, &expected);
    assert_eq!(
        after["roleRules"],
        json!([{"value": "support-admins", "role": "ADMIN"}])
    );
    assert_eq!(after["denyUnmatched"], true);
    assert_eq!(after["enabled"], false);
    assert_eq!(after["clientSecretSet"], true);

    // A list given replaces the current one; an empty list removes the rules.
    let cleared = app
        .graphql(
            &update,
            json!({"id": before["id"], "input": {"roleRules": []}}),
        )
        .await;
    assert!(
        user_errors(&cleared.body, "updateSsoConnection").is_empty(),
        "{}",
        cleared.text
    );
    let after = &cleared.body["data"]["updateSsoConnection"]["ssoConnection"];
    assert_eq!(after["roleRules"], json!([]));
    assert_eq!(after["name"], "Okta EU");
    assert_eq!(after["defaultRole"], "AGENT");

    // Another protocol needs its settings in the same update; the mistake changes nothing.
    let refused = app
        .graphql(
            &update,
            json!({"id": before["id"], "input": {"protocol": "OAUTH2", "name": "Gone"}}),
        )
        .await;
    let errors = user_errors(&refused.body, "updateSsoConnection");
    assert_eq!(errors.len(), 1, "{}", refused.text);
    assert_eq!(errors[0]["field"], json!(["input", "oauth2"]));
    assert_eq!(errors[0]["code"], "BAD_USER_INPUT");
    let stored = app
        .graphql_ok(
            "query($id: ID!) { ssoConnection(id: $id) { name protocol } }",
            json!({"id": before["id"]}),
        )
        .await;
    assert_eq!(
        stored["ssoConnection"],
        json!({"name": "Okta EU", "protocol": "OIDC"})
    );
}
