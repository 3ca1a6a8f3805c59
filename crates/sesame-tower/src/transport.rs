//! How the session token travels, and who the client is.
//!
//! **Cookie** (the default): the token is a Fernet-sealed value in the cookie of the
//! [`CookiePolicy`](sesame::cookie::CookiePolicy) (`__Host-sesame`, Secure, HttpOnly,
//! SameSite=Strict). Script cannot read it, and the browser attaches it by itself.
//!
//! **Header** (opt-in, [`HeaderTransport`]): for single-page and mobile clients that keep the
//! token themselves. The client sends the same sealed value in `Authorization: Bearer <value>`
//! (or a header of its choice), and receives a new value in a response header when it changes.
//! OWASP's caveat applies: a token kept in Web Storage (`localStorage`, `sessionStorage`) is
//! readable by any script on the origin, so one XSS steals the session, where an HttpOnly cookie
//! would not have been readable. Use the header transport for native apps, or when the risk is
//! accepted knowingly; prefer the cookie for browsers.
//!
//! **Client IP** (for device binding): the socket's peer address (axum's
//! [`ConnectInfo<SocketAddr>`](axum::extract::ConnectInfo)); `Forwarded` / `X-Forwarded-For` are
//! believed only when the peer is one of the configured trusted proxies, and then the client is
//! the right-most address that is not itself a trusted proxy (left-most entries are whatever the
//! client chose to send).

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderName, header, request::Parts};
pub use sesame::net::{InvalidCidr, IpCidr};

/// Where a header-transport client sends its token, and where it receives a new one.
#[derive(Debug, Clone)]
pub struct HeaderTransport {
    bearer: bool,
    request: HeaderName,
    response: HeaderName,
}

impl HeaderTransport {
    /// `Authorization: Bearer <token>` in requests; new tokens arrive in the `Session-Token`
    /// response header. A client without a token sends `Authorization: Bearer` with no value to
    /// ask for header delivery.
    pub fn bearer() -> Self {
        Self {
            bearer: true,
            request: header::AUTHORIZATION,
            response: HeaderName::from_static("session-token"),
        }
    }

    /// A named header both ways (e.g. `X-Session-Token`); an empty value asks for a new token.
    pub fn named(name: HeaderName) -> Self {
        Self {
            bearer: false,
            request: name.clone(),
            response: name,
        }
    }

    /// Sets the response header that carries a new token.
    pub fn with_response_header(mut self, name: HeaderName) -> Self {
        self.response = name;
        self
    }

    /// The response header that carries a new token.
    pub fn response_header(&self) -> &HeaderName {
        &self.response
    }

    /// `None`: the request does not use the header transport. `Some(None)`: it does, without a
    /// token yet. `Some(Some(value))`: it presents `value`.
    pub(crate) fn read<'a>(&self, headers: &'a HeaderMap) -> Option<Option<&'a str>> {
        let value = headers.get(&self.request)?;
        let Ok(text) = value.to_str() else {
            return Some(Some(""));
        };
        let text = text.trim();
        if self.bearer {
            let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
            if !scheme.eq_ignore_ascii_case("bearer") {
                return None;
            }
            let rest = rest.trim();
            return Some((!rest.is_empty()).then_some(rest));
        }
        Some((!text.is_empty()).then_some(text))
    }
}

/// The proxies whose forwarding headers are believed. Empty by default: only the socket counts.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpCidr>);

impl TrustedProxies {
    /// No trusted proxy.
    pub fn none() -> Self {
        Self::default()
    }

    /// Parses a list of CIDR networks.
    pub fn parse<'a>(networks: impl IntoIterator<Item = &'a str>) -> Result<Self, InvalidCidr> {
        networks
            .into_iter()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// The client's address: the socket peer, or — when the peer is a trusted proxy — the
    /// right-most untrusted address of `Forwarded` (preferred) or `X-Forwarded-For`.
    pub fn client_ip(&self, parts: &Parts) -> Option<IpAddr> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_canonical());
        let peer = peer?;
        if !self.contains(peer) {
            return Some(peer);
        }
        let chain = forwarded_chain(&parts.headers);
        let mut client = peer;
        for ip in chain.iter().rev() {
            client = ip.to_canonical();
            if !self.contains(client) {
                break;
            }
        }
        Some(client)
    }
}

/// The addresses of `Forwarded: for=...` if present, else of `X-Forwarded-For`, in order. An
/// entry that is not an address (`unknown`, an obfuscated name) ends the chain there.
fn forwarded_chain(headers: &HeaderMap) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let forwarded: Vec<&str> = headers
        .get_all(header::FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        for element in forwarded.iter().flat_map(|v| v.split(',')) {
            for pair in element.split(';') {
                let Some((k, v)) = pair.trim().split_once('=') else {
                    continue;
                };
                if k.trim().eq_ignore_ascii_case("for") {
                    match parse_node(v.trim().trim_matches('"')) {
                        Some(ip) => out.push(ip),
                        None => out.clear(),
                    }
                }
            }
        }
        return out;
    }
    for entry in headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        match parse_node(entry.trim()) {
            Some(ip) => out.push(ip),
            None => out.clear(),
        }
    }
    out
}

/// `1.2.3.4`, `1.2.3.4:80`, `[::1]`, `[::1]:80`, `::1`.
fn parse_node(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    s.rsplit_once(':')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(peer: &str, headers: &[(&str, &str)]) -> Parts {
        let mut req = Request::builder();
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut req = req.body(()).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        req.into_parts().0
    }

    #[test]
    fn an_ipv4_mapped_peer_is_its_ipv4_address() {
        // A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d.
        let trusted = TrustedProxies::parse(["10.0.0.0/8"]).unwrap();
        let p = parts(
            "[::ffff:10.0.0.2]:5000",
            &[("x-forwarded-for", "198.51.100.7, ::ffff:10.0.0.3")],
        );
        assert_eq!(trusted.client_ip(&p), Some("198.51.100.7".parse().unwrap()));
        let p = parts(
            "[::ffff:203.0.113.9]:5000",
            &[("x-forwarded-for", "1.1.1.1")],
        );
        assert_eq!(trusted.client_ip(&p), Some("203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn forwarding_headers_only_from_trusted_proxies() {
        let none = TrustedProxies::none();
        let p = parts("203.0.113.9:5000", &[("x-forwarded-for", "1.1.1.1")]);
        assert_eq!(none.client_ip(&p), Some("203.0.113.9".parse().unwrap()));

        let trusted = TrustedProxies::parse(["10.0.0.0/8"]).unwrap();
        // Spoofed left-most entry is ignored: the right-most untrusted address wins.
        let p = parts(
            "10.0.0.2:5000",
            &[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.3")],
        );
        assert_eq!(trusted.client_ip(&p), Some("198.51.100.7".parse().unwrap()));
        let p = parts(
            "10.0.0.2:5000",
            &[("forwarded", "for=6.6.6.6, for=\"[2001:db8::7]:4711\"")],
        );
        assert_eq!(trusted.client_ip(&p), Some("2001:db8::7".parse().unwrap()));
        // An untrusted peer's header is not believed.
        let p = parts("198.51.100.1:5000", &[("forwarded", "for=6.6.6.6")]);
        assert_eq!(trusted.client_ip(&p), Some("198.51.100.1".parse().unwrap()));
    }

    #[test]
    fn header_transport_reads_bearer() {
        let t = HeaderTransport::bearer();
        let mut h = HeaderMap::new();
        assert_eq!(t.read(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(t.read(&h), Some(Some("abc")));
        h.insert(header::AUTHORIZATION, "Bearer".parse().unwrap());
        assert_eq!(t.read(&h), Some(None));
        h.insert(header::AUTHORIZATION, "Basic xyz".parse().unwrap());
        assert_eq!(t.read(&h), None);
    }
}
