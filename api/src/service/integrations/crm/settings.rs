//! A CRM connection's settings: contact matching, field updates, case creation, field mappings and workflow
//! triggers, validated field by field; what goes beyond the default mapping needs the premium plan.

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::text_enum::text_enum;

text_enum! {
    /// How a visitor is matched to a contact already in the CRM.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum ContactMatching: "contact matching" {
        Email = "email",
        Phone = "phone",
        /// By email, then by phone when the email matches nobody.
        EmailThenPhone = "email_then_phone",
    }
}

text_enum! {
    /// When a matched contact's fields are overwritten with the visitor's.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum FieldUpdates: "field updates" {
        Always = "always",
        /// Only when the visitor's details changed after the CRM's record last did.
        IfNewer = "if_newer",
        Never = "never",
    }
}

text_enum! {
    /// What creates a case (a ticket in HubSpot).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum CaseTrigger: "case trigger" {
        /// The conversation is handed to a person.
        Handoff = "handoff",
        /// The visitor submits the widget's contact form.
        FormSubmission = "form_submission",
        /// Every conversation.
        EveryConversation = "every_conversation",
    }
}

text_enum! {
    /// The CRM object a mapped value is written to.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum CrmObject: "CRM object" {
        Contact = "contact",
        Case = "case",
    }
}

text_enum! {
    /// A value of ours that a mapping writes into a CRM field.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum MappingSource: "mapping source" {
        VisitorName = "visitor_name",
        VisitorFirstName = "visitor_first_name",
        VisitorLastName = "visitor_last_name",
        VisitorEmail = "visitor_email",
        VisitorPhone = "visitor_phone",
        /// The whole conversation, one line per message.
        Transcript = "transcript",
        /// The visitor's first message.
        FirstQuestion = "first_question",
        PageUrl = "page_url",
        PageTitle = "page_title",
        Sentiment = "sentiment",
        AssistantName = "assistant_name",
        ConversationId = "conversation_id",
        /// The conversation's page in the console.
        ConversationUrl = "conversation_url",
    }
}

/// One value written to one CRM field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldMapping {
    pub source: MappingSource,
    pub object: CrmObject,
    /// The field's API name in the CRM (`Description`, `lifecyclestage`, `Custom_Field__c`).
    pub field: String,
}

/// The settings of a CRM connection, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CrmSettings {
    pub contact_matching: ContactMatching,
    pub create_contact_if_missing: bool,
    pub field_updates: FieldUpdates,
    /// What creates a case; empty, cases are never created.
    pub case_creation: Vec<CaseTrigger>,
    /// Mappings to any field, custom ones included; empty, the default mapping of the brief.
    pub field_mappings: Vec<FieldMapping>,
    /// HubSpot: the contact property "AI Assistant Interaction" is created when missing and set at each
    /// interaction, for workflows to trigger on.
    pub workflow_trigger: bool,
    /// A unique field of the CRM's contact that holds the visitor's id here (an External ID field in
    /// Salesforce, a unique-value property in HubSpot, a unique field in Zoho CRM): contacts are then created
    /// by an upsert on it, so that the CRM itself refuses a second contact for one visitor.
    pub visitor_id_field: Option<String>,
}

impl Default for CrmSettings {
    fn default() -> Self {
        Self {
            contact_matching: ContactMatching::Email,
            create_contact_if_missing: true,
            field_updates: FieldUpdates::IfNewer,
            case_creation: vec![CaseTrigger::Handoff],
            field_mappings: Vec::new(),
            workflow_trigger: false,
            visitor_id_field: None,
        }
    }
}

/// Changes to CRM settings: absent fields keep their value.
#[derive(Clone, Debug, Default)]
pub struct CrmSettingsPatch {
    pub contact_matching: Option<ContactMatching>,
    pub create_contact_if_missing: Option<bool>,
    pub field_updates: Option<FieldUpdates>,
    pub case_creation: Option<Vec<CaseTrigger>>,
    pub field_mappings: Option<Vec<FieldMapping>>,
    pub workflow_trigger: Option<bool>,
    /// `Some(None)` clears the field.
    pub visitor_id_field: Option<Option<String>>,
}

/// The most field mappings one connection has.
pub const MAPPINGS_MAX: usize = 50;
const FIELD_MAX: usize = 100;

impl CrmSettings {
    /// The stored settings (the defaults where a field is missing).
    pub fn stored(value: &serde_json::Value) -> Self {
        serde_json::from_value(value.clone()).unwrap_or_default()
    }

    /// The settings with `patch` applied and checked; `field` paths start at `crm`.
    pub fn patched(&self, patch: CrmSettingsPatch) -> ApiResult<Self> {
        let mut next = self.clone();
        if let Some(v) = patch.contact_matching {
            next.contact_matching = v;
        }
        if let Some(v) = patch.create_contact_if_missing {
            next.create_contact_if_missing = v;
        }
        if let Some(v) = patch.field_updates {
            next.field_updates = v;
        }
        if let Some(mut triggers) = patch.case_creation {
            let mut seen = Vec::new();
            triggers.retain(|t| {
                let new = !seen.contains(t);
                seen.push(*t);
                new
            });
            next.case_creation = triggers;
        }
        if let Some(mappings) = patch.field_mappings {
            next.field_mappings = validate_mappings(mappings)?;
        }
        if let Some(v) = patch.workflow_trigger {
            next.workflow_trigger = v;
        }
        if let Some(field) = patch.visitor_id_field {
            next.visitor_id_field = match field.map(|f| f.trim().to_owned()) {
                Some(field) if !field.is_empty() => Some(api_name(field, "crm.visitor_id_field")?),
                _ => None,
            };
        }
        Ok(next)
    }

    /// What of these settings needs the premium plan's advanced CRM feature, in words (empty when nothing).
    pub fn advanced_parts(&self) -> Vec<&'static str> {
        self.advanced_changes(&Self::default())
    }

    /// The advanced settings that differ from `before` and are not back to their default, in words: what a
    /// change needs the premium plan for (going back to the defaults needs no plan).
    pub fn advanced_changes(&self, before: &Self) -> Vec<&'static str> {
        let default = Self::default();
        let mut parts = Vec::new();
        if self.field_mappings != before.field_mappings
            && self.field_mappings != default.field_mappings
        {
            parts.push("custom field mappings");
        }
        if self.case_creation != before.case_creation && self.case_creation != default.case_creation
        {
            parts.push("case-creation rules other than on handoff");
        }
        if self.workflow_trigger != before.workflow_trigger
            && self.workflow_trigger != default.workflow_trigger
        {
            parts.push("workflow triggers");
        }
        if self.visitor_id_field != before.visitor_id_field
            && self.visitor_id_field != default.visitor_id_field
        {
            parts.push("a visitor id field");
        }
        parts
    }
}

/// Mappings with API-name-shaped fields, each CRM field written by one mapping only.
fn validate_mappings(mappings: Vec<FieldMapping>) -> ApiResult<Vec<FieldMapping>> {
    if mappings.len() > MAPPINGS_MAX {
        return Err(ApiError::validation(
            "crm.field_mappings",
            format!("at most {MAPPINGS_MAX} mappings"),
        ));
    }
    let mut out: Vec<FieldMapping> = Vec::with_capacity(mappings.len());
    for (index, mut mapping) in mappings.into_iter().enumerate() {
        let path = format!("crm.field_mappings[{index}].field");
        mapping.field = api_name(mapping.field.trim().to_owned(), &path)?;
        let field = &mapping.field;
        if out
            .iter()
            .any(|m| m.object == mapping.object && m.field.eq_ignore_ascii_case(field))
        {
            return Err(ApiError::validation(
                &path,
                format!("{} field {field} is already mapped", mapping.object),
            ));
        }
        out.push(mapping);
    }
    Ok(out)
}

/// `field` when it is shaped like a field's API name (`Description`, `Custom_Field__c`), else a validation error
/// at `path`.
fn api_name(field: String, path: &str) -> ApiResult<String> {
    if field.is_empty() || field.len() > FIELD_MAX {
        return Err(ApiError::validation(
            path,
            format!("must be the field's API name, 1 to {FIELD_MAX} characters"),
        ));
    }
    if !field.starts_with(|c: char| c.is_ascii_alphabetic())
        || !field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return Err(ApiError::validation(
            path,
            format!(
                "{field:?} is not a field API name: letters, digits, `_` and `.`, starting with a letter \
                 (such as Description or Custom_Field__c)"
            ),
        ));
    }
    Ok(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(field: &str) -> FieldMapping {
        FieldMapping {
            source: MappingSource::PageUrl,
            object: CrmObject::Contact,
            field: field.to_owned(),
        }
    }

    #[test]
    fn defaults_are_the_basic_plans_settings() {
        let settings = CrmSettings::stored(&serde_json::json!({}));
        assert_eq!(settings, CrmSettings::default());
        assert!(settings.advanced_parts().is_empty());
        let custom = settings
            .patched(CrmSettingsPatch {
                field_mappings: Some(vec![mapping("Website__c")]),
                case_creation: Some(vec![CaseTrigger::EveryConversation]),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(custom.advanced_parts().len(), 2);
    }

    #[test]
    fn a_visitor_id_field_is_an_api_name_needs_premium_and_clears_when_empty() {
        let settings = CrmSettings::default();
        let set = settings
            .patched(CrmSettingsPatch {
                visitor_id_field: Some(Some(" Concierge_Id__c ".to_owned())),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(set.visitor_id_field.as_deref(), Some("Concierge_Id__c"));
        assert_eq!(set.advanced_changes(&settings), ["a visitor id field"]);
        let bad = settings
            .patched(CrmSettingsPatch {
                visitor_id_field: Some(Some("id; drop".to_owned())),
                ..Default::default()
            })
            .unwrap_err();
        assert!(
            matches!(&bad, ApiError::Validation { field, .. } if field == "crm.visitor_id_field"),
            "{bad:?}"
        );
        for clear in [None, Some(String::new())] {
            let cleared = set
                .patched(CrmSettingsPatch {
                    visitor_id_field: Some(clear),
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(cleared.visitor_id_field, None);
            assert!(cleared.advanced_changes(&set).is_empty());
        }
    }

    #[test]
    fn mappings_name_the_field_at_fault() {
        let settings = CrmSettings::default();
        let bad = settings
            .patched(CrmSettingsPatch {
                field_mappings: Some(vec![mapping("Website__c"), mapping("1bad field")]),
                ..Default::default()
            })
            .unwrap_err();
        assert!(
            matches!(&bad, ApiError::Validation { field, .. } if field == "crm.field_mappings[1].field"),
            "{bad:?}"
        );
        let twice = settings
            .patched(CrmSettingsPatch {
                field_mappings: Some(vec![mapping("Website__c"), mapping("website__c")]),
                ..Default::default()
            })
            .unwrap_err();
        assert!(matches!(twice, ApiError::Validation { .. }));
    }
}
