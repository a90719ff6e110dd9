//! Workspaces (within `quota:workspace`, ids global, one org each, deleted only when empty)
//! and their members (org members only).

use serde_json::json;

use super::rows::{OrgWrites, WorkspaceAccessRow, WorkspaceRow};
use super::state::{enforce, require_org, require_org_row, OrgCtx};
use super::Limits;
use crate::audit::{self, AuditAction, AuditRecord};
use crate::error::{Code, Error, Result};

/// Creates or renames a workspace; a new one counts toward `quota:workspace`.
pub fn set_workspace(
    w: &impl OrgWrites,
    ctx: OrgCtx<'_>,
    org: &str,
    id: &str,
    name: Option<String>,
    limits: Limits,
) -> Result<bool> {
    require_org_row(w, org)?;
    let existing = w.workspace(id)?;
    if let Some(w) = &existing {
        if w.org != org {
            return Err(Error::new(
                Code::Conflict,
                format!("workspace `{id}` already belongs to another org"),
            ));
        }
    } else if limits == Limits::Enforce {
        let state = require_org(w, ctx, org)?;
        enforce(ctx, &state, &[("quota:workspace", 1)], limits)?;
    }
    let name = name
        .or_else(|| existing.as_ref().map(|w| w.name.clone()))
        .unwrap_or_else(|| id.to_string());
    let row = WorkspaceRow {
        id: id.to_string(),
        org: org.to_string(),
        name,
    };
    let created = w.put_workspace(&row, ctx.now)?;
    audit::append(
        w,
        AuditRecord {
            org: Some(org),
            action: AuditAction::WorkspacePut,
            target: format!("Workspace::{id:?}"),
            detail: json!({"name": row.name}),
            at: ctx.now,
        },
    )?;
    Ok(created)
}

/// Deletes a workspace of an org. One that still holds stored entities is refused: its id
/// is global, and the next org to create it would adopt them.
pub fn remove_workspace(w: &impl OrgWrites, ctx: OrgCtx<'_>, org: &str, id: &str) -> Result<()> {
    require_org_row(w, org)?;
    if let Some((t, child)) = w.first_child("Workspace", id)? {
        return Err(Error::new(
            Code::WorkspaceNotEmpty,
            format!(
                "workspace `{id}` still holds stored entities (`{t}::{child:?}` among them); \
                 delete them or store them under another parent first"
            ),
        ));
    }
    if !w.delete_workspace(org, id)? {
        return Err(Error::not_found(format!(
            "workspace `{id}` does not exist in `{org}`"
        )));
    }
    audit::append(
        w,
        AuditRecord {
            org: Some(org),
            action: AuditAction::WorkspaceDelete,
            target: format!("Workspace::{id:?}"),
            detail: json!({}),
            at: ctx.now,
        },
    )
}

/// Grants a member access to a workspace of the same org.
pub fn set_workspace_member(
    w: &impl OrgWrites,
    ctx: OrgCtx<'_>,
    org: &str,
    ws: &str,
    user: &str,
    access: &WorkspaceAccessRow,
) -> Result<()> {
    require_workspace(w, org, ws)?;
    if w.member_role(org, user)?.is_none() {
        return Err(Error::new(
            Code::NotAMember,
            format!("`{user}` must be a member of `{org}` before joining one of its workspaces"),
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
    w.put_workspace_access(ws, user, access)?;
    audit::append(
        w,
        AuditRecord {
            org: Some(org),
            action: AuditAction::WorkspaceMemberPut,
            target: format!("User::{user:?}"),
            detail: json!({"workspace": ws, "access": access}),
            at: ctx.now,
        },
    )
}

/// Removes a user's access to a workspace.
pub fn remove_workspace_member(
    w: &impl OrgWrites,
    ctx: OrgCtx<'_>,
    org: &str,
    ws: &str,
    user: &str,
) -> Result<()> {
    require_workspace(w, org, ws)?;
    if !w.delete_workspace_access(ws, user)? {
        return Err(Error::not_found(format!(
            "`{user}` is not a member of workspace `{ws}`"
        )));
    }
    audit::append(
        w,
        AuditRecord {
            org: Some(org),
            action: AuditAction::WorkspaceMemberDelete,
            target: format!("User::{user:?}"),
            detail: json!({"workspace": ws}),
            at: ctx.now,
        },
    )
}

/// The org exists and holds the workspace `ws` (404 otherwise).
fn require_workspace(w: &impl OrgWrites, org: &str, ws: &str) -> Result<()> {
    require_org_row(w, org)?;
    match w.workspace(ws)? {
        Some(found) if found.org == org => Ok(()),
        _ => Err(Error::not_found(format!(
            "workspace `{ws}` does not exist in `{org}`"
        ))),
    }
}
