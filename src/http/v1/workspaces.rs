//! `/v1/orgs/{org}/workspaces/{ws}`: workspaces (within `quota:workspace`) and their members.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::{limits, write};
use crate::http::error::HttpResult as Result;
use crate::http::{body::read_optional_json, body::typed, AppState};

use crate::org::WorkspacePermissions;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct WorkspaceBody {
    name: Option<String>,
    #[serde(default)]
    override_limits: bool,
}

pub(in crate::http) async fn put_workspace(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    let (org, ws) = path.into_inner();
    let b: WorkspaceBody = match read_optional_json(&req, body, state.max_data_body).await? {
        Some(v) => typed(v)?,
        None => WorkspaceBody::default(),
    };
    let (o, w_id) = (org.clone(), ws.clone());
    let name = b.name.clone();
    let created = write(&state, move |w, ctx| {
        crate::org::set_workspace(w, ctx, &o, &w_id, name, limits(b.override_limits))
    })
    .await?;
    let out = json!({"org": org, "id": ws, "created": created});
    Ok(if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    }
    .json(out))
}

pub(in crate::http) async fn delete_workspace(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    let (org, ws) = path.into_inner();
    write(&state, move |w, ctx| {
        crate::org::remove_workspace(w, ctx, &org, &ws)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct WsMemberBody {
    #[serde(default = "default_ws_role")]
    role: String,
    #[serde(default)]
    permissions: WorkspacePermissions,
}

fn default_ws_role() -> String {
    "member".into()
}

pub(in crate::http) async fn put_workspace_member(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    let (org, ws, user) = path.into_inner();
    let b: WsMemberBody = match read_optional_json(&req, body, state.max_data_body).await? {
        Some(v) => typed(v)?,
        None => WsMemberBody {
            role: default_ws_role(),
            ..Default::default()
        },
    };
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
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    let (org, ws, user) = path.into_inner();
    write(&state, move |w, ctx| {
        crate::org::remove_workspace_member(w, ctx, &org, &ws, &user)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
