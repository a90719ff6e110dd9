//! `/v1/orgs/{org}/roles/{name}`: an org's custom roles (the `custom_roles` plan feature).

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{write, RolePath};
use crate::http::body::DataBody;
use crate::http::error::HttpResult as Result;
use crate::http::extract::{Admin, Json};
use crate::http::openapi as doc;
use crate::http::wire::schema::ErrorBody;
use crate::http::AppState;

use crate::org::CustomRoleRow;
use crate::org::Limits;

/// `PUT /v1/orgs/{org}/roles/{name}`.
#[derive(Deserialize, ToSchema)]
#[schema(as = RoleWrite)]
#[serde(deny_unknown_fields)]
pub(in crate::http) struct RoleBody {
    /// The permissions the role grants.
    #[schema(example = json!(["invites.manage"]))]
    permissions: Vec<String>,
    /// Its rank: lower is more privileged, and a custom role ranks below owners (422
    /// INVALID_ROLE for a level at or above the owners').
    #[schema(minimum = 1, example = 30)]
    level: i64,
}

impl DataBody for RoleBody {}

/// The answer of a role write.
#[derive(Serialize, ToSchema)]
#[schema(as = RoleAnswer)]
pub(in crate::http) struct RoleAnswer {
    /// Org id.
    org: String,
    /// Role name.
    name: String,
    /// Its level.
    level: i64,
    /// Its permissions.
    permissions: Vec<String>,
}

/// Defines or replaces a custom role.
#[utoipa::path(
    put,
    path = "/v1/orgs/{org}/roles/{name}",
    tag = "Orgs",
    operation_id = "putRole",
    summary = "Define a custom role (plan feature custom_roles)",
    description = "402 FEATURE_NOT_IN_PLAN without custom_roles; 409 for a built-in role name.",
    security(("adminToken" = [])),
    params(RolePath),
    request_body(content = RoleBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Defined.", body = RoleAnswer),
        (status = 400, response = doc::BadBody),
        (status = 401, response = doc::Unauthorized),
        (status = 402, response = doc::PaymentRequired),
        (status = 404, response = doc::NotFound),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 409, description = "CONFLICT: the name is a built-in role.", body = ErrorBody),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 422, description = "INVALID_ROLE: a level below 1 or not below the owners'; \
                                      UNKNOWN_FIELD, NULL_FIELD, INVALID_BODY.", body = ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::Unavailable),
    )
)]
pub(in crate::http) async fn put_role(
    _: Admin,
    path: web::Path<RolePath>,
    state: web::Data<AppState>,
    Json(b): Json<RoleBody>,
) -> Result<HttpResponse> {
    let RolePath { org, name } = path.into_inner();
    let role = CustomRoleRow {
        name: name.clone(),
        level: b.level,
        permissions: b.permissions.clone(),
    };
    let o = org.clone();
    write(&state, move |w, ctx| {
        crate::org::set_custom_role(w, ctx, &o, role, Limits::Enforce)
    })
    .await?;
    Ok(HttpResponse::Ok().json(RoleAnswer {
        org,
        name,
        level: b.level,
        permissions: b.permissions,
    }))
}
