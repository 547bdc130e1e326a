//! What the widget's endpoints read and answer: request bodies and the JSON shapes a visitor's browser sees.

use chrono::{DateTime, Utc};
use entities::{assistant, conversation, message};
use serde::{Deserialize, Serialize};

use crate::rest::visitors::VisitorJson;
use crate::service::assistants::{self, WidgetSettings};
use crate::service::conversations::messages::{self, PostedMessage};
use crate::service::conversations::posting::Created;

/// The assistant as its widget needs it.
#[derive(Debug, Serialize)]
pub struct WidgetAssistantJson {
    pub id: String,
    pub name: String,
    pub widget: WidgetSettings,
}

impl From<assistant::Model> for WidgetAssistantJson {
    fn from(m: assistant::Model) -> Self {
        Self {
            widget: assistants::widget(&m),
            id: m.id,
            name: m.name,
        }
    }
}

/// A started session: keep `token` (shown once) and send it as `Authorization: Bearer <token>`.
#[derive(Debug, Serialize)]
pub struct StartedJson {
    pub token: String,
    pub session_id: String,
    pub expires_at: DateTime<Utc>,
    pub visitor: VisitorJson,
    pub assistant: WidgetAssistantJson,
    /// The words of the contact form's marketing-consent checkbox; null when the form shows none.
    pub marketing_consent_label: Option<String>,
}

/// The caller's session, with the conversation to resume on this page.
#[derive(Debug, Serialize)]
pub struct CurrentJson {
    pub session_id: String,
    pub expires_at: DateTime<Utc>,
    pub visitor: VisitorJson,
    pub assistant: WidgetAssistantJson,
    pub conversation: Option<WidgetConversationJson>,
    /// The words of the contact form's marketing-consent checkbox; null when the form shows none.
    pub marketing_consent_label: Option<String>,
}

/// A conversation as its visitor sees it (no sentiment, handoff reasons or counters).
#[derive(Debug, Serialize)]
pub struct WidgetConversationJson {
    pub id: String,
    pub assistant_id: String,
    pub status: String,
    pub subject: Option<String>,
    pub source_url: Option<String>,
    pub page_title: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<conversation::Model> for WidgetConversationJson {
    fn from(m: conversation::Model) -> Self {
        Self {
            id: m.id,
            assistant_id: m.assistant_id,
            status: m.status,
            subject: m.subject,
            source_url: m.source_url,
            page_title: m.page_title,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A message as its visitor sees it (no sentiment, intent or confidence).
#[derive(Debug, Serialize)]
pub struct WidgetMessageJson {
    pub id: String,
    pub conversation_id: String,
    pub author: String,
    pub body: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to_id: Option<String>,
    /// The knowledge-base entry an assistant answer quotes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_entry_id: Option<String>,
    /// The entries an AI answer cites.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub citations: Vec<String>,
    /// The images it carries, each with a short-lived signed URL.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<crate::rest::attachments::AttachmentJson>,
    pub created_at: DateTime<Utc>,
}

impl From<message::Model> for WidgetMessageJson {
    fn from(m: message::Model) -> Self {
        Self {
            citations: messages::citations(&m),
            id: m.id,
            conversation_id: m.conversation_id,
            author: m.author,
            body: m.body,
            reply_to_id: m.reply_to_id,
            source_entry_id: m.source_entry_id,
            attachments: Vec::new(),
            created_at: m.created_at,
        }
    }
}

/// A new conversation with its first message and the assistant's answer.
#[derive(Debug, Serialize)]
pub struct WidgetCreatedJson {
    #[serde(flatten)]
    pub conversation: WidgetConversationJson,
    pub initial_message: Option<WidgetMessageJson>,
    pub replies: Vec<WidgetMessageJson>,
}

impl From<Created> for WidgetCreatedJson {
    fn from(created: Created) -> Self {
        Self {
            conversation: created.conversation.into(),
            initial_message: created.initial_message.map(Into::into),
            replies: created.replies.into_iter().map(Into::into).collect(),
        }
    }
}

/// A posted visitor message with the assistant's answer.
#[derive(Debug, Serialize)]
pub struct WidgetPostedJson {
    #[serde(flatten)]
    pub message: WidgetMessageJson,
    pub replies: Vec<WidgetMessageJson>,
}

impl WidgetPostedJson {
    /// The posted message with its attachments' signed URLs.
    pub fn shaped(posted: PostedMessage, files: &crate::service::attachments::Attachments) -> Self {
        Self {
            message: WidgetMessageJson {
                attachments: crate::rest::attachments::shown(files, posted.attachments),
                ..posted.message.into()
            },
            replies: posted.replies.into_iter().map(Into::into).collect(),
        }
    }
}

/// Input of `POST /widget/v1/sessions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartSessionBody {
    pub assistant_id: String,
    /// What a pre-chat form asked, if anything.
    #[serde(default)]
    pub visitor: Option<crate::rest::conversations::NewVisitorBody>,
}

impl From<StartSessionBody> for crate::service::widget::StartSession {
    fn from(body: StartSessionBody) -> Self {
        Self {
            assistant_id: body.assistant_id,
            visitor: body.visitor.map(Into::into),
        }
    }
}

/// Input of `POST /widget/v1/conversations`: the assistant and the visitor come from the session.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartConversationBody {
    pub initial_message: Option<String>,
    pub subject: Option<String>,
    pub source_url: Option<String>,
    pub page_context: Option<String>,
    pub page_title: Option<String>,
    pub browser: Option<String>,
    pub device: Option<String>,
}

impl From<StartConversationBody> for crate::service::widget::StartConversation {
    fn from(body: StartConversationBody) -> Self {
        Self {
            initial_message: body.initial_message,
            subject: body.subject,
            source_url: body.source_url,
            page_context: body.page_context,
            page_title: body.page_title,
            browser: body.browser,
            device: body.device,
        }
    }
}

/// Input of `POST /widget/v1/conversations/{id}/messages`: always a visitor message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendMessageBody {
    /// May be blank when the message carries attachments.
    #[serde(default)]
    pub body: String,
    /// Screenshots uploaded to the conversation (`POST …/attachments`) that the message carries.
    #[serde(default)]
    pub attachment_ids: Vec<String>,
    /// The page the visitor asks from, when it moved on from where the conversation started: the answer is
    /// ranked for this page.
    #[serde(default)]
    pub page_url: Option<String>,
    #[serde(default)]
    pub page_title: Option<String>,
    #[serde(default)]
    pub page_context: Option<String>,
}

impl From<SendMessageBody> for crate::service::widget::SendMessage {
    fn from(body: SendMessageBody) -> Self {
        Self {
            body: body.body,
            attachment_ids: body.attachment_ids,
            page_url: body.page_url,
            page_title: body.page_title,
            page_context: body.page_context,
        }
    }
}

/// Input of `POST /widget/v1/conversations/{id}/contact`: the contact form; an email or a phone is required.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactFormBody {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// The marketing-consent checkbox, sent when the form shows one.
    #[serde(default)]
    pub marketing_consent: Option<bool>,
}

impl From<ContactFormBody> for crate::service::widget::ContactForm {
    fn from(body: ContactFormBody) -> Self {
        Self {
            name: body.name,
            email: body.email,
            phone: body.phone,
            marketing_consent: body.marketing_consent,
        }
    }
}

/// The answer to the contact form: the visitor as saved.
#[derive(Debug, Serialize)]
pub struct ContactFormJson {
    pub visitor: VisitorJson,
}
