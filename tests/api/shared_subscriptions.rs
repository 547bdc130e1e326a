//! Shared subscriptions: one execution per shape, each subscriber checked alone, none missing or repeating an event.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{WebSocketStream, client_async};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const ORGANIZATION_EVENTS: &str =
    "subscription($types: [EventType!]) { organizationEvents(types: $types) { id type data } }";
const MESSAGE_ADDED: &str =
    "subscription($id: ID!) { messageAdded(conversationId: $id) { id body } }";

/// A bare `graphql-transport-ws` client, so that a test sees every frame and may stop reading.
struct Client {
    socket: WebSocketStream<TcpStream>,
}

impl Client {
    /// Connects and signs in with `token`; `receive_buffer` shrinks the socket's buffer (a slow reader).
    async fn connect(app: &TestApp, token: &str, receive_buffer: Option<u32>) -> Self {
        let address: SocketAddr = app.address.trim_start_matches("http://").parse().unwrap();
        let tcp = TcpSocket::new_v4().unwrap();
        if let Some(size) = receive_buffer {
            tcp.set_recv_buffer_size(size).unwrap();
        }
        let stream = tcp.connect(address).await.unwrap();
        let mut request = format!("ws://{address}/graphql/ws")
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (socket, _) = client_async(request, stream).await.unwrap();
        let mut client = Client { socket };
        client
            .send(json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}))
            .await;
        assert_eq!(client.next().await["type"], "connection_ack");
        client
    }

    async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
    }

    async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}}))
            .await;
    }

    /// The next text frame, raw.
    async fn next_text(&mut self) -> String {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(20), self.socket.next())
                .await
                .expect("a frame within 20 s")
                .expect("the socket is open")
                .unwrap();
            if let Message::Text(text) = message {
                return text.to_string();
            }
        }
    }

    async fn next(&mut self) -> Value {
        serde_json::from_str(&self.next_text().await).unwrap()
    }

    /// Reads frames until an event of `event_type` arrives; returns the raw frames read.
    async fn until(&mut self, event_type: &str) -> Vec<String> {
        let mut frames = Vec::new();
        loop {
            let text = self.next_text().await;
            let frame: Value = serde_json::from_str(&text).unwrap();
            frames.push(text);
            if frame["payload"]["data"]["organizationEvents"]["type"] == event_type {
                return frames;
            }
        }
    }
}

/// Waits until the server runs `shapes` shapes with `subscribers` subscribers in all.
async fn shared(app: &TestApp, shapes: usize, subscribers: usize) {
    for _ in 0..200 {
        if app.state.fanout.counts() == (shapes, subscribers) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "expected {shapes} shapes and {subscribers} subscribers, found {:?}",
        app.state.fanout.counts()
    );
}

/// The `payload` of a frame, as the bytes it was sent with.
fn payload_of(frame: &str) -> &str {
    let start = frame.find("\"payload\":").unwrap() + "\"payload\":".len();
    &frame[start..frame.len() - 1]
}

/// The types of `payloads`' events.
fn types(payloads: &[String]) -> Vec<String> {
    payloads
        .iter()
        .map(|p| {
            serde_json::from_str::<Value>(p).unwrap()["data"]["organizationEvents"]["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// The payloads of `frames`, in order.
fn payloads(frames: &[String]) -> Vec<String> {
    frames.iter().map(|f| payload_of(f).to_owned()).collect()
}

#[tokio::test]
async fn subscribers_of_one_shape_share_one_execution_and_each_frames_it_with_its_own_id() {
    let app = spawn_app().await;
    let agents = [
        app.key_with_role("agent").await,
        app.key_with_role("agent").await,
    ];
    let analyst = app.key_with_role("analyst").await;
    let both = json!({"types": ["KNOWLEDGE_BASE_ENTRY_CREATED", "CONVERSATION_CREATED"]});
    // The owner key twice on one connection and once on another; two agent keys; an analyst.
    let mut owner = Client::connect(&app, &app.key, None).await;
    owner
        .subscribe("1", ORGANIZATION_EVENTS, both.clone())
        .await;
    owner
        .subscribe("2", ORGANIZATION_EVENTS, both.clone())
        .await;
    let mut owner_again = Client::connect(&app, &app.key, None).await;
    owner_again
        .subscribe("x\"y", ORGANIZATION_EVENTS, both.clone())
        .await;
    let mut first_agent = Client::connect(&app, &agents[0], None).await;
    first_agent
        .subscribe("1", ORGANIZATION_EVENTS, both.clone())
        .await;
    let mut second_agent = Client::connect(&app, &agents[1], None).await;
    second_agent
        .subscribe("1", ORGANIZATION_EVENTS, both.clone())
        .await;
    let mut analyst = Client::connect(&app, &analyst, None).await;
    analyst
        .subscribe("1", ORGANIZATION_EVENTS, both.clone())
        .await;
    // Other variables are another shape.
    let mut typed = Client::connect(&app, &app.key, None).await;
    typed
        .subscribe(
            "1",
            ORGANIZATION_EVENTS,
            json!({"types": ["CONVERSATION_CREATED"]}),
        )
        .await;
    shared(&app, 4, 7).await;

    let entry = app
        .post(
            "/api/v1/knowledge-base",
            json!({"title": "Refunds", "body": "30 days"}),
        )
        .await;
    assert_eq!(entry.status, StatusCode::CREATED, "{}", entry.text);
    app.create_conversation("hello").await;

    // Each subscriber gets the events its role may read, framed with its own id; one shape's bytes are one.
    let (mut ones, mut twos) = (Vec::new(), Vec::new());
    while ones.len() < 2 || twos.len() < 2 {
        let frame = owner.next_text().await;
        let parsed: Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(parsed["type"], "next", "{frame}");
        match parsed["id"].as_str().unwrap() {
            "1" => ones.push(payload_of(&frame).to_owned()),
            "2" => twos.push(payload_of(&frame).to_owned()),
            other => panic!("a frame for {other}: {frame}"),
        }
    }
    assert_eq!(ones, twos);
    assert_eq!(
        types(&ones),
        ["KNOWLEDGE_BASE_ENTRY_CREATED", "CONVERSATION_CREATED"]
    );
    let others = owner_again.until("CONVERSATION_CREATED").await;
    for frame in &others {
        assert!(
            frame.starts_with(r#"{"type":"next","id":"x\"y","payload":"#),
            "{frame}"
        );
    }
    assert_eq!(payloads(&others), ones);
    let first = payloads(&first_agent.until("CONVERSATION_CREATED").await);
    let second = payloads(&second_agent.until("CONVERSATION_CREATED").await);
    assert_eq!(first, second);
    let analysts = payloads(&analyst.until("CONVERSATION_CREATED").await);
    assert_eq!(
        types(&analysts),
        ["CONVERSATION_CREATED"],
        "the analyst's shape skips the entry"
    );
    let typed_payloads = payloads(&typed.until("CONVERSATION_CREATED").await);
    assert_eq!(types(&typed_payloads), ["CONVERSATION_CREATED"]);

    // `complete` leaves the shape; the connection's other subscription goes on. A reused live id is refused.
    owner.send(json!({"id": "2", "type": "complete"})).await;
    assert_eq!(owner.next().await, json!({"type": "complete", "id": "2"}));
    shared(&app, 4, 6).await;
    app.create_conversation("again").await;
    let frame = owner.next().await;
    assert_eq!(frame["id"], "1", "{frame}");
    assert_eq!(
        frame["payload"]["data"]["organizationEvents"]["type"],
        "CONVERSATION_CREATED"
    );
    owner_again
        .subscribe("x\"y", ORGANIZATION_EVENTS, both.clone())
        .await;
    loop {
        match owner_again.socket.next().await {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(u16::from(frame.code), 4409);
                break;
            }
            Some(Ok(_)) => continue,
            other => panic!("no 4409 close: {other:?}"),
        }
    }
    // The last subscriber to leave stops its shape.
    drop((
        owner,
        owner_again,
        first_agent,
        second_agent,
        analyst,
        typed,
    ));
    shared(&app, 0, 0).await;
}

#[tokio::test]
async fn a_revoked_key_leaves_its_shape_with_the_reason_and_the_others_keep_it() {
    let app = spawn_app().await;
    let (partner_id, partner) = app.new_key("agent").await;
    let other = app.key_with_role("agent").await;
    let mut revoked = Client::connect(&app, &partner, None).await;
    revoked.subscribe("1", ORGANIZATION_EVENTS, json!({})).await;
    let mut kept = Client::connect(&app, &other, None).await;
    kept.subscribe("1", ORGANIZATION_EVENTS, json!({})).await;
    shared(&app, 1, 2).await;

    let deleted = app.delete(&format!("/api/v1/api-keys/{partner_id}")).await;
    assert!(deleted.status.is_success(), "{}", deleted.text);
    app.create_conversation("after").await;

    let refusal = loop {
        let frame = revoked.next().await;
        assert_eq!(frame["type"], "next", "{frame}");
        if !frame["payload"]["errors"].is_null() {
            break frame;
        }
        assert_ne!(
            frame["payload"]["data"]["organizationEvents"]["type"], "CONVERSATION_CREATED",
            "nothing after the revocation arrives: {frame}"
        );
    };
    assert_eq!(refusal["id"], "1");
    assert!(
        refusal["payload"]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("revoked"),
        "{refusal}"
    );
    assert_eq!(
        refusal["payload"]["errors"][0]["path"],
        json!(["organizationEvents"])
    );
    assert_eq!(revoked.next().await, json!({"type": "complete", "id": "1"}));
    let next = kept.until("CONVERSATION_CREATED").await;
    assert!(!next.is_empty());
    shared(&app, 1, 1).await;
}

/// Signs a new member with `role` in: (member id, session token).
async fn member(app: &TestApp, email: &str, role: &str) -> (String, String) {
    crate::sessions::signed_in(app, email, role).await
}

#[tokio::test]
async fn a_member_whose_role_changes_follows_on_alone_without_gap_or_duplicate() {
    let app = spawn_app().await;
    let (id, token) = member(&app, "ana@example.com", "AGENT").await;
    let (_, colleague) = member(&app, "bo@example.com", "AGENT").await;
    let conversation = app.create_conversation("hello").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut moving = Client::connect(&app, &token, None).await;
    moving.subscribe("1", ORGANIZATION_EVENTS, json!({})).await;
    let mut staying = Client::connect(&app, &colleague, None).await;
    staying.subscribe("1", ORGANIZATION_EVENTS, json!({})).await;
    shared(&app, 1, 2).await;

    // Messages keep coming while the role changes.
    let path = format!("/api/v1/conversations/{conversation}/messages");
    let post = |n: usize| {
        let path = path.clone();
        let app = &app;
        async move {
            let sent = app
                .post(
                    &path,
                    json!({"author": "agent", "body": format!("reply {n}")}),
                )
                .await;
            assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text);
        }
    };
    for n in 0..5 {
        post(n).await;
    }
    let (changed, _) = tokio::join!(
        app.mutate(
            "mutation($id: ID!) { changeMemberRole(id: $id, role: ANALYST) { member { role } userErrors { field message code } } }",
            json!({"id": id}),
            "changeMemberRole",
        ),
        async {
            for n in 5..10 {
                post(n).await;
            }
        }
    );
    assert_eq!(changed["member"]["role"], "ANALYST", "{changed}");
    for n in 10..15 {
        post(n).await;
    }
    // The moved member left the shape; the colleague keeps it.
    shared(&app, 1, 1).await;

    let bodies = |frames: Vec<Value>| -> Vec<String> {
        frames
            .iter()
            .filter(|f| f["payload"]["data"]["organizationEvents"]["type"] == "MESSAGE_CREATED")
            .filter_map(|f| {
                f["payload"]["data"]["organizationEvents"]["data"]["body"]
                    .as_str()
                    .filter(|body| body.starts_with("reply "))
                    .map(str::to_owned)
            })
            .collect()
    };
    let expected: Vec<String> = (0..15).map(|n| format!("reply {n}")).collect();
    for client in [&mut moving, &mut staying] {
        let mut frames = Vec::new();
        while bodies(frames.clone()).len() < expected.len() {
            let frame = client.next().await;
            assert_eq!(frame["type"], "next", "{frame}");
            assert!(frame["payload"]["errors"].is_null(), "{frame}");
            frames.push(frame);
        }
        assert_eq!(bodies(frames), expected, "every message once, in order");
    }
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_its_shape_continues_from_the_table_in_order() {
    let app = spawn_app_with(|settings| {
        settings.subscription_backlog = 8;
        settings.message_max_bytes = 64 * 1024;
    })
    .await;
    let conversation = app.create_conversation("hello").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // One reader that stops reading with a small buffer, one that keeps reading.
    let mut slow = Client::connect(&app, &app.key, Some(4096)).await;
    slow.subscribe("1", MESSAGE_ADDED, json!({"id": conversation}))
        .await;
    let mut fast = Client::connect(&app, &app.key, None).await;
    fast.subscribe("1", MESSAGE_ADDED, json!({"id": conversation}))
        .await;
    shared(&app, 1, 2).await;

    // Far more than the socket buffers and the backlog hold.
    let filler = "x".repeat(48 * 1024);
    let count = 150;
    let reader = tokio::spawn(async move {
        let mut bodies = Vec::new();
        while bodies.len() < count {
            let frame = fast.next().await;
            let body = &frame["payload"]["data"]["messageAdded"]["body"];
            if body.as_str().is_some_and(|b| b.len() > 1000) {
                bodies.push(body.clone());
            }
        }
        (bodies, fast)
    });
    let path = format!("/api/v1/conversations/{conversation}/messages");
    for n in 0..count {
        let sent = app
            .post(
                &path,
                json!({"author": "agent", "body": format!("{n} {filler}")}),
            )
            .await;
        assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text);
    }
    let expected: Vec<Value> = (0..count).map(|n| json!(format!("{n} {filler}"))).collect();
    let (bodies, _fast) = reader.await.unwrap();
    assert!(
        bodies == expected,
        "the reader that kept up got every message in order"
    );
    let mut got = Vec::new();
    while got.len() < count {
        let frame = slow.next().await;
        assert_eq!(frame["type"], "next", "{}", &frame.to_string()[..200]);
        let body = &frame["payload"]["data"]["messageAdded"]["body"];
        if body.as_str().is_some_and(|b| b.len() > 1000) {
            got.push(body.clone());
        }
    }
    assert!(
        got == expected,
        "the slow reader got every message once, in order"
    );
    // It went on alone: only the reader that kept up is left on the shape.
    shared(&app, 1, 1).await;
}
