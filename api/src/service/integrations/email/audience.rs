//! A mailing-list connection's settings (Mailchimp): the audience, single or double opt-in, the tags taken from
//! the conversation, the merge fields mapped from the visitor, and the widget's consent wording.

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::service::integrations::crm::settings::MappingSource;
use crate::text_enum::text_enum;

text_enum! {
    /// How a new member joins the audience.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum OptIn: "opt-in" {
        /// Subscribed at once (the visitor's consent in the widget is the opt-in).
        Single = "single",
        /// Pending: the list sends its confirmation email, and the visitor is subscribed on confirming.
        Double = "double",
    }
}

text_enum! {
    /// What of the conversation becomes a tag of the member.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum AudienceTag: "audience tag" {
        /// `intent:<name>` for each intent of the visitor's messages.
        Intent = "intent",
        /// `page:<path>` of the page the conversation started on.
        Page = "page",
        /// `assistant:<name>` of the assistant the visitor talked to.
        Assistant = "assistant",
    }
}

/// One merge field of the audience, filled from one of our values, or from its default when we have none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeField {
    /// The merge field's tag in the audience (`FNAME`, `COMPANY`).
    pub tag: String,
    pub source: MappingSource,
    /// Sent when the visitor gave no value (required merge fields need one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// The settings of a mailing-list connection, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AudienceSettings {
    /// The audience (list) visitors are added to; nobody is added until one is chosen.
    pub audience_id: Option<String>,
    pub opt_in: OptIn,
    /// What of the conversation becomes tags.
    pub tag_sources: Vec<AudienceTag>,
    /// Tags every member added gets.
    pub tags: Vec<String>,
    pub merge_fields: Vec<MergeField>,
    /// The words of the consent checkbox in the widget's contact form.
    pub consent_label: String,
}

/// The consent checkbox's words until the organization writes its own.
pub const CONSENT_LABEL: &str = "Email me news and offers";

impl Default for AudienceSettings {
    fn default() -> Self {
        Self {
            audience_id: None,
            opt_in: OptIn::Double,
            tag_sources: vec![
                AudienceTag::Intent,
                AudienceTag::Page,
                AudienceTag::Assistant,
            ],
            tags: Vec::new(),
            merge_fields: vec![
                MergeField {
                    tag: "FNAME".to_owned(),
                    source: MappingSource::VisitorFirstName,
                    default: None,
                },
                MergeField {
                    tag: "LNAME".to_owned(),
                    source: MappingSource::VisitorLastName,
                    default: None,
                },
            ],
            consent_label: CONSENT_LABEL.to_owned(),
        }
    }
}

/// Changes to the settings: absent fields keep their value.
#[derive(Clone, Debug, Default)]
pub struct AudienceSettingsPatch {
    /// `Some(None)` clears the audience (nobody is added).
    pub audience_id: Option<Option<String>>,
    pub opt_in: Option<OptIn>,
    pub tag_sources: Option<Vec<AudienceTag>>,
    pub tags: Option<Vec<String>>,
    pub merge_fields: Option<Vec<MergeField>>,
    pub consent_label: Option<String>,
}

/// The most tags or merge fields the settings hold.
pub const LIST_MAX: usize = 30;
/// Mailchimp's longest tag name.
const TAG_MAX: usize = 100;
/// The longest default value of a merge field.
const DEFAULT_MAX: usize = 255;

impl AudienceSettings {
    /// The stored settings (the defaults where a field is missing).
    pub fn stored(value: &serde_json::Value) -> Self {
        serde_json::from_value(value.clone()).unwrap_or_default()
    }

    /// The settings with `patch` applied and checked; `field` paths start at `audience`.
    pub fn patched(&self, patch: AudienceSettingsPatch) -> ApiResult<Self> {
        let mut next = self.clone();
        if let Some(audience) = patch.audience_id {
            next.audience_id = match audience.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(id) if id.len() <= 20 && id.chars().all(|c| c.is_ascii_alphanumeric()) => {
                    Some(id.to_owned())
                }
                Some(id) => {
                    return Err(ApiError::validation(
                        "audience.audience_id",
                        format!(
                            "{id:?} is not an audience id (letters and digits, as Mailchimp shows it)"
                        ),
                    ));
                }
            };
        }
        if let Some(opt_in) = patch.opt_in {
            next.opt_in = opt_in;
        }
        if let Some(mut sources) = patch.tag_sources {
            let mut seen = Vec::new();
            sources.retain(|s| {
                let new = !seen.contains(s);
                seen.push(*s);
                new
            });
            next.tag_sources = sources;
        }
        if let Some(tags) = patch.tags {
            limit(&tags, "audience.tags")?;
            let mut out: Vec<String> = Vec::with_capacity(tags.len());
            for (i, tag) in tags.iter().enumerate() {
                let tag = tag.trim();
                if tag.is_empty()
                    || tag.chars().count() > TAG_MAX
                    || tag.chars().any(char::is_control)
                {
                    return Err(ApiError::validation(
                        &format!("audience.tags[{i}]"),
                        format!("must be a tag, 1 to {TAG_MAX} characters"),
                    ));
                }
                if !out.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
                    out.push(tag.to_owned());
                }
            }
            next.tags = out;
        }
        if let Some(fields) = patch.merge_fields {
            limit(&fields, "audience.merge_fields")?;
            let mut out: Vec<MergeField> = Vec::with_capacity(fields.len());
            for (i, field) in fields.into_iter().enumerate() {
                let path = format!("audience.merge_fields[{i}]");
                let tag = merge_tag(&field.tag, &format!("{path}.tag"))?;
                if out.iter().any(|f| f.tag == tag) {
                    return Err(ApiError::validation(
                        &format!("{path}.tag"),
                        format!("{tag} is mapped twice"),
                    ));
                }
                if field.source == MappingSource::VisitorEmail {
                    return Err(ApiError::validation(
                        &format!("{path}.source"),
                        "the email address is the member itself, not a merge field",
                    ));
                }
                let default = match field.default.as_deref().map(str::trim) {
                    None | Some("") => None,
                    Some(v)
                        if v.chars().count() <= DEFAULT_MAX && !v.chars().any(char::is_control) =>
                    {
                        Some(v.to_owned())
                    }
                    Some(_) => {
                        return Err(ApiError::validation(
                            &format!("{path}.default"),
                            format!("must be at most {DEFAULT_MAX} characters on one line"),
                        ));
                    }
                };
                out.push(MergeField {
                    tag,
                    source: field.source,
                    default,
                });
            }
            next.merge_fields = out;
        }
        if let Some(label) = patch.consent_label {
            let label = label.trim();
            if label.is_empty()
                || label.chars().count() > 200
                || label.chars().any(char::is_control)
            {
                return Err(ApiError::validation(
                    "audience.consent_label",
                    "must be 1 to 200 characters on one line",
                ));
            }
            next.consent_label = label.to_owned();
        }
        Ok(next)
    }
}

fn limit<T>(list: &[T], path: &str) -> ApiResult<()> {
    if list.len() > LIST_MAX {
        return Err(ApiError::validation(
            path,
            format!("at most {LIST_MAX} entries"),
        ));
    }
    Ok(())
}

/// A merge tag as Mailchimp names them: upper-case letters, digits and `_`, at most 10.
fn merge_tag(value: &str, path: &str) -> ApiResult<String> {
    let tag = value.trim().to_ascii_uppercase();
    if tag.is_empty()
        || tag.len() > 10
        || !tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(ApiError::validation(
            path,
            format!("{value:?} is not a merge tag: up to 10 letters, digits or _ (FNAME, COMPANY)"),
        ));
    }
    Ok(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_field_by_field_and_keep_what_is_absent() {
        let settings = AudienceSettings::default();
        let next = settings
            .patched(AudienceSettingsPatch {
                audience_id: Some(Some(" 9e67587f52 ".to_owned())),
                tags: Some(vec!["Website".to_owned(), "website".to_owned()]),
                merge_fields: Some(vec![MergeField {
                    tag: "company".to_owned(),
                    source: MappingSource::PageTitle,
                    default: Some("Unknown".to_owned()),
                }]),
                ..AudienceSettingsPatch::default()
            })
            .unwrap();
        assert_eq!(next.audience_id.as_deref(), Some("9e67587f52"));
        assert_eq!(next.tags, ["Website"]);
        assert_eq!(next.merge_fields[0].tag, "COMPANY");
        assert_eq!(next.opt_in, OptIn::Double);
        let bad =
            |patch: AudienceSettingsPatch| format!("{:?}", settings.patched(patch).unwrap_err());
        assert!(
            bad(AudienceSettingsPatch {
                audience_id: Some(Some("../lists".to_owned())),
                ..Default::default()
            })
            .contains("audience id")
        );
        assert!(
            bad(AudienceSettingsPatch {
                merge_fields: Some(vec![MergeField {
                    tag: "EMAIL".to_owned(),
                    source: MappingSource::VisitorEmail,
                    default: None,
                }]),
                ..Default::default()
            })
            .contains("member itself")
        );
        assert!(
            bad(AudienceSettingsPatch {
                merge_fields: Some(vec![MergeField {
                    tag: "MUCH_TOO_LONG_TAG".to_owned(),
                    source: MappingSource::VisitorName,
                    default: None,
                }]),
                ..Default::default()
            })
            .contains("merge tag")
        );
    }
}
