//! Where a vendor's URLs point: templates filled from the connection's account, `CONCIERGE_PROVIDER_BASE_URLS`
//! rebasing, and the check on URLs that a vendor hands back.

use std::collections::HashMap;

use serde_json::Value;
use url::Url;

use crate::service::integrations::providers::{self, Provider};

/// The configured origins that replace vendors' own (`hubspot=http://127.0.0.1:9101,…`).
#[derive(Clone, Debug, Default)]
pub struct Endpoints {
    bases: HashMap<&'static str, Url>,
}

impl Endpoints {
    /// Reads `CONCIERGE_PROVIDER_BASE_URLS`; an unknown vendor or a value that is not an http(s) origin is an
    /// error that names it.
    pub fn parse(value: Option<&str>) -> anyhow::Result<Self> {
        let mut bases = HashMap::new();
        for pair in value
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let (key, origin) = pair.split_once('=').ok_or_else(|| {
                anyhow::anyhow!("provider_base_urls: {pair:?} is not vendor=origin")
            })?;
            let provider = providers::provider(key.trim()).ok_or_else(|| {
                anyhow::anyhow!(
                    "provider_base_urls: unknown vendor {key:?}; expected one of {}",
                    providers::PROVIDERS
                        .iter()
                        .map(|p| p.key)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            let url = Url::parse(origin.trim())
                .map_err(|e| anyhow::anyhow!("provider_base_urls: {origin:?}: {e}"))?;
            anyhow::ensure!(
                matches!(url.scheme(), "http" | "https") && url.host().is_some(),
                "provider_base_urls: {origin:?} is not an http(s) origin"
            );
            bases.insert(provider.key, url);
        }
        Ok(Self { bases })
    }

    /// The origin configured for `provider`, if any.
    pub fn base(&self, provider: &Provider) -> Option<&Url> {
        self.bases.get(provider.key)
    }

    /// `template` filled from `account`, and moved onto the configured origin (path and query kept).
    pub fn url(&self, provider: &Provider, template: &str, account: &Value) -> Result<Url, String> {
        let filled = fill(template, account)?;
        let url =
            Url::parse(&filled).map_err(|e| format!("{} URL {filled:?}: {e}", provider.name))?;
        Ok(self.rebase(provider, url))
    }

    /// `url` on the configured origin of `provider`, path and query kept; unchanged without one.
    pub fn rebase(&self, provider: &Provider, url: Url) -> Url {
        let Some(base) = self.base(provider) else {
            return url;
        };
        let mut moved = base.clone();
        let prefix = base.path().trim_end_matches('/');
        moved.set_path(&format!("{prefix}{}", url.path()));
        moved.set_query(url.query());
        moved
    }

    /// A URL that the vendor handed back (Salesforce's `instance_url`, Zoho's `api_domain`), as an origin:
    /// accepted only over https on the vendor's own domains, or on the configured origin.
    pub fn vendor_origin(&self, provider: &Provider, value: &str) -> Result<String, String> {
        let url = Url::parse(value.trim())
            .map_err(|e| format!("{} handed back {value:?}, not a URL ({e})", provider.name))?;
        let origin = url.origin().ascii_serialization();
        if let Some(base) = self.base(provider)
            && base.origin() == url.origin()
        {
            return Ok(origin);
        }
        let host = url.host_str().unwrap_or_default();
        if url.scheme() == "https"
            && provider.owns_host(host)
            && url.username().is_empty()
            && url.password().is_none()
        {
            return Ok(origin);
        }
        Err(format!(
            "{} handed back {origin}, which is not one of its own https addresses; refused",
            provider.name
        ))
    }
}

/// `{name}` placeholders replaced by the account's string values; a missing one is an error naming it.
pub fn fill(template: &str, account: &Value) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .ok_or_else(|| format!("unclosed placeholder in {template:?}"))?
            + start;
        let name = &rest[start + 1..end];
        let value = account
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("the connection has no {name}"))?;
        out.push_str(value.trim_end_matches('/'));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn configured_origins_replace_the_vendors_and_keep_the_path() {
        let endpoints = Endpoints::parse(Some(
            "hubspot=http://127.0.0.1:9101, zoho=http://127.0.0.1:9103/z",
        ))
        .unwrap();
        let hubspot = providers::provider("hubspot").unwrap();
        let url = endpoints
            .url(
                hubspot,
                "https://api.hubapi.com/oauth/v1/token?x=1",
                &json!({}),
            )
            .unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:9101/oauth/v1/token?x=1");
        let zoho = providers::provider("zoho").unwrap();
        let url = endpoints
            .url(
                zoho,
                "{api_domain}/crm/v2/Contacts/upsert",
                &json!({"api_domain": "https://www.zohoapis.eu"}),
            )
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9103/z/crm/v2/Contacts/upsert"
        );
        let salesforce = providers::provider("salesforce").unwrap();
        let url = endpoints
            .url(
                salesforce,
                "https://{login_host}/services/oauth2/token",
                &json!({"login_host": "test.salesforce.com"}),
            )
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://test.salesforce.com/services/oauth2/token"
        );
        assert!(
            endpoints
                .url(salesforce, "{instance_url}/x", &json!({}))
                .unwrap_err()
                .contains("instance_url")
        );
    }

    #[test]
    fn bad_configuration_names_what_is_wrong() {
        assert!(
            Endpoints::parse(Some("nope=http://x"))
                .unwrap_err()
                .to_string()
                .contains("unknown vendor")
        );
        assert!(Endpoints::parse(Some("hubspot")).is_err());
        assert!(Endpoints::parse(Some("hubspot=ftp://x")).is_err());
        assert!(Endpoints::parse(None).unwrap().bases.is_empty());
    }

    #[test]
    fn handed_back_urls_must_be_the_vendors_own_or_the_configured_origin() {
        let salesforce = providers::provider("salesforce").unwrap();
        let plain = Endpoints::default();
        assert_eq!(
            plain
                .vendor_origin(salesforce, "https://acme.my.salesforce.com/")
                .unwrap(),
            "https://acme.my.salesforce.com"
        );
        for bad in [
            "http://acme.my.salesforce.com",
            "https://169.254.169.254",
            "https://salesforce.com.evil.test",
            "https://user:pw@acme.my.salesforce.com",
        ] {
            assert!(plain.vendor_origin(salesforce, bad).is_err(), "{bad}");
        }
        let rebased = Endpoints::parse(Some("salesforce=http://127.0.0.1:9102")).unwrap();
        assert!(
            rebased
                .vendor_origin(salesforce, "http://127.0.0.1:9102")
                .is_ok()
        );
        assert!(
            rebased
                .vendor_origin(salesforce, "http://127.0.0.1:9999")
                .is_err()
        );
    }
}
