//! Connecting a custom SMTP server: its settings checked field by field, then by connecting to it (TLS as
//! chosen, AUTH with the password); kept only when the server accepts, the password sealed.

use entities::integration;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};

use crate::auth::{Actor, Principal};
use crate::error::{ApiError, ApiResult};
use crate::ids::{Kind, new_id};
use crate::service::integrations::connect::{
    ConnectIntegration, Started, pending_row, record_connected,
};
use crate::service::integrations::credentials::Credentials;
use crate::service::integrations::executor::{Failure, Vendors};
use crate::service::integrations::providers::Provider;
use crate::service::integrations::{Integration, IntegrationStatus, merged_account};
use crate::service::mail::smtp;
use crate::service::now;

/// Connects (or reconnects) the organization's SMTP server. A password left out keeps the stored one, so that
/// other settings can change without typing it again.
pub(super) async fn connect_smtp(
    vendors: &Vendors,
    principal: &Principal,
    provider: &'static Provider,
    input: &ConnectIntegration,
    organization_id: &str,
) -> ApiResult<Started> {
    let Some(typed) = &input.smtp else {
        return Err(ApiError::validation(
            "smtp",
            "give the SMTP server's host, port, security and sender",
        ));
    };
    let (settings, password) = typed.validated()?;
    let existing = integration::Entity::find()
        .filter(integration::Column::OrganizationId.eq(organization_id))
        .filter(integration::Column::Provider.eq(provider.key))
        .one(vendors.db.conn())
        .await?;
    let password = match password {
        Some(password) => Some(password),
        None => match &existing {
            Some(model) if model.status != IntegrationStatus::Disconnected.as_str() => {
                Credentials::open(&vendors.sealer, model)?.api_key
            }
            _ => None,
        },
    };
    if !settings.username.is_empty() && password.is_none() {
        return Err(ApiError::validation(
            "smtp.password",
            "give the password of the SMTP user",
        ));
    }
    let message = smtp::check(
        &settings,
        password.as_deref(),
        vendors.settings.egress_allow.as_deref(),
    )
    .await
    .map_err(|failure| {
        let field = match failure {
            Failure::Authorization(_) => "smtp.password",
            _ => "smtp.host",
        };
        ApiError::validation(
            field,
            format!(
                "the SMTP server did not accept the connection: {}",
                failure.message()
            ),
        )
    })?;
    let at = now();
    let id = existing
        .as_ref()
        .map_or_else(|| new_id(Kind::Integration), |m| m.id.clone());
    let credentials = Credentials {
        api_key: password,
        ..Credentials::default()
    };
    let sealed = credentials.seal(&vendors.sealer, &id)?;
    let account = merged_account(&Value::Null, settings.to_account());
    let status_before = existing.as_ref().map(|m| m.status.clone());
    let txn = vendors.db.begin_write().await?;
    let pending = match existing {
        Some(model) => model,
        None => {
            pending_row(id, organization_id, provider, account.clone(), None, at)
                .insert(&*txn)
                .await?
        }
    };
    txn.commit().await?;
    let mut row: integration::ActiveModel = pending.into();
    row.status = Set(IntegrationStatus::Connected.as_str().to_owned());
    row.credentials = Set(Some(sealed));
    row.account = Set(account);
    row.token_expires_at = Set(None);
    row.refresh_failures = Set(0);
    row.last_error = Set(None);
    row.connected_by = Set(match &principal.actor {
        Actor::User { id, .. } => Some(id.clone()),
        _ => None,
    });
    row.connected_at = Set(Some(at));
    row.updated_at = Set(now());
    let model =
        record_connected(vendors, principal, row, json!(status_before), Some("smtp")).await?;
    Ok(Started {
        integration: Integration::new(model)?,
        authorize_url: None,
        state: None,
        message: Some(message),
    })
}
