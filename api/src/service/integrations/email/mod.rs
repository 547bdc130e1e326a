//! The email integrations: the mailers (a custom SMTP server, SendGrid), who a connection is, its test message,
//! and sending the organization's mail through it; and the mailing list (Mailchimp) that consenting visitors
//! join.

pub mod audience;
pub mod mailchimp;
pub mod runs;
pub mod sendgrid;
pub mod visitor_emails;

use sea_orm::EntityTrait;
use serde_json::{Map, Value, json};

use crate::service::integrations::credentials::Connection;
use crate::service::integrations::crm::AccountInfo;
use crate::service::integrations::executor::{Failure, Vendors};
use crate::service::mail::smtp::{self, SmtpSettings};
use crate::service::mail::{Mail, templates};

fn smtp_settings(connection: &Connection) -> Result<SmtpSettings, Failure> {
    SmtpSettings::stored(&connection.model.account).ok_or_else(|| {
        Failure::Configuration("the SMTP settings are incomplete: connect it again".to_owned())
    })
}

/// The providers that send the organization's mail, in the order one is chosen.
const MAILERS: [&str; 2] = ["smtp", "sendgrid"];

/// Whether `provider` sends mail (Mailchimp keeps a mailing list instead).
pub fn sends_mail(provider: &str) -> bool {
    MAILERS.contains(&provider)
}

/// Checks the connection (for SMTP: connects, sets up TLS and authenticates).
pub async fn describe(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
) -> Result<AccountInfo, Failure> {
    match connection.provider.key {
        "smtp" => {
            let settings = smtp_settings(connection)?;
            let message = smtp::check(
                &settings,
                connection.credentials.api_key.as_deref(),
                vendors.settings.egress_allow.as_deref(),
            )
            .await?;
            Ok(AccountInfo {
                description: message,
                account: Map::new(),
            })
        }
        "sendgrid" => sendgrid::describe(vendors, connection).await,
        "mailchimp" => mailchimp::describe(vendors, connection, job_id).await,
        other => Err(Failure::Configuration(format!(
            "no email connector for {other}"
        ))),
    }
}

/// Sends `mail` through the connection; the server's answer in words.
pub async fn send(
    vendors: &Vendors,
    connection: &mut Connection,
    mail: &Mail,
) -> Result<String, Failure> {
    match connection.provider.key {
        "smtp" => {
            let settings = smtp_settings(connection)?;
            smtp::send(
                &settings,
                connection.credentials.api_key.as_deref(),
                vendors.settings.egress_allow.as_deref(),
                mail,
            )
            .await
        }
        "sendgrid" => sendgrid::send(vendors, connection, mail).await,
        other => Err(Failure::Configuration(format!(
            "{other} does not send mail: connect a mail server or SendGrid"
        ))),
    }
}

/// Who the connection sends as, and through what, in words.
fn sender(connection: &Connection) -> Result<(String, String), Failure> {
    match connection.provider.key {
        "sendgrid" => Ok((
            connection.credentials.email.clone().unwrap_or_default(),
            "SendGrid's v3 mail API".to_owned(),
        )),
        _ => {
            let settings = smtp_settings(connection)?;
            Ok((settings.from_address.clone(), settings.described()))
        }
    }
}

/// Sends a test message to `to` (else the sender's own address) and reports what the server answered.
pub async fn send_test(
    vendors: &Vendors,
    connection: &mut Connection,
    to: Option<&str>,
) -> Result<AccountInfo, Failure> {
    let (from_address, server) = sender(connection)?;
    let to = to.unwrap_or(&from_address).to_owned();
    let organization =
        entities::organization::Entity::find_by_id(connection.model.organization_id.clone())
            .one(vendors.db.conn())
            .await
            .map_err(crate::error::ApiError::from)?
            .map_or_else(String::new, |o| o.name);
    let mail = templates::render(
        &templates::TEST,
        &json!({"organization": organization, "sender": from_address, "server": server}),
        vec![to.clone()],
    )?;
    let answer = send(vendors, connection, &mail).await?;
    let mut account = Map::new();
    account.insert("last_test_to".to_owned(), Value::String(to.clone()));
    Ok(AccountInfo {
        description: format!(
            "Sent a test message to {to} through {server}; the server answered: {answer}"
        ),
        account,
    })
}

/// The connection that sends an organization's email, among its `connections`: the first connected mailer
/// (a custom SMTP server, then SendGrid).
pub fn mailer(
    connections: &[entities::integration::Model],
) -> Option<&entities::integration::Model> {
    use crate::service::integrations::IntegrationStatus;
    MAILERS.iter().find_map(|key| {
        connections
            .iter()
            .find(|c| c.provider == *key && c.status == IntegrationStatus::Connected.as_str())
    })
}

/// Queues the invitation's email when the organization has a connected email integration: rendered now, sealed
/// (its link is the member's password-setting token), sent by a job that retries. Answers whether it was
/// queued.
pub async fn queue_invitation(
    db: &crate::db::Db,
    sealer: &crate::secrets::Sealer,
    public_url: &str,
    principal: &crate::auth::Principal,
    invitation: &crate::service::identity::signin::Invitation,
) -> crate::error::ApiResult<bool> {
    use entities::{integration, organization, user};
    use sea_orm::{ActiveModelTrait, ColumnTrait, QueryFilter};
    let member = &invitation.member;
    let connections = integration::Entity::find()
        .filter(integration::Column::OrganizationId.eq(&member.organization_id))
        .all(db.conn())
        .await?;
    let Some(mailer) = mailer(&connections) else {
        return Ok(false);
    };
    let organization = organization::Entity::find_by_id(member.organization_id.clone())
        .one(db.conn())
        .await?
        .map_or_else(String::new, |o| o.name);
    let inviter = match &principal.actor {
        crate::auth::Actor::User { id, .. } => user::Entity::find_by_id(id.clone())
            .one(db.conn())
            .await?
            .map(|u| u.name.unwrap_or(u.email)),
        _ => None,
    }
    .unwrap_or_else(|| format!("The {organization} team"));
    let mail = templates::render(
        &templates::INVITATION,
        &json!({
            "inviter": inviter,
            "organization": organization,
            "role": member.role,
            "accept_url": crate::service::identity::signin::invitation_url(public_url, &invitation.token),
            "expires_at": member.invitation_expires_at.map(|t| t.format("%B %-d, %Y %H:%M UTC").to_string()),
        }),
        vec![member.email.clone()],
    )?;
    let at = crate::service::now();
    let mut job = crate::service::integrations::runs::pending_job(
        mailer,
        crate::service::integrations::runs::JobKind::EmailSend.as_str(),
        "member.invitation_issued",
        &member.id,
        None,
        at,
    );
    job.visitor_id = sea_orm::Set(None);
    let id = crate::ids::new_id(crate::ids::Kind::IntegrationRun);
    job.id = sea_orm::Set(id.clone());
    job.payload = sea_orm::Set(Some(runs::seal(sealer, &id, &mail)?));
    let txn = db.begin_write().await?;
    job.insert(&*txn).await?;
    txn.commit().await?;
    Ok(true)
}
