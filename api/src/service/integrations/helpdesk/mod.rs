//! The help desks (Zendesk first): who a connection is, and the tickets conversations open there.

pub mod freshdesk;
pub mod inbound;
pub mod replies;
pub mod settings;
pub mod tickets;
pub mod zendesk;

use crate::service::integrations::credentials::Connection;
use crate::service::integrations::crm::AccountInfo;
use crate::service::integrations::executor::{Failure, Vendors};
use crate::service::integrations::merged_account;

/// Asks the help desk who the connection is (a real call).
pub async fn describe(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
) -> Result<AccountInfo, Failure> {
    match connection.provider.key {
        "zendesk" => zendesk::describe(vendors, connection, job_id).await,
        "freshdesk" => freshdesk::describe(vendors, connection, job_id).await,
        other => Err(Failure::Configuration(format!(
            "no help-desk connector for {other}"
        ))),
    }
}

/// What a help desk needs right after connecting so that its changes come back here (Zendesk: a webhook with
/// its signing secret, and a trigger). It goes into `connection` (the secret among the credentials, the ids in
/// the account); when it fails the connection still works one way, and the answer says so.
pub async fn after_connect(vendors: &Vendors, connection: &mut Connection) -> Option<String> {
    if connection.provider.key != "zendesk" {
        return None;
    }
    // Whatever an earlier connection registered goes first (it may be gone already).
    if let Err(failure) = zendesk::remove_inbound(vendors, connection).await {
        tracing::info!(
            reason = failure.message(),
            "an earlier Zendesk webhook could not be removed"
        );
    }
    let endpoint = format!(
        "{}/integrations/{}/events/{}",
        vendors.public_url.trim_end_matches('/'),
        connection.provider.key,
        connection.model.id
    );
    match zendesk::register_inbound(vendors, connection, &endpoint).await {
        Ok(inbound) => {
            connection.credentials.webhook_secret = Some(inbound.secret);
            let mut ids = serde_json::Map::new();
            ids.insert("webhook_id".to_owned(), inbound.webhook_id.into());
            ids.insert("trigger_id".to_owned(), inbound.trigger_id.into());
            connection.model.account = merged_account(&connection.model.account, ids);
            None
        }
        Err(failure) => Some(format!(
            "replies written in {} will not reach the widget: {}",
            connection.provider.name,
            failure.message()
        )),
    }
}

/// Removes what [`after_connect`] registered, before disconnecting; what went wrong, in words.
pub async fn before_disconnect(vendors: &Vendors, connection: &mut Connection) -> Option<String> {
    if connection.provider.key != "zendesk" {
        return None;
    }
    zendesk::remove_inbound(vendors, connection)
        .await
        .err()
        .map(|failure| {
            format!(
                "the webhook and trigger in {} could not be removed ({}): remove them there",
                connection.provider.name,
                failure.message()
            )
        })
}
