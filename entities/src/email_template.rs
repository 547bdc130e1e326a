//! An organization's own version of one of the emails sent to visitors (welcome, transcript, follow-up,
//! satisfaction survey): what it overrides of the default, and whether that email is sent at all.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_templates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    /// welcome | transcript | follow_up | satisfaction_survey
    pub kind: String,
    pub enabled: bool,
    /// The subject line's template; the default's when null.
    pub subject: Option<String>,
    /// The plain-text part's template; the default's when null.
    pub text: Option<String>,
    /// The HTML part's template (inside the common frame); the default's when null.
    pub html: Option<String>,
    /// A SendGrid dynamic template that replaces these when the organization sends through SendGrid.
    pub sendgrid_template_id: Option<String>,
    /// For the follow-up: hours after the conversation is resolved.
    pub delay_hours: Option<i32>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
