//! An org's state as decisions and limit checks see it: its roles (built-in and custom, seat
//! buckets resolved), its effective plan under its subscription status, its usage and seat
//! counts, and until when that holds without a write.

use std::collections::BTreeMap;

use super::rows::{OrgReads, OrgRow};
use super::Limits;
use crate::error::{Code, Error, Result};
use crate::plans::{self, Catalog, RoleDef, SubscriptionStatus, Tier};

/// The plan feature that custom roles need (default-model.md: "Custom roles (plan feature
/// `custom_roles`)"): defining one, and the powers a member holds through one.
pub const CUSTOM_ROLES: &str = "custom_roles";

/// What org-model reads and writes need besides the rows.
#[derive(Clone, Copy)]
pub struct OrgCtx<'a> {
    /// The plan catalog in force.
    pub catalog: &'a Catalog,
    /// Upgrade URL template.
    pub upgrade_url: &'a str,
    /// Past-due grace period in seconds.
    pub grace_secs: i64,
    /// The time the operation happens at (unix seconds).
    pub now: i64,
}

/// An org with what decisions and gates need: roles, effective tier, usage.
#[derive(Debug, Clone)]
pub struct OrgState {
    /// The stored row.
    pub row: OrgRow,
    /// Built-in then custom roles, seat buckets resolved (the catalog's own list, shared, when
    /// the org has no custom role).
    pub roles: std::sync::Arc<Vec<RoleDef>>,
    /// How many of `roles` are the org's custom roles (the last ones).
    pub custom_roles: usize,
    /// Name of the effective tier.
    pub effective_plan: String,
    /// Current usage by resource type (every catalog type present).
    pub usage: BTreeMap<String, i64>,
    /// Until when (unix seconds) this state holds without a write: the next pending
    /// invitation expiry or the end of a past-due grace period; `i64::MAX` when nothing expires.
    pub valid_until: i64,
}

impl OrgState {
    /// Estimated heap bytes (for the org cache's bound): its strings, usage and own roles.
    pub fn weight(&self) -> usize {
        let s = |v: &str| 24 + v.len();
        let row = &self.row;
        // Built-in roles are the catalog's list, shared by every org; custom ones are its own.
        let own_roles: usize = self
            .roles
            .iter()
            .rev()
            .take(self.custom_roles)
            .map(|r| 64 + s(&r.name) + r.permissions.iter().map(|p| s(p)).sum::<usize>())
            .sum();
        std::mem::size_of::<OrgState>()
            + s(&row.id)
            + s(&row.plan)
            + s(&row.status)
            + row.primary_owner.as_deref().map_or(0, s)
            + s(&self.effective_plan)
            + self.usage.keys().map(|k| 48 + s(k)).sum::<usize>()
            + own_roles
    }

    /// A role of this org by name.
    pub fn role(&self, name: &str) -> Option<&RoleDef> {
        self.roles.iter().find(|r| r.name == name)
    }

    /// The seat bucket a role name occupies; unknown names count as members.
    pub fn seat_of(&self, role: &str) -> &str {
        self.role(role)
            .and_then(|r| r.seat.as_deref())
            .unwrap_or("seat:member")
    }

    pub(super) fn tier<'c>(&self, catalog: &'c Catalog) -> &'c Tier {
        catalog
            .tier(&self.effective_plan)
            .unwrap_or_else(|| catalog.first_tier())
    }
}

/// Loads an org's state, or `None` when the org does not exist.
pub fn org_state(r: &impl OrgReads, ctx: OrgCtx<'_>, org: &str) -> Result<Option<OrgState>> {
    let Some(row) = r.org(org)? else {
        return Ok(None);
    };
    let mut roles = ctx.catalog.roles.clone();
    let mut custom_roles = 0;
    for c in r.custom_roles(org)? {
        if roles.iter().any(|r| r.name == c.name) {
            continue;
        }
        custom_roles += 1;
        std::sync::Arc::make_mut(&mut roles).push(RoleDef {
            seat: Some(ctx.catalog.seat_for_level(c.level).to_string()),
            name: c.name,
            level: c.level,
            permissions: c.permissions.into_iter().collect(),
        });
    }
    let status = SubscriptionStatus::parse(&row.status).unwrap_or(SubscriptionStatus::Canceled);
    let effective = plans::effective_plan(
        ctx.catalog,
        &row.plan,
        status,
        row.past_due_since,
        ctx.now,
        ctx.grace_secs,
    )
    .name
    .clone();
    let mut usage: BTreeMap<String, i64> = ctx
        .catalog
        .resource_types
        .iter()
        .map(|rt| (rt.clone(), 0))
        .collect();
    for (rt, n) in r.app_usage(org)? {
        usage.insert(rt, n);
    }
    let mut valid_until = r.next_invitation_expiry(org, ctx.now)?.unwrap_or(i64::MAX);
    if status == SubscriptionStatus::PastDue {
        if let Some(since) = row.past_due_since {
            let end = since.saturating_add(ctx.grace_secs);
            if end > ctx.now {
                valid_until = valid_until.min(end);
            }
        }
    }
    let mut state = OrgState {
        row,
        roles,
        custom_roles,
        effective_plan: effective,
        usage,
        valid_until,
    };
    let counters = r.counters(org)?;
    let pending = r.pending_invitations_by_role(org, ctx.now)?;
    let mut seats: BTreeMap<String, i64> = BTreeMap::new();
    let role_counts = counters
        .iter()
        .filter_map(|(k, n)| k.strip_prefix("role:").map(|r| (r.to_string(), *n)));
    for (role, n) in role_counts.chain(pending) {
        *seats.entry(state.seat_of(&role).to_string()).or_default() += n;
        *seats.entry("seat:total".into()).or_default() += n;
    }
    for bucket in ["seat:admin", "seat:member", "seat:total"] {
        state
            .usage
            .insert(bucket.into(), seats.get(bucket).copied().unwrap_or(0));
    }
    state.usage.insert(
        "quota:workspace".into(),
        counters.get("workspaces").copied().unwrap_or(0),
    );
    Ok(Some(state))
}

pub(super) fn require_org(r: &impl OrgReads, ctx: OrgCtx<'_>, org: &str) -> Result<OrgState> {
    org_state(r, ctx, org)?.ok_or_else(|| Error::not_found(format!("org `{org}` does not exist")))
}

/// The org's row, for a rule that needs no more of its state (no limit to check).
pub(super) fn require_org_row(r: &impl OrgReads, org: &str) -> Result<OrgRow> {
    r.org(org)?
        .ok_or_else(|| Error::not_found(format!("org `{org}` does not exist")))
}

/// A role the org can grant: built in, or one of its custom roles (seat bucket resolved).
pub(super) fn role_def(
    r: &impl OrgReads,
    ctx: OrgCtx<'_>,
    org: &str,
    role: &str,
) -> Result<RoleDef> {
    if let Some(r) = ctx.catalog.role(role) {
        return Ok(r.clone());
    }
    match r.custom_role(org, role)? {
        Some(c) => Ok(RoleDef {
            seat: Some(ctx.catalog.seat_for_level(c.level).to_string()),
            name: c.name,
            level: c.level,
            permissions: c.permissions.into_iter().collect(),
        }),
        None => Err(Error::new(
            Code::UnknownRole,
            format!("role `{role}` is neither built in nor defined for org `{org}`"),
        )),
    }
}

pub(super) fn enforce(
    ctx: OrgCtx<'_>,
    state: &OrgState,
    deltas: &[(&str, i64)],
    limits: Limits,
) -> Result<()> {
    if limits == Limits::Override {
        return Ok(());
    }
    enforce_on(ctx, state, &state.usage, deltas)
}

/// The seats the org's members hold, pending invitations left out: what an accept must fit,
/// since the invitation it turns into a member already counts in [`OrgState::usage`].
pub(super) fn member_seats(r: &impl OrgReads, state: &OrgState) -> Result<BTreeMap<String, i64>> {
    let mut usage = state.usage.clone();
    for bucket in ["seat:admin", "seat:member", "seat:total"] {
        usage.insert(bucket.into(), 0);
    }
    for (key, n) in r.counters(&state.row.id)? {
        if let Some(role) = key.strip_prefix("role:") {
            *usage.entry(state.seat_of(role).to_string()).or_default() += n;
            *usage.entry("seat:total".into()).or_default() += n;
        }
    }
    Ok(usage)
}

/// [`enforce`] against a usage other than the state's own (e.g. [`member_seats`]).
pub(super) fn enforce_on(
    ctx: OrgCtx<'_>,
    state: &OrgState,
    usage: &BTreeMap<String, i64>,
    deltas: &[(&str, i64)],
) -> Result<()> {
    match plans::check_limits(
        ctx.catalog,
        state.tier(ctx.catalog),
        usage,
        deltas,
        &state.row.id,
        ctx.upgrade_url,
    ) {
        Some(p) => Err(Error::PaymentRequired(Box::new(p))),
        None => Ok(()),
    }
}
