//! The CRMs (Salesforce, HubSpot, Zoho CRM): what each vendor's calls are; the framework around them is shared.

pub mod hubspot;
pub mod salesforce;
pub mod settings;
pub mod zoho;

use serde_json::{Map, Value};

use crate::service::integrations::executor::{Connection, Failure, Vendors};

/// What a vendor says about the account a connection reaches: a sentence for the customer and the account
/// fields to keep (HubSpot's portal id, Zoho's organization).
#[derive(Debug)]
pub struct AccountInfo {
    pub description: String,
    pub account: Map<String, Value>,
}

/// Asks the vendor who the connection is (a real call): used to test a connection and right after connecting.
pub async fn describe(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
) -> Result<AccountInfo, Failure> {
    match connection.provider.key {
        "hubspot" => hubspot::describe(vendors, connection, job_id).await,
        "salesforce" => salesforce::describe(vendors, connection, job_id).await,
        "zoho" => zoho::describe(vendors, connection, job_id).await,
        other => Err(Failure::Configuration(format!(
            "no CRM connector for {other}"
        ))),
    }
}
