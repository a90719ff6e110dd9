//! Builds a request's slice: the resource and its ancestors (finding the org and workspace),
//! then everything reachable from the principal, the context and policy literals; the acting
//! member's `membership` and `workspace_access` views for the org; one org per request.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use cedar_policy::{Entity, EntityUid, RestrictedExpression};
use serde_json::Value;

use super::key::json_refs;
use super::{CustomView, Slice};
use crate::engine::OrgCache;
use crate::error::{Code, Error, Result};
use crate::model::{uid, Model, MAX_SLICE};
use crate::org::{OrgCtx, OrgState, WorkspaceRow};
use crate::store::{Reader, Store};

struct Fetched {
    entity: Option<Entity>,
    /// Taken from the request's own entities, not from the store.
    provided: bool,
    parents: Vec<EntityUid>,
    refs: Vec<EntityUid>,
    org: Option<Arc<OrgState>>,
    workspace: Option<WorkspaceRow>,
}

/// An org state a slice read from the store, to keep in the org cache once the slice's reads
/// are known to be consistent with the versions they recorded.
pub struct OrgRead {
    /// Org id.
    pub id: String,
    /// The org's and its usage's stripe versions, as recorded for the read.
    pub deps: [(usize, u64); 2],
    /// What was read.
    pub state: Arc<OrgState>,
}

struct Builder<'m, 'r, 'c> {
    store: &'m crate::store::Store,
    orgs: &'m OrgCache,
    model: &'m Model,
    deps: Vec<(usize, u64)>,
    usage_deps: Vec<(usize, u64)>,
    org_reads: Vec<OrgRead>,
    weight: usize,
    reader: &'r Reader<'c>,
    ctx: OrgCtx<'m>,
    provided: HashMap<EntityUid, (Entity, Value)>,
    warnings: Vec<String>,
}

fn type_is(u: &EntityUid, name: &str) -> bool {
    u.type_name().to_string() == name
}

impl Builder<'_, '_, '_> {
    /// Looks `u` up: the store first, then the request's entities. `store_only` for what a
    /// stored entity names (a parent, an attribute's entity): a request may add entities the
    /// store lacks, and may fill in one a stored entity names with its attributes, but never
    /// with parents of its own, which would place it (and the stored entity, for a parent)
    /// under ancestors of the request's choosing (another org).
    fn fetch(&mut self, u: &EntityUid, store_only: bool) -> Result<Option<Fetched>> {
        let tname = u.type_name().to_string();
        let id = u.id().unescaped();
        // The version is taken before the read: a write committing meanwhile makes this
        // slice's cached decision stale, never the reverse.
        let stripe = crate::store::stripe(&tname, id);
        let version = self.store.stripe_version(stripe);
        self.deps.push((stripe, version));
        if tname == "Org" {
            let usage = crate::store::stripe(crate::store::USAGE_STRIPE_TYPE, id);
            let usage_version = self.store.stripe_version(usage);
            self.usage_deps.push((usage, usage_version));
            let (generation, now) = (self.model.generation, self.ctx.now);
            let store = self.store;
            let cached = self
                .orgs
                .get(id, generation, |s| store.stripe_version(s), now);
            let state = match cached {
                Some(s) => Some(s),
                None => crate::org::org_state(self.reader, self.ctx, id)?.map(|s| {
                    let s = Arc::new(s);
                    self.org_reads.push(OrgRead {
                        id: id.to_string(),
                        deps: [(stripe, version), (usage, usage_version)],
                        state: s.clone(),
                    });
                    s
                }),
            };
            if let Some(state) = state {
                return Ok(Some(Fetched {
                    entity: None,
                    provided: false,
                    parents: vec![],
                    refs: vec![],
                    org: Some(state),
                    workspace: None,
                }));
            }
        }
        if tname == "Workspace" {
            if let Some(ws) = self.reader.workspace(id)? {
                let org = uid("Org", &ws.org)?;
                let attrs = [
                    (
                        "org".to_string(),
                        RestrictedExpression::new_entity_uid(org.clone()),
                    ),
                    (
                        "name".to_string(),
                        RestrictedExpression::new_string(ws.name.clone()),
                    ),
                ];
                let e = Entity::new(
                    u.clone(),
                    attrs.into_iter().collect(),
                    [org.clone()].into_iter().collect(),
                )
                .map_err(|e| Error::Internal(e.to_string()))?;
                self.weight += 512 + ws.id.len() + ws.name.len();
                return Ok(Some(Fetched {
                    entity: Some(e),
                    provided: false,
                    parents: vec![org.clone()],
                    refs: vec![],
                    org: None,
                    workspace: Some(ws),
                }));
            }
        }
        if let Some(json) = self.reader.entity_json(&tname, id)? {
            self.weight += 256 + json.len() * 4;
            let value: Value = serde_json::from_str(&json)
                .map_err(|e| Error::Internal(format!("stored entity `{u}` is not JSON: {e}")))?;
            let mut parents = Vec::new();
            if let Some(p) = value.get("parents") {
                json_refs(p, &mut parents);
            }
            let mut refs = Vec::new();
            for key in ["attrs", "tags"] {
                if let Some(v) = value.get(key) {
                    json_refs(v, &mut refs);
                }
            }
            let entity = Entity::from_json_value(value.clone(), None)
                .map_err(|e| Error::Internal(format!("stored entity `{u}`: {e}")))?;
            if self.provided.contains_key(u) {
                self.warnings.push(format!(
                    "request entity `{u}` is ignored: the store holds an entity with that uid"
                ));
            }
            return Ok(Some(Fetched {
                entity: Some(entity),
                provided: false,
                parents,
                refs,
                org: None,
                workspace: None,
            }));
        }
        if let Some((e, raw)) = self.provided.get(u) {
            let mut parents = Vec::new();
            if let Some(p) = raw.get("parents") {
                json_refs(p, &mut parents);
            }
            if store_only && !parents.is_empty() {
                self.warnings.push(format!(
                    "request entity `{u}` is ignored: a stored entity names it, and only the \
                     store places what stored entities name under ancestors"
                ));
                return Ok(None);
            }
            self.weight += 512;
            let mut refs = Vec::new();
            for key in ["attrs", "tags"] {
                if let Some(v) = raw.get(key) {
                    json_refs(v, &mut refs);
                }
            }
            return Ok(Some(Fetched {
                entity: Some(e.clone()),
                provided: true,
                parents,
                refs,
                org: None,
                workspace: None,
            }));
        }
        Ok(None)
    }

    /// The `membership` / `workspace_access` view of a user in the request's org.
    ///
    /// `lapsed`: a custom role whose plan feature lapsed acts as the lowest built-in role
    /// (default-model.md, "When a feature lapses") — never as more than the role itself: the
    /// higher of the two levels and the permissions both hold; the member keeps the role's
    /// name and seat. Also says whether the member's role is a custom one.
    fn user_view(
        &self,
        user: &EntityUid,
        org: &OrgState,
        workspace: Option<&WorkspaceRow>,
        lapsed: bool,
    ) -> Result<UserView> {
        let user_id = user.id().unescaped();
        let mut attrs = Vec::new();
        let Some(role) = self.reader.member_role(&org.row.id, user_id)? else {
            return Ok(UserView::default());
        };
        let Some(stored) = org.role(&role) else {
            return Ok(UserView::default());
        };
        let custom = self.ctx.catalog.role(&role).is_none();
        let weaker;
        let def = match (lapsed && custom, self.ctx.catalog.roles.last()) {
            (true, Some(lowest)) => {
                weaker = crate::plans::RoleDef {
                    level: stored.level.max(lowest.level),
                    permissions: stored
                        .permissions
                        .intersection(&lowest.permissions)
                        .cloned()
                        .collect(),
                    ..stored.clone()
                };
                &weaker
            }
            _ => stored,
        };
        let primary = org.row.primary_owner.as_deref() == Some(user_id);
        let mut m = vec![
            (
                "org".to_string(),
                RestrictedExpression::new_entity_uid(uid("Org", &org.row.id)?),
            ),
            (
                "role".to_string(),
                RestrictedExpression::new_string(role.clone()),
            ),
            (
                "level".to_string(),
                RestrictedExpression::new_long(def.level),
            ),
            (
                "rank".to_string(),
                RestrictedExpression::new_long(if primary { 0 } else { def.level }),
            ),
            (
                "permissions".to_string(),
                RestrictedExpression::new_set(
                    def.permissions
                        .iter()
                        .map(|p| RestrictedExpression::new_string(p.clone())),
                ),
            ),
            (
                "seat".to_string(),
                RestrictedExpression::new_string(
                    stored.seat.clone().unwrap_or_else(|| "seat:member".into()),
                ),
            ),
            (
                "primary_owner".to_string(),
                RestrictedExpression::new_bool(primary),
            ),
        ];
        if let Some(ws) = workspace {
            m.push((
                "workspace".to_string(),
                RestrictedExpression::new_entity_uid(uid("Workspace", &ws.id)?),
            ));
            if let Some(a) = self.reader.workspace_access(&ws.id, user_id)? {
                let level = self
                    .ctx
                    .catalog
                    .role(&a.role)
                    .map(|r| r.level)
                    .unwrap_or(i64::MAX);
                let wa = RestrictedExpression::new_record([
                    (
                        "workspace".to_string(),
                        RestrictedExpression::new_entity_uid(uid("Workspace", &ws.id)?),
                    ),
                    (
                        "role".to_string(),
                        RestrictedExpression::new_string(a.role.clone()),
                    ),
                    ("level".to_string(), RestrictedExpression::new_long(level)),
                    (
                        "can_create_agents".to_string(),
                        RestrictedExpression::new_bool(a.can_create_agents),
                    ),
                    (
                        "can_modify_policies".to_string(),
                        RestrictedExpression::new_bool(a.can_modify_policies),
                    ),
                    (
                        "can_invite_users".to_string(),
                        RestrictedExpression::new_bool(a.can_invite_users),
                    ),
                    (
                        "can_view_analytics".to_string(),
                        RestrictedExpression::new_bool(a.can_view_analytics),
                    ),
                ])
                .map_err(|e| Error::Internal(e.to_string()))?;
                attrs.push(("workspace_access".to_string(), wa));
            }
        }
        let membership =
            RestrictedExpression::new_record(m).map_err(|e| Error::Internal(e.to_string()))?;
        attrs.push(("membership".to_string(), membership));
        Ok(UserView {
            attrs,
            custom,
            role: Some(role),
        })
    }
}

/// A user's view attributes in the request's org, whether their role is a custom one, and
/// its name (none when they are not a member).
#[derive(Default)]
struct UserView {
    attrs: Vec<(String, RestrictedExpression)>,
    custom: bool,
    role: Option<String>,
}

/// What a slice is read with: the store (for stripe versions), the org cache, the model and
/// the org context of the moment.
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    /// The store.
    pub store: &'a Store,
    /// The org cache, consulted before reading an org's rows.
    pub orgs: &'a OrgCache,
    /// The model the decision started with.
    pub model: &'a Model,
    /// Catalog, grace period and time.
    pub ctx: OrgCtx<'a>,
}

/// What a slice is built for: the request's principal and resource, its context (whose entity
/// references are followed) and the entities it brings.
pub struct Wanted<'a> {
    /// Who acts.
    pub principal: &'a EntityUid,
    /// On what.
    pub resource: &'a EntityUid,
    /// The context JSON.
    pub context: &'a Value,
    /// The request's own entities, parsed, each with its JSON.
    pub provided: Vec<(Entity, Value)>,
}

/// Builds the slice for one request; also returns the org states it read from the store
/// (the caller caches them only if no version moved meanwhile, see `Store::version_mark`).
pub fn build(
    src: &Sources<'_>,
    reader: &Reader<'_>,
    wanted: Wanted<'_>,
) -> Result<(Slice, Vec<OrgRead>)> {
    let Wanted {
        principal,
        resource,
        context,
        provided,
    } = wanted;
    let mut b = Builder {
        store: src.store,
        orgs: src.orgs,
        model: src.model,
        deps: Vec::new(),
        usage_deps: Vec::new(),
        org_reads: Vec::new(),
        weight: 0,
        reader,
        ctx: src.ctx,
        provided: provided
            .into_iter()
            .map(|(e, v)| (e.uid(), (e, v)))
            .collect(),
        warnings: Vec::new(),
    };
    let mut fetched: HashMap<EntityUid, Option<Fetched>> = HashMap::new();

    // Phase 1: the resource and its ancestors, nearest first, to find the org and workspace.
    let mut lineage = Vec::new();
    let mut queue = VecDeque::from([(resource.clone(), false)]);
    while let Some((u, store_only)) = queue.pop_front() {
        if fetched.contains_key(&u) {
            continue;
        }
        let f = b.fetch(&u, store_only)?;
        if let Some(f) = &f {
            queue.extend(f.parents.iter().map(|p| (p.clone(), !f.provided)));
        }
        lineage.push(u.clone());
        fetched.insert(u, f);
        if fetched.len() > MAX_SLICE {
            return Err(too_large());
        }
    }
    // One org per request: a resource whose ancestry reaches two orgs (a parent workspace of
    // another org, two org parents) could let one org's roles act inside the other.
    let mut lineage_orgs = std::collections::BTreeSet::new();
    for f in lineage.iter().filter_map(|u| fetched.get(u)).flatten() {
        lineage_orgs.extend(f.org.as_ref().map(|o| o.row.id.as_str()));
        lineage_orgs.extend(f.workspace.as_ref().map(|w| w.org.as_str()));
    }
    if lineage_orgs.len() > 1 {
        return Err(Error::new(
            Code::CrossOrgParents,
            format!("the resource `{resource}` is under more than one org"),
        ));
    }
    let mut org_uid = lineage
        .iter()
        .find(|u| {
            fetched
                .get(*u)
                .is_some_and(|f| f.as_ref().is_some_and(|f| f.org.is_some()))
        })
        .cloned();
    if org_uid.is_none() {
        if let Value::Object(m) = context {
            for v in m.values() {
                let mut refs = Vec::new();
                json_refs(v, &mut refs);
                if let [u] = refs.as_slice() {
                    if type_is(u, "Org") {
                        let f = b.fetch(u, false)?;
                        if f.as_ref().is_some_and(|f| f.org.is_some()) {
                            fetched.insert(u.clone(), f);
                            org_uid = Some(u.clone());
                            break;
                        }
                    }
                }
            }
        }
    }
    let workspace = lineage.iter().find_map(|u| {
        fetched
            .get(u)
            .and_then(|f| f.as_ref())
            .and_then(|f| f.workspace.clone())
    });
    let org = org_uid
        .as_ref()
        .and_then(|u| fetched.get_mut(u))
        .and_then(|f| f.as_mut())
        .and_then(|f| f.org.take());

    // Phase 2: everything else reachable from the principal, the context and policy literals.
    let mut roots = vec![principal.clone()];
    json_refs(context, &mut roots);
    roots.extend(src.model.literal_uids.iter().cloned());
    let mut queue: VecDeque<(EntityUid, bool)> = roots.into_iter().map(|u| (u, false)).collect();
    for f in fetched.values().flatten() {
        queue.extend(f.refs.iter().map(|r| (r.clone(), !f.provided)));
    }
    while let Some((u, store_only)) = queue.pop_front() {
        if fetched.contains_key(&u) {
            continue;
        }
        let f = b.fetch(&u, store_only)?;
        if let Some(f) = &f {
            queue.extend(f.parents.iter().map(|p| (p.clone(), !f.provided)));
            queue.extend(f.refs.iter().map(|r| (r.clone(), !f.provided)));
        }
        fetched.insert(u, f);
        if fetched.len() > MAX_SLICE {
            return Err(too_large());
        }
    }
    // A request entity reached first by another path may still be a stored entity's parent.
    for (u, f) in &fetched {
        let Some(f) = f.as_ref().filter(|f| !f.provided) else {
            continue;
        };
        let placing = |p: &&EntityUid| {
            fetched.get(*p).is_some_and(|pf| {
                pf.as_ref()
                    .is_some_and(|pf| pf.provided && !pf.parents.is_empty())
            })
        };
        if let Some(p) = f.parents.iter().chain(&f.refs).find(placing) {
            return Err(Error::new(
                Code::ProvidedAncestor,
                format!(
                    "request entity `{p}`, with parents of its own, is named by the stored \
                     entity `{u}`; only the store places what stored entities name"
                ),
            ));
        }
    }

    let mut entities = Vec::with_capacity(fetched.len());
    let mut custom_views = Vec::new();
    let mut viewed: HashSet<EntityUid> = HashSet::new();
    let mut principal_role = None;
    if let Some(org) = &org {
        for u in [principal, resource] {
            if !type_is(u, "User") || !viewed.insert(u.clone()) {
                continue;
            }
            let UserView {
                attrs: view,
                custom,
                role,
            } = b.user_view(u, org, workspace.as_ref(), false)?;
            if u == principal {
                principal_role = role;
            }
            b.weight += 1024;
            // The principal's custom role is built twice: as the role grants when the plan
            // pays for custom roles, and lapsed when it does not; the tier a decision is
            // judged under picks one (`Slice::entities`). A member acted on keeps the role's
            // standing either way: a lapse takes powers away and never hands new ones to
            // whoever acts on the member (an admin over a lapsed custom role ranked above
            // admins).
            let lapsed = if custom && u == principal {
                Some(b.user_view(u, org, workspace.as_ref(), true)?.attrs)
            } else {
                None
            };
            let stored = fetched.get_mut(u).and_then(|f| f.take());
            if view.is_empty() {
                match stored.and_then(|f| f.entity) {
                    // Not a member: whatever membership the entity data claims is dropped.
                    Some(e)
                        if crate::engine::input::VIEW_ATTRS
                            .iter()
                            .any(|a| e.attr(a).is_some()) =>
                    {
                        entities.push(merge_attrs(&e, vec![])?)
                    }
                    Some(e) => entities.push(e),
                    None => b.warnings.push(not_found(u, principal)),
                }
                continue;
            }
            let stored = stored.and_then(|f| f.entity);
            let with_view = |view: Vec<(String, RestrictedExpression)>| match &stored {
                Some(e) => merge_attrs(e, view),
                None => Entity::new(u.clone(), view.into_iter().collect(), HashSet::new())
                    .map_err(|e| Error::Internal(e.to_string())),
            };
            let entity = with_view(view)?;
            fetched.insert(u.clone(), None);
            match lapsed {
                Some(lapsed) => {
                    b.weight += 1024;
                    custom_views.push(CustomView {
                        paid: entity,
                        lapsed: with_view(lapsed)?,
                    });
                }
                None => entities.push(entity),
            }
        }
    }
    for (u, f) in fetched {
        if viewed.contains(&u) {
            continue;
        }
        match f {
            Some(f) => {
                if let Some(e) = f.entity {
                    entities.push(e);
                }
            }
            None => {
                let is_plan_model =
                    (type_is(&u, "Plan") || type_is(&u, "RoleSet")) && org.is_some();
                if (&u == principal || &u == resource) && !is_plan_model {
                    b.warnings.push(not_found(&u, principal));
                }
            }
        }
    }
    let valid_until = org.as_ref().map(|o| o.valid_until).unwrap_or(i64::MAX);
    let weight = b.weight
        + org.as_ref().map_or(0, |o| o.weight())
        + b.warnings.iter().map(|w| 24 + w.len()).sum::<usize>();
    let slice = Slice {
        entities,
        custom_views,
        principal_role,
        org,
        weight,
        warnings: b.warnings,
        deps: b.deps,
        usage_deps: b.usage_deps,
        valid_until,
    };
    Ok((slice, b.org_reads))
}

/// Replaces the view attributes of an entity that has its own (stored or sent with the
/// request) by `view`, going through Cedar's JSON form since `Entity` has no setter.
fn merge_attrs(e: &Entity, view: Vec<(String, RestrictedExpression)>) -> Result<Entity> {
    let internal = |e: &dyn std::fmt::Display| Error::Internal(e.to_string());
    let mut json = e.to_json_value().map_err(|e| internal(&e))?;
    if let Some(Value::Object(attrs)) = json.get_mut("attrs") {
        for a in crate::engine::input::VIEW_ATTRS {
            attrs.remove(a);
        }
    }
    let view_entity = Entity::new(e.uid(), view.into_iter().collect(), HashSet::new())
        .map_err(|e| internal(&e))?;
    let view_json = view_entity.to_json_value().map_err(|e| internal(&e))?;
    if let Some(Value::Object(src)) = view_json.get("attrs") {
        match json.get_mut("attrs") {
            Some(Value::Object(dst)) => {
                for (k, v) in src {
                    dst.insert(k.clone(), v.clone());
                }
            }
            _ => {
                if let Value::Object(top) = &mut json {
                    top.insert("attrs".into(), Value::Object(src.clone()));
                }
            }
        }
    }
    Entity::from_json_value(json, None).map_err(|e| internal(&e))
}

fn not_found(u: &EntityUid, principal: &EntityUid) -> String {
    let role = if u == principal {
        "principal"
    } else {
        "resource"
    };
    format!(
        "{role} `{u}` is neither in the store nor in the request's entities; it is evaluated with no attributes and no parents"
    )
}

fn too_large() -> Error {
    Error::new(
        Code::SliceTooLarge,
        format!("the request reaches more than {MAX_SLICE} entities"),
    )
}
