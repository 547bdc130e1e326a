//! API key usage: counted in memory on every request and flushed in batches (request count, last use and
//! requests per UTC day), so that authentication never writes to the database on the request path.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};
use entities::{api_key, api_key_usage};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::auth::{Actor, Principal};
use crate::db::Db;
use crate::error::ApiResult;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Bucket {
    api_key_id: String,
    organization_id: String,
    day: NaiveDate,
}

/// Pending counts since the last flush.
#[derive(Debug, Default)]
pub struct Usage {
    pending: Mutex<HashMap<Bucket, (i64, DateTime<Utc>)>>,
}

impl Usage {
    /// Counts one request of an API key.
    pub fn record(&self, principal: &Principal) {
        let Actor::ApiKey { id } = &principal.actor else {
            return;
        };
        let at = Utc::now();
        let bucket = Bucket {
            api_key_id: id.clone(),
            organization_id: principal.organization_of_record().to_owned(),
            day: at.date_naive(),
        };
        if let Ok(mut pending) = self.pending.lock() {
            let entry = pending.entry(bucket).or_insert((0, at));
            entry.0 += 1;
            entry.1 = at;
        }
    }

    /// Writes the pending counts in one write transaction (on SQLite, a write outside the write lock would make a
    /// concurrent request's transaction fail); counts that fail to write are logged and dropped, never retried.
    pub async fn flush(&self, db: &Db) -> ApiResult<()> {
        let batch: Vec<(Bucket, (i64, DateTime<Utc>))> = match self.pending.lock() {
            Ok(mut pending) => pending.drain().collect(),
            Err(_) => return Ok(()),
        };
        if batch.is_empty() {
            return Ok(());
        }
        let txn = db.begin_write().await?;
        for (bucket, (requests, last_used)) in batch {
            api_key::Entity::update_many()
                .col_expr(
                    api_key::Column::RequestCount,
                    Expr::col(api_key::Column::RequestCount).add(requests),
                )
                .col_expr(api_key::Column::LastUsedAt, Expr::value(last_used))
                .filter(api_key::Column::Id.eq(&bucket.api_key_id))
                .exec(&*txn)
                .await?;
            let row = api_key_usage::ActiveModel {
                api_key_id: Set(bucket.api_key_id.clone()),
                day: Set(bucket.day.format("%Y-%m-%d").to_string()),
                organization_id: Set(bucket.organization_id.clone()),
                requests: Set(requests),
            };
            api_key_usage::Entity::insert(row)
                .on_conflict(
                    OnConflict::columns([
                        api_key_usage::Column::ApiKeyId,
                        api_key_usage::Column::Day,
                    ])
                    .value(
                        api_key_usage::Column::Requests,
                        Expr::col((api_key_usage::Entity, api_key_usage::Column::Requests))
                            .add(Expr::cust("excluded.requests")),
                    )
                    .to_owned(),
                )
                .exec(&*txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }
}
