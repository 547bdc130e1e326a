//! SeaORM migrations of Concierge, applied on start and by `concierge migrate`.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_core_tables;
mod m20261125_000002_create_audit_log;
mod m20261125_000003_service_keys;
mod m20261125_000004_authz_policies;
mod m20261125_000005_webhooks;
mod m20261125_000006_local_sign_in;
mod m20261125_000007_webhook_deliveries;
mod m20261125_000008_assistant_engine;
mod m20261125_000009_widget_sessions;
mod m20261125_000010_session_details;
mod m20261125_000011_sso_connections;
mod m20261125_000012_sso_assertions;
mod m20261206_000013_integrations;
mod m20261207_000014_links_by_remote;
mod m20261207_000015_message_attachments;
mod m20261207_000016_notifications;
mod m20261208_000017_visitor_email;
mod m20261209_000018_entry_embeddings;
mod m20261210_000019_confidence_default;
mod m20261211_000020_analytics_rollups;
mod m20261212_000021_audit_anchors;
mod thresholds;

/// Every migration, in order.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_core_tables::Migration),
            Box::new(m20261125_000002_create_audit_log::Migration),
            Box::new(m20261125_000003_service_keys::Migration),
            Box::new(m20261125_000004_authz_policies::Migration),
            Box::new(m20261125_000005_webhooks::Migration),
            Box::new(m20261125_000006_local_sign_in::Migration),
            Box::new(m20261125_000007_webhook_deliveries::Migration),
            Box::new(m20261125_000008_assistant_engine::Migration),
            Box::new(m20261125_000009_widget_sessions::Migration),
            Box::new(m20261125_000010_session_details::Migration),
            Box::new(m20261125_000011_sso_connections::Migration),
            Box::new(m20261125_000012_sso_assertions::Migration),
            Box::new(m20261206_000013_integrations::Migration),
            Box::new(m20261207_000014_links_by_remote::Migration),
            Box::new(m20261207_000015_message_attachments::Migration),
            Box::new(m20261207_000016_notifications::Migration),
            Box::new(m20261208_000017_visitor_email::Migration),
            Box::new(m20261209_000018_entry_embeddings::Migration),
            Box::new(m20261210_000019_confidence_default::Migration),
            Box::new(m20261211_000020_analytics_rollups::Migration),
            Box::new(m20261212_000021_audit_anchors::Migration),
        ]
    }
}
