//! The client behind a request: trusted load balancers (`CONCIERGE_TRUSTED_PROXIES`), the client address they
//! forward, and the user agent, as per-address limits and the audit log see them.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;

use crate::auth::Origin;

/// The proxies (load balancers) in front of the server, whose `X-Forwarded-For` is believed
/// (`CONCIERGE_TRUSTED_PROXIES`); put in every request's extensions by the router.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(std::sync::Arc<Vec<ipnet::IpNet>>);

impl TrustedProxies {
    /// Parses comma-separated networks or addresses; anything else is a start-up error.
    pub fn parse(list: Option<&str>) -> anyhow::Result<Self> {
        let mut networks = Vec::new();
        for entry in list.unwrap_or_default().split(',').map(str::trim) {
            if entry.is_empty() {
                continue;
            }
            let network = entry
                .parse::<ipnet::IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    anyhow::anyhow!(
                        "CONCIERGE_TRUSTED_PROXIES: {entry:?} is not a network or address"
                    )
                })?;
            networks.push(network);
        }
        Ok(Self(std::sync::Arc::new(networks)))
    }

    fn trusts(&self, ip: std::net::IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: the peer, or, when the peer is a trusted proxy, the nearest address in
    /// `X-Forwarded-For` that is not one of ours. The header is read from the right, where our proxies append,
    /// and reading stops at that address: what clients write further left, garbage included, is never looked
    /// at. An entry there that is not an address (our proxies did not write it) leaves the peer as the client.
    fn client(&self, peer: std::net::IpAddr, headers: &HeaderMap) -> std::net::IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let values: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        for entry in values.iter().rev().flat_map(|v| v.rsplit(',')) {
            match entry.trim().parse::<std::net::IpAddr>() {
                Ok(ip) if self.trusts(ip) => continue,
                Ok(ip) => return ip,
                Err(_) => return peer,
            }
        }
        peer
    }
}

/// The client address (see [`TrustedProxies`]) and user agent of a request.
pub fn origin_of(extensions: &axum::http::Extensions, headers: &HeaderMap) -> Origin {
    let ip = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| {
            let peer = addr.ip();
            extensions
                .get::<TrustedProxies>()
                .map_or(peer, |proxies| proxies.client(peer, headers))
                .to_string()
        });
    let user_agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(500).collect());
    Origin { ip, user_agent }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(forwarded: &[&str]) -> String {
        let proxies = TrustedProxies::parse(Some("10.0.0.0/8")).unwrap();
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        proxies
            .client("10.0.0.5".parse().unwrap(), &headers)
            .to_string()
    }

    #[test]
    fn the_client_is_the_nearest_address_that_is_not_a_trusted_proxy() {
        assert_eq!(client(&["203.0.113.7"]), "203.0.113.7");
        assert_eq!(client(&["203.0.113.7, 10.0.0.9"]), "203.0.113.7");
        assert_eq!(client(&["192.0.2.1, 203.0.113.7"]), "203.0.113.7");
        // Two header lines read as one list, the last line nearest.
        assert_eq!(client(&["192.0.2.1", "203.0.113.7"]), "203.0.113.7");
        // What a client writes on the left is never parsed: garbage there cannot hide its address.
        assert_eq!(client(&["not-an-ip, 203.0.113.7"]), "203.0.113.7");
        // Garbage where our proxy would have written the client leaves the proxy as the client.
        assert_eq!(client(&["203.0.113.7, junk"]), "10.0.0.5");
        assert_eq!(client(&[]), "10.0.0.5");
    }
}
