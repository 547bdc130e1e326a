//! Pending sign-ins: the request kept between the redirect to the provider and its answer, bound to the browser, used once.

use chrono::Utc;
use entities::{sso_connection, sso_request};
use sea_orm::EntityTrait;

use crate::auth::tokens;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::ids::{self, Kind};

use crate::service::identity::sso::refusal::SignInRefusal;

/// A same-origin path to return to after sign-in; anything else is refused.
pub fn validate_return_to(value: Option<&str>) -> ApiResult<String> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok("/".to_owned());
    };
    let same_origin = value.starts_with('/')
        && !value.starts_with("//")
        && !value.starts_with("/\\")
        && !value.chars().any(|c| c.is_control() || c == '\\')
        && value.len() <= 2_000;
    if same_origin {
        Ok(value.to_owned())
    } else {
        Err(ApiError::validation(
            "return_to",
            "must be a path on this server, like /conversations",
        ))
    }
}

/// Where to send the browser to sign in, and the state to keep in its cookie.
#[derive(Debug)]
pub struct Redirect {
    pub url: String,
    pub state: String,
}

/// The enabled connection `id` of `protocol` (the path segment of the login and callback URLs).
pub(crate) async fn connection_for(
    db: &Db,
    protocol: &str,
    id: &str,
) -> ApiResult<sso_connection::Model> {
    let id = ids::lookup(Kind::SsoConnection, id)?;
    sso_connection::Entity::find_by_id(id.to_owned())
        .one(db.conn())
        .await?
        .filter(|c| c.enabled && c.protocol == protocol)
        .ok_or_else(|| ApiError::not_found("SSO connection", id))
}

/// The sign-in request that `state` stands for, used once: it must have been started in this browser (whose
/// state cookie says `cookie_state`) through `connection`, and not too long ago. `what` names the state in the
/// refusal (`state`, `RelayState`).
pub(crate) async fn take_request(
    db: &Db,
    connection: &sso_connection::Model,
    state: &str,
    cookie_state: Option<&str>,
    what: &str,
) -> Result<sso_request::Model, SignInRefusal> {
    let unauthorized =
        |reason: String| SignInRefusal::unauthenticated(reason, Some(&connection.organization_id));
    if cookie_state != Some(state) {
        return Err(unauthorized(format!(
            "this sign-in was not started in this browser ({what} mismatch): start again"
        )));
    }
    let request_id = tokens::hash(state);
    // Used once: whoever deletes the row owns the request.
    let request = sso_request::Entity::find_by_id(request_id.clone())
        .one(db.conn())
        .await
        .map_err(ApiError::from)?
        .filter(|r| r.connection_id == connection.id);
    let deleted = sso_request::Entity::delete_by_id(request_id)
        .exec(db.conn())
        .await
        .map_err(ApiError::from)?;
    let Some(request) = request.filter(|_| deleted.rows_affected == 1) else {
        return Err(unauthorized(
            "unknown or already used sign-in request: start again".to_owned(),
        ));
    };
    if request.expires_at <= Utc::now() {
        return Err(unauthorized(
            "the sign-in took too long: start again".to_owned(),
        ));
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_same_origin_paths_are_return_paths() {
        assert_eq!(validate_return_to(None).unwrap(), "/");
        assert_eq!(
            validate_return_to(Some("/inbox?x=1")).unwrap(),
            "/inbox?x=1"
        );
        for bad in [
            "https://evil.test/",
            "//evil.test",
            "/\\evil.test",
            "inbox",
            "/a\nb",
        ] {
            assert!(validate_return_to(Some(bad)).is_err(), "{bad}");
        }
    }
}
