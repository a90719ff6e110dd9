//! App-owned usage counters (Tollgate counts seats and workspaces itself): set by the app,
//! or moved by reservations (`reserve` on a decision, and their release).

use serde_json::json;

use super::rows::{OrgWrites, ReservationRow};
use super::state::{enforce, require_org, require_org_row, OrgCtx};
use super::Limits;
use crate::audit::{self, AuditAction, AuditRecord};
use crate::error::{Code, Error, Result};
use crate::plans::{self, Catalog};

/// Sets an app-owned counter; Tollgate-counted types are refused.
pub fn set_usage(
    w: &impl OrgWrites,
    ctx: OrgCtx<'_>,
    org: &str,
    resource_type: &str,
    current: i64,
) -> Result<()> {
    require_org_row(w, org)?;
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
    w.set_app_usage(org, resource_type, current)?;
    audit::append(
        w,
        AuditRecord {
            org: Some(org),
            action: AuditAction::UsageSet,
            target: resource_type.to_string(),
            detail: json!({"current": current}),
            at: ctx.now,
        },
    )
}

/// Takes `amount` units of an app-owned quota for a decision's `reserve`: the limit check and
/// the counter's increment in the caller's one write transaction, so N concurrent reserves at
/// remaining room R grant exactly min(N, R). Past the limit: 402, nothing written.
pub fn reserve(
    w: &impl OrgWrites,
    ctx: OrgCtx<'_>,
    org: &str,
    resource_type: &str,
    amount: i64,
    id: String,
) -> Result<ReservationRow> {
    if Catalog::is_tollgate_counted(resource_type) || !plans::is_resource_type(resource_type) {
        return Err(Error::new(
            Code::ReserveNotApplicable,
            format!("`{resource_type}` is not an app-owned quota; only those can be reserved"),
        ));
    }
    let state = require_org(w, ctx, org)?;
    enforce(ctx, &state, &[(resource_type, amount)], Limits::Enforce)?;
    let current = state.usage.get(resource_type).copied().unwrap_or(0);
    let Some(after) = current.checked_add(amount) else {
        return Err(Error::new(
            Code::InvalidReserve,
            format!("`{resource_type}` is at {current}: {amount} more would overflow the counter"),
        ));
    };
    w.set_app_usage(org, resource_type, after)?;
    let row = ReservationRow {
        id,
        org: org.to_string(),
        resource_type: resource_type.to_string(),
        amount,
        created_at: ctx.now,
        released_at: None,
    };
    w.put_reservation(&row)?;
    audit::append(
        w,
        AuditRecord {
            org: Some(org),
            action: AuditAction::ReservationCreate,
            target: format!("Reservation::{:?}", row.id),
            detail: json!({"resource_type": resource_type, "amount": amount, "current": after}),
            at: ctx.now,
        },
    )?;
    Ok(row)
}

/// Gives a reservation's units back to its org's counter (never below zero). Idempotent: a
/// released reservation is answered as it is, and nothing is written again.
pub fn release(w: &impl OrgWrites, ctx: OrgCtx<'_>, id: &str) -> Result<ReservationRow> {
    let Some(mut row) = w.reservation(id)? else {
        return Err(Error::not_found(format!(
            "reservation `{id}` does not exist"
        )));
    };
    if row.released_at.is_some() {
        return Ok(row);
    }
    let current = w
        .app_usage(&row.org)?
        .get(&row.resource_type)
        .copied()
        .unwrap_or(0);
    let after = current.saturating_sub(row.amount).max(0);
    w.set_app_usage(&row.org, &row.resource_type, after)?;
    w.mark_released(id, ctx.now)?;
    row.released_at = Some(ctx.now);
    audit::append(
        w,
        AuditRecord {
            org: Some(&row.org),
            action: AuditAction::ReservationRelease,
            target: format!("Reservation::{id:?}"),
            detail: json!({"resource_type": row.resource_type, "amount": row.amount, "current": after}),
            at: ctx.now,
        },
    )?;
    Ok(row)
}
