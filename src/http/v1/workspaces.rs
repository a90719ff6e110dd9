//! `/v1/orgs/{org}/workspaces/{ws}`: workspaces (within `quota:workspace`) and their members.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{created_or_ok, deleted, limits, write, WorkspaceMemberPath, WorkspacePath};
use crate::http::body::DataBody;
use crate::http::error::HttpResult as Result;
use crate::http::extract::{Admin, OptionalJson};
use crate::http::openapi as doc;
use crate::http::wire::schema::{ErrorBody, WorkspaceRole};
use crate::http::AppState;

use crate::org::WorkspacePermissions;

/// `PUT /v1/orgs/{org}/workspaces/{ws}` (the body is optional).
#[derive(Deserialize, Default, ToSchema)]
#[schema(as = WorkspaceWrite)]
#[serde(deny_unknown_fields)]
pub(in crate::http) struct WorkspaceBody {
    /// Defaults to the id (or keeps the stored name).
    #[schema(nullable = false)]
    name: Option<String>,
    /// Pass `quota:workspace`; nothing is checked.
    #[serde(default)]
    #[schema(default = false)]
    override_limits: bool,
}

impl DataBody for WorkspaceBody {}

/// The answer of a workspace write.
#[derive(Serialize, ToSchema)]
#[schema(as = WorkspaceAnswer)]
pub(in crate::http) struct WorkspaceAnswer {
    /// Org id.
    org: String,
    /// Workspace id.
    id: String,
    /// Whether it is new.
    created: bool,
}

/// Creates or renames a workspace.
#[utoipa::path(
    put,
    path = "/v1/orgs/{org}/workspaces/{ws}",
    tag = "Orgs",
    operation_id = "putWorkspace",
    summary = "Create or rename a workspace (quota:workspace enforced)",
    description = "Workspace ids are global: the uid is `Workspace::\"{ws}\"`, and the same id \
                   under another org is a 409. A new workspace past `quota:workspace` answers \
                   402 and changes nothing, unless `override_limits`.",
    security(("adminToken" = [])),
    params(WorkspacePath),
    request_body(content = Option<WorkspaceBody>, content_type = "application/json",
                 description = "Optional: no body creates (or keeps) the workspace as it is."),
    responses(
        (status = 200, description = "Updated.", body = WorkspaceAnswer),
        (status = 201, description = "Created.", body = WorkspaceAnswer),
        (status = 400, response = doc::BadBody),
        (status = 401, response = doc::Unauthorized),
        (status = 402, response = doc::PaymentRequired),
        (status = 404, response = doc::NotFound),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 409, description = "CONFLICT: the id belongs to another org.",
         body = ErrorBody),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 422, description = "UNKNOWN_FIELD, NULL_FIELD, INVALID_BODY.",
         body = ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::Unavailable),
    )
)]
pub(in crate::http) async fn put_workspace(
    _: Admin,
    path: web::Path<WorkspacePath>,
    state: web::Data<AppState>,
    OptionalJson(b): OptionalJson<WorkspaceBody>,
) -> Result<HttpResponse> {
    let WorkspacePath { org, ws } = path.into_inner();
    let b = b.unwrap_or_default();
    let (o, w_id) = (org.clone(), ws.clone());
    let name = b.name.clone();
    let created = write(&state, move |w, ctx| {
        crate::org::set_workspace(w, ctx, &o, &w_id, name, limits(b.override_limits))
    })
    .await?;
    let out = WorkspaceAnswer {
        org,
        id: ws,
        created,
    };
    Ok(created_or_ok(created, out))
}

/// Deletes a workspace.
#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/workspaces/{ws}",
    tag = "Orgs",
    operation_id = "deleteWorkspace",
    summary = "Delete a workspace",
    description = "A workspace that still holds stored entities (entities with it among their \
                   parents) cannot be deleted: its id is global, and another org creating it \
                   next would adopt them.",
    security(("adminToken" = [])),
    params(WorkspacePath),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, response = doc::BadPath),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NotFound),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 409, description = "WORKSPACE_NOT_EMPTY: the workspace still holds stored \
                                      entities; nothing changed.", body = ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::Unavailable),
    )
)]
pub(in crate::http) async fn delete_workspace(
    _: Admin,
    path: web::Path<WorkspacePath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let WorkspacePath { org, ws } = path.into_inner();
    deleted(&state, move |w, ctx| {
        crate::org::remove_workspace(w, ctx, &org, &ws)
    })
    .await
}

/// `PUT /v1/orgs/{org}/workspaces/{ws}/members/{user}` (the body is optional).
#[derive(Deserialize, Default, ToSchema)]
#[schema(as = WorkspaceMemberWrite)]
#[serde(deny_unknown_fields)]
pub(in crate::http) struct WsMemberBody {
    /// The workspace role (it matters only with the `resource_roles` feature).
    #[serde(default = "default_ws_role")]
    #[schema(value_type = WorkspaceRole, default = "member")]
    role: String,
    /// The four flags; a flag left out is false.
    #[serde(default)]
    #[schema(value_type = Flags)]
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

/// A workspace member's four permission flags.
#[derive(Serialize, ToSchema)]
#[schema(as = WorkspacePermissions)]
#[serde(deny_unknown_fields)]
pub(in crate::http) struct Flags {
    /// May create agents.
    #[serde(default)]
    #[schema(default = false)]
    can_create_agents: bool,
    /// May modify the workspace's policies.
    #[serde(default)]
    #[schema(default = false)]
    can_modify_policies: bool,
    /// May invite users to the workspace.
    #[serde(default)]
    #[schema(default = false)]
    can_invite_users: bool,
    /// May view analytics.
    #[serde(default)]
    #[schema(default = false)]
    can_view_analytics: bool,
}

/// The answer of a workspace member write.
#[derive(Serialize, ToSchema)]
#[schema(as = WorkspaceMemberAnswer)]
pub(in crate::http) struct WorkspaceMemberAnswer {
    /// Org id.
    org: String,
    /// Workspace id.
    workspace: String,
    /// User id.
    user: String,
    /// The workspace role.
    role: String,
    /// The flags, all four.
    permissions: Flags,
}

/// Grants an org member access to a workspace.
#[utoipa::path(
    put,
    path = "/v1/orgs/{org}/workspaces/{ws}/members/{user}",
    tag = "Orgs",
    operation_id = "putWorkspaceMember",
    summary = "Grant an org member access to a workspace",
    description = "The user must be an org member (422 NOT_A_MEMBER).",
    security(("adminToken" = [])),
    params(WorkspaceMemberPath),
    request_body(content = Option<WsMemberBody>, content_type = "application/json",
                 description = "Optional: no body grants role member and no flags."),
    responses(
        (status = 200, description = "Granted.", body = WorkspaceMemberAnswer),
        (status = 400, response = doc::BadBody),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NotFound),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 422, description = "NOT_A_MEMBER: the user is not an org member; \
                                      UNKNOWN_ROLE: not admin, member or viewer; UNKNOWN_FIELD, \
                                      NULL_FIELD, INVALID_BODY.", body = ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::Unavailable),
    )
)]
pub(in crate::http) async fn put_workspace_member(
    _: Admin,
    path: web::Path<WorkspaceMemberPath>,
    state: web::Data<AppState>,
    OptionalJson(b): OptionalJson<WsMemberBody>,
) -> Result<HttpResponse> {
    let WorkspaceMemberPath { org, ws, user } = path.into_inner();
    let b = b.unwrap_or_else(|| WsMemberBody {
        role: default_ws_role(),
        ..Default::default()
    });
    let access = b.permissions.with_role(b.role);
    let out = WorkspaceMemberAnswer {
        org: org.clone(),
        workspace: ws.clone(),
        user: user.clone(),
        role: access.role.clone(),
        permissions: Flags {
            can_create_agents: access.can_create_agents,
            can_modify_policies: access.can_modify_policies,
            can_invite_users: access.can_invite_users,
            can_view_analytics: access.can_view_analytics,
        },
    };
    write(&state, move |w, ctx| {
        crate::org::set_workspace_member(w, ctx, &org, &ws, &user, &access)
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Revokes workspace access.
#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/workspaces/{ws}/members/{user}",
    tag = "Orgs",
    operation_id = "deleteWorkspaceMember",
    summary = "Revoke workspace access",
    security(("adminToken" = [])),
    params(WorkspaceMemberPath),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, response = doc::BadPath),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NotFound),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::Unavailable),
    )
)]
pub(in crate::http) async fn delete_workspace_member(
    _: Admin,
    path: web::Path<WorkspaceMemberPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let WorkspaceMemberPath { org, ws, user } = path.into_inner();
    deleted(&state, move |w, ctx| {
        crate::org::remove_workspace_member(w, ctx, &org, &ws, &user)
    })
    .await
}
