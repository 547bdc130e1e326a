//! The providers as data: each vendor's category, plan feature, OAuth endpoints, token fields, domains and limits.
//!
//! Code is written only for what differs between vendors (the calls of each connector); everything a connection
//! needs to know before that is here, in Nango's shape.

use crate::authz::Feature;
use crate::text_enum::text_enum;

text_enum! {
    /// What kind of system a provider is.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum Category: "integration category" {
        Crm = "crm",
        Helpdesk = "helpdesk",
        Email = "email",
    }
}

/// How a connection proves itself to the vendor: through its authorization page, with a key, or either.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthKind {
    /// The OAuth 2.0 authorization-code grant, with PKCE when `pkce`.
    OAuth2 { pkce: bool },
    /// A key the customer pastes, sent as `scheme` says.
    Key(KeyScheme),
    /// Either, as the customer chooses (Zendesk: OAuth or an API token).
    OAuth2OrKey { pkce: bool, key: KeyScheme },
    /// A mail server's settings and password (custom SMTP), checked by connecting to it.
    Smtp,
}

/// How a pasted key is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyScheme {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// Zendesk's API token: HTTP Basic with `<agent email>/token` and the token; the email is needed.
    EmailToken,
    /// Freshdesk's API key: HTTP Basic with the key as user name and `X` as password.
    KeyAsUser,
}

/// How the access token is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenHeader {
    /// `Authorization: Bearer …`
    Bearer,
    /// `Authorization: Zoho-oauthtoken …`
    ZohoOauthtoken,
}

/// How a vendor lets an application give up its grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// `POST url` with the form `token=<refresh token>` (Salesforce, Zoho).
    PostToken(&'static str),
    /// `DELETE url/<refresh token>` (HubSpot).
    DeleteRefreshToken(&'static str),
    /// `DELETE url` with the access token itself as the bearer (Zendesk's `oauth/tokens/current`).
    DeleteCurrentToken(&'static str),
    /// The vendor has no revocation call: the customer removes the app on their side.
    None,
}

/// Where in the vendor's answers its rate-limit state is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitHeaders {
    /// Requests left in the current window.
    pub remaining: Option<&'static str>,
    /// Milliseconds in the vendor's window, when it says so (HubSpot).
    pub interval_ms: Option<&'static str>,
    /// When the window resets, in Unix seconds (Intercom's `X-RateLimit-Reset`).
    pub reset_epoch: Option<&'static str>,
}

/// One vendor, as data.
#[derive(Debug)]
pub struct Provider {
    /// The key used in URLs, settings and the API (`hubspot`).
    pub key: &'static str,
    /// The vendor's name as people write it.
    pub name: &'static str,
    pub category: Category,
    /// The plan feature that connecting it needs.
    pub feature: Feature,
    pub auth: AuthKind,
    /// The authorization page; `{login_host}` and `{accounts_host}` are filled from the account choices.
    pub authorize_url: &'static str,
    /// Where codes and refresh tokens are exchanged.
    pub token_url: &'static str,
    pub revocation: Revocation,
    /// The API's origin; `{instance_url}` or `{api_domain}` when the token response names it.
    pub api_base: &'static str,
    pub scopes: &'static [&'static str],
    /// Extra parameters of the authorization request.
    pub authorization_params: &'static [(&'static str, &'static str)],
    /// Extra parameters of every token request (code exchange and refresh).
    pub token_params: &'static [(&'static str, &'static str)],
    /// Fields of the token response kept in the connection's account (`instance_url`, `api_domain`).
    pub token_metadata: &'static [&'static str],
    /// Hosts (and their subdomains) that a URL the vendor hands back may name.
    pub domains: &'static [&'static str],
    pub token_header: TokenHeader,
    pub rate_limit: RateLimitHeaders,
    /// Requests per second one connection sends at most (below the vendor's documented limit).
    pub requests_per_second: u32,
}

impl Provider {
    /// Whether connecting may go through the vendor's authorization page.
    pub fn is_oauth(&self) -> bool {
        matches!(
            self.auth,
            AuthKind::OAuth2 { .. } | AuthKind::OAuth2OrKey { .. }
        )
    }

    /// How a pasted key is sent, when the provider may be connected with one.
    pub fn key_scheme(&self) -> Option<KeyScheme> {
        match self.auth {
            AuthKind::Key(scheme) | AuthKind::OAuth2OrKey { key: scheme, .. } => Some(scheme),
            AuthKind::OAuth2 { .. } | AuthKind::Smtp => None,
        }
    }

    /// Whether the authorization request carries a PKCE challenge.
    pub fn uses_pkce(&self) -> bool {
        matches!(
            self.auth,
            AuthKind::OAuth2 { pkce: true } | AuthKind::OAuth2OrKey { pkce: true, .. }
        )
    }

    /// Whether `host` is one of the vendor's own (a listed domain or a subdomain of one).
    pub fn owns_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.domains
            .iter()
            .any(|domain| host == *domain || host.ends_with(&format!(".{domain}")))
    }
}

/// Zoho's data centres: the suffix of `accounts.zoho.<suffix>` (Canada has its own accounts host).
pub const ZOHO_DATA_CENTRES: [(&str, &str); 7] = [
    ("com", "accounts.zoho.com"),
    ("eu", "accounts.zoho.eu"),
    ("in", "accounts.zoho.in"),
    ("com.au", "accounts.zoho.com.au"),
    ("jp", "accounts.zoho.jp"),
    ("com.cn", "accounts.zoho.com.cn"),
    ("zohocloud.ca", "accounts.zohocloud.ca"),
];

/// Salesforce's login hosts for production and sandbox orgs (a My Domain host may be given instead).
pub const SALESFORCE_LOGIN_HOSTS: [(&str, &str); 2] = [
    ("production", "login.salesforce.com"),
    ("sandbox", "test.salesforce.com"),
];

const HUBSPOT: Provider = Provider {
    key: "hubspot",
    name: "HubSpot",
    category: Category::Crm,
    feature: Feature::Crm,
    auth: AuthKind::OAuth2 { pkce: false },
    authorize_url: "https://app.hubspot.com/oauth/authorize",
    token_url: "https://api.hubapi.com/oauth/v1/token",
    revocation: Revocation::DeleteRefreshToken("https://api.hubapi.com/oauth/v1/refresh-tokens"),
    api_base: "https://api.hubapi.com",
    scopes: &[
        "oauth",
        "crm.objects.contacts.read",
        "crm.objects.contacts.write",
        "crm.schemas.contacts.read",
        "crm.schemas.contacts.write",
        "tickets",
    ],
    authorization_params: &[],
    token_params: &[],
    token_metadata: &[],
    domains: &["hubapi.com", "hubspot.com"],
    token_header: TokenHeader::Bearer,
    rate_limit: RateLimitHeaders {
        remaining: Some("x-hubspot-ratelimit-remaining"),
        interval_ms: Some("x-hubspot-ratelimit-interval-milliseconds"),
        reset_epoch: None,
    },
    // 100 requests per 10 s per account for OAuth apps.
    requests_per_second: 9,
};

const SALESFORCE: Provider = Provider {
    key: "salesforce",
    name: "Salesforce",
    category: Category::Crm,
    feature: Feature::Crm,
    auth: AuthKind::OAuth2 { pkce: true },
    authorize_url: "https://{login_host}/services/oauth2/authorize",
    token_url: "https://{login_host}/services/oauth2/token",
    revocation: Revocation::PostToken("https://{login_host}/services/oauth2/revoke"),
    api_base: "{instance_url}",
    scopes: &["api", "refresh_token"],
    authorization_params: &[("prompt", "consent")],
    token_params: &[],
    token_metadata: &["instance_url"],
    domains: &["salesforce.com", "force.com", "cloudforce.com"],
    token_header: TokenHeader::Bearer,
    rate_limit: RateLimitHeaders {
        remaining: None,
        interval_ms: None,
        reset_epoch: None,
    },
    requests_per_second: 20,
};

const ZOHO: Provider = Provider {
    key: "zoho",
    name: "Zoho CRM",
    category: Category::Crm,
    feature: Feature::Crm,
    auth: AuthKind::OAuth2 { pkce: false },
    authorize_url: "https://{accounts_host}/oauth/v2/auth",
    token_url: "https://{accounts_host}/oauth/v2/token",
    revocation: Revocation::PostToken("https://{accounts_host}/oauth/v2/token/revoke"),
    api_base: "{api_domain}",
    scopes: &[
        "ZohoCRM.modules.ALL",
        "ZohoCRM.settings.fields.READ",
        "ZohoCRM.org.READ",
    ],
    authorization_params: &[("access_type", "offline"), ("prompt", "consent")],
    token_params: &[],
    token_metadata: &["api_domain"],
    domains: &[
        "zoho.com",
        "zoho.eu",
        "zoho.in",
        "zoho.com.au",
        "zoho.jp",
        "zoho.com.cn",
        "zohocloud.ca",
        "zohoapis.com",
        "zohoapis.eu",
        "zohoapis.in",
        "zohoapis.com.au",
        "zohoapis.jp",
        "zohoapis.com.cn",
        "zohoapis.ca",
    ],
    token_header: TokenHeader::ZohoOauthtoken,
    rate_limit: RateLimitHeaders {
        remaining: Some("x-ratelimit-remaining"),
        interval_ms: None,
        reset_epoch: None,
    },
    requests_per_second: 10,
};

const ZENDESK: Provider = Provider {
    key: "zendesk",
    name: "Zendesk",
    category: Category::Helpdesk,
    feature: Feature::Helpdesk,
    auth: AuthKind::OAuth2OrKey {
        pkce: false,
        key: KeyScheme::EmailToken,
    },
    authorize_url: "https://{subdomain}.zendesk.com/oauth/authorizations/new",
    token_url: "https://{subdomain}.zendesk.com/oauth/tokens",
    revocation: Revocation::DeleteCurrentToken(
        "https://{subdomain}.zendesk.com/api/v2/oauth/tokens/current.json",
    ),
    api_base: "https://{subdomain}.zendesk.com",
    scopes: &["read", "write"],
    authorization_params: &[],
    // Clients made before 30 April 2025 get a refresh token (and a 30-minute access token) only when asking.
    token_params: &[("expires_in", "1800")],
    token_metadata: &[],
    domains: &["zendesk.com"],
    token_header: TokenHeader::Bearer,
    rate_limit: RateLimitHeaders {
        remaining: Some("x-rate-limit-remaining"),
        interval_ms: None,
        reset_epoch: None,
    },
    // 200 requests a minute on the Team plan, the smallest.
    requests_per_second: 3,
};

const FRESHDESK: Provider = Provider {
    key: "freshdesk",
    name: "Freshdesk",
    category: Category::Helpdesk,
    feature: Feature::Helpdesk,
    auth: AuthKind::Key(KeyScheme::KeyAsUser),
    authorize_url: "",
    token_url: "",
    revocation: Revocation::None,
    api_base: "https://{subdomain}.freshdesk.com",
    scopes: &[],
    authorization_params: &[],
    token_params: &[],
    token_metadata: &[],
    domains: &["freshdesk.com"],
    token_header: TokenHeader::Bearer,
    rate_limit: RateLimitHeaders {
        remaining: Some("x-ratelimit-remaining"),
        interval_ms: None,
        reset_epoch: None,
    },
    // 200 requests a minute on the Growth plan, the smallest paid one.
    requests_per_second: 3,
};

const INTERCOM: Provider = Provider {
    key: "intercom",
    name: "Intercom",
    category: Category::Helpdesk,
    feature: Feature::Helpdesk,
    // Intercom's tokens never expire and come without a refresh token; permissions are the app's, set in its
    // Developer Hub (no scope parameter).
    auth: AuthKind::OAuth2 { pkce: false },
    authorize_url: "https://{app_host}/oauth",
    token_url: "https://{api_host}/auth/eagle/token",
    revocation: Revocation::None,
    api_base: "https://{api_host}",
    scopes: &[],
    authorization_params: &[],
    token_params: &[],
    token_metadata: &[],
    domains: &["intercom.com", "intercom.io"],
    token_header: TokenHeader::Bearer,
    rate_limit: RateLimitHeaders {
        remaining: Some("x-ratelimit-remaining"),
        interval_ms: None,
        reset_epoch: Some("x-ratelimit-reset"),
    },
    // 10,000 a minute per app, split into 10-second windows: far above what one workspace's handoffs need.
    requests_per_second: 20,
};

const SMTP: Provider = Provider {
    key: "smtp",
    name: "Custom SMTP",
    category: Category::Email,
    feature: Feature::IntegrationsBasic,
    auth: AuthKind::Smtp,
    authorize_url: "",
    token_url: "",
    revocation: Revocation::None,
    api_base: "",
    scopes: &[],
    authorization_params: &[],
    token_params: &[],
    token_metadata: &[],
    domains: &[],
    token_header: TokenHeader::Bearer,
    rate_limit: RateLimitHeaders {
        remaining: None,
        interval_ms: None,
        reset_epoch: None,
    },
    requests_per_second: 5,
};

const SENDGRID: Provider = Provider {
    key: "sendgrid",
    name: "SendGrid",
    category: Category::Email,
    feature: Feature::IntegrationsBasic,
    auth: AuthKind::Key(KeyScheme::Bearer),
    authorize_url: "",
    token_url: "",
    revocation: Revocation::None,
    api_base: "https://api.sendgrid.com",
    scopes: &[],
    authorization_params: &[],
    token_params: &[],
    token_metadata: &[],
    domains: &["sendgrid.com"],
    token_header: TokenHeader::Bearer,
    rate_limit: RateLimitHeaders {
        remaining: Some("x-ratelimit-remaining"),
        interval_ms: None,
        reset_epoch: Some("x-ratelimit-reset"),
    },
    // Mail send is limited by the account's plan, not per second; stay gentle.
    requests_per_second: 10,
};

const MAILCHIMP: Provider = Provider {
    key: "mailchimp",
    name: "Mailchimp",
    category: Category::Email,
    feature: Feature::IntegrationsBasic,
    // Mailchimp's tokens never expire (`expires_in: 0`) and come without a refresh token or scopes; the
    // account's data centre is read from the metadata endpoint once connected.
    auth: AuthKind::OAuth2 { pkce: false },
    authorize_url: "https://login.mailchimp.com/oauth2/authorize",
    token_url: "https://login.mailchimp.com/oauth2/token",
    revocation: Revocation::None,
    api_base: "{api_endpoint}/3.0",
    scopes: &[],
    authorization_params: &[],
    token_params: &[],
    token_metadata: &[],
    domains: &["mailchimp.com"],
    token_header: TokenHeader::Bearer,
    // No rate-limit headers: at most 10 simultaneous connections, then 429.
    rate_limit: RateLimitHeaders {
        remaining: None,
        interval_ms: None,
        reset_epoch: None,
    },
    requests_per_second: 5,
};

/// Intercom's regions: the app host (its authorization page) and the API host.
pub const INTERCOM_REGIONS: [(&str, &str, &str); 3] = [
    ("us", "app.intercom.com", "api.intercom.io"),
    ("eu", "app.eu.intercom.com", "api.eu.intercom.io"),
    ("au", "app.au.intercom.com", "api.au.intercom.io"),
];

/// Every provider, in the order they are listed.
pub static PROVIDERS: [&Provider; 9] = [
    &SALESFORCE,
    &HUBSPOT,
    &ZOHO,
    &ZENDESK,
    &FRESHDESK,
    &INTERCOM,
    &SMTP,
    &SENDGRID,
    &MAILCHIMP,
];

/// The provider with this key.
pub fn provider(key: &str) -> Option<&'static Provider> {
    PROVIDERS.iter().copied().find(|p| p.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_lower_case() {
        let mut keys: Vec<&str> = PROVIDERS.iter().map(|p| p.key).collect();
        assert!(
            keys.iter()
                .all(|k| k.chars().all(|c| c.is_ascii_lowercase()))
        );
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), PROVIDERS.len());
    }

    #[test]
    fn vendor_hosts_are_recognised_by_domain_not_by_substring() {
        let zoho = provider("zoho").unwrap();
        assert!(zoho.owns_host("www.zohoapis.eu"));
        assert!(zoho.owns_host("zohoapis.com."));
        assert!(!zoho.owns_host("zohoapis.eu.evil.test"));
        assert!(!zoho.owns_host("evilzohoapis.eu"));
        let salesforce = provider("salesforce").unwrap();
        assert!(salesforce.owns_host("acme.my.salesforce.com"));
        assert!(!salesforce.owns_host("salesforce.com.evil.test"));
    }
}
