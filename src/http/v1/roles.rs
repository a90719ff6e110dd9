//! `/v1/orgs/{org}/roles/{name}`: an org's custom roles (the `custom_roles` plan feature).

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::write;
use crate::http::body::DataBody;
use crate::http::error::HttpResult as Result;
use crate::http::extract::{Admin, Json};
use crate::http::AppState;

use crate::org::CustomRoleRow;
use crate::org::Limits;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::http) struct RoleBody {
    permissions: Vec<String>,
    level: i64,
}

impl DataBody for RoleBody {}

pub(in crate::http) async fn put_role(
    _: Admin,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    Json(b): Json<RoleBody>,
) -> Result<HttpResponse> {
    let (org, name) = path.into_inner();
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
    Ok(HttpResponse::Ok()
        .json(json!({"org": org, "name": name, "level": b.level, "permissions": b.permissions})))
}
