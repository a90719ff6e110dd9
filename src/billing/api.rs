//! Re-reading a subscription's current state from Stripe's API (`STRIPE_SECRET_KEY`), so an
//! event applies what Stripe holds now rather than what the event carried. The base URL is
//! configurable (tests point it at a local stub): `https://`, or plain `http://` to loopback.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::error::{Code, Error, Result};

/// The default API base.
pub const DEFAULT_BASE: &str = "https://api.stripe.com";

/// How long one API call may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The largest answer read.
const MAX_ANSWER: u64 = 1 << 20;

/// Stripe's API, with the secret key.
#[derive(Clone)]
pub struct StripeApi {
    base: String,
    key: SecretString,
    agent: ureq::Agent,
}

impl std::fmt::Debug for StripeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("StripeApi")
            .field("base", &self.base)
            .finish()
    }
}

impl StripeApi {
    /// An API client for `base` (no trailing slash needed) with the secret key.
    pub fn new(base: &str, key: SecretString) -> std::result::Result<StripeApi, String> {
        let uri: ureq::http::Uri = base
            .parse()
            .map_err(|_| format!("the Stripe API base `{base}` is not a URL"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") if crate::forward::loopback_host(&uri) => false,
            _ => {
                return Err(format!(
                    "the Stripe API base `{base}` must be https:// (http:// only to loopback)"
                ))
            }
        };
        Ok(StripeApi {
            base: base.trim_end_matches('/').to_string(),
            key,
            // Statuses are read, not errors: a non-200 is named in the 503.
            agent: crate::forward::outbound_agent(https, TIMEOUT, false),
        })
    }

    /// `GET /v1/subscriptions/{id}`. Any failure is a 503 `STRIPE_API_UNAVAILABLE`, so the
    /// webhook answers 5xx and Stripe delivers the event again.
    pub fn subscription(&self, id: &str) -> Result<Value> {
        let unavailable = |m: String| Error::new(Code::StripeApiUnavailable, m);
        let escaped =
            percent_encoding::utf8_percent_encode(id, crate::plans::URL_ID_ESCAPED).to_string();
        let url = format!("{}/v1/subscriptions/{escaped}", self.base);
        let mut resp = self
            .agent
            .get(&url)
            .header(
                "Authorization",
                &format!("Bearer {}", self.key.expose_secret()),
            )
            .call()
            .map_err(|e| unavailable(format!("reading subscription `{id}` from Stripe: {e}")))?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(unavailable(format!(
                "reading subscription `{id}` from Stripe answered {status}"
            )));
        }
        let text = resp
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_string()
            .map_err(|e| unavailable(format!("reading subscription `{id}` from Stripe: {e}")))?;
        serde_json::from_str(&text)
            .map_err(|_| unavailable(format!("Stripe's answer for `{id}` is not JSON")))
    }
}
