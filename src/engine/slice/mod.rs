//! Assembles the entities one request needs — its principal, resource, their ancestors, what
//! their attributes point to, and the org the request is about — from the store and from the
//! request itself. Nothing outside that slice is read.

use std::sync::Arc;

use cedar_policy::{Entities, Entity, RestrictedExpression};

mod build;
mod key;

pub use build::{build, OrgRead, Sources, Wanted};
pub use key::{cache_key, json_refs};

use crate::error::{Code, Error, Result};
use crate::model::{role_set_entity, uid, Model, BUILTIN_ROLES};
use crate::org::{OrgState, CUSTOM_ROLES};

/// The entities of one request, with the org (if any) kept apart so its plan can be swapped
/// when looking for the tier that would allow the request.
#[derive(Clone)]
pub struct Slice {
    /// Every entity except the org, its plan and an acting member holding a custom role.
    pub entities: Vec<Entity>,
    /// The acting member (the principal), when they hold a custom role, in both standings.
    pub custom_views: Vec<CustomView>,
    /// The version stripes of every uid looked up (found or not), as seen before reading.
    pub deps: Vec<(usize, u64)>,
    /// The version stripes of the app usage of the orgs looked up: a dependency only of the
    /// decisions whose policies read tags (`ActionModel::reads_tags`).
    pub usage_deps: Vec<(usize, u64)>,
    /// Until when the slice holds without a write (see `OrgState::valid_until`).
    pub valid_until: i64,
    /// The org the request is about, when the store knows it.
    pub org: Option<Arc<OrgState>>,
    /// The principal's role in that org, when they are a member.
    pub principal_role: Option<String>,
    /// Things the caller should know (unknown principal, ignored request entity).
    pub warnings: Vec<String>,
    /// Estimated bytes held (for the slice cache's bound), from the sizes of what it was
    /// built of: four times an entity's stored JSON, fixed amounts for views and rows.
    pub weight: usize,
}

/// A member holding a custom role, as that role grants (`paid`) and lapsed (`lapsed`: the
/// weaker of the role and the lowest built-in role), for tiers with and without the
/// `custom_roles` feature.
#[derive(Clone)]
pub struct CustomView {
    /// The member's entity with the custom role's level and permissions.
    pub paid: Entity,
    /// The member's entity with the weaker of the role's and the lowest built-in role's level,
    /// and only the permissions both hold.
    pub lapsed: Entity,
}

impl CustomView {
    fn pick(&self, paid: bool) -> &Entity {
        if paid {
            &self.paid
        } else {
            &self.lapsed
        }
    }
}

/// Whether custom roles act as granted under `tier` (it has the `custom_roles` feature).
pub fn custom_roles_paid(model: &Model, tier: &str) -> bool {
    model
        .catalog
        .tier(tier)
        .is_some_and(|t| t.features.contains(CUSTOM_ROLES))
}

impl Slice {
    /// Cedar entities for evaluation under `tier` (the org's effective tier when `None`), plus
    /// the action's own entities.
    pub fn entities(
        &self,
        model: &Model,
        action_entities: &[Entity],
        tier: Option<&str>,
    ) -> Result<Entities> {
        let mut all: Vec<Entity> =
            Vec::with_capacity(self.entities.len() + action_entities.len() + 5);
        all.extend(self.entities.iter().cloned());
        all.extend(action_entities.iter().cloned());
        self.push_org(model, &mut all, tier)?;
        Entities::from_entities(all, None).map_err(entities_error)
    }

    /// Like [`Slice::entities`] for the effective tier, moving the slice's entities instead of
    /// cloning them (one decision, one build).
    pub fn take_entities(&mut self, model: &Model, action_entities: &[Entity]) -> Result<Entities> {
        let own = std::mem::take(&mut self.entities);
        let mut all = Vec::with_capacity(own.len() + action_entities.len() + 5);
        all.extend(own);
        all.extend(action_entities.iter().cloned());
        self.push_org(model, &mut all, None)?;
        Entities::from_entities(all, None).map_err(entities_error)
    }

    /// `entities` with the org evaluated under `tier` (active subscription): the org and the
    /// tier's plan are replaced (and members of custom roles take the standing that tier
    /// gives them), everything else is shared.
    pub fn with_tier(&self, model: &Model, entities: &Entities, tier: &str) -> Result<Entities> {
        let Some(org) = &self.org else {
            return Ok(entities.clone());
        };
        let mut changed = Vec::with_capacity(2 + self.custom_views.len());
        changed.push(org_entity(org, tier, "active", &roles_id(model, org))?);
        if let Some(plan) = model.plan_entities.get(tier) {
            changed.push(plan.clone());
        }
        let paid = custom_roles_paid(model, tier);
        if paid != custom_roles_paid(model, &org.effective_plan) {
            changed.extend(self.custom_views.iter().map(|v| v.pick(paid).clone()));
        }
        entities
            .clone()
            .upsert_entities(changed, None)
            .map_err(entities_error)
    }

    /// Whether the acting member holds a custom role that the org's plan no longer pays for:
    /// the decision was judged with their lapsed standing.
    pub fn has_lapsed_roles(&self, model: &Model) -> bool {
        !self.custom_views.is_empty()
            && self
                .org
                .as_ref()
                .is_some_and(|o| !custom_roles_paid(model, &o.effective_plan))
    }

    /// `entities` (judged under the effective tier) with the acting member of a custom role in
    /// the standing the role grants, the plan unchanged: what the role would allow if paid.
    pub fn with_paid_roles(&self, entities: &Entities) -> Result<Entities> {
        entities
            .clone()
            .upsert_entities(self.custom_views.iter().map(|v| v.paid.clone()), None)
            .map_err(entities_error)
    }

    /// Brings the org of a slice taken from the slice cache up to date. Cached slices outlive
    /// the org's app-usage writes and its clock (an invitation expiring, a grace period
    /// ending), which change only the org's own state; that is read again here, from the org
    /// cache when current. `false` when anything else the slice read has changed meanwhile:
    /// the caller builds it again rather than mix two versions of the data.
    pub fn refresh_org(&mut self, src: &Sources<'_>) -> Result<bool> {
        let Sources {
            store,
            orgs,
            model,
            ctx,
        } = *src;
        let Some(org) = &self.org else {
            return Ok(true);
        };
        let id = org.row.id.clone();
        let stripe = crate::store::stripe("Org", &id);
        let usage = crate::store::stripe(crate::store::USAGE_STRIPE_TYPE, &id);
        // Taken before the read, as everywhere: a write meanwhile can only make what is
        // recorded here look stale, never fresh.
        let versions = [
            (stripe, store.stripe_version(stripe)),
            (usage, store.stripe_version(usage)),
        ];
        let current = |s| store.stripe_version(s);
        let state = match orgs.get(id.as_str(), model.generation, current, ctx.now) {
            Some(s) => s,
            None => {
                let Some(s) = store.read_after_check(|r| crate::org::org_state(r, ctx, &id))?
                else {
                    return Ok(false);
                };
                let s = Arc::new(s);
                let until = s.valid_until;
                orgs.put(
                    id.clone(),
                    model.generation,
                    versions.to_vec(),
                    until,
                    s.clone(),
                );
                s
            }
        };
        if !self
            .deps
            .iter()
            .all(|(s, v)| store.stripe_version(*s) == *v)
        {
            return Ok(false);
        }
        self.usage_deps = vec![versions[1]];
        self.valid_until = state.valid_until;
        self.org = Some(state);
        Ok(true)
    }

    fn push_org(&self, model: &Model, all: &mut Vec<Entity>, tier: Option<&str>) -> Result<()> {
        let Some(org) = &self.org else {
            return Ok(());
        };
        let tier = tier.unwrap_or(&org.effective_plan);
        let paid = custom_roles_paid(model, tier);
        all.extend(self.custom_views.iter().map(|v| v.pick(paid).clone()));
        let status = if tier == org.effective_plan {
            org.row.status.as_str()
        } else {
            "active"
        };
        let roles = roles_id(model, org);
        all.push(org_entity(org, tier, status, &roles)?);
        // Most orgs grant only the built-in roles: they share one role set built with the
        // model instead of building their own per request.
        if roles == BUILTIN_ROLES {
            all.push(model.builtin_roles.clone());
        } else {
            all.push(role_set_entity(&roles, &org.roles)?);
        }
        if let Some(plan) = model.plan_entities.get(tier) {
            all.push(plan.clone());
        }
        Ok(())
    }
}

/// Cedar refuses a cyclic hierarchy: the request's own entities closed a parent cycle (stored
/// ones cannot, their writes refuse it), which is bad input, not a bug.
fn entities_error(e: cedar_policy::entities_errors::EntitiesError) -> Error {
    match e {
        cedar_policy::entities_errors::EntitiesError::TransitiveClosureError(_) => Error::new(
            Code::ParentCycle,
            format!(
                "the request's entities form a parent cycle: {}",
                crate::model::render(&e)
            ),
        ),
        other => Error::Internal(format!("slice: {other}")),
    }
}

fn roles_id(model: &Model, org: &OrgState) -> String {
    if org.roles.len() > model.catalog.roles.len() {
        format!("org:{}", org.row.id)
    } else {
        BUILTIN_ROLES.to_string()
    }
}

fn org_entity(org: &OrgState, tier: &str, status: &str, roles_id: &str) -> Result<Entity> {
    let id = &org.row.id;
    let mut attrs = vec![
        (
            "plan".to_string(),
            RestrictedExpression::new_entity_uid(uid("Plan", tier)?),
        ),
        (
            "subscription_status".to_string(),
            RestrictedExpression::new_string(status.to_string()),
        ),
        (
            "roles".to_string(),
            RestrictedExpression::new_entity_uid(uid("RoleSet", roles_id)?),
        ),
    ];
    if let Some(owner) = &org.row.primary_owner {
        attrs.push((
            "primary_owner".to_string(),
            RestrictedExpression::new_entity_uid(uid("User", owner)?),
        ));
    }
    let tags = org
        .usage
        .iter()
        .map(|(rt, n)| (rt.clone(), RestrictedExpression::new_long(*n)));
    Entity::new_with_tags(uid("Org", id)?, attrs, [], tags)
        .map_err(|e| Error::Internal(e.to_string()))
}
