//! Operations endpoints: liveness, readiness, the loaded policy set, the OpenAPI document.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::error::HttpResult as Result;
use super::extract::Admin;
use super::AppState;
use crate::error::Code;

pub(super) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

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
    Ok(HttpResponse::Ok()
        .json(json!({"status": "ready", "policies": state.engine.model().version})))
}

pub(super) async fn policies(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse> {
    let model = state.engine.model();
    let status = state.engine.reload_status();
    let mut ids: Vec<String> = model.origins.keys().cloned().collect();
    ids.sort();
    let policies: Vec<_> = ids
        .iter()
        .map(|id| {
            let o = &model.origins[id];
            json!({"id": id, "file": o.file, "line": o.line})
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "version": model.version,
        "files": model.files,
        "policy_ids": ids,
        "policies": policies,
        "tiers": model.catalog.tiers().iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
        "last_reload_error": status.last_error,
        "last_reload_at": status.last_attempt,
        "reloads": status.reloads,
        "reload_checks": status.checks,
        "warnings": model.warnings,
    })))
}

/// Reloads the model from its files (`"changed": false` when they are as loaded); a set that
/// fails validation, or that drops or changes a forbid of the running set, is refused (422)
/// and the last good one keeps serving. `?force=true` accepts such a change (never an
/// invalid set).
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
        Ok(r) => Ok(HttpResponse::Ok().json(json!({
            "version": r.model.version,
            "summary": r.model.summary(),
            "changed": r.changed,
        }))),
        Err(crate::error::Error::PolicyLoad(msg)) => {
            Err(crate::error::Error::new(Code::ReloadRejected, msg).into())
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(include_str!("openapi.json"))
}
