//! Team notifications by email through the organization's SMTP server (aiosmtpd): rules by event, recipients
//! and filters, at most one email per rule, conversation and event within the window; invitations emailed when
//! mail is configured.

use serde_json::{Value, json};

use crate::crm_sync::{conversation, set_status, settled_runs};
use crate::smtp::{SmtpPeer, connect, mail_app};

const CREATE: &str =
    "mutation($input: NotificationRuleInput!) { createNotificationRule(input: $input) {
    notificationRule { id name events recipients addresses pagePath windowMinutes enabled }
    userErrors { field message code } } }";

/// A message's text with its quoted-printable parts decoded (soft line breaks joined, `=XX` bytes read).
pub fn decoded(data: &str) -> String {
    let joined = data.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The messages the peer received, as (recipients, subject, decoded data).
pub fn mails(peer: &SmtpPeer) -> Vec<(Vec<String>, String, String)> {
    peer.received()
        .iter()
        .map(|m| {
            let data = decoded(m["data"].as_str().unwrap());
            let subject = data
                .lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap_or_default()
                .to_owned();
            let to = m["rcpt_tos"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_owned())
                .collect();
            (to, subject, data)
        })
        .collect()
}

#[tokio::test]
async fn rules_email_the_right_people_once_per_window() {
    let peer = SmtpPeer::start("plain", false, &[]).await;
    let app = mail_app().await;
    let smtp = connect(&app, &peer, "NONE", false).await;
    let owner = app.org.owner.email.clone();

    // Bad rules are refused beside their fields.
    let no_addresses = app
        .user_error(
            CREATE,
            json!({"input": {"name": "List", "events": ["HANDOFF"], "recipients": "ADDRESSES"}}),
            "createNotificationRule",
        )
        .await;
    assert_eq!(
        no_addresses["field"],
        json!(["input", "addresses"]),
        "{no_addresses}"
    );
    let bad_path = app
        .user_error(
            CREATE,
            json!({"input": {"name": "Pricing", "events": ["HANDOFF"], "pagePath": "pricing"}}),
            "createNotificationRule",
        )
        .await;
    assert_eq!(
        bad_path["field"],
        json!(["input", "pagePath"]),
        "{bad_path}"
    );
    let bad_window = app
        .post(
            "/api/v1/notification-rules",
            json!({"name": "x", "events": ["handoff"], "window_minutes": 0}),
        )
        .await;
    assert_eq!(bad_window.status, 422, "{}", bad_window.text);

    // The admins hear of new conversations and handoffs; a list hears of unanswered questions on /pricing.
    let admins = app
        .mutate(
            CREATE,
            json!({"input": {"name": "Admins", "events": ["NEW_CONVERSATION", "HANDOFF"], "windowMinutes": 30}}),
            "createNotificationRule",
        )
        .await;
    assert_eq!(admins["notificationRule"]["recipients"], "ADMINS");
    let billing = app
        .post(
            "/api/v1/notification-rules",
            json!({"name": "Pricing questions", "events": ["query_failed"], "recipients": "addresses",
                "addresses": ["billing@acme.test"], "page_path": "/pricing"}),
        )
        .await;
    assert_eq!(billing.status, 201, "{}", billing.text);
    let elsewhere = app
        .post(
            "/api/v1/notification-rules",
            json!({"name": "Docs questions", "events": ["query_failed"], "recipients": "addresses",
                "addresses": ["docs@acme.test"], "page_path": "/docs"}),
        )
        .await;
    assert_eq!(elsewhere.status, 201, "{}", elsewhere.text);
    let listed = app.get("/api/v1/notification-rules").await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 3);

    // A conversation on /pricing whose first question the assistant cannot answer.
    let (id, _) = conversation(
        &app,
        json!({"name": "Ivy Lane", "email": "ivy@example.test"}),
        "Do you offer volume discounts for schools?",
    )
    .await;
    settled_runs(&app, &smtp, 2).await;
    let sent = peer.wait_for(2).await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    let mails = mails(&peer);
    let to_owner: Vec<&(Vec<String>, String, String)> = mails
        .iter()
        .filter(|(to, _, _)| to.contains(&owner))
        .collect();
    assert_eq!(to_owner.len(), 1, "{mails:?}");
    assert!(
        to_owner[0].1.starts_with("New conversation from Ivy Lane"),
        "{mails:?}"
    );
    let to_billing: Vec<&(Vec<String>, String, String)> = mails
        .iter()
        .filter(|(to, _, _)| to == &vec!["billing@acme.test".to_owned()])
        .collect();
    assert_eq!(to_billing.len(), 1, "{mails:?}");
    assert!(
        to_billing[0]
            .1
            .starts_with("Unanswered question from Ivy Lane"),
        "{mails:?}"
    );
    let body = &to_billing[0].2;
    assert!(body.contains("volume discounts for schools"), "{body}");
    assert!(body.contains(&format!("/console/inbox/{id}")), "{body}");
    assert!(body.contains("Pricing questions"), "{body}");
    assert!(
        !mails
            .iter()
            .any(|(to, _, _)| to.contains(&"docs@acme.test".to_owned()))
    );

    // A handoff: one email; handed back and off again within the window: none more.
    set_status(&app, &id, "handed_off").await;
    settled_runs(&app, &smtp, 3).await;
    peer.wait_for(3).await;
    set_status(&app, &id, "open").await;
    set_status(&app, &id, "handed_off").await;
    let runs = settled_runs(&app, &smtp, 4).await;
    let last = runs.last().unwrap();
    assert_eq!(last["kind"], "notify", "{last:#}");
    assert_eq!(last["records_created"], 0, "{last:#}");
    assert!(
        last["outcome"]
            .as_str()
            .unwrap()
            .contains("already emailed"),
        "{last:#}"
    );
    let mails = crate::notifications::mails(&peer);
    assert_eq!(mails.len(), 3, "{mails:?}");
    assert!(
        mails[2].1.starts_with("A visitor asks for a person"),
        "{mails:?}"
    );

    // A disabled rule sends nothing: a new conversation on /pricing now emails only the pricing list.
    let rule = admins["notificationRule"]["id"].as_str().unwrap();
    let disabled = app
        .put(
            &format!("/api/v1/notification-rules/{rule}"),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(disabled.body["enabled"], false, "{}", disabled.text);
    conversation(&app, json!({"name": "Bo"}), "Can I pay by invoice?").await;
    peer.wait_for(4).await;
    settled_runs(&app, &smtp, 5).await;
    let mails = crate::notifications::mails(&peer);
    assert_eq!(mails.len(), 4, "{mails:?}");
    assert_eq!(
        mails[3].0,
        vec!["billing@acme.test".to_owned()],
        "{mails:?}"
    );
}

#[tokio::test]
async fn invitations_are_emailed_when_mail_is_configured() {
    let app = mail_app().await;
    let invite = "mutation($input: InviteMemberInput!) { inviteMember(input: $input) { member { id } userErrors { field message } } }";
    let issue = "mutation($id: ID!) { issueInvitation(id: $id) { url emailed userErrors { field message } } }";
    let first = app
        .mutate(
            invite,
            json!({"input": {"email": "nora@acme.test", "role": "AGENT"}}),
            "inviteMember",
        )
        .await;
    let nora = first["member"]["id"].as_str().unwrap().to_owned();
    let without = app
        .mutate(issue, json!({"id": nora}), "issueInvitation")
        .await;
    assert_eq!(
        without["emailed"], false,
        "no email integration yet: {without}"
    );

    let peer = SmtpPeer::start("plain", false, &[]).await;
    let smtp = connect(&app, &peer, "NONE", false).await;
    let with = app
        .mutate(issue, json!({"id": nora}), "issueInvitation")
        .await;
    assert_eq!(with["emailed"], true, "{with}");
    let url = with["url"].as_str().unwrap().to_owned();
    let runs = settled_runs(&app, &smtp, 1).await;
    assert_eq!(runs[0]["kind"], "email_send", "{runs:#?}");
    assert_eq!(runs[0]["status"], "succeeded", "{runs:#?}");
    let received = peer.wait_for(1).await;
    assert_eq!(received[0]["rcpt_tos"], json!(["nora@acme.test"]));
    let data: &Value = &received[0]["data"];
    let data = decoded(data.as_str().unwrap());
    assert!(data.contains(&url), "{url} in {data}");
    assert!(data.contains("invited you to"), "{data}");
    // The run's outcome names the recipient, never the token.
    let token = url.split("token=").nth(1).unwrap();
    assert!(!runs[0]["outcome"].as_str().unwrap().contains(token));
}
