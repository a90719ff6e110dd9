//! Per-action policy slices: for each action the schema declares, the policies whose scope can
//! match it, split into the role side and the plan gates (`@gate` forbids).

use std::collections::{HashMap, HashSet};

use cedar_policy::{
    ActionConstraint, Effect, Entity, EntityUid, Policy, PolicyId, PolicySet, Schema,
};

use crate::error::{Error, Result};

/// What kind of plan gate a forbid policy is (from its `@gate` annotation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// `@gate("feature") @feature("x")`: the plan lacks a feature.
    Feature(String),
    /// `@gate("limit") @resource_type("quota:x")`: a limit is reached.
    Limit(String),
}

/// Policies and entities that can matter for one action.
#[derive(Debug)]
pub struct ActionModel {
    /// The action entity and its ancestor action groups, from the schema.
    pub entities: Vec<Entity>,
    /// Every policy whose action scope can match this action.
    pub policies: PolicySet,
    /// The same minus plan gates: the role side.
    pub role_policies: PolicySet,
    /// Plan gates among `policies`.
    pub gates: HashMap<PolicyId, Gate>,
    /// Whether any of `policies` reads an entity's tags (`getTag`, `hasTag`): an org's usage
    /// lives in its tags, so only such a decision depends on the app usage counters. Cedar
    /// names attributes literally and reaches tags only through these two operators, so a
    /// policy whose text names neither cannot read usage (over-approximated: any mention
    /// counts, even in a string).
    pub reads_tags: bool,
}

fn gate_of(p: &Policy) -> Result<Option<Gate>> {
    let Some(kind) = p.annotation("gate") else {
        return Ok(None);
    };
    let id = p.id().to_string();
    if p.effect() != Effect::Forbid {
        return Err(Error::PolicyLoad(format!(
            "plan gate `{id}` must be a `forbid` policy"
        )));
    }
    match kind {
        "feature" => match p.annotation("feature") {
            Some(f) => Ok(Some(Gate::Feature(f.to_string()))),
            None => Err(Error::PolicyLoad(format!(
                "plan gate `{id}` needs `@feature(\"...\")`"
            ))),
        },
        "limit" => match p.annotation("resource_type") {
            Some(rt) if crate::plans::is_resource_type(rt) => Ok(Some(Gate::Limit(rt.to_string()))),
            _ => Err(Error::PolicyLoad(format!(
                "plan gate `{id}` needs `@resource_type(\"kind:name\")`"
            ))),
        },
        other => Err(Error::PolicyLoad(format!(
            "plan gate `{id}` has unknown kind `{other}` (expected `feature` or `limit`)"
        ))),
    }
}

pub(super) fn action_models(
    schema: &Schema,
    policies: &PolicySet,
) -> Result<HashMap<EntityUid, ActionModel>> {
    let action_entities = schema
        .action_entities()
        .map_err(|e| Error::PolicyLoad(format!("schema actions: {e}")))?;
    let mut gates = HashMap::new();
    for p in policies.policies() {
        if let Some(g) = gate_of(p)? {
            gates.insert(p.id().clone(), g);
        }
    }
    let mut out = HashMap::new();
    for action in schema.actions() {
        let mut lineage: HashSet<EntityUid> = action_entities
            .ancestors(action)
            .map(|a| a.cloned().collect())
            .unwrap_or_default();
        let mut entities: Vec<Entity> = lineage
            .iter()
            .filter_map(|u| action_entities.get(u).cloned())
            .collect();
        if let Some(e) = action_entities.get(action) {
            entities.push(e.clone());
        }
        lineage.insert(action.clone());
        let mut all = PolicySet::new();
        let mut role = PolicySet::new();
        let mut action_gates = HashMap::new();
        let mut reads_tags = false;
        for p in policies.policies() {
            let applies = match p.action_constraint() {
                ActionConstraint::Any => true,
                ActionConstraint::Eq(a) => &a == action,
                ActionConstraint::In(list) => list.iter().any(|a| lineage.contains(a)),
            };
            if !applies {
                continue;
            }
            let add = |set: &mut PolicySet| {
                set.add(p.clone())
                    .map_err(|e| Error::PolicyLoad(format!("policy `{}`: {e}", p.id())))
            };
            add(&mut all)?;
            let text = p.to_string();
            reads_tags |= text.contains("getTag") || text.contains("hasTag");
            match gates.get(p.id()) {
                Some(g) => {
                    action_gates.insert(p.id().clone(), g.clone());
                }
                None => add(&mut role)?,
            }
        }
        out.insert(
            action.clone(),
            ActionModel {
                entities,
                policies: all,
                role_policies: role,
                gates: action_gates,
                reads_tags,
            },
        );
    }
    Ok(out)
}
