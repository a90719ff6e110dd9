//! Data API (admin token): generic Cedar entities and the built-in org model. Every write runs
//! in one SQLite transaction on the blocking pool and is answered only after it committed.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{read_json, read_optional_json, AppState};
use crate::engine;
use crate::error::{Error, Result};
use crate::store::{
    now_unix, CustomRoleRow, InvitationRow, Limits, OrgUpdate, WorkspacePermissions,
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/entities", web::put().to(put_entities))
        .route("/v1/entities/{etype}/{eid:.*}", web::get().to(get_entity))
        .route(
            "/v1/entities/{etype}/{eid:.*}",
            web::delete().to(delete_entity),
        )
        .route("/v1/orgs/{org}", web::put().to(put_org))
        .route("/v1/orgs/{org}", web::get().to(get_org))
        .route("/v1/orgs/{org}/members/{user}", web::put().to(put_member))
        .route(
            "/v1/orgs/{org}/members/{user}",
            web::delete().to(delete_member),
        )
        .route(
            "/v1/orgs/{org}/invitations/{id}",
            web::put().to(put_invitation),
        )
        .route(
            "/v1/orgs/{org}/invitations/{id}",
            web::delete().to(delete_invitation),
        )
        .route(
            "/v1/orgs/{org}/invitations/{id}/accept",
            web::post().to(accept_invitation),
        )
        .route(
            "/v1/orgs/{org}/workspaces/{ws}",
            web::put().to(put_workspace),
        )
        .route(
            "/v1/orgs/{org}/workspaces/{ws}",
            web::delete().to(delete_workspace),
        )
        .route(
            "/v1/orgs/{org}/workspaces/{ws}/members/{user}",
            web::put().to(put_workspace_member),
        )
        .route(
            "/v1/orgs/{org}/workspaces/{ws}/members/{user}",
            web::delete().to(delete_workspace_member),
        )
        .route("/v1/orgs/{org}/roles/{name}", web::put().to(put_role))
        .route("/v1/orgs/{org}/usage", web::get().to(get_usage))
        .route("/v1/orgs/{org}/usage/{rt}", web::put().to(put_usage));
}

/// Deserializes a typed body, turning serde's complaint (unknown field, wrong type) into a 422.
/// A field set to `null` is a 422 too: leaving a field out keeps the stored value, and a
/// `null` that silently meant the same would hide a client's bug (`"plan": null`).
fn typed<T: serde::de::DeserializeOwned>(v: Value) -> Result<T> {
    if let Value::Object(m) = &v {
        if let Some((k, _)) = m.iter().find(|(_, v)| v.is_null()) {
            return Err(Error::invalid(
                "NULL_FIELD",
                format!("`{k}` must not be null; leave it out to keep what is stored"),
            ));
        }
    }
    serde_json::from_value(v).map_err(|e| {
        let message = e.to_string();
        // The same code the decision API gives an unknown field, so a client handles both alike.
        let code = if message.starts_with("unknown field") {
            "UNKNOWN_FIELD"
        } else {
            "INVALID_BODY"
        };
        Error::invalid(code, message)
    })
}

/// Runs a store write on the blocking pool with the model's org context.
async fn write<T, F>(state: &web::Data<AppState>, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&crate::store::Writer<'_>, crate::store::OrgCtx<'_>) -> Result<T> + Send + 'static,
{
    let engine = state.engine.clone();
    web::block(move || {
        let model = engine.model();
        let template = engine.upgrade_template(&model);
        let ctx = engine.org_ctx(&model, &template, now_unix());
        engine.store().write(|w| f(w, ctx))
    })
    .await
    .map_err(|e| Error::Internal(format!("blocking pool: {e}")))?
}

fn parse_time(s: &str, field: &str) -> Result<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| {
            Error::invalid(
                "INVALID_TIME",
                format!("`{field}` is not an RFC 3339 time: {e}"),
            )
        })
}

fn format_time(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn limits(override_limits: bool) -> Limits {
    if override_limits {
        Limits::Override
    } else {
        Limits::Enforce
    }
}

async fn put_entities(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    let v = read_json(&req, body, state.max_data_body).await?;
    let Value::Array(items) = v else {
        return Err(Error::invalid(
            "INVALID_BODY",
            "the body must be an array of Cedar entities",
        ));
    };
    let model = state.engine.model();
    let entities = engine::parse_entities(&model, &items)?;
    let n = entities.len();
    write(&state, move |w, ctx| {
        for e in &entities {
            engine::store_entity(w, &model, e)?;
        }
        w.audit(
            None,
            "entities.put",
            "entities",
            &json!({"count": n}),
            ctx.now,
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({"written": n})))
}

async fn get_entity(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    let (t, id) = path.into_inner();
    let uid = engine::uid(&t, &id)?;
    let json = state.engine.store().read(|r| r.entity_json(&t, &id))?;
    match json {
        Some(j) => Ok(HttpResponse::Ok().content_type("application/json").body(j)),
        None => Err(Error::NotFound(format!("no entity `{uid}`"))),
    }
}

async fn delete_entity(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    let (t, id) = path.into_inner();
    let uid = engine::uid(&t, &id)?;
    let found = write(&state, move |w, ctx| {
        let found = w.delete_entity(&t, &id)?;
        if found {
            w.audit(None, "entity.delete", &uid.to_string(), &json!({}), ctx.now)?;
        }
        Ok(found)
    })
    .await?;
    if found {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(Error::NotFound("no such entity".into()))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgBody {
    plan: Option<String>,
    subscription_status: Option<String>,
    primary_owner: Option<String>,
    past_due_since: Option<String>,
    #[serde(default)]
    override_limits: bool,
}

async fn put_org(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    let org = path.into_inner();
    // No body is a mistake, not a request to change nothing: that is `{}`.
    let Some(body) = read_optional_json(&req, body, state.max_data_body).await? else {
        return Err(Error::malformed(
            "MISSING_BODY",
            "the body must be a JSON object; send `{}` to change nothing",
        ));
    };
    let b: OrgBody = typed(body)?;
    let past_due_since = b
        .past_due_since
        .as_deref()
        .map(|s| parse_time(s, "past_due_since"))
        .transpose()?;
    if b.primary_owner.as_deref() == Some("") {
        return Err(Error::invalid(
            "INVALID_BODY",
            "`primary_owner` must not be empty",
        ));
    }
    let id = org.clone();
    let created = write(&state, move |w, ctx| {
        w.upsert_org(
            ctx,
            &id,
            OrgUpdate {
                plan: b.plan,
                subscription_status: b.subscription_status,
                primary_owner: b.primary_owner,
                past_due_since,
            },
            limits(b.override_limits),
        )
    })
    .await?;
    let view = org_view(&state, &org)?;
    Ok(if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    }
    .json(view))
}

fn usage_view(state: &AppState, org: &crate::store::OrgState) -> Value {
    let model = state.engine.model();
    let tier = model.catalog.tier(&org.effective_plan);
    let mut out = serde_json::Map::new();
    for (rt, current) in &org.usage {
        let limit = tier.and_then(|t| t.limit(rt));
        out.insert(rt.clone(), json!({"current": current, "limit": limit}));
    }
    Value::Object(out)
}

fn org_view(state: &AppState, org: &str) -> Result<Value> {
    let engine = &state.engine;
    let model = engine.model();
    let template = engine.upgrade_template(&model);
    let now = now_unix();
    let ctx = engine.org_ctx(&model, &template, now);
    engine.store().read(|r| {
        let Some(s) = r.org_state(ctx, org)? else {
            return Err(Error::NotFound(format!("org `{org}` does not exist")));
        };
        let members: Vec<Value> = r
            .members(org)?
            .into_iter()
            .map(|(user, role)| json!({"user": user, "role": role}))
            .collect();
        let invitations: Vec<Value> = r
            .invitations(org)?
            .into_iter()
            .map(|i| {
                json!({"id": i.id, "email": i.email, "role": i.role,
                       "expires_at": format_time(i.expires_at), "expired": i.expires_at <= now})
            })
            .collect();
        let workspaces: Vec<Value> = r
            .workspaces(org)?
            .into_iter()
            .map(|w| json!({"id": w.id, "name": w.name}))
            .collect();
        Ok(json!({
            "id": s.row.id,
            "plan": s.row.plan,
            "effective_plan": s.effective_plan,
            "subscription_status": s.row.status,
            "past_due_since": s.row.past_due_since.map(format_time),
            "primary_owner": s.row.primary_owner,
            "members": members,
            "invitations": invitations,
            "workspaces": workspaces,
            "usage": usage_view(state, &s),
        }))
    })
}

async fn get_org(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    Ok(HttpResponse::Ok().json(org_view(&state, &path.into_inner())?))
}

async fn get_usage(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    let org = path.into_inner();
    let engine = &state.engine;
    let model = engine.model();
    let template = engine.upgrade_template(&model);
    let ctx = engine.org_ctx(&model, &template, now_unix());
    let s = engine
        .store()
        .read(|r| r.org_state(ctx, &org))?
        .ok_or_else(|| Error::NotFound(format!("org `{org}` does not exist")))?;
    Ok(HttpResponse::Ok().json(usage_view(&state, &s)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberBody {
    role: String,
    #[serde(default)]
    override_limits: bool,
}

async fn put_member(
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
        w.set_member(ctx, &o, &u, &role, limits(b.override_limits))
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

async fn delete_member(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    let (org, user) = path.into_inner();
    write(&state, move |w, ctx| w.remove_member(ctx, &org, &user)).await?;
    Ok(HttpResponse::NoContent().finish())
}

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

async fn put_invitation(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    let (org, id) = path.into_inner();
    let b: InvitationBody = typed(read_json(&req, body, state.max_data_body).await?)?;
    if !b.email.contains('@') {
        return Err(Error::invalid(
            "INVALID_EMAIL",
            format!("`{}` is not an email address", b.email),
        ));
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
        w.set_invitation(ctx, &o, inv, limits(b.override_limits))
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

async fn delete_invitation(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    let (org, id) = path.into_inner();
    write(&state, move |w, ctx| w.revoke_invitation(ctx, &org, &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceptBody {
    user: String,
}

async fn accept_invitation(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    let (org, id) = path.into_inner();
    let b: AcceptBody = typed(read_json(&req, body, state.max_data_body).await?)?;
    if b.user.is_empty() {
        return Err(Error::invalid("INVALID_BODY", "`user` must not be empty"));
    }
    let (o, i, u) = (org.clone(), id.clone(), b.user.clone());
    let role = write(&state, move |w, ctx| w.accept_invitation(ctx, &o, &i, &u)).await?;
    Ok(
        HttpResponse::Ok()
            .json(json!({"org": org, "user": b.user, "role": role, "invitation": id})),
    )
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct WorkspaceBody {
    name: Option<String>,
    #[serde(default)]
    override_limits: bool,
}

async fn put_workspace(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    let (org, ws) = path.into_inner();
    let b: WorkspaceBody = match read_optional_json(&req, body, state.max_data_body).await? {
        Some(v) => typed(v)?,
        None => WorkspaceBody::default(),
    };
    let (o, w_id) = (org.clone(), ws.clone());
    let name = b.name.clone();
    let created = write(&state, move |w, ctx| {
        w.set_workspace(ctx, &o, &w_id, name, limits(b.override_limits))
    })
    .await?;
    let out = json!({"org": org, "id": ws, "created": created});
    Ok(if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    }
    .json(out))
}

async fn delete_workspace(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    let (org, ws) = path.into_inner();
    write(&state, move |w, ctx| w.remove_workspace(ctx, &org, &ws)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct WsMemberBody {
    #[serde(default = "default_ws_role")]
    role: String,
    #[serde(default)]
    permissions: WorkspacePermissions,
}

fn default_ws_role() -> String {
    "member".into()
}

async fn put_workspace_member(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    let (org, ws, user) = path.into_inner();
    let b: WsMemberBody = match read_optional_json(&req, body, state.max_data_body).await? {
        Some(v) => typed(v)?,
        None => WsMemberBody {
            role: default_ws_role(),
            ..Default::default()
        },
    };
    let access = b.permissions.with_role(b.role);
    let out = json!({"org": org, "workspace": ws, "user": user, "role": access.role, "permissions": {
        "can_create_agents": access.can_create_agents, "can_modify_policies": access.can_modify_policies,
        "can_invite_users": access.can_invite_users, "can_view_analytics": access.can_view_analytics}});
    write(&state, move |w, ctx| {
        w.set_workspace_member(ctx, &org, &ws, &user, &access)
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}

async fn delete_workspace_member(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    let (org, ws, user) = path.into_inner();
    write(&state, move |w, ctx| {
        w.remove_workspace_member(ctx, &org, &ws, &user)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    permissions: Vec<String>,
    level: i64,
}

async fn put_role(
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
        w.set_custom_role(ctx, &o, role, Limits::Enforce)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .json(json!({"org": org, "name": name, "level": b.level, "permissions": b.permissions})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageBody {
    current: i64,
}

async fn put_usage(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    state.require_admin(&req)?;
    let (org, rt) = path.into_inner();
    let b: UsageBody = typed(read_json(&req, body, state.max_data_body).await?)?;
    let (o, r) = (org.clone(), rt.clone());
    write(&state, move |w, ctx| w.set_usage(ctx, &o, &r, b.current)).await?;
    Ok(HttpResponse::Ok().json(json!({"org": org, "resource_type": rt, "current": b.current})))
}
