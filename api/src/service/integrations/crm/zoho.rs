//! Zoho CRM's v2 API calls: the organization behind a connection's `api_domain`.

use serde_json::{Map, Value};

use crate::service::integrations::crm::AccountInfo;
use crate::service::integrations::executor::{Call, Connection, Failure, Vendors};

/// `GET /crm/v2/org`: the organization's name and id.
pub async fn describe(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
) -> Result<AccountInfo, Failure> {
    let answer = vendors
        .call(connection, job_id, &Call::get("{api_base}/crm/v2/org"))
        .await?
        .success(connection.provider)?;
    let org = answer
        .body
        .get("org")
        .and_then(Value::as_array)
        .and_then(|orgs| orgs.first())
        .ok_or_else(|| Failure::Vendor("Zoho CRM's answer names no organization".to_owned()))?;
    let mut account = Map::new();
    let name = org
        .get("company_name")
        .and_then(Value::as_str)
        .unwrap_or("(unnamed)");
    account.insert("organization".to_owned(), Value::String(name.to_owned()));
    if let Some(id) = org.get("id").and_then(|v| {
        v.as_str()
            .map(str::to_owned)
            .or_else(|| v.as_i64().map(|n| n.to_string()))
    }) {
        account.insert("organization_id".to_owned(), Value::String(id));
    }
    Ok(AccountInfo {
        description: format!("Connected to Zoho CRM organization {name}"),
        account,
    })
}
