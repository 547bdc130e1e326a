//! What a CRM job sends: the visitor and the conversation read from our tables, turned into the vendor's fields by
//! the default mapping of the brief and the organization's custom mappings.

use entities::{assistant, conversation, knowledge_base_entry, message, visitor};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::db::Db;
use crate::error::ApiResult;
use crate::service::integrations::crm::settings::{CrmObject, FieldMapping, MappingSource};

/// The longest transcript sent (vendors cap long text fields; Salesforce's Description takes 32,000).
const TRANSCRIPT_MAX: usize = 30_000;

/// What a job is about, read at run time so a retry sends what is current.
#[derive(Clone, Debug)]
pub struct Subject {
    pub visitor: visitor::Model,
    pub conversation: Option<conversation::Model>,
    pub assistant_name: Option<String>,
    pub transcript: String,
    pub first_question: Option<String>,
    /// The conversation's page in the console.
    pub conversation_url: Option<String>,
    /// What the visitor wrote, one message per line (for keyword rules).
    pub visitor_text: String,
    /// The intents of the visitor's messages, first seen first.
    pub intents: Vec<String>,
    /// The assistant's last answers (at most three, oldest first), with their confidence.
    pub suggestions: Vec<(String, Option<f64>)>,
    /// The knowledge-base entries its answers used (id and title), first used first.
    pub entries_used: Vec<(String, String)>,
}

impl Subject {
    /// Reads the visitor and the conversation (the job's, else the visitor's latest) with its messages.
    pub async fn load(
        db: &Db,
        visitor_id: &str,
        conversation_id: Option<&str>,
        public_url: &str,
    ) -> ApiResult<Option<Self>> {
        let Some(visitor) = visitor::Entity::find_by_id(visitor_id.to_owned())
            .one(db.conn())
            .await?
        else {
            return Ok(None);
        };
        let conversation = match conversation_id {
            Some(id) => {
                conversation::Entity::find_by_id(id.to_owned())
                    .one(db.conn())
                    .await?
            }
            None => {
                conversation::Entity::find()
                    .filter(conversation::Column::VisitorId.eq(visitor_id))
                    .order_by_desc(conversation::Column::Id)
                    .one(db.conn())
                    .await?
            }
        };
        let (mut assistant_name, mut transcript, mut first_question) = (None, String::new(), None);
        let (mut visitor_text, mut intents) = (String::new(), Vec::<String>::new());
        let (mut suggestions, mut entries_used) = (Vec::new(), Vec::new());
        if let Some(conversation) = &conversation {
            assistant_name = assistant::Entity::find_by_id(conversation.assistant_id.clone())
                .one(db.conn())
                .await?
                .map(|a| a.name);
            let messages = message::Entity::find()
                .filter(message::Column::ConversationId.eq(&conversation.id))
                .order_by_asc(message::Column::Id)
                .all(db.conn())
                .await?;
            first_question = messages
                .iter()
                .find(|m| m.author == "visitor")
                .map(|m| m.body.clone());
            for message in messages.iter().filter(|m| m.author == "visitor") {
                visitor_text.push_str(&message.body);
                visitor_text.push('\n');
                if let Some(intent) = &message.intent
                    && !intents.contains(intent)
                {
                    intents.push(intent.clone());
                }
            }
            let answers: Vec<&message::Model> = messages
                .iter()
                .filter(|m| m.author == "assistant")
                .collect();
            suggestions = answers
                .iter()
                .skip(answers.len().saturating_sub(3))
                .map(|m| (m.body.clone(), m.confidence))
                .collect();
            let mut used: Vec<String> = Vec::new();
            for answer in &answers {
                let cited = crate::service::conversations::messages::citations(answer);
                for id in answer.source_entry_id.iter().chain(cited.iter()) {
                    if !used.contains(id) {
                        used.push(id.clone());
                    }
                }
            }
            if !used.is_empty() {
                let titles: std::collections::HashMap<String, String> =
                    knowledge_base_entry::Entity::find()
                        .filter(knowledge_base_entry::Column::Id.is_in(used.clone()))
                        .filter(
                            knowledge_base_entry::Column::OrganizationId
                                .eq(&conversation.organization_id),
                        )
                        .all(db.conn())
                        .await?
                        .into_iter()
                        .map(|e| (e.id, e.title))
                        .collect();
                entries_used = used
                    .into_iter()
                    .filter_map(|id| titles.get(&id).cloned().map(|title| (id, title)))
                    .collect();
            }
            transcript = render_transcript(&messages, assistant_name.as_deref());
            // The page it started on heads the transcript: the brief's "page URL → case".
            if let Some(url) = &conversation.source_url {
                let title = conversation
                    .page_title
                    .as_deref()
                    .map(|t| format!(" ({t})"))
                    .unwrap_or_default();
                transcript = format!("Page: {url}{title}\n\n{transcript}");
            }
        }
        let conversation_url = conversation.as_ref().map(|c| {
            format!(
                "{}/console/inbox/{}",
                public_url.trim_end_matches('/'),
                c.id
            )
        });
        Ok(Some(Self {
            visitor,
            conversation,
            assistant_name,
            transcript,
            first_question,
            conversation_url,
            visitor_text,
            intents,
            suggestions,
            entries_used,
        }))
    }

    /// The value of one source; `None` when we have none.
    pub fn value(&self, source: MappingSource) -> Option<String> {
        let name = self
            .visitor
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        let conversation = self.conversation.as_ref();
        let value = match source {
            MappingSource::VisitorName => name.map(str::to_owned),
            MappingSource::VisitorFirstName => {
                name.and_then(|n| n.split_once(' ').map(|(first, _)| first.to_owned()))
            }
            MappingSource::VisitorLastName => name.map(|n| {
                n.split_once(' ')
                    .map_or(n, |(_, last)| last.trim())
                    .to_owned()
            }),
            MappingSource::VisitorEmail => self.visitor.email.clone(),
            MappingSource::VisitorPhone => self.visitor.phone.clone(),
            MappingSource::Transcript => {
                (!self.transcript.is_empty()).then(|| self.transcript.clone())
            }
            MappingSource::FirstQuestion => self.first_question.as_deref().map(subject_line),
            MappingSource::PageUrl => conversation.and_then(|c| c.source_url.clone()),
            MappingSource::PageTitle => conversation.and_then(|c| c.page_title.clone()),
            MappingSource::Sentiment => conversation
                .and_then(|c| c.sentiment)
                .map(|s| sentiment_word(s).to_owned()),
            MappingSource::AssistantName => self.assistant_name.clone(),
            MappingSource::ConversationId => conversation.map(|c| c.id.clone()),
            MappingSource::ConversationUrl => self.conversation_url.clone(),
        };
        value.filter(|v| !v.trim().is_empty())
    }

    /// The fields of `object`: the vendor's default mapping, then the custom mappings (which win on the same
    /// field); sources we have no value for are left out.
    pub fn fields(
        &self,
        defaults: &[(MappingSource, CrmObject, &str)],
        custom: &[FieldMapping],
        object: CrmObject,
    ) -> Map<String, Value> {
        let mut fields = Map::new();
        for (source, target, field) in defaults {
            if *target == object
                && let Some(value) = self.value(*source)
            {
                fields.insert((*field).to_owned(), Value::String(value));
            }
        }
        for mapping in custom.iter().filter(|m| m.object == object) {
            if let Some(value) = self.value(mapping.source) {
                fields.insert(mapping.field.clone(), Value::String(value));
            }
        }
        fields
    }
}

/// A short subject from a question: its first line, at most 120 characters.
pub(crate) fn subject_line(question: &str) -> String {
    let line = question.lines().next().unwrap_or_default().trim();
    if line.chars().count() > 120 {
        format!("{}…", line.chars().take(119).collect::<String>())
    } else {
        line.to_owned()
    }
}

pub(crate) fn sentiment_word(score: f64) -> &'static str {
    if score >= 0.05 {
        "positive"
    } else if score <= -0.05 {
        "negative"
    } else {
        "neutral"
    }
}

/// One line per message, `Visitor: …` / `<assistant name>: …` / `Agent: …`, the newest last, cut at the front
/// when too long.
fn render_transcript(messages: &[message::Model], assistant: Option<&str>) -> String {
    let mut lines = Vec::with_capacity(messages.len());
    for message in messages {
        let who = match message.author.as_str() {
            "visitor" => "Visitor",
            "assistant" => assistant.unwrap_or("Assistant"),
            "agent" => "Agent",
            _ => "System",
        };
        lines.push(format!(
            "[{}] {who}: {}",
            message.created_at.format("%Y-%m-%d %H:%M UTC"),
            message.body.trim()
        ));
    }
    let mut text = lines.join("\n");
    if text.len() > TRANSCRIPT_MAX {
        let mut cut = text.len() - TRANSCRIPT_MAX;
        while !text.is_char_boundary(cut) {
            cut += 1;
        }
        text = format!("…{}", &text[cut..]);
    }
    text
}

/// A hash of what is sent, so that an unchanged record is not sent again.
pub fn hash(fields: &Map<String, Value>) -> String {
    let digest = Sha256::digest(Value::Object(fields.clone()).to_string().as_bytes());
    hex::encode(digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn subject(name: Option<&str>) -> Subject {
        Subject {
            visitor: visitor::Model {
                id: "vis_1".to_owned(),
                organization_id: "org_1".to_owned(),
                name: name.map(str::to_owned),
                email: Some("ann@example.test".to_owned()),
                phone: None,
                marketing_consent: false,
                marketing_consent_at: None,
                unsubscribed_at: None,
                created_at: Utc::now(),
                updated_at: Utc::now(),
            },
            conversation: None,
            assistant_name: None,
            transcript: String::new(),
            first_question: Some("Do you ship to Austria?\nAnd how fast?".to_owned()),
            conversation_url: None,
            visitor_text: String::new(),
            intents: Vec::new(),
            suggestions: Vec::new(),
            entries_used: Vec::new(),
        }
    }

    #[test]
    fn names_split_into_first_and_last_and_missing_values_are_left_out() {
        let ann = subject(Some("Ann Marie Lee"));
        assert_eq!(ann.value(MappingSource::VisitorFirstName).unwrap(), "Ann");
        assert_eq!(
            ann.value(MappingSource::VisitorLastName).unwrap(),
            "Marie Lee"
        );
        let single = subject(Some("Ann"));
        assert_eq!(single.value(MappingSource::VisitorFirstName), None);
        assert_eq!(single.value(MappingSource::VisitorLastName).unwrap(), "Ann");
        assert_eq!(single.value(MappingSource::VisitorPhone), None);
        assert_eq!(
            single.value(MappingSource::FirstQuestion).unwrap(),
            "Do you ship to Austria?"
        );
    }

    #[test]
    fn custom_mappings_add_fields_and_win_over_the_defaults() {
        let ann = subject(Some("Ann Lee"));
        let defaults = [
            (MappingSource::VisitorEmail, CrmObject::Contact, "email"),
            (
                MappingSource::VisitorLastName,
                CrmObject::Contact,
                "lastname",
            ),
            (MappingSource::FirstQuestion, CrmObject::Case, "subject"),
        ];
        let custom = [
            FieldMapping {
                source: MappingSource::VisitorName,
                object: CrmObject::Contact,
                field: "lastname".to_owned(),
            },
            FieldMapping {
                source: MappingSource::VisitorEmail,
                object: CrmObject::Contact,
                field: "work_email__c".to_owned(),
            },
        ];
        let fields = ann.fields(&defaults, &custom, CrmObject::Contact);
        assert_eq!(fields["email"], "ann@example.test");
        assert_eq!(fields["lastname"], "Ann Lee");
        assert_eq!(fields["work_email__c"], "ann@example.test");
        assert!(!fields.contains_key("subject"));
    }
}
