//! The CRMs (Salesforce, HubSpot, Zoho CRM): what each vendor's calls are; the framework around them is shared.

pub mod hubspot;
pub mod mapping;
pub mod salesforce;
pub mod settings;
pub mod sync;
pub mod zoho;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::service::integrations::credentials::Connection;
use crate::service::integrations::crm::settings::{CrmObject, MappingSource};
use crate::service::integrations::executor::{Failure, Vendors};

/// A record at the vendor: its id and when it last changed there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote {
    pub id: String,
    pub modified_at: Option<DateTime<Utc>>,
}

/// What creating a contact came to: a new one, or one the vendor already had (made meanwhile).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Created {
    New(String),
    Existing(String),
}

/// The field a visitor is matched by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchField {
    Email,
    Phone,
}

impl MatchField {
    pub fn noun(self) -> &'static str {
        match self {
            MatchField::Email => "email",
            MatchField::Phone => "phone number",
        }
    }
}

/// Calls the vendor module of the connection's provider.
macro_rules! vendor {
    ($connection:expr, $op:ident ( $($arg:expr),* $(,)? )) => {
        match $connection.provider.key {
            "hubspot" => hubspot::$op($($arg),*).await,
            "salesforce" => salesforce::$op($($arg),*).await,
            "zoho" => zoho::$op($($arg),*).await,
            other => Err(Failure::Configuration(format!("no CRM connector for {other}"))),
        }
    };
}
pub(crate) use vendor;

/// Puts a stand-in in the required last-name field `key` when the visitor gave no name: the email's local part,
/// or "Website visitor".
pub(crate) fn require_last_name(fields: &mut Map<String, Value>, key: &str, email_key: &str) {
    if fields.contains_key(key) {
        return;
    }
    let stand_in = fields
        .get(email_key)
        .and_then(Value::as_str)
        .and_then(|e| e.split('@').next())
        .filter(|local| !local.is_empty())
        .unwrap_or("Website visitor")
        .to_owned();
    fields.insert(key.to_owned(), Value::String(stand_in));
}

/// The default mapping of a provider.
pub fn defaults(provider: &str) -> &'static [(MappingSource, CrmObject, &'static str)] {
    match provider {
        "hubspot" => hubspot::DEFAULTS,
        "salesforce" => salesforce::DEFAULTS,
        "zoho" => zoho::DEFAULTS,
        _ => &[],
    }
}

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
