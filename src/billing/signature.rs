//! `Stripe-Signature` verification: HMAC-SHA256 over `"<t>.<raw body>"` with each configured
//! secret, compared in constant time against every `v1` value, on the raw bytes before
//! anything parses them; the timestamp within the tolerance both ways.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::error::{Code, Error, Result};

/// The most `v1` values one header may carry (Stripe sends one per active secret).
const MAX_SIGNATURES: usize = 8;

/// Verifies a webhook's `Stripe-Signature` header against the raw body at `now`; returns the
/// signed timestamp.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[SecretString],
    tolerance: u64,
    now: i64,
) -> Result<i64> {
    let bad = |m: &str| Error::new(Code::InvalidSignature, m.to_string());
    let header = header.ok_or_else(|| bad("the request has no `Stripe-Signature` header"))?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            return Err(bad("`Stripe-Signature` is not a list of `key=value`"));
        };
        match k {
            "t" if timestamp.is_none() => {
                timestamp = Some(
                    v.parse::<i64>()
                        .map_err(|_| bad("`Stripe-Signature` has a `t` that is not a number"))?,
                );
            }
            "t" => return Err(bad("`Stripe-Signature` has `t` twice")),
            "v1" => {
                if signatures.len() == MAX_SIGNATURES {
                    return Err(bad("`Stripe-Signature` has too many `v1` values"));
                }
                // A value that is not hex can match nothing; it is skipped, not fatal, as a
                // later one may match.
                if let Ok(sig) = hex::decode(v) {
                    signatures.push(sig);
                }
            }
            // `v0` (test mode's legacy scheme) and future schemes are not trusted.
            _ => {}
        }
    }
    let t = timestamp.ok_or_else(|| bad("`Stripe-Signature` has no `t`"))?;
    if signatures.is_empty() {
        return Err(bad("`Stripe-Signature` has no `v1` signature"));
    }
    // One MAC per secret (the body is hashed once per secret, however many `v1`s come), each
    // compared with every `v1` in constant time.
    let mut matched = subtle::Choice::from(0);
    for secret in secrets {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes()) else {
            continue;
        };
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        let tag = mac.finalize().into_bytes();
        for sig in &signatures {
            matched |= subtle::ConstantTimeEq::ct_eq(tag.as_slice(), sig.as_slice());
        }
    }
    let matched = bool::from(matched);
    if !matched {
        return Err(bad(
            "no `v1` signature matches the body under any configured webhook secret",
        ));
    }
    // Checked after the signature, so the answer never tells an unsigned caller which
    // timestamps would pass.
    let skew = now.abs_diff(t);
    if skew > tolerance {
        return Err(Error::new(
            Code::TimestampOutOfTolerance,
            format!(
                "the signed timestamp is {skew} s from now; at most {tolerance} s is accepted \
                 (a replay, or a clock out of sync)"
            ),
        ));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, t: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    fn code(r: Result<i64>) -> &'static str {
        r.unwrap_err().code().name()
    }

    #[test]
    fn any_v1_under_any_secret_passes_and_nothing_else_does() {
        let body = br#"{"id":"evt_1"}"#;
        let secrets = [
            SecretString::from("whsec_old"),
            SecretString::from("whsec_new"),
        ];
        let now = 1_700_000_000;
        let good = sign("whsec_new", now, body);
        let other = sign("whsec_x", now, body);
        let h = format!("t={now},v1={other},v1={good}");
        assert!(verify(Some(&h), body, &secrets, 300, now).is_ok());
        assert!(verify(Some(&h), body, &secrets[..1], 300, now).is_err());
        assert_eq!(
            code(verify(Some(&h), b"{}", &secrets, 300, now)),
            "INVALID_SIGNATURE"
        );
        assert_eq!(
            code(verify(None, body, &secrets, 300, now)),
            "INVALID_SIGNATURE"
        );
        for h in ["", "t=1", "v1=ab", "garbage", &format!("t=x,v1={good}")] {
            assert_eq!(
                code(verify(Some(h), body, &secrets, 300, now)),
                "INVALID_SIGNATURE",
                "{h}"
            );
        }
        // A `v0` is not trusted.
        let h = format!("t={now},v0={good}");
        assert_eq!(
            code(verify(Some(&h), body, &secrets, 300, now)),
            "INVALID_SIGNATURE"
        );
        // The tolerance holds both ways, and only for a signed timestamp.
        let h = format!("t={now},v1={good}");
        assert!(verify(Some(&h), body, &secrets, 300, now + 300).is_ok());
        assert!(verify(Some(&h), body, &secrets, 300, now - 300).is_ok());
        assert_eq!(
            code(verify(Some(&h), body, &secrets, 300, now + 301)),
            "TIMESTAMP_OUT_OF_TOLERANCE"
        );
        assert_eq!(
            code(verify(Some(&h), body, &secrets, 300, now - 301)),
            "TIMESTAMP_OUT_OF_TOLERANCE"
        );
        assert!(verify(Some(&h), body, &[], 300, now).is_err());
    }
}
