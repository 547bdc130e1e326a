//! Assistants and their embed-widget settings.

use std::collections::HashMap;

use entities::assistant;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::authz::{Action, Resource, authorize};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::ids::{self, Kind, new_id};
use crate::service::{by_ids, now, optional_field, required_text};

/// Where the widget's launcher sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "kebab-case")]
pub enum WidgetPosition {
    BottomRight,
    BottomLeft,
    TopRight,
    TopLeft,
}

/// The widget's colour scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "snake_case")]
pub enum WidgetTheme {
    Light,
    Dark,
    Auto,
}

/// The embed widget's settings: the `data-*` attributes of the brief's script tag.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WidgetSettings {
    pub position: WidgetPosition,
    /// `#rrggbb`.
    pub primary_color: String,
    pub theme: WidgetTheme,
    pub welcome_message: String,
    pub auto_open: bool,
    /// Milliseconds before auto-open.
    pub auto_open_delay_ms: u32,
    pub show_avatar: bool,
    pub avatar_url: Option<String>,
    pub hide_on_mobile: bool,
    pub z_index: i32,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Path globs where the widget stays hidden.
    pub hide_on_paths: Vec<String>,
    /// Path globs where the widget shows (empty: everywhere).
    pub show_on_paths: Vec<String>,
}

impl Default for WidgetSettings {
    fn default() -> Self {
        Self {
            position: WidgetPosition::BottomRight,
            primary_color: "#0071e3".to_owned(),
            theme: WidgetTheme::Light,
            welcome_message: "Hi! How can we help you today?".to_owned(),
            auto_open: false,
            auto_open_delay_ms: 0,
            show_avatar: true,
            avatar_url: None,
            hide_on_mobile: false,
            z_index: 2_147_483_000,
            width: 380,
            height: 600,
            hide_on_paths: Vec::new(),
            show_on_paths: Vec::new(),
        }
    }
}

impl WidgetSettings {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> ApiResult<()> {
        let color = self.primary_color.strip_prefix('#').unwrap_or("");
        if color.len() != 6 || !color.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(ApiError::validation(
                "widget.primary_color",
                "must be a colour like #0071e3",
            ));
        }
        optional_field("widget.welcome_message", Some(&self.welcome_message), 1000)?;
        if let Some(url) = &self.avatar_url {
            validate_url("widget.avatar_url", url)?;
        }
        if self.auto_open_delay_ms > 600_000 {
            return Err(ApiError::validation(
                "widget.auto_open_delay_ms",
                "must be at most 600000",
            ));
        }
        if !(200..=1200).contains(&self.width) {
            return Err(ApiError::validation(
                "widget.width",
                "must be 200-1200 pixels",
            ));
        }
        if !(300..=1600).contains(&self.height) {
            return Err(ApiError::validation(
                "widget.height",
                "must be 300-1600 pixels",
            ));
        }
        for (field, paths) in [
            ("widget.hide_on_paths", &self.hide_on_paths),
            ("widget.show_on_paths", &self.show_on_paths),
        ] {
            if paths.len() > 100 {
                return Err(ApiError::validation(field, "at most 100 paths"));
            }
            if let Some(bad) = paths.iter().find(|p| !p.starts_with('/') || p.len() > 500) {
                return Err(ApiError::validation(
                    field,
                    format!("{bad:?} must start with / and be at most 500 characters"),
                ));
            }
        }
        Ok(())
    }
}

/// Checks that `value` is an absolute http(s) URL of at most 2048 characters.
pub fn validate_url(field: &str, value: &str) -> ApiResult<String> {
    let value = required_text(field, value, 2048)?;
    match url::Url::parse(&value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(value),
        _ => Err(ApiError::validation(
            field,
            "must be an absolute http(s) URL",
        )),
    }
}

/// Input of `createAssistant`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAssistant {
    pub name: String,
    #[serde(default)]
    pub widget: Option<WidgetSettings>,
}

/// Input of `updateAssistant`: absent fields keep their value.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateAssistant {
    pub name: Option<String>,
    pub widget: Option<WidgetSettings>,
}

/// The stored widget settings, falling back to defaults for what an older row lacks.
pub fn widget(model: &assistant::Model) -> WidgetSettings {
    serde_json::from_value(model.widget.clone()).unwrap_or_default()
}

fn widget_json(widget: &WidgetSettings) -> ApiResult<serde_json::Value> {
    serde_json::to_value(widget).map_err(ApiError::internal)
}

/// Inserts the default assistant of a new organization.
pub(crate) async fn insert_default(
    conn: &impl ConnectionTrait,
    organization_id: &str,
    organization_name: &str,
) -> ApiResult<assistant::Model> {
    let at = now();
    Ok(assistant::ActiveModel {
        id: Set(new_id(Kind::Assistant)),
        organization_id: Set(organization_id.to_owned()),
        name: Set(format!("{organization_name} assistant")),
        widget: Set(widget_json(&WidgetSettings::default())?),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(conn)
    .await?)
}

/// The organization's assistants, oldest first.
pub async fn list(db: &Db, principal: &Principal) -> ApiResult<Vec<assistant::Model>> {
    let grant = authorize(principal, Resource::Assistant, Action::Read).await?;
    Ok(assistant::Entity::find()
        .filter(assistant::Column::OrganizationId.eq(grant.organization_id()))
        .order_by_asc(assistant::Column::Id)
        .all(db.conn())
        .await?)
}

/// One assistant of the caller's organization.
pub async fn get(db: &Db, principal: &Principal, id: &str) -> ApiResult<assistant::Model> {
    let grant = authorize(principal, Resource::Assistant, Action::Read).await?;
    find(db.conn(), grant.organization_id(), id).await
}

pub(crate) async fn find(
    conn: &impl ConnectionTrait,
    organization_id: &str,
    id: &str,
) -> ApiResult<assistant::Model> {
    let id = ids::lookup(Kind::Assistant, id)?;
    assistant::Entity::find_by_id(id.to_owned())
        .filter(assistant::Column::OrganizationId.eq(organization_id))
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::not_found("assistant", id))
}

/// Assistants by id, for the GraphQL loader (ids of other organizations are absent).
pub async fn get_many(
    db: &Db,
    principal: &Principal,
    ids: &[String],
) -> ApiResult<HashMap<String, assistant::Model>> {
    let grant = authorize(principal, Resource::Assistant, Action::Read).await?;
    by_ids::<assistant::Entity>(
        db.conn(),
        assistant::Column::OrganizationId,
        assistant::Column::Id,
        grant.organization_id(),
        ids,
        |row| &row.id,
    )
    .await
}

/// Creates an assistant.
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn create(
    db: &Db,
    principal: &Principal,
    input: CreateAssistant,
) -> ApiResult<assistant::Model> {
    let grant = authorize(principal, Resource::Assistant, Action::Write).await?;
    let name = required_text("name", &input.name, 200)?;
    let widget = input.widget.unwrap_or_default();
    widget.validate()?;
    let at = now();
    let txn = db.begin_write().await?;
    let model = assistant::ActiveModel {
        id: Set(new_id(Kind::Assistant)),
        organization_id: Set(grant.organization_id().to_owned()),
        name: Set(name),
        widget: Set(widget_json(&widget)?),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(&*txn)
    .await?;
    txn.commit().await?;
    Ok(model)
}

/// Updates an assistant's name or widget settings.
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn update(
    db: &Db,
    principal: &Principal,
    id: &str,
    input: UpdateAssistant,
) -> ApiResult<assistant::Model> {
    let grant = authorize(principal, Resource::Assistant, Action::Write).await?;
    let name = input
        .name
        .as_deref()
        .map(|n| required_text("name", n, 200))
        .transpose()?;
    if let Some(widget) = &input.widget {
        widget.validate()?;
    }
    let txn = db.begin_write().await?;
    let mut active = find(&*txn, grant.organization_id(), id)
        .await?
        .into_active_model();
    if let Some(name) = name {
        active.name = Set(name);
    }
    if let Some(widget) = &input.widget {
        active.widget = Set(widget_json(widget)?);
    }
    active.updated_at = Set(now());
    let model = active.update(&*txn).await?;
    txn.commit().await?;
    Ok(model)
}
