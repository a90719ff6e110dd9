//! `/v1/orgs/{org}/workspaces/{ws}`: workspaces (within `quota:workspace`) and their members.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::{created_or_ok, deleted, limits, write};
use crate::http::body::DataBody;
use crate::http::error::HttpResult as Result;
use crate::http::extract::{Admin, OptionalJson};
use crate::http::AppState;

use crate::org::WorkspacePermissions;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(in crate::http) struct WorkspaceBody {
    name: Option<String>,
    #[serde(default)]
    override_limits: bool,
}

impl DataBody for WorkspaceBody {}

pub(in crate::http) async fn put_workspace(
    _: Admin,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    OptionalJson(b): OptionalJson<WorkspaceBody>,
) -> Result<HttpResponse> {
    let (org, ws) = path.into_inner();
    let b = b.unwrap_or_default();
    let (o, w_id) = (org.clone(), ws.clone());
    let name = b.name.clone();
    let created = write(&state, move |w, ctx| {
        crate::org::set_workspace(w, ctx, &o, &w_id, name, limits(b.override_limits))
    })
    .await?;
    let out = json!({"org": org, "id": ws, "created": created});
    Ok(created_or_ok(created, out))
}

pub(in crate::http) async fn delete_workspace(
    _: Admin,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let (org, ws) = path.into_inner();
    deleted(&state, move |w, ctx| {
        crate::org::remove_workspace(w, ctx, &org, &ws)
    })
    .await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(in crate::http) struct WsMemberBody {
    #[serde(default = "default_ws_role")]
    role: String,
    #[serde(default)]
    permissions: WorkspacePermissions,
}

impl DataBody for WsMemberBody {
    fn nested(field: &str) -> Option<&'static [&'static str]> {
        (field == "permissions")
            .then(serde_aux::serde_introspection::serde_introspect::<WorkspacePermissions>)
    }
}

fn default_ws_role() -> String {
    "member".into()
}

pub(in crate::http) async fn put_workspace_member(
    _: Admin,
    path: web::Path<(String, String, String)>,
    state: web::Data<AppState>,
    OptionalJson(b): OptionalJson<WsMemberBody>,
) -> Result<HttpResponse> {
    let (org, ws, user) = path.into_inner();
    let b = b.unwrap_or_else(|| WsMemberBody {
        role: default_ws_role(),
        ..Default::default()
    });
    let access = b.permissions.with_role(b.role);
    let out = json!({"org": org, "workspace": ws, "user": user, "role": access.role, "permissions": {
        "can_create_agents": access.can_create_agents, "can_modify_policies": access.can_modify_policies,
        "can_invite_users": access.can_invite_users, "can_view_analytics": access.can_view_analytics}});
    write(&state, move |w, ctx| {
        crate::org::set_workspace_member(w, ctx, &org, &ws, &user, &access)
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}

pub(in crate::http) async fn delete_workspace_member(
    _: Admin,
    path: web::Path<(String, String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let (org, ws, user) = path.into_inner();
    deleted(&state, move |w, ctx| {
        crate::org::remove_workspace_member(w, ctx, &org, &ws, &user)
    })
    .await
}
