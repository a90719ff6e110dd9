//! The declared type of every context key of every action, read from the schema's JSON form:
//! a route fills context from strings (path, query, headers), and must know which ones Cedar
//! wants as a `Long`, a `Bool` or an entity, and which keys an action's context has at all.

use std::collections::HashMap;
use std::str::FromStr;

use cedar_policy::{EntityTypeName, EntityUid, SchemaFragment};
use serde_json::{json, Map, Value};

/// What one context key holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextKind {
    /// `String`.
    String,
    /// `Long`.
    Long,
    /// `Bool`.
    Bool,
    /// An entity of this type.
    Entity(EntityTypeName),
    /// Anything a route cannot fill from a string (a set, a record, an extension type).
    Other(String),
}

impl ContextKind {
    /// Cedar's JSON for `s` read as this kind; `None` when `s` is not one.
    pub fn value(&self, s: &str) -> Option<Value> {
        match self {
            ContextKind::String => Some(Value::String(s.to_string())),
            ContextKind::Long => s.parse::<i64>().ok().map(|n| json!(n)),
            ContextKind::Bool => match s {
                "true" => Some(json!(true)),
                "false" => Some(json!(false)),
                _ => None,
            },
            ContextKind::Entity(t) => Some(json!({"__entity": {"type": t.to_string(), "id": s}})),
            ContextKind::Other(_) => None,
        }
    }

    /// The kind in words.
    pub fn describe(&self) -> String {
        match self {
            ContextKind::String => "String".into(),
            ContextKind::Long => "Long".into(),
            ContextKind::Bool => "Bool".into(),
            ContextKind::Entity(t) => format!("`{t}` entity id"),
            ContextKind::Other(t) => t.clone(),
        }
    }
}

/// One declared context key: its kind, and whether the action requires it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextKey {
    /// What it holds.
    pub kind: ContextKind,
    /// Whether a context without it is invalid (`required`, Cedar's default).
    pub required: bool,
}

/// Every action's context keys and their kinds.
#[derive(Debug, Default)]
pub struct ContextTypes(HashMap<EntityUid, HashMap<String, ContextKey>>);

impl ContextTypes {
    /// The context keys of `action`, if the schema declares the action.
    pub fn of(&self, action: &EntityUid) -> Option<&HashMap<String, ContextKey>> {
        self.0.get(action)
    }

    /// Reads them from a schema source (Cedar schema syntax, or JSON when `name` ends in
    /// `.json`). A schema Cedar accepted parses here too; an error names why.
    pub fn read(name: &str, text: &str) -> Result<ContextTypes, String> {
        let fragment = if name.ends_with(".json") {
            SchemaFragment::from_json_str(text).map_err(|e| e.to_string())?
        } else {
            SchemaFragment::from_cedarschema_str(text)
                .map_err(|e| e.to_string())?
                .0
        };
        let json = fragment.to_json_value().map_err(|e| e.to_string())?;
        Ok(ContextTypes::from_json(&json))
    }

    fn from_json(json: &Value) -> ContextTypes {
        let mut out = HashMap::new();
        let Some(namespaces) = json.as_object() else {
            return ContextTypes(out);
        };
        for (ns, body) in namespaces {
            let common = body
                .get("commonTypes")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let r = Resolver {
                ns,
                common: &common,
            };
            let Some(actions) = body.get("actions").and_then(Value::as_object) else {
                continue;
            };
            for (name, a) in actions {
                let prefix = if ns.is_empty() {
                    String::new()
                } else {
                    format!("{ns}::")
                };
                let Ok(uid) = EntityUid::from_str(&format!(
                    "{prefix}Action::{}",
                    Value::String(name.clone())
                )) else {
                    continue;
                };
                let mut keys = HashMap::new();
                if let Some(ctx) = a.get("appliesTo").and_then(|t| t.get("context")) {
                    if let Some(attrs) = r.record(ctx, 0) {
                        for (k, v) in attrs {
                            let required =
                                v.get("required").and_then(Value::as_bool) != Some(false);
                            keys.insert(
                                k.clone(),
                                ContextKey {
                                    kind: r.kind(v, 0),
                                    required,
                                },
                            );
                        }
                    }
                }
                out.insert(uid, keys);
            }
        }
        ContextTypes(out)
    }
}

struct Resolver<'a> {
    ns: &'a str,
    common: &'a Map<String, Value>,
}

impl Resolver<'_> {
    /// The common type a name refers to, if it is one (`Name` or `NS::Name`).
    fn common_type(&self, name: &str) -> Option<&Value> {
        let local = name
            .strip_prefix(self.ns)
            .and_then(|r| r.strip_prefix("::"))
            .unwrap_or(name);
        self.common.get(local)
    }

    /// The attributes of a record type (following common-type references).
    fn record<'v>(&'v self, ty: &'v Value, depth: usize) -> Option<&'v Map<String, Value>> {
        if depth > 8 {
            return None;
        }
        match ty.get("type").and_then(Value::as_str)? {
            "Record" => ty.get("attributes").and_then(Value::as_object),
            "EntityOrCommon" => {
                let name = ty.get("name").and_then(Value::as_str)?;
                self.record(self.common_type(name)?, depth + 1)
            }
            other => self.record(self.common_type(other)?, depth + 1),
        }
    }

    fn entity(&self, name: &str) -> ContextKind {
        let full = if name.contains("::") || self.ns.is_empty() {
            name.to_string()
        } else {
            format!("{}::{name}", self.ns)
        };
        EntityTypeName::from_str(&full)
            .map(ContextKind::Entity)
            .unwrap_or_else(|_| ContextKind::Other(name.to_string()))
    }

    fn kind(&self, ty: &Value, depth: usize) -> ContextKind {
        let other = |t: &str| ContextKind::Other(t.to_string());
        if depth > 8 {
            return other("a deep type");
        }
        let Some(t) = ty.get("type").and_then(Value::as_str) else {
            return other("an unknown type");
        };
        let named = |name: &str| match name.trim_start_matches("__cedar::") {
            "String" => Some(ContextKind::String),
            "Long" => Some(ContextKind::Long),
            "Bool" | "Boolean" => Some(ContextKind::Bool),
            _ => None,
        };
        match t {
            "String" => ContextKind::String,
            "Long" => ContextKind::Long,
            "Boolean" | "Bool" => ContextKind::Bool,
            "Set" => other("Set"),
            "Record" => other("Record"),
            "Extension" => other(
                ty.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("Extension"),
            ),
            "Entity" => ty
                .get("name")
                .and_then(Value::as_str)
                .map_or_else(|| other("Entity"), |n| self.entity(n)),
            "EntityOrCommon" => {
                let Some(name) = ty.get("name").and_then(Value::as_str) else {
                    return other("EntityOrCommon");
                };
                if let Some(c) = self.common_type(name) {
                    return self.kind(c, depth + 1);
                }
                if let Some(k) = named(name) {
                    return k;
                }
                match name.trim_start_matches("__cedar::") {
                    "ipaddr" | "decimal" | "datetime" | "duration" => other(name),
                    _ => self.entity(name),
                }
            }
            name => match self.common_type(name) {
                Some(c) => self.kind(c, depth + 1),
                None => named(name).unwrap_or_else(|| other(name)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schema_s_context_keys_are_typed() {
        let t = ContextTypes::read(
            "s.cedarschema",
            include_str!("../../schema/tollgate.cedarschema"),
        )
        .unwrap();
        let invite = t
            .of(&EntityUid::from_str("Action::\"invite_user\"").unwrap())
            .unwrap();
        assert_eq!(
            invite.get("role").map(|k| &k.kind),
            Some(&ContextKind::String)
        );
        assert!(invite["role"].required);
        let bulk = t
            .of(&EntityUid::from_str("Action::\"bulk_invite_users\"").unwrap())
            .unwrap();
        assert_eq!(bulk.get("count").map(|k| &k.kind), Some(&ContextKind::Long));
        let transfer = t
            .of(&EntityUid::from_str("Action::\"transfer_ownership\"").unwrap())
            .unwrap();
        assert_eq!(
            transfer.get("new_owner").map(|k| &k.kind),
            Some(&ContextKind::Entity(
                EntityTypeName::from_str("User").unwrap()
            ))
        );
        let view = t
            .of(&EntityUid::from_str("Action::\"view_org\"").unwrap())
            .unwrap();
        assert!(view.is_empty());
    }

    #[test]
    fn namespaces_common_types_and_json_schemas_resolve() {
        let src = r#"
            namespace App {
              type Ctx = { n?: Long, ok: Bool, who: User, tags: Set<String>, ip: ipaddr };
              entity User;
              entity Doc;
              action read appliesTo { principal: User, resource: Doc, context: Ctx };
            }
        "#;
        let t = ContextTypes::read("s.cedarschema", src).unwrap();
        let read = t
            .of(&EntityUid::from_str("App::Action::\"read\"").unwrap())
            .unwrap();
        assert_eq!(read.get("n").map(|k| &k.kind), Some(&ContextKind::Long));
        assert!(!read["n"].required && read["ok"].required);
        assert_eq!(read.get("ok").map(|k| &k.kind), Some(&ContextKind::Bool));
        assert_eq!(
            read.get("who").map(|k| &k.kind),
            Some(&ContextKind::Entity(
                EntityTypeName::from_str("App::User").unwrap()
            ))
        );
        assert!(matches!(
            read.get("tags").map(|k| &k.kind),
            Some(ContextKind::Other(_))
        ));
        assert!(matches!(
            read.get("ip").map(|k| &k.kind),
            Some(ContextKind::Other(_))
        ));
        let json = r#"{"": {"entityTypes": {"U": {}}, "actions": {"go": {"appliesTo": {
            "principalTypes": ["U"], "resourceTypes": ["U"],
            "context": {"type": "Record", "attributes": {"s": {"type": "String"}}}}}}}}"#;
        let t = ContextTypes::read("s.json", json).unwrap();
        let go = t
            .of(&EntityUid::from_str("Action::\"go\"").unwrap())
            .unwrap();
        assert_eq!(go.get("s").map(|k| &k.kind), Some(&ContextKind::String));
    }
}
