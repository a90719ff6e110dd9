//! The `/v1` API: decisions (decision token) and the data API (admin token), one file per
//! resource, and the helpers they share. Every data write runs in one SQLite transaction on
//! the blocking pool and is answered only after it committed.

pub(super) mod decisions;
pub(super) mod entities;
pub(super) mod invitations;
pub(super) mod members;
pub(super) mod orgs;
pub(super) mod reservations;
pub(super) mod roles;
pub(super) mod workspaces;

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

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

// The path parameters of each route, as actix extracts them and the OpenAPI document lists
// them. An id is one path segment, never empty (an empty one reaches no route: 404).

/// `/v1/orgs/{org}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(in crate::http) struct OrgPath {
    /// Org id.
    #[param(min_length = 1)]
    pub org: String,
}

/// `/v1/orgs/{org}/members/{user}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(in crate::http) struct MemberPath {
    /// Org id.
    #[param(min_length = 1)]
    pub org: String,
    /// User id.
    #[param(min_length = 1)]
    pub user: String,
}

/// `/v1/orgs/{org}/invitations/{id}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(in crate::http) struct InvitationPath {
    /// Org id.
    #[param(min_length = 1)]
    pub org: String,
    /// Invitation id.
    #[param(min_length = 1)]
    pub id: String,
}

/// `/v1/orgs/{org}/workspaces/{ws}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(in crate::http) struct WorkspacePath {
    /// Org id.
    #[param(min_length = 1)]
    pub org: String,
    /// Workspace id (global across orgs).
    #[param(min_length = 1)]
    pub ws: String,
}

/// `/v1/orgs/{org}/workspaces/{ws}/members/{user}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(in crate::http) struct WorkspaceMemberPath {
    /// Org id.
    #[param(min_length = 1)]
    pub org: String,
    /// Workspace id (global across orgs).
    #[param(min_length = 1)]
    pub ws: String,
    /// User id.
    #[param(min_length = 1)]
    pub user: String,
}

/// `/v1/orgs/{org}/roles/{name}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(in crate::http) struct RolePath {
    /// Org id.
    #[param(min_length = 1)]
    pub org: String,
    /// Custom role name.
    #[param(min_length = 1)]
    pub name: String,
}

/// `/v1/orgs/{org}/usage/{rt}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(in crate::http) struct UsagePath {
    /// Org id.
    #[param(min_length = 1)]
    pub org: String,
    /// Resource type, e.g. `quota:project`.
    #[param(pattern = "^[a-z]+:[a-z][a-z0-9_]*$", example = "quota:project")]
    pub rt: String,
}

/// `/v1/entities/{etype}/{eid}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(in crate::http) struct EntityPath {
    /// Entity type name, e.g. `User` or `NS::Doc`.
    #[param(min_length = 1, example = "User")]
    pub etype: String,
    /// Entity id: the rest of the path, which may be empty or contain `/`.
    #[param(example = "alice")]
    pub eid: String,
}

/// A PUT's answer: 201 when it created the thing, 200 when it replaced it.
pub(super) fn created_or_ok(created: bool, body: impl serde::Serialize) -> HttpResponse {
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
