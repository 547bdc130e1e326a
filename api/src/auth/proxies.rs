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
    /// `X-Forwarded-For` that is not one of ours (what clients write further left cannot be trusted).
    fn client(&self, peer: std::net::IpAddr, headers: &HeaderMap) -> std::net::IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded: Vec<std::net::IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|part| part.trim().parse::<std::net::IpAddr>())
            .collect::<Result<_, _>>()
            .unwrap_or_default();
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !self.trusts(*ip))
            .unwrap_or(peer)
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
