//! The SQLite store as the org rules' rows: [`OrgReads`] for a read or write transaction,
//! [`OrgWrites`] and [`AuditLog`] for a write. Each method is the store's own statement.

use std::collections::BTreeMap;

use rusqlite::params;

use super::{Reader, Writer};
use crate::audit::AuditLog;
use crate::error::Result;
use crate::org::{
    CustomRoleRow, InvitationRow, OrgReads, OrgRow, OrgWrites, ReservationRow, WorkspaceAccessRow,
    WorkspaceRow,
};

/// `OrgReads` for a transaction type that reaches a [`Reader`]: one list for both.
macro_rules! org_reads {
    ($t:ty) => {
        impl OrgReads for $t {
            fn org(&self, id: &str) -> Result<Option<OrgRow>> {
                Reader::org(self, id)
            }
            fn member_role(&self, org: &str, user: &str) -> Result<Option<String>> {
                Reader::member_role(self, org, user)
            }
            fn counters(&self, org: &str) -> Result<BTreeMap<String, i64>> {
                Reader::counters(self, org)
            }
            fn pending_invitations_by_role(
                &self,
                org: &str,
                now: i64,
            ) -> Result<Vec<(String, i64)>> {
                Reader::pending_invitations_by_role(self, org, now)
            }
            fn next_invitation_expiry(&self, org: &str, now: i64) -> Result<Option<i64>> {
                Reader::next_invitation_expiry(self, org, now)
            }
            fn invitation(&self, org: &str, id: &str) -> Result<Option<InvitationRow>> {
                Reader::invitation(self, org, id)
            }
            fn workspace(&self, id: &str) -> Result<Option<WorkspaceRow>> {
                Reader::workspace(self, id)
            }
            fn custom_roles(&self, org: &str) -> Result<Vec<CustomRoleRow>> {
                Reader::custom_roles(self, org)
            }
            fn custom_role(&self, org: &str, name: &str) -> Result<Option<CustomRoleRow>> {
                Reader::custom_role(self, org, name)
            }
            fn app_usage(&self, org: &str) -> Result<BTreeMap<String, i64>> {
                Reader::app_usage(self, org)
            }
            fn reservation(&self, id: &str) -> Result<Option<ReservationRow>> {
                Reader::reservation(self, id)
            }
            fn first_child(&self, ptype: &str, pid: &str) -> Result<Option<(String, String)>> {
                Reader::first_child(self, ptype, pid)
            }
            fn entity_parents(&self, etype: &str, eid: &str) -> Result<Vec<(String, String)>> {
                Reader::entity_parents(self, etype, eid)
            }
        }
    };
}

org_reads!(Reader<'_>);
org_reads!(Writer<'_>);

impl OrgWrites for Writer<'_> {
    fn put_org(&self, org: &OrgRow, now: i64) -> Result<()> {
        Writer::put_org(self, org, now)
    }
    fn replace_member(
        &self,
        org: &str,
        user: &str,
        role: &str,
        old: Option<&str>,
        now: i64,
    ) -> Result<()> {
        Writer::replace_member(self, org, user, role, old, now)
    }
    fn put_member(&self, org: &str, user: &str, role: &str, now: i64) -> Result<Option<String>> {
        Writer::put_member(self, org, user, role, now)
    }
    fn delete_member(&self, org: &str, user: &str) -> Result<Option<String>> {
        Writer::delete_member(self, org, user)
    }
    fn put_invitation(&self, org: &str, inv: &InvitationRow, now: i64) -> Result<()> {
        Writer::put_invitation(self, org, inv, now)
    }
    fn delete_invitation(&self, org: &str, id: &str) -> Result<bool> {
        Writer::delete_invitation(self, org, id)
    }
    fn put_workspace(&self, ws: &WorkspaceRow, now: i64) -> Result<bool> {
        Writer::put_workspace(self, ws, now)
    }
    fn delete_workspace(&self, org: &str, id: &str) -> Result<bool> {
        Writer::delete_workspace(self, org, id)
    }
    fn put_workspace_access(
        &self,
        ws: &str,
        user: &str,
        access: &WorkspaceAccessRow,
    ) -> Result<()> {
        Writer::put_workspace_access(self, ws, user, access)
    }
    fn delete_workspace_access(&self, ws: &str, user: &str) -> Result<bool> {
        Writer::delete_workspace_access(self, ws, user)
    }
    fn put_custom_role(&self, org: &str, role: &CustomRoleRow) -> Result<()> {
        Writer::put_custom_role(self, org, role)
    }
    fn set_app_usage(&self, org: &str, resource_type: &str, current: i64) -> Result<()> {
        Writer::set_app_usage(self, org, resource_type, current)
    }
    fn put_reservation(&self, r: &ReservationRow) -> Result<()> {
        Writer::put_reservation(self, r)
    }
    fn mark_released(&self, id: &str, at: i64) -> Result<()> {
        Writer::mark_released(self, id, at)
    }
    fn delete_entity(&self, etype: &str, eid: &str) -> Result<bool> {
        Writer::delete_entity(self, etype, eid)
    }
    fn put_entity_with_parents(
        &self,
        etype: &str,
        eid: &str,
        json: &str,
        parents: &[(String, String)],
    ) -> Result<()> {
        Writer::put_entity_with_parents(self, etype, eid, json, parents)
    }
}

impl AuditLog for Writer<'_> {
    fn in_bulk_load(&self) -> bool {
        self.bulk
    }

    fn insert_audit(
        &self,
        at: i64,
        org: Option<&str>,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO audit (at, org, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![at, org, action, target, detail])?;
        Ok(())
    }
}
