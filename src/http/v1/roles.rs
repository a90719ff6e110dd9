//! `/v1/orgs/{org}/roles/{name}`: an org's custom roles (the `custom_roles` plan feature).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::write;
use crate::http::error::HttpResult as Result;
use crate::http::{body::read_json, body::typed, AppState};

use crate::org::CustomRoleRow;
use crate::org::Limits;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    permissions: Vec<String>,
    level: i64,
}

pub(in crate::http) async fn put_role(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    let (org, name) = path.into_inner();
    let b: RoleBody = typed(read_json(&req, body, state.max_data_body).await?)?;
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
