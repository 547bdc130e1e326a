//! The mailing list of an email integration (Mailchimp): its audiences, and how consenting visitors join one.

use async_graphql::{Enum, InputObject, MaybeUndefined, Object, SimpleObject};

use crate::graphql::integrations::CrmMappingSource;
use crate::service::integrations::email::audience::{
    self as svc, AudienceSettingsPatch, MergeField as SvcMergeField,
};

/// How a new member joins the audience.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::integrations::email::audience::OptIn")]
pub enum AudienceOptIn {
    /// Subscribed at once: the visitor's consent in the widget is the opt-in.
    Single,
    /// Pending until the visitor confirms the email the list sends (double opt-in).
    Double,
}

/// What of the conversation becomes a tag of the member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::integrations::email::audience::AudienceTag")]
pub enum AudienceTagSource {
    /// `intent:<name>` for each intent of the visitor's messages.
    Intent,
    /// `page:<path>` of the page the conversation started on.
    Page,
    /// `assistant:<name>` of the assistant the visitor talked to.
    Assistant,
}

/// An audience (list) of the mailing-list account.
#[derive(SimpleObject)]
pub struct IntegrationAudience {
    /// The audience's id in the vendor (Mailchimp's list id).
    pub id: String,
    /// The audience's name in the vendor.
    pub name: String,
    /// Its members when it was read (at connecting or the last test).
    pub member_count: i64,
}

impl From<(String, String, i64)> for IntegrationAudience {
    fn from((id, name, member_count): (String, String, i64)) -> Self {
        Self {
            id,
            name,
            member_count,
        }
    }
}

/// One merge field of the audience, filled from one of our values, or from its default when we have none.
#[derive(SimpleObject, InputObject)]
#[graphql(input_name = "AudienceMergeFieldInput")]
pub struct AudienceMergeField {
    /// The merge field's tag in the audience (`FNAME`, `COMPANY`): up to 10 letters, digits or `_`.
    pub tag: String,
    /// What fills it.
    pub source: CrmMappingSource,
    /// What is sent when the visitor gave no value (a required merge field needs one).
    pub default: Option<String>,
}

/// How consenting visitors join the mailing list.
pub struct AudienceSettings(pub svc::AudienceSettings);

/// How consenting visitors join the mailing list: only visitors who gave marketing consent are ever added.
#[Object]
impl AudienceSettings {
    /// The audience visitors are added to; null until one is chosen (nobody is added meanwhile).
    async fn audience_id(&self) -> Option<&str> {
        self.0.audience_id.as_deref()
    }
    /// Single or double opt-in.
    async fn opt_in(&self) -> AudienceOptIn {
        self.0.opt_in.into()
    }
    /// What of the conversation becomes tags.
    async fn tag_sources(&self) -> Vec<AudienceTagSource> {
        self.0.tag_sources.iter().map(|t| (*t).into()).collect()
    }
    /// Tags every member added gets.
    async fn tags(&self) -> &[String] {
        &self.0.tags
    }
    /// The merge fields filled from the visitor's details.
    async fn merge_fields(&self) -> Vec<AudienceMergeField> {
        self.0
            .merge_fields
            .iter()
            .map(|f| AudienceMergeField {
                tag: f.tag.clone(),
                source: f.source.into(),
                default: f.default.clone(),
            })
            .collect()
    }
    /// The words of the marketing-consent checkbox in the widget's contact form.
    async fn consent_label(&self) -> &str {
        &self.0.consent_label
    }
}

/// Changes to the mailing-list settings: absent fields keep their value.
#[derive(InputObject, Default)]
pub struct AudienceSettingsInput {
    /// The audience visitors are added to (one of `Integration.audiences`); null clears it.
    pub audience_id: MaybeUndefined<String>,
    /// Single or double opt-in.
    pub opt_in: Option<AudienceOptIn>,
    /// What of the conversation becomes tags, replacing the current list.
    pub tag_sources: Option<Vec<AudienceTagSource>>,
    /// Tags every member added gets, replacing the current ones.
    pub tags: Option<Vec<String>>,
    /// The merge fields, replacing the current ones.
    pub merge_fields: Option<Vec<AudienceMergeField>>,
    /// The words of the widget's consent checkbox, 1 to 200 characters.
    pub consent_label: Option<String>,
}

impl From<AudienceSettingsInput> for AudienceSettingsPatch {
    fn from(input: AudienceSettingsInput) -> Self {
        Self {
            audience_id: match input.audience_id {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(id) => Some(Some(id)),
            },
            opt_in: input.opt_in.map(Into::into),
            tag_sources: input
                .tag_sources
                .map(|t| t.into_iter().map(Into::into).collect()),
            tags: input.tags,
            merge_fields: input.merge_fields.map(|fields| {
                fields
                    .into_iter()
                    .map(|f| SvcMergeField {
                        tag: f.tag,
                        source: f.source.into(),
                        default: f.default,
                    })
                    .collect()
            }),
            consent_label: input.consent_label,
        }
    }
}
