//! The streamed CSV export of a range's conversations, a page of rows at a time.

use chrono::{DateTime, Utc};
use sea_orm::FromQueryResult;

use crate::auth::Principal;
use crate::authz::{Action, Resource, authorize};
use crate::db::Db;
use crate::db::sql::Sql;
use crate::error::{ApiError, ApiResult};

use crate::service::analytics::{Range, Window, all, check_assistant, conversations_in};

/// Conversations per page of the CSV export.
const EXPORT_PAGE: u64 = 500;

/// The CSV export's header row.
pub const EXPORT_COLUMNS: [&str; 16] = [
    "id",
    "assistant_id",
    "visitor_id",
    "status",
    "subject",
    "source_url",
    "created_at",
    "first_response_seconds",
    "messages",
    "sentiment",
    "failed_responses",
    "handoff_reason",
    "handed_off_at",
    "resolved_at",
    "human_involved",
    "csat",
];

#[derive(FromQueryResult)]
struct ExportRow {
    id: String,
    assistant_id: String,
    visitor_id: String,
    status: String,
    subject: Option<String>,
    source_url: Option<String>,
    created_at: DateTime<Utc>,
    first_response_at: Option<DateTime<Utc>>,
    messages: i64,
    sentiment: Option<f64>,
    failed_total: i32,
    handoff_reason: Option<String>,
    handed_off_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    human_involved: bool,
    csat: Option<i32>,
}

/// A checked export: the caller may export, the range is valid; pages are read as the stream is consumed.
pub struct Export {
    db: Db,
    organization_id: String,
    window: Window,
}

/// Checks that the caller may export (the full API plan) and the range; nothing is read yet.
pub async fn export_conversations(
    db: &Db,
    principal: &Principal,
    range: &Range,
) -> ApiResult<Export> {
    let grant = authorize(principal, Resource::Analytics, Action::Export).await?;
    let window = range.check()?;
    check_assistant(db, grant.organization_id(), &window).await?;
    Ok(Export {
        db: db.clone(),
        organization_id: grant.organization_id().to_owned(),
        window,
    })
}

/// A spreadsheet must not read a visitor's text as a formula: such cells get a leading apostrophe.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

fn csv_line(fields: &[String]) -> ApiResult<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(fields).map_err(ApiError::internal)?;
    writer
        .into_inner()
        .map_err(|e| ApiError::internal_msg(e.to_string()))
}

impl Export {
    /// The header row.
    pub fn header(&self) -> ApiResult<Vec<u8>> {
        csv_line(&EXPORT_COLUMNS.map(str::to_owned))
    }

    /// The rows after conversation `after` (one page, oldest first), and the id to continue after; `None` at
    /// the end.
    pub async fn page(&self, after: Option<&str>) -> ApiResult<(Vec<u8>, Option<String>)> {
        let mut sql = Sql::new(self.db.backend());
        let mut clause = conversations_in(&mut sql, &self.organization_id, &self.window);
        if let Some(after) = after {
            clause.push_str(&format!(" AND c.id > {}", sql.bind(after.to_owned())));
        }
        let rows = all::<ExportRow>(
            self.db.conn(),
            sql.statement(format!(
                "SELECT c.id, c.assistant_id, c.visitor_id, c.status, c.subject, c.source_url, c.created_at, \
                 c.first_response_at, c.sentiment, c.failed_total, c.handoff_reason, c.handed_off_at, \
                 c.resolved_at, c.human_involved, \
                 (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.organization_id = c.organization_id) AS messages, \
                 (SELECT f.rating FROM feedback f WHERE f.organization_id = c.organization_id AND f.target_id = c.id) AS csat \
                 FROM conversations c WHERE {clause} ORDER BY c.id LIMIT {EXPORT_PAGE}"
            )),
        )
        .await?;
        let mut out = Vec::new();
        let mut last = None;
        let full = rows.len() as u64 == EXPORT_PAGE;
        let time = |t: Option<DateTime<Utc>>| {
            t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
                .unwrap_or_default()
        };
        for row in rows {
            let first_response = row
                .first_response_at
                .map(|t| {
                    format!(
                        "{:.3}",
                        (t - row.created_at).num_milliseconds() as f64 / 1000.0
                    )
                })
                .unwrap_or_default();
            out.extend(csv_line(&[
                row.id.clone(),
                row.assistant_id,
                row.visitor_id,
                row.status,
                cell(row.subject.as_deref().unwrap_or("")),
                cell(row.source_url.as_deref().unwrap_or("")),
                time(Some(row.created_at)),
                first_response,
                row.messages.to_string(),
                row.sentiment.map(|s| format!("{s:.4}")).unwrap_or_default(),
                row.failed_total.to_string(),
                row.handoff_reason.unwrap_or_default(),
                time(row.handed_off_at),
                time(row.resolved_at),
                row.human_involved.to_string(),
                row.csat.map(|c| c.to_string()).unwrap_or_default(),
            ])?);
            last = Some(row.id);
        }
        Ok((out, if full { last } else { None }))
    }
}
