//! `/v1/orgs/{org}/invitations/{id}`: pending invitations (they hold a seat) and accepting them.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::{format_time, limits, parse_time, write};
use crate::error::{Code, Error};
use crate::http::error::HttpResult as Result;
use crate::http::{body::read_json, body::typed, AppState};
use crate::org::InvitationRow;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InvitationBody {
    email: String,
    #[serde(default = "default_invite_role")]
    role: String,
    expires_at: String,
    #[serde(default)]
    override_limits: bool,
}

fn default_invite_role() -> String {
    "member".into()
}

pub(in crate::http) async fn put_invitation(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    let (org, id) = path.into_inner();
    let b: InvitationBody = typed(read_json(&req, body, state.max_data_body).await?)?;
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
    Ok(if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    }
    .json(out))
}

pub(in crate::http) async fn delete_invitation(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    let (org, id) = path.into_inner();
    write(&state, move |w, ctx| {
        crate::org::revoke_invitation(w, ctx, &org, &id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceptBody {
    user: String,
}

pub(in crate::http) async fn accept_invitation(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    let (org, id) = path.into_inner();
    let b: AcceptBody = typed(read_json(&req, body, state.max_data_body).await?)?;
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
