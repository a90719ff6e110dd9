//! The slice cache's key: what a slice is built from besides the store and the model (the
//! principal, the resource and the uids the context names), and the entity references in JSON.

use cedar_policy::{Entity, EntityUid};
use serde_json::Value;

use crate::model::uid;

/// What a slice is built from besides the store and the model: the principal, the resource and
/// the uids the context names, key by key (an org named by the context is found by key
/// order). `None` when the request brings its own entities, which are not worth keying.
pub fn cache_key(
    principal: &EntityUid,
    resource: &EntityUid,
    context: &Value,
    provided: &[(Entity, Value)],
) -> Option<String> {
    if !provided.is_empty() {
        return None;
    }
    use std::fmt::Write;
    let mut k = format!("{principal}\u{0}{resource}");
    if let Value::Object(m) = context {
        let mut refs = Vec::new();
        for (name, v) in m {
            refs.clear();
            json_refs(v, &mut refs);
            if refs.is_empty() {
                continue;
            }
            let _ = write!(k, "\u{0}{name}");
            for r in &refs {
                let _ = write!(k, "\u{1}{r}");
            }
        }
    }
    Some(k)
}

/// Collects entity uids referenced anywhere in a JSON value: `{"__entity": {...}}` escapes and
/// bare `{"type": .., "id": ..}` objects (the schema-implied form). Over-collecting only costs a
/// lookup that finds nothing.
pub fn json_refs(v: &Value, out: &mut Vec<EntityUid>) {
    match v {
        Value::Object(m) => {
            if let Some(inner) = m.get("__entity") {
                if let Some(u) = uid_of_json(inner) {
                    out.push(u);
                }
                return;
            }
            if m.len() == 2 {
                if let Some(u) = uid_of_json(v) {
                    out.push(u);
                    return;
                }
            }
            for x in m.values() {
                json_refs(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| json_refs(x, out)),
        _ => {}
    }
}

fn uid_of_json(v: &Value) -> Option<EntityUid> {
    let t = v.get("type")?.as_str()?;
    let id = v.get("id")?.as_str()?;
    uid(t, id).ok()
}
