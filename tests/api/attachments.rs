//! Screenshots on messages: uploads judged by their bytes within the size and count limits, claimed by one
//! message, shown through short-lived signed URLs (REST, GraphQL, the widget), kept in the data folder or an
//! S3-compatible store (moto's server), and forwarded to the help desks (Zendesk uploads, Freshdesk files,
//! Intercom's attachment URLs).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::crm_sync::{conversation, set_status, settled_runs};
use crate::fake_freshdesk::{self, FakeFreshdesk};
use crate::fake_intercom::FakeIntercom;
use crate::fake_zendesk::{self, FakeZendesk};
use crate::helpers::{TestApp, free_port, root, spawn_app_with};
use crate::widget::Browser;

/// A 1×1 PNG.
fn png() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
        .unwrap()
}

/// The start of a JPEG and of a WebP file: what the type is judged by.
fn jpeg() -> Vec<u8> {
    let mut bytes = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00".to_vec();
    bytes.extend(std::iter::repeat_n(0u8, 64));
    bytes
}

fn webp() -> Vec<u8> {
    let mut bytes = b"RIFF\x24\x00\x00\x00WEBPVP8 ".to_vec();
    bytes.extend(std::iter::repeat_n(0u8, 32));
    bytes
}

async fn upload(
    app: &TestApp,
    conversation: &str,
    bytes: Vec<u8>,
    declared: &str,
) -> crate::helpers::Reply {
    app.send_raw(
        reqwest::Method::POST,
        &format!("/api/v1/conversations/{conversation}/attachments"),
        Some(declared),
        bytes,
    )
    .await
}

async fn small_limits_app() -> TestApp {
    spawn_app_with(|settings| {
        settings.attachment_max_bytes = 4_000;
        settings.attachment_max_count = 2;
    })
    .await
}

#[tokio::test]
async fn uploads_are_judged_by_their_bytes_and_carried_by_one_message() {
    let app = small_limits_app().await;
    let (id, _) = conversation(
        &app,
        json!({"name": "Ivy"}),
        "The checkout button does nothing",
    )
    .await;
    let before = app.count_rows("message_attachments").await;

    // The declared type and the name are not trusted: an SVG declared as PNG, a GIF, empty, too large.
    let svg = upload(
        &app,
        &id,
        b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
        "image/png",
    )
    .await;
    assert_eq!(
        svg.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        svg.text
    );
    assert!(svg.text.contains("judged by its bytes"), "{}", svg.text);
    let gif = upload(&app, &id, b"GIF89a\x01\x00\x01\x00".to_vec(), "image/gif").await;
    assert_eq!(gif.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let empty = upload(&app, &id, Vec::new(), "image/png").await;
    assert_eq!(
        empty.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        empty.text
    );
    let mut large = png();
    large.extend(std::iter::repeat_n(0u8, 4_000));
    let large = upload(&app, &id, large, "image/png").await;
    assert_eq!(
        large.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        large.text
    );
    assert_eq!(app.count_rows("message_attachments").await, before);
    let folder = app.settings.data_dir.join("attachments");
    let stored = || walk(&folder);
    assert_eq!(stored(), 0, "nothing refused was kept");

    // A PNG declared as anything, a JPEG and a WebP are taken.
    let shot = upload(&app, &id, png(), "application/octet-stream").await;
    assert_eq!(shot.status, StatusCode::CREATED, "{}", shot.text);
    assert_eq!(shot.body["content_type"], "image/png");
    assert_eq!(shot.body["byte_size"], png().len());
    let shot_id = shot.body["id"].as_str().unwrap().to_owned();
    assert!(shot_id.starts_with("file_"), "{shot_id}");
    let second = upload(&app, &id, jpeg(), "image/png").await;
    assert_eq!(second.body["content_type"], "image/jpeg");
    let third = upload(&app, &id, webp(), "image/webp").await;
    assert_eq!(third.body["content_type"], "image/webp");
    assert_eq!(stored(), 3);

    // Another conversation cannot carry them; more than the limit is refused; unknown ids are named.
    let (other, _) = conversation(&app, json!({"name": "Bo"}), "Hello").await;
    let foreign = app
        .post(
            &format!("/api/v1/conversations/{other}/messages"),
            json!({"author": "visitor", "body": "", "attachment_ids": [shot_id]}),
        )
        .await;
    assert_eq!(
        foreign.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        foreign.text
    );
    assert!(foreign.text.contains("attachment_ids"), "{}", foreign.text);
    let too_many = app
        .post(
            &format!("/api/v1/conversations/{id}/messages"),
            json!({"author": "visitor", "body": "look", "attachment_ids": [
                shot_id, second.body["id"], third.body["id"]]}),
        )
        .await;
    assert_eq!(
        too_many.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        too_many.text
    );
    assert!(too_many.text.contains("at most 2"), "{}", too_many.text);
    let blank = app
        .post(
            &format!("/api/v1/conversations/{id}/messages"),
            json!({"author": "visitor", "body": "  "}),
        )
        .await;
    assert_eq!(
        blank.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a blank message carries something"
    );

    // A message with only screenshots: stored, not answered, its attachments shown with signed URLs.
    let posted = app
        .post(
            &format!("/api/v1/conversations/{id}/messages"),
            json!({"author": "visitor", "body": "", "attachment_ids": [shot_id, second.body["id"]]}),
        )
        .await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.text);
    assert_eq!(posted.body["replies"], json!([]));
    let files = posted.body["attachments"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["id"], shot_id.as_str());
    let again = app
        .post(
            &format!("/api/v1/conversations/{id}/messages"),
            json!({"author": "visitor", "body": "same one", "attachment_ids": [shot_id]}),
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "one message carries an upload"
    );

    // The signed URL serves the bytes as their type, never to be sniffed; a changed signature or id is refused.
    let url = files[0]["url"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    let got = client.get(&url).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.headers()["content-type"], "image/png");
    assert_eq!(got.headers()["x-content-type-options"], "nosniff");
    assert_eq!(got.bytes().await.unwrap().to_vec(), png());
    let forged = client
        .get(format!("{}x", &url[..url.len() - 1]))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let moved = client
        .get(url.replace(&shot_id, second.body["id"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        moved.status(),
        StatusCode::FORBIDDEN,
        "a signature holds for its own id"
    );
    let bare = client
        .get(app.url(&format!("/attachments/{shot_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::FORBIDDEN);

    // Lists and GraphQL show them with fresh URLs; the event names them.
    let listed = app
        .get(&format!("/api/v1/conversations/{id}/messages?limit=100"))
        .await;
    let carried: Vec<&Value> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["attachments"].is_array())
        .collect();
    assert_eq!(carried.len(), 1, "{}", listed.text);
    assert_eq!(carried[0]["attachments"][1]["content_type"], "image/jpeg");
    let graphql = app
        .graphql_ok(
            "query($id: ID!) { conversation(id: $id) { messages(first: 10) { nodes {
                body attachments { id contentType byteSize url urlExpiresAt } } } } }",
            json!({"id": id}),
        )
        .await;
    let nodes = graphql["conversation"]["messages"]["nodes"]
        .as_array()
        .unwrap();
    let with_files: Vec<&Value> = nodes
        .iter()
        .filter(|n| !n["attachments"].as_array().unwrap().is_empty())
        .collect();
    assert_eq!(with_files.len(), 1, "{graphql}");
    let graphql_url = with_files[0]["attachments"][0]["url"].as_str().unwrap();
    assert_eq!(
        client.get(graphql_url).send().await.unwrap().status(),
        StatusCode::OK
    );
    let events = app.get("/api/v1/events?types=message.created").await;
    let named = events.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["data"]["attachments"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        })
        .cloned()
        .unwrap();
    assert_eq!(named["data"]["attachments"][0]["id"], shot_id.as_str());
    assert_eq!(named["data"]["attachments"][0]["content_type"], "image/png");

    // Closed conversations take no uploads; another organization's are not found.
    set_status(&app, &other, "closed").await;
    let closed = upload(&app, &other, png(), "image/png").await;
    assert_eq!(closed.status, StatusCode::CONFLICT, "{}", closed.text);
    let stranger = app.other_organization("Globex").await;
    let foreign_upload = app
        .client
        .post(app.url(&format!("/api/v1/conversations/{id}/attachments")))
        .bearer_auth(&stranger.secret)
        .body(png())
        .send()
        .await
        .unwrap();
    assert_eq!(foreign_upload.status(), StatusCode::NOT_FOUND);
}

/// Files under `folder`, however deep.
fn walk(folder: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                walk(&e.path())
            } else {
                1
            }
        })
        .sum()
}

#[tokio::test]
async fn signed_urls_expire() {
    let app = spawn_app_with(|settings| settings.attachment_url_secs = 1).await;
    let (id, _) = conversation(&app, json!({"name": "Ivy"}), "Broken page").await;
    let shot = upload(&app, &id, png(), "image/png").await;
    let url = shot.body["url"].as_str().unwrap().to_owned();
    assert_eq!(reqwest::get(&url).await.unwrap().status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let expired = reqwest::get(&url).await.unwrap();
    assert_eq!(expired.status(), StatusCode::FORBIDDEN);
    assert!(expired.text().await.unwrap().contains("expired"));
}

#[tokio::test]
async fn a_visitor_attaches_screenshots_in_the_widget() {
    let app = small_limits_app().await;
    let visitor = Browser::start(&app, json!({"name": "Ivy"})).await;
    let started = visitor
        .post(
            "/widget/v1/conversations",
            json!({"initial_message": "The page is broken", "source_url": "https://shop.example.com/cart"}),
        )
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text);
    let id = started.body["id"].as_str().unwrap().to_owned();
    let shot = visitor.upload(&id, png()).await;
    assert_eq!(shot.status, StatusCode::CREATED, "{}", shot.text);
    let refused = visitor.upload(&id, b"%PDF-1.7".to_vec()).await;
    assert_eq!(refused.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let sent = visitor
        .post(
            &format!("/widget/v1/conversations/{id}/messages"),
            json!({"body": "See the screenshot", "attachment_ids": [shot.body["id"]]}),
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text);
    assert_eq!(sent.body["attachments"][0]["content_type"], "image/png");
    let listed = visitor
        .get(&format!("/widget/v1/conversations/{id}/messages"))
        .await;
    let url = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|m| m["attachments"][0]["url"].as_str())
        .unwrap()
        .to_owned();
    assert_eq!(
        reqwest::get(&url)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec(),
        png()
    );
    // Another visitor cannot upload to this conversation.
    let stranger = Browser::start(&app, json!({"name": "Eve"})).await;
    let not_theirs = stranger.upload(&id, png()).await;
    assert_eq!(not_theirs.status, StatusCode::NOT_FOUND);
}

/// moto's S3-compatible server, on its own port, with one bucket.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    async fn start(bucket: &str) -> Self {
        let port = free_port();
        let child = Command::new(root().join("tests/peers/.venv/bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server is installed by `make python-peers`");
        let endpoint = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if client.get(&endpoint).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let made = client
            .put(format!("{endpoint}/{bucket}"))
            .send()
            .await
            .unwrap();
        assert!(made.status().is_success(), "{}", made.status());
        Self { child, endpoint }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn attachments_can_live_in_s3_compatible_storage() {
    let moto = Moto::start("shots").await;
    let endpoint = moto.endpoint.clone();
    let app = spawn_app_with(move |settings| {
        settings.attachment_store = Some("s3://shots/concierge".to_owned());
        settings.s3_endpoint = Some(endpoint);
        settings.s3_access_key_id = Some("test-key".to_owned());
        settings.s3_secret_access_key = Some("test-secret".to_owned().into());
    })
    .await;
    let (id, _) = conversation(&app, json!({"name": "Ivy"}), "Look at this").await;
    let shot = upload(&app, &id, png(), "image/png").await;
    assert_eq!(shot.status, StatusCode::CREATED, "{}", shot.text);
    let file = shot.body["id"].as_str().unwrap();
    // The object is in the bucket, under the prefix, the organization and the conversation.
    let listing = reqwest::get(format!("{}/shots?list-type=2", moto.endpoint))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let key = format!("concierge/{}/{id}/{file}.png", app.org.organization.id);
    assert!(listing.contains(&key), "{key} in {listing}");
    assert_eq!(walk(&app.settings.data_dir.join("attachments")), 0);
    let url = shot.body["url"].as_str().unwrap();
    assert_eq!(
        reqwest::get(url)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec(),
        png()
    );
}

#[tokio::test]
async fn a_storage_outage_is_a_clear_error_and_keeps_nothing() {
    let moto = Moto::start("shots").await;
    let endpoint = moto.endpoint.clone();
    let app = spawn_app_with(move |settings| {
        settings.attachment_store = Some("s3://shots".to_owned());
        settings.s3_endpoint = Some(endpoint);
        settings.s3_access_key_id = Some("test-key".to_owned());
        settings.s3_secret_access_key = Some("test-secret".to_owned().into());
    })
    .await;
    let (id, _) = conversation(&app, json!({"name": "Ivy"}), "Look").await;
    drop(moto);
    let failed = upload(&app, &id, png(), "image/png").await;
    assert_eq!(failed.status, StatusCode::BAD_GATEWAY, "{}", failed.text);
    assert!(
        failed.text.contains("could not be reached"),
        "{}",
        failed.text
    );
    assert_eq!(app.count_rows("message_attachments").await, 0);
}

/// A handed-off conversation whose visitor sent a screenshot; its id.
async fn with_screenshot(app: &TestApp, email: &str) -> String {
    let (id, _) = conversation(
        app,
        json!({"name": "Ivy Lane", "email": email}),
        "The cart is empty after login",
    )
    .await;
    let shot = upload(app, &id, png(), "image/png").await;
    let posted = app
        .post(
            &format!("/api/v1/conversations/{id}/messages"),
            json!({"author": "visitor", "body": "Here is what I see", "attachment_ids": [shot.body["id"]]}),
        )
        .await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.text);
    set_status(app, &id, "handed_off").await;
    id
}

fn vendor_app_settings(base_urls: String) -> impl FnOnce(&mut api::config::Settings) {
    move |settings| {
        settings.provider_base_urls = Some(base_urls);
        settings.egress_allow = Some("127.0.0.1/32".to_owned());
        settings.integration_retry_schedule = "1,1,1".to_owned();
    }
}

#[tokio::test]
async fn screenshots_go_to_zendesk_and_freshdesk_with_the_ticket() {
    let zendesk = FakeZendesk::start().await;
    let freshdesk = FakeFreshdesk::start().await;
    let app = spawn_app_with(vendor_app_settings(format!(
        "{},{}",
        zendesk.base_urls(),
        freshdesk.base_urls()
    )))
    .await;
    let connect = "mutation($input: ConnectIntegrationInput!) { connectIntegration(input: $input) {
        integration { id } userErrors { field message } } }";
    let zendesk_id = app
        .mutate(
            connect,
            json!({"input": {"provider": "ZENDESK", "account": {"subdomain": "acme"},
                "credentials": {"email": fake_zendesk::AGENT_EMAIL, "apiKey": fake_zendesk::API_TOKEN}}}),
            "connectIntegration",
        )
        .await["integration"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    with_screenshot(&app, "ivy@example.test").await;
    let runs = settled_runs(&app, &zendesk_id, 1).await;
    assert!(
        runs[0]["outcome"]
            .as_str()
            .unwrap()
            .contains("with 1 screenshot"),
        "{:#}",
        runs[0]
    );
    let ticket = &zendesk.tickets()[0];
    let token = ticket["comment"]["uploads"][0].as_str().unwrap();
    let files = zendesk.uploads(token);
    let names: Vec<&str> = files.iter().map(|f| f.file_name.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(names[1], "screenshot-1.png");
    assert_eq!(files[1].content_type, "image/png");
    assert_eq!(files[1].bytes, png());

    // The same for Freshdesk: an image part beside the transcript.
    app.delete(&format!("/api/v1/integrations/{zendesk_id}"))
        .await;
    let freshdesk_id = app
        .mutate(
            connect,
            json!({"input": {"provider": "FRESHDESK", "account": {"subdomain": "acme"},
                "credentials": {"apiKey": fake_freshdesk::API_KEY}}}),
            "connectIntegration",
        )
        .await["integration"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    with_screenshot(&app, "bo@example.test").await;
    settled_runs(&app, &freshdesk_id, 1).await;
    let form = &freshdesk.forms()[0];
    let files: Vec<(&str, &str)> = form
        .iter()
        .filter(|p| p.name == "attachments[]")
        .map(|p| (p.file_name.as_deref().unwrap(), p.content_type.as_str()))
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(files[1], ("screenshot-1.png", "image/png"));
}

#[tokio::test]
async fn intercom_fetches_the_screenshots_from_their_signed_urls() {
    let intercom = FakeIntercom::start().await;
    let app = spawn_app_with({
        let base = vendor_app_settings(intercom.base_urls());
        move |settings| {
            base(settings);
            settings.oauth_intercom_client_id = Some(crate::fake_intercom::CLIENT_ID.to_owned());
            settings.oauth_intercom_client_secret =
                Some(crate::fake_intercom::CLIENT_SECRET.to_owned().into());
        }
    })
    .await;
    let id = crate::intercom::connected(&app).await;
    with_screenshot(&app, "ivy@example.test").await;
    let runs = settled_runs(&app, &id, 1).await;
    assert_eq!(runs[0]["status"], "succeeded", "{:#}", runs[0]);
    assert_eq!(
        intercom.fetched(),
        [(200, "image/png".to_owned(), png().len())]
    );
}
