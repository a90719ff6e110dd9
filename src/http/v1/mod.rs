//! The `/v1` API: decisions (decision token) and the data API (admin token), one file per
//! resource, and the helpers they share. Every data write runs in one SQLite transaction on
//! the blocking pool and is answered only after it committed.

pub(super) mod decisions;
pub(super) mod entities;
pub(super) mod invitations;
pub(super) mod members;
pub(super) mod orgs;
pub(super) mod roles;
pub(super) mod workspaces;

use actix_web::{web, HttpResponse};
use serde_json::Value;

use super::error::HttpResult as Result;
use super::AppState;
use crate::error::{Code, Error};
use crate::org::Limits;
use crate::store::now_unix;

/// Runs a store write on the blocking pool with the model's org context.
pub(in crate::http) async fn write<T, F>(state: &web::Data<AppState>, f: F) -> Result<T>
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

/// A PUT's answer: 201 when it created the thing, 200 when it replaced it.
pub(super) fn created_or_ok(created: bool, body: Value) -> HttpResponse {
    if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    }
}

/// A DELETE's answer: runs the removal as a write, then 204.
pub(super) async fn deleted<F>(state: &web::Data<AppState>, f: F) -> Result<HttpResponse>
where
    F: FnOnce(&crate::store::Writer<'_>, crate::org::OrgCtx<'_>) -> crate::error::Result<()>
        + Send
        + 'static,
{
    write(state, f).await?;
    Ok(HttpResponse::NoContent().finish())
}
