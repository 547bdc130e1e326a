//! Semantic retrieval: paraphrases found by meaning, entry vectors computed in the background and stored once,
//! and a server without a usable model that answers lexically.

use std::time::{Duration, Instant};

use entities::knowledge_base_embedding as embedding_row;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::{Server, TestApp, spawn_app, spawn_app_with};

const ABROAD: &str = "We ship to 40 countries.";

/// The brief's entry among neighbours; returns its id.
async fn seed(app: &TestApp) -> String {
    let mut ids = Vec::new();
    for (title, body) in [
        ("Shipping abroad", ABROAD),
        (
            "How do I reset my password?",
            "Use the Forgot password link on the sign-in page; the link we email you is valid for one hour.",
        ),
        (
            "Which payment methods do you accept?",
            "We accept Visa, Mastercard, American Express, PayPal and bank transfer.",
        ),
        (
            "How do I return an item?",
            "You can return any item within 30 days for a full refund, unworn and with its labels.",
        ),
    ] {
        let created = app.create_entry(title, body).await;
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    ids.swap_remove(0)
}

async fn search_at(app: &TestApp, base: &str, q: &str) -> Value {
    crate::retrieval::search_at(app, base, &[("q", q)]).await
}

/// Searches until `done` holds (at most 10 s) and returns the last result and how long it took.
async fn until(
    app: &TestApp,
    base: &str,
    q: &str,
    done: impl Fn(&Value) -> bool,
) -> (Value, Duration) {
    let started = Instant::now();
    loop {
        let found = search_at(app, base, q).await;
        if done(&found) {
            return (found, started.elapsed());
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never happened: {found}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn first(found: &Value) -> (&str, &Value) {
    let top = &found["matches"][0];
    (
        top["entry"]["id"].as_str().unwrap_or("none"),
        &top["retrievers"],
    )
}

async fn stored(app: &TestApp, entry: &str) -> Vec<embedding_row::Model> {
    embedding_row::Entity::find()
        .filter(embedding_row::Column::EntryId.eq(entry))
        .all(app.db.conn())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_paraphrase_is_answered_by_meaning_once_the_entrys_vector_is_computed_and_stored_once() {
    let app = spawn_app().await;
    let abroad = seed(&app).await;
    // Lexically at once.
    let found = search_at(&app, &app.address, "shipping abroad").await;
    assert_eq!(first(&found).0, abroad, "{found}");
    assert!(
        first(&found)
            .1
            .as_array()
            .unwrap()
            .contains(&json!("lexical"))
    );

    // No word in common: only the meaning finds it, within a few seconds of the write.
    let (found, waited) = until(&app, &app.address, "Do you send parcels overseas?", |f| {
        first(f) == (abroad.as_str(), &json!(["semantic"]))
    })
    .await;
    println!("answerable by meaning after {waited:?}");
    assert_eq!(found["retrievers"], json!(["lexical", "semantic"]));
    let semantic_score = found["matches"][0]["semantic_score"].as_f64().unwrap();
    assert!((0.2..=1.0).contains(&semantic_score), "{found}");
    assert_eq!(found["matches"][0]["lexical_score"], Value::Null);

    // The brief's question gets the entry from the assistant, not the fallback.
    let created = app
        .create_conversation("Do you offer international shipping?")
        .await;
    let reply = &created["replies"][0];
    assert_eq!(reply["reply_source"], "knowledge_base", "{created}");
    assert_eq!(reply["source_entry_id"], abroad.as_str());
    assert_eq!(reply["body"], ABROAD);

    // Stored once, under the model's name; another instance (or a restart) reads it instead of computing it.
    let rows = stored(&app, &abroad).await;
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0].model.starts_with("all-MiniLM-L6-v2:"),
        "{}",
        rows[0].model
    );
    assert_eq!(rows[0].vector.len(), 4 + 384);
    let other = Server::start(app.settings.clone()).await;
    let (_, _) = until(&app, &other.address, "Do you send parcels overseas?", |f| {
        first(f).0 == abroad
    })
    .await;
    let again = stored(&app, &abroad).await;
    assert_eq!(again, rows, "the other instance reused the stored vector");

    // An edit computes a new one; a deletion takes it away.
    let edited = app
        .put(
            &format!("/api/v1/knowledge-base/{abroad}"),
            json!({"title": "Gift wrapping", "body": "We wrap any order as a gift for 3 euros."}),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.text);
    let (found, _) = until(&app, &app.address, "Can you pack my present nicely?", |f| {
        first(f).0 == abroad && first(f).1.as_array().unwrap().contains(&json!("semantic"))
    })
    .await;
    assert!(found["confidence"].as_f64().unwrap() > 0.0);
    let rows_after = stored(&app, &abroad).await;
    assert_eq!(rows_after.len(), 1);
    assert_ne!(rows_after[0].digest, rows[0].digest);
    let deleted = app
        .delete(&format!("/api/v1/knowledge-base/{abroad}"))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(stored(&app, &abroad).await.is_empty());
    let (found, _) = until(&app, &app.address, "Can you pack my present nicely?", |f| {
        first(f).0 != abroad
    })
    .await;
    assert!(
        found["matches"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["entry"]["id"] != abroad.as_str())
    );
}

#[tokio::test]
async fn an_entry_edited_while_its_vector_is_computed_ends_with_the_vector_of_its_last_text() {
    let app = spawn_app().await;
    app.vectors_settled().await;
    let body = "Parcels leave our warehouse within two business days. ".repeat(20);
    let created = app
        .post(
            "/api/v1/knowledge-base",
            json!({"title": "Dispatch times", "body": body, "tags": ["shipping"]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    // Edits that land while the worker computes the previous text (a long body takes it tens of milliseconds).
    for i in 0..6u64 {
        tokio::time::sleep(Duration::from_millis(3 * i)).await;
        let edited = app
            .put(
                &format!("/api/v1/knowledge-base/{id}"),
                json!({"tags": ["shipping", format!("edit {i}")]}),
            )
            .await;
        assert_eq!(edited.status, StatusCode::OK, "{}", edited.text);
    }
    app.vectors_settled().await;
    let entry = entities::knowledge_base_entry::Entity::find_by_id(id.clone())
        .one(app.db.conn())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.tags, json!(["shipping", "edit 5"]));
    let current = api::assistant::embedding::EntryViews::of(&entry).digest();
    let rows = stored(&app, &id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].digest, current,
        "the stored vector is the last text's"
    );
}

#[tokio::test]
async fn graphql_search_says_which_retrievers_matched() {
    let app = spawn_app().await;
    let abroad = seed(&app).await;
    let started = Instant::now();
    loop {
        let data = app
            .graphql_ok(
                "{ knowledgeBaseSearch(query: \"Do you send parcels overseas?\", first: 2) { confidence retrievers matches { score retrievers lexicalScore semanticScore entry { id } } } }",
                json!({}),
            )
            .await;
        let search = &data["knowledgeBaseSearch"];
        if search["matches"][0]["retrievers"] == json!(["SEMANTIC"]) {
            assert_eq!(search["retrievers"], json!(["LEXICAL", "SEMANTIC"]));
            assert_eq!(search["matches"][0]["entry"]["id"], abroad.as_str());
            assert!(search["matches"][0]["semanticScore"].as_f64().unwrap() > 0.2);
            assert_eq!(search["matches"][0]["lexicalScore"], Value::Null);
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{data}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn ready(app: &TestApp) -> Value {
    let reply = app.send(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.body
}

#[tokio::test]
async fn without_a_usable_model_the_server_says_why_and_answers_lexically() {
    let corrupt = std::env::temp_dir().join(format!("concierge-model-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&corrupt).unwrap();
    for name in ["config.json", "tokenizer.json"] {
        std::fs::copy(crate::helpers::model_dir().join(name), corrupt.join(name)).unwrap();
    }
    std::fs::write(corrupt.join("model.safetensors"), vec![7u8; 4096]).unwrap();
    for (folder, says) in [
        (
            std::path::PathBuf::from("/nonexistent/model"),
            "config.json is missing",
        ),
        (corrupt.clone(), "model.safetensors"),
    ] {
        let app = spawn_app_with(|s| s.embedding_model = folder.clone()).await;
        let started = Instant::now();
        let status = loop {
            let body = ready(&app).await;
            let status = body["embedding_model"].as_str().unwrap().to_owned();
            if status != "loading" {
                assert_eq!(body["status"], "ready");
                break status;
            }
            assert!(started.elapsed() < Duration::from_secs(10));
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(
            status.starts_with("unavailable: ") && status.contains(says),
            "{status}"
        );
        let abroad = seed(&app).await;
        let started = Instant::now();
        let found = search_at(&app, &app.address, "Do you ship abroad?").await;
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(found["retrievers"], json!(["lexical"]));
        assert_eq!(first(&found), (abroad.as_str(), &json!(["lexical"])));
        let created = app.create_conversation("Do you ship abroad?").await;
        assert_eq!(
            created["replies"][0]["source_entry_id"],
            abroad.as_str(),
            "{created}"
        );
        let paraphrase = search_at(&app, &app.address, "Do you send parcels overseas?").await;
        assert!(
            paraphrase["matches"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["retrievers"] == json!(["lexical"]))
        );
        assert!(stored(&app, &abroad).await.is_empty());
    }
    let _ = std::fs::remove_dir_all(&corrupt);
}

#[tokio::test]
async fn assistants_on_the_old_default_threshold_move_to_the_calibrated_one_and_chosen_ones_stay() {
    use migration::MigratorTrait;
    use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};

    // The schema as it was before vectors and the calibrated confidence.
    let (db, seeded, _cleanup) = crate::helpers::bootstrapped_at_migration(17).await;
    let engine = |threshold: f64| json!({"auto_reply": true, "confidence_threshold": threshold});
    let mut on_default = seeded.assistant.clone().into_active_model();
    on_default.engine = Set(Some(engine(0.35)));
    on_default.update(db.conn()).await.unwrap();
    let mut chosen = seeded.assistant.clone().into_active_model();
    chosen.id = Set("asst_chosen".to_owned());
    chosen.engine = Set(Some(engine(0.5)));
    chosen.insert(db.conn()).await.unwrap();

    migration::Migrator::up(db.conn(), None).await.unwrap();
    let threshold = |id: &str| {
        let id = id.to_owned();
        let db = db.clone();
        async move {
            entities::assistant::Entity::find_by_id(id)
                .one(db.conn())
                .await
                .unwrap()
                .unwrap()
                .engine
                .unwrap()["confidence_threshold"]
                .as_f64()
                .unwrap()
        }
    };
    // 0.35 became 0.75 with the calibrated confidence, then 0.8 with the multi-view entry vectors.
    assert_eq!(threshold(&seeded.assistant.id).await, 0.8);
    assert_eq!(
        threshold(&seeded.assistant.id).await,
        api::assistant::settings::EngineSettings::default().confidence_threshold
    );
    assert_eq!(threshold("asst_chosen").await, 0.5);
    // And back down, one step at a time (the migrations after 19, the analytics rollups and the audit anchors,
    // first).
    let applied = migration::Migrator::get_applied_migrations(db.conn())
        .await
        .unwrap()
        .len() as u32;
    migration::Migrator::down(db.conn(), Some(applied - 19))
        .await
        .unwrap();
    assert_eq!(threshold(&seeded.assistant.id).await, 0.8);
    migration::Migrator::down(db.conn(), Some(1)).await.unwrap();
    assert_eq!(threshold(&seeded.assistant.id).await, 0.75);
    migration::Migrator::down(db.conn(), Some(1)).await.unwrap();
    assert_eq!(threshold(&seeded.assistant.id).await, 0.35);
    assert_eq!(threshold("asst_chosen").await, 0.5);
}
