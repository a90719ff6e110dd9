//! Start-up as a value of its own: [`Application::build`] loads the model, fetches a JWKS URL
//! (and starts its refresh), opens the store, builds the engine, starts the file watcher and
//! binds the HTTP server; `run_until_stopped`
//! serves until a signal (SIGHUP reloads the model). `serve` and in-process tests both start
//! the daemon through it.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::dev::Server;
use secrecy::SecretString;

use crate::config::Settings;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::http::AppState;
use crate::model::{Model, ModelPaths, ModelSources};
use crate::store::Store;

/// A built, bound daemon: the address it got and the server to run.
pub struct Application {
    addr: SocketAddr,
    server: Server,
    /// Where the generated admin token was written, when one was generated.
    pub token_file: Option<PathBuf>,
    engine: Arc<Engine>,
    model_paths: ModelPaths,
    _watch: Option<crate::watch::Watch>,
    /// Keeps a JWKS URL's refresh thread running.
    _jwks: Option<crate::forward::Refresher>,
}

impl Application {
    /// Opens the store, loads the model, binds the listener. Fails fast on any bad setting.
    pub fn build(settings: Settings) -> Result<Application> {
        let sources = ModelSources::read(&settings.model)?;
        let model = Model::build(&sources)?;
        for w in &model.warnings {
            tracing::warn!(warning = %w, "model warning");
        }
        tracing::info!(version = %model.version, summary = %model.summary(), "policies loaded");
        settings.stripe.prices.check(&model.catalog)?;
        for (key, _) in settings.stripe.prices.plans() {
            if !["price_", "plan_", "lookup:"]
                .iter()
                .any(|p| key.starts_with(p))
            {
                tracing::warn!(
                    key,
                    "TOLLGATE_STRIPE_PRICES: this key is neither a price id (`price_...`) nor a \
                     lookup key (`lookup:...`), so no event will match it"
                );
            }
        }
        if settings.stripe.secrets.is_empty() {
            tracing::info!(
                "stripe webhook: no STRIPE_WEBHOOK_SECRET; /webhooks/stripe answers 503"
            );
        }
        // A JWKS URL is fetched here, not when settings resolve, so `validate` and `check`
        // never reach the network; a daemon that cannot get its keys does not start.
        let jwks = match &settings.forward.identity.jwt {
            Some(v) => {
                // Names the key sources and checks, never key material.
                tracing::info!(verifier = ?v, "forward auth: identities from bearer JWTs");
                v.start()?
            }
            None => None,
        };
        let store = Store::open(&settings.db)?;
        store.spawn_health_monitor(std::time::Duration::from_millis(200));
        let (admin_token, token_file) = match settings.admin_token.clone() {
            Some(t) => (t, None),
            None => {
                let (t, path) = admin_token_file(&settings.db)?;
                (SecretString::from(t), Some(path))
            }
        };
        let engine = Arc::new(Engine::new(model, store, settings.engine.clone()));
        let watch = crate::watch::watch(engine.clone(), settings.model.clone())?;
        let state = AppState {
            engine: engine.clone(),
            model_paths: settings.model.clone(),
            admin_token,
            decision_token: settings.decision_token.clone(),
            max_decision_body: settings.max_decision_body,
            max_data_body: settings.max_data_body,
            max_batch: settings.max_batch,
            forward: settings.forward.clone(),
            stripe: Arc::new(crate::http::StripeState::new(settings.stripe.clone())),
        };
        let listener = TcpListener::bind(settings.listen)
            .map_err(|e| Error::io(format!("cannot listen on {}", settings.listen), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("cannot read the bound address", e))?;
        let server = crate::http::server(state, listener, settings.workers)?;
        Ok(Application {
            addr,
            server,
            token_file,
            engine,
            model_paths: settings.model,
            _watch: watch,
            _jwks: jwks,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle that stops the server (what an embedding program, or a test, stops it with).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped through [`Application::handle`]; no signal handling
    /// (the embedding program owns its signals).
    pub async fn run(self) -> Result<()> {
        let _watch = self._watch;
        let _jwks = self._jwks;
        self.server.await.map_err(|e| Error::io("server failed", e))
    }

    /// Prints where the daemon listens (and its generated token file), then serves.
    pub async fn serve(self) -> Result<()> {
        if let Some(p) = &self.token_file {
            println!("admin token file: {}", p.display());
        }
        println!("listening on http://{}", self.addr());
        let _ = std::io::stdout().flush();
        tracing::info!(addr = %self.addr(), "listening");
        self.run_until_stopped().await
    }

    /// Serves until SIGINT or SIGTERM, then drains gracefully. SIGHUP reloads the model.
    pub async fn run_until_stopped(self) -> Result<()> {
        #[cfg(unix)]
        {
            let engine = self.engine.clone();
            let paths = self.model_paths.clone();
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
                Ok(mut hup) => {
                    tokio::spawn(async move {
                        while hup.recv().await.is_some() {
                            let (engine, paths) = (engine.clone(), paths.clone());
                            tracing::info!("SIGHUP: reloading policies");
                            let _ =
                                tokio::task::spawn_blocking(move || engine.reload(&paths, false))
                                    .await;
                        }
                    });
                }
                Err(e) => tracing::error!(error = %e, "cannot watch SIGHUP"),
            }
        }
        let _watch = self._watch;
        let _jwks = self._jwks;
        let handle = self.server.handle();
        let server = self.server;
        let stop = async move {
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(unix)]
            {
                let mut term =
                    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    {
                        Ok(t) => t,
                        Err(e) => {
                            tracing::error!(error = %e, "cannot watch SIGTERM");
                            let _ = ctrl_c.await;
                            return;
                        }
                    };
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            #[cfg(not(unix))]
            {
                let _ = ctrl_c.await;
            }
        };
        tokio::select! {
            r = server => r.map_err(|e| Error::io("server failed", e)),
            _ = stop => {
                tracing::info!("stopping");
                handle.stop(true).await;
                Ok(())
            }
        }
    }
}

/// Path of the generated admin token file for a database path: `<db stem>.admin-token`
/// beside it.
fn token_path(db: &Path) -> PathBuf {
    let stem = db
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tollgate".into());
    db.with_file_name(format!("{stem}.admin-token"))
}

/// Reads the generated admin token, creating it (mode 0600) on first start. A token file that
/// others can read is refused: the token would no longer be a secret.
fn admin_token_file(db: &Path) -> Result<(String, PathBuf)> {
    // An absolute path, so the printed location is right whatever the reader's directory.
    let path = token_path(&std::path::absolute(db).unwrap_or_else(|_| db.to_path_buf()));
    if let Ok(meta) = std::fs::metadata(&path) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(Error::Config(format!(
                    "the admin token file `{}` is readable by others; `chmod 600` it or remove it",
                    path.display()
                )));
            }
        }
        let t = std::fs::read_to_string(&path)
            .map_err(|e| Error::io(format!("cannot read `{}`", path.display()), e))?;
        let t = t.trim().to_string();
        if t.len() >= 16 {
            return Ok((t, path));
        }
        let _ = meta;
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Internal(format!("no randomness for the admin token: {e}")))?;
    let token = hex::encode(bytes);
    // Write beside, then rename: a crash never leaves a half-written token file.
    let tmp = path.with_extension("admin-token.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let write = |tmp: &Path| -> std::io::Result<()> {
        let mut f = opts.open(tmp)?;
        f.write_all(token.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(tmp, &path)
    };
    write(&tmp).map_err(|e| {
        Error::io(
            format!("cannot write the admin token file `{}`", path.display()),
            e,
        )
    })?;
    Ok((token, path))
}
