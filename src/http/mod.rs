//! The HTTP face of Tollgate: the only module that knows actix-web and the wire format.

mod auth;
pub(crate) mod body;
pub mod error;
pub(crate) mod extract;
mod ops;
mod v1;
pub(crate) mod wire;

pub use auth::{is_loopback, token_matches};
pub use wire::{decision_json, outcome_name};

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{web, App, HttpResponse, HttpServer};
use secrecy::SecretString;

use crate::engine::Engine;
use crate::error::{Code, Error};
use crate::model::ModelPaths;
use error::HttpResult as Result;

/// Shared state of every worker: built once, cloned as `Arc`s.
pub struct AppState {
    /// Engine (model + store).
    pub engine: Arc<Engine>,
    /// Where the model was read from (for reloads).
    pub model_paths: ModelPaths,
    /// The admin token.
    pub admin_token: SecretString,
    /// The decision token, when one is configured.
    pub decision_token: Option<SecretString>,
    /// Body limit for decision endpoints.
    pub max_decision_body: usize,
    /// Body limit for data endpoints.
    pub max_data_body: usize,
    /// Batch size limit.
    pub max_batch: usize,
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

/// The route table: every path, the methods it serves (another method answers 405 with
/// `Allow`) and the handler of each.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use v1::{decisions, entities, invitations, members, orgs, roles, workspaces};
    cfg.service(resource("/healthz", "GET").route(web::get().to(ops::healthz)))
        .service(resource("/readyz", "GET").route(web::get().to(ops::readyz)))
        .service(resource("/openapi.json", "GET").route(web::get().to(ops::openapi)))
        .service(resource("/v1/policies", "GET").route(web::get().to(ops::policies)))
        .service(resource("/v1/admin/reload", "POST").route(web::post().to(ops::reload)))
        .service(resource("/v1/authorize", "POST").route(web::post().to(decisions::authorize)))
        .service(resource("/v1/authorize/batch", "POST").route(web::post().to(decisions::batch)))
        .service(resource("/v1/permissions", "POST").route(web::post().to(decisions::permissions)))
        .service(resource("/v1/entities", "PUT").route(web::put().to(entities::put_entities)))
        .service(
            resource("/v1/entities/{etype}/{eid:.*}", "GET, DELETE")
                .route(web::get().to(entities::get_entity))
                .route(web::delete().to(entities::delete_entity)),
        )
        .service(
            resource("/v1/orgs/{org}", "GET, PUT")
                .route(web::put().to(orgs::put_org))
                .route(web::get().to(orgs::get_org)),
        )
        .service(
            resource("/v1/orgs/{org}/members/{user}", "PUT, DELETE")
                .route(web::put().to(members::put_member))
                .route(web::delete().to(members::delete_member)),
        )
        .service(
            resource("/v1/orgs/{org}/invitations/{id}", "PUT, DELETE")
                .route(web::put().to(invitations::put_invitation))
                .route(web::delete().to(invitations::delete_invitation)),
        )
        .service(
            resource("/v1/orgs/{org}/invitations/{id}/accept", "POST")
                .route(web::post().to(invitations::accept_invitation)),
        )
        .service(
            resource("/v1/orgs/{org}/workspaces/{ws}", "PUT, DELETE")
                .route(web::put().to(workspaces::put_workspace))
                .route(web::delete().to(workspaces::delete_workspace)),
        )
        .service(
            resource(
                "/v1/orgs/{org}/workspaces/{ws}/members/{user}",
                "PUT, DELETE",
            )
            .route(web::put().to(workspaces::put_workspace_member))
            .route(web::delete().to(workspaces::delete_workspace_member)),
        )
        .service(
            resource("/v1/orgs/{org}/roles/{name}", "PUT").route(web::put().to(roles::put_role)),
        )
        .service(resource("/v1/orgs/{org}/usage", "GET").route(web::get().to(orgs::get_usage)))
        .service(
            resource("/v1/orgs/{org}/usage/{rt}", "PUT").route(web::put().to(orgs::put_usage)),
        );
}

/// A route's resource: any method it does not serve answers 405 with `Allow: allow`.
fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        let mut res = HttpResponse::MethodNotAllowed();
        res.insert_header((header::ALLOW, allow));
        res.json(serde_json::json!({
            "code": Code::MethodNotAllowed.name(),
            "message": format!("this endpoint answers {allow} only"),
        }))
    }))
}

async fn not_found() -> Result<HttpResponse> {
    Err(Error::not_found("no such endpoint").into())
}

/// The HTTP server over `state`, on a bound listener, not yet running.
pub fn server(
    state: AppState,
    listener: TcpListener,
    workers: usize,
) -> crate::error::Result<Server> {
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(actix_web::middleware::from_fn(utf8_paths))
            .wrap(ErrorHandlers::new().default_handler(json_errors))
            .configure(routes)
            .default_service(web::to(not_found))
    })
    .workers(workers)
    .disable_signals()
    .listen(listener)
    .map_err(|e| crate::error::Error::io("cannot start the HTTP server", e))?
    .run();
    Ok(server)
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
    if percent_encoding::percent_decode_str(req.path())
        .decode_utf8()
        .is_err()
    {
        let e = Error::new(
            Code::MalformedPath,
            "the path's percent-escapes do not decode to UTF-8",
        );
        return Err(error::HttpError::from(e).into());
    }
    next.call(req).await
}
