//! One error type for the whole API: the REST JSON body and the GraphQL `extensions.code` come from the same enum.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sea_orm::{DbErr, SqlErr, TransactionError};
use serde_json::json;

/// Every way a request can fail, with the status and code it answers.
///
/// It deliberately does not implement `Display`: async-graphql converts any `Display` type into an error
/// without extensions, and this way `?` in a resolver always goes through our conversion and keeps the code.
#[derive(Debug)]
pub enum ApiError {
    /// 401: no, bad, expired or revoked credentials.
    Unauthenticated(String),
    /// 403: the role does not allow it.
    Forbidden(String),
    /// 403: the plan does not include it.
    PlanUpgradeRequired(String),
    /// 404: no such object in the caller's organization.
    NotFound(String),
    /// 400: the request itself is malformed (syntax, parameters).
    BadRequest(String),
    /// 422: well-formed, but a field fails validation. `field` is its path in the input (`saml.sso_url`,
    /// `domains[1]`), empty when no one field is at fault; the public message names it.
    Validation { field: String, message: String },
    /// 409: unique constraint or a state that forbids the change.
    Conflict(String),
    /// 409 on one input field: its value collides with existing data (a URL another endpoint delivers to, a
    /// domain another connection serves). `field` as in `Validation`; the public message names it.
    ConflictOn { field: String, message: String },
    /// 413: the body is over the configured limit.
    PayloadTooLarge(String),
    /// 415: the body is not of a media type the endpoint takes.
    UnsupportedMediaType(String),
    /// 405: the route exists, the method does not.
    MethodNotAllowed(String),
    /// 429: over the rate limit; retry after the given seconds.
    RateLimited { retry_after_secs: u64 },
    /// 502: a service we depend on (an identity provider) failed or could not be reached.
    BadGateway(String),
    /// 503: the database cannot be reached now (restarting, failing over, every connection busy); the same
    /// request may succeed after the given seconds. Nothing of the request was applied unless it was told so.
    Unavailable { retry_after_secs: u64 },
    /// 500: logged with the request id, never sent.
    Internal(anyhow::Error),
}

/// The result of every service function.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::NotFound(format!("no {what} with id {id}"))
    }

    /// A validation failure of query-string parameters answers 400, like any malformed query string.
    pub fn in_query(self) -> Self {
        match self {
            Self::Validation { .. } => Self::BadRequest(self.public_message()),
            other => other,
        }
    }

    pub fn validation(field: &str, message: impl std::fmt::Display) -> Self {
        Self::Validation {
            field: field.to_owned(),
            message: message.to_string(),
        }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }

    /// An internal error from a message (for example a corrupt stored value).
    pub fn internal_msg(message: impl std::fmt::Display) -> Self {
        Self::Internal(anyhow::anyhow!("{message}"))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::PlanUpgradeRequired(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict(_) | Self::ConflictOn { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code of an error, the same on REST and GraphQL.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::PlanUpgradeRequired(_) => "PLAN_UPGRADE_REQUIRED",
            Self::NotFound(_) => "NOT_FOUND",
            Self::BadRequest(_)
            | Self::Validation { .. }
            | Self::PayloadTooLarge(_)
            | Self::UnsupportedMediaType(_)
            | Self::MethodNotAllowed(_) => "BAD_USER_INPUT",
            Self::Conflict(_) | Self::ConflictOn { .. } => "CONFLICT",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::BadGateway(_) => "BAD_GATEWAY",
            Self::Unavailable { .. } => "UNAVAILABLE",
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// The REST error body, `{"error": {"code", "message"}}`.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"code": self.code(), "message": self.public_message()}})
    }

    /// The message sent to the client: internal causes are logged, never sent.
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(err) => {
                tracing::error!(error = ?err, "internal error");
                "internal error".to_owned()
            }
            Self::RateLimited { retry_after_secs } => {
                format!("rate limit exceeded; retry after {retry_after_secs} s")
            }
            Self::Unavailable { retry_after_secs } => {
                format!("the database cannot be reached now; retry after {retry_after_secs} s")
            }
            Self::Validation { field, message } if field.is_empty() => message.clone(),
            Self::Validation { field, message } | Self::ConflictOn { field, message } => {
                format!("{field}: {message}")
            }
            Self::Unauthenticated(m)
            | Self::Forbidden(m)
            | Self::PlanUpgradeRequired(m)
            | Self::NotFound(m)
            | Self::BadRequest(m)
            | Self::Conflict(m)
            | Self::PayloadTooLarge(m)
            | Self::UnsupportedMediaType(m)
            | Self::MethodNotAllowed(m)
            | Self::BadGateway(m) => m.clone(),
        }
    }
}

/// The words of a change that collided with a concurrent one (a deadlock, a serialization failure, a busy
/// SQLite file): trying it again may succeed.
const COLLIDED: &str = "the change collided with a concurrent one; retry it";

impl ApiError {
    /// Whether trying the same change again may succeed (it collided with a concurrent one).
    pub fn is_collision(&self) -> bool {
        matches!(self, Self::Conflict(message) if message == COLLIDED)
    }
}

impl From<DbErr> for ApiError {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                Self::Conflict("a record with these values already exists".to_owned())
            }
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                Self::validation("", "a referenced record does not exist")
            }
            _ if is_transient(&err) => Self::Conflict(COLLIDED.to_owned()),
            _ if is_unreachable(&err) => {
                unreachable_noted(&err);
                Self::Unavailable {
                    retry_after_secs: 1,
                }
            }
            _ => Self::Internal(err.into()),
        }
    }
}

/// Deadlocks and serialization failures (PostgreSQL 40P01 / 40001, SQLite BUSY): the client may retry.
fn is_transient(err: &DbErr) -> bool {
    let runtime = match err {
        DbErr::Exec(runtime) | DbErr::Query(runtime) | DbErr::Conn(runtime) => runtime,
        _ => return false,
    };
    let sea_orm::RuntimeErr::SqlxError(sqlx_err) = runtime else {
        return false;
    };
    let Some(db_err) = sqlx_err.as_database_error() else {
        return false;
    };
    matches!(
        db_err.code().as_deref(),
        Some("40001" | "40P01" | "5" | "517")
    )
}

/// Logs that the database cannot be reached at most once every 10 s (an outage answers every request 503),
/// with how many times it happened since the last line.
fn unreachable_noted(err: &DbErr) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST_LOGGED: AtomicU64 = AtomicU64::new(0);
    static SINCE: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let times = SINCE.fetch_add(1, Ordering::Relaxed) + 1;
    let last = LAST_LOGGED.load(Ordering::Relaxed);
    if now >= last + 10
        && LAST_LOGGED
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        SINCE.store(0, Ordering::Relaxed);
        tracing::warn!(error = %err, times, "the database cannot be reached: answering 503 with Retry-After");
    }
}

/// Whether the database could not be reached: no connection within the pool's wait, a connection lost or
/// refused, or PostgreSQL shutting down, starting up or out of connections (classes 08 and 57P, and 53300).
fn is_unreachable(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    let runtime = match err {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Exec(runtime) | DbErr::Query(runtime) | DbErr::Conn(runtime) => runtime,
        _ => return false,
    };
    let sea_orm::RuntimeErr::SqlxError(sqlx_err) = runtime else {
        return false;
    };
    match sqlx_err.as_ref() {
        Sqlx::Io(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::Tls(_)
        | Sqlx::WorkerCrashed => true,
        Sqlx::Database(db_err) => db_err.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("57P") || code == "53300"
        }),
        _ => false,
    }
}

impl From<TransactionError<ApiError>> for ApiError {
    fn from(err: TransactionError<ApiError>) -> Self {
        match err {
            TransactionError::Connection(db) => db.into(),
            TransactionError::Transaction(api) => api,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, Json(self.body())).into_response();
        if let Self::RateLimited { retry_after_secs } | Self::Unavailable { retry_after_secs } =
            self
        {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs.max(1)),
            );
        }
        response
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        let code = err.code();
        use async_graphql::ErrorExtensions;
        async_graphql::Error::new(err.public_message()).extend_with(|_, ext| {
            ext.set("code", code);
            if let ApiError::RateLimited { retry_after_secs }
            | ApiError::Unavailable { retry_after_secs } = err
            {
                ext.set("retryAfter", retry_after_secs);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_collision_is_worth_retrying() {
        assert!(ApiError::Conflict(COLLIDED.to_owned()).is_collision());
        assert!(
            !ApiError::Conflict("a record with these values already exists".to_owned())
                .is_collision()
        );
        assert!(!ApiError::BadRequest(COLLIDED.to_owned()).is_collision());
    }
}
