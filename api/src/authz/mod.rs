//! Authorization: the one place that says allow or deny, on the Casbin model in `model.conf` and stored policies.

// Every service function calls [`authorize`] first. The [`Grant`] it returns is the only way to read the
// caller's organization id, which every query is scoped by, so a service that skips the check does not compile.

pub mod adapter;
mod decisions;
pub mod objects;
mod permissions;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use casbin::{CoreApi, DefaultModel, Enforcer, MgmtApi, StringAdapter};
use tokio::sync::RwLock;

use crate::auth::roles::{Actor, Origin, Plan, Role};
use crate::auth::scopes::Scope;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use adapter::{Rule, SeaOrmAdapter, parse_policy, sync_static};
pub use objects::{Action, Feature, Resource};
pub use permissions::{Decision, permissions};

/// The Casbin model: RBAC with domains plus the plan → feature relation.
pub const MODEL: &str = include_str!("model.conf");
/// The versioned policies: role permissions, scopes and the plan table.
pub const POLICY: &str = include_str!("policy.csv");

/// The caller's organization. Its id is private to this module: services read it from a [`Grant`].
#[derive(Clone, PartialEq, Eq)]
pub struct Tenant(String);

impl Tenant {
    pub fn new(organization_id: String) -> Self {
        Self(organization_id)
    }
}

impl fmt::Debug for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The authenticated caller: its organization, plan, role, identity and origin.
#[derive(Clone, Debug)]
pub struct Principal {
    /// Readable only through the [`Grant`] that authorization returns.
    pub organization: Tenant,
    pub plan: Plan,
    /// The team role; a visitor holds none, and this is then `viewer`, which authorization does not read for it.
    pub role: Role,
    pub actor: Actor,
    pub origin: Origin,
    /// An API key's explicit scopes; `None` means its role alone decides.
    pub scopes: Option<Vec<Scope>>,
    /// The policy this caller is judged by.
    pub authz: Arc<Authz>,
}

impl Principal {
    /// The id recorded as the actor of a change.
    pub fn actor_id(&self) -> &str {
        match &self.actor {
            Actor::ApiKey { id } | Actor::User { id, .. } | Actor::Visitor { id, .. } => id,
        }
    }
}

/// Proof that [`authorize`] allowed an action; it carries the organization every query must be scoped to.
#[derive(Debug)]
pub struct Grant<'p> {
    organization_id: &'p str,
}

impl<'p> Grant<'p> {
    /// The organization the caller may act in.
    pub fn organization_id(&self) -> &'p str {
        self.organization_id
    }
}

impl Principal {
    /// The organization to record as the place of an action (audit entries, usage counts), never to scope a query.
    pub fn organization_of_record(&self) -> &str {
        &self.organization.0
    }

    /// Everything authorization judges this caller by, as one comparable value: callers with equal audiences get
    /// the same decision for every action (organization, plan and Casbin roles; each visitor is its own).
    pub fn audience(&self) -> String {
        let roles = self.casbin_roles().join(",");
        match &self.actor {
            Actor::Visitor { id, .. } => {
                format!("{}|{}|{roles}|{id}", self.organization.0, self.plan)
            }
            _ => format!("{}|{}|{roles}", self.organization.0, self.plan),
        }
    }

    /// The Casbin subject of this caller: its own id, or for a visitor the `visitor` role itself (visitors are
    /// many and short-lived, so the enforcer keeps no link per visitor).
    fn casbin_subject(&self) -> &str {
        match self.actor {
            Actor::Visitor { .. } => VISITOR,
            _ => self.actor_id(),
        }
    }

    /// The Casbin roles this caller holds: its role, or a scoped key's scopes; keys also hold `service_key`.
    fn casbin_roles(&self) -> Vec<String> {
        if matches!(self.actor, Actor::Visitor { .. }) {
            return vec![VISITOR.to_owned()];
        }
        let mut roles = match (&self.actor, &self.scopes) {
            (Actor::ApiKey { .. }, Some(scopes)) => scopes.iter().map(|s| scope_role(*s)).collect(),
            _ => vec![role_name(self.role)],
        };
        if matches!(self.actor, Actor::ApiKey { .. }) {
            roles.push(SERVICE_KEY.to_owned());
        }
        roles.sort();
        roles.dedup();
        roles
    }
}

const SERVICE_KEY: &str = "service_key";
/// The Casbin role (and subject) of every website visitor.
const VISITOR: &str = "visitor";

/// The Casbin role of a member role.
pub fn role_name(role: Role) -> String {
    format!("role:{role}")
}

/// The Casbin name of a plan.
pub fn plan_name(plan: Plan) -> String {
    format!("plan:{plan}")
}

/// The Casbin role of a key scope.
pub fn scope_role(scope: Scope) -> String {
    format!("scope:{}", scope.as_str())
}

/// The Casbin roles a key with `role` and optional `scopes` holds (stored with the key).
pub fn key_roles(role: Role, scopes: Option<&[Scope]>) -> Vec<String> {
    let mut roles = match scopes {
        Some(scopes) => scopes.iter().map(|s| scope_role(*s)).collect(),
        None => vec![role_name(role)],
    };
    roles.push(SERVICE_KEY.to_owned());
    roles.sort();
    roles.dedup();
    roles
}

/// The enforcer, with the role assignments it currently holds per subject and the plan per organization.
struct Inner {
    enforcer: Enforcer,
    /// `g`/`g2` targets per subject or organization, to tell in one lookup whether a caller's fresh principal matches.
    links: HashMap<String, Vec<String>>,
    /// Decisions already made, until a link changes: Casbin's matcher was the larger part of a small request.
    decisions: decisions::Decisions,
}

/// The Casbin enforcer shared by the requests of one instance.
///
/// Role assignments and plans are written to `authz_policies` in the same transaction as the change, and loaded
/// at start-up. Each request's principal is read from the database, so before enforcing, [`authorize`] brings
/// the enforcer's links for that caller up to date: a change made on another instance applies at once.
pub struct Authz {
    inner: RwLock<Inner>,
    /// The smallest plan that includes each feature, for the upgrade message.
    feature_plans: HashMap<String, String>,
    /// Every plan feature with the lowest plan that includes it, cheapest plan first, in the policy's order.
    features: Vec<(String, Plan)>,
}

impl fmt::Debug for Authz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authz").finish_non_exhaustive()
    }
}

fn casbin_error(err: casbin::Error) -> ApiError {
    ApiError::internal(anyhow::anyhow!("authorization engine: {err}"))
}

impl Authz {
    /// Stores `policy.csv` in the database (when it changed) and loads every policy from there.
    pub async fn load(db: &Db) -> anyhow::Result<Arc<Self>> {
        let wanted = parse_policy(POLICY);
        // Two instances starting together may race on the unique index: the loser finds the work done.
        if let Err(err) = sync_static(db, &wanted).await {
            tracing::debug!(error = %err, "retrying the policy sync");
            sync_static(db, &wanted).await?;
        }
        let model = DefaultModel::from_str(MODEL).await?;
        let enforcer = Enforcer::new(model, SeaOrmAdapter::new(db.clone())).await?;
        Ok(Arc::new(Self::from_enforcer(enforcer, &wanted)))
    }

    /// The shipped policies without a database, for commands and unit tests that have none.
    pub async fn detached() -> anyhow::Result<Arc<Self>> {
        let model = DefaultModel::from_str(MODEL).await?;
        let enforcer = Enforcer::new(model, StringAdapter::new(POLICY)).await?;
        Ok(Arc::new(Self::from_enforcer(
            enforcer,
            &parse_policy(POLICY),
        )))
    }

    fn from_enforcer(mut enforcer: Enforcer, rules: &[Rule]) -> Self {
        // Services store assignments in their own transactions; the enforcer only mirrors them.
        enforcer.enable_auto_save(false);
        let mut links: HashMap<String, Vec<String>> = HashMap::new();
        for ptype in ["g", "g2"] {
            for rule in enforcer.get_named_grouping_policy(ptype) {
                if let [subject, target, ..] = rule.as_slice()
                    && !subject.starts_with("plan:")
                {
                    links
                        .entry(subject.clone())
                        .or_default()
                        .push(target.clone());
                }
            }
        }
        links.values_mut().for_each(|targets| targets.sort());
        let mut feature_plans = HashMap::new();
        let mut features = Vec::new();
        for plan in Plan::ALL {
            for rule in rules.iter().filter(|r| r.ptype == "g2") {
                if let [from, feature] = rule.values.as_slice()
                    && *from == format!("plan:{plan}")
                    && !feature.starts_with("plan:")
                    && !feature_plans.contains_key(feature)
                {
                    feature_plans.insert(feature.clone(), plan.as_str().to_owned());
                    features.push((feature.clone(), plan));
                }
            }
        }
        Self {
            inner: RwLock::new(Inner {
                enforcer,
                links,
                decisions: decisions::Decisions::default(),
            }),
            feature_plans,
            features,
        }
    }

    /// Brings the enforcer's links for the caller up to date with its principal.
    async fn observe(&self, principal: &Principal) -> ApiResult<()> {
        // A visitor is judged as the `visitor` role itself: only its organization's plan needs linking.
        let visitor = matches!(principal.actor, Actor::Visitor { .. });
        let subject = principal.actor_id();
        let organization = principal.organization_of_record();
        let roles = principal.casbin_roles();
        let plan = vec![plan_name(principal.plan)];
        {
            let inner = self.inner.read().await;
            if (visitor || inner.links.get(subject) == Some(&roles))
                && inner.links.get(organization) == Some(&plan)
            {
                return Ok(());
            }
        }
        let mut inner = self.inner.write().await;
        if !visitor {
            inner
                .relink("g", subject, &roles, Some(organization))
                .await?;
        }
        inner.relink("g2", organization, &plan, None).await
    }

    /// Whether the organization's plan includes `feature`, through the `g2` links (organization → plan → feature).
    pub async fn plan_includes(&self, organization: &str, feature: &str) -> bool {
        let inner = self.inner.read().await;
        inner
            .enforcer
            .get_model()
            .get_model()
            .get("g")
            .and_then(|assertions| assertions.get("g2"))
            .is_some_and(|g2| g2.rm.read().has_link(organization, feature, None))
    }

    /// Whether `plan` includes `feature` (for background work, which has no principal to relink).
    pub async fn plan_has(&self, plan: Plan, feature: Feature) -> bool {
        self.plan_includes(&plan_name(plan), feature.name()).await
    }

    /// Every plan feature of the policy with the lowest plan that includes it, cheapest plan first.
    pub fn features(&self) -> &[(String, Plan)] {
        &self.features
    }

    /// Drops what the enforcer holds for a revoked key or a deactivated member.
    pub async fn forget(&self, subject: &str) {
        let mut inner = self.inner.write().await;
        if let Err(err) = inner.relink("g", subject, &[], None).await {
            tracing::warn!(error = ?err, subject, "could not drop authorization links");
        }
    }

    /// The (object, action) pairs a Casbin role's own permissions name.
    async fn permissions_of(&self, role: &str) -> Vec<(String, String)> {
        let inner = self.inner.read().await;
        inner
            .enforcer
            .get_filtered_policy(0, vec![role.to_owned()])
            .into_iter()
            .filter_map(|rule| match rule.as_slice() {
                [_, object, action, ..] => Some((object.clone(), action.clone())),
                _ => None,
            })
            .collect()
    }

    async fn enforce(
        &self,
        subject: &str,
        organization: &str,
        object: &str,
        action: &str,
    ) -> ApiResult<bool> {
        let inner = self.inner.read().await;
        let key = decisions::key(subject, organization, object, action);
        if let Some(known) = inner.decisions.get(&key) {
            return Ok(known);
        }
        let allowed = inner
            .enforcer
            .enforce((subject, organization, object, action))
            .map_err(casbin_error)?;
        inner.decisions.put(key, allowed);
        Ok(allowed)
    }

    /// The plan feature that one of `principal`'s roles would need for `action` on `object`, if its role
    /// allows it at all.
    async fn feature_needed(
        &self,
        principal: &Principal,
        object: &str,
        action: &str,
    ) -> Option<String> {
        let inner = self.inner.read().await;
        principal.casbin_roles().iter().find_map(|role| {
            inner
                .enforcer
                .get_filtered_policy(0, vec![role.clone(), object.to_owned(), action.to_owned()])
                .into_iter()
                .find_map(|rule| rule.get(3).cloned())
        })
    }

    /// The lowest plan that includes `feature`.
    pub fn lowest_plan(&self, feature: Feature) -> Option<Plan> {
        self.plan_with(feature.name())
    }

    /// The lowest plan that includes `feature`.
    fn plan_with(&self, feature: &str) -> Option<Plan> {
        self.feature_plans.get(feature).and_then(|p| Plan::named(p))
    }

    /// The (object, action) pairs that some policy rule names.
    async fn policy_pairs(&self) -> std::collections::HashSet<(String, String)> {
        let inner = self.inner.read().await;
        inner
            .enforcer
            .get_policy()
            .into_iter()
            .filter_map(|rule| match rule.as_slice() {
                [_, object, action, ..] => Some((object.clone(), action.clone())),
                _ => None,
            })
            .collect()
    }

    /// Why `principal` may not do `action` on `object`: its roles lack it (FORBIDDEN), or the plan does (PLAN_UPGRADE_REQUIRED).
    async fn denial(
        &self,
        principal: &Principal,
        object: &str,
        action: &str,
        what: String,
    ) -> ApiError {
        let feature = self.feature_needed(principal, object, action).await;
        match feature {
            Some(feature) => ApiError::PlanUpgradeRequired(format!(
                "{what} needs the {} plan (feature {feature}); this organization is on the {} plan",
                self.feature_plans
                    .get(&feature)
                    .map_or("a higher", String::as_str),
                principal.plan
            )),
            None if matches!(principal.actor, Actor::Visitor { .. }) => {
                ApiError::Forbidden(format!("a website visitor may not {what}"))
            }
            None if principal.scopes.is_some() => {
                ApiError::Forbidden(format!("this key's scopes do not allow it: {what}"))
            }
            None => ApiError::Forbidden(format!("the {} role may not {what}", principal.role)),
        }
    }
}

impl Inner {
    /// Makes `subject`'s links of `ptype` exactly `targets` (in `domain` for `g`).
    async fn relink(
        &mut self,
        ptype: &str,
        subject: &str,
        targets: &[String],
        domain: Option<&str>,
    ) -> ApiResult<()> {
        self.decisions.clear();
        if self.links.contains_key(subject) {
            self.enforcer
                .remove_filtered_named_grouping_policy(ptype, 0, vec![subject.to_owned()])
                .await
                .map_err(casbin_error)?;
        }
        if targets.is_empty() {
            self.links.remove(subject);
            return Ok(());
        }
        let rules = targets
            .iter()
            .map(|target| {
                let mut rule = vec![subject.to_owned(), target.clone()];
                rule.extend(domain.map(str::to_owned));
                rule
            })
            .collect();
        self.enforcer
            .add_named_grouping_policies(ptype, rules)
            .await
            .map_err(casbin_error)?;
        self.links.insert(subject.to_owned(), targets.to_vec());
        Ok(())
    }
}

/// Allows or denies `action` on `resource` for `principal`; the grant scopes what the caller may then query.
pub async fn authorize<'p>(
    principal: &'p Principal,
    resource: Resource,
    action: Action,
) -> ApiResult<Grant<'p>> {
    let authz = &principal.authz;
    authz.observe(principal).await?;
    let subject = principal.casbin_subject();
    let organization = principal.organization_of_record();
    let what = format!("{} {}", action.verb(), resource.noun());
    // The API-access tier: a basic organization's keys are read-only.
    if matches!(principal.actor, Actor::ApiKey { .. })
        && action != Action::Read
        && !authz.enforce(subject, organization, "api", "write").await?
    {
        return Err(ApiError::PlanUpgradeRequired(format!(
            "the {} plan's API access is read-only: upgrade to standard to {what} with an API key",
            principal.plan
        )));
    }
    if authz
        .enforce(subject, organization, resource.object(), action.as_str())
        .await?
    {
        Ok(Grant {
            organization_id: organization,
        })
    } else {
        Err(authz
            .denial(principal, resource.object(), action.as_str(), what)
            .await)
    }
}

/// Whether the caller's plan includes `feature`: objects it excludes stay readable but inactive.
pub async fn includes_feature(principal: &Principal, feature: Feature) -> ApiResult<bool> {
    let authz = &principal.authz;
    authz.observe(principal).await?;
    Ok(authz
        .plan_includes(principal.organization_of_record(), feature.name())
        .await)
}

/// Whether the caller may use an API surface (`api` object, action `surface`): every member session does, keys
/// need the plan feature that policy.csv names for it; `refusal` explains a refused key.
async fn authorize_api_surface(
    principal: &Principal,
    surface: &str,
    refusal: impl FnOnce(Plan) -> String,
) -> ApiResult<()> {
    let authz = &principal.authz;
    authz.observe(principal).await?;
    if matches!(principal.actor, Actor::User { .. })
        || authz
            .enforce(
                principal.casbin_subject(),
                principal.organization_of_record(),
                "api",
                surface,
            )
            .await?
    {
        Ok(())
    } else {
        Err(ApiError::PlanUpgradeRequired(refusal(principal.plan)))
    }
}

/// Whether the caller may use GraphQL: every member session, and keys on a plan with standard API access.
pub async fn authorize_graphql(principal: &Principal) -> ApiResult<()> {
    authorize_api_surface(principal, "graphql", |plan| {
        format!(
            "GraphQL API access needs the standard plan; the {plan} plan's API is read-only REST"
        )
    })
    .await
}

/// Whether the caller may hold live subscriptions: every member session (the dashboard's live view), and keys on
/// a plan with full API access (premium).
pub async fn authorize_subscriptions(principal: &Principal) -> ApiResult<()> {
    authorize_api_surface(principal, "subscribe", |plan| {
        format!(
            "GraphQL subscriptions with an API key need the premium plan's full API access; this organization is on {plan}"
        )
    })
    .await
}

/// Allows creating a key with `role` and `scopes`: the creator may grant the role, and neither the creator nor
/// the role lacks any right a scope gives, so a key never carries more than its creator has.
pub async fn authorize_key_rights<'p>(
    principal: &'p Principal,
    role: Role,
    scopes: Option<&[Scope]>,
) -> ApiResult<Grant<'p>> {
    let grant = authorize(principal, Resource::ApiKey, Action::Write).await?;
    authorize(principal, Resource::Role(role), Action::Grant).await?;
    let authz = &principal.authz;
    let organization = principal.organization_of_record();
    for scope in scopes.unwrap_or_default() {
        for (object, action) in authz.permissions_of(&scope_role(*scope)).await {
            let creator = authz
                .enforce(principal.casbin_subject(), organization, &object, &action)
                .await?;
            // A role name is its own subject in Casbin, so this asks what the role alone allows.
            let holder = authz
                .enforce(&role_name(role), organization, &object, &action)
                .await?;
            if !creator || !holder {
                return Err(ApiError::Forbidden(format!(
                    "the scope {} gives rights ({action} {object}) that this key's creator or its {role} role does not have",
                    scope.as_str()
                )));
            }
        }
    }
    Ok(grant)
}

/// Allows changing or deactivating the member `member_id` who holds `current`, on top of the `members` grant
/// the caller already holds (its proof is the first argument): one may not change one's own membership, and
/// touching a member needs the right to grant their role (and `new`, when given).
pub async fn authorize_member_change(
    _members: &Grant<'_>,
    principal: &Principal,
    member_id: &str,
    current: Role,
    new: Option<Role>,
) -> ApiResult<()> {
    if matches!(&principal.actor, Actor::User { id, .. } if id == member_id) {
        return Err(ApiError::Forbidden(
            "you may not change your own membership".to_owned(),
        ));
    }
    authorize(principal, Resource::Role(current), Action::Grant).await?;
    if let Some(new) = new {
        authorize(principal, Resource::Role(new), Action::Grant).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
