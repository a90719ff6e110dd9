//! Identity from a bearer JWT: the principal is a claim of a token whose signature, algorithm,
//! time window, issuer and audience Tollgate checked itself against keys the operator gave it
//! (an HS256 secret, a PEM public key, a JWKS file or URL), so no proxy is trusted for it.
//!
//! Every key has its own allow-list of algorithms, fixed when the key is loaded: a token's
//! header chooses the key (by `kid`) but never widens what that key accepts, so `alg: none`,
//! or an HMAC token "signed" with an RSA public key as the secret, never verifies. A JWKS URL
//! is fetched by [`JwtVerifier::start`] (not when settings resolve, so `validate` and `check`
//! fetch nothing), refreshed by a background thread, and refetched on demand for an unknown
//! `kid` at most once per [`ON_DEMAND_EVERY`]; a failed fetch keeps the last good set. A JWKS
//! file is re-read when it changes, checked at most every [`FILE_CHECK_EVERY`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Weak};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, Validation};
use parking_lot::Mutex;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::error::{Code, Error, Result};

/// The claim that names the principal unless `--jwt-claim` says another.
pub const DEFAULT_CLAIM: &str = "sub";
/// Seconds of clock skew allowed on `exp` and `nbf` unless `--jwt-leeway` says otherwise.
pub const DEFAULT_LEEWAY: u64 = 30;
/// The largest leeway accepted: more would make `exp` meaningless.
pub const MAX_LEEWAY: u64 = 3600;
/// Seconds between two fetches of a JWKS URL unless `--jwt-jwks-refresh` says otherwise.
pub const DEFAULT_JWKS_REFRESH: u64 = 300;
/// The shortest HMAC secret accepted, in bytes (RFC 7518 §3.2: at least the hash size).
pub const MIN_SECRET_BYTES: usize = 32;
/// The largest JWKS document read, from a URL or a file.
pub const MAX_JWKS_BYTES: u64 = 1024 * 1024;
/// An unknown `kid` refetches a JWKS URL at most this often, so a flood of made-up key ids
/// cannot hammer the identity provider.
pub const ON_DEMAND_EVERY: Duration = Duration::from_secs(10);
/// A JWKS file's modification time is looked at no more often than this.
pub const FILE_CHECK_EVERY: Duration = Duration::from_secs(2);
/// How long one fetch of a JWKS URL may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The smallest RSA modulus accepted (RFC 7518 §3.3).
const MIN_RSA_BITS: usize = 2048;

/// Every signature algorithm `jsonwebtoken` verifies, for parsing and for messages.
const ALGORITHMS: [Algorithm; 12] = [
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// An algorithm's name as JOSE spells it.
fn alg_name(a: Algorithm) -> &'static str {
    match a {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::EdDSA => "EdDSA",
    }
}

fn names(algs: &[Algorithm]) -> String {
    algs.iter()
        .map(|a| alg_name(*a))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses `--jwt-algorithms`: `RS256, ES256` (any case). `none` is refused by name.
pub fn parse_algorithms(s: &str) -> std::result::Result<Vec<Algorithm>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part.eq_ignore_ascii_case("none") {
            return Err("JWT algorithm `none` is never allowed: every token must be signed".into());
        }
        let Some(a) = ALGORITHMS
            .iter()
            .find(|a| alg_name(**a).eq_ignore_ascii_case(part))
        else {
            return Err(format!(
                "`{part}` is not a JWT signature algorithm (one of {})",
                names(&ALGORITHMS)
            ));
        };
        if !out.contains(a) {
            out.push(*a);
        }
    }
    if out.is_empty() {
        return Err("the JWT algorithm list names no algorithm".into());
    }
    Ok(out)
}

/// What kind of key a key is: it decides which algorithms the key can ever verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Secret,
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl KeyKind {
    /// Every algorithm a key of this kind can verify.
    fn takes(self) -> &'static [Algorithm] {
        match self {
            KeyKind::Secret => &[Algorithm::HS256, Algorithm::HS384, Algorithm::HS512],
            KeyKind::Rsa => &[
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
            ],
            KeyKind::P256 => &[Algorithm::ES256],
            KeyKind::P384 => &[Algorithm::ES384],
            KeyKind::Ed25519 => &[Algorithm::EdDSA],
        }
    }

    /// The algorithm a key of this kind implies when no allow-list is configured.
    fn implied(self) -> Algorithm {
        match self {
            KeyKind::Secret => Algorithm::HS256,
            KeyKind::Rsa => Algorithm::RS256,
            KeyKind::P256 => Algorithm::ES256,
            KeyKind::P384 => Algorithm::ES384,
            KeyKind::Ed25519 => Algorithm::EdDSA,
        }
    }

    fn name(self) -> &'static str {
        match self {
            KeyKind::Secret => "HMAC secret",
            KeyKind::Rsa => "RSA key",
            KeyKind::P256 => "EC P-256 key",
            KeyKind::P384 => "EC P-384 key",
            KeyKind::Ed25519 => "Ed25519 key",
        }
    }

    /// The algorithms this key may verify: the one it declares (a JWK's `alg`) or the one its
    /// kind implies, or, under an allow-list, what the list allows of those it can take.
    fn algorithms(
        self,
        declared: Option<Algorithm>,
        allow: Option<&[Algorithm]>,
    ) -> Vec<Algorithm> {
        let own: Vec<Algorithm> = match (declared, allow) {
            (Some(d), _) => vec![d],
            (None, None) => vec![self.implied()],
            (None, Some(_)) => self.takes().to_vec(),
        };
        own.into_iter()
            .filter(|a| allow.is_none_or(|l| l.contains(a)))
            .collect()
    }
}

/// One verification key with the algorithms it alone may verify.
struct Key {
    /// The JWKS key id; `None` for the secret and the PEM key, which any `kid` may use.
    kid: Option<String>,
    algs: Vec<Algorithm>,
    key: DecodingKey,
    /// Names the key in messages: never its material.
    what: String,
}

/// Checks that the key material parses for its kind, so a broken key is refused when it is
/// loaded rather than failing every token later.
fn check_key(kind: KeyKind, key: &DecodingKey) -> std::result::Result<(), String> {
    use rsa::pkcs1::DecodeRsaPublicKey;
    use rsa::traits::PublicKeyParts;
    match kind {
        KeyKind::Secret => Ok(()),
        KeyKind::Rsa => {
            let parsed = match key.kind() {
                DecodingKeyKind::SecretOrDer(der) => rsa::RsaPublicKey::from_pkcs1_der(der)
                    .map_err(|e| format!("not an RSA public key: {e}"))?,
                DecodingKeyKind::RsaModulusExponent { n, e } => rsa::RsaPublicKey::new(
                    rsa::BigUint::from_bytes_be(n),
                    rsa::BigUint::from_bytes_be(e),
                )
                .map_err(|e| format!("not an RSA public key: {e}"))?,
            };
            let bits = parsed.n().bits();
            if bits < MIN_RSA_BITS {
                return Err(format!(
                    "an RSA key of {bits} bits; at least {MIN_RSA_BITS} are needed"
                ));
            }
            Ok(())
        }
        KeyKind::P256 | KeyKind::P384 | KeyKind::Ed25519 => {
            if let DecodingKeyKind::SecretOrDer(b) = key.kind() {
                // The EdDSA verifier slices the first 32 bytes: check the length first.
                if kind == KeyKind::Ed25519 && b.len() != 32 {
                    return Err("an Ed25519 key must be 32 bytes".into());
                }
            }
            // The verifier parses the point when it is built: an error here is a bad key, a
            // `false` is the (expected) failed check of a dummy signature.
            jsonwebtoken::crypto::verify("AAAA", b"probe", key, kind.implied())
                .map(|_| ())
                .map_err(|_| format!("not a valid {}", kind.name()))
        }
    }
}

/// Reads a PEM public key file: RSA (`PUBLIC KEY` or `RSA PUBLIC KEY`), EC P-256 or P-384, or
/// Ed25519. A private key or a certificate is refused.
fn pem_key(path: &Path) -> std::result::Result<(KeyKind, DecodingKey), String> {
    let shown = path.display();
    let bytes = std::fs::read(path)
        .map_err(|e| format!("cannot read the JWT public key `{shown}`: {e}"))?;
    let text = String::from_utf8_lossy(&bytes);
    let tag = text.lines().find_map(|l| {
        l.trim()
            .strip_prefix("-----BEGIN ")
            .and_then(|r| r.strip_suffix("-----"))
    });
    match tag {
        Some("PUBLIC KEY" | "RSA PUBLIC KEY") => {}
        Some(t) if t.contains("PRIVATE") => {
            return Err(format!(
                "`{shown}` holds a private key; give Tollgate only the public key \
                 (`openssl pkey -in KEY -pubout`)"
            ))
        }
        _ => {
            return Err(format!(
                "`{shown}` is not a PEM public key (`-----BEGIN PUBLIC KEY-----`)"
            ))
        }
    }
    let (kind, key) = if let Ok(k) = DecodingKey::from_rsa_pem(&bytes) {
        (KeyKind::Rsa, k)
    } else if let Ok(k) = DecodingKey::from_ec_pem(&bytes) {
        // The key is the SEC1 point: its length gives the curve.
        let kind = match k.as_bytes().len() {
            65 | 33 => KeyKind::P256,
            97 | 49 => KeyKind::P384,
            _ => {
                return Err(format!(
                    "`{shown}` is an EC key on a curve other than P-256 or P-384"
                ))
            }
        };
        (kind, k)
    } else if let Ok(k) = DecodingKey::from_ed_pem(&bytes) {
        (KeyKind::Ed25519, k)
    } else {
        return Err(format!(
            "`{shown}` is not an RSA, EC (P-256, P-384) or Ed25519 public key"
        ));
    };
    check_key(kind, &key).map_err(|e| format!("`{shown}`: {e}"))?;
    Ok((kind, key))
}

/// One JWK of a set: `Ok(None)` for a key that is not for verifying signatures or that the
/// allow-list leaves nothing to, an error for a broken one.
fn jwk_key(v: &Value, allow: Option<&[Algorithm]>) -> std::result::Result<Option<Key>, String> {
    let jwk: Jwk = serde_json::from_value(v.clone()).map_err(|e| format!("not a JWK: {e}"))?;
    let kid = jwk.common.key_id.clone();
    let named = match &kid {
        Some(k) => format!("JWKS key `{k}`"),
        None => "a JWKS key without `kid`".to_string(),
    };
    match &jwk.common.public_key_use {
        None | Some(PublicKeyUse::Signature) => {}
        Some(_) => return Ok(None),
    }
    if let Some(ops) = &jwk.common.key_operations {
        if !ops.contains(&KeyOperations::Verify) {
            return Ok(None);
        }
    }
    let declared = match jwk.common.key_algorithm {
        None => None,
        // An encryption algorithm (RSA-OAEP, ...) or one unknown: not a signature key.
        Some(ka) => match ALGORITHMS.iter().find(|a| alg_name(**a) == ka.to_string()) {
            Some(a) => Some(*a),
            None => return Ok(None),
        },
    };
    let bad = |e: jsonwebtoken::errors::Error| format!("{named}: {e}");
    let (kind, key) = match &jwk.algorithm {
        AlgorithmParameters::RSA(p) => (
            KeyKind::Rsa,
            DecodingKey::from_rsa_components(&p.n, &p.e).map_err(bad)?,
        ),
        AlgorithmParameters::EllipticCurve(p) => {
            let kind = match p.curve {
                EllipticCurve::P256 => KeyKind::P256,
                EllipticCurve::P384 => KeyKind::P384,
                _ => return Err(format!("{named}: an EC curve other than P-256 or P-384")),
            };
            (
                kind,
                DecodingKey::from_ec_components(&p.x, &p.y).map_err(bad)?,
            )
        }
        AlgorithmParameters::OctetKeyPair(p) => {
            if p.curve != EllipticCurve::Ed25519 {
                return Err(format!("{named}: an OKP curve other than Ed25519"));
            }
            (
                KeyKind::Ed25519,
                DecodingKey::from_ed_components(&p.x).map_err(bad)?,
            )
        }
        AlgorithmParameters::OctetKey(_) => {
            return Err(format!(
                "{named} is a symmetric (`oct`) key: a shared secret belongs in \
                 TOLLGATE_JWT_SECRET, never in a key set"
            ))
        }
    };
    if let Some(d) = declared {
        if !kind.takes().contains(&d) {
            return Err(format!(
                "{named} declares `alg: {}` for an {}",
                alg_name(d),
                kind.name()
            ));
        }
    }
    let algs = kind.algorithms(declared, allow);
    if algs.is_empty() {
        return Ok(None);
    }
    check_key(kind, &key).map_err(|e| format!("{named}: {e}"))?;
    Ok(Some(Key {
        kid,
        algs,
        key,
        what: named,
    }))
}

/// Parses a JWKS document (`{"keys": [...]}`) into the keys Tollgate can verify with. Keys
/// that cannot be used are skipped (and logged); a set with none usable is an error.
fn parse_jwks(
    bytes: &[u8],
    allow: Option<&[Algorithm]>,
    from: &str,
) -> std::result::Result<Vec<Arc<Key>>, String> {
    let doc = crate::strict_json::parse(bytes).map_err(|e| format!("{from}: {e}"))?;
    let Some(list) = doc.get("keys").and_then(Value::as_array) else {
        return Err(format!("{from} is not a JWK set (no `keys` array)"));
    };
    let mut keys = Vec::new();
    for v in list {
        match jwk_key(v, allow) {
            Ok(Some(k)) => keys.push(Arc::new(k)),
            Ok(None) => {}
            Err(e) => tracing::warn!(source = %from, problem = %e, "JWKS key skipped"),
        }
    }
    if keys.is_empty() {
        return Err(format!(
            "{from} holds no key Tollgate can verify signatures with{}",
            allow.map_or(String::new(), |l| format!(
                " under the allowed algorithms {}",
                names(l)
            ))
        ));
    }
    Ok(keys)
}

/// A file's identity and version: a change of any part means it was rewritten.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: u64,
}

fn stamp(path: &Path) -> std::io::Result<Stamp> {
    let m = std::fs::metadata(path)?;
    Ok(Stamp {
        modified: m.modified().ok(),
        len: m.len(),
        #[cfg(unix)]
        inode: std::os::unix::fs::MetadataExt::ino(&m),
    })
}

fn read_bounded(path: &Path) -> std::result::Result<Vec<u8>, String> {
    use std::io::Read;
    let f = std::fs::File::open(path)
        .map_err(|e| format!("cannot read the JWKS file `{}`: {e}", path.display()))?;
    let mut bytes = Vec::new();
    f.take(MAX_JWKS_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the JWKS file `{}`: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_JWKS_BYTES {
        return Err(format!(
            "the JWKS file `{}` is larger than {MAX_JWKS_BYTES} bytes",
            path.display()
        ));
    }
    Ok(bytes)
}

/// Where a key set comes from.
enum Source {
    File(PathBuf),
    Url {
        url: String,
        /// The URL without its query, for messages and logs.
        shown: String,
        agent: ureq::Agent,
    },
}

/// What the last loads of a key set were.
struct LoadState {
    /// The file's stamp at the last read (or failed read), so a broken file is logged once.
    stamp: Option<Stamp>,
    /// The last time the file's stamp was looked at.
    checked: Option<Instant>,
    /// The last on-demand fetch of a URL.
    on_demand: Option<Instant>,
}

/// A JWK set, swapped whole on every good load.
struct Jwks {
    source: Source,
    keys: ArcSwap<Vec<Arc<Key>>>,
    state: Mutex<LoadState>,
    refresh: Duration,
    /// Wakes the refresh thread of a URL for an on-demand fetch (set by `start`).
    wake: std::sync::OnceLock<mpsc::SyncSender<()>>,
}

impl Jwks {
    /// A key set from `source`, empty until loaded, fetched every `refresh` when a URL.
    fn new(source: Source, refresh: Duration) -> Jwks {
        Jwks {
            source,
            keys: ArcSwap::from_pointee(Vec::new()),
            state: Mutex::new(LoadState {
                stamp: None,
                checked: None,
                on_demand: None,
            }),
            refresh,
            wake: std::sync::OnceLock::new(),
        }
    }

    fn load(&self, allow: Option<&[Algorithm]>) -> std::result::Result<Vec<Arc<Key>>, String> {
        match &self.source {
            Source::File(p) => parse_jwks(
                &read_bounded(p)?,
                allow,
                &format!("the JWKS file `{}`", p.display()),
            ),
            Source::Url { url, shown, agent } => {
                let from = format!("the JWKS at {shown}");
                let mut resp = agent
                    .get(url)
                    .header("accept", "application/json, application/jwk-set+json")
                    .call()
                    .map_err(|e| format!("cannot fetch {from}: {e}"))?;
                let bytes = resp
                    .body_mut()
                    .with_config()
                    .limit(MAX_JWKS_BYTES)
                    .read_to_vec()
                    .map_err(|e| format!("cannot read {from}: {e}"))?;
                parse_jwks(&bytes, allow, &from)
            }
        }
    }

    /// Loads the set and swaps it in; on failure the last good set stays (and is logged).
    fn reload(&self, allow: Option<&[Algorithm]>, why: &str) -> bool {
        match self.load(allow) {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), why, "JWKS loaded");
                self.keys.store(Arc::new(keys));
                true
            }
            Err(e) => {
                tracing::warn!(problem = %e, why, "JWKS not reloaded; the last good set stays");
                false
            }
        }
    }

    /// A file: re-read when its stamp changed, looked at no more often than
    /// [`FILE_CHECK_EVERY`]. Another thread already looking is enough.
    fn check_file(&self, allow: Option<&[Algorithm]>) {
        let Source::File(path) = &self.source else {
            return;
        };
        let Some(mut st) = self.state.try_lock() else {
            return;
        };
        if st.checked.is_some_and(|t| t.elapsed() < FILE_CHECK_EVERY) {
            return;
        }
        st.checked = Some(Instant::now());
        let now = stamp(path).ok();
        if now != st.stamp {
            st.stamp = now;
            self.reload(allow, "the JWKS file changed");
        }
    }

    /// A URL: an unknown `kid` asks the refresh thread for a fetch, at most once per
    /// [`ON_DEMAND_EVERY`], and the token is refused now: a request never waits on the
    /// identity provider, so tokens with made-up kids cannot stall the workers while it is
    /// slow. The new key counts from the next request after the fetch.
    fn refetch_on_demand(&self) {
        if !matches!(self.source, Source::Url { .. }) {
            return;
        }
        {
            let mut st = self.state.lock();
            if st.on_demand.is_some_and(|t| t.elapsed() < ON_DEMAND_EVERY) {
                return;
            }
            st.on_demand = Some(Instant::now());
        }
        if let Some(w) = self.wake.get() {
            // Full: a fetch is already asked for.
            let _ = w.try_send(());
        }
    }
}

/// The JWT settings as configured (flags, environment, file), before they are checked.
#[derive(Default)]
pub struct JwtOptions {
    /// The HMAC secret (`TOLLGATE_JWT_SECRET` or the config file; never a flag).
    pub secret: Option<SecretString>,
    /// A PEM public key file.
    pub public_key: Option<PathBuf>,
    /// A JWKS file path, or an `https://` URL (`http://` for loopback only).
    pub jwks: Option<String>,
    /// The allowed algorithms, comma-separated.
    pub algorithms: Option<String>,
    /// The required `iss`, comma-separated for several accepted issuers.
    pub issuer: Option<String>,
    /// The required `aud`, comma-separated for several accepted audiences.
    pub audience: Option<String>,
    /// The claim naming the principal.
    pub claim: Option<String>,
    /// Seconds of clock skew allowed.
    pub leeway: Option<u64>,
    /// Seconds between fetches of a JWKS URL.
    pub jwks_refresh: Option<u64>,
}

impl JwtOptions {
    fn any_set(&self) -> bool {
        self.secret.is_some()
            || self.public_key.is_some()
            || self.jwks.is_some()
            || self.algorithms.is_some()
            || self.issuer.is_some()
            || self.audience.is_some()
            || self.claim.is_some()
            || self.leeway.is_some()
            || self.jwks_refresh.is_some()
    }
}

fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether `url` names this machine: a JWKS (or the Stripe API stub of a test) may come over
/// plain HTTP only from there.
pub fn loopback_host(uri: &ureq::http::Uri) -> bool {
    let Some(host) = uri.host() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn url_source(url: &str) -> std::result::Result<Source, String> {
    let uri: ureq::http::Uri = url
        .parse()
        .map_err(|_| "the JWKS URL is not a URL".to_string())?;
    // Shown without its query and without `user:pass@`: either may hold a credential.
    let authority = uri.authority().map_or("", |a| a.as_str());
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let shown = format!(
        "{}://{}{}",
        uri.scheme_str().unwrap_or(""),
        authority,
        uri.path()
    );
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") if loopback_host(&uri) => false,
        Some("http") => {
            return Err(format!(
                "the JWKS URL {shown} is plain HTTP: keys must come over HTTPS (plain HTTP only \
                 from loopback)"
            ))
        }
        _ => {
            return Err(format!(
                "the JWKS URL {shown} is neither https:// nor http://"
            ))
        }
    };
    if uri.host().is_none() {
        return Err(format!("the JWKS URL {shown} names no host"));
    }
    Ok(Source::Url {
        url: url.to_string(),
        shown,
        agent: outbound_agent(https, FETCH_TIMEOUT, true),
    })
}

/// The HTTP client of Tollgate's outbound calls (a JWKS URL, Stripe's API): HTTPS only unless
/// the URL is loopback, no redirects, no proxy for loopback, a whole-call timeout.
pub fn outbound_agent(
    https: bool,
    timeout: std::time::Duration,
    status_as_error: bool,
) -> ureq::Agent {
    let mut config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .https_only(https)
        // A redirect could lead a loopback source off the host, or anywhere else: the URL
        // configured is where the call goes.
        .max_redirects(0)
        .http_status_as_error(status_as_error)
        .user_agent(concat!("tollgate/", env!("CARGO_PKG_VERSION")));
    if !https {
        // A loopback server is never reached through a proxy.
        config = config.proxy(None);
    }
    config.build().new_agent()
}

/// Verifies bearer JWTs and names their principal.
pub struct JwtVerifier {
    /// The secret and the PEM key: loaded once, any `kid` may use them.
    fixed: Vec<Arc<Key>>,
    jwks: Option<Jwks>,
    /// `--jwt-algorithms`, when given.
    allow: Option<Vec<Algorithm>>,
    issuer: Option<Vec<String>>,
    audience: Option<Vec<String>>,
    claim: String,
    leeway: u64,
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names and algorithms only: never key material.
        let fixed: Vec<String> = self
            .fixed
            .iter()
            .map(|k| format!("{} ({})", k.what, names(&k.algs)))
            .collect();
        let jwks = self.jwks.as_ref().map(|j| match &j.source {
            Source::File(p) => format!("file {}", p.display()),
            Source::Url { shown, .. } => format!("url {shown}"),
        });
        f.debug_struct("JwtVerifier")
            .field("keys", &fixed)
            .field("jwks", &jwks)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("claim", &self.claim)
            .field("leeway", &self.leeway)
            .finish()
    }
}

/// The part of a token's header that chooses its key.
struct TokenHeader {
    alg: Algorithm,
    kid: Option<String>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(Code::InvalidToken, message)
}

fn b64(part: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .ok()
}

impl TokenHeader {
    /// Reads the header strictly (a key twice is refused); says why a token is not a JWS.
    fn parse(token: &str) -> Result<(TokenHeader, Vec<u8>)> {
        let parts: Vec<&str> = token.split('.').collect();
        let (head, claims) = match parts.as_slice() {
            [head, claims, _signature] => (*head, *claims),
            [_, _, _, _, _] => return Err(invalid("encrypted tokens (JWE) are not supported")),
            _ => {
                return Err(invalid(
                    "the bearer token is not a JWT (three base64url parts)",
                ))
            }
        };
        let not_json = || invalid("the token's header is not base64url JSON");
        let header =
            crate::strict_json::parse(&b64(head).ok_or_else(not_json)?).map_err(|_| not_json())?;
        let payload = b64(claims).ok_or_else(|| invalid("the token's claims are not base64url"))?;
        if header.get("crit").is_some() {
            return Err(invalid(
                "the token's header has `crit` extensions, which Tollgate does not understand",
            ));
        }
        let alg = match header.get("alg").and_then(Value::as_str) {
            None => return Err(invalid("the token's header names no `alg`")),
            Some(a) if a.eq_ignore_ascii_case("none") => {
                return Err(invalid(
                    "algorithm not allowed: `alg: none` (an unsigned token) is never accepted",
                ))
            }
            Some(a) => match ALGORITHMS.iter().find(|x| alg_name(**x) == a) {
                Some(x) => *x,
                None => {
                    return Err(invalid(
                        "algorithm not allowed: the token's `alg` is not one Tollgate verifies",
                    ))
                }
            },
        };
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(k)) => Some(k.clone()),
            Some(_) => return Err(invalid("the token's `kid` is not a string")),
        };
        Ok((TokenHeader { alg, kid }, payload))
    }
}

/// Which key a header chose.
enum Pick {
    One(Arc<Key>),
    /// The key the header's `kid` names (or, without `kid`, every key) refuses its algorithm.
    NotAllowed,
    /// The header's `kid` names no key, and no key without `kid` allows its algorithm.
    UnknownKid,
    /// More than one key allows the algorithm (no `kid`, or one `kid` twice).
    Ambiguous(usize),
}

fn pick(keys: &[&Arc<Key>], h: &TokenHeader) -> Pick {
    let fitting = |pool: &mut dyn Iterator<Item = &Arc<Key>>| -> Vec<Arc<Key>> {
        pool.filter(|k| k.algs.contains(&h.alg)).cloned().collect()
    };
    let choose = |fits: Vec<Arc<Key>>, none: Pick| match fits.len() {
        0 => none,
        1 => fits.into_iter().next().map_or(Pick::NotAllowed, Pick::One),
        n => Pick::Ambiguous(n),
    };
    let Some(kid) = &h.kid else {
        // No `kid`: exactly one key may allow the algorithm.
        return choose(fitting(&mut keys.iter().copied()), Pick::NotAllowed);
    };
    let mut named = keys
        .iter()
        .copied()
        .filter(|k| k.kid.as_deref() == Some(kid.as_str()))
        .peekable();
    if named.peek().is_some() {
        // The key it names decides; it never falls back to another key.
        return choose(fitting(&mut named), Pick::NotAllowed);
    }
    // A `kid` no key carries: keys without one (the secret, the PEM key) may serve, else the
    // set may have rotated.
    let mut anonymous = keys.iter().copied().filter(|k| k.kid.is_none());
    choose(fitting(&mut anonymous), Pick::UnknownKid)
}

/// `jsonwebtoken`'s refusal, as a sentence that says why and quotes nothing of the token.
fn refusal(e: &jsonwebtoken::errors::Error) -> Error {
    invalid(match e.kind() {
        ErrorKind::ExpiredSignature => "the token has expired (`exp`)".to_string(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (`nbf`)".to_string(),
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidKeyFormat
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_) => {
            "bad signature: the token's signature does not verify".to_string()
        }
        ErrorKind::InvalidAudience => "the token is for another audience (`aud`)".to_string(),
        ErrorKind::InvalidIssuer => "the token is from another issuer (`iss`)".to_string(),
        ErrorKind::MissingRequiredClaim(c) => format!("the token has no `{c}` claim"),
        ErrorKind::InvalidClaimFormat(c) => format!("the token's `{c}` claim is not a number"),
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
            "algorithm not allowed for the key the token chose".to_string()
        }
        _ => "the token is malformed".to_string(),
    })
}

impl JwtVerifier {
    /// Checks the options and loads the secret, the PEM key and a JWKS file (a URL is only
    /// checked here, and fetched by [`JwtVerifier::start`]). `None` when no JWT option is set.
    pub fn from_options(o: JwtOptions) -> Result<Option<JwtVerifier>> {
        if !o.any_set() {
            return Ok(None);
        }
        let config = Error::Config;
        let allow = o
            .algorithms
            .as_deref()
            .map(parse_algorithms)
            .transpose()
            .map_err(config)?;
        let allowed = allow.as_deref();
        let mut fixed = Vec::new();
        let mut add = |kind: KeyKind, key: DecodingKey, what: String| -> Result<()> {
            let algs = kind.algorithms(None, allowed);
            if algs.is_empty() {
                return Err(Error::Config(format!(
                    "the JWT algorithms ({}) allow nothing {what} can verify (an {} takes {})",
                    names(allowed.unwrap_or(&[])),
                    kind.name(),
                    names(kind.takes())
                )));
            }
            fixed.push(Arc::new(Key {
                kid: None,
                algs,
                key,
                what,
            }));
            Ok(())
        };
        if let Some(s) = &o.secret {
            let bytes = s.expose_secret().as_bytes();
            if bytes.len() < MIN_SECRET_BYTES {
                return Err(Error::Config(format!(
                    "the JWT secret must be at least {MIN_SECRET_BYTES} bytes"
                )));
            }
            add(
                KeyKind::Secret,
                DecodingKey::from_secret(bytes),
                "the JWT secret".into(),
            )?;
        }
        if let Some(p) = &o.public_key {
            let (kind, key) = pem_key(p).map_err(config)?;
            add(kind, key, format!("the public key `{}`", p.display()))?;
        }
        let refresh = o.jwks_refresh.unwrap_or(DEFAULT_JWKS_REFRESH);
        if !(1..=86_400).contains(&refresh) {
            return Err(Error::Config(
                "the JWKS refresh interval must be 1 to 86400 seconds".into(),
            ));
        }
        let jwks = match o.jwks.as_deref().map(str::trim) {
            None => None,
            Some("") => return Err(Error::Config("the JWKS source is empty".into())),
            Some(s) => {
                // `scheme://...` is a URL (and only http(s) is accepted); anything else a path.
                let source = if s.contains("://") {
                    url_source(s).map_err(config)?
                } else {
                    Source::File(PathBuf::from(s))
                };
                let jwks = Jwks::new(source, Duration::from_secs(refresh));
                if let Source::File(p) = &jwks.source {
                    let st = stamp(p).ok();
                    jwks.keys
                        .store(Arc::new(jwks.load(allowed).map_err(config)?));
                    let mut state = jwks.state.lock();
                    state.stamp = st;
                    state.checked = Some(Instant::now());
                }
                Some(jwks)
            }
        };
        if fixed.is_empty() && jwks.is_none() {
            return Err(Error::Config(
                "JWT options are set but no key to verify tokens with: set TOLLGATE_JWT_SECRET, \
                 --jwt-public-key or --jwt-jwks"
                    .into(),
            ));
        }
        // Every algorithm of the list must be one a configured key takes (a URL's keys are
        // known only once fetched).
        if let Some(list) = allowed {
            let url = jwks
                .as_ref()
                .is_some_and(|j| matches!(j.source, Source::Url { .. }));
            if !url {
                let mut keys: Vec<Arc<Key>> = fixed.clone();
                if let Some(j) = &jwks {
                    keys.extend(j.keys.load().iter().cloned());
                }
                for a in list {
                    if !keys.iter().any(|k| k.algs.contains(a)) {
                        return Err(Error::Config(format!(
                            "the JWT algorithm {} is allowed but no configured key can verify it",
                            alg_name(*a)
                        )));
                    }
                }
            }
        }
        let claim = o.claim.unwrap_or_else(|| DEFAULT_CLAIM.into());
        if claim.trim().is_empty() {
            return Err(Error::Config("the JWT principal claim is empty".into()));
        }
        let leeway = o.leeway.unwrap_or(DEFAULT_LEEWAY);
        if leeway > MAX_LEEWAY {
            return Err(Error::Config(format!(
                "the JWT leeway must be at most {MAX_LEEWAY} seconds"
            )));
        }
        let nonempty = |what: &str, v: Option<String>| -> Result<Option<Vec<String>>> {
            match v.as_deref().map(list) {
                Some(l) if l.is_empty() => {
                    Err(Error::Config(format!("the JWT {what} list is empty")))
                }
                other => Ok(other),
            }
        };
        Ok(Some(JwtVerifier {
            fixed,
            jwks,
            allow,
            issuer: nonempty("issuer", o.issuer)?,
            audience: nonempty("audience", o.audience)?,
            claim: claim.trim().to_string(),
            leeway,
        }))
    }

    /// Whether keys come from a URL (fetched by [`JwtVerifier::start`]).
    pub fn fetches(&self) -> bool {
        self.jwks
            .as_ref()
            .is_some_and(|j| matches!(j.source, Source::Url { .. }))
    }

    /// Fetches a JWKS URL (a failure is a configuration error: the daemon does not start
    /// without keys) and starts the thread that refreshes it; the thread stops when the
    /// returned [`Refresher`] or the verifier is dropped. Nothing to do for other sources.
    pub fn start(self: &Arc<Self>) -> Result<Option<Refresher>> {
        let Some(jwks) = &self.jwks else {
            return Ok(None);
        };
        if !matches!(jwks.source, Source::Url { .. }) {
            return Ok(None);
        }
        let keys = jwks.load(self.allow.as_deref()).map_err(Error::Config)?;
        tracing::info!(keys = keys.len(), "JWKS fetched");
        jwks.keys.store(Arc::new(keys));
        let (wake, woken) = mpsc::sync_channel::<()>(1);
        let _ = jwks.wake.set(wake.clone());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let weak: Weak<JwtVerifier> = Arc::downgrade(self);
        let every = jwks.refresh;
        std::thread::Builder::new()
            .name("tollgate-jwks".into())
            .spawn(move || loop {
                let why = match woken.recv_timeout(every) {
                    Ok(()) => "a token named an unknown kid",
                    Err(mpsc::RecvTimeoutError::Timeout) => "scheduled refresh",
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                };
                if stopped.load(std::sync::atomic::Ordering::Acquire) {
                    return;
                }
                let Some(v) = weak.upgrade() else { return };
                if let Some(j) = &v.jwks {
                    j.reload(v.allow.as_deref(), why);
                }
            })
            .map_err(|e| Error::io("cannot start the JWKS refresh thread", e))?;
        Ok(Some(Refresher { stop, wake }))
    }

    /// Chooses the key for `h` among the keys now in force: the fixed ones, then the set's.
    fn pick_now(&self, h: &TokenHeader) -> Pick {
        let set = self.jwks.as_ref().map(|j| j.keys.load_full());
        let mut all: Vec<&Arc<Key>> = self.fixed.iter().collect();
        if let Some(s) = &set {
            all.extend(s.iter());
        }
        pick(&all, h)
    }

    /// Verifies `token` and returns the principal's id (the configured claim's string value),
    /// or a 401 `INVALID_TOKEN` that says why. Nothing of the token is logged or echoed.
    pub fn verify(&self, token: &str) -> Result<String> {
        let (h, payload) = TokenHeader::parse(token)?;
        if let Some(j) = &self.jwks {
            j.check_file(self.allow.as_deref());
        }
        let mut chosen = self.pick_now(&h);
        if matches!(chosen, Pick::UnknownKid) {
            if let Some(j) = &self.jwks {
                j.refetch_on_demand();
            }
        }
        if matches!(chosen, Pick::UnknownKid) && self.jwks.is_none() {
            // No key set: a `kid` cannot name anything, the algorithm is what fails.
            chosen = Pick::NotAllowed;
        }
        let key = match chosen {
            Pick::One(k) => k,
            Pick::UnknownKid => {
                return Err(invalid(
                    "unknown kid: the token's key id names no configured key",
                ))
            }
            Pick::NotAllowed => {
                return Err(invalid(format!(
                    "algorithm not allowed: no configured key accepts {}{}",
                    alg_name(h.alg),
                    if h.kid.is_some() {
                        " for the token's kid"
                    } else {
                        ""
                    }
                )))
            }
            Pick::Ambiguous(n) => {
                return Err(invalid(format!(
                    "{n} keys accept {} for this token: it must name one by a unique key id \
                     (`kid`)",
                    alg_name(h.alg)
                )))
            }
        };
        let mut v = Validation::new(h.alg);
        v.leeway = self.leeway;
        v.validate_exp = true;
        v.validate_nbf = true;
        let mut required = vec!["exp"];
        if let Some(iss) = &self.issuer {
            v.set_issuer(iss);
            required.push("iss");
        }
        match &self.audience {
            Some(aud) => {
                v.set_audience(aud);
                required.push("aud");
            }
            None => v.validate_aud = false,
        }
        v.set_required_spec_claims(&required);
        jsonwebtoken::decode::<serde::de::IgnoredAny>(token, &key.key, &v)
            .map_err(|e| refusal(&e))?;
        // The signature holds: read the claims strictly (a claim twice is refused).
        let claims = crate::strict_json::parse(&payload).map_err(|_| {
            invalid("the token's claims are not a JSON object without duplicate keys")
        })?;
        // RFC 7519 §4.1.1: `iss` is one string (jsonwebtoken also takes an array holding it).
        if self.issuer.is_some() && !matches!(claims.get("iss"), Some(Value::String(_))) {
            return Err(invalid("the token's `iss` is not one string"));
        }
        match claims.get(&self.claim) {
            // The id is used as sent, so it must not depend on how a parser trims: an app
            // reading `X-Tollgate-Principal` would see ` alice` as `alice`.
            Some(Value::String(s))
                if !s.is_empty() && s.trim() == s && !s.chars().any(char::is_control) =>
            {
                Ok(s.clone())
            }
            Some(Value::String(s)) if !s.trim().is_empty() => Err(invalid(format!(
                "the `{}` claim has surrounding whitespace or a control character",
                self.claim
            ))),
            _ => Err(invalid(format!(
                "missing claim: the token has no string `{}` claim to name the principal",
                self.claim
            ))),
        }
    }
}

/// Keeps a JWKS URL's refresh thread running; dropping it stops the thread.
pub struct Refresher {
    stop: Arc<std::sync::atomic::AtomicBool>,
    wake: mpsc::SyncSender<()>,
}

impl Drop for Refresher {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        let _ = self.wake.try_send(());
    }
}

impl fmt::Debug for Refresher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Refresher")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    const SECRET: &str = "0123456789abcdef0123456789abcdef-test-only";

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/jwt")
            .join(name)
    }

    fn private(name: &str) -> Vec<u8> {
        std::fs::read(fixture(name)).unwrap()
    }

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    fn claims(extra: Value) -> Value {
        let mut c = json!({"sub": "alice", "exp": now() + 600});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    }

    fn hs(c: &Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            c,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    }

    fn signed(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, c: &Value) -> String {
        let mut h = Header::new(alg);
        h.kid = kid.map(str::to_string);
        encode(&h, c, key).unwrap()
    }

    fn rsa_a() -> EncodingKey {
        EncodingKey::from_rsa_pem(&private("rsa-a.key.pem")).unwrap()
    }

    fn rsa_b() -> EncodingKey {
        EncodingKey::from_rsa_pem(&private("rsa-b.key.pem")).unwrap()
    }

    fn secret_opts() -> JwtOptions {
        JwtOptions {
            secret: Some(SecretString::from(SECRET)),
            ..Default::default()
        }
    }

    fn verifier(o: JwtOptions) -> JwtVerifier {
        JwtVerifier::from_options(o).unwrap().unwrap()
    }

    fn config_error(o: JwtOptions) -> String {
        match JwtVerifier::from_options(o) {
            Err(Error::Config(m)) => m,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    /// The refusal's message, which must be an `INVALID_TOKEN`.
    fn refused(v: &JwtVerifier, token: &str) -> String {
        match v.verify(token) {
            Err(Error::Rejected {
                code: Code::InvalidToken,
                message,
            }) => {
                assert!(
                    !message.contains(token),
                    "the token is not echoed: {message}"
                );
                message
            }
            other => panic!("expected INVALID_TOKEN, got {other:?}"),
        }
    }

    /// A hand-built token: header and claims as given, any signature.
    fn raw(header: &Value, c: &Value, sig: &str) -> String {
        let e = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}.{sig}", e(header), e(c))
    }

    fn jwk_of(key: &EncodingKey, alg: Algorithm, kid: &str) -> Value {
        let mut v =
            serde_json::to_value(jsonwebtoken::jwk::Jwk::from_encoding_key(key, alg).unwrap())
                .unwrap();
        v["kid"] = json!(kid);
        v
    }

    #[test]
    fn algorithm_lists_refuse_none_and_unknown_names() {
        assert_eq!(
            parse_algorithms("rs256, ES256,RS256").unwrap(),
            vec![Algorithm::RS256, Algorithm::ES256]
        );
        assert!(parse_algorithms("none").unwrap_err().contains("never"));
        assert!(parse_algorithms("HS256,None").is_err());
        assert!(parse_algorithms("RS999").unwrap_err().contains("RS999"));
        assert!(parse_algorithms(" , ").is_err());
    }

    #[test]
    fn no_option_is_no_verifier_and_options_without_a_key_are_refused() {
        assert!(JwtVerifier::from_options(JwtOptions::default())
            .unwrap()
            .is_none());
        let e = config_error(JwtOptions {
            issuer: Some("https://idp".into()),
            ..Default::default()
        });
        assert!(e.contains("no key"), "{e}");
    }

    #[test]
    fn bad_keys_and_contradicting_lists_are_configuration_errors_that_quote_no_secret() {
        let short = "short-secret-0123456789";
        let e = config_error(JwtOptions {
            secret: Some(SecretString::from(short)),
            ..Default::default()
        });
        assert!(e.contains("32 bytes") && !e.contains(short), "{e}");

        for (file, says) in [
            ("rsa-a.key.pem", "private key"),
            ("rsa-1024.pub.pem", "1024 bits"),
            ("README.md", "not a PEM public key"),
            ("missing.pem", "cannot read"),
        ] {
            let e = config_error(JwtOptions {
                public_key: Some(fixture(file)),
                ..Default::default()
            });
            assert!(e.contains(says), "{file}: {e}");
        }
        // The list leaves the secret nothing; ES256 is allowed but no key takes it.
        let e = config_error(JwtOptions {
            algorithms: Some("RS256".into()),
            ..secret_opts()
        });
        assert!(e.contains("allow nothing the JWT secret can verify"), "{e}");
        assert!(!e.contains(SECRET));
        let e = config_error(JwtOptions {
            public_key: Some(fixture("rsa-a.pub.pem")),
            algorithms: Some("RS256,ES256".into()),
            ..Default::default()
        });
        assert!(
            e.contains("ES256") && e.contains("no configured key"),
            "{e}"
        );
        assert!(config_error(JwtOptions {
            leeway: Some(MAX_LEEWAY + 1),
            ..secret_opts()
        })
        .contains("leeway"));
        assert!(config_error(JwtOptions {
            claim: Some(" ".into()),
            ..secret_opts()
        })
        .contains("claim"));
        assert!(config_error(JwtOptions {
            jwks: Some("http://idp.example/jwks.json".into()),
            ..Default::default()
        })
        .contains("plain HTTP"));
        assert!(config_error(JwtOptions {
            jwks: Some("ftp://idp.example/jwks.json".into()),
            ..Default::default()
        })
        .contains("neither"));
        // A URL is checked, not fetched, when the settings resolve.
        let v = verifier(JwtOptions {
            jwks: Some("https://idp.example/.well-known/jwks.json?x=secret".into()),
            ..Default::default()
        });
        assert!(v.fetches());
        assert!(!format!("{v:?}").contains("x=secret"));
        let v = verifier(secret_opts());
        assert!(!format!("{v:?}").contains(SECRET), "{v:?}");
    }

    #[test]
    fn every_key_type_verifies_its_own_algorithm_and_the_pem_kinds_are_told_apart() {
        for (public, private_file, alg) in [
            ("rsa-a.pub.pem", "rsa-a.key.pem", Algorithm::RS256),
            ("rsa-a.pkcs1.pub.pem", "rsa-a.key.pem", Algorithm::RS256),
            ("ec-p256.pub.pem", "ec-p256.key.pem", Algorithm::ES256),
            ("ec-p384.pub.pem", "ec-p384.key.pem", Algorithm::ES384),
            ("ed25519.pub.pem", "ed25519.key.pem", Algorithm::EdDSA),
        ] {
            let v = verifier(JwtOptions {
                public_key: Some(fixture(public)),
                ..Default::default()
            });
            let pem = private(private_file);
            let key = match alg {
                Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem),
                Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem),
                _ => EncodingKey::from_ec_pem(&pem),
            }
            .unwrap();
            let t = signed(alg, None, &key, &claims(json!({})));
            assert_eq!(v.verify(&t).unwrap(), "alice", "{public}");
            // Only the implied algorithm, unless the list says more.
            if alg == Algorithm::RS256 {
                let ps = signed(Algorithm::PS256, None, &key, &claims(json!({})));
                assert!(refused(&v, &ps).contains("algorithm not allowed"));
                let v = verifier(JwtOptions {
                    public_key: Some(fixture(public)),
                    algorithms: Some("RS256,PS256".into()),
                    ..Default::default()
                });
                assert_eq!(v.verify(&ps).unwrap(), "alice");
            }
        }
    }

    #[test]
    fn time_issuer_audience_and_claim_are_checked_after_the_signature() {
        let v = verifier(JwtOptions {
            issuer: Some("https://idp.example".into()),
            audience: Some("tollgate, other-app".into()),
            ..secret_opts()
        });
        let good = json!({"iss": "https://idp.example", "aud": "tollgate"});
        let with = |extra: Value| {
            let mut c = claims(good.clone());
            for (k, x) in extra.as_object().unwrap() {
                if x.is_null() {
                    c.as_object_mut().unwrap().remove(k);
                } else {
                    c[k] = x.clone();
                }
            }
            hs(&c)
        };
        assert_eq!(v.verify(&with(json!({}))).unwrap(), "alice");
        assert_eq!(
            v.verify(&with(json!({"aud": ["x", "other-app"]}))).unwrap(),
            "alice"
        );
        for (extra, says) in [
            (json!({"exp": now() - 120}), "expired"),
            (json!({"exp": null}), "no `exp` claim"),
            // jsonwebtoken counts an `exp` that is not a number as missing.
            (json!({"exp": "soon"}), "`exp` claim"),
            (json!({"nbf": "later"}), "`nbf` claim is not a number"),
            (json!({"nbf": now() + 120}), "not valid yet"),
            (json!({"aud": "another"}), "another audience"),
            (json!({"aud": null}), "no `aud` claim"),
            (json!({"iss": "https://evil.example"}), "another issuer"),
            (json!({"iss": null}), "no `iss` claim"),
            (json!({"sub": null}), "missing claim"),
            (json!({"sub": 42}), "missing claim"),
            (json!({"sub": ""}), "missing claim"),
            (
                json!({"iss": ["https://other.example", "https://idp.example"]}),
                "not one string",
            ),
            (json!({"sub": "alice "}), "surrounding whitespace"),
            (json!({"sub": " alice"}), "surrounding whitespace"),
            (json!({"sub": "alice\n"}), "control character"),
            (json!({"sub": "al\u{0}ice"}), "control character"),
        ] {
            let m = refused(&v, &with(extra.clone()));
            assert!(m.contains(says), "{extra}: {m}");
        }
        // Within the leeway (30 s) both ends still pass.
        assert!(v.verify(&with(json!({"exp": now() - 10}))).is_ok());
        assert!(v.verify(&with(json!({"nbf": now() + 10}))).is_ok());
        let strict = verifier(JwtOptions {
            leeway: Some(0),
            ..secret_opts()
        });
        assert!(refused(&strict, &hs(&claims(json!({"exp": now() - 10})))).contains("expired"));

        // Without a configured audience, `aud` is not checked; another claim names the user.
        let by_email = verifier(JwtOptions {
            claim: Some("email".into()),
            ..secret_opts()
        });
        let t = hs(&claims(
            json!({"aud": "anything", "email": "a@example.com"}),
        ));
        assert_eq!(by_email.verify(&t).unwrap(), "a@example.com");
        assert!(refused(&by_email, &hs(&claims(json!({})))).contains("`email`"));
    }

    #[test]
    fn unsigned_forged_and_odd_tokens_never_verify() {
        let v = verifier(JwtOptions {
            public_key: Some(fixture("rsa-a.pub.pem")),
            ..secret_opts()
        });
        let c = claims(json!({}));
        // alg none, in any spelling, with or without a signature.
        for alg in ["none", "None", "NONE"] {
            for sig in ["", "AAAA"] {
                let m = refused(&v, &raw(&json!({"alg": alg, "typ": "JWT"}), &c, sig));
                assert!(m.contains("none"), "{m}");
            }
        }
        // Signed by another RSA key.
        let t = signed(Algorithm::RS256, None, &rsa_b(), &c);
        assert!(refused(&v, &t).contains("bad signature"));
        // HS256 "signed" with the RSA public key as the secret: the secret key is tried, and
        // fails; with no secret configured, HS256 is not allowed at all.
        let pem = std::fs::read(fixture("rsa-a.pub.pem")).unwrap();
        let confused = signed(Algorithm::HS256, None, &EncodingKey::from_secret(&pem), &c);
        assert!(refused(&v, &confused).contains("bad signature"));
        let rsa_only = verifier(JwtOptions {
            public_key: Some(fixture("rsa-a.pub.pem")),
            ..Default::default()
        });
        assert!(refused(&rsa_only, &confused).contains("algorithm not allowed"));
        // A tampered payload under a good signature.
        let good = signed(Algorithm::RS256, None, &rsa_a(), &c);
        assert_eq!(v.verify(&good).unwrap(), "alice");
        let parts: Vec<&str> = good.split('.').collect();
        let forged = raw(
            &json!({"alg": "RS256", "typ": "JWT"}),
            &claims(json!({"sub": "admin"})),
            parts[2],
        );
        assert!(refused(&v, &forged).contains("bad signature"));
        for (token, says) in [
            ("abc".to_string(), "not a JWT"),
            ("a.b.c.d.e".to_string(), "JWE"),
            ("!!.e30.AAAA".to_string(), "header"),
            (raw(&json!({"typ": "JWT"}), &c, "AAAA"), "no `alg`"),
            (
                raw(&json!({"alg": "XS256"}), &c, "AAAA"),
                "algorithm not allowed",
            ),
            (
                raw(&json!({"alg": "HS256", "crit": ["exp"]}), &c, "AAAA"),
                "crit",
            ),
            (raw(&json!({"alg": "HS256", "kid": 7}), &c, "AAAA"), "`kid`"),
        ] {
            let m = refused(&v, &token);
            assert!(m.contains(says), "{token}: {m}");
        }
        // A header naming `alg` twice is refused before any key is chosen.
        let e = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let twice = format!(
            "{}.{}.AAAA",
            e(r#"{"alg":"none","alg":"HS256"}"#),
            e(&c.to_string())
        );
        assert!(refused(&v, &twice).contains("header"));
        // A claim twice (signed, so only the strict read can refuse it).
        let dup = {
            let header = e(r#"{"alg":"HS256","typ":"JWT"}"#);
            let body = e(&format!(
                r#"{{"sub":"alice","sub":"admin","exp":{}}}"#,
                now() + 600
            ));
            let msg = format!("{header}.{body}");
            let sig = jsonwebtoken::crypto::sign(
                msg.as_bytes(),
                &EncodingKey::from_secret(SECRET.as_bytes()),
                Algorithm::HS256,
            )
            .unwrap();
            format!("{msg}.{sig}")
        };
        refused(&v, &dup);
    }

    #[test]
    fn a_jwks_file_chooses_keys_by_kid_and_is_reread_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("jwks.json");
        let ec = EncodingKey::from_ec_pem(&private("ec-p256.key.pem")).unwrap();
        let write = |keys: Vec<Value>| {
            let tmp = dir.path().join("jwks.tmp");
            std::fs::write(&tmp, json!({"keys": keys}).to_string()).unwrap();
            std::fs::rename(&tmp, &file).unwrap();
        };
        let mut enc = jwk_of(&rsa_b(), Algorithm::RS256, "enc-key");
        enc["use"] = json!("enc");
        write(vec![
            jwk_of(&rsa_a(), Algorithm::RS256, "a"),
            jwk_of(&rsa_b(), Algorithm::RS256, "b"),
            json!({"kty": "oct", "k": "c2VjcmV0", "kid": "oct"}),
            json!({"kty": "XYZ", "kid": "odd"}),
            enc,
        ]);
        let v = verifier(JwtOptions {
            jwks: Some(file.display().to_string()),
            ..Default::default()
        });
        let c = claims(json!({}));
        assert_eq!(
            v.verify(&signed(Algorithm::RS256, Some("a"), &rsa_a(), &c))
                .unwrap(),
            "alice"
        );
        assert_eq!(
            v.verify(&signed(Algorithm::RS256, Some("b"), &rsa_b(), &c))
                .unwrap(),
            "alice"
        );
        // The kid decides: a's token under b's kid does not verify.
        let m = refused(&v, &signed(Algorithm::RS256, Some("b"), &rsa_a(), &c));
        assert!(m.contains("bad signature"), "{m}");
        // No kid, two keys that fit: refused rather than tried in turn.
        let m = refused(&v, &signed(Algorithm::RS256, None, &rsa_a(), &c));
        assert!(m.contains("2 keys"), "{m}");
        // Skipped keys (symmetric, unknown type, encryption) name nothing.
        for kid in ["oct", "odd", "enc-key", "zzz"] {
            let m = refused(&v, &signed(Algorithm::RS256, Some(kid), &rsa_b(), &c));
            assert!(m.contains("unknown kid"), "{kid}: {m}");
        }
        // A key declares its algorithm: a's JWK says RS256, so PS256 under a is refused.
        let m = refused(&v, &signed(Algorithm::PS256, Some("a"), &rsa_a(), &c));
        assert!(m.contains("algorithm not allowed"), "{m}");

        // Rewritten: b is gone, an EC key came. Seen at the next check (forced here instead
        // of waiting FILE_CHECK_EVERY).
        write(vec![
            jwk_of(&rsa_a(), Algorithm::RS256, "a"),
            jwk_of(&ec, Algorithm::ES256, "ec"),
        ]);
        let force = || v.jwks.as_ref().unwrap().state.lock().checked = None;
        force();
        assert!(
            refused(&v, &signed(Algorithm::RS256, Some("b"), &rsa_b(), &c)).contains("unknown kid")
        );
        assert_eq!(
            v.verify(&signed(Algorithm::ES256, Some("ec"), &ec, &c))
                .unwrap(),
            "alice"
        );
        // With one RSA key left, a token without kid finds it.
        assert!(v
            .verify(&signed(Algorithm::RS256, None, &rsa_a(), &c))
            .is_ok());
        // A broken rewrite keeps the last good set.
        std::fs::write(&file, "{not json").unwrap();
        force();
        assert!(v
            .verify(&signed(Algorithm::ES256, Some("ec"), &ec, &c))
            .is_ok());
        // A file that holds no usable key is refused at start.
        write(vec![json!({"kty": "oct", "k": "c2VjcmV0", "kid": "oct"})]);
        let e = config_error(JwtOptions {
            jwks: Some(file.display().to_string()),
            ..Default::default()
        });
        assert!(e.contains("no key"), "{e}");
    }

    #[test]
    fn the_allow_list_narrows_what_each_jwk_accepts() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("jwks.json");
        let mut undeclared = jwk_of(&rsa_a(), Algorithm::RS256, "a");
        undeclared.as_object_mut().unwrap().remove("alg");
        std::fs::write(
            &file,
            json!({"keys": [undeclared, jwk_of(&rsa_b(), Algorithm::RS256, "b")]}).to_string(),
        )
        .unwrap();
        let v = verifier(JwtOptions {
            jwks: Some(file.display().to_string()),
            algorithms: Some("PS256".into()),
            ..Default::default()
        });
        let c = claims(json!({}));
        // a declares nothing: PS256 is allowed for it; b declares RS256, which the list drops.
        assert!(v
            .verify(&signed(Algorithm::PS256, Some("a"), &rsa_a(), &c))
            .is_ok());
        assert!(
            refused(&v, &signed(Algorithm::RS256, Some("a"), &rsa_a(), &c))
                .contains("algorithm not allowed")
        );
        assert!(
            refused(&v, &signed(Algorithm::RS256, Some("b"), &rsa_b(), &c)).contains("unknown kid")
        );
    }

    #[test]
    fn an_https_jwks_url_is_fetched_over_tls() {
        // A plain-HTTP server behind an https:// URL: the fetch fails in the TLS handshake,
        // which shows TLS is compiled in (and that the daemon would not start).
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut c, _) = listener.accept().unwrap();
            let mut buf = [0u8; 512];
            let _ = c.read(&mut buf);
            let _ = c.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}");
        });
        let v = Arc::new(verifier(JwtOptions {
            jwks: Some(format!("https://127.0.0.1:{}/jwks.json", addr.port())),
            ..Default::default()
        }));
        let e = v.start().unwrap_err().to_string();
        server.join().unwrap();
        assert!(
            e.contains("cannot fetch the JWKS at https://127.0.0.1"),
            "{e}"
        );
        // rustls's word for a plain-text answer to its ClientHello.
        assert!(e.contains("corrupt message"), "{e}");
    }

    #[test]
    fn a_jwks_url_is_shown_without_credentials_and_never_redirected() {
        let Ok(Source::Url { shown, .. }) =
            url_source("http://user:TOPSECRET@127.0.0.1:9/jwks?token=QUERYSECRET")
        else {
            panic!("a loopback URL is a source");
        };
        assert_eq!(shown, "http://127.0.0.1:9/jwks");
        let e = url_source("http://user:TOPSECRET@192.0.2.1/jwks")
            .err()
            .unwrap_or_default();
        assert!(e.contains("plain HTTP") && !e.contains("TOPSECRET"), "{e}");
        // A key server that redirects elsewhere: the fetch fails, the redirect is not taken.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            if let Ok((mut c, _)) = listener.accept() {
                let mut buf = [0u8; 1024];
                let _ = c.read(&mut buf);
                let _ = c.write_all(
                    b"HTTP/1.1 302 Found\r\nLocation: http://192.0.2.2/jwks\r\nContent-Length: 0\r\n\r\n",
                );
            }
        });
        let source = url_source(&format!("http://{addr}/jwks")).unwrap();
        let jwks = Jwks::new(source, Duration::from_secs(300));
        assert!(jwks.load(None).is_err(), "a redirect is not followed");
        server.join().unwrap();
    }
}
