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
use crate::http::wire::{decision_json, error_slot};
use crate::http::AppState;

fn mirror(req: &HttpRequest) -> bool {
    web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .map(|q| q.get("mirror").is_some_and(|v| v == "1" || v == "true"))
        .unwrap_or(false)
}

pub(in crate::http) async fn authorize(
    _: DecisionCaller,
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let body = read_bytes(&req, body, state.max_decision_body).await?;
    require_json(&req)?;
    // A proxy repeats the same bodies: the engine answers those from the cache before any
    // parsing.
    let decision = state.engine.decide(Ask::Body(&body))?;
    let status = if mirror(&req) {
        StatusCode::from_u16(decision.outcome.status()).unwrap_or(StatusCode::FORBIDDEN)
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status).json(decision_json(&decision)))
}

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
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let answer = state.engine.decide(Ask::Json(item));
        results.push(match answer {
            Ok(d) => decision_json(&d),
            Err(e) => error_slot(e),
        });
    }
    Ok(HttpResponse::Ok().json(json!({"results": results})))
}

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
