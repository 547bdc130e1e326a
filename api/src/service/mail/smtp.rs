//! A custom SMTP server through lettre: STARTTLS (required, never downgraded), implicit TLS, or plain text only
//! to a loopback address; AUTH with the sealed password; the server's own answers reported in words. The host
//! is resolved through the SSRF guard first and the connection goes to the address it allowed.

use std::net::IpAddr;
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials as SmtpCredentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::response::Response;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::egress;
use crate::error::{ApiError, ApiResult};
use crate::service::integrations::executor::Failure;
use crate::service::mail::Mail;

/// How the connection to the server is protected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    /// STARTTLS after connecting (port 587): required, the connection fails rather than go on in clear.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only to a server on this machine (a loopback address), never over a network.
    None,
}

impl Security {
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Starttls => "starttls",
            Security::Tls => "tls",
            Security::None => "none",
        }
    }

    pub fn named(name: &str) -> Option<Self> {
        match name {
            "starttls" => Some(Security::Starttls),
            "tls" => Some(Security::Tls),
            "none" => Some(Security::None),
            _ => None,
        }
    }

    fn words(self) -> &'static str {
        match self {
            Security::Starttls => "STARTTLS",
            Security::Tls => "TLS",
            Security::None => "no encryption (loopback)",
        }
    }
}

/// An SMTP server and the sender it sends as (the password is kept apart, sealed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// Empty: no AUTH.
    #[serde(default)]
    pub username: String,
    pub from_address: String,
    #[serde(default)]
    pub from_name: String,
    /// A PEM certificate to trust beside the public roots (a relay with a private CA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificate: Option<String>,
}

/// The SMTP settings as typed, before they are checked.
#[derive(Clone, Debug, Default)]
pub struct SmtpInput {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub security: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from_address: Option<String>,
    pub from_name: Option<String>,
    pub ca_certificate: Option<String>,
}

/// Whether `address` looks like one mailbox (`local@domain`), which lettre parses exactly later.
pub fn valid_address(address: &str) -> bool {
    address.parse::<lettre::Address>().is_ok()
}

impl SmtpInput {
    /// Checks every field, naming it in the error (paths under `smtp`), and answers the settings and password.
    pub fn validated(&self) -> ApiResult<(SmtpSettings, Option<String>)> {
        let host = self
            .host
            .as_deref()
            .map(str::trim)
            .unwrap_or_default()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let host_ok = !host.is_empty()
            && host.len() <= 253
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        if !host_ok {
            return Err(ApiError::validation(
                "smtp.host",
                "must be the SMTP server's host name or address, such as smtp.example.com",
            ));
        }
        let security = match self.security.as_deref() {
            None => Security::Starttls,
            Some(name) => Security::named(name).ok_or_else(|| {
                ApiError::validation("smtp.security", "must be starttls, tls or none")
            })?,
        };
        let port = self.port.unwrap_or(match security {
            Security::Tls => 465,
            Security::Starttls => 587,
            Security::None => 25,
        });
        if port == 0 {
            return Err(ApiError::validation("smtp.port", "must be 1 to 65535"));
        }
        if security == Security::None && !is_loopback(&host) {
            return Err(ApiError::validation(
                "smtp.security",
                "none (plain text) is allowed only for a server on this machine (127.0.0.1, ::1 or localhost): \
                 use starttls or tls over a network",
            ));
        }
        let username = self
            .username
            .as_deref()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let password = self.password.clone().filter(|p| !p.is_empty());
        if username.len() > 254 || username.chars().any(char::is_control) {
            return Err(ApiError::validation(
                "smtp.username",
                "must be at most 254 characters, without control characters",
            ));
        }
        if password.as_ref().is_some_and(|p| p.len() > 512) {
            return Err(ApiError::validation(
                "smtp.password",
                "must be at most 512 characters",
            ));
        }
        let from_address = self
            .from_address
            .as_deref()
            .unwrap_or_default()
            .trim()
            .to_owned();
        if !valid_address(&from_address) {
            return Err(ApiError::validation(
                "smtp.from_address",
                "must be the email address messages are sent from, such as support@example.com",
            ));
        }
        let from_name = self
            .from_name
            .as_deref()
            .unwrap_or_default()
            .trim()
            .to_owned();
        if from_name.chars().count() > 100 || from_name.chars().any(char::is_control) {
            return Err(ApiError::validation(
                "smtp.from_name",
                "must be at most 100 characters, without control characters",
            ));
        }
        let ca_certificate = self
            .ca_certificate
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        if let Some(pem) = &ca_certificate
            && !looks_like_certificate(pem)
        {
            return Err(ApiError::validation(
                "smtp.ca_certificate",
                "must be a PEM certificate (-----BEGIN CERTIFICATE-----…)",
            ));
        }
        Ok((
            SmtpSettings {
                host,
                port,
                security,
                username,
                from_address,
                from_name,
                ca_certificate,
            },
            password,
        ))
    }
}

/// Whether `pem` holds at least one PEM certificate block whose body is base64 (the TLS library reads it
/// fully when connecting).
fn looks_like_certificate(pem: &str) -> bool {
    use base64::Engine;
    let mut found = false;
    let mut rest = pem;
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let after = &rest[start + "-----BEGIN CERTIFICATE-----".len()..];
        let Some(end) = after.find("-----END CERTIFICATE-----") else {
            return false;
        };
        let body: String = after[..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if body.is_empty()
            || base64::engine::general_purpose::STANDARD
                .decode(&body)
                .is_err()
        {
            return false;
        }
        found = true;
        rest = &after[end..];
    }
    found && Certificate::from_pem(pem.as_bytes()).is_ok()
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl SmtpSettings {
    /// The settings stored in the connection's account.
    pub fn to_account(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }

    pub fn stored(account: &Value) -> Option<Self> {
        serde_json::from_value(account.clone()).ok()
    }

    /// Where it sends, in words: `smtp.example.com:587 with STARTTLS`.
    pub fn described(&self) -> String {
        format!("{}:{} with {}", self.host, self.port, self.security.words())
    }
}

/// How long one SMTP exchange may take.
const TIMEOUT: Duration = Duration::from_secs(20);

/// The transport to the server: the host resolved through the SSRF guard (an address on the allow-list, or a
/// public one; loopback for plain text), TLS checked against the host name.
async fn transport(
    settings: &SmtpSettings,
    password: Option<&str>,
    egress_allow: Option<&str>,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, Failure> {
    let bare = settings.host.trim_start_matches('[').trim_end_matches(']');
    let address = if let Ok(ip) = bare.parse::<IpAddr>() {
        ip
    } else {
        let allowed_by_name = egress::host_allowed(&settings.host, egress_allow)
            || (settings.security == Security::None && settings.host == "localhost");
        let found = tokio::net::lookup_host((settings.host.as_str(), settings.port))
            .await
            .map_err(|e| Failure::Network(format!("{} could not be resolved: {e}", settings.host)))?
            .map(|a| a.ip())
            .find(|ip| allowed_by_name || egress::ip_allowed(*ip, egress_allow));
        found.ok_or_else(|| {
            Failure::Configuration(format!(
                "{} resolves only to private or local addresses, which the SSRF guard refuses \
                 (CONCIERGE_EGRESS_ALLOW can name it)",
                settings.host
            ))
        })?
    };
    let loopback_plain = settings.security == Security::None && address.is_loopback();
    if !loopback_plain && !egress::ip_allowed(address, egress_allow) {
        return Err(Failure::Configuration(format!(
            "{address} is a private or local address, which the SSRF guard refuses (CONCIERGE_EGRESS_ALLOW can name it)"
        )));
    }
    if settings.security == Security::None && !address.is_loopback() {
        return Err(Failure::Configuration(
            "plain text is allowed only to a loopback address".to_owned(),
        ));
    }
    let tls = match settings.security {
        Security::None => Tls::None,
        security => {
            let mut builder = TlsParameters::builder(settings.host.clone());
            if let Some(pem) = &settings.ca_certificate {
                let certificate = Certificate::from_pem(pem.as_bytes()).map_err(|e| {
                    Failure::Configuration(format!("the CA certificate cannot be read: {e}"))
                })?;
                builder = builder.add_root_certificate(certificate);
            }
            let parameters = builder
                .build_rustls()
                .map_err(|e| Failure::Configuration(format!("TLS could not be set up: {e}")))?;
            if security == Security::Tls {
                Tls::Wrapper(parameters)
            } else {
                Tls::Required(parameters)
            }
        }
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(address.to_string())
        .port(settings.port)
        .tls(tls)
        .timeout(Some(TIMEOUT));
    if !settings.username.is_empty() {
        builder = builder.credentials(SmtpCredentials::new(
            settings.username.clone(),
            password.unwrap_or_default().to_owned(),
        ));
    }
    Ok(builder.build())
}

/// The server's answer in words: `250 2.0.0 Ok: queued as …`.
fn answer(response: &Response) -> String {
    let lines: Vec<&str> = response.message().collect();
    format!("{} {}", response.code(), lines.join(" "))
}

/// What a failed exchange was, for the run: a permanent refusal (5xx) is not retried, a transient one (4xx),
/// a network or TLS failure is.
fn failure(settings: &SmtpSettings, err: &lettre::transport::smtp::Error) -> Failure {
    let words = describe_error(err);
    let message = format!("{} refused or failed: {words}", settings.described());
    if err.is_permanent() {
        if words.contains("535") || words.to_ascii_lowercase().contains("auth") {
            Failure::Authorization(message)
        } else {
            Failure::Validation(message)
        }
    } else if err.is_transient() {
        Failure::Vendor(message)
    } else if err.is_tls() {
        Failure::Configuration(message)
    } else {
        Failure::Network(message)
    }
}

/// An SMTP error with its causes, which say what the server or the TLS layer answered.
fn describe_error(err: &lettre::transport::smtp::Error) -> String {
    let mut words = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !words.contains(&text) {
            words.push_str(": ");
            words.push_str(&text);
        }
        source = cause.source();
    }
    if let Some(code) = err.status() {
        words = format!("{code} {words}");
    }
    words
}

/// Connects, says EHLO, sets up TLS and authenticates, then quits: whether the settings work.
pub async fn check(
    settings: &SmtpSettings,
    password: Option<&str>,
    egress_allow: Option<&str>,
) -> Result<String, Failure> {
    let transport = transport(settings, password, egress_allow).await?;
    match transport.test_connection().await {
        Ok(true) => Ok(format!(
            "Connected to {}{}",
            settings.described(),
            if settings.username.is_empty() {
                String::new()
            } else {
                format!(" as {}", settings.username)
            }
        )),
        Ok(false) => Err(Failure::Network(format!(
            "{} did not answer as an SMTP server",
            settings.described()
        ))),
        Err(err) => Err(failure(settings, &err)),
    }
}

/// Sends `mail` and answers the server's words for it.
pub async fn send(
    settings: &SmtpSettings,
    password: Option<&str>,
    egress_allow: Option<&str>,
    mail: &Mail,
) -> Result<String, Failure> {
    let message = mail.build(&settings.from_name, &settings.from_address)?;
    let transport = transport(settings, password, egress_allow).await?;
    match transport.send(message).await {
        Ok(response) => Ok(answer(&response)),
        Err(err) => Err(failure(settings, &err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(host: &str, security: Option<&str>) -> SmtpInput {
        SmtpInput {
            host: Some(host.to_owned()),
            security: security.map(str::to_owned),
            from_address: Some("support@example.com".to_owned()),
            ..Default::default()
        }
    }

    #[test]
    fn plain_text_is_only_for_loopback_and_ports_follow_the_security() {
        let (starttls, _) = input("smtp.example.com", None).validated().unwrap();
        assert_eq!(
            (starttls.port, starttls.security),
            (587, Security::Starttls)
        );
        let (tls, _) = input("smtp.example.com", Some("tls")).validated().unwrap();
        assert_eq!(tls.port, 465);
        assert!(input("127.0.0.1", Some("none")).validated().is_ok());
        assert!(input("localhost", Some("none")).validated().is_ok());
        assert!(input("[::1]", Some("none")).validated().is_ok());
        let refused = input("smtp.example.com", Some("none")).validated();
        assert!(
            matches!(refused, Err(ApiError::Validation { field, .. }) if field == "smtp.security")
        );
        let bad = input("smtp.example.com", Some("ssl")).validated();
        assert!(matches!(bad, Err(ApiError::Validation { field, .. }) if field == "smtp.security"));
        let mut no_sender = input("smtp.example.com", None);
        no_sender.from_address = Some("support".to_owned());
        assert!(
            matches!(no_sender.validated(), Err(ApiError::Validation { field, .. }) if field == "smtp.from_address")
        );
        let mut bad_ca = input("smtp.example.com", None);
        bad_ca.ca_certificate = Some("not a certificate".to_owned());
        assert!(
            matches!(bad_ca.validated(), Err(ApiError::Validation { field, .. }) if field == "smtp.ca_certificate")
        );
    }
}
