//! One set of settings for every command: the same names as flags, `TOLLGATE_*` environment
//! variables and keys of an optional TOML file, layered flag > env > file > embedded default,
//! and resolved into one [`Settings`] that `serve`, `check` and `import` all read, so `check`
//! answers what the daemon answers.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::billing::{PriceMap, StripeApi, StripeSettings};
use crate::engine::{EngineSettings, DEFAULT_CACHE_BYTES};
use crate::error::{Error, Result};
use crate::forward::{
    ForwardSettings, IdentitySettings, JwtOptions, JwtVerifier, TrustedProxies, Upstream,
};
use crate::model::ModelPaths;

/// Every setting, by one name as a flag, a `TOLLGATE_*` environment variable and a key of the
/// config file: the flags (with env) are one layer, the file another, of this same type.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    /// TOML file with any of these settings (flags and env win over it).
    #[arg(long, env = "TOLLGATE_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Directory of `*.cedar` policy files [default: embedded policies].
    #[arg(
        long,
        env = "TOLLGATE_POLICIES",
        value_name = "DIR",
        help_heading = "Model"
    )]
    pub policies: Option<PathBuf>,
    /// Cedar schema file [default: embedded schema].
    #[arg(
        long,
        env = "TOLLGATE_SCHEMA",
        value_name = "FILE",
        help_heading = "Model"
    )]
    pub schema: Option<PathBuf>,
    /// Plan catalog TOML [default: embedded catalog].
    #[arg(
        long,
        env = "TOLLGATE_PLANS",
        value_name = "FILE",
        help_heading = "Model"
    )]
    pub plans: Option<PathBuf>,
    /// Forward-auth route file (TOML), reloaded with the policies [default: none, and
    /// `/v1/forward-auth` answers 503].
    #[arg(
        long,
        env = "TOLLGATE_ROUTES",
        value_name = "FILE",
        help_heading = "Model"
    )]
    pub routes: Option<PathBuf>,
    /// SQLite database file, created on first start [default: ./tollgate.db].
    #[arg(long, env = "TOLLGATE_DB", value_name = "FILE", help_heading = "Store")]
    pub db: Option<PathBuf>,
    /// Upgrade URL template with `{org}` and `{plan}` [default: from the plan catalog].
    #[arg(
        long,
        env = "TOLLGATE_UPGRADE_URL",
        value_name = "URL",
        help_heading = "Store"
    )]
    pub upgrade_url: Option<String>,
    /// Days a past-due org keeps its plan [default: from the plan catalog, 7].
    #[arg(
        long,
        env = "TOLLGATE_PAST_DUE_GRACE_DAYS",
        value_name = "DAYS",
        help_heading = "Store"
    )]
    pub past_due_grace_days: Option<i64>,
    /// Address to listen on; port 0 picks a free port [default: 127.0.0.1:8181].
    #[arg(
        long,
        env = "TOLLGATE_LISTEN",
        value_name = "ADDR",
        help_heading = "Daemon"
    )]
    pub listen: Option<SocketAddr>,
    /// Largest decision request body in bytes [default: 65536].
    #[arg(
        long,
        env = "TOLLGATE_MAX_DECISION_BODY",
        value_name = "BYTES",
        help_heading = "Daemon"
    )]
    pub max_decision_body: Option<usize>,
    /// Largest data request body in bytes [default: 8388608].
    #[arg(
        long,
        env = "TOLLGATE_MAX_DATA_BODY",
        value_name = "BYTES",
        help_heading = "Daemon"
    )]
    pub max_data_body: Option<usize>,
    /// Most requests in one batch [default: 100].
    #[arg(
        long,
        env = "TOLLGATE_MAX_BATCH",
        value_name = "N",
        help_heading = "Daemon"
    )]
    pub max_batch: Option<usize>,
    /// Answer every decision from scratch, without the decision cache.
    #[arg(
        long,
        env = "TOLLGATE_NO_DECISION_CACHE",
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
        value_name = "BOOL",
        help_heading = "Daemon"
    )]
    pub no_decision_cache: Option<bool>,
    /// Bytes the caches (decisions, slices, org states) may hold together [default: 33554432].
    #[arg(
        long,
        env = "TOLLGATE_CACHE_BYTES",
        value_name = "BYTES",
        help_heading = "Daemon"
    )]
    pub cache_bytes: Option<usize>,
    /// HTTP worker threads [default: number of CPUs].
    #[arg(
        long,
        env = "TOLLGATE_WORKERS",
        value_name = "N",
        help_heading = "Daemon"
    )]
    pub workers: Option<usize>,
    /// Forward auth: the header a trusted proxy names the user in [default: X-User-Id;
    /// oauth2-proxy sets X-Auth-Request-User or X-Forwarded-User].
    #[arg(
        long,
        env = "TOLLGATE_IDENTITY_HEADER",
        value_name = "NAME",
        help_heading = "Forward auth"
    )]
    pub identity_header: Option<String>,
    /// Forward auth: peers (CIDRs or addresses, comma-separated; `loopback`, `none`) whose
    /// identity header is believed, judged by the TCP peer [default: loopback].
    #[arg(
        long,
        env = "TOLLGATE_TRUSTED_PROXIES",
        value_name = "CIDRS",
        help_heading = "Forward auth"
    )]
    pub trusted_proxies: Option<String>,
    /// Forward auth: headers sent upstream on allow, any of principal, org, role, plan (or
    /// `none`) [default: all four, as X-Tollgate-Principal, -Org, -Role, -Plan].
    #[arg(
        long,
        env = "TOLLGATE_UPSTREAM_HEADERS",
        value_name = "LIST",
        help_heading = "Forward auth"
    )]
    pub upstream_headers: Option<String>,
    /// Forward auth: a PEM public key (RSA, EC P-256 or P-384, Ed25519) that verifies bearer
    /// JWTs. With any JWT key configured, the identity is the token's claim from the request's
    /// `Authorization: Bearer`, and the identity header is not read.
    #[arg(
        long,
        env = "TOLLGATE_JWT_PUBLIC_KEY",
        value_name = "FILE",
        help_heading = "Forward auth"
    )]
    pub jwt_public_key: Option<PathBuf>,
    /// Forward auth: a JWKS file (re-read when it changes) or URL (`https://`; `http://` from
    /// loopback only), fetched at start, refreshed, and refetched for an unknown `kid`.
    #[arg(
        long,
        env = "TOLLGATE_JWT_JWKS",
        value_name = "FILE|URL",
        help_heading = "Forward auth"
    )]
    pub jwt_jwks: Option<String>,
    /// Forward auth: the JWT algorithms allowed (comma-separated, e.g. `RS256,ES256`; never
    /// `none`) [default: what each key implies: HS256 for the secret, RS256 for RSA, ES256 for
    /// P-256, ES384 for P-384, EdDSA for Ed25519, a JWK's own `alg`].
    #[arg(
        long,
        env = "TOLLGATE_JWT_ALGORITHMS",
        value_name = "LIST",
        help_heading = "Forward auth"
    )]
    pub jwt_algorithms: Option<String>,
    /// Forward auth: the JWT issuer required in `iss` (comma-separated for several) [default:
    /// not checked].
    #[arg(
        long,
        env = "TOLLGATE_JWT_ISSUER",
        value_name = "ISS",
        help_heading = "Forward auth"
    )]
    pub jwt_issuer: Option<String>,
    /// Forward auth: the JWT audience required in `aud` (comma-separated for several; a token
    /// without `aud` then fails) [default: not checked].
    #[arg(
        long,
        env = "TOLLGATE_JWT_AUDIENCE",
        value_name = "AUD",
        help_heading = "Forward auth"
    )]
    pub jwt_audience: Option<String>,
    /// Forward auth: the JWT claim whose string value is the principal's id [default: sub].
    #[arg(
        long,
        env = "TOLLGATE_JWT_CLAIM",
        value_name = "CLAIM",
        help_heading = "Forward auth"
    )]
    pub jwt_claim: Option<String>,
    /// Forward auth: seconds of clock skew allowed on a JWT's `exp` and `nbf` (at most 3600)
    /// [default: 30].
    #[arg(
        long,
        env = "TOLLGATE_JWT_LEEWAY",
        value_name = "SECONDS",
        help_heading = "Forward auth"
    )]
    pub jwt_leeway: Option<u64>,
    /// Forward auth: seconds between two fetches of a JWKS URL [default: 300].
    #[arg(
        long,
        env = "TOLLGATE_JWT_JWKS_REFRESH",
        value_name = "SECONDS",
        help_heading = "Forward auth"
    )]
    pub jwt_jwks_refresh: Option<u64>,
    /// Stripe: price ids or lookup keys to plans, `price_id=plan,lookup_key=plan` [default:
    /// none, and every subscription event is recorded as `unknown_price`].
    #[arg(
        long,
        env = "TOLLGATE_STRIPE_PRICES",
        value_name = "MAP",
        help_heading = "Billing"
    )]
    pub stripe_prices: Option<String>,
    /// Stripe: seconds a webhook's signed timestamp may be from now, past or future [default:
    /// 300].
    #[arg(
        long,
        env = "TOLLGATE_STRIPE_TOLERANCE",
        value_name = "SECONDS",
        help_heading = "Billing"
    )]
    pub stripe_tolerance: Option<u64>,
    /// Stripe: the API base the subscription re-read goes to (with `STRIPE_SECRET_KEY`)
    /// [default: https://api.stripe.com].
    #[arg(
        long,
        env = "TOLLGATE_STRIPE_API_BASE",
        value_name = "URL",
        help_heading = "Billing"
    )]
    pub stripe_api_base: Option<String>,
    /// Stripe webhook signing secrets, comma-separated during a rotation: from the file or
    /// `STRIPE_WEBHOOK_SECRET` only, never a flag.
    #[arg(skip)]
    pub stripe_webhook_secret: Option<String>,
    /// Stripe's secret API key: with it, an event's subscription is re-read from the API; from
    /// the file or `STRIPE_SECRET_KEY` only.
    #[arg(skip)]
    pub stripe_secret_key: Option<String>,
    /// The HS256 secret of forward-auth JWTs: from the file or `TOLLGATE_JWT_SECRET` only,
    /// never a flag; at least 32 bytes.
    #[arg(skip)]
    pub jwt_secret: Option<String>,
    /// The admin token: from the file or `TOLLGATE_ADMIN_TOKEN` only, never a flag (argv is
    /// visible to every local user in `ps`).
    #[arg(skip)]
    pub admin_token: Option<String>,
    /// The decision token: from the file or `TOLLGATE_DECISION_TOKEN` only.
    #[arg(skip)]
    pub decision_token: Option<String>,
}

/// The settings of a run, resolved from every layer and checked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Listen address.
    pub listen: SocketAddr,
    /// Database path.
    pub db: PathBuf,
    /// Where the model is read from.
    pub model: ModelPaths,
    /// Admin token, if configured (else `serve` generates one).
    pub admin_token: Option<SecretString>,
    /// Decision token, if configured.
    pub decision_token: Option<SecretString>,
    /// Decision body limit.
    pub max_decision_body: usize,
    /// Data body limit.
    pub max_data_body: usize,
    /// Batch size limit.
    pub max_batch: usize,
    /// Worker threads.
    pub workers: usize,
    /// What the engine is built with: upgrade URL, grace days, caches.
    pub engine: EngineSettings,
    /// Forward auth: identity source and upstream headers.
    pub forward: ForwardSettings,
    /// The Stripe webhook: secrets, tolerance, price map, API re-read.
    pub stripe: StripeSettings,
}

impl Settings {
    /// Which files the model comes from, in one line: a command run without flags uses the
    /// model built into the binary, not the files an admin just edited, and must say so.
    pub fn describe_model(&self) -> String {
        let part = |p: &Option<PathBuf>, what: &str| match p {
            Some(p) => p.display().to_string(),
            None => format!("embedded {what}"),
        };
        let mut line = format!(
            "model: {}, {}, {}",
            part(&self.model.policies, "policies"),
            part(&self.model.schema, "schema"),
            part(&self.model.plans, "plan catalog")
        );
        if let Some(r) = &self.model.routes {
            line += &format!(", routes {}", r.display());
        }
        if self.model.policies.is_none()
            && self.model.schema.is_none()
            && self.model.plans.is_none()
        {
            line + " (pass --policies/--schema/--plans or TOLLGATE_* to use your files)"
        } else {
            line
        }
    }
}

/// The default listen address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8181";

/// Where the tokens come from when not from the file: the environment, never flags (argv is
/// visible to every local user in `ps`). Tests pass their own; the daemon reads the process's.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    /// `TOLLGATE_ADMIN_TOKEN`.
    pub admin: Option<String>,
    /// `TOLLGATE_DECISION_TOKEN`.
    pub decision: Option<String>,
    /// `TOLLGATE_JWT_SECRET`.
    pub jwt_secret: Option<String>,
    /// `STRIPE_WEBHOOK_SECRET`.
    pub stripe_webhook_secret: Option<String>,
    /// `STRIPE_SECRET_KEY`.
    pub stripe_secret_key: Option<String>,
}

impl Tokens {
    /// The tokens set in this process's environment.
    pub fn from_env() -> Tokens {
        Tokens {
            admin: std::env::var("TOLLGATE_ADMIN_TOKEN").ok(),
            decision: std::env::var("TOLLGATE_DECISION_TOKEN").ok(),
            jwt_secret: std::env::var("TOLLGATE_JWT_SECRET").ok(),
            stripe_webhook_secret: std::env::var("STRIPE_WEBHOOK_SECRET").ok(),
            stripe_secret_key: std::env::var("STRIPE_SECRET_KEY").ok(),
        }
    }
}

impl Layer {
    /// This layer over `below`: each setting this layer leaves unset comes from `below`.
    fn over(self, below: Layer) -> Layer {
        Layer {
            config: self.config,
            policies: self.policies.or(below.policies),
            schema: self.schema.or(below.schema),
            plans: self.plans.or(below.plans),
            routes: self.routes.or(below.routes),
            identity_header: self.identity_header.or(below.identity_header),
            trusted_proxies: self.trusted_proxies.or(below.trusted_proxies),
            upstream_headers: self.upstream_headers.or(below.upstream_headers),
            jwt_public_key: self.jwt_public_key.or(below.jwt_public_key),
            jwt_jwks: self.jwt_jwks.or(below.jwt_jwks),
            jwt_algorithms: self.jwt_algorithms.or(below.jwt_algorithms),
            jwt_issuer: self.jwt_issuer.or(below.jwt_issuer),
            jwt_audience: self.jwt_audience.or(below.jwt_audience),
            jwt_claim: self.jwt_claim.or(below.jwt_claim),
            jwt_leeway: self.jwt_leeway.or(below.jwt_leeway),
            jwt_jwks_refresh: self.jwt_jwks_refresh.or(below.jwt_jwks_refresh),
            jwt_secret: self.jwt_secret.or(below.jwt_secret),
            stripe_prices: self.stripe_prices.or(below.stripe_prices),
            stripe_tolerance: self.stripe_tolerance.or(below.stripe_tolerance),
            stripe_api_base: self.stripe_api_base.or(below.stripe_api_base),
            stripe_webhook_secret: self.stripe_webhook_secret.or(below.stripe_webhook_secret),
            stripe_secret_key: self.stripe_secret_key.or(below.stripe_secret_key),
            db: self.db.or(below.db),
            upgrade_url: self.upgrade_url.or(below.upgrade_url),
            past_due_grace_days: self.past_due_grace_days.or(below.past_due_grace_days),
            listen: self.listen.or(below.listen),
            max_decision_body: self.max_decision_body.or(below.max_decision_body),
            max_data_body: self.max_data_body.or(below.max_data_body),
            max_batch: self.max_batch.or(below.max_batch),
            no_decision_cache: self.no_decision_cache.or(below.no_decision_cache),
            cache_bytes: self.cache_bytes.or(below.cache_bytes),
            workers: self.workers.or(below.workers),
            admin_token: self.admin_token.or(below.admin_token),
            decision_token: self.decision_token.or(below.decision_token),
        }
    }

    /// Resolves this layer (flags and env) over the config file (its `--config`) over the
    /// defaults, and checks the result. Tokens come from `tokens` (the environment) over the
    /// file.
    pub fn resolve(self, tokens: Tokens) -> Result<Settings> {
        let file = match &self.config {
            Some(p) => read_config(p)?,
            None => Layer::default(),
        };
        let env = Layer {
            admin_token: tokens.admin.filter(|t| !t.is_empty()),
            decision_token: tokens.decision.filter(|t| !t.is_empty()),
            jwt_secret: tokens.jwt_secret.filter(|t| !t.is_empty()),
            stripe_webhook_secret: tokens.stripe_webhook_secret.filter(|t| !t.is_empty()),
            stripe_secret_key: tokens.stripe_secret_key.filter(|t| !t.is_empty()),
            ..self
        };
        let l = env.over(file);
        let secret = |s: Option<String>| s.filter(|t| !t.is_empty()).map(SecretString::from);
        let listen = match l.listen {
            Some(a) => a,
            None => DEFAULT_LISTEN
                .parse()
                .map_err(|e| Error::Config(format!("default listen address: {e}")))?,
        };
        let identity_header = l
            .identity_header
            .unwrap_or_else(|| crate::forward::DEFAULT_IDENTITY_HEADER.into());
        if identity_header.is_empty()
            || !identity_header
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        {
            return Err(Error::Config(format!(
                "identity header `{identity_header}` is not a header name"
            )));
        }
        // Files are read and checked here (so `validate` refuses a bad key); a JWKS URL is
        // fetched only when the daemon starts (`startup`).
        let jwt = JwtVerifier::from_options(JwtOptions {
            secret: secret(l.jwt_secret),
            public_key: l.jwt_public_key,
            jwks: l.jwt_jwks,
            algorithms: l.jwt_algorithms,
            issuer: l.jwt_issuer,
            audience: l.jwt_audience,
            claim: l.jwt_claim,
            leeway: l.jwt_leeway,
            jwks_refresh: l.jwt_jwks_refresh,
        })?
        .map(Arc::new);
        let forward = ForwardSettings {
            identity: IdentitySettings {
                header: identity_header.to_ascii_lowercase(),
                trusted: match &l.trusted_proxies {
                    Some(t) => TrustedProxies::parse(t).map_err(Error::Config)?,
                    None => TrustedProxies::loopback(),
                },
                jwt,
            },
            upstream: match &l.upstream_headers {
                Some(u) => Upstream::parse_list(u).map_err(Error::Config)?,
                None => Upstream::ALL.to_vec(),
            },
        };
        let stripe = stripe_settings(
            l.stripe_webhook_secret,
            l.stripe_secret_key,
            l.stripe_prices,
            l.stripe_tolerance,
            l.stripe_api_base,
        )?;
        let settings = Settings {
            stripe,
            forward,
            listen,
            db: l.db.unwrap_or_else(|| PathBuf::from("tollgate.db")),
            model: ModelPaths {
                policies: l.policies,
                schema: l.schema,
                plans: l.plans,
                routes: l.routes,
            },
            admin_token: secret(l.admin_token),
            decision_token: secret(l.decision_token),
            max_decision_body: l.max_decision_body.unwrap_or(64 * 1024),
            max_data_body: l.max_data_body.unwrap_or(8 * 1024 * 1024),
            max_batch: l.max_batch.unwrap_or(100),
            workers: l.workers.unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2)
            }),
            engine: EngineSettings {
                upgrade_url: l.upgrade_url,
                past_due_grace_days: l.past_due_grace_days,
                no_decision_cache: l.no_decision_cache.unwrap_or(false),
                cache_bytes: l.cache_bytes.unwrap_or(DEFAULT_CACHE_BYTES),
            },
        };
        if settings.engine.past_due_grace_days.is_some_and(|d| d < 0) {
            return Err(Error::Config(
                "past-due grace days must not be negative".into(),
            ));
        }
        if settings.max_batch == 0 || settings.workers == 0 {
            return Err(Error::Config(
                "max batch and workers must be at least 1".into(),
            ));
        }
        for (name, t) in [
            ("admin", &settings.admin_token),
            ("decision", &settings.decision_token),
        ] {
            if t.as_ref().is_some_and(|t| t.expose_secret().len() < 16) {
                return Err(Error::Config(format!(
                    "the {name} token must be at least 16 characters"
                )));
            }
        }
        Ok(settings)
    }
}

fn stripe_settings(
    secrets: Option<String>,
    key: Option<String>,
    prices: Option<String>,
    tolerance: Option<u64>,
    base: Option<String>,
) -> Result<StripeSettings> {
    let secrets: Vec<SecretString> = secrets
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| SecretString::from(s.to_string()))
        .collect();
    let prices = PriceMap::parse(prices.as_deref().unwrap_or(""))
        .map_err(|e| Error::Config(format!("TOLLGATE_STRIPE_PRICES: {e}")))?;
    let api = match key.filter(|k| !k.is_empty()) {
        Some(k) => Some(
            StripeApi::new(
                base.as_deref().unwrap_or(crate::billing::api::DEFAULT_BASE),
                SecretString::from(k),
            )
            .map_err(Error::Config)?,
        ),
        None => None,
    };
    Ok(StripeSettings {
        secrets,
        tolerance: tolerance.unwrap_or(crate::billing::DEFAULT_TOLERANCE),
        prices,
        api,
    })
}

fn read_config(path: &Path) -> Result<Layer> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("cannot read config `{}`", path.display()), e))?;
    // The error's own rendering quotes the offending line, which may hold a token: name the
    // place instead.
    toml::from_str(&text).map_err(|e| {
        let at = e.span().map_or(String::new(), |span| {
            let before = text.get(..span.start).unwrap_or("");
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!(" line {line}, column {col}:")
        });
        Error::Config(format!("`{}`:{at} {}", path.display(), e.message()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("t.toml");
        std::fs::write(&cfg, text).unwrap();
        (dir, cfg)
    }

    #[test]
    fn flags_win_over_file_and_file_over_defaults() {
        let (_dir, cfg) = file("listen = \"127.0.0.1:9999\"\nmax_batch = 7\ndb = \"x.db\"\n");
        let args = Layer {
            config: Some(cfg),
            db: Some("y.db".into()),
            ..Default::default()
        };
        let s = args.resolve(Tokens::default()).unwrap();
        assert_eq!(s.listen.port(), 9999);
        assert_eq!(s.max_batch, 7);
        assert_eq!(s.db, PathBuf::from("y.db"));
        assert_eq!(s.max_decision_body, 65536);
    }

    #[test]
    fn the_shared_settings_read_the_same_file_as_serve() {
        let (_dir, cfg) = file(
            "db = \"x.db\"\nupgrade_url = \"https://u/{org}\"\npast_due_grace_days = 2\nlisten = \"127.0.0.1:1\"\n",
        );
        let store = Layer {
            config: Some(cfg.clone()),
            ..Default::default()
        };
        let s = store.resolve(Tokens::default()).unwrap();
        assert_eq!(s.db, PathBuf::from("x.db"));
        assert_eq!(s.engine.upgrade_url.as_deref(), Some("https://u/{org}"));
        assert_eq!(s.engine.past_due_grace_days, Some(2));
    }

    #[test]
    fn a_token_in_the_file_counts_and_the_environment_wins_over_it() {
        let (_dir, cfg) = file("admin_token = \"from-the-file-0123456789\"\n");
        let layer = || Layer {
            config: Some(cfg.clone()),
            ..Default::default()
        };
        let s = layer().resolve(Tokens::default()).unwrap();
        assert_eq!(
            s.admin_token.unwrap().expose_secret(),
            "from-the-file-0123456789"
        );
        let env = Tokens {
            admin: Some("from-the-env-0123456789".into()),
            decision: None,
            ..Default::default()
        };
        let s = layer().resolve(env).unwrap();
        assert_eq!(
            s.admin_token.unwrap().expose_secret(),
            "from-the-env-0123456789"
        );
    }

    #[test]
    fn a_bad_config_line_is_named_not_quoted() {
        let (_dir, cfg) = file("listen = \"127.0.0.1:1\"\nadmin_token = 0123456789abcdef01\n");
        let e = Layer {
            config: Some(cfg),
            ..Default::default()
        }
        .resolve(Tokens::default())
        .unwrap_err()
        .to_string();
        assert!(e.contains("line 2"), "{e}");
        assert!(
            !e.contains("0123456789abcdef01"),
            "the token is not echoed: {e}"
        );
    }

    #[test]
    fn unknown_config_keys_are_refused() {
        let (_dir, cfg) = file("lisen = \"127.0.0.1:1\"\n");
        let args = Layer {
            config: Some(cfg),
            ..Default::default()
        };
        let e = args.resolve(Tokens::default()).unwrap_err();
        assert!(e.to_string().contains("lisen"));
    }

    #[test]
    fn short_tokens_are_refused_and_tokens_never_show_in_debug() {
        let tokens = Tokens {
            admin: Some("short".into()),
            decision: None,
            ..Default::default()
        };
        assert!(Layer::default().resolve(tokens).is_err());
        let tokens = Tokens {
            admin: Some("0123456789abcdef-secret".into()),
            decision: None,
            ..Default::default()
        };
        let s = Layer::default().resolve(tokens).unwrap();
        assert!(!format!("{s:?}").contains("abcdef-secret"));
        // Nor the Stripe secrets.
        let tokens = Tokens {
            stripe_webhook_secret: Some("whsec_one-0123, whsec_two-4567".into()),
            stripe_secret_key: Some("sk_live_key-89ab".into()),
            ..Default::default()
        };
        let s = Layer::default().resolve(tokens).unwrap();
        assert_eq!(s.stripe.secrets.len(), 2);
        assert!(s.stripe.api.is_some());
        let debug = format!("{s:?}");
        for secret in ["0123", "4567", "89ab"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }

    #[test]
    fn the_jwt_secret_comes_from_the_environment_or_the_file_and_never_shows() {
        let file_secret = "jwt-secret-from-the-file-0123456789abcdef";
        let env_secret = "jwt-secret-from-the-env-0123456789abcdefgh";
        let (_dir, cfg) = file(&format!(
            "jwt_secret = \"{file_secret}\"\njwt_claim = \"email\"\njwt_leeway = 5\n"
        ));
        let layer = || Layer {
            config: Some(cfg.clone()),
            ..Default::default()
        };
        let s = layer().resolve(Tokens::default()).unwrap();
        let jwt = s
            .forward
            .identity
            .jwt
            .clone()
            .expect("a verifier from the file");
        let debug = format!("{s:?}");
        assert!(
            debug.contains("email") && !debug.contains(file_secret),
            "{debug}"
        );
        let env = Tokens {
            jwt_secret: Some(env_secret.into()),
            ..Default::default()
        };
        let s = layer().resolve(env).unwrap();
        assert!(!format!("{s:?}").contains(env_secret));
        // Which secret is in force shows in what verifies: the environment's.
        let token = |secret: &str| {
            jsonwebtoken::encode(
                &jsonwebtoken::Header::default(),
                &serde_json::json!({"email": "a@example.com", "exp": u32::MAX}),
                &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
            )
            .unwrap()
        };
        let by_env = s.forward.identity.jwt.unwrap();
        assert!(by_env.verify(&token(env_secret)).is_ok());
        assert!(by_env.verify(&token(file_secret)).is_err());
        assert!(jwt.verify(&token(file_secret)).is_ok());
        // A short one is refused without being quoted; no JWT setting, no verifier.
        let (_dir2, short) = file("jwt_secret = \"too-short-secret\"\n");
        let e = Layer {
            config: Some(short),
            ..Default::default()
        }
        .resolve(Tokens::default())
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("32 bytes") && !e.contains("too-short-secret"),
            "{e}"
        );
        let s = Layer::default().resolve(Tokens::default()).unwrap();
        assert!(s.forward.identity.jwt.is_none());
    }
}
