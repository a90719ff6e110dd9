//! Row-level reads and writes. Every statement is a prepared, cached point lookup or a range
//! over one org's keys.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension};

use super::{Reader, Writer};
use crate::error::Result;
use crate::org::{
    parents_of_json, CustomRoleRow, InvitationRow, OrgRow, ReservationRow, WorkspaceAccessRow,
    WorkspaceRow,
};

impl Reader<'_> {
    /// Change log rows after `seq`, in commit order: (seq, keys as JSON or `*`).
    pub fn changes_since(&self, seq: i64) -> Result<Vec<(i64, String)>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT seq, keys FROM changes WHERE seq > ?1 ORDER BY seq")?;
        let rows = st.query_map(params![seq], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The parents of a stored entity: (type, id).
    pub fn entity_parents(&self, etype: &str, eid: &str) -> Result<Vec<(String, String)>> {
        let mut st = self.conn.prepare_cached(
            "SELECT ptype, pid FROM entity_parents WHERE etype = ?1 AND eid = ?2",
        )?;
        let rows = st.query_map(params![etype, eid], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One stored entity that has `ptype::pid` among its parents, if any.
    pub fn first_child(&self, ptype: &str, pid: &str) -> Result<Option<(String, String)>> {
        let mut st = self.conn.prepare_cached(
            "SELECT etype, eid FROM entity_parents WHERE ptype = ?1 AND pid = ?2 LIMIT 1",
        )?;
        Ok(st
            .query_row(params![ptype, pid], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// The identity the change log's positions count in (see `LogIdentity`): the store's id
    /// and its schema version.
    pub fn log_identity(&self) -> Result<super::LogIdentity> {
        let store_id = self
            .conn
            .prepare_cached("SELECT v FROM meta WHERE k = 'store_id'")?
            .query_row([], |r| r.get(0))
            .optional()?
            .unwrap_or_default();
        let schema_version = self
            .conn
            .pragma_query_value(None, "schema_version", |r| r.get(0))?;
        Ok(super::LogIdentity {
            store_id,
            schema_version,
        })
    }

    /// How many `unlogged` triggers the schema holds (read when the schema changed).
    pub fn unlogged_triggers(&self) -> Result<usize> {
        let n: i64 = self
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'trigger' AND name LIKE '%_unlogged'",
            )?
            .query_row([], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Whether a write by another tool is marked since the last write Tollgate logged.
    pub fn unlogged(&self) -> Result<bool> {
        let mut st = self
            .conn
            .prepare_cached("SELECT COUNT(*) > 0 FROM unlogged WHERE x = 1")?;
        Ok(st.query_row([], |r| r.get(0))?)
    }

    /// A generic entity's stored JSON.
    pub fn entity_json(&self, etype: &str, eid: &str) -> Result<Option<String>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT json FROM entities WHERE etype = ?1 AND eid = ?2")?;
        Ok(st.query_row(params![etype, eid], |r| r.get(0)).optional()?)
    }

    /// An org by id.
    pub fn org(&self, id: &str) -> Result<Option<OrgRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, plan, status, past_due_since, primary_owner FROM orgs WHERE id = ?1",
        )?;
        Ok(st
            .query_row(params![id], |r| {
                Ok(OrgRow {
                    id: r.get(0)?,
                    plan: r.get(1)?,
                    status: r.get(2)?,
                    past_due_since: r.get(3)?,
                    primary_owner: r.get(4)?,
                })
            })
            .optional()?)
    }

    /// A member's role in an org.
    pub fn member_role(&self, org: &str, user: &str) -> Result<Option<String>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT role FROM members WHERE org = ?1 AND user = ?2")?;
        Ok(st.query_row(params![org, user], |r| r.get(0)).optional()?)
    }

    /// All members of an org, by user id.
    pub fn members(&self, org: &str) -> Result<Vec<(String, String)>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT user, role FROM members WHERE org = ?1 ORDER BY user")?;
        let rows = st.query_map(params![org], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Counters kept for an org (`role:<name>`, `workspaces`).
    pub fn counters(&self, org: &str) -> Result<BTreeMap<String, i64>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT key, n FROM counters WHERE org = ?1")?;
        let rows = st.query_map(params![org], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Pending invitations of an org that expire after `now`, by role: (role, count).
    pub fn pending_invitations_by_role(&self, org: &str, now: i64) -> Result<Vec<(String, i64)>> {
        let mut st = self.conn.prepare_cached(
            "SELECT role, COUNT(*) FROM invitations WHERE org = ?1 AND expires_at > ?2 GROUP BY role",
        )?;
        let rows = st.query_map(params![org, now], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The earliest expiry among an org's invitations still pending at `now`: until then the
    /// org's seat count cannot change without a write.
    pub fn next_invitation_expiry(&self, org: &str, now: i64) -> Result<Option<i64>> {
        let mut st = self.conn.prepare_cached(
            "SELECT MIN(expires_at) FROM invitations WHERE org = ?1 AND expires_at > ?2",
        )?;
        Ok(st.query_row(params![org, now], |r| r.get(0))?)
    }

    /// One invitation.
    pub fn invitation(&self, org: &str, id: &str) -> Result<Option<InvitationRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, email, role, expires_at FROM invitations WHERE org = ?1 AND id = ?2",
        )?;
        Ok(st
            .query_row(params![org, id], |r| {
                Ok(InvitationRow {
                    id: r.get(0)?,
                    email: r.get(1)?,
                    role: r.get(2)?,
                    expires_at: r.get(3)?,
                })
            })
            .optional()?)
    }

    /// All invitations of an org (expired ones included; callers mark them).
    pub fn invitations(&self, org: &str) -> Result<Vec<InvitationRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, email, role, expires_at FROM invitations WHERE org = ?1 ORDER BY id",
        )?;
        let rows = st.query_map(params![org], |r| {
            Ok(InvitationRow {
                id: r.get(0)?,
                email: r.get(1)?,
                role: r.get(2)?,
                expires_at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A workspace by global id.
    pub fn workspace(&self, id: &str) -> Result<Option<WorkspaceRow>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT id, org, name FROM workspaces WHERE id = ?1")?;
        Ok(st
            .query_row(params![id], |r| {
                Ok(WorkspaceRow {
                    id: r.get(0)?,
                    org: r.get(1)?,
                    name: r.get(2)?,
                })
            })
            .optional()?)
    }

    /// Workspaces of an org.
    pub fn workspaces(&self, org: &str) -> Result<Vec<WorkspaceRow>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT id, org, name FROM workspaces WHERE org = ?1 ORDER BY id")?;
        let rows = st.query_map(params![org], |r| {
            Ok(WorkspaceRow {
                id: r.get(0)?,
                org: r.get(1)?,
                name: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A user's access to a workspace.
    pub fn workspace_access(&self, ws: &str, user: &str) -> Result<Option<WorkspaceAccessRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT role, can_create_agents, can_modify_policies, can_invite_users, can_view_analytics \
             FROM workspace_members WHERE workspace = ?1 AND user = ?2",
        )?;
        Ok(st
            .query_row(params![ws, user], |r| {
                Ok(WorkspaceAccessRow {
                    role: r.get(0)?,
                    can_create_agents: r.get(1)?,
                    can_modify_policies: r.get(2)?,
                    can_invite_users: r.get(3)?,
                    can_view_analytics: r.get(4)?,
                })
            })
            .optional()?)
    }

    /// Members of a workspace with their access.
    pub fn workspace_members(&self, ws: &str) -> Result<Vec<(String, WorkspaceAccessRow)>> {
        let mut st = self.conn.prepare_cached(
            "SELECT user, role, can_create_agents, can_modify_policies, can_invite_users, can_view_analytics \
             FROM workspace_members WHERE workspace = ?1 ORDER BY user",
        )?;
        let rows = st.query_map(params![ws], |r| {
            Ok((
                r.get(0)?,
                WorkspaceAccessRow {
                    role: r.get(1)?,
                    can_create_agents: r.get(2)?,
                    can_modify_policies: r.get(3)?,
                    can_invite_users: r.get(4)?,
                    can_view_analytics: r.get(5)?,
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Custom roles of an org.
    pub fn custom_roles(&self, org: &str) -> Result<Vec<CustomRoleRow>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT name, level, permissions FROM roles WHERE org = ?1")?;
        let rows = st.query_map(params![org], |r| {
            let perms: String = r.get(2)?;
            Ok(CustomRoleRow {
                name: r.get(0)?,
                level: r.get(1)?,
                permissions: serde_json::from_str(&perms).unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One custom role of an org.
    pub fn custom_role(&self, org: &str, name: &str) -> Result<Option<CustomRoleRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT name, level, permissions FROM roles WHERE org = ?1 AND name = ?2",
        )?;
        Ok(st
            .query_row(params![org, name], |r| {
                let perms: String = r.get(2)?;
                Ok(CustomRoleRow {
                    name: r.get(0)?,
                    level: r.get(1)?,
                    permissions: serde_json::from_str(&perms).unwrap_or_default(),
                })
            })
            .optional()?)
    }

    /// One reservation by id.
    pub fn reservation(&self, id: &str) -> Result<Option<ReservationRow>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id, org, resource_type, amount, created_at, released_at \
                 FROM reservations WHERE id = ?1",
            )?
            .query_row(params![id], |r| {
                Ok(ReservationRow {
                    id: r.get(0)?,
                    org: r.get(1)?,
                    resource_type: r.get(2)?,
                    amount: r.get(3)?,
                    created_at: r.get(4)?,
                    released_at: r.get(5)?,
                })
            })
            .optional()?)
    }

    /// App-owned usage counters of an org.
    pub fn app_usage(&self, org: &str) -> Result<BTreeMap<String, i64>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT resource_type, current FROM usage WHERE org = ?1")?;
        let rows = st.query_map(params![org], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl Writer<'_> {
    /// Workspace membership is part of its org's data: a change invalidates what was derived
    /// from the org.
    fn touch_workspace_org(&self, ws: &str) -> Result<()> {
        if let Some(w) = self.workspace(ws)? {
            self.touch("Org", &w.org);
        }
        self.touch("Workspace", ws);
        Ok(())
    }

    /// Inserts or replaces a generic entity (Cedar entity JSON) and its parent rows.
    pub fn put_entity(&self, etype: &str, eid: &str, json: &str) -> Result<()> {
        self.put_entity_with_parents(etype, eid, json, &parents_of_json(json))
    }

    /// [`Writer::put_entity`] for a caller that has already read the entity's parents out of
    /// its JSON.
    pub fn put_entity_with_parents(
        &self,
        etype: &str,
        eid: &str,
        json: &str,
        parents: &[(String, String)],
    ) -> Result<()> {
        self.touch(etype, eid);
        self.conn
            .prepare_cached(
                "INSERT INTO entities (etype, eid, json) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (etype, eid) DO UPDATE SET json = excluded.json",
            )?
            .execute(params![etype, eid, json])?;
        self.delete_parent_rows(etype, eid)?;
        let mut insert = self.conn.prepare_cached(
            "INSERT OR IGNORE INTO entity_parents (ptype, pid, etype, eid) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (ptype, pid) in parents {
            insert.execute(params![ptype, pid, etype, eid])?;
        }
        Ok(())
    }

    fn delete_parent_rows(&self, etype: &str, eid: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM entity_parents WHERE etype = ?1 AND eid = ?2")?
            .execute(params![etype, eid])?;
        Ok(())
    }

    /// Deletes a generic entity and its parent rows; whether it existed.
    pub fn delete_entity(&self, etype: &str, eid: &str) -> Result<bool> {
        self.touch(etype, eid);
        let n = self
            .conn
            .prepare_cached("DELETE FROM entities WHERE etype = ?1 AND eid = ?2")?
            .execute(params![etype, eid])?;
        self.delete_parent_rows(etype, eid)?;
        Ok(n > 0)
    }

    /// Inserts or updates an org row.
    pub fn put_org(&self, org: &OrgRow, now: i64) -> Result<()> {
        self.touch("Org", &org.id);
        self.conn
            .prepare_cached(
                "INSERT INTO orgs (id, plan, status, past_due_since, primary_owner, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) \
                 ON CONFLICT (id) DO UPDATE SET plan = excluded.plan, status = excluded.status, \
                 past_due_since = excluded.past_due_since, primary_owner = excluded.primary_owner, \
                 updated_at = excluded.updated_at",
            )?
            .execute(params![
                org.id,
                org.plan,
                org.status,
                org.past_due_since,
                org.primary_owner,
                now
            ])?;
        Ok(())
    }

    /// Adds `delta` to one counter.
    pub fn bump_counter(&self, org: &str, key: &str, delta: i64) -> Result<()> {
        self.touch("Org", org);
        self.conn
            .prepare_cached(
                "INSERT INTO counters (org, key, n) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (org, key) DO UPDATE SET n = n + excluded.n",
            )?
            .execute(params![org, key, delta])?;
        Ok(())
    }

    /// Sets a member's role; returns the previous role.
    pub fn put_member(
        &self,
        org: &str,
        user: &str,
        role: &str,
        now: i64,
    ) -> Result<Option<String>> {
        let old = self.member_role(org, user)?;
        self.replace_member(org, user, role, old.as_deref(), now)?;
        Ok(old)
    }

    /// [`Writer::put_member`] for a caller that has just read the member's role `old`.
    pub fn replace_member(
        &self,
        org: &str,
        user: &str,
        role: &str,
        old: Option<&str>,
        now: i64,
    ) -> Result<()> {
        self.touch("Org", org);
        self.conn
            .prepare_cached(
                "INSERT INTO members (org, user, role, created_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (org, user) DO UPDATE SET role = excluded.role",
            )?
            .execute(params![org, user, role, now])?;
        if old != Some(role) {
            if let Some(old) = old {
                self.bump_counter(org, &format!("role:{old}"), -1)?;
            }
            self.bump_counter(org, &format!("role:{role}"), 1)?;
        }
        Ok(())
    }

    /// Removes a member and their workspace access in the org; returns the removed role.
    pub fn delete_member(&self, org: &str, user: &str) -> Result<Option<String>> {
        self.touch("Org", org);
        let old = self.member_role(org, user)?;
        if let Some(role) = &old {
            self.conn
                .prepare_cached("DELETE FROM members WHERE org = ?1 AND user = ?2")?
                .execute(params![org, user])?;
            self.conn
                .prepare_cached(
                    "DELETE FROM workspace_members WHERE user = ?2 AND workspace IN \
                     (SELECT id FROM workspaces WHERE org = ?1)",
                )?
                .execute(params![org, user])?;
            self.bump_counter(org, &format!("role:{role}"), -1)?;
        }
        Ok(old)
    }

    /// Inserts or replaces an invitation.
    pub fn put_invitation(&self, org: &str, inv: &InvitationRow, now: i64) -> Result<()> {
        self.touch("Org", org);
        self.conn
            .prepare_cached(
                "INSERT INTO invitations (org, id, email, role, expires_at, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (org, id) DO UPDATE SET \
                 email = excluded.email, role = excluded.role, expires_at = excluded.expires_at",
            )?
            .execute(params![
                org,
                inv.id,
                inv.email,
                inv.role,
                inv.expires_at,
                now
            ])?;
        Ok(())
    }

    /// Deletes an invitation; whether it existed.
    pub fn delete_invitation(&self, org: &str, id: &str) -> Result<bool> {
        self.touch("Org", org);
        let n = self
            .conn
            .prepare_cached("DELETE FROM invitations WHERE org = ?1 AND id = ?2")?
            .execute(params![org, id])?;
        Ok(n > 0)
    }

    /// Inserts or renames a workspace; whether it is new.
    pub fn put_workspace(&self, ws: &WorkspaceRow, now: i64) -> Result<bool> {
        self.touch("Org", &ws.org);
        self.touch("Workspace", &ws.id);
        let existed = self.workspace(&ws.id)?.is_some();
        self.conn
            .prepare_cached(
                "INSERT INTO workspaces (id, org, name, created_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name",
            )?
            .execute(params![ws.id, ws.org, ws.name, now])?;
        if !existed {
            self.bump_counter(&ws.org, "workspaces", 1)?;
        }
        Ok(!existed)
    }

    /// Deletes a workspace and its member rows; whether it existed.
    pub fn delete_workspace(&self, org: &str, id: &str) -> Result<bool> {
        self.touch("Org", org);
        self.touch("Workspace", id);
        let n = self
            .conn
            .prepare_cached("DELETE FROM workspaces WHERE id = ?1 AND org = ?2")?
            .execute(params![id, org])?;
        if n > 0 {
            self.conn
                .prepare_cached("DELETE FROM workspace_members WHERE workspace = ?1")?
                .execute(params![id])?;
            self.bump_counter(org, "workspaces", -1)?;
        }
        Ok(n > 0)
    }

    /// Sets a user's access to a workspace.
    pub fn put_workspace_access(&self, ws: &str, user: &str, a: &WorkspaceAccessRow) -> Result<()> {
        self.touch_workspace_org(ws)?;
        self.conn
            .prepare_cached(
                "INSERT INTO workspace_members (workspace, user, role, can_create_agents, \
                 can_modify_policies, can_invite_users, can_view_analytics) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (workspace, user) DO UPDATE SET \
                 role = excluded.role, can_create_agents = excluded.can_create_agents, \
                 can_modify_policies = excluded.can_modify_policies, \
                 can_invite_users = excluded.can_invite_users, \
                 can_view_analytics = excluded.can_view_analytics",
            )?
            .execute(params![
                ws,
                user,
                a.role,
                a.can_create_agents,
                a.can_modify_policies,
                a.can_invite_users,
                a.can_view_analytics
            ])?;
        Ok(())
    }

    /// Removes a user's access to a workspace; whether it existed.
    pub fn delete_workspace_access(&self, ws: &str, user: &str) -> Result<bool> {
        self.touch_workspace_org(ws)?;
        let n = self
            .conn
            .prepare_cached("DELETE FROM workspace_members WHERE workspace = ?1 AND user = ?2")?
            .execute(params![ws, user])?;
        Ok(n > 0)
    }

    /// Inserts or replaces a custom role.
    pub fn put_custom_role(&self, org: &str, role: &CustomRoleRow) -> Result<()> {
        self.touch("Org", org);
        let perms = serde_json::to_string(&role.permissions)
            .map_err(|e| crate::error::Error::Internal(e.to_string()))?;
        self.conn
            .prepare_cached(
                "INSERT INTO roles (org, name, level, permissions) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (org, name) DO UPDATE SET level = excluded.level, \
                 permissions = excluded.permissions",
            )?
            .execute(params![org, role.name, role.level, perms])?;
        Ok(())
    }

    /// Inserts a reservation (its counter is moved by [`Writer::set_app_usage`]).
    pub fn put_reservation(&self, r: &ReservationRow) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO reservations (id, org, resource_type, amount, created_at, released_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                r.id,
                r.org,
                r.resource_type,
                r.amount,
                r.created_at,
                r.released_at
            ])?;
        Ok(())
    }

    /// Marks a reservation released.
    pub fn mark_released(&self, id: &str, at: i64) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE reservations SET released_at = ?2 WHERE id = ?1")?
            .execute(params![id, at])?;
        Ok(())
    }

    /// Sets an app-owned usage counter.
    pub fn set_app_usage(&self, org: &str, resource_type: &str, current: i64) -> Result<()> {
        // App usage has its own stripe: a decision whose policies read no tags does not depend
        // on it (see `ActionModel::reads_tags`), so its cached answer survives the write.
        self.touch(super::USAGE_STRIPE_TYPE, org);
        self.conn
            .prepare_cached(
                "INSERT INTO usage (org, resource_type, current) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (org, resource_type) DO UPDATE SET current = excluded.current",
            )?
            .execute(params![org, resource_type, current])?;
        Ok(())
    }
}
