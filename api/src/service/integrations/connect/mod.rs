//! Connecting: the OAuth 2.0 authorization-code grant (PKCE where the vendor has it), with a `state` bound to the
//! browser, the organization and the member who started it, finished by one callback per provider; a pasted
//! key instead in `key.rs`; the account choices in `account.rs`.

use chrono::Duration;
use entities::{integration, integration_authorization};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};

use crate::auth::{Actor, Principal, tokens};
use crate::authz::{Action, Resource, authorize};
use crate::error::{ApiError, ApiResult};
use crate::events::{names, outbox};
use crate::ids::{Kind, new_id};
use crate::service::audit::{self, AuditAction};
use crate::service::identity::sso::requests::validate_return_to;
use crate::service::integrations::credentials::{Connection, Credentials};
use crate::service::integrations::crm::settings::CrmSettings;
use crate::service::integrations::executor::{Failure, Vendors};
use crate::service::integrations::providers::{self, Category, Provider};
use crate::service::integrations::{
    Integration, IntegrationStatus, authorize_provider, describe, merged_account,
};
use crate::service::now;

/// The name of the cookie that binds an authorization under way to the browser that started it.
pub const STATE_COOKIE: &str = "concierge_integration_state";
/// How long the browser has to come back from the vendor.
pub const AUTHORIZATION_MINUTES: i64 = 15;

mod account;
mod key;
mod smtp;

pub use account::AccountChoice;
use account::account_of;

/// Input of `connectIntegration` / `POST /integrations`.
#[derive(Clone, Debug, Default)]
pub struct ConnectIntegration {
    pub provider: String,
    /// The path on this server to come back to after the vendor's authorization page.
    pub return_to: Option<String>,
    /// A key, for providers connected with one.
    pub api_key: Option<String>,
    /// Whose key it is, where the vendor's scheme names them (Zendesk: the agent's email).
    pub email: Option<String>,
    pub account: AccountChoice,
    /// A custom SMTP server's settings.
    pub smtp: Option<crate::service::mail::smtp::SmtpInput>,
}

/// A connection started: the browser goes to `authorize_url` (OAuth), or it is connected already (a key).
#[derive(Clone, Debug)]
pub struct Started {
    pub integration: Integration,
    pub authorize_url: Option<String>,
    /// The state to keep in the browser's [`STATE_COOKIE`].
    pub state: Option<String>,
    /// What the vendor said of the account, when it is connected already.
    pub message: Option<String>,
}

/// The default settings of a provider's category.
pub(super) fn default_settings(provider: &Provider) -> Value {
    match provider.category {
        Category::Crm => serde_json::to_value(CrmSettings::default()).unwrap_or(Value::Null),
        Category::Helpdesk => serde_json::to_value(
            crate::service::integrations::helpdesk::settings::HelpdeskSettings::default(),
        )
        .unwrap_or(Value::Null),
        Category::Email if provider.key == "mailchimp" => serde_json::to_value(
            crate::service::integrations::email::audience::AudienceSettings::default(),
        )
        .unwrap_or(Value::Null),
        Category::Email => json!({}),
    }
}

/// Starts connecting `provider`: for OAuth, the URL of the vendor's authorization page and the state to bind
/// to the browser; the organization's row for the provider is made (pending) if it has none.
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn connect(
    vendors: &Vendors,
    principal: &Principal,
    input: ConnectIntegration,
) -> ApiResult<Started> {
    let grant = authorize(principal, Resource::Integration, Action::Write).await?;
    let provider = providers::provider(input.provider.trim()).ok_or_else(|| {
        ApiError::validation(
            "provider",
            format!(
                "unknown provider {:?}; expected one of {}",
                input.provider,
                providers::PROVIDERS
                    .iter()
                    .map(|p| p.key)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })?;
    authorize_provider(principal, provider).await?;
    let choice_account = account_of(provider, &input.account)?;
    if provider.auth == providers::AuthKind::Smtp {
        return smtp::connect_smtp(
            vendors,
            principal,
            provider,
            &input,
            grant.organization_id(),
        )
        .await;
    }
    if input.smtp.is_some() {
        return Err(ApiError::validation(
            "smtp",
            format!(
                "{} is not an SMTP server: it takes no smtp settings",
                provider.name
            ),
        ));
    }
    match (provider.key_scheme(), &input.api_key) {
        (None, Some(_)) => {
            return Err(ApiError::validation(
                "credentials.api_key",
                format!(
                    "{} is connected through its own authorization page; it takes no key",
                    provider.name
                ),
            ));
        }
        (Some(scheme), Some(_)) => {
            return key::connect_with_key(
                vendors,
                principal,
                provider,
                scheme,
                choice_account,
                &input,
                grant.organization_id(),
            )
            .await;
        }
        (Some(_), None) if !provider.is_oauth() => {
            return Err(ApiError::validation(
                "credentials.api_key",
                format!("{} is connected with an API key: give it", provider.name),
            ));
        }
        _ => {}
    }
    let return_to = validate_return_to(input.return_to.as_deref())?;
    if !vendors.is_configured(provider) {
        return Err(ApiError::validation(
            "provider",
            format!(
                "{} cannot be connected on this server yet: its operator has to register a {} OAuth app and \
                 set CONCIERGE_OAUTH_{}_CLIENT_ID and CONCIERGE_OAUTH_{}_CLIENT_SECRET",
                provider.name,
                provider.name,
                provider.key.to_ascii_uppercase(),
                provider.key.to_ascii_uppercase()
            ),
        ));
    }
    let Actor::User { id: user_id, .. } = &principal.actor else {
        return Err(ApiError::Forbidden(format!(
            "{} is authorized in a browser by a signed-in owner or admin: connect it from the console",
            provider.name
        )));
    };
    let organization_id = grant.organization_id();
    let at = now();
    let txn = vendors.db.begin_write().await?;
    let existing = integration::Entity::find()
        .filter(integration::Column::OrganizationId.eq(organization_id))
        .filter(integration::Column::Provider.eq(provider.key))
        .one(&*txn)
        .await?;
    let model = match existing {
        Some(model) if model.status == IntegrationStatus::Disconnected.as_str() => {
            let mut row: integration::ActiveModel = model.into();
            row.status = Set(IntegrationStatus::Pending.as_str().to_owned());
            row.updated_at = Set(at);
            row.update(&*txn).await?
        }
        Some(model) => model,
        None => {
            pending_row(
                new_id(Kind::Integration),
                organization_id,
                provider,
                Value::Object(choice_account.clone()),
                None,
                at,
            )
            .insert(&*txn)
            .await?
        }
    };
    let state = tokens::random("");
    let pkce = provider
        .uses_pkce()
        .then(oauth2::PkceCodeChallenge::new_random_sha256);
    let sealed_verifier = match &pkce {
        Some((_, verifier)) => Some(
            vendors
                .sealer
                .seal(verifier.secret(), &verifier_context(&tokens::hash(&state)))?,
        ),
        None => None,
    };
    integration_authorization::ActiveModel {
        id: Set(tokens::hash(&state)),
        integration_id: Set(model.id.clone()),
        organization_id: Set(organization_id.to_owned()),
        provider: Set(provider.key.to_owned()),
        user_id: Set(user_id.clone()),
        verifier: Set(sealed_verifier),
        return_to: Set(return_to),
        account: Set(Value::Object(choice_account.clone())),
        created_at: Set(at),
        expires_at: Set(at + Duration::minutes(AUTHORIZATION_MINUTES)),
    }
    .insert(&*txn)
    .await?;
    // Authorizations nobody came back from.
    integration_authorization::Entity::delete_many()
        .filter(integration_authorization::Column::ExpiresAt.lt(at))
        .exec(&*txn)
        .await?;
    txn.commit().await?;
    let (client_id, _) = vendors
        .settings
        .oauth_app(provider.key)
        .ok_or_else(|| ApiError::internal_msg("the OAuth app vanished"))?;
    let mut url = vendors
        .endpoints
        .url(
            provider,
            provider.authorize_url,
            &Value::Object(choice_account),
        )
        .map_err(ApiError::internal_msg)?;
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", &vendors.redirect_uri(provider))
            .append_pair("scope", &provider.scopes.join(" "))
            .append_pair("state", &state);
        if let Some((challenge, _)) = &pkce {
            query
                .append_pair("code_challenge", challenge.as_str())
                .append_pair("code_challenge_method", challenge.method().as_str());
        }
        for (name, value) in provider.authorization_params {
            query.append_pair(name, value);
        }
    }
    Ok(Started {
        integration: Integration::new(model)?,
        authorize_url: Some(url.to_string()),
        state: Some(state),
        message: None,
    })
}

fn verifier_context(id: &str) -> String {
    format!("integration-pkce:{id}")
}

/// What the vendor's authorization page sent the browser back with.
#[derive(Clone, Debug, Default)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// Zoho: the accounts server of the data centre that authorized.
    pub accounts_server: Option<String>,
}

/// Where the browser goes after the callback: `return_to` with `integration`, `outcome` (`connected` or
/// `error`) and `message` added to its query.
fn back_to(return_to: &str, provider: &Provider, outcome: &str, message: &str) -> String {
    let base = url::Url::parse("http://return.invalid").ok();
    let Some(mut url) = base.and_then(|b| b.join(return_to).ok()) else {
        return "/".to_owned();
    };
    url.query_pairs_mut()
        .append_pair("integration", provider.key)
        .append_pair("outcome", outcome)
        .append_pair("message", message);
    let mut path = url.path().to_owned();
    if let Some(query) = url.query() {
        path.push('?');
        path.push_str(query);
    }
    if let Some(fragment) = url.fragment() {
        path.push('#');
        path.push_str(fragment);
    }
    path
}

/// Finishes an authorization: checks the state against the browser's cookie and the signed-in member who
/// started it, exchanges the code, stores the sealed tokens, asks the vendor who the account is, and answers
/// where to send the browser (the return path with the outcome). An unknown or used state is an error.
pub async fn finish(
    vendors: &Vendors,
    principal: Option<&Principal>,
    provider_key: &str,
    callback: Callback,
    cookie_state: Option<&str>,
) -> ApiResult<String> {
    let provider = providers::provider(provider_key)
        .ok_or_else(|| ApiError::NotFound(format!("no provider {provider_key:?}")))?;
    let state = callback
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::BadRequest("the callback has no state".to_owned()))?;
    let id = tokens::hash(state);
    let txn = vendors.db.begin_write().await?;
    let pending = integration_authorization::Entity::find_by_id(id.clone())
        .filter(integration_authorization::Column::Provider.eq(provider.key))
        .one(&*txn)
        .await?;
    let deleted = integration_authorization::Entity::delete_by_id(id)
        .exec(&*txn)
        .await?;
    txn.commit().await?;
    let Some(pending) = pending.filter(|_| deleted.rows_affected == 1) else {
        return Err(ApiError::BadRequest(format!(
            "unknown or already used {} authorization: start connecting again",
            provider.name
        )));
    };
    let refuse = |message: &str| Ok(back_to(&pending.return_to, provider, "error", message));
    if pending.expires_at <= now() {
        return refuse("the authorization took too long: connect again");
    }
    if cookie_state != Some(state) {
        return refuse("this authorization was not started in this browser: connect again");
    }
    let Some(principal) = principal.filter(|p| {
        matches!(&p.actor, Actor::User { id, .. } if *id == pending.user_id)
            && p.organization_of_record() == pending.organization_id
    }) else {
        return refuse("sign in as the member who started connecting, then connect again");
    };
    if let Err(err) = authorize_provider(principal, provider).await {
        return refuse(&err.public_message());
    }
    if let Some(error) = &callback.error {
        let said = callback.error_description.as_deref().unwrap_or(error);
        return refuse(&format!("{} did not authorize: {said}", provider.name));
    }
    let Some(code) = callback.code.as_deref().filter(|c| !c.is_empty()) else {
        return refuse(&format!("{} sent no authorization code", provider.name));
    };
    let model = integration::Entity::find_by_id(pending.integration_id.clone())
        .filter(integration::Column::OrganizationId.eq(&pending.organization_id))
        .one(vendors.db.conn())
        .await?
        .ok_or_else(|| ApiError::not_found("integration", &pending.integration_id))?;
    let mut account = pending.account.as_object().cloned().unwrap_or_default();
    if let Some(server) = &callback.accounts_server {
        match vendors.endpoints.vendor_origin(provider, server) {
            Ok(origin) => {
                let host = origin.split_once("://").map_or(origin.as_str(), |(_, h)| h);
                account.insert("accounts_host".to_owned(), Value::String(host.to_owned()));
            }
            Err(reason) => return refuse(&reason),
        }
    }
    let mut connection = Connection::open(&vendors.sealer, model.clone())?;
    connection.model.account = merged_account(&model.account, account.clone());
    let verifier = match &pending.verifier {
        Some(sealed) => Some(
            vendors
                .sealer
                .open(sealed, &verifier_context(&pending.id))?,
        ),
        None => None,
    };
    let tokens = match vendors
        .exchange_code(
            &connection,
            code,
            verifier.as_ref().map(secrecy::ExposeSecret::expose_secret),
        )
        .await
    {
        Ok(tokens) => tokens,
        Err(failure) => {
            record_error(vendors, &model, &failure).await?;
            return refuse(failure.message());
        }
    };
    account.extend(tokens.metadata.clone());
    connection.model.account = merged_account(&model.account, account.clone());
    connection.credentials = Credentials {
        access_token: Some(tokens.access_token),
        refresh_token: tokens.refresh_token,
        api_key: None,
        email: None,
        webhook_secret: None,
    };
    let at = now();
    connection.model.token_expires_at = tokens.expires_in.map(|s| at + Duration::seconds(s));
    let (message, described) = match describe(vendors, &mut connection, None).await {
        Ok(info) => {
            account.extend(info.account);
            (info.description, None)
        }
        Err(Failure::Authorization(reason)) => {
            record_error(vendors, &model, &Failure::Authorization(reason.clone())).await?;
            return refuse(&reason);
        }
        Err(failure) => (
            format!(
                "Connected to {}, but checking the account failed: {}",
                provider.name,
                failure.message()
            ),
            Some(failure.message().to_owned()),
        ),
    };
    connection.model.account = merged_account(&model.account, account);
    let warning =
        crate::service::integrations::helpdesk::after_connect(vendors, &mut connection).await;
    let (message, described) = match warning {
        Some(warning) => (
            format!("{message}, but {warning}"),
            described.or(Some(warning)),
        ),
        None => (message, described),
    };
    let account = connection.model.account.clone();
    let status_before = model.status.clone();
    let mut row: integration::ActiveModel = model.clone().into();
    row.status = Set(IntegrationStatus::Connected.as_str().to_owned());
    row.credentials = Set(Some(
        connection.credentials.seal(&vendors.sealer, &model.id)?,
    ));
    row.account = Set(account.clone());
    row.token_expires_at = Set(connection.model.token_expires_at);
    row.refresh_lease_until = Set(None);
    row.last_refreshed_at = Set(Some(at));
    row.refresh_failures = Set(0);
    row.last_error = Set(described);
    row.connected_by = Set(Some(pending.user_id.clone()));
    row.connected_at = Set(Some(at));
    row.updated_at = Set(at);
    record_connected(vendors, principal, row, json!(status_before), None).await?;
    Ok(back_to(&pending.return_to, provider, "connected", &message))
}

/// A connection's first row, pending until the vendor accepts it.
pub(super) fn pending_row(
    id: String,
    organization_id: &str,
    provider: &Provider,
    account: Value,
    credentials: Option<String>,
    at: chrono::DateTime<chrono::Utc>,
) -> integration::ActiveModel {
    integration::ActiveModel {
        id: Set(id),
        organization_id: Set(organization_id.to_owned()),
        provider: Set(provider.key.to_owned()),
        status: Set(IntegrationStatus::Pending.as_str().to_owned()),
        credentials: Set(credentials),
        account: Set(account),
        settings: Set(default_settings(provider)),
        token_expires_at: Set(None),
        refresh_lease_until: Set(None),
        last_refreshed_at: Set(None),
        refresh_failures: Set(0),
        last_error: Set(None),
        connected_by: Set(None),
        connected_at: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
    }
}

/// Writes a connection as connected, with `integration.connected` and its audit entry (`auth` names how it was
/// authorized when not through OAuth).
pub(super) async fn record_connected(
    vendors: &Vendors,
    principal: &Principal,
    row: integration::ActiveModel,
    status_before: Value,
    auth: Option<&str>,
) -> ApiResult<integration::Model> {
    let txn = vendors.db.begin_write().await?;
    let model = row.update(&*txn).await?;
    let account = &model.account;
    outbox::record(
        &txn,
        &model.organization_id,
        names::INTEGRATION_CONNECTED,
        None,
        json!({"integration_id": model.id, "provider": model.provider, "account": account}),
    )
    .await?;
    let mut after = json!({"status": model.status, "account": account});
    if let Some(auth) = auth {
        after["auth"] = json!(auth);
    }
    audit::record(
        &*txn,
        principal,
        AuditAction::IntegrationConnected,
        ("integration", &model.id),
        Some(json!({"status": status_before})),
        Some(after),
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

/// Keeps what went wrong on the connection, for the page to show.
async fn record_error(
    vendors: &Vendors,
    model: &integration::Model,
    failure: &Failure,
) -> ApiResult<()> {
    let mut row: integration::ActiveModel = model.clone().into();
    row.last_error = Set(Some(failure.message().to_owned()));
    row.updated_at = Set(now());
    let txn = vendors.db.begin_write().await?;
    row.update(&*txn).await?;
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outcome_joins_the_return_paths_query() {
        let hubspot = providers::provider("hubspot").unwrap();
        assert_eq!(
            back_to(
                "/console/integrations?tab=crm",
                hubspot,
                "connected",
                "ok go"
            ),
            "/console/integrations?tab=crm&integration=hubspot&outcome=connected&message=ok+go"
        );
        assert_eq!(
            back_to("/", hubspot, "error", "no"),
            "/?integration=hubspot&outcome=error&message=no"
        );
    }
}
