//! Salesforce's REST API calls: the org behind a connection's `instance_url` and its API allowance.

use serde_json::{Map, Value};

use crate::service::integrations::crm::AccountInfo;
use crate::service::integrations::executor::{Call, Connection, Failure, Vendors};

/// The REST API version every call names.
pub const API_VERSION: &str = "v60.0";

/// `GET /services/data/vXX.X/limits`: the org answers, with its daily API requests left.
pub async fn describe(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
) -> Result<AccountInfo, Failure> {
    let answer = vendors
        .call(
            connection,
            job_id,
            &Call::get(format!("{{api_base}}/services/data/{API_VERSION}/limits")),
        )
        .await?
        .success(connection.provider)?;
    let instance = connection
        .model
        .account
        .get("instance_url")
        .and_then(Value::as_str)
        .unwrap_or("its instance")
        .to_owned();
    let daily = answer.body.get("DailyApiRequests");
    let max = daily.and_then(|d| d.get("Max")).and_then(Value::as_i64);
    let remaining = daily
        .and_then(|d| d.get("Remaining"))
        .and_then(Value::as_i64);
    let description = match (remaining, max) {
        (Some(remaining), Some(max)) => format!(
            "Connected to Salesforce at {instance}: {remaining} of {max} daily API requests left"
        ),
        _ => format!("Connected to Salesforce at {instance}"),
    };
    Ok(AccountInfo {
        description,
        account: Map::new(),
    })
}
