//! The help desks (Zendesk, Freshdesk, Intercom): who a connection is, the tickets conversations open there, and
//! what comes back from them.

pub mod freshdesk;
pub mod inbound;
pub mod intercom;
pub mod replies;
pub mod settings;
pub mod tickets;
pub mod zendesk;

use serde_json::Value;

use crate::service::integrations::credentials::Connection;
use crate::service::integrations::crm::AccountInfo;
use crate::service::integrations::executor::{Failure, Vendors};
use crate::service::integrations::merged_account;

/// Asks the help desk who the connection is (a real call).
pub async fn describe(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
) -> Result<AccountInfo, Failure> {
    match connection.provider.key {
        "zendesk" => zendesk::describe(vendors, connection, job_id).await,
        "freshdesk" => freshdesk::describe(vendors, connection, job_id).await,
        "intercom" => intercom::describe(vendors, connection, job_id).await,
        other => Err(Failure::Configuration(format!(
            "no help-desk connector for {other}"
        ))),
    }
}

/// A ticket as the way back reads it: whether the agents are done with it, and their public replies.
#[derive(Debug)]
pub struct TicketState {
    /// The vendor's status, in words (`solved`, `resolved`, `closed`, …).
    pub status: String,
    /// Whether that status means the agents are done (the conversation is resolved here).
    pub solved: bool,
    /// The agents' public replies, oldest first (never the requester's own messages, never private notes).
    pub replies: Vec<Reply>,
}

/// An agent's public reply on a ticket.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The vendor's id of the reply (a reply is delivered once per id).
    pub id: String,
    /// Its text.
    pub body: String,
}

/// An id a help desk sends as a number or a string, as text.
pub(crate) fn id_text(value: &Value) -> Option<String> {
    value
        .as_str()
        .map(str::to_owned)
        .or_else(|| value.as_i64().map(|n| n.to_string()))
}

/// Text as HTML: escaped, line breaks kept.
pub fn html_lines(text: &str) -> String {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    escaped.split('\n').collect::<Vec<_>>().join("<br>\n")
}

/// A help desk's HTML as plain text: paragraphs and line breaks become lines, tags go, the common entities are
/// decoded.
pub fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            rest = &rest[open..];
            break;
        };
        let tag = rest[open + 1..open + close]
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if matches!(tag.as_str(), "br" | "p" | "div" | "li")
            && !out.ends_with('\n')
            && !out.is_empty()
        {
            out.push('\n');
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    decoded
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}

/// Reads the ticket's state at its help desk.
pub async fn ticket_state(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    ticket_id: &str,
) -> Result<TicketState, Failure> {
    match connection.provider.key {
        "zendesk" => zendesk::ticket_state(vendors, connection, job_id, ticket_id).await,
        "freshdesk" => freshdesk::ticket_state(vendors, connection, job_id, ticket_id).await,
        "intercom" => intercom::ticket_state(vendors, connection, job_id, ticket_id).await,
        other => Err(Failure::Configuration(format!(
            "no help-desk connector for {other}"
        ))),
    }
}

/// What a help desk needs right after connecting so that its changes come back here (Zendesk: a webhook with
/// its signing secret, and a trigger). It goes into `connection` (the secret among the credentials, the ids in
/// the account); when it fails the connection still works one way, and the answer says so.
pub async fn after_connect(vendors: &Vendors, connection: &mut Connection) -> Option<String> {
    if connection.provider.key == "freshdesk" {
        // Freshdesk signs nothing and registers no webhooks through its API: an automation rule that the
        // admin makes calls a URL holding this secret (see `inbound_url`). Reconnecting changes it.
        connection.credentials.webhook_secret = Some(crate::auth::tokens::random(""));
        return None;
    }
    if connection.provider.key != "zendesk" {
        return None;
    }
    // Whatever an earlier connection registered goes first (it may be gone already).
    if let Err(failure) = zendesk::remove_inbound(vendors, connection).await {
        tracing::info!(
            reason = failure.message(),
            "an earlier Zendesk webhook could not be removed"
        );
    }
    let endpoint = format!(
        "{}/integrations/{}/events/{}",
        vendors.public_url.trim_end_matches('/'),
        connection.provider.key,
        connection.model.id
    );
    match zendesk::register_inbound(vendors, connection, &endpoint).await {
        Ok(inbound) => {
            connection.credentials.webhook_secret = Some(inbound.secret);
            let mut ids = serde_json::Map::new();
            ids.insert("webhook_id".to_owned(), inbound.webhook_id.into());
            ids.insert("trigger_id".to_owned(), inbound.trigger_id.into());
            connection.model.account = merged_account(&connection.model.account, ids);
            None
        }
        Err(failure) => Some(format!(
            "replies written in {} will not reach the widget: {}",
            connection.provider.name,
            failure.message()
        )),
    }
}

/// Removes what [`after_connect`] registered, before disconnecting; what went wrong, in words.
pub async fn before_disconnect(vendors: &Vendors, connection: &mut Connection) -> Option<String> {
    if connection.provider.key != "zendesk" {
        return None;
    }
    zendesk::remove_inbound(vendors, connection)
        .await
        .err()
        .map(|failure| {
            format!(
                "the webhook and trigger in {} could not be removed ({}): remove them there",
                connection.provider.name,
                failure.message()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_and_keeps_lines() {
        assert_eq!(html_lines("a <b>\n& c"), "a &lt;b&gt;<br>\n&amp; c");
    }

    #[test]
    fn help_desk_html_reads_as_lines_of_text() {
        assert_eq!(
            plain_text(
                "<p>Hi Ivy,</p><p>A new parcel <b>left</b> today &amp; arrives soon.<br>Bo</p>"
            ),
            "Hi Ivy,\nA new parcel left today & arrives soon.\nBo"
        );
        assert_eq!(plain_text("no tags at all"), "no tags at all");
        assert_eq!(plain_text("a < b"), "a < b");
    }
}
