//! `tollgate import FILE`: bulk-loads JSON lines (orgs, members, invitations, workspaces,
//! workspace members, custom roles, usage, raw Cedar entities) in one transaction.
//!
//! One record per line, one key per record:
//!
//! ```text
//! {"org": {"id": "acme", "plan": "starter", "status": "active", "primary_owner": "alice"}}
//! {"member": {"org": "acme", "user": "bob", "role": "admin"}}
//! {"invitation": {"org": "acme", "id": "i1", "email": "c@x.io", "role": "member", "expires_at": "2030-01-01T00:00:00Z"}}
//! {"workspace": {"org": "acme", "id": "ws1", "name": "One"}}
//! {"workspace_member": {"workspace": "ws1", "user": "bob", "role": "member", "permissions": {"can_create_agents": true}}}
//! {"role": {"org": "acme", "name": "auditor", "level": 35, "permissions": ["audit.read"]}}
//! {"usage": {"org": "acme", "resource_type": "quota:project", "current": 4}}
//! {"entity": {"uid": {"type": "Project", "id": "p1"}, "attrs": {}, "parents": []}}
//! ```
//!
//! The import is all or nothing: a bad line aborts it with its line number and writes nothing.
//! Limits are not enforced (it restores data, it does not grant seats); roles, plans and
//! statuses are checked as the data API checks them.

use std::collections::{BTreeMap, HashSet};
use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde::Deserialize;
use serde_json::Value;

use super::{Exit, ModelArgs};
use crate::billing::SubscriptionStatus;
use crate::engine::{Engine, EngineSettings};
use crate::error::{Error, Result};
use crate::store::{
    now_unix, CustomRoleRow, InvitationRow, OrgRow, Store, WorkspacePermissions, WorkspaceRow,
};

/// Flags of `tollgate import`.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// JSON-lines file to load (`-` for standard input).
    pub file: PathBuf,
    /// The store file to load into (created if missing).
    #[arg(
        long,
        env = "TOLLGATE_DB",
        default_value = "tollgate.db",
        value_name = "FILE"
    )]
    pub db: PathBuf,
    /// The model the data must fit.
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum Record {
    Org(OrgRec),
    Member(MemberRec),
    Invitation(InvitationRec),
    Workspace(WorkspaceRec),
    WorkspaceMember(WsMemberRec),
    Role(RoleRec),
    Usage(UsageRec),
    Entity(Value),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgRec {
    id: String,
    plan: Option<String>,
    status: Option<String>,
    primary_owner: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberRec {
    org: String,
    user: String,
    role: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InvitationRec {
    org: String,
    id: String,
    email: String,
    role: String,
    expires_at: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkspaceRec {
    org: String,
    id: String,
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WsMemberRec {
    workspace: String,
    user: String,
    #[serde(default = "member")]
    role: String,
    #[serde(default)]
    permissions: WorkspacePermissions,
}

fn member() -> String {
    "member".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleRec {
    org: String,
    name: String,
    level: i64,
    #[serde(default)]
    permissions: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageRec {
    org: String,
    resource_type: String,
    current: i64,
}

/// Runs `import`: 0 when everything was loaded, 1 when nothing was.
pub fn run(args: &ImportArgs) -> Exit {
    match import(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("nothing was imported");
            1
        }
    }
}

fn import(args: &ImportArgs) -> Result<()> {
    let model = args.model.load()?;
    let store = Store::open(&args.db)?;
    let engine = Engine::new(model, store, EngineSettings::default());
    let model = engine.model();
    let (reader, size): (Box<dyn BufRead>, u64) = if args.file.as_os_str() == "-" {
        (Box::new(std::io::stdin().lock()), 0)
    } else {
        let f = std::fs::File::open(&args.file)
            .map_err(|e| Error::io(format!("cannot open `{}`", args.file.display()), e))?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        (
            Box::new(std::io::BufReader::with_capacity(1 << 20, f)),
            size,
        )
    };
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {per_sec} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let now = now_unix();
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    engine.store().write(|w| {
        let mut orgs: HashSet<String> = HashSet::new();
        let mut custom: HashSet<(String, String)> = HashSet::new();
        let role_known = |custom: &HashSet<(String, String)>, org: &str, role: &str| {
            model.catalog.role(role).is_some()
                || custom.contains(&(org.to_string(), role.to_string()))
        };
        for (i, line) in reader.lines().enumerate() {
            let n = i + 1;
            let line = line.map_err(|e| Error::io(format!("line {n}"), e))?;
            bar.inc(line.len() as u64 + 1);
            if line.trim().is_empty() {
                continue;
            }
            let bad = |m: String| Error::invalid("INVALID_IMPORT", format!("line {n}: {m}"));
            let rec: Record = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
            let need_org = |orgs: &mut HashSet<String>, org: &str| -> Result<()> {
                if orgs.contains(org) || w.org(org)?.is_some() {
                    orgs.insert(org.to_string());
                    Ok(())
                } else {
                    Err(bad(format!("org `{org}` is not defined before this line")))
                }
            };
            let kind = match rec {
                Record::Org(o) => {
                    let plan = o
                        .plan
                        .unwrap_or_else(|| model.catalog.first_tier().name.clone());
                    if model.catalog.tier(&plan).is_none() {
                        return Err(bad(format!("plan `{plan}` is not in the catalog")));
                    }
                    let status = o.status.unwrap_or_else(|| "active".into());
                    let parsed = SubscriptionStatus::parse(&status)
                        .ok_or_else(|| bad(format!("`{status}` is not a subscription status")))?;
                    let row = OrgRow {
                        id: o.id.clone(),
                        plan,
                        status,
                        past_due_since: (parsed == SubscriptionStatus::PastDue).then_some(now),
                        primary_owner: Some(o.primary_owner.clone()),
                    };
                    w.put_org(&row, now)?;
                    w.put_member(&o.id, &o.primary_owner, "owner", now)?;
                    orgs.insert(o.id);
                    "orgs"
                }
                Record::Member(m) => {
                    need_org(&mut orgs, &m.org)?;
                    if !role_known(&custom, &m.org, &m.role) {
                        return Err(bad(format!(
                            "role `{}` is not defined for org `{}`",
                            m.role, m.org
                        )));
                    }
                    w.put_member(&m.org, &m.user, &m.role, now)?;
                    "members"
                }
                Record::Invitation(inv) => {
                    need_org(&mut orgs, &inv.org)?;
                    if !role_known(&custom, &inv.org, &inv.role) {
                        return Err(bad(format!(
                            "role `{}` is not defined for org `{}`",
                            inv.role, inv.org
                        )));
                    }
                    let expires_at = time::OffsetDateTime::parse(
                        &inv.expires_at,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .map_err(|e| bad(format!("`expires_at`: {e}")))?
                    .unix_timestamp();
                    let row = InvitationRow {
                        id: inv.id,
                        email: inv.email,
                        role: inv.role,
                        expires_at,
                    };
                    w.put_invitation(&inv.org, &row, now)?;
                    "invitations"
                }
                Record::Workspace(ws) => {
                    need_org(&mut orgs, &ws.org)?;
                    if let Some(existing) = w.workspace(&ws.id)? {
                        if existing.org != ws.org {
                            return Err(bad(format!(
                                "workspace `{}` belongs to another org",
                                ws.id
                            )));
                        }
                    }
                    let row = WorkspaceRow {
                        name: ws.name.unwrap_or_else(|| ws.id.clone()),
                        id: ws.id,
                        org: ws.org,
                    };
                    w.put_workspace(&row, now)?;
                    "workspaces"
                }
                Record::WorkspaceMember(m) => {
                    let Some(ws) = w.workspace(&m.workspace)? else {
                        return Err(bad(format!(
                            "workspace `{}` is not defined before this line",
                            m.workspace
                        )));
                    };
                    if w.member_role(&ws.org, &m.user)?.is_none() {
                        return Err(bad(format!("`{}` is not a member of `{}`", m.user, ws.org)));
                    }
                    if !matches!(m.role.as_str(), "admin" | "member" | "viewer") {
                        return Err(bad(format!(
                            "workspace role `{}` must be admin, member or viewer",
                            m.role
                        )));
                    }
                    let a = m.permissions.with_role(m.role);
                    w.put_workspace_access(&m.workspace, &m.user, &a)?;
                    "workspace_members"
                }
                Record::Role(r) => {
                    need_org(&mut orgs, &r.org)?;
                    let top = model.catalog.roles.first().map(|r| r.level).unwrap_or(0);
                    if model.catalog.role(&r.name).is_some() || r.level <= top {
                        return Err(bad(format!(
                            "custom role `{}` must not be built in and must rank below owners",
                            r.name
                        )));
                    }
                    custom.insert((r.org.clone(), r.name.clone()));
                    w.put_custom_role(
                        &r.org,
                        &CustomRoleRow {
                            name: r.name,
                            level: r.level,
                            permissions: r.permissions,
                        },
                    )?;
                    "roles"
                }
                Record::Usage(u) => {
                    need_org(&mut orgs, &u.org)?;
                    if !crate::billing::is_resource_type(&u.resource_type)
                        || crate::billing::Catalog::is_tollgate_counted(&u.resource_type)
                        || u.current < 0
                    {
                        return Err(bad(format!(
                            "usage of `{}` cannot be set to {}",
                            u.resource_type, u.current
                        )));
                    }
                    w.set_app_usage(&u.org, &u.resource_type, u.current)?;
                    "usage"
                }
                Record::Entity(v) => {
                    let e = crate::engine::parse_entities(&model, std::slice::from_ref(&v))
                        .map_err(|e| bad(e.to_string()))?;
                    for e in &e {
                        crate::engine::store_entity(w, &model, e)?;
                    }
                    "entities"
                }
            };
            *counts.entry(kind).or_default() += 1;
        }
        let detail = serde_json::to_value(&counts).map_err(|e| Error::Internal(e.to_string()))?;
        w.audit(
            None,
            "import",
            &args.file.display().to_string(),
            &detail,
            now,
        )
    })?;
    bar.finish_and_clear();
    let total: u64 = counts.values().sum();
    let secs = started.elapsed().as_secs_f64();
    let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    println!(
        "imported {total} records ({}) in {secs:.1} s: {:.0} records/s",
        parts.join(", "),
        total as f64 / secs.max(1e-9)
    );
    Ok(())
}
