//! Configuration: one set of names for flags, `TOLLGATE_*` environment variables and an
//! optional TOML file. Precedence: flag > env > file > embedded default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;

use crate::engine::ModelPaths;
use crate::error::{Error, Result};

/// Where the model comes from; each part defaults to the embedded one. Shared by `serve` and
/// the admin commands, so every command reads the same flags and variables.
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

/// Flags of `tollgate serve` (and of bare `tollgate`).
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// TOML file with any of the settings below (flags and env win over it).
    #[arg(long, env = "TOLLGATE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port [default: 127.0.0.1:8181].
    #[arg(long, env = "TOLLGATE_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
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

/// A secret string: usable, but never shown by `Debug` (settings get logged in debugging).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl Secret {
    /// The secret itself, for comparing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Resolved settings of a running daemon.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Listen address.
    pub listen: SocketAddr,
    /// Database path.
    pub db: PathBuf,
    /// Where the model is read from.
    pub model: ModelPaths,
    /// Admin token, if configured (else generated at start).
    pub admin_token: Option<Secret>,
    /// Decision token, if configured.
    pub decision_token: Option<Secret>,
    /// Upgrade URL template override.
    pub upgrade_url: Option<String>,
    /// Grace days override.
    pub past_due_grace_days: Option<i64>,
    /// Decision body limit.
    pub max_decision_body: usize,
    /// Data body limit.
    pub max_data_body: usize,
    /// Batch size limit.
    pub max_batch: usize,
    /// Worker threads.
    pub workers: usize,
    /// Decision cache off.
    pub no_decision_cache: bool,
    /// Bytes the caches may hold together.
    pub cache_bytes: usize,
}

/// The default listen address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8181";

impl ServeArgs {
    /// Resolves flags and env over the config file over defaults, and checks the result.
    pub fn resolve(self) -> Result<Settings> {
        let file = match &self.config {
            Some(p) => read_config(p)?,
            None => FileConfig::default(),
        };
        let nonempty = |s: Option<String>| s.filter(|t| !t.is_empty());
        let settings = Settings {
            listen: match self.listen.or(file.listen) {
                Some(a) => a,
                None => DEFAULT_LISTEN
                    .parse()
                    .map_err(|e| Error::Config(format!("default listen address: {e}")))?,
            },
            db: self
                .db
                .or(file.db)
                .unwrap_or_else(|| PathBuf::from("tollgate.db")),
            model: ModelPaths {
                policies: self.model.policies.or(file.policies),
                schema: self.model.schema.or(file.schema),
                plans: self.model.plans.or(file.plans),
            },
            // Tokens come from the environment or the config file, never from flags: argv is
            // visible to every local user in `ps`.
            admin_token: nonempty(std::env::var("TOLLGATE_ADMIN_TOKEN").ok())
                .or(nonempty(file.admin_token))
                .map(Secret),
            decision_token: nonempty(std::env::var("TOLLGATE_DECISION_TOKEN").ok())
                .or(nonempty(file.decision_token))
                .map(Secret),
            upgrade_url: self.upgrade_url.or(file.upgrade_url),
            past_due_grace_days: self.past_due_grace_days.or(file.past_due_grace_days),
            max_decision_body: self
                .max_decision_body
                .or(file.max_decision_body)
                .unwrap_or(64 * 1024),
            max_data_body: self
                .max_data_body
                .or(file.max_data_body)
                .unwrap_or(8 * 1024 * 1024),
            max_batch: self.max_batch.or(file.max_batch).unwrap_or(100),
            no_decision_cache: self.no_decision_cache || file.no_decision_cache.unwrap_or(false),
            cache_bytes: self
                .cache_bytes
                .or(file.cache_bytes)
                .unwrap_or(crate::engine::DEFAULT_CACHE_BYTES),
            workers: self.workers.or(file.workers).unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2)
            }),
        };
        if settings.past_due_grace_days.is_some_and(|d| d < 0) {
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
            if t.as_ref().is_some_and(|t| t.expose().len() < 16) {
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

    #[test]
    fn flags_win_over_file_and_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("t.toml");
        std::fs::write(
            &cfg,
            "listen = \"127.0.0.1:9999\"\nmax_batch = 7\ndb = \"x.db\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(cfg),
            db: Some("y.db".into()),
            ..Default::default()
        };
        let s = args.resolve().unwrap();
        assert_eq!(s.listen.port(), 9999);
        assert_eq!(s.max_batch, 7);
        assert_eq!(s.db, PathBuf::from("y.db"));
        assert_eq!(s.max_decision_body, 65536);
    }

    #[test]
    fn unknown_config_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("t.toml");
        std::fs::write(&cfg, "lisen = \"127.0.0.1:1\"\n").unwrap();
        let args = ServeArgs {
            config: Some(cfg),
            ..Default::default()
        };
        assert!(args.resolve().unwrap_err().to_string().contains("lisen"));
    }
}
