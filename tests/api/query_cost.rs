//! What a GraphQL request costs: lists weighed by `first`, aliases counted, a maximum per request and a budget per caller and minute, refused before anything runs.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{retry_after, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_list_counts_its_selection_once_per_item_it_may_return() {
    let app = spawn_app().await;
    let cost = |first: u32| {
        let app = &app;
        async move {
            let data = app
                .graphql_ok(
                    &format!("{{ rateLimit {{ cost }} conversations(first: {first}) {{ nodes {{ id }} }} }}"),
                    json!({}),
                )
                .await;
            data["rateLimit"]["cost"].as_i64().unwrap()
        }
    };
    // rateLimit { cost } is 2; the list is 1 plus `first` times its selection (nodes { id }: 2).
    assert_eq!(cost(10).await, 2 + 1 + 10 * 2);
    assert_eq!(cost(100).await, 2 + 1 + 100 * 2);
}

#[tokio::test]
async fn aliases_count_and_a_request_over_the_maximum_is_refused_before_it_runs() {
    let app = spawn_app().await;
    app.create_conversation("Where is my order?").await;
    let aliases: Vec<String> = (0..200)
        .map(|i| format!("c{i}: conversations(first: 100) {{ totalCount }}"))
        .collect();
    let query = format!("{{ {} }}", aliases.join(" "));

    let reply = app.graphql(&query, json!({})).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(
        reply.body.get("data").is_none(),
        "nothing ran: {}",
        reply.text
    );
    let error = &reply.body["errors"][0];
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT");
    // Each alias: 1 + 100 × totalCount (10) = 1,001 points; 200 of them.
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("costs 200200 points"), "{message}");
    assert!(message.contains("at most 25000"), "{message}");

    // Twenty of them fit.
    let fits = format!("{{ {} }}", aliases[..20].join(" "));
    let data = app.graphql_ok(&fits, json!({})).await;
    assert_eq!(data["c19"]["totalCount"], 1);
}

#[tokio::test]
async fn each_caller_has_a_budget_per_minute_shown_in_rate_limit_and_headers() {
    let app = spawn_app_with(|s| s.graphql_points_per_minute = 1_000).await;
    let query = "{ rateLimit { cost limit remaining used resetAt } conversations(first: 100) { nodes { id } } }";

    let first = app.graphql(query, json!({})).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let budget = &first.body["data"]["rateLimit"];
    let cost = budget["cost"].as_i64().unwrap();
    assert_eq!(cost, 2 + 1 + 100 * 2 + 4);
    assert_eq!(budget["limit"], 1_000);
    assert_eq!(budget["used"], cost);
    assert_eq!(budget["remaining"], 1_000 - cost);
    assert!(budget["resetAt"].is_string());
    let header = |reply: &crate::helpers::Reply, name: &str| {
        reply.headers[name].to_str().unwrap().to_owned()
    };
    assert_eq!(header(&first, "x-ratelimit-limit"), "1000");
    assert_eq!(
        header(&first, "x-ratelimit-remaining"),
        (1_000 - cost).to_string()
    );
    assert_eq!(header(&first, "x-ratelimit-resource"), "graphql");

    // 1,000 points hold four of these; the fifth is refused before it runs, with Retry-After.
    for _ in 0..3 {
        assert_eq!(app.graphql(query, json!({})).await.status, StatusCode::OK);
    }
    let refused = app.graphql(query, json!({})).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.text
    );
    assert_eq!(
        refused.body["errors"][0]["extensions"]["code"],
        "RATE_LIMITED"
    );
    assert!(refused.body.get("data").is_none(), "{}", refused.text);
    let retry_after: u64 = header(&refused, "retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");

    // A cheap request still fits, and another key has a budget of its own.
    let cheap = app
        .graphql("{ rateLimit { cost remaining } }", json!({}))
        .await;
    assert_eq!(cheap.status, StatusCode::OK, "{}", cheap.text);
    let other = app.key_with_role("admin").await;
    let theirs = app.graphql_as(&other, query, json!({})).await;
    assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.text);
    assert_eq!(theirs.body["data"]["rateLimit"]["remaining"], 1_000 - cost);
}

#[tokio::test]
async fn two_instances_on_redis_share_one_graphql_points_budget() {
    let app = spawn_app_with(|s| {
        s.graphql_points_per_minute = 1_000;
        s.redis_url = Some(secrecy::SecretString::from(crate::helpers::redis_url()));
    })
    .await;
    let second = crate::helpers::Server::start(app.settings.clone()).await;
    let query = "{ rateLimit { cost } conversations(first: 100) { nodes { id } } }";
    let client = reqwest::Client::new();
    let post = |base: String| {
        client
            .post(format!("{base}/graphql"))
            .bearer_auth(&app.key)
            .json(&json!({"query": query}))
            .send()
    };
    // 203 points each: four fit in 1,000, alternating between the instances; the fifth is refused on either.
    for i in 0..4u32 {
        let base = if i % 2 == 0 {
            second.address.clone()
        } else {
            app.address.clone()
        };
        let reply = post(base).await.unwrap();
        assert_eq!(reply.status(), StatusCode::OK, "request {i}");
        assert_eq!(
            reply.headers()["x-ratelimit-remaining"],
            (1_000 - 203 * (i + 1)).to_string().as_str()
        );
    }
    for base in [app.address.clone(), second.address.clone()] {
        let reply = post(base).await.unwrap();
        assert_eq!(
            reply.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "one budget across both instances"
        );
        assert!((1..=60).contains(&retry_after(reply.headers())));
    }
}
