//! Operations endpoints: liveness, readiness, the loaded policy set, the OpenAPI document.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::AppState;
use crate::error::Result;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/v1/policies", web::get().to(policies))
        .route("/openapi.json", web::get().to(openapi));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let engine = state.engine.clone();
    let store_ok = web::block(move || engine.store().ping())
        .await
        .unwrap_or(false);
    if store_ok {
        HttpResponse::Ok()
            .json(json!({"status": "ready", "policies": state.engine.model().version}))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({
            "code": "STORE_UNAVAILABLE",
            "message": format!("the store is not writable: {}", state.engine.store().health_reason()),
        }))
    }
}

async fn policies(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    let model = state.engine.model();
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
        "last_reload_error": null,
    })))
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(include_str!("openapi.json"))
}
