//! Mutation payloads: every mutation answers the objects it changed or the `userErrors` that say what to fix.

use async_graphql::{Context, Enum, SimpleObject};

use crate::error::{ApiError, ApiResult};

/// What kind of mistake a user error is.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum UserErrorCode {
    /// A value is not accepted (malformed, out of range, too long, not allowed): the message says why.
    BadUserInput,
    /// An object named in the input does not exist in the organization (or not any more).
    NotFound,
    /// The change collides with existing data or with the object's state, such as a duplicate address or the
    /// organization's last owner.
    Conflict,
}

/// A mistake in a mutation's input that the user can fix. Nothing was changed.
#[derive(SimpleObject, Debug)]
pub struct UserError {
    /// The path to the input field at fault, starting from the mutation's argument (`["input", "url"]`,
    /// `["input", "domains", "1"]`); null when no single field is at fault.
    pub field: Option<Vec<String>>,
    /// What is wrong, in words that can be shown to the person who made the change.
    pub message: String,
    /// The kind of mistake.
    pub code: UserErrorCode,
}

/// A payload type: it carries the user errors of a mutation that did not run.
pub(crate) trait Payload: Default {
    fn set_user_errors(&mut self, errors: Vec<UserError>);
}

/// Where a mutation's input fields sit among its arguments.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Args {
    /// Under the `input` argument.
    Input,
    /// The arguments themselves (`id`, `role`, `gracePeriodSeconds`).
    Top,
}

/// The payload of a mutation's outcome: `build` on success; the user errors on a mistake the user can fix;
/// a top-level error (with its code and path) for authentication, authorization, plan, rate-limit and internal
/// failures, with the mutation's field `null` and the results of the document's other mutations kept.
pub(crate) fn payload<T, P: Payload>(
    ctx: &Context<'_>,
    result: ApiResult<T>,
    args: Args,
    build: impl FnOnce(T) -> P,
) -> async_graphql::Result<Option<P>> {
    match result {
        Ok(value) => Ok(Some(build(value))),
        Err(err) => match user_error(err, args) {
            Ok(error) => {
                let mut payload = P::default();
                payload.set_user_errors(vec![error]);
                Ok(Some(payload))
            }
            Err(err) => Ok(crate::graphql::null_with_error(ctx, err)),
        },
    }
}

/// The user error an API error stands for, or the error itself when the user cannot fix it.
fn user_error(err: ApiError, args: Args) -> Result<UserError, ApiError> {
    let (field, code) = match &err {
        ApiError::Validation { field, .. } => {
            (field_path(field, args), UserErrorCode::BadUserInput)
        }
        ApiError::BadRequest(_) | ApiError::PayloadTooLarge(_) => {
            (None, UserErrorCode::BadUserInput)
        }
        ApiError::NotFound(_) => (None, UserErrorCode::NotFound),
        ApiError::Conflict(_) => (None, UserErrorCode::Conflict),
        ApiError::ConflictOn { field, .. } => (field_path(field, args), UserErrorCode::Conflict),
        _ => return Err(err),
    };
    let message = match err {
        ApiError::Validation { message, .. } | ApiError::ConflictOn { message, .. } => message,
        other => other.public_message(),
    };
    Ok(UserError {
        field,
        message,
        code,
    })
}

/// A service's field path (`saml.metadata_xml`, `domains[1]`) as GraphQL names from the mutation's arguments.
fn field_path(field: &str, args: Args) -> Option<Vec<String>> {
    if field.is_empty() {
        return None;
    }
    let mut path: Vec<String> = match args {
        Args::Input => vec!["input".to_owned()],
        Args::Top => Vec::new(),
    };
    for part in field.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((name, rest)) => (name, Some(rest.trim_end_matches(']'))),
            None => (part, None),
        };
        if !(matches!(args, Args::Input) && path.len() == 1 && name == "input") {
            path.push(camel(name));
        }
        path.extend(index.map(str::to_owned));
    }
    (!path.is_empty()).then_some(path)
}

/// `metadata_xml` → `metadataXml`.
fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Declares a mutation's payload: the given fields (each nullable or a list) and `userErrors`.
macro_rules! payload_type {
    ($(#[$doc:meta])* $name:ident { $($(#[$field_doc:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(async_graphql::SimpleObject, Default)]
        pub struct $name {
            $($(#[$field_doc])* pub $field: $ty,)*
            /// The mistakes in the input that kept the mutation from making any change; empty when it ran.
            pub user_errors: Vec<$crate::graphql::payloads::UserError>,
        }

        impl $crate::graphql::payloads::Payload for $name {
            fn set_user_errors(&mut self, errors: Vec<$crate::graphql::payloads::UserError>) {
                self.user_errors = errors;
            }
        }
    };
}
pub(crate) use payload_type;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_fields_become_graphql_paths() {
        let path = |field, args| field_path(field, args).map(|p| p.join("/"));
        assert_eq!(path("url", Args::Input).as_deref(), Some("input/url"));
        assert_eq!(
            path("saml.metadata_xml", Args::Input).as_deref(),
            Some("input/saml/metadataXml")
        );
        assert_eq!(
            path("saml.certificates[2]", Args::Input).as_deref(),
            Some("input/saml/certificates/2")
        );
        assert_eq!(path("input", Args::Input).as_deref(), Some("input"));
        assert_eq!(
            path("grace_period_seconds", Args::Top).as_deref(),
            Some("gracePeriodSeconds")
        );
        assert_eq!(path("", Args::Input), None);
    }

    #[test]
    fn only_what_a_user_can_fix_becomes_a_user_error() {
        let fixable = user_error(ApiError::validation("role_rules", "too many"), Args::Input)
            .expect("a validation failure is the user's to fix");
        assert_eq!(fixable.code, UserErrorCode::BadUserInput);
        assert_eq!(fixable.message, "too many");
        assert_eq!(
            fixable.field,
            Some(vec!["input".to_owned(), "roleRules".to_owned()])
        );
        let missing = user_error(ApiError::not_found("webhook", "wh_1"), Args::Top)
            .expect("a missing object is the user's to fix");
        assert_eq!(missing.code, UserErrorCode::NotFound);
        assert!(user_error(ApiError::Forbidden("no".into()), Args::Top).is_err());
        assert!(user_error(ApiError::internal_msg("boom"), Args::Top).is_err());
        assert!(
            user_error(
                ApiError::RateLimited {
                    retry_after_secs: 1
                },
                Args::Top
            )
            .is_err()
        );
    }
}
