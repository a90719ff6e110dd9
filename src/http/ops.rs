//! Operations endpoints: liveness, readiness, the loaded policy set, the OpenAPI document.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::HttpResult as Result;
use super::extract::Admin;
use super::openapi as doc;
use super::AppState;
use crate::error::Code;

/// The answer of `/healthz`.
#[derive(Serialize, ToSchema)]
#[schema(as = Health)]
pub(super) struct Health {
    /// Always `ok`.
    #[schema(schema_with = ok)]
    status: &'static str,
}

fn ok() -> utoipa::openapi::Object {
    constant("ok")
}

fn ready() -> utoipa::openapi::Object {
    constant("ready")
}

fn constant(value: &str) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some([value]))
        .build()
}

/// Liveness.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "Operations",
    operation_id = "healthz",
    summary = "Liveness",
    security(()),
    responses(
        (status = 200, description = "Process up.", body = Health),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 500, response = doc::Internal),
    )
)]
pub(super) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The answer of `/readyz`.
#[derive(Serialize, ToSchema)]
#[schema(as = Ready)]
pub(super) struct Ready {
    /// Always `ready`.
    #[schema(schema_with = ready)]
    status: &'static str,
    /// Policy set version hash.
    policies: String,
}

/// Readiness: policies loaded and the store writable.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "Operations",
    operation_id = "readyz",
    summary = "Readiness (store writable)",
    security(()),
    responses(
        (status = 200, description = "Ready.", body = Ready),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::Unavailable),
    )
)]
pub(super) async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse> {
    let engine = state.engine.clone();
    let store_ok = web::block(move || engine.store().ping())
        .await
        .unwrap_or(false);
    if !store_ok {
        return Err(crate::error::Error::StoreUnavailable(format!(
            "the store is not writable: {}",
            state.engine.store().health_reason()
        ))
        .into());
    }
    Ok(HttpResponse::Ok().json(Ready {
        status: "ready",
        policies: state.engine.model().version.clone(),
    }))
}

/// The loaded policy set.
#[derive(Serialize, ToSchema)]
#[schema(as = Policies)]
pub(super) struct Policies {
    /// Version hash of the set.
    version: String,
    /// The files it was read from.
    files: Vec<String>,
    /// Every policy id, sorted.
    policy_ids: Vec<String>,
    /// Every policy with where it is.
    policies: Vec<PolicyAt>,
    /// The catalog's tiers, in order.
    tiers: Vec<String>,
    /// Why the last reload failed; null when it did not.
    #[schema(required = true)]
    last_reload_error: Option<String>,
    /// Unix seconds of the last reload attempt.
    #[schema(required = true)]
    last_reload_at: Option<i64>,
    /// Successful reloads since start.
    reloads: u64,
    /// Reload attempts since start (file events, SIGHUP, the admin endpoint), changed or not;
    /// `reloads` counts the ones that swapped a changed set in.
    reload_checks: u64,
    /// Model warnings (e.g. catalog entries no policy names).
    warnings: Vec<String>,
}

/// A policy and its place.
#[derive(Serialize, ToSchema)]
#[schema(as = PolicyAt)]
pub(super) struct PolicyAt {
    /// `@id`, else `file:index`.
    id: String,
    /// File name.
    file: String,
    /// 1-based line of the policy's first character.
    line: usize,
}

/// The loaded policy set (admin).
#[utoipa::path(
    get,
    path = "/v1/policies",
    tag = "Operations",
    operation_id = "policies",
    summary = "Loaded policy set",
    security(("adminToken" = [])),
    responses(
        (status = 200, description = "Policy set.", body = Policies),
        (status = 401, response = doc::Unauthorized),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 500, response = doc::Internal),
    )
)]
pub(super) async fn policies(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse> {
    let model = state.engine.model();
    let status = state.engine.reload_status();
    let mut ids: Vec<String> = model.origins.keys().cloned().collect();
    ids.sort();
    let policies = ids
        .iter()
        .filter_map(|id| {
            model.origins.get(id).map(|o| PolicyAt {
                id: id.clone(),
                file: o.file.clone(),
                line: o.line,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(Policies {
        version: model.version.clone(),
        files: model.files.clone(),
        policy_ids: ids,
        policies,
        tiers: model
            .catalog
            .tiers()
            .iter()
            .map(|t| t.name.clone())
            .collect(),
        last_reload_error: status.last_error,
        last_reload_at: status.last_attempt,
        reloads: status.reloads,
        reload_checks: status.checks,
        warnings: model.warnings.clone(),
    }))
}

/// The answer of a reload.
#[derive(Serialize, ToSchema)]
#[schema(as = Reloaded)]
pub(super) struct Reloaded {
    /// Version hash of the set now serving.
    version: String,
    /// Its policies, entity types, actions and tiers, counted.
    summary: String,
    /// Whether the files had changed and the new set was swapped in.
    changed: bool,
}

/// Reloads the model from its files (`"changed": false` when they are as loaded); a set that
/// fails validation, or that drops or changes a forbid of the running set, is refused (422)
/// and the last good one keeps serving. `?force=true` accepts such a change (never an
/// invalid set).
#[utoipa::path(
    post,
    path = "/v1/admin/reload",
    tag = "Operations",
    operation_id = "reload",
    summary = "Reload policies, schema and plan catalog from their files",
    description = "Rereads the files; when their content is as loaded, nothing is swapped and \
                   no cache is flushed (`changed: false`). A changed set is validated whole and \
                   swapped atomically; a set that fails is refused (422 RELOAD_REJECTED) and the \
                   last good one keeps serving. A valid set that drops or changes a `forbid` of \
                   the running set (matched by `@id`, else by its text) is refused the same way \
                   unless `force=true`, naming each one: a half-saved or deleted file never \
                   opens access. A set whose only differences are in permits always loads. \
                   SIGHUP and a change to the watched files do the same, never forced.",
    security(("adminToken" = [])),
    params(
        ("force" = Option<bool>, Query,
         description = "Accept a set that drops or changes a forbid of the running set \
                        (`true`/`1`, or `false`/`0`, the default); any other parameter or \
                        value is a 400 MALFORMED_QUERY."),
    ),
    responses(
        (status = 200, description = "Reloaded (or unchanged).", body = Reloaded),
        (status = 400, description = "MALFORMED_QUERY: a query parameter other than `force`, \
                                      or a value other than true, false, 1 or 0.",
         body = super::wire::schema::ErrorBody),
        (status = 401, response = doc::Unauthorized),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 422, description = "RELOAD_REJECTED: the files do not form a valid model, or \
                                      would drop or change a forbid without `force=true`; \
                                      nothing changed.",
         body = super::wire::schema::ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::Unavailable),
    )
)]
pub(super) async fn reload(
    _: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let query =
        web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
            .map_err(|e| {
                crate::error::Error::new(Code::MalformedQuery, format!("query string: {e}"))
            })?;
    let mut force = false;
    for (k, v) in query.iter() {
        match (k.as_str(), v.as_str()) {
            ("force", "true" | "1") => force = true,
            ("force", "false" | "0") => force = false,
            _ => {
                return Err(crate::error::Error::new(
                    Code::MalformedQuery,
                    format!(
                        "`{k}={v}` is not understood: the only parameter is `force=true|false`"
                    ),
                )
                .into())
            }
        }
    }
    let engine = state.engine.clone();
    let paths = state.model_paths.clone();
    let result = web::block(move || engine.reload(&paths, force))
        .await
        .map_err(|e| crate::error::Error::Internal(format!("blocking pool: {e}")))?;
    match result {
        Ok(r) => Ok(HttpResponse::Ok().json(Reloaded {
            version: r.model.version.clone(),
            summary: r.model.summary(),
            changed: r.changed,
        })),
        Err(crate::error::Error::PolicyLoad(msg)) => {
            Err(crate::error::Error::new(Code::ReloadRejected, msg).into())
        }
        Err(e) => Err(e.into()),
    }
}

/// This document, rendered once.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "Operations",
    operation_id = "openapi",
    summary = "This document",
    security(()),
    responses(
        (status = 200, description = "OpenAPI 3.1 document.", body = Object,
         content_type = "application/json"),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 500, response = doc::Internal),
    )
)]
pub(super) async fn openapi() -> Result<HttpResponse> {
    match &*doc::DOCUMENT {
        Ok(text) => Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body(text.as_str())),
        Err(e) => Err(crate::error::Error::Internal(format!(
            "cannot render the OpenAPI document: {e}"
        ))
        .into()),
    }
}
