//! Assistants and their embed-widget settings.

use std::collections::HashMap;

use entities::assistant;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};
use serde::{Deserialize, Serialize};

use crate::assistant::settings::EngineSettings;
use crate::auth::Principal;
use crate::authz::{Action, Resource, authorize};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::ids::{self, Kind, new_id};
use crate::secrets::Sealer;
use crate::service::{Patch, by_ids, now, optional_field, required_text};

/// Where the widget's launcher sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WidgetPosition {
    BottomRight,
    BottomLeft,
    TopRight,
    TopLeft,
}

/// The widget's colour scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Whether websites show the widget at all: off, new and existing visitor sessions are refused.
    pub enabled: bool,
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
    /// Website origins (`https://shop.example.com`, `https://*.example.com`) whose pages may run the widget;
    /// empty allows every origin.
    pub allowed_origins: Vec<String>,
}

impl Default for WidgetSettings {
    fn default() -> Self {
        Self {
            enabled: true,
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
            allowed_origins: Vec::new(),
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
        if self.allowed_origins.len() > 50 {
            return Err(ApiError::validation(
                "widget.allowed_origins",
                "at most 50 origins",
            ));
        }
        for origin in &self.allowed_origins {
            if normalize_origin(origin).as_deref() != Some(origin.as_str()) {
                return Err(ApiError::validation(
                    "widget.allowed_origins",
                    format!(
                        "{origin:?} is not an origin like https://shop.example.com or https://*.example.com \
                         (scheme and host in lower case, a port only when not the default, no path)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Whether a page of `origin` (the request's `Origin` header) may run the widget.
    pub fn allows_origin(&self, origin: Option<&str>) -> bool {
        if self.allowed_origins.is_empty() {
            return true;
        }
        let Some(origin) = origin.and_then(normalize_origin) else {
            return false;
        };
        self.allowed_origins.iter().any(|allowed| {
            if *allowed == origin {
                return true;
            }
            // `https://*.example.com` allows every subdomain of example.com (not example.com itself).
            let Some((scheme, rest)) = allowed.split_once("://*.") else {
                return false;
            };
            origin
                .strip_prefix(scheme)
                .and_then(|o| o.strip_prefix("://"))
                .and_then(|host| host.strip_suffix(rest))
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.'))
        })
    }
}

/// The canonical form of a web origin (`scheme://host[:port]`, the default port left out), allowing a leading
/// `*.` wildcard label; `None` when it is not an http(s) origin.
pub fn normalize_origin(value: &str) -> Option<String> {
    let (wildcard, candidate) = match value.split_once("://*.") {
        Some((scheme, rest)) => (true, format!("{scheme}://wildcard.{rest}")),
        None => (false, value.to_owned()),
    };
    let url = url::Url::parse(&candidate).ok()?;
    let host_ok = match url.host()? {
        url::Host::Domain(domain) => {
            domain.split('.').all(|label| {
                !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            // A wildcard covers the subdomains of one registrable name at least (`*.example.com`, not `*.com`).
            && (!wildcard || domain.matches('.').count() >= 2)
        }
        url::Host::Ipv4(_) | url::Host::Ipv6(_) => !wildcard,
    };
    if !host_ok
        || !matches!(url.scheme(), "http" | "https")
        || !url.username().is_empty()
        || url.password().is_some()
        || url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return None;
    }
    let origin = url.origin().ascii_serialization();
    Some(if wildcard {
        origin.replacen("://wildcard.", "://*.", 1)
    } else {
        origin
    })
}

/// Intent names: short, lower-case, stable enough to route tickets on.
fn valid_intent_name(name: &str) -> bool {
    (1..=50).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl EngineSettings {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> ApiResult<()> {
        if !(0.0..=1.0).contains(&self.confidence_threshold) {
            return Err(ApiError::validation(
                "engine.confidence_threshold",
                "must be between 0 and 1",
            ));
        }
        required_text("engine.fallback_message", &self.fallback_message, 2000)?;
        required_text("engine.handoff_message", &self.handoff_message, 2000)?;
        if self.handoff_phrases.len() > 100
            || self
                .handoff_phrases
                .iter()
                .any(|p| p.trim().is_empty() || p.len() > 200)
        {
            return Err(ApiError::validation(
                "engine.handoff_phrases",
                "at most 100 phrases of 1-200 characters",
            ));
        }
        if self.max_failed_responses > 100 {
            return Err(ApiError::validation(
                "engine.max_failed_responses",
                "must be at most 100 (0 turns the trigger off)",
            ));
        }
        if let Some(t) = self.negative_sentiment_threshold
            && !(-1.0..=1.0).contains(&t)
        {
            return Err(ApiError::validation(
                "engine.negative_sentiment_threshold",
                "must be between -1 and 1",
            ));
        }
        if self.intents.len() > 50 {
            return Err(ApiError::validation("engine.intents", "at most 50 intents"));
        }
        let mut names = std::collections::HashSet::new();
        for (i, intent) in self.intents.iter().enumerate() {
            let field = format!("engine.intents[{i}]");
            if !valid_intent_name(&intent.name) {
                return Err(ApiError::validation(
                    &format!("{field}.name"),
                    "1-50 lower-case letters, digits, _ or -",
                ));
            }
            if !names.insert(intent.name.as_str()) {
                return Err(ApiError::validation(
                    &format!("{field}.name"),
                    format!("{:?} is used twice", intent.name),
                ));
            }
            if intent.keywords.is_empty() && intent.patterns.is_empty() {
                return Err(ApiError::validation(
                    &field,
                    "give at least one keyword or pattern",
                ));
            }
            if intent.keywords.len() + intent.patterns.len() > 100
                || intent
                    .keywords
                    .iter()
                    .any(|k| k.trim().is_empty() || k.len() > 200)
            {
                return Err(ApiError::validation(
                    &format!("{field}.keywords"),
                    "at most 100 keywords and patterns, each 1-200 characters",
                ));
            }
            for (j, pattern) in intent.patterns.iter().enumerate() {
                if pattern.len() > 500 {
                    return Err(ApiError::validation(
                        &format!("{field}.patterns[{j}]"),
                        "at most 500 characters",
                    ));
                }
                crate::assistant::analysis::compile_pattern(
                    &format!("{field}.patterns[{j}]"),
                    pattern,
                )?;
            }
        }
        if let Some(provider) = &self.provider {
            validate_url("engine.provider.base_url", &provider.base_url)?;
            required_text(
                "engine.provider.standard_model",
                &provider.standard_model,
                200,
            )?;
            required_text(
                "engine.provider.complex_model",
                &provider.complex_model,
                200,
            )?;
            if !(1..=120).contains(&provider.timeout_secs) {
                return Err(ApiError::validation(
                    "engine.provider.timeout_secs",
                    "must be 1-120 seconds",
                ));
            }
            if let Some(model) = &provider.embedding_model {
                required_text("engine.provider.embedding_model", model, 200)?;
            }
            if !(16..=8192).contains(&provider.max_tokens) {
                return Err(ApiError::validation(
                    "engine.provider.max_tokens",
                    "must be 16-8192",
                ));
            }
        }
        Ok(())
    }
}

/// The stored engine settings, falling back to defaults for what an older row lacks.
pub fn engine(model: &assistant::Model) -> EngineSettings {
    model
        .engine
        .clone()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

/// The sealing context of an assistant's provider key.
pub(crate) fn provider_key_context(assistant_id: &str) -> String {
    format!("assistant:{assistant_id}:provider_key")
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
#[derive(Clone, Debug)]
pub struct CreateAssistant {
    pub name: String,
    pub widget: Option<WidgetSettings>,
    pub engine: Option<EngineSettings>,
    /// The AI provider's API key (write-only; stored sealed).
    pub provider_api_key: Option<String>,
}

/// Input of `updateAssistant`: absent fields keep their value.
#[derive(Clone, Debug, Default)]
pub struct UpdateAssistant {
    pub name: Option<String>,
    pub widget: Option<WidgetSettings>,
    pub engine: Option<EngineSettings>,
    /// Sets (or, with `null`, removes) the AI provider's API key.
    pub provider_api_key: Patch<String>,
}

/// The stored widget settings, falling back to defaults for what an older row lacks.
pub fn widget(model: &assistant::Model) -> WidgetSettings {
    serde_json::from_value(model.widget.clone()).unwrap_or_default()
}

fn widget_json(widget: &WidgetSettings) -> ApiResult<serde_json::Value> {
    serde_json::to_value(widget).map_err(ApiError::internal)
}

fn engine_json(engine: &EngineSettings) -> ApiResult<serde_json::Value> {
    serde_json::to_value(engine).map_err(ApiError::internal)
}

fn seal_provider_key(sealer: &Sealer, assistant_id: &str, key: &str) -> ApiResult<String> {
    let key = required_text("provider_api_key", key, 500)?;
    sealer.seal(&key, &provider_key_context(assistant_id))
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
        engine: Set(None),
        provider_key: Set(None),
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
    sealer: &Sealer,
    principal: &Principal,
    input: CreateAssistant,
) -> ApiResult<assistant::Model> {
    let grant = authorize(principal, Resource::Assistant, Action::Write).await?;
    let name = required_text("name", &input.name, 200)?;
    let widget = input.widget.unwrap_or_default();
    widget.validate()?;
    let engine = input.engine.unwrap_or_default();
    engine.validate()?;
    let id = new_id(Kind::Assistant);
    let provider_key = input
        .provider_api_key
        .as_deref()
        .map(|key| seal_provider_key(sealer, &id, key))
        .transpose()?;
    let at = now();
    let txn = db.begin_write().await?;
    let model = assistant::ActiveModel {
        id: Set(id),
        organization_id: Set(grant.organization_id().to_owned()),
        name: Set(name),
        widget: Set(widget_json(&widget)?),
        engine: Set(Some(engine_json(&engine)?)),
        provider_key: Set(provider_key),
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
    sealer: &Sealer,
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
    if let Some(engine) = &input.engine {
        engine.validate()?;
    }
    let txn = db.begin_write().await?;
    let current = find(&*txn, grant.organization_id(), id).await?;
    let provider_key = match &input.provider_api_key {
        Patch::Keep => None,
        Patch::Clear => Some(None),
        Patch::Set(key) => Some(Some(seal_provider_key(sealer, &current.id, key)?)),
    };
    let mut active = current.into_active_model();
    if let Some(engine) = &input.engine {
        active.engine = Set(Some(engine_json(engine)?));
    }
    if let Some(key) = provider_key {
        active.provider_key = Set(key);
    }
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
