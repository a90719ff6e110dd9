//! The org rules: an org's roles, its effective plan and usage, and the writes (members,
//! invitations, workspaces, custom roles, usage, stored entities) that must respect seat,
//! quota and tenancy rules inside their own transaction. Shared by the data API, `tollgate
//! import` and the policy-test fixtures: the one place these rules are written. Free of SQL:
//! every write is a function of the rules and the rows ([`OrgReads`], [`OrgWrites`]), which a
//! store implements.

mod entities;
mod invitations;
mod members;
mod orgs;
mod roles;
mod rows;
mod state;
mod usage;
mod workspaces;

pub use entities::{delete_entity, parents_of_json, put_entities, store_entity};
pub use invitations::{accept_invitation, revoke_invitation, set_invitation};
pub use members::{remove_member, set_member};
pub use orgs::upsert_org;
pub use roles::set_custom_role;
pub use rows::{
    CustomRoleRow, InvitationRow, OrgReads, OrgRow, OrgWrites, ReservationRow, WorkspaceAccessRow,
    WorkspacePermissions, WorkspaceRow,
};
pub use state::{org_state, OrgCtx, OrgState, CUSTOM_ROLES};
pub use usage::{release, reserve, set_usage};
pub use workspaces::{
    remove_workspace, remove_workspace_member, set_workspace, set_workspace_member,
};

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
