//! The audit trail's one writer: every record of an admin write goes through [`append`],
//! inside the write's own transaction, so a change and its record commit together. The place
//! where the hash chain of the operations issue will go; the store only keeps the rows.

use serde_json::Value;

use crate::error::Result;

/// What was done: every kind of audited write, with the name stored for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    /// An org was created.
    OrgCreate,
    /// An org's plan, status or primary owner changed.
    OrgUpdate,
    /// A member was added or their role changed.
    MemberPut,
    /// A member was removed.
    MemberDelete,
    /// An invitation was created or replaced.
    InvitationPut,
    /// An invitation was revoked.
    InvitationRevoke,
    /// An invitation was accepted.
    InvitationAccept,
    /// A workspace was created or renamed.
    WorkspacePut,
    /// A workspace was deleted.
    WorkspaceDelete,
    /// A workspace member was added or changed.
    WorkspaceMemberPut,
    /// A workspace member was removed.
    WorkspaceMemberDelete,
    /// A custom role was defined or replaced.
    RolePut,
    /// An app-owned usage counter was set.
    UsageSet,
    /// Generic entities were written.
    EntitiesPut,
    /// A generic entity was deleted.
    EntityDelete,
    /// A bulk load (`tollgate import`): one record stands for all of it.
    Import,
    /// A decision's `reserve` took units of an app-owned quota.
    ReservationCreate,
    /// A reservation's units were given back.
    ReservationRelease,
    /// A Stripe webhook event was received: what it did (applied, stale, pending, unknown
    /// price or org, ignored).
    StripeEvent,
}

impl AuditAction {
    /// The name stored in the trail (stable: readers filter on it).
    pub fn name(self) -> &'static str {
        match self {
            AuditAction::OrgCreate => "org.create",
            AuditAction::OrgUpdate => "org.update",
            AuditAction::MemberPut => "member.put",
            AuditAction::MemberDelete => "member.delete",
            AuditAction::InvitationPut => "invitation.put",
            AuditAction::InvitationRevoke => "invitation.revoke",
            AuditAction::InvitationAccept => "invitation.accept",
            AuditAction::WorkspacePut => "workspace.put",
            AuditAction::WorkspaceDelete => "workspace.delete",
            AuditAction::WorkspaceMemberPut => "workspace_member.put",
            AuditAction::WorkspaceMemberDelete => "workspace_member.delete",
            AuditAction::RolePut => "role.put",
            AuditAction::UsageSet => "usage.set",
            AuditAction::EntitiesPut => "entities.put",
            AuditAction::EntityDelete => "entity.delete",
            AuditAction::Import => "import",
            AuditAction::ReservationCreate => "reservation.create",
            AuditAction::ReservationRelease => "reservation.release",
            AuditAction::StripeEvent => "stripe.event",
        }
    }
}

/// One audited write: the org it concerns (if any), what was done, to what, the details, when.
#[derive(Debug, Clone)]
pub struct AuditRecord<'a> {
    /// The org the write concerns; `None` for entity writes and imports.
    pub org: Option<&'a str>,
    /// What was done.
    pub action: AuditAction,
    /// What it was done to, e.g. `User::"bob"`.
    pub target: String,
    /// The write's details (new values, previous ones).
    pub detail: Value,
    /// When (unix seconds).
    pub at: i64,
}

/// Where audit records go: a write transaction of a store.
pub trait AuditLog {
    /// Whether this transaction is a bulk load, whose own record stands for its rows.
    fn in_bulk_load(&self) -> bool;
    /// Stores one record's row in the transaction. Only [`append`] calls it.
    fn insert_audit(
        &self,
        at: i64,
        org: Option<&str>,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<()>;
}

/// Appends a record to the trail inside the write's transaction. In a bulk load only the
/// load's own record ([`AuditAction::Import`]) is kept.
pub fn append(log: &impl AuditLog, record: AuditRecord<'_>) -> Result<()> {
    if log.in_bulk_load() && record.action != AuditAction::Import {
        return Ok(());
    }
    log.insert_audit(
        record.at,
        record.org,
        record.action.name(),
        &record.target,
        &record.detail.to_string(),
    )
}
