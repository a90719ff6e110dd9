//! `/v1/orgs/{org}/invitations/{id}`: pending invitations (they hold a seat) and accepting them.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{created_or_ok, deleted, format_time, limits, parse_time, write, InvitationPath};
use crate::error::{Code, Error};
use crate::http::body::DataBody;
use crate::http::error::HttpResult as Result;
use crate::http::extract::{Admin, Json};
use crate::http::openapi as doc;
use crate::http::wire::schema::ErrorBody;
use crate::http::AppState;
use crate::org::InvitationRow;

/// `PUT /v1/orgs/{org}/invitations/{id}`.
#[derive(Deserialize, ToSchema)]
#[schema(as = InvitationWrite)]
#[serde(deny_unknown_fields)]
pub(in crate::http) struct InvitationBody {
    /// Who is invited (422 INVALID_EMAIL without an `@`).
    #[schema(format = Email, example = "bob@example.com")]
    email: String,
    /// The role the membership will have.
    #[serde(default = "default_invite_role")]
    #[schema(default = "member")]
    role: String,
    /// RFC 3339; must be in the future (422 INVITATION_EXPIRED).
    #[schema(format = DateTime, example = "2030-01-01T00:00:00Z")]
    expires_at: String,
    /// Pass the seat limit; nothing is checked.
    #[serde(default)]
    #[schema(default = false)]
    override_limits: bool,
}

impl DataBody for InvitationBody {}

fn default_invite_role() -> String {
    "member".into()
}

/// The answer of an invitation write.
#[derive(Serialize, ToSchema)]
#[schema(as = InvitationAnswer)]
pub(in crate::http) struct InvitationAnswer {
    /// Org id.
    org: String,
    /// Invitation id.
    id: String,
    /// Who is invited.
    email: String,
    /// The role it grants.
    role: String,
    /// When it expires (RFC 3339, UTC).
    #[schema(format = DateTime)]
    expires_at: String,
}

/// Creates or replaces an invitation.
#[utoipa::path(
    put,
    path = "/v1/orgs/{org}/invitations/{id}",
    tag = "Orgs",
    operation_id = "putInvitation",
    summary = "Create or replace an invitation (counts toward seats)",
    description = "A pending, unexpired invitation holds a seat: a write that would pass a seat \
                   limit answers 402 and changes nothing, unless `override_limits`.",
    security(("adminToken" = [])),
    params(InvitationPath),
    request_body(content = InvitationBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Replaced.", body = InvitationAnswer),
        (status = 201, description = "Created.", body = InvitationAnswer),
        (status = 400, response = doc::BadBody),
        (status = 401, response = doc::Unauthorized),
        (status = 402, response = doc::PaymentRequired),
        (status = 404, response = doc::NotFound),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 422, description = "INVITATION_EXPIRED: `expires_at` is past; INVALID_EMAIL; \
                                      INVALID_TIME; UNKNOWN_ROLE; UNKNOWN_FIELD, NULL_FIELD, \
                                      INVALID_BODY.", body = ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::Unavailable),
    )
)]
pub(in crate::http) async fn put_invitation(
    _: Admin,
    path: web::Path<InvitationPath>,
    state: web::Data<AppState>,
    Json(b): Json<InvitationBody>,
) -> Result<HttpResponse> {
    let InvitationPath { org, id } = path.into_inner();
    if !b.email.contains('@') {
        return Err(Error::new(
            Code::InvalidEmail,
            format!("`{}` is not an email address", b.email),
        )
        .into());
    }
    let expires_at = parse_time(&b.expires_at, "expires_at")?;
    let inv = InvitationRow {
        id: id.clone(),
        email: b.email.clone(),
        role: b.role.clone(),
        expires_at,
    };
    let o = org.clone();
    let created = write(&state, move |w, ctx| {
        crate::org::set_invitation(w, ctx, &o, inv, limits(b.override_limits))
    })
    .await?;
    let out = InvitationAnswer {
        org,
        id,
        email: b.email,
        role: b.role,
        expires_at: format_time(expires_at),
    };
    Ok(created_or_ok(created, out))
}

/// Revokes an invitation.
#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/invitations/{id}",
    tag = "Orgs",
    operation_id = "deleteInvitation",
    summary = "Revoke an invitation",
    security(("adminToken" = [])),
    params(InvitationPath),
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
pub(in crate::http) async fn delete_invitation(
    _: Admin,
    path: web::Path<InvitationPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let InvitationPath { org, id } = path.into_inner();
    deleted(&state, move |w, ctx| {
        crate::org::revoke_invitation(w, ctx, &org, &id)
    })
    .await
}

/// `POST /v1/orgs/{org}/invitations/{id}/accept`.
#[derive(Deserialize, ToSchema)]
#[schema(as = AcceptWrite)]
#[serde(deny_unknown_fields)]
pub(in crate::http) struct AcceptBody {
    /// The user who accepts (not empty).
    #[schema(min_length = 1, example = "bob")]
    user: String,
}

impl DataBody for AcceptBody {}

/// The answer of an accept.
#[derive(Serialize, ToSchema)]
#[schema(as = AcceptAnswer)]
pub(in crate::http) struct AcceptAnswer {
    /// Org id.
    org: String,
    /// The new member.
    user: String,
    /// The role the invitation granted.
    role: String,
    /// The invitation id (now gone).
    invitation: String,
}

/// Turns an invitation into a membership.
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/invitations/{id}/accept",
    tag = "Orgs",
    operation_id = "acceptInvitation",
    summary = "Turn an invitation into a membership",
    description = "Atomic: the invitation's seat becomes the member's. The other pending \
                   invitations do not count against it: it is admitted while the org's members \
                   plus one fit the role's seat bucket and `seat:total`; past that (invitations \
                   made with `override_limits`) it is a 402 and the invitation stays pending.",
    security(("adminToken" = [])),
    params(InvitationPath),
    request_body(content = AcceptBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Accepted.", body = AcceptAnswer),
        (status = 400, response = doc::BadBody),
        (status = 401, response = doc::Unauthorized),
        (status = 402, response = doc::PaymentRequired),
        (status = 404, response = doc::NotFound),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 409, description = "CONFLICT: the invitation expired or the user is already \
                                      a member; nothing changed.", body = ErrorBody),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 422, description = "INVALID_BODY (`user` empty or not a string), \
                                      UNKNOWN_FIELD, NULL_FIELD.", body = ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::Unavailable),
    )
)]
pub(in crate::http) async fn accept_invitation(
    _: Admin,
    path: web::Path<InvitationPath>,
    state: web::Data<AppState>,
    Json(b): Json<AcceptBody>,
) -> Result<HttpResponse> {
    let InvitationPath { org, id } = path.into_inner();
    if b.user.is_empty() {
        return Err(Error::new(Code::InvalidBody, "`user` must not be empty").into());
    }
    let (o, i, u) = (org.clone(), id.clone(), b.user.clone());
    let role = write(&state, move |w, ctx| {
        crate::org::accept_invitation(w, ctx, &o, &i, &u)
    })
    .await?;
    Ok(HttpResponse::Ok().json(AcceptAnswer {
        org,
        user: b.user,
        role,
        invitation: id,
    }))
}
