//! Credentials: the admin token for admin and data endpoints, the decision token (or, without
//! one, loopback peers only) for decisions; tokens compared in constant time.

use actix_web::http::header;
use actix_web::HttpRequest;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::{HttpError, HttpResult as Result};
use super::AppState;

fn digest(s: &[u8]) -> [u8; 32] {
    Sha256::digest(s).into()
}

/// Constant-time token comparison (hashing first hides the length too).
pub fn token_matches(given: &str, expected: &str) -> bool {
    bool::from(digest(given.as_bytes()).ct_eq(&digest(expected.as_bytes())))
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    // The scheme is case-insensitive (RFC 9110 §11.1).
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl AppState {
    /// Whether `token` is the decision token (when one is set) or the admin token, compared
    /// in constant time.
    pub fn may_decide(&self, token: &str) -> bool {
        let decision = self
            .decision_token
            .as_ref()
            .is_some_and(|d| token_matches(token, d.expose_secret()));
        decision | token_matches(token, self.admin_token.expose_secret())
    }

    /// Requires the admin token.
    pub fn require_admin(&self, req: &HttpRequest) -> Result<()> {
        match bearer(req) {
            Some(t) if token_matches(t, self.admin_token.expose_secret()) => Ok(()),
            Some(_) => Err(HttpError::Unauthorized(
                "the bearer token is not valid".into(),
            )),
            None => Err(HttpError::Unauthorized(
                "this endpoint needs `Authorization: Bearer <admin token>`".into(),
            )),
        }
    }

    /// Requires the decision token when one is set (the admin token also works); without one,
    /// only loopback peers may ask.
    pub fn require_decision(&self, req: &HttpRequest) -> Result<()> {
        match &self.decision_token {
            Some(_) => match bearer(req) {
                Some(t) if self.may_decide(t) => Ok(()),
                Some(_) => Err(HttpError::Unauthorized(
                    "the bearer token is not valid".into(),
                )),
                None => Err(HttpError::Unauthorized(
                    "decisions need `Authorization: Bearer <decision token>`".into(),
                )),
            },
            None => {
                let loopback = req.peer_addr().is_some_and(|a| is_loopback(a.ip()));
                if loopback {
                    Ok(())
                } else {
                    Err(HttpError::Unauthorized(
                        "no decision token is configured, so decisions are open to loopback peers only".into(),
                    ))
                }
            }
        }
    }
}

/// Whether a peer is on this host. A listener on `[::]` sees an IPv4 client as a v4-mapped
/// address (`::ffff:127.0.0.1`), which `is_loopback` alone would judge remote.
pub fn is_loopback(ip: std::net::IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn v4_mapped_loopback_is_loopback() {
        for (ip, local) in [
            ("127.0.0.1", true),
            ("::1", true),
            ("::ffff:127.0.0.1", true),
            ("::ffff:10.0.0.1", false),
            ("10.0.0.1", false),
            ("::ffff:0:7f00:1", false),
        ] {
            assert_eq!(is_loopback(ip.parse().unwrap()), local, "{ip}");
        }
    }
}
