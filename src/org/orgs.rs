//! An org's row: plan, subscription status, primary owner (always an owner member).

use serde_json::json;

use super::members::set_member;
use super::rows::{OrgRow, OrgWrites};
use super::state::OrgCtx;
use super::{Limits, OrgUpdate};
use crate::audit::{self, AuditAction, AuditRecord};
use crate::error::{Code, Error, Result};
use crate::plans::SubscriptionStatus;

/// Creates or updates an org; makes sure its primary owner is a member with role `owner`.
/// Returns whether the org is new.
pub fn upsert_org(
    w: &impl OrgWrites,
    ctx: OrgCtx<'_>,
    id: &str,
    up: OrgUpdate,
    limits: Limits,
) -> Result<bool> {
    let old = w.org(id)?;
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
    w.put_org(&row, ctx.now)?;
    if w.member_role(id, &owner)?.as_deref() != Some("owner") {
        // A new primary owner takes an owner seat like any other owner.
        set_member(w, ctx, id, &owner, "owner", limits)?;
    }
    audit::append(
        w,
        AuditRecord {
            org: Some(id),
            action: if created {
                AuditAction::OrgCreate
            } else {
                AuditAction::OrgUpdate
            },
            target: format!("Org::{id:?}"),
            detail: json!({"plan": row.plan, "subscription_status": row.status, "primary_owner": owner}),
            at: ctx.now,
        },
    )?;
    Ok(created)
}
