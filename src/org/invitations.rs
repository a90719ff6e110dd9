//! Invitations: a pending one holds a seat of its role's bucket until it expires, is revoked
//! or turns into a membership.

use serde_json::json;

use super::rows::{InvitationRow, OrgWrites};
use super::state::{
    enforce, enforce_on, member_seats, require_org, require_org_row, role_def, OrgCtx,
};
use super::Limits;
use crate::audit::{self, AuditAction, AuditRecord};
use crate::error::{Code, Error, Result};

/// Creates or replaces a pending invitation, counting it toward seats.
pub fn set_invitation(
    w: &impl OrgWrites,
    ctx: OrgCtx<'_>,
    org: &str,
    inv: InvitationRow,
    limits: Limits,
) -> Result<bool> {
    require_org_row(w, org)?;
    if inv.expires_at <= ctx.now {
        return Err(Error::new(
            Code::InvitationExpired,
            "`expires_at` is already past",
        ));
    }
    let def = role_def(w, ctx, org, &inv.role)?;
    let old = w.invitation(org, &inv.id)?;
    if limits == Limits::Enforce {
        let state = require_org(w, ctx, org)?;
        let new_seat = def.seat.clone().unwrap_or_else(|| "seat:member".into());
        let old_pending = old.as_ref().filter(|o| o.expires_at > ctx.now);
        let deltas: Vec<(&str, i64)> = match old_pending {
            None => vec![(new_seat.as_str(), 1), ("seat:total", 1)],
            Some(o) if state.seat_of(&o.role) != new_seat => vec![(new_seat.as_str(), 1)],
            Some(_) => vec![],
        };
        enforce(ctx, &state, &deltas, limits)?;
    }
    w.put_invitation(org, &inv, ctx.now)?;
    audit::append(
        w,
        AuditRecord {
            org: Some(org),
            action: AuditAction::InvitationPut,
            target: format!("Invitation::{:?}", inv.id),
            detail: json!({"role": inv.role, "expires_at": inv.expires_at}),
            at: ctx.now,
        },
    )?;
    Ok(old.is_none())
}

/// Revokes an invitation.
pub fn revoke_invitation(w: &impl OrgWrites, ctx: OrgCtx<'_>, org: &str, id: &str) -> Result<()> {
    require_org_row(w, org)?;
    if !w.delete_invitation(org, id)? {
        return Err(Error::not_found(format!(
            "invitation `{id}` does not exist in `{org}`"
        )));
    }
    audit::append(
        w,
        AuditRecord {
            org: Some(org),
            action: AuditAction::InvitationRevoke,
            target: format!("Invitation::{id:?}"),
            detail: json!({}),
            at: ctx.now,
        },
    )
}

/// Turns a pending invitation into a membership, in one transaction. Returns the role.
pub fn accept_invitation(
    w: &impl OrgWrites,
    ctx: OrgCtx<'_>,
    org: &str,
    id: &str,
    user: &str,
) -> Result<String> {
    require_org_row(w, org)?;
    let Some(inv) = w.invitation(org, id)? else {
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
    if w.member_role(org, user)?.is_some() {
        return Err(Error::new(
            Code::Conflict,
            format!("`{user}` is already a member of `{org}`"),
        ));
    }
    // The invitation's pending seat turns into a member, so the other pending invitations do
    // not count against it: it is admitted while the members plus one fit the role's bucket
    // and `seat:total` (invitations made past the limit with `override_limits` are admitted
    // first come, first served). The check and the write are one transaction: concurrent
    // accepts cannot pass the limit together. Past it: 402, and the invitation stays pending.
    let state = require_org(w, ctx, org)?;
    let members = member_seats(w, &state)?;
    let seat = state.seat_of(&inv.role).to_string();
    enforce_on(
        ctx,
        &state,
        &members,
        &[(seat.as_str(), 1), ("seat:total", 1)],
    )?;
    w.delete_invitation(org, id)?;
    w.put_member(org, user, &inv.role, ctx.now)?;
    audit::append(
        w,
        AuditRecord {
            org: Some(org),
            action: AuditAction::InvitationAccept,
            target: format!("Invitation::{id:?}"),
            detail: json!({"user": user, "role": inv.role}),
            at: ctx.now,
        },
    )?;
    Ok(inv.role)
}
