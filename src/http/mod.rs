//! The HTTP face of Tollgate: the only module that knows actix-web and the wire format.

mod data;
mod decisions;
mod error;
mod ops;
mod wire;

pub use wire::{decision_input, decision_json, outcome_name};

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::{Server, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{Secret, Settings};
use crate::engine::{Engine, EngineSettings, Model, ModelPaths, ModelSources};
use crate::error::{Error, Result};
use crate::store::Store;

/// Shared state of every worker: built once, cloned as `Arc`s.
pub struct AppState {
    /// Engine (model + store).
    pub engine: Arc<Engine>,
    /// Where the model was read from (for reloads).
    pub model_paths: ModelPaths,
    admin_token: Secret,
    decision_token: Option<Secret>,
    /// Body limit for decision endpoints.
    pub max_decision_body: usize,
    /// Body limit for data endpoints.
    pub max_data_body: usize,
    /// Batch size limit.
    pub max_batch: usize,
}

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
    /// Requires the admin token.
    pub fn require_admin(&self, req: &HttpRequest) -> Result<()> {
        match bearer(req) {
            Some(t) if token_matches(t, self.admin_token.expose()) => Ok(()),
            Some(_) => Err(Error::Unauthorized("the bearer token is not valid".into())),
            None => Err(Error::Unauthorized(
                "this endpoint needs `Authorization: Bearer <admin token>`".into(),
            )),
        }
    }

    /// Requires the decision token when one is set (the admin token also works); without one,
    /// only loopback peers may ask.
    pub fn require_decision(&self, req: &HttpRequest) -> Result<()> {
        match &self.decision_token {
            Some(expected) => match bearer(req) {
                Some(t)
                    if token_matches(t, expected.expose())
                        || token_matches(t, self.admin_token.expose()) =>
                {
                    Ok(())
                }
                Some(_) => Err(Error::Unauthorized("the bearer token is not valid".into())),
                None => Err(Error::Unauthorized(
                    "decisions need `Authorization: Bearer <decision token>`".into(),
                )),
            },
            None => {
                let loopback = req.peer_addr().is_some_and(|a| is_loopback(a.ip()));
                if loopback {
                    Ok(())
                } else {
                    Err(Error::Unauthorized(
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

/// Reads the raw body up to `limit` bytes (413 past it).
pub(crate) async fn read_bytes(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::BytesMut> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(Error::PayloadTooLarge { limit });
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            Error::malformed("BODY_READ_FAILED", format!("cannot read the body: {e}"))
        })?;
        if body.len() + chunk.len() > limit {
            return Err(Error::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

pub(crate) fn parse_json(req: &HttpRequest, body: &[u8]) -> Result<serde_json::Value> {
    require_json(req)?;
    crate::strict_json::parse(body)
}

/// 415 unless the request says `application/json`.
pub(crate) fn require_json(req: &HttpRequest) -> Result<()> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        return Err(Error::UnsupportedMediaType);
    }
    Ok(())
}

/// Reads a JSON body up to `limit` bytes: 415 for another content type, 413 past the limit.
pub async fn read_json(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<serde_json::Value> {
    let body = read_bytes(req, payload, limit).await?;
    parse_json(req, &body)
}

/// Like [`read_json`], but an empty body is `None`.
pub async fn read_optional_json(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Option<serde_json::Value>> {
    let body = read_bytes(req, payload, limit).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    parse_json(req, &body).map(Some)
}

/// Turns any error response without a JSON body (actix's own 404, 405, ...) into
/// `{code, message}`, so a client never sees HTML or an empty body.
fn json_errors<B: actix_web::body::MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .response()
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let code = match status.as_u16() {
        404 => "NOT_FOUND",
        405 => "METHOD_NOT_ALLOWED",
        413 => "PAYLOAD_TOO_LARGE",
        400 => "BAD_REQUEST",
        _ if status.is_server_error() => "INTERNAL",
        _ => "ERROR",
    };
    let body = serde_json::json!({
        "code": code,
        "message": status.canonical_reason().unwrap_or("error").to_lowercase(),
    })
    .to_string();
    let (req, mut res) = res.into_parts();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let res = res.set_body(body).map_into_boxed_body();
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, res).map_into_right_body(),
    ))
}

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    decisions::routes(cfg);
    data::routes(cfg);
    ops::routes(cfg);
}

async fn not_found() -> Result<HttpResponse> {
    Err(Error::NotFound("no such endpoint".into()))
}

/// A built, bound daemon: the address it got and the server to run.
pub struct Application {
    addr: SocketAddr,
    server: Server,
    /// Where the generated admin token was written, when one was generated.
    pub token_file: Option<std::path::PathBuf>,
    state: web::Data<AppState>,
    _watch: Option<crate::engine::watch::Watch>,
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
        let store = Store::open(&settings.db)?;
        store.spawn_health_monitor(std::time::Duration::from_millis(200));
        let (admin_token, token_file) = match settings.admin_token.clone() {
            Some(t) => (t, None),
            None => {
                let (t, path) = crate::cli::admin_token_file(&settings.db)?;
                (Secret(t), Some(path))
            }
        };
        let engine = Arc::new(Engine::new(
            model,
            store,
            EngineSettings {
                upgrade_url: settings.upgrade_url.clone(),
                past_due_grace_days: settings.past_due_grace_days,
                no_decision_cache: settings.no_decision_cache,
                cache_bytes: settings.cache_bytes,
            },
        ));
        let watch = crate::engine::watch::watch(engine.clone(), settings.model.clone())?;
        let state = web::Data::new(AppState {
            engine,
            model_paths: settings.model.clone(),
            admin_token,
            decision_token: settings.decision_token.clone(),
            max_decision_body: settings.max_decision_body,
            max_data_body: settings.max_data_body,
            max_batch: settings.max_batch,
        });
        let listener = TcpListener::bind(settings.listen)
            .map_err(|e| Error::io(format!("cannot listen on {}", settings.listen), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("cannot read the bound address", e))?;
        let data = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .wrap(actix_web::middleware::from_fn(utf8_paths))
                .wrap(ErrorHandlers::new().default_handler(json_errors))
                .configure(routes)
                .default_service(web::to(not_found))
        })
        .workers(settings.workers)
        .disable_signals()
        .listen(listener)
        .map_err(|e| Error::io("cannot start the HTTP server", e))?
        .run();
        Ok(Application {
            addr,
            server,
            token_file,
            state,
            _watch: watch,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Shared state (for reloads from signals).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until SIGINT or SIGTERM, then drains gracefully. SIGHUP reloads the model.
    pub async fn run_until_stopped(self) -> Result<()> {
        #[cfg(unix)]
        {
            let state = self.state.clone();
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
                Ok(mut hup) => {
                    tokio::spawn(async move {
                        while hup.recv().await.is_some() {
                            let engine = state.engine.clone();
                            let paths = state.model_paths.clone();
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

/// Refuses a path whose percent-escapes do not decode to UTF-8 (`/v1/orgs/%FF`): the router
/// would decode it lossily, and a write would then file data under an id nobody sent.
async fn utf8_paths(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> std::result::Result<
    actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
    actix_web::Error,
> {
    if !decodes_to_utf8(req.path()) {
        return Err(Error::malformed(
            "MALFORMED_PATH",
            "the path's percent-escapes do not decode to UTF-8",
        )
        .into());
    }
    next.call(req).await
}

/// Whether the percent-decoding of `path` is UTF-8 (a `%` not followed by two hex digits is
/// kept as it is, as the router keeps it).
fn decodes_to_utf8(path: &str) -> bool {
    if !path.contains('%') {
        return true;
    }
    let b = path.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    std::str::from_utf8(&out).is_ok()
}

#[cfg(test)]
mod tests {
    use super::{decodes_to_utf8, is_loopback};

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

    #[test]
    fn percent_escapes_must_decode_to_utf8() {
        assert!(decodes_to_utf8("/v1/orgs/acme"));
        assert!(decodes_to_utf8("/v1/orgs/%C3%A9cole"), "é");
        assert!(decodes_to_utf8("/v1/orgs/100%"), "a stray % is kept");
        assert!(!decodes_to_utf8("/v1/orgs/%FF"));
        assert!(!decodes_to_utf8("/v1/orgs/%C3"), "a truncated sequence");
    }
}
