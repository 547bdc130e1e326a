//! `/visitors`: the people who talk to an assistant, and their contact details.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use entities::visitor;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::ids::Kind;
use crate::rest::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::rest::{ListResponse, PageParams};
use crate::service::PageRequest;
use crate::service::Patch;
use crate::service::conversations::visitors as svc;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show, update))
}

/// A visitor as REST v1 shows it: a person who talks to an assistant, with the contact details they gave.
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitorJson {
    /// The visitor's id.
    pub id: String,
    /// The visitor's name, at most 200 characters; null when not given.
    pub name: Option<String>,
    /// The visitor's email address, lower-cased, at most 254 characters; null when not given.
    pub email: Option<String>,
    /// The visitor's phone number, at most 40 characters of digits, spaces and `+ - ( ) .`; null when not
    /// given.
    pub phone: Option<String>,
    /// Whether the visitor agreed to marketing email: only then is the visitor added to a mailing list.
    pub marketing_consent: bool,
    /// When the marketing consent was last given or withdrawn; null when never.
    pub marketing_consent_at: Option<DateTime<Utc>>,
    /// When the visitor unsubscribed from the organization's emails; null while subscribed.
    pub unsubscribed_at: Option<DateTime<Utc>>,
    /// When the visitor was created.
    pub created_at: DateTime<Utc>,
    /// When the visitor last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<visitor::Model> for VisitorJson {
    fn from(m: visitor::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            email: m.email,
            phone: m.phone,
            marketing_consent: m.marketing_consent,
            marketing_consent_at: m.marketing_consent_at,
            unsubscribed_at: m.unsubscribed_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// Lists the organization's visitors, newest first.
#[utoipa::path(get, operation_id = "listVisitors", path = "/visitors", tag = "visitors", params(crate::rest::PageParams),
    responses((status = 200, description = "A page of visitors.", body = ListResponse<VisitorJson>)))]
async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<ListResponse<VisitorJson>>, ApiError> {
    let page = PageRequest::new(params.limit, params.cursor.as_deref(), Kind::Visitor)?;
    let rows = svc::list(&state.db, &principal, &page).await?;
    Ok(Json(ListResponse::from_page(
        rows,
        |v| &v.id,
        VisitorJson::from,
    )))
}

/// One visitor.
#[utoipa::path(get, operation_id = "getVisitor", path = "/visitors/{id}", tag = "visitors",
    params(("id" = String, Path, description = "The visitor's id.")),
    responses((status = 200, description = "The visitor.", body = VisitorJson)))]
async fn show(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<VisitorJson>, ApiError> {
    Ok(Json(svc::get(&state.db, &principal, &id).await?.into()))
}

/// Changes a visitor's name, email, phone or marketing consent: absent fields keep their value, `null` clears.
#[utoipa::path(put, operation_id = "updateVisitor", path = "/visitors/{id}", tag = "visitors",
    params(("id" = String, Path, description = "The visitor's id.")),
    request_body = UpdateVisitorBody,
    responses((status = 200, description = "The visitor as changed.", body = VisitorJson)))]
async fn update(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<UpdateVisitorBody>,
) -> Result<Json<VisitorJson>, ApiError> {
    Ok(Json(
        svc::update(&state.db, &principal, &id, input.into())
            .await?
            .into(),
    ))
}

/// Input of `updateVisitor` / `PUT /visitors/{id}`: absent fields keep their value, `null` clears; at least one
/// field must be given.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateVisitorBody {
    /// The visitor's name, at most 200 characters; `null` or blank clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    /// The visitor's email address, at most 254 characters, stored lower-cased; `null` or blank clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub email: Patch<String>,
    /// The visitor's phone number, at most 40 characters of digits, spaces and `+ - ( ) .`; `null` or blank
    /// clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub phone: Patch<String>,
    /// Marketing consent given (`true`) or withdrawn (`false`); absent keeps it. Record only what the visitor
    /// agreed to.
    #[serde(default)]
    pub marketing_consent: Option<bool>,
}

impl From<UpdateVisitorBody> for crate::service::conversations::visitors::UpdateVisitor {
    fn from(body: UpdateVisitorBody) -> Self {
        Self {
            name: body.name,
            email: body.email,
            phone: body.phone,
            marketing_consent: body.marketing_consent,
        }
    }
}
