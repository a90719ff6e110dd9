//! `/v1/orgs/{org}/members/{user}`: org members and their roles, within seat limits.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::{created_or_ok, deleted, limits, write};
use crate::http::body::DataBody;
use crate::http::error::HttpResult as Result;
use crate::http::extract::{Admin, Json};
use crate::http::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::http) struct MemberBody {
    role: String,
    #[serde(default)]
    override_limits: bool,
}

impl DataBody for MemberBody {}

pub(in crate::http) async fn put_member(
    _: Admin,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    Json(b): Json<MemberBody>,
) -> Result<HttpResponse> {
    let (org, user) = path.into_inner();
    let (o, u, role) = (org.clone(), user.clone(), b.role.clone());
    let previous = write(&state, move |w, ctx| {
        crate::org::set_member(w, ctx, &o, &u, &role, limits(b.override_limits))
    })
    .await?;
    let out = json!({"org": org, "user": user, "role": b.role, "previous_role": previous});
    Ok(created_or_ok(previous.is_none(), out))
}

pub(in crate::http) async fn delete_member(
    _: Admin,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let (org, user) = path.into_inner();
    deleted(&state, move |w, ctx| {
        crate::org::remove_member(w, ctx, &org, &user)
    })
    .await
}
