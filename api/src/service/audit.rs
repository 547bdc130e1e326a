//! The tamper-evident audit log: administrative actions appended in the transaction of the change, each
//! entry hash-chained to the previous one of its organization so that an edit or a deletion is detectable.
//!
//! The chain's head is kept outside the log too (`audit_heads`, and each day's checkpoint signed with a
//! key derived from the master key, also written to the server log), so that deleting the newest entries, which
//! leaves a shorter chain still intact, is detected as well: see [`verify`].

mod checkpoints;
mod verify;

pub use checkpoints::{Anchor, read_anchors, stored_checkpoints, write_checkpoints};
pub use verify::{VerifyReport, verify};

use entities::{audit_entry, audit_head, organization};
use sea_orm::sea_query::LockType;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QuerySelect, Select, Set,
};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::auth::{Origin, Principal};
use crate::authz::{Action, Grant, Resource, authorize};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::ids::{Kind, new_id};
use crate::service::{Created, Order, Page, PageRequest, in_order, now};
use crate::text_enum::text_enum;

/// The `prev_hash` of an organization's first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did it, as recorded.
#[derive(Clone, Debug)]
pub enum AuditActor<'a> {
    /// A caller of the API.
    Principal(&'a Principal),
    /// Someone signing in as this member, before there is a principal.
    SigningIn {
        user_id: &'a str,
        origin: &'a Origin,
    },
    /// Someone not (yet) known, such as a refused SSO sign-in.
    Anonymous { origin: &'a Origin },
    /// The command line or the server itself.
    System,
}

text_enum! {
    /// What an audit entry records: `resource.verb`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum AuditAction: "audit action" {
        ApiKeyCreated = "api_key.created",
        ApiKeyRevoked = "api_key.revoked",
        ApiKeyRotated = "api_key.rotated",
        EmailTemplateUpdated = "email_template.updated",
        IntegrationConnected = "integration.connected",
        IntegrationDisconnected = "integration.disconnected",
        IntegrationUpdated = "integration.updated",
        MemberDeactivated = "member.deactivated",
        MemberInvitationIssued = "member.invitation_issued",
        MemberInvited = "member.invited",
        MemberLogin = "member.login",
        MemberLoginFailed = "member.login_failed",
        MemberLogout = "member.logout",
        MemberPasswordSet = "member.password_set",
        MemberProvisioned = "member.provisioned",
        MemberRoleChanged = "member.role_changed",
        MemberSsoFailed = "member.sso_failed",
        OrganizationCreated = "organization.created",
        OrganizationPlanChanged = "organization.plan_changed",
        OrganizationSsoEnforced = "organization.sso_enforced",
        SessionRevoked = "session.revoked",
        SsoConnectionCreated = "sso_connection.created",
        SsoConnectionDeleted = "sso_connection.deleted",
        SsoConnectionUpdated = "sso_connection.updated",
        WebhookCreated = "webhook.created",
        WebhookDeleted = "webhook.deleted",
        WebhookSecretRotated = "webhook.secret_rotated",
        WebhookUpdated = "webhook.updated",
    }
}

/// What changed.
#[derive(Clone, Debug)]
pub struct Change<'a> {
    pub action: AuditAction,
    pub target_type: &'a str,
    pub target_id: Option<&'a str>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Filters of the audit log.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor_id: Option<String>,
    pub target_id: Option<String>,
    pub created: Created,
    pub order: Order,
}

/// Appends one entry inside the caller's transaction, chained to the organization's last entry.
pub(crate) async fn append(
    conn: &impl ConnectionTrait,
    organization_id: &str,
    actor: AuditActor<'_>,
    change: Change<'_>,
) -> ApiResult<audit_entry::Model> {
    // Serialize appends per organization: a row lock on PostgreSQL (FOR NO KEY UPDATE, which does not
    // conflict with the KEY SHARE locks that inserts referencing the organization take, so no deadlock);
    // SQLite has a single writer anyway.
    organization::Entity::find_by_id(organization_id.to_owned())
        .lock(LockType::NoKeyUpdate)
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::not_found("organization", organization_id))?;
    // The head comes from `audit_heads`, not from the log's last entry: after the newest entries were deleted,
    // the next entry still follows the deleted head, and the gap shows.
    let head = audit_head::Entity::find_by_id(organization_id.to_owned())
        .one(conn)
        .await?;
    let (actor_type, actor_id, origin) = match actor {
        AuditActor::Principal(p) => (
            p.actor.kind(),
            Some(p.actor_id().to_owned()),
            p.origin.clone(),
        ),
        AuditActor::SigningIn { user_id, origin } => {
            ("user", Some(user_id.to_owned()), origin.clone())
        }
        AuditActor::Anonymous { origin } => ("anonymous", None, origin.clone()),
        AuditActor::System => ("system", None, Origin::default()),
    };
    let mut entry = audit_entry::Model {
        id: new_id(Kind::AuditEntry),
        organization_id: organization_id.to_owned(),
        seq: head.as_ref().map_or(1, |h| h.seq + 1),
        actor_type: actor_type.to_owned(),
        actor_id,
        action: change.action.as_str().to_owned(),
        target_type: change.target_type.to_owned(),
        target_id: change.target_id.map(str::to_owned),
        ip: origin.ip,
        user_agent: origin.user_agent,
        before: change.before.as_ref().map(canonical),
        after: change.after.as_ref().map(canonical),
        created_at: now(),
        prev_hash: head
            .as_ref()
            .map_or_else(|| GENESIS.to_owned(), |h| h.hash.clone()),
        hash: String::new(),
    };
    entry.hash = hash_of(&entry);
    let moved = audit_head::ActiveModel {
        organization_id: Set(organization_id.to_owned()),
        seq: Set(entry.seq),
        hash: Set(entry.hash.clone()),
        updated_at: Set(entry.created_at),
    };
    if head.is_some() {
        moved.update(conn).await?;
    } else {
        moved.insert(conn).await?;
    }
    Ok(audit_entry::ActiveModel {
        id: Set(entry.id),
        organization_id: Set(entry.organization_id),
        seq: Set(entry.seq),
        actor_type: Set(entry.actor_type),
        actor_id: Set(entry.actor_id),
        action: Set(entry.action),
        target_type: Set(entry.target_type),
        target_id: Set(entry.target_id),
        ip: Set(entry.ip),
        user_agent: Set(entry.user_agent),
        before: Set(entry.before),
        after: Set(entry.after),
        created_at: Set(entry.created_at),
        prev_hash: Set(entry.prev_hash),
        hash: Set(entry.hash),
    }
    .insert(conn)
    .await?)
}

/// Appends what a caller changed on one target: the common case of [`append`].
pub(crate) async fn record(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    action: AuditAction,
    (target_type, target_id): (&str, &str),
    before: Option<Value>,
    after: Option<Value>,
) -> ApiResult<()> {
    let change = Change {
        action,
        target_type,
        target_id: Some(target_id),
        before,
        after,
    };
    append(
        conn,
        principal.organization_of_record(),
        AuditActor::Principal(principal),
        change,
    )
    .await?;
    Ok(())
}

/// JSON with every object's keys sorted, so the hash does not depend on how a database stores objects.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for key in keys {
                out.insert(key.clone(), canonical(&map[key]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Hex SHA-256 of the previous hash and the entry's content (everything but its own hash).
pub fn hash_of(entry: &audit_entry::Model) -> String {
    let content = json!([
        entry.id,
        entry.organization_id,
        entry.seq,
        entry.actor_type,
        entry.actor_id,
        entry.action,
        entry.target_type,
        entry.target_id,
        entry.ip,
        entry.user_agent,
        entry.before.as_ref().map(canonical),
        entry.after.as_ref().map(canonical),
        entry
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    ]);
    let mut hasher = Sha256::new();
    hasher.update(entry.prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(content.to_string().as_bytes());
    hex::encode(hasher.finalize())
}

fn filtered(grant: &Grant<'_>, filter: &AuditFilter) -> Select<audit_entry::Entity> {
    let mut query = audit_entry::Entity::find()
        .filter(audit_entry::Column::OrganizationId.eq(grant.organization_id()));
    if let Some(action) = &filter.action {
        query = query.filter(audit_entry::Column::Action.eq(action));
    }
    if let Some(actor) = &filter.actor_id {
        query = query.filter(audit_entry::Column::ActorId.eq(actor));
    }
    if let Some(target) = &filter.target_id {
        query = query.filter(audit_entry::Column::TargetId.eq(target));
    }
    filter.created.apply(query, audit_entry::Column::CreatedAt)
}

/// How many entries match the filter.
pub async fn count(db: &Db, principal: &Principal, filter: &AuditFilter) -> ApiResult<u64> {
    let grant = authorize(principal, Resource::AuditLog, Action::Read).await?;
    Ok(filtered(&grant, filter).count(db.conn()).await?)
}

/// One entry of the organization's audit log.
pub async fn get(db: &Db, principal: &Principal, id: &str) -> ApiResult<audit_entry::Model> {
    let grant = authorize(principal, Resource::AuditLog, Action::Read).await?;
    let id = crate::ids::lookup(Kind::AuditEntry, id)?;
    audit_entry::Entity::find_by_id(id.to_owned())
        .filter(audit_entry::Column::OrganizationId.eq(grant.organization_id()))
        .one(db.conn())
        .await?
        .ok_or_else(|| ApiError::not_found("audit entry", id))
}

/// The organization's audit log, newest first.
pub async fn list(
    db: &Db,
    principal: &Principal,
    filter: &AuditFilter,
    page: &PageRequest,
) -> ApiResult<Page<audit_entry::Model>> {
    let grant = authorize(principal, Resource::AuditLog, Action::Read).await?;
    in_order(
        db.conn(),
        filtered(&grant, filter),
        audit_entry::Column::Id,
        page,
        filter.order,
    )
    .await
}
