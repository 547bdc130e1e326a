//! `concierge audit verify`: every organization's chain walked and every hash recomputed, its end compared with its recorded head and with every signed checkpoint, stored or kept elsewhere.

use std::collections::HashMap;

use entities::{audit_entry, audit_head, organization};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::checkpoints::{Anchor, stored_checkpoints};
use super::{GENESIS, hash_of};
use crate::db::Db;
use crate::error::ApiResult;
use crate::secrets::Sealer;

/// What `concierge audit verify` found.
#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    pub organizations: u64,
    pub entries: u64,
    /// Checkpoints compared with the chains (stored and given).
    pub checkpoints: u64,
    /// Every break: edited content, a missing entry, a broken link, newest entries deleted, a checkpoint that
    /// is not this master key's.
    pub problems: Vec<String>,
}

/// A checkpoint to compare, and where it came from.
struct Expected {
    anchor: Anchor,
    source: String,
}

/// Walks every organization's chain, recomputes every hash, and compares each chain's end with its recorded
/// head, its stored checkpoints and `anchors` (a copy kept elsewhere, `source` naming it).
pub async fn verify(
    db: &Db,
    sealer: &Sealer,
    anchors: &[Anchor],
    source: &str,
) -> ApiResult<VerifyReport> {
    let mut report = VerifyReport::default();
    let mut expected: HashMap<String, Vec<Expected>> = HashMap::new();
    let stored = stored_checkpoints(db).await?;
    let given = anchors.iter().cloned().enumerate();
    for (anchor, source) in stored
        .into_iter()
        .map(|a| {
            let at = format!("the stored checkpoint of {}", a.day);
            (a, at)
        })
        .chain(given.map(|(n, a)| {
            let at = format!("the checkpoint of {} in {source} (line {})", a.day, n + 1);
            (a, at)
        }))
    {
        report.checkpoints += 1;
        if !sealer.checkpoint_holds(&anchor.message(), &anchor.signature) {
            report.problems.push(format!(
                "{}: {source} is not signed by this master key (forged or altered)",
                anchor.organization_id
            ));
            continue;
        }
        expected
            .entry(anchor.organization_id.clone())
            .or_default()
            .push(Expected { anchor, source });
    }
    let organizations: Vec<String> = organization::Entity::find()
        .select_only()
        .column(organization::Column::Id)
        .order_by_asc(organization::Column::Id)
        .into_tuple()
        .all(db.conn())
        .await?;
    let mut heads: HashMap<String, (i64, String)> = audit_head::Entity::find()
        .all(db.conn())
        .await?
        .into_iter()
        .map(|h| (h.organization_id, (h.seq, h.hash)))
        .collect();
    for organization_id in organizations {
        // No head yet: an empty chain, which ends where it begins.
        let (head_seq, head_hash) = heads
            .remove(&organization_id)
            .unwrap_or_else(|| (0, GENESIS.to_owned()));
        report.organizations += 1;
        let checkpoints = expected.remove(&organization_id).unwrap_or_default();
        // The hash of each entry a checkpoint names, as found in the chain.
        let mut named: HashMap<i64, String> = checkpoints
            .iter()
            .map(|c| (c.anchor.seq, String::new()))
            .collect();
        let (last_seq, last_hash) = walk(db, &organization_id, &mut report, &mut named).await?;
        let org = &organization_id;
        if head_seq > last_seq {
            report.problems.push(format!(
                "{org}: entries {}..{head_seq} are missing: the newest entries were deleted (the recorded head is entry {head_seq})",
                last_seq + 1
            ));
        } else if head_seq < last_seq {
            report.problems.push(format!(
                "{org}: the log goes on to entry {last_seq} past the recorded head (entry {head_seq}): written outside the server, or the head was moved back"
            ));
        } else if head_hash != last_hash {
            report
                .problems
                .push(format!("{org}: entry {last_seq} is not the recorded head"));
        }
        for Expected { anchor, source } in checkpoints {
            if anchor.seq > last_seq {
                report.problems.push(format!(
                    "{org}: {source} names entry {}, but the log ends at entry {last_seq}: the newest entries were deleted",
                    anchor.seq
                ));
            } else if named.get(&anchor.seq).map(String::as_str) != Some(anchor.hash.as_str()) {
                report
                    .problems
                    .push(format!("{org}: entry {} differs from {source}", anchor.seq));
            }
            if anchor.seq > head_seq {
                report.problems.push(format!(
                    "{org}: {source} is ahead of the recorded head (entry {head_seq}): the head was moved back"
                ));
            }
        }
    }
    for (organization_id, _) in expected {
        report.problems.push(format!(
            "{organization_id}: a checkpoint names this organization, which no longer exists"
        ));
    }
    Ok(report)
}

/// Walks one chain in order, reporting each break; answers its last entry's seq and hash (0 and the genesis hash
/// when empty) and fills in the hashes of the entries `named` asks for.
async fn walk(
    db: &Db,
    organization_id: &str,
    report: &mut VerifyReport,
    named: &mut HashMap<i64, String>,
) -> ApiResult<(i64, String)> {
    let mut expected_seq = 1;
    let mut prev_hash = GENESIS.to_owned();
    let mut last_seq = 0;
    loop {
        let batch = audit_entry::Entity::find()
            .filter(audit_entry::Column::OrganizationId.eq(organization_id))
            .filter(audit_entry::Column::Seq.gt(last_seq))
            .order_by_asc(audit_entry::Column::Seq)
            .limit(1000)
            .all(db.conn())
            .await?;
        if batch.is_empty() {
            break;
        }
        for entry in batch {
            report.entries += 1;
            let at = format!("{organization_id} entry {} ({})", entry.seq, entry.id);
            if entry.seq != expected_seq {
                report.problems.push(format!(
                    "{organization_id}: entries {expected_seq}..{} are missing",
                    entry.seq - 1
                ));
            } else if entry.prev_hash != prev_hash {
                report
                    .problems
                    .push(format!("{at}: does not link to the entry before it"));
            }
            if hash_of(&entry) != entry.hash {
                report
                    .problems
                    .push(format!("{at}: content does not match its hash"));
            }
            if let Some(hash) = named.get_mut(&entry.seq) {
                hash.clone_from(&entry.hash);
            }
            expected_seq = entry.seq + 1;
            last_seq = entry.seq;
            prev_hash = entry.hash;
        }
    }
    Ok((last_seq, prev_hash))
}
