//! The plan catalog checked against the policies: every feature and resource type a policy
//! names must exist in the catalog (else that gate could never open); the reverse is a warning.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cedar_policy::PolicySet;

use super::PolicyOrigin;
use crate::plans::Catalog;

/// Catalog features and resource types named by policies, each with the id of the first
/// policy that names it (for error locations).
#[derive(Debug, Default)]
pub struct Named {
    /// Feature name -> policy id.
    pub features: BTreeMap<String, String>,
    /// Resource type (`kind:name`) -> policy id.
    pub resource_types: BTreeMap<String, String>,
}

/// What the policies name: features in `@feature` and `.features.contains("...")`, resource
/// types in `@resource_type` and in `hasTag`/`getTag` literals shaped like `kind:name`.
pub(super) fn named_by_policies(policies: &PolicySet) -> Named {
    type Names = BTreeMap<String, String>;
    fn walk(v: &serde_json::Value, id: &str, features: &mut Names, types: &mut Names) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::Object(c)) = m.get("contains") {
                    let on_features = c
                        .get("left")
                        .and_then(|l| l.get("."))
                        .and_then(|d| d.get("attr"))
                        .and_then(|a| a.as_str())
                        == Some("features");
                    if let (true, Some(f)) = (
                        on_features,
                        c.get("right")
                            .and_then(|r| r.get("Value"))
                            .and_then(|v| v.as_str()),
                    ) {
                        features
                            .entry(f.to_string())
                            .or_insert_with(|| id.to_string());
                    }
                }
                for op in ["hasTag", "getTag"] {
                    if let Some(t) = m
                        .get(op)
                        .and_then(|c| c.get("right"))
                        .and_then(|r| r.get("Value"))
                        .and_then(|v| v.as_str())
                    {
                        if crate::plans::is_resource_type(t) {
                            types.entry(t.to_string()).or_insert_with(|| id.to_string());
                        }
                    }
                }
                m.values().for_each(|x| walk(x, id, features, types));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, id, features, types)),
            _ => {}
        }
    }
    let mut features = Names::new();
    let mut types = Names::new();
    for p in policies.policies() {
        let id = p.id().to_string();
        if let Some(f) = p.annotation("feature") {
            features.entry(f.to_string()).or_insert_with(|| id.clone());
        }
        if let Some(t) = p.annotation("resource_type") {
            types.entry(t.to_string()).or_insert_with(|| id.clone());
        }
        if let Ok(est) = p.to_json() {
            walk(&est, &id, &mut features, &mut types);
        }
    }
    Named {
        features,
        resource_types: types,
    }
}

/// Checks the catalog against the policies: a feature or resource type a policy names but the
/// catalog lacks is an error (that gate could never open); the reverse is a warning.
pub(super) fn check_catalog(
    named: &Named,
    origins: &HashMap<String, PolicyOrigin>,
    catalog: &Catalog,
    name: &str,
) -> (Vec<String>, Vec<String>) {
    let (features, types) = (&named.features, &named.resource_types);
    // `file:line: ` of the policy that names it, so the admin lands on the line to fix.
    let at = |id: &str| match origins.get(id) {
        Some(o) if o.line > 0 => format!("{}:{}: policy `{id}`", o.file, o.line),
        Some(o) => format!("{}: policy `{id}`", o.file),
        None => format!("policy `{id}`"),
    };
    let known_features = catalog.features();
    let known_types: BTreeSet<&str> = catalog.resource_types.iter().map(String::as_str).collect();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for (f, id) in features {
        if !known_features.contains(f.as_str()) {
            errors.push(format!(
                "error: {} names the feature `{f}`, which no tier of `{name}` has",
                at(id)
            ));
        }
    }
    for (t, id) in types {
        if !known_types.contains(t.as_str()) {
            errors.push(format!(
                "error: {} names the resource type `{t}`, which `{name}` does not list",
                at(id)
            ));
        }
    }
    for f in known_features {
        if !features.contains_key(f) {
            warnings.push(format!(
                "warning: the feature `{f}` of `{name}` is named by no policy"
            ));
        }
    }
    for t in known_types {
        if !types.contains_key(t) {
            warnings.push(format!(
                "warning: the resource type `{t}` of `{name}` is named by no policy"
            ));
        }
    }
    (errors, warnings)
}
