//! Generic entities: the tenancy rules of a stored one (its `Org` and `Workspace` parents must
//! exist and belong to one org, and its parents must not close a cycle), and their writes.

use std::collections::{BTreeSet, HashSet, VecDeque};

use cedar_policy::Entity;

use crate::error::{Code, Error, Result};
use crate::model::{Model, MAX_SLICE};
use serde_json::json;

use super::rows::OrgWrites;
use crate::audit::{self, AuditAction, AuditRecord};

/// Writes a parsed (schema-checked) entity to the store in Cedar's explicit JSON form, which
/// later parses without the schema. Refused (422, nothing written): an entity whose parents
/// would close a cycle (`PARENT_CYCLE`), and under the org model one whose `Org` or
/// `Workspace` parent does not exist (`UNKNOWN_PARENT`: it would wait for a future org to
/// create the id and adopt it) or whose parents belong to different orgs (`CROSS_ORG_PARENTS`).
pub fn store_entity(w: &impl OrgWrites, model: &Model, e: &Entity) -> Result<()> {
    let uid = e.uid();
    let (etype, eid) = (
        uid.type_name().to_string(),
        uid.id().unescaped().to_string(),
    );
    let json = e
        .to_json_value()
        .map_err(|e| Error::Internal(e.to_string()))?
        .to_string();
    let parents = parents_of_json(&json);
    if model.org_model {
        let mut orgs = BTreeSet::new();
        for (ptype, pid) in &parents {
            let org = match ptype.as_str() {
                "Org" => w.org(pid)?.map(|o| o.id),
                "Workspace" => w.workspace(pid)?.map(|ws| ws.org),
                _ => continue,
            };
            let Some(org) = org else {
                return Err(Error::new(
                    Code::UnknownParent,
                    format!(
                        "`{uid}` names the parent `{ptype}::{pid:?}`, which does not exist; \
                         create it through /v1/orgs first"
                    ),
                ));
            };
            orgs.insert(org);
        }
        if orgs.len() > 1 {
            return Err(Error::new(
                Code::CrossOrgParents,
                format!("`{uid}` names parents in more than one org"),
            ));
        }
    }
    // Walk up from the new parents through what is stored (this transaction's earlier
    // writes included): reaching the entity itself means the write would close a cycle.
    let mut seen = HashSet::new();
    let mut queue: VecDeque<(String, String)> = parents.iter().cloned().collect();
    while let Some(p) = queue.pop_front() {
        if p.0 == etype && p.1 == eid {
            return Err(Error::new(
                Code::ParentCycle,
                format!("`{uid}` would be its own ancestor"),
            ));
        }
        if !seen.insert(p.clone()) {
            continue;
        }
        if seen.len() > MAX_SLICE {
            return Err(Error::new(
                Code::SliceTooLarge,
                format!("`{uid}` has more than {} ancestors", MAX_SLICE),
            ));
        }
        queue.extend(w.entity_parents(&p.0, &p.1)?);
    }
    w.put_entity_with_parents(&etype, &eid, &json, &parents)
}

/// Writes parsed entities (each through [`store_entity`]) with one audit record.
pub fn put_entities(
    w: &impl OrgWrites,
    model: &Model,
    entities: &[Entity],
    now: i64,
) -> Result<()> {
    for e in entities {
        store_entity(w, model, e)?;
    }
    audit::append(
        w,
        AuditRecord {
            org: None,
            action: AuditAction::EntitiesPut,
            target: "entities".into(),
            detail: json!({"count": entities.len()}),
            at: now,
        },
    )
}

/// Deletes a stored entity; whether it existed (only a deletion is audited).
pub fn delete_entity(w: &impl OrgWrites, etype: &str, eid: &str, now: i64) -> Result<bool> {
    let uid = crate::model::uid(etype, eid)?;
    let found = w.delete_entity(etype, eid)?;
    if found {
        audit::append(
            w,
            AuditRecord {
                org: None,
                action: AuditAction::EntityDelete,
                target: uid.to_string(),
                detail: json!({}),
                at: now,
            },
        )?;
    }
    Ok(found)
}

/// The parents named by a stored entity's JSON (`{"type", "id"}` or `{"__entity": ...}`).
pub fn parents_of_json(json: &str) -> Vec<(String, String)> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
        return Vec::new();
    };
    let Some(serde_json::Value::Array(parents)) = v.get("parents") else {
        return Vec::new();
    };
    parents
        .iter()
        .filter_map(|p| {
            let p = p.get("__entity").unwrap_or(p);
            Some((
                p.get("type")?.as_str()?.to_string(),
                p.get("id")?.as_str()?.to_string(),
            ))
        })
        .collect()
}
