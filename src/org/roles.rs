//! Custom roles: the plan feature `custom_roles`, ranked below owners.

use serde_json::json;

use super::rows::{CustomRoleRow, OrgWrites};
use super::state::{require_org, require_org_row, OrgCtx, CUSTOM_ROLES};
use super::Limits;
use crate::audit::{self, AuditAction, AuditRecord};
use crate::error::{Code, Error, Result};
use crate::plans;

/// Defines or replaces a custom role of an org. Defining one is the plan feature
/// [`CUSTOM_ROLES`]: without it, a 402 (unless `limits` is `Override`: an import restores
/// the roles of an org whose plan lapsed, which keep their rows, see default-model.md).
pub fn set_custom_role(
    w: &impl OrgWrites,
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
        let state = require_org(w, ctx, org)?;
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
        require_org_row(w, org)?;
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
    w.put_custom_role(org, &role)?;
    audit::append(
        w,
        AuditRecord {
            org: Some(org),
            action: AuditAction::RolePut,
            target: format!("Role::{:?}", role.name),
            detail: json!({"level": role.level, "permissions": role.permissions}),
            at: ctx.now,
        },
    )
}
