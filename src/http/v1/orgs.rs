//! `/v1/orgs/{org}` and its usage: an org's plan, status and primary owner, its state as
//! decisions see it, and the app-owned usage counters.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{created_or_ok, format_time, limits, parse_time, write, OrgPath, UsagePath};
use crate::error::{Code, Error};
use crate::http::body::DataBody;
use crate::http::error::HttpResult as Result;
use crate::http::extract::{Admin, Json, OptionalJson};
use crate::http::openapi as doc;
use crate::http::wire::schema::{ErrorBody, SubscriptionStatus};
use crate::http::AppState;
use crate::org::OrgUpdate;
use crate::store::now_unix;

/// `PUT /v1/orgs/{org}`: a field left out keeps the stored value (`{}` changes nothing); a
/// field set to null is a 422 NULL_FIELD, as in every data write.
#[derive(Deserialize, ToSchema)]
#[schema(as = OrgWrite)]
#[serde(deny_unknown_fields)]
pub(in crate::http) struct OrgBody {
    /// Catalog tier; the first tier on create.
    #[schema(nullable = false, example = "starter")]
    plan: Option<String>,
    /// Stripe's subscription status; `active` on create.
    #[schema(nullable = false, value_type = Option<SubscriptionStatus>)]
    subscription_status: Option<String>,
    /// Required on create; made a member with role owner.
    #[schema(nullable = false, min_length = 1, example = "alice")]
    primary_owner: Option<String>,
    /// When the org became past due (RFC 3339); defaults to now on entering `past_due`.
    #[schema(nullable = false, format = DateTime)]
    past_due_since: Option<String>,
    /// Pass the seat limit a new primary owner would pass.
    #[serde(default)]
    #[schema(default = false)]
    override_limits: bool,
}

impl DataBody for OrgBody {}

/// An org as decisions see it.
#[derive(Serialize, ToSchema)]
#[schema(as = Org)]
pub(in crate::http) struct OrgView {
    /// The org id.
    id: String,
    /// The nominal plan.
    plan: String,
    /// The tier the subscription gives it now.
    effective_plan: String,
    /// Stripe's subscription status.
    #[schema(value_type = SubscriptionStatus)]
    subscription_status: String,
    /// When it became past due; null unless past due.
    #[schema(required = true, format = DateTime)]
    past_due_since: Option<String>,
    /// The primary owner.
    #[schema(required = true)]
    primary_owner: Option<String>,
    /// Its members.
    members: Vec<MemberView>,
    /// Its invitations, pending or expired.
    invitations: Vec<InvitationView>,
    /// Its workspaces.
    workspaces: Vec<WorkspaceView>,
    /// Usage against limits.
    usage: Usage,
}

/// A member and its role.
#[derive(Serialize, ToSchema)]
#[schema(as = OrgMember)]
pub(in crate::http) struct MemberView {
    /// User id.
    user: String,
    /// Role name.
    role: String,
}

/// An invitation.
#[derive(Serialize, ToSchema)]
#[schema(as = OrgInvitation)]
pub(in crate::http) struct InvitationView {
    /// Invitation id.
    id: String,
    /// Who is invited.
    email: String,
    /// The role it grants.
    role: String,
    /// When it expires (RFC 3339).
    #[schema(format = DateTime)]
    expires_at: String,
    /// Whether it has expired (it no longer holds a seat).
    expired: bool,
}

/// A workspace.
#[derive(Serialize, ToSchema)]
#[schema(as = OrgWorkspace)]
pub(in crate::http) struct WorkspaceView {
    /// Workspace id (global across orgs).
    id: String,
    /// Its name.
    name: String,
}

/// Usage keyed by resource type (`seat:admin`, `quota:workspace`, ...), for every resource type
/// of the catalog.
#[derive(Serialize, ToSchema)]
#[schema(as = Usage)]
pub(in crate::http) struct Usage(BTreeMap<String, UsageEntry>);

/// One resource type's use and limit.
#[derive(Serialize, ToSchema)]
#[schema(as = UsageEntry)]
pub(in crate::http) struct UsageEntry {
    /// Units in use.
    current: i64,
    /// The effective plan's limit; null = unlimited.
    #[schema(required = true)]
    limit: Option<i64>,
}

/// Creates or updates an org.
#[utoipa::path(
    put,
    path = "/v1/orgs/{org}",
    tag = "Orgs",
    operation_id = "putOrg",
    summary = "Create or update an org",
    description = "Creates or updates the org and makes sure the primary owner is a member with \
                   role owner (taking an owner seat: 402 past the seat limit, unless \
                   `override_limits`). The body is required (no body: 400 MISSING_BODY; `{}` \
                   changes nothing); a field set to null is a 422 NULL_FIELD, as in every data \
                   write.",
    security(("adminToken" = [])),
    params(OrgPath),
    request_body(content = OrgBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Updated.", body = OrgView),
        (status = 201, description = "Created.", body = OrgView),
        (status = 400, description = "MISSING_BODY: no body; MALFORMED_JSON, DUPLICATE_KEY, \
                                      BODY_READ_FAILED, MALFORMED_PATH.", body = ErrorBody),
        (status = 401, response = doc::Unauthorized),
        (status = 402, response = doc::PaymentRequired),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 422, description = "UNKNOWN_FIELD, NULL_FIELD, INVALID_BODY, INVALID_TIME, \
                                      UNKNOWN_PLAN, INVALID_STATUS, PRIMARY_OWNER_REQUIRED (a \
                                      new org without `primary_owner`).", body = ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::Unavailable),
    )
)]
pub(in crate::http) async fn put_org(
    _: Admin,
    path: web::Path<OrgPath>,
    state: web::Data<AppState>,
    OptionalJson(b): OptionalJson<OrgBody>,
) -> Result<HttpResponse> {
    let org = path.into_inner().org;
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

fn usage_view(state: &AppState, org: &crate::org::OrgState) -> Usage {
    let model = state.engine.model();
    let tier = model.catalog.tier(&org.effective_plan);
    Usage(
        org.usage
            .iter()
            .map(|(rt, current)| {
                let limit = tier.and_then(|t| t.limit(rt));
                (
                    rt.clone(),
                    UsageEntry {
                        current: *current,
                        limit,
                    },
                )
            })
            .collect(),
    )
}

fn org_view(state: &AppState, org: &str) -> crate::error::Result<OrgView> {
    let engine = &state.engine;
    let model = engine.model();
    let template = engine.upgrade_template(&model);
    let now = now_unix();
    let ctx = engine.org_ctx(&model, &template, now);
    engine.store().read(|r| {
        let Some(s) = crate::org::org_state(r, ctx, org)? else {
            return Err(Error::not_found(format!("org `{org}` does not exist")));
        };
        let members = r
            .members(org)?
            .into_iter()
            .map(|(user, role)| MemberView { user, role })
            .collect();
        let invitations = r
            .invitations(org)?
            .into_iter()
            .map(|i| InvitationView {
                expires_at: format_time(i.expires_at),
                expired: i.expires_at <= now,
                id: i.id,
                email: i.email,
                role: i.role,
            })
            .collect();
        let workspaces = r
            .workspaces(org)?
            .into_iter()
            .map(|w| WorkspaceView {
                id: w.id,
                name: w.name,
            })
            .collect();
        let usage = usage_view(state, &s);
        Ok(OrgView {
            id: s.row.id,
            plan: s.row.plan,
            effective_plan: s.effective_plan,
            subscription_status: s.row.status,
            past_due_since: s.row.past_due_since.map(format_time),
            primary_owner: s.row.primary_owner,
            members,
            invitations,
            workspaces,
            usage,
        })
    })
}

/// Reads an org.
#[utoipa::path(
    get,
    path = "/v1/orgs/{org}",
    tag = "Orgs",
    operation_id = "getOrg",
    summary = "Read an org",
    security(("adminToken" = [])),
    params(OrgPath),
    responses(
        (status = 200, description = "The org.", body = OrgView),
        (status = 400, response = doc::BadPath),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NotFound),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::Unavailable),
    )
)]
pub(in crate::http) async fn get_org(
    _: Admin,
    path: web::Path<OrgPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(org_view(&state, &path.into_inner().org)?))
}

/// Usage against limits.
#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/usage",
    tag = "Orgs",
    operation_id = "getUsage",
    summary = "Usage against limits for every catalog resource type",
    security(("adminToken" = [])),
    params(OrgPath),
    responses(
        (status = 200, description = "Usage map.", body = Usage),
        (status = 400, response = doc::BadPath),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NotFound),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::Unavailable),
    )
)]
pub(in crate::http) async fn get_usage(
    _: Admin,
    path: web::Path<OrgPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let org = path.into_inner().org;
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

/// `PUT /v1/orgs/{org}/usage/{rt}`.
#[derive(Deserialize, ToSchema)]
#[schema(as = UsageWrite)]
#[serde(deny_unknown_fields)]
pub(in crate::http) struct UsageBody {
    /// The counter's new value.
    #[schema(minimum = 0)]
    current: i64,
}

impl DataBody for UsageBody {}

/// The answer of a usage write.
#[derive(Serialize, ToSchema)]
#[schema(as = UsageSetAnswer)]
pub(in crate::http) struct UsageSet {
    /// Org id.
    org: String,
    /// The resource type set.
    resource_type: String,
    /// Its value now.
    current: i64,
}

/// Sets an app-owned counter.
#[utoipa::path(
    put,
    path = "/v1/orgs/{org}/usage/{rt}",
    tag = "Orgs",
    operation_id = "putUsage",
    summary = "Set an app-owned counter",
    description = "Tollgate counts seats and quota:workspace itself; other quota types are \
                   counters the app owns.",
    security(("adminToken" = [])),
    params(UsagePath),
    request_body(content = UsageBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Set.", body = UsageSet),
        (status = 400, response = doc::BadBody),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NotFound),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 422, description = "TOLLGATE_COUNTED for seat:* and quota:workspace; \
                                      INVALID_RESOURCE_TYPE; INVALID_USAGE (negative); \
                                      UNKNOWN_FIELD, NULL_FIELD, INVALID_BODY.", body = ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::Unavailable),
    )
)]
pub(in crate::http) async fn put_usage(
    _: Admin,
    path: web::Path<UsagePath>,
    state: web::Data<AppState>,
    Json(b): Json<UsageBody>,
) -> Result<HttpResponse> {
    let UsagePath { org, rt } = path.into_inner();
    let (o, r) = (org.clone(), rt.clone());
    write(&state, move |w, ctx| {
        crate::org::set_usage(w, ctx, &o, &r, b.current)
    })
    .await?;
    Ok(HttpResponse::Ok().json(UsageSet {
        org,
        resource_type: rt,
        current: b.current,
    }))
}
