//! `/v1/orgs/{org}` and its usage: an org's plan, status and primary owner, its state as
//! decisions see it, and the app-owned usage counters.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{created_or_ok, format_time, limits, parse_time, write};
use crate::error::{Code, Error};
use crate::http::body::DataBody;
use crate::http::error::HttpResult as Result;
use crate::http::extract::{Admin, Json, OptionalJson};
use crate::http::AppState;
use crate::org::OrgUpdate;
use crate::store::now_unix;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::http) struct OrgBody {
    plan: Option<String>,
    subscription_status: Option<String>,
    primary_owner: Option<String>,
    past_due_since: Option<String>,
    #[serde(default)]
    override_limits: bool,
}

impl DataBody for OrgBody {}

pub(in crate::http) async fn put_org(
    _: Admin,
    path: web::Path<String>,
    state: web::Data<AppState>,
    OptionalJson(b): OptionalJson<OrgBody>,
) -> Result<HttpResponse> {
    let org = path.into_inner();
    // No body is a mistake, not a request to change nothing: that is `{}`.
    let Some(b) = b else {
        return Err(Error::new(
            Code::MissingBody,
            "the body must be a JSON object; send `{}` to change nothing",
        )
        .into());
    };
    let past_due_since = b
        .past_due_since
        .as_deref()
        .map(|s| parse_time(s, "past_due_since"))
        .transpose()?;
    if b.primary_owner.as_deref() == Some("") {
        return Err(Error::new(Code::InvalidBody, "`primary_owner` must not be empty").into());
    }
    let id = org.clone();
    let created = write(&state, move |w, ctx| {
        crate::org::upsert_org(
            w,
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
    Ok(created_or_ok(created, view))
}

fn usage_view(state: &AppState, org: &crate::org::OrgState) -> Value {
    let model = state.engine.model();
    let tier = model.catalog.tier(&org.effective_plan);
    let mut out = serde_json::Map::new();
    for (rt, current) in &org.usage {
        let limit = tier.and_then(|t| t.limit(rt));
        out.insert(rt.clone(), json!({"current": current, "limit": limit}));
    }
    Value::Object(out)
}

fn org_view(state: &AppState, org: &str) -> crate::error::Result<Value> {
    let engine = &state.engine;
    let model = engine.model();
    let template = engine.upgrade_template(&model);
    let now = now_unix();
    let ctx = engine.org_ctx(&model, &template, now);
    engine.store().read(|r| {
        let Some(s) = crate::org::org_state(r, ctx, org)? else {
            return Err(Error::not_found(format!("org `{org}` does not exist")));
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

pub(in crate::http) async fn get_org(
    _: Admin,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(org_view(&state, &path.into_inner())?))
}

pub(in crate::http) async fn get_usage(
    _: Admin,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let org = path.into_inner();
    let engine = &state.engine;
    let model = engine.model();
    let template = engine.upgrade_template(&model);
    let ctx = engine.org_ctx(&model, &template, now_unix());
    let s = engine
        .store()
        .read(|r| crate::org::org_state(r, ctx, &org))?
        .ok_or_else(|| Error::not_found(format!("org `{org}` does not exist")))?;
    Ok(HttpResponse::Ok().json(usage_view(&state, &s)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::http) struct UsageBody {
    current: i64,
}

impl DataBody for UsageBody {}

pub(in crate::http) async fn put_usage(
    _: Admin,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    Json(b): Json<UsageBody>,
) -> Result<HttpResponse> {
    let (org, rt) = path.into_inner();
    let (o, r) = (org.clone(), rt.clone());
    write(&state, move |w, ctx| {
        crate::org::set_usage(w, ctx, &o, &r, b.current)
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({"org": org, "resource_type": rt, "current": b.current})))
}
