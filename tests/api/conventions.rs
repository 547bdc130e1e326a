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

#[tokio::test]
async fn node_fetches_any_object_by_id_and_nothing_of_another_organization() {
    let app = spawn_app().await;
    let conversation = app.create_conversation("Where is my order?").await;
    let entry = app
        .mutate(
            "mutation { createKnowledgeBaseEntry(input: {title: \"Returns\", body: \"Within 30 days.\"}) { knowledgeBaseEntry { id } userErrors { code } } }",
            json!({}),
            "createKnowledgeBaseEntry",
        )
        .await;
    let entry_id = entry["knowledgeBaseEntry"]["id"].clone();
    let ids = json!([
        app.org.organization.id,
        app.org.owner.id,
        app.org.assistant.id,
        conversation["id"],
        conversation["visitor_id"],
        entry_id,
        "conv_01JDZ8Q4V2M3N4P5Q6R7S8T9VW",
        "nonsense",
    ]);

    let data = app
        .graphql_ok(
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } node(id: \"nonsense\") { id } }",
            json!({"ids": ids}),
        )
        .await;
    let typenames: Vec<Value> = data["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["__typename"].clone())
        .collect();
    assert_eq!(
        typenames,
        [
            json!("Organization"),
            json!("Member"),
            json!("Assistant"),
            json!("Conversation"),
            json!("Visitor"),
            json!("KnowledgeBaseEntry"),
            Value::Null,
            Value::Null
        ]
    );
    assert_eq!(data["nodes"][3]["id"], conversation["id"]);
    assert!(data["node"].is_null());

    // Another organization's ids are nobody's: every one of them is null there.
    let other = app.other_organization("Globex").await;
    let theirs = app
        .graphql_as(
            &other.secret,
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({"ids": ids}),
        )
        .await;
    assert!(theirs.body.get("errors").is_none(), "{}", theirs.text);
    assert_eq!(
        theirs.body["data"]["nodes"],
        json!([null, null, null, null, null, null, null, null])
    );

    // At most 100 ids at once.
    let many: Vec<String> = (0..101)
        .map(|_| "conv_01JDZ8Q4V2M3N4P5Q6R7S8T9VW".to_owned())
        .collect();
    let refused = app
        .graphql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({"ids": many}),
        )
        .await;
    assert_eq!(
        refused.body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{}",
        refused.text
    );
}

#[tokio::test]
async fn references_are_objects_beside_their_ids_and_lists_nest() {
    let app = spawn_app().await;
    app.mutate(
        "mutation { createKnowledgeBaseEntry(input: {title: \"How long does shipping take?\", body: \"Orders ship within 2 business days and arrive within a week.\", tags: [\"shipping\", \"delivery\"]}) { knowledgeBaseEntry { id } userErrors { code } } }",
        json!({}),
        "createKnowledgeBaseEntry",
    )
    .await;
    let conversation = app
        .create_conversation("How long does shipping take?")
        .await;
    let conversation_id = conversation["id"].clone();

    let data = app
        .graphql_ok(
            "query($id: ID!) { conversation(id: $id) {
                visitor { id conversations(first: 5) { totalCount nodes { id } } }
                messages(last: 5) { nodes { author conversation { id } replyTo { id author } sourceEntry { title } sourceEntryId } }
            } }",
            json!({"id": conversation_id}),
        )
        .await;
    let visitor = &data["conversation"]["visitor"];
    assert_eq!(visitor["conversations"]["totalCount"], 1);
    assert_eq!(visitor["conversations"]["nodes"][0]["id"], conversation_id);
    let messages = data["conversation"]["messages"]["nodes"]
        .as_array()
        .unwrap();
    let reply = messages
        .iter()
        .find(|m| m["author"] == "ASSISTANT")
        .expect("the assistant answered");
    assert_eq!(reply["conversation"]["id"], conversation_id);
    assert_eq!(reply["replyTo"]["author"], "VISITOR");
    assert_eq!(
        reply["sourceEntry"]["title"], "How long does shipping take?",
        "{reply}"
    );
    assert!(reply["sourceEntryId"].is_string());

    // The key's creator and the audit log's actors and targets are objects too.
    let created = app
        .mutate(
            "mutation { createApiKey(input: {name: \"reports\", role: VIEWER}) { apiKey { id createdById createdBy { __typename id } } userErrors { code } } }",
            json!({}),
            "createApiKey",
        )
        .await;
    let key = &created["apiKey"];
    assert_eq!(key["createdBy"]["__typename"], "ApiKey");
    assert_eq!(key["createdBy"]["id"], key["createdById"]);
    let log = app
        .graphql_ok(
            "{ auditLog(first: 1, action: API_KEY_CREATED) { nodes { action actorType actor { __typename } target { __typename id } } } }",
            json!({}),
        )
        .await;
    let entry = &log["auditLog"]["nodes"][0];
    assert_eq!(entry["action"], "API_KEY_CREATED");
    assert_eq!(entry["actorType"], "API_KEY");
    assert_eq!(entry["actor"]["__typename"], "ApiKey");
    assert_eq!(
        entry["target"],
        json!({"__typename": "ApiKey", "id": key["id"]})
    );
}

#[tokio::test]
async fn lists_take_an_order_and_a_window_of_creation_times() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for question in ["First?", "Second?", "Third?"] {
        ids.push(app.create_conversation(question).await["id"].clone());
    }
    let query = "query($order: CreatedAtOrder, $after: DateTime, $before: DateTime) {
        conversations(orderBy: $order, createdAfter: $after, createdBefore: $before) { totalCount nodes { id createdAt } }
    }";

    let newest = app.graphql_ok(query, json!({})).await;
    let oldest = app
        .graphql_ok(
            query,
            json!({"order": {"field": "CREATED_AT", "direction": "ASC"}}),
        )
        .await;
    let order = |data: &Value| -> Vec<Value> {
        data["conversations"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].clone())
            .collect()
    };
    assert_eq!(order(&oldest), ids);
    let mut reversed = ids.clone();
    reversed.reverse();
    assert_eq!(order(&newest), reversed);

    // [after, before): the second conversation's own time is in, the third's is out.
    let times: Vec<Value> = oldest["conversations"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["createdAt"].clone())
        .collect();
    let window = app
        .graphql_ok(query, json!({"after": times[1], "before": times[2]}))
        .await;
    assert_eq!(order(&window), [ids[1].clone()]);
    assert_eq!(window["conversations"]["totalCount"], 1);
}

#[tokio::test]
async fn scalars_say_what_they_are_and_organizations_and_members_are_entities() {
    let app = spawn_app().await;
    let data = app
        .graphql_ok(
            "{ dateTime: __type(name: \"DateTime\") { specifiedByURL } bigInt: __type(name: \"BigInt\") { kind description } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["dateTime"]["specifiedByURL"],
        "https://datatracker.ietf.org/doc/html/rfc3339"
    );
    assert_eq!(data["bigInt"]["kind"], "SCALAR");

    let entities = app
        .graphql_ok(
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Organization { id name } ... on Member { id email } } }",
            json!({"r": [
                {"__typename": "Organization", "id": app.org.organization.id},
                {"__typename": "Member", "id": app.org.owner.id},
            ]}),
        )
        .await;
    assert_eq!(
        entities["_entities"][0]["name"],
        app.org.organization.name.as_str()
    );
    assert_eq!(
        entities["_entities"][1]["email"],
        app.org.owner.email.as_str()
    );
}

#[tokio::test]
async fn a_widget_update_keeps_what_it_leaves_out_and_null_clears_the_avatar() {
    let app = spawn_app().await;
    let update = "mutation($id: ID!, $input: UpdateAssistantInput!) { updateAssistant(id: $id, input: $input) { assistant { widget { avatarUrl welcomeMessage primaryColor } } userErrors { field message code } } }";
    let id = app.org.assistant.id.as_str();
    let set = app
        .graphql(
            update,
            json!({"id": id, "input": {"widget": {"avatarUrl": "https://cdn.example.com/ann.png", "welcomeMessage": "Hello!", "primaryColor": "#112233"}}}),
        )
        .await
        .payload("updateAssistant");
    assert_eq!(
        set["assistant"]["widget"]["avatarUrl"],
        "https://cdn.example.com/ann.png"
    );

    // Another field alone: the avatar, the greeting and the colour stay.
    let kept = app
        .graphql(
            update,
            json!({"id": id, "input": {"widget": {"autoOpen": true}}}),
        )
        .await
        .payload("updateAssistant");
    assert_eq!(kept["assistant"]["widget"], set["assistant"]["widget"]);

    // `null` removes the avatar and nothing else.
    let cleared = app
        .graphql(
            update,
            json!({"id": id, "input": {"widget": {"avatarUrl": null}}}),
        )
        .await
        .payload("updateAssistant");
    let widget = &cleared["assistant"]["widget"];
    assert_eq!(widget["avatarUrl"], Value::Null);
    assert_eq!(widget["welcomeMessage"], "Hello!");
    assert_eq!(widget["primaryColor"], "#112233");
}
