//! Intercom's REST API (version 2.11): the admin a token acts as, a handoff transferred as a conversation from
//! the visitor's contact (found by email or our visitor id, else created) with the whole history and a note of
//! context for the agent, and the conversation read back (admins' replies, closed).

use serde_json::{Map, Value, json};

use crate::service::integrations::credentials::Connection;
use crate::service::integrations::crm::AccountInfo;
use crate::service::integrations::crm::mapping::{Subject, sentiment_word};
use crate::service::integrations::executor::{Call, Failure, Vendors};
use crate::service::integrations::helpdesk::tickets::Ticket;
use crate::service::integrations::helpdesk::{Reply, TicketState, html_lines, id_text, plain_text};

/// The API version every call names.
pub const VERSION: &str = "2.11";

/// The first line of the note of context: how a retry knows the note is there already.
const NOTE_HEAD: &str = "Context from Concierge";

fn call(method: reqwest::Method, path: &str) -> Call {
    Call::new(method, format!("{{api_base}}{path}")).header("Intercom-Version", VERSION)
}

fn get(path: &str) -> Call {
    call(reqwest::Method::GET, path)
}

fn post(path: &str, body: Value) -> Call {
    call(reqwest::Method::POST, path).json(body)
}

/// `GET /me`: the admin the token acts as and the workspace (app) it is in.
pub async fn describe(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
) -> Result<AccountInfo, Failure> {
    let me = vendors
        .call(connection, job_id, &get("/me"))
        .await?
        .success(connection.provider)?
        .body;
    let admin_id = me.get("id").and_then(id_text).ok_or_else(|| {
        Failure::Authorization("Intercom answered /me without an admin".to_owned())
    })?;
    let name = me.get("name").and_then(Value::as_str).unwrap_or("an admin");
    let workspace = me
        .pointer("/app/name")
        .and_then(Value::as_str)
        .unwrap_or("a workspace");
    let mut account = Map::new();
    account.insert("admin_id".to_owned(), Value::String(admin_id));
    if let Some(app) = me.pointer("/app/id_code").and_then(Value::as_str) {
        account.insert("app_id".to_owned(), Value::String(app.to_owned()));
    }
    account.insert("workspace".to_owned(), Value::String(workspace.to_owned()));
    if let Some(email) = me.get("email").and_then(Value::as_str) {
        account.insert("admin_email".to_owned(), Value::String(email.to_owned()));
    }
    Ok(AccountInfo {
        description: format!("Connected to Intercom {workspace} as {name}"),
        account,
    })
}

/// A contact found or made for the visitor: its id and role (`user` or `lead`).
struct Contact {
    id: String,
    role: String,
}

/// `POST /contacts/search` on one field.
async fn search_contact(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    field: &str,
    value: &str,
) -> Result<Option<Contact>, Failure> {
    let found = vendors
        .call(
            connection,
            job_id,
            &post(
                "/contacts/search",
                json!({"query": {"field": field, "operator": "=", "value": value}}),
            ),
        )
        .await?
        .success(connection.provider)?;
    Ok(found
        .body
        .get("data")
        .and_then(Value::as_array)
        .and_then(|d| d.first())
        .and_then(contact_of))
}

fn contact_of(value: &Value) -> Option<Contact> {
    Some(Contact {
        id: value.get("id").and_then(id_text)?,
        role: value
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or("lead")
            .to_owned(),
    })
}

/// The visitor's contact: found by email (then by our visitor id as `external_id`), else created with their
/// name, email, phone and id (a `user` when we know their email, else a `lead`).
async fn contact(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    subject: &Subject,
) -> Result<(Contact, bool), Failure> {
    let visitor = &subject.visitor;
    let email = visitor
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    if let Some(email) = email
        && let Some(found) = search_contact(vendors, connection, job_id, "email", email).await?
    {
        return Ok((found, false));
    }
    if let Some(found) =
        search_contact(vendors, connection, job_id, "external_id", &visitor.id).await?
    {
        return Ok((found, false));
    }
    let mut body = json!({
        "role": if email.is_some() { "user" } else { "lead" },
        "external_id": visitor.id,
    });
    if let Some(email) = email {
        body["email"] = json!(email);
    }
    if let Some(name) = visitor.name.as_deref().filter(|n| !n.trim().is_empty()) {
        body["name"] = json!(name.trim());
    }
    if let Some(phone) = visitor.phone.as_deref().filter(|p| !p.trim().is_empty()) {
        body["phone"] = json!(phone.trim());
    }
    let made = vendors
        .call(connection, job_id, &post("/contacts", body))
        .await?
        .success(connection.provider)?;
    let made = contact_of(&made.body)
        .ok_or_else(|| Failure::Vendor("Intercom made a contact without an id".to_owned()))?;
    Ok((made, true))
}

/// The marker that names our conversation in the Intercom conversation's first message, so that a retry finds
/// it instead of opening a second.
fn marker(conversation_id: &str) -> String {
    format!("[Concierge conversation {conversation_id}]")
}

/// Transfers the conversation: the visitor's contact, a conversation from it holding the whole history, and a
/// note for the agent with the context (page, browser, sentiment, intents, the assistant's last suggestions
/// and the entries it used). Answers the Intercom conversation's id and whether this call made it.
pub async fn transfer(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    ticket: &Ticket,
    subject: &Subject,
) -> Result<(String, bool), Failure> {
    let (contact, _) = contact(vendors, connection, job_id, subject).await?;
    let marker = marker(&ticket.external_id);
    let found = vendors
        .call(
            connection,
            job_id,
            &post(
                "/conversations/search",
                json!({"query": {"operator": "AND", "value": [
                    {"field": "contact_ids", "operator": "=", "value": contact.id},
                    {"field": "source.body", "operator": "~", "value": marker},
                ]}}),
            ),
        )
        .await?
        .success(connection.provider)?;
    let existing = found
        .body
        .get("conversations")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .and_then(|c| c.get("id"))
        .and_then(id_text);
    let (id, created) = match existing {
        Some(id) => (id, false),
        None => {
            let body = format!("{}\n\n{}\n\n{marker}", ticket.subject, subject.transcript);
            let made = vendors
                .call(
                    connection,
                    job_id,
                    &post(
                        "/conversations",
                        json!({"from": {"type": contact.role, "id": contact.id}, "body": body}),
                    ),
                )
                .await?
                .success(connection.provider)?;
            let id = made
                .body
                .get("conversation_id")
                .and_then(id_text)
                .ok_or_else(|| {
                    Failure::Vendor("Intercom made a conversation without its id".to_owned())
                })?;
            (id, true)
        }
    };
    if created || !has_note(vendors, connection, job_id, &id).await? {
        let admin_id = connection
            .model
            .account
            .get("admin_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let mut note = json!({"message_type": "note", "type": "admin", "admin_id": admin_id,
            "body": context_note(ticket, subject)});
        // Intercom fetches each file from its URL (signed for an hour), ten at most.
        let urls: Vec<&str> = ticket
            .screenshots
            .iter()
            .take(10)
            .map(|s| s.url.as_str())
            .collect();
        if !urls.is_empty() {
            note["attachment_urls"] = json!(urls);
        }
        vendors
            .call(
                connection,
                job_id,
                &post(&format!("/conversations/{id}/reply"), note),
            )
            .await?
            .success(connection.provider)?;
    }
    Ok((id, created))
}

/// Whether the conversation already carries our note of context (an attempt that died after writing it).
async fn has_note(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    id: &str,
) -> Result<bool, Failure> {
    let conversation = vendors
        .call(connection, job_id, &get(&format!("/conversations/{id}")))
        .await?
        .success(connection.provider)?;
    Ok(parts(&conversation.body).any(|part| {
        part.get("part_type").and_then(Value::as_str) == Some("note")
            && part
                .get("body")
                .and_then(Value::as_str)
                .is_some_and(|b| b.contains(NOTE_HEAD))
    }))
}

/// The note of context, as Intercom's note HTML.
pub fn context_note(ticket: &Ticket, subject: &Subject) -> String {
    let conversation = subject.conversation.as_ref();
    let mut lines = vec![format!("<p><b>{NOTE_HEAD}</b></p>")];
    let mut item = |label: &str, value: &str| {
        lines.push(format!("<p><b>{label}:</b> {}</p>", html_lines(value)));
    };
    if let Some(url) = conversation.and_then(|c| c.source_url.as_deref()) {
        item("Page", url);
    }
    if let Some(browser) = conversation.and_then(|c| c.browser.as_deref()) {
        let device = conversation
            .and_then(|c| c.device.as_deref())
            .map(|d| format!(" on {d}"))
            .unwrap_or_default();
        item("Browser", &format!("{browser}{device}"));
    }
    if let Some(score) = conversation.and_then(|c| c.sentiment) {
        item(
            "Sentiment",
            &format!("{} ({score:.2})", sentiment_word(score)),
        );
    }
    if !subject.intents.is_empty() {
        item("Intents", &subject.intents.join(", "));
    }
    item("Priority", &ticket.priority.to_string());
    if let Some(assistant) = &subject.assistant_name {
        item("Assistant", assistant);
    }
    for (answer, confidence) in &subject.suggestions {
        let confidence = confidence
            .map(|c| format!(" (confidence {c:.2})"))
            .unwrap_or_default();
        item(&format!("The assistant suggested{confidence}"), answer);
    }
    if !subject.entries_used.is_empty() {
        let entries: Vec<String> = subject
            .entries_used
            .iter()
            .map(|(id, title)| format!("{title} ({id})"))
            .collect();
        item("Knowledge-base entries used", &entries.join("; "));
    }
    if let Some(url) = &subject.conversation_url {
        item("In Concierge", url);
    }
    lines.concat()
}

/// The conversation's parts (Intercom nests them: `conversation_parts.conversation_parts`).
fn parts(conversation: &Value) -> impl Iterator<Item = &Value> {
    conversation
        .pointer("/conversation_parts/conversation_parts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// The conversation's state and its admins' public replies (parts of type `comment`, or a closing message, by an
/// admin; notes are private and never shown).
pub async fn ticket_state(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    id: &str,
) -> Result<TicketState, Failure> {
    let conversation = vendors
        .call(connection, job_id, &get(&format!("/conversations/{id}")))
        .await?
        .success(connection.provider)?
        .body;
    let state = conversation
        .get("state")
        .and_then(Value::as_str)
        .unwrap_or("open")
        .to_owned();
    let replies = parts(&conversation)
        .filter(|p| {
            matches!(
                p.get("part_type").and_then(Value::as_str),
                Some("comment" | "close")
            )
        })
        .filter(|p| p.pointer("/author/type").and_then(Value::as_str) == Some("admin"))
        .filter_map(|p| {
            Some(Reply {
                id: p.get("id").and_then(id_text)?,
                body: plain_text(p.get("body").and_then(Value::as_str)?),
            })
        })
        .filter(|r| !r.body.is_empty())
        .collect();
    Ok(TicketState {
        solved: state == "closed",
        status: state,
        replies,
    })
}
