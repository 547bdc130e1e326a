//! Integrations: the organization's connections to vendors (the CRMs first), their typed settings, tests, runs.
//!
//! A provider is data (`providers.rs`); a connection is a row with sealed credentials (`connect.rs` makes it,
//! through OAuth); every vendor call goes through one executor (`executor.rs`); what the customer reads of the
//! work done is a run (`runs.rs`). Vendor-specific calls live in one folder per category (`crm/`).

pub mod connect;
pub mod credentials;
pub mod crm;
pub mod email;
pub mod endpoints;
pub mod executor;
pub mod helpdesk;
pub mod jobs;
pub mod links;
pub mod pacing;
pub mod providers;
pub mod runs;
pub mod tokens;

use entities::integration;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::{Value, json};

use crate::auth::{Plan, Principal};
use crate::authz::{Action, Feature, Resource, authorize};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::events::{names, outbox};
use crate::ids::{self, Kind};
use crate::service::audit::{self, AuditAction};
use crate::service::integrations::credentials::Connection;
use crate::service::integrations::crm::settings::{CrmSettings, CrmSettingsPatch};
use crate::service::integrations::email::audience::{AudienceSettings, AudienceSettingsPatch};
use crate::service::integrations::executor::Vendors;
use crate::service::integrations::helpdesk::settings::{HelpdeskSettings, HelpdeskSettingsPatch};
use crate::service::integrations::providers::{Category, Provider};
use crate::service::now;
use crate::text_enum::text_enum;

text_enum! {
    /// Where a connection stands.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum IntegrationStatus: "integration status" {
        /// Started, waiting for the vendor's authorization.
        Pending = "pending",
        /// Working.
        Connected = "connected",
        /// The vendor refused the authorization for good: its jobs wait until the organization reconnects.
        ReauthorizationRequired = "reauthorization_required",
        /// Something other than the authorization is wrong; `last_error` says what.
        Error = "error",
        /// Disconnected by the organization; kept for its runs.
        Disconnected = "disconnected",
    }
}

/// An organization's connection to one provider.
#[derive(Clone, Debug)]
pub struct Integration {
    pub model: integration::Model,
    pub provider: &'static Provider,
}

impl Integration {
    fn new(model: integration::Model) -> ApiResult<Self> {
        let provider = providers::provider(&model.provider).ok_or_else(|| {
            ApiError::internal_msg(format!("stored integration provider {:?}", model.provider))
        })?;
        Ok(Self { model, provider })
    }

    pub fn status(&self) -> ApiResult<IntegrationStatus> {
        IntegrationStatus::named(&self.model.status).ok_or_else(|| {
            ApiError::internal_msg(format!("stored integration status {:?}", self.model.status))
        })
    }

    /// The CRM settings, for a CRM.
    pub fn crm(&self) -> Option<CrmSettings> {
        (self.provider.category == Category::Crm).then(|| CrmSettings::stored(&self.model.settings))
    }

    /// Where the vendor posts its changes when the admin sets that up in the vendor (it holds a secret); null
    /// for vendors that are registered on connect or sign what they send.
    pub fn inbound_url(&self, vendors: &Vendors) -> Option<String> {
        helpdesk::inbound::inbound_url(&vendors.public_url, &vendors.sealer, &self.model)
    }

    /// The mailing-list settings, for a provider that keeps an audience (Mailchimp).
    pub fn audience(&self) -> Option<AudienceSettings> {
        (self.provider.key == "mailchimp").then(|| AudienceSettings::stored(&self.model.settings))
    }

    /// The audiences the account has, as read when it was connected or last tested (Mailchimp).
    pub fn audiences(&self) -> Vec<(String, String, i64)> {
        email::mailchimp::audiences(&self.model.account)
    }

    /// The help-desk settings, when it is a help desk.
    pub fn helpdesk(&self) -> Option<HelpdeskSettings> {
        (self.provider.category == Category::Helpdesk)
            .then(|| HelpdeskSettings::stored(&self.model.settings))
    }

    /// The account fields shown to the organization (never a credential).
    pub fn account(&self) -> Vec<(String, String)> {
        self.model
            .account
            .as_object()
            .map(|fields| {
                fields
                    .iter()
                    .filter_map(|(k, v)| {
                        // Strings as they are, numbers (an SMTP port) and booleans in words; nothing nested.
                        let text = match v {
                            serde_json::Value::String(s) => s.clone(),
                            serde_json::Value::Number(n) => n.to_string(),
                            serde_json::Value::Bool(b) => b.to_string(),
                            _ => return None,
                        };
                        Some((k.clone(), text))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A provider as the organization sees it: whether its plan includes it, whether the server can connect it,
/// and its connection if there is one.
#[derive(Clone, Debug)]
pub struct Offered {
    pub provider: &'static Provider,
    pub included: bool,
    /// The lowest plan that includes it.
    pub required_plan: Option<Plan>,
    /// Whether the operator configured the vendor's OAuth app (API-key providers always are).
    pub configured: bool,
    /// The redirect URI to register with the vendor's OAuth app.
    pub redirect_uri: Option<String>,
    /// Where the vendor's app posts its notices for every workspace (Intercom's webhook URL, set in its
    /// Developer Hub).
    pub events_url: Option<String>,
    pub integration: Option<Integration>,
}

/// Every provider, with the organization's connection to it.
pub async fn list(vendors: &Vendors, principal: &Principal) -> ApiResult<Vec<Offered>> {
    let grant = authorize(principal, Resource::Integration, Action::Read).await?;
    let mut rows = integration::Entity::find()
        .filter(integration::Column::OrganizationId.eq(grant.organization_id()))
        .order_by_asc(integration::Column::Id)
        .all(vendors.db.conn())
        .await?;
    let mut offered = Vec::with_capacity(providers::PROVIDERS.len());
    for provider in providers::PROVIDERS {
        let included = crate::authz::includes_feature(principal, provider.feature).await?;
        let integration = match rows.iter().position(|r| r.provider == provider.key) {
            Some(index) => Some(Integration::new(rows.swap_remove(index))?),
            None => None,
        };
        offered.push(Offered {
            provider,
            included,
            required_plan: principal.authz.lowest_plan(provider.feature),
            configured: vendors.is_configured(provider),
            redirect_uri: provider.is_oauth().then(|| vendors.redirect_uri(provider)),
            events_url: (provider.key == "intercom").then(|| {
                format!(
                    "{}/integrations/{}/events",
                    vendors.public_url.trim_end_matches('/'),
                    provider.key
                )
            }),
            integration,
        });
    }
    Ok(offered)
}

/// The organization's connection `id`, found under `grant`'s organization.
async fn find(db: &Db, organization_id: &str, id: &str) -> ApiResult<Integration> {
    let id = ids::lookup(Kind::Integration, id)?;
    let model = integration::Entity::find_by_id(id.to_owned())
        .filter(integration::Column::OrganizationId.eq(organization_id))
        .one(db.conn())
        .await?
        .ok_or_else(|| ApiError::not_found("integration", id))?;
    Integration::new(model)
}

/// One of the organization's connections.
pub async fn get(db: &Db, principal: &Principal, id: &str) -> ApiResult<Integration> {
    let grant = authorize(principal, Resource::Integration, Action::Read).await?;
    find(db, grant.organization_id(), id).await
}

/// The resource whose write permission connecting (and configuring) `provider` needs: its category's plan feature.
pub(crate) fn feature_resource(provider: &Provider) -> Resource {
    match provider.feature {
        Feature::Crm => Resource::Crm,
        Feature::CrmAdvanced => Resource::CrmAdvanced,
        Feature::Helpdesk => Resource::Helpdesk,
        Feature::Webhooks | Feature::IntegrationsBasic => Resource::Integration,
    }
}

/// Checks that the caller may connect and configure `provider`: owners and admins, on a plan that includes it.
pub(crate) async fn authorize_provider(
    principal: &Principal,
    provider: &Provider,
) -> ApiResult<()> {
    authorize(principal, feature_resource(provider), Action::Write)
        .await
        .map(|_| ())
}

/// Changes to a connection: the settings of its category (absent keeps).
#[derive(Clone, Debug, Default)]
pub struct UpdateIntegration {
    pub crm: Option<CrmSettingsPatch>,
    pub helpdesk: Option<HelpdeskSettingsPatch>,
    pub audience: Option<AudienceSettingsPatch>,
}

/// Changes a connection's settings; what goes beyond the default mapping needs the premium plan.
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn update(
    db: &Db,
    principal: &Principal,
    id: &str,
    input: UpdateIntegration,
) -> ApiResult<Integration> {
    let grant = authorize(principal, Resource::Integration, Action::Write).await?;
    let current = find(db, grant.organization_id(), id).await?;
    authorize_provider(principal, current.provider).await?;
    let mut settings = current.model.settings.clone();
    if let Some(patch) = input.crm {
        let crm = current.crm().ok_or_else(|| {
            ApiError::validation("crm", format!("{} is not a CRM", current.provider.name))
        })?;
        let next = crm.patched(patch)?;
        let advanced = next.advanced_changes(&crm);
        if !advanced.is_empty() {
            authorize(principal, Resource::CrmAdvanced, Action::Write)
                .await
                .map_err(|err| match err {
                    ApiError::PlanUpgradeRequired(message) => {
                        ApiError::PlanUpgradeRequired(format!("{}: {message}", advanced.join(", ")))
                    }
                    other => other,
                })?;
        }
        settings = serde_json::to_value(&next).map_err(ApiError::internal)?;
    }
    if let Some(patch) = input.helpdesk {
        let helpdesk = current.helpdesk().ok_or_else(|| {
            ApiError::validation(
                "helpdesk",
                format!("{} is not a help desk", current.provider.name),
            )
        })?;
        let next = helpdesk.patched(patch)?;
        if next.assignment.mode
            != crate::service::integrations::helpdesk::settings::AssignmentMode::None
            && current.provider.key != "freshdesk"
        {
            return Err(ApiError::validation(
                "helpdesk.assignment",
                format!(
                    "{} assigns tickets by its own rules (its triggers and routing); assignment here is Freshdesk's",
                    current.provider.name
                ),
            ));
        }
        settings = serde_json::to_value(&next).map_err(ApiError::internal)?;
    }
    if let Some(patch) = input.audience {
        let audience = current.audience().ok_or_else(|| {
            ApiError::validation(
                "audience",
                format!("{} keeps no mailing list", current.provider.name),
            )
        })?;
        let next = audience.patched(patch)?;
        if let Some(id) = &next.audience_id
            && next.audience_id != audience.audience_id
        {
            let known = current.audiences();
            if !known.is_empty() && !known.iter().any(|(a, _, _)| a == id) {
                return Err(ApiError::validation(
                    "audience.audience_id",
                    format!(
                        "the Mailchimp account has no audience {id}; test the connection to read its audiences again"
                    ),
                ));
            }
        }
        settings = serde_json::to_value(&next).map_err(ApiError::internal)?;
    }
    if settings == current.model.settings {
        return Ok(current);
    }
    let before = json!({"settings": current.model.settings});
    let mut row: integration::ActiveModel = current.model.clone().into();
    row.settings = Set(settings.clone());
    row.updated_at = Set(now());
    let txn = db.begin_write().await?;
    let model = row.update(&*txn).await?;
    audit::record(
        &*txn,
        principal,
        AuditAction::IntegrationUpdated,
        ("integration", &model.id),
        Some(before),
        Some(json!({"settings": settings})),
    )
    .await?;
    txn.commit().await?;
    Integration::new(model)
}

/// What disconnecting did.
#[derive(Clone, Debug)]
pub struct Disconnected {
    pub integration: Integration,
    /// What the vendor said to the revocation, in words.
    pub revocation: String,
}

/// Disconnects: revokes the grant at the vendor where it allows it, forgets the credentials, cancels the jobs
/// not yet done. The row stays, with its runs.
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn disconnect(
    vendors: &Vendors,
    principal: &Principal,
    id: &str,
) -> ApiResult<Disconnected> {
    let grant = authorize(principal, Resource::Integration, Action::Delete).await?;
    let current = find(&vendors.db, grant.organization_id(), id).await?;
    if current.status()? == IntegrationStatus::Disconnected {
        return Err(ApiError::Conflict(format!(
            "the {} integration is already disconnected",
            current.provider.name
        )));
    }
    let mut connection = Connection::open(&vendors.sealer, current.model.clone())?;
    let unregistered = helpdesk::before_disconnect(vendors, &mut connection).await;
    let mut revocation = match vendors.revoke(&connection).await {
        Ok(said) => said,
        Err(failure) => format!(
            "{}; the credentials were forgotten here all the same",
            failure.message()
        ),
    };
    if let Some(problem) = unregistered {
        revocation = format!("{revocation}; {problem}");
    }
    let at = now();
    let mut row: integration::ActiveModel = current.model.clone().into();
    row.status = Set(IntegrationStatus::Disconnected.as_str().to_owned());
    row.credentials = Set(None);
    row.token_expires_at = Set(None);
    row.refresh_lease_until = Set(None);
    row.last_error = Set(None);
    row.updated_at = Set(at);
    let txn = vendors.db.begin_write().await?;
    let model = row.update(&*txn).await?;
    runs::cancel_pending(&txn, &model.id, "the integration was disconnected").await?;
    outbox::record(
        &txn,
        &model.organization_id,
        names::INTEGRATION_DISCONNECTED,
        None,
        json!({"integration_id": model.id, "provider": model.provider}),
    )
    .await?;
    audit::record(
        &*txn,
        principal,
        AuditAction::IntegrationDisconnected,
        ("integration", &model.id),
        Some(json!({"status": current.model.status})),
        Some(json!({"status": model.status, "revocation": revocation})),
    )
    .await?;
    txn.commit().await?;
    Ok(Disconnected {
        integration: Integration::new(model)?,
        revocation,
    })
}

/// What testing a connection found.
#[derive(Clone, Debug)]
pub struct Tested {
    pub integration: Integration,
    pub success: bool,
    /// The vendor's answer, in words.
    pub message: String,
    /// The run that records the calls made.
    pub run: runs::Run,
}

/// Makes a real call to the vendor and says what it answered; the calls are kept as a run.
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn test(vendors: &Vendors, principal: &Principal, id: &str) -> ApiResult<Tested> {
    let grant = authorize(principal, Resource::Integration, Action::Write).await?;
    let current = find(&vendors.db, grant.organization_id(), id).await?;
    authorize_provider(principal, current.provider).await?;
    let status = current.status()?;
    if matches!(
        status,
        IntegrationStatus::Pending | IntegrationStatus::Disconnected
    ) {
        return Err(ApiError::Conflict(format!(
            "the {} integration is not connected: connect it first",
            current.provider.name
        )));
    }
    let mut connection = Connection::open(&vendors.sealer, current.model.clone())?;
    let run_id = ids::new_id(Kind::IntegrationRun);
    let outcome = if email::sends_mail(connection.provider.key) {
        let to = caller_address(&vendors.db, principal).await?;
        email::send_test(vendors, &mut connection, to.as_deref()).await
    } else {
        describe(vendors, &mut connection, Some(&run_id)).await
    };
    let (success, message) = match &outcome {
        Ok(info) => (true, info.description.clone()),
        Err(failure) => (false, failure.message().to_owned()),
    };
    let run = runs::record_test(&vendors.db, &connection.model, run_id, &outcome).await?;
    // What the vendor said of the account now (Mailchimp's audiences) replaces what was read before.
    if let Ok(info) = &outcome
        && !info.account.is_empty()
    {
        let mut row: integration::ActiveModel = current.model.clone().into();
        row.account = Set(merged_account(&current.model.account, info.account.clone()));
        let txn = vendors.db.begin_write().await?;
        row.update(&*txn).await?;
        txn.commit().await?;
    }
    let model = integration::Entity::find_by_id(current.model.id.clone())
        .one(vendors.db.conn())
        .await?
        .ok_or_else(|| ApiError::not_found("integration", &current.model.id))?;
    Ok(Tested {
        integration: Integration::new(model)?,
        success,
        message,
        run,
    })
}

/// Where a test message goes: the signed-in member's address; for an API key, none (the sender's own).
async fn caller_address(db: &Db, principal: &Principal) -> ApiResult<Option<String>> {
    match &principal.actor {
        crate::auth::Actor::User { id, .. } => Ok(entities::user::Entity::find_by_id(id.clone())
            .one(db.conn())
            .await?
            .map(|u| u.email)),
        _ => Ok(None),
    }
}

/// The account fields of a connection merged with new ones.
pub(crate) fn merged_account(account: &Value, more: serde_json::Map<String, Value>) -> Value {
    let mut merged = account.as_object().cloned().unwrap_or_default();
    merged.extend(more);
    Value::Object(merged)
}

/// Asks the vendor who the connection is (a real call), whatever its category: used to test a connection and
/// right after connecting.
pub async fn describe(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
) -> Result<crm::AccountInfo, executor::Failure> {
    match connection.provider.category {
        providers::Category::Crm => crm::describe(vendors, connection, job_id).await,
        providers::Category::Helpdesk => helpdesk::describe(vendors, connection, job_id).await,
        providers::Category::Email => email::describe(vendors, connection, job_id).await,
    }
}
