//! Casbin policies in the database, with the role assignments and plans of existing organizations copied in.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum AuthzPolicies {
    Table,
    Id,
    Ptype,
    V0,
    V1,
    V2,
    V3,
    V4,
    V5,
}

/// Role assignments (`g`) and plans (`g2`) of what exists already; the static rules are loaded at start-up.
const BACKFILL: &[&str] = &[
    "INSERT INTO authz_policies (ptype, v0, v1, v2, v3, v4, v5) \
     SELECT 'g2', id, 'plan:' || plan, '', '', '', '' FROM organizations",
    "INSERT INTO authz_policies (ptype, v0, v1, v2, v3, v4, v5) \
     SELECT 'g', id, 'role:' || role, organization_id, '', '', '' FROM users WHERE active",
    "INSERT INTO authz_policies (ptype, v0, v1, v2, v3, v4, v5) \
     SELECT 'g', id, 'service_key', organization_id, '', '', '' FROM api_keys WHERE revoked_at IS NULL",
    "INSERT INTO authz_policies (ptype, v0, v1, v2, v3, v4, v5) \
     SELECT 'g', id, 'role:' || role, organization_id, '', '', '' FROM api_keys \
     WHERE revoked_at IS NULL AND scopes IS NULL",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuthzPolicies::Table)
                    .col(pk_auto(AuthzPolicies::Id))
                    .col(string(AuthzPolicies::Ptype))
                    .col(string(AuthzPolicies::V0).default(""))
                    .col(string(AuthzPolicies::V1).default(""))
                    .col(string(AuthzPolicies::V2).default(""))
                    .col(string(AuthzPolicies::V3).default(""))
                    .col(string(AuthzPolicies::V4).default(""))
                    .col(string(AuthzPolicies::V5).default(""))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_authz_policies_rule")
                    .table(AuthzPolicies::Table)
                    .col(AuthzPolicies::Ptype)
                    .col(AuthzPolicies::V0)
                    .col(AuthzPolicies::V1)
                    .col(AuthzPolicies::V2)
                    .col(AuthzPolicies::V3)
                    .col(AuthzPolicies::V4)
                    .col(AuthzPolicies::V5)
                    .unique()
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for statement in BACKFILL {
            db.execute_unprepared(statement).await?;
        }
        // A scoped key holds one `scope:…` role per scope instead of its role.
        let scopes = match manager.get_database_backend() {
            DbBackend::Postgres => {
                "INSERT INTO authz_policies (ptype, v0, v1, v2, v3, v4, v5) \
                 SELECT DISTINCT 'g', k.id, 'scope:' || s.value, k.organization_id, '', '', '' \
                 FROM api_keys k, jsonb_array_elements_text(k.scopes::jsonb) AS s(value) \
                 WHERE k.revoked_at IS NULL AND k.scopes IS NOT NULL"
            }
            _ => {
                "INSERT INTO authz_policies (ptype, v0, v1, v2, v3, v4, v5) \
                 SELECT DISTINCT 'g', k.id, 'scope:' || s.value, k.organization_id, '', '', '' \
                 FROM api_keys k, json_each(k.scopes) AS s \
                 WHERE k.revoked_at IS NULL AND k.scopes IS NOT NULL"
            }
        };
        db.execute_unprepared(scopes).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuthzPolicies::Table).to_owned())
            .await
    }
}
