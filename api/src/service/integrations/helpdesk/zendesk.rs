//! Zendesk's Support API: the agent a connection acts as (`users/me`), and tickets with their requester,
//! comments and uploads.

use serde_json::{Map, Value, json};

use crate::service::integrations::credentials::Connection;
use crate::service::integrations::crm::AccountInfo;
use crate::service::integrations::executor::{Call, Failure, Vendors};
use crate::service::integrations::helpdesk::tickets::Ticket;
use crate::service::integrations::helpdesk::{Reply, TicketState, id_text};

/// `GET /api/v2/users/me.json`: the agent the token acts as. Zendesk answers an anonymous user (id null) to a
/// request it could not authenticate, rather than a 401, so that is refused here.
pub async fn describe(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
) -> Result<AccountInfo, Failure> {
    let answer = vendors
        .call(
            connection,
            job_id,
            &Call::get("{api_base}/api/v2/users/me.json"),
        )
        .await?
        .success(connection.provider)?;
    let user = answer.body.get("user").cloned().unwrap_or(Value::Null);
    if user.get("id").is_none_or(Value::is_null) {
        return Err(Failure::Authorization(
            "Zendesk did not recognise the credentials: it answered as an anonymous user"
                .to_owned(),
        ));
    }
    let name = user
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("an agent");
    let role = user.get("role").and_then(Value::as_str).unwrap_or("agent");
    let subdomain = connection
        .model
        .account
        .get("subdomain")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut account = Map::new();
    if let Some(email) = user.get("email").and_then(Value::as_str) {
        account.insert("agent_email".to_owned(), Value::String(email.to_owned()));
    }
    Ok(AccountInfo {
        description: format!("Connected to Zendesk {subdomain} as {name} ({role})"),
        account,
    })
}

/// Opens the conversation's ticket: the one Zendesk already has with the conversation as its `external_id`
/// (made by an attempt that died before it was written down here), else a new one with the transcript uploaded
/// as a file and the first comment private to agents. Answers the ticket's id and whether it is new.
pub async fn open_ticket(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    ticket: &Ticket,
) -> Result<(String, bool), Failure> {
    let found = vendors
        .call(
            connection,
            job_id,
            &Call::get("{api_base}/api/v2/tickets.json").query("external_id", &ticket.external_id),
        )
        .await?
        .success(connection.provider)?;
    if let Some(id) = found
        .body
        .get("tickets")
        .and_then(Value::as_array)
        .and_then(|t| t.first())
        .and_then(|t| t.get("id"))
        .and_then(id_text)
    {
        return Ok((id, false));
    }
    let mut tokens: Vec<String> = Vec::new();
    let files = std::iter::once((
        format!("transcript-{}.txt", ticket.external_id),
        "text/plain; charset=utf-8".to_owned(),
        ticket.transcript.clone().into_bytes(),
    ))
    .chain(ticket.screenshots.iter().map(|s| {
        (
            s.file_name.clone(),
            s.content_type.clone(),
            s.bytes.to_vec(),
        )
    }));
    for (file_name, content_type, bytes) in files {
        // Each upload after the first joins the first's token, so that one comment carries them all.
        let mut call = Call::new(reqwest::Method::POST, "{api_base}/api/v2/uploads.json")
            .query("filename", file_name);
        if let Some(first) = tokens.first() {
            call = call.query("token", first.clone());
        }
        let upload = vendors
            .call(connection, job_id, &call.bytes(content_type, bytes))
            .await?
            .success(connection.provider)?;
        let token = upload
            .body
            .pointer("/upload/token")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Failure::Vendor("Zendesk answered an upload without its token".to_owned())
            })?
            .to_owned();
        if tokens.is_empty() {
            tokens.push(token);
        }
    }
    let mut requester = json!({"name": ticket.requester_name});
    if let Some(email) = &ticket.requester_email {
        requester["email"] = json!(email);
    }
    let body = json!({"ticket": {
        "subject": ticket.subject,
        "comment": {"body": ticket.body, "public": false, "uploads": tokens},
        "requester": requester,
        "priority": ticket.priority.as_str(),
        "type": ticket.ticket_type.as_str(),
        "tags": ticket.tags,
        "external_id": ticket.external_id,
    }});
    let created = vendors
        .call(
            connection,
            job_id,
            &Call::post("{api_base}/api/v2/tickets.json", body),
        )
        .await?
        .success(connection.provider)?;
    let id = created
        .body
        .pointer("/ticket/id")
        .and_then(id_text)
        .ok_or_else(|| Failure::Vendor("Zendesk created a ticket without an id".to_owned()))?;
    Ok((id, true))
}

/// What this server registers in Zendesk so that ticket changes come back: a webhook to our endpoint, signed
/// with its own secret, and a trigger that calls it when a ticket of ours gets a public comment or is solved.
#[derive(Debug)]
pub struct Inbound {
    pub webhook_id: String,
    pub trigger_id: String,
    pub secret: String,
}

/// The body the trigger sends: enough to find the ticket and the conversation it belongs to.
const NOTICE: &str = r#"{"ticket_id": "{{ticket.id}}", "external_id": "{{ticket.external_id}}", "status": "{{ticket.status}}"}"#;

/// Registers the webhook (`POST /api/v2/webhooks`), reads its signing secret, and adds the trigger
/// (`POST /api/v2/triggers`) on tickets tagged `concierge` that get a public comment or are solved.
pub async fn register_inbound(
    vendors: &Vendors,
    connection: &mut Connection,
    endpoint: &str,
) -> Result<Inbound, Failure> {
    let webhook = vendors
        .call(
            connection,
            None,
            &Call::post(
                "{api_base}/api/v2/webhooks",
                json!({"webhook": {
                    "name": "Concierge",
                    "endpoint": endpoint,
                    "http_method": "POST",
                    "request_format": "json",
                    "status": "active",
                    "subscriptions": ["conditional_ticket_events"],
                }}),
            ),
        )
        .await?
        .success(connection.provider)?;
    let webhook_id = webhook
        .body
        .pointer("/webhook/id")
        .and_then(id_text)
        .ok_or_else(|| Failure::Vendor("Zendesk made a webhook without an id".to_owned()))?;
    let secret = vendors
        .call(
            connection,
            None,
            &Call::get(format!(
                "{{api_base}}/api/v2/webhooks/{webhook_id}/signing_secret"
            )),
        )
        .await?
        .success(connection.provider)?
        .body
        .pointer("/signing_secret/secret")
        .and_then(Value::as_str)
        .ok_or_else(|| Failure::Vendor("Zendesk answered no signing secret".to_owned()))?
        .to_owned();
    let trigger = vendors
        .call(
            connection,
            None,
            &Call::post(
                "{api_base}/api/v2/triggers",
                json!({"trigger": {
                    "title": "Concierge: replies and solved tickets back to the website conversation",
                    "conditions": {
                        "all": [
                            {"field": "current_tags", "operator": "includes", "value": "concierge"},
                            {"field": "update_type", "value": "Change"},
                        ],
                        "any": [
                            {"field": "comment_is_public", "operator": "is", "value": "true"},
                            {"field": "status", "operator": "value", "value": "solved"},
                        ],
                    },
                    "actions": [{"field": "notification_webhook", "value": [webhook_id, NOTICE]}],
                }}),
            ),
        )
        .await?
        .success(connection.provider)?;
    let trigger_id = trigger
        .body
        .pointer("/trigger/id")
        .and_then(id_text)
        .ok_or_else(|| Failure::Vendor("Zendesk made a trigger without an id".to_owned()))?;
    Ok(Inbound {
        webhook_id,
        trigger_id,
        secret,
    })
}

/// Removes what [`register_inbound`] made (a 404 is fine: someone removed it in Zendesk already).
pub async fn remove_inbound(vendors: &Vendors, connection: &mut Connection) -> Result<(), Failure> {
    let account = connection.model.account.clone();
    for (key, path) in [("trigger_id", "triggers"), ("webhook_id", "webhooks")] {
        if let Some(id) = account.get(key).and_then(Value::as_str) {
            let answer = vendors
                .call(
                    connection,
                    None,
                    &Call::new(
                        reqwest::Method::DELETE,
                        format!("{{api_base}}/api/v2/{path}/{id}"),
                    ),
                )
                .await?;
            if answer.status != 404 {
                answer.success(connection.provider)?;
            }
        }
    }
    Ok(())
}

/// The ticket's status and the public comments its agents wrote (not the requester's own), oldest first.
pub async fn ticket_state(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    ticket_id: &str,
) -> Result<TicketState, Failure> {
    let ticket = vendors
        .call(
            connection,
            job_id,
            &Call::get(format!("{{api_base}}/api/v2/tickets/{ticket_id}.json")),
        )
        .await?
        .success(connection.provider)?;
    let status = ticket
        .body
        .pointer("/ticket/status")
        .and_then(Value::as_str)
        .unwrap_or("open")
        .to_owned();
    let requester = ticket
        .body
        .pointer("/ticket/requester_id")
        .and_then(id_text)
        .unwrap_or_default();
    let answer = vendors
        .call(
            connection,
            job_id,
            &Call::get(format!(
                "{{api_base}}/api/v2/tickets/{ticket_id}/comments.json"
            ))
            .query("sort_order", "asc"),
        )
        .await?
        .success(connection.provider)?;
    let replies = answer
        .body
        .get("comments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c.get("public").and_then(Value::as_bool) == Some(true))
        .filter(|c| c.get("author_id").and_then(id_text).unwrap_or_default() != requester)
        .filter_map(|c| {
            Some(Reply {
                id: c.get("id").and_then(id_text)?,
                body: c
                    .get("plain_body")
                    .or_else(|| c.get("body"))
                    .and_then(Value::as_str)?
                    .trim()
                    .to_owned(),
            })
        })
        .filter(|c| !c.body.is_empty())
        .collect();
    Ok(TicketState {
        solved: matches!(status.as_str(), "solved" | "closed"),
        status,
        replies,
    })
}
