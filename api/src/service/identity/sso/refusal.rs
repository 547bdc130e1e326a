//! Why an SSO sign-in was refused: a domain error that the routes show on the error page and the audit log records.

use crate::error::ApiError;

/// Why an SSO sign-in was refused: the error (whose kind the routes answer as a status), its reason in words
/// (taken once, so an internal cause is logged once), and the organization to audit it in, when known.
#[derive(Debug)]
pub struct SignInRefusal {
    pub error: ApiError,
    /// What the error page and the audit log say.
    pub reason: String,
    pub organization_id: Option<String>,
}

impl SignInRefusal {
    pub(crate) fn new(error: ApiError, org: Option<&str>) -> Self {
        Self {
            reason: error.public_message(),
            error,
            organization_id: org.map(str::to_owned),
        }
    }

    /// Refused because the provider's answer does not prove who signs in (401).
    pub(crate) fn unauthenticated(reason: impl Into<String>, org: Option<&str>) -> Self {
        Self::new(ApiError::Unauthenticated(reason.into()), org)
    }

    /// Refused because the member may not sign in this way (403).
    pub(crate) fn forbidden(reason: impl Into<String>, org: Option<&str>) -> Self {
        Self::new(ApiError::Forbidden(reason.into()), org)
    }
}

impl From<ApiError> for SignInRefusal {
    fn from(error: ApiError) -> Self {
        Self::new(error, None)
    }
}
