//! Wire forms of answers: a decision as JSON, an error in a batch slot.

use serde_json::{json, Map, Value};

use super::error::HttpError;
use crate::engine::{Decision, Outcome};

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
pub fn error_slot(e: crate::error::Error) -> Value {
    json!({"error": HttpError::from(e).body()})
}
