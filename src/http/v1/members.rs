//! `/v1/orgs/{org}/members/{user}`: org members and their roles, within seat limits.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{created_or_ok, deleted, limits, write, MemberPath};
use crate::http::body::DataBody;
use crate::http::error::HttpResult as Result;
use crate::http::extract::{Admin, Json};
use crate::http::openapi as doc;
use crate::http::wire::schema::ErrorBody;
use crate::http::AppState;

/// `PUT /v1/orgs/{org}/members/{user}`.
#[derive(Deserialize, ToSchema)]
#[schema(as = MemberWrite)]
#[serde(deny_unknown_fields)]
pub(in crate::http) struct MemberBody {
    /// owner, admin, member, viewer, or one of the org's custom roles.
    #[schema(example = "member")]
    role: String,
    /// Pass the seat limit (an admin's correction); nothing is checked.
    #[serde(default)]
    #[schema(default = false)]
    override_limits: bool,
}

impl DataBody for MemberBody {}

/// The answer of a member write.
#[derive(Serialize, ToSchema)]
#[schema(as = MemberAnswer)]
pub(in crate::http) struct MemberAnswer {
    /// Org id.
    org: String,
    /// User id.
    user: String,
    /// The role now.
    role: String,
    /// The role before; null for a new member.
    #[schema(required = true)]
    previous_role: Option<String>,
}

/// Sets a member's role.
#[utoipa::path(
    put,
    path = "/v1/orgs/{org}/members/{user}",
    tag = "Orgs",
    operation_id = "putMember",
    summary = "Set a member's role (seat limits enforced)",
    description = "A write that would pass a seat limit answers 402 (the Payment object) and \
                   changes nothing, unless `override_limits`. 409 when changing the primary \
                   owner's role.",
    security(("adminToken" = [])),
    params(MemberPath),
    request_body(content = MemberBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Role changed.", body = MemberAnswer),
        (status = 201, description = "Member added.", body = MemberAnswer),
        (status = 400, response = doc::BadBody),
        (status = 401, response = doc::Unauthorized),
        (status = 402, response = doc::PaymentRequired),
        (status = 404, response = doc::NotFound),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 409, description = "CONFLICT: the user is the primary owner, whose role stays \
                                      owner; nothing changed.", body = ErrorBody),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 422, description = "UNKNOWN_ROLE: neither built in nor defined for the org; \
                                      UNKNOWN_FIELD, NULL_FIELD, INVALID_BODY.", body = ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::Unavailable),
    )
)]
pub(in crate::http) async fn put_member(
    _: Admin,
    path: web::Path<MemberPath>,
    state: web::Data<AppState>,
    Json(b): Json<MemberBody>,
) -> Result<HttpResponse> {
    let MemberPath { org, user } = path.into_inner();
    let (o, u, role) = (org.clone(), user.clone(), b.role.clone());
    let previous = write(&state, move |w, ctx| {
        crate::org::set_member(w, ctx, &o, &u, &role, limits(b.override_limits))
    })
    .await?;
    let created = previous.is_none();
    let out = MemberAnswer {
        org,
        user,
        role: b.role,
        previous_role: previous,
    };
    Ok(created_or_ok(created, out))
}

/// Removes a member.
#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/members/{user}",
    tag = "Orgs",
    operation_id = "deleteMember",
    summary = "Remove a member",
    security(("adminToken" = [])),
    params(MemberPath),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, response = doc::BadPath),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NotFound),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 409, description = "CONFLICT: the primary owner cannot be removed.",
         body = ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::Unavailable),
    )
)]
pub(in crate::http) async fn delete_member(
    _: Admin,
    path: web::Path<MemberPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let MemberPath { org, user } = path.into_inner();
    deleted(&state, move |w, ctx| {
        crate::org::remove_member(w, ctx, &org, &user)
    })
    .await
}
