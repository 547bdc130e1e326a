//! Knowledge-base search as the assistant ranks it: BM25 with stemming, stop words, typos and page context, fused
//! with the semantic ranking once the entries' vectors are in.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const ENTRIES: &[(&str, &str, &str, &[&str])] = &[
    (
        "How long does standard shipping take?",
        "Standard shipping takes 3 to 5 business days within Germany. Orders placed before 2 pm ship the same day.",
        "shipping",
        &["delivery", "shipping"],
    ),
    (
        "How do I reset my password?",
        "Use the Forgot password link on the sign-in page; we email you a link that is valid for one hour.",
        "accounts",
        &["password", "login"],
    ),
    (
        "Which payment methods do you accept?",
        "We accept Visa, Mastercard, American Express, PayPal and bank transfer.",
        "payments",
        &["payment", "cards"],
    ),
    (
        "How do I return headphones or other electronics?",
        "Electronics can be returned within 14 days in their original packaging with all accessories.",
        "returns",
        &["electronics", "headphones"],
    ),
    (
        "How do I return a dress or other clothing?",
        "Clothing can be returned within 30 days, unworn and with its labels attached.",
        "returns",
        &["clothing", "dress"],
    ),
];

async fn seed(app: &TestApp) -> Vec<String> {
    let mut ids = Vec::new();
    for (title, body, category, tags) in ENTRIES {
        let created = app
            .post(
                "/api/v1/knowledge-base",
                json!({"title": title, "body": body, "category": category, "tags": tags}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        ids.push(created.body["id"].as_str().unwrap().to_owned());
    }
    app.vectors_settled().await;
    ids
}

pub(crate) async fn search_at(app: &TestApp, base: &str, query: &[(&str, &str)]) -> Value {
    let reply = app
        .client
        .get(format!("{base}/api/v1/knowledge-base/search"))
        .query(query)
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    reply.json().await.unwrap()
}

async fn search(app: &TestApp, query: &[(&str, &str)]) -> Value {
    search_at(app, &app.address, query).await
}

/// Whether no match was found by its words.
fn none_by_words(found: &Value) -> bool {
    found["matches"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["lexical_score"].is_null())
}

/// Whether `id` is among the matches.
fn has(found: &Value, id: &str) -> bool {
    found["matches"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["entry"]["id"] == id)
}

fn top(found: &Value) -> &str {
    found["matches"][0]["entry"]["id"]
        .as_str()
        .unwrap_or("none")
}

#[tokio::test]
async fn questions_find_their_entry_through_stemming_stop_words_and_typos() {
    let app = spawn_app().await;
    let ids = seed(&app).await;
    let mut least = 1.0f64;
    for (question, expected) in [
        ("How long does shipping take?", 0),
        ("when will my order ship", 0),
        ("I forgot my password", 1),
        ("pasword resett", 1),
        ("can I pay with paypal", 2),
        ("which cards are accepted", 2),
        ("paymnet methods", 2),
    ] {
        let found = search(&app, &[("q", question)]).await;
        assert_eq!(top(&found), ids[expected], "{question}: {found}");
        let confidence = found["confidence"].as_f64().unwrap();
        assert!(
            (0.0..=1.0).contains(&confidence),
            "{question}: confidence {confidence}"
        );
        least = least.min(confidence);
    }
    // Only stop words: nothing to look for. Unrelated words: nothing sure enough to answer from, and less sure
    // than any question above.
    let empty = search(&app, &[("q", "the and of it")]).await;
    assert_eq!(empty["matches"], json!([]));
    assert_eq!(empty["confidence"], 0.0);
    let unrelated = search(&app, &[("q", "quantum chromodynamics lecture")]).await;
    let unsure = unrelated["confidence"].as_f64().unwrap();
    assert!(unsure < 0.75 && unsure < least, "{unrelated}");
}

#[tokio::test]
async fn the_page_a_question_is_asked_on_breaks_a_tie() {
    let app = spawn_app().await;
    let ids = seed(&app).await;
    let on_headphones = search(
        &app,
        &[
            ("q", "how do I send it back"),
            ("page_title", "Wireless headphones | Electronics"),
            ("page_url", "https://shop.example/electronics/headphones-x1"),
        ],
    )
    .await;
    assert_eq!(top(&on_headphones), ids[3], "{on_headphones}");
    let on_a_dress = search(
        &app,
        &[
            ("q", "how do I send it back"),
            ("page_title", "Summer dress"),
            ("page_context", "clothing"),
        ],
    )
    .await;
    assert_eq!(top(&on_a_dress), ids[4], "{on_a_dress}");
}

#[tokio::test]
async fn search_sees_only_its_organizations_active_entries_as_they_are_now() {
    let app = spawn_app().await;
    let ids = seed(&app).await;
    let other = app.other_organization("Globex").await;
    let theirs = app
        .client
        .post(app.url("/api/v1/knowledge-base"))
        .bearer_auth(&other.secret)
        .json(&json!({"title": "Secret warehouse address", "body": "Our warehouse is in Leipzig."}))
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), StatusCode::CREATED);
    let theirs: Value = theirs.json().await.unwrap();
    let theirs = theirs["id"].as_str().unwrap();
    let found = search(&app, &[("q", "warehouse address leipzig")]).await;
    assert!(
        !has(&found, theirs),
        "another organization's entry: {found}"
    );
    // Nothing here is about a warehouse: whatever is nearest is not worth answering from.
    assert!(found["confidence"].as_f64().unwrap() < 0.75, "{found}");

    // Deactivated, edited and deleted entries change the answers at once.
    let path = format!("/api/v1/knowledge-base/{}", ids[2]);
    app.put(&path, json!({"active": false})).await;
    let found = search(&app, &[("q", "paypal")]).await;
    assert!(!has(&found, &ids[2]), "{found}");
    app.put(
        &path,
        json!({"active": true, "body": "We accept Visa, Mastercard and Klarna invoices."}),
    )
    .await;
    assert_eq!(top(&search(&app, &[("q", "klarna")]).await), ids[2]);
    let found = search(&app, &[("q", "paypal")]).await;
    assert!(none_by_words(&found), "the old text is forgotten: {found}");
    app.delete(&path).await;
    assert!(!has(&search(&app, &[("q", "klarna")]).await, &ids[2]));

    let graphql = app
        .graphql_ok(
            "{ knowledgeBaseSearch(query: \"password forgotten\", first: 1) { confidence matches { score entry { id title } } } }",
            json!({}),
        )
        .await;
    let matches = graphql["knowledgeBaseSearch"]["matches"]
        .as_array()
        .unwrap();
    assert_eq!(matches.len(), 1);
    assert_eq!(matches[0]["entry"]["id"], ids[1].as_str());
}

#[tokio::test]
async fn bad_searches_get_clear_errors() {
    let app = spawn_app().await;
    for (query, field) in [
        ("", "query"),
        ("?q=%20%20", "query"),
        ("?q=shipping&limit=0", "limit"),
        ("?q=shipping&limit=51", "limit"),
        ("?q=shipping&sort=name", "sort"),
    ] {
        let reply = app
            .get(&format!("/api/v1/knowledge-base/search{query}"))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{query}: {}",
            reply.text
        );
        assert!(reply.text.contains(field), "{query}: {}", reply.text);
    }
    let graphql = app
        .graphql(
            "{ knowledgeBaseSearch(query: \"\") { confidence } }",
            json!({}),
        )
        .await;
    assert_eq!(
        graphql.body["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
}

#[tokio::test]
async fn an_entry_changed_on_one_instance_is_answerable_on_another_within_a_second() {
    let redis = crate::helpers::redis_url();
    let app = spawn_app_with(|s| s.redis_url = Some(redis.clone().into())).await;
    let instance = crate::helpers::Server::start(app.settings.clone()).await;
    let other = instance.address.clone();
    seed(&app).await;
    // Instance B builds its index now, before the change.
    let before = search_at(&app, &other, &[("q", "gift wrapping")]).await;
    assert!(none_by_words(&before), "{before}");
    let created = app
        .post(
            "/api/v1/knowledge-base",
            json!({"title": "Do you offer gift wrapping?", "body": "Yes, for 3 euros per order."}),
        )
        .await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let waited = wait_until(&app, &other, "gift wrapping", |found| top(found) == id).await;
    println!("knowledge-base edit visible on the other instance after {waited:?}");
    assert!(waited < Duration::from_secs(1), "took {waited:?}");

    app.put(
        &format!("/api/v1/knowledge-base/{id}"),
        json!({"title": "Do you offer gift boxes?", "body": "Yes, a gift box costs 3 euros."}),
    )
    .await;
    let waited = wait_until(&app, &other, "gift box", |found| top(found) == id).await;
    assert!(waited < Duration::from_secs(1), "took {waited:?}");
    app.delete(&format!("/api/v1/knowledge-base/{id}")).await;
    let waited = wait_until(&app, &other, "gift box", |found| !has(found, &id)).await;
    assert!(waited < Duration::from_secs(1), "took {waited:?}");
}

/// Searches on `base` until `done` holds (at most 5 s) and returns how long that took.
async fn wait_until(
    app: &TestApp,
    base: &str,
    query: &str,
    done: impl Fn(&Value) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        let found = search_at(app, base, &[("q", query)]).await;
        if done(&found) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "never happened: {found}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_shipped_faq_set_is_well_formed_and_its_questions_are_mostly_found() {
    let faq: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/fixtures/faq.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let entries = faq["entries"].as_array().unwrap();
    let questions = faq["questions"].as_array().unwrap();
    assert!(entries.len() >= 60 && questions.len() >= 150);
    for category in [
        "shipping", "returns", "orders", "payments", "accounts", "products",
    ] {
        assert!(
            entries.iter().filter(|e| e["category"] == category).count() >= 10,
            "{category}"
        );
    }
    let app = spawn_app().await;
    let mut key_of = std::collections::HashMap::new();
    for entry in entries {
        let created = app
            .post(
                "/api/v1/knowledge-base",
                json!({"title": entry["title"], "body": entry["body"], "category": entry["category"], "tags": entry["tags"]}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        key_of.insert(
            created.body["id"].as_str().unwrap().to_owned(),
            entry["key"].as_str().unwrap().to_owned(),
        );
    }
    let mut in_top_three = 0;
    for question in questions {
        let expected = question["expected"].as_str().unwrap();
        assert!(key_of.values().any(|k| k == expected), "{expected}");
        let found = search(
            &app,
            &[
                ("q", question["question"].as_str().unwrap()),
                ("limit", "3"),
            ],
        )
        .await;
        if found["matches"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| key_of[m["entry"]["id"].as_str().unwrap()] == expected)
        {
            in_top_three += 1;
        }
    }
    let recall = f64::from(in_top_three) / questions.len() as f64;
    println!("FAQ set through REST search: recall@3 {recall:.3}");
    // A floor against regressions, well under `make relevance`'s figure.
    assert!(recall >= 0.5, "recall@3 {recall:.3}");
}

#[tokio::test]
async fn an_instance_keeps_the_most_recently_used_indexes_and_rebuilds_evicted_ones_current() {
    let app = spawn_app_with(|settings| settings.retrieval_max_indexes = 2).await;
    let mut keys = vec![app.key.clone()];
    for name in ["Beta", "Gamma"] {
        keys.push(app.other_organization(name).await.secret);
    }
    let ask = |key: String, method: reqwest::Method, path: String, body: Option<Value>| {
        let app = &app;
        async move { app.send(method, &path, Some(&key), body).await }
    };
    let mut ids = Vec::new();
    for (n, key) in keys.iter().enumerate() {
        let created = ask(
            key.clone(),
            reqwest::Method::POST,
            "/api/v1/knowledge-base".into(),
            Some(json!({"title": format!("Parcel lockers of shop {n}"), "body": format!("Shop {n} delivers to lockers.")})),
        )
        .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        ids.push(created.body["id"].as_str().unwrap().to_owned());
    }
    let found = |key: String| {
        ask(
            key,
            reqwest::Method::GET,
            "/api/v1/knowledge-base/search?q=parcel%20lockers".into(),
            None,
        )
    };
    for (key, id) in keys.iter().zip(&ids) {
        let reply = found(key.clone()).await;
        assert_eq!(reply.body["matches"][0]["entry"]["id"], id.as_str());
        assert!(app.state.engine.retriever().loaded_count() <= 2);
    }
    assert_eq!(app.state.engine.retriever().loaded_count(), 2);
    // The first organization's index was dropped; an edit made meanwhile is in the rebuilt one.
    let edited = ask(
        keys[0].clone(),
        reqwest::Method::PUT,
        format!("/api/v1/knowledge-base/{}", ids[0]),
        Some(
            json!({"title": "Collection points", "body": "Pick parcels up at collection points."}),
        ),
    )
    .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.text);
    let reply = ask(
        keys[0].clone(),
        reqwest::Method::GET,
        "/api/v1/knowledge-base/search?q=collection%20points".into(),
        None,
    )
    .await;
    assert_eq!(reply.body["matches"][0]["entry"]["id"], ids[0].as_str());
    assert_eq!(app.state.engine.retriever().loaded_count(), 2);
}
