//! Each day's signed checkpoint of every organization's audit log head: kept in `audit_checkpoints`, written to the server log, and read back from a copy kept elsewhere (`concierge audit verify --anchors`).
//!
//! A checkpoint is signed with a key derived from the master key, so the database alone can neither forge one
//! nor move one back; a copy kept outside the database (the log line, or `concierge audit checkpoints` run
//! from a scheduler) also survives the deletion of the newest checkpoints.

use std::collections::HashMap;

use chrono::Utc;
use entities::{audit_checkpoint, audit_head};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::Db;
use crate::error::ApiResult;
use crate::secrets::Sealer;

/// One checkpoint as it is signed, printed and read back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub organization_id: String,
    pub day: String,
    pub seq: i64,
    pub hash: String,
    pub signature: String,
}

impl Anchor {
    /// What the signature covers.
    pub(super) fn message(&self) -> String {
        signed_message(&self.organization_id, &self.day, self.seq, &self.hash)
    }
}

fn signed_message(organization_id: &str, day: &str, seq: i64, hash: &str) -> String {
    format!("concierge audit checkpoint\n{organization_id}\n{day}\n{seq}\n{hash}")
}

/// Writes today's checkpoint (UTC) of every organization whose head moved since its checkpoint of today, and
/// logs each; answers how many were written.
pub async fn write_checkpoints(db: &Db, sealer: &Sealer) -> ApiResult<u64> {
    let day = Utc::now().date_naive().to_string();
    let heads = audit_head::Entity::find().all(db.conn()).await?;
    // The head each organization's checkpoint of today names.
    let mut today: HashMap<String, i64> = audit_checkpoint::Entity::find()
        .filter(audit_checkpoint::Column::Day.eq(&day))
        .all(db.conn())
        .await?
        .into_iter()
        .map(|c| (c.organization_id, c.seq))
        .collect();
    let mut written = 0;
    for head in heads {
        let (organization_id, seq, hash) = (head.organization_id, head.seq, head.hash);
        let today = today.remove(&organization_id);
        if today == Some(seq) {
            continue;
        }
        let signature = sealer.sign_checkpoint(&signed_message(&organization_id, &day, seq, &hash));
        let row = audit_checkpoint::ActiveModel {
            id: Set(format!("{organization_id}:{day}")),
            organization_id: Set(organization_id.clone()),
            day: Set(day.clone()),
            seq: Set(seq),
            hash: Set(hash.clone()),
            signature: Set(signature.clone()),
            created_at: Set(Utc::now()),
        };
        if today.is_some() {
            row.update(db.conn()).await?;
        } else {
            row.insert(db.conn()).await?;
        }
        // The copy outside the database: keep these lines where the database's administrators cannot edit them.
        tracing::info!(
            organization_id = %organization_id,
            day = %day,
            seq,
            hash = %hash,
            signature = %signature,
            "audit checkpoint"
        );
        written += 1;
    }
    Ok(written)
}

/// Every stored checkpoint, oldest day first per organization.
pub async fn stored_checkpoints(db: &Db) -> ApiResult<Vec<Anchor>> {
    Ok(audit_checkpoint::Entity::find()
        .order_by_asc(audit_checkpoint::Column::OrganizationId)
        .order_by_asc(audit_checkpoint::Column::Day)
        .all(db.conn())
        .await?
        .into_iter()
        .map(|c| Anchor {
            organization_id: c.organization_id,
            day: c.day,
            seq: c.seq,
            hash: c.hash,
            signature: c.signature,
        })
        .collect())
}

/// The checkpoints in a copy kept elsewhere: one JSON object per line, as `concierge audit checkpoints` prints
/// them or as the server logs them with `CONCIERGE_LOG_FORMAT=json` (the fields under `fields`); other lines
/// are skipped.
pub fn read_anchors(text: &str) -> Vec<Anchor> {
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line.trim()).ok())
        .filter_map(|value| {
            let fields = value.get("fields").cloned().unwrap_or(value);
            let mut fields = fields;
            // The log writes seq as a number; a copy may quote it.
            if let Some(seq) = fields.get("seq").and_then(Value::as_str)
                && let Ok(seq) = seq.parse::<i64>()
            {
                fields["seq"] = seq.into();
            }
            serde_json::from_value::<Anchor>(fields).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_are_read_from_printed_and_logged_lines_and_other_lines_are_skipped() {
        let text = r#"{"organization_id":"org_1","day":"2026-12-07","seq":3,"hash":"ab","signature":"s1"}
not json at all
{"timestamp":"2026-12-07T10:00:00Z","level":"INFO","fields":{"message":"audit checkpoint","organization_id":"org_2","day":"2026-12-07","seq":9,"hash":"cd","signature":"s2"},"target":"api"}
{"fields":{"message":"listening","address":"127.0.0.1:8080"}}
"#;
        let anchors = read_anchors(text);
        assert_eq!(anchors.len(), 2);
        assert_eq!(anchors[0].organization_id, "org_1");
        assert_eq!(anchors[1].seq, 9);
        assert_eq!(
            anchors[1].message(),
            "concierge audit checkpoint\norg_2\n2026-12-07\n9\ncd"
        );
    }
}
