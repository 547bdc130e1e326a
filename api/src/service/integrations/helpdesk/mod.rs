//! The help desks (Zendesk first): who a connection is, and the tickets conversations open there.

pub mod settings;
pub mod tickets;
pub mod zendesk;

use crate::service::integrations::credentials::Connection;
use crate::service::integrations::crm::AccountInfo;
use crate::service::integrations::executor::{Failure, Vendors};

/// Asks the help desk who the connection is (a real call).
pub async fn describe(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
) -> Result<AccountInfo, Failure> {
    match connection.provider.key {
        "zendesk" => zendesk::describe(vendors, connection, job_id).await,
        other => Err(Failure::Configuration(format!(
            "no help-desk connector for {other}"
        ))),
    }
}
