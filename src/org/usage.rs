//! App-owned usage counters (Tollgate counts seats and workspaces itself).

use serde_json::json;

use super::rows::OrgWrites;
use super::state::{require_org_row, OrgCtx};
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
