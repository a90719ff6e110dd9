//! The HTTP face of Tollgate: the only module that knows actix-web and the wire format.

mod auth;
pub(crate) mod body;
pub mod error;
pub(crate) mod extract;
mod forward_auth;
mod openapi;
mod ops;
mod stripe;
mod v1;
pub(crate) mod wire;

pub use auth::{is_loopback, token_matches};
pub use stripe::StripeState;
pub use wire::{decision_json, outcome_name};

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
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
    /// Forward auth: identity source and upstream headers.
    pub forward: crate::forward::ForwardSettings,
    /// The Stripe webhook's settings.
    pub stripe: Arc<StripeState>,
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
    // Every code comes from the one table, so the OpenAPI document's enum holds it.
    let code = match status.as_u16() {
        404 => Code::NotFound,
        405 => Code::MethodNotAllowed,
        413 => Code::PayloadTooLarge,
        415 => Code::UnsupportedMediaType,
        _ if status.is_client_error() => Code::BadRequest,
        _ => Code::Internal,
    };
    let body = serde_json::json!({
        "code": code.name(),
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

/// One served path: its actix pattern and the methods it serves, in the order `Allow` names
/// them.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// The actix pattern, e.g. `/v1/entities/{etype}/{eid:.*}`.
    pub path: &'static str,
    /// The methods it serves (`GET`, `PUT`, ...); any other answers 405 with `Allow`.
    pub methods: &'static [&'static str],
}

impl Route {
    /// The path as the OpenAPI document spells it: `{eid:.*}` becomes `{eid}`.
    pub fn openapi_path(&self) -> String {
        self.path
            .split('/')
            .map(|seg| match (seg.starts_with('{'), seg.find(':')) {
                (true, Some(at)) => format!("{}}}", &seg[..at]),
                _ => seg.to_string(),
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The `Allow` header of its 405s.
    pub fn allow(&self) -> String {
        self.methods.join(", ")
    }
}

/// Declares the route table once: [`ROUTES`] (every path and its methods, which the OpenAPI
/// test reads) and [`routes`] (the actix services) come from the same lines, so they cannot
/// drift apart.
macro_rules! route_table {
    ($($path:literal => { $($method:ident => $handler:path),+ $(,)? }),+ $(,)?) => {
        /// Every served path and its methods, in table order.
        pub const ROUTES: &[Route] = &[
            $(Route { path: $path, methods: &[$(stringify!($method)),+] },)+
        ];

        /// The route table: every path, the methods it serves (another method answers 405
        /// with `Allow`) and the handler of each.
        pub fn routes(cfg: &mut web::ServiceConfig) {
            use v1::{decisions, entities, invitations, members, orgs, reservations, roles, workspaces,
            };
            $(
                cfg.service(
                    resource(Route { path: $path, methods: &[$(stringify!($method)),+] })
                        $(.route(web::method(Method::$method).to($handler)))+
                );
            )+
        }
    };
}

// actix tries the resources in this order, about 200 instructions each (callgrind), and those
// with a parameter cost a regex match: the decision routes come first, since they are most of
// the traffic.
route_table! {
    "/v1/authorize" => { POST => decisions::authorize },
    "/v1/forward-auth" => {
        GET => forward_auth::forward_auth,
        HEAD => forward_auth::forward_auth,
        POST => forward_auth::forward_auth,
        PUT => forward_auth::forward_auth,
        DELETE => forward_auth::forward_auth,
        PATCH => forward_auth::forward_auth,
        OPTIONS => forward_auth::forward_auth,
    },
    "/v1/authorize/batch" => { POST => decisions::batch },
    "/v1/permissions" => { POST => decisions::permissions },
    "/healthz" => { GET => ops::healthz },
    "/readyz" => { GET => ops::readyz },
    "/openapi.json" => { GET => ops::openapi },
    "/v1/policies" => { GET => ops::policies },
    "/v1/admin/reload" => { POST => ops::reload },
    "/v1/forward-auth/{tail:.*}" => {
        GET => forward_auth::forward_auth_envoy,
        HEAD => forward_auth::forward_auth_envoy,
        POST => forward_auth::forward_auth_envoy,
        PUT => forward_auth::forward_auth_envoy,
        DELETE => forward_auth::forward_auth_envoy,
        PATCH => forward_auth::forward_auth_envoy,
        OPTIONS => forward_auth::forward_auth_envoy,
    },
    "/v1/entities" => { PUT => entities::put_entities },
    "/v1/entities/{etype}/{eid:.*}" => {
        GET => entities::get_entity,
        DELETE => entities::delete_entity,
    },
    "/v1/orgs/{org}" => { GET => orgs::get_org, PUT => orgs::put_org },
    "/v1/orgs/{org}/members/{user}" => {
        PUT => members::put_member,
        DELETE => members::delete_member,
    },
    "/v1/orgs/{org}/invitations/{id}" => {
        PUT => invitations::put_invitation,
        DELETE => invitations::delete_invitation,
    },
    "/v1/orgs/{org}/invitations/{id}/accept" => { POST => invitations::accept_invitation },
    "/v1/orgs/{org}/workspaces/{ws}" => {
        PUT => workspaces::put_workspace,
        DELETE => workspaces::delete_workspace,
    },
    "/v1/orgs/{org}/workspaces/{ws}/members/{user}" => {
        PUT => workspaces::put_workspace_member,
        DELETE => workspaces::delete_workspace_member,
    },
    "/v1/orgs/{org}/roles/{name}" => { PUT => roles::put_role },
    "/v1/orgs/{org}/usage" => { GET => orgs::get_usage },
    "/v1/orgs/{org}/usage/{rt}" => { PUT => orgs::put_usage },
    "/v1/reservations/{id}/release" => { POST => reservations::release },
    "/webhooks/stripe" => { POST => stripe::webhook },
}

/// A route's resource: any method it does not serve answers 405 with `Allow`.
fn resource(route: Route) -> actix_web::Resource {
    let allow = route.allow();
    web::resource(route.path).default_service(web::to(move || {
        let allow = allow.clone();
        async move {
            let mut res = HttpResponse::MethodNotAllowed();
            res.insert_header((header::ALLOW, allow.as_str()));
            res.json(serde_json::json!({
                "code": Code::MethodNotAllowed.name(),
                "message": format!("this endpoint answers {allow} only"),
            }))
        }
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
    // Forward auth checks the original path itself (a 400 `MALFORMED_URI` that carries
    // `X-Tollgate-Decision`).
    let forward = req.path().starts_with(forward_auth::PREFIX);
    if !forward
        && percent_encoding::percent_decode_str(req.path())
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
