//! Forward auth: a reverse proxy's auth subrequest (the original method, path, host and
//! headers) and the caller's identity (a trusted proxy's header, or a bearer JWT verified in
//! `jwt`), turned into a Cedar request through the route file. Knows Cedar and the schema,
//! not HTTP: `http::forward_auth` reads the proxy's headers.

mod context_types;
mod identity;
mod jwt;
mod path;
mod routes;

pub use context_types::{ContextKey, ContextKind, ContextTypes};
pub use identity::{IdentitySettings, TrustedProxies, DEFAULT_IDENTITY_HEADER};
pub use jwt::{loopback_host, outbound_agent, JwtOptions, JwtVerifier, Refresher};
pub use path::{decode_path, normalize_host, Target};
pub use routes::{Mapped, Original, RouteTable, Unmatched};

/// A header sent upstream on an allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    /// `X-Tollgate-Principal`: the principal's id.
    Principal,
    /// `X-Tollgate-Org`: the org the request is about.
    Org,
    /// `X-Tollgate-Role`: the principal's role in that org.
    Role,
    /// `X-Tollgate-Plan`: the org's effective plan.
    Plan,
}

impl Upstream {
    /// All four, the default.
    pub const ALL: [Upstream; 4] = [
        Upstream::Principal,
        Upstream::Org,
        Upstream::Role,
        Upstream::Plan,
    ];

    /// The header's name.
    pub fn header(self) -> &'static str {
        match self {
            Upstream::Principal => "x-tollgate-principal",
            Upstream::Org => "x-tollgate-org",
            Upstream::Role => "x-tollgate-role",
            Upstream::Plan => "x-tollgate-plan",
        }
    }

    /// Parses `principal,org,role,plan` (any subset; `none` for no header).
    pub fn parse_list(s: &str) -> Result<Vec<Upstream>, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let u = match part.to_ascii_lowercase().as_str() {
                "principal" => Upstream::Principal,
                "org" => Upstream::Org,
                "role" => Upstream::Role,
                "plan" => Upstream::Plan,
                "none" => continue,
                other => {
                    return Err(format!(
                        "upstream header `{other}` is none of principal, org, role, plan"
                    ))
                }
            };
            if !out.contains(&u) {
                out.push(u);
            }
        }
        Ok(out)
    }
}

/// How forward auth reads identities and what it sends upstream.
#[derive(Debug, Clone)]
pub struct ForwardSettings {
    /// The identity source.
    pub identity: IdentitySettings,
    /// Headers sent upstream on allow (every one, empty when it has no value).
    pub upstream: Vec<Upstream>,
}

impl Default for ForwardSettings {
    fn default() -> Self {
        ForwardSettings {
            identity: IdentitySettings::default(),
            upstream: Upstream::ALL.to_vec(),
        }
    }
}
