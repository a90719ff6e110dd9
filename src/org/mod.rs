//! The org rules: an org's roles, its effective plan and usage, and the writes (members,
//! invitations, workspaces, custom roles, usage, stored entities) that must respect seat,
//! quota and tenancy rules inside their own transaction. Shared by the data API, `tollgate
//! import` and the policy-test fixtures: the one place these rules are written.

mod entities;

pub use entities::store_entity;

use std::collections::BTreeMap;

use serde_json::json;

use crate::error::{Code, Error, Result};
use crate::plans::{self, Catalog, RoleDef, SubscriptionStatus, Tier};
use crate::store::{
    CustomRoleRow, InvitationRow, OrgRow, Reader, WorkspaceAccessRow, WorkspaceRow, Writer,
};

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

    fn tier<'c>(&self, catalog: &'c Catalog) -> &'c Tier {
        catalog
            .tier(&self.effective_plan)
            .unwrap_or_else(|| catalog.first_tier())
    }
}

impl Reader<'_> {
    /// Loads an org's state, or `None` when the org does not exist.
    pub fn org_state(&self, ctx: OrgCtx<'_>, org: &str) -> Result<Option<OrgState>> {
        let Some(row) = self.org(org)? else {
            return Ok(None);
        };
        let mut roles = ctx.catalog.roles.clone();
        let mut custom_roles = 0;
        for c in self.custom_roles(org)? {
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
        for (rt, n) in self.app_usage(org)? {
            usage.insert(rt, n);
        }
        let mut valid_until = self
            .next_invitation_expiry(org, ctx.now)?
            .unwrap_or(i64::MAX);
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
        let counters = self.counters(org)?;
        let pending = self.pending_invitations_by_role(org, ctx.now)?;
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

    fn require_org(&self, ctx: OrgCtx<'_>, org: &str) -> Result<OrgState> {
        self.org_state(ctx, org)?
            .ok_or_else(|| Error::not_found(format!("org `{org}` does not exist")))
    }

    /// The org's row, for a rule that needs no more of its state (no limit to check).
    fn require_org_row(&self, org: &str) -> Result<OrgRow> {
        self.org(org)?
            .ok_or_else(|| Error::not_found(format!("org `{org}` does not exist")))
    }

    /// A role the org can grant: built in, or one of its custom roles (seat bucket resolved).
    fn role_def(&self, ctx: OrgCtx<'_>, org: &str, role: &str) -> Result<RoleDef> {
        if let Some(r) = ctx.catalog.role(role) {
            return Ok(r.clone());
        }
        match self.custom_role(org, role)? {
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
}

/// What `PUT /v1/orgs/{org}` asks for; `None` keeps the stored value.
#[derive(Debug, Default)]
pub struct OrgUpdate {
    /// Nominal plan.
    pub plan: Option<String>,
    /// Subscription status.
    pub subscription_status: Option<String>,
    /// Primary owner user id.
    pub primary_owner: Option<String>,
    /// When the org became past due (unix seconds); defaults to now on entering `past_due`.
    pub past_due_since: Option<i64>,
}

/// How a write relates to limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limits {
    /// Refuse with 402 when the write passes a limit.
    Enforce,
    /// The admin asked to pass limits (`override_limits: true`).
    Override,
}

impl Writer<'_> {
    /// Creates or updates an org; makes sure its primary owner is a member with role `owner`.
    /// Returns whether the org is new.
    pub fn upsert_org(
        &self,
        ctx: OrgCtx<'_>,
        id: &str,
        up: OrgUpdate,
        limits: Limits,
    ) -> Result<bool> {
        let old = self.org(id)?;
        let created = old.is_none();
        let plan = match (up.plan, &old) {
            (Some(p), _) => p,
            (None, Some(o)) => o.plan.clone(),
            (None, None) => ctx.catalog.first_tier().name.clone(),
        };
        if ctx.catalog.tier(&plan).is_none() {
            return Err(Error::new(
                Code::UnknownPlan,
                format!("plan `{plan}` is not in the catalog"),
            ));
        }
        let status = match (up.subscription_status, &old) {
            (Some(s), _) => s,
            (None, Some(o)) => o.status.clone(),
            (None, None) => "active".into(),
        };
        let parsed = SubscriptionStatus::parse(&status).ok_or_else(|| {
            Error::new(
                Code::InvalidStatus,
                format!("subscription status `{status}` is not one of Stripe's statuses"),
            )
        })?;
        let past_due_since = if parsed == SubscriptionStatus::PastDue {
            up.past_due_since
                .or(old.as_ref().and_then(|o| o.past_due_since))
                .or(Some(ctx.now))
        } else {
            None
        };
        let primary_owner = up
            .primary_owner
            .or_else(|| old.as_ref().and_then(|o| o.primary_owner.clone()));
        let Some(owner) = primary_owner.clone() else {
            return Err(Error::new(
                Code::PrimaryOwnerRequired,
                "a new org needs `primary_owner`",
            ));
        };
        let row = OrgRow {
            id: id.to_string(),
            plan,
            status,
            past_due_since,
            primary_owner,
        };
        self.put_org(&row, ctx.now)?;
        if self.member_role(id, &owner)?.as_deref() != Some("owner") {
            // A new primary owner takes an owner seat like any other owner.
            self.set_member(ctx, id, &owner, "owner", limits)?;
        }
        self.audit(
            Some(id),
            if created { "org.create" } else { "org.update" },
            &format!("Org::{id:?}"),
            &json!({"plan": row.plan, "subscription_status": row.status, "primary_owner": owner}),
            ctx.now,
        )?;
        Ok(created)
    }

    /// Sets a member's role, refusing with 402 a change that passes a seat limit (unless
    /// `limits` is `Override`); the primary owner stays an owner.
    pub fn set_member(
        &self,
        ctx: OrgCtx<'_>,
        org: &str,
        user: &str,
        role: &str,
        limits: Limits,
    ) -> Result<Option<String>> {
        let row = self.require_org_row(org)?;
        let def = self.role_def(ctx, org, role)?;
        if row.primary_owner.as_deref() == Some(user) && role != "owner" {
            return Err(Error::new(Code::Conflict, format!(
                "`{user}` is the primary owner of `{org}`; transfer ownership before changing their role"
            )));
        }
        let old = self.member_role(org, user)?;
        if limits == Limits::Enforce {
            let state = self.require_org(ctx, org)?;
            let new_seat = def.seat.clone().unwrap_or_else(|| "seat:member".into());
            let deltas: Vec<(&str, i64)> = match &old {
                None => vec![(new_seat.as_str(), 1), ("seat:total", 1)],
                Some(o) if state.seat_of(o) != new_seat => vec![(new_seat.as_str(), 1)],
                Some(_) => vec![],
            };
            self.enforce(ctx, &state, &deltas, limits)?;
        }
        self.replace_member(org, user, role, old.as_deref(), ctx.now)?;
        self.audit(
            Some(org),
            "member.put",
            &format!("User::{user:?}"),
            &json!({"role": role, "previous_role": old, "override_limits": limits == Limits::Override}),
            ctx.now,
        )?;
        Ok(old)
    }

    fn enforce(
        &self,
        ctx: OrgCtx<'_>,
        state: &OrgState,
        deltas: &[(&str, i64)],
        limits: Limits,
    ) -> Result<()> {
        if limits == Limits::Override {
            return Ok(());
        }
        match plans::check_limits(
            ctx.catalog,
            state.tier(ctx.catalog),
            &state.usage,
            deltas,
            &state.row.id,
            ctx.upgrade_url,
        ) {
            Some(p) => Err(Error::PaymentRequired(Box::new(p))),
            None => Ok(()),
        }
    }

    /// Removes a member; the primary owner cannot be removed.
    pub fn remove_member(&self, ctx: OrgCtx<'_>, org: &str, user: &str) -> Result<()> {
        let row = self.require_org_row(org)?;
        if row.primary_owner.as_deref() == Some(user) {
            return Err(Error::new(
                Code::Conflict,
                format!("`{user}` is the primary owner of `{org}` and cannot be removed"),
            ));
        }
        let Some(old) = self.delete_member(org, user)? else {
            return Err(Error::not_found(format!(
                "`{user}` is not a member of `{org}`"
            )));
        };
        self.audit(
            Some(org),
            "member.delete",
            &format!("User::{user:?}"),
            &json!({"previous_role": old}),
            ctx.now,
        )?;
        Ok(())
    }

    /// Creates or replaces a pending invitation, counting it toward seats.
    pub fn set_invitation(
        &self,
        ctx: OrgCtx<'_>,
        org: &str,
        inv: InvitationRow,
        limits: Limits,
    ) -> Result<bool> {
        self.require_org_row(org)?;
        if inv.expires_at <= ctx.now {
            return Err(Error::new(
                Code::InvitationExpired,
                "`expires_at` is already past",
            ));
        }
        let def = self.role_def(ctx, org, &inv.role)?;
        let old = self.invitation(org, &inv.id)?;
        if limits == Limits::Enforce {
            let state = self.require_org(ctx, org)?;
            let new_seat = def.seat.clone().unwrap_or_else(|| "seat:member".into());
            let old_pending = old.as_ref().filter(|o| o.expires_at > ctx.now);
            let deltas: Vec<(&str, i64)> = match old_pending {
                None => vec![(new_seat.as_str(), 1), ("seat:total", 1)],
                Some(o) if state.seat_of(&o.role) != new_seat => vec![(new_seat.as_str(), 1)],
                Some(_) => vec![],
            };
            self.enforce(ctx, &state, &deltas, limits)?;
        }
        self.put_invitation(org, &inv, ctx.now)?;
        self.audit(
            Some(org),
            "invitation.put",
            &format!("Invitation::{:?}", inv.id),
            &json!({"role": inv.role, "expires_at": inv.expires_at}),
            ctx.now,
        )?;
        Ok(old.is_none())
    }

    /// Revokes an invitation.
    pub fn revoke_invitation(&self, ctx: OrgCtx<'_>, org: &str, id: &str) -> Result<()> {
        self.require_org_row(org)?;
        if !self.delete_invitation(org, id)? {
            return Err(Error::not_found(format!(
                "invitation `{id}` does not exist in `{org}`"
            )));
        }
        self.audit(
            Some(org),
            "invitation.revoke",
            &format!("Invitation::{id:?}"),
            &json!({}),
            ctx.now,
        )
    }

    /// Turns a pending invitation into a membership, in one transaction. Returns the role.
    pub fn accept_invitation(
        &self,
        ctx: OrgCtx<'_>,
        org: &str,
        id: &str,
        user: &str,
    ) -> Result<String> {
        self.require_org_row(org)?;
        let Some(inv) = self.invitation(org, id)? else {
            return Err(Error::not_found(format!(
                "invitation `{id}` does not exist in `{org}`"
            )));
        };
        if inv.expires_at <= ctx.now {
            return Err(Error::new(
                Code::Conflict,
                format!("invitation `{id}` has expired"),
            ));
        }
        if self.member_role(org, user)?.is_some() {
            return Err(Error::new(
                Code::Conflict,
                format!("`{user}` is already a member of `{org}`"),
            ));
        }
        // The pending invitation already holds the seat it turns into.
        self.delete_invitation(org, id)?;
        self.put_member(org, user, &inv.role, ctx.now)?;
        self.audit(
            Some(org),
            "invitation.accept",
            &format!("Invitation::{id:?}"),
            &json!({"user": user, "role": inv.role}),
            ctx.now,
        )?;
        Ok(inv.role)
    }

    /// Creates or renames a workspace; a new one counts toward `quota:workspace`.
    pub fn set_workspace(
        &self,
        ctx: OrgCtx<'_>,
        org: &str,
        id: &str,
        name: Option<String>,
        limits: Limits,
    ) -> Result<bool> {
        self.require_org_row(org)?;
        let existing = self.workspace(id)?;
        if let Some(w) = &existing {
            if w.org != org {
                return Err(Error::new(
                    Code::Conflict,
                    format!("workspace `{id}` already belongs to another org"),
                ));
            }
        } else if limits == Limits::Enforce {
            let state = self.require_org(ctx, org)?;
            self.enforce(ctx, &state, &[("quota:workspace", 1)], limits)?;
        }
        let name = name
            .or_else(|| existing.as_ref().map(|w| w.name.clone()))
            .unwrap_or_else(|| id.to_string());
        let row = WorkspaceRow {
            id: id.to_string(),
            org: org.to_string(),
            name,
        };
        let created = self.put_workspace(&row, ctx.now)?;
        self.audit(
            Some(org),
            "workspace.put",
            &format!("Workspace::{id:?}"),
            &json!({"name": row.name}),
            ctx.now,
        )?;
        Ok(created)
    }

    /// Deletes a workspace of an org. One that still holds stored entities is refused: its id
    /// is global, and the next org to create it would adopt them.
    pub fn remove_workspace(&self, ctx: OrgCtx<'_>, org: &str, id: &str) -> Result<()> {
        self.require_org_row(org)?;
        if let Some((t, child)) = self.first_child("Workspace", id)? {
            return Err(Error::new(
                Code::WorkspaceNotEmpty,
                format!(
                    "workspace `{id}` still holds stored entities (`{t}::{child:?}` among them); \
                     delete them or store them under another parent first"
                ),
            ));
        }
        if !self.delete_workspace(org, id)? {
            return Err(Error::not_found(format!(
                "workspace `{id}` does not exist in `{org}`"
            )));
        }
        self.audit(
            Some(org),
            "workspace.delete",
            &format!("Workspace::{id:?}"),
            &json!({}),
            ctx.now,
        )
    }

    /// Grants a member access to a workspace of the same org.
    pub fn set_workspace_member(
        &self,
        ctx: OrgCtx<'_>,
        org: &str,
        ws: &str,
        user: &str,
        access: &WorkspaceAccessRow,
    ) -> Result<()> {
        self.require_org_row(org)?;
        match self.workspace(ws)? {
            Some(w) if w.org == org => {}
            _ => {
                return Err(Error::not_found(format!(
                    "workspace `{ws}` does not exist in `{org}`"
                )))
            }
        }
        if self.member_role(org, user)?.is_none() {
            return Err(Error::new(
                Code::NotAMember,
                format!(
                    "`{user}` must be a member of `{org}` before joining one of its workspaces"
                ),
            ));
        }
        if !matches!(access.role.as_str(), "admin" | "member" | "viewer") {
            return Err(Error::new(
                Code::UnknownRole,
                format!(
                    "workspace role `{}` must be admin, member or viewer",
                    access.role
                ),
            ));
        }
        self.put_workspace_access(ws, user, access)?;
        self.audit(
            Some(org),
            "workspace_member.put",
            &format!("User::{user:?}"),
            &json!({"workspace": ws, "access": access}),
            ctx.now,
        )
    }

    /// Removes a user's access to a workspace.
    pub fn remove_workspace_member(
        &self,
        ctx: OrgCtx<'_>,
        org: &str,
        ws: &str,
        user: &str,
    ) -> Result<()> {
        self.require_org_row(org)?;
        match self.workspace(ws)? {
            Some(w) if w.org == org => {}
            _ => {
                return Err(Error::not_found(format!(
                    "workspace `{ws}` does not exist in `{org}`"
                )))
            }
        }
        if !self.delete_workspace_access(ws, user)? {
            return Err(Error::not_found(format!(
                "`{user}` is not a member of workspace `{ws}`"
            )));
        }
        self.audit(
            Some(org),
            "workspace_member.delete",
            &format!("User::{user:?}"),
            &json!({"workspace": ws}),
            ctx.now,
        )
    }

    /// Defines or replaces a custom role of an org. Defining one is the plan feature
    /// [`CUSTOM_ROLES`]: without it, a 402 (unless `limits` is `Override`: an import restores
    /// the roles of an org whose plan lapsed, which keep their rows, see default-model.md).
    pub fn set_custom_role(
        &self,
        ctx: OrgCtx<'_>,
        org: &str,
        role: CustomRoleRow,
        limits: Limits,
    ) -> Result<()> {
        if role.name.is_empty() || role.level < 1 {
            return Err(Error::new(
                Code::InvalidRole,
                "a role needs a name and a level of at least 1",
            ));
        }
        if limits == Limits::Enforce {
            let state = self.require_org(ctx, org)?;
            if !state.tier(ctx.catalog).features.contains(CUSTOM_ROLES) {
                let required = ctx
                    .catalog
                    .tiers()
                    .iter()
                    .find(|t| t.features.contains(CUSTOM_ROLES))
                    .map(|t| t.name.clone());
                let url = plans::upgrade_url(ctx.upgrade_url, org, required.as_deref());
                return Err(Error::PaymentRequired(Box::new(plans::Payment::new(
                    plans::PaymentCode::FeatureNotInPlan,
                    Some(CUSTOM_ROLES),
                    required,
                    url,
                    None,
                ))));
            }
        } else {
            self.require_org_row(org)?;
        }
        if ctx.catalog.role(&role.name).is_some() {
            return Err(Error::new(
                Code::Conflict,
                format!("`{}` is a built-in role", role.name),
            ));
        }
        let top = ctx.catalog.roles.first().map(|r| r.level).unwrap_or(0);
        if role.level <= top {
            return Err(Error::new(
                Code::InvalidRole,
                format!("a custom role ranks below owners: its level must be greater than {top}"),
            ));
        }
        self.put_custom_role(org, &role)?;
        self.audit(
            Some(org),
            "role.put",
            &format!("Role::{:?}", role.name),
            &json!({"level": role.level, "permissions": role.permissions}),
            ctx.now,
        )
    }

    /// Sets an app-owned counter; Tollgate-counted types are refused.
    pub fn set_usage(
        &self,
        ctx: OrgCtx<'_>,
        org: &str,
        resource_type: &str,
        current: i64,
    ) -> Result<()> {
        self.require_org_row(org)?;
        if !plans::is_resource_type(resource_type) {
            return Err(Error::new(
                Code::InvalidResourceType,
                format!("`{resource_type}` is not a resource type like `quota:project`"),
            ));
        }
        if Catalog::is_tollgate_counted(resource_type) {
            return Err(Error::new(
                Code::TollgateCounted,
                format!("Tollgate counts `{resource_type}` itself; it cannot be set"),
            ));
        }
        if current < 0 {
            return Err(Error::new(
                Code::InvalidUsage,
                "`current` must not be negative",
            ));
        }
        self.set_app_usage(org, resource_type, current)?;
        self.audit(
            Some(org),
            "usage.set",
            resource_type,
            &json!({"current": current}),
            ctx.now,
        )
    }
}
