//! Wire forms: entity uids in either spelling, and decision answers.

use cedar_policy::EntityUid;
use serde_json::{json, Map, Value};

use crate::engine::{self, Decision, DecisionInput, Outcome};
use crate::error::{Error, Result};

/// Parses a uid written as `{"type": "User", "id": "alice"}` or as `User::"alice"`.
pub fn parse_uid(v: &Value, field: &str) -> Result<EntityUid> {
    match v {
        Value::Object(m) => {
            let t = m.get("type").and_then(Value::as_str);
            let id = m.get("id").and_then(Value::as_str);
            match (t, id, m.len()) {
                (Some(t), Some(id), 2) => engine::uid(t, id),
                _ => Err(Error::invalid(
                    "INVALID_UID",
                    format!("`{field}` must be {{\"type\": ..., \"id\": ...}} or a string like `User::\"alice\"`"),
                )),
            }
        }
        Value::String(s) => s.parse::<EntityUid>().map_err(|e| {
            Error::invalid(
                "INVALID_UID",
                format!("`{field}` is not an entity uid like `User::\"alice\"`: {e}"),
            )
        }),
        _ => Err(Error::invalid(
            "INVALID_UID",
            format!("`{field}` must be an object or a string"),
        )),
    }
}

/// Takes the object out of a JSON body, or says what was expected.
pub fn object(v: Value, what: &str) -> Result<Map<String, Value>> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(Error::invalid(
            "INVALID_REQUEST",
            format!("{what} must be a JSON object"),
        )),
    }
}

/// Refuses fields outside `allowed`.
pub fn deny_unknown(m: &Map<String, Value>, allowed: &[&str]) -> Result<()> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(Error::invalid(
            "UNKNOWN_FIELD",
            format!(
                "unknown field `{k}`; expected one of {}",
                allowed.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// The wire name of an outcome.
pub fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Allow => "allow",
        Outcome::Deny => "deny",
        Outcome::PaymentRequired => "payment_required",
    }
}

/// The answer object of one decision.
pub fn decision_json(d: &Decision) -> Value {
    let mut m = Map::new();
    m.insert("decision".into(), json!(outcome_name(d.outcome)));
    m.insert("status".into(), json!(d.outcome.status()));
    m.insert("reasons".into(), json!(d.reasons));
    m.insert("errors".into(), json!(d.errors));
    if !d.warnings.is_empty() {
        m.insert("warnings".into(), json!(d.warnings));
    }
    if let Some(p) = &d.payment {
        m.insert(
            "payment".into(),
            serde_json::to_value(p).unwrap_or(Value::Null),
        );
    }
    Value::Object(m)
}

/// An error in a batch slot.
pub fn error_slot(e: &Error) -> Value {
    json!({"error": e.body()})
}

const REQUEST_FIELDS: &[&str] = &[
    "principal",
    "action",
    "resource",
    "context",
    "entities",
    "reserve",
];

/// Parses one decision request (`principal`, `action`, `resource`, optional `context`,
/// `entities`, `reserve`), refusing unknown fields.
pub fn decision_input(v: Value) -> Result<DecisionInput> {
    let m = object(v, "a decision request")?;
    deny_unknown(&m, REQUEST_FIELDS)?;
    let get = |k: &str| {
        m.get(k)
            .ok_or_else(|| Error::invalid("MISSING_FIELD", format!("`{k}` is required")))
    };
    let principal = parse_uid(get("principal")?, "principal")?;
    let action = parse_uid(get("action")?, "action")?;
    let resource = parse_uid(get("resource")?, "resource")?;
    let context = context_field(&m)?;
    let entities = entities_field(&m)?;
    if let Some(r) = m.get("reserve") {
        if !r.is_null() {
            // Reservations need the billing counters; until they exist, refuse rather than
            // answer as if the units had been taken.
            return Err(Error::invalid(
                "RESERVE_UNSUPPORTED",
                "`reserve` is not supported by this version of Tollgate",
            ));
        }
    }
    Ok(DecisionInput {
        principal,
        action,
        resource,
        context,
        entities,
    })
}

/// The optional `context` of a request: a JSON object, or absent.
pub fn context_field(m: &Map<String, Value>) -> Result<Option<Value>> {
    match m.get("context") {
        None | Some(Value::Null) => Ok(None),
        Some(c @ Value::Object(_)) => Ok(Some(c.clone())),
        Some(_) => Err(Error::invalid(
            "INVALID_CONTEXT",
            "`context` must be a JSON object",
        )),
    }
}

/// The optional `entities` of a request: an array, or absent.
pub fn entities_field(m: &Map<String, Value>) -> Result<Vec<Value>> {
    match m.get("entities") {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(a)) => Ok(a.clone()),
        Some(_) => Err(Error::invalid(
            "INVALID_ENTITY",
            "`entities` must be an array",
        )),
    }
}
