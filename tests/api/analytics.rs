//! Analytics over a fixed fixture: hand-computed figures, identical on SQLite and PostgreSQL, over REST and
//! GraphQL, with the assistant filter and bad ranges.

use chrono::{DateTime, Duration, TimeZone, Utc};
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_on};

/// Monday 2 November 2026, midnight UTC.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap()
}

fn at(days: i64, hours: i64, minutes: i64, seconds: i64) -> DateTime<Utc> {
    t0() + Duration::days(days)
        + Duration::hours(hours)
        + Duration::minutes(minutes)
        + Duration::seconds(seconds)
}

/// Ids handed out in insertion order, so every backend gets the same fixture.
struct Fixture<'a> {
    app: &'a TestApp,
    n: u32,
}

impl Fixture<'_> {
    fn id(&mut self, prefix: &str) -> String {
        self.n += 1;
        format!("{prefix}01JD00000000000000000{:05}", self.n)
    }

    async fn entry(&mut self, title: &str, active: bool, created: DateTime<Utc>) -> String {
        let id = self.id("kb_");
        entities::knowledge_base_entry::ActiveModel {
            id: Set(id.clone()),
            organization_id: Set(self.app.org.organization.id.clone()),
            title: Set(title.to_owned()),
            body: Set(format!("About {title}")),
            category: Set(None),
            tags: Set(json!([])),
            active: Set(active),
            created_at: Set(created),
            updated_at: Set(created),
        }
        .insert(self.app.db.conn())
        .await
        .unwrap();
        id
    }

    #[allow(clippy::too_many_arguments)]
    async fn conversation(
        &mut self,
        assistant: &str,
        created: DateTime<Utc>,
        status: &str,
        first_response: Option<i64>,
        handed_off: bool,
        human: bool,
        sentiment: Option<f64>,
    ) -> String {
        let org = self.app.org.organization.id.clone();
        let visitor = self.id("vis_");
        entities::visitor::ActiveModel {
            id: Set(visitor.clone()),
            organization_id: Set(org.clone()),
            name: Set(None),
            email: Set(None),
            phone: Set(None),
            marketing_consent: Set(false),
            marketing_consent_at: Set(None),
            unsubscribed_at: Set(None),
            created_at: Set(created),
            updated_at: Set(created),
        }
        .insert(self.app.db.conn())
        .await
        .unwrap();
        let id = self.id("conv_");
        entities::conversation::ActiveModel {
            id: Set(id.clone()),
            organization_id: Set(org),
            assistant_id: Set(assistant.to_owned()),
            visitor_id: Set(visitor),
            status: Set(status.to_owned()),
            sentiment: Set(sentiment),
            first_response_at: Set(first_response.map(|s| created + Duration::seconds(s))),
            handed_off_at: Set(handed_off.then_some(created + Duration::minutes(5))),
            human_involved: Set(human),
            event_seq: Set(1),
            created_at: Set(created),
            updated_at: Set(created),
            ..Default::default()
        }
        .insert(self.app.db.conn())
        .await
        .unwrap();
        id
    }

    async fn message(
        &mut self,
        conversation: &str,
        author: &str,
        created: DateTime<Utc>,
    ) -> String {
        let id = self.id("msg_");
        entities::message::ActiveModel {
            id: Set(id.clone()),
            organization_id: Set(self.app.org.organization.id.clone()),
            conversation_id: Set(conversation.to_owned()),
            author: Set(author.to_owned()),
            body: Set("text".to_owned()),
            created_at: Set(created),
            ..Default::default()
        }
        .insert(self.app.db.conn())
        .await
        .unwrap();
        id
    }

    #[allow(clippy::too_many_arguments)]
    async fn query(
        &mut self,
        assistant: &str,
        conversation: &str,
        text: &str,
        normalized: &str,
        best: Option<&str>,
        failed: bool,
        created: DateTime<Utc>,
    ) {
        let id = self.id("kbq_");
        entities::knowledge_base_query::ActiveModel {
            id: Set(id),
            organization_id: Set(self.app.org.organization.id.clone()),
            assistant_id: Set(assistant.to_owned()),
            conversation_id: Set(conversation.to_owned()),
            message_id: Set("msg_x".to_owned()),
            query: Set(text.to_owned()),
            normalized: Set(normalized.to_owned()),
            best_entry_id: Set(best.map(str::to_owned)),
            confidence: Set(if failed { 0.1 } else { 0.8 }),
            failed: Set(failed),
            created_at: Set(created),
        }
        .insert(self.app.db.conn())
        .await
        .unwrap();
    }

    #[allow(clippy::too_many_arguments)]
    async fn feedback(
        &mut self,
        assistant: &str,
        conversation: &str,
        entry: Option<&str>,
        helpful: Option<bool>,
        rating: Option<i32>,
        created: DateTime<Utc>,
    ) {
        let id = self.id("fb_");
        entities::feedback::ActiveModel {
            id: Set(id.clone()),
            organization_id: Set(self.app.org.organization.id.clone()),
            assistant_id: Set(assistant.to_owned()),
            conversation_id: Set(conversation.to_owned()),
            message_id: Set(entry.map(|_| "msg_x".to_owned())),
            entry_id: Set(entry.map(str::to_owned)),
            target_id: Set(id),
            helpful: Set(helpful),
            rating: Set(rating),
            comment: Set(None),
            created_at: Set(created),
            updated_at: Set(created),
        }
        .insert(self.app.db.conn())
        .await
        .unwrap();
    }
}

/// Builds the fixture; returns the second assistant's id.
async fn build(app: &TestApp) -> String {
    let a = app.org.assistant.id.clone();
    let created = app
        .mutate(
            "mutation { createAssistant(input: {name: \"Second\"}) { assistant { id } userErrors { field message code } } }",
            json!({}),
            "createAssistant",
        )
        .await;
    let b = created["assistant"]["id"].as_str().unwrap().to_owned();
    let mut f = Fixture { app, n: 0 };
    let shipping = f.entry("Shipping", true, at(-10, 0, 0, 0)).await;
    let returns = f.entry("Returns", true, at(-10, 0, 0, 1)).await;
    let gifts = f.entry("Gift cards", true, at(-10, 0, 0, 2)).await;
    f.entry("Old entry", false, at(-10, 0, 0, 3)).await;

    let c1 = f
        .conversation(
            &a,
            at(0, 1, 0, 0),
            "resolved",
            Some(2),
            false,
            false,
            Some(0.5),
        )
        .await;
    let c2 = f
        .conversation(
            &a,
            at(0, 1, 30, 0),
            "handed_off",
            Some(4),
            true,
            true,
            Some(-0.6),
        )
        .await;
    let c3 = f
        .conversation(
            &a,
            at(1, 10, 0, 0),
            "resolved",
            Some(10),
            false,
            true,
            Some(0.0),
        )
        .await;
    let c4 = f
        .conversation(&b, at(8, 3, 0, 0), "open", None, false, false, None)
        .await;
    let c5 = f
        .conversation(&a, at(-1, 0, 0, 0), "open", None, false, false, None)
        .await;

    f.message(&c1, "visitor", at(0, 1, 0, 0)).await;
    f.message(&c1, "assistant", at(0, 1, 0, 2)).await;
    f.message(&c2, "visitor", at(0, 1, 30, 0)).await;
    f.message(&c2, "assistant", at(0, 1, 30, 4)).await;
    f.message(&c2, "visitor", at(0, 1, 31, 0)).await;
    f.message(&c3, "visitor", at(1, 10, 0, 0)).await;
    f.message(&c3, "agent", at(1, 10, 0, 10)).await;
    f.message(&c4, "visitor", at(8, 3, 0, 0)).await;
    f.message(&c5, "visitor", at(-1, 0, 0, 0)).await;

    f.query(
        &a,
        &c1,
        "Shipping time?",
        "shipping time",
        Some(&shipping),
        false,
        at(0, 1, 0, 0),
    )
    .await;
    f.query(
        &a,
        &c2,
        "How long is shipping",
        "how long is shipping",
        Some(&shipping),
        false,
        at(0, 1, 30, 0),
    )
    .await;
    f.query(
        &a,
        &c2,
        "Gift cards?",
        "gift cards",
        Some(&gifts),
        true,
        at(0, 1, 31, 0),
    )
    .await;
    f.query(
        &a,
        &c3,
        "gift  CARDS!!",
        "gift cards",
        Some(&gifts),
        true,
        at(1, 10, 0, 0),
    )
    .await;
    f.query(
        &b,
        &c4,
        "velvet pouch",
        "velvet pouch",
        None,
        true,
        at(8, 3, 0, 0),
    )
    .await;
    f.query(
        &a,
        &c5,
        "returns",
        "returns",
        Some(&returns),
        false,
        at(-1, 0, 0, 0),
    )
    .await;

    f.feedback(&a, &c1, Some(&shipping), Some(true), None, at(0, 2, 0, 0))
        .await;
    f.feedback(&a, &c2, Some(&shipping), Some(false), None, at(0, 2, 0, 1))
        .await;
    f.feedback(&a, &c1, None, None, Some(5), at(0, 2, 0, 2))
        .await;
    f.feedback(&a, &c3, None, None, Some(2), at(1, 11, 0, 0))
        .await;
    f.feedback(&a, &c5, None, None, Some(1), at(-1, 1, 0, 0))
        .await;
    b
}

fn range(granularity: &str, assistant: Option<&str>) -> String {
    let mut query = format!(
        "from={}&to={}&granularity={granularity}",
        t0().to_rfc3339().replace('+', "%2B"),
        at(14, 0, 0, 0).to_rfc3339().replace('+', "%2B")
    );
    if let Some(id) = assistant {
        query.push_str(&format!("&assistant_id={id}"));
    }
    query
}

/// The analytics requests of the test: the hand-computed ones, then ranges that start and end inside hours.
fn requests(second: &str) -> Vec<(&'static str, String)> {
    let odd = |from: DateTime<Utc>, to: DateTime<Utc>, granularity: &str| {
        format!(
            "from={}&to={}&granularity={granularity}",
            from.to_rfc3339().replace('+', "%2B"),
            to.to_rfc3339().replace('+', "%2B")
        )
    };
    vec![
        ("conversations", range("day", None)),
        ("conversations", range("week", None)),
        ("conversations", range("hour", Some(second))),
        ("knowledge-base", range("day", None)),
        ("knowledge-base", range("week", Some(second))),
        (
            "conversations",
            odd(at(0, 1, 15, 0), at(1, 10, 0, 1), "hour"),
        ),
        (
            "knowledge-base",
            odd(at(0, 1, 15, 0), at(1, 10, 0, 1), "day"),
        ),
        (
            "conversations",
            odd(at(0, 1, 10, 0), at(0, 1, 40, 0), "hour"),
        ),
    ]
}

async fn read_all(app: &TestApp, requests: &[(&str, String)]) -> Vec<Value> {
    let mut out = Vec::new();
    for (path, query) in requests {
        let reply = app.get(&format!("/api/v1/analytics/{path}?{query}")).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{path}?{query}: {}",
            reply.text
        );
        out.push(reply.body);
    }
    out
}

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let row = app
        .db
        .conn()
        .query_one_raw(Statement::from_string(app.db.backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

/// Waits for the server's worker to roll up every stale hour.
async fn rolled_up(app: &TestApp) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while scalar(app, "SELECT COUNT(*) FROM analytics_stale").await > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the stale hours were not rolled up within 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(scalar(app, "SELECT COUNT(*) FROM analytics_rollups").await > 0);
}

/// The figures of the fixture on one backend, through REST: (conversations by day, by week, of the second
/// assistant; knowledge base by day, of the second assistant; then the ranges inside hours). They are read
/// from the rows first (every hour is stale right after the fixture is written), then from the rollups, and
/// must be the same.
async fn figures(backend: &str) -> Vec<Value> {
    let app = spawn_app_on(backend, |_| {}).await;
    let second = build(&app).await;
    let requests = requests(&second);
    let out = read_all(&app, &requests).await;
    rolled_up(&app).await;
    let from_rollups = read_all(&app, &requests).await;
    for (request, (rows, rollups)) in requests.iter().zip(out.iter().zip(&from_rollups)) {
        assert_eq!(rows, rollups, "{request:?}: rows and rollups differ");
    }
    // GraphQL gives the same figures.
    let data = app
        .graphql_ok(
            "query($from: DateTime, $to: DateTime) { analytics { conversations(from: $from, to: $to, granularity: DAY) { total handoffRate firstResponse { medianSeconds p90Seconds } byStatus { label count } busiestHours { hour messages } } knowledgeBase(from: $from, to: $to) { failedRate topFailedQueries { normalized example count } } } }",
            json!({"from": t0().to_rfc3339(), "to": at(14, 0, 0, 0).to_rfc3339()}),
        )
        .await;
    let conversations = &data["analytics"]["conversations"];
    assert_eq!(conversations["total"], out[0]["total"]);
    assert_eq!(conversations["handoffRate"], out[0]["handoff_rate"]);
    assert_eq!(
        conversations["firstResponse"]["p90Seconds"],
        out[0]["first_response"]["p90_seconds"]
    );
    assert_eq!(conversations["busiestHours"], out[0]["busiest_hours"]);
    assert_eq!(
        data["analytics"]["knowledgeBase"]["topFailedQueries"],
        out[3]["top_failed_queries"]
    );
    // Bad ranges are refused.
    let backwards = app
        .get(&format!(
            "/api/v1/analytics/conversations?from={}&to={}",
            at(2, 0, 0, 0).to_rfc3339().replace('+', "%2B"),
            t0().to_rfc3339().replace('+', "%2B")
        ))
        .await;
    assert_eq!(
        backwards.status,
        StatusCode::BAD_REQUEST,
        "{}",
        backwards.text
    );
    let too_many = app
        .get("/api/v1/analytics/conversations?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&granularity=hour")
        .await;
    assert_eq!(
        too_many.status,
        StatusCode::BAD_REQUEST,
        "{}",
        too_many.text
    );
    let unknown = app
        .get("/api/v1/analytics/knowledge-base?assistant_id=asst_01JD0000000000000000000000")
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", unknown.text);
    let bad_granularity = app
        .get("/api/v1/analytics/conversations?granularity=month")
        .await;
    assert_eq!(bad_granularity.status, StatusCode::BAD_REQUEST);

    // A change to an hour already rolled up counts at once, and still after that hour is rolled up again.
    let mut f = Fixture { app: &app, n: 1000 };
    f.conversation(
        &app.org.assistant.id,
        at(0, 1, 45, 0),
        "open",
        None,
        false,
        false,
        None,
    )
    .await;
    for round in ["at once", "rolled up again"] {
        let by_day = &read_all(&app, &requests[..1]).await[0];
        assert_eq!(by_day["total"], 5, "{round}");
        assert_eq!(by_day["by_status"]["open"], 2, "{round}");
        rolled_up(&app).await;
    }
    out
}

/// Fields that differ between runs by construction (ids of rows created through the API and the range echo).
fn comparable(mut value: Value) -> Value {
    for entries in ["top_entries", "unused_entries", "feedback_by_entry"] {
        if let Some(list) = value.get_mut(entries).and_then(Value::as_array_mut) {
            for item in list {
                item.as_object_mut().unwrap().remove("entry_id");
            }
        }
    }
    value
}

#[tokio::test]
async fn analytics_figures_are_as_computed_by_hand_and_identical_on_sqlite_and_postgresql() {
    let sqlite = figures("sqlite").await;
    let postgres = figures("postgres").await;
    for (s, p) in sqlite.iter().zip(&postgres) {
        assert_eq!(comparable(s.clone()), comparable(p.clone()));
    }
    let by_day = &sqlite[0];
    assert_eq!(by_day["total"], 4);
    assert_eq!(
        by_day["by_status"],
        json!({"closed": 0, "handed_off": 1, "open": 1, "resolved": 2})
    );
    assert_eq!(
        by_day["new_conversations"],
        json!([
            {"start": "2026-11-02T00:00:00Z", "count": 2},
            {"start": "2026-11-03T00:00:00Z", "count": 1},
            {"start": "2026-11-10T00:00:00Z", "count": 1},
        ])
    );
    assert_eq!(by_day["messages"], 8);
    assert_eq!(by_day["average_messages_per_conversation"], 2.0);
    assert_eq!(by_day["handoff_rate"], 0.25);
    assert_eq!(by_day["resolution_rate_without_human"], 0.25);
    assert_eq!(
        by_day["first_response"],
        json!({"count": 3, "median_seconds": 4.0, "p90_seconds": 10.0})
    );
    assert_eq!(
        by_day["sentiment"],
        json!({"negative": 1, "neutral": 1, "positive": 1, "unknown": 1})
    );
    assert_eq!(by_day["csat"], json!({"count": 2, "average": 3.5}));
    assert_eq!(
        by_day["busiest_hours"],
        json!([{"hour": 1, "messages": 3}, {"hour": 3, "messages": 1}, {"hour": 10, "messages": 1}])
    );
    assert_eq!(
        sqlite[1]["new_conversations"],
        json!([
            {"start": "2026-11-02T00:00:00Z", "count": 3},
            {"start": "2026-11-09T00:00:00Z", "count": 1},
        ])
    );
    let second = &sqlite[2];
    assert_eq!(second["total"], 1);
    assert_eq!(
        second["new_conversations"],
        json!([{"start": "2026-11-10T03:00:00Z", "count": 1}])
    );
    assert_eq!(second["csat"]["count"], 0);

    let kb = &sqlite[3];
    assert_eq!(
        (kb["total"].clone(), kb["active"].clone()),
        (json!(4), json!(3))
    );
    assert_eq!(kb["queries"], 5);
    assert_eq!(kb["failed_queries"], 3);
    assert_eq!(kb["failed_rate"], 0.6);
    assert_eq!(
        kb["queries_per_bucket"],
        json!([
            {"start": "2026-11-02T00:00:00Z", "queries": 3, "failed": 1},
            {"start": "2026-11-03T00:00:00Z", "queries": 1, "failed": 1},
            {"start": "2026-11-10T00:00:00Z", "queries": 1, "failed": 1},
        ])
    );
    assert_eq!(
        kb["top_failed_queries"],
        json!([
            {"normalized": "gift cards", "example": "Gift cards?", "count": 2},
            {"normalized": "velvet pouch", "example": "velvet pouch", "count": 1},
        ])
    );
    assert_eq!(kb["top_entries"][0]["title"], "Shipping");
    assert_eq!(kb["top_entries"][0]["hits"], 2);
    assert_eq!(kb["top_entries"].as_array().unwrap().len(), 1);
    let unused: Vec<&str> = kb["unused_entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap())
        .collect();
    assert_eq!(unused, ["Returns", "Gift cards"]);
    assert_eq!(kb["unused_entry_count"], 2);
    assert_eq!(kb["feedback_by_entry"][0]["title"], "Shipping");
    assert_eq!(kb["feedback_by_entry"][0]["helpful"], 1);
    assert_eq!(kb["feedback_by_entry"][0]["not_helpful"], 1);
    let second_kb = &sqlite[4];
    assert_eq!(second_kb["queries"], 1);
    assert_eq!(second_kb["failed_rate"], 1.0);
}

#[tokio::test]
async fn the_conversations_of_a_range_export_as_streamed_csv_on_the_full_api_plan_only() {
    use sea_orm::EntityTrait;
    let app = crate::helpers::spawn_app().await;
    let org = app.org.organization.id.clone();
    let assistant = app.org.assistant.id.clone();
    let visitor = "vis_01JD0000000000000000000001".to_owned();
    entities::visitor::ActiveModel {
        id: Set(visitor.clone()),
        organization_id: Set(org.clone()),
        name: Set(None),
        email: Set(None),
        phone: Set(None),
        marketing_consent: Set(false),
        marketing_consent_at: Set(None),
        unsubscribed_at: Set(None),
        created_at: Set(t0()),
        updated_at: Set(t0()),
    }
    .insert(app.db.conn())
    .await
    .unwrap();
    // More than one page of 500, and one conversation outside the range.
    let rows: Vec<entities::conversation::ActiveModel> = (0..=620)
        .map(|i| entities::conversation::ActiveModel {
            id: Set(format!("conv_01JD00000000000000000{i:05}")),
            organization_id: Set(org.clone()),
            assistant_id: Set(assistant.clone()),
            visitor_id: Set(visitor.clone()),
            status: Set("open".to_owned()),
            subject: Set(match i {
                0 => Some("=HYPERLINK(\"http://evil\"), \"quoted\"".to_owned()),
                _ => Some(format!("Question {i}")),
            }),
            first_response_at: Set((i == 1).then(|| at(0, 0, i, 3))),
            event_seq: Set(1),
            created_at: Set(if i == 620 {
                at(-3, 0, 0, 0)
            } else {
                at(0, 0, i, 0)
            }),
            updated_at: Set(t0()),
            ..Default::default()
        })
        .collect();
    for chunk in rows.chunks(100) {
        entities::conversation::Entity::insert_many(chunk.to_vec())
            .exec(app.db.conn())
            .await
            .unwrap();
    }
    let path = format!(
        "/api/v1/analytics/conversations/export?{}",
        range("day", None)
    );
    let response = app
        .client
        .get(app.url(&path))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"conversations-")
    );
    let text = response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header, api::service::analytics::export::EXPORT_COLUMNS);
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(
        records.len(),
        620,
        "every conversation of the range once, across pages"
    );
    let ids: std::collections::HashSet<&str> = records.iter().map(|r| r.get(0).unwrap()).collect();
    assert_eq!(ids.len(), 620);
    assert_eq!(&records[0][4], "'=HYPERLINK(\"http://evil\"), \"quoted\"");
    assert_eq!(&records[1][7], "3.000");
    assert_eq!(&records[1][8], "0");
    assert_eq!(&records[2][4], "Question 2");

    // Below the full API plan the export is refused, and bad ranges are too.
    api::service::identity::organizations::set_plan_as_operator(
        &app.db,
        &org,
        api::auth::Plan::Standard,
    )
    .await
    .unwrap();
    let refused = app.get(&path).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert_eq!(refused.error_code(), "PLAN_UPGRADE_REQUIRED");
    api::service::identity::organizations::set_plan_as_operator(
        &app.db,
        &org,
        api::auth::Plan::Premium,
    )
    .await
    .unwrap();
    let backwards = app
        .get("/api/v1/analytics/conversations/export?from=2026-11-05T00:00:00Z&to=2026-11-01T00:00:00Z")
        .await;
    assert_eq!(backwards.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_upgrade_marks_every_past_hour_stale_and_a_downgrade_leaves_writes_working() {
    use migration::MigratorTrait;
    use sea_orm::{ConnectionTrait, EntityTrait, Statement};

    // The schema before the rollups, with conversations in two hours.
    let (db, org, _cleanup) = crate::helpers::bootstrapped_at_migration(19).await;
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            db.conn()
                .query_one_raw(Statement::from_string(db.backend(), sql))
                .await
                .unwrap()
                .unwrap()
                .try_get_by_index::<i64>(0)
                .unwrap()
        }
    };
    let conversation = |id: &str, created: DateTime<Utc>| entities::conversation::ActiveModel {
        id: Set(id.to_owned()),
        organization_id: Set(org.organization.id.clone()),
        assistant_id: Set(org.assistant.id.clone()),
        visitor_id: Set("vis_01JD0000000000000000000001".to_owned()),
        status: Set("open".to_owned()),
        event_seq: Set(1),
        created_at: Set(created),
        updated_at: Set(created),
        ..Default::default()
    };
    entities::visitor::ActiveModel {
        id: Set("vis_01JD0000000000000000000001".to_owned()),
        organization_id: Set(org.organization.id.clone()),
        marketing_consent: Set(false),
        created_at: Set(t0()),
        updated_at: Set(t0()),
        ..Default::default()
    }
    .insert(db.conn())
    .await
    .unwrap();
    for (n, created) in [at(0, 1, 0, 0), at(0, 1, 59, 0), at(3, 7, 30, 0)]
        .into_iter()
        .enumerate()
    {
        conversation(&format!("conv_01JD000000000000000000000{n}"), created)
            .insert(db.conn())
            .await
            .unwrap();
    }

    migration::Migrator::up(db.conn(), None).await.unwrap();
    // One mark per hour that holds rows: the two hours of conversations.
    assert_eq!(count("SELECT COUNT(*) FROM analytics_stale").await, 2);
    assert_eq!(
        api::service::analytics::rollups::catch_up(&db)
            .await
            .unwrap(),
        2
    );
    assert_eq!(count("SELECT COUNT(*) FROM analytics_stale").await, 0);
    assert_eq!(count("SELECT COUNT(*) FROM analytics_rollups").await, 2);
    // A conversation written now marks its hour.
    conversation("conv_01JD0000000000000000000009", at(0, 1, 30, 0))
        .insert(db.conn())
        .await
        .unwrap();
    assert_eq!(count("SELECT COUNT(*) FROM analytics_stale").await, 1);

    // Down: the triggers go with the tables, so writes go on.
    migration::Migrator::down(db.conn(), Some(1)).await.unwrap();
    conversation("conv_01JD0000000000000000000010", at(0, 2, 0, 0))
        .insert(db.conn())
        .await
        .unwrap();
    assert_eq!(
        entities::conversation::Entity::find()
            .all(db.conn())
            .await
            .unwrap()
            .len(),
        5
    );
}
