//! One set of settings for every command: the same names as flags, `TOLLGATE_*` environment
//! variables and keys of an optional TOML file, layered flag > env > file > embedded default,
//! and resolved into one [`Settings`] that `serve`, `check` and `import` all read, so `check`
//! answers what the daemon answers.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::engine::{EngineSettings, DEFAULT_CACHE_BYTES};
use crate::error::{Error, Result};
use crate::model::ModelPaths;

/// Where the model comes from; each part defaults to the embedded one.
#[derive(Debug, Clone, Default, Args)]
pub struct ModelArgs {
    /// Directory of `*.cedar` policy files [default: embedded policies].
    #[arg(long, env = "TOLLGATE_POLICIES", value_name = "DIR")]
    pub policies: Option<PathBuf>,
    /// Cedar schema file [default: embedded schema].
    #[arg(long, env = "TOLLGATE_SCHEMA", value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// Plan catalog TOML [default: embedded catalog].
    #[arg(long, env = "TOLLGATE_PLANS", value_name = "FILE")]
    pub plans: Option<PathBuf>,
}

/// The settings every command that reads a store shares: `serve`, `check` and `import`.
#[derive(Debug, Clone, Default, Args)]
pub struct StoreArgs {
    /// TOML file with any of these settings (flags and env win over it).
    #[arg(long, env = "TOLLGATE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// SQLite database file, created on first start [default: ./tollgate.db].
    #[arg(long, env = "TOLLGATE_DB", value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Where the model comes from.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Upgrade URL template with `{org}` and `{plan}` [default: from the plan catalog].
    #[arg(long, env = "TOLLGATE_UPGRADE_URL", value_name = "URL")]
    pub upgrade_url: Option<String>,
    /// Days a past-due org keeps its plan [default: from the plan catalog, 7].
    #[arg(long, env = "TOLLGATE_PAST_DUE_GRACE_DAYS", value_name = "DAYS")]
    pub past_due_grace_days: Option<i64>,
}

/// Flags of `tollgate serve` (and of bare `tollgate`): the shared ones and the daemon's own.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// The settings shared with `check` and `import`.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on; port 0 picks a free port [default: 127.0.0.1:8181].
    #[arg(long, env = "TOLLGATE_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Largest decision request body in bytes [default: 65536].
    #[arg(long, env = "TOLLGATE_MAX_DECISION_BODY", value_name = "BYTES")]
    pub max_decision_body: Option<usize>,
    /// Largest data request body in bytes [default: 8388608].
    #[arg(long, env = "TOLLGATE_MAX_DATA_BODY", value_name = "BYTES")]
    pub max_data_body: Option<usize>,
    /// Most requests in one batch [default: 100].
    #[arg(long, env = "TOLLGATE_MAX_BATCH", value_name = "N")]
    pub max_batch: Option<usize>,
    /// Answer every decision from scratch, without the decision cache.
    #[arg(long, env = "TOLLGATE_NO_DECISION_CACHE")]
    pub no_decision_cache: bool,
    /// Bytes the caches (decisions, slices, org states) may hold together [default: 33554432].
    #[arg(long, env = "TOLLGATE_CACHE_BYTES", value_name = "BYTES")]
    pub cache_bytes: Option<usize>,
    /// HTTP worker threads [default: number of CPUs].
    #[arg(long, env = "TOLLGATE_WORKERS", value_name = "N")]
    pub workers: Option<usize>,
}

/// The config file: every setting, by the same names as the flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    db: Option<PathBuf>,
    policies: Option<PathBuf>,
    schema: Option<PathBuf>,
    plans: Option<PathBuf>,
    admin_token: Option<String>,
    decision_token: Option<String>,
    upgrade_url: Option<String>,
    past_due_grace_days: Option<i64>,
    max_decision_body: Option<usize>,
    max_data_body: Option<usize>,
    max_batch: Option<usize>,
    workers: Option<usize>,
    no_decision_cache: Option<bool>,
    cache_bytes: Option<usize>,
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
}

impl Tokens {
    /// The tokens set in this process's environment.
    pub fn from_env() -> Tokens {
        Tokens {
            admin: std::env::var("TOLLGATE_ADMIN_TOKEN").ok(),
            decision: std::env::var("TOLLGATE_DECISION_TOKEN").ok(),
        }
    }
}

impl ModelArgs {
    /// Which files the model comes from, in one line: a command run without flags uses the
    /// model built into the binary, not the files an admin just edited, and must say so.
    pub fn describe(&self) -> String {
        let part = |p: &Option<PathBuf>, what: &str| match p {
            Some(p) => p.display().to_string(),
            None => format!("embedded {what}"),
        };
        let line = format!(
            "model: {}, {}, {}",
            part(&self.policies, "policies"),
            part(&self.schema, "schema"),
            part(&self.plans, "plan catalog")
        );
        if self.policies.is_none() && self.schema.is_none() && self.plans.is_none() {
            line + " (pass --policies/--schema/--plans or TOLLGATE_* to use your files)"
        } else {
            line
        }
    }

    /// The paths as the model reads them.
    pub fn paths(&self) -> ModelPaths {
        ModelPaths {
            policies: self.policies.clone(),
            schema: self.schema.clone(),
            plans: self.plans.clone(),
        }
    }
}

impl StoreArgs {
    /// Resolves the shared settings (the daemon's own at their defaults).
    pub fn resolve(self, tokens: Tokens) -> Result<Settings> {
        ServeArgs {
            store: self,
            ..ServeArgs::default()
        }
        .resolve(tokens)
    }
}

impl ServeArgs {
    /// Resolves flags and env over the config file over defaults, and checks the result.
    pub fn resolve(self, tokens: Tokens) -> Result<Settings> {
        let s = self.store;
        let file = match &s.config {
            Some(p) => read_config(p)?,
            None => FileConfig::default(),
        };
        let secret = |s: Option<String>| s.filter(|t| !t.is_empty()).map(SecretString::from);
        let listen = match self.listen.or(file.listen) {
            Some(a) => a,
            None => DEFAULT_LISTEN
                .parse()
                .map_err(|e| Error::Config(format!("default listen address: {e}")))?,
        };
        let settings = Settings {
            listen,
            db: s
                .db
                .or(file.db)
                .unwrap_or_else(|| PathBuf::from("tollgate.db")),
            model: ModelPaths {
                policies: s.model.policies.or(file.policies),
                schema: s.model.schema.or(file.schema),
                plans: s.model.plans.or(file.plans),
            },
            admin_token: secret(tokens.admin).or(secret(file.admin_token)),
            decision_token: secret(tokens.decision).or(secret(file.decision_token)),
            max_decision_body: self
                .max_decision_body
                .or(file.max_decision_body)
                .unwrap_or(64 * 1024),
            max_data_body: self
                .max_data_body
                .or(file.max_data_body)
                .unwrap_or(8 * 1024 * 1024),
            max_batch: self.max_batch.or(file.max_batch).unwrap_or(100),
            workers: self.workers.or(file.workers).unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2)
            }),
            engine: EngineSettings {
                upgrade_url: s.upgrade_url.or(file.upgrade_url),
                past_due_grace_days: s.past_due_grace_days.or(file.past_due_grace_days),
                no_decision_cache: self.no_decision_cache
                    || file.no_decision_cache.unwrap_or(false),
                cache_bytes: self
                    .cache_bytes
                    .or(file.cache_bytes)
                    .unwrap_or(DEFAULT_CACHE_BYTES),
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

fn read_config(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("cannot read config `{}`", path.display()), e))?;
    toml::from_str(&text).map_err(|e| Error::Config(format!("`{}`: {e}", path.display())))
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
        let args = ServeArgs {
            store: StoreArgs {
                config: Some(cfg),
                db: Some("y.db".into()),
                ..Default::default()
            },
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
        let store = StoreArgs {
            config: Some(cfg.clone()),
            ..Default::default()
        };
        let s = store.resolve(Tokens::default()).unwrap();
        assert_eq!(s.db, PathBuf::from("x.db"));
        assert_eq!(s.engine.upgrade_url.as_deref(), Some("https://u/{org}"));
        assert_eq!(s.engine.past_due_grace_days, Some(2));
    }

    #[test]
    fn unknown_config_keys_are_refused() {
        let (_dir, cfg) = file("lisen = \"127.0.0.1:1\"\n");
        let args = StoreArgs {
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
        };
        assert!(StoreArgs::default().resolve(tokens).is_err());
        let tokens = Tokens {
            admin: Some("0123456789abcdef-secret".into()),
            decision: None,
        };
        let s = StoreArgs::default().resolve(tokens).unwrap();
        assert!(!format!("{s:?}").contains("secret"));
    }
}
