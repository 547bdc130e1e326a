//! Health endpoints, request ids and the JSON fallback.

use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn healthz_answers_ok_without_credentials() {
    let app = spawn_app().await;
    let reply = app.send(reqwest::Method::GET, "/healthz", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["status"], "ok");
}

#[tokio::test]
async fn readyz_reports_the_database_reachable() {
    let app = spawn_app().await;
    let reply = app.send(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["database"], "ok");
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_echoes_the_callers() {
    let app = spawn_app().await;
    let reply = app.get("/healthz").await;
    assert!(!reply.headers["x-request-id"].to_str().unwrap().is_empty());
    let echoed = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-me-42");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_errors() {
    let app = spawn_app().await;
    let reply = app.get("/api/v1/nope").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error_code(), "NOT_FOUND");
    let reply = app
        .send(
            reqwest::Method::PATCH,
            "/api/v1/conversations",
            Some(&app.key),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.error_code(), "BAD_USER_INPUT");
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (settings, _cleanup) = crate::helpers::fresh_settings().await;
    let mut server = crate::helpers::Server::start(settings).await;
    let port = server.port;

    // Start a request and send only half of its body, so it is surely in flight.
    let body = br#"{"query":"{ __typename }"}"#;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\nauthorization: Bearer ck_x\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..10]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    server.stop();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(
        !server.is_finished(),
        "the server waits for the in-flight request"
    );

    stream.write_all(&body[10..]).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");

    tokio::time::timeout(std::time::Duration::from_secs(10), server.finished())
        .await
        .expect("server stops once the request is answered")
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn every_response_refuses_sniffing_and_html_pages_refuse_framing_unless_they_set_their_own_policy()
 {
    let app = spawn_app().await;
    let get = |path: &'static str| app.client.get(app.url(path)).send();
    // JSON, an error and a page without a policy of its own.
    for path in ["/healthz", "/no-such-route"] {
        let reply = get(path).await.unwrap();
        assert_eq!(
            reply.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
        assert!(reply.headers().get("x-frame-options").is_none(), "{path}");
    }
    // The REST reference, and the page a sign-in that cannot start lands a browser on: not frameable.
    let pages = [
        ("/api/v1/docs", StatusCode::OK),
        (
            "/sso/oidc/sso_nosuchconnection/login",
            StatusCode::NOT_FOUND,
        ),
    ];
    for (path, status) in pages {
        let page = get(path).await.unwrap();
        assert_eq!(page.status(), status, "{path}");
        let headers = page.headers();
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(
            headers["content-security-policy"], "frame-ancestors 'none'",
            "{path}"
        );
    }
    // The console keeps its own policy (it frames the widget's preview).
    let console = get("/console/").await.unwrap();
    assert_eq!(console.status(), StatusCode::OK);
    assert_eq!(console.headers()["x-frame-options"], "SAMEORIGIN");
    assert!(
        console.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'self'")
    );
    assert_eq!(console.headers()["referrer-policy"], "same-origin");
    assert_eq!(console.headers()["x-content-type-options"], "nosniff");
}
