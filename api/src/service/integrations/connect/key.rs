//! Connecting with a pasted key (Zendesk's API token, Freshdesk's API key): checked with a real call before it
//! is kept, so that a refused key changes nothing.

use entities::integration;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Map, Value, json};

use crate::auth::{Actor, Principal};
use crate::error::{ApiError, ApiResult};
use crate::ids::{Kind, new_id};
use crate::service::integrations::connect::{
    ConnectIntegration, Started, pending_row, record_connected,
};
use crate::service::integrations::credentials::{Connection, Credentials};
use crate::service::integrations::executor::{Failure, Vendors};
use crate::service::integrations::providers::{KeyScheme, Provider};
use crate::service::integrations::{Integration, IntegrationStatus, describe, merged_account};
use crate::service::now;

/// Connects `provider` with a pasted key: checked first with a real call, and kept only when the vendor accepts
/// it; a refused key changes nothing (the connection is as it was, or absent).
pub(super) async fn connect_with_key(
    vendors: &Vendors,
    principal: &Principal,
    provider: &'static Provider,
    scheme: KeyScheme,
    choice_account: Map<String, Value>,
    input: &ConnectIntegration,
    organization_id: &str,
) -> ApiResult<Started> {
    let key = input.api_key.as_deref().unwrap_or_default().trim();
    let email = input.email.as_deref();
    if key.is_empty() || key.len() > 512 || key.chars().any(char::is_control) {
        return Err(ApiError::validation(
            "credentials.api_key",
            "must be the key as the vendor shows it, 1 to 512 characters",
        ));
    }
    let email = match scheme {
        KeyScheme::EmailToken => {
            let email = email.map(str::trim).unwrap_or_default();
            if !email.contains('@') || email.len() > 254 || email.chars().any(char::is_whitespace) {
                return Err(ApiError::validation(
                    "credentials.email",
                    format!(
                        "must be the email of the {} agent the token belongs to",
                        provider.name
                    ),
                ));
            }
            Some(email.to_owned())
        }
        // SendGrid sends from a verified sender: its address is given with the key.
        KeyScheme::Bearer
            if provider.category == crate::service::integrations::providers::Category::Email =>
        {
            let email = email.map(str::trim).unwrap_or_default();
            if !crate::service::mail::smtp::valid_address(email) {
                return Err(ApiError::validation(
                    "credentials.email",
                    format!(
                        "must be the sender address verified in {} (Settings → Sender Authentication)",
                        provider.name
                    ),
                ));
            }
            Some(email.to_owned())
        }
        KeyScheme::Bearer | KeyScheme::KeyAsUser => None,
    };
    let at = now();
    let existing = integration::Entity::find()
        .filter(integration::Column::OrganizationId.eq(organization_id))
        .filter(integration::Column::Provider.eq(provider.key))
        .one(vendors.db.conn())
        .await?;
    let credentials = Credentials {
        access_token: None,
        refresh_token: None,
        api_key: Some(key.to_owned()),
        email,
        webhook_secret: None,
    };
    // The row first (the calls that check the key are recorded against it), sealed, still pending.
    let id = existing
        .as_ref()
        .map_or_else(|| new_id(Kind::Integration), |m| m.id.clone());
    let account = merged_account(
        existing.as_ref().map_or(&Value::Null, |m| &m.account),
        choice_account,
    );
    let sealed = credentials.seal(&vendors.sealer, &id)?;
    let status_before = existing.as_ref().map(|m| m.status.clone());
    let txn = vendors.db.begin_write().await?;
    let pending = match &existing {
        Some(model) => {
            let mut row: integration::ActiveModel = model.clone().into();
            row.credentials = Set(Some(sealed));
            row.account = Set(account.clone());
            row.token_expires_at = Set(None);
            row.updated_at = Set(at);
            row.update(&*txn).await?
        }
        None => {
            pending_row(
                id.clone(),
                organization_id,
                provider,
                account.clone(),
                Some(sealed),
                at,
            )
            .insert(&*txn)
            .await?
        }
    };
    txn.commit().await?;
    let mut connection = Connection {
        model: pending.clone(),
        provider,
        credentials,
    };
    let info = match describe(vendors, &mut connection, None).await {
        Ok(info) => info,
        Err(failure) => {
            // Put everything back as it was.
            let txn = vendors.db.begin_write().await?;
            match existing {
                Some(model) => {
                    integration::ActiveModel::from(model)
                        .reset_all()
                        .update(&*txn)
                        .await?;
                }
                None => {
                    integration::Entity::delete_by_id(id).exec(&*txn).await?;
                }
            }
            txn.commit().await?;
            let field = match failure {
                Failure::Authorization(_) | Failure::Validation(_) => "credentials.api_key",
                _ => "account",
            };
            return Err(ApiError::validation(
                field,
                format!(
                    "{} did not accept the connection: {}",
                    provider.name,
                    failure.message()
                ),
            ));
        }
    };
    connection.model.account = merged_account(&connection.model.account, info.account);
    let warning =
        crate::service::integrations::helpdesk::after_connect(vendors, &mut connection).await;
    let account = connection.model.account.clone();
    let mut row: integration::ActiveModel = pending.into();
    row.status = Set(IntegrationStatus::Connected.as_str().to_owned());
    row.credentials = Set(Some(
        connection
            .credentials
            .seal(&vendors.sealer, &connection.model.id)?,
    ));
    row.account = Set(account.clone());
    row.refresh_failures = Set(0);
    row.last_error = Set(warning.clone());
    row.connected_by = Set(match &principal.actor {
        Actor::User { id, .. } => Some(id.clone()),
        _ => None,
    });
    row.connected_at = Set(Some(at));
    row.updated_at = Set(now());
    let model = record_connected(
        vendors,
        principal,
        row,
        json!(status_before),
        Some("api_key"),
    )
    .await?;
    let message = match warning {
        Some(warning) => format!("{}, but {warning}", info.description),
        None => info.description,
    };
    Ok(Started {
        integration: Integration::new(model)?,
        authorize_url: None,
        state: None,
        message: Some(message),
    })
}
