//! GraphQL transport and validation: codes on every error, content negotiation, and no N+1 on the dashboard query.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

fn code(reply: &crate::helpers::Reply) -> String {
    reply.body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn bad_input_is_answered_with_design_error_codes_and_changes_nothing() {
    let app = spawn_app().await;
    let conversation = app.create_conversation("hi").await;
    let id = conversation["id"].as_str().unwrap();
    let send = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id } replies { id } userErrors { field message code } } }";

    // Mistakes in the input are user errors of the payload, naming the field; nothing else comes back.
    let empty = app
        .user_error(
            send,
            json!({"input": {"conversationId": id, "author": "AGENT", "body": "   "}}),
            "sendMessage",
        )
        .await;
    assert_eq!(empty["code"], "BAD_USER_INPUT", "{empty}");
    assert_eq!(empty["field"], json!(["input", "body"]), "{empty}");
    assert!(
        !empty["message"].as_str().unwrap().is_empty(),
        "the message says what is wrong: {empty}"
    );

    let long = app
        .user_error(
            send,
            json!({"input": {"conversationId": id, "author": "AGENT", "body": "x".repeat(10_001)}}),
            "sendMessage",
        )
        .await;
    assert_eq!(long["code"], "BAD_USER_INPUT", "{long}");
    assert_eq!(long["field"], json!(["input", "body"]), "{long}");

    let unknown = app
        .user_error(
            send,
            json!({"input": {"conversationId": "conv_01JD0000000000000000000000", "author": "AGENT", "body": "x"}}),
            "sendMessage",
        )
        .await;
    assert_eq!(unknown["code"], "NOT_FOUND", "{unknown}");
    assert_eq!(unknown["field"], serde_json::Value::Null, "{unknown}");

    // What GraphQL itself refuses (a bad enum value) stays a top-level error.
    let bad_enum = app
        .graphql(
            send,
            json!({"input": {"conversationId": id, "author": "ROBOT", "body": "x"}}),
        )
        .await;
    assert_eq!(code(&bad_enum), "BAD_USER_INPUT", "{}", bad_enum.text);
    assert!(bad_enum.body["data"].is_null(), "{}", bad_enum.text);

    let literal_enum = app
        .graphql(
            "mutation { sendMessage(input: {conversationId: \"x\", author: ROBOT, body: \"x\"}) { message { id } userErrors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        code(&literal_enum),
        "BAD_USER_INPUT",
        "{}",
        literal_enum.text
    );

    // An id of another kind names no conversation: a lookup answers null, without an error.
    let wrong_prefix = app
        .graphql(
            "query($id: ID!) { conversation(id: $id) { id } }",
            json!({"id": app.org.assistant.id}),
        )
        .await;
    assert!(
        wrong_prefix.body.get("errors").is_none(),
        "{}",
        wrong_prefix.text
    );
    assert_eq!(
        wrong_prefix.body["data"]["conversation"],
        serde_json::Value::Null,
        "{}",
        wrong_prefix.text
    );

    let sentiment = app
        .user_error(
            "mutation($id: ID!) { updateConversation(id: $id, input: {sentiment: 3}) { conversation { id } userErrors { field message code } } }",
            json!({"id": id}),
            "updateConversation",
        )
        .await;
    assert_eq!(sentiment["code"], "BAD_USER_INPUT", "{sentiment}");
    assert_eq!(
        sentiment["field"],
        json!(["input", "sentiment"]),
        "{sentiment}"
    );

    let kb = app
        .user_error(
            "mutation { createKnowledgeBaseEntry(input: {title: \"\", body: \"b\"}) { knowledgeBaseEntry { id } userErrors { field message code } } }",
            json!({}),
            "createKnowledgeBaseEntry",
        )
        .await;
    assert_eq!(kb["code"], "BAD_USER_INPUT", "{kb}");
    assert_eq!(kb["field"], json!(["input", "title"]), "{kb}");

    // The opening message and the assistant's answer.
    assert_eq!(app.count_rows("messages").await, 2);
    assert_eq!(app.count_rows("knowledge_base_entries").await, 0);
    assert_eq!(
        app.get(&format!("/api/v1/conversations/{id}")).await.body["status"],
        "open"
    );
}

#[tokio::test]
async fn content_type_follows_the_accept_header() {
    let app = spawn_app().await;
    let post = |accept: Option<&'static str>, body: &'static str| {
        let mut request = app
            .client
            .post(app.url("/graphql"))
            .bearer_auth(&app.key)
            .header("content-type", "application/json")
            .body(body);
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        request.send()
    };
    let ok = r#"{"query":"{ __typename }"}"#;
    let bad = r#"{"query":"{ __typename "}"#;

    let r = post(Some("application/json"), ok).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );

    let r = post(Some("application/graphql-response+json"), ok)
        .await
        .unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/graphql-response+json")
    );

    let r = post(None, ok).await.unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );

    // A parse error: 400 without data for graphql-response+json, 200 for legacy application/json.
    let r = post(Some("application/graphql-response+json"), bad)
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body.get("data").is_none());
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let r = post(Some("application/json"), bad).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Malformed JSON is 400 whatever the client accepts.
    let r = post(Some("application/json"), "{ not json").await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn get_runs_queries_refuses_mutations_and_serves_graphiql_to_browsers() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/graphql?query=%7B%20me%20%7B%20role%20%7D%20%7D"))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["data"]["me"]["role"],
        "OWNER"
    );

    let r = app
        .client
        .get(
            app.url("/graphql?query=mutation%20%7B%20deleteKnowledgeBaseEntry(id%3A%22x%22)%20%7B%20deletedKnowledgeBaseEntryId%20%7D%20%7D"),
        )
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);

    let r = app
        .client
        .get(app.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().to_lowercase().contains("graphiql"));
}

#[tokio::test]
async fn depth_and_complexity_limits_answer_clear_errors() {
    let app = spawn_app_with_limits().await;
    let reply = app
        .graphql("{ conversations { edges { node { visitor { id } messages { edges { node { id } } } } } } }", json!({}))
        .await;
    assert_eq!(code(&reply), "BAD_USER_INPUT", "{}", reply.text);
    assert!(
        reply.text.to_lowercase().contains("nested") || reply.text.to_lowercase().contains("depth"),
        "{}",
        reply.text
    );
}

async fn spawn_app_with_limits() -> crate::helpers::TestApp {
    crate::helpers::spawn_app_with(|settings| settings.graphql_max_depth = 4).await
}

#[tokio::test]
async fn the_dashboard_query_costs_the_same_few_statements_for_5_or_50_conversations() {
    let app = spawn_app().await;
    // 50 conversations of 22 messages each, written through the real services.
    let principal = api::service::identity::api_keys::authenticate(
        &app.db,
        &app.state.authz,
        &app.key,
        Default::default(),
    )
    .await
    .unwrap();
    for c in 0..50 {
        let created = api::service::conversations::posting::start_conversation(
            &app.db,
            &app.state.engine,
            &principal,
            api::service::conversations::posting::CreateConversation {
                visitor: Some(api::service::conversations::visitors::NewVisitor {
                    name: Some(format!("Visitor {c}")),
                    ..Default::default()
                }),
                initial_message: Some("m0".to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        for m in 1..22 {
            api::service::conversations::posting::post_message(
                &app.db,
                &app.state.engine,
                &principal,
                &created.conversation.id,
                api::service::conversations::posting::CreateMessage {
                    author: api::service::conversations::messages::Author::Assistant,
                    body: format!("m{m}"),
                    source_entry_id: None,
                    confidence: None,
                    attachment_ids: Vec::new(),
                },
                None,
            )
            .await
            .unwrap();
        }
    }
    // The dashboard's page: both connections' totalCount, the visitor, the latest 20 messages.
    let query = "query($n: Int) { conversations(first: $n) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id status subject createdAt updatedAt visitor { id name email } messages(last: 20) { totalCount pageInfo { hasPreviousPage } edges { node { id author body createdAt } } } } } } }";
    // The console's inbox: `nodes` instead of edges, the assistant, the last message with its attachments.
    let inbox = "query($n: Int) { conversations(first: $n) { totalCount pageInfo { hasNextPage endCursor } nodes { id status subject sourceUrl pageTitle sentiment createdAt updatedAt handedOffAt assistantId visitor { id name email } assistant { id name } lastMessage: messages(last: 1) { totalCount nodes { id author body createdAt attachments { id } } } } } }";
    // The webhook worker polls in the background; its statements are not counted.
    let idle = app.db.statement_count();
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(
        app.db.statement_count(),
        idle,
        "background work is not counted"
    );
    let mut costs = Vec::new();
    let mut inbox_costs = Vec::new();
    // Each page is asked right after a request that authenticated the key, which then costs no statement.
    let warm = || app.graphql_ok("{ __typename }", json!({}));
    for n in [5, 50] {
        warm().await;
        let before = app.db.statement_count();
        let data = app.graphql_ok(query, json!({"n": n})).await;
        costs.push(app.db.statement_count() - before);
        assert_eq!(data["conversations"]["totalCount"], 50);
        assert_eq!(data["conversations"]["pageInfo"]["hasNextPage"], n < 50);
        let edges = data["conversations"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), n);
        for edge in edges {
            let node = &edge["node"];
            // m0, the assistant's fallback reply to it, m1 to m21.
            assert_eq!(node["messages"]["totalCount"], 23);
            assert_eq!(node["messages"]["pageInfo"]["hasPreviousPage"], true);
            let messages = node["messages"]["edges"].as_array().unwrap();
            assert_eq!(messages.len(), 20);
            assert_eq!(
                messages[19]["node"]["body"], "m21",
                "the latest message comes last"
            );
            assert_eq!(messages[0]["node"]["body"], "m2");
            assert!(
                node["visitor"]["name"]
                    .as_str()
                    .unwrap()
                    .starts_with("Visitor")
            );
        }

        warm().await;
        let before = app.db.statement_count();
        let data = app.graphql_ok(inbox, json!({"n": n})).await;
        inbox_costs.push(app.db.statement_count() - before);
        assert_eq!(data["conversations"]["totalCount"], 50);
        let nodes = data["conversations"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), n);
        for node in nodes {
            assert_eq!(node["lastMessage"]["totalCount"], 23);
            assert_eq!(node["lastMessage"]["nodes"][0]["body"], "m21");
            assert_eq!(node["lastMessage"]["nodes"][0]["attachments"], json!([]));
            assert!(node["assistant"]["name"].is_string());
            assert!(node["visitor"]["name"].is_string());
        }
    }
    println!(
        "dashboard query SQL statements: first 5 -> {}, first 50 -> {}; the inbox's: {} and {}",
        costs[0], costs[1], inbox_costs[0], inbox_costs[1]
    );
    assert_eq!(costs[0], costs[1], "the cost does not grow with the page");
    assert!(
        costs[1] <= 5,
        "conversations and their count (2) + visitors (1) + messages and their counts (2): got {}",
        costs[1]
    );
    assert_eq!(inbox_costs[0], inbox_costs[1], "nor the inbox's");
    assert!(
        inbox_costs[1] <= 7,
        "the dashboard's + assistants (1) + attachments (1): got {}",
        inbox_costs[1]
    );
}

#[tokio::test]
async fn assistants_expose_and_update_their_widget_settings() {
    let app = spawn_app().await;
    let data = app
        .graphql_ok(
            "{ assistants { id name widget { position primaryColor theme welcomeMessage autoOpen autoOpenDelayMs showAvatar hideOnMobile zIndex width height hideOnPaths showOnPaths } } }",
            json!({}),
        )
        .await;
    let assistant = &data["assistants"][0];
    assert_eq!(assistant["id"], app.org.assistant.id.as_str());
    assert_eq!(assistant["widget"]["position"], "BOTTOM_RIGHT");
    assert_eq!(assistant["widget"]["primaryColor"], "#0071e3");

    let updated = app
        .mutate(
            "mutation($id: ID!) { updateAssistant(id: $id, input: {widget: {position: BOTTOM_LEFT, theme: DARK, autoOpen: true, autoOpenDelayMs: 3000, showOnPaths: [\"/products/*\"]}}) { assistant { widget { position theme autoOpen autoOpenDelayMs primaryColor showOnPaths } } userErrors { field message code } } }",
            json!({"id": assistant["id"]}),
            "updateAssistant",
        )
        .await;
    let widget = &updated["assistant"]["widget"];
    assert_eq!(widget["position"], "BOTTOM_LEFT");
    assert_eq!(widget["theme"], "DARK");
    assert_eq!(widget["autoOpenDelayMs"], 3000);
    assert_eq!(
        widget["primaryColor"], "#0071e3",
        "fields not given keep their value"
    );
    assert_eq!(widget["showOnPaths"], json!(["/products/*"]));

    let bad = app
        .user_error(
            "mutation($id: ID!) { updateAssistant(id: $id, input: {widget: {primaryColor: \"blue\"}}) { assistant { id } userErrors { field message code } } }",
            json!({"id": assistant["id"]}),
            "updateAssistant",
        )
        .await;
    assert_eq!(bad["code"], "BAD_USER_INPUT", "{bad}");
    assert_eq!(
        bad["field"],
        json!(["input", "widget", "primaryColor"]),
        "{bad}"
    );
    let again = app
        .graphql_ok(
            "query($id: ID!) { assistant(id: $id) { widget { primaryColor } } }",
            json!({"id": assistant["id"]}),
        )
        .await;
    assert_eq!(again["assistant"]["widget"]["primaryColor"], "#0071e3");
}

#[tokio::test]
async fn visitors_are_listed_and_read_by_id() {
    let app = spawn_app().await;
    let conversation = app.create_conversation("hi").await;
    let data = app
        .graphql_ok(
            "{ visitors(first: 10) { totalCount edges { node { id name email } } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["visitors"]["totalCount"], 1);
    assert_eq!(
        data["visitors"]["edges"][0]["node"]["id"],
        conversation["visitor_id"]
    );
    let other = app.other_organization("Globex").await;
    let reply = app
        .graphql_as(
            &other.secret,
            "query($id: ID!) { visitor(id: $id) { id } }",
            json!({"id": conversation["visitor_id"]}),
        )
        .await;
    // Another organization's visitor is not there: null, not an error, and never its data.
    assert!(reply.body.get("errors").is_none(), "{}", reply.text);
    assert_eq!(
        reply.body["data"]["visitor"],
        serde_json::Value::Null,
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn every_connection_counts_all_its_nodes_not_only_the_page() {
    let app = spawn_app().await;
    app.key_with_role("agent").await;
    app.key_with_role("viewer").await;
    app.mutate(
        "mutation { inviteMember(input: {email: \"ann@acme.test\", role: AGENT}) { member { id } userErrors { field message code } } }",
        serde_json::json!({}),
        "inviteMember",
    )
    .await;
    for n in 0..2 {
        let reply = app
            .post(
                "/api/v1/webhooks",
                serde_json::json!({"url": format!("https://hooks.example.com/{n}"), "events": ["message.created"]}),
            )
            .await;
        assert_eq!(reply.status, reqwest::StatusCode::CREATED, "{}", reply.text);
    }
    let data = app
        .graphql_ok(
            "{ apiKeys(first: 1) { totalCount edges { cursor } } members(first: 1) { totalCount } auditLog(first: 1) { totalCount } webhooks(first: 1) { totalCount } }",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(data["apiKeys"]["edges"].as_array().unwrap().len(), 1);
    assert_eq!(data["apiKeys"]["totalCount"], 3);
    assert_eq!(data["members"]["totalCount"], 2);
    assert_eq!(data["webhooks"]["totalCount"], 2);
    let entries = app.count_rows("audit_log").await;
    assert!(entries >= 6, "{entries}");
    assert_eq!(data["auditLog"]["totalCount"], entries);
}
