//! `/visitors`: the people who talk to an assistant, and their contact details.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use entities::visitor;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::ids::Kind;
use crate::rest::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::rest::{ListResponse, PageParams};
use crate::service::PageRequest;
use crate::service::Patch;
use crate::service::conversations::visitors as svc;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/visitors", get(list))
        .route("/visitors/{id}", get(show).put(update))
}

/// A visitor as REST v1 shows it.
#[derive(Debug, Serialize)]
pub struct VisitorJson {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<visitor::Model> for VisitorJson {
    fn from(m: visitor::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            email: m.email,
            phone: m.phone,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

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

async fn show(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<VisitorJson>, ApiError> {
    Ok(Json(svc::get(&state.db, &principal, &id).await?.into()))
}

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

/// Input of `updateVisitor` / `PUT /visitors/{id}`: absent fields keep their value, `null` clears.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateVisitorBody {
    #[serde(default)]
    pub name: Patch<String>,
    #[serde(default)]
    pub email: Patch<String>,
    #[serde(default)]
    pub phone: Patch<String>,
}

impl From<UpdateVisitorBody> for crate::service::conversations::visitors::UpdateVisitor {
    fn from(body: UpdateVisitorBody) -> Self {
        Self {
            name: body.name,
            email: body.email,
            phone: body.phone,
        }
    }
}
