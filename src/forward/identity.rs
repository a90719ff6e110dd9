//! Who the original request is from: a header set by a proxy the operator trusts (judged by
//! the TCP peer, never by a header the client could send), so a forged identity is refused;
//! or, when JWT keys are configured, a bearer token checked by `jwt` instead.

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use ipnet::IpNet;

/// The peers whose identity header is believed: CIDRs, loopback by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl Default for TrustedProxies {
    fn default() -> Self {
        TrustedProxies::loopback()
    }
}

impl TrustedProxies {
    /// `127.0.0.0/8` and `::1`.
    pub fn loopback() -> TrustedProxies {
        TrustedProxies(vec![
            IpNet::from_str("127.0.0.0/8").unwrap_or_default(),
            IpNet::from_str("::1/128").unwrap_or_default(),
        ])
    }

    /// Parses `10.0.0.0/8, 192.168.1.7, ::1, loopback` (a bare address is one host; `none`
    /// trusts no peer).
    pub fn parse(s: &str) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "loopback" => nets.extend(TrustedProxies::loopback().0),
                "none" => {}
                _ => {
                    let net = IpNet::from_str(part)
                        .or_else(|_| IpAddr::from_str(part).map(IpNet::from))
                        .map_err(|_| {
                            format!("trusted proxy `{part}` is neither a CIDR nor an IP address")
                        })?;
                    nets.push(net.trunc());
                }
            }
        }
        Ok(TrustedProxies(nets))
    }

    /// Whether the TCP peer `ip` is trusted; a v4-mapped IPv6 address (`::ffff:10.0.0.1`, as a
    /// dual-stack listener reports an IPv4 peer) is judged as the IPv4 address it stands for.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|n| n.contains(&ip))
    }
}

/// Where the principal's id comes from.
#[derive(Debug, Clone)]
pub struct IdentitySettings {
    /// The identity header's name, lower case (`x-user-id` by default).
    pub header: String,
    /// Peers whose identity header is believed.
    pub trusted: TrustedProxies,
    /// When set, the identity is the bearer JWT of `Authorization` and the header is not read.
    pub jwt: Option<Arc<super::JwtVerifier>>,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        IdentitySettings {
            header: DEFAULT_IDENTITY_HEADER.to_ascii_lowercase(),
            trusted: TrustedProxies::loopback(),
            jwt: None,
        }
    }
}

/// The default identity header.
pub const DEFAULT_IDENTITY_HEADER: &str = "X-User-Id";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_are_judged_by_cidr_and_v4_mapped_addresses_canonicalized() {
        let t = TrustedProxies::parse("10.1.0.0/16, 192.168.1.7, loopback").unwrap();
        for (ip, trusted) in [
            ("10.1.2.3", true),
            ("10.2.0.1", false),
            ("192.168.1.7", true),
            ("192.168.1.8", false),
            ("127.0.0.1", true),
            ("::1", true),
            ("::ffff:10.1.9.9", true),
            ("::ffff:10.9.9.9", false),
            ("::ffff:127.0.0.1", true),
        ] {
            assert_eq!(t.contains(ip.parse().unwrap()), trusted, "{ip}");
        }
        let none = TrustedProxies::parse("none").unwrap();
        assert!(!none.contains("127.0.0.1".parse().unwrap()));
        assert!(TrustedProxies::default().contains("127.0.0.1".parse().unwrap()));
        assert!(!TrustedProxies::default().contains("10.0.0.1".parse().unwrap()));
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("example.com").is_err());
    }
}
