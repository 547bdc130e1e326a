//! Freshdesk's API (v2, HTTP Basic with the API key): the agent the key belongs to, tickets (found by the tag
//! that names their conversation, created as a multipart form with the transcript and screenshots attached, read back with
//! their agents' replies), and each agent's open tickets for load-balanced assignment.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::service::integrations::credentials::Connection;
use crate::service::integrations::crm::AccountInfo;
use crate::service::integrations::executor::{Call, Failure, Vendors};
use crate::service::integrations::helpdesk::settings::{TicketPriority, TicketType};
use crate::service::integrations::helpdesk::tickets::Ticket;
use crate::service::integrations::helpdesk::{Reply, TicketState, html_lines as html};

/// `GET /api/v2/agents/me`: the agent the key belongs to.
pub async fn describe(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
) -> Result<AccountInfo, Failure> {
    let answer = vendors
        .call(
            connection,
            job_id,
            &Call::get("{api_base}/api/v2/agents/me"),
        )
        .await?
        .success(connection.provider)?;
    let name = answer
        .body
        .pointer("/contact/name")
        .and_then(Value::as_str)
        .unwrap_or("an agent");
    let subdomain = connection
        .model
        .account
        .get("subdomain")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut account = Map::new();
    if let Some(email) = answer
        .body
        .pointer("/contact/email")
        .and_then(Value::as_str)
    {
        account.insert("agent_email".to_owned(), Value::String(email.to_owned()));
    }
    Ok(AccountInfo {
        description: format!("Connected to Freshdesk {subdomain} as {name}"),
        account,
    })
}

/// The tag that names a ticket's conversation, so that a retry finds the ticket an earlier attempt made.
pub fn conversation_tag(conversation_id: &str) -> String {
    format!("concierge-{}", conversation_id.to_lowercase())
}

/// `GET /api/v2/search/tickets?query="…"`: how many tickets match.
async fn search_total(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    query: &str,
) -> Result<(u64, Option<String>), Failure> {
    let answer = vendors
        .call(
            connection,
            job_id,
            &Call::get("{api_base}/api/v2/search/tickets").query("query", format!("\"{query}\"")),
        )
        .await?
        .success(connection.provider)?;
    let first = answer
        .body
        .get("results")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .and_then(|t| t.get("id"))
        .and_then(|id| id.as_i64().map(|n| n.to_string()));
    Ok((
        answer
            .body
            .get("total")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        first,
    ))
}

/// Open and pending tickets of each agent, for load balancing.
pub async fn open_tickets(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    agent_id: &str,
) -> Result<u64, Failure> {
    let (total, _) = search_total(
        vendors,
        connection,
        job_id,
        &format!("agent_id:{agent_id} AND (status:2 OR status:3)"),
    )
    .await?;
    Ok(total)
}

/// Where a ticket goes: a group and an agent, as assignment chose.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Route {
    pub group_id: Option<String>,
    pub agent_id: Option<String>,
}

/// Opens the conversation's ticket: the one Freshdesk already has with the conversation's tag, else a new one
/// (`POST /api/v2/tickets` as a multipart form, the transcript attached). Answers its id and whether it is new.
pub async fn open_ticket(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    ticket: &Ticket,
    route: &Route,
) -> Result<(String, bool), Failure> {
    let tag = conversation_tag(&ticket.external_id);
    if let (_, Some(id)) =
        search_total(vendors, connection, job_id, &format!("tag:'{tag}'")).await?
    {
        return Ok((id, false));
    }
    let seed: String = std::iter::once(ticket.transcript.clone())
        .chain(ticket.screenshots.iter().map(|s| s.sha256.clone()))
        .collect();
    let mut form = Form::new(&seed);
    form.text("subject", &ticket.subject);
    form.text("description", &html(&ticket.body));
    match &ticket.requester_email {
        Some(email) => form.text("email", email),
        None => {
            // Freshdesk needs an email, a phone or a requester id; a visitor without either is named instead
            // and given a stand-in address of this conversation.
            form.text(
                "email",
                &format!("{}@visitors.invalid", ticket.external_id.to_lowercase()),
            );
        }
    }
    form.text("name", &ticket.requester_name);
    form.text("priority", priority(ticket.priority));
    form.text("status", "2");
    form.text("source", "7");
    form.text("type", ticket_type(ticket.ticket_type));
    for tag in ticket.tags.iter().chain(std::iter::once(&tag)) {
        form.text("tags[]", tag);
    }
    if let Some(group) = &route.group_id {
        form.text("group_id", group);
    }
    if let Some(agent) = &route.agent_id {
        form.text("responder_id", agent);
    }
    form.file(
        "attachments[]",
        &format!("transcript-{}.txt", ticket.external_id),
        "text/plain; charset=utf-8",
        ticket.transcript.as_bytes(),
    );
    for shot in &ticket.screenshots {
        form.file(
            "attachments[]",
            &shot.file_name,
            &shot.content_type,
            &shot.bytes,
        );
    }
    let (content_type, body) = form.finish();
    let created = vendors
        .call(
            connection,
            job_id,
            &Call::new(reqwest::Method::POST, "{api_base}/api/v2/tickets")
                .bytes(content_type, body),
        )
        .await?
        .success(connection.provider)?;
    let id = created
        .body
        .get("id")
        .and_then(|id| id.as_i64().map(|n| n.to_string()))
        .ok_or_else(|| Failure::Vendor("Freshdesk created a ticket without an id".to_owned()))?;
    Ok((id, true))
}

fn priority(priority: TicketPriority) -> &'static str {
    match priority {
        TicketPriority::Low => "1",
        TicketPriority::Normal => "2",
        TicketPriority::High => "3",
        TicketPriority::Urgent => "4",
    }
}

/// Freshdesk's ticket types are named as its admins set them; these are its defaults.
fn ticket_type(kind: TicketType) -> &'static str {
    match kind {
        TicketType::Question => "Question",
        TicketType::Problem => "Problem",
        TicketType::Incident => "Incident",
        TicketType::Task => "Task",
    }
}

/// A `multipart/form-data` body, its boundary derived from what it carries (so that no part can contain it).
struct Form {
    boundary: String,
    body: Vec<u8>,
}

impl Form {
    fn new(seed: &str) -> Self {
        let digest = Sha256::digest(seed.as_bytes());
        let boundary = format!("concierge-{}", hex::encode(&digest[..16]));
        Self {
            boundary,
            body: Vec::new(),
        }
    }

    fn text(&mut self, name: &str, value: &str) {
        self.body.extend_from_slice(
            format!(
                "--{}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n",
                self.boundary
            )
            .as_bytes(),
        );
    }

    fn file(&mut self, name: &str, file_name: &str, content_type: &str, content: &[u8]) {
        self.body.extend_from_slice(
            format!(
                "--{}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
                 Content-Type: {content_type}\r\n\r\n",
                self.boundary
            )
            .as_bytes(),
        );
        self.body.extend_from_slice(content);
        self.body.extend_from_slice(b"\r\n");
    }

    fn finish(mut self) -> (String, Vec<u8>) {
        self.body
            .extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        (
            format!("multipart/form-data; boundary={}", self.boundary),
            self.body,
        )
    }
}

/// Freshdesk's ticket statuses that mean the agents are done with it: 4 Resolved, 5 Closed.
const DONE_STATUSES: [i64; 2] = [4, 5];

/// The ticket's status and the public replies its agents wrote (`GET /api/v2/tickets/{id}` and its
/// `conversations`, page by page): a conversation entry that is not `private` and not `incoming` (the requester's
/// own mails are incoming).
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
            &Call::get(format!("{{api_base}}/api/v2/tickets/{ticket_id}")),
        )
        .await?
        .success(connection.provider)?;
    let status = ticket
        .body
        .get("status")
        .and_then(Value::as_i64)
        .unwrap_or(2);
    let mut replies = Vec::new();
    for page in 1..=MAX_PAGES {
        let answer = vendors
            .call(
                connection,
                job_id,
                &Call::get(format!(
                    "{{api_base}}/api/v2/tickets/{ticket_id}/conversations"
                ))
                .query("page", page.to_string())
                .query("per_page", PER_PAGE.to_string()),
            )
            .await?
            .success(connection.provider)?;
        let entries = answer.body.as_array().cloned().unwrap_or_default();
        let full = entries.len() >= PER_PAGE;
        replies.extend(
            entries
                .iter()
                .filter(|c| c.get("private").and_then(Value::as_bool) == Some(false))
                .filter(|c| c.get("incoming").and_then(Value::as_bool) == Some(false))
                .filter_map(|c| {
                    Some(Reply {
                        id: c.get("id").and_then(|id| id.as_i64())?.to_string(),
                        body: c
                            .get("body_text")
                            .and_then(Value::as_str)?
                            .trim()
                            .to_owned(),
                    })
                })
                .filter(|r| !r.body.is_empty()),
        );
        if !full {
            break;
        }
    }
    Ok(TicketState {
        status: match status {
            4 => "resolved".to_owned(),
            5 => "closed".to_owned(),
            other => format!("status {other}"),
        },
        solved: DONE_STATUSES.contains(&status),
        replies,
    })
}

/// Conversation entries asked for per page (Freshdesk's most), and how many pages are read at most.
const PER_PAGE: usize = 100;
const MAX_PAGES: usize = 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_carry_fields_and_files_between_boundaries() {
        let mut form = Form::new("seed");
        form.text("subject", "Hi");
        form.file(
            "attachments[]",
            "t.txt",
            "text/plain; charset=utf-8",
            b"line",
        );
        let (content_type, body) = form.finish();
        let boundary = content_type.split("boundary=").nth(1).unwrap().to_owned();
        let body = String::from_utf8(body).unwrap();
        assert!(body.starts_with(&format!("--{boundary}\r\n")));
        assert!(body.contains("name=\"subject\"\r\n\r\nHi\r\n"));
        assert!(body.contains(
            "filename=\"t.txt\"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nline\r\n"
        ));
        assert!(body.ends_with(&format!("--{boundary}--\r\n")));
    }
}
