//! The tenancy rules of a stored entity: its `Org` and `Workspace` parents must exist and
//! belong to one org, and its parents must not close a cycle.

use std::collections::{BTreeSet, HashSet, VecDeque};

use cedar_policy::Entity;

use crate::error::{Code, Error, Result};
use crate::model::{Model, MAX_SLICE};
use crate::store::Writer;

/// Writes a parsed (schema-checked) entity to the store in Cedar's explicit JSON form, which
/// later parses without the schema. Refused (422, nothing written): an entity whose parents
/// would close a cycle (`PARENT_CYCLE`), and under the org model one whose `Org` or
/// `Workspace` parent does not exist (`UNKNOWN_PARENT`: it would wait for a future org to
/// create the id and adopt it) or whose parents belong to different orgs (`CROSS_ORG_PARENTS`).
pub fn store_entity(w: &Writer<'_>, model: &Model, e: &Entity) -> Result<()> {
    let uid = e.uid();
    let (etype, eid) = (
        uid.type_name().to_string(),
        uid.id().unescaped().to_string(),
    );
    let json = e
        .to_json_value()
        .map_err(|e| Error::Internal(e.to_string()))?
        .to_string();
    let parents = crate::store::parents_of_json(&json);
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
