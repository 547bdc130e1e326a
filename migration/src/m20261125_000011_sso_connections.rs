//! SSO: connections per organization, the email domains they serve, pending sign-in requests, enforcement.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum SsoConnections {
    Table,
    Id,
    OrganizationId,
    Name,
    Protocol,
    Enabled,
    Settings,
    SecretSealed,
    Attributes,
    RoleRules,
    DefaultRole,
    DenyUnmatched,
    JitProvisioning,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum SsoDomains {
    Table,
    Domain,
    ConnectionId,
    OrganizationId,
}

#[derive(DeriveIden, Clone, Copy)]
enum SsoRequests {
    Table,
    Id,
    ConnectionId,
    OrganizationId,
    Nonce,
    Verifier,
    ReturnTo,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Organizations {
    Table,
    Id,
    SsoEnforced,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SsoConnections::Table)
                    .col(string(SsoConnections::Id).primary_key())
                    .col(string(SsoConnections::OrganizationId))
                    .col(string(SsoConnections::Name))
                    .col(string(SsoConnections::Protocol))
                    .col(boolean(SsoConnections::Enabled))
                    .col(json(SsoConnections::Settings))
                    .col(text_null(SsoConnections::SecretSealed))
                    .col(json(SsoConnections::Attributes))
                    .col(json(SsoConnections::RoleRules))
                    .col(string(SsoConnections::DefaultRole))
                    .col(boolean(SsoConnections::DenyUnmatched))
                    .col(boolean(SsoConnections::JitProvisioning))
                    .col(timestamp_with_time_zone(SsoConnections::CreatedAt))
                    .col(timestamp_with_time_zone(SsoConnections::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SsoConnections::Table, SsoConnections::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_sso_connections_org")
                    .table(SsoConnections::Table)
                    .col(SsoConnections::OrganizationId)
                    .to_owned(),
            )
            .await?;
        // A domain is served by one connection in the whole installation, so an email finds its sign-in.
        manager
            .create_table(
                Table::create()
                    .table(SsoDomains::Table)
                    .col(string(SsoDomains::Domain).primary_key())
                    .col(string(SsoDomains::ConnectionId))
                    .col(string(SsoDomains::OrganizationId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SsoDomains::Table, SsoDomains::ConnectionId)
                            .to(SsoConnections::Table, SsoConnections::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_sso_domains_connection")
                    .table(SsoDomains::Table)
                    .col(SsoDomains::ConnectionId)
                    .to_owned(),
            )
            .await?;
        // Sign-ins under way: the hash of the state (OIDC, OAuth 2.0) or of the request id (SAML), with what
        // the callback needs; used once, shared by every instance.
        manager
            .create_table(
                Table::create()
                    .table(SsoRequests::Table)
                    .col(string(SsoRequests::Id).primary_key())
                    .col(string(SsoRequests::ConnectionId))
                    .col(string(SsoRequests::OrganizationId))
                    .col(string_null(SsoRequests::Nonce))
                    .col(text_null(SsoRequests::Verifier))
                    .col(string(SsoRequests::ReturnTo))
                    .col(timestamp_with_time_zone(SsoRequests::CreatedAt))
                    .col(timestamp_with_time_zone(SsoRequests::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SsoRequests::Table, SsoRequests::ConnectionId)
                            .to(SsoConnections::Table, SsoConnections::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .add_column(boolean(Organizations::SsoEnforced).default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .drop_column(Organizations::SsoEnforced)
                    .to_owned(),
            )
            .await?;
        for table in [
            SsoRequests::Table.into_iden(),
            SsoDomains::Table.into_iden(),
            SsoConnections::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
