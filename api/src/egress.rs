//! The SSRF guard for outbound calls: private, loopback and link-local destinations are refused unless allowed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use ipnet::IpNet;
use url::Host;

/// One entry of `CONCIERGE_EGRESS_ALLOW`: a network or a host name.
enum Allowed {
    Network(IpNet),
    Host(String),
}

fn allow_list(allow: Option<&str>) -> Vec<Allowed> {
    allow
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| match entry.parse::<IpNet>() {
            Ok(net) => Allowed::Network(net),
            Err(_) => match entry.parse::<IpAddr>() {
                Ok(ip) => Allowed::Network(IpNet::from(ip)),
                Err(_) => Allowed::Host(entry.to_ascii_lowercase()),
            },
        })
        .collect()
}

/// Addresses that belong to this machine or a private network rather than the internet.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                // 100.64.0.0/10, carrier-grade NAT.
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7 unique local, fe80::/10 link-local.
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// Whether `ip` may be called: public, or internal but on the allow-list.
pub fn ip_allowed(ip: IpAddr, allow: Option<&str>) -> bool {
    !is_internal(ip)
        || allow_list(allow)
            .iter()
            .any(|entry| matches!(entry, Allowed::Network(net) if net.contains(&ip)))
}

/// Whether the allow-list names this host, which then may be reached whatever it resolves to.
pub fn host_allowed(name: &str, allow: Option<&str>) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    allow_list(allow)
        .iter()
        .any(|entry| matches!(entry, Allowed::Host(host) if *host == name))
}

/// Why a destination host is refused before any lookup, or `None`; names are checked again once resolved.
pub fn refusal(host: &Host<&str>, allow: Option<&str>) -> Option<String> {
    match host {
        Host::Ipv4(ip) => (!ip_allowed(IpAddr::V4(*ip), allow))
            .then(|| format!("{ip} is a private or local address")),
        Host::Ipv6(ip) => (!ip_allowed(IpAddr::V6(*ip), allow))
            .then(|| format!("{ip} is a private or local address")),
        Host::Domain(name) => {
            let lower = name.trim_end_matches('.').to_ascii_lowercase();
            let local = lower == "localhost" || lower.ends_with(".localhost");
            (local && !host_allowed(name, allow)).then(|| format!("{lower} is a local host name"))
        }
    }
}

/// An absolute http(s) URL with a host that the guard does not refuse before any lookup (a literal private
/// address or a local name); what is wrong, in words, otherwise.
pub fn check_outbound(value: &str, allow: Option<&str>) -> Result<url::Url, String> {
    let url = url::Url::parse(value)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| "must be an absolute http(s) URL".to_owned())?;
    if let Some(host) = url.host()
        && let Some(reason) = refusal(&host, allow)
    {
        return Err(format!("refused by the SSRF guard: {reason}"));
    }
    Ok(url)
}

/// Resolves host names and drops private and local addresses unless allowed, so a name cannot be pointed at
/// an internal service after it was configured (the check runs on the addresses actually connected to).
pub struct GuardedResolver {
    allow: Option<String>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let allowed_by_name = host_allowed(&host, allow.as_deref());
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| allowed_by_name || ip_allowed(addr.ip(), allow.as_deref()))
                .collect();
            if found.is_empty() {
                let refused: Box<dyn std::error::Error + Send + Sync> =
                    format!("{host} resolves only to private or local addresses").into();
                return Err(refused);
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// A resolver for `reqwest::ClientBuilder::dns_resolver` that applies the guard with this allow-list.
pub fn guarded_resolver(allow: Option<String>) -> Arc<GuardedResolver> {
    Arc::new(GuardedResolver { allow })
}

/// A readable reason for a failed outbound request, with the causes reqwest wraps (a webhook attempt, a vendor
/// call).
pub fn describe(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_redirect() {
        "redirects are not followed"
    } else {
        "request failed"
    };
    let mut message = kind.to_owned();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// The wait an answer's `Retry-After` asks for, when it gives one in seconds.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<std::time::Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(std::time::Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_destinations_need_the_allow_list() {
        let host = |s: &str| Host::parse(s).unwrap();
        assert!(refusal(&Host::Ipv4("127.0.0.1".parse().unwrap()), None).is_some());
        assert!(refusal(&Host::Ipv4("10.1.2.3".parse().unwrap()), None).is_some());
        assert!(refusal(&Host::Ipv4("100.64.0.1".parse().unwrap()), None).is_some());
        assert!(refusal(&Host::Ipv6("::ffff:192.168.0.1".parse().unwrap()), None).is_some());
        assert!(refusal(&Host::Ipv6("fd00::1".parse().unwrap()), None).is_some());
        assert!(refusal(&Host::Ipv4("93.184.215.14".parse().unwrap()), None).is_none());
        assert!(
            refusal(
                &Host::Ipv4("127.0.0.1".parse().unwrap()),
                Some("127.0.0.1/32")
            )
            .is_none()
        );
        assert!(refusal(&host("localhost").to_owned_ref(), None).is_some());
        assert!(refusal(&host("hooks.example.com").to_owned_ref(), None).is_none());
    }

    trait OwnedRef {
        fn to_owned_ref(&self) -> Host<&str>;
    }

    impl OwnedRef for Host<String> {
        fn to_owned_ref(&self) -> Host<&str> {
            match self {
                Host::Domain(d) => Host::Domain(d.as_str()),
                Host::Ipv4(ip) => Host::Ipv4(*ip),
                Host::Ipv6(ip) => Host::Ipv6(*ip),
            }
        }
    }
}
