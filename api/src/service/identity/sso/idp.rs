//! Talking to identity providers: the SSRF-guarded HTTP client, readable error chains, and one finding of a connection test.

use openidconnect::IssuerUrl;
use openidconnect::core::CoreProviderMetadata;

use crate::egress;

/// The HTTP client for identity providers: no redirects, the SSRF guard on every connection.
#[derive(Clone, Debug)]
pub struct IdpClient {
    pub(crate) http: openidconnect::reqwest::Client,
    pub(crate) egress_allow: Option<String>,
}

impl IdpClient {
    pub fn new(egress_allow: Option<String>) -> anyhow::Result<Self> {
        let http = openidconnect::reqwest::Client::builder()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .user_agent(concat!("Concierge/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .timeout(std::time::Duration::from_secs(10))
            .dns_resolver(egress::guarded_resolver(egress_allow.clone()))
            .build()?;
        Ok(Self { http, egress_allow })
    }

    /// `url`, when the SSRF guard lets it be called (the resolver checks names again once resolved).
    pub(crate) fn guard(&self, url: &str) -> Result<url::Url, String> {
        egress::check_outbound(url, self.egress_allow.as_deref())
    }

    /// The provider's discovery document (with its current JWKS).
    pub(crate) async fn discover(&self, issuer: &str) -> Result<CoreProviderMetadata, String> {
        self.guard(issuer)?;
        let url = IssuerUrl::new(issuer.to_owned()).map_err(|e| format!("bad issuer URL: {e}"))?;
        CoreProviderMetadata::discover_async(url, &self.http)
            .await
            .map_err(|e| format!("discovery of {issuer} failed: {}", chain(&e)))
    }
}

/// An error with its causes, for the readable sign-in errors.
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// One finding of `testSsoConnection`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// `discovery`, `signing_keys`, `endpoints`, `authorization_url`, `token_url`, `userinfo_url` or
    /// `client_secret`.
    pub name: String,
    pub ok: bool,
    /// What was found, or what is wrong, in words.
    pub detail: String,
}

impl Check {
    pub(crate) fn new(name: &str, ok: bool, detail: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            ok,
            detail: detail.into(),
        }
    }
}
