//! `/v1/orgs/{org}/members/{user}`: org members and their roles, within seat limits.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::{limits, write};
use crate::http::error::HttpResult as Result;
use crate::http::{body::read_json, body::typed, AppState};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberBody {
    role: String,
    #[serde(default)]
    override_limits: bool,
}

pub(in crate::http) async fn put_member(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    let (org, user) = path.into_inner();
    let b: MemberBody = typed(read_json(&req, body, state.max_data_body).await?)?;
    let (o, u, role) = (org.clone(), user.clone(), b.role.clone());
    let previous = write(&state, move |w, ctx| {
        crate::org::set_member(w, ctx, &o, &u, &role, limits(b.override_limits))
    })
    .await?;
    let out = json!({"org": org, "user": user, "role": b.role, "previous_role": previous});
    Ok(if previous.is_none() {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    }
    .json(out))
}

pub(in crate::http) async fn delete_member(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    let (org, user) = path.into_inner();
    write(&state, move |w, ctx| {
        crate::org::remove_member(w, ctx, &org, &user)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
