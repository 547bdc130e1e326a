//! Public ids: a type prefix and a ULID (time-sortable, 80 random bits), e.g. `conv_01JD…`.

use crate::error::ApiError;

/// The kinds of object that carry a public id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Organization,
    User,
    ApiKey,
    Assistant,
    Visitor,
    Conversation,
    Message,
    KnowledgeBaseEntry,
    Event,
    AuditEntry,
    Webhook,
    Session,
    Delivery,
    Attempt,
    Feedback,
    KnowledgeBaseQuery,
    WidgetSession,
    SsoConnection,
    Integration,
    IntegrationRun,
    IntegrationCall,
    Attachment,
    NotificationRule,
    EmailTemplate,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 24] = [
        Kind::Organization,
        Kind::User,
        Kind::ApiKey,
        Kind::Assistant,
        Kind::Visitor,
        Kind::Conversation,
        Kind::Message,
        Kind::KnowledgeBaseEntry,
        Kind::Event,
        Kind::AuditEntry,
        Kind::Webhook,
        Kind::Session,
        Kind::Delivery,
        Kind::Attempt,
        Kind::Feedback,
        Kind::KnowledgeBaseQuery,
        Kind::WidgetSession,
        Kind::SsoConnection,
        Kind::Integration,
        Kind::IntegrationRun,
        Kind::IntegrationCall,
        Kind::Attachment,
        Kind::NotificationRule,
        Kind::EmailTemplate,
    ];

    /// The kind an id's prefix names (no prefix begins another, which the tests check).
    pub fn of(id: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|kind| id.starts_with(kind.prefix()))
    }

    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Organization => "org_",
            Kind::User => "usr_",
            Kind::ApiKey => "key_",
            Kind::Assistant => "asst_",
            Kind::Visitor => "vis_",
            Kind::Conversation => "conv_",
            Kind::Message => "msg_",
            Kind::KnowledgeBaseEntry => "kb_",
            Kind::Event => "evt_",
            Kind::AuditEntry => "aud_",
            Kind::Webhook => "whk_",
            Kind::Session => "ses_",
            Kind::Delivery => "dlv_",
            Kind::Attempt => "att_",
            Kind::Feedback => "fb_",
            Kind::KnowledgeBaseQuery => "kbq_",
            Kind::WidgetSession => "wses_",
            Kind::SsoConnection => "sso_",
            Kind::Integration => "int_",
            Kind::IntegrationRun => "run_",
            Kind::IntegrationCall => "call_",
            Kind::Attachment => "file_",
            Kind::NotificationRule => "nrule_",
            Kind::EmailTemplate => "etpl_",
        }
    }

    /// The noun used in error messages.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Organization => "organization",
            Kind::User => "user",
            Kind::ApiKey => "API key",
            Kind::Assistant => "assistant",
            Kind::Visitor => "visitor",
            Kind::Conversation => "conversation",
            Kind::Message => "message",
            Kind::KnowledgeBaseEntry => "knowledge-base entry",
            Kind::Event => "event",
            Kind::AuditEntry => "audit entry",
            Kind::Webhook => "webhook",
            Kind::Session => "session",
            Kind::Delivery => "webhook delivery",
            Kind::Attempt => "delivery attempt",
            Kind::Feedback => "feedback",
            Kind::KnowledgeBaseQuery => "knowledge-base query",
            Kind::WidgetSession => "widget session",
            Kind::SsoConnection => "SSO connection",
            Kind::Integration => "integration",
            Kind::IntegrationRun => "integration run",
            Kind::IntegrationCall => "integration call",
            Kind::Attachment => "attachment",
            Kind::NotificationRule => "notification rule",
            Kind::EmailTemplate => "email template",
        }
    }
}

/// Ids made in the same millisecond still sort in the order they were made (within this process), so lists
/// ordered by id, the event stream above all, keep creation order.
static GENERATOR: std::sync::LazyLock<std::sync::Mutex<ulid::Generator>> =
    std::sync::LazyLock::new(|| std::sync::Mutex::new(ulid::Generator::new()));

/// A new id of this kind.
pub fn new_id(kind: Kind) -> String {
    let ulid = GENERATOR
        .lock()
        .ok()
        .and_then(|mut generator| generator.generate().ok())
        // Only if 2^80 ids were made in one millisecond, or a panic poisoned the lock.
        .unwrap_or_else(|| ulid::Ulid::from_datetime(std::time::SystemTime::now()));
    format!("{}{}", kind.prefix(), ulid)
}

/// A new id of this kind that sorts after `previous` even when another process's clock or generator is behind.
pub fn new_id_after(kind: Kind, previous: &str) -> String {
    let id = new_id(kind);
    if id.as_str() > previous {
        return id;
    }
    previous
        .strip_prefix(kind.prefix())
        .and_then(|body| ulid::Ulid::from_string(body).ok())
        .and_then(|ulid| ulid.increment())
        .map_or(id, |next| format!("{}{}", kind.prefix(), next))
}

/// Checks that `id` is a well-formed id of `kind`; `field` names it in the error.
pub fn parse(kind: Kind, field: &str, id: &str) -> Result<String, ApiError> {
    let body = id.strip_prefix(kind.prefix()).ok_or_else(|| {
        ApiError::validation(
            field,
            format!(
                "expected {} id starting with {}",
                kind.noun(),
                kind.prefix()
            ),
        )
    })?;
    ulid::Ulid::from_string(body)
        .map_err(|_| ApiError::validation(field, format!("malformed {} id", kind.noun())))?;
    Ok(id.to_owned())
}

/// Checks an id given to look an object up: a malformed one cannot exist, so it answers NOT_FOUND.
pub fn lookup(kind: Kind, id: &str) -> Result<&str, ApiError> {
    match parse(kind, "id", id) {
        Ok(_) => Ok(id),
        Err(_) => Err(ApiError::NotFound(format!(
            "no {} with id {id:?} (ids of this kind start with {})",
            kind.noun(),
            kind.prefix()
        ))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_kind_is_known_by_its_prefix() {
        for kind in super::Kind::ALL {
            assert_eq!(super::Kind::of(&super::new_id(kind)), Some(kind));
            for other in super::Kind::ALL.into_iter().filter(|o| *o != kind) {
                assert!(
                    !other.prefix().starts_with(kind.prefix()),
                    "{} begins {}",
                    kind.prefix(),
                    other.prefix()
                );
            }
        }
        assert_eq!(super::Kind::of("nope_01JDZ8Q4V2M3N4P5Q6R7S8T9VW"), None);
    }

    #[test]
    fn ids_made_in_a_row_sort_in_that_order() {
        let ids: Vec<String> = (0..1000)
            .map(|_| super::new_id(super::Kind::Event))
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }

    use super::*;

    #[test]
    fn new_ids_parse_back_and_sort_by_time() {
        let a = new_id(Kind::Conversation);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id(Kind::Conversation);
        assert!(a.starts_with("conv_") && a < b);
        assert!(parse(Kind::Conversation, "id", &a).is_ok());
    }

    #[test]
    fn an_id_made_after_a_later_one_still_sorts_after_it() {
        let future = format!(
            "{}{}",
            Kind::Event.prefix(),
            ulid::Ulid::from_datetime(
                std::time::SystemTime::now() + std::time::Duration::from_secs(60)
            )
        );
        let next = new_id_after(Kind::Event, &future);
        assert!(next > future, "{next} should sort after {future}");
        let current = new_id(Kind::Event);
        assert!(new_id_after(Kind::Event, &current) > current);
    }

    #[test]
    fn wrong_prefix_and_garbage_are_rejected() {
        let kb = new_id(Kind::KnowledgeBaseEntry);
        assert!(parse(Kind::Conversation, "id", &kb).is_err());
        assert!(parse(Kind::Conversation, "id", "conv_not-a-ulid").is_err());
        assert!(parse(Kind::Conversation, "id", "").is_err());
    }
}
