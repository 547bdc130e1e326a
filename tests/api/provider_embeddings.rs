//! An assistant's provider embeddings model (`/v1/embeddings`): entries embedded in batches and stored under it,
//! questions ranked with it, and its rate limits, refused keys and outages never costing an answer.

use entities::knowledge_base_embedding as embedding_row;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::fake_openai::{Embeddings, FakeOpenAi};
use crate::helpers::{TestApp, spawn_app_with};

const MODEL: &str = "text-embedding-3-small";

/// Three entries; returns (shipping id, returns id).
async fn seed(app: &TestApp) -> (String, String) {
    let shipping = app
        .create_entry(
            "How long does shipping take?",
            "Standard shipping takes 3 to 5 business days.",
        )
        .await;
    let returns = app
        .create_entry(
            "How do I return an item?",
            "Send it back within 30 days, unworn, for a full refund.",
        )
        .await;
    app.create_entry(
        "Which payment methods do you accept?",
        "Visa, Mastercard and PayPal.",
    )
    .await;
    app.vectors_settled().await;
    (
        shipping["id"].as_str().unwrap().to_owned(),
        returns["id"].as_str().unwrap().to_owned(),
    )
}

async fn provider_app() -> (TestApp, FakeOpenAi) {
    let fake = FakeOpenAi::start().await;
    let app = spawn_app_with(|settings| settings.egress_allow = Some("127.0.0.1/32".into())).await;
    (app, fake)
}

/// Gives the default assistant the fake as its provider, with `embedding_model` if any, and `key`.
async fn configure(
    app: &TestApp,
    fake: &FakeOpenAi,
    embedding_model: Option<&str>,
    key: &str,
) -> Value {
    let input = json!({
        "engine": {"provider": {"baseUrl": fake.base_url, "standardModel": "small-model", "embeddingModel": embedding_model}},
        "providerApiKey": key,
    });
    app.mutate(
        "mutation($id: ID!, $input: UpdateAssistantInput!) { updateAssistant(id: $id, input: $input) { assistant { engine { provider { embeddingModel } } } userErrors { field message code } } }",
        json!({"id": app.org.assistant.id, "input": input}),
        "updateAssistant",
    )
    .await
}

/// The assistant's `embeddingStatus`: where this server stands in embedding the entries with the provider.
async fn status(app: &TestApp) -> Value {
    app.graphql_ok(
        "query($id: ID!) { assistant(id: $id) { engine { provider { embeddingStatus { state error } } } } }",
        json!({"id": app.org.assistant.id}),
    )
    .await["assistant"]["engine"]["provider"]["embeddingStatus"]
        .clone()
}

/// The entry the fake provider's answer cited: the first of the system prompt, the best the retrieval ranked.
async fn cited(app: &TestApp, question: &str) -> Option<String> {
    let created = app.create_conversation(question).await;
    created["replies"][0]["citations"]
        .as_array()
        .and_then(|c| c.first())
        .and_then(|c| c.as_str())
        .map(str::to_owned)
}

async fn stored(app: &TestApp) -> Vec<embedding_row::Model> {
    embedding_row::Entity::find()
        .filter(embedding_row::Column::Model.starts_with(format!("{MODEL}@")))
        .all(app.db.conn())
        .await
        .unwrap()
}

/// The texts of each embeddings request, with the status it got.
fn requests(fake: &FakeOpenAi) -> Vec<(Vec<String>, u16)> {
    fake.embedded()
        .into_iter()
        .map(|(seen, status)| {
            let inputs = seen.body["input"]
                .as_array()
                .map(|a| a.iter().map(|t| t.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default();
            (inputs, status)
        })
        .collect()
}

#[tokio::test]
async fn entries_are_embedded_by_the_provider_and_its_questions_ranked_with_it() {
    let (app, fake) = provider_app().await;
    let (shipping, returns) = seed(&app).await;
    // A word only the provider's model understands: without it, the assistant cannot tell what it means.
    configure(&app, &fake, None, "sk-embed").await;
    assert_eq!(status(&app).await, Value::Null);
    let without = cited(&app, "flibbertigibbet?").await;
    assert_ne!(without.as_deref(), Some(returns.as_str()));
    assert!(fake.embedded().is_empty());

    let settings = configure(&app, &fake, Some(MODEL), "sk-embed").await;
    assert_eq!(
        settings["assistant"]["engine"]["provider"]["embeddingModel"],
        MODEL
    );
    // Saving the settings starts the pass: every entry (its whole text and its title: no tags here), in one
    // batch, with the assistant's key.
    app.vectors_settled().await;
    let seen = fake.embedded();
    assert_eq!(seen.len(), 1, "{:?}", requests(&fake));
    assert_eq!(seen[0].0.authorization.as_deref(), Some("Bearer sk-embed"));
    assert_eq!(seen[0].0.body["model"], MODEL);
    assert_eq!(seen[0].0.body["input"].as_array().unwrap().len(), 6);
    assert_eq!(status(&app).await, json!({"state": "READY", "error": null}));
    let rows = stored(&app).await;
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .all(|r| r.organization_id == app.org.organization.id)
    );

    assert_eq!(cited(&app, "flibbertigibbet?").await, Some(returns.clone()));
    assert_eq!(cited(&app, "quokkaroo?").await, Some(shipping));
    let (question, status) = requests(&fake).pop().unwrap();
    assert_eq!((question, status), (vec!["quokkaroo?".to_owned()], 200));

    // A new entry is embedded on its own, and stored: a restart reads the vectors instead of asking again.
    let gift = app
        .create_entry("Gift cards", "We sell gift cards from 10 to 200 euros.")
        .await;
    app.vectors_settled().await;
    let (inputs, _) = requests(&fake).pop().unwrap();
    assert_eq!(
        inputs,
        vec![
            "Gift cards\nWe sell gift cards from 10 to 200 euros.",
            "Gift cards"
        ]
    );
    assert!(stored(&app).await.iter().any(|r| r.entry_id == gift["id"]));
    assert_eq!(stored(&app).await.len(), 4);
}

#[tokio::test]
async fn a_rate_limited_provider_is_waited_for_as_it_asks() {
    let (app, fake) = provider_app().await;
    let (_, returns) = seed(&app).await;
    fake.set_embeddings(Embeddings::RateLimited(2));
    configure(&app, &fake, Some(MODEL), "sk-embed").await;
    app.vectors_settled().await;
    let statuses: Vec<u16> = requests(&fake).into_iter().map(|(_, s)| s).collect();
    assert_eq!(statuses, vec![429, 429, 200]);
    assert_eq!(stored(&app).await.len(), 3);
    assert_eq!(cited(&app, "flibbertigibbet?").await, Some(returns));
}

#[tokio::test]
async fn a_refused_key_or_an_outage_never_costs_an_answer() {
    let (app, fake) = provider_app().await;
    let (_, returns) = seed(&app).await;
    fake.set_embeddings(Embeddings::WrongKey);
    configure(&app, &fake, Some(MODEL), "sk-wrong").await;
    app.vectors_settled().await;
    assert_eq!(requests(&fake).len(), 1);
    assert!(stored(&app).await.is_empty());
    // The admin sees why.
    let failed = status(&app).await;
    assert_eq!(failed["state"], "FAILED");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("invalid_api_key"),
        "{failed}"
    );
    // The words (and the built-in model) still answer, and the refused key is not tried again at each question.
    assert_eq!(
        cited(&app, "How do I return an item?").await,
        Some(returns.clone())
    );
    assert_eq!(requests(&fake).len(), 1);

    // A new key is tried at once.
    fake.set_embeddings(Embeddings::Answer);
    configure(&app, &fake, Some(MODEL), "sk-embed").await;
    app.vectors_settled().await;
    assert_eq!(stored(&app).await.len(), 3);

    // In an outage the question is ranked without the provider's vector, and answered.
    fake.set_embeddings(Embeddings::Down);
    assert_eq!(cited(&app, "How do I return an item?").await, Some(returns));
    let (question, status) = requests(&fake).pop().unwrap();
    assert_eq!(
        (question, status),
        (vec!["How do I return an item?".to_owned()], 503)
    );
}
