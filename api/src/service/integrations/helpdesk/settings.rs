//! A help-desk connection's settings: what opens a ticket, its priority and type by rule, and the tags added,
//! validated field by field.

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::text_enum::text_enum;

text_enum! {
    /// What opens a ticket.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum TicketTrigger: "ticket trigger" {
        /// The conversation is handed to a person.
        Handoff = "handoff",
        /// The visitor submits the widget's contact form.
        FormSubmission = "form_submission",
        /// A visitor message shows one of the configured intents.
        Intent = "intent",
        /// The assistant could not answer this many times in one conversation.
        FailedResponses = "failed_responses",
    }
}

text_enum! {
    /// A ticket's priority (Zendesk's four).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum TicketPriority: "ticket priority" {
        Low = "low",
        Normal = "normal",
        High = "high",
        Urgent = "urgent",
    }
}

text_enum! {
    /// A ticket's type (Zendesk's four).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum TicketType: "ticket type" {
        Question = "question",
        Problem = "problem",
        Incident = "incident",
        Task = "task",
    }
}

text_enum! {
    /// How tickets are assigned in the help desk (Freshdesk).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum AssignmentMode: "assignment mode" {
        /// The help desk's own rules assign it.
        None = "none",
        /// The first rule whose intent or keyword matches gives the group and the agent.
        ByTopic = "by_topic",
        /// The listed agents in turn.
        RoundRobin = "round_robin",
        /// The listed agent with the fewest open tickets (read from the help desk).
        LoadBalanced = "load_balanced",
        /// The first rule whose intent or keyword matches gives the skilled agents; the one with the fewest open
        /// tickets gets it.
        Skills = "skills",
    }
}

/// A rule of topic or skills assignment: an intent or a keyword, and where the ticket goes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    /// The help desk's group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// The help desk's agent ids.
    #[serde(default)]
    pub agent_ids: Vec<String>,
}

/// Who gets a new ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Assignment {
    pub mode: AssignmentMode,
    /// The agents of round-robin and load-balanced assignment (the help desk's agent ids).
    pub agents: Vec<String>,
    /// The rules of topic and skills assignment, first match wins.
    pub rules: Vec<AssignmentRule>,
}

impl Default for Assignment {
    fn default() -> Self {
        Self {
            mode: AssignmentMode::None,
            agents: Vec::new(),
            rules: Vec::new(),
        }
    }
}

/// A word or phrase in the visitor's messages that raises the ticket's priority.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityRule {
    pub keyword: String,
    pub priority: TicketPriority,
}

/// A ticket type chosen by the conversation's intent or by a keyword in the visitor's messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    pub ticket_type: TicketType,
}

/// The settings of a help-desk connection, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HelpdeskSettings {
    /// What opens a ticket; empty, tickets are never opened.
    pub ticket_creation: Vec<TicketTrigger>,
    /// With the intent trigger: the intents (of the assistant's intents) that open a ticket.
    pub intents: Vec<String>,
    /// With the failed-responses trigger: after this many unanswered questions in one conversation.
    pub failed_responses: u32,
    /// The priority when the visitor's messages were negative on the whole.
    pub negative_sentiment_priority: TicketPriority,
    /// Keywords that raise the priority (the highest that matches wins).
    pub priority_keywords: Vec<PriorityRule>,
    /// The priority when no rule applies.
    pub default_priority: TicketPriority,
    /// The type by intent or keyword, first match in order.
    pub type_rules: Vec<TypeRule>,
    /// The type when no rule applies.
    pub default_type: TicketType,
    /// Tags added to every ticket, beside the automatic ones (intent, page, sentiment, assistant).
    pub tags: Vec<String>,
    /// Who gets a new ticket (Freshdesk).
    pub assignment: Assignment,
}

impl Default for HelpdeskSettings {
    fn default() -> Self {
        Self {
            ticket_creation: vec![TicketTrigger::Handoff, TicketTrigger::FormSubmission],
            intents: Vec::new(),
            failed_responses: 3,
            negative_sentiment_priority: TicketPriority::High,
            priority_keywords: Vec::new(),
            default_priority: TicketPriority::Normal,
            type_rules: Vec::new(),
            default_type: TicketType::Question,
            tags: Vec::new(),
            assignment: Assignment::default(),
        }
    }
}

/// Changes to help-desk settings: absent fields keep their value.
#[derive(Clone, Debug, Default)]
pub struct HelpdeskSettingsPatch {
    pub ticket_creation: Option<Vec<TicketTrigger>>,
    pub intents: Option<Vec<String>>,
    pub failed_responses: Option<i64>,
    pub negative_sentiment_priority: Option<TicketPriority>,
    pub priority_keywords: Option<Vec<PriorityRule>>,
    pub default_priority: Option<TicketPriority>,
    pub type_rules: Option<Vec<TypeRule>>,
    pub default_type: Option<TicketType>,
    pub tags: Option<Vec<String>>,
    pub assignment: Option<Assignment>,
}

/// The most entries one list setting holds.
pub const RULES_MAX: usize = 50;
const WORD_MAX: usize = 100;

impl HelpdeskSettings {
    /// The stored settings (the defaults where a field is missing).
    pub fn stored(value: &serde_json::Value) -> Self {
        serde_json::from_value(value.clone()).unwrap_or_default()
    }

    /// The settings with `patch` applied and checked; `field` paths start at `helpdesk`.
    pub fn patched(&self, patch: HelpdeskSettingsPatch) -> ApiResult<Self> {
        let mut next = self.clone();
        if let Some(mut triggers) = patch.ticket_creation {
            let mut seen = Vec::new();
            triggers.retain(|t| {
                let new = !seen.contains(t);
                seen.push(*t);
                new
            });
            next.ticket_creation = triggers;
        }
        if let Some(intents) = patch.intents {
            next.intents = words(intents, "helpdesk.intents", "an intent's name")?;
        }
        if let Some(n) = patch.failed_responses {
            next.failed_responses = u32::try_from(n)
                .ok()
                .filter(|n| (1..=20).contains(n))
                .ok_or_else(|| {
                    ApiError::validation("helpdesk.failed_responses", "must be 1 to 20")
                })?;
        }
        if let Some(v) = patch.negative_sentiment_priority {
            next.negative_sentiment_priority = v;
        }
        if let Some(v) = patch.default_priority {
            next.default_priority = v;
        }
        if let Some(v) = patch.default_type {
            next.default_type = v;
        }
        if let Some(rules) = patch.priority_keywords {
            limit(&rules, "helpdesk.priority_keywords")?;
            next.priority_keywords = rules
                .into_iter()
                .enumerate()
                .map(|(i, rule)| {
                    Ok(PriorityRule {
                        keyword: word(
                            &rule.keyword,
                            &format!("helpdesk.priority_keywords[{i}].keyword"),
                            "a keyword",
                        )?,
                        priority: rule.priority,
                    })
                })
                .collect::<ApiResult<_>>()?;
        }
        if let Some(rules) = patch.type_rules {
            limit(&rules, "helpdesk.type_rules")?;
            next.type_rules = rules
                .into_iter()
                .enumerate()
                .map(|(i, rule)| {
                    let path = format!("helpdesk.type_rules[{i}]");
                    let intent = rule
                        .intent
                        .filter(|s| !s.trim().is_empty())
                        .map(|s| word(&s, &format!("{path}.intent"), "an intent's name"))
                        .transpose()?;
                    let keyword = rule
                        .keyword
                        .filter(|s| !s.trim().is_empty())
                        .map(|s| word(&s, &format!("{path}.keyword"), "a keyword"))
                        .transpose()?;
                    if intent.is_none() == keyword.is_none() {
                        return Err(ApiError::validation(
                            &path,
                            "give either an intent or a keyword",
                        ));
                    }
                    Ok(TypeRule {
                        intent,
                        keyword,
                        ticket_type: rule.ticket_type,
                    })
                })
                .collect::<ApiResult<_>>()?;
        }
        if let Some(tags) = patch.tags {
            limit(&tags, "helpdesk.tags")?;
            next.tags = tags
                .into_iter()
                .enumerate()
                .map(|(i, tag)| tag_name(&tag, &format!("helpdesk.tags[{i}]")))
                .collect::<ApiResult<Vec<_>>>()?;
            next.tags.dedup();
        }
        if let Some(assignment) = patch.assignment {
            next.assignment = validate_assignment(assignment)?;
        }
        if next.ticket_creation.contains(&TicketTrigger::Intent) && next.intents.is_empty() {
            return Err(ApiError::validation(
                "helpdesk.intents",
                "name at least one intent, or do not open tickets by intent",
            ));
        }
        Ok(next)
    }
}

/// An id of the help desk's (digits).
fn vendor_id(value: &str, path: &str) -> ApiResult<String> {
    let id = value.trim();
    if id.is_empty() || id.len() > 20 || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(ApiError::validation(
            path,
            format!("{value:?} is not a help-desk id: digits, as the help desk shows them"),
        ));
    }
    Ok(id.to_owned())
}

fn vendor_ids(values: &[String], path: &str) -> ApiResult<Vec<String>> {
    limit(values, path)?;
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for (i, value) in values.iter().enumerate() {
        let id = vendor_id(value, &format!("{path}[{i}]"))?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// The assignment with its ids checked and what its mode needs present.
fn validate_assignment(assignment: Assignment) -> ApiResult<Assignment> {
    let path = "helpdesk.assignment";
    let agents = vendor_ids(&assignment.agents, &format!("{path}.agents"))?;
    limit(&assignment.rules, &format!("{path}.rules"))?;
    let mut rules = Vec::with_capacity(assignment.rules.len());
    for (i, rule) in assignment.rules.into_iter().enumerate() {
        let at = format!("{path}.rules[{i}]");
        let intent = rule
            .intent
            .filter(|s| !s.trim().is_empty())
            .map(|s| word(&s, &format!("{at}.intent"), "an intent's name"))
            .transpose()?;
        let keyword = rule
            .keyword
            .filter(|s| !s.trim().is_empty())
            .map(|s| word(&s, &format!("{at}.keyword"), "a keyword"))
            .transpose()?;
        if intent.is_none() == keyword.is_none() {
            return Err(ApiError::validation(
                &at,
                "give either an intent or a keyword",
            ));
        }
        let group_id = rule
            .group_id
            .filter(|s| !s.trim().is_empty())
            .map(|s| vendor_id(&s, &format!("{at}.group_id")))
            .transpose()?;
        let agent_ids = vendor_ids(&rule.agent_ids, &format!("{at}.agent_ids"))?;
        match assignment.mode {
            AssignmentMode::Skills if agent_ids.is_empty() => {
                return Err(ApiError::validation(
                    &format!("{at}.agent_ids"),
                    "name the agents with this skill",
                ));
            }
            AssignmentMode::ByTopic if agent_ids.is_empty() && group_id.is_none() => {
                return Err(ApiError::validation(
                    &at,
                    "name the group or the agent the topic goes to",
                ));
            }
            _ => {}
        }
        rules.push(AssignmentRule {
            intent,
            keyword,
            group_id,
            agent_ids,
        });
    }
    match assignment.mode {
        AssignmentMode::RoundRobin | AssignmentMode::LoadBalanced if agents.is_empty() => {
            Err(ApiError::validation(
                &format!("{path}.agents"),
                "name the agents the tickets go to",
            ))
        }
        AssignmentMode::ByTopic | AssignmentMode::Skills if rules.is_empty() => Err(
            ApiError::validation(&format!("{path}.rules"), "give at least one rule"),
        ),
        mode => Ok(Assignment {
            mode,
            agents,
            rules,
        }),
    }
}

fn limit<T>(list: &[T], path: &str) -> ApiResult<()> {
    if list.len() > RULES_MAX {
        return Err(ApiError::validation(
            path,
            format!("at most {RULES_MAX} entries"),
        ));
    }
    Ok(())
}

fn word(value: &str, path: &str, what: &str) -> ApiResult<String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > WORD_MAX || value.chars().any(char::is_control) {
        return Err(ApiError::validation(
            path,
            format!("must be {what}, 1 to {WORD_MAX} characters"),
        ));
    }
    Ok(value.to_owned())
}

fn words(values: Vec<String>, path: &str, what: &str) -> ApiResult<Vec<String>> {
    limit(&values, path)?;
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for (i, value) in values.iter().enumerate() {
        let value = word(value, &format!("{path}[{i}]"), what)?;
        if !out.contains(&value) {
            out.push(value);
        }
    }
    Ok(out)
}

/// A tag as help desks take it: lower case, no spaces (Zendesk splits tags on spaces).
pub fn tag_name(value: &str, path: &str) -> ApiResult<String> {
    let tag = value.trim().to_lowercase();
    if tag.is_empty()
        || tag.chars().count() > WORD_MAX
        || !tag
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ':' | '/' | '.'))
    {
        return Err(ApiError::validation(
            path,
            format!(
                "{value:?} is not a tag: letters, digits, `_`, `-`, `:`, `/` and `.`, no spaces, 1 to {WORD_MAX} \
                 characters"
            ),
        ));
    }
    Ok(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_open_tickets_on_handoff_and_form() {
        let settings = HelpdeskSettings::stored(&serde_json::json!({}));
        assert_eq!(
            settings.ticket_creation,
            [TicketTrigger::Handoff, TicketTrigger::FormSubmission]
        );
        assert_eq!(settings.failed_responses, 3);
    }

    #[test]
    fn each_bad_value_is_named_by_its_path() {
        let settings = HelpdeskSettings::default();
        let cases = [
            (
                HelpdeskSettingsPatch {
                    failed_responses: Some(0),
                    ..Default::default()
                },
                "helpdesk.failed_responses",
            ),
            (
                HelpdeskSettingsPatch {
                    tags: Some(vec!["vip".into(), "two words".into()]),
                    ..Default::default()
                },
                "helpdesk.tags[1]",
            ),
            (
                HelpdeskSettingsPatch {
                    type_rules: Some(vec![TypeRule {
                        intent: Some("refund".into()),
                        keyword: Some("money".into()),
                        ticket_type: TicketType::Problem,
                    }]),
                    ..Default::default()
                },
                "helpdesk.type_rules[0]",
            ),
            (
                HelpdeskSettingsPatch {
                    ticket_creation: Some(vec![TicketTrigger::Intent]),
                    ..Default::default()
                },
                "helpdesk.intents",
            ),
        ];
        for (patch, path) in cases {
            let error = settings.patched(patch).unwrap_err();
            assert!(
                matches!(&error, ApiError::Validation { field, .. } if field == path),
                "{path}: {error:?}"
            );
        }
        let fine = settings
            .patched(HelpdeskSettingsPatch {
                tags: Some(vec![" VIP ".into()]),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(fine.tags, ["vip"]);
    }
}
