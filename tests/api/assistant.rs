//! The assistant engine end to end: answers from the knowledge base, fallback and failed queries, the four
//! handoff triggers, sentiment, intents, bad input, streaming, and the AI provider with its fallbacks.

use std::time::Duration;

use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::fake_openai::{COMPLETION_TOKENS, FakeOpenAi, Mode, PROMPT_TOKENS};
use crate::helpers::{Reply, TestApp, parse_sse, spawn_app, spawn_app_with};

const SHIPPING: &str =
    "Standard shipping takes 3 to 5 business days. Orders placed before 2 pm ship the same day.";
const RETURNS: &str =
    "You can return any item within 30 days for a full refund, unworn and with its labels.";

/// Two entries; returns (shipping id, returns id).
async fn seed(app: &TestApp) -> (String, String) {
    let mut ids = Vec::new();
    for (title, body, tags) in [
        (
            "How long does shipping take?",
            SHIPPING,
            vec!["delivery", "shipping"],
        ),
        (
            "How do I return an item?",
            RETURNS,
            vec!["returns", "refund"],
        ),
    ] {
        let created = app
            .post(
                "/api/v1/knowledge-base",
                json!({"title": title, "body": body, "tags": tags}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        ids.push(created.body["id"].as_str().unwrap().to_owned());
    }
    app.vectors_settled().await;
    (ids[0].clone(), ids[1].clone())
}

async fn ask(app: &TestApp, conversation: &str, body: &str) -> Reply {
    app.post(
        &format!("/api/v1/conversations/{conversation}/messages"),
        json!({"author": "visitor", "body": body}),
    )
    .await
}

/// Changes the default assistant's engine settings over GraphQL.
async fn configure(app: &TestApp, engine: Value, key: Option<&str>) -> Value {
    let mut input = json!({"engine": engine});
    if let Some(key) = key {
        input["providerApiKey"] = json!(key);
    }
    app.mutate(
        "mutation($id: ID!, $input: UpdateAssistantInput!) { updateAssistant(id: $id, input: $input) { assistant { id providerKeySet engine { autoReply confidenceThreshold fallbackMessage maxFailedResponses negativeSentimentThreshold intents { name keywords patterns } provider { baseUrl standardModel complexModel timeoutSecs monthlyTokenLimit } } } userErrors { field message code } } }",
        json!({"id": app.org.assistant.id, "input": input}),
        "updateAssistant",
    )
    .await["assistant"]
        .clone()
}

/// The conversation's events, in its own sequence.
async fn conversation_events(app: &TestApp, id: &str) -> Vec<entities::event::Model> {
    entities::event::Entity::find()
        .filter(entities::event::Column::ConversationId.eq(id))
        .order_by_asc(entities::event::Column::Sequence)
        .all(app.db.conn())
        .await
        .unwrap()
}

/// The confidence threshold an assistant starts with.
fn default_threshold() -> f64 {
    api::assistant::settings::EngineSettings::default().confidence_threshold
}

fn named<'a>(events: &'a [entities::event::Model], name: &str) -> Vec<&'a entities::event::Model> {
    events.iter().filter(|e| e.event == name).collect()
}

#[tokio::test]
async fn a_visitor_question_is_answered_from_the_knowledge_base_with_its_source_and_confidence() {
    let app = spawn_app().await;
    let (shipping, returns) = seed(&app).await;
    let created = app
        .create_conversation("How long does shipping take?")
        .await;
    let reply = &created["replies"][0];
    assert_eq!(reply["author"], "assistant");
    assert_eq!(reply["body"], SHIPPING);
    assert_eq!(reply["source_entry_id"], shipping.as_str());
    assert_eq!(reply["reply_source"], "knowledge_base");
    assert_eq!(reply["reply_to_id"], created["initial_message"]["id"]);
    let confidence = reply["confidence"].as_f64().unwrap();
    assert!(
        (default_threshold()..=1.0).contains(&confidence),
        "{confidence}"
    );
    assert_eq!(created["failed_responses"], 0);
    assert!(created["first_response_at"].is_string());

    // A later visitor message over REST, with a typo, and one over GraphQL.
    let id = created["id"].as_str().unwrap();
    let posted = ask(&app, id, "how do I retrun an item?").await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.text);
    assert_eq!(posted.body["author"], "visitor");
    assert_eq!(
        posted.body["replies"][0]["source_entry_id"],
        returns.as_str()
    );
    assert_eq!(posted.body["replies"][0]["body"], RETURNS);
    let payload = app
        .mutate(
            "mutation($id: ID!) { sendMessage(input: {conversationId: $id, author: VISITOR, body: \"how many days does shipping take\"}) { message { id sentiment replies { author body sourceEntryId confidence replySource replyToId } } replies { id } userErrors { field message code } } }",
            json!({"id": id}),
            "sendMessage",
        )
        .await;
    let sent = &payload["message"];
    assert_eq!(sent["replies"][0]["author"], "ASSISTANT");
    assert_eq!(sent["replies"][0]["sourceEntryId"], shipping.as_str());
    assert_eq!(sent["replies"][0]["replySource"], "KNOWLEDGE_BASE");
    assert_eq!(sent["replies"][0]["replyToId"], sent["id"]);
    assert!(sent["replies"][0]["confidence"].as_f64().unwrap() >= default_threshold());
    assert_eq!(
        payload["replies"].as_array().unwrap().len(),
        sent["replies"].as_array().unwrap().len(),
        "the payload's replies are the message's"
    );

    // Agents' messages get no answer.
    let agent = app
        .post(
            &format!("/api/v1/conversations/{id}/messages"),
            json!({"author": "agent", "body": "Anything else I can do?"}),
        )
        .await;
    assert_eq!(agent.body["replies"], json!([]));
    let events = conversation_events(&app, id).await;
    assert!(named(&events, "knowledge_base.query_failed").is_empty());
    assert_eq!(named(&events, "message.created").len(), 7);
}

#[tokio::test]
async fn send_message_answers_with_its_replies_in_the_same_round_trip() {
    let app = spawn_app().await;
    let (shipping, _) = seed(&app).await;
    let created = app
        .post("/api/v1/conversations", json!({"visitor": {"name": "Ann"}}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap();
    let send = |selection: &'static str| {
        let app = &app;
        async move {
            // The key authenticated just before, so that it costs no statement in either measure.
            app.graphql_ok("{ __typename }", json!({})).await;
            let before = app.db.statement_count();
            let payload = app
                .mutate(
                    &format!("mutation($id: ID!) {{ sendMessage(input: {{conversationId: $id, author: VISITOR, body: \"how long does shipping take\"}}) {{ message {selection} userErrors {{ field message code }} }} }}"),
                    json!({"id": id}),
                    "sendMessage",
                )
                .await;
            (
                app.db.statement_count() - before,
                payload["message"].clone(),
            )
        }
    };
    // The first answer loads the organization's search index; the next two are measured.
    send("{ id }").await;
    let (without, _) = send("{ id }").await;
    let (with, sent) = send("{ id replies { author body sourceEntryId replyToId } }").await;
    assert_eq!(sent["replies"][0]["author"], "ASSISTANT");
    assert_eq!(sent["replies"][0]["body"], SHIPPING);
    assert_eq!(sent["replies"][0]["sourceEntryId"], shipping.as_str());
    assert_eq!(sent["replies"][0]["replyToId"], sent["id"]);
    assert_eq!(
        with, without,
        "the replies come back with the posted message, without another query"
    );
}

#[tokio::test]
async fn below_the_threshold_the_fallback_is_sent_the_failure_recorded_and_two_in_a_row_hand_off() {
    let app = spawn_app().await;
    let (shipping, _) = seed(&app).await;
    configure(
        &app,
        json!({"fallbackMessage": "Sorry, I don't know that one yet."}),
        None,
    )
    .await;
    let created = app.create_conversation("Do you sell gift cards?").await;
    let id = created["id"].as_str().unwrap();
    let fallback = &created["replies"][0];
    assert_eq!(fallback["body"], "Sorry, I don't know that one yet.");
    assert_eq!(fallback["reply_source"], "fallback");
    assert_eq!(fallback["fallback_reason"], "low_confidence");
    assert!(fallback.get("source_entry_id").is_none());
    assert!(fallback["confidence"].as_f64().unwrap() < default_threshold());
    assert_eq!(created["failed_responses"], 1);
    assert_eq!(created["status"], "open");

    let events = conversation_events(&app, id).await;
    let failed = named(&events, "knowledge_base.query_failed");
    assert_eq!(failed.len(), 1);
    let data = &failed[0].data;
    assert_eq!(data["query"], "Do you sell gift cards?");
    assert_eq!(data["threshold"], default_threshold());
    assert_eq!(data["message_id"], created["initial_message"]["id"]);
    assert_eq!(data["reply_id"], fallback["id"]);
    assert!(data["candidates"].is_array());
    for candidate in data["candidates"].as_array().unwrap() {
        assert!(candidate["entry_id"].as_str().unwrap().starts_with("kb_"));
        assert!(candidate["score"].is_number());
    }

    // A confident answer in between starts the count again.
    let answered = ask(&app, id, "how long does shipping take").await;
    assert_eq!(
        answered.body["replies"][0]["source_entry_id"],
        shipping.as_str()
    );
    let conversation = app.get(&format!("/api/v1/conversations/{id}")).await.body;
    assert_eq!(conversation["failed_responses"], 0);
    assert_eq!(conversation["failed_responses_total"], 1);

    // Two failures in a row hand off.
    ask(&app, id, "Can you engrave a watch?").await;
    let second = ask(&app, id, "What about velvet pouches?").await;
    let replies = second.body["replies"].as_array().unwrap();
    assert_eq!(replies.len(), 2, "{}", second.text);
    assert_eq!(replies[0]["reply_source"], "fallback");
    assert_eq!(replies[1]["reply_source"], "handoff");
    let conversation = app.get(&format!("/api/v1/conversations/{id}")).await.body;
    assert_eq!(conversation["status"], "handed_off");
    assert_eq!(conversation["handoff_reason"], "failed_responses");
    assert_eq!(conversation["failed_responses_total"], 3);
    assert_eq!(conversation["human_involved"], true);
    let events = conversation_events(&app, id).await;
    let handoffs = named(&events, "handoff.requested");
    assert_eq!(handoffs.len(), 1);
    assert_eq!(handoffs[0].data["reason"], "failed_responses");
    assert_eq!(handoffs[0].data["details"]["failed_responses"], 2);

    // Handed off: no more automatic replies, not even to a question it could answer.
    let silent = ask(&app, id, "how long does shipping take").await;
    assert_eq!(silent.body["replies"], json!([]));
    // The agent hands it back: the assistant answers again, with a fresh count.
    let back = app
        .put(
            &format!("/api/v1/conversations/{id}"),
            json!({"status": "open"}),
        )
        .await;
    assert_eq!(back.body["failed_responses"], 0);
    let again = ask(&app, id, "how long does shipping take").await;
    assert_eq!(
        again.body["replies"][0]["source_entry_id"],
        shipping.as_str()
    );
    // A resolution stops them too.
    app.put(
        &format!("/api/v1/conversations/{id}"),
        json!({"status": "resolved"}),
    )
    .await;
    let resolved = ask(&app, id, "how long does shipping take").await;
    assert_eq!(resolved.body["replies"], json!([]));
    let stored: i64 = app.count_rows("knowledge_base_queries").await;
    // Every question the assistant looked up: not the two asked while it was not answering.
    assert_eq!(stored, 5);
}

#[tokio::test]
async fn asking_for_a_person_hands_off_in_its_common_forms() {
    let app = spawn_app().await;
    seed(&app).await;
    for (n, phrase) in [
        "Can I talk to a person please?",
        "AGENT",
        "I want to speak with a real human",
        "connect me to someone from your team",
    ]
    .into_iter()
    .enumerate()
    {
        let created = app.create_conversation("hello there").await;
        let id = created["id"].as_str().unwrap();
        let posted = ask(&app, id, phrase).await;
        assert_eq!(posted.status, StatusCode::CREATED);
        assert_eq!(
            posted.body["replies"][0]["reply_source"], "handoff",
            "{phrase}"
        );
        let conversation = app.get(&format!("/api/v1/conversations/{id}")).await.body;
        assert_eq!(conversation["status"], "handed_off", "{phrase}");
        assert_eq!(conversation["handoff_reason"], "visitor_request");
        let events = conversation_events(&app, id).await;
        let handoff = named(&events, "handoff.requested");
        assert_eq!(handoff.len(), 1, "{phrase} ({n})");
        assert_eq!(handoff[0].data["reason"], "visitor_request");
        assert_eq!(handoff[0].data["requested_by"], "assistant");
        assert_eq!(handoff[0].data["details"]["message_id"], posted.body["id"]);
    }
    // A configured phrase works too.
    configure(&app, json!({"handoffPhrases": ["call me back"]}), None).await;
    let created = app
        .create_conversation("Please call me back tomorrow")
        .await;
    assert_eq!(created["status"], "handed_off");
    // An agent or API call hands off with reason `requested` (tested in events.rs).
}

#[tokio::test]
async fn sentiment_is_scored_per_message_kept_per_conversation_and_strongly_negative_messages_hand_off()
 {
    let app = spawn_app().await;
    seed(&app).await;
    let created = app
        .create_conversation("Thanks, your shop is great and I love the shoes!")
        .await;
    let id = created["id"].as_str().unwrap();
    let first = created["initial_message"]["sentiment"].as_f64().unwrap();
    assert!(first > 0.5, "{first}");
    let neutral = ask(&app, id, "how long does shipping take").await;
    assert_eq!(neutral.body["sentiment"], 0.0);
    let conversation = app.get(&format!("/api/v1/conversations/{id}")).await.body;
    let mean = conversation["sentiment"].as_f64().unwrap();
    assert!(
        (mean - first / 2.0).abs() < 1e-9,
        "{mean} is the mean of {first} and 0"
    );
    assert_eq!(conversation["status"], "open");

    let angry = ask(
        &app,
        id,
        "This is terrible. The parcel is broken and your service is the worst, I am furious!",
    )
    .await;
    let score = angry.body["sentiment"].as_f64().unwrap();
    assert!(score < -0.5, "{score}");
    assert_eq!(angry.body["replies"][0]["reply_source"], "handoff");
    let conversation = app.get(&format!("/api/v1/conversations/{id}")).await.body;
    assert_eq!(conversation["status"], "handed_off");
    assert_eq!(conversation["handoff_reason"], "negative_sentiment");
    let events = conversation_events(&app, id).await;
    let handoff = named(&events, "handoff.requested");
    assert_eq!(handoff[0].data["details"]["threshold"], -0.5);

    // The threshold is configurable, and `null` turns the trigger off.
    configure(&app, json!({"negativeSentimentThreshold": null}), None).await;
    let calm = app
        .create_conversation("This is terrible, I am furious and the parcel is broken!")
        .await;
    assert_eq!(calm["status"], "open");
    assert!(calm["sentiment"].as_f64().unwrap() < -0.5);
}

#[tokio::test]
async fn intents_are_configured_per_assistant_and_stored_on_matching_messages() {
    let app = spawn_app().await;
    seed(&app).await;
    let engine = configure(
        &app,
        json!({"intents": [
            {"name": "refund", "keywords": ["refund", "money back"]},
            {"name": "cancel", "patterns": ["\\bcancel(?:l?ing|l?ed)?\\b.*\\border\\b"]},
        ]}),
        None,
    )
    .await;
    assert_eq!(engine["engine"]["intents"][1]["name"], "cancel");
    let created = app.create_conversation("I want my money back").await;
    assert_eq!(created["initial_message"]["intent"], "refund");
    let id = created["id"].as_str().unwrap();
    let cancel = ask(&app, id, "I'm cancelling my order #1234").await;
    assert_eq!(cancel.body["intent"], "cancel");
    let none = ask(&app, id, "how long does shipping take").await;
    assert!(none.body.get("intent").is_none());
    let data = app
        .graphql_ok(
            "query($id: ID!) { conversation(id: $id) { messages(first: 20) { edges { node { author intent } } } } }",
            json!({"id": id}),
        )
        .await;
    let intents: Vec<Value> = data["conversation"]["messages"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["author"] == "VISITOR")
        .map(|e| e["node"]["intent"].clone())
        .collect();
    assert_eq!(intents, [json!("refund"), json!("cancel"), Value::Null]);
}

#[tokio::test]
async fn bad_assistant_and_message_input_gets_clear_errors_and_writes_nothing() {
    let app = spawn_app().await;
    let created = app.create_conversation("hello").await;
    let id = created["id"].as_str().unwrap();
    let messages = app.count_rows("messages").await;
    let events = app.count_rows("events").await;
    let conversations = app.count_rows("conversations").await;

    for body in ["", "   "] {
        let empty = ask(&app, id, body).await;
        assert_eq!(
            empty.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            empty.text
        );
        assert_eq!(empty.error_code(), "BAD_USER_INPUT");
    }
    let at_limit = "a".repeat(8 * 1024);
    let too_big = ask(&app, id, &format!("{at_limit}é")).await;
    assert_eq!(
        too_big.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        too_big.text
    );
    assert!(too_big.text.contains("8192 bytes"), "{}", too_big.text);
    let big_opening = app
        .post(
            "/api/v1/conversations",
            json!({"visitor": {"name": "Zed"}, "initial_message": format!("{at_limit}!")}),
        )
        .await;
    assert_eq!(big_opening.status, StatusCode::UNPROCESSABLE_ENTITY);
    let unknown_assistant = app
        .post(
            "/api/v1/conversations",
            json!({"assistant_id": "asst_01JD0000000000000000000000", "initial_message": "hi"}),
        )
        .await;
    assert_eq!(unknown_assistant.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unknown_assistant.text.contains("no assistant"),
        "{}",
        unknown_assistant.text
    );
    let unknown = app
        .user_error(
            "mutation { updateAssistant(id: \"asst_01JD0000000000000000000000\", input: {engine: {autoReply: false}}) { assistant { id } userErrors { field message code } } }",
            json!({}),
            "updateAssistant",
        )
        .await;
    assert_eq!(unknown["code"], "NOT_FOUND");
    assert_eq!(unknown["field"], Value::Null);
    assert_eq!(app.count_rows("messages").await, messages);
    assert_eq!(app.count_rows("events").await, events);
    assert_eq!(app.count_rows("conversations").await, conversations);

    // Engine settings: each bad field is named, and the assistant keeps its settings.
    for (engine, field) in [
        (
            json!({"provider": {"baseUrl": "ftp://models.example.com/v1", "standardModel": "m"}}),
            json!(["input", "engine", "provider", "baseUrl"]),
        ),
        (
            json!({"provider": {"baseUrl": "not a url", "standardModel": "m"}}),
            json!(["input", "engine", "provider", "baseUrl"]),
        ),
        (
            json!({"confidenceThreshold": 1.5}),
            json!(["input", "engine", "confidenceThreshold"]),
        ),
        (
            json!({"negativeSentimentThreshold": -2}),
            json!(["input", "engine", "negativeSentimentThreshold"]),
        ),
        (
            json!({"intents": [{"name": "refund", "patterns": ["(unclosed"]}]}),
            json!(["input", "engine", "intents", "0", "patterns", "0"]),
        ),
        (
            json!({"intents": [{"name": "Refund!", "keywords": ["x"]}]}),
            json!(["input", "engine", "intents", "0", "name"]),
        ),
        (
            json!({"intents": [{"name": "refund"}]}),
            json!(["input", "engine", "intents", "0"]),
        ),
        (
            json!({"fallbackMessage": ""}),
            json!(["input", "engine", "fallbackMessage"]),
        ),
    ] {
        let error = app
            .user_error(
                "mutation($id: ID!, $input: UpdateAssistantInput!) { updateAssistant(id: $id, input: $input) { assistant { id } userErrors { field message code } } }",
                json!({"id": app.org.assistant.id, "input": {"engine": engine}}),
                "updateAssistant",
            )
            .await;
        assert_eq!(error["code"], "BAD_USER_INPUT", "{engine}: {error}");
        assert_eq!(error["field"], field, "{engine}: {error}");
        assert!(
            !error["message"].as_str().unwrap().is_empty(),
            "{engine}: {error}"
        );
    }
    let kept = app
        .graphql_ok(
            "query($id: ID!) { assistant(id: $id) { engine { confidenceThreshold provider { baseUrl } intents { name } } } }",
            json!({"id": app.org.assistant.id}),
        )
        .await;
    assert_eq!(
        kept["assistant"]["engine"]["confidenceThreshold"],
        default_threshold()
    );
    assert_eq!(kept["assistant"]["engine"]["provider"], Value::Null);
    assert_eq!(kept["assistant"]["engine"]["intents"], json!([]));
}

#[tokio::test]
async fn an_answer_streams_as_server_sent_events() {
    let app = spawn_app().await;
    let (shipping, _) = seed(&app).await;
    let created = app.create_conversation("hello").await;
    let id = created["id"].as_str().unwrap();
    let events = stream(&app, id, "how long does shipping take?").await;
    assert_eq!(events.first().unwrap().0, "delta");
    assert_eq!(events.first().unwrap().1["text"], SHIPPING);
    let (last, posted) = events.last().unwrap();
    assert_eq!(last, "message");
    assert_eq!(posted["author"], "visitor");
    assert_eq!(posted["replies"][0]["source_entry_id"], shipping.as_str());
    // Refused input keeps its HTTP status.
    let refused = app
        .client
        .post(app.url(&format!("/api/v1/conversations/{id}/messages")))
        .bearer_auth(&app.key)
        .header("accept", "text/event-stream")
        .json(&json!({"author": "visitor", "body": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// Posts a visitor message asking for server-sent events; returns (event, data) pairs.
async fn stream(app: &TestApp, conversation: &str, body: &str) -> Vec<(String, Value)> {
    let response = app
        .client
        .post(app.url(&format!("/api/v1/conversations/{conversation}/messages")))
        .bearer_auth(&app.key)
        .header("accept", "text/event-stream")
        .json(&json!({"author": "visitor", "body": body}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = response.text().await.unwrap();
    parse_sse(&text)
}

async fn provider_app() -> (TestApp, FakeOpenAi) {
    let fake = FakeOpenAi::start().await;
    let app = spawn_app_with(|settings| settings.egress_allow = Some("127.0.0.1/32".into())).await;
    (app, fake)
}

#[tokio::test]
async fn an_ai_provider_answers_from_the_top_entries_cites_them_and_picks_its_model_by_complexity()
{
    let (app, fake) = provider_app().await;
    let (shipping, _) = seed(&app).await;
    let settings = configure(
        &app,
        json!({"provider": {"baseUrl": fake.base_url, "standardModel": "small-model", "complexModel": "big-model", "monthlyTokenLimit": 100000}}),
        Some("sk-test-123"),
    )
    .await;
    assert_eq!(settings["providerKeySet"], true);
    assert_eq!(settings["engine"]["provider"]["timeoutSecs"], 10);
    // The key is stored sealed, never in the clear.
    let stored = entities::assistant::Entity::find_by_id(app.org.assistant.id.clone())
        .one(app.db.conn())
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.provider_key.clone().unwrap().contains("sk-test-123"));

    let created = app
        .create_conversation("How long does shipping take?")
        .await;
    let reply = &created["replies"][0];
    assert_eq!(reply["reply_source"], "ai");
    assert_eq!(
        reply["body"],
        format!("According to our help centre, here is the answer [{shipping}]. Anything else?")
    );
    assert_eq!(reply["citations"], json!([shipping]));
    assert_eq!(reply["source_entry_id"], shipping.as_str());
    let seen = fake.seen();
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer sk-test-123"));
    assert_eq!(seen[0].body["model"], "small-model");
    assert_eq!(seen[0].body["stream"], false);
    let system = seen[0].body["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains(&format!("[{shipping}] How long does shipping take?")),
        "{system}"
    );
    assert!(system.contains(SHIPPING));
    assert_eq!(
        seen[0].body["messages"].as_array().unwrap().last().unwrap()["content"],
        "How long does shipping take?"
    );

    // Two questions at once, and a question the knowledge base cannot answer, go to the complex model.
    let id = created["id"].as_str().unwrap();
    ask(
        &app,
        id,
        "How long does shipping take? And can I return shoes?",
    )
    .await;
    ask(&app, id, "Do you sell gift cards?").await;
    let seen = fake.seen();
    assert_eq!(seen[1].body["model"], "big-model");
    assert_eq!(seen[2].body["model"], "big-model");
    // Earlier turns are part of the prompt.
    assert!(seen[1].body["messages"].as_array().unwrap().len() >= 4);

    // Usage is counted per organization and month.
    let usage = entities::ai_usage::Entity::find()
        .all(app.db.conn())
        .await
        .unwrap();
    assert_eq!(usage.len(), 1);
    assert_eq!(usage[0].organization_id, app.org.organization.id);
    assert_eq!(usage[0].prompt_tokens as u64, 3 * PROMPT_TOKENS);
    assert_eq!(usage[0].completion_tokens as u64, 3 * COMPLETION_TOKENS);
    assert_eq!(usage[0].requests, 3);

    // Streaming for the widget: the provider's pieces arrive as deltas.
    let events = stream(&app, id, "how long does shipping take").await;
    let deltas: Vec<&Value> = events
        .iter()
        .filter(|(e, _)| e == "delta")
        .map(|(_, d)| d)
        .collect();
    assert!(deltas.len() > 3, "{events:?}");
    let joined: String = deltas.iter().map(|d| d["text"].as_str().unwrap()).collect();
    let (_, posted) = events.last().unwrap();
    assert_eq!(posted["replies"][0]["body"], joined.as_str());
    assert_eq!(posted["replies"][0]["reply_source"], "ai");
    assert_eq!(fake.seen().last().unwrap().body["stream"], true);
}

#[tokio::test]
async fn when_the_provider_times_out_errors_or_the_token_limit_is_reached_the_knowledge_base_answers()
 {
    let (app, fake) = provider_app().await;
    let (shipping, _) = seed(&app).await;
    configure(
        &app,
        json!({"provider": {"baseUrl": fake.base_url, "standardModel": "m", "timeoutSecs": 1, "monthlyTokenLimit": 3 * (PROMPT_TOKENS + COMPLETION_TOKENS)}}),
        Some("sk-test"),
    )
    .await;
    // The opening message is answered by the provider: one call of three.
    let created = app.create_conversation("hello").await;
    assert_eq!(created["replies"][0]["reply_source"], "ai");
    let id = created["id"].as_str().unwrap();

    fake.set_mode(Mode::Slow(Duration::from_secs(3)));
    let started = std::time::Instant::now();
    let slow = ask(&app, id, "how long does shipping take").await;
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    let reply = &slow.body["replies"][0];
    assert_eq!(reply["reply_source"], "knowledge_base");
    assert_eq!(reply["fallback_reason"], "provider_timeout");
    assert_eq!(reply["body"], SHIPPING);
    assert_eq!(reply["source_entry_id"], shipping.as_str());

    fake.set_mode(Mode::Fail);
    let failed = ask(&app, id, "how long does shipping take").await;
    assert_eq!(
        failed.body["replies"][0]["fallback_reason"],
        "provider_error"
    );
    assert_eq!(failed.body["replies"][0]["body"], SHIPPING);

    // Two answers use up the month's tokens; the third falls back without calling the provider.
    fake.set_mode(Mode::Answer);
    for _ in 0..2 {
        let ai = ask(&app, id, "how long does shipping take").await;
        assert_eq!(ai.body["replies"][0]["reply_source"], "ai", "{}", ai.text);
    }
    let calls = fake.seen().len();
    let limited = ask(&app, id, "how long does shipping take").await;
    assert_eq!(limited.body["replies"][0]["fallback_reason"], "token_limit");
    assert_eq!(limited.body["replies"][0]["body"], SHIPPING);
    assert_eq!(
        fake.seen().len(),
        calls,
        "no call once the limit is reached"
    );

    // Without a confident entry, the visitor still gets the fallback message.
    fake.set_mode(Mode::Fail);
    let unknown = ask(&app, id, "Do you sell gift cards?").await;
    assert_eq!(unknown.body["replies"][0]["reply_source"], "fallback");
    assert_eq!(unknown.body["replies"][0]["fallback_reason"], "token_limit");
}

#[tokio::test]
async fn visitors_rate_answers_and_conversations_and_each_rating_emits_feedback_received() {
    let app = spawn_app().await;
    let (shipping, _) = seed(&app).await;
    let created = app
        .create_conversation("How long does shipping take?")
        .await;
    let id = created["id"].as_str().unwrap();
    let answer = created["replies"][0]["id"].as_str().unwrap();

    let rated = app
        .post(
            &format!("/api/v1/messages/{answer}/feedback"),
            json!({"helpful": true}),
        )
        .await;
    assert_eq!(rated.status, StatusCode::OK, "{}", rated.text);
    assert_eq!(rated.body["kind"], "answer");
    assert_eq!(rated.body["helpful"], true);
    assert_eq!(rated.body["entry_id"], shipping.as_str());
    // A second rating of the same answer replaces the first.
    let changed = app
        .post(
            &format!("/api/v1/messages/{answer}/feedback"),
            json!({"helpful": false, "comment": "Too vague"}),
        )
        .await;
    assert_eq!(changed.body["id"], rated.body["id"]);
    assert_eq!(changed.body["helpful"], false);
    let csat = app
        .mutate(
            "mutation($id: ID!) { rateConversation(input: {conversationId: $id, rating: 4, comment: \"Quick answer\"}) { feedback { id rating comment conversationId messageId } userErrors { field message code } } }",
            json!({"id": id}),
            "rateConversation",
        )
        .await;
    assert_eq!(csat["feedback"]["rating"], 4);
    assert_eq!(csat["feedback"]["messageId"], Value::Null);
    let graphql_answer = app
        .mutate(
            "mutation($id: ID!) { rateAnswer(input: {messageId: $id, helpful: true}) { feedback { helpful entryId } userErrors { field message code } } }",
            json!({"id": answer}),
            "rateAnswer",
        )
        .await;
    assert_eq!(graphql_answer["feedback"]["entryId"], shipping.as_str());
    assert_eq!(app.count_rows("feedback").await, 2);

    let events = conversation_events(&app, id).await;
    let received = named(&events, "feedback.received");
    assert_eq!(received.len(), 4);
    assert_eq!(received[0].data["kind"], "answer");
    assert_eq!(received[0].data["message_id"], answer);
    assert_eq!(received[0].data["entry_id"], shipping.as_str());
    assert_eq!(received[1].data["replaced"], true);
    assert_eq!(received[1].data["comment"], "Too vague");
    assert_eq!(received[2].data["kind"], "conversation");
    assert_eq!(received[2].data["rating"], 4);

    // Bad ratings change nothing.
    let rows = app.count_rows("feedback").await;
    let events_before = org_events(&app).await;
    for rating in [0, 6, -1] {
        let bad = app
            .post(
                &format!("/api/v1/conversations/{id}/feedback"),
                json!({"rating": rating}),
            )
            .await;
        assert_eq!(
            bad.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{rating}: {}",
            bad.text
        );
        assert!(bad.text.contains("rating"), "{}", bad.text);
    }
    let graphql_bad = app
        .user_error(
            "mutation($id: ID!) { rateConversation(input: {conversationId: $id, rating: 9}) { feedback { id } userErrors { field message code } } }",
            json!({"id": id}),
            "rateConversation",
        )
        .await;
    assert_eq!(graphql_bad["code"], "BAD_USER_INPUT", "{graphql_bad}");
    assert_eq!(
        graphql_bad["field"],
        json!(["input", "rating"]),
        "{graphql_bad}"
    );
    let visitor_message = created["initial_message"]["id"].as_str().unwrap();
    let not_an_answer = app
        .post(
            &format!("/api/v1/messages/{visitor_message}/feedback"),
            json!({"helpful": true}),
        )
        .await;
    assert_eq!(
        not_an_answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        not_an_answer.text
    );
    let missing = app
        .post(
            &format!("/api/v1/messages/{answer}/feedback"),
            json!({"comment": "hm"}),
        )
        .await;
    assert!(missing.status.is_client_error(), "{}", missing.text);
    let long = app
        .post(
            &format!("/api/v1/messages/{answer}/feedback"),
            json!({"helpful": true, "comment": "x".repeat(2001)}),
        )
        .await;
    assert_eq!(long.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Another organization's answer is not found.
    let other = app.other_organization("Elsewhere").await;
    let theirs = app
        .send(
            reqwest::Method::POST,
            "/api/v1/conversations",
            Some(&other.secret),
            Some(json!({"initial_message": "hello"})),
        )
        .await;
    let their_answer = theirs.body["replies"][0]["id"].as_str().unwrap();
    let foreign = app
        .post(
            &format!("/api/v1/messages/{their_answer}/feedback"),
            json!({"helpful": true}),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let foreign_conversation = theirs.body["id"].as_str().unwrap();
    let foreign = app
        .post(
            &format!("/api/v1/conversations/{foreign_conversation}/feedback"),
            json!({"rating": 5}),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(app.count_rows("feedback").await, rows);
    assert_eq!(org_events(&app).await, events_before);
}

/// How many events the seeded organization has.
async fn org_events(app: &TestApp) -> usize {
    entities::event::Entity::find()
        .filter(entities::event::Column::OrganizationId.eq(app.org.organization.id.clone()))
        .all(app.db.conn())
        .await
        .unwrap()
        .len()
}
