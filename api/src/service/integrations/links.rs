//! Links: a local object's copy at a vendor, per connection, so that a retry updates it instead of making another.

use entities::integration_link;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::db::Db;
use crate::error::ApiResult;
use crate::service::now;

/// The remote copy of `local_id` (a visitor's contact, a conversation's case) at this connection.
pub async fn get(
    db: &Db,
    integration_id: &str,
    object: &str,
    local_id: &str,
) -> ApiResult<Option<integration_link::Model>> {
    Ok(integration_link::Entity::find_by_id((
        integration_id.to_owned(),
        object.to_owned(),
        local_id.to_owned(),
    ))
    .one(db.conn())
    .await?)
}

/// The local object whose remote copy at this connection is `remote_id` (a ticket's conversation).
pub async fn local_of(
    db: &Db,
    integration_id: &str,
    object: &str,
    remote_id: &str,
) -> ApiResult<Option<String>> {
    Ok(integration_link::Entity::find()
        .filter(integration_link::Column::IntegrationId.eq(integration_id))
        .filter(integration_link::Column::Object.eq(object))
        .filter(integration_link::Column::RemoteId.eq(remote_id))
        .one(db.conn())
        .await?
        .map(|link| link.local_id))
}

/// Records (or moves) the remote copy, with a hash of what was sent; written at once, in its own transaction,
/// so that a crash right after the vendor's answer still finds it.
pub async fn put(
    db: &Db,
    organization_id: &str,
    integration_id: &str,
    object: &str,
    local_id: &str,
    remote_id: &str,
    payload_hash: Option<&str>,
) -> ApiResult<()> {
    let at = now();
    let row = integration_link::ActiveModel {
        integration_id: Set(integration_id.to_owned()),
        object: Set(object.to_owned()),
        local_id: Set(local_id.to_owned()),
        organization_id: Set(organization_id.to_owned()),
        remote_id: Set(remote_id.to_owned()),
        payload_hash: Set(payload_hash.map(str::to_owned)),
        created_at: Set(at),
        updated_at: Set(at),
    };
    let txn = db.begin_write().await?;
    integration_link::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                integration_link::Column::IntegrationId,
                integration_link::Column::Object,
                integration_link::Column::LocalId,
            ])
            .update_columns([
                integration_link::Column::RemoteId,
                integration_link::Column::PayloadHash,
                integration_link::Column::UpdatedAt,
            ])
            .to_owned(),
        )
        .exec(&*txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// Forgets a remote copy the vendor no longer has.
pub async fn remove(db: &Db, integration_id: &str, object: &str, local_id: &str) -> ApiResult<()> {
    let txn = db.begin_write().await?;
    integration_link::Entity::delete_many()
        .filter(integration_link::Column::IntegrationId.eq(integration_id))
        .filter(integration_link::Column::Object.eq(object))
        .filter(integration_link::Column::LocalId.eq(local_id))
        .exec(&*txn)
        .await?;
    txn.commit().await?;
    Ok(())
}
