//! The email integrations (a custom SMTP server for now): who a connection is, its test message, and sending
//! the organization's mail through it.

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

/// Checks the connection (for SMTP: connects, sets up TLS and authenticates).
pub async fn describe(
    vendors: &Vendors,
    connection: &mut Connection,
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
        other => Err(Failure::Configuration(format!(
            "no email connector for {other}"
        ))),
    }
}

/// Sends `mail` through the connection; the server's answer in words.
pub async fn send(
    vendors: &Vendors,
    connection: &Connection,
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
        other => Err(Failure::Configuration(format!(
            "no email connector for {other}"
        ))),
    }
}

/// Sends a test message to `to` (else the sender's own address) and reports what the server answered.
pub async fn send_test(
    vendors: &Vendors,
    connection: &Connection,
    to: Option<&str>,
) -> Result<AccountInfo, Failure> {
    let settings = smtp_settings(connection)?;
    let to = to.unwrap_or(&settings.from_address).to_owned();
    let organization =
        entities::organization::Entity::find_by_id(connection.model.organization_id.clone())
            .one(vendors.db.conn())
            .await
            .map_err(crate::error::ApiError::from)?
            .map_or_else(String::new, |o| o.name);
    let mail = templates::render(
        &templates::TEST,
        &json!({"organization": organization, "sender": settings.from_address,
            "server": settings.described()}),
        vec![to.clone()],
    )?;
    let answer = send(vendors, connection, &mail).await?;
    let mut account = Map::new();
    account.insert("last_test_to".to_owned(), Value::String(to.clone()));
    Ok(AccountInfo {
        description: format!(
            "Sent a test message to {to} through {}; the server answered: {answer}",
            settings.described()
        ),
        account,
    })
}
