//! Zendesk's Support API: the agent a connection acts as (`users/me`), and tickets with their requester,
//! comments and uploads.

use serde_json::{Map, Value, json};

use crate::service::integrations::credentials::Connection;
use crate::service::integrations::crm::AccountInfo;
use crate::service::integrations::executor::{Call, Failure, Vendors};
use crate::service::integrations::helpdesk::tickets::Ticket;

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
    let upload = vendors
        .call(
            connection,
            job_id,
            &Call::new(reqwest::Method::POST, "{api_base}/api/v2/uploads.json")
                .query("filename", format!("transcript-{}.txt", ticket.external_id))
                .bytes(
                    "text/plain; charset=utf-8",
                    ticket.transcript.clone().into_bytes(),
                ),
        )
        .await?
        .success(connection.provider)?;
    let token = upload
        .body
        .pointer("/upload/token")
        .and_then(Value::as_str)
        .ok_or_else(|| Failure::Vendor("Zendesk answered an upload without its token".to_owned()))?
        .to_owned();
    let mut requester = json!({"name": ticket.requester_name});
    if let Some(email) = &ticket.requester_email {
        requester["email"] = json!(email);
    }
    let body = json!({"ticket": {
        "subject": ticket.subject,
        "comment": {"body": ticket.body, "public": false, "uploads": [token]},
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

/// A numeric (or string) id as text.
fn id_text(value: &Value) -> Option<String> {
    value
        .as_i64()
        .map(|n| n.to_string())
        .or_else(|| value.as_str().map(str::to_owned))
}
