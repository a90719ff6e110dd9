//! `/v1/authorize`, `/v1/authorize/batch`, `/v1/permissions`: the decision API.
//!
//! Decisions run inline on the worker: one slice read (microseconds, never waiting on the
//! writer under WAL) and one Cedar evaluation cost less than a hop to a blocking pool.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use crate::engine::input::{
    context_field, deny_unknown, entities_field, object, parse_uid, required,
};
use crate::engine::Ask;
use crate::error::{Code, Error};
use crate::http::body::{read_bytes, read_json, require_json};
use crate::http::error::HttpResult as Result;
use crate::http::extract::DecisionCaller;
use crate::http::openapi as doc;
use crate::http::wire::schema::{
    BatchAnswer, BatchRequest, DecisionAnswer, DecisionRequest, ErrorBody, PermissionsAnswer,
    PermissionsRequest,
};
use crate::http::wire::{decision_json, error_slot};
use crate::http::AppState;

/// The 422s of a decision request: valid JSON, invalid by the schema or the rules.
const DECISION_422: &str = "Valid JSON, invalid by the schema or the rules: INVALID_REQUEST (not \
     an object, or a principal or resource of a type the action does not take), UNKNOWN_FIELD, \
     MISSING_FIELD, INVALID_UID, INVALID_ENTITY_TYPE, UNKNOWN_ACTION, INVALID_CONTEXT, \
     INVALID_ENTITY, DUPLICATE_ENTITY, MANAGED_ENTITY (entity data for a type or attribute only \
     the org API writes), PROVIDED_ANCESTOR, PARENT_CYCLE, CROSS_ORG_PARENTS (an ancestry that \
     reaches two orgs), SLICE_TOO_LARGE, INVALID_RESERVE (not a whole number from 1 to 1,000,000), \
     RESERVE_NOT_APPLICABLE (no app-owned quota, or several, gates the action; or it is about \
     no org).";

/// The 422s of a permissions request.
const PERMISSIONS_422: &str = "Valid JSON, invalid by the schema or the rules: INVALID_REQUEST, \
     UNKNOWN_FIELD, MISSING_FIELD, INVALID_UID, INVALID_ENTITY_TYPE, INVALID_CONTEXT, \
     INVALID_ENTITY, DUPLICATE_ENTITY, MANAGED_ENTITY, PROVIDED_ANCESTOR, PARENT_CYCLE, \
     CROSS_ORG_PARENTS, SLICE_TOO_LARGE.";

/// Whether a decision body may ask for a `reserve` (a write): it names the key, or has a
/// `\u` escape that could spell it. A false positive (the word in an id) only moves the
/// decision to the blocking pool.
fn may_reserve(body: &[u8]) -> bool {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    // Built once: a finder's set-up costs more than the search of a small body.
    static KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"reserve\""));
    static ESCAPE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\\u"));
    KEY.find(body).is_some() || ESCAPE.find(body).is_some()
}

fn mirror(req: &HttpRequest) -> bool {
    web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .map(|q| q.get("mirror").is_some_and(|v| v == "1" || v == "true"))
        .unwrap_or(false)
}

/// One decision.
#[utoipa::path(
    post,
    path = "/v1/authorize",
    tag = "Decisions",
    operation_id = "authorize",
    summary = "Decide one request",
    description = "403 wins over 402: the answer is payment_required only when the role side \
                   permits and only plan gates forbid. The actor's role comes from the store, \
                   never from the request. A principal or resource that neither the store nor \
                   `entities` holds is judged as Cedar does (no attributes, no parents) and \
                   named in `warnings`. An evaluation error is a deny with `errors`.",
    security(("decisionToken" = []), ("adminToken" = []), ()),
    params(
        ("mirror" = Option<String>, Query,
         description = "`1` or `true`: the HTTP status equals the answer's `status` (200, 403 \
                        or 402); the body is unchanged. Any other value is ignored.",
         example = "1"),
    ),
    request_body(content = DecisionRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The decision (allow, deny or payment_required).",
         body = DecisionAnswer),
        (status = 400, response = doc::BadBody),
        (status = 401, response = doc::Unauthorized),
        (status = 402, description = "Only with `?mirror=1`: payment_required.",
         body = DecisionAnswer),
        (status = 403, description = "Only with `?mirror=1`: deny.", body = DecisionAnswer),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 422, description = DECISION_422, body = ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::Unavailable),
    )
)]
pub(in crate::http) async fn authorize(
    _: DecisionCaller,
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let body = read_bytes(&req, body, state.max_decision_body).await?;
    require_json(&req)?;
    // A proxy repeats the same bodies: the engine answers those from the cache before any
    // parsing. A `reserve` is a write (it waits for the writer and an fsync), so a body that
    // may ask for one runs on the blocking pool, not on the worker.
    let decision = if may_reserve(&body) {
        let engine = state.engine.clone();
        web::block(move || engine.decide(Ask::Body(&body)))
            .await
            .map_err(|e| Error::Internal(format!("blocking pool: {e}")))??
    } else {
        state.engine.decide(Ask::Body(&body))?
    };
    let status = if mirror(&req) {
        StatusCode::from_u16(decision.outcome.status()).unwrap_or(StatusCode::FORBIDDEN)
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status).json(decision_json(&decision)))
}

/// Many decisions, one slot each.
#[utoipa::path(
    post,
    path = "/v1/authorize/batch",
    tag = "Decisions",
    operation_id = "authorizeBatch",
    summary = "Decide many requests",
    description = "Each item is judged as `/v1/authorize` would; a bad item yields \
                   `{\"error\": {code, message}}` in its slot, not a failed batch. More than \
                   `--max-batch` (default 100) items is a 422 BATCH_TOO_LARGE. The decision body \
                   limit holds for the whole batch.",
    security(("decisionToken" = []), ("adminToken" = []), ()),
    request_body(content = BatchRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "One slot per request, in order.", body = BatchAnswer),
        (status = 400, response = doc::BadBody),
        (status = 401, response = doc::Unauthorized),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 422, description = "INVALID_REQUEST: the body is not an object; \
                                      UNKNOWN_FIELD: a key other than `requests`; \
                                      MISSING_FIELD: `requests` is missing or not an array; \
                                      BATCH_TOO_LARGE.", body = ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::Unavailable),
    )
)]
pub(in crate::http) async fn batch(
    _: DecisionCaller,
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    // A batch is a decision request: the same body limit holds for the whole of it.
    let v = read_json(&req, body, state.max_decision_body).await?;
    let mut m = object(v, "a batch")?;
    deny_unknown(&m, &["requests"])?;
    let Some(Value::Array(items)) = m.remove("requests") else {
        return Err(Error::new(Code::MissingField, "`requests` must be an array").into());
    };
    let reserving = items
        .iter()
        .any(|i| i.get("reserve").is_some_and(|r| !r.is_null()));
    if items.len() > state.max_batch {
        return Err(Error::new(
            Code::BatchTooLarge,
            format!(
                "a batch holds at most {} requests; this one has {}",
                state.max_batch,
                items.len()
            ),
        )
        .into());
    }
    let judge_all = move |engine: &crate::engine::Engine| {
        let mut results = Vec::with_capacity(items.len());
        for item in items {
            let answer = engine.decide(Ask::Json(item));
            results.push(match answer {
                Ok(d) => decision_json(&d),
                Err(e) => error_slot(e),
            });
        }
        results
    };
    // Each item's `reserve` is its own write transaction, on the blocking pool.
    let results = if reserving {
        let engine = state.engine.clone();
        web::block(move || judge_all(&engine))
            .await
            .map_err(|e| Error::Internal(format!("blocking pool: {e}")))?
    } else {
        judge_all(&state.engine)
    };
    Ok(HttpResponse::Ok().json(json!({"results": results})))
}

/// Every action the schema allows on the resource's type, judged.
#[utoipa::path(
    post,
    path = "/v1/permissions",
    tag = "Decisions",
    operation_id = "permissions",
    summary = "Judge every action allowed on the resource type",
    description = "What a UI reads to show, hide or upsell: each entry equals what \
                   `/v1/authorize` answers for the same request.",
    security(("decisionToken" = []), ("adminToken" = []), ()),
    request_body(content = PermissionsRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Per-action verdicts.", body = PermissionsAnswer),
        (status = 400, response = doc::BadBody),
        (status = 401, response = doc::Unauthorized),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 422, description = PERMISSIONS_422, body = ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::Unavailable),
    )
)]
pub(in crate::http) async fn permissions(
    _: DecisionCaller,
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let v = read_json(&req, body, state.max_decision_body).await?;
    let m = object(v, "a permissions request")?;
    deny_unknown(&m, &["principal", "resource", "context", "entities"])?;
    let principal = parse_uid(required(&m, "principal")?, "principal")?;
    let resource = parse_uid(required(&m, "resource")?, "resource")?;
    let context = context_field(&m)?;
    let entities = entities_field(&m)?;
    let verdicts = state
        .engine
        .permissions(&principal, &resource, context.as_ref(), &entities)?;
    let mut actions = Map::new();
    for v in verdicts {
        let mut entry = decision_json(&v.decision);
        if let (Some(p), Value::Object(e)) = (&v.decision.payment, &mut entry) {
            e.insert("required_plan".into(), json!(p.required_plan));
        }
        actions.insert(v.action, entry);
    }
    Ok(HttpResponse::Ok().json(json!({"actions": actions})))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_body_that_may_spell_reserve_goes_to_the_blocking_pool() {
        assert!(super::may_reserve(br#"{"reserve": 1}"#));
        assert!(super::may_reserve(br#"{"\u0072eserve": 1}"#));
        assert!(!super::may_reserve(
            br#"{"principal": "User::\"a\"", "action": "Action::\"view_org\""}"#
        ));
    }
}
