//! `/v1/orgs/{org}/invitations/{id}`: pending invitations (they hold a seat) and accepting them.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::{created_or_ok, deleted, format_time, limits, parse_time, write};
use crate::error::{Code, Error};
use crate::http::body::DataBody;
use crate::http::error::HttpResult as Result;
use crate::http::extract::{Admin, Json};
use crate::http::AppState;
use crate::org::InvitationRow;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::http) struct InvitationBody {
    email: String,
    #[serde(default = "default_invite_role")]
    role: String,
    expires_at: String,
    #[serde(default)]
    override_limits: bool,
}

impl DataBody for InvitationBody {}

fn default_invite_role() -> String {
    "member".into()
}

pub(in crate::http) async fn put_invitation(
    _: Admin,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    Json(b): Json<InvitationBody>,
) -> Result<HttpResponse> {
    let (org, id) = path.into_inner();
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
    let out = json!({"org": org, "id": id, "email": b.email, "role": b.role, "expires_at": format_time(expires_at)});
    Ok(created_or_ok(created, out))
}

pub(in crate::http) async fn delete_invitation(
    _: Admin,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let (org, id) = path.into_inner();
    deleted(&state, move |w, ctx| {
        crate::org::revoke_invitation(w, ctx, &org, &id)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::http) struct AcceptBody {
    user: String,
}

impl DataBody for AcceptBody {}

pub(in crate::http) async fn accept_invitation(
    _: Admin,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    Json(b): Json<AcceptBody>,
) -> Result<HttpResponse> {
    let (org, id) = path.into_inner();
    if b.user.is_empty() {
        return Err(Error::new(Code::InvalidBody, "`user` must not be empty").into());
    }
    let (o, i, u) = (org.clone(), id.clone(), b.user.clone());
    let role = write(&state, move |w, ctx| {
        crate::org::accept_invitation(w, ctx, &o, &i, &u)
    })
    .await?;
    Ok(
        HttpResponse::Ok()
            .json(json!({"org": org, "user": b.user, "role": role, "invitation": id})),
    )
}
