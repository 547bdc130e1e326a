//! A help-desk job run: the conversation's ticket, opened once (a link, and the vendor's own `external_id`, keep
//! a retry from opening a second), with the transcript, the requester, and the priority, type and tags that the
//! settings' rules give.

use entities::integration_job;

use crate::service::attachments;
use crate::service::integrations::credentials::Connection;
use crate::service::integrations::crm::mapping::{Subject, sentiment_word, subject_line};
use crate::service::integrations::crm::sync::Done;
use crate::service::integrations::executor::{Failure, Vendors};
use crate::service::integrations::helpdesk::freshdesk::{self, Route};
use crate::service::integrations::helpdesk::settings::{
    AssignmentMode, AssignmentRule, HelpdeskSettings, TicketPriority, TicketType, tag_name,
};
use crate::service::integrations::helpdesk::{intercom, zendesk};
use crate::service::integrations::links;
use crate::service::integrations::runs::JobKind;

/// A ticket as every help desk takes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Ticket {
    pub subject: String,
    /// The first comment: the page, the browser and the whole transcript.
    pub body: String,
    /// The transcript alone, attached as a file.
    pub transcript: String,
    pub requester_name: String,
    pub requester_email: Option<String>,
    pub priority: TicketPriority,
    pub ticket_type: TicketType,
    pub tags: Vec<String>,
    /// Our conversation's id, which the help desk keeps as the ticket's external id.
    pub external_id: String,
    /// The visitor's screenshots, attached to the ticket.
    pub screenshots: Vec<Screenshot>,
}

/// A screenshot a message of the conversation carries, as a help desk gets it: its bytes (uploaded with the
/// ticket), or a signed URL that works for an hour (for a vendor that fetches files itself).
#[derive(Clone, Debug, PartialEq)]
pub struct Screenshot {
    pub file_name: String,
    pub content_type: String,
    pub bytes: bytes::Bytes,
    pub sha256: String,
    pub url: String,
}

/// How long the URL of a screenshot sent to a help desk works: it fetches the file when the ticket is made.
const SCREENSHOT_URL_SECS: u64 = 3600;

/// The screenshots of the conversation's messages, oldest first, read from the store.
async fn screenshots(vendors: &Vendors, conversation_id: &str) -> Result<Vec<Screenshot>, Failure> {
    let models = attachments::of_conversation(vendors.db.conn(), conversation_id).await?;
    let mut shots = Vec::with_capacity(models.len());
    for (n, model) in models.into_iter().enumerate() {
        let bytes = vendors.attachments.bytes(&model).await?;
        let extension = model
            .content_type
            .trim_start_matches("image/")
            .replace("jpeg", "jpg");
        let shown = vendors.attachments.shown_for(model, SCREENSHOT_URL_SECS);
        shots.push(Screenshot {
            file_name: format!("screenshot-{}.{extension}", n + 1),
            content_type: shown.model.content_type.clone(),
            sha256: shown.model.sha256.clone(),
            url: shown.url,
            bytes,
        });
    }
    Ok(shots)
}

/// One job, as its kind says.
pub async fn run(
    vendors: &Vendors,
    connection: &mut Connection,
    job: &integration_job::Model,
) -> Result<Done, Failure> {
    let mut done = Done::default();
    if JobKind::named(&job.kind) != Some(JobKind::TicketCreate) {
        return Err(Failure::Configuration(format!(
            "a help desk does not run {} jobs",
            job.kind
        )));
    }
    let settings = HelpdeskSettings::stored(&connection.model.settings);
    let visitor_id = job.visitor_id.as_deref().unwrap_or(&job.subject);
    let subject = Subject::load(
        &vendors.db,
        visitor_id,
        job.conversation_id.as_deref(),
        &vendors.public_url,
    )
    .await?;
    let Some(subject) = subject.filter(|s| s.conversation.is_some()) else {
        done.skipped += 1;
        done.notes
            .push("the conversation no longer exists here: nothing to send".to_owned());
        return Ok(done);
    };
    let conversation_id = subject
        .conversation
        .as_ref()
        .map(|c| c.id.clone())
        .unwrap_or_default();
    let name = connection.provider.name;
    let integration_id = connection.model.id.clone();
    if let Some(link) = links::get(&vendors.db, &integration_id, "ticket", &conversation_id).await?
    {
        done.skipped += 1;
        done.notes.push(format!(
            "{name} ticket {} is already open for this conversation",
            link.remote_id
        ));
        return Ok(done);
    }
    let mut ticket = ticket(&settings, &subject);
    ticket.screenshots = screenshots(vendors, &conversation_id).await?;
    let mut routed = None;
    let (id, created) = match connection.provider.key {
        "zendesk" => zendesk::open_ticket(vendors, connection, Some(&job.id), &ticket).await?,
        "freshdesk" => {
            let (route, how) = route(vendors, connection, &job.id, &settings, &subject).await?;
            let opened =
                freshdesk::open_ticket(vendors, connection, Some(&job.id), &ticket, &route).await?;
            routed = Some((route, how));
            opened
        }
        "intercom" => {
            intercom::transfer(vendors, connection, Some(&job.id), &ticket, &subject).await?
        }
        other => {
            return Err(Failure::Configuration(format!(
                "no help-desk connector for {other}"
            )));
        }
    };
    links::put(
        &vendors.db,
        &connection.model.organization_id,
        &integration_id,
        "ticket",
        &conversation_id,
        &id,
        None,
    )
    .await?;
    if created && connection.provider.key == "intercom" {
        done.created += 1;
        done.notes.push(format!(
            "transferred to {name} conversation {id} with the history and a note of context, from {}",
            ticket.requester_name
        ));
    } else if created {
        done.created += 1;
        done.notes.push(format!(
            "opened {name} ticket {id} ({} priority, {}) for {}{}",
            ticket.priority,
            ticket.ticket_type,
            ticket.requester_name,
            match ticket.screenshots.len() {
                0 => String::new(),
                1 => " with 1 screenshot".to_owned(),
                n => format!(" with {n} screenshots"),
            }
        ));
        if let Some((route, how)) = routed.filter(|(_, how)| !how.is_empty()) {
            if settings.assignment.mode == AssignmentMode::RoundRobin
                && let Some(agent) = &route.agent_id
            {
                links::put(
                    &vendors.db,
                    &connection.model.organization_id,
                    &integration_id,
                    "assignment",
                    "round_robin",
                    agent,
                    None,
                )
                .await?;
            }
            done.notes.push(how);
        }
    } else {
        done.skipped += 1;
        done.notes.push(format!(
            "{name} ticket {id} was already open for this conversation"
        ));
    }
    Ok(done)
}

/// Where the assignment settings send a new ticket, and how that was decided in words (empty when the help
/// desk's own rules decide).
async fn route(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: &str,
    settings: &HelpdeskSettings,
    subject: &Subject,
) -> Result<(Route, String), Failure> {
    let assignment = &settings.assignment;
    let text = subject.visitor_text.to_lowercase();
    let matching = || {
        assignment.rules.iter().find(|rule| {
            rule.intent
                .as_ref()
                .is_some_and(|i| subject.intents.contains(i))
                || rule
                    .keyword
                    .as_deref()
                    .is_some_and(|k| contains_words(&text, &k.to_lowercase()))
        })
    };
    let described = |rule: &AssignmentRule| {
        rule.intent
            .as_deref()
            .map(|i| format!("intent {i}"))
            .or_else(|| rule.keyword.as_deref().map(|k| format!("keyword {k:?}")))
            .unwrap_or_default()
    };
    Ok(match assignment.mode {
        AssignmentMode::None => (Route::default(), String::new()),
        AssignmentMode::ByTopic => match matching() {
            Some(rule) => (
                Route {
                    group_id: rule.group_id.clone(),
                    agent_id: rule.agent_ids.first().cloned(),
                },
                format!(
                    "assigned by topic ({}): group {}, agent {}",
                    described(rule),
                    rule.group_id.as_deref().unwrap_or("none"),
                    rule.agent_ids.first().map_or("none", String::as_str)
                ),
            ),
            None => (
                Route::default(),
                "no topic rule matched: left to Freshdesk's own rules".to_owned(),
            ),
        },
        AssignmentMode::RoundRobin => {
            let last = links::get(
                &vendors.db,
                &connection.model.id,
                "assignment",
                "round_robin",
            )
            .await?
            .map(|l| l.remote_id);
            let next = last
                .and_then(|last| assignment.agents.iter().position(|a| *a == last))
                .map_or(0, |at| (at + 1) % assignment.agents.len().max(1));
            let agent = assignment.agents.get(next).cloned();
            let how = format!(
                "assigned round robin to agent {}",
                agent.as_deref().unwrap_or("none")
            );
            (
                Route {
                    group_id: None,
                    agent_id: agent,
                },
                how,
            )
        }
        AssignmentMode::LoadBalanced => {
            let (agent, load) =
                least_loaded(vendors, connection, job_id, &assignment.agents).await?;
            (
                Route {
                    group_id: None,
                    agent_id: agent.clone(),
                },
                format!(
                    "assigned to agent {} with the fewest open tickets ({load})",
                    agent.as_deref().unwrap_or("none")
                ),
            )
        }
        AssignmentMode::Skills => match matching() {
            Some(rule) => {
                let (agent, load) =
                    least_loaded(vendors, connection, job_id, &rule.agent_ids).await?;
                (
                    Route {
                        group_id: rule.group_id.clone(),
                        agent_id: agent.clone(),
                    },
                    format!(
                        "assigned by skill ({}) to agent {} with the fewest open tickets ({load})",
                        described(rule),
                        agent.as_deref().unwrap_or("none")
                    ),
                )
            }
            None => (
                Route::default(),
                "no skill rule matched: left to Freshdesk's own rules".to_owned(),
            ),
        },
    })
}

/// The agent with the fewest open tickets (the first listed among equals), and that count.
async fn least_loaded(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: &str,
    agents: &[String],
) -> Result<(Option<String>, u64), Failure> {
    let mut best: Option<(String, u64)> = None;
    for agent in agents {
        let load = freshdesk::open_tickets(vendors, connection, Some(job_id), agent).await?;
        if best.as_ref().is_none_or(|(_, least)| load < *least) {
            best = Some((agent.clone(), load));
        }
    }
    Ok(match best {
        Some((agent, load)) => (Some(agent), load),
        None => (None, 0),
    })
}

/// The ticket the settings make of a conversation.
pub fn ticket(settings: &HelpdeskSettings, subject: &Subject) -> Ticket {
    let conversation = subject.conversation.as_ref();
    let visitor = &subject.visitor;
    let text = subject.visitor_text.to_lowercase();
    let has = |keyword: &str| contains_words(&text, &keyword.to_lowercase());
    let sentiment = conversation.and_then(|c| c.sentiment);
    let mut priority = settings.default_priority;
    if sentiment.is_some_and(|s| sentiment_word(s) == "negative") {
        priority = priority.max(settings.negative_sentiment_priority);
    }
    for rule in &settings.priority_keywords {
        if has(&rule.keyword) {
            priority = priority.max(rule.priority);
        }
    }
    let ticket_type = settings
        .type_rules
        .iter()
        .find(|rule| {
            rule.intent
                .as_ref()
                .is_some_and(|i| subject.intents.contains(i))
                || rule.keyword.as_deref().is_some_and(has)
        })
        .map_or(settings.default_type, |rule| rule.ticket_type);
    let intent = subject.intents.first();
    let title = subject
        .first_question
        .as_deref()
        .map(subject_line)
        .filter(|s| !s.is_empty())
        .or_else(|| intent.map(|i| format!("About {i}")))
        .unwrap_or_else(|| "A conversation on the website".to_owned());
    let requester_name = visitor
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| visitor.email.clone())
        .unwrap_or_else(|| "Website visitor".to_owned());
    let mut tags = vec!["concierge".to_owned()];
    let mut tag = |value: String| {
        if let Ok(tag) = tag_name(&value, "tag")
            && !tags.contains(&tag)
        {
            tags.push(tag);
        }
    };
    for intent in &subject.intents {
        tag(format!("intent_{}", slug(intent)));
    }
    if let Some(path) = conversation
        .and_then(|c| c.source_url.as_deref())
        .and_then(|u| url::Url::parse(u).ok())
        .map(|u| u.path().trim_matches('/').to_owned())
    {
        let path = if path.is_empty() {
            "home".to_owned()
        } else {
            slug(&path)
        };
        tag(format!("page_{path}"));
    }
    if let Some(score) = sentiment {
        tag(format!("sentiment_{}", sentiment_word(score)));
    }
    if let Some(assistant) = &subject.assistant_name {
        tag(format!("assistant_{}", slug(assistant)));
    }
    for extra in &settings.tags {
        tag(extra.clone());
    }
    let mut head = Vec::new();
    if let Some(url) = conversation.and_then(|c| c.source_url.as_deref()) {
        head.push(format!("Page: {url}"));
    }
    if let Some(browser) = conversation.and_then(|c| c.browser.as_deref()) {
        let device = conversation
            .and_then(|c| c.device.as_deref())
            .map(|d| format!(" on {d}"))
            .unwrap_or_default();
        head.push(format!("Browser: {browser}{device}"));
    }
    if let Some(url) = &subject.conversation_url {
        head.push(format!("In Concierge: {url}"));
    }
    let transcript = subject.transcript.clone();
    let body = format!("{}\n\n{transcript}", head.join("\n"));
    Ticket {
        subject: title,
        body: body.trim().to_owned(),
        transcript,
        requester_name,
        requester_email: visitor.email.clone().filter(|e| !e.trim().is_empty()),
        priority,
        ticket_type,
        tags,
        external_id: conversation.map(|c| c.id.clone()).unwrap_or_default(),
        screenshots: Vec::new(),
    }
}

/// Whether `text` has `phrase` as whole words (both lower case).
fn contains_words(text: &str, phrase: &str) -> bool {
    let phrase = phrase.trim();
    if phrase.is_empty() {
        return false;
    }
    text.match_indices(phrase).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + phrase.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// A value as a tag's part: lower case, runs of other characters as `_`.
fn slug(value: &str) -> String {
    let mut out = String::new();
    for c in value.to_lowercase().chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_match_whole_words_only() {
        assert!(contains_words("the site is down again", "down"));
        assert!(contains_words("outage!", "outage"));
        assert!(!contains_words("download failed", "down"));
        assert!(contains_words("a full outage now", "full outage"));
    }

    #[test]
    fn slugs_make_tags() {
        assert_eq!(slug("Shop Help / FAQ"), "shop_help_faq");
        assert_eq!(slug("pricing/plans"), "pricing_plans");
    }
}
