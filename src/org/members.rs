//! Org members: a role change within the seat limits of the role's bucket and `seat:total`;
//! the primary owner stays an owner.

use serde_json::json;

use super::rows::OrgWrites;
use super::state::{enforce, require_org, require_org_row, role_def, OrgCtx};
use super::Limits;
use crate::audit::{self, AuditAction, AuditRecord};
use crate::error::{Code, Error, Result};

/// Sets a member's role, refusing with 402 a change that passes a seat limit (unless
/// `limits` is `Override`); the primary owner stays an owner.
pub fn set_member(
    w: &impl OrgWrites,
    ctx: OrgCtx<'_>,
    org: &str,
    user: &str,
    role: &str,
    limits: Limits,
) -> Result<Option<String>> {
    let row = require_org_row(w, org)?;
    let def = role_def(w, ctx, org, role)?;
    if row.primary_owner.as_deref() == Some(user) && role != "owner" {
        return Err(Error::new(Code::Conflict, format!(
            "`{user}` is the primary owner of `{org}`; transfer ownership before changing their role"
        )));
    }
    let old = w.member_role(org, user)?;
    if limits == Limits::Enforce {
        let state = require_org(w, ctx, org)?;
        let new_seat = def.seat.clone().unwrap_or_else(|| "seat:member".into());
        let deltas: Vec<(&str, i64)> = match &old {
            None => vec![(new_seat.as_str(), 1), ("seat:total", 1)],
            Some(o) if state.seat_of(o) != new_seat => vec![(new_seat.as_str(), 1)],
            Some(_) => vec![],
        };
        enforce(ctx, &state, &deltas, limits)?;
    }
    w.replace_member(org, user, role, old.as_deref(), ctx.now)?;
    audit::append(
        w,
        AuditRecord {
            org: Some(org),
            action: AuditAction::MemberPut,
            target: format!("User::{user:?}"),
            detail: json!({"role": role, "previous_role": old, "override_limits": limits == Limits::Override}),
            at: ctx.now,
        },
    )?;
    Ok(old)
}

/// Removes a member; the primary owner cannot be removed.
pub fn remove_member(w: &impl OrgWrites, ctx: OrgCtx<'_>, org: &str, user: &str) -> Result<()> {
    let row = require_org_row(w, org)?;
    if row.primary_owner.as_deref() == Some(user) {
        return Err(Error::new(
            Code::Conflict,
            format!("`{user}` is the primary owner of `{org}` and cannot be removed"),
        ));
    }
    let Some(old) = w.delete_member(org, user)? else {
        return Err(Error::not_found(format!(
            "`{user}` is not a member of `{org}`"
        )));
    };
    audit::append(
        w,
        AuditRecord {
            org: Some(org),
            action: AuditAction::MemberDelete,
            target: format!("User::{user:?}"),
            detail: json!({"previous_role": old}),
            at: ctx.now,
        },
    )?;
    Ok(())
}
