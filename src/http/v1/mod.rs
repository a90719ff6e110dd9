//! The `/v1` API: decisions (decision token) and the data API (admin token), one file per
//! resource, and the one route table that says which methods each path serves. Every data
//! write runs in one SQLite transaction on the blocking pool and is answered only after it
//! committed.

mod decisions;
mod entities;
mod invitations;
mod members;
mod orgs;
mod roles;
mod workspaces;

use actix_web::web;

use super::error::HttpResult as Result;
use super::{resource, AppState};
use crate::error::{Code, Error};
use crate::org::Limits;
use crate::store::now_unix;

/// Every `/v1` route: path, then the methods it serves. Another method answers 405 with
/// `Allow`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/authorize", "POST").route(web::post().to(decisions::authorize)))
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

/// Runs a store write on the blocking pool with the model's org context.
pub(super) async fn write<T, F>(state: &web::Data<AppState>, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&crate::store::Writer<'_>, crate::org::OrgCtx<'_>) -> crate::error::Result<T>
        + Send
        + 'static,
{
    let engine = state.engine.clone();
    web::block(move || {
        let model = engine.model();
        let template = engine.upgrade_template(&model);
        let ctx = engine.org_ctx(&model, &template, now_unix());
        engine.store().write(|w| f(w, ctx))
    })
    .await
    .map_err(|e| Error::Internal(format!("blocking pool: {e}")))?
    .map_err(Into::into)
}

pub(super) fn parse_time(s: &str, field: &str) -> crate::error::Result<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| {
            Error::new(
                Code::InvalidTime,
                format!("`{field}` is not an RFC 3339 time: {e}"),
            )
        })
}

pub(super) fn format_time(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

pub(super) fn limits(override_limits: bool) -> Limits {
    if override_limits {
        Limits::Override
    } else {
        Limits::Enforce
    }
}
