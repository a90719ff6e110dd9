//! A decision request as the engine takes it: parsed from its JSON (uids in either spelling,
//! unknown fields refused), its context type-checked against the action's context type, and
//! its entities checked against the schema and the org model's rules.

use cedar_policy::{Context, Entity, EntityUid};
use serde_json::{Map, Value};

use crate::error::{Code, Error, Result};
use crate::model::{render, uid, Model};

/// A decision request, parsed.
#[derive(Debug, Clone)]
pub struct DecisionInput {
    /// Who acts.
    pub principal: EntityUid,
    /// What they do.
    pub action: EntityUid,
    /// On what.
    pub resource: EntityUid,
    /// Facts about the act (a JSON object); `None` is an empty context.
    pub context: Option<Value>,
    /// Entity JSON the store may lack.
    pub entities: Vec<Value>,
    /// Units of the app-owned quota that gates the action to take atomically with an allow
    /// (`reserve: n`); such a decision is a write and never cached.
    pub reserve: Option<i64>,
}

impl DecisionInput {
    /// The canonical rendering of the request, for the decision cache.
    pub(super) fn cache_key(&self) -> Vec<u8> {
        format!(
            "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
            self.principal,
            self.action,
            self.resource,
            self.context
                .as_ref()
                .map(Value::to_string)
                .unwrap_or_default(),
            Value::Array(self.entities.clone())
        )
        .into_bytes()
    }
}

/// Parses a uid written as `{"type": "User", "id": "alice"}` or as `User::"alice"`.
pub fn parse_uid(v: &Value, field: &str) -> Result<EntityUid> {
    match v {
        Value::Object(m) => {
            let t = m.get("type").and_then(Value::as_str);
            let id = m.get("id").and_then(Value::as_str);
            match (t, id, m.len()) {
                (Some(t), Some(id), 2) => uid(t, id),
                _ => Err(Error::new(
                    Code::InvalidUid,
                    format!("`{field}` must be {{\"type\": ..., \"id\": ...}} or a string like `User::\"alice\"`"),
                )),
            }
        }
        Value::String(s) => s.parse::<EntityUid>().map_err(|e| {
            Error::new(
                Code::InvalidUid,
                format!("`{field}` is not an entity uid like `User::\"alice\"`: {e}"),
            )
        }),
        _ => Err(Error::new(
            Code::InvalidUid,
            format!("`{field}` must be an object or a string"),
        )),
    }
}

/// Takes the object out of a JSON body, or says what was expected.
pub fn object(v: Value, what: &str) -> Result<Map<String, Value>> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(Error::new(
            Code::InvalidRequest,
            format!("{what} must be a JSON object"),
        )),
    }
}

/// Refuses fields outside `allowed`.
pub fn deny_unknown(m: &Map<String, Value>, allowed: &[&str]) -> Result<()> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(Error::new(
            Code::UnknownField,
            format!(
                "unknown field `{k}`; expected one of {}",
                allowed.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// The most units one `reserve` may take.
pub const MAX_RESERVE: i64 = 1_000_000;

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
pub fn parse_request(v: Value) -> Result<DecisionInput> {
    let m = object(v, "a decision request")?;
    deny_unknown(&m, REQUEST_FIELDS)?;
    let principal = parse_uid(required(&m, "principal")?, "principal")?;
    let action = parse_uid(required(&m, "action")?, "action")?;
    let resource = parse_uid(required(&m, "resource")?, "resource")?;
    let context = context_field(&m)?;
    let entities = entities_field(&m)?;
    let reserve = match m.get("reserve") {
        None | Some(Value::Null) => None,
        Some(r) => match r.as_i64() {
            Some(n) if (1..=MAX_RESERVE).contains(&n) => Some(n),
            _ => {
                return Err(Error::new(
                    Code::InvalidReserve,
                    format!("`reserve` must be a whole number from 1 to {MAX_RESERVE}"),
                ))
            }
        },
    };
    Ok(DecisionInput {
        principal,
        action,
        resource,
        context,
        entities,
        reserve,
    })
}

/// A field the request must have (422 `MISSING_FIELD` without it).
pub fn required<'a>(m: &'a Map<String, Value>, key: &str) -> Result<&'a Value> {
    m.get(key)
        .ok_or_else(|| Error::new(Code::MissingField, format!("`{key}` is required")))
}

/// The optional `context` of a request: a JSON object, or absent.
pub fn context_field(m: &Map<String, Value>) -> Result<Option<Value>> {
    match m.get("context") {
        None | Some(Value::Null) => Ok(None),
        Some(c @ Value::Object(_)) => Ok(Some(c.clone())),
        Some(_) => Err(Error::new(
            Code::InvalidContext,
            "`context` must be a JSON object",
        )),
    }
}

/// The optional `entities` of a request: an array, or absent.
pub fn entities_field(m: &Map<String, Value>) -> Result<Vec<Value>> {
    match m.get("entities") {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(a)) => Ok(a.clone()),
        Some(_) => Err(Error::new(
            Code::InvalidEntity,
            "`entities` must be an array",
        )),
    }
}

pub(super) fn context(model: &Model, action: &EntityUid, context: &Value) -> Result<Context> {
    let bad = |m: String| {
        Error::new(
            Code::InvalidContext,
            format!("context is invalid for `{action}`: {m}"),
        )
    };
    // Most requests carry no context; Cedar's JSON parser costs microseconds even for `{}`.
    let ctx = match context {
        Value::Object(m) if m.is_empty() => Context::empty(),
        _ => Context::from_json_value(context.clone(), Some((&model.schema, action)))
            .map_err(|e| bad(render(&e)))?,
    };
    // Parsing against the schema converts but does not type-check every value.
    ctx.validate(&model.schema, action)
        .map_err(|e| bad(render(&e)))?;
    Ok(ctx)
}

/// Top-level keys of Cedar entity JSON; anything else is a typo that Cedar would drop.
const ENTITY_FIELDS: [&str; 4] = ["uid", "attrs", "parents", "tags"];

/// Entity types whose data only Tollgate's org API writes while the built-in org model is
/// loaded: accepting them as entity data would let a caller invent an org's plan or roles.
pub const MANAGED_TYPES: [&str; 4] = ["Org", "Workspace", "Plan", "RoleSet"];

/// `User` attributes Tollgate fills from the store; never taken from entity data.
pub const VIEW_ATTRS: [&str; 2] = ["membership", "workspace_access"];

/// Parses Cedar entity JSON against the model's schema, refusing unknown keys, duplicate uids,
/// and (under the built-in org model) entities or attributes that only the store may supply.
pub fn parse_entities(model: &Model, items: &[Value]) -> Result<Vec<Entity>> {
    let schema = &model.schema;
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    let mut out = Vec::with_capacity(items.len());
    for (i, v) in items.iter().enumerate() {
        if let Value::Object(m) = v {
            if let Some(k) = m.keys().find(|k| !ENTITY_FIELDS.contains(&k.as_str())) {
                return Err(Error::new(
                    Code::UnknownField,
                    format!("entity {i}: unknown field `{k}`; expected uid, attrs, parents, tags"),
                ));
            }
        }
        let e = Entity::from_json_value(v.clone(), Some(schema))
            .map_err(|e| Error::new(Code::InvalidEntity, format!("entity {i}: {}", render(&e))))?;
        let uid = e.uid();
        if uid.type_name().basename() == "Action" {
            return Err(Error::new(
                Code::InvalidEntity,
                format!("entity {i}: actions come from the schema, not from entity data"),
            ));
        }
        if !seen.insert(uid.clone()) {
            return Err(Error::new(
                Code::DuplicateEntity,
                format!("entity {i}: `{uid}` appears twice"),
            ));
        }
        if model.org_model {
            let tname = uid.type_name().to_string();
            if MANAGED_TYPES.contains(&tname.as_str()) {
                return Err(Error::new(
                    Code::ManagedEntity,
                    format!("entity {i}: `{uid}` is managed by Tollgate's org API (/v1/orgs), not sent as entity data"),
                ));
            }
            if tname == "User" {
                if let Some(a) = VIEW_ATTRS.iter().find(|a| e.attr(a).is_some()) {
                    return Err(Error::new(
                        Code::ManagedEntity,
                        format!(
                            "entity {i}: `{uid}` sets `{a}`, which Tollgate fills from the store"
                        ),
                    ));
                }
            }
        }
        out.push(e);
    }
    Ok(out)
}

/// [`parse_entities`], each entity kept with the JSON it came from (the slice keeps both).
pub(super) fn parse_provided(model: &Model, items: &[Value]) -> Result<Vec<(Entity, Value)>> {
    let parsed = parse_entities(model, items)?;
    Ok(parsed.into_iter().zip(items.iter().cloned()).collect())
}
