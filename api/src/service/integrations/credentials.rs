//! A connection's secrets, sealed as JSON at rest, and the connection opened with them for a vendor call.

use entities::integration;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::secrets::Sealer;
use crate::service::integrations::providers::{self, Provider};

/// A connection's secrets, sealed as JSON at rest; never returned through the API.
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct Credentials {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// Who the key belongs to, where the vendor's scheme names them (Zendesk's agent email).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The secret the vendor signs its notices to us with (Zendesk's webhook signing secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_token", &self.access_token.as_ref().map(|_| "…"))
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "…"))
            .field("api_key", &self.api_key.as_ref().map(|_| "…"))
            .field("email", &self.email)
            .field("webhook_secret", &self.webhook_secret.as_ref().map(|_| "…"))
            .finish()
    }
}

fn sealing_context(id: &str) -> String {
    format!("integration-credentials:{id}")
}

impl Credentials {
    pub fn seal(&self, sealer: &Sealer, integration_id: &str) -> ApiResult<String> {
        let plain = serde_json::to_string(self).map_err(ApiError::internal)?;
        sealer.seal(&plain, &sealing_context(integration_id))
    }

    pub fn open(sealer: &Sealer, model: &integration::Model) -> ApiResult<Self> {
        let Some(sealed) = &model.credentials else {
            return Ok(Self::default());
        };
        let plain = sealer.open(sealed, &sealing_context(&model.id))?;
        serde_json::from_str(plain.expose_secret()).map_err(ApiError::internal)
    }
}

/// A connection ready to call its vendor: the row, its provider and its open credentials.
#[derive(Debug)]
pub struct Connection {
    pub model: integration::Model,
    pub provider: &'static Provider,
    pub credentials: Credentials,
}

impl Connection {
    /// Whether the connection was authorized through OAuth (so that tokens are refreshed), rather than with a
    /// pasted key.
    pub fn uses_oauth(&self) -> bool {
        self.provider.is_oauth() && self.credentials.api_key.is_none()
    }

    pub fn open(sealer: &Sealer, model: integration::Model) -> ApiResult<Self> {
        let provider = providers::provider(&model.provider).ok_or_else(|| {
            ApiError::internal_msg(format!("stored integration provider {:?}", model.provider))
        })?;
        let credentials = Credentials::open(sealer, &model)?;
        Ok(Self {
            model,
            provider,
            credentials,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show_in_debug_output() {
        let credentials = Credentials {
            access_token: Some("at-secret".to_owned()),
            refresh_token: Some("rt-secret".to_owned()),
            api_key: Some("key-secret".to_owned()),
            email: None,
            webhook_secret: Some("wh-value".to_owned()),
        };
        let shown = format!("{credentials:?}");
        for secret in ["at-secret", "rt-secret", "key-secret", "wh-value"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
