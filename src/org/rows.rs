//! The rows the org rules read and write, and the two traits a store implements to run them:
//! [`OrgReads`] (point lookups and ranges over one org's keys) and [`OrgWrites`] (row writes
//! in one transaction). The rules never see SQL, so the same rules can run over another store.

use std::collections::BTreeMap;

use crate::audit::AuditLog;
use crate::error::Result;

/// An org row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgRow {
    /// Org id.
    pub id: String,
    /// Nominal plan (tier name).
    pub plan: String,
    /// Subscription status (Stripe's name).
    pub status: String,
    /// When the org became `past_due` (unix seconds).
    pub past_due_since: Option<i64>,
    /// The primary owner's user id.
    pub primary_owner: Option<String>,
}

/// A pending invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationRow {
    /// Invitation id.
    pub id: String,
    /// Invitee's email.
    pub email: String,
    /// Role granted on accept.
    pub role: String,
    /// Expiry (unix seconds).
    pub expires_at: i64,
}

/// A workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceRow {
    /// Global workspace id.
    pub id: String,
    /// Owning org.
    pub org: String,
    /// Display name.
    pub name: String,
}

/// A user's access to one workspace.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WorkspaceAccessRow {
    /// Workspace role (`admin`, `member`, `viewer`); counts only with `resource_roles`.
    pub role: String,
    /// May create agents.
    pub can_create_agents: bool,
    /// May modify the workspace's policies.
    pub can_modify_policies: bool,
    /// May invite users to the workspace.
    pub can_invite_users: bool,
    /// May view analytics.
    pub can_view_analytics: bool,
}

/// The four workspace permission flags as the data API and the import file write them;
/// a flag left out is false.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkspacePermissions {
    /// May create agents.
    pub can_create_agents: bool,
    /// May modify the workspace's policies.
    pub can_modify_policies: bool,
    /// May invite users to the workspace.
    pub can_invite_users: bool,
    /// May view analytics.
    pub can_view_analytics: bool,
}

impl WorkspacePermissions {
    /// The access row for a workspace role with these flags.
    pub fn with_role(self, role: String) -> WorkspaceAccessRow {
        WorkspaceAccessRow {
            role,
            can_create_agents: self.can_create_agents,
            can_modify_policies: self.can_modify_policies,
            can_invite_users: self.can_invite_users,
            can_view_analytics: self.can_view_analytics,
        }
    }
}

/// A custom role row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomRoleRow {
    /// Role name.
    pub name: String,
    /// Level (lower outranks higher).
    pub level: i64,
    /// Permissions.
    pub permissions: Vec<String>,
}

/// Units of an app-owned quota taken by a decision's `reserve`, until released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservationRow {
    /// Unguessable id (128 random bits, hex).
    pub id: String,
    /// The org whose counter it moved.
    pub org: String,
    /// The quota, e.g. `quota:project`.
    pub resource_type: String,
    /// Units taken.
    pub amount: i64,
    /// When it was made (unix seconds).
    pub created_at: i64,
    /// When it was given back, once it was.
    pub released_at: Option<i64>,
}

/// What the org rules read, inside one read or write transaction.
pub trait OrgReads {
    /// An org's row.
    fn org(&self, id: &str) -> Result<Option<OrgRow>>;
    /// A member's role in an org.
    fn member_role(&self, org: &str, user: &str) -> Result<Option<String>>;
    /// An org's counters: `role:<name>` member counts and `workspaces`.
    fn counters(&self, org: &str) -> Result<BTreeMap<String, i64>>;
    /// Pending (unexpired at `now`) invitations by role: (role, count).
    fn pending_invitations_by_role(&self, org: &str, now: i64) -> Result<Vec<(String, i64)>>;
    /// The first expiry after `now` of a pending invitation.
    fn next_invitation_expiry(&self, org: &str, now: i64) -> Result<Option<i64>>;
    /// One invitation of an org.
    fn invitation(&self, org: &str, id: &str) -> Result<Option<InvitationRow>>;
    /// A workspace by its global id.
    fn workspace(&self, id: &str) -> Result<Option<WorkspaceRow>>;
    /// An org's custom roles.
    fn custom_roles(&self, org: &str) -> Result<Vec<CustomRoleRow>>;
    /// One custom role of an org.
    fn custom_role(&self, org: &str, name: &str) -> Result<Option<CustomRoleRow>>;
    /// An org's app-owned usage counters.
    fn app_usage(&self, org: &str) -> Result<BTreeMap<String, i64>>;
    /// One reservation by id.
    fn reservation(&self, id: &str) -> Result<Option<ReservationRow>>;
    /// One stored entity with `ptype::pid` among its parents, if any.
    fn first_child(&self, ptype: &str, pid: &str) -> Result<Option<(String, String)>>;
    /// The parents of a stored entity: (type, id).
    fn entity_parents(&self, etype: &str, eid: &str) -> Result<Vec<(String, String)>>;
}

/// What the org rules write, inside one write transaction (which also takes the audit rows).
pub trait OrgWrites: OrgReads + AuditLog {
    /// Inserts or updates an org row.
    fn put_org(&self, org: &OrgRow, now: i64) -> Result<()>;
    /// Sets a member's role, given the role `old` just read; keeps the role counters.
    fn replace_member(
        &self,
        org: &str,
        user: &str,
        role: &str,
        old: Option<&str>,
        now: i64,
    ) -> Result<()>;
    /// Sets a member's role; returns the previous one.
    fn put_member(&self, org: &str, user: &str, role: &str, now: i64) -> Result<Option<String>>;
    /// Removes a member (and their workspace access in the org); returns the removed role.
    fn delete_member(&self, org: &str, user: &str) -> Result<Option<String>>;
    /// Inserts or replaces an invitation.
    fn put_invitation(&self, org: &str, inv: &InvitationRow, now: i64) -> Result<()>;
    /// Deletes an invitation; whether it existed.
    fn delete_invitation(&self, org: &str, id: &str) -> Result<bool>;
    /// Inserts or renames a workspace; whether it is new.
    fn put_workspace(&self, ws: &WorkspaceRow, now: i64) -> Result<bool>;
    /// Deletes a workspace of an org; whether it existed.
    fn delete_workspace(&self, org: &str, id: &str) -> Result<bool>;
    /// Sets a user's access to a workspace.
    fn put_workspace_access(&self, ws: &str, user: &str, access: &WorkspaceAccessRow)
        -> Result<()>;
    /// Removes a user's access to a workspace; whether they had it.
    fn delete_workspace_access(&self, ws: &str, user: &str) -> Result<bool>;
    /// Inserts or replaces a custom role.
    fn put_custom_role(&self, org: &str, role: &CustomRoleRow) -> Result<()>;
    /// Sets an app-owned usage counter.
    fn set_app_usage(&self, org: &str, resource_type: &str, current: i64) -> Result<()>;
    /// Inserts a reservation.
    fn put_reservation(&self, r: &ReservationRow) -> Result<()>;
    /// Marks a reservation released at `at`.
    fn mark_released(&self, id: &str, at: i64) -> Result<()>;
    /// Deletes a generic entity and its parent rows; whether it existed.
    fn delete_entity(&self, etype: &str, eid: &str) -> Result<bool>;
    /// Inserts or replaces a generic entity (Cedar entity JSON) with its parents.
    fn put_entity_with_parents(
        &self,
        etype: &str,
        eid: &str,
        json: &str,
        parents: &[(String, String)],
    ) -> Result<()>;
}
