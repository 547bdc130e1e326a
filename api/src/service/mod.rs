//! The domain services: the only code that queries the database. REST and GraphQL both call these.

pub mod analytics;
pub mod assistants;
pub mod attachments;
pub mod audit;
pub mod conversations;
pub mod email_templates;
pub mod embed;
pub mod identity;
pub mod integrations;
pub mod knowledge_base;
pub mod mail;
pub mod notifications;
pub mod widget;

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde::{Deserialize, Deserializer};

use crate::error::{ApiError, ApiResult};
use crate::ids::{self, Kind};

/// Default page size of every list.
pub const DEFAULT_LIMIT: u64 = 20;
/// Largest page size of every list.
pub const MAX_LIMIT: u64 = 100;

/// One page to fetch: at most `limit` rows strictly after the `after` id, in the list's order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PageRequest {
    pub limit: u64,
    pub after: Option<String>,
}

impl PageRequest {
    /// Validates a `limit` (1-100, default 20) and an opaque `cursor` of the given kind.
    pub fn new(limit: Option<i64>, cursor: Option<&str>, kind: Kind) -> ApiResult<Self> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => n as u64,
            Some(n) => {
                return Err(ApiError::BadRequest(format!(
                    "limit: must be between 1 and {MAX_LIMIT}, got {n}"
                )));
            }
        };
        let after = cursor.map(|c| decode_cursor(c, kind)).transpose()?;
        Ok(Self { limit, after })
    }

    /// Splits the `limit + 1` rows fetched into a page and whether more follow.
    pub fn page<T>(&self, mut rows: Vec<T>) -> Page<T> {
        let has_more = rows.len() as u64 > self.limit;
        rows.truncate(self.limit as usize);
        Page {
            items: rows,
            has_more,
        }
    }

    /// Rows to fetch: one more than the page, to learn whether another page follows.
    pub fn fetch(&self) -> u64 {
        self.limit + 1
    }
}

/// A page of results.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}

impl<T> Page<T> {
    /// The same page with each item mapped.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            has_more: self.has_more,
        }
    }

    /// The cursor of the next page, if there is one, from the id of the last item.
    pub fn next_cursor(&self, id: impl Fn(&T) -> &str) -> Option<String> {
        if self.has_more {
            self.items.last().map(|last| encode_cursor(id(last)))
        } else {
            None
        }
    }
}

/// Runs `query` as one page, newest first by the time-sortable `id` column.
pub(crate) async fn newest_first<E: EntityTrait>(
    conn: &impl ConnectionTrait,
    query: Select<E>,
    id: E::Column,
    page: &PageRequest,
) -> ApiResult<Page<E::Model>> {
    in_order(conn, query, id, page, Order::NewestFirst).await
}

/// The order of a list by creation time, which ids follow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Order {
    #[default]
    NewestFirst,
    OldestFirst,
}

/// A page of rows in `order` of their ids (creation order); `page.after` is the last id of the previous page.
pub(crate) async fn in_order<E: EntityTrait>(
    conn: &impl ConnectionTrait,
    query: Select<E>,
    id: E::Column,
    page: &PageRequest,
    order: Order,
) -> ApiResult<Page<E::Model>> {
    let mut query = query;
    let rows = match order {
        Order::NewestFirst => {
            if let Some(after) = &page.after {
                query = query.filter(id.lt(after.as_str()));
            }
            query.order_by_desc(id)
        }
        Order::OldestFirst => {
            if let Some(after) = &page.after {
                query = query.filter(id.gt(after.as_str()));
            }
            query.order_by_asc(id)
        }
    }
    .limit(page.fetch())
    .all(conn)
    .await?;
    Ok(page.page(rows))
}

/// A half-open window of creation times, `[from, until)`; either end may be open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Created {
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

impl Created {
    /// Keeps the rows whose `column` falls in the window.
    pub(crate) fn apply<E: EntityTrait>(self, query: Select<E>, column: E::Column) -> Select<E> {
        let mut query = query;
        if let Some(from) = self.from {
            query = query.filter(column.gte(from));
        }
        if let Some(until) = self.until {
            query = query.filter(column.lt(until));
        }
        query
    }
}

/// The rows of `organization_id` among `ids`, by id (ids of other organizations are simply absent).
pub(crate) async fn by_ids<E: EntityTrait>(
    conn: &impl ConnectionTrait,
    organization_column: E::Column,
    id_column: E::Column,
    organization_id: &str,
    ids: &[String],
    id_of: impl Fn(&E::Model) -> &str,
) -> ApiResult<HashMap<String, E::Model>> {
    Ok(E::find()
        .filter(organization_column.eq(organization_id))
        .filter(id_column.is_in(ids.iter().map(String::as_str)))
        .all(conn)
        .await?
        .into_iter()
        .map(|row| (id_of(&row).to_owned(), row))
        .collect())
}

/// An opaque cursor for the row with this id.
pub fn encode_cursor(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

/// The id inside an opaque cursor, which must be of `kind`.
pub fn decode_cursor(cursor: &str, kind: Kind) -> ApiResult<String> {
    let bad = || ApiError::BadRequest("cursor: malformed or from another list".to_owned());
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let id = String::from_utf8(bytes).map_err(|_| bad())?;
    ids::parse(kind, "cursor", &id).map_err(|_| bad())
}

/// Checks a required text field: not blank, at most `max` characters, no NUL.
pub fn required_text(field: &str, value: &str, max: usize) -> ApiResult<String> {
    if value.trim().is_empty() {
        return Err(ApiError::validation(field, "must not be empty"));
    }
    optional_text(field, value, max)
}

/// Checks an optional text field: at most `max` characters, no NUL.
pub fn optional_text(field: &str, value: &str, max: usize) -> ApiResult<String> {
    if value.chars().count() > max {
        return Err(ApiError::validation(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.contains('\0') {
        return Err(ApiError::validation(
            field,
            "must not contain NUL characters",
        ));
    }
    Ok(value.to_owned())
}

/// Validates an optional text field, mapping blank to `None`.
pub fn optional_field(field: &str, value: Option<&str>, max: usize) -> ApiResult<Option<String>> {
    match value {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) => optional_text(field, v, max).map(Some),
    }
}

/// A field of an update: absent (keep), `null` (clear) or a value (set).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Patch<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

impl<T> Patch<T> {
    pub fn is_keep(&self) -> bool {
        matches!(self, Patch::Keep)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(deserializer)? {
            Some(value) => Patch::Set(value),
            None => Patch::Clear,
        })
    }
}

/// Validates an optional text patch.
pub fn text_patch(field: &str, patch: &Patch<String>, max: usize) -> ApiResult<Patch<String>> {
    Ok(match patch {
        Patch::Keep => Patch::Keep,
        Patch::Clear => Patch::Clear,
        Patch::Set(v) => match optional_field(field, Some(v), max)? {
            Some(v) => Patch::Set(v),
            None => Patch::Clear,
        },
    })
}

/// The current time, truncated to microseconds so that every backend stores and returns it exactly.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{DurationRound, TimeDelta};
    let now = chrono::Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}
