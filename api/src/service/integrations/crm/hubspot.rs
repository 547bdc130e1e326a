//! HubSpot's CRM v3 calls: the account (portal) of a connection.

use serde_json::{Map, Value};

use crate::service::integrations::crm::AccountInfo;
use crate::service::integrations::executor::{Call, Connection, Failure, Vendors};

/// `GET /account-info/v3/details`: the portal id, which HubSpot's links and webhooks name.
pub async fn describe(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
) -> Result<AccountInfo, Failure> {
    let answer = vendors
        .call(
            connection,
            job_id,
            &Call::get("{api_base}/account-info/v3/details"),
        )
        .await?
        .success(connection.provider)?;
    let portal = answer
        .body
        .get("portalId")
        .and_then(|v| {
            v.as_i64()
                .map(|n| n.to_string())
                .or_else(|| v.as_str().map(str::to_owned))
        })
        .ok_or_else(|| Failure::Vendor("HubSpot's account details have no portalId".to_owned()))?;
    let mut account = Map::new();
    account.insert("portal_id".to_owned(), Value::String(portal.clone()));
    let mut description = format!("Connected to HubSpot account {portal}");
    if let Some(domain) = answer.body.get("uiDomain").and_then(Value::as_str) {
        account.insert("ui_domain".to_owned(), Value::String(domain.to_owned()));
        description.push_str(&format!(" on {domain}"));
    }
    if let Some(zone) = answer.body.get("timeZone").and_then(Value::as_str) {
        description.push_str(&format!(", time zone {zone}"));
    }
    Ok(AccountInfo {
        description,
        account,
    })
}
